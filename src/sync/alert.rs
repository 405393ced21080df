//! Alerts (docs/design/interface.md, `[[alerts]]`): when a run of `sync` or `run` ends with a
//! status an alert lists, a POST to its webhook, once per change of the sync's state, and a
//! "recovered" one when a run succeeds after an alerted one.
//!
//! * What to send is a pure function ([`decide`]) of the alert's statuses, how the sync's run
//!   before ended (status and error) and how this one ended: a sync whose previous run ended with
//!   the same status and the same error sends nothing again, so that a guard that holds at every
//!   slot alerts once.
//! * "The run before" is the last run this process saw of the sync, else the runs table's
//!   latest row before this run (read by the run itself; a run that could not reach its
//!   warehouse has none, and then alerts).
//! * Sending uses [`crate::http::webhook`] (delivery's retries and timeout); an alert that
//!   cannot be delivered is logged and changes nothing else. The URL is a secret: it is in the
//!   config's redactor, and no message quotes it.
//!
//! Never for a dry run, and never for a slot skipped because another run holds the lock (no
//! run happened: the runs table has no row for it).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value};

use super::summary::{Stop, SyncSummary};
use crate::destination::{Alert, AlertFormat, Config};

/// What a run's end asks of one alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing: the status is not listed, or the state did not change.
    Quiet,
    /// The run ended with a listed status, and the previous run did not end the same way.
    Fire,
    /// The run succeeded after a run the alert was sent for.
    Recovered,
}

/// Whether to send an alert listing `on` for a run that ended with `status` and `error`, after
/// a run that ended as `previous` (status, error; `None`: unknown or none).
pub fn decide(on: &[String], previous: Option<(&str, Option<&str>)>, status: &str, error: Option<&str>) -> Decision {
    let listed = |s: &str| on.iter().any(|o| o == s);
    if listed(status) {
        return if previous == Some((status, error)) { Decision::Quiet } else { Decision::Fire };
    }
    match previous {
        Some((before, _)) if status == "succeeded" && listed(before) => Decision::Recovered,
        _ => Decision::Quiet,
    }
}

/// The one line a Slack alert shows: the sync, what happened, the counts, the main failure
/// reason, and the command that lists the failed records.
pub fn text(summary: &SyncSummary, decision: Decision, config_path: &str) -> String {
    let s = summary;
    let run = s.run_id.map_or_else(|| "a run".to_owned(), |id| format!("run {id}"));
    let what = match decision {
        Decision::Recovered => format!("recovered: {run} {}", s.run_status()),
        _ => format!("{run} {}", s.run_status()),
    };
    let c = &s.counts;
    let mut line = format!(
        "audience: sync {} {what}: {} inserted, {} updated, {} deleted, {} failed, {} invalid",
        s.sync, c.inserted, c.updated, c.deleted, c.failed, c.invalid
    );
    if let Some(error) = &s.error {
        line.push_str(&format!("; {error}"));
    }
    if let Some(top) = s.reasons.first() {
        line.push_str(&format!("; main failure reason: {} ({} records)", top.reason, top.count));
    }
    if let Some(id) = s.run_id
        && (c.failed > 0 || c.invalid > 0)
    {
        line.push_str(&format!("; failed records: audience logs {config_path} --sync {} --run {id} --failed", s.sync));
    }
    // One line, whatever the error held.
    line.replace(['\n', '\r'], " ")
}

/// The alert's body: the run summary (`json`), or the summary with `text` first (`slack`).
pub fn body(format: AlertFormat, summary: &SyncSummary, decision: Decision, config_path: &str) -> Value {
    let document = serde_json::to_value(summary).unwrap_or(Value::Null);
    match format {
        AlertFormat::Json => document,
        AlertFormat::Slack => {
            let mut out = Map::new();
            out.insert("text".to_owned(), Value::String(text(summary, decision, config_path)));
            if let Value::Object(fields) = document {
                out.extend(fields);
            }
            Value::Object(out)
        }
    }
}

/// The alerts of one config, and how each sync's last run this process saw ended.
pub struct Alerter {
    alerts: Vec<Alert>,
    client: Option<reqwest::Client>,
    retry: crate::http::RetrySettings,
    redactor: crate::destination::Redactor,
    config_path: String,
    last: Mutex<HashMap<String, (String, Option<String>)>>,
}

