//! The statements of a Snowflake run: their golden file (reviewed against Snowflake's
//! documentation; a changed statement fails here until the snapshot is reviewed again), the
//! check that none uses a construct Snowflake lacks, and two runs of the design end to end on
//! fakesnow (`SNOWFLAKE_TEST_URL`, started by `scripts/test`).

use audience::fields::OwnedValue;
use audience::warehouse::snowflake::session::SessionOptions;
use audience::warehouse::snowflake::sql::{RunSql, check_statement};
use audience::warehouse::snowflake::{Bind, QueryResult, Session, SnowflakeSource};
use audience::warehouse::{ModelSpec, SyncName};

fn spec(database: &str) -> ModelSpec {
    ModelSpec {
        sync: SyncName::new("high_value").unwrap(),
        sql: format!("SELECT * FROM \"{database}\".\"PUBLIC\".\"USERS\""),
        primary_key: "USER_ID".into(),
        columns: vec!["EMAIL".into(), "COUNTRY".into()],
    }
}

#[test]
fn golden_statements() {
    let spec = spec("ANALYTICS");
    let run =
        RunSql { database: "ANALYTICS", spec: &spec, run_id: 7, config: 4_242, dry_run: false, resend_all: false };
    let mut text = String::new();
    for (label, sql) in run.all() {
        if let Err(e) = check_statement(&sql) {
            panic!("{label}: {e}\n{sql}");
        }
        text.push_str(&format!("-- {label}\n{sql};\n\n"));
    }
    insta::assert_snapshot!("statements", text);
}

fn fakesnow_source(database: &str) -> SnowflakeSource {
    let url = std::env::var("SNOWFLAKE_TEST_URL").unwrap_or_else(|_| {
        panic!(
            "SNOWFLAKE_TEST_URL is not set: the Snowflake tests need fakesnow. Run them with scripts/test, which \
             installs and starts it, or start `fakesnow -s -p PORT` and set SNOWFLAKE_TEST_URL=http://127.0.0.1:PORT"
        )
    });
    let rest = url.strip_prefix("http://").expect("SNOWFLAKE_TEST_URL is http://HOST:PORT");
    let (host, port) = rest.trim_end_matches('/').rsplit_once(':').expect("SNOWFLAKE_TEST_URL has a port");
    SnowflakeSource::parse(&format!(
        "snowflake://audience@fake/{database}/PUBLIC?password=any-password&host={host}&port={port}&protocol=http"
    ))
    .unwrap()
}

/// A session that checks every statement before sending it, and counts them.
struct Checked {
    session: Session,
    sent: usize,
}

