//! The journal mode of a run: write-ahead logging (WAL) while a run sends its delta, and the
//! database's own rollback journal again when the last run ends.
//!
//! The snapshot, its index and the delta are written before the switch, in the database's own
//! mode: they are a few large transactions of new pages, which a rollback journal writes once,
//! where WAL would write each page to the log and copy it back later.
//!
//! Why WAL for sending: a run commits once per batch, and in a rollback journal every commit
//! waits for the disk (journal and database synced), which on a busy disk cost more than
//! everything else a run does. In WAL mode with `synchronous = NORMAL` a commit waits for no
//! disk at all: the log is synced when its pages are copied back into the database, which a
//! background connection does (see the `heartbeat` module), so that the runner never waits for
//! it. A commit is still atomic and survives the process being killed; only a power loss or an
//! operating-system crash may lose the last commits, and since the baseline only moves forward
//! with what the API accepted, that loses no record: the next run sends those again.
//!
//! The switch is undone, never left behind for good:
//!
//! * Before switching, the mode to restore is written to `_audience_journal` (one row), and
//!   written again once the switch is done (another run may have removed it in between). The
//!   row means "audience switched this database to WAL": a database that was already in WAL
//!   mode gets no row and stays as it was.
//! * When a run ends, it switches the database back if the row is there. That needs the only
//!   open connection: while another run or program has the database open, the switch fails at
//!   once (no wait), the row stays, and whichever run ends last restores the mode. A run killed
//!   half way leaves the row too, and the next run that ends restores the mode.
//! * The row is removed only in a transaction that sees the rollback journal in place, so that a
//!   run starting meanwhile (and switching to WAL again) keeps its row.
//!
//! Dry runs never switch: they write nothing.

use rusqlite::{Connection, OptionalExtension};

/// The table of the row that says which mode to restore.
pub const TABLE: &str = "_audience_journal";

/// Rollback-journal modes a database may be in (as `PRAGMA journal_mode` reports them); `memory`
/// and `off` (an in-memory database, or a connection set up so) are left alone.
const ROLLBACK: [&str; 3] = ["delete", "truncate", "persist"];

/// Our connections' WAL settings: commits need no disk sync (see the module's doc), and the
/// log's pages are copied back by the background connection, not by the committing one (a
/// large threshold stays as a safety net should that connection be missing).
pub const WAL_SETTINGS: &str = "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 100000; \
                                PRAGMA journal_size_limit = 67108864";

/// The connection's journal mode, lowercase.
pub fn mode(conn: &Connection) -> rusqlite::Result<String> {
    conn.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0)).map(|m| m.to_ascii_lowercase())
}

/// Puts the database in WAL mode for a run, noting the mode to restore. Returns whether the
/// database is in WAL mode (ours or the user's); `false` leaves it as it was. Best effort: a
/// database that cannot switch (a file system without shared memory, say) runs as it is.
pub fn enter_wal(conn: &Connection) -> bool {
    let Ok(before) = mode(conn) else { return false };
    if before == "wal" {
        return apply_settings(conn);
    }
    if !ROLLBACK.contains(&before.as_str()) || note(conn, &before).is_err() {
        return false;
    }
    match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
        Ok(m) if m.eq_ignore_ascii_case("wal") => {
            // Noted again: a run that ended between the first note and the switch removed it.
            note(conn, &before).is_ok() && apply_settings(conn)
        }
        _ => false,
    }
}

/// Switches the database back to the noted mode, if a run switched it and this connection is
/// the only one open; otherwise leaves the note for the run that ends last. Best effort: the
/// run's outcome does not depend on it.
pub fn leave_wal(conn: &Connection) {
    let Ok(Some(restore)) = noted(conn) else { return };
    if !ROLLBACK.contains(&restore.as_str()) {
        return;
    }
    // Fails at once ("database is locked") while another connection has the database open.
    let switched = conn.query_row(&format!("PRAGMA journal_mode = {restore}"), [], |r| r.get::<_, String>(0));
    if !matches!(switched, Ok(m) if m.eq_ignore_ascii_case(&restore)) {
        return;
    }
    let _ = conn.execute_batch("PRAGMA synchronous = FULL");
    let forget = || -> rusqlite::Result<()> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        // Another run may have switched to WAL again since: its note must stay.
        if mode(conn)? != "wal" {
            conn.execute(&format!("DELETE FROM main.\"{TABLE}\""), [])?;
        }
        conn.execute_batch("COMMIT")
    };
    if forget().is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

fn apply_settings(conn: &Connection) -> bool {
    conn.execute_batch(WAL_SETTINGS).is_ok()
}

/// Writes the note (unless one is there: it holds the mode from before the first switch).
fn note(conn: &Connection, restore: &str) -> rusqlite::Result<()> {
    conn.execute_batch(&format!("CREATE TABLE IF NOT EXISTS main.\"{TABLE}\" (restore_mode TEXT NOT NULL)"))?;
    conn.execute(
        &format!(
            "INSERT INTO main.\"{TABLE}\" (restore_mode) SELECT ?1 WHERE NOT EXISTS (SELECT 1 FROM main.\"{TABLE}\")"
        ),
        [restore],
    )?;
    Ok(())
}

/// The noted mode, if any.
pub fn noted(conn: &Connection) -> rusqlite::Result<Option<String>> {
    let exists = conn
        .query_row("SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ?1", [TABLE], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        return Ok(None);
    }
    conn.query_row(&format!("SELECT restore_mode FROM main.\"{TABLE}\" LIMIT 1"), [], |r| r.get::<_, String>(0))
        .optional()
        .map(|m| m.map(|m| m.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &std::path::Path) -> Connection {
        Connection::open(path).unwrap()
    }

    #[test]
    fn a_run_switches_and_the_last_one_restores() {
        let (dir, path) = super::super::scratch_db("journal");
        let a = open(&path);
        a.execute_batch("CREATE TABLE t (x)").unwrap();
        assert!(enter_wal(&a));
        assert_eq!(mode(&a).unwrap(), "wal");
        assert_eq!(noted(&a).unwrap().as_deref(), Some("delete"));
        // A second run on the same database while the first one is going.
        let b = open(&path);
        assert!(enter_wal(&b));
        leave_wal(&a); // b is open: nothing changes
        assert_eq!(mode(&a).unwrap(), "wal");
        drop(b);
        leave_wal(&a);
        assert_eq!(mode(&a).unwrap(), "delete");
        assert_eq!(noted(&a).unwrap(), None);
        drop(a);
        // A database in WAL mode of its own stays so, with no note.
        let c = open(&path);
        c.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).unwrap();
        assert!(enter_wal(&c));
        leave_wal(&c);
        assert_eq!(mode(&c).unwrap(), "wal");
        assert_eq!(noted(&c).unwrap(), None);
        drop(c);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
