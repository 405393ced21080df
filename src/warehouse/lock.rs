//! Who holds a sync's lock, and when a lock row may be taken over (docs/design/sync.md, step 1, "The lock").
//!
//! PostgreSQL needs no staleness rule: its session advisory lock dies with the session. SQLite
//! has no such thing, so the lock is a row holding a random token for the run, the holder's
//! identity ([`Me`]: host, boot id, PID namespace, pid, the process's start time) and its lease
//! (`lock_timeout`). [`judge`] is the rule, pure so that it is table-tested:
//!
//! * a holder on this host, in this boot and this PID namespace is stale only when its process
//!   (pid *and* start time: a pid is reused) is gone; a live process is never taken over,
//!   however old its heartbeat (it may be paused, or waiting on another writer);
//! * any other holder (another host, another boot, another PID namespace, or a row without
//!   identity) is stale only after the taker watched its heartbeat stay unchanged for a whole
//!   lease on its own monotonic clock ([`Judgement::Watch`]): clocks of two hosts are never
//!   compared.
// Unsafe: `kill(pid, 0)`, `gethostname` and `clock_gettime` through libc: whether a lock's holder
// lives, and a clock that counts time asleep.
#![allow(unsafe_code)]

use std::fmt;
use std::time::Duration;

/// The shortest lease (docs/design/sync.md, step 1: `lock_timeout` is 1 s to 1 h, default 10
/// minutes). The config checks `lock_timeout` against the same range, with constants of its own
/// (the warehouse does not read the config); `tests/config.rs` holds the two in step.
pub const MIN_LEASE: Duration = Duration::from_secs(1);
/// The longest lease.
pub const MAX_LEASE: Duration = Duration::from_secs(3600);
/// The lease of a run whose config does not set `lock_timeout`.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(600);
/// The longest time between two heartbeats of a holder: well inside any lease (see
/// [`beat_every`]), and short enough that a taker watching a live holder elsewhere sees its
/// heartbeat move within seconds, and stops.
const MAX_BEAT: Duration = Duration::from_secs(5);

/// How often a holder with lease `lease` renews its heartbeat: a quarter of the lease, at most
/// every `MAX_BEAT`.
pub fn beat_every(lease: Duration) -> Duration {
    (lease / 4).min(MAX_BEAT)
}

/// The identity of a process, as a lock row stores it. Fields a row written by an older
/// release lacks are `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The host name.
    pub host: String,
    /// `/proc/sys/kernel/random/boot_id`: tells a reboot (and another machine with the same
    /// host name) apart.
    pub boot_id: Option<String>,
    /// The inode of `/proc/self/ns/pid`: two containers that both run as pid 1 differ here.
    pub pid_ns: Option<u64>,
    /// The process id (in its PID namespace).
    pub pid: u32,
    /// The process's start time in clock ticks since boot (`/proc/PID/stat`, field 22): a
    /// reused pid has another.
    pub start_time: Option<u64>,
}

impl Identity {
    /// This process.
    pub fn current() -> Identity {
        let pid = std::process::id();
        Identity { host: hostname(), boot_id: boot_id(), pid_ns: pid_namespace(), pid, start_time: start_time(pid) }
    }

    /// Whether `other` runs on this host, in this boot and in this PID namespace: then whether
    /// it lives can be answered here, exactly.
    pub fn same_pid_space(&self, other: &Identity) -> bool {
        self.host == other.host
            && self.boot_id.is_some()
            && self.boot_id == other.boot_id
            && self.pid_ns.is_some()
            && self.pid_ns == other.pid_ns
    }
}

/// The holder of a lock, as its lock row shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockHolder {
    /// The holder's process.
    pub identity: Identity,
    /// The run's random token (`None`: a row written by an older release).
    pub token: Option<String>,
    /// Its lease (`None`: a row written by an older release).
    pub lease: Option<Duration>,
    /// The run it is doing, when it got that far.
    pub run_id: Option<i64>,
    /// When it took the lock (RFC 3339, UTC).
    pub since: String,
    /// Its last heartbeat (RFC 3339, UTC, by the holder's clock).
    pub heartbeat: String,
}

impl fmt::Display for LockHolder {
    /// `process 4242 on host db1 (run 7, since 2024-05-01T12:00:00.000Z, last heartbeat ...)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process {} on host {} (", self.identity.pid, self.identity.host)?;
        if let Some(run) = self.run_id {
            write!(f, "run {run}, ")?;
        }
        write!(f, "since {}, last heartbeat {})", self.since, self.heartbeat)
    }
}

/// This run, as it writes itself into a lock row: its process's identity, a random token of
/// its own (so that two runs of one process are told apart), and its lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Me {
    /// This process.
    pub identity: Identity,
    /// A random token of this run, written into the lock row.
    pub token: String,
    /// How long the lock row stays valid without a heartbeat (1 s to 1 h).
    pub lease: Duration,
}

