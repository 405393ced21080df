//! The studio's round trip per keystroke: `Workspace::analyse` of a config with an edited
//! template (the draft spliced into the file with toml_edit, the whole config checked, the
//! fields listed, and the request previewed for two sample records), and the same with an
//! error in the template (checked, no preview). This is the work `/api/analyse` does.

use std::hint::black_box;
use std::time::Duration;

use audience::authoring::{Draft, PreviewRequest, Workspace};
use audience::destination::EnvMode;
use criterion::{Criterion, criterion_group, criterion_main};

const CONFIG: &str = r#"# A config as an author keeps it.
[destination]
name = "Acme audiences"
base_url = "https://api.acme.example/v2"
headers = { "X-API-Version" = "2" }

[destination.auth]
type = "bearer"
token = "${ACME_TOKEN}"

[destination.actions.add]
path = "/audiences/{{connection.audienceId}}/members"
batch_size = 1000
template = '''
{"members": [$$.records.{"email": email}]}
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

[syncs.high_value]
audience_name = "High value users"
audience_id = "1234567890"
source = "sqlite://warehouse.db"
query = "SELECT id, email, phone, first_name FROM users WHERE ltv > 100"
primary_key = "id"
map = { email = "email", phone = "phone", first_name = "first_name", user_id = "id" }
"#;

const TYPED: &str = r#"{
  "audienceId": $$.connection.audienceId,
  "audienceName": $$.connection.audienceName,
  "members": [$$.records.{
    "email_sha256": email,
    "phone_sha256": phone,
    "firstName": first_name,
    "userId": user_id
  }]
}"#;

const RECORDS: &str = r#"[
  {"email": " Ada@Example.com ", "phone": "+44 20 7946 0000", "first_name": "Ada", "user_id": "1"},
  {"email": "bob@example.com", "phone": null, "first_name": "Bob", "user_id": 2}
]"#;

fn keystroke(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("audience-bench-studio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("acme.toml");
    std::fs::write(&path, CONFIG).expect("write the config");
    let workspace = Workspace::open(&path).expect("open the config");
    let lookup = |name: &str| (name == "ACME_TOKEN").then(|| "secret-token".to_owned());
    let request = PreviewRequest { action: "add".into(), sync: None, records: Some(RECORDS.into()), count: 0 };
    let draft =
        |template: &str| Draft { templates: [("add".to_owned(), template.to_owned())].into(), ..Draft::default() };

    let valid = draft(TYPED);
    let analysis = workspace.analyse(&valid, &request, &lookup);
    assert!(analysis.valid && analysis.preview.is_some(), "{:?}", analysis.preview_error);
    let broken = draft(&TYPED.replace("first_name", "$uppercase(first_name)"));
    assert!(!workspace.analyse(&broken, &request, &lookup).valid);

    let mut group = c.benchmark_group("studio");
    // For scale: `check` of the same config text, what the round trip starts with.
    let text = CONFIG.replace("{\"members\": [$$.records.{\"email\": email}]}", TYPED);
    group.bench_function("check_text_alone", |b| {
        b.iter(|| audience::destination::check_text(black_box(&text), "acme.toml", &dir, &lookup, EnvMode::Warn))
    });
    group.bench_function("check_and_preview", |b| b.iter(|| workspace.analyse(black_box(&valid), &request, &lookup)));
    group
        .bench_function("check_with_an_error", |b| b.iter(|| workspace.analyse(black_box(&broken), &request, &lookup)));
    group.bench_function("check_and_preview_as_json", |b| {
        b.iter(|| serde_json::to_vec(&workspace.analyse(black_box(&valid), &request, &lookup)).unwrap())
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = keystroke
}
criterion_main!(benches);
