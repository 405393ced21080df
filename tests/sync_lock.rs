//! The lock of docs/design/sync.md's step 1, against real processes: a live process on this host is never
//! taken over, however old its heartbeat; a holder elsewhere (another host, another PID
//! namespace) is taken over only after its heartbeat stood still for its whole lease, and the
//! run taken over, once it wakes, stops sending and recording ("lost the lock to …"); nothing
//! is lost, and only the request in flight is sent twice. A dry run holds no transaction open:
//! another connection writes to the database while it runs.

mod sync_support;

use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use audience::warehouse::connect::{Source, open};
use audience::warehouse::{Me, ModelSpec, RunRef, SyncName, Warehouse as _};
use sync_support::{Kind, Receiver, Settings, Warehouse, first_synced, sync, wait_until, write_config};

on_engines!(a_paused_holder_on_this_host_is_never_taken_over: sqlite Sqlite, postgres Postgres);

/// Snowflake's lock is a row with a token, as SQLite's (it has no session locks).
mod a_paused_holder_on_this_host_is_never_taken_over_snowflake {
    #[test]
    fn snowflake() {
        super::a_paused_holder_on_this_host_is_never_taken_over(super::Kind::Snowflake, "paused_holder");
    }
}
on_engines!(a_dry_run_lets_another_connection_write: sqlite Sqlite, postgres Postgres);

