//! Early write-back of the database file's dirty pages.
//!
//! Why: a run writes a lot of pages (a 1M-row snapshot is about 150 MB) and then commits, and
//! the commit's disk sync waits for every one of them to reach the disk: 0.07-0.12 s for a
//! 1M-row snapshot on a virtual disk, with the runner idle. Asking the kernel to start writing
//! the dirty pages while they are being made (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, which
//! only starts the writes and waits for none) lets the disk work beside the runner, and leaves
//! the sync little to wait for (about 5 ms in the same measurement).
//!
//! Nothing about durability changes: SQLite still syncs where it always does, and that sync is
//! what makes a commit durable. In WAL mode the log file is written back early too: every frame
//! of it is synced before its checkpoint anyway, and the log is only rewritten from its start
//! after a checkpoint has synced all of it, so an early start moves its disk writes, never adds
//! any.
//!
//! **The descriptors are SQLite's own**, found in `/proc/self/fd`; this module never opens or
//! closes the database file. SQLite locks it with POSIX record locks, and closing *any*
//! descriptor of a file drops every such lock the process holds on it: a handle of our own,
//! closed when a heartbeat stops, would silently unlock the database under a running sync.
//! `sync_file_range` changes nothing about a file, so should SQLite close a descriptor and the
//! number be reused between our check and the call, the worst outcome is an early write-back of
//! some other file.
// Unsafe: `sync_file_range` through libc, to start writing back dirty pages early.
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};

/// A database's files (the main file, and with WAL its log), to start their write-back.
pub struct Writeback {
    /// The files' paths as the kernel shows them (absolute, links resolved), with the descriptor
    /// last found for each.
    files: Vec<(PathBuf, Option<i32>)>,
}

impl Writeback {
    /// The database at `path`, and with `wal` its log file.
    pub fn new(path: &Path, wal: bool) -> Writeback {
        let main = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        let mut files = vec![(main.clone(), None)];
        if wal {
            let mut log = main.into_os_string();
            log.push("-wal");
            files.push((log.into(), None));
        }
        Writeback { files }
    }

    /// Starts writing the files' dirty pages to disk, without waiting for them. A file that no
    /// descriptor of this process has open is skipped. Returns the first error, having tried
    /// every file.
    pub fn start(&mut self) -> std::io::Result<()> {
        let mut result = Ok(());
        for (path, fd) in &mut self.files {
            if !fd.is_some_and(|fd| opened(fd).as_deref() == Some(path.as_path())) {
                *fd = find(path);
            }
            if let Some(fd) = *fd
                && let Err(e) = write_back(fd)
            {
                result = result.and(Err(e));
            }
        }
        result
    }

    /// The descriptors found at the last [`Writeback::start`] (for tests).
    #[cfg(test)]
    pub fn found(&self) -> usize {
        self.files.iter().filter(|(_, fd)| fd.is_some()).count()
    }
}

/// The file descriptor `fd` has open, as the kernel shows it.
fn opened(fd: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()
}

/// A descriptor of this process open on `path`, if any.
fn find(path: &Path) -> Option<i32> {
    std::fs::read_dir("/proc/self/fd")
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .find(|&fd| opened(fd).as_deref() == Some(path))
}

#[cfg(target_os = "linux")]
fn write_back(fd: i32) -> std::io::Result<()> {
    // SAFETY: the call reads and writes none of our memory; on a descriptor that is not (or no
    // longer) a file it fails with an error, which the caller ignores.
    let rc = unsafe { libc::sync_file_range(fd, 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

#[cfg(not(target_os = "linux"))]
fn write_back(_fd: i32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// This process's POSIX locks on the file at `path`, as `/proc/locks` lists them.
    fn locks_on(path: &Path) -> Vec<String> {
        use std::os::unix::fs::MetadataExt;
        let inode = std::fs::metadata(path).unwrap().ino();
        let pid = std::process::id().to_string();
        std::fs::read_to_string("/proc/locks")
            .unwrap()
            .lines()
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.get(1) == Some(&"POSIX")
                    && f.get(4) == Some(&pid.as_str())
                    && f.get(5).is_some_and(|d| d.ends_with(&format!(":{inode}")))
            })
            // Without the line's ordinal, which moves as other processes take and drop locks.
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[test]
    fn writes_back_through_sqlites_own_descriptors_and_keeps_its_locks() {
        let (dir, path) = super::super::scratch_db("writeback");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1); BEGIN").unwrap();
        // A read transaction holds a shared lock on the database file.
        conn.query_row("SELECT count(*) FROM t", [], |_| Ok(())).unwrap();
        let before = locks_on(&path);
        assert!(!before.is_empty(), "SQLite holds a lock");

        let mut wb = Writeback::new(&path, false);
        wb.start().expect("starts on SQLite's descriptor");
        assert_eq!(wb.found(), 1);
        drop(wb);
        assert_eq!(locks_on(&path), before, "the locks are SQLite's as before");

        // No log file: nothing to find, nothing fails.
        let mut both = Writeback::new(&path, true);
        both.start().unwrap();
        assert_eq!(both.found(), 1);
        // A file no descriptor has open is skipped.
        let mut none = Writeback::new(&dir.join("missing.db"), false);
        none.start().unwrap();
        assert_eq!(none.found(), 0);
        conn.execute_batch("COMMIT").unwrap();
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
