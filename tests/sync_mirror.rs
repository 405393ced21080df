//! Mirror-mode syncs end to end, on SQLite, PostgreSQL and Snowflake (fakesnow): the `audience`
//! binary against a receiver on 127.0.0.1 that keeps the audience's membership, compared with
//! the model after every run.

mod sync_support;

use std::time::Duration;

use sync_support::{Kind, Receiver, Settings, Warehouse, audience, set_up, sync, write_config};

on_engines!(first_run_sends_everything_then_only_changes);
on_engines!(failed_records_are_retried_next_run);
on_engines!(invalid_rows_are_logged_and_never_sent);
on_engines!(a_first_run_with_invalid_rows_sends_the_valid_ones);
on_engines!(mass_removal_guard_stops_a_run);
on_engines!(retention_keeps_what_it_should);
on_engines!(dry_run_sends_and_leaves_nothing);
on_engines!(kill_9_loses_nothing);
on_engines!(a_held_lock_stops_a_second_run);
on_engines!(config_change_is_a_full_resync);

fn first_run_sends_everything_then_only_changes(kind: Kind, name: &str) {
    let w = Warehouse::new(kind, name);
    let r = Receiver::start();
    w.add_users(1..=35);
    let config = write_config(&w, &r, &Settings::default());

    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!(
        (s["status"].as_str(), s["inserted"].as_u64(), s["run_id"].as_i64()),
        (Some("succeeded"), Some(35), Some(1))
    );
    assert_eq!(s["requests"], 4, "35 records in batches of 10");
    assert_eq!(r.members(), w.expected_members());
    // Two requests may be in flight at once, so they may arrive in any order; each holds its
    // records in primary-key order, and together they are the whole model.
    let mut sent = r.ids("POST");
    for got in r.requests() {
        assert!(got.ids.is_sorted(), "{:?}", got.ids);
    }
    sent.sort_unstable();
    assert_eq!(sent, (1..=35).collect::<Vec<_>>());

    // Two updates, three deletes, four inserts.
    w.exec("UPDATE users SET name = 'changed' WHERE id IN (3, 30)");
    w.exec("DELETE FROM users WHERE id IN (1, 2, 20)");
    w.add_users(40..=43);
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!((s["inserted"].as_u64(), s["updated"].as_u64(), s["deleted"].as_u64()), (Some(4), Some(2), Some(3)));
    assert_eq!(r.ids("DELETE"), [1, 2, 20]);
    assert_eq!(r.ids("PATCH"), [3, 30]);
    assert_eq!(r.ids("POST"), [40, 41, 42, 43]);
    let methods: Vec<String> = r.requests().iter().map(|g| g.method.clone()).collect();
    assert_eq!(methods, ["DELETE", "PATCH", "POST"], "deletes first, then updates, then inserts");
    assert_eq!(r.members(), w.expected_members());
    // A removal carries the image that was sent (the row is gone from the model).
    let removal = &r.requests()[0].body["users"][0];
    assert_eq!(removal["email"], "u1@example.com");

    // The log: one row per record of the delta, with docs/design/interface.md's columns.
    let logs = w.rows(&format!(
        "SELECT primary_key, operation, status, error_reason, CAST(http_status AS TEXT), \
         CAST(sync_started_at AS TEXT), CAST(sync_finished_at AS TEXT) FROM {} WHERE run_id = 2 ORDER BY operation, primary_key",
        w.state("logs")
    ));
    let brief: Vec<(String, String, String)> =
        logs.iter().map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap(), r[2].clone().unwrap())).collect();
    let want = [
        ("1", "delete"),
        ("2", "delete"),
        ("20", "delete"),
        ("40", "insert"),
        ("41", "insert"),
        ("42", "insert"),
        ("43", "insert"),
        ("3", "update"),
        ("30", "update"),
    ];
    assert_eq!(brief, want.map(|(k, o)| (k.to_owned(), o.to_owned(), "succeeded".to_owned())));

    // Nothing changed: nothing sent, nothing logged.
    r.clear_log();
    let (code, s, _) = sync(&config, &[]);
    assert_eq!((code, s["requests"].as_u64(), s["run_id"].as_i64()), (0, Some(0), Some(3)));
    assert!(r.requests().is_empty());
    assert_eq!(w.count(&format!("SELECT count(*) FROM {} WHERE run_id = 3", w.state("logs"))), 0);

    // `audience logs`: the latest run by default, JSON as docs/design/interface.md says.
    let out = audience(&["logs", config.to_str().unwrap(), "--sync", "members", "--run", "2", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let logs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((logs["sync"].as_str(), logs["run_id"].as_i64()), (Some("members"), Some(2)));
    assert_eq!(logs["rows"].as_array().unwrap().len(), 9);
    let row = logs["rows"][0].as_object().unwrap();
    let keys: Vec<&str> = row.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["primary_key", "operation", "status", "error_reason", "http_status", "sync_started_at", "sync_finished_at"]
    );
    assert!(row["sync_started_at"].as_str().unwrap().ends_with('Z'), "{row:?}");
}

