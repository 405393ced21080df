//! [`PreparedAction`]: everything needed to send one action of one sync, built once from the
//! checked config; the delivery layer and `preview` both render requests with it.

use std::fmt;

use crate::fields::{FieldPlan, FieldSpec, PlanError, Source};
use crate::template::{Connection, Diagnostic, RecordBatch, Template};

use super::headers::{Header, build_headers};
use super::model::{ActionKind, Config, Method, Sync};
use super::secret::{MASK, Text};
use super::url::{PLACEHOLDERS, percent_encode, request_url};

/// One action of one sync, ready to send: method, URL, headers, the compiled template and the
/// field plan that fills its records.
///
/// Slot `i` of the plan (and of every [`RecordBatch`]) is the template's field `i`. Mapped
/// fields read the warehouse column the `column` resolver of [`PreparedAction::prepare`]
/// gave; static fields carry their (already processed) literal.
#[derive(Clone)]
pub struct PreparedAction {
    /// The sync's name.
    pub sync: String,
    /// Which action this is.
    pub action: ActionKind,
    /// The HTTP method.
    pub method: Method,
    /// The request URL: secret when any part of it came from a secret (the environment).
    pub url: Text,
    /// The URL with secret parts masked, for logs and previews.
    pub shown_url: String,
    /// In sending order; secret values are marked.
    pub headers: Vec<Header>,
    /// The compiled body template.
    pub template: Template,
    /// How each template field gets its value from a warehouse row, normalised and hashed.
    pub plan: FieldPlan,
    /// The `$$.connection` values of the sync.
    pub connection: Connection,
    /// Most records per request.
    pub batch_size: usize,
    /// Largest request body, if capped.
    pub max_request_bytes: Option<u64>,
    /// Update with `use_add`: the same request as add (updates still go in batches of their own).
    pub uses_add: bool,
    /// Which records a 2xx answer refuses (add's, with `use_add`).
    pub response: Option<std::sync::Arc<super::model::ResponseRule>>,
}

/// Why an action could not be prepared for a sync's rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrepareError {
    /// The sync maps `field` to a column the model does not have.
    UnknownColumn {
        /// The template field.
        field: String,
        /// The column it is mapped to.
        column: String,
    },
    /// The field plan refused the fields (a duplicate, or static and mapped settings that
    /// disagree).
    Plan(PlanError),
}

