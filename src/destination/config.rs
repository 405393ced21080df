//! The config file as TOML holds it: the serde model read by [`super::load`] and the source of
//! the JSON Schema (`schema/config.schema.json`).
//!
//! Every key is optional here, and names (methods, hash algorithms, schedules) and numbers are
//! kept as written: the validator ([`super::validate`]) turns them into the typed
//! [`super::model::Config`], so that a missing key, a value out of range or an unknown name is
//! reported with its key path next to every other problem, rather than ending the read at the
//! first one. Only a value of the wrong TOML type stops serde, and the loader recovers from
//! that too (see [`super::load`]).
//!
//! The doc comments are the schema's descriptions: they speak to the user.

use std::fmt;
use std::marker::PhantomData;

use schemars::JsonSchema;

use super::defaults;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

/// An `audience` config: one destination (your HTTP API) and the syncs that feed it. String
/// values may reference environment variables as `${NAME}` (never inside templates; `$${` is a
/// literal `${`); a value from the environment is a secret. Paths are relative to this file.
#[derive(Default, serde::Deserialize, JsonSchema)]
#[schemars(title = "audience config")]
pub struct ConfigFile {
    /// The audience API: where requests go and what they look like.
    #[schemars(required)]
    pub destination: Option<DestinationTable>,
    /// One table per sync, named `[a-z0-9_]{1,40}`.
    #[serde(default)]
    pub syncs: OrderedMap<SyncTable>,
    /// `[[alerts]]`: a POST to a webhook when a run of `sync` or `run` ends with a listed status,
    /// once per change of a sync's state, and a "recovered" one after an alerted failure.
    #[serde(default)]
    pub alerts: Vec<AlertTable>,
}

/// `[[alerts]]`: where and when to send an alert.
#[derive(Default, serde::Deserialize, JsonSchema)]
pub struct AlertTable {
    /// The webhook's URL, http or https (a Slack incoming webhook, say): a secret, masked
    /// everywhere; usually `${ALERT_WEBHOOK_URL}`.
    #[schemars(required)]
    pub url: Option<String>,
    /// The run statuses that send it: `succeeded`, `partial`, `stopped`, `failed`,
    /// `interrupted`.
    #[schemars(extend("default" = ["failed", "stopped", "partial"]))]
    pub on: Option<Vec<String>>,
    /// `slack`: `{"text": one line, ...the run summary}`; `json`: the run summary alone.
    #[schemars(extend("enum" = ["slack", "json"], "default" = "slack"))]
    pub format: Option<String>,
}

/// `[destination]`
#[derive(Default, serde::Deserialize, JsonSchema)]
pub struct DestinationTable {
    /// A name for this destination.
    #[schemars(required)]
    pub name: Option<String>,
    /// The API's root URL, http or https, optionally with a path prefix; no user info, no
    /// query. A trailing `/` is dropped.
    #[schemars(required)]
    pub base_url: Option<String>,
    /// Extra headers on every request: a value, or `{ value, secret = true }` to mask it.
    /// Host, Content-Length, Transfer-Encoding, Connection and Idempotency-Key are not allowed.
    #[serde(default)]
    pub headers: OrderedMap<StringOr<HeaderTable>>,
    /// Per-request timeout, such as `"30s"`.
    #[schemars(extend("default" = defaults::duration_text(defaults::TIMEOUT)))]
    pub timeout: Option<String>,
    /// Requests in flight at once.
    #[schemars(range(min = 1, max = 256), extend("default" = defaults::MAX_CONCURRENCY))]
    pub max_concurrency: Option<i64>,
    /// Requests per second (no limit when absent).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub rate_limit: Option<f64>,
    /// Largest request body in bytes, at least 1024 (no limit when absent).
    #[schemars(range(min = 1024, max = 1_073_741_824))]
    pub max_request_bytes: Option<i64>,
    /// How requests authenticate (default: none).
    pub auth: Option<AuthTable>,
    /// The add, update and remove requests.
    #[schemars(required)]
    pub actions: Option<ActionsTable>,
    /// Settings of template fields, by field name (a field without a table has the defaults).
    #[serde(default)]
    pub fields: OrderedMap<FieldTable>,
    /// Retries of failed requests.
    pub retry: Option<RetryTable>,
    /// The one request `audience check --connect` may send.
    pub health: Option<HealthTable>,
}

