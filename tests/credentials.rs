//! The credential seam: delivery asks its credentials for the headers of every attempt, and a
//! secret the credentials obtain during the run is masked from then on. Against a real HTTP
//! server on 127.0.0.1.

#![cfg(feature = "cli")]

mod support_http;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use audience::delivery::{
    Action, ActionContext, DeliveryClient, DeliverySettings, Endpoint, Header, Outcome, Progress, RetrySettings,
    StopToken,
};
use audience::http::auth::{
    AuthError, Credentials, HeaderName, HeaderValue, HeadersFuture, SecretSink, StaticCredentials,
};
use support_http::{Ids, Reply, Server};
use tokio::sync::mpsc;

/// A credential that changes at every request, as a short-lived token would: `tok-1`, `tok-2`,
/// ... Each new token is handed to the masker before it is used.
#[derive(Debug, Default)]
struct Rotating {
    issued: AtomicUsize,
}

impl Credentials for Rotating {
    fn headers<'a>(&'a self, secrets: &'a dyn SecretSink) -> HeadersFuture<'a> {
        Box::pin(async move {
            let token = format!("tok-{}", self.issued.fetch_add(1, Ordering::SeqCst) + 1);
            secrets.add_secret(&token);
            let mut value =
                HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| AuthError::new(e.to_string()))?;
            value.set_sensitive(true);
            Ok(vec![(HeaderName::from_static("authorization"), value)])
        })
    }
}

fn settings() -> DeliverySettings {
    DeliverySettings {
        timeout: Duration::from_secs(5),
        max_concurrency: 1,
        rate_limit: None,
        max_request_bytes: None,
        retry: RetrySettings {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            max_elapsed: Duration::from_secs(20),
        },
    }
}

fn context(server: &Server, headers: Vec<Header>) -> ActionContext {
    ActionContext {
        sync: "s".into(),
        run_id: 1,
        action: Action::Add,
        endpoint: Endpoint { method: "POST".into(), url: server.url("/members"), headers },
        batch_size: 1,
        progress: Progress::hidden(),
    }
}

/// Delivers records `r0..r{n-1}`, one per request; the outcomes in record order.
async fn deliver(client: &DeliveryClient, context: ActionContext, n: usize) -> Vec<Outcome> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut sender = client.action(context, StopToken::new(), tx).expect("action");
    for i in 0..n {
        sender.send(Ids(vec![format!("r{i}")])).await;
    }
    sender.finish().await;
    let mut outcomes = vec![None; n];
    while let Some(report) = rx.recv().await {
        let i: usize = report.batch.0[0][1..].parse().unwrap();
        outcomes[i] = Some(report.outcome.clone());
    }
    outcomes.into_iter().map(|o| o.expect("every record has an outcome")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attempt_asks_for_its_credentials_and_new_secrets_are_masked() {
    // The API refuses r1's request and echoes the credential it got.
    let server = Server::start(|r| {
        let auth = r.header("authorization").unwrap_or_default().to_owned();
        if r.body_str().contains("\"r1\"") {
            Reply::status(409).body(format!("conflict; you sent {auth}"))
        } else {
            Reply::ok()
        }
    })
    .await;
    let client =
        DeliveryClient::with_credentials(settings(), ["config-secret"], Arc::new(Rotating::default())).expect("client");
    // The endpoint's own header of the same name is replaced by the credentials'.
    let headers = vec![Header::new("Authorization", "Bearer stale", true), Header::new("X-Trace", "t", false)];
    let outcomes = deliver(&client, context(&server, headers), 3).await;

    let sent: Vec<String> =
        server.requests().iter().map(|r| r.header("authorization").unwrap_or_default().to_owned()).collect();
    assert_eq!(sent, ["Bearer tok-1", "Bearer tok-2", "Bearer tok-3"], "asked at every request, one value each");
    assert!(server.requests().iter().all(|r| r.header("x-trace") == Some("t")), "the other headers stay");
    assert_eq!(outcomes[0], Outcome::Succeeded);
    assert_eq!(outcomes[2], Outcome::Succeeded);
    match &outcomes[1] {
        Outcome::Failed { status, reason } => {
            assert_eq!(*status, Some(409));
            assert!(reason.contains("you sent Bearer ***"), "the token fetched during the run is masked: {reason}");
            assert!(!reason.contains("tok-2"), "{reason}");
        }
        other => panic!("r1: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_credentials_send_the_same_header_every_time() {
    let server = Server::start(|_| Reply::ok()).await;
    let credentials = StaticCredentials::new([("X-Api-Key".to_owned(), "k3y".to_owned())]).unwrap();
    let client = DeliveryClient::with_credentials(settings(), ["k3y"], Arc::new(credentials)).expect("client");
    let outcomes = deliver(&client, context(&server, vec![]), 2).await;
    assert!(outcomes.iter().all(|o| *o == Outcome::Succeeded), "{outcomes:?}");
    let keys: Vec<Option<String>> =
        server.requests().iter().map(|r| r.header("x-api-key").map(str::to_owned)).collect();
    assert_eq!(keys, [Some("k3y".to_owned()), Some("k3y".to_owned())]);
}
