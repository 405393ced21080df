//! One JSON document POSTed to a webhook (an alert: docs/design/interface.md, `[[alerts]]`),
//! with the retry policy delivery uses ([`super::policy`]: the same response table, backoff and
//! `Retry-After`) and the client's per-request timeout. The webhook's URL is a secret (a Slack
//! webhook's path is its credential): it is never part of an error, and whatever an answer
//! echoes of it is masked.

use std::time::{Instant, SystemTime};

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};

use super::client::{describe, read_capped};
use super::mask::{Masker, snippet};
use super::policy::{Answer, Jitter, Verdict, classify, next_retry, parse_retry_after};
use super::retry::RetrySettings;

/// Longest answer read from a webhook, in bytes: enough for its error message.
const MAX_ANSWER_BYTES: usize = 4096;

/// POSTs `body` (JSON) to `url`, trying again as `retry` allows what the response table calls
/// transient (a 429, a 5xx, a timeout, no connection). Returns the attempts made, or why the
/// webhook did not take it: the last answer, masked, with the attempts made.
pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    retry: &RetrySettings,
) -> Result<u32, String> {
    // The path alone too: an answer may echo the path it was asked for.
    let masker = Masker::new([url, super::secret_path(url)]);
    let started = Instant::now();
    let mut jitter = Jitter::from_entropy();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let sent = client.post(url).header(CONTENT_TYPE, "application/json").body(body.clone()).send().await;
        let (retry_after, last) = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let answer = read_capped(response, MAX_ANSWER_BYTES).await;
                let text = format!("HTTP {status}: {}", snippet(&answer, &masker));
                match classify(Answer::Status(status)) {
                    Verdict::Accepted => return Ok(attempts),
                    Verdict::Retry => (retry_after, text),
                    _ => return Err(gave_up(&text, attempts)),
                }
            }
            Err(e) if e.is_timeout() => (None, "no response within the timeout".to_owned()),
            Err(e) => (None, format!("connection error: {}", masker.mask(&describe(&e)))),
        };
        let asked = retry_after.as_deref().and_then(|v| parse_retry_after(v, SystemTime::now()));
        let Some(wait) = next_retry(retry, attempts, started.elapsed(), asked, jitter.next_unit()) else {
            return Err(gave_up(&last, attempts));
        };
        tokio::time::sleep(wait).await;
    }
}

fn gave_up(last: &str, attempts: u32) -> String {
    let plural = if attempts == 1 { "" } else { "s" };
    format!("{last} (after {attempts} attempt{plural})")
}
