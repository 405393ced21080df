//! `audience run --listen`: `/healthz` answers 200 while the scheduler runs and nothing answers
//! once SIGTERM stopped it; `/metrics` after a real run at a real cron slot passes Prometheus's
//! own `promtool check metrics` (Debian's `prometheus`, which scripts/test installs) and its
//! values are the run's summary (the log line) and its row (`audience runs`).

mod sync_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Timelike, Utc};
use serde_json::Value;
use sync_support::{Kind, Receiver, Settings, Warehouse, audience};

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(SystemTime::now())
}

/// `GET path` on `addr`: the status and the body; `None` when nothing answers.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// The next JSON log line that `is`, waiting up to `within`.
fn line_where(lines: &mpsc::Receiver<String>, within: Duration, what: &str, is: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line =
            lines.recv_timeout(left).unwrap_or_else(|_| panic!("no log line {what} within {within:?}: {seen:#?}"));
        let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        if is(&event) {
            return event;
        }
        seen.push(event);
    }
}

/// The value of the sample `series` (its name and labels exactly as written) in `text`.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
}

/// `promtool check metrics` over `text`: what it said, and whether it was content.
fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (scripts/test installs Debian's prometheus, which has it)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && said.trim().is_empty(), said)
}

#[test]
fn promtool_finds_fault_with_a_counter_named_badly() {
    // The check is real: a counter without `_total` is reported.
    let (clean, said) = promtool("# HELP runs Runs.\n# TYPE runs counter\nruns 1\n");
    assert!(!clean, "{said}");
    assert!(said.contains("_total"), "{said}");
}

/// A cron slot at the next minute runs the sync for real; user 3 is refused (422), so the run
/// is partial with a split. Waits up to about 80 s for the slot.
#[test]
fn metrics_after_a_run_and_health_until_sigterm() {
    let w = Warehouse::new(Kind::Sqlite, "metrics");
    let r = Receiver::start();
    w.add_users(1..=25);
    r.reject(&[3]);
    let mut slot = now().with_second(0).unwrap().with_nanosecond(0).unwrap() + chrono::Duration::minutes(1);
    if slot - now() < chrono::Duration::seconds(20) {
        slot += chrono::Duration::minutes(1);
    }
    let schedule = format!("schedule = {{ cron = \"{} {} * * *\" }}", slot.minute(), slot.hour());
    let config = sync_support::write_config(&w, &r, &Settings { sync_extra: schedule, ..Settings::default() });
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(["run", config.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let serving = line_where(&lines, Duration::from_secs(60), "with the address", |e| e.get("listen").is_some());
    let addr: SocketAddr = serving["listen"].as_str().unwrap().parse().unwrap();
    assert_eq!(get(addr, "/healthz").map(|(s, _)| s), Some(200), "healthy while the scheduler waits");
    let (status, before) = get(addr, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert_eq!(sample(&before, "audience_runs_total{sync=\"members\",status=\"partial\"}"), 0.0);
    assert_eq!(sample(&before, "audience_next_run_timestamp_seconds{sync=\"members\"}"), slot.timestamp() as f64);
    assert_eq!(get(addr, "/nope").map(|(s, _)| s), Some(404));

    let until_slot = (slot - now()).to_std().unwrap_or_default() + Duration::from_secs(120);
    let done = line_where(&lines, until_slot, "with the run's outcome", |e| e.get("status").is_some());
    assert_eq!((done["status"].as_str(), done["inserted"].as_u64()), (Some("partial"), Some(24)), "{done}");
    let (status, text) = get(addr, "/metrics").unwrap();
    assert_eq!(status, 200);
    let (clean, said) = promtool(&text);
    assert!(clean, "promtool check metrics: {said}\n{text}");
    let m = |series: &str| sample(&text, &format!("audience_{series}"));
    assert_eq!(m("runs_total{sync=\"members\",status=\"partial\"}"), 1.0);
    assert_eq!(m("runs_total{sync=\"members\",status=\"succeeded\"}"), 0.0);
    let n = |key: &str| done[key].as_u64().unwrap() as f64;
    assert_eq!(m("records_total{sync=\"members\",operation=\"insert\",outcome=\"succeeded\"}"), n("inserted"));
    assert_eq!(m("records_total{sync=\"members\",operation=\"insert\",outcome=\"failed\"}"), n("failed"));
    assert_eq!(m("records_total{sync=\"members\",operation=\"delete\",outcome=\"succeeded\"}"), 0.0);
    assert_eq!(m("retries_total{sync=\"members\"}"), n("retries"));
    assert_eq!(m("splits_total{sync=\"members\"}"), n("splits"));
    assert!(n("splits") > 0.0, "{done}");
    let classes: f64 = ["2xx", "3xx", "4xx", "5xx", "other", "none"]
        .iter()
        .map(|c| m(&format!("requests_total{{sync=\"members\",class=\"{c}\"}}")))
        .sum();
    assert_eq!(classes, n("requests"), "every request in one class");
    assert_eq!(
        m("requests_total{sync=\"members\",class=\"4xx\"}"),
        r.requests().iter().filter(|g| g.status == 422).count() as f64
    );
    assert_eq!(m("last_run_duration_seconds{sync=\"members\"}"), n("duration_ms") / 1000.0);
    let started = m("last_run_start_timestamp_seconds{sync=\"members\"}");
    assert!(started >= slot.timestamp() as f64 && started < now().timestamp() as f64 + 1.0, "{started}");
    assert!(!text.contains("last_success_timestamp_seconds{"), "no succeeded run yet:\n{text}");
    assert!(m("next_run_timestamp_seconds{sync=\"members\"}") > slot.timestamp() as f64);
    // The same counts as the run's row.
    let out = audience(&["runs", config.to_str().unwrap(), "--format", "json"]);
    let row = &serde_json::from_slice::<Value>(&out.stdout).unwrap()["runs"][0];
    for key in ["inserted", "failed", "requests", "retries", "splits"] {
        assert_eq!(row[key], done[key], "{key}");
    }
    // No record value and no address of the API in any metric.
    assert!(!text.contains("example.com") && !text.contains(&r.addr.to_string()), "{text}");

    let kill = Command::new("sh").arg("-c").arg(format!("kill -TERM {}", child.id())).status().unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(120);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        assert!(Instant::now() < deadline, "SIGTERM did not stop it");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0));
    assert_eq!(get(addr, "/healthz"), None, "nothing answers once it has stopped");
}
