//! Schema version 4's change of PostgreSQL's row fingerprint, from SHA-256 of the values'
//! `jsonb` text to the hash of their binary form ([`Dialect::fingerprint`]), with no member
//! sent again because of it (docs/design/sync.md, "State kept per sync").
//!
//! A baseline holds the fingerprints of what was sent, computed over the image columns of the
//! model as its sync maps them, in mapping order: only a run of that sync knows them. So the
//! upgrade to version 4 (in its transaction, under the upgrade's lock) only marks each
//! baseline, renaming its fingerprint column to [`SHA256_COLUMN`] (a change of the catalog, no
//! row written); the sync's next run, under its lock, finds the mark and rewrites the baseline
//! in the transaction that builds its delta ([`migrate`]): the column gets its name back, and
//! each fingerprint that equals SHA-256 of the member's own image columns becomes the new
//! function of them. A null
//! fingerprint (`--full-resync`'s mark) and one that matches nothing stay as they are: what the
//! diff would have made of them before, it makes of them now. A member sent under another
//! configuration is an insert whatever its fingerprint.
//!
//! A dry run never upgrades: on state tables of version 3 and before it runs the same rewrite
//! inside its own transaction, which it rolls back, so it counts the delta a real run would.

use crate::warehouse::diff::{Dialect, TableName};
use crate::warehouse::ident::quote;

/// A baseline's fingerprint column once the upgrade to version 4 has marked it: its values
/// are still SHA-256 fingerprints (see the module's text). Reserved: no model column has it.
pub const SHA256_COLUMN: &str = "_audience_fp_sha256";

/// The row fingerprint of schema versions 0 to 3: SHA-256 of the `jsonb` text of an array of
/// `columns` (PostgreSQL 11+), its first 64 bits as a `bigint`. `jsonb_build_array` takes at
/// most 100 arguments: arrays of 100 are concatenated with `||`, as they were.
pub fn sha256(columns: &[String]) -> String {
    let arrays: Vec<String> = if columns.is_empty() {
        vec!["jsonb_build_array()".into()]
    } else {
        columns.chunks(100).map(|c| format!("jsonb_build_array({})", c.join(", "))).collect()
    };
    format!(
        "('x' || substr(encode(sha256(convert_to(({})::text, 'UTF8')), 'hex'), 1, 16))::bit(64)::bigint",
        arrays.join(" || ")
    )
}

/// The baselines the upgrade to version 4 marks: each table of `_audience` named `baseline_…`
/// whose fingerprint column still has its name.
pub fn unmarked_baselines() -> &'static str {
    "SELECT c.relname::text FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace \
     JOIN pg_attribute AS a ON a.attrelid = c.oid \
     WHERE n.nspname = '_audience' AND c.relkind = 'r' AND left(c.relname::text, 9) = 'baseline_' \
     AND a.attname = '_audience_fp' AND NOT a.attisdropped ORDER BY 1"
}

/// Marks baseline `name` (a table of `_audience`) as holding SHA-256 fingerprints.
pub fn mark(name: &str) -> String {
    format!("ALTER TABLE \"_audience\".{} RENAME COLUMN \"_audience_fp\" TO {}", quote(name), quote(SHA256_COLUMN))
}

/// Rewrites `baseline`'s SHA-256 fingerprints as the current function of its `columns` (the
/// sync's image columns, in mapping order). `marked`: the fingerprint column is
/// [`SHA256_COLUMN`] (the upgrade marked it) and gets its name back first; otherwise it is a
/// state of version 3 or before, as a dry run finds it. To be run in one transaction.
pub fn migrate(baseline: &TableName, columns: &[String], marked: bool) -> Vec<String> {
    let b = baseline.qualified();
    let image: Vec<String> = columns.iter().map(|c| format!("b.{}", quote(c))).collect();
    let mut out = Vec::new();
    if marked {
        out.push(format!("ALTER TABLE {b} RENAME COLUMN {} TO \"_audience_fp\"", quote(SHA256_COLUMN)));
    }
    out.push(format!(
        "UPDATE {b} AS b SET \"_audience_fp\" = {} WHERE b.\"_audience_fp\" = {}",
        Dialect::Postgres.fingerprint(0, &image),
        sha256(&image)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_old_fingerprint_is_the_one_versions_0_to_3_wrote() {
        assert_eq!(
            sha256(&["m.\"a\"".into(), "m.\"b\"".into()]),
            "('x' || substr(encode(sha256(convert_to((jsonb_build_array(m.\"a\", m.\"b\"))::text, 'UTF8')), 'hex'), 1, 16))::bit(64)::bigint",
            "the fingerprints baselines of version 3 and before hold: changing it resends every member"
        );
        let wide = sha256(&(0..150).map(|i| format!("c{i}")).collect::<Vec<_>>());
        assert_eq!(wide.matches("jsonb_build_array(").count(), 2, "arrays of at most 100: {wide}");
        assert!(sha256(&[]).contains("jsonb_build_array()"));
    }

    #[test]
    fn a_marked_baseline_gets_its_column_back_in_the_rewrite() {
        let baseline = TableName { schema: "_audience", name: "baseline_we\"ird".into() };
        let columns = ["email".to_owned(), "first name".to_owned()];
        let marked = migrate(&baseline, &columns, true);
        assert_eq!(
            marked[0],
            "ALTER TABLE \"_audience\".\"baseline_we\"\"ird\" RENAME COLUMN \"_audience_fp_sha256\" TO \"_audience_fp\""
        );
        assert_eq!(marked[1..], migrate(&baseline, &columns, false));
        let update = &marked[1];
        assert!(
            update.contains(
                "SET \"_audience_fp\" = hashtextextended(encode(record_send(ROW(b.\"email\", b.\"first name\"))"
            ),
            "{update}"
        );
        assert!(update.ends_with("WHERE b.\"_audience_fp\" = ('x' || substr(encode(sha256(convert_to((jsonb_build_array(b.\"email\", b.\"first name\"))::text, 'UTF8')), 'hex'), 1, 16))::bit(64)::bigint"), "{update}");
        assert_eq!(
            mark("baseline_a"),
            "ALTER TABLE \"_audience\".\"baseline_a\" RENAME COLUMN \"_audience_fp\" TO \"_audience_fp_sha256\""
        );
    }
}
