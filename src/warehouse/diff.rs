//! The SQL of a run that both dialects share, with their differences as [`Dialect`] branches:
//! snapshot, invalid rows, the delta's counts, delta reads and the recording of outcomes. Each
//! engine's own statements are in its folder: the diff into the delta table and the delta's
//! reads in `sqlite/delta.rs` and `postgres/delta.rs`, SQLite's first-run and re-sync diffs in
//! `sqlite/first_run.rs` and `sqlite/resync.rs`. Every statement is set-based: the warehouse reads the model once
//! (into the snapshot), joins tables, and moves rows between them; the client only ever reads
//! the delta, a batch at a time.
//!
//! Tables (see [`Tables`] for their names):
//!
//! ```text
//!  snapshot  _audience_key, <image columns>, _audience_fp          every row the model returned
//!  dup       _audience_key, n                                      keys on several rows
//!  baseline  _audience_key (unique), <image columns>, _audience_fp, _audience_config
//!  delta     _audience_seq (unique, in sending order), _audience_op, _audience_key,
//!            <image columns>, _audience_fp
//! ```
//!
//! Identifiers are quoted by [`ident::quote`]; numbers we computed (run ids, sequence numbers,
//! the config fingerprint) are written into the text, since PostgreSQL takes no parameters in
//! `CREATE TABLE … AS`; strings are always bound as parameters.

use super::ModelSpec;
use super::ident::{self, SyncName, quote};

/// The SQL dialect of a connector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: state in the source database's `main` schema, names prefixed `_audience_`.
    Sqlite,
    /// PostgreSQL: state in the `_audience` schema.
    Postgres,
}

impl Dialect {
    /// Parameter `n` (from 1). `ty` is the PostgreSQL type the value is sent as: without the
    /// cast PostgreSQL infers it from the context, which may not be what the client binds.
    pub fn param(self, n: usize, ty: &str) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}::{ty}"),
        }
    }

    /// A timestamp parameter, bound as RFC 3339 text.
    pub fn ts_param(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("CAST(${n}::text AS timestamptz)"),
        }
    }

    /// [`Dialect::ts_param`] for a statement that writes many rows: PostgreSQL evaluates a cast
    /// of a parameter once per row, and parsing the text twice per log row was half the cost of
    /// inserting a batch's log rows (100,000 rows: 0.32-0.38 s against 0.15-0.18 s); a scalar
    /// subquery is evaluated once per statement.
    pub fn ts_param_once(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => self.ts_param(n),
            Dialect::Postgres => format!("(SELECT {})", self.ts_param(n)),
        }
    }

    /// The row fingerprint of `columns` (quoted, with their table alias), as a 64-bit integer,
    /// for a run under configuration `config`.
    ///
    /// SQLite has no hash function: `audience_fingerprint` is registered on our connection (see
    /// `sqlite::fingerprint`). Its first value is the configuration, so that a member sent under
    /// another one never has the fingerprint of its current row: the re-sync's merge then finds
    /// it among the changed rows, with no separate look for such members (see `resync`).
    ///
    /// PostgreSQL's diff compares the configuration column itself, and hashes the values' binary
    /// form: `record_send` of a row of the columns (the format of the binary protocol and of
    /// `COPY BINARY`, fixed across versions) holds each value's type (its OID: `1` and `'1'`
    /// differ, and so do an `integer` and a `bigint` 1), its length (delimiter-safe) or -1 for a
    /// null (null-safe). Unlike any text form it depends on no server setting: JSON's text of a
    /// `timestamptz` follows `TimeZone`, of a `float8` `extra_float_digits`, of an `interval`
    /// `IntervalStyle`, of a `bytea` `bytea_output`, each of which a role or database may set;
    /// binary timestamps are microseconds since 2000 in UTC and floats their IEEE bits. Only
    /// text is converted, to the session's `client_encoding`, which our client pins to UTF-8.
    /// The bytes are hex-encoded (`encode`, fixed) and hashed by `hashtextextended` (PostgreSQL
    /// 11+, the hash of hash partitioning, which `pg_upgrade` keeps valid; under the "C"
    /// collation it hashes the bytes as they are). 0.75 s per million narrow rows against
    /// SHA-256 of the `jsonb` text's 3.7 s in the same session, and 1.0 s for `hashtextextended`
    /// of `json_build_array`'s text (BENCHMARKS.md, "PostgreSQL at scale"). What it leaves: a
    /// user-defined type's OID (an enum, a domain) changes when the model's database is
    /// restored from a dump, and its members are then sent once more as updates; a type with no
    /// binary output (rare: the `cube` extension's) fails the snapshot, and the model must cast
    /// it to text. Baselines of schema version 3 and before hold SHA-256 fingerprints:
    /// `postgres::fingerprint` rewrites them in place (docs/design/sync.md, "State kept per
    /// sync").
    pub fn fingerprint(self, config: i64, columns: &[String]) -> String {
        match self {
            Dialect::Sqlite => {
                format!(
                    "audience_fingerprint({config}{})",
                    columns.iter().map(|c| format!(", {c}")).collect::<String>()
                )
            }
            Dialect::Postgres => {
                format!("hashtextextended(encode(record_send(ROW({})), 'hex') COLLATE \"C\", 0)", columns.join(", "))
            }
        }
    }
}

