//! The version of the state tables' layout. Every warehouse records the version its state
//! tables are at (SQLite: the table `_audience_schema`; PostgreSQL: `_audience.schema`), one row
//! with one number. A run that takes the lock brings an older layout up to
//! [`SCHEMA_VERSION`] in place, in the transaction that creates the state tables (SQLite: under
//! the database's write lock; PostgreSQL: under a transaction advisory lock every process takes
//! for it), so two processes never upgrade at once; a binary that finds a newer version refuses
//! to touch it ([`WarehouseError::NewerSchema`]), and so do `--dry-run` and `audience logs`.
//!
//! Versions:
//!
//! * 0: no version recorded: the layout every release wrote before versions were recorded (the
//!   runs, locks and log tables of [`super::state`], SQLite's compact log of `sqlite::log`, the
//!   per-sync baselines). Upgrading it to 1 changes no table: it records the version.
//! * 1: the same layout, with its version recorded.
//! * 2: the lock row names its run and holder exactly (docs/design/sync.md, step 1): `token`, `boot_id`,
//!   `pid_ns`, `start_time` and `lease_ms` added to the locks table (null in a row an older
//!   release wrote, which [`super::lock::judge`] reads by host and pid alone). Per-run state is
//!   named after its run (`delta_<sync>_<run>`); a shared delta an older run left is dropped by
//!   the run that takes the lock.
//! * 3: the runs table keeps each run's tallies (docs/design/interface.md, `audience runs`):
//!   `retries`, `splits` and `reasons` added (0, 0 and null in a row an older release wrote).
//! * 4: PostgreSQL's row fingerprint is the hash of the values' binary form instead of SHA-256
//!   of their `jsonb` text (see [`Dialect::fingerprint`]). The upgrade renames each baseline's
//!   `_audience_fp` to `_audience_fp_sha256`; the sync's next run rewrites its baseline's
//!   fingerprints in place and renames the column back (`postgres::fingerprint`), so that no
//!   member is sent again because of the change. SQLite and Snowflake change no table: their
//!   fingerprints are the same.
//!
//! A change to a state table (a column, a table, a layout) adds a version here and a step in
//! each connector's upgrade, from the version before it.

use super::diff::Dialect;
use super::state::StateTables;
use super::{Result, WarehouseError};

/// The layout this binary writes and reads.
pub const SCHEMA_VERSION: i64 = 4;

/// The first version whose runs table keeps the run tallies.
pub const RUN_TALLIES: i64 = 3;

/// The first version whose PostgreSQL baselines hold fingerprints of the current function (or
/// are marked as not yet holding them).
pub const BINARY_FINGERPRINT: i64 = 4;

/// Whether state tables at version `found` (`None`: none recorded) have a runs table without
/// the run tallies.
pub fn before_run_tallies(found: Option<i64>) -> bool {
    found.unwrap_or(0) < RUN_TALLIES
}

/// What a run does with the version a warehouse holds (`None`: none recorded, version 0).
/// Refuses a version newer than [`SCHEMA_VERSION`].
pub fn upgrade_from(found: Option<i64>) -> Result<Option<i64>> {
    match found.unwrap_or(0) {
        v if v > SCHEMA_VERSION => Err(WarehouseError::NewerSchema { found: v, known: SCHEMA_VERSION }),
        SCHEMA_VERSION => Ok(None),
        v => Ok(Some(v)),
    }
}

impl StateTables {
    /// Creates the version table (idempotent).
    pub fn create_schema(&self) -> String {
        let int = match self.dialect {
            Dialect::Sqlite => "INTEGER",
            Dialect::Postgres => "bigint",
        };
        format!("CREATE TABLE IF NOT EXISTS {} (version {int} NOT NULL)", self.schema.qualified())
    }

    /// The recorded version (no row: none recorded).
    pub fn read_schema(&self) -> String {
        format!("SELECT max(version) FROM {}", self.schema.qualified())
    }

    /// Records [`SCHEMA_VERSION`] as the only row.
    pub fn write_schema(&self) -> Vec<String> {
        let table = self.schema.qualified();
        vec![format!("DELETE FROM {table}"), format!("INSERT INTO {table} (version) VALUES ({SCHEMA_VERSION})")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_versions_upgrade_and_newer_ones_are_refused() {
        assert_eq!(upgrade_from(None).unwrap(), Some(0), "no version recorded: the layout before versions");
        assert_eq!(upgrade_from(Some(0)).unwrap(), Some(0));
        assert_eq!(upgrade_from(Some(SCHEMA_VERSION)).unwrap(), None, "current: nothing to do");
        let newer = upgrade_from(Some(SCHEMA_VERSION + 1)).unwrap_err().to_string();
        assert!(newer.contains(&format!("schema version {}", SCHEMA_VERSION + 1)), "{newer}");
        assert!(newer.contains(&format!("reads up to version {SCHEMA_VERSION}")), "{newer}");
        assert_eq!(upgrade_from(Some(3)).unwrap(), Some(3), "version 3 steps to 4");
    }

    #[test]
    fn only_versions_before_3_lack_the_run_tallies() {
        assert!(before_run_tallies(None) && before_run_tallies(Some(2)));
        assert!(!before_run_tallies(Some(3)) && !before_run_tallies(Some(SCHEMA_VERSION)));
    }

    #[test]
    fn the_version_table_has_its_own_name_in_each_dialect() {
        let sqlite = StateTables::new(Dialect::Sqlite);
        assert_eq!(
            sqlite.create_schema(),
            "CREATE TABLE IF NOT EXISTS \"main\".\"_audience_schema\" (version INTEGER NOT NULL)"
        );
        let pg = StateTables::new(Dialect::Postgres);
        assert_eq!(pg.read_schema(), "SELECT max(version) FROM \"_audience\".\"schema\"");
        assert_eq!(pg.write_schema()[1], "INSERT INTO \"_audience\".\"schema\" (version) VALUES (4)");
    }
}
