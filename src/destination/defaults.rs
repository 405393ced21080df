//! The default of each optional setting of the config, in one place: the checks apply these
//! (`validate`, `syncs`) and the JSON Schema states them (`config`'s `default` annotations),
//! so the two cannot drift apart.

use std::time::Duration;

use super::model::Method;

/// `destination.timeout`: the time one request may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// `destination.max_concurrency`: requests in flight at once.
pub const MAX_CONCURRENCY: i64 = 4;
/// `destination.actions.*.method`.
pub const METHOD: Method = Method::Post;
/// `destination.actions.*.batch_size`: most records per request.
pub const BATCH_SIZE: i64 = 5000;
/// `syncs.*.hash_pii`.
pub const HASH_PII: bool = true;
/// `syncs.*.retain_logs`.
pub const RETAIN_LOGS: bool = true;
/// `syncs.*.log_retention_days`.
pub const LOG_RETENTION_DAYS: i64 = 7;
/// `syncs.*.snapshot_retention`: snapshots kept per sync.
pub const SNAPSHOT_RETENTION: i64 = 3;
/// `syncs.*.retry_failed`.
pub const RETRY_FAILED: bool = true;

/// A duration as the config writes it (`"500ms"`, `"30s"`, `"5m"`, `"1h"`): the largest unit
/// that divides it.
pub fn duration_text(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        _ if ms.is_multiple_of(3_600_000) && ms > 0 => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) && ms > 0 => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destination::schedule::parse_duration;

    #[test]
    fn durations_are_written_as_the_config_writes_them_and_read_back() {
        for (d, text) in [
            (Duration::from_millis(500), "500ms"),
            (TIMEOUT, "30s"),
            (Duration::from_secs(300), "5m"),
            (Duration::from_secs(7200), "2h"),
            (Duration::from_millis(1500), "1500ms"),
        ] {
            assert_eq!(duration_text(d), text);
            assert_eq!(parse_duration(text), Ok(d), "{text}");
        }
    }
}
