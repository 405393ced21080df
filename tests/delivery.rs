//! Delivery against a real HTTP server on 127.0.0.1 that scripts faults, with real time and
//! short durations (millisecond backoffs through the retry settings). Timings are asserted only
//! where correctness needs them, and then with generous bounds.

mod support_http;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use audience::delivery::{
    Action, ActionContext, ActionSummary, DeliveryClient, DeliverySettings, Endpoint, Header, Outcome, Progress,
    RenderBatch, RetrySettings, StopReason, StopToken, TemplateBatch,
};
use audience::template::{Connection, RecordBatch, Template};
use support_http::{Received, Reply, Server};
use tokio::sync::mpsc;

const TOKEN: &str = "tok-s3cr3t-value";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------------------------
// Records and running an action

/// Test records: `{"users":[{"id":"r0","pad":"xxx"},...]}`. A record whose id is in `broken`
/// cannot be rendered.
#[derive(Debug, Default)]
struct Rows {
    ids: Vec<String>,
    pad: Vec<usize>,
    broken: BTreeSet<String>,
}

impl Rows {
    /// Records `prefix0 .. prefix{n-1}`, each padded with `pad` bytes.
    fn new(prefix: &str, range: Range<usize>, pad: usize) -> Rows {
        let ids: Vec<String> = range.map(|i| format!("{prefix}{i}")).collect();
        Rows { pad: vec![pad; ids.len()], ids, broken: BTreeSet::new() }
    }
}

impl RenderBatch for Rows {
    fn len(&self) -> usize {
        self.ids.len()
    }

    fn key(&self, index: usize) -> &[u8] {
        self.ids.get(index).map_or(b"", |id| id.as_bytes())
    }

