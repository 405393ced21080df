//! What people read: the human output of `sync` (a normal run, a dry run, a run whose every
//! record failed, a run the API stopped, an interrupted run) and of `logs`, as insta snapshots,
//! each twice: with stdout and stderr piped (as a script or CI sees them: log lines as JSON)
//! and on a terminal.
//!
//! A terminal is a real pseudo-terminal (`openpty`, 120 columns): the command cannot tell it
//! from a person's, so what is shown there (text log lines, progress bars) is what people get.
//! Its bytes go through [`screen`], a small model of a terminal (carriage returns, cleared
//! lines, cursor moves up; colours dropped), so the snapshot holds what stays on the screen,
//! not the frames of a progress bar. Times, durations, the scratch directory and the port of
//! the local API are redacted.
//!
//! The other tests pin one behaviour each of what a run tells: variables needed only where they
//! are used, failure reasons, retries and splits, why a full resync happens, one log-line shape.

mod sync_support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use sync_support::{Kind, Receiver, Settings, Warehouse, edit_config, sync, write_config};

/// What a command printed: its exit code, and its output as people see it.
struct Shown {
    code: i32,
    text: String,
}

/// Runs `audience ARGS` with stdout and stderr piped; `env` is set, `unset` removed. The text
/// is stdout, then stderr under a `--- stderr` line.
fn piped(args: &[&str], env: &[(&str, &str)], unset: &[&str]) -> Shown {
    let mut command = Command::new(env!("CARGO_BIN_EXE_audience"));
    command.args(args).env("NO_COLOR", "1");
    for (k, v) in env {
        command.env(k, v);
    }
    for k in unset {
        command.env_remove(k);
    }
    let out = command.output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Shown { code: out.status.code().unwrap_or(-1), text: format!("{stdout}--- stderr\n{stderr}") }
}

/// What a child has written so far (its terminal, or its stderr), for a test to wait on.
#[derive(Clone, Default)]
struct Heard(Arc<(std::sync::Mutex<Vec<u8>>, std::sync::Condvar)>);

impl Heard {
    fn push(&self, bytes: &[u8]) {
        let (written, more) = &*self.0;
        written.lock().unwrap().extend_from_slice(bytes);
        more.notify_all();
    }

    fn bytes(&self) -> Vec<u8> {
        self.0.0.lock().unwrap().clone()
    }

    /// Waits until `text` has been written; fails after `within`, showing what was.
    fn wait_for(&self, text: &str, within: Duration) {
        let (written, more) = &*self.0;
        let deadline = std::time::Instant::now() + within;
        let mut guard = written.lock().unwrap();
        while !String::from_utf8_lossy(&guard).contains(text) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(
                !left.is_zero(),
                "waited in vain for {text:?}; the child wrote:\n{}",
                String::from_utf8_lossy(&guard)
            );
            guard = more.wait_timeout(guard, left).unwrap().0;
        }
    }
}

/// Copies what `from` gives into `heard` until its end, on a thread of its own.
fn listen(mut from: impl Read + Send + 'static, heard: &Heard) -> std::thread::JoinHandle<()> {
    let heard = heard.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // EIO on a terminal once every slave descriptor is closed: the end of the output.
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            heard.push(&buf[..n]);
        }
    })
}

/// Runs `audience ARGS` on a pseudo-terminal (stdin empty); `during` is called with the child's
/// id once it has started (to signal it, say) and what it has written so far. The text is the
/// screen at the end.
fn on_terminal(args: &[&str], env: &[(&str, &str)], during: impl FnOnce(u32, &Heard)) -> Shown {
    let (master, slave) = open_pty();
    let mut command = Command::new(env!("CARGO_BIN_EXE_audience"));
    command
        .args(args)
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    // The parent's copies of the terminal's slave side close with `command`: reading the master
    // then ends when the child (and anything it started) has closed it.
    drop(command);
    let heard = Heard::default();
    let reader = listen(std::fs::File::from(master), &heard);
    during(child.id(), &heard);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    Shown { code: status.code().unwrap_or(-1), text: screen(&String::from_utf8_lossy(&heard.bytes())) }
}