/// `audience sync CONFIG --format json`, running.
fn spawn_sync(config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(["sync", config.to_str().unwrap(), "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A run of 30 users with lease `lease`, once its first batch of 10 is recorded and its second
/// request is held by the receiver: the receiver, the config and the run.
fn after_its_first_batch(w: &Warehouse, lease: &str) -> (Receiver, std::path::PathBuf, Child) {
    let r = Receiver::start();
    w.add_users(1..=30);
    let config = write_config(w, &r, &settings(lease));
    r.hold(1);
    let first = spawn_sync(&config);
    r.wait_for(2, Duration::from_secs(60));
    wait_until(Duration::from_secs(20), "the first batch to be recorded", || w.recorded() == 10);
    (r, config, first)
}

/// [`after_its_first_batch`] with a 2 s lease, the run then paused (SIGSTOP).
fn paused_after_its_first_batch(w: &Warehouse) -> (Receiver, std::path::PathBuf, Child) {
    let (r, config, first) = after_its_first_batch(w, "2s");
    signal(&first, libc::SIGSTOP);
    (r, config, first)
}

/// The exit code, summary and stderr of a finished [`spawn_sync`].
fn finished(child: Child) -> (i32, serde_json::Value, String) {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap_or(-1), json["syncs"][0].clone(), stderr)
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
}

/// Users 1 to 30 in batches of 10, one request at a time, with lease `lease`.
fn settings(lease: &str) -> Settings {
    Settings {
        batch_size: 10,
        max_concurrency: 1,
        sync_extra: format!("lock_timeout = \"{lease}\""),
        ..Settings::default()
    }
}

fn a_paused_holder_on_this_host_is_never_taken_over(kind: Kind, name: &str) {
    let w = Warehouse::new(kind, name);
    let r = Receiver::start();
    w.add_users(1..=30);
    let config = write_config(&w, &r, &settings("1s"));
    r.hold(0);
    let first = spawn_sync(&config);
    r.wait_for(1, Duration::from_secs(60));
    signal(&first, libc::SIGSTOP);
    // Paused past its lease, with a heartbeat an hour old: still a live process of this host.
    std::thread::sleep(Duration::from_millis(1500));
    w.exec(&format!("UPDATE {} SET heartbeat_at = '2000-01-01T00:00:00Z'", w.state("locks")));
    let (code, s, err) = sync(&config, &[]);
    signal(&first, libc::SIGCONT);
    assert_eq!(code, 1, "{s}\n{err}");
    assert_eq!(s["status"], "stopped", "{s}");
    let error = s["error"].as_str().unwrap_or_default();
    assert!(error.contains("holds the lock") && error.contains(&format!("process {}", first.id())), "{error}");
    assert!(!err.contains("took over"), "{err}");
    // The first run wakes, finds its lock still its own, and finishes.
    r.release();
    let (code, s, err) = finished(first);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!(s["inserted"].as_u64(), Some(30), "{s}");
    assert_eq!(r.received(), 3, "the second run sent nothing");
    assert_eq!(r.members(), w.expected_members());
}

/// This host's name, boot id and PID namespace, and this process's pid and start time.
fn this_process() -> (String, String, u64, u32, u64) {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_owned();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap().trim().to_owned();
    let ns = std::fs::metadata("/proc/self/ns/pid").unwrap().ino();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start = stat[stat.rfind(')').unwrap() + 1..].split_whitespace().nth(19).unwrap().parse().unwrap();
    (host, boot, ns, std::process::id(), start)
}

/// A holder elsewhere (its row rewritten by hand to another host while it is paused) is taken
/// over once its heartbeat stood still for its lease; woken, it sends nothing more and records
/// nothing (its recording is fenced), and says so. The receiver ends with exactly the model;
/// only the request in flight was sent twice. (PostgreSQL's lock is its session's: see
/// `a_run_whose_session_ended_stops`.)
#[test]
fn a_holder_elsewhere_is_taken_over_after_its_lease_and_stops_when_it_wakes() {
    a_holder_elsewhere_is_taken_over(Kind::Sqlite);
}

/// The same on Snowflake, whose lock row holds the holder's identity as JSON, and whose
/// recordings are journal rows fenced by the token: the taker applies the first run's journal
/// (its first batch) before its own diff, and the first run's late recording inserts nothing.
#[test]
fn a_holder_elsewhere_is_taken_over_after_its_lease_and_stops_when_it_wakes_snowflake() {
    a_holder_elsewhere_is_taken_over(Kind::Snowflake);
}

fn a_holder_elsewhere_is_taken_over(kind: Kind) {
    let w = Warehouse::new(kind, "lock_elsewhere");
    let (r, config, first) = paused_after_its_first_batch(&w);
    if kind == Kind::Snowflake {
        let holder = r#"{"host": "elsewhere", "pid": 4242, "boot_id": "another-boot", "pid_ns": 1, "start_time": 1, "lease_ms": 2000}"#;
        w.exec(&format!("UPDATE {} SET holder = '{holder}'", w.state("locks")));
    } else {
        w.exec(&format!("UPDATE {} SET host = 'elsewhere', boot_id = 'another-boot'", w.state("locks")));
    }
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert!(err.contains("took over the stale lock of process") && err.contains("on host elsewhere"), "{err}");
    assert!(err.contains("its heartbeat stood still for its whole lease (2 s)"), "{err}");
    assert_eq!(s["inserted"].as_u64(), Some(20), "what the first run had not recorded: {s}");
    // The first run wakes: its request in flight is answered, and that is all it does.
    r.release();
    signal(&first, libc::SIGCONT);
    let (code, s, err) = finished(first);
    assert_eq!(code, 1, "{s}\n{err}");
    assert_eq!(s["status"], "failed", "{s}");
    let error = s["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("lost the lock to ") && error.contains("stopped sending and recording"), "{error}");
    assert_eq!(r.received(), 4, "after waking, the first run sent nothing but the request in flight");
    let logs = format!("SELECT count(*) FROM {} WHERE run_id = 1", w.state("logs"));
    assert_eq!(w.count(&logs), 10, "after waking, the first run recorded nothing");
    let mut sent = r.ids("POST");
    sent.sort_unstable();
    // The request in flight at the pause is the second to arrive (with one request at a time,
    // the first two batches may go out in either order).
    let in_flight = r.requests()[1].ids.clone();
    let mut expected: Vec<i64> = (1..=30).chain(in_flight.iter().copied()).collect();
    expected.sort_unstable();
    assert_eq!(
        sent,
        expected,
        "the request in flight at the pause twice ({in_flight:?}); nothing else: {:?}\n{err}",
        r.requests().iter().map(|g| (g.method.clone(), g.status, g.ids.clone())).collect::<Vec<_>>()
    );
    assert_eq!(r.members(), w.expected_members(), "nothing lost");
    let runs = w.rows(&format!("SELECT CAST(run_id AS TEXT), status FROM {} ORDER BY run_id", w.state("runs")));
    assert_eq!(runs[0][1].as_deref(), Some("abandoned"), "{runs:?}");
    assert_eq!(runs[1][1].as_deref(), Some("succeeded"), "{runs:?}");
    // Its late outcome moved nothing: the next run finds nothing to send, and no delta is left.
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["requests"].as_u64()), (0, Some(0)), "{s}\n{err}");
    assert!(!w.state_tables().iter().any(|t| t.contains("delta")), "{:?}", w.state_tables());
}

/// Two holders with the same host and pid are told apart by their PID namespace: a row naming
/// this very process, its start time and this boot, but another PID namespace (a container
/// whose pid 1 is not ours) is a holder elsewhere, taken over after its lease; in this PID
/// namespace it is a live process, never taken over.
#[test]
fn holders_in_another_pid_namespace_are_told_apart() {
    let (w, r, config) = first_synced(Kind::Sqlite, "lock_pidns", 1..=5);
    let (host, boot, ns, pid, start) = this_process();
    let hand_written = |ns: u64| {
        w.exec(&format!(
            "INSERT INTO {} (sync_name, run_id, host, pid, acquired_at, heartbeat_at, token, boot_id, pid_ns, \
             start_time, lease_ms) VALUES ('members', 9, '{host}', {pid}, '2024-01-01T00:00:00.000Z', \
             '2099-01-01T00:00:00.000Z', 'their-token', '{boot}', {ns}, {start}, 1000)",
            w.state("locks")
        ))
    };
    hand_written(ns);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 1, "{s}\n{err}");
    let error = s["error"].as_str().unwrap_or_default();
    assert!(error.contains(&format!("process {pid} on host {host} (run 9")), "{error}");
    w.exec(&format!("DELETE FROM {}", w.state("locks")));
    hand_written(ns + 1);
    w.add_users(6..=7);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert!(
        err.contains(&format!("took over the stale lock of process {pid}")) && err.contains("stood still"),
        "{err}"
    );
    assert_eq!(s["inserted"].as_u64(), Some(2));
    assert_eq!(r.members(), w.expected_members());
    assert_eq!(w.count(&format!("SELECT count(*) FROM {}", w.state("locks"))), 0, "released");
}

