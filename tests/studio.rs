//! `audience studio` in a real browser (headless Chromium through chromedriver): diagnostics
//! at their byte range as the author types, the fields list, the preview byte for byte equal
//! to `audience preview`, save refused on an error and accepted without (comments and
//! `${NAME}` kept), a new config created on the first save, and the token and Host guards.

mod studio_support;
mod sync_support;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use studio_support::{Browser, StudioProcess, audience, http, temp_dir};

/// A config with comments, a `${NAME}` (unset: a warning), a secret header, add with an inline
/// template, update with `use_add`, remove in a template file.
const CONFIG: &str = r#"# Studio test config: comments must survive a save.
[destination]
name = "Studio test"   # the name
base_url = "https://api.example.com/v1"
headers = { "X-Key" = { value = "header-secret", secret = true } }

[destination.auth]
type = "bearer"
token = "${STUDIO_TEST_TOKEN}"   # from the environment

[destination.actions.add]
path = "/audiences/{{connection.audienceId}}/members"
batch_size = 100
template = '''
{"members": [$$.records.{"email": email}]}
'''

[destination.actions.update]
use_add = true

[destination.actions.remove]
method = "DELETE"
path = "/audiences/{{connection.audienceId}}/members"
template_file = "remove.jsonata"

# Emails are hashed.
[destination.fields.email]
required = true
normalize = "email"
hash = "sha256"

[syncs.main]
audience_name = "Main"
audience_id = "42"
source = "sqlite://warehouse.db"
table = "users"
primary_key = "id"
map = { email = "email", user_id = "id", phone = "phone" }
"#;

const REMOVE_TEMPLATE: &str = "{\"ids\": [$$.records.{\"id\": user_id, \"e\": email}]}\n";

/// The config (and its template file) in a fresh folder.
fn config_in(name: &str, text: &str) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::write(dir.join("remove.jsonata"), REMOVE_TEMPLATE).expect("write the template file");
    let path = dir.join("audience.toml");
    std::fs::write(&path, text).expect("write the config");
    path
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The page loaded and its first check shown.
fn open(name: &str, config: &Path) -> (StudioProcess, Browser) {
    let studio = StudioProcess::start(config);
    let browser = Browser::start(name);
    browser.goto(&studio.url);
    browser.wait_for("the first check", || {
        let status = browser.text_of("[data-role=status]");
        status.starts_with("checked").then_some(())
    });
    (studio, browser)
}

/// `audience check FILE.jsonata --format json` of a template's text: what the page must show.
fn cli_template_diagnostics(dir: &Path, text: &str) -> Vec<Value> {
    let path = dir.join("typed.jsonata");
    std::fs::write(&path, text).expect("write the template");
    let (_, stdout, stderr) = audience(&["check", path_str(&path), "--format", "json"]);
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
    json["diagnostics"].as_array().cloned().unwrap_or_default()
}

fn add_diagnostics(browser: &Browser) -> Vec<Value> {
    browser.datasets("[data-role=diagnostic][data-action=add]")
}

