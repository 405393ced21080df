//! The config as the rest of `audience` uses it: checked, typed, with defaults applied,
//! templates compiled and secrets marked. Built by [`super::validate`] only when the file has
//! no error, so every value here is valid.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::fields::{FieldSettings, OwnedValue};
use crate::template::Template;

use super::schedule::Schedule;
use super::secret::{Redactor, Text};

/// One of the three requests of a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKind {
    /// A user enters the audience (the seed's INSERT).
    Add,
    /// A member's mapped values change.
    Update,
    /// A user leaves the audience (the seed's DELETE).
    Remove,
}

impl ActionKind {
    /// The three actions, in the order add, update, remove (their index order).
    pub const ALL: [ActionKind; 3] = [ActionKind::Add, ActionKind::Update, ActionKind::Remove];

    /// The canonical name: `add`, `update` or `remove`.
    pub const fn name(self) -> &'static str {
        match self {
            ActionKind::Add => "add",
            ActionKind::Update => "update",
            ActionKind::Remove => "remove",
        }
    }

    /// The other spelling docs/design/interface.md accepts (`insert`, `update`, `delete`).
    pub const fn alias(self) -> &'static str {
        match self {
            ActionKind::Add => "insert",
            ActionKind::Update => "update",
            ActionKind::Remove => "delete",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ActionKind {
    type Err = String;

    /// `add`/`insert`, `update`, `remove`/`delete`, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ActionKind::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s) || a.alias().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown action `{s}`: expected add, update or remove (or insert, delete)"))
    }
}

/// An HTTP method of an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `POST` (the default).
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `GET`.
    Get,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// Every method an action may use.
    pub const ALL: [Method; 5] = [Method::Post, Method::Put, Method::Patch, Method::Get, Method::Delete];

    /// The method as sent on the wire, in upper case.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Get => "GET",
            Method::Delete => "DELETE",
        }
    }

    /// Exactly as written in HTTP (upper case): methods are case-sensitive.
    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A checked config: the destination and its syncs.
#[derive(Clone, Debug)]
pub struct Config {
    /// `[destination]`: where and how requests go.
    pub destination: Destination,
    /// In file order.
    pub syncs: Vec<Sync>,
    /// The config file's folder: relative paths (SQLite files, template files) start here.
    pub base_dir: PathBuf,
    /// Every secret of the config, to mask wherever text might echo one (response bodies,
    /// error messages).
    pub redactor: Redactor,
    /// `[[alerts]]`, in file order.
    pub alerts: Vec<Alert>,
}

/// `[[alerts]]`: a webhook told when a run ends with one of `on`.
#[derive(Clone, Debug)]
pub struct Alert {
    /// The webhook's URL: always a secret.
    pub url: Text,
    /// The run statuses that send it (`failed`, `stopped`, `partial` by default), as the runs
    /// table spells them.
    pub on: Vec<String>,
    /// What the POST carries.
    pub format: AlertFormat,
}

/// What an alert's POST carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AlertFormat {
    /// `{"text": one line, ...the run summary}`: a Slack incoming webhook shows the text.
    #[default]
    Slack,
    /// The run summary alone, as `sync --format json` prints it.
    Json,
}

impl Config {
    /// The sync named `name`, if the config has one.
    pub fn sync(&self, name: &str) -> Option<&Sync> {
        self.syncs.iter().find(|s| s.name == name)
    }
}

/// `[destination]`
#[derive(Clone, Debug)]
pub struct Destination {
    /// The destination's display name.
    pub name: Text,
    /// http or https, without a trailing `/`.
    pub base_url: Text,
    /// Custom headers in file order; names are RFC 7230 tokens, unique case-insensitively.
    pub headers: Vec<HeaderSetting>,
    /// How requests authenticate (`[destination.auth]`; none by default).
    pub auth: Auth,
    /// Per-request timeout (default 30s).
    pub timeout: Duration,
    /// At most this many requests in flight at once (default 4).
    pub max_concurrency: u32,
    /// Requests per second.
    pub rate_limit: Option<f64>,
    /// Cap on a request body, in bytes: records are packed into requests under it (default:
    /// none).
    pub max_request_bytes: Option<u64>,
    /// Indexed by [`ActionKind`]: add, update, remove.
    pub actions: [Action; 3],
    /// Settings of the fields that have a `[destination.fields.X]` table, in file order.
    pub fields: Vec<(String, FieldSettings)>,
    /// `[destination.retry]`, defaults filled in.
    pub retry: RetrySettings,
    /// `[destination.health]`, when given.
    pub health: Option<Health>,
}