/// PostgreSQL: the lock lives as long as the session that took it. A run whose session ended
/// while it was paused (here: terminated by hand) lost its lock to the run that took it then;
/// woken, it records nothing (every write goes through that session) and sends nothing more.
#[test]
fn a_run_whose_session_ended_stops() {
    let w = Warehouse::new(Kind::Postgres, "lock_session");
    let (r, config, first) = paused_after_its_first_batch(&w);
    w.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid()",
    );
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64()), (0, Some(20)), "{s}\n{err}");
    r.release();
    signal(&first, libc::SIGCONT);
    let (code, s, err) = finished(first);
    assert_eq!(code, 1, "{s}\n{err}");
    let error = s["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("lost the lock to ") && error.contains("session ended"), "{error}");
    // Its request in flight was answered; a batch it had already handed to delivery may still go
    // out if delivery asks before the session's end is seen (both are noticed on waking, in
    // either order), but nothing it read after waking, and none of its outcomes is recorded.
    assert!((4..=5).contains(&r.received()), "{} requests", r.received());
    let logs = format!("SELECT count(*) FROM {} WHERE run_id = 1", w.state("logs"));
    assert_eq!(w.count(&logs), 10, "only what the first run recorded before its session ended");
    assert_eq!(r.members(), w.expected_members(), "nothing lost");
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["requests"].as_u64()), (0, Some(0)), "{s}\n{err}");
}

/// PostgreSQL: each recording ends with the fence, the lock row's heartbeat naming the run's
/// token. Recordings run on a task of their own while the runner reads on, so a fence that
/// fails is heard of by a later hand-over or at the run's end: either way the run stops with
/// "lost the lock", its run row says so, and nothing past the fence is recorded.
#[test]
fn a_run_whose_lock_row_is_no_longer_its_own_stops() {
    let w = Warehouse::new(Kind::Postgres, "lock_fence");
    let (r, config, first) = after_its_first_batch(&w, "10m");
    w.exec(&format!("UPDATE {} SET token = 'another run', host = 'elsewhere'", w.state("locks")));
    r.release();
    let (code, s, err) = finished(first);
    assert_eq!(code, 1, "{s}\n{err}");
    assert_eq!(s["status"], "failed", "{s}");
    let error = s["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("lost the lock to ") && error.contains("elsewhere"), "{error}");
    let logs = format!("SELECT count(*) FROM {} WHERE run_id = 1", w.state("logs"));
    assert_eq!(w.count(&logs), 10, "nothing recorded past the fence");
    let runs = w.rows(&format!("SELECT status, error FROM {} WHERE run_id = 1", w.state("runs")));
    assert_eq!(runs[0][0].as_deref(), Some("failed"), "{runs:?}");
    assert!(runs[0][1].as_deref().unwrap_or_default().starts_with("lost the lock to "), "{runs:?}");
    assert!((2..=3).contains(&r.received()), "{} requests", r.received());
    // The next run finds a lock row without its session, takes it, and sends what was not
    // recorded: nothing is lost.
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64()), (0, Some(20)), "{s}\n{err}");
    assert_eq!(r.members(), w.expected_members(), "nothing lost");
}