/// A pseudo-terminal of 120 columns: (master, slave).
fn open_pty() -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize { ws_row: 40, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: openpty writes two descriptors into the integers given; the name pointer may be
    // null, and the terminal settings null (defaults), the window size points to a live struct.
    let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
    assert_eq!(rc, 0, "openpty failed: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened by openpty and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

/// What stays on a terminal's screen after `raw` was written to it: lines, with carriage
/// returns, `ESC[K`/`ESC[2K` (clear line), `ESC[nA` (cursor up) and `ESC[nG` (column) applied,
/// and every other escape sequence (colours) dropped.
fn screen(raw: &str) -> String {
    let mut lines: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => col = 0,
            '\n' => {
                row += 1;
                col = 0;
                if lines.len() <= row {
                    lines.push(Vec::new());
                }
            }
            '\x1b' => {
                if chars.peek() != Some(&'[') {
                    chars.next();
                    continue;
                }
                chars.next();
                let mut arg = String::new();
                let mut end = ' ';
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        end = c;
                        break;
                    }
                    arg.push(c);
                }
                let n: usize = arg.trim_start_matches('?').split(';').next().and_then(|a| a.parse().ok()).unwrap_or(1);
                match end {
                    'K' if arg == "2" => lines[row].clear(),
                    'K' => lines[row].truncate(col),
                    'A' => row = row.saturating_sub(n),
                    'G' => col = n.saturating_sub(1),
                    _ => {}
                }
            }
            c if c.is_control() => {}
            c => {
                let line = &mut lines[row];
                if line.len() <= col {
                    line.resize(col, ' ');
                    line.push(c);
                } else {
                    line[col] = c;
                }
                col += 1;
            }
        }
    }
    let mut text: Vec<String> = lines.iter().map(|l| l.iter().collect::<String>().trim_end().to_owned()).collect();
    while text.last().is_some_and(String::is_empty) {
        text.pop();
    }
    text.join("\n") + "\n"
}

/// `text` with what changes from run to run replaced: RFC 3339 times, durations, the scratch
/// directory, the port of the local API.
fn redact(text: &str, dir: &Path, port: u16) -> String {
    let text = text.replace(&dir.display().to_string(), "[dir]").replace(&format!(":{port}"), ":[port]");
    let mut out = String::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        if let Some(len) = time_at(rest) {
            out.push_str("[time]");
            rest = &rest[len..];
        } else if let Some(len) = duration_at(rest) {
            out.push_str(" [duration]");
            rest = &rest[len..];
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The length of an RFC 3339 UTC time at the start of `s` (`2026-01-02T03:04:05.678Z`).
fn time_at(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if !(digits(0..4) && b.get(4) == Some(&b'-') && digits(5..7) && b.get(10) == Some(&b'T') && digits(11..13)) {
        return None;
    }
    s.find('Z').filter(|&z| z <= 30).map(|z| z + 1)
}

/// The length of ` 12 ms`, ` 1.2 s`, ` 3 min 05 s`, ` 0.1s` at the start of `s`.
fn duration_at(s: &str) -> Option<usize> {
    let body = s.strip_prefix(' ')?;
    let number = body.find(|c: char| !(c.is_ascii_digit() || c == '.')).filter(|&n| n > 0)?;
    let after = &body[number..];
    let unit = [" min ", " ms", " s", "s)"].into_iter().find(|u| after.starts_with(u))?;
    if unit == " min " {
        let secs = duration_at(&after[4..])?;
        return Some(1 + number + 4 + secs);
    }
    let unit_len = if unit == "s)" { 1 } else { unit.len() };
    let next = after[unit_len..].chars().next();
    if next.is_some_and(|c| c.is_alphanumeric()) {
        return None;
    }
    Some(1 + number + unit_len)
}

/// An HTTP server on 127.0.0.1 that answers request `i` (from 0) with `answer(i)`: a status and
/// a body. One thread per connection; every answer closes its connection.
struct Scripted {
    port: u16,
    count: Arc<AtomicUsize>,
}

impl Scripted {
    fn start(answer: impl Fn(usize) -> (u16, &'static str) + Send + Sync + 'static) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let (answer, n) = (Arc::new(answer), count.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (answer, n) = (answer.clone(), n.clone());
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 8192];
                    // Headers, then as many body bytes as Content-Length says.
                    loop {
                        let Ok(got) = stream.read(&mut buf) else { return };
                        if got == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..got]);
                        let text = String::from_utf8_lossy(&seen).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text[..end]
                                .lines()
                                .find_map(|l| {
                                    let (k, v) = l.split_once(':')?;
                                    k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok())?
                                })
                                .unwrap_or(0);
                            if seen.len() >= end + 4 + length {
                                break;
                            }
                        }
                    }
                    let (status, body) = answer(n.fetch_add(1, Ordering::SeqCst));
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes());
                });
            }
        });
        Scripted { port, count }
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A port nothing listens on (bound, then closed).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A warehouse with users `ids` and a config for `receiver`'s API.
fn set_up(name: &str, ids: std::ops::RangeInclusive<i64>, receiver: &Receiver, s: &Settings) -> (Warehouse, String) {
    let w = Warehouse::new(Kind::Sqlite, name);
    w.add_users(ids);
    let config = write_config(&w, receiver, s);
    (w, config.to_str().unwrap().to_owned())
}

