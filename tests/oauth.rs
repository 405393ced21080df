//! OAuth2 client credentials through the credential seam, against a token endpoint and an API,
//! both real HTTP servers on 127.0.0.1: one token shared by the requests in flight, renewed
//! before it expires and once on a 401, the token request retried, a refused client secret
//! stopping the run with the server's error masked.

#![cfg(feature = "cli")]

mod support_http;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use audience::delivery::{
    Action, ActionContext, DeliveryClient, DeliverySettings, Endpoint, Outcome, Progress, RetrySettings, StopReason,
    StopToken,
};
use audience::destination::ClientAuth;
use audience::http::oauth::{OAuth2Credentials, OAuth2Settings};
use support_http::{Ids, Received, Reply, Server};
use tokio::sync::mpsc;

const SECRET: &str = "s3cret-9d2f";

fn retry() -> RetrySettings {
    RetrySettings {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(20),
    }
}

/// A token endpoint issuing `tok-1`, `tok-2`, ... that live `expires_in` seconds, after
/// `failures` answers of 503; it refuses any client secret but [`SECRET`].
async fn token_endpoint(expires_in: f64, failures: usize, delay: Duration) -> (Server, Arc<AtomicUsize>) {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let seen = AtomicUsize::new(0);
    let server = Server::start(move |r: &Received| {
        if seen.fetch_add(1, Ordering::SeqCst) < failures {
            return Reply::status(503).body("busy");
        }
        let basic = r.header("authorization").unwrap_or_default();
        let posted = r.body_str().contains(&format!("client_secret={SECRET}"));
        let expected = format!("Basic {}", audience::destination::headers::base64(format!("app:{SECRET}").as_bytes()));
        if basic != expected && !posted {
            return Reply::status(401).header("content-type", "application/json").body(format!(
                r#"{{"error":"invalid_client","error_description":"client authentication failed for {}"}}"#,
                r.body_str()
            ));
        }
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        Reply::ok()
            .header("content-type", "application/json")
            .body(format!(r#"{{"access_token":"tok-{n}","token_type":"Bearer","expires_in":{expires_in}}}"#))
            .after(delay)
    })
    .await;
    (server, issued)
}

fn settings(tokens: &Server, secret: &str, client_auth: ClientAuth) -> OAuth2Settings {
    OAuth2Settings {
        token_url: tokens.url("/oauth/token"),
        client_id: "app".into(),
        client_secret: secret.into(),
        scope: Some("audiences:write".into()),
        client_auth,
        params: vec![("audience".into(), "https://api.example.com".into())],
        timeout: Duration::from_secs(5),
        retry: retry(),
    }
}

fn client(credentials: Arc<OAuth2Credentials>, max_concurrency: u32) -> DeliveryClient {
    let delivery = DeliverySettings {
        timeout: Duration::from_secs(5),
        max_concurrency,
        rate_limit: None,
        max_request_bytes: None,
        retry: retry(),
    };
    DeliveryClient::with_credentials(delivery, [SECRET], credentials).expect("client")
}

/// Delivers records `r0..r{n-1}`, one per request: the outcomes in record order and the stop.
async fn deliver(client: &DeliveryClient, api: &Server, n: usize) -> (Vec<Outcome>, Option<StopReason>) {
    let context = ActionContext {
        sync: "s".into(),
        run_id: 1,
        action: Action::Add,
        endpoint: Endpoint { method: "POST".into(), url: api.url("/members"), headers: vec![] },
        batch_size: 1,
        progress: Progress::hidden(),
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let stop = StopToken::new();
    let mut sender = client.action(context, stop.clone(), tx).expect("action");
    for i in 0..n {
        sender.send(Ids(vec![format!("r{i}")])).await;
    }
    sender.finish().await;
    let mut outcomes = vec![None; n];
    while let Some(report) = rx.recv().await {
        let i: usize = report.batch.0[0][1..].parse().unwrap();
        outcomes[i] = Some(report.outcome.clone());
    }
    (outcomes.into_iter().map(|o| o.expect("every record has an outcome")).collect(), stop.reason())
}

fn bearers(api: &Server) -> Vec<String> {
    api.requests().iter().map(|r| r.header("authorization").unwrap_or_default().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_fetch_serves_many_requests_in_flight() {
    // The token endpoint is slow, so that every request starts while the first fetch is out.
    let (tokens, issued) = token_endpoint(3600.0, 0, Duration::from_millis(300)).await;
    let api = Server::start(|r| {
        let reply = if r.header("authorization") == Some("Bearer tok-1") { Reply::ok() } else { Reply::status(401) };
        reply.after(Duration::from_millis(50))
    })
    .await;
    let credentials = Arc::new(OAuth2Credentials::new(settings(&tokens, SECRET, ClientAuth::Basic)).unwrap());
    let client = client(credentials.clone(), 16);
    let (outcomes, stop) = deliver(&client, &api, 40).await;

    assert_eq!(stop, None);
    assert!(outcomes.iter().all(|o| *o == Outcome::Succeeded), "{outcomes:?}");
    assert_eq!(tokens.requests().len(), 1, "one fetch for all the requests");
    assert_eq!(credentials.token_requests(), 1);
    assert_eq!(issued.load(Ordering::SeqCst), 1);
    assert!(api.max_in_flight() > 1, "requests were in flight together");
    assert!(bearers(&api).iter().all(|b| b == "Bearer tok-1"));
    // RFC 6749 §4.4.2: the grant, the scope and the extra parameters in the form body;
    // client_secret_basic: the secret only in the Authorization header.
    let request = &tokens.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(
        request.body_str(),
        "grant_type=client_credentials&scope=audiences%3Awrite&audience=https%3A%2F%2Fapi.example.com"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_secret_post_puts_the_credentials_in_the_form() {
    let (tokens, _) = token_endpoint(3600.0, 0, Duration::ZERO).await;
    let api = Server::start(|_| Reply::ok()).await;
    let credentials = Arc::new(OAuth2Credentials::new(settings(&tokens, SECRET, ClientAuth::Post)).unwrap());
    let (outcomes, _) = deliver(&client(credentials, 1), &api, 2).await;
    assert!(outcomes.iter().all(|o| *o == Outcome::Succeeded), "{outcomes:?}");
    let request = &tokens.requests()[0];
    assert_eq!(request.header("authorization"), None);
    assert!(request.body_str().ends_with(&format!("&client_id=app&client_secret={SECRET}")), "{}", request.body_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_renewed_before_it_expires() {
    // A one-second token is due for renewal after 0.75 s (a quarter of its life early).
    let (tokens, _) = token_endpoint(1.0, 0, Duration::ZERO).await;
    let api = Server::start(|_| Reply::ok()).await;
    let credentials = Arc::new(OAuth2Credentials::new(settings(&tokens, SECRET, ClientAuth::Basic)).unwrap());
    let client = client(credentials.clone(), 1);
    let (first, _) = deliver(&client, &api, 2).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (second, _) = deliver(&client, &api, 1).await;

    assert!(first.iter().chain(&second).all(|o| *o == Outcome::Succeeded));
    assert_eq!(tokens.requests().len(), 2, "a new token once the first was due");
    assert_eq!(bearers(&api), ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_that_a_fresh_token_cures_is_sent_again() {
    let (tokens, _) = token_endpoint(3600.0, 0, Duration::ZERO).await;
    // tok-1 was revoked before it expired.
    let api =
        Server::start(
            |r| if r.header("authorization") == Some("Bearer tok-1") { Reply::status(401) } else { Reply::ok() },
        )
        .await;
    let credentials = Arc::new(OAuth2Credentials::new(settings(&tokens, SECRET, ClientAuth::Basic)).unwrap());
    let (outcomes, stop) = deliver(&client(credentials, 1), &api, 3).await;

    assert_eq!(stop, None, "the run goes on");
    assert!(outcomes.iter().all(|o| *o == Outcome::Succeeded), "{outcomes:?}");
    assert_eq!(tokens.requests().len(), 2);
    assert_eq!(bearers(&api), ["Bearer tok-1", "Bearer tok-2", "Bearer tok-2", "Bearer tok-2"]);
    let first = &api.requests()[..2];
    assert_eq!(first[0].key(), first[1].key(), "the same request, sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_that_a_fresh_token_does_not_cure_stops_the_run() {
    let (tokens, _) = token_endpoint(3600.0, 0, Duration::ZERO).await;
    let api = Server::start(|r| {
        Reply::status(401).body(format!("no access for {}", r.header("authorization").unwrap_or_default()))
    })
    .await;
    let credentials = Arc::new(OAuth2Credentials::new(settings(&tokens, SECRET, ClientAuth::Basic)).unwrap());
    let (outcomes, stop) = deliver(&client(credentials, 1), &api, 3).await;

    assert_eq!(bearers(&api), ["Bearer tok-1", "Bearer tok-2"], "once with a fresh token, then no more");
    assert_eq!(tokens.requests().len(), 2);
    match stop {
        Some(StopReason::Rejected { status: Some(401), reason }) => {
            assert!(reason.contains("no access for Bearer ***"), "the token is masked: {reason}");
            assert!(!reason.contains("tok-2"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(outcomes.iter().all(|o| *o == Outcome::Undelivered), "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_client_secret_stops_the_run_with_the_servers_error_masked() {
    let (tokens, issued) = token_endpoint(3600.0, 0, Duration::ZERO).await;
    let api = Server::start(|_| Reply::ok()).await;
    // client_secret_post, so that the server's error echoes the wrong secret.
    let wrong = "wrong-secret-7c1e";
    let credentials = Arc::new(OAuth2Credentials::new(settings(&tokens, wrong, ClientAuth::Post)).unwrap());
    let delivery = DeliverySettings {
        timeout: Duration::from_secs(5),
        max_concurrency: 4,
        rate_limit: None,
        max_request_bytes: None,
        retry: retry(),
    };
    let client = DeliveryClient::with_credentials(delivery, [wrong], credentials).unwrap();
    let (outcomes, stop) = deliver(&client, &api, 8).await;

    assert_eq!(issued.load(Ordering::SeqCst), 0);
    assert_eq!(tokens.requests().len(), 1, "a refused secret is not retried, nor asked again by each request");
    assert!(api.requests().is_empty(), "nothing reaches the API");
    assert!(outcomes.iter().all(|o| *o == Outcome::Undelivered), "{outcomes:?}");
    match stop {
        Some(StopReason::Credentials { reason }) => {
            assert!(reason.starts_with("the token endpoint refused the client credentials: HTTP 401 Unauthorized: invalid_client: client authentication failed for "), "{reason}");
            assert!(reason.contains("client_secret=***"), "{reason}");
            assert!(!reason.contains(wrong), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_request_is_retried_by_the_retry_policy() {
    let (tokens, _) = token_endpoint(3600.0, 2, Duration::ZERO).await;
    let api = Server::start(|_| Reply::ok()).await;
    let credentials = Arc::new(OAuth2Credentials::new(settings(&tokens, SECRET, ClientAuth::Basic)).unwrap());
    let (outcomes, stop) = deliver(&client(credentials.clone(), 1), &api, 2).await;
    assert_eq!(stop, None);
    assert!(outcomes.iter().all(|o| *o == Outcome::Succeeded), "{outcomes:?}");
    assert_eq!(credentials.token_requests(), 3, "two 503s, then the token");

    // Down through every attempt the policy allows: the run stops, naming the last answer.
    let (tokens, _) = token_endpoint(3600.0, 100, Duration::ZERO).await;
    let credentials = Arc::new(OAuth2Credentials::new(settings(&tokens, SECRET, ClientAuth::Basic)).unwrap());
    let (_, stop) = deliver(&client(credentials.clone(), 1), &api, 2).await;
    assert_eq!(credentials.token_requests(), 3);
    match stop {
        Some(StopReason::Credentials { reason }) => assert_eq!(
            reason,
            "no access token from the token endpoint: HTTP 503 Service Unavailable: busy (gave up after 3 attempts)"
        ),
        other => panic!("{other:?}"),
    }
}