/// A dry run takes the lock, but holds no transaction open while it works: another connection
/// writes to the database between its steps, and the dry run leaves nothing behind.
fn a_dry_run_lets_another_connection_write(kind: Kind, name: &str) {
    let (w, _r, _config) = first_synced(kind, name, 1..=20);
    w.exec("UPDATE users SET name = 'changed' WHERE id <= 5");
    let tables = w.state_tables();
    let source = match kind {
        Kind::Sqlite => Source::Sqlite { path: w.path().to_owned(), shown: "w.db".into() },
        Kind::Postgres => Source::Postgres { url: w.source(), shown: "pg".into() },
        // Snowflake's dry run holds nothing open by design (every statement autocommits): its
        // leftovers are checked by sync_mirror's dry run.
        Kind::Snowflake => panic!("not a Snowflake scenario"),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        // Another connection.
        let other = match kind {
            Kind::Sqlite | Kind::Snowflake => None,
            Kind::Postgres => {
                let (client, conn) = tokio_postgres::connect(&w.source(), tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(conn);
                client.batch_execute("SET lock_timeout = 1").await.unwrap();
                Some(client)
            }
        };
        let write = async |sql: String| match &other {
            None => {
                // A short busy wait, as any writer has: a reader that prepares its first
                // statement holds a shared lock for an instant. (Under a dry run that holds the
                // write lock, no wait is long enough: this thread drives the dry run.)
                let conn = rusqlite::Connection::open(w.path()).unwrap();
                conn.busy_timeout(Duration::from_secs(5)).unwrap();
                conn.execute_batch(&sql).map_err(|e| e.to_string())
            }
            Some(client) => client.batch_execute(&sql).await.map_err(|e| e.to_string()),
        };
        let mut warehouse = open(&source).await.unwrap();
        let sync = SyncName::new("members").unwrap();
        let me = Me::current(Duration::from_secs(60));
        warehouse.begin(&sync, &me, true).await.unwrap();
        write("INSERT INTO users (id, email, name) VALUES (100, 'u100@example.com', 'N100')".into())
            .await
            .expect("a write after the dry run took the lock");
        let spec = ModelSpec {
            sync: sync.clone(),
            sql: "SELECT id, email, name FROM users".into(),
            primary_key: "id".into(),
            columns: vec!["id".into(), "email".into(), "name".into()],
        };
        let run = RunRef { sync: sync.clone(), run_id: 2, started_at: "t".into(), config: 7, write_logs: true };
        let stats = warehouse.build_delta(&spec, &run, false).await.unwrap();
        write("INSERT INTO users (id, email, name) VALUES (101, 'u101@example.com', 'N101')".into())
            .await
            .expect("a write after the dry run built its delta");
        assert_eq!(stats.snapshot_rows, 21, "the snapshot saw the first write, not the second");
        let mut read = 0;
        let (lo, hi) =
            (stats.ranges.iter().flatten().map(|r| r.0).min(), stats.ranges.iter().flatten().map(|r| r.1).max());
        let mut after = lo.unwrap() - 1;
        while let Some(last) = warehouse.read_delta(&spec, after, hi.unwrap(), 2, &mut |_| read += 1).await.unwrap() {
            write(format!("UPDATE users SET email = 'x{last}@example.com' WHERE id = 20"))
                .await
                .expect("a write between the dry run's reads");
            after = last;
        }
        assert_eq!(read, stats.counts.iter().sum::<u64>());
        warehouse.end(&sync).await.unwrap();
    });
    assert_eq!(w.count("SELECT count(*) FROM users"), 22, "every write stayed");
    assert_eq!(w.state_tables(), tables, "the dry run left no table behind");
    assert_eq!(w.count(&format!("SELECT count(*) FROM {}", w.state("locks"))), 0, "nor its lock row");
}