impl Checked {
    async fn run(&mut self, sql: &str, binds: &[Bind]) -> QueryResult {
        check_statement(sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
        self.sent += 1;
        match self.session.query(sql, binds).await {
            Ok(r) => r,
            Err(e) => panic!("{e}\n{sql}"),
        }
    }

    async fn int(&mut self, sql: &str, binds: &[Bind]) -> i64 {
        match &self.run(sql, binds).await.rows[0][0] {
            OwnedValue::Int(n) => *n,
            other => panic!("{other:?}"),
        }
    }
}

fn text(s: &str) -> Bind {
    Bind::Text(s.into())
}

const SYNC: &str = "high_value";
const STARTED: &str = "2026-12-07T10:00:00Z";
const FINISHED: &str = "2026-12-07T10:05:00Z";

/// One run of the design: lock, snapshot, diff, read in pages of `page` rows, record one
/// journal row per page (the first one twice, `failing` seqs fail with 422, `undelivered` are
/// never sent), apply,
/// log, finish, release. Returns the delta's counts per operation (delete, update, insert).
async fn one_run(
    db: &mut Checked,
    database: &str,
    run_id: i64,
    page: i64,
    failing: &[i64],
    undelivered: &[i64],
) -> [i64; 3] {
    let spec = spec(database);
    let sql = RunSql { database, spec: &spec, run_id, config: 4_242, dry_run: false, resend_all: false };
    let token = format!("token-{run_id}");
    for s in sql.create_state() {
        db.run(&s, &[]).await;
    }
    let taken = db.run(&sql.acquire_lock(), &[text(SYNC), text(&token), text("host:1")]).await;
    assert_eq!(taken.affected_rows(), Some(1), "the lock is free");
    let other = db.run(&sql.acquire_lock(), &[text(SYNC), text("intruder"), text("host:2")]).await;
    assert_eq!(other.affected_rows(), Some(0), "a held lock is not taken");
    assert_eq!(db.int(&sql.next_run_id(), &[text(SYNC)]).await, run_id);
    let [insert_run, tie] = <[String; 2]>::try_from(sql.start_run()).unwrap();
    let started = db
        .run(
            &insert_run,
            &[
                text(SYNC),
                text(STARTED),
                text("4242"),
                Bind::Boolean(false),
                text("host"),
                Bind::Fixed(1),
                text(SYNC),
                text(&token),
            ],
        )
        .await;
    assert_eq!(started.affected_rows(), Some(1));
    db.run(&tie, &[text(SYNC), text(&token)]).await;
    db.run(&sql.snapshot_table(), &[]).await;
    db.run(&sql.create_baseline(), &[]).await;
    db.run(&sql.delta_table(), &[]).await;
    let stats = db.run(&sql.delta_stats(), &[]).await;
    let mut counts = [0i64; 3];
    let mut last = 0;
    for row in &stats.rows {
        let [OwnedValue::Int(op), OwnedValue::Int(n), OwnedValue::Int(_), OwnedValue::Int(hi)] = row.as_slice() else {
            panic!("{row:?}")
        };
        counts[*op as usize] = *n;
        last = last.max(*hi);
    }
    // Read and record page by page.
    let mut lo = 1;
    while lo <= last {
        let hi = (lo + page - 1).min(last);
        let rows = db.run(&sql.read_page(), &[Bind::Fixed(lo), Bind::Fixed(hi)]).await.rows;
        assert_eq!(rows.len() as i64, hi - lo + 1);
        assert!(
            rows.windows(2).all(|w| matches!((&w[0][0], &w[1][0]), (OwnedValue::Int(a), OwnedValue::Int(b)) if a < b))
        );
        let mut failures = Vec::new();
        for seq in lo..=hi {
            if failing.contains(&seq) {
                failures.push(
                    serde_json::json!({"seq": seq, "reason": "HTTP 422: invalid email", "status": 422, "sent": true}),
                );
            } else if undelivered.contains(&seq) {
                failures.push(serde_json::json!({"seq": seq, "reason": "stopped", "status": null, "sent": false}));
            }
        }
        let failures = serde_json::Value::Array(failures).to_string();
        let binds = [Bind::Fixed(lo), Bind::Fixed(hi), text(&failures), Bind::Boolean(false), text(SYNC), text(&token)];
        let recorded = db.run(&sql.record_batch(), &binds).await;
        assert_eq!(recorded.affected_rows(), Some(1), "recorded under the lock");
        if lo == 1 {
            // The first page's recording sent again (a statement resent after its connection
            // closed): the journal holds it twice, and it must count once below.
            assert_eq!(db.run(&sql.record_batch(), &binds).await.affected_rows(), Some(1));
        }
        let mut fenced = binds.clone();
        fenced[5] = text("intruder");
        assert_eq!(
            db.run(&sql.record_batch(), &fenced).await.affected_rows(),
            Some(0),
            "a stale token records nothing"
        );
        lo = hi + 1;
    }
    db.run(&sql.apply_outcomes(), &[text(SYNC), text(&token)]).await;
    let log = [text(SYNC), text(STARTED), text(FINISHED), text(SYNC), text(&token), text(SYNC)];
    let logged = db.run(&sql.log_outcomes(), &log).await.affected_rows().unwrap();
    assert_eq!(logged, last - undelivered.len() as i64, "one log row per record sent");
    assert_eq!(db.run(&sql.log_outcomes(), &log).await.affected_rows(), Some(0), "logging is idempotent");
    let finish = [
        text(FINISHED),
        text("succeeded"),
        Bind::Null,
        Bind::Fixed(counts[2]),
        Bind::Fixed(counts[1]),
        Bind::Fixed(counts[0]),
        Bind::Fixed(failing.len() as i64),
        Bind::Fixed(0),
        Bind::Fixed(1),
        Bind::Fixed(0),
        Bind::Fixed(0),
        text("[]"),
        text(SYNC),
        text(SYNC),
        text(&token),
    ];
    assert_eq!(db.run(&sql.finish_run(), &finish).await.affected_rows(), Some(1));
    let [drop_delta, drop_journal] = <[String; 2]>::try_from(sql.drop_run_state()).unwrap();
    db.run(&drop_delta, &[]).await;
    db.run(&drop_journal, &[text(SYNC), text(SYNC), text(&token)]).await;
    assert_eq!(db.run(&sql.release_lock(), &[text(SYNC), text(&token)]).await.affected_rows(), Some(1));
    counts
}

#[tokio::test]
async fn two_runs_of_the_design_on_fakesnow() {
    let database = format!("T{}_DESIGN", std::process::id());
    let source = fakesnow_source(&database);
    let session = Session::login(&source, &SessionOptions::default()).await.unwrap();
    let mut db = Checked { session, sent: 0 };
    db.run(&format!("CREATE DATABASE IF NOT EXISTS \"{database}\""), &[]).await;
    db.run(&format!("CREATE SCHEMA IF NOT EXISTS \"{database}\".\"PUBLIC\""), &[]).await;
    let users = format!("\"{database}\".\"PUBLIC\".\"USERS\"");
    db.run(
        &format!(
            "CREATE OR REPLACE TABLE {users} AS SELECT SEQ4() + 1 AS \"USER_ID\", 'u' || (SEQ4() + 1) || '@example.com' \
             AS \"EMAIL\", 'FR' AS \"COUNTRY\" FROM TABLE(GENERATOR(ROWCOUNT => 100))"
        ),
        &[],
    )
    .await;
    // Two invalid rows: a duplicated key and a null key. Neither is sent.
    db.run(
        &format!("INSERT INTO {users} VALUES (100, 'dup@example.com', 'DE'), (NULL, 'null@example.com', 'DE')"),
        &[],
    )
    .await;

    // Run 1: 99 valid rows (key 100 is duplicated); seq 5 fails, seqs 98-99 are not delivered.
    let counts = one_run(&mut db, &database, 1, 30, &[5], &[98, 99]).await;
    assert_eq!(counts, [0, 0, 99]);
    let baseline = format!("\"{database}\".\"_AUDIENCE\".\"BASELINE_HIGH_VALUE\"");
    assert_eq!(
        db.int(&format!("SELECT COUNT(*) FROM {baseline}"), &[]).await,
        96,
        "99 minus one failed, two undelivered"
    );
    let logs = format!("\"{database}\".\"_AUDIENCE\".\"LOGS\"");
    let failed = db
        .run(
            &format!(
                "SELECT PRIMARY_KEY, OPERATION, STATUS, ERROR_REASON, HTTP_STATUS FROM {logs} WHERE STATUS = 'failed'"
            ),
            &[],
        )
        .await;
    assert_eq!(
        failed.rows,
        vec![vec![
            OwnedValue::Text("5".into()),
            OwnedValue::Text("insert".into()),
            OwnedValue::Text("failed".into()),
            OwnedValue::Text("HTTP 422: invalid email".into()),
            OwnedValue::Int(422)
        ]],
        "seq 5 is the fifth key in the key's own (numeric) order"
    );

    // The model changes: 5 emails, 3 rows gone, 2 new rows, the duplicate resolved.
    db.run(&format!("UPDATE {users} SET \"EMAIL\" = 'new' || \"EMAIL\" WHERE \"USER_ID\" BETWEEN 20 AND 24"), &[])
        .await;
    db.run(&format!("DELETE FROM {users} WHERE \"USER_ID\" IN (30, 31, 32) OR \"EMAIL\" = 'dup@example.com'"), &[])
        .await;
    db.run(
        &format!("INSERT INTO {users} VALUES (101, 'u101@example.com', 'FR'), (102, 'u102@example.com', 'FR')"),
        &[],
    )
    .await;

    // Run 2: deletes 3; updates 5; inserts: 2 new, key 100 (now valid), and the 3 keys run 1
    // did not land (failed 13, undelivered 98 and 99).
    let counts = one_run(&mut db, &database, 2, 7, &[], &[]).await;
    assert_eq!(counts, [3, 5, 6]);
    assert_eq!(db.int(&format!("SELECT COUNT(*) FROM {baseline}"), &[]).await, 96 - 3 + 6);
    let emails = db.int(&format!("SELECT COUNT(*) FROM {baseline} WHERE \"EMAIL\" LIKE 'new%'"), &[]).await;
    assert_eq!(emails, 5, "updates carry the new image");

    // Run 3: nothing changed, nothing to send.
    let counts = one_run(&mut db, &database, 3, 7, &[], &[]).await;
    assert_eq!(counts, [0, 0, 0]);

    // A takeover is a compare-and-set on the token and fence the taker watched; the old
    // holder is fenced out at its next statement.
    let spec = spec(&database);
    let sql = RunSql { database: &database, spec: &spec, run_id: 4, config: 4_242, dry_run: false, resend_all: false };
    db.run(&sql.acquire_lock(), &[text(SYNC), text("old"), text("host:1")]).await;
    let lock = db.run(&sql.read_lock(), &[text(SYNC)]).await;
    let OwnedValue::Int(fence) = lock.rows[0][1] else { panic!("{lock:?}") };
    let take = [text("new"), text("host:2"), text(SYNC), text("old"), Bind::Fixed(fence)];
    assert_eq!(db.run(&sql.take_over_lock(), &take).await.affected_rows(), Some(1));
    assert_eq!(db.run(&sql.take_over_lock(), &take).await.affected_rows(), Some(0), "only once");
    assert_eq!(db.run(&sql.heartbeat(), &[text(SYNC), text("old")]).await.affected_rows(), Some(0), "fenced");
    assert_eq!(db.run(&sql.heartbeat(), &[text(SYNC), text("new")]).await.affected_rows(), Some(1));
    println!("statements sent: {}, round trips: {}", db.sent, db.session.round_trips());
}

/// A no-change re-sync of a model large enough for the engine to work in parallel sends
/// nothing: the fingerprint is the same however the rows were processed.
#[tokio::test]
async fn a_no_change_resync_of_many_rows_sends_nothing() {
    let database = format!("T{}_MANY", std::process::id());
    let source = fakesnow_source(&database);
    let session = Session::login(&source, &SessionOptions::default()).await.unwrap();
    let mut db = Checked { session, sent: 0 };
    db.run(&format!("CREATE DATABASE IF NOT EXISTS \"{database}\""), &[]).await;
    db.run(&format!("CREATE SCHEMA IF NOT EXISTS \"{database}\".\"PUBLIC\""), &[]).await;
    db.run(
        &format!(
            "CREATE OR REPLACE TABLE \"{database}\".\"PUBLIC\".\"USERS\" AS SELECT SEQ4() + 1 AS \"USER_ID\", \
             'u' || (SEQ4() + 1) || '@example.com' AS \"EMAIL\", 'FR' AS \"COUNTRY\" FROM TABLE(GENERATOR(ROWCOUNT => 60000))"
        ),
        &[],
    )
    .await;
    assert_eq!(one_run(&mut db, &database, 1, 20_000, &[], &[]).await, [0, 0, 60_000]);
    let sent = db.sent;
    assert_eq!(one_run(&mut db, &database, 2, 20_000, &[], &[]).await, [0, 0, 0]);
    // A constant, with no batch (the test's own checks included).
    assert_eq!(db.sent - sent, 22);
}
