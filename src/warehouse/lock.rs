//! Who holds a sync's lock, and when a SQLite lock row is stale (sync.md, step 1).
//!
//! PostgreSQL needs no staleness rule: its session advisory lock dies with the session. SQLite
//! has no such thing, so the lock is a row with the holder's host, process id and a heartbeat
//! the holder refreshes every [`HEARTBEAT`]. The row is stale, and may be taken over, when the
//! process is gone on this host, or when the heartbeat is older than [`STALE_AFTER`] (a holder
//! on another host, or one that hangs).
// Unsafe: `kill(pid, 0)` and `gethostname` through libc, to tell whether a lock's holder lives.
#![allow(unsafe_code)]

use std::fmt;
use std::time::Duration;

/// How often a holder refreshes its SQLite lock row.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// A heartbeat older than this makes the lock stale.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// The holder of a lock, as its lock row shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockHolder {
    pub host: String,
    pub pid: u32,
    /// The run it is doing, when it got that far.
    pub run_id: Option<i64>,
    /// When it took the lock (RFC 3339, UTC).
    pub since: String,
    /// Its last heartbeat (RFC 3339, UTC).
    pub heartbeat: String,
}

impl fmt::Display for LockHolder {
    /// `process 4242 on host db1 (run 7, since 2024-05-01T12:00:00.000Z, last heartbeat ...)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process {} on host {} (", self.pid, self.host)?;
        if let Some(run) = self.run_id {
            write!(f, "run {run}, ")?;
        }
        write!(f, "since {}, last heartbeat {})", self.since, self.heartbeat)
    }
}

/// This process, as it writes itself into a lock row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Me {
    pub host: String,
    pub pid: u32,
}

impl Me {
    /// The current process on the current host.
    pub fn current() -> Me {
        Me { host: hostname(), pid: std::process::id() }
    }
}

/// Why a lock row is stale, for the log line of a takeover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stale {
    /// The holder ran on this host and its process is gone.
    ProcessGone,
    /// The heartbeat is older than [`STALE_AFTER`].
    Heartbeat,
}

impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stale::ProcessGone => f.write_str("its process is gone"),
            Stale::Heartbeat => write!(f, "its heartbeat is older than {} s", STALE_AFTER.as_secs()),
        }
    }
}

/// Whether a lock row is stale: pure, so that the rule is table-tested. `heartbeat_age` is how
/// long ago the holder's heartbeat was (`None` when it cannot be read, which counts as stale
/// only through the process check); `alive` says whether a process id lives on this host.
pub fn stale(
    holder: &LockHolder,
    me: &Me,
    heartbeat_age: Option<Duration>,
    alive: &dyn Fn(u32) -> bool,
) -> Option<Stale> {
    if holder.host == me.host && (holder.pid == me.pid || !alive(holder.pid)) {
        // Our own pid in a row we did not write is a dead process's whose id was reused by us.
        return Some(Stale::ProcessGone);
    }
    match heartbeat_age {
        Some(age) if age > STALE_AFTER => Some(Stale::Heartbeat),
        _ => None,
    }
}

/// Whether process `pid` exists on this host (`kill(pid, 0)`: permission denied means it exists
/// but belongs to someone else).
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; kill only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The host name (`gethostname`), or `localhost` when it cannot be read.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(host: &str, pid: u32) -> LockHolder {
        LockHolder { host: host.into(), pid, run_id: Some(3), since: "s".into(), heartbeat: "h".into() }
    }

    #[test]
    fn staleness_rule() {
        let me = Me { host: "a".into(), pid: 10 };
        let alive = |pid: u32| pid == 20;
        let secs = |s| Some(Duration::from_secs(s));
        let table: [(LockHolder, Option<Duration>, Option<Stale>); 8] = [
            (holder("a", 20), secs(1), None),
            (holder("a", 20), secs(31), Some(Stale::Heartbeat)),
            (holder("a", 21), secs(1), Some(Stale::ProcessGone)),
            (holder("a", 10), secs(1), Some(Stale::ProcessGone)),
            (holder("b", 21), secs(1), None),
            (holder("b", 21), secs(30), None),
            (holder("b", 21), secs(31), Some(Stale::Heartbeat)),
            (holder("b", 21), None, None),
        ];
        for (h, age, want) in table {
            assert_eq!(stale(&h, &me, age, &alive), want, "{h:?} {age:?}");
        }
    }

    #[test]
    fn this_process_is_alive() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(0));
        assert!(!process_alive(u32::MAX));
        assert!(!hostname().is_empty());
    }

    #[test]
    fn holders_are_named() {
        let shown = holder("db1", 4242).to_string();
        assert_eq!(shown, "process 4242 on host db1 (run 3, since s, last heartbeat h)");
    }
}