/// Where a table lives: the database's own schema, or the connection's temporary one (a dry
/// run, and the scratch tables of every run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The database's own schema: state that outlives the connection.
    Main,
    /// The connection's temporary schema: gone when the connection closes.
    Temp,
}

/// A table's schema and name, unquoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableName {
    /// The schema, unquoted (`main`, `temp`, `_audience`, ...).
    pub schema: &'static str,
    /// The table's name, unquoted.
    pub name: String,
}

impl TableName {
    /// `"schema"."name"`
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote(self.schema), quote(&self.name))
    }
}

/// The names of a sync's tables.
///
/// SQLite: `_audience_baseline_<sync>`, `_audience_snapshot_<sync>_<run>`,
/// `_audience_delta_<sync>-<run>` in `main` (the source database). PostgreSQL: schema
/// `_audience`, tables `baseline_<sync>`, `snapshot_<sync>_<run>`, `delta_<sync>-<run>`. The dup
/// table, and in a dry run the snapshot and delta too, are temporary. State of one run is named
/// after the run (docs/design/sync.md, step 1), so that a dead run's delta is never mistaken for, or dropped
/// under, a live run's; the `-` (never in a sync name) keeps `delta_a-12` of sync `a` apart
/// from any name of sync `a_12`.
#[derive(Clone, Debug)]
pub struct Tables {
    /// The dialect the names are made for.
    pub dialect: Dialect,
    /// The sync the tables belong to.
    pub sync: SyncName,
    /// What the audience holds after the last run: one row per member.
    pub baseline: TableName,
    /// This run's copy of the model's rows.
    pub snapshot: TableName,
    /// This run's changes, numbered in sending order.
    pub delta: TableName,
    /// The keys found on more than one row of the snapshot (temporary).
    pub dup: TableName,
    /// The shared sync-log table.
    pub logs: TableName,
    /// The shared runs table.
    pub runs: TableName,
}

impl Tables {
    /// The tables of run `run_id` of `sync`. `scratch` is where the snapshot and delta go
    /// ([`Place::Temp`] in a dry run); `baseline` where the baseline is (a dry run on a
    /// warehouse without one uses an empty temporary baseline).
    pub fn new(dialect: Dialect, sync: &SyncName, run_id: i64, scratch: Place, baseline: Place) -> Tables {
        let table = |place: Place, base: String| TableName { schema: schema(dialect, place), name: base };
        Tables {
            dialect,
            sync: sync.clone(),
            baseline: table(baseline, table_name(dialect, &format!("baseline_{sync}"))),
            snapshot: table(scratch, snapshot_name(dialect, sync, run_id)),
            delta: table(scratch, delta_name(dialect, sync, run_id)),
            dup: table(Place::Temp, table_name(dialect, &format!("dup_{sync}"))),
            logs: table(Place::Main, table_name(dialect, "logs")),
            runs: table(Place::Main, table_name(dialect, "runs")),
        }
    }
}

/// The schema of a place: SQLite's `main` and `temp`; PostgreSQL's `_audience` and `pg_temp`.
pub fn schema(dialect: Dialect, place: Place) -> &'static str {
    match (dialect, place) {
        (Dialect::Sqlite, Place::Main) => "main",
        (Dialect::Sqlite, Place::Temp) => "temp",
        (Dialect::Postgres, Place::Main) => "_audience",
        (Dialect::Postgres, Place::Temp) => "pg_temp",
    }
}

/// A state table's name: SQLite prefixes `_audience_` (the tables share the user's schema);
/// PostgreSQL has a schema of its own.
pub fn table_name(dialect: Dialect, base: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("_audience_{base}"),
        Dialect::Postgres => base.to_owned(),
    }
}

/// The snapshot table of a run.
pub fn snapshot_name(dialect: Dialect, sync: &SyncName, run_id: i64) -> String {
    table_name(dialect, &format!("snapshot_{sync}_{run_id}"))
}

/// The delta table of a run.
pub fn delta_name(dialect: Dialect, sync: &SyncName, run_id: i64) -> String {
    table_name(dialect, &format!("delta_{sync}-{run_id}"))
}

/// The delta's name before deltas were per run (schema version 1 and before): one per sync.
pub fn shared_delta_name(dialect: Dialect, sync: &SyncName) -> String {
    table_name(dialect, &format!("delta_{sync}"))
}

/// Whether `name` is the delta of a run of `sync` (or the shared delta of an older release).
pub fn is_delta_of(dialect: Dialect, sync: &SyncName, name: &str) -> bool {
    if name == shared_delta_name(dialect, sync) {
        return true;
    }
    let prefix = table_name(dialect, &format!("delta_{sync}-"));
    name.strip_prefix(&prefix).is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
}

