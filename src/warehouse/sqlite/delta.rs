//! SQLite's delta: how the diff is materialised into the delta table, and how the runner reads
//! the delta's records with their images. The statements both dialects share are
//! [`crate::warehouse::diff`]'s; these are SQLite's own.

use crate::warehouse::diff::{DiffHints, Tables, read_from};
use crate::warehouse::ident::quote;
use crate::warehouse::{ModelSpec, Op};

/// The delta, materialised in sending order: deletes, updates, inserts, each by key. `seq`
/// numbers it, so that the runner reads it by ranges of `seq` (short queries: commits between
/// batches never fight an open cursor) and records outcomes by ranges too.
///
/// * **Deletes**: members whose key is nowhere in the snapshot (a key present only on invalid
///   rows is present, so its member stays). They carry the baseline's image: removals are
///   rendered from what was sent.
/// * **Updates**: valid rows of members sent under this configuration whose fingerprint changed.
/// * **Inserts**: valid rows that are not members, or members sent under another configuration
///   (or none, after `--full-resync`): a full resync sends every current member as an add.
///
/// SQLite (a baseline where `resync`'s merges cannot run; first runs are `first_run`'s): the
/// delta table of [`sqlite_delta_table`]; images are read through it (and for deletes from the
/// baseline) a batch at a time. Each leg is inserted in order:
///
/// * deletes by [`deletes_by_merge`] when both keys have the same declared type (`EXCEPT`
///   compares values as stored, `=` after type affinity: a baseline from before the types were
///   copied falls back to a probe per member);
/// * updates and inserts come from one pass over the snapshot's covering (key, fingerprint)
///   index with a probe of the baseline per row, sorted by (op, key): the sort holds only the
///   changed rows.
pub fn delta(t: &Tables, config: i64, hints: DiffHints) -> Vec<String> {
    let (b, s, dup) = (t.baseline.qualified(), t.snapshot.qualified(), t.dup.qualified());
    let key = "\"_audience_key\"";
    let valid = if hints.duplicates {
        format!("NOT EXISTS (SELECT 1 FROM {dup} AS d WHERE d.{key} = s.{key})")
    } else {
        "1 = 1".to_owned()
    };
    let deletes = format!("NOT EXISTS (SELECT 1 FROM {s} AS s WHERE s.{key} = b.{key})");
    let (del, upd, ins) = (Op::Delete as i64, Op::Update as i64, Op::Insert as i64);
    let mut out = sqlite_delta_table(t);
    let into = sqlite_delta_into(t);
    if hints.same_key_type {
        out.push(deletes_by_merge(t));
    } else {
        out.push(format!("{into} SELECT {del}, b.{key}, NULL FROM {b} AS b WHERE {deletes} ORDER BY b.{key}"));
    }
    out.push(format!(
        "{into} SELECT CASE WHEN b.{key} IS NOT NULL AND b.\"_audience_config\" = {config} THEN {upd} ELSE {ins} END, \
             s.{key}, s.rowid FROM {s} AS s LEFT JOIN {b} AS b ON b.{key} = s.{key} \
             WHERE s.{key} IS NOT NULL AND (b.{key} IS NULL OR b.\"_audience_config\" IS NOT {config} \
             OR b.\"_audience_fp\" <> s.\"_audience_fp\") AND {valid} ORDER BY 1, s.{key}"
    ));
    out
}

/// SQLite's delta table, made afresh: `seq` (the rowid, assigned in insertion order, which is
/// sending order), the op, the key, and `_audience_src`, the snapshot row (rowid) of an insert
/// or update.
pub fn sqlite_delta_table(t: &Tables) -> Vec<String> {
    let (create, name) = match t.delta.schema {
        "temp" => ("CREATE TEMP TABLE", quote(&t.delta.name)),
        _ => ("CREATE TABLE", t.delta.qualified()),
    };
    vec![
        format!("DROP TABLE IF EXISTS {}", t.delta.qualified()),
        format!(
            "{create} {name} (\"_audience_seq\" INTEGER PRIMARY KEY, \"_audience_op\" INTEGER NOT NULL, \
             \"_audience_key\", \"_audience_src\" INTEGER)"
        ),
    ]
}

