//! The lock's heartbeat for Snowflake: a thread with a runtime and a session of its own, which
//! renews the lock row when the lease asks (delivery, before each request) and on its own when
//! no batch was recorded for half a lease (a recorded batch is a heartbeat too). Dropping it
//! stops it and logs its session out.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::session::{Bind, Session};
use crate::warehouse::lease::{Lease, Renewed};
use crate::warehouse::lock::beat_every;
use crate::warehouse::{Result, WarehouseError};

/// Who holds the lock when the lock row no longer names this run.
pub(super) const TAKEN: &str = "another run (the lock row no longer holds this run's token)";

/// What the heartbeat's thread is asked.
pub(super) enum Beat {
    /// Renew now (the lease asks before a request), and answer.
    Renew(mpsc::Sender<Result<Renewed, String>>),
    Stop,
}

/// The heartbeat's statement, on a session of its own.
pub(super) struct Beater {
    pub(super) session: Option<Session>,
    pub(super) sql: String,
    pub(super) sync: String,
    pub(super) token: String,
}

impl Beater {
    async fn beat(&mut self) -> Result<Renewed, String> {
        let binds = [Bind::Text(self.sync.clone()), Bind::Text(self.token.clone())];
        let Some(session) = self.session.as_mut() else { return Err("the heartbeat's session ended".into()) };
        match session.query(&self.sql, &binds).await {
            Ok(r) if r.affected_rows() == Some(0) => Ok(Renewed::Lost(TAKEN.into())),
            Ok(_) => Ok(Renewed::Yes),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The heartbeat's thread, with a runtime of its own (the lease's renewal is asked from
/// delivery, which must not wait on the run's own runtime): it renews the lock row when the
/// lease asks, and on its own when no batch was recorded for half a lease. Dropping it stops it.
pub(super) struct Heartbeat {
    tx: mpsc::Sender<Beat>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    pub(super) fn start(
        mut beater: Beater,
        lease: Arc<Lease>,
        length: Duration,
        tx: mpsc::Sender<Beat>,
        rx: mpsc::Receiver<Beat>,
    ) -> Result<Heartbeat> {
        let every = beat_every(length);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| WarehouseError::sql("starting the heartbeat", e))?;
        let thread = std::thread::Builder::new()
            .name("audience-snowflake-heartbeat".into())
            .spawn(move || {
                loop {
                    match rx.recv_timeout(every) {
                        Ok(Beat::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                            if let Some(session) = beater.session.take() {
                                // Best effort: an unused session also expires on its own.
                                let _ = runtime.block_on(session.logout());
                            }
                            break;
                        }
                        Ok(Beat::Renew(reply)) => {
                            let _ = reply.send(runtime.block_on(beater.beat()));
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            if lease.fresh() || lease.lost().is_some() {
                                continue;
                            }
                            match runtime.block_on(beater.beat()) {
                                Ok(Renewed::Yes) => lease.renewed(),
                                Ok(Renewed::Lost(to)) => lease.lose(&to),
                                // Tried again at the next beat; the lease says when it is too late.
                                Err(_) => {}
                            }
                        }
                    }
                }
            })
            .map_err(|e| WarehouseError::sql("starting the heartbeat", e))?;
        Ok(Heartbeat { tx, thread: Some(thread) })
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        let _ = self.tx.send(Beat::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
