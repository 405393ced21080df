//! Delivering one action of one run: batches in, requests out, an outcome for every record.
//!
//! A batch handed to [`ActionSender::send`] is cut by count into pieces of `batch_size`; each
//! piece is one task, and then, recursively:
//!
//! ```text
//!  piece ──render──▶ body ──over max_request_bytes?──▶ measure each record, pack greedily
//!    │  (error: halves, down to the record)        (still over: halves; one record: fails)
//!    ▼
//!  send (limiter, retries) ──2xx──────────▶ succeeded (but the records the body refuses,
//!                          │                 with the action's `response` setting)
//!                          ──400/413/422──▶ halves, one after the other (depth first)
//!                          ──401/403/404/405──▶ the run stops; the records stay undelivered
//!                          ──anything else──▶ failed with the status and reason
//! ```
//!
//! Packs of one piece run concurrently (joined in one task); the destination's
//! [`super::limits::Limiter`] bounds what is actually in flight. The halves of a rejected
//! request run one after the other, and one rejected request of the action is split at a time
//! (the others wait for it), so that the splitting bound is reached down one batch, after
//! about 150 requests, rather than after a level of every batch (docs/design/sync.md, Delivery).

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::Semaphore;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use super::batching::{Layout, Packed, pack_by_bytes, pack_by_count};
use super::bisect::{SPLIT_BOUND, SplitBound, halves};
use super::client::{Attempted, ClientInner, MAX_RESPONSE_BYTES, Target, show_duration};
use super::idempotency::idempotency_key;
use super::mask::{Masker, snippet};
use super::outcome::{ActionSummary, Outcome, Report, STATUS_CLASSES, StopReason, status_class};
use super::progress::Progress;
use super::records::RenderBatch;
use super::settings::{Action, Endpoint};
use super::stop::StopToken;
use crate::http::policy::{Answer, Jitter, Verdict, classify, next_retry, parse_retry_after, retry_after_too_late};
use crate::http::response::{Naming, Reading, ResponseRule};

/// Which action of which run, and where its requests go.
#[derive(Clone, Debug)]
pub struct ActionContext {
    /// The sync's name (part of every idempotency key, and of log spans).
    pub sync: String,
    /// The run's id, increasing per sync.
    pub run_id: u64,
    /// Which of the three actions this is (part of every idempotency key).
    pub action: Action,
    /// Where the action's requests go: method, URL and headers.
    pub endpoint: Endpoint,
    /// At most this many records per request (1..=5000; 0 is taken as 1).
    pub batch_size: usize,
    /// Where progress is shown ([`Progress::hidden`] for nowhere).
    pub progress: Progress,
}

/// Delivers the records of one action of one run. Made by [`super::DeliveryClient::action`].
///
/// Call [`ActionSender::finish`] at the end: dropping the sender aborts what is in flight.
#[derive(Debug)]
pub struct ActionSender<B: RenderBatch> {
    shared: Arc<Shared<B>>,
    tasks: JoinSet<()>,
    /// Pieces of this action in progress: bounds the records held in memory while the limiter
    /// makes them wait.
    room: Arc<Semaphore>,
}

impl<B: RenderBatch> ActionSender<B> {
    pub(crate) fn new(
        client: Arc<ClientInner>,
        target: Target,
        masker: Masker,
        context: ActionContext,
        response: Option<Arc<ResponseRule>>,
        stop: StopToken,
        reports: UnboundedSender<Report<B>>,
    ) -> ActionSender<B> {
        // Twice the requests that may be in flight: enough for the next pieces to be rendered
        // and waiting when a request completes.
        let room = Arc::new(Semaphore::new(client.limiter.max_concurrency().saturating_mul(2)));
        let max_bytes = client.settings.max_request_bytes.map(|b| usize::try_from(b).unwrap_or(usize::MAX));
        let shared = Shared {
            target,
            masker,
            max_bytes,
            stop,
            reports,
            bound: Mutex::new(Bound { bound: SplitBound::new(SPLIT_BOUND), reason: None }),
            counts: Counts::default(),
            splitting: tokio::sync::Mutex::new(()),
            response,
            client,
            context,
        };
        ActionSender { shared: Arc::new(shared), tasks: JoinSet::new(), room }
    }