fn failed_records_are_retried_next_run(kind: Kind, name: &str) {
    let w = Warehouse::new(kind, name);
    let r = Receiver::start();
    w.add_users(1..=20);
    // A record the pipeline rejects (a required field is null) fails without being sent.
    w.exec("INSERT INTO users (id, email, name) VALUES (21, NULL, 'no e-mail')");
    let config = write_config(&w, &r, &Settings::default());
    r.reject(&[7, 15]);

    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 3, "some records failed: {s}\n{err}");
    assert_eq!(
        (s["status"].as_str(), s["inserted"].as_u64(), s["failed"].as_u64()),
        (Some("partial"), Some(18), Some(3))
    );
    let failed = w.rows(&format!(
        "SELECT primary_key, CAST(http_status AS TEXT), error_reason FROM {} WHERE status = 'failed' ORDER BY primary_key",
        w.state("logs")
    ));
    assert_eq!(failed.len(), 3);
    assert_eq!((failed[0][0].as_deref(), failed[0][1].as_deref()), (Some("15"), Some("422")));
    assert!(failed[0][2].as_deref().unwrap().starts_with("HTTP 422"), "{failed:?}");
    assert_eq!((failed[1][0].as_deref(), failed[1][1].as_deref()), (Some("21"), None));
    assert_eq!(failed[1][2].as_deref(), Some("required field email is empty or not mapped"));
    assert!(!r.members().contains_key(&7));

    // The API accepts them now: the next run sends exactly the failed ones.
    r.reject(&[]);
    w.exec("UPDATE users SET email = 'u21@example.com' WHERE id = 21");
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    let mut sent = r.ids("POST");
    sent.sort_unstable();
    assert_eq!(sent, [7, 15, 21]);
    assert_eq!(r.members(), w.expected_members());
}

fn invalid_rows_are_logged_and_never_sent(kind: Kind, name: &str) {
    let w = Warehouse::new(kind, name);
    let r = Receiver::start();
    w.add_users(1..=10);
    let config = write_config(&w, &r, &Settings::default());
    assert_eq!(sync(&config, &[]).0, 0);

    // Key 5 turns duplicate (its member must stay as it is), 11 arrives twice, one row has none.
    w.exec(
        "INSERT INTO users (id, email, name) VALUES (5, 'other@example.com', 'dup'), (11, 'a@example.com', 'a'), \
         (11, 'b@example.com', 'b'), (NULL, 'nokey@example.com', 'x')",
    );
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 3, "invalid rows: {s}\n{err}");
    assert_eq!((s["invalid"].as_u64(), s["requests"].as_u64()), (Some(5), Some(0)));
    assert!(r.requests().is_empty(), "invalid rows are never sent, and member 5 is not removed");
    assert!(r.members().contains_key(&5));
    let invalid = w.rows(&format!(
        "SELECT primary_key, operation, error_reason FROM {} WHERE status = 'invalid' ORDER BY primary_key, error_reason",
        w.state("logs")
    ));
    assert_eq!(invalid.len(), 5, "one log row per invalid row: {invalid:?}");
    let null_key = invalid.iter().find(|r| r[0].is_none()).unwrap();
    assert_eq!(null_key[2].as_deref(), Some("the primary key is null"));
    let five: Vec<_> = invalid.iter().filter(|r| r[0].as_deref() == Some("5")).collect();
    assert_eq!(five.len(), 2);
    assert_eq!(five[0][1].as_deref(), Some("update"), "5 is a member");
    assert!(five[0][2].as_deref().unwrap().contains("not unique: 2 rows"), "{five:?}");
}

