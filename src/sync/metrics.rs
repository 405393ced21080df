//! What `audience run --listen` serves at `GET /metrics` (docs/design/interface.md, second
//! wave): per sync, tallied from the summaries of the runs this process made, in the Prometheus
//! text format (version 0.0.4) that `promtool check metrics` accepts: counters end in `_total`,
//! times are in seconds, every family has its `HELP` and `TYPE`.
//!
//! Only counts, statuses, status classes and times: no secret and no record value can reach a
//! metric (the `sync` label is the sync's name, `[a-z0-9_]{1,40}`).

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use super::summary::{Stop, SyncSummary};
use crate::delivery::outcome::STATUS_CLASSES;

// The run statuses counted are those an alert may be sent on: how a run of this process ends.
use crate::destination::alerts::STATUSES;
use crate::warehouse::Op;

/// Reads one gauge of a sync's tallies (`None`: no value yet).
type Reading = fn(&Tallies) -> Option<f64>;

/// One sync's tallies.
#[derive(Clone, Debug, Default)]
struct Tallies {
    name: String,
    runs: [u64; STATUSES.len()],
    skipped: u64,
    /// By operation, then succeeded and failed.
    records: [[u64; 2]; 3],
    invalid: u64,
    requests: [u64; STATUS_CLASSES.len()],
    retries: u64,
    splits: u64,
    last_start: Option<f64>,
    last_duration: Option<f64>,
    last_success: Option<f64>,
}

/// The tallies of every scheduled sync, in config order.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    syncs: Vec<Tallies>,
}

