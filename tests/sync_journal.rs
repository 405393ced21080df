//! SQLite's journal mode around runs: a run works in WAL mode and leaves the database in the
//! journal mode it found, also when a run before it was killed half way.

mod sync_support;

use sync_support::{Kind, Receiver, Warehouse, set_up, sync};

/// The journal mode a new connection finds.
fn journal_mode(w: &Warehouse) -> String {
    let conn = rusqlite::Connection::open(w.path()).unwrap();
    conn.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0)).unwrap()
}

/// The mode a run noted to restore (the run switched the database to WAL and has not restored it).
fn noted(w: &Warehouse) -> Option<String> {
    let conn = rusqlite::Connection::open(w.path()).unwrap();
    let exists: bool = conn
        .query_row("SELECT count(*) > 0 FROM sqlite_master WHERE name = '_audience_journal'", [], |r| r.get(0))
        .unwrap();
    if !exists {
        return None;
    }
    conn.query_row("SELECT restore_mode FROM _audience_journal", [], |r| r.get(0)).ok()
}

#[test]
fn a_run_leaves_the_journal_mode_it_found() {
    let (w, r, config) = set_up(Kind::Sqlite, "journal_mode_kept", 1..=30);
    assert_eq!(journal_mode(&w), "delete");

    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!(journal_mode(&w), "delete");
    assert_eq!(noted(&w), None);
    assert!(!w.path().with_extension("db-wal").exists(), "no log file left");
    let views = w.count(
        "SELECT count(*) FROM sqlite_master WHERE type = 'view' AND name LIKE '\\_audience\\_delta%' ESCAPE '\\'",
    );
    assert_eq!(views, 0, "the first run's delta (a view) is dropped");

    // A database in WAL mode of its own stays in it.
    w.exec("PRAGMA journal_mode = WAL");
    w.add_users(31..=40);
    w.exec("DELETE FROM users WHERE id <= 5");
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!((s["inserted"].as_u64(), s["deleted"].as_u64()), (Some(10), Some(5)));
    assert_eq!(journal_mode(&w), "wal");
    assert_eq!(noted(&w), None);
    assert_eq!(r.members(), w.expected_members());
}

#[test]
fn a_killed_run_leaves_a_working_database_and_the_next_run_restores_the_journal() {
    let w = Warehouse::new(Kind::Sqlite, "journal_after_kill");
    let r = Receiver::start();
    let config = sync_support::kill_9_after_two_batches(&w, &r);
    let logs = w.state("logs");

    // Left in WAL mode, with the note to restore, and readable and writable as it is.
    assert_eq!(journal_mode(&w), "wal");
    assert_eq!(noted(&w).as_deref(), Some("delete"));
    assert_eq!(w.count(&format!("SELECT count(*) FROM {logs} WHERE status = 'succeeded'")), 20);
    assert_eq!(w.count("SELECT count(*) FROM \"_audience_baseline_members\""), 20);
    w.add_users([51]);

    r.release();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!(s["inserted"].as_u64(), Some(31));
    assert_eq!(r.members(), w.expected_members(), "nothing lost");
    assert_eq!(journal_mode(&w), "delete", "the next run restores the journal mode");
    assert_eq!(noted(&w), None);
}

/// (Test support.) A PostgreSQL test database is dropped when its test is over, passed or not.
#[test]
fn a_test_database_is_dropped_with_its_warehouse() {
    let w = Warehouse::new(Kind::Postgres, "dropped");
    let name = w.database().unwrap().to_owned();
    assert!(sync_support::database_exists(&name), "{name} was made");
    drop(w);
    assert!(!sync_support::database_exists(&name), "{name} is still there");
    // A failing test drops its database as it unwinds.
    let name = std::panic::catch_unwind(|| {
        let w = Warehouse::new(Kind::Postgres, "dropped_failing");
        let name = w.database().unwrap().to_owned();
        std::panic::panic_any(name);
    })
    .unwrap_err();
    let name = name.downcast::<String>().unwrap();
    assert!(!sync_support::database_exists(&name), "{name} is still there");
}