impl fmt::Display for PrepareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrepareError::UnknownColumn { field, column } => {
                write!(f, "field {field} is mapped to column {column}, which the model does not have")
            }
            PrepareError::Plan(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PrepareError {}

impl PreparedAction {
    /// Prepares `action` of `sync`. `column` gives the index, in the rows that will be passed to
    /// [`FieldPlan::process`], of a warehouse column named in the sync's `map`.
    pub fn prepare(
        config: &Config,
        sync: &Sync,
        action: ActionKind,
        column: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<PreparedAction, PrepareError> {
        let mut specs = Vec::new();
        let destination = &config.destination;
        let spec_action = destination.action(action);
        for field in spec_action.template.fields() {
            let settings = destination.field(&field.name);
            let mut column_name = None;
            let source = if settings.is_static {
                sync.static_value(&field.name).map_or(Source::Unmapped, |s| Source::Static(s.value.clone()))
            } else {
                match sync.column(&field.name) {
                    Some(name) => {
                        column_name = Some(name.shown().to_owned());
                        Source::Column(column(name.as_str()).ok_or_else(|| PrepareError::UnknownColumn {
                            field: field.name.clone(),
                            column: name.shown().to_owned(),
                        })?)
                    }
                    None => Source::Unmapped,
                }
            };
            let spec = FieldSpec::new(field.name.clone(), settings, source);
            specs.push(match column_name {
                Some(column) => spec.with_column(column),
                None => spec,
            });
        }
        let plan = FieldPlan::compile(&specs, sync.hash_pii).map_err(PrepareError::Plan)?;
        Ok(PreparedAction::with_plan(config, sync.name.clone(), action, sync.connection_texts(), plan))
    }

    /// Prepares `action` with a plan built by the caller (`preview` builds one over its sample
    /// records) and the connection values as config texts (for their secrecy).
    pub fn with_plan(
        config: &Config,
        sync: String,
        action: ActionKind,
        connection: ConnectionTexts,
        plan: FieldPlan,
    ) -> PreparedAction {
        let destination = &config.destination;
        let a = destination.action(action);
        let conn = Connection {
            audience_id: connection.audience_id.as_str().to_owned(),
            audience_name: connection.audience_name.as_str().to_owned(),
        };
        let url = request_url(destination.base_url.as_str(), a.path.as_str(), &conn);
        let secret = destination.base_url.is_secret()
            || a.path.is_secret()
            || connection.audience_id.is_secret()
            || connection.audience_name.is_secret();
        PreparedAction {
            sync,
            action,
            method: a.method,
            url: Text::new(url, secret),
            shown_url: shown_url(&destination.base_url, &a.path, &connection),
            headers: build_headers(&destination.headers, &destination.auth),
            template: a.template.clone(),
            plan,
            connection: conn,
            batch_size: a.batch_size,
            max_request_bytes: destination.max_request_bytes,
            uses_add: a.uses_add,
            response: a.response.clone().map(std::sync::Arc::new),
        }
    }

    /// An empty batch for this action's records.
    pub fn new_batch(&self) -> RecordBatch {
        RecordBatch::new(self.plan.width())
    }

    /// Renders the body of one request for `batch` into `out` (appending).
    pub fn render(&self, batch: &RecordBatch, out: &mut Vec<u8>) -> Result<(), Diagnostic> {
        self.template.render(batch, &self.connection, out)
    }

    /// The headers as name and value, secrets masked unless `show_secrets`.
    pub fn shown_headers(&self, show_secrets: bool) -> Vec<(String, String)> {
        self.headers.iter().map(|h| (h.name.clone(), h.shown(show_secrets))).collect()
    }
}

impl fmt::Debug for PreparedAction {
    /// Without the plan, whose static values may be secrets, and with the URL as shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedAction")
            .field("sync", &self.sync)
            .field("action", &self.action)
            .field("method", &self.method)
            .field("url", &self.shown_url)
            .field("headers", &self.headers)
            .field("fields", &self.plan.names().collect::<Vec<_>>())
            .field("batch_size", &self.batch_size)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("uses_add", &self.uses_add)
            .finish_non_exhaustive()
    }
}

/// A sync's connection values, with their secrecy.
#[derive(Clone, Debug, Default)]
pub struct ConnectionTexts {
    /// The audience's id, secret when it came from the environment.
    pub audience_id: Text,
    /// The audience's name, secret when it came from the environment.
    pub audience_name: Text,
}

impl Sync {
    /// The connection values as config texts.
    pub fn connection_texts(&self) -> ConnectionTexts {
        ConnectionTexts { audience_id: self.audience_id.clone(), audience_name: self.audience_name.clone() }
    }
}

/// The URL as logs and previews show it: each secret part (the base URL, the path, a
/// connection value) replaced by `***`.
pub fn shown_url(base_url: &Text, path: &Text, connection: &ConnectionTexts) -> String {
    if path.is_secret() {
        return format!("{}/{MASK}", base_url.shown());
    }
    let value = |t: &Text| if t.is_secret() { MASK.to_owned() } else { percent_encode(t.as_str()) };
    let path = path
        .as_str()
        .replace(PLACEHOLDERS[0], &value(&connection.audience_id))
        .replace(PLACEHOLDERS[1], &value(&connection.audience_name));
    format!("{}{path}", base_url.shown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_mask_secret_parts() {
        let path = Text::plain("/a/{{connection.audienceId}}/{{connection.audienceName}}");
        let conn = |id: Text| ConnectionTexts { audience_id: id, audience_name: Text::plain("High value") };
        let table = [
            (Text::plain("https://x.com"), &path, conn(Text::plain("1/2")), "https://x.com/a/1%2F2/High%20value"),
            (Text::secret("https://x.com"), &path, conn(Text::plain("1")), "***/a/1/High%20value"),
            (Text::plain("https://x.com"), &path, conn(Text::secret("1")), "https://x.com/a/***/High%20value"),
        ];
        for (base, path, conn, want) in table {
            assert_eq!(shown_url(&base, path, &conn), want);
        }
        assert_eq!(
            shown_url(&Text::plain("https://x.com"), &Text::secret("/p"), &conn(Text::plain("1"))),
            "https://x.com/***"
        );
    }
}
