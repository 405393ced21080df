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
        Client::spawn_with(&[])
    }

    /// Starts the server with environment variables `env` set, not yet initialized.
    fn spawn_with(env: &[(&str, &str)]) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_audience"))
            .arg("lsp")
            .envs(env.iter().copied())
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
        // The link: the line of the user docs that first names the code.
        let href = d[0]["codeDescription"]["href"].as_str().unwrap_or_else(|| panic!("{d:?}"));
        let (docs, line) = href.rsplit_once("#L").unwrap();
        assert!(docs.ends_with("/docs/templates.md"), "{href}");
        let templates = include_str!("../docs/templates.md");
        assert!(templates.lines().nth(line.parse::<usize>().unwrap() - 1).unwrap().contains("X0125"), "{href}");
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

/// A config whose templates are written inline: a basic string with escapes and an astral
/// character, and a multi-line literal string.
const INLINE: &str = r#"[destination]
name = "Acme ☃"
base_url = "https://api.example.com"
max_concurrenc = 4

[destination.actions.add]
path = "/m"
template = "{\"na\u00efve\": \"😀\", \"r\": [$$.records.{\"e\": $lowercase(email)}]}"

[destination.actions.update]
use_add = true

[destination.actions.remove]
method = "DELETE"
path = "/m"
template = '''
{
  "ü": [$$.records.{"e": email & "x"}]
}
'''

[destination.fields.email]
hash = "sha256"
"#;

#[test]
fn config_problems_at_their_keys_and_inside_toml_strings() {
    let dir = folder("inline");
    let file = uri(&dir.join("acme.toml"));
    // Line 7 (0-based): before `$lowercase`, `template = "{\"na\u00efve\": \"😀\", \"r\":
    // [$$.records.{\"e\": ` is 66 bytes, 64 UTF-16 units (the escapes count as written). Line
    // 17: before `email & "x"`, `  "ü": [$$.records.{"e": ` is 26 bytes, 25 units.
    for (offered, add, field) in [(&["utf-8"][..], 66, 26), (&["utf-16"][..], 64, 25)] {
        let (mut client, _) = Client::start(offered);
        client.open(&file, INLINE);
        let d = client.diagnostics(&file, Some(1));
        let shown = ranges(&d);
        assert!(shown.contains(&("C0101".to_owned(), [3, 0, 3, 14])), "{shown:?}");
        assert!(shown.contains(&("X0125".to_owned(), [7, add, 7, add + 11])), "{shown:?}");
        // The multi-line literal: line 17 of the file, the `&` after `email `.
        assert!(shown.contains(&("X0102".to_owned(), [17, field + 6, 17, field + 7])), "{shown:?}");
        // The missing sync has no place in the file: the start.
        assert!(shown.contains(&("C0511".to_owned(), [0, 0, 0, 0])), "{shown:?}");
        let x0125 = d.iter().find(|d| d["code"] == "X0125").unwrap();
        assert!(x0125["message"].as_str().unwrap().starts_with("add template: "), "{x0125}");
        let c0101 = d.iter().find(|d| d["code"] == "C0101").unwrap();
        assert!(c0101["codeDescription"]["href"].as_str().unwrap().contains("/docs/config.md#L"), "{c0101}");
        assert!(c0101["message"].as_str().unwrap().contains("did you mean `max_concurrency`?"), "{c0101}");

        // The quick fix: the one key one edit away.
        let actions = client.request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": file}, "range": range(3, 2, 3, 2), "context": {"diagnostics": []}}),
        );
        let fixes = actions["result"].as_array().unwrap();
        assert_eq!(fixes.len(), 1, "{actions}");
        assert_eq!(fixes[0]["kind"], "quickfix");
        assert_eq!(
            fixes[0]["edit"]["changes"][&file],
            json!([{"range": range(3, 0, 3, 14), "newText": "max_concurrency"}])
        );
        // Nowhere near a misspelt key: nothing.
        let none = client.request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": file}, "range": range(0, 0, 0, 1), "context": {"diagnostics": []}}),
        );
        assert_eq!(none["result"], json!([]), "{none}");

        // Hover on the field inside the multi-line template, and go to its settings' table.
        let hover = client.request("textDocument/hover", position(&file, 17, field + 1));
        let text = hover["result"]["contents"]["value"].as_str().unwrap_or_default();
        assert!(text.contains("template field `email`") && text.contains("hash: sha256"), "{hover}");
        // Fields are read from templates that keep to the subset; both have errors here.
        assert!(text.contains("read by: no template that checks clean") && text.contains("no sync yet"), "{hover}");
        assert_eq!(hover["result"]["range"], range(17, field, 17, field + 5));
        let definition = client.request("textDocument/definition", position(&file, 17, field + 2));
        assert_eq!(definition["result"], json!({"uri": file, "range": range(21, 20, 21, 25)}), "{definition}");

        // Edit: fix the key; its problem goes, the others stay where they were.
        client.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": file, "version": 2}, "contentChanges": [{"range": range(3, 14, 3, 14), "text": "y"}]}),
        );
        let shown = ranges(&client.diagnostics(&file, Some(2)));
        assert!(!shown.iter().any(|(code, _)| code == "C0101"), "{shown:?}");
        assert!(shown.contains(&("X0125".to_owned(), [7, add, 7, add + 11])), "{shown:?}");
        assert_eq!(client.finish(), 0);
    }
}