fn a_first_run_with_invalid_rows_sends_the_valid_ones(kind: Kind, name: &str) {
    let (w, r, config) = set_up(kind, name, 1..=25);
    // Before any member: key 7 on two rows, 30 on three, one row without a key.
    w.exec(
        "INSERT INTO users (id, email, name) VALUES (7, 'again@example.com', 'dup'), (30, 'a@example.com', 'a'), \
         (30, 'b@example.com', 'b'), (30, 'c@example.com', 'c'), (NULL, 'nokey@example.com', 'x')",
    );
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 3, "invalid rows: {s}\n{err}");
    assert_eq!((s["inserted"].as_u64(), s["invalid"].as_u64()), (Some(24), Some(6)), "{s}");
    let mut sent: Vec<i64> = r.members().keys().copied().collect();
    sent.sort_unstable();
    assert_eq!(sent, (1..=25).filter(|&i| i != 7).collect::<Vec<_>>());

    // Once key 7 is unique again it is sent; nothing else is.
    w.exec("DELETE FROM users WHERE name = 'dup'");
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 3, "the other invalid rows stay: {s}\n{err}");
    assert_eq!((s["inserted"].as_u64(), s["updated"].as_u64(), s["deleted"].as_u64()), (Some(1), Some(0), Some(0)));
    assert!(r.members().contains_key(&7));
}

fn mass_removal_guard_stops_a_run(kind: Kind, name: &str) {
    let w = Warehouse::new(kind, name);
    let r = Receiver::start();
    w.add_users(1..=120);
    let settings = Settings { batch_size: 50, ..Settings::default() };
    let config = write_config(&w, &r, &settings);
    assert_eq!(sync(&config, &[]).0, 0);
    assert_eq!(r.members().len(), 120);

    // The model broke and returns nothing: the run stops before sending anything.
    w.exec("DELETE FROM users");
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 1, "{s}\n{err}");
    assert_eq!(s["status"], "stopped");
    let error = s["error"].as_str().unwrap();
    assert!(error.contains("remove 120 of 120 members") && error.contains("--allow-mass-removal"), "{error}");
    assert!(r.requests().is_empty());
    assert_eq!(w.count(&format!("SELECT count(*) FROM {}", baseline(&w))), 120, "the baseline is untouched");

    // Asked for: it goes ahead and empties the audience.
    let (code, s, err) = sync(&config, &["--allow-mass-removal"]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!(s["deleted"], 120);
    assert!(r.members().is_empty());
}

fn baseline(w: &Warehouse) -> String {
    w.baseline()
}