/// The config pointed at another API (`base_url`).
fn point_at(config: &str, receiver: &Receiver, base_url: &str) {
    edit_config(
        Path::new(config),
        &[(&format!("base_url = \"{}\"", receiver.base_url()), &format!("base_url = \"{base_url}\""))],
    );
}

/// Shows `args` piped or on a terminal.
fn show(args: &[&str], terminal: bool) -> Shown {
    if terminal { on_terminal(args, &[], |_, _| {}) } else { piped(args, &[], &[]) }
}

fn mode(terminal: bool) -> &'static str {
    if terminal { "terminal" } else { "piped" }
}

// ---------------------------------------------------------------------------------------------
// Snapshots of the human output.

fn sync_normal(terminal: bool) {
    let r = Receiver::start();
    let (w, config) = set_up(&format!("out-normal-{}", mode(terminal)), 1..=25, &r, &Settings::default());
    let shown = show(&["sync", &config], terminal);
    assert_eq!(shown.code, 0, "{}", shown.text);
    insta::assert_snapshot!(format!("sync_normal_{}", mode(terminal)), redact(&shown.text, &w.dir, r.addr.port()));
    // The second run: nothing changed.
    w.exec("UPDATE users SET name = 'renamed' WHERE id = 3; DELETE FROM users WHERE id = 4");
    let shown = show(&["sync", &config], terminal);
    insta::assert_snapshot!(format!("sync_second_{}", mode(terminal)), redact(&shown.text, &w.dir, r.addr.port()));
}

#[test]
fn sync_normal_piped() {
    sync_normal(false);
}

#[test]
fn sync_normal_on_a_terminal() {
    sync_normal(true);
}

fn sync_dry_run(terminal: bool) {
    let r = Receiver::start();
    let (w, config) = set_up(&format!("out-dry-{}", mode(terminal)), 1..=3, &r, &Settings::default());
    let shown = show(&["sync", &config, "--dry-run"], terminal);
    assert_eq!(shown.code, 0, "{}", shown.text);
    assert_eq!(r.received(), 0);
    insta::assert_snapshot!(format!("sync_dry_run_{}", mode(terminal)), redact(&shown.text, &w.dir, r.addr.port()));
}

#[test]
fn sync_dry_run_piped() {
    sync_dry_run(false);
}

#[test]
fn sync_dry_run_on_a_terminal() {
    sync_dry_run(true);
}

