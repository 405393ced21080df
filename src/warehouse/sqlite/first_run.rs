//! SQLite's diff when the baseline has no members (a first run, or one after the members were
//! all removed): every valid row of the model is an insert, so the diff needs no key index to
//! probe, and the delta is a view of the snapshot instead of a table (unless the model has
//! duplicate keys: see [`delta`]).
//!
//! * The snapshot is written in key order (`ORDER BY` the key, by its bytes, in its `CREATE
//!   TABLE … AS SELECT`). When the model already comes in key order (a table read by its integer primary
//!   key, the usual case), SQLite sorts nothing; otherwise it sorts the rows once, which costs
//!   about what the key index and the delta table it replaces would.
//! * Rows with the same key are then next to each other: duplicates are found by comparing each
//!   row with the next one (rowids of a new table count 1, 2, 3, …), in one pass.
//! * The delta is a view: `seq` is the snapshot's rowid, so the runner's reads by `seq` range
//!   and the recording by `seq` range read the snapshot's rows in place, in key order; invalid
//!   rows are not in it.
//!
//! The view has the delta table's columns, and the images and fingerprints too: reads and the
//! baseline's moves take them from it (as from PostgreSQL's delta), with no second lookup of the
//! snapshot row. A run with members uses [`super::delta::delta`].

use super::delta::{sqlite_delta_into, sqlite_delta_table};
use crate::warehouse::diff::{Tables, create_snapshot_as, in_key_order, snapshot_rows};
use crate::warehouse::ident::quote;
use crate::warehouse::{ModelSpec, Op};

/// The snapshot in key order (no index: nothing probes it by key). The order is by the bytes
/// ([`in_key_order`]), whatever the model's column says: the snapshot's own column, which the
/// neighbour comparison and the baseline's key use, has no collation of its own, and keys equal
/// byte for byte must be neighbours (under `NOCASE`, `'a', 'A', 'a'` is an order too).
pub fn snapshot(t: &Tables, spec: &ModelSpec, config: i64) -> String {
    create_snapshot_as(t, &in_key_order(t, spec, config))
}

/// The dup table (keys on several rows, with their row counts), from neighbouring rows of the
/// snapshot in key order: a key on `n` rows makes `n - 1` neighbouring pairs.
pub fn duplicates(t: &Tables) -> Vec<String> {
    let (s, key) = (t.snapshot.qualified(), "\"_audience_key\"");
    vec![
        format!("DROP TABLE IF EXISTS {}", t.dup.qualified()),
        format!(
            "CREATE TEMP TABLE {} AS SELECT a.{key} AS {key}, count(*) + 1 AS n FROM {s} AS a \
             JOIN {s} AS b ON b.rowid = a.rowid + 1 WHERE a.{key} = b.{key} GROUP BY a.{key}",
            quote(&t.dup.name)
        ),
        crate::warehouse::diff::create_index(t.dialect, &t.dup, "key", &["_audience_key"], true),
    ]
}

/// The delta, with `duplicates` saying whether the dup table has rows.
///
/// * Without duplicate keys, a view of the snapshot: its rows with a key, all inserts, `seq`
///   their rowid, with their images and fingerprints (read in place, with no second lookup of
///   the row).
/// * With duplicate keys, a delta table like a re-sync's (`delta::sqlite_delta_table`), its rows
///   referring to snapshot rows, all inserts: the dup table is temporary (the runner's
///   connection's own), and a view in the database can refer to no temporary table, nor could
///   the recording thread's connection read it. Returns whether the delta is the view.
pub fn delta(t: &Tables, spec: &ModelSpec, duplicates: bool) -> (Vec<String>, bool) {
    let (s, dup, key) = (t.snapshot.qualified(), t.dup.qualified(), "\"_audience_key\"");
    let ins = Op::Insert as i64;
    if duplicates {
        let mut out = sqlite_delta_table(t);
        out.push(format!(
            "{into} SELECT {ins}, s.{key}, s.rowid FROM {s} AS s WHERE s.{key} IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM {dup} AS d WHERE d.{key} = s.{key}) ORDER BY s.rowid",
            into = sqlite_delta_into(t),
        ));
        return (out, false);
    }
    let create = match t.delta.schema {
        "temp" => format!("CREATE TEMP VIEW {}", quote(&t.delta.name)),
        _ => format!("CREATE VIEW {}", t.delta.qualified()),
    };
    let images: String = spec.columns.iter().map(|c| format!(", s.{}", quote(c))).collect();
    let view = format!(
        "{create} AS SELECT s.rowid AS \"_audience_seq\", {ins} AS \"_audience_op\", s.{key} AS {key}, \
         s.rowid AS \"_audience_src\"{images}, s.\"_audience_fp\" AS \"_audience_fp\" \
         FROM {s} AS s WHERE s.{key} IS NOT NULL"
    );
    (vec![view], true)
}

/// The snapshot's rows, its rows with a null key, its rows with a duplicate key, and the first
/// and last `seq` of the delta (null when it is empty): without reading the snapshot through,
/// since its rowids count its rows and null keys sort first. (A count over the view, or a
/// `GROUP BY` of its op, would read all of it, and the `GROUP BY` sort it too.)
pub fn stats(t: &Tables) -> String {
    let (s, dup, delta) = (t.snapshot.qualified(), t.dup.qualified(), t.delta.qualified());
    let rows = snapshot_rows(t);
    format!(
        "SELECT {rows}, coalesce((SELECT rowid FROM {s} WHERE \"_audience_key\" IS NOT NULL ORDER BY rowid LIMIT 1), \
         {rows} + 1) - 1, coalesce((SELECT sum(n) FROM {dup}), 0), \
         (SELECT \"_audience_seq\" FROM {delta} ORDER BY \"_audience_seq\" LIMIT 1), \
         (SELECT \"_audience_seq\" FROM {delta} ORDER BY \"_audience_seq\" DESC LIMIT 1)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::diff::{Dialect, Place};
    use crate::warehouse::ident::SyncName;

    #[test]
    fn first_run_statements() {
        let sync = SyncName::new("s").unwrap();
        let spec = ModelSpec {
            sync: sync.clone(),
            sql: "SELECT id, email FROM users".into(),
            primary_key: "id".into(),
            columns: vec!["email".into()],
        };
        let t = Tables::new(Dialect::Sqlite, &sync, 3, Place::Main, Place::Main);
        assert!(
            snapshot(&t, &spec, 1)
                .ends_with("AS \"_audience_model\" ORDER BY \"_audience_model\".\"id\" COLLATE BINARY")
        );
        let (view, is_view) = delta(&t, &spec, false);
        assert!(is_view && view.len() == 1);
        assert!(view[0].starts_with("CREATE VIEW \"main\".\"_audience_delta_s-3\" AS SELECT s.rowid"));
        assert!(view[0].contains("s.\"email\", s.\"_audience_fp\""));
        let (table, is_view) = delta(&t, &spec, true);
        let table = table.join("\n");
        assert!(!is_view && table.contains("CREATE TABLE \"main\".\"_audience_delta_s-3\""), "{table}");
        assert!(table.contains("NOT EXISTS (SELECT 1 FROM \"temp\".\"_audience_dup_s\""), "{table}");
        let dry = Tables::new(Dialect::Sqlite, &sync, 3, Place::Temp, Place::Temp);
        assert!(delta(&dry, &spec, false).0[0].starts_with("CREATE TEMP VIEW \"_audience_delta_s-3\""));
    }
}
