//! The state tables' schema version: a warehouse written before versions were recorded (by the
//! release at commit 8f61bcf) is upgraded in place by the next run and goes on syncing, sending
//! nothing the API already accepted; state tables newer than the binary are refused, by a run,
//! a dry run and `audience logs`, and left as they are. Version 4 changed PostgreSQL's row
//! fingerprint: a baseline of version 3 (its fingerprints written here with the old SQL) is
//! rewritten in place by the next run, which sends only what changed, and a dry run on it
//! counts the same delta; SQLite and Snowflake step from 3 to 4 with no table changed.
//!
//! `tests/upgrade/` holds what that release wrote: `main-8f61bcf.db`, the SQLite warehouse after
//! one run of `main-8f61bcf.toml` (30 users sent), and the layout of its state tables
//! (`main-8f61bcf-sqlite-layout.sql`, from `sqlite_master`).

mod sync_support;

use std::path::{Path, PathBuf};

use sync_support::{Kind, Warehouse, audience, first_synced, sync};

on_engines!(the_layout_before_versions_is_upgraded_and_goes_on_syncing: sqlite Sqlite, postgres Postgres);
on_engines!(a_newer_schema_is_refused_and_left_alone: sqlite Sqlite, postgres Postgres);

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/upgrade");

/// The schema version this binary writes.
const CURRENT: i64 = 4;

/// The lock row's identity columns version 2 added, as SQLite's `ADD COLUMN` appends them to
/// the table's SQL.
const LOCK_IDENTITY: &str = ", token TEXT, boot_id TEXT, pid_ns INTEGER, start_time INTEGER, lease_ms INTEGER";

/// The run tallies version 3 added, as SQLite's `ADD COLUMN` writes them into the table's SQL.
const RUN_TALLIES: &str = ", retries INTEGER NOT NULL DEFAULT 0, splits INTEGER NOT NULL DEFAULT 0, reasons TEXT";

