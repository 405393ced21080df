//! The command line as users and scripts see it: exit codes, stdout and stderr, JSON shapes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn audience(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // A command that fails before it reads its input (a template outside the subset) may exit
    // before the write: the pipe is then closed, and what it printed is what is checked.
    match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("audience-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn render_prints_compact_json_and_a_newline() {
    let o = audience(&["render", "-e", r#"{"a": $$.x, "b": [1, 2.50, "é"]}"#], r#"{"x": 1e21}"#);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "{\"a\":1e+21,\"b\":[1,2.5,\"é\"]}\n");
}

#[test]
fn render_prints_nothing_for_undefined_and_for_empty_input() {
    let o = audience(&["render", "-e", "$$.missing"], r#"{"x": 1}"#);
    assert_eq!((o.status.code(), stdout(&o)), (Some(0), String::new()));
    let o = audience(&["render", "-e", "$$"], "  \n");
    assert_eq!((o.status.code(), stdout(&o)), (Some(0), String::new()));
    let o = audience(&["render", "-e", "[$$]"], "");
    assert_eq!((o.status.code(), stdout(&o)), (Some(0), "[]\n".to_string()));
}

#[test]
fn render_reads_a_template_file_and_an_input_file() {
    let t = temp_file("t.jsonata", "{\"n\": $number($$.s)}");
    let i = temp_file("i.json", r#"{"s": "0x1F"}"#);
    let o = audience(&["render", t.to_str().unwrap(), "--input", i.to_str().unwrap()], "");
    assert_eq!(stdout(&o), "{\"n\":31}\n");
}

/// An input file is mapped into memory rather than read: whatever it holds renders, or fails,
/// exactly as the same bytes on stdin do, and what cannot be mapped is read as before.
#[test]
fn render_reads_an_input_file_as_it_reads_stdin() {
    let records: Vec<String> =
        (0..300).map(|i| format!("{{\"email\":\"e{i}@x.com\",\"n\":{i},\"k\\u0065y\":\"\\u00e9{i}\"}}")).collect();
    let doc =
        |records: &[String]| format!("{{\"records\":[{}],\"connection\":{{\"id\":\"7\"}}}}\n", records.join(",\n"));
    let mut broken = records.clone();
    broken[250] = "{\"email\": tru}".to_string();
    // A file whose last byte ends a page: the reader must stop at the end of the mapping.
    let page = format!("[\"{}\"]", "a".repeat(4096 - 4));
    assert_eq!(page.len(), 4096);
    let template = "[$$.records.{\"e\": email, \"n\": n, \"key\": key, \"c\": $$.connection.id}]";
    for (name, input) in [
        ("records.json", doc(&records)),
        ("broken.json", doc(&broken)),
        ("page.json", page),
        ("empty.json", String::new()),
        ("blank.json", " \n".to_string()),
    ] {
        let path = temp_file(name, &input);
        for format in ["human", "json"] {
            let args = ["render", "-e", template, "--format", format];
            let from_stdin = audience(&args, &input);
            let from_file = audience(&[&args[..], &["--input", path.to_str().unwrap()]].concat(), "");
            assert_eq!(from_file.status.code(), from_stdin.status.code(), "{name}");
            assert_eq!(stdout(&from_file), stdout(&from_stdin), "{name}");
            assert_eq!(from_file.stderr, from_stdin.stderr, "{name}");
        }
    }
    let o =
        audience(&["render", "-e", "$$", "--input", temp_file("records.json", &doc(&records)).to_str().unwrap()], "");
    assert!(stdout(&o).starts_with("{\"records\":[{\"email\":\"e0@x.com\",\"n\":0,\"key\":\"é0\"}"), "{}", stdout(&o));
    let o =
        audience(&["render", "-e", template, "--input", temp_file("broken.json", &doc(&broken)).to_str().unwrap()], "");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: the input is not JSON: expected ident at line 251 column 14\n"
    );
    // Not UTF-8, a directory, a missing file: read, and refused, as before.
    let latin1 = temp_file("latin1.json", "");
    std::fs::write(&latin1, b"[\"caf\xe9\"]").unwrap();
    let dir = latin1.parent().unwrap().to_path_buf();
    let missing = dir.join("missing.json");
    for (path, why) in [
        (&latin1, "stream did not contain valid UTF-8"),
        (&dir, "Is a directory (os error 21)"),
        (&missing, "No such file or directory (os error 2)"),
    ] {
        let o = audience(&["render", "-e", "$$", "--input", path.to_str().unwrap()], "");
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(String::from_utf8_lossy(&o.stderr), format!("error: cannot read {}: {why}\n", path.display()));
    }
}

#[test]
fn render_runtime_error_in_json_has_a_position() {
    let o = audience(&["render", "-e", "{\n  \"n\": $number($$.s)\n}", "--format", "json"], r#"{"s": "abc"}"#);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["code"], "D3030");
    assert_eq!(v["line"], 2);
    assert_eq!(v["column"], 8);
    assert!(v["message"].as_str().unwrap().contains("abc"));
}

#[test]
fn render_rejects_input_that_is_not_json_with_its_line_and_column() {
    let o = audience(&["render", "-e", "$$", "--format", "json"], "{\n  \"a\": tru\n}");
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["line"], 2);
    assert!(v["message"].as_str().unwrap().contains("not JSON"));
}

#[test]
fn render_reads_the_input_as_json_parse_does() {
    let cases = [
        // A repeated key: its last value, in its first position.
        (r#"{"a": 1, "b": 2, "a": {"x": [3]}}"#, "{\"a\":{\"x\":[3]},\"b\":2}\n"),
        // Array-index keys first, as JavaScript enumerates them.
        (r#"{"b": 1, "2": 2, "1": 3}"#, "{\"1\":3,\"2\":2,\"b\":1}\n"),
        // Integer tokens keep every digit up to 64 bits; the rest is a double.
        (
            "[9223372036854775807, 18446744073709551615, 18446744073709551616, -9223372036854775808, -0, -0.0, 1e-400, 0.1, 1.50, 5e-324, 1e21]",
            "[9223372036854775807,18446744073709551615,18446744073709552000,-9223372036854775808,0,0,0,0.1,1.5,5e-324,1e+21]\n",
        ),
        // Escapes and a surrogate pair; controls written back as JSON.stringify does.
        (r#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\u0001\u2028""#, "\"a\\\"\\\\/\\b\\f\\n\\r\\té😀\\u0001\u{2028}\"\n"),
    ];
    for (input, expected) in cases {
        let o = audience(&["render", "-e", "$$"], input);
        assert_eq!((o.status.code(), stdout(&o)), (Some(0), expected.to_string()), "{input}");
    }
    // Records read by the block writer: duplicate keys, a missing field, a non-object item.
    let o = audience(
        &["render", "-e", "[$$.records.{\"e\": email, \"n\": n}]"],
        r#"{"records": [{"email": "x", "n": 1, "email": "y"}, {"n": [2]}, 7, {"email": null}]}"#,
    );
    assert_eq!(stdout(&o), "[{\"e\":\"y\",\"n\":1},{\"n\":[2]},{},{\"e\":null}]\n");
    // Nesting the fast reader leaves to serde_json (up to its limit of 128) still renders.
    let deep = format!("{}{}", "[".repeat(120), "]".repeat(120));
    let o = audience(&["render", "-e", "$$"], &deep);
    assert_eq!((o.status.code(), stdout(&o)), (Some(0), format!("{deep}\n")));
}

#[test]
fn render_rejects_bad_input_with_its_line_and_column() {
    let cases = [
        ("{\"a\": [1,\n 1e400]}", 2, 6, "number out of range"),
        // A lone surrogate: serde_json looks for the low half's escape.
        ("[\"\\ud800\"]", 1, 9, "hex escape"),
        ("{\"a\": 1,}", 1, 9, "trailing comma"),
        ("[01]", 1, 3, "invalid number"),
    ];
    for (input, line, column, what) in cases {
        let o = audience(&["render", "-e", "$$", "--format", "json"], input);
        assert_eq!(o.status.code(), Some(1), "{input}");
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!((v["line"].as_u64(), v["column"].as_u64()), (Some(line), Some(column)), "{input}: {v}");
        let message = v["message"].as_str().unwrap();
        assert!(message.contains("not JSON") && message.contains(what), "{input}: {message}");
    }
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let o = audience(&["render", "-e", "$$", "--format", "json"], &deep);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("recursion limit"), "{}", stdout(&o));
}

#[test]
fn render_rejects_what_is_outside_the_subset() {
    let o = audience(&["render", "-e", "a & b"], "{}");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("X0102"), "{err}");
}

#[test]
fn check_reports_every_error_and_exits_1() {
    let t = temp_file("bad.jsonata", "{\n  \"a\": x & y,\n  \"b\": $string(z)\n}");
    let o = audience(&["check", t.to_str().unwrap(), "--format", "json"], "");
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["valid"], false);
    let codes: Vec<&str> = v["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"X0102") && codes.contains(&"X0125"), "{codes:?}");
    for d in v["diagnostics"].as_array().unwrap() {
        for key in ["code", "message", "severity", "action", "key", "line", "column", "start", "end", "hint"] {
            assert!(d.get(key).is_some(), "{key} missing in {d}");
        }
    }
}

/// The keys of a diagnostic, in order, as every command prints one.
const DIAGNOSTIC_KEYS: [&str; 12] = [
    "code",
    "message",
    "severity",
    "action",
    "key",
    "line",
    "column",
    "start",
    "end",
    "hint",
    "file_line",
    "file_column",
];

fn keys(v: &serde_json::Value) -> Vec<String> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect()
}

#[test]
fn every_command_prints_a_diagnostic_in_one_shape() {
    let mut shapes = Vec::new();
    // render: an error in the expression, when evaluating, and in the input
    for (expr, input) in [("a & b", "{}"), ("$number($$)", "\"x\""), ("$$", "{")] {
        let o = audience(&["render", "-e", expr, "--format", "json"], input);
        assert_eq!(o.status.code(), Some(1), "{expr}");
        shapes.push((format!("render {expr}"), keys(&serde_json::from_str(&stdout(&o)).unwrap())));
    }
    // check: a template, and a config with a problem in a template and one in a key
    let t = temp_file("shape.jsonata", "{\"a\": x & y}");
    let config = temp_file(
        "shape.toml",
        "[destination]\nbase_url = \"http://127.0.0.1:1\"\nretries = 3\n[destination.actions.add]\n\
         method = \"POST\"\npath = \"/a\"\ntemplate = \"{\\\"a\\\": x & y}\"\n",
    );
    for path in [&t, &config] {
        let o = audience(&["check", path.to_str().unwrap(), "--format", "json"], "");
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        for d in v["diagnostics"].as_array().unwrap() {
            shapes.push((format!("check {} {}", path.display(), d["code"]), keys(d)));
        }
    }
    assert!(shapes.len() >= 6, "{shapes:?}");
    for (what, keys) in &shapes {
        assert_eq!(keys, &DIAGNOSTIC_KEYS, "{what}");
    }
}

#[test]
fn check_lists_the_fields_of_a_valid_template() {
    let t = temp_file(
        "ok.jsonata",
        r#"{"audienceId": $$.connection.audienceId, "users": [$$.records.{"email": email, "id": user_id, "e2": email}]}"#,
    );
    let o = audience(&["check", t.to_str().unwrap(), "--format", "json"], "");
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["fields"], serde_json::json!(["email", "user_id"]));
    let o = audience(&["check", t.to_str().unwrap()], "");
    assert!(stdout(&o).contains("email, user_id"), "{}", stdout(&o));
}

#[test]
fn usage_errors_exit_2() {
    let o = audience(&["render", "--no-such-flag"], "");
    assert_eq!(o.status.code(), Some(2));
    let o = audience(&["frobnicate"], "");
    assert_eq!(o.status.code(), Some(2));
}

// `audience demo` (two real syncs against its local API) is tested in tests/demo.rs.

#[test]
fn a_closed_stdout_ends_the_process_quietly() {
    // Like `audience ... | head -c 1`: the reader goes away while output is still written
    // (here a long disassembly, written with `print!`).
    let expr = format!("[{}]", vec!["a"; 20_000].join(","));
    let mut child = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(["render", "--disassemble", "-e", &expr])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101));
}