fn retention_keeps_what_it_should(kind: Kind, name: &str) {
    let w = Warehouse::new(kind, name);
    let r = Receiver::start();
    w.add_users(1..=5);
    let settings =
        Settings { sync_extra: "snapshot_retention = 2\nlog_retention_days = 3".into(), ..Settings::default() };
    let config = write_config(&w, &r, &settings);
    for i in 0..4 {
        w.add_users([100 + i]);
        assert_eq!(sync(&config, &[]).0, 0);
    }
    let snapshots: Vec<String> = w.state_tables().into_iter().filter(|t| t.contains("snapshot_members_")).collect();
    assert_eq!(snapshots.len(), 2, "{snapshots:?}");
    assert!(
        snapshots.iter().any(|t| t.ends_with("_3")) && snapshots.iter().any(|t| t.ends_with("_4")),
        "{snapshots:?}"
    );
    assert!(!w.state_tables().iter().any(|t| t.contains("delta_")), "the delta is dropped after a run");

    // Runs 1 and 2 started long ago: their log rows are past log_retention_days.
    let old = match kind {
        Kind::Sqlite => "'2000-01-01T00:00:00.000Z'",
        Kind::Postgres | Kind::Snowflake => "'2000-01-01T00:00:00Z'",
    };
    w.exec(&format!("UPDATE {} SET started_at = {old} WHERE run_id <= 2", w.state("runs")));
    w.add_users([200]);
    assert_eq!(sync(&config, &[]).0, 0);
    let runs_logged = w.rows(&format!("SELECT DISTINCT CAST(run_id AS TEXT) FROM {} ORDER BY 1", w.state("logs")));
    let runs_logged: Vec<String> = runs_logged.into_iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(runs_logged, ["3", "4", "5"]);
    assert_eq!(w.count(&format!("SELECT count(*) FROM {}", baseline(&w))), 10, "the baseline is never retained away");
}