fn field_names(browser: &Browser, action: &str) -> Vec<String> {
    browser
        .datasets(&format!("[data-role=field][data-action={action}]"))
        .iter()
        .map(|d| d["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_forbidden_construct_is_shown_at_its_range_and_goes_when_fixed() {
    let config = config_in("diagnostics", CONFIG);
    let (_studio, browser) = open("diagnostics", &config);
    assert_eq!(field_names(&browser, "add"), ["email"]);

    // A two-byte character before the construct: offsets are bytes, as the CLI gives them.
    let typed = "{\"é\": $foo(email)}";
    let expected = cli_template_diagnostics(config.parent().unwrap(), typed);
    assert_eq!(expected.len(), 1, "{expected:?}");
    let editor = browser.find("[data-role=editor]");
    browser.replace_text(&editor, typed);
    let shown = browser.wait_for("the diagnostic of $foo", || {
        let d = add_diagnostics(&browser);
        (!d.is_empty()).then_some(d)
    });
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0]["code"], expected[0]["code"]);
    assert_eq!(shown[0]["severity"], "error");
    assert_eq!(shown[0]["start"], expected[0]["start"].to_string());
    assert_eq!(shown[0]["end"], expected[0]["end"].to_string());
    // The underline covers exactly those bytes of the template.
    let (start, end) = (expected[0]["start"].as_u64().unwrap() as usize, expected[0]["end"].as_u64().unwrap() as usize);
    let underlined = browser.script(
        "return Array.from(document.querySelectorAll('#highlight .u-error')).map(e => e.textContent).join('')",
        json!([]),
    );
    assert_eq!(underlined, typed[start..end]);
    assert!(browser.text_of("[data-role=status]").contains("1 error"), "{}", browser.text_of("[data-role=status]"));

    // Fixed: the diagnostic goes, and the fields list follows the template.
    browser.replace_text(&editor, "{\"members\": [$$.records.{\"email\": email, \"phone\": phone}]}");
    browser.wait_for("the diagnostic to go", || add_diagnostics(&browser).is_empty().then_some(()));
    browser
        .wait_for("the fields email and phone", || (field_names(&browser, "add") == ["email", "phone"]).then_some(()));
    // phone is now used, so the warning that it is mapped but unused went too.
    assert!(browser.datasets("[data-role=diagnostic][data-code=C0503]").is_empty());

    // update uses add's template: its tab shows add's fields.
    browser.click(&browser.find("[data-role=action-tab][data-action=update]"));
    browser.wait_for("update's fields", || (field_names(&browser, "update") == ["email", "phone"]).then_some(()));
    browser.click(&browser.find("[data-role=action-tab][data-action=remove]"));
    browser.wait_for("remove's fields", || (field_names(&browser, "remove") == ["user_id", "email"]).then_some(()));
    assert_eq!(browser.value_of("[data-role=editor]"), REMOVE_TEMPLATE);

    // By keyboard: the arrow keys move between the action tabs.
    let remove = browser.find("[data-role=action-tab][data-action=remove]");
    browser.type_text(&remove, "\u{E012}"); // ArrowLeft
    browser.wait_for("update's tab", || {
        let tab = browser.find("[data-role=action-tab][data-action=update]");
        (browser.attribute(&tab, "aria-selected").as_deref() == Some("true")).then_some(())
    });
    browser.wait_for("update's fields", || (field_names(&browser, "update") == ["email", "phone"]).then_some(()));
    let focused = browser.script("return document.activeElement.dataset.action", json!([]));
    assert_eq!(focused, "update");
}

#[test]
fn the_preview_body_is_audience_preview_s_body_text_for_each_action() {
    // No `${NAME}`: `audience preview` needs every variable set. The samples are shared by the
    // actions, so add reads the fields remove reads (a key an action does not read rejects
    // the record).
    let text = CONFIG.replace("${STUDIO_TEST_TOKEN}", "literal-token").replace(
        "{\"members\": [$$.records.{\"email\": email}]}",
        "{\"members\": [$$.records.{\"email\": email, \"id\": user_id}]}",
    );
    let config = config_in("preview", &text);
    let (_studio, browser) = open("preview", &config);
    let records = json!([
        {"email": " Ada@Example.COM ", "user_id": "7"},
        {"email": "bob@example.com", "user_id": 8},
        {"email": null, "user_id": "9"},
        {"nope": 1}
    ]);
    let records_file = config.parent().unwrap().join("records.json");
    std::fs::write(&records_file, records.to_string()).expect("write records");
    let samples = browser.find("[data-role=sample-records]");
    browser.type_text(&samples, &serde_json::to_string_pretty(&records).unwrap());

    for action in ["add", "update", "remove"] {
        let cli = preview_json(&config, action, &records_file);
        let body_text = cli["body_text"].as_str().expect("a body").to_owned();
        browser.click(&browser.find(&format!("[data-role=action-tab][data-action={action}]")));
        browser.wait_for(&format!("{action}'s body"), || {
            (browser.text_of("[data-role=preview-body]") == body_text).then_some(())
        });
        assert_eq!(browser.text_of("[data-role=preview-method]"), cli["method"].as_str().unwrap());
        assert_eq!(browser.text_of("[data-role=preview-url]"), cli["url"].as_str().unwrap());
        // Secrets are masked on the page as in the CLI.
        let page = browser.script("return document.documentElement.outerHTML", json!([]));
        let page = page.as_str().unwrap_or_default();
        assert!(!page.contains("header-secret") && !page.contains("literal-token"), "a secret reached the page");
        // The rejected samples are listed with their reasons.
        let rejected = browser.text_of("#rejected");
        for r in cli["rejected"].as_array().unwrap() {
            assert!(rejected.contains(r["error"].as_str().unwrap()), "{rejected}");
        }
    }
}