/// An HTTP server on 127.0.0.1 that answers every request with `401 Unauthorized`.
fn unauthorized_api() -> u16 {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // Read the head and the body it announces, then answer.
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got);
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if got.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 12\r\nconnection: close\r\n\r\nbad token!!\n",
            );
        }
    });
    port
}

#[test]
fn sync_prints_delivery_warnings_as_json_lines() {
    let port = unauthorized_api();
    let dir = std::env::temp_dir().join(format!("audience-cli-{}-warn", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("warehouse.db");
    let _ = std::fs::remove_file(&db);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT); INSERT INTO users VALUES (1, 'a@example.com');",
    )
    .unwrap();
    drop(conn);
    let config = dir.join("audience.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[destination]
name = "Warnings"
base_url = "http://127.0.0.1:{port}"
[destination.actions.add]
path = "/members"
template = '{{ "users": [$$.records.{{ "email": email }}] }}'
[destination.actions.update]
use_add = true
[destination.actions.remove]
method = "DELETE"
path = "/members"
template = '{{ "users": [$$.records.{{ "email": email }}] }}'

[syncs.main]
audience_name = "Test"
audience_id = "a1"
source = "sqlite://{}"
table = "users"
primary_key = "id"
map = {{ email = "email" }}
"#,
            db.display()
        ),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(["sync", config.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .env_remove("AUDIENCE_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let warning = stderr.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).find(|l| {
        l["level"] == "warning"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.contains("the API answered HTTP 401 Unauthorized: the run stops"))
    });
    assert!(warning.is_some(), "no warning line for the 401 in:\n{stderr}");
}
