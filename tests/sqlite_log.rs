//! SQLite's sync log: the view `_audience_logs` has exactly interface.md's columns over compact
//! rows, and a database whose log is still the earlier table keeps every row when it moves to
//! the view.

mod sync_support;

use sync_support::{Kind, Receiver, Settings, Warehouse, audience, first_synced, sync, write_config};

/// Every column of the log as text, in the order the rows were written (their finish times).
const ALL_AS_TEXT: &str = "SELECT sync_name, CAST(run_id AS TEXT), primary_key, operation, status, error_reason, \
     CAST(http_status AS TEXT), sync_started_at, sync_finished_at FROM _audience_logs";

/// interface.md's columns, in its order.
const COLUMNS: [&str; 9] = [
    "sync_name",
    "run_id",
    "primary_key",
    "operation",
    "status",
    "error_reason",
    "http_status",
    "sync_started_at",
    "sync_finished_at",
];

#[test]
fn the_log_view_has_the_interface_columns_and_text_forms() {
    let (w, r, config) = first_synced(Kind::Sqlite, "log_view_columns", 1..=12);
    w.exec("DELETE FROM users WHERE id = 3");
    w.exec("UPDATE users SET name = 'Changed' WHERE id = 4");
    r.reject(&[5]);
    w.add_users(13..=13);
    w.exec("UPDATE users SET name = 'Again' WHERE id = 5");
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["failed"].as_u64()), (3, Some(1)), "a partial run: {s}\n{err}");

    let columns = w.rows("SELECT name FROM pragma_table_info('_audience_logs') ORDER BY cid");
    let columns: Vec<&str> = columns.iter().map(|c| c[0].as_deref().unwrap()).collect();
    assert_eq!(columns, COLUMNS);

    let run = w.rows(
        "SELECT primary_key, operation, status, CAST(error_reason IS NULL AS TEXT), CAST(http_status AS TEXT), \
         typeof(primary_key), CAST(sync_started_at = (SELECT started_at FROM _audience_runs WHERE run_id = 2) AS TEXT), \
         sync_finished_at \
         FROM _audience_logs WHERE run_id = 2 ORDER BY primary_key",
    );
    let shown: Vec<Vec<String>> =
        run.iter().map(|r| r[..7].iter().map(|c| c.clone().unwrap_or_else(|| "NULL".into())).collect()).collect();
    let row = |k: &str, op: &str, st: &str, no_error: &str, http: &str| -> Vec<String> {
        vec![k.into(), op.into(), st.into(), no_error.into(), http.into(), "text".into(), "1".into()]
    };
    assert_eq!(
        shown,
        vec![
            row("13", "insert", "succeeded", "1", "NULL"),
            row("3", "delete", "succeeded", "1", "NULL"),
            row("4", "update", "succeeded", "1", "NULL"),
            row("5", "update", "failed", "0", "422"),
        ]
    );
    for r in &run {
        let finished = r[7].as_deref().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(finished).is_ok(), "{finished}");
        assert!(finished.len() == 24 && finished.ends_with('Z'), "milliseconds and Z: {finished}");
    }
    // `--failed` and the order of the delta: deletes, updates, inserts.
    let out = audience(&["logs", config.to_str().unwrap(), "--sync", "members", "--format", "json"]);
    let logs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = logs["rows"].as_array().unwrap().iter().map(|r| r["primary_key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["3", "4", "5", "13"]);
    let out = audience(&["logs", config.to_str().unwrap(), "--sync", "members", "--failed", "--format", "json"]);
    let logs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(logs["rows"].as_array().unwrap().len(), 1);
}

#[test]
fn a_log_table_of_the_earlier_layout_moves_to_the_view_with_every_row() {
    let w = Warehouse::new(Kind::Sqlite, "log_layout_moved");
    let r = Receiver::start();
    w.add_users(1..=5);
    let config = write_config(&w, &r, &Settings::default());
    // The earlier layout: a table with interface.md's columns, and an index on the run.
    w.exec(
        "CREATE TABLE _audience_logs (sync_name TEXT NOT NULL, run_id INTEGER NOT NULL, primary_key TEXT, \
         operation TEXT NOT NULL, status TEXT NOT NULL, error_reason TEXT, http_status INTEGER, \
         sync_started_at TEXT NOT NULL, sync_finished_at TEXT NOT NULL)",
    );
    w.exec("CREATE INDEX _audience_logs_run ON _audience_logs (sync_name, run_id)");
    w.exec(
        "CREATE TABLE _audience_runs (sync_name TEXT NOT NULL, run_id INTEGER NOT NULL, started_at TEXT NOT NULL, \
         finished_at TEXT, status TEXT NOT NULL, inserted INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL \
         DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0, invalid INTEGER NOT NULL \
         DEFAULT 0, requests INTEGER NOT NULL DEFAULT 0, config_fingerprint TEXT NOT NULL, full_resync INTEGER NOT \
         NULL DEFAULT 0, error TEXT, host TEXT NOT NULL, pid INTEGER NOT NULL, PRIMARY KEY (sync_name, run_id))",
    );
    w.exec(
        "INSERT INTO _audience_runs (sync_name, run_id, started_at, finished_at, status, config_fingerprint, host, pid) \
         VALUES ('old', 1, '2024-05-01T10:00:00.000Z', '2024-05-01T10:00:02.000Z', 'succeeded', '0', 'h', 1)",
    );
    w.exec(
        "INSERT INTO _audience_logs VALUES \
         ('old', 1, '7', 'insert', 'succeeded', NULL, NULL, '2024-05-01T10:00:00.000Z', '2024-05-01T10:00:01.250Z'), \
         ('old', 1, '8', 'delete', 'failed', 'HTTP 500: busy', 500, '2024-05-01T10:00:00.000Z', '2024-05-01T10:00:01.999Z'), \
         ('old', 1, NULL, 'update', 'invalid', 'the primary key is null', NULL, '2024-05-01T10:00:00.000Z', '2024-05-01T10:00:00.000Z')",
    );
    let old = format!("{ALL_AS_TEXT} WHERE sync_name = 'old' ORDER BY sync_finished_at");
    let before = w.rows(&old);
    assert_eq!(before.len(), 3);

    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");

    let kind = w.rows("SELECT type FROM sqlite_master WHERE name = '_audience_logs'");
    assert_eq!(kind, vec![vec![Some("view".to_owned())]]);
    assert_eq!(w.rows(&old), before, "every row, every value");
    assert_eq!(w.count("SELECT count(*) FROM _audience_logs WHERE sync_name = 'members'"), 5);
    let out = audience(&["logs", config.to_str().unwrap(), "--sync", "members", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The next run finds the view and leaves it as it is.
    w.add_users(6..=6);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!(w.rows(&old), before);
}
