//! `[[alerts]]`: webhooks told when a run ends with a listed status (docs/design/interface.md,
//! second wave). The URL is a secret wherever it came from: a Slack webhook's path is its
//! credential.

use super::checker::Ctx;
use super::codes::ConfigCode;
use super::config::AlertTable;
use super::model::{Alert, AlertFormat};

/// The run statuses an alert may be sent on: how a run of this process can end.
pub const STATUSES: [&str; 5] = ["succeeded", "partial", "stopped", "failed", "interrupted"];

/// The statuses an alert without `on` is sent on.
pub const DEFAULT_ON: [&str; 3] = ["failed", "stopped", "partial"];

/// The checked `[[alerts]]`, in file order.
pub(super) fn alerts(ctx: &mut Ctx<'_>, tables: &[AlertTable]) -> Vec<Alert> {
    tables.iter().enumerate().map(|(i, t)| alert(ctx, &format!("alerts[{i}]"), t)).collect()
}

fn alert(ctx: &mut Ctx<'_>, base: &str, t: &AlertTable) -> Alert {
    let url = ctx.required(base, "url", t.url.as_ref(), true);
    let key = format!("{base}.url");
    if t.url.is_some() && ctx.known(&key) && !url.is_empty() && !is_http_url(url.as_str()) {
        // The value is a secret: the message does not quote it.
        ctx.error_hint(
            ConfigCode::AlertUrl,
            &key,
            "the alert URL is not an http or https URL with a host",
            "give the webhook's whole URL, such as https://hooks.slack.com/services/...",
        );
    }
    // A webhook's path is its credential: masked on its own too, wherever text may echo it.
    let path = crate::http::secret_path(url.as_str());
    if !path.is_empty() {
        ctx.secrets.push(path.to_owned());
    }
    let mut on = Vec::new();
    match &t.on {
        None => on.extend(DEFAULT_ON.map(str::to_owned)),
        Some(list) => {
            for (j, status) in list.iter().enumerate() {
                if STATUSES.contains(&status.as_str()) {
                    if !on.contains(status) {
                        on.push(status.clone());
                    }
                } else {
                    ctx.error_hint(
                        ConfigCode::UnknownName,
                        &format!("{base}.on[{j}]"),
                        format!("unknown run status `{status}`"),
                        format!("expected {}", STATUSES.join(", ")),
                    );
                }
            }
        }
    }
    let format = match t.format.as_deref() {
        None | Some("slack") => AlertFormat::Slack,
        Some("json") => AlertFormat::Json,
        Some(other) => {
            ctx.error_hint(
                ConfigCode::UnknownName,
                &format!("{base}.format"),
                format!("unknown alert format `{other}`"),
                "expected slack or json",
            );
            AlertFormat::Slack
        }
    };
    Alert { url, on, format }
}

/// `http://HOST...` or `https://HOST...`, without white space.
fn is_http_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    !host.is_empty() && !host.starts_with(':') && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::is_http_url;

    #[test]
    fn alert_urls() {
        for good in ["https://hooks.slack.com/services/T0/B0/x", "http://127.0.0.1:8080/alert", "https://h?x=1"] {
            assert!(is_http_url(good), "{good}");
        }
        for bad in ["hooks.slack.com/x", "ftp://h/x", "https://", "https:///x", "https://:80/x", "https://h/a b"] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