impl Alerter {
    /// The alerts of `config`; `config_path` is the file as given (for the command in the text).
    pub fn new(config: &Config, config_path: &str) -> Alerter {
        let settings =
            crate::http::client::ClientSettings { timeout: config.destination.timeout, max_idle_per_host: 1 };
        // Without a client (a TLS set-up that fails), alerts are logged as not sent.
        let client = if config.alerts.is_empty() { None } else { crate::http::client::build(settings).ok() };
        Alerter {
            alerts: config.alerts.clone(),
            client,
            retry: config.destination.retry,
            redactor: config.redactor.clone(),
            config_path: config_path.to_owned(),
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Sends what `summary`'s run asks of each alert; logs an alert that cannot be delivered.
    /// Never fails: an alert changes nothing about the run.
    pub async fn notify(&self, summary: &SyncSummary) {
        if summary.dry_run || summary.stop == Some(Stop::LockHeld) {
            return;
        }
        let status = summary.run_status();
        let previous = {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            let seen = last.get(&summary.sync).cloned().or_else(|| summary.previous.clone());
            last.insert(summary.sync.clone(), (status.to_owned(), summary.error.clone()));
            seen
        };
        let previous = previous.as_ref().map(|(s, e)| (s.as_str(), e.as_deref()));
        for (i, alert) in self.alerts.iter().enumerate() {
            let decision = decide(&alert.on, previous, status, summary.error.as_deref());
            if decision == Decision::Quiet {
                continue;
            }
            let body = body(alert.format, summary, decision, &self.config_path);
            let bytes = self.redactor.redact(&body.to_string()).into_owned().into_bytes();
            let sent = match &self.client {
                Some(client) => crate::http::webhook::post_json(client, alert.url.as_str(), bytes, &self.retry).await,
                None => Err("no HTTP client could be built".to_owned()),
            };
            match sent {
                Ok(_) => tracing::info!(sync = %summary.sync, alert = i, status, "alert sent"),
                Err(why) => tracing::warn!(
                    sync = %summary.sync,
                    alert = i,
                    status,
                    "alerts[{i}] could not be delivered (the run's outcome stands): {}",
                    self.redactor.redact(&why)
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn once_per_change_of_state_and_recovered_after_an_alerted_run() {
        let default = on(&["failed", "stopped", "partial"]);
        let guard = Some("the run would remove 90 of 100 members");
        type Ended<'a> = Option<(&'a str, Option<&'a str>)>;
        let table: [(Ended<'_>, &str, Option<&str>, Decision); 11] = [
            (None, "failed", Some("x"), Decision::Fire),
            (None, "succeeded", None, Decision::Quiet),
            (Some(("succeeded", None)), "partial", None, Decision::Fire),
            (Some(("partial", None)), "partial", None, Decision::Quiet),
            (Some(("stopped", guard)), "stopped", guard, Decision::Quiet),
            (Some(("stopped", guard)), "stopped", Some("the API answered HTTP 401"), Decision::Fire),
            (Some(("failed", Some("x"))), "partial", None, Decision::Fire),
            (Some(("partial", None)), "succeeded", None, Decision::Recovered),
            (Some(("succeeded", None)), "succeeded", None, Decision::Quiet),
            (Some(("interrupted", None)), "succeeded", None, Decision::Quiet),
            (Some(("abandoned", None)), "interrupted", None, Decision::Quiet),
        ];
        for (previous, status, error, expected) in table {
            assert_eq!(decide(&default, previous, status, error), expected, "{previous:?} then {status} {error:?}");
        }
        let only_failed = on(&["failed"]);
        assert_eq!(decide(&only_failed, Some(("partial", None)), "succeeded", None), Decision::Quiet);
        assert_eq!(decide(&on(&["succeeded"]), Some(("failed", None)), "succeeded", None), Decision::Fire);
    }

    #[test]
    fn the_slack_text_is_one_line_with_the_command_for_the_failed_records() {
        let mut s = SyncSummary::new("members", false);
        s.status = crate::sync::Status::Partial;
        s.run_id = Some(7);
        s.counts.inserted = 5;
        s.counts.failed = 2;
        s.reasons = vec![super::super::summary::ReasonCount {
            reason: "HTTP 422 Unprocessable Entity: bad email".into(),
            http_status: Some(422),
            count: 2,
        }];
        let line = text(&s, Decision::Fire, "audience.toml");
        assert_eq!(
            line,
            "audience: sync members run 7 partial: 5 inserted, 0 updated, 0 deleted, 2 failed, 0 invalid; main \
             failure reason: HTTP 422 Unprocessable Entity: bad email (2 records); failed records: audience logs \
             audience.toml --sync members --run 7 --failed"
        );
        let body = body(AlertFormat::Slack, &s, Decision::Fire, "audience.toml");
        assert_eq!(body["text"], line);
        assert_eq!((body["status"].as_str(), body["failed"].as_u64()), (Some("partial"), Some(2)));
        s.status = crate::sync::Status::Succeeded;
        s.counts.failed = 0;
        s.reasons.clear();
        s.error = Some("two\nlines".into());
        let line = text(&s, Decision::Recovered, "audience.toml");
        assert!(line.starts_with("audience: sync members recovered: run 7 succeeded: 5 inserted"), "{line}");
        assert!(!line.contains('\n') && !line.contains("audience logs"), "{line}");
    }
}