/// The run id of a snapshot table of `sync`, if `name` is one. Sync names may contain `_`, so
/// the prefix alone does not tell `high` from `high_value`: what follows must be digits only.
pub fn snapshot_run(dialect: Dialect, sync: &SyncName, name: &str) -> Option<i64> {
    let prefix = table_name(dialect, &format!("snapshot_{sync}_"));
    let rest = name.strip_prefix(&prefix)?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// `CREATE [UNIQUE] INDEX` on `table(columns)`, named `<table>_<suffix>`. SQLite puts the
/// schema on the index's name; PostgreSQL creates an index in its table's schema.
pub fn create_index(dialect: Dialect, table: &TableName, suffix: &str, columns: &[&str], unique: bool) -> String {
    let unique = if unique { "UNIQUE " } else { "" };
    let index = quote(&format!("{}_{suffix}", table.name));
    let columns = columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
    match dialect {
        Dialect::Sqlite => format!(
            "CREATE {unique}INDEX IF NOT EXISTS {}.{index} ON {}({columns})",
            quote(table.schema),
            quote(&table.name),
        ),
        Dialect::Postgres => format!("CREATE {unique}INDEX IF NOT EXISTS {index} ON {}({columns})", table.qualified()),
    }
}

/// `"c1", "c2"` with an optional table alias.
fn columns(spec: &ModelSpec, alias: Option<&str>) -> String {
    spec.columns
        .iter()
        .map(|c| match alias {
            Some(a) => format!("{a}.{}", quote(c)),
            None => quote(c),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `, "c1", "c2"` (empty without image columns).
pub fn more_columns(spec: &ModelSpec, alias: Option<&str>) -> String {
    if spec.columns.is_empty() { String::new() } else { format!(", {}", columns(spec, alias)) }
}

/// The snapshot: the model read once, with the primary key as `_audience_key` and the row
/// fingerprint computed over the image columns, then indexed by key (the diff's joins and the
/// duplicate check run on that index).
///
/// Every row is kept, the invalid ones too: the snapshot is the model as read, for audit, and a
/// key whose rows are invalid must still count as present when looking for deletes.
/// (PostgreSQL's connector runs [`snapshot_table`] and indexes the snapshot itself, uniquely
/// when it can: see its `key_index`.)
pub fn snapshot(t: &Tables, spec: &ModelSpec, config: i64) -> Vec<String> {
    let d = t.dialect;
    let mut out = vec![snapshot_table(t, spec, config)];
    // SQLite: (key, fingerprint) makes the index covering for the diff, which then never
    // reads the snapshot's rows (only the delta's records are read, a batch at a time).
    let indexed: &[&str] = match d {
        Dialect::Sqlite => &["_audience_key", "_audience_fp"],
        Dialect::Postgres => &["_audience_key"],
    };
    out.push(create_index(d, &t.snapshot, "key", indexed, false));
    out
}

/// The snapshot's `CREATE TABLE … AS SELECT` (the model aliased `"_audience_model"`).
pub fn snapshot_table(t: &Tables, spec: &ModelSpec, config: i64) -> String {
    create_snapshot_as(t, &snapshot_select(t, spec, config))
}

/// `CREATE TABLE` the snapshot `AS` `select`.
///
/// PostgreSQL's is `UNLOGGED`: written once, never updated, and rebuilt by the next run if lost,
/// it need not go through the write-ahead log, which doubled what taking it wrote (the table,
/// then every page of it again in the log). The price: a server crash empties the retained
/// snapshots (docs/design/sync.md, "State kept per sync"), which nothing reads back.
pub fn create_snapshot_as(t: &Tables, select: &str) -> String {
    let create = match (t.dialect, t.snapshot.schema) {
        (_, "temp" | "pg_temp") => "CREATE TEMP TABLE",
        (Dialect::Postgres, _) => "CREATE UNLOGGED TABLE",
        _ => "CREATE TABLE",
    };
    let name = match t.dialect {
        // A temporary table is named without its schema in PostgreSQL's CREATE TEMP TABLE.
        Dialect::Postgres if t.snapshot.schema == "pg_temp" => quote(&t.snapshot.name),
        _ => t.snapshot.qualified(),
    };
    format!("{create} {name} AS {select}")
}

/// The model's image columns as select expressions on the model aliased `"_audience_model"`,
/// as the snapshot and [`model_rows`] read them.
pub fn model_image(spec: &ModelSpec) -> Vec<String> {
    spec.columns.iter().map(|c| format!("\"_audience_model\".{}", quote(c))).collect()
}

/// The snapshot's rows: the key as `_audience_key`, the image columns, the fingerprint (under
/// configuration `config`).
pub fn snapshot_select(t: &Tables, spec: &ModelSpec, config: i64) -> String {
    let m = "\"_audience_model\"";
    let image = model_image(spec);
    format!(
        "SELECT {m}.{} AS \"_audience_key\"{}, {} AS \"_audience_fp\" FROM ({}\n) AS {m}",
        quote(&spec.primary_key),
        if image.is_empty() { String::new() } else { format!(", {}", image.join(", ")) },
        t.dialect.fingerprint(config, &image),
        spec.sql,
    )
}

/// The first `limit` rows of the model, as it returns them: the key as text, then `image` (the
/// image columns' select expressions, on the model aliased `"_audience_model"`).
pub fn model_rows(spec: &ModelSpec, image: &[String], limit: usize) -> String {
    let m = "\"_audience_model\"";
    let image = if image.is_empty() { String::new() } else { format!(", {}", image.join(", ")) };
    format!("SELECT CAST({m}.{} AS TEXT){image} FROM ({}\n) AS {m} LIMIT {limit}", quote(&spec.primary_key), spec.sql)
}

/// SQLite's snapshot for a model that comes in key order: the table made empty, its index made,
/// then the rows written in key order, so that each index entry is appended as its row is (a
/// `CREATE INDEX` afterwards would read the table again and sort). Worth it only when the
/// model's order costs nothing, which `EXPLAIN QUERY PLAN` of [`in_key_order`] tells.
pub fn snapshot_indexed_in_key_order(t: &Tables, spec: &ModelSpec, config: i64) -> Vec<String> {
    let mut out = vec![format!("{} LIMIT 0", snapshot_table(t, spec, config))];
    out.extend(snapshot(t, spec, config).into_iter().skip(1));
    out.push(format!("INSERT INTO {} {}", t.snapshot.qualified(), in_key_order(t, spec, config)));
    out
}

/// The snapshot's rows in the order of its key index (by the bytes: the snapshot's column has no
/// collation of its own, whatever the model's says).
pub fn in_key_order(t: &Tables, spec: &ModelSpec, config: i64) -> String {
    format!(
        "{} ORDER BY \"_audience_model\".{} COLLATE BINARY",
        snapshot_select(t, spec, config),
        quote(&spec.primary_key)
    )
}

/// An empty dup table, for a model whose key is unique and non-null by construction (see
/// `unique`): the statements that read the dup table then find no row, as after a check.
pub fn no_duplicates(t: &Tables) -> Vec<String> {
    vec![
        format!("DROP TABLE IF EXISTS {}", t.dup.qualified()),
        format!("CREATE TEMP TABLE {} (\"_audience_key\", n INTEGER)", quote(&t.dup.name)),
    ]
}

/// Whether the dup table has a row.
pub fn has_duplicates(t: &Tables) -> String {
    format!("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT 1) AS any_row", t.dup.qualified())
}

/// Keys found on more than one row of the snapshot (an index scan thanks to the snapshot's
/// key index). Null keys are invalid too, but need no table: `_audience_key IS NULL` says it.
pub fn duplicates(t: &Tables) -> Vec<String> {
    let s = t.snapshot.qualified();
    let create = match t.dialect {
        Dialect::Sqlite => format!("CREATE TEMP TABLE {}", quote(&t.dup.name)),
        Dialect::Postgres => format!("CREATE TEMP TABLE {}", quote(&t.dup.name)),
    };
    vec![
        format!("DROP TABLE IF EXISTS {}", t.dup.qualified()),
        format!(
            "{create} AS SELECT \"_audience_key\", count(*) AS n FROM {s} WHERE \"_audience_key\" IS NOT NULL \
             GROUP BY \"_audience_key\" HAVING count(*) > 1"
        ),
        create_index(t.dialect, &t.dup, "key", &["_audience_key"], true),
    ]
}

/// An empty baseline, unique on the key, with the image columns, the fingerprint and the
/// configuration column.
///
/// SQLite: a `WITHOUT ROWID` table keyed by `_audience_key`, the fingerprint and configuration
/// next, then the images: the diff's probes by key find the whole row in the key's b-tree, with
/// no second lookup, and its merges read it in (key, fingerprint) order. PostgreSQL: shaped like
/// the snapshot (`CREATE TABLE … AS … WITH NO DATA`) so that its columns have the model's types.
///
/// `types` (SQLite) are the snapshot's declared types of the key and of each image column: the
/// key must have the same type affinity as the snapshot's, or SQLite could not use the key's
/// b-tree for `b.key = s.key` (it would convert the baseline's side) and the diff would scan.
pub fn create_baseline(t: &Tables, spec: &ModelSpec, temporary: bool, types: &[String]) -> Vec<String> {
    let create = if temporary { "CREATE TEMP TABLE" } else { "CREATE TABLE IF NOT EXISTS" };
    let name = if temporary { quote(&t.baseline.name) } else { t.baseline.qualified() };
    let typed = |i: usize, column: &str| {
        // Declared types come from SQLite's own table_info; anything unexpected is left out.
        match types.get(i).map(String::as_str) {
            Some(ty) if !ty.is_empty() && ty.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ') => {
                format!("{} {ty}", quote(column))
            }
            _ => quote(column),
        }
    };
    match t.dialect {
        Dialect::Sqlite => {
            // The fingerprint right after the key: the b-tree is then in (key, fingerprint) order,
            // which the re-sync's merge needs (see `resync`).
            let mut columns = vec![
                format!("{} PRIMARY KEY", typed(0, "_audience_key")),
                "\"_audience_fp\" INTEGER".to_owned(),
                "\"_audience_config\" INTEGER".to_owned(),
            ];
            columns.extend(spec.columns.iter().enumerate().map(|(i, c)| typed(i + 1, c)));
            vec![format!("{create} {name} ({}) WITHOUT ROWID", columns.join(", "))]
        }
        Dialect::Postgres => vec![
            format!(
                "{create} {name} AS SELECT \"_audience_key\"{}, \"_audience_fp\", CAST(NULL AS bigint) AS \"_audience_config\" \
                 FROM {} WITH NO DATA",
                more_columns(spec, None),
                t.snapshot.qualified()
            ),
            create_index(t.dialect, &t.baseline, "key", &["_audience_key"], true),
        ],
    }
}

/// `--full-resync`: every member counts as sent under no configuration, with no fingerprint,
/// so each is an insert until it is sent again (a crash half way leaves the rest marked). The
/// fingerprint goes too: SQLite's merge finds a member to send by its fingerprint (`resync`).
pub fn clear_config(t: &Tables) -> String {
    format!("UPDATE {} SET \"_audience_config\" = NULL, \"_audience_fp\" = NULL", t.baseline.qualified())
}

/// What is known before a re-sync's diff runs, which lets SQLite's diff leave work out
/// (PostgreSQL's planner needs only `duplicates`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiffHints {
    /// The dup table has rows (usually it has none, and the legs then skip the per-row check
    /// against it).
    pub duplicates: bool,
    /// The baseline's key column has the snapshot's declared type.
    pub same_key_type: bool,
    /// The baseline's fingerprint is its second column (baselines are created so; older ones
    /// had it after the images), which puts its b-tree in (key, fingerprint) order.
    pub fp_follows_key: bool,
}

impl DiffHints {
    /// Nothing known: every leg, with every check.
    pub const ALL: DiffHints = DiffHints { duplicates: true, same_key_type: false, fp_follows_key: false };

    /// SQLite's hints from the baseline's and the snapshot's columns, (name, declared type) in
    /// column order.
    pub fn from_columns(duplicates: bool, baseline: &[(String, String)], snapshot: &[(String, String)]) -> DiffHints {
        let key_type = |columns: &[(String, String)]| {
            columns.iter().find(|(name, _)| name == "_audience_key").map(|(_, ty)| ty.to_ascii_lowercase())
        };
        DiffHints {
            duplicates,
            same_key_type: matches!((key_type(baseline), key_type(snapshot)), (Some(b), Some(s)) if b == s),
            fp_follows_key: baseline.get(1).is_some_and(|(name, _)| name == "_audience_fp"),
        }
    }

    /// Whether SQLite's re-sync can merge (see `resync`): keys of one type, and a baseline in
    /// (key, fingerprint) order.
    pub fn can_merge(self) -> bool {
        self.same_key_type && self.fp_follows_key
    }
}

/// Records per op, with the first and last `seq` of each.
pub fn delta_stats(t: &Tables) -> String {
    format!(
        "SELECT CAST(\"_audience_op\" AS bigint), count(*), min(\"_audience_seq\"), max(\"_audience_seq\") FROM {} \
         GROUP BY \"_audience_op\"",
        t.delta.qualified()
    )
}

/// The number of the snapshot's rows, as a scalar subquery. SQLite's snapshot was filled by one
/// statement, so its rowids count its rows: `max(rowid)` finds their number with one step down
/// its b-tree, where `count(*)` would read all of its key index.
pub fn snapshot_rows(t: &Tables) -> String {
    match t.dialect {
        Dialect::Sqlite => format!("coalesce((SELECT max(rowid) FROM {}), 0)", t.snapshot.qualified()),
        Dialect::Postgres => format!("(SELECT count(*) FROM {})", t.snapshot.qualified()),
    }
}

/// Rows of the snapshot, and its invalid rows (see [`invalid_rows`]).
pub fn snapshot_stats(t: &Tables) -> String {
    format!("SELECT {}, {}", snapshot_rows(t), invalid_rows(t))
}

/// The number of the snapshot's invalid rows (a null key, or a key in `dup`), as an expression:
/// the null keys are found through the snapshot's key index.
pub fn invalid_rows(t: &Tables) -> String {
    format!(
        "(SELECT count(*) FROM {s} WHERE \"_audience_key\" IS NULL) + CAST((SELECT coalesce(sum(n), 0) FROM {d}) AS bigint)",
        s = t.snapshot.qualified(),
        d = t.dup.qualified()
    )
}

/// `count(*)` of the baseline.
pub fn baseline_count(t: &Tables) -> String {
    format!("SELECT count(*) FROM {}", t.baseline.qualified())
}

/// PostgreSQL's log rows of the invalid rows, one per row (SQLite's log is `sqlite::log`'s).
/// Parameters: sync name, run id, started at.
pub fn log_invalid(t: &Tables) -> String {
    let d = t.dialect;
    let key = "\"_audience_key\"";
    format!(
        "INSERT INTO {logs} (sync_name, run_id, primary_key, operation, status, error_reason, http_status, \
         sync_started_at, sync_finished_at) \
         SELECT {p1}, {p2}, CAST(s.{key} AS TEXT), \
         CASE WHEN EXISTS (SELECT 1 FROM {b} AS b WHERE b.{key} = s.{key}) THEN 'update' ELSE 'insert' END, 'invalid', \
         CASE WHEN s.{key} IS NULL THEN 'the primary key is null' \
         ELSE 'the primary key is not unique: ' || CAST(dup.n AS TEXT) || ' rows of the model have this value' END, \
         NULL, {p3}, {p3} \
         FROM {s} AS s LEFT JOIN {dt} AS dup ON dup.{key} = s.{key} \
         WHERE s.{key} IS NULL OR dup.{key} IS NOT NULL",
        logs = t.logs.qualified(),
        b = t.baseline.qualified(),
        s = t.snapshot.qualified(),
        dt = t.dup.qualified(),
        p1 = d.param(1, "text"),
        p2 = d.param(2, "bigint"),
        p3 = d.ts_param_once(3),
    )
}

/// `SELECT` of a range of delta records (`seq`, op, key as text, then `cols`) from `from`.
/// Parameters: after, last, limit.
pub fn read_from(t: &Tables, from: &str, cols: &[String]) -> String {
    let d = t.dialect;
    let cols = if cols.is_empty() { String::new() } else { format!(", {}", cols.join(", ")) };
    format!(
        "SELECT d.\"_audience_seq\", CAST(d.\"_audience_op\" AS bigint), CAST(d.\"_audience_key\" AS TEXT){cols} \
         FROM {from} WHERE d.\"_audience_seq\" > {} AND d.\"_audience_seq\" <= {} ORDER BY d.\"_audience_seq\" LIMIT {}",
        d.param(1, "bigint"),
        d.param(2, "bigint"),
        d.param(3, "bigint"),
    )
}

/// ` AND "_audience_seq" NOT IN (…)` for the records of a batch that did not succeed (usually
/// none, so usually empty).
pub fn except_seqs(seqs: &[i64]) -> String {
    if seqs.is_empty() {
        return String::new();
    }
    let list: Vec<String> = seqs.iter().map(i64::to_string).collect();
    format!(" AND d.\"_audience_seq\" NOT IN ({})", list.join(", "))
}

/// PostgreSQL's log rows for the records of `lo..=hi` that succeeded: one set-based insert from
/// the delta. Parameters: sync name, run id, started at, finished at, lo, hi.
pub fn log_succeeded(t: &Tables, not: &[i64]) -> String {
    log_from_delta(
        t,
        "'succeeded', NULL, NULL",
        "",
        &format!("BETWEEN {} AND {}", t.dialect.param(5, "bigint"), t.dialect.param(6, "bigint")),
        not,
    )
}

/// PostgreSQL's log rows of a batch's failed records, in one statement whatever their number
/// (a batch the API refused whole has 5,000): the records' `seq`, reasons and HTTP statuses are
/// bound as three arrays of one length, in the order the rows are to be written. Parameters:
/// sync name, run id, started at, finished at, seqs, reasons, HTTP statuses.
pub fn log_failed(t: &Tables) -> String {
    let d = t.dialect;
    log_from_delta(
        t,
        "'failed', f.reason, f.http_status",
        &format!(
            " JOIN unnest({}, {}, {}) WITH ORDINALITY AS f(seq, reason, http_status, n) ON f.seq = d.\"_audience_seq\"",
            d.param(5, "bigint[]"),
            d.param(6, "text[]"),
            d.param(7, "integer[]"),
        ),
        "",
        &[],
    ) + " ORDER BY f.n"
}

/// A log row per delta record `d` of `join` (more tables, or nothing) and `filter` (on `d`'s
/// `seq`, or nothing), with `status` (its three columns).
fn log_from_delta(t: &Tables, status: &str, join: &str, filter: &str, not: &[i64]) -> String {
    let d = t.dialect;
    let filter = if filter.is_empty() { String::new() } else { format!(" WHERE d.\"_audience_seq\" {filter}") };
    format!(
        "INSERT INTO {logs} (sync_name, run_id, primary_key, operation, status, error_reason, http_status, \
         sync_started_at, sync_finished_at) \
         SELECT {p1}, {p2}, CAST(d.\"_audience_key\" AS TEXT), \
         CASE d.\"_audience_op\" WHEN 0 THEN 'delete' WHEN 1 THEN 'update' ELSE 'insert' END, {status}, {p3}, {p4} \
         FROM {delta} AS d{join}{filter}{not}",
        logs = t.logs.qualified(),
        delta = t.delta.qualified(),
        p1 = d.param(1, "text"),
        p2 = d.param(2, "bigint"),
        p3 = d.ts_param_once(3),
        p4 = d.ts_param_once(4),
        not = except_seqs(not),
    )
}

/// Moves the baseline to the accepted adds and updates of `lo..=hi`: their new image, under
/// this configuration, from PostgreSQL's delta (which holds the images) or from the snapshot rows
/// SQLite's delta table refers to. Parameters: lo, hi.
pub fn baseline_upsert(t: &Tables, spec: &ModelSpec, config: i64, not: &[i64]) -> String {
    baseline_move(t, spec, config, not, t.dialect == Dialect::Postgres, Conflict::Update)
}

/// SQLite's first run (see `first_run`): the accepted adds of `lo..=hi` inserted into a baseline
/// that had no members when the run began, from the delta's view. No key should be there already
/// (each key is in the delta once, and each record is recorded once), so nothing is updated:
/// `DO NOTHING` costs what a plain insert does, where `DO UPDATE` cost 10-20% more per row. A key
/// found there after all keeps its row rather than failing the recording, and with it every
/// later run. Parameters: lo, hi.
pub fn baseline_insert_first(t: &Tables, spec: &ModelSpec, config: i64, not: &[i64]) -> String {
    baseline_move(t, spec, config, not, true, Conflict::Nothing)
}

/// PostgreSQL's first run: the accepted adds of `lo..=hi` into a baseline that had no members
/// when the run began, a plain `INSERT` from the delta. Unlike SQLite's, PostgreSQL's
/// `ON CONFLICT DO NOTHING` is a speculative insertion per row: a million rows took 7.4 s with it
/// and 3.8 s without. No key can be there already (the run holds the lock, the delta has each
/// valid key once, and a record is recorded once); were one there after all, that recording
/// would fail and end the run, and the next run, whose baseline then has members, moves it with
/// [`baseline_upsert`]. Parameters: lo, hi.
pub fn baseline_insert_new(t: &Tables, spec: &ModelSpec, config: i64, not: &[i64]) -> String {
    baseline_move(t, spec, config, not, true, Conflict::Fail)
}

/// What a baseline move does with a key the baseline already has.
#[derive(Clone, Copy)]
enum Conflict {
    /// It takes the new image.
    Update,
    /// It keeps its row.
    Nothing,
    /// The statement fails (no `ON CONFLICT`).
    Fail,
}

/// The accepted adds and updates of `lo..=hi` into the baseline, the images read from the delta
/// itself when `inline`, else from the snapshot rows it refers to; a key already there is
/// handled as `conflict` says.
fn baseline_move(t: &Tables, spec: &ModelSpec, config: i64, not: &[i64], inline: bool, conflict: Conflict) -> String {
    let d = t.dialect;
    let key = "\"_audience_key\"";
    let conflict = match conflict {
        Conflict::Fail => String::new(),
        Conflict::Nothing => format!(" ON CONFLICT ({key}) DO NOTHING"),
        Conflict::Update => {
            let set: Vec<String> = spec
                .columns
                .iter()
                .map(|c| quote(c))
                .chain(["\"_audience_fp\"".to_owned(), "\"_audience_config\"".to_owned()])
                .map(|c| format!("{c} = excluded.{c}"))
                .collect();
            format!(" ON CONFLICT ({key}) DO UPDATE SET {}", set.join(", "))
        }
    };
    let (from, image) = if inline {
        (format!("{} AS d", t.delta.qualified()), "d")
    } else {
        (
            format!(
                "{} AS d JOIN {} AS s ON s.rowid = d.\"_audience_src\"",
                t.delta.qualified(),
                t.snapshot.qualified()
            ),
            "s",
        )
    };
    // `WHERE` is required here: without it SQLite would read `ON CONFLICT` as a join constraint.
    format!(
        "INSERT INTO {b} ({key}{cols}, \"_audience_fp\", \"_audience_config\") \
         SELECT d.{key}{dcols}, {image}.\"_audience_fp\", {config} FROM {from} \
         WHERE d.\"_audience_seq\" BETWEEN {p1} AND {p2} AND d.\"_audience_op\" <> 0{not}{conflict}",
        b = t.baseline.qualified(),
        cols = more_columns(spec, None),
        dcols = more_columns(spec, Some(image)),
        p1 = d.param(1, "bigint"),
        p2 = d.param(2, "bigint"),
        not = except_seqs(not),
    )
}

/// Moves the baseline past the accepted deletes of `lo..=hi`. Parameters: lo, hi.
pub fn baseline_delete(t: &Tables, not: &[i64]) -> String {
    let d = t.dialect;
    format!(
        "DELETE FROM {b} WHERE \"_audience_key\" IN (SELECT d.\"_audience_key\" FROM {delta} AS d \
         WHERE d.\"_audience_seq\" BETWEEN {p1} AND {p2} AND d.\"_audience_op\" = 0{not})",
        b = t.baseline.qualified(),
        delta = t.delta.qualified(),
        p1 = d.param(1, "bigint"),
        p2 = d.param(2, "bigint"),
        not = except_seqs(not),
    )
}

/// Whether `name` is one of our reserved column names.
pub fn is_reserved(name: &str) -> bool {
    super::RESERVED_COLUMNS.iter().any(|r| r.eq_ignore_ascii_case(name))
}

/// The sync name as a string literal (for statements that cannot take parameters).
pub fn sync_literal(sync: &SyncName) -> String {
    ident::literal(sync.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ModelSpec {
        ModelSpec {
            sync: SyncName::new("high_value").unwrap(),
            sql: "SELECT id, email FROM users".into(),
            primary_key: "id".into(),
            columns: vec!["email".into(), "we\"ird".into()],
        }
    }

    #[test]
    fn deltas_are_per_run_and_told_apart_between_syncs() {
        let a = SyncName::new("a").unwrap();
        let a_12 = SyncName::new("a_12").unwrap();
        assert_eq!(delta_name(Dialect::Sqlite, &a, 12), "_audience_delta_a-12");
        assert_eq!(delta_name(Dialect::Postgres, &a, 12), "delta_a-12");
        assert!(is_delta_of(Dialect::Sqlite, &a, "_audience_delta_a-12"));
        assert!(is_delta_of(Dialect::Sqlite, &a, "_audience_delta_a"), "the shared delta of an older release");
        assert!(!is_delta_of(Dialect::Sqlite, &a_12, "_audience_delta_a-12"));
        assert!(!is_delta_of(Dialect::Sqlite, &a, "_audience_delta_a_12"));
        assert!(!is_delta_of(Dialect::Sqlite, &a, "_audience_delta_a-"));
        assert!(!is_delta_of(Dialect::Postgres, &a, "delta_a-1x"));
    }

    #[test]
    fn table_names() {
        let sync = SyncName::new("high_value").unwrap();
        let t = Tables::new(Dialect::Sqlite, &sync, 7, Place::Main, Place::Main);
        assert_eq!(t.baseline.qualified(), "\"main\".\"_audience_baseline_high_value\"");
        assert_eq!(t.snapshot.qualified(), "\"main\".\"_audience_snapshot_high_value_7\"");
        assert_eq!(t.dup.qualified(), "\"temp\".\"_audience_dup_high_value\"");
        let t = Tables::new(Dialect::Postgres, &sync, 7, Place::Temp, Place::Main);
        assert_eq!(t.snapshot.qualified(), "\"pg_temp\".\"snapshot_high_value_7\"");
        assert_eq!(t.baseline.qualified(), "\"_audience\".\"baseline_high_value\"");
        assert_eq!(t.logs.qualified(), "\"_audience\".\"logs\"");
    }

    #[test]
    fn snapshot_tables_are_told_apart() {
        let high = SyncName::new("high").unwrap();
        let d = Dialect::Sqlite;
        assert_eq!(snapshot_run(d, &high, "_audience_snapshot_high_12"), Some(12));
        assert_eq!(snapshot_run(d, &high, "_audience_snapshot_high_value_12"), None);
        assert_eq!(snapshot_run(d, &high, "_audience_snapshot_high_"), None);
        assert_eq!(snapshot_run(Dialect::Postgres, &high, "snapshot_high_3"), Some(3));
    }

    #[test]
    fn identifiers_are_quoted_in_generated_sql() {
        let sync = SyncName::new("high_value").unwrap();
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let t = Tables::new(dialect, &sync, 1, Place::Main, Place::Main);
            let all = snapshot(&t, &spec(), 5).join("\n");
            assert!(all.contains("\"we\"\"ird\""), "{all}");
            assert!(!all.contains(" we\"ird"), "{all}");
        }
    }

    #[test]
    fn hints_from_columns() {
        let cols = |c: &[(&str, &str)]| c.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect::<Vec<_>>();
        let snapshot = cols(&[("_audience_key", "INT"), ("email", "TEXT"), ("_audience_fp", "")]);
        let current = cols(&[("_audience_key", "int"), ("_audience_fp", "INTEGER"), ("_audience_config", "INTEGER")]);
        let earlier = cols(&[("_audience_key", ""), ("email", "TEXT"), ("_audience_fp", "INTEGER")]);
        let h = DiffHints::from_columns(false, &current, &snapshot);
        assert!(h.same_key_type && h.fp_follows_key && h.can_merge() && !h.duplicates);
        let h = DiffHints::from_columns(true, &earlier, &snapshot);
        assert!(!h.same_key_type && !h.fp_follows_key && !h.can_merge() && h.duplicates);
        assert!(!DiffHints::from_columns(false, &[], &snapshot).can_merge());
    }

    #[test]
    fn fingerprints() {
        assert_eq!(Dialect::Sqlite.fingerprint(-7, &["m.\"a\"".into()]), "audience_fingerprint(-7, m.\"a\")");
        assert_eq!(Dialect::Sqlite.fingerprint(3, &[]), "audience_fingerprint(3)");
        assert_eq!(
            Dialect::Postgres.fingerprint(3, &["m.\"a\"".into(), "m.\"b\"".into()]),
            "hashtextextended(encode(record_send(ROW(m.\"a\", m.\"b\")), 'hex') COLLATE \"C\", 0)",
            "the fingerprint of every baseline since schema version 4: changing it resends every member"
        );
        assert!(Dialect::Postgres.fingerprint(3, &[]).contains("ROW()"));
    }

    #[test]
    fn failed_records_are_left_out_of_set_based_moves() {
        let sync = SyncName::new("s").unwrap();
        let t = Tables::new(Dialect::Sqlite, &sync, 1, Place::Main, Place::Main);
        assert!(!log_succeeded(&t, &[]).contains("NOT IN"));
        assert!(log_succeeded(&t, &[3, 9]).contains("NOT IN (3, 9)"));
        assert!(baseline_delete(&t, &[4]).contains("NOT IN (4)"));
        assert!(baseline_upsert(&t, &spec(), 1, &[]).contains("ON CONFLICT (\"_audience_key\") DO UPDATE"));
        let first = baseline_insert_first(&t, &spec(), 1, &[5]);
        assert!(first.ends_with("ON CONFLICT (\"_audience_key\") DO NOTHING"), "{first}");
        assert!(first.contains("NOT IN (5)"), "{first}");
        let t = Tables::new(Dialect::Postgres, &sync, 1, Place::Main, Place::Main);
        let new = baseline_insert_new(&t, &spec(), 1, &[6]);
        assert!(!new.contains("ON CONFLICT"), "{new}");
        assert!(new.ends_with("NOT IN (6)"), "{new}");
    }
}
