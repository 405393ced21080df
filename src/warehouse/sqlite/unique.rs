//! Whether a SQLite model's primary key is unique and non-null by construction, so that a run
//! can leave out the duplicate check (a pass over the whole snapshot).
//!
//! The proof is deliberately narrow. The model reads one rowid table, and its query plan is a
//! single scan or search of it: no join (one the planner could not drop), no subquery, compound,
//! grouping or sorting step. Each row of the model is then a distinct row of that table. And the
//! key column is the table's rowid alias (`INTEGER PRIMARY KEY`), which SQLite keeps unique and
//! never null. Anything else (a view over several tables, a virtual table, a key computed by an
//! expression, an `INTEGER PRIMARY KEY DESC`, which is no alias) is checked in SQL as before.

use rusqlite::Connection;

/// Whether column `key` of `sql`'s result is unique and non-null on every row, by the rule
/// above. Any error reads as "not proven".
pub fn key_is_unique(conn: &Connection, sql: &str, key: &str) -> bool {
    let Ok(stmt) = conn.prepare(sql) else { return false };
    let names = stmt.column_names();
    let mut same = names.iter().enumerate().filter(|(_, n)| **n == key);
    let (Some((index, _)), None) = (same.next(), same.next()) else { return false };
    let columns = stmt.columns_with_metadata();
    let Some(origin) = columns.get(index) else { return false };
    let (Some(db), Some(table), Some(column)) = (origin.database_name(), origin.table_name(), origin.origin_name())
    else {
        return false;
    };
    single_table_plan(conn, sql) && rowid_alias(conn, db, table, column)
}

/// The query plan is one step: a scan or search of one (real) table.
fn single_table_plan(conn: &Connection, sql: &str) -> bool {
    let Ok(mut plan) = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")) else { return false };
    let Ok(steps) = plan.query_map([], |r| r.get::<_, String>(3)).and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
    else {
        return false;
    };
    match steps.as_slice() {
        [step] => (step.starts_with("SCAN ") || step.starts_with("SEARCH ")) && !step.contains("VIRTUAL TABLE"),
        _ => false,
    }
}

/// `column` is the rowid alias of `db.table`: a rowid table whose only primary-key column it is,
/// declared `INTEGER`, with no index of its own (an `INTEGER PRIMARY KEY DESC` gets one, and is
/// no alias).
fn rowid_alias(conn: &Connection, db: &str, table: &str, column: &str) -> bool {
    let rowid_table = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_list WHERE schema = ?1 AND name = ?2 AND type = 'table' AND wr = 0",
            [db, table],
            |r| r.get::<_, i64>(0),
        )
        .is_ok_and(|n| n == 1);
    let pk: Result<Vec<(String, String)>, _> = conn
        .prepare("SELECT name, type FROM pragma_table_info(?2, ?1) WHERE pk > 0")
        .and_then(|mut s| s.query_map([db, table], |r| Ok((r.get(0)?, r.get(1)?)))?.collect());
    let pk_index = conn
        .query_row("SELECT count(*) FROM pragma_index_list(?2, ?1) WHERE origin = 'pk'", [db, table], |r| {
            r.get::<_, i64>(0)
        })
        .map_or(true, |n| n > 0);
    match pk.as_deref() {
        Ok([(name, ty)]) => {
            rowid_table && !pk_index && name.eq_ignore_ascii_case(column) && ty.eq_ignore_ascii_case("INTEGER")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_rowid_alias_read_from_one_table_is_proven() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, team INTEGER);
             CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT);
             CREATE TABLE plain (id INTEGER, email TEXT);
             CREATE TABLE desc_pk (id INTEGER PRIMARY KEY DESC, email TEXT);
             CREATE TABLE no_rowid (id INTEGER PRIMARY KEY, email TEXT) WITHOUT ROWID;
             CREATE VIEW active AS SELECT id, email FROM users WHERE team IS NOT NULL;",
        )
        .unwrap();
        let unique = |sql: &str, key: &str| key_is_unique(&conn, sql, key);
        assert!(unique("SELECT id, email FROM users", "id"));
        assert!(unique("SELECT id AS user_id, email FROM users WHERE id > 10 AND email LIKE '%@x'", "user_id"));
        assert!(unique("SELECT * FROM \"users\"", "id"));
        assert!(unique("SELECT id, email FROM active", "id"));
        assert!(!unique("SELECT u.id, t.name FROM users u JOIN teams t ON t.id = u.team", "name"));
        assert!(!unique("SELECT u.id FROM users u, teams t", "id"), "a cross join repeats ids");
        assert!(!unique("SELECT id FROM users UNION ALL SELECT id FROM users", "id"));
        assert!(!unique("SELECT id + 0 AS id FROM users", "id"));
        assert!(!unique("SELECT team AS id FROM users", "id"));
        assert!(!unique("SELECT id, email FROM plain", "id"));
        assert!(!unique("SELECT id, email FROM desc_pk", "id"));
        assert!(!unique("SELECT id, email FROM no_rowid", "id"));
        assert!(!unique("SELECT id, id FROM users", "id"), "ambiguous");
        assert!(!unique("SELECT email FROM users", "id"));
    }
}