fn sync_all_failed(terminal: bool) {
    let r = Receiver::start();
    let (w, config) = set_up(&format!("out-failed-{}", mode(terminal)), 1..=30, &r, &Settings::default());
    let port = closed_port();
    point_at(&config, &r, &format!("http://127.0.0.1:{port}"));
    let shown = show(&["sync", &config], terminal);
    assert_eq!(shown.code, 3, "{}", shown.text);
    insta::assert_snapshot!(format!("sync_all_failed_{}", mode(terminal)), redact(&shown.text, &w.dir, port));
    let shown = show(&["logs", &config, "--limit", "3"], terminal);
    assert_eq!(shown.code, 0, "{}", shown.text);
    insta::assert_snapshot!(format!("logs_all_failed_{}", mode(terminal)), redact(&shown.text, &w.dir, port));
}

#[test]
fn sync_all_failed_piped() {
    sync_all_failed(false);
}

#[test]
fn sync_all_failed_on_a_terminal() {
    sync_all_failed(true);
}

fn sync_stopped(terminal: bool) {
    let r = Receiver::start();
    let settings = Settings { max_concurrency: 1, ..Settings::default() };
    let (w, config) = set_up(&format!("out-stopped-{}", mode(terminal)), 1..=40, &r, &settings);
    let api = Scripted::start(|_| (401, r#"{"error": "invalid token"}"#));
    point_at(&config, &r, &api.base_url());
    let shown = show(&["sync", &config], terminal);
    assert_eq!(shown.code, 1, "{}", shown.text);
    insta::assert_snapshot!(format!("sync_stopped_{}", mode(terminal)), redact(&shown.text, &w.dir, api.port));
    let shown = show(&["logs", &config], terminal);
    assert_eq!(shown.code, 0, "{}", shown.text);
    insta::assert_snapshot!(format!("logs_stopped_{}", mode(terminal)), redact(&shown.text, &w.dir, api.port));
}

#[test]
fn sync_stopped_piped() {
    sync_stopped(false);
}

#[test]
fn sync_stopped_on_a_terminal() {
    sync_stopped(true);
}

/// Holds the second request, interrupts the run (SIGINT) once it is held, then lets it finish.
fn sync_interrupted(terminal: bool) {
    let r = Receiver::start();
    let settings = Settings { max_concurrency: 1, ..Settings::default() };
    let (w, config) = set_up(&format!("out-interrupted-{}", mode(terminal)), 1..=30, &r, &settings);
    r.hold(1);
    let interrupt = |pid: u32, heard: &Heard| {
        r.wait_for(2, Duration::from_secs(60));
        // SAFETY: kill sends a signal to our own child.
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) }, 0);
        // The line that says the signal is taken comes before the held request is let go.
        heard.wait_for("signal received", Duration::from_secs(60));
        r.release();
    };
    let shown = if terminal {
        on_terminal(&["sync", &config], &[], interrupt)
    } else {
        let mut child = Command::new(env!("CARGO_BIN_EXE_audience"))
            .args(["sync", &config])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let heard = Heard::default();
        let reader = listen(child.stderr.take().unwrap(), &heard);
        interrupt(child.id(), &heard);
        let mut text = String::new();
        child.stdout.take().unwrap().read_to_string(&mut text).unwrap();
        text.push_str("--- stderr\n");
        reader.join().unwrap();
        text.push_str(&String::from_utf8_lossy(&heard.bytes()));
        Shown { code: child.wait().unwrap().code().unwrap_or(-1), text }
    };
    assert_eq!(shown.code, 130, "{}", shown.text);
    insta::assert_snapshot!(format!("sync_interrupted_{}", mode(terminal)), redact(&shown.text, &w.dir, r.addr.port()));
}

#[test]
fn sync_interrupted_piped() {
    sync_interrupted(false);
}

#[test]
fn sync_interrupted_on_a_terminal() {
    sync_interrupted(true);
}

// ---------------------------------------------------------------------------------------------
// One behaviour each.

/// The JSON summary of `audience sync CONFIG --format json ARGS`, and the exit code and stderr.
fn sync_json(config: &str, args: &[&str]) -> (i32, Value, String) {
    sync(Path::new(config), args)
}