    /// Hands a batch of records over. Returns once the batch's last piece has started (waiting
    /// for room while too many are in progress); outcomes come on the reports channel. After a
    /// stop, the records are reported undelivered at once.
    ///
    /// Not cancel-safe: a `send` dropped before it returns leaves the pieces it had not started
    /// without an outcome. To stop, stop the run's [`StopToken`] and let `send` return.
    pub async fn send(&mut self, batch: B) {
        let batch = Arc::new(batch);
        let batch_size = self.shared.context.batch_size;
        for piece in pack_by_count(0..batch.len(), batch_size) {
            // Finished tasks are collected as we go, so the set stays small.
            while self.tasks.try_join_next().is_some() {}
            let room = tokio::select! {
                biased;
                _ = self.shared.stop.stopped() => None,
                room = self.room.clone().acquire_owned() => room.ok(),
            };
            let Some(room) = room else {
                self.shared.settle(&batch, piece.start..batch.len(), Outcome::Undelivered);
                return;
            };
            let span = tracing::debug_span!(
                "delivery.batch",
                sync = %self.shared.context.sync,
                run = self.shared.context.run_id,
                action = %self.shared.context.action,
                records = piece.len(),
            );
            let (shared, batch) = (self.shared.clone(), batch.clone());
            self.tasks.spawn(
                async move {
                    shared.deliver(&batch, piece, Mode::Fresh).await;
                    drop(room);
                }
                .instrument(span),
            );
        }
    }

    /// Waits for every record handed over to have an outcome, and sums them up.
    pub async fn finish(mut self) -> ActionSummary {
        while let Some(done) = self.tasks.join_next().await {
            if done.is_err() {
                // A bug, not an input: its records keep no outcome and are resent next run.
                tracing::error!("a delivery task ended abnormally");
            }
        }
        self.shared.summary()
    }

    /// The totals so far.
    pub fn summary(&self) -> ActionSummary {
        self.shared.summary()
    }
}

/// Where a run of records comes from, which decides what may happen to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// A piece cut by count: over the byte cap, it is packed by measured sizes.
    Fresh,
    /// A pack made by measured sizes: over the cap after all (a template whose body is not
    /// linear in its records), it is halved.
    Packed,
    /// A half of a request that was rejected with this status (`None`: a half of a body over
    /// the cap).
    Half(Option<u16>),
}

/// What sending one request (with its retries) came to.
enum Sent {
    /// A 2xx; the body is kept (whole, or up to its cap) only with a `response` setting.
    Accepted {
        status: u16,
        body: Vec<u8>,
        complete: bool,
    },
    Failed {
        status: Option<u16>,
        reason: String,
    },
    /// 400, 413, 422: to be split.
    Split {
        status: u16,
        reason: String,
    },
    /// 401, 403, 404, 405: the run is stopped (with the status and reason) already.
    StopRun,
    /// The run stopped before an answer that counts: retries still waiting are abandoned.
    Abandoned,
}

#[derive(Debug)]
struct Shared<B> {
    client: Arc<ClientInner>,
    context: ActionContext,
    target: Target,
    masker: Masker,
    max_bytes: Option<usize>,
    stop: StopToken,
    reports: UnboundedSender<Report<B>>,
    bound: Mutex<Bound>,
    counts: Counts,
    /// Held while a rejected request of the action is split down: one at a time, depth first.
    splitting: tokio::sync::Mutex<()>,
    /// Which records a 2xx body refuses (the action's `response` setting).
    response: Option<Arc<ResponseRule>>,
}

#[derive(Debug)]
struct Bound {
    bound: SplitBound,
    /// The reason of the single-record failure that reached the bound.
    reason: Option<String>,
}

#[derive(Debug, Default)]
struct Counts {
    succeeded: AtomicU64,
    failed: AtomicU64,
    undelivered: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    splits: AtomicU64,
    by_class: [AtomicU64; STATUS_CLASSES.len()],
}

type Task<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