/// `[destination.health]`: the request `check --connect` sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// Upper case, one of [`super::health::METHODS`].
    pub method: String,
    /// Starts with `/`; no placeholder.
    pub path: Text,
}

impl Destination {
    /// The action of `kind`.
    pub fn action(&self, kind: ActionKind) -> &Action {
        &self.actions[kind.index()]
    }

    /// A field's settings (the defaults when it has no table).
    pub fn field(&self, name: &str) -> FieldSettings {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, s)| *s).unwrap_or_default()
    }
}

/// A custom header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderSetting {
    /// The header name as written (an RFC 7230 token).
    pub name: String,
    /// Secret when marked `secret = true` or taken from the environment.
    pub value: Text,
}

/// How requests authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// No authentication header (the default).
    None,
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// The user name.
        username: Text,
        /// The password.
        password: Text,
    },
    /// `HEADER: KEY`.
    ApiKey {
        /// The header that carries the key.
        header: String,
        /// The key, sent as the header's value.
        key: Text,
    },
    /// `Authorization: Bearer TOKEN`.
    Bearer {
        /// The bearer token.
        token: Text,
    },
    /// `Authorization: Bearer TOKEN`, the token obtained with OAuth 2.0 client credentials.
    OAuth2(OAuth2),
}

/// `type = "oauth2"`: OAuth 2.0 client credentials (RFC 6749 §4.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuth2 {
    /// http or https; http only for a loopback host.
    pub token_url: Text,
    /// The client's id at the token endpoint.
    pub client_id: Text,
    /// Always a secret.
    pub client_secret: Text,
    /// The `scope` form parameter, when given.
    pub scope: Option<Text>,
    /// Whether the client's credentials go in a Basic header or in the form.
    pub client_auth: ClientAuth,
    /// Extra form parameters, in file order.
    pub params: Vec<(String, Text)>,
}

/// How an OAuth2 client authenticates to the token endpoint: HTTP's own type, which the
/// config reads.
pub use crate::http::ClientAuth;

/// One action's request. With `use_add`, the update action is a copy of add with
/// [`Action::uses_add`] set, sent in batches of their own with add's request.
#[derive(Clone, Debug)]
pub struct Action {
    /// Which of the three actions this is.
    pub kind: ActionKind,
    /// The HTTP method (default `POST`).
    pub method: Method,
    /// Starts with `/`; its placeholders are valid.
    pub path: Text,
    /// At most this many records per request, 1..=5000 (default 5000).
    pub batch_size: usize,
    /// The compiled body template.
    pub template: Template,
    /// Where the template came from: `None` inline, or the template file (resolved against
    /// the config's folder; secret when the path came from the environment).
    pub template_file: Option<Text>,
    /// The update action reuses add's settings (`use_add = true`).
    pub uses_add: bool,
    /// Which records a 2xx answer refuses (`[destination.actions.NAME.response]`).
    pub response: Option<ResponseRule>,
}

impl Action {
    /// The template's field names, in slot order.
    pub fn field_names(&self) -> Vec<&str> {
        self.template.fields().iter().map(|f| f.name.as_str()).collect()
    }
}

/// `[destination.actions.NAME.response]`, checked: the type delivery reads bodies with.
pub use crate::http::response::ResponseRule;

/// `[destination.retry]`: the one type, with its defaults, that delivery also takes.
pub use crate::http::retry::RetrySettings;