    fn render(&self, records: Range<usize>, out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(br#"{"users":["#);
        for (n, i) in records.enumerate() {
            if self.broken.contains(&self.ids[i]) {
                return Err("the template failed on this record: D3030 at bytes 5..9 of the template".into());
            }
            if n > 0 {
                out.push(b',');
            }
            write!(out, r#"{{"id":"{}","pad":"{}"}}"#, self.ids[i], "x".repeat(self.pad[i])).unwrap();
        }
        out.extend_from_slice(b"]}");
        Ok(())
    }
}

/// The record ids in a request body.
fn ids_in(body: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(body).expect("a JSON body");
    v["users"].as_array().expect("users").iter().map(|u| u["id"].as_str().expect("id").to_owned()).collect()
}

fn settings() -> DeliverySettings {
    DeliverySettings {
        timeout: Duration::from_secs(5),
        max_concurrency: 4,
        rate_limit: None,
        max_request_bytes: None,
        retry: RetrySettings {
            max_attempts: 4,
            initial_backoff: ms(1),
            max_backoff: ms(20),
            max_elapsed: Duration::from_secs(20),
        },
    }
}

fn client(settings: DeliverySettings) -> DeliveryClient {
    DeliveryClient::new(settings, [TOKEN]).expect("client")
}

fn context(server: &Server, sync: &str, batch_size: usize) -> ActionContext {
    ActionContext {
        sync: sync.into(),
        run_id: 1,
        action: Action::Add,
        endpoint: Endpoint {
            method: "POST".into(),
            url: server.url("/audiences/42/members"),
            headers: vec![
                Header::new("Content-Type", "application/json", false),
                Header::new("Authorization", format!("Bearer {TOKEN}"), true),
            ],
        },
        batch_size,
        progress: Progress::hidden(),
    }
}

/// What an action came to: the summary and each record's outcome, by id.
struct Run {
    summary: ActionSummary,
    outcomes: BTreeMap<String, Outcome>,
}

impl Run {
    fn ids_with(&self, pred: impl Fn(&Outcome) -> bool) -> BTreeSet<String> {
        self.outcomes.iter().filter(|(_, o)| pred(o)).map(|(id, _)| id.clone()).collect()
    }

    fn succeeded(&self) -> BTreeSet<String> {
        self.ids_with(|o| *o == Outcome::Succeeded)
    }

    fn undelivered(&self) -> BTreeSet<String> {
        self.ids_with(|o| *o == Outcome::Undelivered)
    }

    fn failure(&self, id: &str) -> (Option<u16>, String) {
        match &self.outcomes[id] {
            Outcome::Failed { status, reason } => (*status, reason.clone()),
            other => panic!("{id}: {other:?}"),
        }
    }
}

async fn deliver(client: &DeliveryClient, context: ActionContext, stop: StopToken, batches: Vec<Rows>) -> Run {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut sender = client.action(context, stop, tx).expect("action");
    let total: usize = batches.iter().map(|b| b.len()).sum();
    for batch in batches {
        sender.send(batch).await;
    }
    let summary = sender.finish().await;
    let mut outcomes = BTreeMap::new();
    while let Some(report) = rx.recv().await {
        for i in report.records.clone() {
            let id = report.batch.ids[i].clone();
            let before = outcomes.insert(id.clone(), report.outcome.clone());
            assert!(before.is_none(), "{id} has two outcomes");
        }
    }
    assert_eq!(outcomes.len(), total, "every record has an outcome");
    assert_eq!(summary.records(), total as u64);
    Run { summary, outcomes }
}

fn all_ids(prefix: &str, range: Range<usize>) -> BTreeSet<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

// ---------------------------------------------------------------------------------------------
// The happy path

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_every_record_in_batches_with_a_key_per_request() {
    let server = Server::start(support_http::accept_all).await;
    let client = client(settings());
    let batches = vec![Rows::new("r", 0..23, 3), Rows::new("r", 23..30, 3)];
    let run = deliver(&client, context(&server, "s", 10), StopToken::new(), batches).await;

    assert_eq!(run.succeeded(), all_ids("r", 0..30));
    assert_eq!(run.summary.requests, 4);
    let requests = server.requests();
    let mut sizes: Vec<usize> = requests.iter().map(|r| ids_in(&r.body).len()).collect();
    sizes.sort();
    assert_eq!(sizes, [3, 7, 10, 10], "batch_size 10, per batch handed over");
    let delivered: Vec<String> = requests.iter().flat_map(|r| ids_in(&r.body)).collect();
    assert_eq!(delivered.len(), 30, "each record once");
    let keys: BTreeSet<&str> = requests.iter().map(Received::key).collect();
    assert_eq!(keys.len(), 4, "a key per request");
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/audiences/42/members");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        assert_eq!(r.key().len(), 32);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_batches_render_through_the_engine() {
    let server = Server::start(support_http::accept_all).await;
    let template = Arc::new(
        Template::compile(
            r#"{"audienceId": $$.connection.audienceId, "users": [$$.records.{"id": id, "email": email}]}"#,
        )
        .unwrap(),
    );
    let connection = Arc::new(Connection { audience_id: "42".into(), audience_name: "A".into() });
    let mut records = RecordBatch::new(template.fields().len());
    let mut keys = Vec::new();
    for i in 0..12 {
        records.push_record();
        records.set_str(0, &format!("t{i}"));
        records.set_str(1, &format!("user{i}@example.com"));
        keys.push(format!("t{i}"));
    }
    let batch = TemplateBatch::new(template, connection, records, keys);
    // A cap that forces byte packing and re-rendering of sub-ranges.
    let client = client(DeliverySettings { max_request_bytes: Some(200), ..settings() });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut sender = client.action(context(&server, "s", 100), StopToken::new(), tx).unwrap();
    sender.send(batch).await;
    let summary = sender.finish().await;
    assert_eq!((summary.succeeded, summary.failed), (12, 0));
    while let Some(report) = rx.recv().await {
        assert_eq!(report.outcome, Outcome::Succeeded);
        assert!(report.batch.key_str(report.records.start).is_some());
    }
    let requests = server.requests();
    assert!(requests.len() > 1);
    let mut seen = Vec::new();
    for r in &requests {
        assert!(r.body.len() <= 200, "{} bytes", r.body.len());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["audienceId"], "42");
        seen.extend(ids_in(&r.body));
    }
    seen.sort();
    assert_eq!(seen.len(), 12);
}

// ---------------------------------------------------------------------------------------------
// Retries

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_in_seconds_is_honoured_up_to_max_backoff() {
    // The API asks for 30 s; max_backoff caps the wait at 300 ms (the jitter alone would be
    // at most 1 ms, and without the cap the request would run out of max_elapsed).
    let server =
        Server::start(|r| if r.attempt == 1 { Reply::status(429).header("Retry-After", "30") } else { Reply::ok() })
            .await;
    let mut s = settings();
    s.retry.max_backoff = ms(300);
    s.retry.max_elapsed = Duration::from_secs(10);
    let run = deliver(&client(s), context(&server, "s", 10), StopToken::new(), vec![Rows::new("r", 0..3, 0)]).await;

    assert_eq!(run.succeeded().len(), 3);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].key(), requests[1].key(), "a retry carries the same key");
    let gap = requests[1].at - requests[0].at;
    assert!(gap >= ms(250), "waited {gap:?}");
    assert!(gap < Duration::from_secs(25), "waited {gap:?}, not capped well short of the 30 s asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_as_an_http_date_is_honoured() {
    let server = Server::start(|r| match r.attempt {
        1 => {
            let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
            Reply::status(503).header("Retry-After", &later)
        }
        2 => {
            let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(30));
            Reply::status(429).header("Retry-After", &past)
        }
        _ => Reply::ok(),
    })
    .await;
    let mut s = settings();
    s.retry.max_backoff = ms(300);
    let run = deliver(&client(s), context(&server, "s", 10), StopToken::new(), vec![Rows::new("r", 0..2, 0)]).await;

    assert_eq!(run.succeeded().len(), 2);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.key() == requests[0].key()));
    let gap = requests[1].at - requests[0].at;
    assert!(gap >= ms(250), "a date 30 s ahead, capped at 300 ms: waited {gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_of_5xx_are_retried_with_the_same_key() {
    let server = Server::start(|r| match r.attempt {
        1 => Reply::status(500),
        2 => Reply::status(503),
        3 => Reply::status(502),
        4 => Reply::status(504),
        5 => Reply::status(408),
        _ => Reply::ok(),
    })
    .await;
    let mut s = settings();
    s.retry.max_attempts = 6;
    let run = deliver(&client(s), context(&server, "s", 10), StopToken::new(), vec![Rows::new("r", 0..5, 0)]).await;

    assert_eq!(run.succeeded().len(), 5);
    assert_eq!(run.summary.requests, 6);
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.key() == requests[0].key() && r.body == requests[0].body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_retries_run_out_the_records_fail_with_the_last_status() {
    let server = Server::start(|_| Reply::status(503).body(format!("busy; your token {TOKEN} is fine"))).await;
    let mut s = settings();
    s.retry.max_attempts = 3;
    let run = deliver(&client(s), context(&server, "s", 10), StopToken::new(), vec![Rows::new("r", 0..4, 0)]).await;

    assert_eq!(server.requests().len(), 3);
    assert_eq!((run.summary.failed, run.summary.requests), (4, 3));
    let (status, reason) = run.failure("r0");
    assert_eq!(status, Some(503));
    assert!(reason.starts_with("HTTP 503 Service Unavailable: busy; your token *** is fine"), "{reason}");
    assert!(reason.contains("gave up after 3 attempts"), "{reason}");
    assert!(!reason.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_slower_than_the_timeout_is_retried() {
    // The first answer comes far too late; the retry's at once, well within the timeout even on
    // a loaded machine.
    let server =
        Server::start(|r| if r.attempt == 1 { Reply::ok().after(Duration::from_secs(600)) } else { Reply::ok() }).await;
    let s = DeliverySettings { timeout: Duration::from_secs(3), ..settings() };
    let run = deliver(&client(s), context(&server, "s", 10), StopToken::new(), vec![Rows::new("r", 0..3, 0)]).await;

    assert_eq!(run.succeeded().len(), 3);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].key(), requests[1].key());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_that_never_end_fail_without_a_status() {
    let server = Server::start(|_| Reply::ok().after(Duration::from_secs(2))).await;
    let mut s = DeliverySettings { timeout: ms(100), ..settings() };
    s.retry.max_attempts = 2;
    let run = deliver(&client(s), context(&server, "s", 10), StopToken::new(), vec![Rows::new("r", 0..1, 0)]).await;

    let (status, reason) = run.failure("r0");
    assert_eq!(status, None);
    assert!(reason.starts_with("no response within the 100ms timeout (gave up after 2 attempts"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_retried() {
    let server = Server::start(|r| if r.attempt == 1 { Reply::drop_connection() } else { Reply::ok() }).await;
    let run =
        deliver(&client(settings()), context(&server, "s", 10), StopToken::new(), vec![Rows::new("r", 0..3, 0)]).await;

    assert_eq!(run.succeeded().len(), 3);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].key(), requests[1].key());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_fails_after_the_retries() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = Server::start(support_http::accept_all).await;
    let mut ctx = context(&server, "s", 10);
    ctx.endpoint.url = format!("http://127.0.0.1:{port}/members");
    let mut s = settings();
    s.retry.max_attempts = 2;
    let run = deliver(&client(s), ctx, StopToken::new(), vec![Rows::new("r", 0..2, 0)]).await;

    let (status, reason) = run.failure("r1");
    assert_eq!(status, None);
    assert!(reason.starts_with("connection error: "), "{reason}");
    assert!(reason.contains("gave up after 2 attempts"), "{reason}");
    assert!(!reason.contains(&port.to_string()), "no URL in the reason: {reason}");
    assert_eq!(run.summary.requests, 2);
}

// ---------------------------------------------------------------------------------------------
// Splitting

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisoned_records_are_isolated_and_every_other_record_delivered() {
    let poisoned: BTreeSet<String> = ["r7", "r8", "r33", "r99", "r60"].iter().map(|s| s.to_string()).collect();
    let bad = poisoned.clone();
    let server = Server::start(move |r| {
        if ids_in(&r.body).iter().any(|id| bad.contains(id)) {
            Reply::status(400).body(r#"{"error":"invalid member"}"#)
        } else {
            Reply::ok()
        }
    })
    .await;
    let run = deliver(
        &client(settings()),
        context(&server, "s", 20),
        StopToken::new(),
        vec![Rows::new("r", 0..50, 2), Rows::new("r", 50..100, 2)],
    )
    .await;

    assert_eq!(run.ids_with(|o| matches!(o, Outcome::Failed { .. })), poisoned);
    for id in &poisoned {
        let (status, reason) = run.failure(id);
        assert_eq!(status, Some(400));
        assert_eq!(reason, r#"HTTP 400 Bad Request: {"error":"invalid member"}"#);
    }
    let good: BTreeSet<String> = all_ids("r", 0..100).difference(&poisoned).cloned().collect();
    assert_eq!(run.succeeded(), good);
    // Each good record was accepted exactly once.
    let requests = server.requests();
    let mut accepted = BTreeMap::<String, usize>::new();
    for r in &requests {
        let ids = ids_in(&r.body);
        if !ids.iter().any(|id| poisoned.contains(id)) {
            for id in ids {
                *accepted.entry(id).or_default() += 1;
            }
        }
    }
    assert_eq!(accepted.keys().cloned().collect::<BTreeSet<_>>(), good);
    assert!(accepted.values().all(|&n| n == 1));
    // No retries here: every request, whole or half, had a key of its own.
    let keys: BTreeSet<&str> = requests.iter().map(Received::key).collect();
    assert_eq!(keys.len(), requests.len());
    assert_eq!(run.summary.requests as usize, requests.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_are_equal_across_retries_and_differ_across_halves() {
    // The whole request is rejected; each half fails once with 503, then is accepted.
    let server = Server::start(|r| match (ids_in(&r.body).len(), r.attempt) {
        (4, _) => Reply::status(422),
        (_, 1) => Reply::status(503),
        _ => Reply::ok(),
    })
    .await;
    let run =
        deliver(&client(settings()), context(&server, "s", 10), StopToken::new(), vec![Rows::new("r", 0..4, 0)]).await;
    assert_eq!(run.succeeded().len(), 4);

    let requests = server.requests();
    assert_eq!(requests.len(), 5);
    let whole = requests.iter().find(|r| ids_in(&r.body).len() == 4).unwrap().key().to_owned();
    let mut by_half = BTreeMap::<Vec<String>, BTreeSet<String>>::new();
    for r in requests.iter().filter(|r| ids_in(&r.body).len() == 2) {
        by_half.entry(ids_in(&r.body)).or_default().insert(r.key().to_owned());
    }
    assert_eq!(by_half.len(), 2, "two halves");
    let half_keys: Vec<&String> = by_half
        .values()
        .map(|keys| {
            assert_eq!(keys.len(), 1, "a half's retries share its key");
            keys.first().unwrap()
        })
        .collect();
    assert_ne!(half_keys[0], half_keys[1]);
    assert!(half_keys.iter().all(|k| **k != whole));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_413_splits_large_bodies_until_they_fit() {
    let server =
        Server::start(|r| if r.body.len() > 1_000 { Reply::status(413).body("too large") } else { Reply::ok() }).await;
    let run =
        deliver(&client(settings()), context(&server, "s", 50), StopToken::new(), vec![Rows::new("r", 0..50, 100)])
            .await;

    assert_eq!(run.succeeded(), all_ids("r", 0..50));
    let accepted: Vec<String> =
        server.requests().iter().filter(|r| r.body.len() <= 1_000).flat_map(|r| ids_in(&r.body)).collect();
    assert_eq!(accepted.len(), 50, "each record accepted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_request_bytes_packs_greedily_and_fails_a_record_too_large_alone() {
    let server = Server::start(support_http::accept_all).await;
    let mut rows = Rows::new("r", 0..40, 100);
    rows.pad[17] = 5_000;
    let s = DeliverySettings { max_request_bytes: Some(1_000), ..settings() };
    let run = deliver(&client(s), context(&server, "s", 5_000), StopToken::new(), vec![rows]).await;

    let (status, reason) = run.failure("r17");
    assert_eq!(status, None);
    assert!(reason.contains("over max_request_bytes (1000)"), "{reason}");
    let mut good = all_ids("r", 0..40);
    good.remove("r17");
    assert_eq!(run.succeeded(), good);

    let requests = server.requests();
    // A body is 12 bytes of envelope, a comma between records, and 120 bytes per record for
    // r0-r9, 121 for r10-r39: 8 records fit in 1,000 bytes (at most 12 + 8 × 121 + 7 = 987),
    // 9 never do (at least 12 + 9 × 120 + 8 = 1,100).
    for r in &requests {
        assert!(r.body.len() <= 1_000, "{} bytes", r.body.len());
        assert!(!ids_in(&r.body).contains(&"r17".to_owned()), "the record too large is never sent");
    }
    let mut sizes: Vec<usize> = requests.iter().map(|r| ids_in(&r.body).len()).collect();
    sizes.sort();
    // Greedy: 0..17 → 8 + 8 + 1 (r17 closes the third request), then 18..40 → 8 + 8 + 6.
    assert_eq!(sizes, [1, 6, 8, 8, 8, 8]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_cannot_be_rendered_fails_alone() {
    let server = Server::start(support_http::accept_all).await;
    let mut rows = Rows::new("r", 0..10, 0);
    rows.broken.insert("r3".into());
    let run = deliver(&client(settings()), context(&server, "s", 10), StopToken::new(), vec![rows]).await;

    let (status, reason) = run.failure("r3");
    assert_eq!(status, None);
    assert!(reason.contains("D3030"), "{reason}");
    assert_eq!(run.succeeded().len(), 9);
    assert!(server.requests().iter().all(|r| !ids_in(&r.body).contains(&"r3".to_owned())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splitting_stops_when_the_api_rejects_everything() {
    let server = Server::start(|_| Reply::status(422).body("unknown field \"users\"")).await;
    let s = DeliverySettings { max_concurrency: 1, ..settings() };
    let batches = vec![Rows::new("r", 0..100, 0), Rows::new("r", 100..200, 0), Rows::new("r", 200..300, 0)];
    let run = deliver(&client(s), context(&server, "s", 100), StopToken::new(), batches).await;

    assert_eq!(run.summary.failed, 300);
    for id in all_ids("r", 0..300) {
        assert_eq!(run.failure(&id).0, Some(422), "{id}");
    }
    let cut_short =
        run.ids_with(|o| matches!(o, Outcome::Failed { reason, .. } if reason.contains("not split further")));
    assert!(!cut_short.is_empty());
    // Bisecting all three batches to single records would take 3 × 199 requests.
    let requests = server.requests().len();
    assert!(requests < 400, "{requests} requests");
    assert_eq!(run.summary.requests as usize, requests);
}

// ---------------------------------------------------------------------------------------------
// Statuses that stop the run or fail at once

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_stops_the_run_and_leaves_records_undelivered() {
    let server = Server::start(|_| Reply::status(401).body(format!(r#"{{"error":"bad token {TOKEN}"}}"#))).await;
    let s = DeliverySettings { max_concurrency: 1, ..settings() };
    let stop = StopToken::new();
    let batches = vec![Rows::new("r", 0..10, 0), Rows::new("r", 10..20, 0)];
    let run = deliver(&client(s), context(&server, "s", 5), stop.clone(), batches).await;

    assert_eq!(server.requests().len(), 1, "no request starts after the 401");
    assert_eq!(run.undelivered(), all_ids("r", 0..20));
    assert_eq!((run.summary.succeeded, run.summary.failed, run.summary.undelivered), (0, 0, 20));
    let Some(StopReason::Rejected { status, reason }) = run.summary.stop.clone() else {
        panic!("{:?}", run.summary.stop)
    };
    assert_eq!(status, Some(401));
    assert_eq!(reason, r#"HTTP 401 Unauthorized: {"error":"bad token ***"}"#);
    assert!(stop.is_stopped());

    // The next action of the run starts nothing either.
    let next = deliver(&client(settings()), context(&server, "s", 5), stop, vec![Rows::new("u", 0..3, 0)]).await;
    assert_eq!(next.undelivered().len(), 3);
    assert_eq!(server.requests().len(), 1);
}

/// A TLS listener on 127.0.0.1 whose certificate nobody trusts (a self-signed leaf, made with
/// the `openssl` command for `127.0.0.1`): it completes what handshake the client lets it, and
/// counts the connections it accepted.
fn untrusted_tls_server() -> (u16, Arc<AtomicUsize>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = std::env::temp_dir().join(format!("audience-delivery-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("the openssl command");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let cert = CertificateDer::from_pem_file(dir.join("cert.pem")).unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            let mut tls = rustls::ServerConnection::new(config.clone()).unwrap();
            // Ends when the client refuses the certificate and closes.
            while tls.is_handshaking() && tls.complete_io(&mut stream).is_ok() {}
        }
    });
    (port, accepted)
}

/// A certificate that fails verification stops the run like a 401, with rustls's reason, after
/// one attempt: no retry can change a certificate, and none is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_that_fails_verification_stops_the_run() {
    let (port, accepted) = untrusted_tls_server();
    let server = Server::start(support_http::accept_all).await;
    let mut ctx = context(&server, "s", 5);
    ctx.endpoint.url = format!("https://127.0.0.1:{port}/members");
    let s = DeliverySettings { max_concurrency: 1, ..settings() };
    let stop = StopToken::new();
    let run = deliver(&client(s), ctx, stop.clone(), vec![Rows::new("r", 0..10, 0)]).await;

    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection, not retried");
    assert_eq!(run.summary.requests, 1);
    assert_eq!(run.undelivered(), all_ids("r", 0..10));
    let Some(StopReason::Rejected { status, reason }) = run.summary.stop.clone() else {
        panic!("{:?}", run.summary.stop)
    };
    assert_eq!(status, None);
    assert_eq!(reason, "the API's TLS certificate failed verification: invalid peer certificate: UnknownIssuer");
    assert!(stop.is_stopped());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_302_is_not_followed() {
    let server = Server::start(|r| {
        if r.path == "/elsewhere" { Reply::ok() } else { Reply::status(302).header("Location", "/elsewhere?t=1") }
    })
    .await;
    let run =
        deliver(&client(settings()), context(&server, "s", 10), StopToken::new(), vec![Rows::new("r", 0..3, 0)]).await;

    let (status, reason) = run.failure("r2");
    assert_eq!(status, Some(302));
    assert_eq!(reason, "HTTP 302 Found: redirected to /elsewhere?t=1; redirects are not followed");
    assert_eq!(server.requests().len(), 1, "the Location is never requested");
    assert_eq!(run.summary.requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_4xx_and_501_fail_with_the_start_of_the_body_read_up_to_64_kib() {
    let huge = format!("I refuse.\n{}", "z".repeat(1_000_000));
    let server = Server::start(move |r| {
        if ids_in(&r.body).contains(&"r0".to_owned()) {
            Reply::status(418).body(huge.clone())
        } else {
            // The whole secret header value is masked.
            Reply::status(501).body(format!("not here (Bearer {TOKEN})"))
        }
    })
    .await;
    let run =
        deliver(&client(settings()), context(&server, "s", 1), StopToken::new(), vec![Rows::new("r", 0..2, 0)]).await;

    let (status, reason) = run.failure("r0");
    assert_eq!(status, Some(418));
    assert!(
        reason.starts_with("HTTP 418 I'm a teapot: I refuse. zzz"),
        "{}",
        reason.chars().take(80).collect::<String>()
    );
    assert!(reason.len() < 600, "{} bytes", reason.len());
    assert_eq!(run.failure("r1"), (Some(501), "HTTP 501 Not Implemented: not here (***)".into()));
    assert_eq!(server.requests().len(), 2, "never retried");
}

// ---------------------------------------------------------------------------------------------
// Limits and stopping

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_never_exceeds_the_limit_even_across_syncs() {
    let server = Server::start(|_| Reply::ok().after(ms(15))).await;
    let client = client(DeliverySettings { max_concurrency: 3, ..settings() });
    // Two syncs of the same destination at once, on clones of one client.
    let other = client.clone();
    let (a, b) = tokio::join!(
        deliver(&client, context(&server, "a", 1), StopToken::new(), vec![Rows::new("a", 0..30, 0)]),
        deliver(&other, context(&server, "b", 1), StopToken::new(), vec![Rows::new("b", 0..30, 0)]),
    );
    assert_eq!(a.succeeded().len() + b.succeeded().len(), 60);
    assert_eq!(server.requests().len(), 60);
    let most = server.max_in_flight();
    assert!(most <= 3, "{most} in flight");
    assert!(most >= 2, "the limit is used: {most}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_is_respected() {
    let server = Server::start(support_http::accept_all).await;
    let client = client(DeliverySettings { rate_limit: Some(25.0), ..settings() });
    let run = deliver(&client, context(&server, "s", 1), StopToken::new(), vec![Rows::new("r", 0..10, 0)]).await;
    assert_eq!(run.succeeded().len(), 10);

    let requests = server.requests();
    let span = requests.last().unwrap().at - requests.first().unwrap().at;
    // Ten starts at 25/s: the last at least 9 × 40 ms after the first (a little slack for the
    // arrival of the first being late).
    assert!(span >= ms(330), "ten requests in {span:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_lets_requests_in_flight_finish_and_abandons_waiting_retries() {
    let server = Server::start(|r| {
        let ids = ids_in(&r.body);
        if ids.contains(&"slow0".to_owned()) {
            Reply::ok().after(ms(300))
        } else {
            Reply::status(503).header("Retry-After", "3600")
        }
    })
    .await;
    let mut s = settings();
    s.retry.max_backoff = Duration::from_secs(3600);
    s.retry.max_elapsed = Duration::from_secs(7200);
    let client = client(s);
    let stop = StopToken::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut sender = client.action(context(&server, "s", 10), stop.clone(), tx).unwrap();
    sender.send(Rows::new("slow", 0..2, 0)).await;
    // The slow request first, so that the busy one's Retry-After cannot hold it back.
    let t0 = Instant::now();
    while server.requests().is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(60), "the first request never arrived");
        tokio::time::sleep(ms(5)).await;
    }
    sender.send(Rows::new("busy", 0..2, 0)).await;
    // Both requests have arrived: one is in flight, the other waits an hour to retry.
    let t0 = Instant::now();
    while server.requests().len() < 2 {
        assert!(t0.elapsed() < Duration::from_secs(60), "requests never arrived");
        tokio::time::sleep(ms(5)).await;
    }
    stop.stop(StopReason::Interrupted);
    sender.send(Rows::new("late", 0..2, 0)).await;
    let stopped_at = Instant::now();
    let summary = sender.finish().await;
    // Finishing takes far less than the hour the retry would wait: the wait was abandoned.
    assert!(stopped_at.elapsed() < Duration::from_secs(600), "the retry wait was not abandoned");

    let mut outcomes = BTreeMap::new();
    while let Some(report) = rx.recv().await {
        for i in report.records.clone() {
            outcomes.insert(report.batch.ids[i].clone(), report.outcome.clone());
        }
    }
    assert_eq!(outcomes["slow0"], Outcome::Succeeded, "the request in flight finished");
    assert_eq!(outcomes["slow1"], Outcome::Succeeded);
    for id in ["busy0", "busy1", "late0", "late1"] {
        assert_eq!(outcomes[id], Outcome::Undelivered, "{id}");
    }
    assert_eq!(summary.stop, Some(StopReason::Interrupted));
    assert_eq!((summary.succeeded, summary.failed, summary.undelivered), (2, 0, 4));
    assert_eq!(server.requests().len(), 2, "nothing started after the stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_arrive_per_completed_request() {
    // The second request is held until the first one's report is in: the report cannot wait
    // for the whole action.
    let (open, gate) = tokio::sync::watch::channel(false);
    let server =
        Server::start(move |r| if ids_in(&r.body)[0] == "r0" { Reply::ok() } else { Reply::ok().when_open(&gate) })
            .await;
    let client = client(settings());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut sender = client.action(context(&server, "s", 2), StopToken::new(), tx).unwrap();
    sender.send(Rows::new("r", 0..4, 0)).await;
    let first = tokio::time::timeout(Duration::from_secs(60), rx.recv()).await.expect("no report while held").unwrap();
    assert_eq!((first.records.clone(), first.outcome.clone()), (0..2, Outcome::Succeeded));
    // Only now may the second request end: its report cannot have come first.
    open.send(true).unwrap();
    let summary = sender.finish().await;
    assert_eq!(summary.succeeded, 4);
    let rest = rx.recv().await.unwrap();
    assert_eq!(rest.records, 2..4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counting_requests_includes_retries_and_halves() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let server = Server::start(move |r| {
        seen.fetch_add(1, Ordering::SeqCst);
        match (ids_in(&r.body).len(), r.attempt) {
            (2, _) => Reply::status(400),
            (1, 1) => Reply::status(429),
            _ => Reply::ok(),
        }
    })
    .await;
    let run =
        deliver(&client(settings()), context(&server, "s", 2), StopToken::new(), vec![Rows::new("r", 0..2, 0)]).await;
    assert_eq!(run.succeeded().len(), 2);
    // 1 whole + 2 halves, each half retried once.
    assert_eq!(run.summary.requests, 5);
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}
