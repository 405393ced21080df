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

use std::fs::File;
use std::path::Path;

/// A database's files, opened for starting write-back (a no-op outside Linux).
pub struct Writeback {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    files: Vec<File>,
}

impl Writeback {
    /// Opens the database file at `path`, and with `wal` its log file, read-only (write-back
    /// needs no write access). A file that cannot be opened is left out, which only loses its
    /// early start.
    pub fn open(path: &Path, wal: bool) -> Writeback {
        let mut paths = vec![path.to_owned()];
        if wal {
            let mut log = path.as_os_str().to_owned();
            log.push("-wal");
            paths.push(log.into());
        }
        Writeback { files: paths.iter().filter_map(|p| File::open(p).ok()).collect() }
    }

    /// How many files are open.
    #[cfg(test)]
    pub fn files(&self) -> usize {
        self.files.len()
    }

    /// Starts writing the files' dirty pages to disk, without waiting for them.
    pub fn start(&self) -> std::io::Result<()> {
        #[cfg(target_os = "linux")]
        for file in &self.files {
            use std::os::fd::AsRawFd;
            // SAFETY: the descriptor is open for as long as `self`; offset 0 with length 0
            // means the whole file; the call writes nothing to our memory.
            let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starting_write_back_keeps_the_file_as_written() {
        let dir = std::env::temp_dir().join(format!("audience-writeback-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db");
        std::fs::write(&path, vec![7u8; 1 << 20]).unwrap();
        let wb = Writeback::open(&path, false);
        assert_eq!(wb.files(), 1);
        wb.start().expect("starts on a read-only descriptor");
        std::fs::write(&path, vec![7u8; 1 << 20]).unwrap();
        wb.start().expect("starts again");
        assert_eq!(std::fs::read(&path).unwrap(), vec![7u8; 1 << 20]);
        // The log file is taken when it is there.
        assert_eq!(Writeback::open(&path, true).files(), 1);
        std::fs::write(dir.join("db-wal"), b"log").unwrap();
        let both = Writeback::open(&path, true);
        assert_eq!(both.files(), 2);
        both.start().expect("starts on both");
        assert_eq!(Writeback::open(&dir.join("missing"), false).files(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
