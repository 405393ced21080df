//! The seed's sync settings end to end, each through real syncs on SQLite and PostgreSQL
//! against a receiver on 127.0.0.1: `use_add` with real updates, `retain_logs = false`,
//! `retry_failed = false`, log retention counted in 24-hour days from the run's start,
//! `hash_pii` (normalised hashes at the receiver, a pre-hashed value refused with the seed's
//! message), and a model that lacks a mapped column.

mod sync_support;

use audience::fields::HashAlgorithm;
use sync_support::{Kind, Receiver, Settings, Warehouse, edit_config, first_synced, set_up, sync, write_config};

on_engines!(use_add_sends_updates_in_batches_of_their_own: sqlite Sqlite, postgres Postgres);
on_engines!(without_retain_logs_no_log_row_is_written: sqlite Sqlite, postgres Postgres);
on_engines!(without_retry_failed_failures_are_not_sent_again: sqlite Sqlite, postgres Postgres);
on_engines!(log_retention_counts_24_hour_days_back_from_the_run_start: sqlite Sqlite, postgres Postgres);
on_engines!(hash_pii_hashes_normalised_values_and_refuses_pre_hashed_ones: sqlite Sqlite, postgres Postgres);
on_engines!(a_model_without_a_mapped_column_lists_its_columns: sqlite Sqlite, postgres Postgres);

fn sha256(text: &str) -> String {
    let mut hex = [0; 128];
    HashAlgorithm::Sha256.hash_hex(text.as_bytes(), &mut hex).unwrap().to_owned()
}

/// `(primary key, operation, status)` of run `run`'s log rows, by key as a number.
fn log(w: &Warehouse, run: i64) -> Vec<(i64, String, String)> {
    let mut rows: Vec<_> = w
        .rows(&format!("SELECT primary_key, operation, status FROM {} WHERE run_id = {run}", w.state("logs")))
        .into_iter()
        .map(|r| (r[0].as_deref().unwrap().parse().unwrap(), r[1].clone().unwrap(), r[2].clone().unwrap()))
        .collect();
    rows.sort();
    rows
}

const UPDATE_ACTION: &str = "[destination.actions.update]
method = \"PATCH\"
path = \"/audiences/{{connection.audienceId}}/members\"
batch_size = 10
template = '{\"users\": [$$.records.{\"id\": user_id, \"email\": email, \"name\": name}]}'
";

fn use_add_sends_updates_in_batches_of_their_own(kind: Kind, name: &str) {
    let (w, r, config) = set_up(kind, name, 1..=20);
    edit_config(&config, &[(UPDATE_ACTION, "[destination.actions.update]\nuse_add = true\n")]);
    assert_eq!(sync(&config, &[]).0, 0);
    w.exec("DELETE FROM users WHERE id IN (1, 2)");
    w.exec("UPDATE users SET name = 'Changed' WHERE id IN (3, 4, 5)");
    w.add_users(21..=25);
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!((s["deleted"].as_u64(), s["updated"].as_u64(), s["inserted"].as_u64()), (Some(2), Some(3), Some(5)));
    // Deletes, then the updates with add's method in a request of their own, then the inserts.
    let sent: Vec<(String, Vec<i64>)> = r.requests().into_iter().map(|g| (g.method, g.ids)).collect();
    assert_eq!(
        sent,
        [
            ("DELETE".to_owned(), vec![1, 2]),
            ("POST".to_owned(), vec![3, 4, 5]),
            ("POST".to_owned(), (21..=25).collect())
        ]
    );
    let ops: Vec<(i64, String)> = log(&w, 2).into_iter().map(|(k, op, _)| (k, op)).collect();
    let op = |k: i64| ops.iter().find(|(key, _)| *key == k).map(|(_, o)| o.as_str());
    assert_eq!((op(1), op(3), op(5), op(21)), (Some("delete"), Some("update"), Some("update"), Some("insert")));
    assert_eq!(r.members(), w.expected_members());
}

fn without_retain_logs_no_log_row_is_written(kind: Kind, name: &str) {
    let w = Warehouse::new(kind, name);
    let r = Receiver::start();
    w.add_users(1..=12);
    let settings = Settings { sync_extra: "retain_logs = false".into(), ..Settings::default() };
    let config = write_config(&w, &r, &settings);
    r.reject(&[5]);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64(), s["failed"].as_u64()), (3, Some(11), Some(1)), "{s}\n{err}");
    assert_eq!(w.count(&format!("SELECT count(*) FROM {}", w.state("logs"))), 0);
    // The failure is still sent again next run: only the log is off.
    r.reject(&[]);
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64()), (0, Some(1)), "{s}\n{err}");
    assert_eq!(r.ids("POST"), [5]);
    assert_eq!(w.count(&format!("SELECT count(*) FROM {}", w.state("logs"))), 0);
    assert_eq!(r.members(), w.expected_members());
}

