//! The destination config: one TOML file describing the audience API (base URL, auth, headers,
//! the add/update/remove requests and their templates, field settings, retries) and the syncs
//! that feed it. Read, checked with every problem reported at once, typed, and turned into the
//! requests the delivery layer sends.
//!
//! ```text
//!  file ──load──▶ TOML table ──env──▶ `${NAME}` expanded ──serde──▶ config::ConfigFile
//!   (syntax, add/insert conflicts)     (secrets noted)      (unknown keys, wrong types)
//!                                                                      │
//!           report::Report ◀── validate (every check; templates ◀──────┘
//!     (problems, fields, Config)         compiled by crate::template)
//!                  │
//!                  ▼
//!   request::PreparedAction (method, URL, headers, Template, FieldPlan, batch size)
//!        ├──▶ preview: sample records through the real pipeline, nothing sent
//!        └──▶ the delivery layer
//! ```
//!
//! * [`config`]: the serde model of the file (and of its JSON Schema, [`schema`]).
//! * [`load`]: parsing, aliases, [`env`](mod@env) expansion, unknown keys and wrong types with key paths.
//! * [`validate`], `syncs` and [`alerts`]: every other check, sharing the state in `checker`;
//!   [`model`]: the checked, typed [`Config`].
//! * [`url`] and [`headers`]: the URL and header rules as pure functions; [`request`]:
//!   [`PreparedAction`].
//! * [`preview`] and [`samples`]: `audience preview`.
//! * [`codes`]: the stable `C` codes; [`problem`]: a problem; [`report`]: rendering.
//! * [`secret`]: [`Text`] (a string that knows whether it is a secret) and [`Redactor`].
//!
//! Secrets (auth values, headers marked secret, every value from the environment, the password
//! of a `postgres://` URL) are [`Text`]s whose `Debug` prints `***`; anything shown to people
//! goes through the config's [`Redactor`] as well.

pub mod alerts;
mod checker;
pub mod codes;
pub mod config;
pub mod defaults;
pub mod env;
pub mod headers;
pub mod health;
pub mod keypath;
pub mod load;
pub mod model;
mod oauth;
pub mod positions;
pub mod preview;
pub mod problem;
pub mod report;
pub mod request;
mod response;
pub mod samples;
pub mod schedule;
pub mod schema;
pub mod secret;
pub mod source;
pub mod spans;
mod syncs;
pub mod url;
pub mod validate;

use std::path::Path;

pub use codes::ConfigCode;
pub use load::EnvMode;
pub use model::{
    Action, ActionKind, Alert, AlertFormat, Auth, ClientAuth, Config, Destination, HeaderSetting, Health, Method,
    Model, OAuth2, RetrySettings, StaticSetting, Sync, WarehouseSource,
};
pub use preview::{Preview, PreviewError, PreviewOptions, Rejected, ResponseReading};
pub use problem::{Problem, ProblemCode};
pub use report::Report;
pub use request::{PrepareError, PreparedAction};
pub use schedule::{Schedule, TimeOfDay};
pub use secret::{MASK, Redactor, Text};
pub use validate::Validated;

/// Checks the config file at `path` with the process environment.
pub fn check_file(path: &Path, mode: EnvMode) -> Report {
    let name = path.display().to_string();
    let base_dir = path.parent().unwrap_or(Path::new("."));
    match std::fs::read_to_string(path) {
        Ok(text) => check_text(&text, &name, base_dir, &|var| std::env::var(var).ok(), mode),
        Err(e) => {
            let problem =
                Problem { key: None, ..Problem::error(ConfigCode::Unreadable, "", format!("cannot read {name}: {e}")) };
            Report { name, text: String::new(), checked: Validated::unchecked(problem), spans: Default::default() }
        }
    }
}

/// Checks config `text`; `name` names it in reports, `base_dir` is where relative paths
/// start, `lookup` reads environment variables.
pub fn check_text(
    text: &str,
    name: &str,
    base_dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    mode: EnvMode,
) -> Report {
    let checked = match load::parse(text, lookup, mode) {
        Ok(parsed) => validate::validate(parsed, base_dir),
        Err(problem) => Validated::unchecked(*problem),
    };
    let report = Report { name: name.to_owned(), text: text.to_owned(), checked, spans: Default::default() };
    report.finish()
}

/// Loads the config at `path` for use (an unset environment variable is an error): the config,
/// or the report of its problems.
pub fn load_config(path: &Path) -> Result<Config, Box<Report>> {
    let mut report = check_file(path, EnvMode::Error);
    match report.checked.config.take() {
        Some(config) => Ok(config),
        None => Err(Box::new(report)),
    }
}
