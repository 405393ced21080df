//! `audience run` as a process: what it refuses, its log lines, and a clean exit on SIGTERM and
//! SIGINT. (The scheduling itself is tested on a paused clock in `tests/scheduler.rs`.)

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use serde_json::Value;

const DESTINATION: &str = r#"
[destination]
name = "Run test"
base_url = "http://127.0.0.1:9"

[destination.actions.add]
path = "/members"
template = '{ "users": [$$.records.{ "email": email }] }'

[destination.actions.update]
use_add = true

[destination.actions.remove]
method = "DELETE"
path = "/members"
template = '{ "users": [$$.records.{ "email": email }] }'
"#;

fn sync(name: &str, schedule: &str) -> String {
    format!(
        r#"
[syncs.{name}]
audience_name = "Test"
audience_id = "{name}"
source = "sqlite://warehouse.db"
table = "users"
primary_key = "id"
map = {{ email = "email" }}
schedule = {schedule}
"#
    )
}

/// A config file in a folder of its own.
fn config(test: &str, syncs: &[String]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("audience-run-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audience.toml");
    std::fs::write(&path, format!("{DESTINATION}{}", syncs.concat())).unwrap();
    path
}

fn spawn(config: &PathBuf) -> Child {
    Command::new(env!("CARGO_BIN_EXE_audience"))
        .arg("run")
        .arg(config)
        .env("NO_COLOR", "1")
        .env_remove("AUDIENCE_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs")
}

/// The process's stderr lines, as they come.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits up to `limit` for the process to exit; kills it and fails after that.
fn wait(child: &mut Child, limit: Duration) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().expect("exited, not killed by a signal");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("audience run did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(SystemTime::now())
}

#[test]
fn a_file_whose_syncs_are_all_manual_is_refused() {
    let path = config("manual", &[sync("a", "\"manual\""), sync("b", "\"manual\"")]);
    let out = Command::new(env!("CARGO_BIN_EXE_audience")).arg("run").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nothing to schedule"), "{stderr}");
}

#[test]
fn a_config_with_errors_is_refused() {
    let path = config("invalid", &[sync("a", "{ every = \"1m\" }")]);
    let out = Command::new(env!("CARGO_BIN_EXE_audience")).arg("run").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("run refuses a config with errors"), "{stderr}");
}

/// `audience run` on a 5-minute schedule whose first slot is 2 to 3 minutes away: it logs the
/// next run of each sync (JSON lines, stderr being a pipe), then `signal` stops it at once, with
/// exit code 0.
fn stops_cleanly_on(signal: &str) {
    // Slots at `starting_at` + multiples of 5 minutes: with `starting_at` 3 minutes from now
    // (to the minute), the next slot is that one.
    let first = now() + chrono::Duration::minutes(3);
    let schedule = format!("{{ every = \"5m\", starting_at = \"{}\" }}", first.format("%H:%M"));
    let path = config(signal, &[sync("scheduled", &schedule), sync("by_hand", "\"manual\"")]);
    let mut child = spawn(&path);
    let lines = lines(&mut child);
    let mut seen = Vec::new();
    let next_run = loop {
        let line = lines.recv_timeout(Duration::from_secs(30)).expect("a log line naming the next run");
        let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        seen.push(event.clone());
        if let Some(next) = event.get("next_run") {
            assert_eq!(event["sync"], "scheduled");
            assert_eq!(event["level"], "info");
            break DateTime::parse_from_rfc3339(next.as_str().unwrap()).unwrap().to_utc();
        }
    };
    assert!(next_run > now() + chrono::Duration::seconds(90), "the first slot is in the future: {next_run}");
    assert!(
        seen.iter().any(|e| e["sync"] == "by_hand" && e["message"].as_str().unwrap().starts_with("manual")),
        "the manual sync is said not to be scheduled: {seen:?}"
    );
    let sent = Instant::now();
    let kill = Command::new("sh").arg("-c").arg(format!("kill -{signal} {}", child.id())).status().unwrap();
    assert!(kill.success());
    assert_eq!(wait(&mut child, Duration::from_secs(10)), 0, "exit code on SIG{signal}");
    assert!(sent.elapsed() < Duration::from_secs(5), "exited {:?} after the signal", sent.elapsed());
    let rest: Vec<String> = lines.try_iter().collect();
    assert!(rest.iter().any(|l| l.contains("signal received")), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("stopped after 0 runs")), "{rest:?}");
}

#[test]
fn sigterm_stops_it_with_exit_code_0() {
    stops_cleanly_on("TERM");
}

#[test]
fn sigint_stops_it_with_exit_code_0() {
    stops_cleanly_on("INT");
}