fn without_retry_failed_failures_are_not_sent_again(kind: Kind, name: &str) {
    let w = Warehouse::new(kind, name);
    let r = Receiver::start();
    w.add_users(1..=12);
    let settings = Settings { sync_extra: "retry_failed = false".into(), ..Settings::default() };
    let config = write_config(&w, &r, &settings);
    r.reject(&[5]);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["failed"].as_u64()), (3, Some(1)), "{s}\n{err}");
    assert!(log(&w, 1).contains(&(5, "insert".into(), "failed".into())));
    r.reject(&[]);
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64(), s["requests"].as_u64()), (0, Some(0), Some(0)), "{s}\n{err}");
    assert!(r.requests().is_empty());
    assert!(!r.members().contains_key(&5), "logged only, never sent again");
    // A change of the row is a change like any other: it is sent.
    w.exec("UPDATE users SET name = 'Again' WHERE id = 5");
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["updated"].as_u64()), (0, Some(1)), "{s}\n{err}");
    assert_eq!(r.members(), w.expected_members());
}

fn log_retention_counts_24_hour_days_back_from_the_run_start(kind: Kind, name: &str) {
    let w = Warehouse::new(kind, name);
    let r = Receiver::start();
    let settings = Settings { sync_extra: "log_retention_days = 3".into(), ..Settings::default() };
    let config = write_config(&w, &r, &settings);
    for id in 1..=3 {
        w.add_users([id]);
        assert_eq!(sync(&config, &[]).0, 0);
    }
    // Run 1 started 73 hours ago, run 2 71 hours ago: with 3 days of 72 hours, run 1's rows
    // are past retention and run 2's are not (a calendar-day cut would treat them alike).
    let ago = |hours: i64| match w.kind {
        Kind::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-{hours} hours')"),
        Kind::Postgres => format!("now() - interval '{hours} hours'"),
        Kind::Snowflake => format!("DATEADD(hour, -{hours}, CURRENT_TIMESTAMP())"),
    };
    let runs = w.state("runs");
    w.exec(&format!("UPDATE {runs} SET started_at = {} WHERE run_id = 1", ago(73)));
    w.exec(&format!("UPDATE {runs} SET started_at = {} WHERE run_id = 2", ago(71)));
    w.add_users([4]);
    assert_eq!(sync(&config, &[]).0, 0);
    let logged = w.rows(&format!("SELECT DISTINCT CAST(run_id AS TEXT) FROM {} ORDER BY 1", w.state("logs")));
    let logged: Vec<String> = logged.into_iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(logged, ["2", "3", "4"]);
}

fn hash_pii_hashes_normalised_values_and_refuses_pre_hashed_ones(kind: Kind, name: &str) {
    let (w, r, config) = set_up(kind, name, 1..=6);
    edit_config(
        &config,
        &[
            (
                "[destination.fields.email]\nrequired = true\n",
                "[destination.fields.email]\nrequired = true\nhash = \"sha256\"\nnormalize = \"email\"\n",
            ),
            ("hash_pii = false", "hash_pii = true"),
        ],
    );
    let digest = sha256("u4@example.com");
    w.exec("UPDATE users SET email = '  U3@Example.COM ' WHERE id = 3");
    w.exec(&format!("UPDATE users SET email = '{digest}' WHERE id = 4"));
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64()), (3, Some(5)), "{s}\n{err}");
    let members = r.members();
    assert_eq!(members[&3]["email"], sha256("u3@example.com"), "normalised, then hashed");
    assert_eq!(members[&5]["email"], sha256("u5@example.com"));
    assert!(!members.contains_key(&4));
    let reason = w.rows(&format!("SELECT error_reason FROM {} WHERE primary_key = '4'", w.state("logs")));
    assert_eq!(
        reason,
        [[Some(
            "Hashing is enabled but the value for field email appears to already be hashed. \
             Either disable hashing or send unhashed data."
                .to_owned()
        )]]
    );
}

fn a_model_without_a_mapped_column_lists_its_columns(kind: Kind, name: &str) {
    let (w, r, config) = first_synced(kind, name, 1..=3);
    edit_config(&config, &[("name = \"name\" }", "name = \"nickname\" }")]);
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 1, "{s}\n{err}");
    let error = s["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("the model has no column nickname (mapped to field name); its columns are: id, email, name"),
        "{error}"
    );
    assert!(r.requests().is_empty());
    drop(w);
}