/// `[syncs.NAME]`
#[derive(Clone, Debug)]
pub struct Sync {
    /// Matches `[a-z0-9_]{1,40}`.
    pub name: String,
    /// `$$.connection.audienceName` of its requests.
    pub audience_name: Text,
    /// `$$.connection.audienceId` of its requests.
    pub audience_id: Text,
    /// The warehouse it reads.
    pub source: WarehouseSource,
    /// The model: a query or a table.
    pub model: Model,
    /// The model's column that identifies a record.
    pub primary_key: Text,
    /// Whether PII fields are hashed before they are sent (default true).
    pub hash_pii: bool,
    /// Template field -> warehouse column, in file order; only non-static fields.
    pub map: Vec<(String, Text)>,
    /// Static template field -> literal, in file order; only static fields.
    pub statics: Vec<StaticSetting>,
    /// When the sync runs on its own (default `manual`: only on demand).
    pub schedule: Schedule,
    /// Whether sync-log rows are written (default true).
    pub retain_logs: bool,
    /// Sync-log rows older than this many days (× 24 hours, back from a run's start) are
    /// deleted (default 7).
    pub log_retention_days: u32,
    /// How many run snapshots are kept, at least 1 (default 3).
    pub snapshot_retention: u32,
    /// Whether failed records are sent again by the next run (default true); without it the
    /// baseline moves past them as if they had been accepted.
    pub retry_failed: bool,
    /// A run whose deletes would exceed this share (0..=1) of the baseline's members stops
    /// before sending (default 0.5).
    pub max_removal_share: f64,
    /// The lock's lease (docs/design/sync.md, step 1): [`LOCK_TIMEOUT_MIN`] to [`LOCK_TIMEOUT_MAX`].
    pub lock_timeout: std::time::Duration,
}

/// `lock_timeout`'s bounds and default (docs/design/sync.md, step 1).
pub const LOCK_TIMEOUT_MIN: std::time::Duration = std::time::Duration::from_secs(1);
/// See [`LOCK_TIMEOUT_MIN`].
pub const LOCK_TIMEOUT_MAX: std::time::Duration = std::time::Duration::from_secs(3600);
/// See [`LOCK_TIMEOUT_MIN`].
pub const LOCK_TIMEOUT_DEFAULT: std::time::Duration = std::time::Duration::from_secs(600);

impl Sync {
    /// The `$$.connection` of this sync's requests.
    pub fn connection(&self) -> crate::template::Connection {
        crate::template::Connection {
            audience_id: self.audience_id.as_str().to_owned(),
            audience_name: self.audience_name.as_str().to_owned(),
        }
    }

    /// The column a field is mapped to.
    pub fn column(&self, field: &str) -> Option<&Text> {
        self.map.iter().find(|(f, _)| f == field).map(|(_, c)| c)
    }

    /// The static setting of `field`, if it is a static field.
    pub fn static_value(&self, field: &str) -> Option<&StaticSetting> {
        self.statics.iter().find(|s| s.field == field)
    }
}

/// A static field's literal.
#[derive(Clone, PartialEq)]
pub struct StaticSetting {
    /// The template field's name.
    pub field: String,
    /// The literal value every record gets.
    pub value: OwnedValue,
    /// Taken from the environment.
    pub secret: bool,
}

impl fmt::Debug for StaticSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("StaticSetting");
        s.field("field", &self.field);
        if self.secret {
            s.field("value", &super::secret::MASK)
        } else {
            s.field("value", &self.value)
        };
        s.finish()
    }
}

/// Where a sync reads its model.
#[derive(Clone, PartialEq, Eq)]
pub enum WarehouseSource {
    /// `sqlite://PATH`, resolved against the config's folder; `secret` when it came from the
    /// environment (its `Debug` then hides the path).
    Sqlite {
        /// The database file, resolved.
        path: PathBuf,
        /// The path came from the environment.
        secret: bool,
    },
    /// `postgres://...`: `url` is the whole URL (secret when it holds a password or came from
    /// the environment); `shown` is the URL with the password masked, for messages.
    Postgres {
        /// The whole connection URL.
        url: Text,
        /// The URL with its password masked.
        shown: String,
    },
    /// `snowflake://...`: `url` is the whole URL (secret when it holds a password or a key's
    /// passphrase, or came from the environment); `shown` has them masked.
    Snowflake {
        /// The whole source URL.
        url: Text,
        /// The URL with its secrets masked.
        shown: String,
    },
}

impl fmt::Debug for WarehouseSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarehouseSource::Sqlite { path, secret: false } => f.debug_struct("Sqlite").field("path", path).finish(),
            WarehouseSource::Sqlite { secret: true, .. } => {
                f.debug_struct("Sqlite").field("path", &super::secret::MASK).finish()
            }
            WarehouseSource::Postgres { shown, .. } => f.debug_struct("Postgres").field("url", shown).finish(),
            WarehouseSource::Snowflake { shown, .. } => f.debug_struct("Snowflake").field("url", shown).finish(),
        }
    }
}

/// The sync's model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Model {
    /// `query = "SELECT ..."`
    Query(Text),
    /// `table = "users"`
    Table(Text),
}