impl<B: RenderBatch> Shared<B> {
    /// Delivers `records` of `batch`: renders, packs or halves as needed, sends, and settles
    /// every record (see the module doc).
    fn deliver<'a>(&'a self, batch: &'a Arc<B>, records: Range<usize>, mode: Mode) -> Task<'a> {
        Box::pin(async move {
            if records.is_empty() {
                return;
            }
            if self.stop.is_stopped() {
                return self.settle(batch, records, Outcome::Undelivered);
            }
            if let Mode::Half(Some(status)) = mode
                && let Some(reason) = self.bound_reason(status)
            {
                return self.settle(batch, records, failed(Some(status), reason));
            }
            let mut body = Vec::new();
            if let Err(reason) = batch.render(records.clone(), &mut body) {
                // Halved to find the record, not because the API rejected anything: the halves
                // keep the mode (a fresh half over the byte cap is still packed greedily).
                return match halves(records.clone()) {
                    None => self.settle(batch, records, failed(None, reason)),
                    Some((a, b)) => self.both(batch, a, b, mode).await,
                };
            }
            if let Some(cap) = self.max_bytes
                && body.len() > cap
            {
                if records.len() == 1 {
                    return self.settle(batch, records, failed(None, too_large(body.len(), cap)));
                }
                if mode == Mode::Fresh
                    && let Some(packed) = self.pack(batch, records.clone(), cap)
                {
                    return self.all(batch, &packed).await;
                }
                if let Some((a, b)) = halves(records.clone()) {
                    return self.both(batch, a, b, Mode::Half(None)).await;
                }
            }
            self.send(batch, records, body, mode).await
        })
    }

    /// Delivers two runs: the halves of a rejected request one after the other (depth first,
    /// so that the splitting bound is reached down one batch), others concurrently.
    async fn both(&self, batch: &Arc<B>, a: Range<usize>, b: Range<usize>, mode: Mode) {
        if let Mode::Half(Some(_)) = mode {
            self.deliver(batch, a, mode).await;
            self.deliver(batch, b, mode).await;
        } else {
            tokio::join!(self.deliver(batch, a, mode), self.deliver(batch, b, mode));
        }
    }