impl Me {
    /// A new run of the current process, with lease `lease` (clamped to 1 s..1 h).
    pub fn current(lease: Duration) -> Me {
        Me { identity: Identity::current(), token: new_token(), lease: lease.clamp(MIN_LEASE, MAX_LEASE) }
    }

    /// This process's id.
    pub fn pid(&self) -> u32 {
        self.identity.pid
    }

    /// This process's host name.
    pub fn host(&self) -> &str {
        &self.identity.host
    }
}

/// What a taker makes of a lock row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// Its process lives on this host: never taken over.
    Live,
    /// Stale, for this reason (the log line of the takeover).
    Stale(String),
    /// A holder elsewhere: stale only if its heartbeat stays unchanged for this long, watched
    /// on the taker's monotonic clock.
    Watch(Duration),
}

/// Whether a process of this host and PID namespace lives, from its pid and start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// A process with that pid and start time runs.
    Alive,
    /// No such process: the holder is dead.
    Gone,
}

/// The rule of docs/design/sync.md's step 1. `alive` tells whether (pid, start time) is a live process of
/// this host and PID namespace; `lease` is the taker's own, used when the row names none.
pub fn judge(holder: &LockHolder, me: &Me, alive: &dyn Fn(u32, Option<u64>) -> Liveness) -> Judgement {
    let h = &holder.identity;
    if me.identity.same_pid_space(h) {
        if holder.token.as_deref() == Some(me.token.as_str()) {
            // Our own token: a row this very run wrote (taking the lock again is harmless).
            return Judgement::Stale("it is this run's own".into());
        }
        if h.pid == me.identity.pid && h.start_time == me.identity.start_time {
            // This process, in an earlier run that ended without removing its row.
            return Judgement::Stale("an earlier run of this process left it".into());
        }
        return match alive(h.pid, h.start_time) {
            Liveness::Alive => Judgement::Live,
            Liveness::Gone => Judgement::Stale("its process is gone".into()),
        };
    }
    if h.boot_id.is_none() && h.host == me.identity.host {
        // A row of an older release on this host: its pid is all there is to go by.
        return match alive(h.pid, None) {
            Liveness::Alive => Judgement::Live,
            Liveness::Gone => Judgement::Stale("its process is gone".into()),
        };
    }
    Judgement::Watch(holder.lease.unwrap_or(me.lease).clamp(MIN_LEASE, MAX_LEASE))
}

/// Whether process `pid` of this PID namespace lives and, when `start_time` is known, started
/// then (a pid is reused after its process ends).
pub fn process_liveness(pid: u32, start_time: Option<u64>) -> Liveness {
    if !process_alive(pid) {
        return Liveness::Gone;
    }
    match (start_time, self::start_time(pid)) {
        (Some(wanted), Some(found)) if wanted != found => Liveness::Gone,
        _ => Liveness::Alive,
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

/// This boot's id (Linux), `None` elsewhere.
fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let id = id.trim();
    (!id.is_empty()).then(|| id.to_owned())
}

/// The inode of this process's PID namespace (Linux), `None` elsewhere.
fn pid_namespace() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/pid").ok().map(|m| m.ino())
}