/// Seconds since the Unix epoch.
fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Metrics {
    /// Zeroed tallies for these syncs (every series exists from the first scrape).
    pub fn new<'a>(syncs: impl IntoIterator<Item = &'a str>) -> Metrics {
        Metrics {
            syncs: syncs.into_iter().map(|name| Tallies { name: name.to_owned(), ..Tallies::default() }).collect(),
        }
    }

    /// Adds a run that started at `started` and ended as `summary` says. A slot skipped because
    /// another process held the lock is no run: it counts as skipped.
    pub fn record(&mut self, summary: &SyncSummary, started: SystemTime) {
        let Some(t) = self.syncs.iter_mut().find(|t| t.name == summary.sync) else { return };
        if summary.stop == Some(Stop::LockHeld) {
            t.skipped += 1;
            return;
        }
        if let Some(i) = STATUSES.iter().position(|s| *s == summary.run_status()) {
            t.runs[i] += 1;
        }
        let c = &summary.counts;
        for (op, accepted) in [c.deleted, c.updated, c.inserted].into_iter().enumerate() {
            t.records[op][0] += accepted;
            t.records[op][1] += summary.failed_by_op[op];
        }
        t.invalid += c.invalid;
        for (total, n) in t.requests.iter_mut().zip(summary.requests_by_class) {
            *total += n;
        }
        t.retries += summary.retries;
        t.splits += summary.splits;
        let start = epoch_seconds(started);
        let duration = summary.duration_ms as f64 / 1000.0;
        t.last_start = Some(start);
        t.last_duration = Some(duration);
        if summary.run_status() == "succeeded" {
            t.last_success = Some(start + duration);
        }
    }

    /// The text of `/metrics`; `next` gives a sync's next slot (seconds since the epoch).
    pub fn render(&self, next: &dyn Fn(&str) -> Option<f64>) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: &mut dyn FnMut(&mut String)| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            samples(&mut out);
        };
        let syncs = &self.syncs;
        family("audience_runs_total", "counter", "Runs that ended, by status.", &mut |o| {
            for t in syncs {
                for (i, status) in STATUSES.iter().enumerate() {
                    let _ = writeln!(o, "audience_runs_total{{sync=\"{}\",status=\"{status}\"}} {}", t.name, t.runs[i]);
                }
            }
        });
        family(
            "audience_skipped_slots_total",
            "counter",
            "Slots skipped because another run of the sync held its lock.",
            &mut |o| {
                for t in syncs {
                    let _ = writeln!(o, "audience_skipped_slots_total{{sync=\"{}\"}} {}", t.name, t.skipped);
                }
            },
        );
        family(
            "audience_records_total",
            "counter",
            "Records of the delta by operation and outcome (succeeded: the API accepted it).",
            &mut |o| {
                for t in syncs {
                    for op in Op::ALL {
                        for (k, outcome) in ["succeeded", "failed"].iter().enumerate() {
                            let _ = writeln!(
                                o,
                                "audience_records_total{{sync=\"{}\",operation=\"{}\",outcome=\"{outcome}\"}} {}",
                                t.name,
                                op.as_str(),
                                t.records[op.index()][k]
                            );
                        }
                    }
                }
            },
        );
        family(
            "audience_invalid_rows_total",
            "counter",
            "Model rows with a null or duplicate primary key.",
            &mut |o| {
                for t in syncs {
                    let _ = writeln!(o, "audience_invalid_rows_total{{sync=\"{}\"}} {}", t.name, t.invalid);
                }
            },
        );
        family(
            "audience_requests_total",
            "counter",
            "HTTP requests to the API (retries and split halves included) by the class of their answer (none: no answer).",
            &mut |o| {
                for t in syncs {
                    for (i, class) in STATUS_CLASSES.iter().enumerate() {
                        let _ = writeln!(
                            o,
                            "audience_requests_total{{sync=\"{}\",class=\"{class}\"}} {}",
                            t.name, t.requests[i]
                        );
                    }
                }
            },
        );
        family("audience_retries_total", "counter", "Requests sent again after a failed attempt.", &mut |o| {
            for t in syncs {
                let _ = writeln!(o, "audience_retries_total{{sync=\"{}\"}} {}", t.name, t.retries);
            }
        });
        family("audience_splits_total", "counter", "Refused requests split in halves and sent again.", &mut |o| {
            for t in syncs {
                let _ = writeln!(o, "audience_splits_total{{sync=\"{}\"}} {}", t.name, t.splits);
            }
        });
        let gauges: [(&str, &str, Reading); 3] = [
            ("audience_last_run_start_timestamp_seconds", "When the last run started.", |t| t.last_start),
            ("audience_last_run_duration_seconds", "How long the last run took.", |t| t.last_duration),
            ("audience_last_success_timestamp_seconds", "When the last succeeded run ended.", |t| t.last_success),
        ];
        for (name, help, value) in gauges {
            family(name, "gauge", help, &mut |o| {
                for t in syncs {
                    if let Some(v) = value(t) {
                        let _ = writeln!(o, "{name}{{sync=\"{}\"}} {v}", t.name);
                    }
                }
            });
        }
        family("audience_next_run_timestamp_seconds", "gauge", "The sync's next slot.", &mut |o| {
            for t in syncs {
                if let Some(at) = next(&t.name) {
                    let _ = writeln!(o, "audience_next_run_timestamp_seconds{{sync=\"{}\"}} {at}", t.name);
                }
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::Status;

    #[test]
    fn runs_add_up_by_status_operation_and_class() {
        let mut m = Metrics::new(["a", "b"]);
        let mut s = SyncSummary::new("a", false);
        s.status = Status::Partial;
        s.counts.inserted = 7;
        s.counts.failed = 3;
        s.failed_by_op = [1, 0, 2];
        s.requests_by_class = [2, 0, 1, 1, 0, 1];
        s.retries = 2;
        s.duration_ms = 1500;
        m.record(&s, UNIX_EPOCH + std::time::Duration::from_secs(100));
        s.status = Status::Succeeded;
        m.record(&s, UNIX_EPOCH + std::time::Duration::from_secs(200));
        let mut locked = SyncSummary::new("b", false);
        locked.status = Status::Stopped;
        locked.stop = Some(Stop::LockHeld);
        m.record(&locked, UNIX_EPOCH);
        let text = m.render(&|name| (name == "a").then_some(900.0));
        for line in [
            "audience_runs_total{sync=\"a\",status=\"partial\"} 1",
            "audience_runs_total{sync=\"a\",status=\"succeeded\"} 1",
            "audience_runs_total{sync=\"b\",status=\"stopped\"} 0",
            "audience_skipped_slots_total{sync=\"b\"} 1",
            "audience_records_total{sync=\"a\",operation=\"insert\",outcome=\"succeeded\"} 14",
            "audience_records_total{sync=\"a\",operation=\"insert\",outcome=\"failed\"} 4",
            "audience_records_total{sync=\"a\",operation=\"delete\",outcome=\"failed\"} 2",
            "audience_requests_total{sync=\"a\",class=\"2xx\"} 4",
            "audience_requests_total{sync=\"a\",class=\"none\"} 2",
            "audience_retries_total{sync=\"a\"} 4",
            "audience_last_run_start_timestamp_seconds{sync=\"a\"} 200",
            "audience_last_run_duration_seconds{sync=\"a\"} 1.5",
            "audience_last_success_timestamp_seconds{sync=\"a\"} 201.5",
            "audience_next_run_timestamp_seconds{sync=\"a\"} 900",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
        assert!(!text.contains("audience_last_run_start_timestamp_seconds{sync=\"b\"}"), "{text}");
        assert!(!text.contains("audience_next_run_timestamp_seconds{sync=\"b\"}"), "{text}");
    }
}
