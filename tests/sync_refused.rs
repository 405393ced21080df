//! Records refused inside a 200 answer, through real syncs against an API on 127.0.0.1: each
//! shape of `[destination.actions.NAME.response]` (by index, by a status per position, by the
//! value of a field), the refused records logged failed with the API's reasons and sent again
//! next run, every other record succeeded; and answers that name a record twice or name none.

mod sync_support;

use std::path::Path;

use sync_support::{Kind, Receiver, Refusals, Warehouse, edit_config, set_up, sync};

const BY_INDEX: &str = r#"failures = "errors"
index = "index"
reason = "message""#;

const BY_STATUS: &str = r#"failures = "results"
status = "status"
ok = ["ok"]
reason = "error""#;

const BY_EMAIL: &str = r#"failures = "rejected"
field = "email"
value = "identifier"
reason = "why""#;

/// Gives add (and so update, with `use_add`) the response setting `table`.
fn with_response(config: &Path, table: &str) {
    edit_config(
        config,
        &[(
            "[destination.actions.update]\n",
            &format!("[destination.actions.add.response]\n{table}\n[destination.actions.update]\n"),
        )],
    );
}

/// The log rows of run `run`: (primary key, status, http status, reason), by key as a number.
fn log(w: &Warehouse, run: i64) -> Vec<(i64, String, Option<String>, Option<String>)> {
    let mut rows: Vec<_> = w
        .rows(&format!(
            "SELECT primary_key, status, CAST(http_status AS TEXT), error_reason FROM {} WHERE run_id = {run}",
            w.state("logs")
        ))
        .into_iter()
        .map(|r| (r[0].as_deref().unwrap().parse::<i64>().unwrap(), r[1].clone().unwrap(), r[2].clone(), r[3].clone()))
        .collect();
    rows.sort();
    rows
}

/// A first run where the API refuses users 4 and 17 inside its 200 answers, then a second
/// where it takes them: returns what the second run's requests carried.
fn refused_then_resent(kind: Kind, name: &str, table: &str, refusals: Refusals) -> (Warehouse, Receiver) {
    let (w, r, config) = set_up(kind, name, 1..=30);
    with_response(&config, table);
    r.refuse(&[4, 17], refusals);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64(), s["failed"].as_u64()), (3, Some(28), Some(2)), "{s}\n{err}");

    let rows = log(&w, 1);
    assert_eq!(rows.len(), 30);
    for (key, status, http, reason) in &rows {
        if [4, 17].contains(key) {
            assert_eq!((status.as_str(), http.as_deref()), ("failed", Some("200")), "{key}");
            let reason = reason.as_deref().unwrap();
            assert!(reason.contains(&format!("user {key} is not allowed")), "{key}: {reason}");
        } else {
            assert_eq!((status.as_str(), http.as_deref(), reason.as_deref()), ("succeeded", None, None), "{key}");
        }
    }
    let mut expected = w.expected_members();
    expected.remove(&4);
    expected.remove(&17);
    assert_eq!(r.members(), expected);

    // The API takes them now: the next run sends exactly the refused two.
    r.refuse(&[], refusals);
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64(), s["failed"].as_u64()), (0, Some(2), Some(0)), "{s}\n{err}");
    assert_eq!(r.ids("POST"), [4, 17]);
    assert_eq!(r.members(), w.expected_members());
    let rows = log(&w, 2);
    assert_eq!(rows.iter().map(|r| (r.0, r.1.as_str())).collect::<Vec<_>>(), [(4, "succeeded"), (17, "succeeded")]);
    (w, r)
}

/// Each response shape on both engines.
macro_rules! shape {
    ($name:ident, $db:literal, $table:expr, $refusals:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn sqlite() {
                refused_then_resent(Kind::Sqlite, $db, $table, $refusals);
            }
            #[test]
            fn postgres() {
                refused_then_resent(Kind::Postgres, $db, $table, $refusals);
            }
        }
    };
}

shape!(refused_by_index_fail_alone_and_are_resent, "refused_by_index", BY_INDEX, Refusals::ByIndex);
shape!(refused_by_a_status_per_position_fail_alone_and_are_resent, "refused_by_status", BY_STATUS, Refusals::ByStatus);
shape!(refused_by_identifier_fail_alone_and_are_resent, "refused_by_email", BY_EMAIL, Refusals::ByEmail);

#[test]
fn a_record_named_twice_fails_once_with_both_reasons() {
    let (w, r, config) = set_up(Kind::Sqlite, "refused_twice", 1..=20);
    with_response(&config, BY_INDEX);
    r.refuse(&[6], Refusals::Twice);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64(), s["failed"].as_u64()), (3, Some(19), Some(1)), "{s}\n{err}");
    let rows = log(&w, 1);
    assert_eq!(rows.len(), 20, "one row per record, the twice named included");
    let (_, status, http, reason) = rows.iter().find(|row| row.0 == 6).unwrap();
    assert_eq!((status.as_str(), http.as_deref()), ("failed", Some("200")));
    assert_eq!(reason.as_deref(), Some("HTTP 200 OK: refused: user 6 is not allowed; named again"));
}

#[test]
fn an_entry_naming_no_record_fails_the_whole_request_for_the_next_run() {
    let (w, r, config) = set_up(Kind::Sqlite, "refused_unknown", 1..=20);
    with_response(&config, BY_INDEX);
    // Users 1 to 10 go in one request (batches of 10); its answer also names index 999.
    r.refuse(&[6], Refusals::Unknown);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64(), s["failed"].as_u64()), (3, Some(10), Some(10)), "{s}\n{err}");
    for (key, status, http, reason) in log(&w, 1) {
        if key <= 10 {
            assert_eq!((status.as_str(), http.as_deref()), ("failed", Some("200")), "{key}");
            let reason = reason.unwrap();
            assert!(
                reason.contains(
                    "entry 1 of the response names no record of the request of 10 records (its `index` is 999)"
                ),
                "{reason}"
            );
            assert!(reason.contains("sent again next run"), "{reason}");
        } else {
            assert_eq!(status, "succeeded", "{key}");
        }
    }
    r.refuse(&[], Refusals::Unknown);
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64()), (0, Some(10)), "{s}\n{err}");
    assert_eq!(r.ids("POST"), (1..=10).collect::<Vec<i64>>());
    assert_eq!(r.members(), w.expected_members());
}

#[test]
fn updates_through_use_add_read_the_same_response() {
    let (w, r, config) = set_up(Kind::Sqlite, "refused_use_add", 1..=12);
    edit_config(
        &config,
        &[(
            "method = \"PATCH\"\npath = \"/audiences/{{connection.audienceId}}/members\"\nbatch_size = 10\ntemplate = '{\"users\": [$$.records.{\"id\": user_id, \"email\": email, \"name\": name}]}'\n",
            "use_add = true\n",
        )],
    );
    with_response(&config, BY_INDEX);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    w.exec("UPDATE users SET name = 'Changed' WHERE id IN (2, 3)");
    r.refuse(&[3], Refusals::ByIndex);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["updated"].as_u64(), s["failed"].as_u64()), (3, Some(1), Some(1)), "{s}\n{err}");
    let failed: Vec<_> = log(&w, 2).into_iter().filter(|r| r.1 == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, 3);
    assert!(failed[0].3.as_deref().unwrap().contains("user 3 is not allowed"));
}
