//! A 200,000-row SQLite model: the sync's peak memory stays bounded (docs/design/performance.md: under
//! 200 MB, whatever the model's size, since the client streams the delta a batch at a time),
//! and a re-sync reads about as many rows as changed. Peak memory is the child process's own
//! high-water mark (the kernel's `ru_maxrss`, which is `VmHWM` of /proc/PID/status).

mod sync_support;

use std::process::{Command, Stdio};

use sync_support::{Kind, Receiver, Settings, Warehouse, write_config};

const ROWS: i64 = 200_000;

/// Runs `audience sync CONFIG` and returns (exit code, peak resident KiB): `VmHWM` of the
/// child's /proc status, read until it exits. (Not `ru_maxrss` from `wait4`: a child created by
/// fork starts as a copy of this test process, whose receiver holds the whole membership, and
/// that copy would count.)
fn sync_peak(config: &std::path::Path) -> (i32, i64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(["sync", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib: i64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            // Without /proc (or VmHWM in it) the peak would stay 0 and pass any bound.
            assert!(peak > 0, "no VmHWM read from {status_file}: this test needs Linux's /proc to measure memory");
            return (status.code().unwrap_or(-1), peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn memory_is_bounded_and_a_resync_reads_what_changed() {
    let w = Warehouse::new(Kind::Sqlite, "memory");
    let r = Receiver::start();
    {
        let conn = rusqlite::Connection::open(w.dir.join("warehouse.db")).unwrap();
        conn.execute_batch("BEGIN").unwrap();
        let mut insert = conn.prepare("INSERT INTO users (id, email, name) VALUES (?1, ?2, ?3)").unwrap();
        for i in 1..=ROWS {
            insert.execute(rusqlite::params![i, format!("user{i}@example.com"), format!("Name {i}")]).unwrap();
        }
        drop(insert);
        conn.execute_batch("COMMIT").unwrap();
    }
    let settings = Settings { batch_size: 5000, max_concurrency: 4, ..Settings::default() };
    let config = write_config(&w, &r, &settings);

    let (code, peak_kib) = sync_peak(&config);
    assert_eq!(code, 0);
    assert_eq!(r.members().len(), ROWS as usize);
    println!("first sync of {ROWS} rows: peak {} MB", peak_kib / 1024);
    assert!(peak_kib < 200 * 1024, "peak memory {} MB", peak_kib / 1024);

    // 1% changed: the re-sync sends and logs those rows, and reads no others.
    w.exec("UPDATE users SET name = name || ' 2' WHERE id % 100 = 0");
    r.clear_log();
    let (code, peak_kib) = sync_peak(&config);
    assert_eq!(code, 0);
    println!("re-sync with 1% changed: peak {} MB", peak_kib / 1024);
    assert!(peak_kib < 200 * 1024, "peak memory {} MB", peak_kib / 1024);
    assert_eq!(r.ids("PATCH").len(), (ROWS / 100) as usize);
    assert_eq!(w.count("SELECT count(*) FROM _audience_logs WHERE run_id = 2"), ROWS / 100);
    // The delta the client read (recorded as the run's counts) is the changed rows.
    assert_eq!(
        w.count("SELECT updated + inserted + deleted + failed FROM _audience_runs WHERE run_id = 2"),
        ROWS / 100
    );
    assert_eq!(r.members(), w.expected_members());
}
