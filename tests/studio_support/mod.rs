//! Browser tests of `audience studio`: the real binary serving its page, driven in headless
//! Chromium through chromedriver by a small WebDriver client (WebDriver is JSON over HTTP; a
//! few calls over a plain `TcpStream` are all these tests need, no crate).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/test` installs them when
//! missing). Each test starts its own chromedriver on a free loopback port and its own studio;
//! browsers run one at a time (the machines these run on have two cores).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long to wait for the page to show something: generous, as a loaded CI machine is slow.
/// Never a measure of speed.
pub const PATIENCE: Duration = Duration::from_secs(30);

static ONE_BROWSER: Mutex<()> = Mutex::new(());

/// A fresh folder under the target directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("studio").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test folder");
    dir
}

/// A plain HTTP/1.1 exchange on 127.0.0.1: the status and the body.
pub fn http(addr: &str, method: &str, path: &str, host: &str, body: Option<&Value>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(PATIENCE * 4)).expect("read timeout");
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send the request");
    // chromedriver keeps the connection open whatever the request says: read the head, then
    // as many bytes as it announces (or chunks, or to the end).
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read the answer") == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let lower = head.to_ascii_lowercase();
    let length = lower.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|n| n.trim().parse().ok());
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            reader.read_exact(&mut body).expect("read the body");
        }
        None if lower.contains("transfer-encoding: chunked") => loop {
            let mut size = String::new();
            reader.read_line(&mut size).expect("read a chunk size");
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).expect("read a chunk");
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        },
        None => {
            reader.read_to_end(&mut body).expect("read the body");
        }
    }
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// `audience studio CONFIG` running; killed when dropped.
pub struct StudioProcess {
    _child: Killed,
    /// The printed URL, token included.
    pub url: String,
    /// `127.0.0.1:PORT`
    pub addr: String,
    pub token: String,
}

impl StudioProcess {
    /// Starts the studio in the config's folder, naming the config by its file name (as the
    /// page then shows it).
    pub fn start(config: &Path) -> StudioProcess {
        let name = config.file_name().and_then(|n| n.to_str()).expect("a file name");
        let mut child = Killed(
            Command::new(env!("CARGO_BIN_EXE_audience"))
                .args(["studio", name, "--port", "0"])
                .current_dir(config.parent().expect("a folder"))
                .env_remove("ACME_TOKEN")
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("start audience studio"),
        );
        let mut line = String::new();
        BufReader::new(child.0.stdout.take().expect("stdout")).read_line(&mut line).expect("read the URL");
        let url =
            line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("no URL in {line:?}"));
        let rest = url.trim_start_matches("http://");
        let (addr, query) = rest.split_once('/').expect("a path");
        let token = query.trim_start_matches("?token=").to_owned();
        StudioProcess { _child: child, url: url.to_owned(), addr: addr.to_owned(), token }
    }
}

/// A child process killed when dropped, so that a test failing half way leaves none behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromedriver and one headless Chromium session; both end when dropped.
pub struct Browser {
    driver: Killed,
    addr: String,
    session: String,
    _profile: PathBuf,
    _one_at_a_time: MutexGuard<'static, ()>,
}

/// An element of the page, by its WebDriver reference.
#[derive(Clone, Debug)]
pub struct Element(String);

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()))
}