fn dry_run_sends_and_leaves_nothing(kind: Kind, name: &str) {
    let w = Warehouse::new(kind, name);
    let r = Receiver::start();
    w.add_users(1..=12);
    let config = write_config(&w, &r, &Settings::default());

    // On a fresh warehouse: not even the state tables.
    let (code, s, err) = sync(&config, &["--dry-run"]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!((s["dry_run"].as_bool(), s["inserted"].as_u64(), s["run_id"].is_null()), (Some(true), Some(12), true));
    assert_eq!(s["samples"]["add"]["method"], "POST");
    assert_eq!(s["samples"]["add"]["body"]["users"].as_array().unwrap().len(), 10, "the first request");
    assert!(r.requests().is_empty());
    assert!(!w.has_state(), "{:?}", w.state_tables());

    assert_eq!(sync(&config, &[]).0, 0);
    let tables = w.state_tables();
    let logs = w.count(&format!("SELECT count(*) FROM {}", w.state("logs")));
    w.exec("DELETE FROM users WHERE id = 1");
    w.exec("UPDATE users SET name = 'x' WHERE id = 2");
    w.add_users([13]);
    r.clear_log();
    let (code, s, err) = sync(&config, &["--dry-run"]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!((s["inserted"].as_u64(), s["updated"].as_u64(), s["deleted"].as_u64()), (Some(1), Some(1), Some(1)));
    assert_eq!(s["samples"]["remove"]["body"]["users"][0]["id"], 1);
    assert!(r.requests().is_empty());
    assert_eq!(w.state_tables(), tables, "no table left behind");
    assert_eq!(w.count(&format!("SELECT count(*) FROM {}", w.state("logs"))), logs, "no log row");
    assert_eq!(w.count(&format!("SELECT count(*) FROM {}", w.state("runs"))), 1, "no run row");
    assert_eq!(w.count(&format!("SELECT count(*) FROM {} WHERE {}", baseline(&w), w.baseline_key_is(1))), 1);
    // The real run then sends exactly what the dry run announced.
    let (code, s, _) = sync(&config, &[]);
    assert_eq!(
        (code, s["inserted"].as_u64(), s["updated"].as_u64(), s["deleted"].as_u64()),
        (0, Some(1), Some(1), Some(1))
    );
}

fn kill_9_loses_nothing(kind: Kind, name: &str) {
    let w = Warehouse::new(kind, name);
    let r = Receiver::start();
    let config = sync_support::kill_9_after_two_batches(&w, &r);
    let logs = w.state("logs");

    if kind == Kind::Snowflake {
        // Recorded as two journal rows, one statement each: the baseline and the log rows are
        // derived from them when the run ends, or by the next run when it died.
        let journal = w.rows(&format!(
            "SELECT CAST(seq_lo AS TEXT), CAST(seq_hi AS TEXT) FROM {} WHERE run_id = 1 ORDER BY seq_lo",
            w.state("outcomes")
        ));
        let journal: Vec<(String, String)> =
            journal.into_iter().map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap())).collect();
        assert_eq!(journal, [("1".to_owned(), "10".to_owned()), ("11".to_owned(), "20".to_owned())]);
        assert_eq!(w.count(&format!("SELECT count(*) FROM {}", baseline(&w))), 0, "moved at the end of a run");
    } else {
        assert_eq!(w.count(&format!("SELECT count(*) FROM {logs} WHERE status = 'succeeded'")), 20);
        assert_eq!(w.count(&format!("SELECT count(*) FROM {}", baseline(&w))), 20, "only what the API confirmed");
    }
    assert_eq!(w.count(&format!("SELECT count(*) FROM {} WHERE status = 'running'", w.state("runs"))), 1);

    // The rerun recovers the dead run's lock and sends exactly what was not confirmed.
    r.release();
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    // Requests run concurrently, so they may arrive in any order: compare the records sent.
    // A request of the dead run that was in flight at the kill (a retry of the held batch, on a
    // slow machine) may reach the log after it was cleared: its records are among 21..=50, and
    // sending them twice is what the design allows. The rerun's own log rows are counted below.
    let mut sent = r.ids("POST");
    sent.sort_unstable();
    sent.dedup();
    assert_eq!(
        sent,
        (21..=50).collect::<Vec<_>>(),
        "nothing confirmed before the crash is sent again: {:?}",
        r.requests().iter().map(|g| (g.method.clone(), g.status, g.ids.clone())).collect::<Vec<_>>()
    );
    assert_eq!(r.members(), w.expected_members(), "nothing lost");
    if kind == Kind::Sqlite {
        assert!(err.contains("took over the stale lock") && err.contains("its process is gone"), "{err}");
    }
    // The dead run's confirmed records are logged as its own, by whichever run applied them.
    assert_eq!(w.count(&format!("SELECT count(*) FROM {logs} WHERE run_id = 1 AND status = 'succeeded'")), 20);
    assert_eq!(w.count(&format!("SELECT count(*) FROM {logs} WHERE run_id = 2")), 30);
    let dead = w.rows(&format!("SELECT status, error FROM {} WHERE run_id = 1", w.state("runs")));
    assert_eq!(dead[0][0].as_deref(), Some("abandoned"), "a run found dead by the next: {dead:?}");
    assert!(dead[0][1].as_deref().unwrap().starts_with("abandoned"), "{dead:?}");
}

fn a_held_lock_stops_a_second_run(kind: Kind, name: &str) {
    let w = Warehouse::new(kind, name);
    let r = Receiver::start();
    w.add_users(1..=5);
    let config = write_config(&w, &r, &Settings::default());
    r.hold(0);
    let mut first = sync_support::spawn_sync_quietly(&config);
    r.wait_for(1, Duration::from_secs(60));
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 1, "{s}\n{err}");
    assert_eq!(s["status"], "stopped");
    let error = s["error"].as_str().unwrap();
    assert!(error.contains("holds the lock"), "{error}");
    if kind == Kind::Sqlite {
        assert!(error.contains(&format!("process {}", first.id())), "names the holder: {error}");
    }
    r.release();
    assert!(first.wait().unwrap().success());
    assert_eq!(r.members(), w.expected_members());
}