/// The start time of process `pid` in clock ticks since boot (`/proc/PID/stat`, field 22).
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// Field 22 of a `/proc/PID/stat` line. The command name (field 2) is in parentheses and may
/// hold spaces and parentheses itself, so fields are counted after its last `)`.
fn parse_start_time(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    // Field 3 is the first after the name: field 22 is the 20th.
    after.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// A random token of 128 bits, as 32 hex digits.
fn new_token() -> String {
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if read.is_err() {
        // No /dev/urandom: std's per-process random keys, the time and the pid.
        use std::hash::{BuildHasher, RandomState};
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let a = RandomState::new().hash_one((nanos, std::process::id()));
        let b = RandomState::new().hash_one((a, nanos));
        bytes[..8].copy_from_slice(&a.to_be_bytes());
        bytes[8..].copy_from_slice(&b.to_be_bytes());
    }
    const_hex::encode(bytes)
}

/// A clock that counts time asleep (Linux's `CLOCK_BOOTTIME`; elsewhere the monotonic clock):
/// a heartbeat's age measured on it includes the time the process or the machine was
/// suspended, which is exactly the time a taker elsewhere may have been watching.
pub fn boot_clock() -> Duration {
    #[cfg(target_os = "linux")]
    let clock = libc::CLOCK_BOOTTIME;
    #[cfg(not(target_os = "linux"))]
    let clock = libc::CLOCK_MONOTONIC;
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write into.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(host: &str, boot: &str, ns: u64, pid: u32, start: u64) -> Identity {
        Identity { host: host.into(), boot_id: Some(boot.into()), pid_ns: Some(ns), pid, start_time: Some(start) }
    }

    fn holder(identity: Identity) -> LockHolder {
        LockHolder {
            identity,
            token: Some("theirs".into()),
            lease: Some(Duration::from_secs(20)),
            run_id: Some(3),
            since: "s".into(),
            heartbeat: "h".into(),
        }
    }

    #[test]
    fn the_takeover_rule() {
        let me = Me { identity: identity("a", "b1", 7, 10, 500), token: "mine".into(), lease: DEFAULT_LEASE };
        // Process 20 started at tick 900 lives; nothing else does.
        let alive = |pid: u32, start: Option<u64>| {
            if pid == 20 && start.is_none_or(|s| s == 900) { Liveness::Alive } else { Liveness::Gone }
        };
        let watch = Judgement::Watch(Duration::from_secs(20));
        let stale = |why: &str| Judgement::Stale(why.into());
        let table: Vec<(LockHolder, Judgement)> = vec![
            // This host, boot and namespace: alive or not, whatever the heartbeat.
            (holder(identity("a", "b1", 7, 20, 900)), Judgement::Live),
            (holder(identity("a", "b1", 7, 21, 900)), stale("its process is gone")),
            // Pid 20 reused by another process: the start time differs.
            (holder(identity("a", "b1", 7, 20, 901)), stale("its process is gone")),
            // Same host and pid, another PID namespace (two containers, both pid 20): watched.
            (holder(identity("a", "b1", 8, 20, 900)), watch.clone()),
            (holder(identity("a", "b1", 8, 21, 900)), watch.clone()),
            // Same host name, another boot (a reboot, or another machine): watched.
            (holder(identity("a", "b2", 7, 20, 900)), watch.clone()),
            // Another host: watched for the holder's lease.
            (holder(identity("c", "b1", 7, 20, 900)), watch.clone()),
            // This process in an earlier run.
            (holder(identity("a", "b1", 7, 10, 500)), stale("an earlier run of this process left it")),
        ];
        for (h, want) in table {
            assert_eq!(judge(&h, &me, &alive), want, "{h:?}");
        }
        // This run's own token.
        let mut own = holder(identity("a", "b1", 7, 20, 900));
        own.token = Some("mine".into());
        assert_eq!(judge(&own, &me, &alive), stale("it is this run's own"));
        // A row of an older release: host and pid only, or the taker's lease when it names none.
        let old = |host: &str, pid| LockHolder {
            identity: Identity { host: host.into(), boot_id: None, pid_ns: None, pid, start_time: None },
            token: None,
            lease: None,
            ..holder(identity("x", "x", 0, 0, 0))
        };
        assert_eq!(judge(&old("a", 20), &me, &alive), Judgement::Live);
        assert_eq!(judge(&old("a", 21), &me, &alive), stale("its process is gone"));
        assert_eq!(judge(&old("c", 20), &me, &alive), Judgement::Watch(DEFAULT_LEASE));
    }

    #[test]
    fn this_process_is_known() {
        let me = Identity::current();
        assert!(process_alive(me.pid));
        assert!(!process_alive(0));
        assert!(!process_alive(u32::MAX));
        assert!(!me.host.is_empty());
        if cfg!(target_os = "linux") {
            assert!(me.boot_id.is_some() && me.pid_ns.is_some() && me.start_time.is_some(), "{me:?}");
            assert_eq!(process_liveness(me.pid, me.start_time), Liveness::Alive);
            assert_eq!(process_liveness(me.pid, me.start_time.map(|t| t + 1)), Liveness::Gone);
        }
        let (a, b) = (Me::current(DEFAULT_LEASE), Me::current(Duration::ZERO));
        assert_ne!(a.token, b.token);
        assert_eq!(a.token.len(), 32);
        assert_eq!(b.lease, MIN_LEASE);
    }

    #[test]
    fn start_times_are_field_22() {
        let stat = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 10";
        assert_eq!(parse_start_time(stat), Some(123456));
        assert_eq!(parse_start_time("42 (x) S 1"), None);
        assert_eq!(parse_start_time("garbage"), None);
    }

    #[test]
    fn beats_stay_well_inside_the_lease() {
        assert_eq!(beat_every(Duration::from_secs(1)), Duration::from_millis(250));
        assert_eq!(beat_every(DEFAULT_LEASE), MAX_BEAT);
        let before = boot_clock();
        assert!(boot_clock() >= before);
    }

    #[test]
    fn holders_are_named() {
        let shown = holder(identity("db1", "b", 1, 4242, 1)).to_string();
        assert_eq!(shown, "process 4242 on host db1 (run 3, since s, last heartbeat h)");
    }
}