impl Browser {
    pub fn start(name: &str) -> Browser {
        let guard = ONE_BROWSER.lock().unwrap_or_else(|p| p.into_inner());
        let driver_bin = which(&["chromedriver"])
            .expect("chromedriver is not installed: `apt-get install chromium chromium-driver` (scripts/test does it)");
        let chromium = which(&["chromium", "chromium-browser", "google-chrome"]).expect("chromium is not installed");
        let port = free_port();
        let driver = Killed(
            Command::new(driver_bin)
                .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".to_owned()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if TcpStream::connect(&addr).is_ok()
                && http(&addr, "GET", "/status", &addr, None).1.contains("\"ready\":true")
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = temp_dir(&format!("chromium-{name}"));
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let mut browser = Browser { driver, addr, session: String::new(), _profile: profile, _one_at_a_time: guard };
        let created = browser.call(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"binary": chromium, "args": args}}}}),
        );
        browser.session = created["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_owned();
        browser
    }

    /// One WebDriver command; its `value`. A WebDriver error fails the test with its message.
    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let body = if method == "POST" { Some(&body) } else { None };
        let (status, text) = http(&self.addr, method, path, &self.addr, body);
        let answer: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"));
        assert!(status == 200, "{method} {path}: {status} {}", answer["value"]);
        answer["value"].clone()
    }

    fn session_call(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", json!({ "url": url }));
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub fn script(&self, script: &str, args: Value) -> Value {
        self.session_call("POST", "/execute/sync", json!({ "script": script, "args": args }))
    }

    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self.session_call("POST", "/elements", json!({"using": "css selector", "value": css}));
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT_KEY].as_str())
            .map(|id| Element(id.to_owned()))
            .collect()
    }

    /// The element matching `css`, once there is one.
    pub fn find(&self, css: &str) -> Element {
        self.wait_for(&format!("an element {css}"), || self.find_all(css).into_iter().next())
    }

    pub fn click(&self, element: &Element) {
        self.session_call("POST", &format!("/element/{}/click", element.0), json!({}));
    }

    /// Types `text` into `element` as a user would (key by key; `\n` is Enter).
    pub fn type_text(&self, element: &Element, text: &str) {
        self.session_call("POST", &format!("/element/{}/value", element.0), json!({ "text": text }));
    }

    /// Selects everything in `element` (Ctrl+A) and types `text` over it.
    pub fn replace_text(&self, element: &Element, text: &str) {
        self.type_text(element, &format!("\u{E009}a\u{E000}{text}"));
    }

    /// An attribute, or `None` when absent.
    pub fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        self.session_call("GET", &format!("/element/{}/attribute/{name}", element.0), json!({}))
            .as_str()
            .map(str::to_owned)
    }

    /// The text content of the first element matching `css`, exactly (no whitespace folded).
    pub fn text_of(&self, css: &str) -> String {
        self.script("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", json!([css]))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The value of the first form control matching `css`.
    pub fn value_of(&self, css: &str) -> String {
        self.script("const e = document.querySelector(arguments[0]); return e ? e.value : null;", json!([css]))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The `data-*` attributes of every element matching `css`, as JSON objects.
    pub fn datasets(&self, css: &str) -> Vec<Value> {
        let all = self.script(
            "return Array.from(document.querySelectorAll(arguments[0])).map(e => Object.assign({}, e.dataset));",
            json!([css]),
        );
        all.as_array().cloned().unwrap_or_default()
    }

    /// Polls `probe` until it gives something, failing after [`PATIENCE`] with `what`.
    pub fn wait_for<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(found) = probe() {
                return found;
            }
            assert!(Instant::now() < deadline, "waited in vain for {what}");
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// Sets the window's outer size, in CSS pixels.
    pub fn resize(&self, width: u32, height: u32) {
        self.session_call("POST", "/window/rect", json!({ "width": width, "height": height }));
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        let encoded = self.session_call("GET", "/screenshot", json!({}));
        decode_base64(encoded.as_str().unwrap_or_default())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(&self.addr, "DELETE", &format!("/session/{}", self.session), &self.addr, None);
        }
        // Then `driver` is dropped, which ends chromedriver.
    }
}

fn decode_base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for b in text.bytes() {
        let Some(v) = ALPHABET.iter().position(|&a| a == b) else { continue };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// Runs the `audience` binary; exit code, stdout, stderr.
pub fn audience(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(args)
        .env_remove("ACME_TOKEN")
        .output()
        .expect("run audience");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}
