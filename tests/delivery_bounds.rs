//! What an API that refuses, delays or answers too much costs: the splitting bound through a
//! real sync (an API rejecting every record is not flooded), `Retry-After` as the API's
//! contract, and 2xx bodies that cannot be read against their request.

mod support_http;
mod sync_support;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use audience::delivery::{
    Action, ActionContext, ActionSummary, DeliveryClient, DeliverySettings, Endpoint, Header, Naming, Outcome,
    Progress, RenderBatch, ResponsePath, ResponseRule, RetrySettings, StopToken,
};
use support_http::{Reply, Server};
use sync_support::{Kind, Receiver, Settings, Warehouse, sync, write_config};
use tokio::sync::mpsc;

/// A 5,000-record sync against an API that answers 422 to every request: the first rejected
/// batch is split depth first until 50 single records failed alike, then every other batch
/// fails whole. At most one request per batch plus 150.
#[test]
fn an_api_rejecting_every_record_costs_a_request_per_batch_plus_150() {
    let w = Warehouse::new(Kind::Sqlite, "flood_every_record");
    let r = Receiver::start();
    w.add_users(1..=5_000);
    r.reject(&(1..=5_000).collect::<Vec<i64>>());
    let settings = Settings { batch_size: 100, max_concurrency: 4, ..Settings::default() };
    let config = write_config(&w, &r, &settings);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["failed"].as_u64(), s["inserted"].as_u64()), (3, Some(5_000), Some(0)), "{s}\n{err}");
    let batches = 5_000 / 100;
    let requests = r.received();
    assert!(requests <= batches + 150, "{requests} requests for {batches} batches");
    assert_eq!(s["requests"].as_u64(), Some(requests as u64));
    // Every record is logged failed; those never sent alone say why splitting stopped.
    assert_eq!(w.count("SELECT count(*) FROM _audience_logs WHERE status = 'failed' AND http_status = 422"), 5_000);
    let bounded = w.count("SELECT count(*) FROM _audience_logs WHERE error_reason LIKE '%not split further%'");
    assert!(bounded >= 4_800, "{bounded} records failed by the bound");
}

// ---------------------------------------------------------------------------------------------
// Delivery alone, against a scripted server

/// `{"users":[{"id":"r0"},...]}`; record `i` has the field `email` = `e<i>`.
struct Rows(usize);

impl RenderBatch for Rows {
    fn len(&self) -> usize {
        self.0
    }

    fn key(&self, _: usize) -> &[u8] {
        b"k"
    }

