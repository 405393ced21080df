//! `audience run` as a process: what it refuses, its log lines, a clean exit on SIGTERM and
//! SIGINT, and a real sync at a real slot. (The scheduling itself is tested on a paused clock
//! in `tests/scheduler.rs`.)

mod sync_support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Timelike, Utc};
use serde_json::Value;
use sync_support::{Kind, Receiver, Settings, Warehouse};

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

/// Waits for the process to exit; kills it and fails once the wall clock passes `deadline`
/// (`what` says why the process had to be gone by then).
fn wait(child: &mut Child, deadline: DateTime<Utc>, what: &str) -> i32 {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().expect("exited, not killed by a signal");
        }
        if now() > deadline {
            let _ = child.kill();
            panic!("audience run was still running at {deadline}: {what}");
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
    let kill = Command::new("sh").arg("-c").arg(format!("kill -{signal} {}", child.id())).status().unwrap();
    assert!(kill.success());
    // Gone before the slot it was waiting for: the signal ended the wait, not the slot.
    let code = wait(&mut child, next_run, "the signal did not end the wait for the first slot");
    assert_eq!(code, 0, "exit code on SIG{signal}");
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

/// The next log line that `is`, waiting up to `within`; the lines before it go to `seen`.
fn line_where(
    lines: &mpsc::Receiver<String>,
    seen: &mut Vec<Value>,
    within: Duration,
    what: &str,
    is: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line =
            lines.recv_timeout(left).unwrap_or_else(|_| panic!("no log line {what} within {within:?}: {seen:#?}"));
        let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        seen.push(event.clone());
        if is(&event) {
            return event;
        }
    }
}

/// A cron slot at the next minute fires a real sync through the binary: the receiver on
/// 127.0.0.1 ends up holding exactly the SQLite model's members, the run is logged with its
/// counts, and SIGTERM then stops the process after that one run. Waits up to about 80 s.
#[test]
fn a_cron_slot_runs_the_sync_for_real() {
    let w = Warehouse::new(Kind::Sqlite, "run-slot");
    let r = Receiver::start();
    w.add_users(1..=25);
    // The next minute, or the one after when this one is nearly over (the process must read
    // its clock before the slot for the slot to be its next, even on a loaded machine).
    let mut slot = now().with_second(0).unwrap().with_nanosecond(0).unwrap() + chrono::Duration::minutes(1);
    if slot - now() < chrono::Duration::seconds(20) {
        slot += chrono::Duration::minutes(1);
    }
    let schedule = format!("schedule = {{ cron = \"{} {} * * *\" }}", slot.minute(), slot.hour());
    let settings = Settings { sync_extra: schedule, ..Settings::default() };
    let config = sync_support::write_config(&w, &r, &settings);
    let mut child = spawn(&config);
    let lines = lines(&mut child);
    let mut seen = Vec::new();
    let next =
        line_where(&lines, &mut seen, Duration::from_secs(60), "naming the next run", |e| e.get("next_run").is_some());
    assert_eq!(
        next["next_run"].as_str(),
        Some(slot.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).as_str()),
        "{next}"
    );
    let until_slot = (slot - now()).to_std().unwrap_or_default() + Duration::from_secs(60);
    let starting =
        line_where(&lines, &mut seen, until_slot, "saying the run starts", |e| e["message"] == "run starting");
    let started = DateTime::parse_from_rfc3339(starting["time"].as_str().unwrap()).unwrap().to_utc();
    assert!(started >= slot, "the run started at {started}, before its slot {slot}");
    let done = line_where(&lines, &mut seen, Duration::from_secs(120), "with the run's outcome", |e| {
        e.get("status").is_some()
    });
    assert_eq!((done["status"].as_str(), done["inserted"].as_u64()), (Some("succeeded"), Some(25)), "{done}");
    assert_eq!(r.members(), w.expected_members(), "the receiver holds exactly the model's members");
    assert_eq!(r.members().len(), 25);
    let kill = Command::new("sh").arg("-c").arg(format!("kill -TERM {}", child.id())).status().unwrap();
    assert!(kill.success());
    let code = wait(&mut child, now() + chrono::Duration::minutes(2), "SIGTERM did not stop it");
    assert_eq!(code, 0, "exit code on SIGTERM");
    let rest: Vec<String> = lines.iter().collect();
    assert!(rest.iter().any(|l| l.contains("stopped after 1 run (0 slots skipped")), "{rest:?}");
}