/// Reading commands and a dry run need no API secret; the commands that send do (docs/design/interface.md).
#[test]
fn variables_are_needed_only_where_they_are_used() {
    let r = Receiver::start();
    let (w, config) = set_up("out-env", 1..=3, &r, &Settings::default());
    edit_config(
        Path::new(&config),
        &[(
            "timeout = \"10s\"",
            "timeout = \"10s\"\nheaders = { \"X-Key\" = \"${OUTPUT_TEST_KEY}\" }\n[destination.auth]\ntype = \"bearer\"\ntoken = \"${OUTPUT_TEST_TOKEN}\"",
        )],
    );
    let unset = ["OUTPUT_TEST_TOKEN", "OUTPUT_TEST_KEY"];
    let set = [("OUTPUT_TEST_TOKEN", "s3cret-t0ken"), ("OUTPUT_TEST_KEY", "k3y-value")];
    // A first run, with the secrets, so that there are logs to read.
    let sent = piped(&["sync", &config], &set, &[]);
    assert_eq!(sent.code, 0, "{}", sent.text);
    for args in [
        vec!["check", config.as_str()],
        vec!["fields", config.as_str()],
        vec!["preview", config.as_str(), "--action", "add"],
        vec!["sync", config.as_str(), "--dry-run"],
        vec!["logs", config.as_str()],
    ] {
        let shown = piped(&args, &[], &unset);
        assert_eq!(shown.code, 0, "{args:?} needs no API secret:\n{}", shown.text);
        assert!(!shown.text.contains("s3cret"), "{}", shown.text);
    }
    let shown = piped(&["preview", &config, "--action", "add"], &[], &unset);
    assert!(shown.text.contains("OUTPUT_TEST_TOKEN is not set"), "shown as unset: {}", shown.text);
    // The commands that send refuse, naming the key.
    let shown = piped(&["sync", &config], &[], &unset);
    assert_eq!(shown.code, 1, "{}", shown.text);
    assert!(
        shown.text.contains("destination.auth.token") && shown.text.contains("OUTPUT_TEST_TOKEN"),
        "{}",
        shown.text
    );
    // A warehouse's variable is needed by every command that reads the warehouse.
    let source = w.source();
    edit_config(Path::new(&config), &[(&format!("source = \"{source}\""), "source = \"${OUTPUT_TEST_SOURCE}\"")]);
    for args in [vec!["logs", config.as_str()], vec!["sync", config.as_str(), "--dry-run"]] {
        let shown = piped(&args, &set, &["OUTPUT_TEST_SOURCE"]);
        assert_eq!(shown.code, 1, "{args:?}: {}", shown.text);
        assert!(shown.text.contains("OUTPUT_TEST_SOURCE is not set"), "{}", shown.text);
    }
    let shown = piped(&["check", &config], &set, &["OUTPUT_TEST_SOURCE"]);
    assert_eq!(shown.code, 0, "{}", shown.text);
}

/// A dry run shows the first request of each action to people, as the JSON has it.
#[test]
fn a_dry_run_shows_the_first_request_of_each_action() {
    let r = Receiver::start();
    let (w, config) = set_up("out-dry-samples", 1..=12, &r, &Settings::default());
    assert_eq!(piped(&["sync", &config], &[], &[]).code, 0);
    w.exec("UPDATE users SET name = 'renamed' WHERE id = 3; DELETE FROM users WHERE id = 4; INSERT INTO users VALUES (99, 'u99@example.com', 'N99')");
    let shown = piped(&["sync", &config, "--dry-run"], &[], &[]);
    assert_eq!(shown.code, 0, "{}", shown.text);
    for want in [
        "first add request:",
        "first update request:",
        "first remove request:",
        "PATCH http://127.0.0.1:",
        "\"id\": 99",
        "would send 1 inserted, 1 updated, 1 deleted",
    ] {
        assert!(shown.text.contains(want), "{want}: {}", shown.text);
    }
    assert!(!shown.text.contains("0 requests"), "{}", shown.text);
}