/// `[destination.health]`: a request whose 2xx answer means the API and its credentials work.
#[derive(Default, serde::Deserialize, JsonSchema)]
pub struct HealthTable {
    /// `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE` or `OPTIONS`.
    #[schemars(extend("enum" = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"], "default" = "GET"))]
    pub method: Option<String>,
    /// Appended to the base URL; starts with `/`; no placeholder.
    #[schemars(required)]
    pub path: Option<String>,
}

/// A header given as a table.
#[derive(Default, serde::Deserialize, JsonSchema)]
pub struct HeaderTable {
    /// The header's value (may reference `${NAME}` variables).
    #[schemars(required)]
    pub value: Option<String>,
    /// Shown as `***` in previews and never logged.
    #[schemars(extend("default" = false))]
    pub secret: Option<bool>,
}

/// `[destination.auth]`: `type` and the keys of that type.
#[derive(Default, serde::Deserialize, JsonSchema)]
pub struct AuthTable {
    /// `none`, `basic` (username, password), `api_key` (header, key), `bearer` (token) or
    /// `oauth2` (token_url, client_id, client_secret; OAuth 2.0 client credentials).
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["none", "basic", "api_key", "bearer", "oauth2"], "default" = "none"))]
    pub kind: Option<String>,
    /// Bearer: the token, sent as `Authorization: Bearer TOKEN`.
    pub token: Option<String>,
    /// Basic: the user name.
    pub username: Option<String>,
    /// Basic: the password.
    pub password: Option<String>,
    /// API key: the header that carries the key, such as `X-API-Key`.
    pub header: Option<String>,
    /// API key: the key.
    pub key: Option<String>,
    /// OAuth2: the token endpoint, https (http only for a loopback host).
    pub token_url: Option<String>,
    /// OAuth2: the client's id.
    pub client_id: Option<String>,
    /// OAuth2: the client's secret.
    pub client_secret: Option<String>,
    /// OAuth2: the scope asked for (none when absent).
    pub scope: Option<String>,
    /// OAuth2: how the client authenticates to the token endpoint: `basic`
    /// (client_secret_basic) or `post` (client_secret_post).
    #[schemars(extend("enum" = ["basic", "post"], "default" = "basic"))]
    pub client_auth: Option<String>,
    /// OAuth2: extra form parameters of the token request, such as `audience`.
    pub params: Option<OrderedMap<String>>,
}

/// `[destination.actions]`
#[derive(Default, serde::Deserialize, JsonSchema)]
pub struct ActionsTable {
    /// When a user enters the audience (also spelled `insert`).
    #[serde(alias = "insert")]
    #[schemars(required)]
    pub add: Option<ActionTable>,
    /// When a member's mapped values change: its own settings, or `use_add = true`.
    #[schemars(required)]
    pub update: Option<ActionTable>,
    /// When a user leaves the audience (also spelled `delete`).
    #[serde(alias = "delete")]
    #[schemars(required)]
    pub remove: Option<ActionTable>,
}

/// One action's request.
#[derive(Default, serde::Deserialize, JsonSchema)]
pub struct ActionTable {
    /// `POST`, `PUT`, `PATCH`, `GET` or `DELETE`.
    #[schemars(extend("enum" = ["POST", "PUT", "PATCH", "GET", "DELETE"], "default" = defaults::METHOD.as_str()))]
    pub method: Option<String>,
    /// Appended to the base URL; starts with `/`; may hold `{{connection.audienceId}}` and
    /// `{{connection.audienceName}}`.
    pub path: Option<String>,
    /// Most records per request.
    #[schemars(range(min = 1, max = 5000), extend("default" = defaults::BATCH_SIZE))]
    pub batch_size: Option<i64>,
    /// The request body: a JSONata template (never expanded for `${...}`).
    pub template: Option<String>,
    /// A file holding the template, relative to this file (instead of `template`).
    pub template_file: Option<String>,
    /// Update only, and alone: reuse add's method, path, batch size, template and response.
    pub use_add: Option<bool>,
    /// Records refused inside a 2xx answer: where the body lists them.
    pub response: Option<ResponseTable>,
}

