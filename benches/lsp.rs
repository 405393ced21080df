//! The language server's own time per edit of a 200-line config: one incremental
//! `textDocument/didChange` applied, and the diagnostics the debounce then publishes (the whole
//! config checked as `audience check` does, every problem placed in the file and the
//! notification written), driven in process through `audience::lsp::Server` with the same
//! framed JSON an editor sends. Also a completion and a hover in the same buffer.

use std::hint::black_box;
use std::time::Duration;

use audience::destination::EnvMode;
use audience::lsp::Server;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

const HEAD: &str = r#"# A config as a team keeps it: one destination, many syncs.
[destination]
name = "Acme audiences"
base_url = "https://api.acme.example/v2"
headers = { "X-API-Version" = "2" }
timeout = "30s"
max_concurrency = 4

[destination.auth]
type = "bearer"
token = "${ACME_TOKEN}"

[destination.actions.add]
path = "/audiences/{{connection.audienceId}}/members"
batch_size = 1000
template = '''
{
  "audienceId": $$.connection.audienceId,
  "audienceName": $$.connection.audienceName,
  "members": [$$.records.{
    "email_sha256": email,
    "phone_sha256": phone,
    "firstName": first_name,
    "userId": user_id
  }]
}
'''

[destination.actions.update]
use_add = true

[destination.actions.remove]
method = "DELETE"
path = "/audiences/{{connection.audienceId}}/members"
template = '''
{"audienceId": $$.connection.audienceId, "members": [$$.records.{"email_sha256": email}]}
'''

[destination.fields.email]
required = true
hash = "sha256"
normalize = "email"

[destination.fields.phone]
hash = "sha256"
normalize = "phone_e164"
"#;

/// The config: the head and enough syncs to make 200 lines.
fn config() -> String {
    let mut text = HEAD.to_owned();
    let mut i = 0;
    while text.lines().count() < 200 {
        text.push_str(&format!(
            "\n# Segment {i}.\n[syncs.segment_{i}]\naudience_name = \"Segment {i}\"\naudience_id = \"{}\"\n\
             source = \"sqlite://warehouse.db\"\nquery = \"SELECT id, email, phone, first_name FROM users WHERE segment = {i}\"\n\
             primary_key = \"id\"\nschedule = {{ every = \"1h\" }}\nmap = {{ email = \"email\", phone = \"phone\", first_name = \"first_name\", user_id = \"id\" }}\n",
            1000 + i
        ));
        i += 1;
    }
    text
}

fn message(value: serde_json::Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

fn per_change(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("audience-bench-lsp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let uri = format!("file://{}/acme.toml", dir.display());
    let text = config();
    assert!(text.lines().count() >= 200);
    let mut server = Server::new(std::io::sink());
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}});
    server.handle(&message(init)).expect("initialize");
    let open = json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
        "params": {"textDocument": {"uri": uri, "languageId": "toml", "version": 1, "text": &text}}});
    server.handle(&message(open)).expect("open");
    server.publish_dirty().expect("publish");
    let diagnostics = server.diagnostics(&uri.parse().expect("a URI"));
    // Only the unset token's warning: the config is otherwise clean.
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");

    // Line 22 is `    "firstName": first_name,`: a character typed after the field, then taken back.
    let edit = |version: i64, range: serde_json::Value, text: &str| {
        message(json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": range, "text": text}]}}))
    };
    let at = |c: u32| json!({"line": 22, "character": c});
    let insert = edit(2, json!({"start": at(27), "end": at(27)}), "s");
    let remove = edit(3, json!({"start": at(27), "end": at(28)}), "");

    let mut group = c.benchmark_group("lsp");
    // For scale: `audience check` of the same text, what each publication starts with.
    let lookup = |_: &str| None;
    group.bench_function("check_text_alone_200_lines", |b| {
        b.iter(|| audience::destination::check_text(black_box(&text), "acme.toml", &dir, &lookup, EnvMode::Warn))
    });
    group.bench_function("change_and_publish_200_lines", |b| {
        let mut typed = false;
        b.iter(|| {
            server.handle(black_box(if typed { &remove } else { &insert })).expect("change");
            server.publish_dirty().expect("publish");
            typed = !typed;
        })
    });
    let completion = message(json!({"jsonrpc": "2.0", "id": 2, "method": "textDocument/completion",
        "params": {"textDocument": {"uri": uri}, "position": {"line": 22, "character": 24}}}));
    group.bench_function("completion_200_lines", |b| b.iter(|| server.handle(black_box(&completion)).expect("answer")));
    let hover = message(json!({"jsonrpc": "2.0", "id": 3, "method": "textDocument/hover",
        "params": {"textDocument": {"uri": uri}, "position": {"line": 22, "character": 22}}}));
    group.bench_function("hover_200_lines", |b| b.iter(|| server.handle(black_box(&hover)).expect("answer")));
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = per_change
}
criterion_main!(benches);
