//! `audience demo` end to end, and its local audience API on its own.
//!
//! The demo test checks membership against more than the demo's own word: after the demo, a
//! dry run of `audience sync` on the files it left finds nothing to send (the baseline, what the
//! API accepted, is the model), and the API's member count, which it reports, is the model's
//! row count.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use audience::demo::api::AudienceApi;
use serde_json::{Value, json};

fn audience(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audience")).args(args).env("NO_COLOR", "1").output().expect("the binary runs")
}

fn json_of(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr)))
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("audience-demo-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run_demo(dir: &Path, users: &str) -> Value {
    let out = audience(&["demo", "--dir", dir.to_str().unwrap(), "--users", users, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    json_of(&out)
}

/// Every count of a run agrees: the data's expectation, the sync's summary, the API's tally.
fn check_run(run: &Value) {
    let summary = &run["summary"];
    assert_eq!(summary["status"], "succeeded", "{run}");
    for (action, counted) in [("add", "inserted"), ("update", "updated"), ("remove", "deleted")] {
        assert_eq!(summary[counted], run["expected"][action], "{action}: {run}");
        assert_eq!(summary[counted], run["received"][action]["records"], "{action}: {run}");
    }
    assert_eq!(summary["failed"], 0);
    assert_eq!(run["received"]["rejected"], 0);
}

#[test]
fn the_demo_syncs_twice_and_the_api_ends_up_holding_the_model() {
    let dir = fresh_dir("full");
    let report = run_demo(&dir, "3000");
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for run in runs {
        check_run(run);
    }

    // First run: every row of the model is an add.
    let first = &runs[0];
    assert!(first["summary"]["inserted"].as_u64().unwrap() > 1000, "{first}");
    assert_eq!(first["members_after"], first["summary"]["inserted"]);
    assert!(first["changes"].is_null());

    // Second run: the changes made in the warehouse, as adds, updates and removes.
    let second = &runs[1];
    for action in ["add", "update", "remove"] {
        assert!(second["received"][action]["records"].as_u64().unwrap() > 0, "{action}: {second}");
        assert!(second["received"]["samples"][action]["body"]["members"].is_array(), "{second}");
    }
    let after_first = first["members_after"].as_u64().unwrap();
    let (added, removed) =
        (second["summary"]["inserted"].as_u64().unwrap(), second["summary"]["deleted"].as_u64().unwrap());
    assert_eq!(second["members_after"].as_u64().unwrap(), after_first + added - removed);

    // The API holds the model: as many members as the model has rows, the same ids.
    assert_eq!(report["members"], report["model_rows"]);
    assert_eq!(report["members"], second["members_after"]);
    assert_eq!(report["in_step"], true);

    // The files left behind work with the other commands, and nothing is left to send.
    let config = report["config"].as_str().unwrap();
    assert_eq!(Path::new(config), dir.canonicalize().unwrap().join("audience.toml"));
    let check = audience(&["check", config, "--format", "json"]);
    assert_eq!(check.status.code(), Some(0));
    assert_eq!(json_of(&check)["diagnostics"], json!([]));
    let dry = audience(&["sync", config, "--dry-run", "--format", "json"]);
    assert_eq!(dry.status.code(), Some(0), "{}", String::from_utf8_lossy(&dry.stderr));
    let dry = &json_of(&dry)["syncs"][0];
    assert_eq!((&dry["inserted"], &dry["updated"], &dry["deleted"]), (&json!(0), &json!(0), &json!(0)), "{dry}");
    let logs = audience(&["logs", config, "--sync", "high_value", "--format", "json"]);
    assert_eq!(logs.status.code(), Some(0));
    let logs = json_of(&logs);
    assert_eq!(logs["run_id"], 2);
    let sent = added + second["summary"]["updated"].as_u64().unwrap() + removed;
    assert_eq!(logs["rows"].as_array().unwrap().len() as u64, sent);

    // Every suggested command names the demo's files.
    let next = report["next"].as_array().unwrap();
    assert!(next.iter().any(|c| c.as_str().unwrap().contains("sync") && c.as_str().unwrap().contains("--dry-run")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_demo_can_run_again_in_its_folder_but_not_in_someone_elses() {
    let dir = fresh_dir("again");
    let first = run_demo(&dir, "200");
    let again = run_demo(&dir, "200");
    // A fresh warehouse each time: the first run adds the whole model again.
    assert_eq!(first["runs"][0]["summary"]["inserted"], again["runs"][0]["summary"]["inserted"]);
    assert_eq!(again["runs"][0]["summary"]["run_id"], 1);
    assert_eq!(again["in_step"], true);

    let theirs = fresh_dir("theirs");
    std::fs::create_dir_all(&theirs).unwrap();
    std::fs::write(theirs.join("warehouse.db"), "not ours").unwrap();
    let out = audience(&["demo", "--dir", theirs.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not made by `audience demo`"));
    assert_eq!(std::fs::read_to_string(theirs.join("warehouse.db")).unwrap(), "not ours");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&theirs).unwrap();
}

#[test]
fn the_demo_in_a_new_temporary_folder_prints_where_it_is() {
    let out = audience(&["demo", "--users", "100"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let folder = text.lines().find_map(|l| l.trim().strip_prefix("folder")).expect("the folder is printed").trim();
    assert!(Path::new(folder).join("audience.toml").is_file(), "{text}");
    assert!(text.contains("In step"), "{text}");
    assert!(text.contains("--dry-run"), "{text}");
    std::fs::remove_dir_all(folder).unwrap();
}

/// The API on its own answers like a real one: auth, validation, idempotent replays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_api_answers_like_a_real_one() {
    audience::http::tls::install_crypto_provider();
    let api = AudienceApi::start("t0ken").await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/audiences/a1/members", api.url());
    let send = |method: reqwest::Method, body: Value, token: &str, key: &str| {
        http.request(method, &url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(body.to_string())
            .send()
    };
    let members = json!({ "members": [{ "user_id": 1, "email": "x" }, { "user_id": "2" }] });
    let status = |r: reqwest::Result<reqwest::Response>| r.unwrap().status().as_u16();

    assert_eq!(status(send(reqwest::Method::POST, members.clone(), "wrong", "k0").await), 401);
    assert_eq!(status(send(reqwest::Method::POST, json!({ "users": [] }), "t0ken", "k1").await), 400);
    assert_eq!(status(send(reqwest::Method::POST, json!({ "members": [{}] }), "t0ken", "k2").await), 400);
    assert_eq!(status(send(reqwest::Method::GET, members.clone(), "t0ken", "k3").await), 405);
    let ok = send(reqwest::Method::POST, members.clone(), "t0ken", "k4").await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let answer: Value = serde_json::from_str(&ok.text().await.unwrap()).unwrap();
    assert_eq!(answer["members"], 2);
    // A retry of the same request: answered, not applied twice.
    assert_eq!(status(send(reqwest::Method::POST, members.clone(), "t0ken", "k4").await), 200);
    let remove = json!({ "members": [{ "user_id": 2 }] });
    assert_eq!(status(send(reqwest::Method::DELETE, remove, "t0ken", "k5").await), 200);
    let no_json = http.post(&url).bearer_auth("t0ken").body("{}").send().await;
    assert_eq!(status(no_json), 415);
    let elsewhere = http.post(format!("{}/members", api.url())).bearer_auth("t0ken").send().await;
    assert_eq!(status(elsewhere), 404);

    assert_eq!(api.members("a1"), ["1"]);
    assert_eq!(api.member("a1", "1").unwrap()["email"], "x");
    let received = api.take_received();
    assert_eq!((received.requests, received.rejected, received.replayed), (9, 6, 1));
    assert_eq!((received.add.requests, received.add.records), (1, 2));
    assert_eq!((received.remove.requests, received.remove.records), (1, 1));
    assert_eq!(received.samples["add"].records, 2);
    assert_eq!(api.take_received().requests, 0, "the tally starts again");
}