#[test]
fn save_is_refused_with_an_error_and_keeps_comments_without() {
    let config = config_in("save", CONFIG);
    let (_studio, browser) = open("save", &config);
    let editor = browser.find("[data-role=editor]");
    let save = browser.find("[data-role=save]");

    browser.replace_text(&editor, "{\"members\": [$$.records.{\"email\": $lowercase(email)}]}");
    browser.wait_for("an error", || (!add_diagnostics(&browser).is_empty()).then_some(()));
    browser.click(&save);
    browser.wait_for("the refusal", || browser.text_of("[data-role=status]").starts_with("not saved").then_some(()));
    assert!(
        browser.text_of("[data-role=status]").contains("X0125 in add at 1:"),
        "{}",
        browser.text_of("[data-role=status]")
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), CONFIG, "a refused save wrote the file");

    browser.replace_text(&editor, "{\"members\": [$$.records.{\"email\": email, \"phone\": phone}]}");
    browser.wait_for("no error", || add_diagnostics(&browser).is_empty().then_some(()));
    // A field setting edited on the page, and the remove template (in its own file).
    browser.wait_for("the phone field", || field_names(&browser, "add").contains(&"phone".to_owned()).then_some(()));
    browser.click(&browser.find("[aria-label='phone required']"));
    browser.click(&browser.find("[data-role=action-tab][data-action=remove]"));
    let editor = browser.find("[data-role=editor]");
    browser.wait_for("remove's template", || (browser.text_of("#highlight").starts_with("{\"ids\"")).then_some(()));
    browser.type_text(&editor, "/* removed members */");
    browser.wait_for("the check", || browser.text_of("[data-role=status]").starts_with("checked").then_some(()));
    browser.click(&save);
    browser.wait_for("the save", || browser.text_of("[data-role=status]").starts_with("saved").then_some(()));

    let saved = std::fs::read_to_string(&config).unwrap();
    for kept in [
        "# Studio test config: comments must survive a save.\n",
        "name = \"Studio test\"   # the name\n",
        "token = \"${STUDIO_TEST_TOKEN}\"   # from the environment\n",
        "# Emails are hashed.\n[destination.fields.email]\n",
        "template_file = \"remove.jsonata\"\n",
    ] {
        assert!(saved.contains(kept), "lost {kept:?}:\n{saved}");
    }
    assert!(saved.contains("{\"members\": [$$.records.{\"email\": email, \"phone\": phone}]}"), "{saved}");
    assert!(saved.contains("[destination.fields.phone]\nrequired = true\n"), "{saved}");
    let remove = std::fs::read_to_string(config.parent().unwrap().join("remove.jsonata")).unwrap();
    assert_eq!(remove, format!("{REMOVE_TEMPLATE}/* removed members */"));
    let (code, stdout, stderr) = audience(&["check", path_str(&config)]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn a_new_config_is_created_on_the_first_save() {
    let dir = temp_dir("new");
    let config = dir.join("new.toml");
    let (_studio, browser) = open("new", &config);
    assert!(!config.exists());
    assert_eq!(field_names(&browser, "add"), ["email"]);
    browser.click(&browser.find("[data-role=save]"));
    browser.wait_for("the save", || browser.text_of("[data-role=status]").starts_with("saved").then_some(()));
    let (code, stdout, stderr) = audience(&["check", path_str(&config)]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn calls_without_the_token_or_from_another_host_are_refused() {
    let config = config_in("guards", CONFIG);
    let studio = StudioProcess::start(&config);
    let host = studio.addr.clone();
    let body = json!({"draft": {}, "request": {"action": "add"}});
    let ok = format!("/api/analyse?token={}", studio.token);
    assert_eq!(http(&studio.addr, "POST", &ok, &host, Some(&body)).0, 200);
    assert_eq!(http(&studio.addr, "POST", "/api/analyse", &host, Some(&body)).0, 403);
    assert_eq!(http(&studio.addr, "POST", "/api/analyse?token=0000", &host, Some(&body)).0, 403);
    assert_eq!(http(&studio.addr, "GET", "/", &host, None).0, 403);
    assert_eq!(http(&studio.addr, "POST", "/api/rows", &host, Some(&body)).0, 403);
    assert_eq!(http(&studio.addr, "POST", "/api/dry-run?token=0000", &host, Some(&body)).0, 403);
    let save = format!("/api/save?token={}", studio.token.to_uppercase());
    assert_eq!(http(&studio.addr, "POST", &save, &host, Some(&body)).0, 403);
    // DNS rebinding: the right token, but a page of another site names its own host.
    assert_eq!(http(&studio.addr, "POST", &ok, "attacker.example", Some(&body)).0, 403);
    let port = host.rsplit(':').next().unwrap();
    assert_eq!(http(&studio.addr, "POST", &ok, &format!("attacker.example:{port}"), Some(&body)).0, 403);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), CONFIG);
    // A diagnostic's explanation, from the docs in the binary; behind the token too.
    let (status, page) = http(&studio.addr, "GET", &format!("/explain/X0125?token={}", studio.token), &host, None);
    assert_eq!(status, 200);
    assert!(page.contains("X0125") && page.contains("docs/templates.md"), "{page}");
    assert_eq!(http(&studio.addr, "GET", "/explain/X0125", &host, None).0, 403);
    // The page's answers never hold a secret.
    let (_, answer) = http(&studio.addr, "POST", &ok, &host, Some(&body));
    assert!(!answer.contains("header-secret"), "{answer}");
}

/// The README's picture of the page, made by this set-up: written to the target directory,
/// and to docs/studio.png with `UPDATE_SCREENSHOT=1`.
#[test]
fn screenshot() {
    let config = config_in("screenshot", CONFIG);
    warehouse_in(config.parent().unwrap());
    let (_studio, browser) = open("screenshot", &config);
    let editor = browser.find("[data-role=editor]");
    browser.replace_text(
        &editor,
        "{\n  \"audienceId\": $$.connection.audienceId,\n  \"members\": [$$.records.{\n    \"email\": email,\n    \"phone\": phone\n  }]\n}",
    );
    // The samples are the model's first three rows, the third without an email.
    browser.wait_for("the phone field", || field_names(&browser, "add").contains(&"phone".to_owned()).then_some(()));
    browser.replace_text(&browser.find("[data-role=row-count]"), "3");
    browser.click(&browser.find("[data-role=sample-rows]"));
    browser.wait_for("three rows", || (sample_records(&browser).len() == 3).then_some(()));
    browser
        .wait_for("the preview", || browser.text_of("[data-role=preview-body]").contains("audienceId").then_some(()));
    browser.wait_for("the rejected sample", || browser.text_of("#rejected").contains("sample 2").then_some(()));
    // Tall enough to show the request's body below the warehouse's part.
    browser.resize(1400, 1250);
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    std::fs::write(config.parent().unwrap().join("studio.png"), &png).expect("write the screenshot");
    if std::env::var_os("UPDATE_SCREENSHOT").is_some() {
        std::fs::write(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/studio.png"), &png)
            .expect("write docs/studio.png");
    }
}

/// The model of [`CONFIG`]'s sync: rows a run sends, one the pipeline refuses (no email), one
/// with a null key and two with the same key (invalid).
fn warehouse_in(dir: &Path) {
    let db = rusqlite::Connection::open(dir.join("warehouse.db")).expect("open the warehouse");
    db.execute_batch(
        "CREATE TABLE users (id INTEGER, email TEXT, phone TEXT);
         INSERT INTO users VALUES (1, ' Ada@Example.com ', '+44 20 7946 0000'), (2, 'bob@example.com', NULL),
           (3, NULL, '+1 555 0100'), (NULL, 'nokey@example.com', NULL), (5, 'eve@example.com', '1'),
           (6, 'dup1@example.com', NULL), (6, 'dup2@example.com', NULL);",
    )
    .expect("fill the warehouse");
}

/// The records of the samples editor, once it holds some.
fn sample_records(browser: &Browser) -> Vec<Value> {
    browser.wait_for("sample records", || {
        serde_json::from_str::<Vec<Value>>(&browser.value_of("[data-role=sample-records]")).ok()
    })
}

#[test]
fn sample_rows_come_from_the_model_and_the_dry_run_counts_are_the_cli_s() {
    // No `${NAME}`: `audience preview` needs every variable set.
    let text = CONFIG.replace("${STUDIO_TEST_TOKEN}", "literal-token");
    let config = config_in("warehouse", &text);
    let dir = config.parent().unwrap().to_owned();
    warehouse_in(&dir);
    let (studio, browser) = open("warehouse", &config);

    // The first rows, mapped to template fields, in the samples editor (phone is mapped, but
    // no template reads it: a run never reads its column).
    let count = browser.find("[data-role=row-count]");
    browser.replace_text(&count, "5");
    browser.click(&browser.find("[data-role=sample-rows]"));
    let records = sample_records(&browser);
    assert_eq!(
        records,
        [
            json!({"email": " Ada@Example.com ", "user_id": 1}),
            json!({"email": "bob@example.com", "user_id": 2}),
            json!({"email": null, "user_id": 3}),
            json!({"email": "nokey@example.com", "user_id": null}),
            json!({"email": "eve@example.com", "user_id": 5}),
        ]
    );
    // The rows a run would not send, with why: through each action's field pipeline (email is
    // required), and the null key.
    let refused = browser.wait_for("the refused rows", || {
        let r = browser.datasets("[data-role=refused-rows] li");
        (!r.is_empty()).then_some(r)
    });
    let refused: Vec<[&str; 3]> =
        refused.iter().map(|d| ["index", "key", "actions"].map(|k| d[k].as_str().unwrap_or("?"))).collect();
    assert_eq!(refused, [["2", "3", "add update remove"], ["3", "", ""]]);
    let listed = browser.text_of("[data-role=refused-rows]");
    assert!(listed.contains("sample 2, key 3 (add, update, remove): required field email is empty"), "{listed}");
    assert!(listed.contains("sample 3, key null: the primary key is null"), "{listed}");

    // The preview follows the rows, byte for byte as `audience preview` makes it of them.
    let records_file = dir.join("rows.json");
    std::fs::write(&records_file, browser.value_of("[data-role=sample-records]")).expect("write the rows");
    for action in ["add", "remove"] {
        let cli = preview_json(&config, action, &records_file);
        let body_text = cli["body_text"].as_str().expect("a body").to_owned();
        assert!(body_text.contains(if action == "add" { "\"email\"" } else { "\"id\":5" }), "{body_text}");
        browser.click(&browser.find(&format!("[data-role=action-tab][data-action={action}]")));
        browser.wait_for(&format!("{action}'s body of the rows"), || {
            (browser.text_of("[data-role=preview-body]") == body_text).then_some(())
        });
    }

    // The dry run's counts are `audience sync --dry-run`'s.
    let (code, stdout, stderr) = audience(&["sync", path_str(&config), "--dry-run", "--format", "json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let cli: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
    let cli = &cli["syncs"][0];
    // By keyboard: Enter on the focused button.
    browser.type_text(&browser.find("[data-role=dry-run]"), "\u{E007}");
    browser.wait_for("the dry run's counts", || {
        (!browser.text_of("[data-role=dry-run-counts] [data-count=inserted]").is_empty()).then_some(())
    });
    for count in ["inserted", "updated", "deleted", "failed", "invalid"] {
        let shown = browser.text_of(&format!("[data-role=dry-run-counts] [data-count={count}]"));
        assert_eq!(shown, cli[count].to_string(), "{count}: the page says {shown}, the CLI {}", cli[count]);
    }
    // Not a forecast of nothing: rows to add, one the pipeline fails, three invalid.
    assert_eq!(
        (cli["inserted"].as_u64(), cli["failed"].as_u64(), cli["invalid"].as_u64()),
        (Some(3), Some(1), Some(3))
    );
    assert_eq!(browser.text_of("[data-role=dry-run-counts] [data-count=status]"), cli["status"].as_str().unwrap());
    // The same answer through the API, whole.
    let body = json!({"draft": {}, "request": {"action": "add"}});
    let (status, answer) =
        http(&studio.addr, "POST", &format!("/api/dry-run?token={}", studio.token), &studio.addr, Some(&body));
    assert_eq!(status, 200, "{answer}");
    let mut answer: Value = serde_json::from_str(&answer).unwrap();
    let mut cli = cli.clone();
    for s in [&mut answer["syncs"][0], &mut cli] {
        s.as_object_mut().unwrap().remove("duration_ms");
    }
    assert_eq!(answer["syncs"][0], cli);

    // Errors said plainly: a sync the config does not have, and a warehouse that is gone.
    let body = json!({"draft": {}, "request": {"action": "add", "sync": "nope"}, "limit": 3});
    let (status, answer) =
        http(&studio.addr, "POST", &format!("/api/rows?token={}", studio.token), &studio.addr, Some(&body));
    assert_eq!(status, 404, "{answer}");
    assert!(answer.contains("there is no sync named nope; the syncs are: main"), "{answer}");
    // The draft is what is run: a template with an error runs nothing.
    let body = json!({"draft": {"templates": {"add": "{\"m\": $foo(email)}"}}, "request": {"action": "add"}});
    let (status, answer) =
        http(&studio.addr, "POST", &format!("/api/dry-run?token={}", studio.token), &studio.addr, Some(&body));
    assert_eq!(status, 409, "{answer}");
    assert!(answer.contains("the config has errors: X0125"), "{answer}");
    std::fs::rename(dir.join("warehouse.db"), dir.join("gone.db")).expect("move the warehouse away");
    browser.click(&browser.find("[data-role=sample-rows]"));
    let error = browser.wait_for("the warehouse's error", || {
        let e = browser.text_of("[data-role=warehouse-error]");
        (!e.is_empty()).then_some(e)
    });
    assert!(
        error.starts_with("no sample rows: cannot read the model of sync main: cannot open the warehouse"),
        "{error}"
    );
    // The samples stay as they were.
    assert_eq!(sample_records(&browser), records);
    browser.click(&browser.find("[data-role=dry-run]"));
    browser.wait_for("the dry run's error", || {
        browser.text_of("[data-role=warehouse-error]").contains("cannot open the warehouse").then_some(())
    });
    assert_eq!(browser.text_of("[data-role=dry-run-counts] [data-count=status]"), "failed");
    let page = browser.script("return document.documentElement.outerHTML", json!([]));
    let page = page.as_str().unwrap_or_default();
    assert!(!page.contains("header-secret") && !page.contains("literal-token"), "a secret reached the page");
}

/// PostgreSQL and Snowflake (fakesnow), through the API: the model's rows as sample records, and
/// the dry run of a sync whose model changed since its first run (adds, updates, removes, a row
/// the pipeline fails), whole as `audience sync --dry-run --format json` gives it.
#[test]
fn postgres_rows_and_dry_run_are_the_sync_s() {
    rows_and_dry_run_are_the_sync_s(sync_support::Kind::Postgres, "studio_pg");
}

#[test]
fn snowflake_rows_and_dry_run_are_the_sync_s() {
    rows_and_dry_run_are_the_sync_s(sync_support::Kind::Snowflake, "studio_sf");
}

fn rows_and_dry_run_are_the_sync_s(kind: sync_support::Kind, name: &str) {
    use sync_support::first_synced;
    let (w, _receiver, config) = first_synced(kind, name, 1..=20);
    w.exec("UPDATE users SET name = 'changed' WHERE id <= 3");
    w.exec("DELETE FROM users WHERE id > 18");
    w.exec("INSERT INTO users VALUES (21, 'u21@example.com', 'new'), (22, NULL, 'no email')");
    let studio = StudioProcess::start(&config);
    let call = |path: &str, body: Value| {
        let (status, answer) =
            http(&studio.addr, "POST", &format!("{path}?token={}", studio.token), &studio.addr, Some(&body));
        assert!(!answer.contains(&w.source()), "the source's URL reached the page: {answer}");
        (status, serde_json::from_str::<Value>(&answer).unwrap_or_else(|e| panic!("{e}: {answer}")))
    };

    let (status, answer) = call("/api/dry-run", json!({"request": {"action": "add"}}));
    assert_eq!(status, 200, "{answer}");
    let (code, cli, stderr) = sync_support::sync(&config, &["--dry-run"]);
    assert_eq!(code, 0, "{cli}{stderr}");
    let counts = |s: &Value| ["inserted", "updated", "deleted", "failed", "invalid"].map(|k| s[k].as_u64());
    assert_eq!(counts(&cli), [Some(1), Some(3), Some(2), Some(1), Some(0)], "{cli}");
    let mut page = answer["syncs"][0].clone();
    let mut cli = cli;
    for s in [&mut page, &mut cli] {
        s.as_object_mut().unwrap().remove("duration_ms");
    }
    assert_eq!(page, cli);

    let (status, answer) = call("/api/rows", json!({"request": {"action": "add"}, "limit": 1000}));
    assert_eq!(status, 200, "{answer}");
    let key = |v: &Value| v["user_id"].as_i64();
    let mut records = answer["records"].as_array().cloned().unwrap_or_default();
    records.sort_by_key(key);
    let mut model: Vec<Value> = w
        .rows("SELECT id::text, email, name FROM users")
        .into_iter()
        .map(|r| json!({"user_id": r[0].as_deref().map(|id| id.parse::<i64>().unwrap()), "email": r[1], "name": r[2]}))
        .collect();
    model.sort_by_key(key);
    assert_eq!(records, model);
    let refused: Vec<(Option<&str>, Option<&str>)> =
        answer["refused"].as_array().unwrap().iter().map(|r| (r["key"].as_str(), r["action"].as_str())).collect();
    assert_eq!(refused, [(Some("22"), Some("add")), (Some("22"), Some("update")), (Some("22"), Some("remove"))]);
}

/// `audience preview CONFIG --action ACTION --records FILE --format json`.
fn preview_json(config: &Path, action: &str, records: &Path) -> Value {
    let (code, stdout, stderr) = audience(&[
        "preview",
        path_str(config),
        "--action",
        action,
        "--records",
        path_str(records),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    serde_json::from_str(&stdout).unwrap()
}
