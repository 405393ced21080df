//! PostgreSQL's delta: the diff materialised in one `CREATE TABLE … AS`, and the read of its
//! records. The statements both dialects share are [`crate::warehouse::diff`]'s.

use crate::warehouse::diff::{DiffHints, Tables, create_index, more_columns, read_from};
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
/// PostgreSQL: one `CREATE TABLE … AS` with the images copied and `seq` from `row_number()`,
/// which its planner runs as hash joins and a sort.
pub fn delta(t: &Tables, spec: &ModelSpec, config: i64, hints: DiffHints) -> Vec<String> {
    let (b, s, dup) = (t.baseline.qualified(), t.snapshot.qualified(), t.dup.qualified());
    let key = "\"_audience_key\"";
    let valid = if hints.duplicates {
        format!("NOT EXISTS (SELECT 1 FROM {dup} AS d WHERE d.{key} = s.{key})")
    } else {
        "1 = 1".to_owned()
    };
    let deletes = format!("NOT EXISTS (SELECT 1 FROM {s} AS s WHERE s.{key} = b.{key})");
    let updates = format!(
        "{s} AS s JOIN {b} AS b ON b.{key} = s.{key} \
         WHERE s.\"_audience_fp\" <> b.\"_audience_fp\" AND b.\"_audience_config\" = {config} AND {valid}"
    );
    let inserts = format!(
        "{s} AS s LEFT JOIN {b} AS b ON b.{key} = s.{key} \
         WHERE s.{key} IS NOT NULL AND (b.{key} IS NULL OR b.\"_audience_config\" IS DISTINCT FROM {config}) AND {valid}"
    );
    let (del, upd, ins) = (Op::Delete as i64, Op::Update as i64, Op::Insert as i64);
    let temp = t.delta.schema == "pg_temp";
    let mut out = vec![format!("DROP TABLE IF EXISTS {}", t.delta.qualified())];
    // Unlogged, as the snapshot is (see `diff::create_snapshot_as`): the delta lives for one run,
    // and a run that died is rebuilt from scratch by the next one.
    let create = if temp {
        format!("CREATE TEMP TABLE {}", quote(&t.delta.name))
    } else {
        format!("CREATE UNLOGGED TABLE {}", t.delta.qualified())
    };
    out.push(format!(
        "{create} AS SELECT row_number() OVER (ORDER BY op, k) AS \"_audience_seq\", op AS \"_audience_op\", \
             k AS {key}{cols}, fp AS \"_audience_fp\" FROM (\n\
             SELECT {del} AS op, b.{key} AS k{bcols}, b.\"_audience_fp\" AS fp FROM {b} AS b WHERE {deletes}\n\
             UNION ALL SELECT {upd}, s.{key}{scols}, s.\"_audience_fp\" FROM {updates}\n\
             UNION ALL SELECT {ins}, s.{key}{scols}, s.\"_audience_fp\" FROM {inserts}\n\
             ) AS \"_audience_changes\"",
        cols = more_columns(spec, None),
        bcols = more_columns(spec, Some("b")),
        scols = more_columns(spec, Some("s")),
    ));
    out.push(create_index(t.dialect, &t.delta, "seq", &["_audience_seq"], true));
    out
}

/// Reads delta records: `seq`, op, the key as text, then the delta's own copies of the image
/// columns through `select` (an expression per column, see `value.rs`). Parameters: after,
/// last, limit.
pub fn read_delta(t: &Tables, select: &[String]) -> String {
    read_from(t, &format!("{} AS d", t.delta.qualified()), select)
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
        let t = Tables::new(Dialect::Postgres, &sync, 1, Place::Main, Place::Main);
        let all = [delta(&t, &spec, 5, DiffHints::ALL), vec![read_delta(&t, &[])]].concat().join("\n");
        assert!(all.contains("\"we\"\"ird\""), "{all}");
        assert!(!all.contains(" we\"ird"), "{all}");
    }
}
