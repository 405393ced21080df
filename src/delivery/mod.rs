//! HTTP delivery: records in, requests out, an outcome for every record (docs/design/sync.md, Delivery).
//!
//! ```text
//!  sync layer ──DeliveryClient::action(context, stop, reports)──▶ ActionSender
//!      │                                                           │ send(batch) … finish()
//!      │   batch: impl RenderBatch (records + keys + renderer)     ▼
//!      │                      pack by count / bytes ─▶ render ─▶ Limiter (shared by the
//!      │                                                  │       destination's syncs)
//!      │                                                  ▼
//!      │                    request + Idempotency-Key ─▶ reqwest (one client, pooled)
//!      │                                                  │
//!      │         policy: 2xx ok · retry (backoff, Retry-After) · split (bisect) · stop · fail
//!      ◀──────── Report { batch, records, outcome } per completed request ◀──┘
//! ```
//!
//! How the sync layer drives it, per action of a run:
//!
//! ```no_run
//! use audience::delivery::*;
//!
//! # async fn run(batches: Vec<TemplateBatch>) -> Result<(), DeliveryError> {
//! // One client per destination, shared (cloned) by every sync that runs at the same time.
//! let client = DeliveryClient::new(DeliverySettings::default(), ["the-token"])?;
//! let stop = StopToken::new(); // one per run; SIGINT calls stop.stop(StopReason::Interrupted)
//! let (reports, mut outcomes) = tokio::sync::mpsc::unbounded_channel();
//! let context = ActionContext {
//!     sync: "high_value".into(),
//!     run_id: 7,
//!     action: Action::Add,
//!     endpoint: Endpoint {
//!         method: "POST".into(),
//!         url: "https://api.example.com/audiences/1/members".into(),
//!         headers: vec![Header::new("Content-Type", "application/json", false)],
//!     },
//!     batch_size: 5_000,
//!     progress: Progress::stderr("high_value add", None),
//! };
//! let mut sender = client.action(context, stop.clone(), reports)?;
//! let recorder = tokio::spawn(async move {
//!     while let Some(report) = outcomes.recv().await {
//!         // Write the sync-log rows of report.records of report.batch, and move the baseline
//!         // in the same transaction (Succeeded; Failed as retry_failed says; not Undelivered).
//!         let _ = (report.batch, report.records, report.outcome);
//!     }
//! });
//! for batch in batches {
//!     sender.send(batch).await;
//! }
//! let summary = sender.finish().await; // succeeded, failed, undelivered, requests, stop
//! let _ = recorder.await;
//! if let Some(StopReason::Rejected { reason, .. }) = &summary.stop {
//!     eprintln!("the run stopped: {reason}"); // exit 1
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Pure parts, table-tested: [`crate::http::policy`] (the response table, the backoff schedule with the
//! clock and the random source passed in, `Retry-After`), [`batching`] (greedy packing by count
//! and bytes), [`bisect`] (halves and the splitting bound), [`limits::Pacer`] (the rate),
//! [`idempotency`], [`mask`] and [`response`] (records refused inside a 2xx body). The I/O: [`client`] (reqwest), [`limits::Limiter`] (tokio),
//! [`sender`] (the recursion that ties them together).
//!
//! Choices where docs/design/sync.md and docs/design/interface.md are silent:
//!
//! * **Unlisted statuses.** A 5xx the table does not name (506–511, a proxy's 52x) is retried
//!   like 500; a status outside 200–599 fails like "other 4xx".
//! * **`Retry-After`** is taken as the wait itself (not a floor under the jittered backoff),
//!   beyond `max_backoff` too (the API's contract; one past `max_elapsed` fails the records at
//!   once, saying so), and holds *every* request of the destination until then (a 429
//!   is about the client, not one request), syncs sharing the destination included. The
//!   obsolete HTTP date forms (RFC 850, asctime) are accepted too, as RFC 9110 asks.
//! * **`max_elapsed`** is checked before each wait: a retry that would start after it is not
//!   made. A request in flight is never cut short for it (the timeout does that).
//! * **The rate limit** is a bucket of one token: starts are spaced by `1 / rate_limit`, so no
//!   second sees more than `rate_limit` starts, even after an idle spell.
//! * **Greedy packing by bytes** needs each record's share of the body: it is measured (one
//!   render per record) only when a body by count is over `max_request_bytes`, so an uncapped
//!   destination renders each body once. Packing is greedy within a batch handed to
//!   [`ActionSender::send`], not across batches.
//! * **The splitting bound** counts every single-record request of the action (a half, or a
//!   request of one record): rejected requests are split one at a time, depth first, and when
//!   the first 50 (or all of the first split request's, when it has fewer) fail with one status, halves of requests
//!   rejected with that status still waiting fail without being sent, and a later request
//!   rejected with it fails whole instead of being split. Requests are still sent: if only the
//!   first records were bad, the good ones after them are delivered.
//! * **A body that cannot be rendered** (a template error on some record) is split like a
//!   rejected request, without sending anything, down to the record that causes it; that
//!   record fails with the error's code and place, never the value.
//! * **Reasons** are `HTTP <status> <phrase>: <start of the body>` (512 bytes at most, white
//!   space collapsed, secrets masked before cutting); after retries, with
//!   `(gave up after N attempts in Ts)`.
//! * **Undelivered** (the run stopped) is an outcome of its own, reported like the others, so
//!   that succeeded + failed + undelivered is every record handed over.
//! * **HTTP/1.1 only.** h2 would be a large dependency for one connection per request in flight.
//! * **Idempotency keys** are 32 hex digits (128 bits of SHA-256 over the sync, run, action and
//!   the records' primary keys).

pub mod batching;
pub mod bisect;
pub mod client;
pub mod error;
pub mod idempotency;
pub mod limits;
/// Masking lives with what every HTTP user shares: a warehouse connector over HTTPS masks its
/// errors with the same masker.
pub use crate::http::mask;
pub mod outcome;
pub mod progress;
pub mod records;
pub mod sender;
pub mod settings;
pub mod stop;

pub use crate::http::response::{Naming, ResponsePath, ResponseRule};
pub use client::{DeliveryClient, MAX_RESPONSE_BYTES};
pub use error::DeliveryError;
pub use outcome::{ActionSummary, Outcome, Report, StopReason};
pub use progress::Progress;
pub use records::{Keys, RenderBatch, TemplateBatch};
pub use sender::{ActionContext, ActionSender};
pub use settings::{Action, DeliverySettings, Endpoint, Header, RetrySettings};
pub use stop::{Gate, StopToken};
