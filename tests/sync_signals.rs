//! SIGINT during `audience sync`: no new request starts, the request in flight finishes and
//! its outcome is recorded, the exit code is 130; the next run sends the rest.

mod sync_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use sync_support::{Kind, Receiver, Settings, Warehouse, sync};

fn interrupt_finishes_what_is_in_flight(kind: Kind) {
    let w = Warehouse::new(kind, "signals");
    let r = Receiver::start();
    w.add_users(1..=60);
    let settings = Settings { batch_size: 10, max_concurrency: 1, ..Settings::default() };
    let config = sync_support::write_config(&w, &r, &settings);
    r.hold(1);
    let mut child = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(["sync", config.to_str().unwrap(), "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // stderr, line by line as the process writes it (and all of it, for the messages below).
    let (tx, rx) = mpsc::channel();
    let seen = Arc::new(Mutex::new(String::new()));
    let reader = {
        let (stderr, seen) = (child.stderr.take().unwrap(), seen.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                seen.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        })
    };
    r.wait_for(2, Duration::from_secs(60));
    // SAFETY: kill sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    // The process says it got the signal once its stop is in effect: only then may the held
    // request be answered (answered earlier, the next batch could start before the stop).
    loop {
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
            panic!("no line saying the signal was received; stderr so far:\n{}", seen.lock().unwrap())
        });
        if line.contains("signal received") {
            break;
        }
    }
    r.release();
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    let stderr = seen.lock().unwrap().clone();
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &json["syncs"][0];
    assert_eq!((s["status"].as_str(), s["inserted"].as_u64()), (Some("stopped"), Some(20)), "{s}");
    assert!(s["error"].as_str().unwrap().contains("interrupted"), "{s}");
    // Every record of the delta not accepted is counted: the 40 never sent, not only those
    // handed to delivery when the signal came.
    assert!(s["error"].as_str().unwrap().contains("40 records are left for the next run"), "{s}");
    assert_eq!(r.received(), 2, "no request after the signal");
    let row = w.rows(&format!("SELECT status FROM {} WHERE run_id = 1", w.state("runs")));
    assert_eq!(row[0][0].as_deref(), Some("interrupted"), "the run row");
    assert_eq!(w.count(&format!("SELECT count(*) FROM {}", w.state("logs"))), 20, "the one in flight is recorded");
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    // Requests run concurrently, so they may arrive in any order: compare the records sent.
    let mut sent = r.ids("POST");
    sent.sort_unstable();
    assert_eq!(sent, (1..=60).collect::<Vec<_>>(), "the held request was answered, then 21..=60");
    assert_eq!(r.members(), w.expected_members());
}

#[test]
fn sqlite() {
    interrupt_finishes_what_is_in_flight(Kind::Sqlite);
}

#[test]
fn postgres() {
    interrupt_finishes_what_is_in_flight(Kind::Postgres);
}
