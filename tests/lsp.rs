//! `audience lsp` driven as an editor drives it: the real binary over stdio, real JSON-RPC
//! with Content-Length framing, buffers opened, edited incrementally and closed.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::{Value, json};

/// The longest wait for a message the server owes (a failure, never a timing assertion).
const PATIENCE: Duration = Duration::from_secs(20);

struct Client {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    next_id: i64,
    /// Notifications read while waiting for something else.
    pending: Vec<Value>,
}

impl Client {
    /// Starts the server and initializes it with the position encodings `offered` (none: the
    /// client says nothing, so UTF-16).
    fn start(offered: &[&str]) -> (Client, Value) {
        let mut client = Client::spawn();
        let capabilities =
            if offered.is_empty() { json!({}) } else { json!({"general": {"positionEncodings": offered}}) };
        let init =
            client.request("initialize", json!({"processId": null, "rootUri": null, "capabilities": capabilities}));
        client.notify("initialized", json!({}));
        (client, init["result"].clone())
    }

    /// Starts the server, not yet initialized.
    fn spawn() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_audience"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("audience lsp starts");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = Some(n.parse::<usize>().expect("a numeric Content-Length"));
                    }
                }
                let mut body = vec![0; length.expect("every message has a Content-Length")];
                stdout.read_exact(&mut body).expect("the whole body");
                if tx.send(serde_json::from_slice(&body).expect("the server writes JSON")).is_err() {
                    return;
                }
            }
        });
        Client { child, stdin, rx, next_id: 0, pending: Vec::new() }
    }

    fn raw(&mut self, body: &[u8]) {
        write!(self.stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        self.stdin.write_all(body).unwrap();
        self.stdin.flush().unwrap();
    }

    fn send(&mut self, message: &Value) {
        self.raw(message.to_string().as_bytes());
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and waits for its response (the whole message).
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.response(json!(id))
    }

    fn response(&mut self, id: Value) -> Value {
        loop {
            let message = self.rx.recv_timeout(PATIENCE).expect("the server answers");
            if message.get("id") == Some(&id) && message.get("method").is_none() {
                return message;
            }
            self.pending.push(message);
        }
    }

    /// The diagnostics published for `uri` at `version` (`None`: on close).
    fn diagnostics(&mut self, uri: &str, version: Option<i64>) -> Vec<Value> {
        let wanted = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == uri
                && m["params"]["version"].as_i64() == version
        };
        if let Some(i) = self.pending.iter().rposition(wanted) {
            let found = self.pending.remove(i);
            self.pending.retain(|m| !wanted(m));
            return found["params"]["diagnostics"].as_array().unwrap().clone();
        }
        loop {
            let message = self.rx.recv_timeout(PATIENCE).expect("diagnostics are published");
            if wanted(&message) {
                return message["params"]["diagnostics"].as_array().unwrap().clone();
            }
            self.pending.push(message);
        }
    }

    fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "", "version": 1, "text": text}}),
        );
    }

    /// The next diagnostics published for `uri` after those already read.
    fn next_diagnostics(&mut self, uri: &str, version: Option<i64>) -> Vec<Value> {
        self.pending.retain(|m| m["params"]["uri"] != uri);
        self.diagnostics(uri, version)
    }

    /// Shuts down and exits; the exit status.
    fn finish(mut self) -> i32 {
        let shutdown = self.request("shutdown", Value::Null);
        assert_eq!(shutdown["result"], Value::Null, "{shutdown}");
        self.notify("exit", Value::Null);
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("audience-lsp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// `(code, [start line, start character, end line, end character])` of each diagnostic.
fn ranges(diagnostics: &[Value]) -> Vec<(String, [u64; 4])> {
    diagnostics
        .iter()
        .map(|d| {
            let r = &d["range"];
            let n = |v: &Value| v.as_u64().unwrap();
            (
                d["code"].as_str().unwrap().to_owned(),
                [n(&r["start"]["line"]), n(&r["start"]["character"]), n(&r["end"]["line"]), n(&r["end"]["character"])],
            )
        })
        .collect()
}

fn range(l1: u64, c1: u64, l2: u64, c2: u64) -> Value {
    json!({"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}})
}

fn position(uri: &str, line: u64, character: u64) -> Value {
    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
}

#[test]
fn template_diagnostics_at_exact_ranges_in_either_encoding() {
    let dir = folder("encodings");
    let file = uri(&dir.join("body.jsonata"));
    // Before `$foo` on line 1: `  "é😀": [$$.records.{"e": ` is 30 bytes of UTF-8, 27 units
    // of UTF-16.
    let text = "{\n  \"é😀\": [$$.records.{\"e\": $foo(email)}]\n}\n";
    for (offered, start) in [(&["utf-8", "utf-16"][..], 30), (&[][..], 27), (&["utf-16"][..], 27)] {
        let (mut client, init) = Client::start(offered);
        let negotiated = if start == 30 { "utf-8" } else { "utf-16" };
        assert_eq!(init["capabilities"]["positionEncoding"], negotiated, "{init}");
        client.open(&file, text);
        let d = client.diagnostics(&file, Some(1));
        assert_eq!(ranges(&d), [("X0125".to_owned(), [1, start, 1, start + 5])], "{d:?}");
        assert_eq!(d[0]["severity"], 1);
        assert_eq!(d[0]["source"], "audience");
        assert!(d[0]["message"].as_str().unwrap().contains("`$foo`"), "{d:?}");
        assert!(d[0]["message"].as_str().unwrap().contains("\nhint: "), "{d:?}");
        // Incremental: `foo` becomes `number` (the range in the negotiated units), then an `&`
        // is typed after the astral character's line.
        let change = |version: i64, edit: Value| json!({"textDocument": {"uri": file, "version": version}, "contentChanges": [edit]});
        client.notify(
            "textDocument/didChange",
            change(2, json!({"range": range(1, start + 1, 1, start + 4), "text": "number"})),
        );
        assert_eq!(client.diagnostics(&file, Some(2)), Vec::<Value>::new());
        client.notify(
            "textDocument/didChange",
            change(3, json!({"range": range(1, start + 14, 1, start + 14), "text": " & \"ü\""})),
        );
        let d = client.diagnostics(&file, Some(3));
        assert_eq!(ranges(&d)[0].0, "X0102", "{d:?}");
        // The `&`, one character after `$number(email)`.
        assert_eq!(ranges(&d)[0].1, [1, start + 15, 1, start + 16], "{d:?}");
        client.notify("textDocument/didClose", json!({"textDocument": {"uri": file}}));
        assert_eq!(client.diagnostics(&file, None), Vec::<Value>::new());
        assert_eq!(client.finish(), 0);
    }
}
