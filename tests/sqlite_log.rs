//! SQLite's sync log: the view `_audience_logs` has exactly docs/design/interface.md's columns and a row per
//! record over compact rows and per-batch rows, and a database whose log is in an earlier layout
//! (a table, or a view of the rows alone) keeps every row when it moves to the current one.

mod sync_support;

use sync_support::{Kind, audience, edit_config, first_synced, set_up, sync};

/// Every column of the log as text, in the order the rows were written (their finish times).
const ALL_AS_TEXT: &str = "SELECT sync_name, CAST(run_id AS TEXT), primary_key, operation, status, error_reason, \
     CAST(http_status AS TEXT), sync_started_at, sync_finished_at FROM _audience_logs";

/// docs/design/interface.md's columns, in its order.
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
    let (w, _r, config) = set_up(Kind::Sqlite, "log_layout_moved", 1..=5);
    // The earlier layout: a table with docs/design/interface.md's columns, and an index on the run.
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

#[test]
fn succeeded_records_are_kept_a_row_per_batch_and_shown_a_row_each() {
    let (w, r, config) = set_up(Kind::Sqlite, "log_batches", 1..=25);
    // Text keys that JSON has to escape, or that are not ASCII.
    w.exec(r#"INSERT INTO users VALUES (26, 'say "hi" \ there', 'Q'), (27, 'ünïcödé ✓', 'U')"#);
    edit_config(&config, &[("primary_key = \"id\"", "primary_key = \"email\"")]);
    r.reject(&[7]);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64(), s["failed"].as_u64()), (3, Some(26), Some(1)), "{s}\n{err}");

    // The 26 successes are a few batch rows; the failure is a row of its own.
    let batches = w.count("SELECT count(*) FROM _audience_log_batches WHERE sync_name = 'members' AND run_id = 1");
    assert!((3..26).contains(&batches), "{batches} batch rows");
    assert_eq!(w.count("SELECT count(*) FROM _audience_log_rows WHERE status = 0"), 0);
    assert_eq!(w.count("SELECT count(*) FROM _audience_log_rows WHERE status = 1"), 1);

    // The view: a row per record, each key as the model had it, as text.
    let mut expected: Vec<String> = (1..=25).map(|i| format!("u{i}@example.com")).collect();
    expected.extend([r#"say "hi" \ there"#.to_owned(), "ünïcödé ✓".to_owned()]);
    expected.sort();
    let shown = w.rows(
        "SELECT primary_key, operation, status, typeof(primary_key) FROM _audience_logs \
         WHERE sync_name = 'members' AND run_id = 1 ORDER BY primary_key",
    );
    let keys: Vec<&str> = shown.iter().map(|r| r[0].as_deref().unwrap()).collect();
    assert_eq!(keys, expected);
    for row in &shown {
        let failed = row[0].as_deref() == Some("u7@example.com");
        let status = if failed { "failed" } else { "succeeded" };
        assert_eq!(row[1..], [Some("insert".into()), Some(status.into()), Some("text".into())], "{row:?}");
    }

    // `audience logs`: the delta's order (by key), with and without `--failed`.
    let out = audience(&["logs", config.to_str().unwrap(), "--sync", "members", "--format", "json"]);
    let logs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = logs["rows"].as_array().unwrap().iter().map(|r| r["primary_key"].as_str().unwrap()).collect();
    assert_eq!(keys, expected);
    let out = audience(&["logs", config.to_str().unwrap(), "--sync", "members", "--failed", "--format", "json"]);
    let logs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed: Vec<&str> =
        logs["rows"].as_array().unwrap().iter().map(|r| r["primary_key"].as_str().unwrap()).collect();
    assert_eq!(failed, ["u7@example.com"]);
}

#[test]
fn a_log_from_before_the_batches_keeps_its_rows_and_gets_the_new_view() {
    let (w, r, config) = first_synced(Kind::Sqlite, "log_before_batches", 1..=3);
    // The layout before the batches: every record a row, and a view of the rows alone.
    w.exec(
        "DELETE FROM _audience_log_batches; DROP TABLE _audience_log_batches; DROP VIEW _audience_logs; \
         INSERT INTO _audience_log_rows (sync_name, run_id, seq, primary_key, operation, status, finished_ms) \
         VALUES ('members', 1, 1, 1, 2, 0, 1714557601250), ('members', 1, 2, 2, 2, 0, 1714557601250), \
         ('members', 1, 3, 3, 2, 0, 1714557601250); \
         CREATE VIEW _audience_logs AS SELECT l.sync_name AS sync_name, l.run_id AS run_id, \
         CAST(l.primary_key AS TEXT) AS primary_key, 'insert' AS operation, 'succeeded' AS status, \
         NULL AS error_reason, NULL AS http_status, NULL AS sync_started_at, NULL AS sync_finished_at \
         FROM _audience_log_rows AS l",
    );
    // `audience logs` reads it as it is.
    let out = audience(&["logs", config.to_str().unwrap(), "--sync", "members", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let logs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(logs["rows"].as_array().unwrap().len(), 3);

    // The next run replaces the view: the old rows and the new batch both show.
    w.add_users(4..=4);
    let year = || chrono::Datelike::year(&chrono::Utc::now()).to_string();
    let year_before = year();
    let (code, s, err) = sync(&config, &[]);
    let year_after = year();
    assert_eq!(code, 0, "{s}\n{err}");
    let shown = w.rows(
        "SELECT CAST(run_id AS TEXT), primary_key, operation, status, substr(sync_finished_at, 1, 4) \
         FROM _audience_logs ORDER BY run_id, primary_key",
    );
    let shown: Vec<Vec<String>> = shown.into_iter().map(|r| r.into_iter().map(Option::unwrap).collect()).collect();
    let row = |run: &str, key: &str, year: &str| -> Vec<String> {
        vec![run.into(), key.into(), "insert".into(), "succeeded".into(), year.into()]
    };
    let year = &shown[3][4];
    assert_eq!(shown, vec![row("1", "1", "2024"), row("1", "2", "2024"), row("1", "3", "2024"), row("2", "4", year)]);
    // The new batch's time is the clock's during the run, whatever year the test runs in.
    assert!((year_before.as_str()..=year_after.as_str()).contains(&year.as_str()), "{year}");
    drop(r);
}