const WITH_FILE: &str = r#"[destination]
name = "Acme"
base_url = "https://api.example.com"

[destination.actions.add]
path = "/m"
template_file = "add.jsonata"

[destination.actions.update]
use_add = true

[destination.actions.remove]
method = "DELETE"
path = "/m"
template = '''{"m": [$$.records.{"e": email}]}'''

[destination.fields.email]
normalize = "email"
hash = "sha256"

[syncs.weekly]
audience_name = "Weekly"
audience_id = "42"
source = "sqlite://w.db"
table = "users"
primary_key = "id"
map = { email = "email_address",  }
"#;

const ADD: &str = "{\"members\": [$$.records.{\"email\": email, \"zip\": zip}]}\n";

fn labels(response: &Value) -> Vec<String> {
    let items = response["result"].as_array().unwrap_or_else(|| panic!("{response}"));
    items.iter().map(|i| i["label"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn template_files_open_buffers_and_the_nearest_config() {
    let dir = folder("files");
    std::fs::write(dir.join("audience.toml"), WITH_FILE).unwrap();
    std::fs::write(dir.join("add.jsonata"), ADD).unwrap();
    let config = uri(&dir.join("audience.toml"));
    let add = uri(&dir.join("add.jsonata"));
    let (mut client, _) = Client::start(&["utf-8"]);
    client.open(&config, WITH_FILE);
    let clean = client.diagnostics(&config, Some(1));
    assert!(clean.iter().all(|d| d["severity"] == 2), "the file on disk is read: {clean:?}");

    // The template file opened with an edit not saved: the open buffer wins, and its problem
    // shows in the config at `template_file`'s value.
    let edited = "{\"members\": [$$.records.{\"email\": $string(email)}]}\n";
    client.open(&add, edited);
    assert_eq!(ranges(&client.diagnostics(&add, Some(1))), [("X0125".to_owned(), [0, 34, 0, 42])]);
    let shown = ranges(&client.next_diagnostics(&config, Some(1)));
    assert!(shown.contains(&("X0125".to_owned(), [6, 16, 6, 29])), "{shown:?}");
    // Closed unsaved: the file on disk counts again.
    client.notify("textDocument/didClose", json!({"textDocument": {"uri": add}}));
    assert_eq!(client.diagnostics(&add, None), Vec::<Value>::new());
    let shown = ranges(&client.next_diagnostics(&config, Some(1)));
    assert!(!shown.iter().any(|(code, _)| code.starts_with('X')), "{shown:?}");

    // Completion in a template: the inputs after `$`, the config's fields after a name starts.
    client.open(&add, "{\"members\": [$$.records.{\"email\": em, \"n\": $}]}\n");
    let at_name = labels(&client.request("textDocument/completion", position(&add, 0, 36)));
    // The buffer, not the file on disk, is what the config reads: `zip` is not read yet.
    assert_eq!(at_name, ["email"]);
    let at_dollar = labels(&client.request("textDocument/completion", position(&add, 0, 44)));
    assert_eq!(at_dollar, ["$$.records", "$$.connection.audienceId", "$$.connection.audienceName", "$number"]);
    let replaced = client.request("textDocument/completion", position(&add, 0, 36));
    assert_eq!(replaced["result"][0]["textEdit"]["range"], range(0, 34, 0, 36));

    // Hover and definition from the template file, with the saved text.
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": add, "version": 2}, "contentChanges": [{"text": ADD}]}),
    );
    assert_eq!(client.diagnostics(&add, Some(2)), Vec::<Value>::new());
    let hover = client.request("textDocument/hover", position(&add, 0, 36));
    let text = hover["result"]["contents"]["value"].as_str().unwrap_or_default();
    assert!(text.contains("normalize: email") && text.contains("read by: add, update, remove"), "{hover}");
    assert!(text.contains("sync `weekly`: map: column `email_address`"), "{hover}");
    let zip = client.request("textDocument/hover", position(&add, 0, 49));
    let text = zip["result"]["contents"]["value"].as_str().unwrap_or_default();
    assert!(text.contains("read by: add, update\n") && text.contains("sync `weekly`: not mapped"), "{zip}");
    let records = client.request("textDocument/hover", position(&add, 0, 18));
    assert!(records["result"]["contents"]["value"].as_str().unwrap().starts_with("`$$.records`"), "{records}");
    let definition = client.request("textDocument/definition", position(&add, 0, 35));
    assert_eq!(definition["result"], json!({"uri": config, "range": range(16, 20, 16, 25)}), "{definition}");
    // `zip` has no settings table: nowhere to go.
    assert_eq!(client.request("textDocument/definition", position(&add, 0, 49))["result"], Value::Null);

    // Completion in the config: keys of a sync, values of a setting, field names in `map`
    // and after `[destination.fields.`.
    let sync_keys = labels(&client.request("textDocument/completion", position(&config, 21, 0)));
    assert!(
        sync_keys.contains(&"audience_id".to_owned()) && sync_keys.contains(&"hash_pii".to_owned()),
        "{sync_keys:?}"
    );
    let normalize = labels(&client.request("textDocument/completion", position(&config, 17, 12)));
    assert!(normalize.contains(&"\"phone_e164\"".to_owned()), "{normalize:?}");
    let map = labels(&client.request("textDocument/completion", position(&config, 26, 33)));
    assert_eq!(map, ["email", "zip"]);
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": config, "version": 2}, "contentChanges": [{"range": range(19, 0, 19, 0), "text": "[destination.fields.\n"}]}),
    );
    let header = labels(&client.request("textDocument/completion", position(&config, 19, 20)));
    assert_eq!(header, ["email", "zip"]);
    assert_eq!(client.finish(), 0);
}

#[test]
fn malformed_messages_are_answered_with_errors_and_the_server_goes_on() {
    let mut client = Client::spawn();
    let early = client.request("textDocument/hover", position("file:///a.jsonata", 0, 0));
    assert_eq!(early["error"]["code"], -32002, "{early}");
    let init = client.request("initialize", json!({"capabilities": {}}));
    assert!(init["result"]["capabilities"]["hoverProvider"] == true, "{init}");
    client.raw(b"{not json");
    let parse_error = client.response(Value::Null);
    assert_eq!(parse_error["error"]["code"], -32700, "{parse_error}");
    let unknown = client.request("textDocument/rename", json!({}));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    let bad_params = client.request("textDocument/hover", json!({"textDocument": 7}));
    assert_eq!(bad_params["error"]["code"], -32602, "{bad_params}");
    let no_method = {
        client.send(&json!({"jsonrpc": "2.0", "id": 99}));
        client.response(json!(99))
    };
    assert_eq!(no_method["error"]["code"], -32600, "{no_method}");
    // A change to a buffer never opened, and a position far past the end: no crash.
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": "file:///nowhere.jsonata", "version": 2}, "contentChanges": [{"text": "x"}]}),
    );
    client.open("file:///tmp/far.jsonata", "é");
    let far = client.request("textDocument/completion", position("file:///tmp/far.jsonata", 40, 900));
    assert!(far["result"].is_array(), "{far}");
    assert_eq!(client.finish(), 0);
}

#[test]
fn exit_without_shutdown_is_a_failure_status() {
    let (mut client, _) = Client::start(&[]);
    client.notify("exit", Value::Null);
    assert_eq!(client.child.wait().unwrap().code(), Some(1));
}

#[test]
fn secrets_never_reach_the_editor() {
    let dir = folder("secrets");
    let file = uri(&dir.join("audience.toml"));
    let config = r#"[destination]
name = "Acme"
base_url = "${LSP_BASE}"
headers = { "X-Key" = { value = "literal-canary-0042", secret = true } }

[destination.auth]
type = "bearer"
token = "${LSP_TOKEN}"

[destination.actions.add]
path = "/m"
template = '{"m": [$$.records.{"e": email}]}'

[destination.actions.update]
use_add = true

[destination.actions.remove]
path = "/m/literal-canary-0042"
template = '{"m": [$$.records.{"e": email}]}'
"#;
    let mut client =
        Client::spawn_with(&[("LSP_BASE", "ftp://env-canary-0042.example"), ("LSP_TOKEN", "env-canary-0042")]);
    client.request("initialize", json!({"capabilities": {}}));
    client.open(&file, config);
    let d = client.diagnostics(&file, Some(1));
    // The base URL's problem is shown, at its value, without the value.
    let base = d.iter().find(|d| d["range"]["start"]["line"] == 2).unwrap_or_else(|| panic!("{d:?}"));
    let mut seen = serde_json::to_string(&d).unwrap();
    for (line, character) in [(2, 13), (3, 40), (7, 10), (18, 10)] {
        seen.push_str(&client.request("textDocument/hover", position(&file, line, character)).to_string());
        seen.push_str(&client.request("textDocument/completion", position(&file, line, character)).to_string());
    }
    assert!(!seen.contains("canary-0042"), "a secret reached the editor: {seen}");
    assert_eq!(ranges(std::slice::from_ref(base)), [("C0301".to_owned(), [2, 11, 2, 24])]);
    assert_eq!(client.finish(), 0);
}
