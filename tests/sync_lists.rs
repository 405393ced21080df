//! A real sync whose templates send lists of ids (`[$$.records.user_id]`), on SQLite and
//! PostgreSQL, against an API on 127.0.0.1: one request per batch, a record without a value
//! left out of that list only.

#![cfg(feature = "cli")]

mod support_http;
mod sync_support;

use serde_json::{Value, json};
use support_http::{Reply, Server};
use sync_support::{Kind, Receiver, Settings, Warehouse, edit_config, sync, write_config};

fn lists_of_ids_are_sent(kind: Kind) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(Server::start(|_| Reply::ok()));
    let w = Warehouse::new(kind, "sync_lists");
    w.add_users(1..=4);
    w.exec("UPDATE users SET email = NULL WHERE id = 3");
    let unused = Receiver::start();
    let config = write_config(&w, &unused, &Settings::default());
    let add = r#"template = '{"users": [$$.records.{"id": user_id, "email": email, "name": name}]}'"#;
    edit_config(
        &config,
        &[
            (&unused.base_url(), &api.url("")),
            // A user without an email is then sent, without it.
            ("[destination.fields.email]\nrequired = true\n", ""),
            // The add action's template (the first of the three).
            (
                add,
                r#"template = '{"ids": [$$.records.user_id], "emails": [$$.records.email], "n": [$$.records.name]}'"#,
            ),
        ],
    );
    let (code, summary, stderr) = sync(&config, &[]);
    assert_eq!(code, 0, "{summary}\n{stderr}");
    assert_eq!(summary["status"], "succeeded", "{summary}");
    let bodies: Vec<Value> =
        api.requests().iter().map(|r| serde_json::from_slice(&r.body).expect("a JSON body")).collect();
    assert_eq!(
        bodies,
        [json!({
            "ids": [1, 2, 3, 4],
            "emails": ["u1@example.com", "u2@example.com", "u4@example.com"],
            "n": ["N1", "N2", "N3", "N4"],
        })],
        "one request for the batch; user 3 has no email"
    );
}

#[test]
fn sqlite_lists_of_ids_are_sent() {
    lists_of_ids_are_sent(Kind::Sqlite);
}

#[test]
fn postgres_lists_of_ids_are_sent() {
    lists_of_ids_are_sent(Kind::Postgres);
}