    fn render(&self, records: Range<usize>, out: &mut Vec<u8>) -> Result<(), String> {
        let users: Vec<String> = records.map(|i| format!(r#"{{"id":"r{i}"}}"#)).collect();
        out.extend_from_slice(format!(r#"{{"users":[{}]}}"#, users.join(",")).as_bytes());
        Ok(())
    }

    fn values(&self, records: Range<usize>, field: &str) -> Vec<Option<String>> {
        records.map(|i| (field == "email").then(|| format!("e{i}"))).collect()
    }
}

fn retry(max_backoff: Duration, max_elapsed: Duration) -> DeliverySettings {
    DeliverySettings {
        timeout: Duration::from_secs(5),
        max_concurrency: 2,
        rate_limit: None,
        max_request_bytes: None,
        retry: RetrySettings { max_attempts: 4, initial_backoff: Duration::from_millis(1), max_backoff, max_elapsed },
    }
}

/// Delivers records `0..n` in one batch; each record's outcome, by index.
async fn deliver(
    server: &Server,
    settings: DeliverySettings,
    response: Option<ResponseRule>,
    n: usize,
    batch_size: usize,
) -> (ActionSummary, Vec<Option<Outcome>>) {
    let client = DeliveryClient::new(settings, ["s3cr3t"]).unwrap();
    let context = ActionContext {
        sync: "bounds".into(),
        run_id: 1,
        action: Action::Add,
        endpoint: Endpoint {
            method: "POST".into(),
            url: server.url("/members"),
            headers: vec![Header::new("Content-Type", "application/json", false)],
        },
        batch_size,
        progress: Progress::hidden(),
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut sender = client.action_reading(context, response.map(Arc::new), StopToken::new(), tx).unwrap();
    sender.send(Rows(n)).await;
    let summary = sender.finish().await;
    let mut outcomes = vec![None; n];
    while let Ok(report) = rx.try_recv() {
        for i in report.records {
            assert!(outcomes[i].is_none(), "record {i} has two outcomes");
            outcomes[i] = Some(report.outcome.clone());
        }
    }
    (summary, outcomes)
}

#[tokio::test]
async fn retry_after_beyond_max_backoff_is_honoured() {
    let server =
        Server::start(|got| if got.attempt == 1 { Reply::status(503).header("Retry-After", "1") } else { Reply::ok() })
            .await;
    let (summary, outcomes) =
        deliver(&server, retry(Duration::from_millis(20), Duration::from_secs(60)), None, 3, 10).await;
    assert_eq!((summary.succeeded, summary.requests), (3, 2));
    assert!(outcomes.iter().all(|o| *o == Some(Outcome::Succeeded)));
    let got = server.requests();
    // The wait is the server's second, not max_backoff's 20 ms (a lower bound only).
    let waited = got[1].at.duration_since(got[0].at);
    assert!(waited >= Duration::from_millis(950), "retried after {waited:?}");
}

#[tokio::test]
async fn retry_after_past_max_elapsed_fails_at_once_with_the_reason() {
    let server = Server::start(|_| Reply::status(429).header("Retry-After", "3600")).await;
    let (summary, outcomes) =
        deliver(&server, retry(Duration::from_secs(30), Duration::from_secs(300)), None, 2, 10).await;
    assert_eq!((summary.failed, summary.requests), (2, 1), "one request, no wait");
    let Some(Outcome::Failed { status, reason }) = &outcomes[0] else { panic!("{outcomes:?}") };
    assert_eq!(*status, Some(429));
    assert!(reason.contains("(Retry-After 3600 s is past max_elapsed 5 min)"), "{reason}");
}

/// When the first request to be split has fewer records than 50, the bound is all of its
/// single records: 100 records in requests of 10 against an API rejecting everything cost the
/// first request's full descent (19 requests) and one request for each of the other nine.
#[tokio::test]
async fn a_small_first_split_sets_the_bound_to_its_records() {
    let server = Server::start(|_| Reply::status(400).body(r#"{"error": "bad audience"}"#)).await;
    let (summary, outcomes) =
        deliver(&server, retry(Duration::from_millis(20), Duration::from_secs(5)), None, 100, 10).await;
    assert_eq!((summary.failed, summary.requests), (100, 19 + 9));
    let singles =
        server.requests().iter().filter(|r| r.body.windows(4).filter(|w| w == b"\"id\"").count() == 1).count();
    assert_eq!(singles, 10, "the first request's ten records, each alone");
    let bounded = outcomes
        .iter()
        .filter(|o| {
            matches!(o, Some(Outcome::Failed { reason, .. })
                if reason.contains("(not split further: the first 10 single-record requests of this action all failed with HTTP 400)"))
        })
        .count();
    assert_eq!(bounded, 90);
}

fn by_index() -> ResponseRule {
    ResponseRule {
        failures: ResponsePath::parse("errors").unwrap(),
        naming: Naming::Index(ResponsePath::parse("index").unwrap()),
        reason: Some(ResponsePath::parse("message").unwrap()),
    }
}

#[tokio::test]
async fn a_2xx_body_that_cannot_be_read_fails_every_record_of_its_request() {
    // Not JSON: every record fails with the 2xx status.
    let server = Server::start(|_| Reply::ok().body("<html>ok</html>")).await;
    let (summary, outcomes) =
        deliver(&server, retry(Duration::from_millis(20), Duration::from_secs(5)), Some(by_index()), 4, 10).await;
    assert_eq!((summary.failed, summary.succeeded), (4, 0));
    let Some(Outcome::Failed { status, reason }) = &outcomes[3] else { panic!("{outcomes:?}") };
    assert_eq!(*status, Some(200));
    assert!(reason.contains("the response is not JSON"), "{reason}");

    // Past the 16 MiB cap: the same, though it would parse.
    let huge = format!(r#"{{"errors": [], "pad": "{}"}}"#, "x".repeat(17 * 1024 * 1024));
    let server = Server::start(move |_| Reply::ok().body(huge.clone())).await;
    let (summary, outcomes) =
        deliver(&server, retry(Duration::from_millis(20), Duration::from_secs(5)), Some(by_index()), 2, 10).await;
    assert_eq!(summary.failed, 2);
    let Some(Outcome::Failed { reason, .. }) = &outcomes[0] else { panic!("{outcomes:?}") };
    assert!(reason.contains("longer than 16 MiB"), "{reason}");

    // Without a response setting the same answer is a success: nothing is read.
    let (summary, _) = deliver(&server, retry(Duration::from_millis(20), Duration::from_secs(5)), None, 2, 10).await;
    assert_eq!(summary.succeeded, 2);
}

#[tokio::test]
async fn refused_records_are_masked_and_named_by_field_across_packed_requests() {
    // Batches of 3 from one batch of 7: positions and values are per request.
    let server = Server::start(|got| {
        let body: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
        let first = body["users"][0]["id"].as_str().unwrap().trim_start_matches('r').parse::<usize>().unwrap();
        // Refuse the request's last record, by its e-mail, echoing the secret.
        let last = first + body["users"].as_array().unwrap().len() - 1;
        Reply::ok().body(format!(r#"{{"rejected": [{{"email": "e{last}", "why": "bad s3cr3t"}}]}}"#))
    })
    .await;
    let rule = ResponseRule {
        failures: ResponsePath::parse("rejected").unwrap(),
        naming: Naming::Field { field: "email".into(), value: ResponsePath::parse("email").unwrap() },
        reason: Some(ResponsePath::parse("why").unwrap()),
    };
    let (summary, outcomes) =
        deliver(&server, retry(Duration::from_millis(20), Duration::from_secs(5)), Some(rule), 7, 3).await;
    assert_eq!((summary.succeeded, summary.failed, summary.requests), (4, 3, 3));
    for (i, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Some(Outcome::Failed { status, reason }) => {
                assert!([2, 5, 6].contains(&i), "{i}");
                assert_eq!((*status, reason.as_str()), (Some(200), "HTTP 200 OK: refused: bad ***"));
            }
            other => assert_eq!(*other, Some(Outcome::Succeeded), "{i}"),
        }
    }
}
