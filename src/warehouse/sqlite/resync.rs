//! SQLite's diff when the baseline has members: merges of two ordered scans instead of a probe
//! of the baseline per snapshot row.
//!
//! The snapshot's index orders it by (key, fingerprint); the baseline's b-tree orders it by key,
//! then fingerprint (its second column), so SQLite runs `EXCEPT` over (key, fingerprint) as one
//! merge of the two, reading each once in order:
//!
//! * **Changed rows**: the snapshot's (key, fingerprint) pairs that no member has. They are the
//!   inserts and updates; each is told apart by one probe of the baseline, made only for the
//!   changed rows.
//! * **Members sent under another configuration** (after a change of configuration, or
//!   `--full-resync`, or one that stopped half way) are sent again as adds even when their row
//!   did not change. They need no look of their own: SQLite's fingerprint hashes the run's
//!   configuration with the row (see `Dialect::fingerprint`), and `--full-resync` clears the
//!   members' fingerprints, so such a member's pair never matches and its row is a changed one;
//!   the probe then finds it under another configuration, which makes it an insert.
//! * **Deletes**: members whose key is in no snapshot row, a merge of the baseline's keys with
//!   the snapshot's. It is left out when no member can have left: when the model has no
//!   duplicate keys and every member's key is in the snapshot, which the counts tell (the
//!   snapshot's keys, less those of changed rows that are not members, are the members present).
//!
//! The probe per row (`delta::delta`) stays for baselines where the merge cannot run: one whose
//! key column's type differs from the snapshot's (`EXCEPT` compares values as stored, `=` after
//! type affinity), and one written before the fingerprint was its second column.

use super::delta::{deletes_by_merge, sqlite_delta_into, sqlite_delta_table};
use crate::warehouse::Op;
use crate::warehouse::diff::{Place, TableName, Tables, schema, snapshot_rows, table_name};
use crate::warehouse::ident::quote;

/// The temporary table of changed rows: (key, fingerprint) pairs of the snapshot.
pub fn changed_table(t: &Tables) -> TableName {
    TableName { schema: schema(t.dialect, Place::Temp), name: table_name(t.dialect, &format!("changed_{}", t.sync)) }
}

/// The changed rows (see the module's doc).
pub fn changed(t: &Tables) -> Vec<String> {
    let (s, b, c) = (t.snapshot.qualified(), t.baseline.qualified(), changed_table(t));
    let key = "\"_audience_key\"";
    vec![
        format!("DROP TABLE IF EXISTS {}", c.qualified()),
        format!("CREATE TEMP TABLE {} (k, fp, PRIMARY KEY (k, fp)) WITHOUT ROWID", quote(&c.name)),
        // The merge: the subquery's ORDER BY makes SQLite run EXCEPT over both ordered scans.
        format!(
            "INSERT INTO {c} (k, fp) SELECT k, fp FROM (SELECT s.{key} AS k, s.\"_audience_fp\" AS fp FROM {s} AS s \
             WHERE s.{key} IS NOT NULL EXCEPT SELECT b.{key}, b.\"_audience_fp\" FROM {b} AS b ORDER BY 1)",
            c = c.qualified()
        ),
    ]
}

/// The snapshot's rows with a key, and the changed rows whose key is no member's: with no
/// duplicate keys, their difference is the number of members whose key is in the snapshot. The
/// snapshot's rows are counted by their rowids (`diff::snapshot_rows`), and null keys come first
/// in its index: neither count reads the snapshot through.
pub fn present(t: &Tables) -> String {
    let key = "\"_audience_key\"";
    format!(
        "SELECT {rows} - (SELECT count(*) FROM {s} WHERE {key} IS NULL), \
         (SELECT count(*) FROM {c} AS c WHERE NOT EXISTS (SELECT 1 FROM {b} AS b WHERE b.{key} = c.k))",
        s = t.snapshot.qualified(),
        b = t.baseline.qualified(),
        c = changed_table(t).qualified(),
        rows = snapshot_rows(t),
    )
}

/// The delta table (`delta::sqlite_delta_table`), in sending order: deletes, updates, inserts,
/// each by key. `deletes`: whether to look for deletes; `duplicates`: whether the dup table has
/// rows.
pub fn delta(t: &Tables, config: i64, deletes: bool, duplicates: bool) -> Vec<String> {
    let (s, b, dup, c) = (t.snapshot.qualified(), t.baseline.qualified(), t.dup.qualified(), changed_table(t));
    let key = "\"_audience_key\"";
    let (upd, ins) = (Op::Update as i64, Op::Insert as i64);
    let mut out = sqlite_delta_table(t);
    if deletes {
        out.push(deletes_by_merge(t));
    }
    let valid = if duplicates {
        format!(" AND NOT EXISTS (SELECT 1 FROM {dup} AS d WHERE d.{key} = s.{key})")
    } else {
        String::new()
    };
    out.push(format!(
        "{into} SELECT CASE WHEN b.{key} IS NOT NULL AND b.\"_audience_config\" = {config} THEN {upd} ELSE {ins} END, \
         s.{key}, s.rowid FROM {c} AS c JOIN {s} AS s ON s.{key} = c.k AND s.\"_audience_fp\" = c.fp \
         LEFT JOIN {b} AS b ON b.{key} = s.{key} WHERE true{valid} ORDER BY 1, s.{key}",
        into = sqlite_delta_into(t),
        c = c.qualified()
    ));
    out.push(format!("DROP TABLE {}", c.qualified()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::diff::Dialect;
    use crate::warehouse::ident::SyncName;

    #[test]
    fn merge_statements() {
        let sync = SyncName::new("s").unwrap();
        let t = Tables::new(Dialect::Sqlite, &sync, 4, Place::Main, Place::Main);
        let changed = changed(&t).join("\n");
        assert!(changed.contains("EXCEPT SELECT b.\"_audience_key\", b.\"_audience_fp\""), "{changed}");
        let with = delta(&t, 7, true, true).join("\n");
        assert!(with.contains("EXCEPT SELECT s.\"_audience_key\""), "{with}");
        assert!(with.contains("NOT EXISTS (SELECT 1 FROM \"temp\".\"_audience_dup_s\""), "{with}");
        let without = delta(&t, 7, false, false).join("\n");
        assert!(!without.contains("EXCEPT"), "{without}");
        assert!(!without.contains("_audience_dup_s"), "{without}");
    }
}