/// `[destination.actions.NAME.response]`: the body of a 2xx answer lists the records it
/// refused. Paths are relative field paths of the template language (`errors`,
/// `result.items`), without `$`, filters or functions. An entry names its record in exactly
/// one way: `index`, `field` with `value`, or `status` with `ok`.
#[derive(Default, serde::Deserialize, JsonSchema)]
pub struct ResponseTable {
    /// The path to the array of entries, from the body's root.
    #[schemars(required)]
    pub failures: Option<String>,
    /// In an entry: the record's 0-based position in the request's records.
    pub index: Option<String>,
    /// The template field whose value (as sent, after hashing) `value` holds.
    pub field: Option<String>,
    /// In an entry: the value of `field` of the record it refuses.
    pub value: Option<String>,
    /// In an entry: its record's status; the array then holds one entry per record, in
    /// request order.
    pub status: Option<String>,
    /// The statuses of accepted records (with `status`); any other refuses its record.
    pub ok: Option<Vec<String>>,
    /// In an entry: the reason (default: the entry as compact JSON).
    pub reason: Option<String>,
}

/// `[destination.fields.NAME]`: a template field's settings.
#[derive(Default, serde::Deserialize, JsonSchema)]
pub struct FieldTable {
    /// A record fails when this field is unmapped, null or empty.
    #[schemars(extend("default" = false))]
    pub required: Option<bool>,
    /// The value is a literal from each sync's `static` table, not a warehouse column.
    #[serde(rename = "static")]
    #[schemars(extend("default" = false))]
    pub is_static: Option<bool>,
    /// `none`, `sha256`, `sha512` or `md5`, any case.
    #[schemars(extend("default" = "none"))]
    pub hash: Option<String>,
    /// Applied before hashing: `none`, `trim`, `lowercase`, `email`, `phone_digits`,
    /// `phone_e164`.
    #[schemars(extend(
        "enum" = ["none", "trim", "lowercase", "email", "phone_digits", "phone_e164"],
        "default" = "none"
    ))]
    pub normalize: Option<String>,
}

/// `[destination.retry]`
#[derive(Default, serde::Deserialize, JsonSchema)]
pub struct RetryTable {
    /// Attempts per request, the first included.
    #[schemars(range(min = 1, max = 100), extend("default" = 6))]
    pub max_attempts: Option<i64>,
    /// The ceiling of the first retry's wait, as a duration (`"500ms"`); it doubles with each
    /// retry.
    #[schemars(extend("default" = "500ms"))]
    pub initial_backoff: Option<String>,
    /// The longest wait between two attempts of the backoff, as a duration (`"30s"`).
    #[schemars(extend("default" = "30s"))]
    pub max_backoff: Option<String>,
    /// Time spent on one request, retries included.
    #[schemars(extend("default" = "5m"))]
    pub max_elapsed: Option<String>,
}