fn config_change_is_a_full_resync(kind: Kind, name: &str) {
    let w = Warehouse::new(kind, name);
    let r = Receiver::start();
    w.add_users(1..=8);
    let config = write_config(&w, &r, &Settings::default());
    assert_eq!(sync(&config, &[]).0, 0);
    // Rotating nothing that shapes requests (the timeout) resends nothing.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("timeout = \"10s\"", "timeout = \"20s\"")).unwrap();
    r.clear_log();
    assert_eq!(sync(&config, &[]).0, 0);
    assert!(r.requests().is_empty());
    // A changed audience name does: every member again as an add.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("audience_name = \"Members\"", "audience_name = \"Renamed\"")).unwrap();
    w.exec("DELETE FROM users WHERE id = 8");
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!((s["inserted"].as_u64(), s["deleted"].as_u64()), (Some(7), Some(1)));
    // `--full-resync` forces the same.
    r.clear_log();
    let (code, s, _) = sync(&config, &["--full-resync"]);
    assert_eq!((code, s["inserted"].as_u64()), (0, Some(7)));
    assert_eq!(r.ids("POST"), (1..=7).collect::<Vec<_>>());
    r.clear_log();
    assert_eq!(sync(&config, &[]).1["requests"], 0);
    assert_eq!(r.members(), w.expected_members());
}

/// Key-pair authentication end to end: a sync whose Snowflake source names the test's private
/// key logs in with it (the JWT itself is checked in tests/snowflake_protocol.rs), and an
/// encrypted key stops the run with an error that says how to decrypt it, never the passphrase.
#[test]
fn snowflake_key_pair_sources() {
    let w = Warehouse::new(Kind::Snowflake, "key_pair");
    let r = Receiver::start();
    w.add_users(1..=12);
    let config = write_config(&w, &r, &Settings::default());
    let key = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/snowflake/rsa_key.p8");
    sync_support::edit_config(&config, &[("password=any-password", &format!("private_key_file={key}"))]);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64()), (0, Some(12)), "{s}\n{err}");
    assert_eq!(r.members(), w.expected_members());

    let encrypted = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/snowflake/rsa_key_encrypted.p8");
    sync_support::edit_config(&config, &[(key, &format!("{encrypted}&private_key_passphrase=PASSPHRASE-canary"))]);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 1, "{s}\n{err}");
    let error = s["error"].as_str().unwrap();
    assert!(error.contains("rsa_key_encrypted.p8") && error.contains("openssl pkcs8"), "{error}");
    assert!(!error.contains("PASSPHRASE-canary") && !err.contains("PASSPHRASE-canary"), "{error}\n{err}");
}

/// PostgreSQL: a run's own tables (its snapshot and delta, rebuilt by the next run if lost) are
/// kept out of the write-ahead log; what must survive a crash of the server (the baseline, the
/// log, the runs) is not. Looked at while a run is in progress, its first request held.
#[test]
fn postgres_keeps_only_per_run_tables_out_of_the_log() {
    let w = Warehouse::new(Kind::Postgres, "unlogged_run_tables");
    let r = Receiver::start();
    w.add_users(1..=5);
    let config = write_config(&w, &r, &Settings::default());
    r.hold(0);
    let mut run = sync_support::spawn_sync_quietly(&config);
    r.wait_for(1, Duration::from_secs(60));
    let persistence = w.rows(
        "SELECT c.relname::text, c.relpersistence::text FROM pg_class AS c JOIN pg_namespace AS n \
         ON n.oid = c.relnamespace WHERE n.nspname = '_audience' AND c.relkind = 'r' ORDER BY 1",
    );
    r.release();
    assert!(run.wait().unwrap().success());
    let persistence: Vec<(String, String)> =
        persistence.into_iter().map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap())).collect();
    let of = |name: &str| persistence.iter().find(|(n, _)| n == name).map(|(_, p)| p.as_str());
    assert_eq!(of("snapshot_members_1"), Some("u"), "{persistence:?}");
    assert_eq!(of("delta_members-1"), Some("u"), "{persistence:?}");
    for kept in ["baseline_members", "logs", "runs", "locks"] {
        assert_eq!(of(kept), Some("p"), "{kept} must be crash-safe: {persistence:?}");
    }
    assert_eq!(r.members(), w.expected_members());
}
