//! `audience runs`: the run history after runs of every status (succeeded, partial, stopped,
//! failed, interrupted, abandoned, and one still running), newest first, on every engine; and
//! every count of `sync --format json` equal to the run's row.

mod sync_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use sync_support::{Kind, Receiver, audience, edit_config, set_up, sync};

on_engines!(every_status_is_in_the_history);

/// `audience runs CONFIG ARGS --format json`: the runs listed.
fn runs(config: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["runs", config.to_str().unwrap(), "--format", "json"];
    all.extend_from_slice(args);
    let out = audience(&all);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    json["runs"].as_array().cloned().unwrap_or_default()
}

/// The run of `id` in a history.
fn run(history: &[Value], id: i64) -> &Value {
    history.iter().find(|r| r["run_id"] == id).unwrap_or_else(|| panic!("no run {id} in {history:?}"))
}

/// Every count `sync --format json` and `runs` share is the same in both.
fn agree(summary: &Value, row: &Value) {
    for key in
        ["inserted", "updated", "deleted", "failed", "invalid", "requests", "retries", "splits", "error", "reasons"]
    {
        assert_eq!(summary[key], row[key], "{key}: the sync said {summary}\nthe history says {row}");
    }
}

/// A query whose snapshot fails at run time (after the run row is written): the model's
/// columns resolve, and computing its rows fails.
fn failing_query(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => "SELECT id, email, name FROM users WHERE abs(-9223372036854775807 - 1) > 0",
        Kind::Postgres => "SELECT id, email, name FROM users WHERE 1 / (id - id) = 0",
        // A cast that fails on the first row read, at run time.
        Kind::Snowflake => "SELECT id, email, name FROM users WHERE CAST('x' || id AS INTEGER) = 0",
    }
}

/// `audience sync CONFIG --format json` as a child, with its stderr lines as they come.
fn spawn_sync(config: &Path) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(["sync", config.to_str().unwrap(), "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

fn every_status_is_in_the_history(kind: Kind, name: &str) {
    let (w, r, config) = set_up(kind, name, 1..=100);
    assert!(runs(&config, &[]).is_empty(), "no run yet");
    let mut summaries = Vec::new();
    // 1: succeeded.
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["status"].as_str()), (0, Some("succeeded")), "{s}\n{err}");
    summaries.push(s);
    // 2: partial: the API refuses user 5 (422: its request is split down to it); its first
    // request gets no answer within the timeout and is sent again.
    w.exec("UPDATE users SET name = 'changed' WHERE id <= 10");
    r.reject(&[5]);
    r.hold(r.received());
    edit_config(&config, &[("timeout = \"10s\"", "timeout = \"2s\"")]);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["status"].as_str(), s["failed"].as_u64()), (3, Some("partial"), Some(1)), "{s}\n{err}");
    assert!(s["splits"].as_u64().unwrap() > 0 && !s["reasons"].as_array().unwrap().is_empty(), "{s}");
    assert!(s["retries"].as_u64().unwrap() > 0, "{s}");
    summaries.push(s);
    r.reject(&[]);
    edit_config(&config, &[("timeout = \"2s\"", "timeout = \"10s\"")]);
    // 3: stopped by the mass-removal guard (60 of 100 members would go).
    w.exec("DELETE FROM users WHERE id > 40");
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["status"].as_str()), (1, Some("stopped")), "{s}\n{err}");
    summaries.push(s);
    w.add_users(41..=100);
    // 4: failed: the snapshot fails in the warehouse.
    edit_config(&config, &[("SELECT id, email, name FROM users", failing_query(kind))]);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["status"].as_str(), s["run_id"].as_i64()), (1, Some("failed"), Some(4)), "{s}\n{err}");
    summaries.push(s);
    edit_config(&config, &[(failing_query(kind), "SELECT id, email, name FROM users")]);
    // 5: interrupted: SIGINT while a request is held (every member changed: ten requests).
    w.exec("UPDATE users SET name = 'again'");
    let before = r.received();
    r.hold(before + 1);
    let (child, lines) = spawn_sync(&config);
    r.wait_for(before + 2, Duration::from_secs(60));
    // SAFETY: kill sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    // The held request is answered once the stop is in effect (see tests/sync_signals.rs).
    while !lines
        .recv_timeout(Duration::from_secs(60))
        .expect("a line saying the signal came")
        .contains("signal received")
    {}
    r.release();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let s = serde_json::from_slice::<Value>(&out.stdout).unwrap()["syncs"][0].clone();
    assert_eq!(s["run_id"].as_i64(), Some(5), "{s}");
    summaries.push(s);
    // 6: running, then abandoned: killed (SIGKILL) while its first request is held (by an API
    // of its own: a receiver holds one request in its life).
    let r2 = Receiver::start();
    edit_config(&config, &[(&r.base_url(), &r2.base_url())]);
    r2.hold(0);
    let (mut child, _lines) = spawn_sync(&config);
    r2.wait_for(1, Duration::from_secs(60));
    let running = runs(&config, &["--limit", "1"]);
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!((running[0]["run_id"].as_i64(), running[0]["status"].as_str()), (Some(6), Some("running")));
    assert!(running[0]["finished_at"].is_null(), "{running:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    r2.release();
    // 7: the next run finds run 6 dead, and sends the rest.
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["status"].as_str(), s["run_id"].as_i64()), (0, Some("succeeded"), Some(7)), "{s}\n{err}");
    summaries.push(s);

    let history = runs(&config, &[]);
    let statuses: Vec<&str> = history.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        ["succeeded", "abandoned", "interrupted", "failed", "stopped", "partial", "succeeded"],
        "newest first: {history:?}"
    );
    let ids: Vec<i64> = history.iter().map(|r| r["run_id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [7, 6, 5, 4, 3, 2, 1]);
    for s in &summaries {
        agree(s, run(&history, s["run_id"].as_i64().unwrap()));
    }
    let keys: Vec<&str> = history[0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "sync",
            "run_id",
            "status",
            "started_at",
            "finished_at",
            "inserted",
            "updated",
            "deleted",
            "failed",
            "invalid",
            "requests",
            "retries",
            "splits",
            "error",
            "reasons"
        ]
    );
    assert!(run(&history, 6)["error"].as_str().unwrap_or_default().starts_with("abandoned"), "{history:?}");
    assert!(run(&history, 5)["finished_at"].is_string());
    // --limit keeps the newest; --sync names the sync.
    let two = runs(&config, &["--limit", "2", "--sync", "members"]);
    assert_eq!(two.iter().map(|r| r["run_id"].as_i64().unwrap()).collect::<Vec<_>>(), [7, 6]);
    // For people: a table, one line per run.
    let out = audience(&["runs", config.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(text.starts_with("SYNC"), "{text}");
    assert_eq!(text.lines().count(), 8, "{text}");
    assert!(text.lines().nth(2).unwrap().contains("abandoned"), "{text}");
    let out = audience(&["runs", config.to_str().unwrap(), "--sync", "nope"]);
    assert_eq!(out.status.code(), Some(2), "an unknown sync is a usage error");
    // A dry run is not recorded.
    let (code, _, err) = sync(&config, &["--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(runs(&config, &[]).len(), 7);
}