/// `[syncs.NAME]`: a SQL model mirrored into one audience.
#[derive(Default, serde::Deserialize, JsonSchema)]
pub struct SyncTable {
    /// `$$.connection.audienceName`.
    #[schemars(required)]
    pub audience_name: Option<String>,
    /// `$$.connection.audienceId`: the list's ID on your platform.
    #[schemars(required)]
    pub audience_id: Option<String>,
    /// `sqlite://PATH` (relative to this file; `sqlite:///abs/path`),
    /// `postgres://user:pass@host/db?sslmode=...` or
    /// `snowflake://USER@ACCOUNT/DATABASE/SCHEMA?warehouse=WH&role=ROLE&private_key_file=PATH`.
    #[schemars(required)]
    pub source: Option<String>,
    /// The model as SQL (or `table`).
    pub query: Option<String>,
    /// The model as a table name (or `query`).
    pub table: Option<String>,
    /// The column that identifies a member.
    #[schemars(required)]
    pub primary_key: Option<String>,
    /// "Automatically hash PII data": hash fields that have a hash algorithm. When false,
    /// values must already be digests.
    #[schemars(extend("default" = defaults::HASH_PII))]
    pub hash_pii: Option<bool>,
    /// Template field -> warehouse column.
    #[serde(default)]
    pub map: OrderedMap<String>,
    /// Static template field -> literal value.
    #[serde(default, rename = "static")]
    pub statics: OrderedMap<StaticValue>,
    /// `"manual"`, `{ every = "6h", starting_at = "00:30" }` or `{ cron = "0 */6 * * *" }`,
    /// in UTC.
    #[schemars(extend("default" = "manual"))]
    pub schedule: Option<StringOr<ScheduleTable>>,
    /// Store sync logs in the warehouse.
    #[schemars(extend("default" = defaults::RETAIN_LOGS))]
    pub retain_logs: Option<bool>,
    /// Days of sync logs kept.
    #[schemars(range(min = 1, max = 36500), extend("default" = defaults::LOG_RETENTION_DAYS))]
    pub log_retention_days: Option<i64>,
    /// Run snapshots kept.
    #[schemars(range(min = 1, max = 1000), extend("default" = defaults::SNAPSHOT_RETENTION))]
    pub snapshot_retention: Option<i64>,
    /// Send failed records again on the next run.
    #[schemars(extend("default" = defaults::RETRY_FAILED))]
    pub retry_failed: Option<bool>,
    /// Stop a run that would remove more than this share of the audience.
    #[schemars(range(min = 0.0, max = 1.0), extend("default" = 0.5))]
    pub max_removal_share: Option<f64>,
    /// The lock's lease, from `"1s"` to `"1h"`: a run elsewhere whose heartbeat stands still
    /// this long is taken over.
    #[schemars(extend("default" = "10m"))]
    pub lock_timeout: Option<String>,
}

/// A static value: any TOML value (a string, number, boolean, date, array or table).
#[derive(serde::Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct StaticValue(#[schemars(with = "serde_json::Value")] pub toml::Value);

/// A schedule given as a table: `every` (with `starting_at`) or `cron`.
#[derive(Default, serde::Deserialize, JsonSchema)]
pub struct ScheduleTable {
    /// From 5 minutes to 24 hours, such as `"6h"`.
    pub every: Option<String>,
    /// `"HH:MM"` in UTC (default `"00:00"`); runs fire at this time plus whole multiples of
    /// `every`.
    #[schemars(with = "Option<String>", regex(pattern = r"^[0-2][0-9]:[0-5][0-9]$"))]
    pub starting_at: Option<toml::Value>,
    /// Standard 5-field cron, in UTC.
    pub cron: Option<String>,
}

/// A string, or a table of type `T`.
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "String_or_{T}")]
pub enum StringOr<T> {
    /// The short form, a plain string.
    String(String),
    /// The long form, a table.
    Table(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for StringOr<T> {
    /// By hand rather than `#[serde(untagged)]`: untagged buffers the input, which would hide
    /// unknown keys inside the table from `serde_ignored` and lose the error's key path.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = StringOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a table")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StringOr::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(StringOr::String(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(StringOr::Table)
            }
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

/// A TOML table whose entries keep the file's order (header order matters: a later header
/// replaces an earlier one; and problems are reported in file order).
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<V> OrderedMap<V> {
    /// The entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The value of the first entry named `key` (names compare exactly).
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether the table has no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, V>()? {
                    entries.push((key, value));
                }
                Ok(OrderedMap(entries))
            }
        }
        deserializer.deserialize_map(Entries(PhantomData))
    }
}

impl<V: JsonSchema> JsonSchema for OrderedMap<V> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <std::collections::BTreeMap<String, V>>::json_schema(generator)
    }
}
