//! The plain-SQL references of `scripts/bench-sync` stand for a PostgreSQL sync's own writes
//! (BENCHMARKS.md, "Where each target stands"): run by `psql` on a real sync's state, the
//! re-sync script finds the changes the sync then finds, with the sync's fingerprints, and leaves
//! the state as it was; the first-sync script runs to its end and leaves nothing behind.

mod sync_support;

use std::path::Path;
use std::process::Command;
use sync_support::*;

/// `psql -f SCRIPT` (from the repository's `scripts/`) on `w`'s database with variables `vars`:
/// what it printed, unaligned and without headers.
fn psql(w: &Warehouse, script: &str, vars: &[(&str, String)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join(script);
    let mut command = Command::new("psql");
    command.args(["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1"]).arg(w.source());
    for (name, value) in vars {
        command.arg("-v").arg(format!("{name}={value}"));
    }
    let out = command.arg("-f").arg(&path).output().expect("psql (scripts/test installs PostgreSQL's client)");
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The tests' model query and its key column.
fn model_vars() -> Vec<(&'static str, String)> {
    vec![("model", "SELECT id, email, name FROM users".into()), ("key", "id".into())]
}

/// The members' keys and fingerprints, as text.
fn members(w: &Warehouse) -> Vec<Vec<Option<String>>> {
    w.rows(&format!(
        "SELECT \"_audience_key\"::text, \"_audience_fp\"::text, \"_audience_config\"::text FROM {} ORDER BY 1",
        w.baseline()
    ))
}

#[test]
fn the_resync_reference_finds_the_syncs_changes_and_rolls_back() {
    let (w, _r, config) = first_synced(Kind::Postgres, "bench_resync_reference", 1..=40);
    w.exec(
        "UPDATE users SET name = name || '2' WHERE id % 10 = 0; DELETE FROM users WHERE id = 7; \
         INSERT INTO users VALUES (41, 'u41@example.com', 'New')",
    );
    let before = members(&w);
    let mut vars = model_vars();
    vars.push(("columns", "id, email, name".into()));
    vars.push(("baseline", w.baseline()));
    vars.push(("set", "id = excluded.id, email = excluded.email, name = excluded.name".into()));
    let printed = psql(&w, "bench-resync-writes.sql", &vars);
    // Four renamed, one gone, one new: the script's fingerprints are the sync's, or every row
    // would count as changed.
    assert_eq!(printed.trim(), "6", "{printed}");
    assert_eq!(members(&w), before, "the script rolls its writes back");
    assert_eq!(w.count("SELECT count(*) FROM pg_namespace WHERE nspname = 'audience_resync_reference'"), 0);

    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!((s["inserted"].as_u64(), s["updated"].as_u64(), s["deleted"].as_u64()), (Some(1), Some(4), Some(1)));
}

#[test]
fn the_first_sync_reference_runs_to_its_end() {
    let w = Warehouse::new(Kind::Postgres, "bench_first_reference");
    w.add_users(1..=12_000);
    psql(&w, "bench-sync-writes.sql", &model_vars());
    assert_eq!(w.count("SELECT count(*) FROM pg_namespace WHERE nspname = 'audience_reference'"), 0);
}