/// `audience runs CONFIG --format json`: the runs listed.
fn runs(config: &Path) -> Vec<serde_json::Value> {
    let out = audience(&["runs", config.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["runs"].as_array().cloned().unwrap_or_default()
}

/// The recorded schema version, `None` when no version table exists.
fn version(w: &Warehouse) -> Option<i64> {
    let exists = match w.kind {
        Kind::Sqlite => "SELECT count(*) FROM sqlite_master WHERE name = '_audience_schema'",
        Kind::Postgres => "SELECT count(*) FROM pg_tables WHERE schemaname = '_audience' AND tablename = 'schema'",
        Kind::Snowflake => {
            "SELECT count(*) FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = '_AUDIENCE' AND TABLE_NAME = 'SCHEMA'"
        }
    };
    (w.count(exists) > 0).then(|| w.count(&format!("SELECT max(version) FROM {}", w.state("schema"))))
}

/// PostgreSQL's row fingerprint before version 4 (SHA-256 of the `jsonb` text of the image
/// columns, its first 64 bits) of the baseline's row `b`: the image columns, in the order the
/// fingerprint takes them, are those of run `run`'s snapshot between the key and the
/// fingerprint.
fn sha256_fingerprint(w: &Warehouse, run: i64) -> String {
    let image: Vec<String> = w
        .rows(&format!(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = '_audience' \
             AND table_name = 'snapshot_members_{run}' AND column_name::text NOT IN ('_audience_key', '_audience_fp') \
             ORDER BY ordinal_position"
        ))
        .into_iter()
        .map(|r| format!("b.\"{}\"", r[0].as_deref().unwrap()))
        .collect();
    assert!(!image.is_empty(), "run {run}'s snapshot has image columns");
    format!(
        "('x' || substr(encode(sha256(convert_to((jsonb_build_array({}))::text, 'UTF8')), 'hex'), 1, 16))::bit(64)::bigint",
        image.join(", ")
    )
}

/// The baseline's (key, fingerprint, configuration) rows in key order, as text.
fn baseline_rows(w: &Warehouse) -> Vec<Vec<Option<String>>> {
    w.rows(&format!(
        "SELECT CAST(\"_audience_key\" AS text), CAST(\"_audience_fp\" AS text), CAST(\"_audience_config\" AS text) \
         FROM {} ORDER BY \"_audience_key\"",
        w.baseline()
    ))
}

/// The state tables' layout in SQLite: each object's SQL, in name order.
fn sqlite_layout(path: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt =
        conn.prepare("SELECT sql FROM sqlite_master WHERE name LIKE '\\_audience%' ESCAPE '\\' ORDER BY name").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

/// The layout the release before versions wrote, as `tests/upgrade/` keeps it.
fn layout_before_versions() -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("main-8f61bcf-sqlite-layout.sql")).unwrap();
    text.split(";\n").filter(|s| !s.trim().is_empty()).map(str::to_owned).collect()
}

fn the_layout_before_versions_is_upgraded_and_goes_on_syncing(kind: Kind, name: &str) {
    let (w, r, config) = first_synced(kind, name, 1..=30);
    assert_eq!(version(&w), Some(CURRENT), "a new warehouse records the current version");
    // Back to the layout before versions: the same tables without the version table, the
    // locks table without the identity columns of version 2, and the runs table without the
    // tallies of version 3.
    match kind {
        Kind::Sqlite => {
            w.exec("DROP TABLE \"_audience_schema\"");
            let old = layout_before_versions().into_iter().find(|sql| sql.contains("_audience_locks")).unwrap();
            w.exec("DROP TABLE \"_audience_locks\"");
            w.exec(&old);
        }
        Kind::Postgres => {
            w.exec("DROP TABLE \"_audience\".\"schema\"");
            for column in ["token", "boot_id", "pid_ns", "start_time", "lease_ms"] {
                w.exec(&format!("ALTER TABLE \"_audience\".\"locks\" DROP COLUMN {column}"));
            }
            // And the fingerprints every version before 4 wrote.
            w.exec(&format!("UPDATE {} AS b SET \"_audience_fp\" = {}", w.baseline(), sha256_fingerprint(&w, 1)));
        }
        // Snowflake's state tables began at version 3: there is no older layout to upgrade.
        Kind::Snowflake => panic!("no layout before versions on Snowflake"),
    }
    for column in ["retries", "splits", "reasons"] {
        w.exec(&format!("ALTER TABLE {} DROP COLUMN {column}", w.state("runs")));
    }
    if kind == Kind::Sqlite {
        assert_eq!(sqlite_layout(w.path()), layout_before_versions(), "the layout the release before versions wrote");
    }
    // The history reads the older layout as it is (no tallies yet), without upgrading it.
    let before = runs(&config);
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!((before[0]["status"].as_str(), before[0]["inserted"].as_u64()), (Some("succeeded"), Some(30)));
    assert_eq!((before[0]["retries"].as_u64(), before[0]["reasons"].as_array().map(Vec::len)), (Some(0), Some(0)));
    assert_eq!(version(&w), None, "reading the history upgrades nothing");
    // So does a dry run, which sees only what changed since.
    w.add_users(31..=35);
    w.exec("UPDATE users SET name = 'changed' WHERE id = 7");
    let (code, s, err) = sync(&config, &["--dry-run"]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!((s["inserted"].as_u64(), s["updated"].as_u64(), s["deleted"].as_u64()), (Some(5), Some(1), Some(0)));
    assert_eq!(version(&w), None, "a dry run upgrades nothing");
    // The next run upgrades in place, and sends only what changed since the API accepted 1..=30.
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!((s["inserted"].as_u64(), s["updated"].as_u64(), s["deleted"].as_u64()), (Some(5), Some(1), Some(0)));
    let mut sent = r.ids("POST");
    sent.sort_unstable();
    assert_eq!(sent, (31..=35).collect::<Vec<_>>(), "no accepted member is sent again");
    assert_eq!(r.ids("PATCH"), vec![7]);
    assert_eq!(r.members(), w.expected_members());
    assert_eq!(version(&w), Some(CURRENT), "the run recorded the version");
    let after = runs(&config);
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!((after[0]["run_id"].as_i64(), after[0]["inserted"].as_u64()), (Some(2), Some(5)), "newest first");
    assert_eq!(after[0]["retries"].as_u64(), Some(0));
    // And the one after that runs on the upgraded layout as usual.
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64(), s["updated"].as_u64()), (0, Some(0), Some(0)), "{s}\n{err}");
    assert!(r.requests().is_empty());
}

fn a_newer_schema_is_refused_and_left_alone(kind: Kind, name: &str) {
    let (w, r, config) = first_synced(kind, name, 1..=10);
    w.exec(&format!("UPDATE {} SET version = {}", w.state("schema"), CURRENT + 1));
    w.add_users(11..=12);
    let tables = w.state_tables();
    let runs = w.count(&format!("SELECT count(*) FROM {}", w.state("runs")));
    r.clear_log();
    for args in [&[][..], &["--dry-run"][..]] {
        let (code, s, err) = sync(&config, args);
        assert_eq!(code, 1, "{args:?}: {s}\n{err}");
        let error = s["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(&format!("schema version {}", CURRENT + 1))
                && error.contains(&format!("reads up to version {CURRENT}")),
            "{args:?}: the error names both versions: {error}"
        );
    }
    let out = audience(&["logs", config.to_str().unwrap(), "--sync", "members"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("schema version {}", CURRENT + 1)), "{stderr}");
    assert!(r.requests().is_empty(), "nothing sent");
    assert_eq!(version(&w), Some(CURRENT + 1), "the version is left alone");
    assert_eq!(w.state_tables(), tables, "no table created or dropped");
    assert_eq!(w.count(&format!("SELECT count(*) FROM {}", w.state("runs"))), runs, "no run recorded");
}

