//! `[[alerts]]` against webhooks on 127.0.0.1: an alert for each run that ends with a listed
//! status, none for the others, none repeated while the state holds (the guard at every run),
//! one "recovered" after an alerted run, none for a dry run; an endpoint that always fails
//! changes nothing about the runs; the URL (a secret) is never printed.

mod support_http;
mod sync_support;

use std::path::Path;

use serde_json::Value;
use support_http::{Reply, Server};
use sync_support::{Kind, edit_config, set_up};

/// The secret part of the alert URLs: a Slack webhook's path is its credential.
const SECRET: &str = "T000-B000-s3cr3tw3bh00k";

/// `audience sync CONFIG --format json ARGS` with the good webhook's URL in the environment:
/// the exit code, the summary, and everything the process printed.
fn sync(config: &Path, good_url: &str, args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["sync", config.to_str().unwrap(), "--format", "json"];
    all.extend_from_slice(args);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(&all)
        .env("ALERT_WEBHOOK_URL", good_url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let printed = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {printed}"));
    (out.status.code().unwrap_or(-1), json["syncs"][0].clone(), printed)
}

/// The bodies a webhook received, as JSON.
fn bodies(server: &Server) -> Vec<Value> {
    server.requests().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect()
}

#[test]
fn alerts_fire_once_per_change_of_state() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let good = runtime.block_on(Server::start(|_| Reply::ok()));
    let broken = runtime.block_on(Server::start(|_| Reply::status(500).body(format!("no such hook /{SECRET}/b"))));
    let (w, r, config) = set_up(Kind::Sqlite, "alerts", 1..=100);
    let text = std::fs::read_to_string(&config).unwrap();
    let alerts = format!(
        "\n[[alerts]]\nurl = \"${{ALERT_WEBHOOK_URL}}\"\n\n[[alerts]]\nurl = \"{}\"\nformat = \"json\"\non = [\"failed\", \"stopped\", \"partial\"]\n",
        broken.url(&format!("/{SECRET}/b"))
    );
    std::fs::write(&config, format!("{text}{alerts}")).unwrap();
    let good_url = good.url(&format!("/{SECRET}/a"));
    let mut printed = String::new();
    let mut run = |args: &[&str], expected: (i32, &str)| {
        let (code, s, out) = sync(&config, &good_url, args);
        assert_eq!((code, s["status"].as_str().unwrap_or_default()), expected, "{s}\n{out}");
        printed.push_str(&out);
        s
    };
    // 1: succeeded: not listed, nothing before it.
    run(&[], (0, "succeeded"));
    assert!(good.requests().is_empty());
    // 2: partial (the API refuses user 5): an alert. 3: partial again: none.
    w.exec("UPDATE users SET name = 'changed' WHERE id <= 10");
    r.reject(&[5]);
    let partial = run(&[], (3, "partial"));
    run(&[], (3, "partial"));
    assert_eq!(good.requests().len(), 1, "one alert for two partial runs");
    // 4: succeeded: recovered.
    r.reject(&[]);
    run(&[], (0, "succeeded"));
    // 5, 6: the mass-removal guard holds at both runs: one alert; a dry run sends none.
    w.exec("DELETE FROM users WHERE id > 40");
    let stopped = run(&[], (1, "stopped"));
    run(&[], (1, "stopped"));
    run(&["--dry-run"], (1, "stopped"));
    // 7: the members are back, nothing to send: recovered.
    w.add_users(41..=100);
    run(&[], (0, "succeeded"));
    run(&[], (0, "succeeded"));
    // 8: failed (the snapshot fails in the warehouse), twice: one alert.
    let failing = "SELECT id, email, name FROM users WHERE abs(-9223372036854775807 - 1) > 0";
    edit_config(&config, &[("SELECT id, email, name FROM users", failing)]);
    let failed = run(&[], (1, "failed"));
    run(&[], (1, "failed"));

    let got = bodies(&good);
    let texts: Vec<&str> = got.iter().map(|b| b["text"].as_str().unwrap_or_default()).collect();
    assert_eq!(got.len(), 5, "{texts:#?}");
    let starts = [
        "audience: sync members run 2 partial: 0 inserted, 9 updated, 0 deleted, 1 failed, 0 invalid",
        "audience: sync members recovered: run 4 succeeded",
        "audience: sync members run 5 stopped",
        "audience: sync members recovered: run 7 succeeded",
        "audience: sync members run 9 failed",
    ];
    for (text, start) in texts.iter().zip(starts) {
        assert!(text.starts_with(start), "{text}\nshould start with {start}");
        assert!(!text.contains('\n'), "one line: {text}");
    }
    let config_path = config.display().to_string();
    assert!(texts[0].contains("main failure reason: HTTP 422"), "{}", texts[0]);
    assert!(
        texts[0].ends_with(&format!("failed records: audience logs {config_path} --sync members --run 2 --failed")),
        "{}",
        texts[0]
    );
    assert!(texts[2].contains("would remove 60 of 100 members"), "{}", texts[2]);
    // The Slack form carries the summary's fields beside the text.
    let mut fields = got[0].clone();
    fields.as_object_mut().unwrap().remove("text");
    assert_eq!(fields, partial, "the summary's fields as `sync --format json` printed them");
    assert_eq!(got[4]["error"], failed["error"]);
    assert!(good.requests().iter().all(|g| g.method == "POST" && g.header("content-type") == Some("application/json")));

    // The broken webhook was sent the same five alerts (its statuses are the default ones),
    // each tried twice (max_attempts = 2), as the run summary alone; each run went on as if
    // there were no alert, and said so in a log line.
    let tried = bodies(&broken);
    assert_eq!(tried.len(), 10, "{tried:#?}");
    assert_eq!((&tried[0], &tried[1]), (&partial, &partial));
    assert_eq!(tried[4], stopped);
    assert_eq!(tried[8], failed);
    assert_eq!(tried[2]["status"], "succeeded");
    assert!(tried.iter().all(|b| b.get("text").is_none()), "the json format has no text");
    assert_eq!(printed.matches("alerts[1] could not be delivered").count(), 5, "{printed}");
    assert!(printed.contains("HTTP 500"), "{printed}");
    // The URLs are secrets: in no output, no message, no alert body, and not in the warehouse.
    assert!(!printed.contains(SECRET), "{printed}");
    assert!(got.iter().all(|b| !b.to_string().contains(SECRET)));
    let errors = w.rows(&format!("SELECT coalesce(error, '') || coalesce(reasons, '') FROM {}", w.state("runs")));
    assert!(errors.iter().flatten().flatten().all(|e| !e.contains(SECRET)), "{errors:?}");
    drop(runtime);
}