    /// Delivers every step of a packing concurrently (halving the list, so that one task joins
    /// them all without spawning).
    fn all<'a>(&'a self, batch: &'a Arc<B>, packed: &'a [(Packed, Option<String>)]) -> Task<'a> {
        Box::pin(async move {
            match packed {
                [] => {}
                [(Packed::Batch(records), _)] => self.deliver(batch, records.clone(), Mode::Packed).await,
                [(Packed::TooLarge { index, bytes }, _)] => {
                    let cap = self.max_bytes.unwrap_or(0);
                    self.settle(batch, *index..*index + 1, failed(None, too_large(*bytes, cap)));
                }
                [(Packed::Skip { index }, reason)] => {
                    let reason = reason.clone().unwrap_or_else(|| "the request body could not be rendered".into());
                    self.settle(batch, *index..*index + 1, failed(None, reason));
                }
                _ => {
                    let (a, b) = packed.split_at(packed.len() / 2);
                    tokio::join!(self.all(batch, a), self.all(batch, b));
                }
            }
        })
    }

    /// Packs `records` greedily by count and bytes, from each record's measured size (see
    /// `batching`). `None` when that would not cut the run (the sizes say it fits, the body
    /// says it does not): the caller halves it instead. Each step carries the reason of a
    /// record that could not be rendered.
    fn pack(&self, batch: &B, records: Range<usize>, cap: usize) -> Option<Vec<(Packed, Option<String>)>> {
        let mut buf = Vec::new();
        let mut measure = |r: Range<usize>| -> Result<usize, String> {
            buf.clear();
            batch.render(r, &mut buf).map(|()| buf.len())
        };
        let base = measure(records.start..records.start).unwrap_or(0);
        let mut errors = Vec::new();
        let mut sizes = Vec::with_capacity(records.len());
        for index in records.clone() {
            match measure(index..index + 1) {
                Ok(len) => sizes.push(Some(len.saturating_sub(base))),
                Err(reason) => {
                    sizes.push(None);
                    errors.push((index, reason));
                }
            }
        }
        let separator = match (sizes.first(), sizes.get(1)) {
            (Some(Some(a)), Some(Some(b))) => measure(records.start..records.start + 2)
                .map(|two| two.saturating_sub(base).saturating_sub(a + b))
                .unwrap_or(0),
            _ => 0,
        };
        let layout = Layout { base, separator };
        let packed = pack_by_bytes(records.start, &sizes, layout, self.context.batch_size, cap);
        if matches!(packed.as_slice(), [Packed::Batch(r)] if *r == records) {
            return None;
        }
        let reason_of = |index: usize| errors.iter().find(|(i, _)| *i == index).map(|(_, r)| r.clone());
        Some(
            packed
                .into_iter()
                .map(|p| {
                    let reason = if let Packed::Skip { index } = p { reason_of(index) } else { None };
                    (p, reason)
                })
                .collect(),
        )
    }

    /// Sends one request (retrying as the policy says) and settles its records or splits it.
    async fn send(&self, batch: &Arc<B>, records: Range<usize>, body: Vec<u8>, mode: Mode) {
        let context = &self.context;
        let key = idempotency_key(
            &context.sync,
            context.run_id,
            context.action.as_str(),
            records.clone().map(|i| batch.key(i)),
        );
        let sent = self.send_with_retries(&key, Bytes::from(body)).await;
        let single = records.len() == 1;
        match sent {
            Sent::Accepted { status, body, complete } => {
                if single {
                    self.observe_single(None, "");
                }
                match &self.response {
                    None => self.settle(batch, records, Outcome::Succeeded),
                    Some(rule) => self.settle_read(batch, records, rule, status, &body, complete),
                }
            }
            Sent::Failed { status, reason } => {
                if single {
                    self.observe_single(status, &reason);
                }
                self.settle(batch, records, failed(status, reason));
            }
            Sent::Split { status, reason } => match halves(records.clone()) {
                None => {
                    self.observe_single(Some(status), &reason);
                    self.settle(batch, records, failed(Some(status), reason));
                }
                Some((a, b)) => {
                    // A half is split inside the descent that holds the turn; any other
                    // rejected request waits for its turn, then splits or fails by the bound.
                    let turn = match mode {
                        Mode::Half(Some(_)) => None,
                        _ => Some(self.splitting.lock().await),
                    };
                    if let Some(limit) = self.bound_limit(status) {
                        let reason = format!("{reason} {}", bound_note(status, limit));
                        return self.settle(batch, records, failed(Some(status), reason));
                    }
                    if turn.is_some() {
                        self.first_split(records.len());
                    }
                    tracing::debug!(status, records = records.len(), "rejected: splitting in halves");
                    self.counts.splits.fetch_add(1, Ordering::Relaxed);
                    self.both(batch, a, b, Mode::Half(Some(status))).await;
                }
            },
            Sent::StopRun | Sent::Abandoned => self.settle(batch, records, Outcome::Undelivered),
        }
    }

    /// One request, with its retries: the same body and key on every attempt.
    async fn send_with_retries(&self, key: &str, body: Bytes) -> Sent {
        let retry = &self.client.settings.retry;
        let started = Instant::now();
        let mut jitter = Jitter::from_entropy();
        let mut attempts = 0u32;
        // A 401 is answered once with fresh credentials before it stops the run.
        let mut renewed = false;
        // The room in flight kept for that second try, so that no other request comes between.
        let mut kept = None;
        loop {
            let permit = match kept.take() {
                Some(permit) => permit,
                None => tokio::select! {
                    biased;
                    _ = self.stop.stopped() => return Sent::Abandoned,
                    permit = self.client.limiter.acquire() => permit,
                },
            };
            // The run may have lost its lock while it waited (or slept): then nothing more goes.
            if !self.stop.admit().await {
                drop(permit);
                return Sent::Abandoned;
            }
            attempts += 1;
            self.counts.requests.fetch_add(1, Ordering::Relaxed);
            let span = tracing::debug_span!("delivery.request", attempt = attempts, bytes = body.len());
            let cap = if self.response.is_some() { crate::http::response::MAX_READ_BYTES } else { MAX_RESPONSE_BYTES };
            let (attempted, auth) = self.client.attempt(&self.target, key, body.clone(), cap).instrument(span).await;

            let (answer, retry_after, last) = match attempted {
                Attempted::Response { status, retry_after, location, body, complete } => {
                    self.counts.by_class[status_class(Some(status))].fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(status, attempt = attempts, "response");
                    let verdict = classify(Answer::Status(status));
                    if verdict == Verdict::Accepted {
                        let body = if self.response.is_some() { body } else { Vec::new() };
                        return Sent::Accepted { status, body, complete };
                    }
                    let reason = self.reason(status, location.as_deref(), &body);
                    match verdict {
                        Verdict::Accepted => unreachable!("returned above"),
                        Verdict::Split => return Sent::Split { status, reason },
                        Verdict::StopRun if status == 401 && !renewed && self.client.credentials_refused(&auth) => {
                            tracing::debug!(attempt = attempts, "401: once more with fresh credentials");
                            renewed = true;
                            kept = Some(permit);
                            continue;
                        }
                        Verdict::StopRun => {
                            // Stopped while still holding the room in flight, so that no request
                            // waiting for it starts after the API said the configuration is wrong.
                            // Said once per run, not once per request in flight.
                            if self.stop.stop(StopReason::Rejected { status: Some(status), reason }) {
                                tracing::warn!(
                                    sync = %self.context.sync,
                                    run = self.context.run_id,
                                    status,
                                    "the API answered {}: the run stops",
                                    status_line(status)
                                );
                            }
                            drop(permit);
                            return Sent::StopRun;
                        }
                        Verdict::Redirect | Verdict::Reject => return Sent::Failed { status: Some(status), reason },
                        Verdict::Retry => (Some(status), retry_after, reason),
                    }
                }
                Attempted::Timeout => {
                    self.counts.by_class[status_class(None)].fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(attempt = attempts, "timed out");
                    (
                        None,
                        None,
                        format!("no response within the {} timeout", show_duration(self.client.settings.timeout)),
                    )
                }
                Attempted::Certificate(why) => {
                    self.counts.by_class[status_class(None)].fetch_add(1, Ordering::Relaxed);
                    // Like a 401 (docs/design/sync.md, Security): the run stops at once, nothing retried.
                    let reason = format!("the API's TLS certificate failed verification: {}", self.masker.mask(&why));
                    if self.stop.stop(StopReason::Rejected { status: None, reason }) {
                        tracing::warn!(
                            sync = %self.context.sync,
                            run = self.context.run_id,
                            "the API's TLS certificate failed verification: the run stops"
                        );
                    }
                    drop(permit);
                    return Sent::StopRun;
                }
                Attempted::NoCredentials(why) => {
                    // Not sent: not a request.
                    self.counts.requests.fetch_sub(1, Ordering::Relaxed);
                    tracing::warn!("no credentials: the run stops");
                    self.stop.stop(StopReason::Credentials { reason: self.masker.mask(&why).into_owned() });
                    return Sent::StopRun;
                }
                Attempted::Failed(why) => {
                    self.counts.by_class[status_class(None)].fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(attempt = attempts, "connection error");
                    (None, None, format!("connection error: {}", self.masker.mask(&why)))
                }
            };
            drop(permit);
            let asked = retry_after.as_deref().and_then(|v| parse_retry_after(v, SystemTime::now()));
            if attempts < retry.max_attempts
                && let Some(asked) = asked
                && let Some(why) = retry_after_too_late(retry, started.elapsed(), asked)
            {
                // The API's own word that no retry can succeed in time: fail now.
                tracing::debug!(status = answer, "Retry-After past max_elapsed: giving up");
                return Sent::Failed { status: answer, reason: format!("{last} ({why})") };
            }
            let Some(wait) = next_retry(retry, attempts, started.elapsed(), asked, jitter.next_unit()) else {
                let elapsed = started.elapsed().as_secs_f64();
                let plural = if attempts == 1 { "" } else { "s" };
                let reason = format!("{last} (gave up after {attempts} attempt{plural} in {elapsed:.1}s)");
                tracing::debug!(status = answer, attempts, "giving up");
                return Sent::Failed { status: answer, reason };
            };
            self.counts.retries.fetch_add(1, Ordering::Relaxed);
            if asked.is_some()
                && let Some(until) = Instant::now().checked_add(wait)
            {
                // The server said when it can take more: nobody sends to it before then.
                self.client.limiter.hold_until(until);
            }
            tokio::select! {
                biased;
                _ = self.stop.stopped() => return Sent::Abandoned,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// A failure reason from a response: the status and the start of the body, or for a
    /// redirect the `Location`; secrets masked.
    fn reason(&self, status: u16, location: Option<&str>, body: &[u8]) -> String {
        let line = status_line(status);
        if (300..400).contains(&status) {
            return match location {
                Some(to) => format!("{line}: redirected to {}; redirects are not followed", self.masker.mask(to)),
                None => format!("{line}: a redirect without a Location; redirects are not followed"),
            };
        }
        let start = snippet(body, &self.masker);
        if start.is_empty() { line } else { format!("{line}: {start}") }
    }

    /// Settles the records of a 2xx answer as the action's `response` setting reads its body:
    /// the refused fail with the status and the reason the body gives (masked), the rest
    /// succeed; a body that cannot be read fails them all.
    fn settle_read(
        &self,
        batch: &Arc<B>,
        records: Range<usize>,
        rule: &ResponseRule,
        status: u16,
        body: &[u8],
        complete: bool,
    ) {
        let line = status_line(status);
        let values = || match &rule.naming {
            Naming::Field { field, .. } => batch.values(records.clone(), field),
            _ => Vec::new(),
        };
        match rule.read(body, complete, records.len(), values) {
            Reading::Unreadable(why) => {
                tracing::debug!(status, "the response cannot be read for refused records");
                let reason = format!("{line}: {}; sent again next run", self.masker.mask(&why));
                self.settle(batch, records, failed(Some(status), reason));
            }
            Reading::Refused(refused) => {
                let mut next = records.start;
                for (at, why) in refused {
                    let index = records.start + at;
                    if next < index {
                        self.settle(batch, next..index, Outcome::Succeeded);
                    }
                    let reason = format!("{line}: refused: {}", snippet(why.as_bytes(), &self.masker));
                    self.settle(batch, index..index + 1, failed(Some(status), reason));
                    next = index + 1;
                }
                if next < records.end {
                    self.settle(batch, next..records.end, Outcome::Succeeded);
                }
            }
        }
    }

    /// The first rejected request of the action to be split sets the splitting bound: the
    /// first 50 single-record requests, or all of them when it has fewer records.
    fn first_split(&self, records: usize) {
        let mut bound = self.bound.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        bound.bound.first_split(records);
    }

    /// Counts the final result of a single-record request toward the splitting bound.
    fn observe_single(&self, failed_with: Option<u16>, reason: &str) {
        let mut bound = self.bound.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if bound.bound.observe(failed_with) {
            tracing::warn!(
                sync = %self.context.sync,
                run = self.context.run_id,
                status = failed_with,
                "every one of the first single-record requests failed: splitting stops"
            );
            bound.reason = Some(reason.to_owned());
        }
    }

    /// When the splitting bound stopped splitting on `status`: the reason to fail with.
    fn bound_reason(&self, status: u16) -> Option<String> {
        let bound = self.bound.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if bound.bound.allows_split(status) {
            return None;
        }
        let reason = bound.reason.clone().unwrap_or_else(|| status_line(status));
        Some(format!("{reason} {}", bound_note(status, bound.bound.limit())))
    }

    /// When the splitting bound stopped splitting on `status`: after how many single records.
    fn bound_limit(&self, status: u16) -> Option<u32> {
        let bound = self.bound.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (!bound.bound.allows_split(status)).then(|| bound.bound.limit())
    }

    /// Records the outcome of `records` and reports it.
    fn settle(&self, batch: &Arc<B>, records: Range<usize>, outcome: Outcome) {
        let n = records.len() as u64;
        let counter = match &outcome {
            Outcome::Succeeded => &self.counts.succeeded,
            Outcome::Failed { .. } => &self.counts.failed,
            Outcome::Undelivered => &self.counts.undelivered,
        };
        counter.fetch_add(n, Ordering::Relaxed);
        match &outcome {
            Outcome::Succeeded => tracing::debug!(records = n, "succeeded"),
            Outcome::Failed { status, .. } => tracing::debug!(records = n, status, "failed"),
            Outcome::Undelivered => tracing::debug!(records = n, "undelivered"),
        }
        if !matches!(outcome, Outcome::Undelivered) {
            self.context.progress.advance(n, self.counts.failed.load(Ordering::Relaxed));
        }
        // A closed channel means nobody records outcomes any more; delivery goes on regardless.
        let _ = self.reports.send(Report { batch: batch.clone(), records, outcome });
    }

    fn summary(&self) -> ActionSummary {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ActionSummary {
            succeeded: load(&self.counts.succeeded),
            failed: load(&self.counts.failed),
            undelivered: load(&self.counts.undelivered),
            requests: load(&self.counts.requests),
            retries: load(&self.counts.retries),
            splits: load(&self.counts.splits),
            stop: self.stop.reason(),
            by_class: std::array::from_fn(|i| load(&self.counts.by_class[i])),
        }
    }
}

fn failed(status: Option<u16>, reason: String) -> Outcome {
    Outcome::Failed { status, reason }
}

/// `HTTP 503 Service Unavailable` (the canonical phrase, not the server's: the server's words
/// are in the body snippet).
fn status_line(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()) {
        Some(phrase) => format!("HTTP {status} {phrase}"),
        None => format!("HTTP {status}"),
    }
}

fn too_large(bytes: usize, cap: usize) -> String {
    format!("the request body of this record alone is {bytes} bytes, over max_request_bytes ({cap})")
}

fn bound_note(status: u16, limit: u32) -> String {
    format!(
        "(not split further: the first {limit} single-record requests of this action all failed with HTTP {status})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status_line(503), "HTTP 503 Service Unavailable");
        assert_eq!(status_line(422), "HTTP 422 Unprocessable Entity");
        assert_eq!(status_line(599), "HTTP 599");
        assert_eq!(status_line(0), "HTTP 0");
    }
}