/// A run whose every record fails says why, with counts, in the summary and in the JSON.
#[test]
fn failure_reasons_are_counted_in_the_summary() {
    let r = Receiver::start();
    let (_w, config) = set_up("out-reasons", 1..=30, &r, &Settings::default());
    point_at(&config, &r, &format!("http://127.0.0.1:{}", closed_port()));
    let shown = piped(&["sync", &config], &[], &[]);
    assert_eq!(shown.code, 3);
    assert!(
        shown.text.contains("30 × connection error:") && shown.text.contains("Connection refused"),
        "{}",
        shown.text
    );
    let (code, s, _) = sync_json(&config, &[]);
    assert_eq!(code, 3);
    assert_eq!(s["reasons"].as_array().map(Vec::len), Some(1), "{s}");
    assert_eq!(s["reasons"][0]["count"], 30);
    assert_eq!(s["reasons"][0]["http_status"], Value::Null);
    assert!(s["reasons"][0]["reason"].as_str().unwrap().starts_with("connection error:"), "{s}");
}

/// Retries and splits are counted, in the JSON and for people.
#[test]
fn retries_and_splits_are_counted() {
    let r = Receiver::start();
    let settings = Settings { max_concurrency: 1, ..Settings::default() };
    let (_w, config) = set_up("out-retries", 1..=10, &r, &settings);
    edit_config(Path::new(&config), &[("max_attempts = 2", "max_attempts = 8")]);
    // Six 500s, then every request accepted.
    let api = Scripted::start(|i| if i < 6 { (500, r#"{"error": "busy"}"#) } else { (200, "{}") });
    point_at(&config, &r, &api.base_url());
    let shown = piped(&["sync", &config], &[], &[]);
    assert_eq!(shown.code, 0, "{}", shown.text);
    assert!(shown.text.contains("(7 requests, 6 retries)"), "{}", shown.text);
    assert_eq!(api.count.load(Ordering::SeqCst), 7);

    let r = Receiver::start();
    let (w, config) = set_up("out-splits", 1..=10, &r, &settings);
    r.reject(&[4]);
    let (code, s, err) = sync_json(&config, &[]);
    assert_eq!(code, 3, "{s}\n{err}");
    // 10 → 5 + 5 → (2 + 3) → (1 + 2) → 1 + 1: every rejected request of several records is split.
    assert_eq!((s["splits"].as_u64(), s["retries"].as_u64()), (Some(4), Some(0)), "{s}");
    assert_eq!(
        s["reasons"],
        serde_json::json!([{"reason": "HTTP 422 Unprocessable Entity: {\"error\": \"rejected\"}", "http_status": 422, "count": 1}])
    );
    drop(w);
}

/// A full resync says why: a changed configuration (and which part), `--full-resync`, or an
/// earlier full resync that did not finish.
#[test]
fn a_full_resync_says_why() {
    let r = Receiver::start();
    let settings = Settings { max_concurrency: 1, ..Settings::default() };
    let (_w, config) = set_up("out-resync", 1..=30, &r, &settings);
    assert_eq!(piped(&["sync", &config], &[], &[]).code, 0);
    edit_config(
        Path::new(&config),
        &[("\"name\": name}]}'\n[destination.actions.update]", "\"nom\": name}]}'\n[destination.actions.update]")],
    );
    let shown = piped(&["sync", &config, "--dry-run"], &[], &[]);
    assert!(
        shown
            .text
            .contains("full resync: the configuration changed since run 1 (templates): every member is sent again"),
        "{}",
        shown.text
    );
    let shown = piped(&["sync", &config], &[], &[]);
    assert!(shown.text.contains("the configuration changed since run 1 (templates)"), "{}", shown.text);
    // Nothing changed since: no word of a resync.
    let shown = piped(&["sync", &config], &[], &[]);
    assert!(!shown.text.contains("full resync"), "{}", shown.text);
    let shown = piped(&["sync", &config, "--full-resync", "--dry-run"], &[], &[]);
    assert!(shown.text.contains("full resync: asked for with --full-resync"), "{}", shown.text);

    // An interrupted --full-resync: the next plain run says why it resends.
    r.hold(r.received() + 1);
    let mut child = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(["sync", &config, "--full-resync"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let heard = Heard::default();
    let reader = listen(child.stderr.take().unwrap(), &heard);
    let before = r.received();
    r.wait_for(before + 1, Duration::from_secs(60));
    // SAFETY: kill sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    // The held request is let go once the run says it took the signal (it stops starting
    // requests before it says so): then the run ends interrupted, not finished.
    heard.wait_for("signal received", Duration::from_secs(60));
    r.release();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    reader.join().unwrap();
    let shown = piped(&["sync", &config], &[], &[]);
    assert!(shown.text.contains("full resync: run 4, a full resync, did not finish (interrupted)"), "{}", shown.text);
}

/// Log lines: JSON with time, level, message (and sync and run when about one); the API's
/// refusal said once, however many requests were in flight.
#[test]
fn log_lines_have_one_shape_and_each_event_comes_once() {
    let r = Receiver::start();
    let settings = Settings { max_concurrency: 4, batch_size: 2, ..Settings::default() };
    let (_w, config) = set_up("out-log-lines", 1..=40, &r, &settings);
    // Every answer waits until a second request has arrived (10 s at most), so that the refusal
    // comes with several requests in flight however loaded the machine is.
    let arrived = Arc::new(AtomicUsize::new(0));
    let seen = arrived.clone();
    let api = Scripted::start(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while seen.load(Ordering::SeqCst) < 2 && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        (401, "{}")
    });
    point_at(&config, &r, &api.base_url());
    let shown = piped(&["sync", &config], &[("AUDIENCE_LOG", "debug")], &[]);
    assert_eq!(shown.code, 1, "{}", shown.text);
    let stderr = shown.text.split("--- stderr\n").nth(1).unwrap();
    let lines: Vec<Value> =
        stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        for key in ["time", "level", "message"] {
            assert!(line.get(key).is_some(), "{key} missing: {line}");
        }
        assert_ne!(line["sync"], "*", "{line}");
        if line["level"] != "info" && line["message"].as_str().unwrap().contains("HTTP") {
            assert_eq!((line["sync"].as_str(), line["run"].as_i64()), (Some("members"), Some(1)), "{line}");
        }
    }
    let refusals = lines.iter().filter(|l| l["message"].as_str().unwrap().contains("the run stops")).count();
    assert_eq!(refusals, 1, "{stderr}");
    assert!(api.count.load(Ordering::SeqCst) > 1, "several requests were in flight");
    // The warehouse's steps name their sync, and each statement of a step says what it does,
    // so that no two lines read the same.
    let steps: Vec<&Value> = lines.iter().filter(|l| l["message"] == "warehouse").collect();
    assert!(!steps.is_empty() && steps.iter().all(|l| l["sync"] == "members"), "{stderr}");
    let same = |a: &Value, b: &Value| {
        // Recording lines are per transaction, told apart by their `records`.
        a.get("records").is_none() && a["step"] == b["step"] && a["statement"] == b["statement"]
    };
    assert!(steps.windows(2).all(|w| !same(w[0], w[1])), "{stderr}");
    // Delivery's own debug lines name the run too.
    let responses: Vec<&Value> = lines.iter().filter(|l| l["message"] == "response").collect();
    assert!(!responses.is_empty() && responses.iter().all(|l| l["sync"] == "members" && l["run"] == 1), "{stderr}");
}

/// `audience logs`: the run's status and error, a per-status summary, one line per row with its
/// reason once, `--limit`, and `--sync` only when the file has several syncs.
#[test]
fn logs_tell_the_run_and_count_its_rows() {
    let r = Receiver::start();
    let (_w, config) = set_up("out-logs", 1..=10, &r, &Settings::default());
    r.reject(&[7]);
    assert_eq!(piped(&["sync", &config], &[], &[]).code, 3);
    let shown = piped(&["logs", &config], &[], &[]);
    assert_eq!(shown.code, 0, "{}", shown.text);
    assert!(shown.text.starts_with("sync members, run 1: partial (started "), "{}", shown.text);
    assert!(shown.text.contains("10 rows: 9 succeeded, 1 failed; by operation: 10 insert"), "{}", shown.text);
    assert!(shown.text.contains("  1 × HTTP 422 Unprocessable Entity: {\"error\": \"rejected\"}"), "{}", shown.text);
    assert!(!shown.text.contains("HTTP 422  HTTP 422") && !shown.text.contains("HTTP 422 HTTP 422"), "{}", shown.text);
    let shown = piped(&["logs", &config, "--failed"], &[], &[]);
    assert!(shown.text.contains("  1 failed or invalid row: 1 failed"), "{}", shown.text);
    let shown = piped(&["logs", &config, "--limit", "2"], &[], &[]);
    assert_eq!(shown.text.lines().filter(|l| l.contains("  insert  ")).count(), 2, "{}", shown.text);
    assert!(shown.text.contains("(the first 2 shown; --limit 0 shows all)"), "{}", shown.text);
    let json = piped(&["logs", &config, "--format", "json", "--limit", "2"], &[], &[]);
    let v: Value = serde_json::from_str(json.text.split("--- stderr").next().unwrap()).unwrap();
    assert_eq!((v["status"].as_str(), v["rows"].as_array().map(Vec::len)), (Some("partial"), Some(2)), "{v}");
    assert_eq!(v["error"], Value::Null);
    // A second sync: --sync is needed again.
    let text = std::fs::read_to_string(&config).unwrap();
    let second = text[text.find("[syncs.members]").unwrap()..].replace("[syncs.members]", "[syncs.others]");
    std::fs::write(&config, format!("{text}\n{second}")).unwrap();
    let shown = piped(&["logs", &config], &[], &[]);
    assert_eq!(shown.code, 2, "{}", shown.text);
    assert!(shown.text.contains("name one with --sync (its syncs are: members, others)"), "{}", shown.text);
}

/// Small things people read: plurals, short durations, a sample key one edit from a field,
/// samples past the batch, rejected samples counted from 1, no colour on a dumb terminal.
#[test]
fn small_things_people_read() {
    let r = Receiver::start();
    let (_w, config) = set_up("out-small", 1..=1, &r, &Settings::default());
    let shown = piped(&["sync", &config], &[], &[]);
    assert!(shown.text.contains(" ms: 1 inserted") || shown.text.contains(" s: 1 inserted"), "{}", shown.text);
    assert!(shown.text.contains("(1 request)") && !shown.text.contains("0.0 s"), "{}", shown.text);
    let shown = piped(&["logs", &config], &[], &[]);
    assert!(shown.text.contains("  1 row: 1 succeeded"), "{}", shown.text);

    let records = Path::new(&config).with_file_name("records.json");
    std::fs::write(&records, r#"[{"email": "a@example.com", "user_id": 1}, {"emial": "b@example.com"}]"#).unwrap();
    let shown = piped(&["preview", &config, "--action", "add", "--records", records.to_str().unwrap()], &[], &[]);
    assert!(shown.text.contains("sample record 2 rejected: emial is not a field"), "{}", shown.text);
    assert!(shown.text.contains("did you mean email?"), "{}", shown.text);
    let shown = piped(&["preview", &config, "--action", "add", "--count", "15"], &[], &[]);
    assert!(
        shown.text.contains("15 sample records asked for, and batch_size is 10")
            && shown.text.contains("5 are left out"),
        "{}",
        shown.text
    );

    let bad = Path::new(&config).with_file_name("bad.jsonata");
    std::fs::write(&bad, "{\"a\": x & y}").unwrap();
    let raw = |term: &str| {
        let (master, slave) = open_pty();
        let status = Command::new(env!("CARGO_BIN_EXE_audience"))
            .args(["check", bad.to_str().unwrap()])
            .env("TERM", term)
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(1));
        let mut out = Vec::new();
        let mut master = std::fs::File::from(master);
        let mut buf = [0u8; 4096];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    // `--format` says what it gives where there is no source to annotate.
    let help = piped(&["sync", "--help"], &[], &[]);
    assert!(!help.text.contains("annotated source"), "{}", help.text);
    assert!(raw("xterm").contains("\x1b["), "colours on a terminal");
    assert!(!raw("dumb").contains("\x1b["), "no colour on TERM=dumb");
}