/// `INSERT INTO` SQLite's delta table, before a `SELECT` of (op, key, snapshot rowid).
pub fn sqlite_delta_into(t: &Tables) -> String {
    format!("INSERT INTO {} (\"_audience_op\", \"_audience_key\", \"_audience_src\")", t.delta.qualified())
}

/// SQLite's deletes, in key order: the members whose key is in no snapshot row, by `EXCEPT`,
/// which SQLite runs as a merge of the baseline's key order and the snapshot's key index. The
/// subquery's ORDER BY is what orders the inserts (and so `seq`): SQLite keeps it, the outer
/// query having no ORDER BY of its own and no join. Keys of one declared type only (`EXCEPT`
/// compares values as stored).
pub fn deletes_by_merge(t: &Tables) -> String {
    let key = "\"_audience_key\"";
    format!(
        "{} SELECT {}, k, NULL FROM (SELECT b.{key} AS k FROM {} AS b EXCEPT SELECT s.{key} FROM {} AS s ORDER BY 1)",
        sqlite_delta_into(t),
        Op::Delete as i64,
        t.baseline.qualified(),
        t.snapshot.qualified(),
    )
}

/// Where SQLite reads a range of delta records' images from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Images {
    /// Inserts and updates only: the snapshot row each refers to (one lookup by rowid).
    Current,
    /// Deletes only: the baseline's image, by key.
    Removed,
    /// Either, decided per record (a range that spans both).
    Either,
    /// The delta's own columns (the first run's view, see `first_run`).
    Inline,
}

/// SQLite's delta read: `seq`, op, the key as text, then the image columns, an insert's or
/// update's from its snapshot row and a delete's from the baseline. Parameters: after, last,
/// limit. A range of one kind reads with one lookup per
/// record and no per-column choice: the runner reads a phase at a time, and a phase is all
/// deletes or all inserts and updates. (Left joins: a missing image reads as nulls, and the
/// record then fails the field pipeline rather than going unrecorded.)
pub fn read_images(t: &Tables, spec: &ModelSpec, images: Images) -> String {
    let (delta, s, b) = (t.delta.qualified(), t.snapshot.qualified(), t.baseline.qualified());
    let (from, cols): (String, Vec<String>) = match images {
        Images::Current => (
            format!("{delta} AS d LEFT JOIN {s} AS s ON s.rowid = d.\"_audience_src\""),
            spec.columns.iter().map(|c| format!("s.{}", quote(c))).collect(),
        ),
        Images::Removed => (
            format!("{delta} AS d LEFT JOIN {b} AS b ON b.\"_audience_key\" = d.\"_audience_key\""),
            spec.columns.iter().map(|c| format!("b.{}", quote(c))).collect(),
        ),
        Images::Inline => (format!("{delta} AS d"), spec.columns.iter().map(|c| format!("d.{}", quote(c))).collect()),
        Images::Either => (
            format!(
                "{delta} AS d LEFT JOIN {s} AS s ON s.rowid = d.\"_audience_src\" \
                 LEFT JOIN {b} AS b ON d.\"_audience_src\" IS NULL AND b.\"_audience_key\" = d.\"_audience_key\""
            ),
            spec.columns
                .iter()
                .map(|c| format!("CASE WHEN d.\"_audience_src\" IS NULL THEN b.{q} ELSE s.{q} END", q = quote(c)))
                .collect(),
        ),
    };
    read_from(t, &from, &cols)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::diff::{Dialect, Place};
    use crate::warehouse::ident::SyncName;

    #[test]
    fn identifiers_are_quoted_in_generated_sql() {
        let sync = SyncName::new("high_value").unwrap();
        let spec = ModelSpec {
            sync: sync.clone(),
            sql: "SELECT id, email FROM users".into(),
            primary_key: "id".into(),
            columns: vec!["email".into(), "we\"ird".into()],
        };
        let t = Tables::new(Dialect::Sqlite, &sync, 1, Place::Main, Place::Main);
        let all = [delta(&t, 5, DiffHints::ALL), vec![read_images(&t, &spec, Images::Either)]].concat().join("\n");
        assert!(all.contains("\"we\"\"ird\""), "{all}");
        assert!(!all.contains(" we\"ird"), "{all}");
    }
}