/// PostgreSQL's baselines of version 3 hold SHA-256 fingerprints; version 4's are the hash of
/// the values' binary form. The run that upgrades rewrites each fingerprint that is the old
/// function of its member's image in place, so no member is sent again because of the change:
/// a member that changed is still an update, one marked by an unfinished `--full-resync` (no
/// fingerprint, no configuration) still an insert, and a fingerprint that matches nothing stays
/// and makes an update, as before. A dry run on version 3 counts the same delta, and leaves the
/// state as it found it.
#[test]
fn postgres_fingerprints_of_version_3_are_rewritten_in_place() {
    let (w, r, config) = first_synced(Kind::Postgres, "fingerprint_v3", 1..=30);
    // What a release of version 3 leaves: its version, and its fingerprints in the baseline.
    w.exec(&format!("UPDATE {} SET version = 3", w.state("schema")));
    w.exec(&format!("UPDATE {} AS b SET \"_audience_fp\" = {}", w.baseline(), sha256_fingerprint(&w, 1)));
    w.exec(&format!(
        "UPDATE {} SET \"_audience_fp\" = NULL, \"_audience_config\" = NULL WHERE \"_audience_key\" = 3",
        w.baseline()
    ));
    w.exec(&format!("UPDATE {} SET \"_audience_fp\" = 12345 WHERE \"_audience_key\" = 9", w.baseline()));
    w.add_users(31..=32);
    w.exec("UPDATE users SET name = 'changed' WHERE id = 7");
    let before = baseline_rows(&w);
    let counts = |s: &serde_json::Value| (s["inserted"].as_u64(), s["updated"].as_u64(), s["deleted"].as_u64());
    r.clear_log();
    let (code, s, err) = sync(&config, &["--dry-run"]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!(counts(&s), (Some(3), Some(2), Some(0)), "new 31, 32 and marked 3; changed 7, unmatched 9: {s}");
    assert!(r.requests().is_empty(), "a dry run sends nothing");
    assert_eq!(version(&w), Some(3), "a dry run upgrades nothing");
    assert_eq!(baseline_rows(&w), before, "a dry run's rewrite is rolled back");
    // The log and the history read version 3 as it is.
    let out = audience(&["logs", config.to_str().unwrap(), "--sync", "members", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((log["run_id"].as_i64(), log["rows"].as_array().map(Vec::len)), (Some(1), Some(30)), "{log}");
    assert_eq!(runs(&config).len(), 1);
    // The run upgrades and sends what changed, nothing else.
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!(counts(&s), (Some(3), Some(2), Some(0)), "{s}");
    let mut sent = r.ids("POST");
    sent.sort_unstable();
    assert_eq!(sent, vec![3, 31, 32], "no accepted member is sent again");
    let mut updated = r.ids("PATCH");
    updated.sort_unstable();
    assert_eq!(updated, vec![7, 9]);
    assert_eq!(r.members(), w.expected_members());
    assert_eq!(version(&w), Some(CURRENT), "the run recorded the version");
    let marked = w.count(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = '_audience' \
         AND column_name = '_audience_fp_sha256'",
    );
    assert_eq!(marked, 0, "the rewritten baseline's fingerprint column has its name back");
    // Every member's fingerprint is now the one its next snapshot computes: nothing to send.
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, counts(&s)), (0, (Some(0), Some(0), Some(0))), "{s}\n{err}");
    assert!(r.requests().is_empty());
}

/// Copies the warehouse and config the release before versions left into a fresh folder.
fn release_before_versions(name: &str) -> (PathBuf, PathBuf) {
    let dir = sync_support::scratch_dir(name);
    let db = dir.join("warehouse.db");
    std::fs::copy(Path::new(FIXTURES).join("main-8f61bcf.db"), &db).unwrap();
    let config = dir.join("audience.toml");
    std::fs::copy(Path::new(FIXTURES).join("main-8f61bcf.toml"), &config).unwrap();
    (db, config)
}

/// The warehouse the release before versions wrote itself: read as it is, then upgraded by a
/// run that finds nothing to send (its API is gone: a request would fail the run's records).
#[test]
fn a_warehouse_written_by_the_release_before_versions_is_upgraded() {
    let (db, config) = release_before_versions("upgrade-release");
    let query =
        |sql: &str| -> i64 { rusqlite::Connection::open(&db).unwrap().query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(sqlite_layout(&db), layout_before_versions());
    // Its log reads as it is, before any upgrade.
    let out = audience(&["logs", config.to_str().unwrap(), "--sync", "members", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((log["run_id"].as_i64(), log["rows"].as_array().map(Vec::len)), (Some(1), Some(30)));
    // So does its history.
    let history = runs(&config);
    assert_eq!((history.len(), history[0]["inserted"].as_u64()), (1, Some(30)), "{history:?}");
    // A dry run sees no change: every member it accepted stays accepted under this binary.
    let (code, s, err) = sync(&config, &["--dry-run"]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!((s["inserted"].as_u64(), s["updated"].as_u64(), s["deleted"].as_u64()), (Some(0), Some(0), Some(0)));
    // The run upgrades it in place.
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!((s["run_id"].as_i64(), s["requests"].as_u64()), (Some(2), Some(0)), "{s}");
    assert_eq!(query("SELECT max(version) FROM _audience_schema"), CURRENT);
    assert_eq!(query("SELECT count(*) FROM _audience_baseline_members"), 30, "every member kept");
    let mut upgraded: Vec<String> = layout_before_versions()
        .into_iter()
        .map(|sql| match sql.strip_suffix(')') {
            Some(locks) if sql.starts_with("CREATE TABLE \"_audience_locks\"") => format!("{locks}{LOCK_IDENTITY})"),
            // SQLite adds a column after the last one, before the table's constraints.
            Some(_) if sql.starts_with("CREATE TABLE \"_audience_runs\"") => sql.replace(
                ", PRIMARY KEY (sync_name, run_id))",
                &format!("{RUN_TALLIES}, PRIMARY KEY (sync_name, run_id))"),
            ),
            _ => sql,
        })
        .collect();
    upgraded.push("CREATE TABLE \"_audience_schema\" (version INTEGER NOT NULL)".into());
    upgraded.sort_by_key(|sql| sql.split('"').nth(1).unwrap_or_default().to_owned());
    let mut now = sqlite_layout(&db);
    now.sort_by_key(|sql| sql.split('"').nth(1).unwrap_or_default().to_owned());
    // Run 1's snapshot is kept (retention keeps the newest), run 2's added.
    now.retain(|sql| !sql.contains("_audience_snapshot_members_2"));
    assert_eq!(
        now, upgraded,
        "the upgrade adds the version table, the lock's identity and the run tallies, and changes nothing else"
    );
}

/// Snowflake's state tables record their version too: a newer one is refused (nothing changed),
/// and so is an older one, for which there is no upgrade step (its layout began at version 3).
#[test]
fn snowflake_refuses_versions_it_cannot_read() {
    let (w, r, config) = first_synced(Kind::Snowflake, "schema_versions", 1..=5);
    assert_eq!(version(&w), Some(CURRENT), "a new warehouse records the current version");
    w.add_users([6]);
    for (found, says) in [
        (CURRENT + 1, format!("at schema version {}, written by a newer audience", CURRENT + 1)),
        (1, format!("at schema version 1, and this audience has no step from it to version {CURRENT}")),
    ] {
        w.exec(&format!("UPDATE {} SET version = {found}", w.state("schema")));
        r.clear_log();
        let (code, s, err) = sync(&config, &[]);
        assert_eq!(code, 1, "{s}\n{err}");
        assert!(s["error"].as_str().unwrap().contains(&says), "{s}");
        assert!(r.requests().is_empty());
    }
    // Version 3 steps to 4 with no table changed (the fingerprint version 4 changed is
    // PostgreSQL's).
    let tables = w.state_tables();
    w.exec(&format!("UPDATE {} SET version = 3", w.state("schema")));
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64(), s["updated"].as_u64()), (0, Some(1), Some(0)), "{s}\n{err}");
    assert_eq!(version(&w), Some(CURRENT));
    assert_eq!(w.count(&format!("SELECT COUNT(*) FROM {}", w.state("schema"))), 1, "one version row");
    let mut now = w.state_tables();
    now.retain(|t| !t.contains("snapshot_members_"));
    let mut then = tables;
    then.retain(|t| !t.contains("snapshot_members_"));
    assert_eq!(now, then, "no table created or dropped");
}
