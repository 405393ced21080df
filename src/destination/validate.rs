//! Every check of `audience check` that needs neither the network nor the warehouse, over the
//! read config ([`super::load::Parsed`]): all problems at once, each with its key path (or
//! action and template position), and the typed [`Config`] when there is no error.
//!
//! Each check returns a value even when it reports a problem (a default or a placeholder), so
//! that later checks still run; the config is assembled only when no error was found. Checks of
//! what a value says are skipped for values that used an unset environment variable: the
//! value is not known (and the unset variable is itself reported).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::fields::{FieldSettings, HashAlgorithm, Normalization};
use crate::template::{self, Template};

use super::alerts;
use super::checker::{Ctx, field_list};
use super::codes::ConfigCode;
use super::config::{ActionTable, AuthTable, DestinationTable, FieldTable, RetryTable, StringOr};
use super::defaults;
use super::headers;
use super::health;
use super::keypath;
use super::load::Parsed;
use super::model::{Action, ActionKind, Auth, Config, Destination, HeaderSetting, Method, RetrySettings};
use super::oauth;
use super::problem::Problem;
use super::response;
use super::secret::{Redactor, Text};
use super::syncs;
use super::url;

/// A template's text, with the names reports give it.
#[derive(Clone, Debug)]
pub struct TemplateSource {
    /// The config key of the template (`destination.actions.add.template`).
    pub key: String,
    /// The template file as given (relative to the config), or `None` for an inline template.
    pub file: Option<PathBuf>,
    /// The template text.
    pub text: String,
}

/// What the checks found.
#[derive(Debug)]
pub struct Validated {
    /// Every problem the checks found, in the order found.
    pub problems: Vec<Problem>,
    /// Each action's template text, indexed by [`ActionKind`] (`None` for update with
    /// `use_add`, or when there is no template).
    pub templates: [Option<TemplateSource>; 3],
    /// Each action's template fields (update's are add's with `use_add`).
    pub fields: [Vec<String>; 3],
    /// The config, when there is no error.
    pub config: Option<Config>,
    /// Every secret found, to mask in anything shown.
    pub redactor: Redactor,
    /// Key paths whose value is written in the file as a secret.
    pub secret_keys: Vec<String>,
}

impl Validated {
    /// What is known of a config that could not be checked (unreadable, or not TOML): the
    /// problem that stopped it, and nothing else.
    pub fn unchecked(problem: Problem) -> Validated {
        Validated {
            problems: vec![problem],
            templates: Default::default(),
            fields: Default::default(),
            config: None,
            redactor: Redactor::default(),
            secret_keys: Vec::new(),
        }
    }
}

/// Runs every check. `config_name` is the config file as given, for messages.
pub fn validate(parsed: Parsed, base_dir: &Path) -> Validated {
    let Parsed { file, expansion, action_keys, problems, dropped } = parsed;
    let mut ctx = Ctx::new(problems, &expansion, &dropped, base_dir);
    let mut templates: [Option<TemplateSource>; 3] = Default::default();
    let mut fields: [Vec<String>; 3] = Default::default();

    let settings = file.destination.as_ref().map(|d| field_settings(&mut ctx, d)).unwrap_or_default();
    let destination = match &file.destination {
        Some(d) => destination(&mut ctx, d, settings.clone(), &action_keys, &mut templates, &mut fields),
        None => {
            ctx.error_hint(ConfigCode::MissingKey, "destination", "`[destination]` is required", "see docs/config.md");
            None
        }
    };
    // Without every template, the field lists are incomplete: nothing is called unused then.
    let complete = destination.is_some();
    let field_context = syncs::FieldContext { fields: &fields, settings: &settings, complete };
    let syncs = syncs::check_syncs(&mut ctx, &file.syncs, &field_context);
    if let Some(destination) = &destination {
        syncs::dot_segments(&mut ctx, destination, &syncs);
    }
    if complete {
        unused_field_settings(&mut ctx, &settings, &fields);
    }

    let alerts = alerts::alerts(&mut ctx, &file.alerts);
    let redactor = Redactor::new(ctx.secrets.iter().map(String::as_str));
    let has_errors = ctx.problems.iter().any(Problem::is_error);
    let config = match (destination, has_errors) {
        (Some(destination), false) => {
            Some(Config { destination, syncs, base_dir: base_dir.to_path_buf(), redactor: redactor.clone(), alerts })
        }
        _ => None,
    };
    Validated { problems: ctx.problems, templates, fields, config, redactor, secret_keys: ctx.secret_keys }
}

/// `[destination]`; `None` when an action is missing or its template does not compile (the
/// other problems are in `ctx`).
fn destination(
    ctx: &mut Ctx<'_>,
    d: &DestinationTable,
    field_settings: Vec<(String, FieldSettings)>,
    action_keys: &[&'static str; 3],
    templates: &mut [Option<TemplateSource>; 3],
    fields: &mut [Vec<String>; 3],
) -> Option<Destination> {
    let base = "destination";
    let name = ctx.required(base, "name", d.name.as_ref(), false);
    let base_url = base_url(ctx, d.base_url.as_ref());
    let headers = custom_headers(ctx, d);
    let auth = auth(ctx, d.auth.as_ref());
    // The Authorization value as sent: its parts (Basic's base64 and decoded `user:password`)
    // are secrets too, in whatever form a response echoes them.
    if let Some(header) = headers::auth_header(&auth) {
        ctx.secrets.push(header.value.as_str().to_owned());
    }
    let timeout = ctx.duration("destination.timeout", d.timeout.as_ref(), defaults::TIMEOUT, Duration::from_secs(3600));
    let max_concurrency =
        ctx.int("destination.max_concurrency", d.max_concurrency, 1..=256, defaults::MAX_CONCURRENCY) as u32;
    let rate_limit = match d.rate_limit {
        Some(r) if !(r.is_finite() && r > 0.0 && r <= 1e6) => {
            ctx.error(
                ConfigCode::OutOfRange,
                "destination.rate_limit",
                "expected a number of requests per second above 0",
            );
            None
        }
        r => r,
    };
    let max_request_bytes = d
        .max_request_bytes
        .map(|_| ctx.int("destination.max_request_bytes", d.max_request_bytes, 1024..=1 << 30, 1 << 30) as u64);
    let retry = retry(ctx, d.retry.as_ref());
    let health = health::health(ctx, d.health.as_ref());

    let actions = match &d.actions {
        Some(a) => {
            let add = own_action(ctx, ActionKind::Add, action_keys, a.add.as_ref(), templates, fields);
            let update = update_action(ctx, action_keys, a.update.as_ref(), add.as_ref(), templates, fields);
            let remove = own_action(ctx, ActionKind::Remove, action_keys, a.remove.as_ref(), templates, fields);
            match (add, update, remove) {
                (Some(add), Some(update), Some(remove)) => Some([add, update, remove]),
                _ => None,
            }
        }
        None => {
            ctx.error_hint(
                ConfigCode::MissingKey,
                "destination.actions",
                "`[destination.actions]` is required",
                "give [destination.actions.add], [destination.actions.update] and [destination.actions.remove]",
            );
            None
        }
    };
    Some(Destination {
        name,
        base_url,
        headers,
        auth,
        timeout,
        max_concurrency,
        rate_limit,
        max_request_bytes,
        actions: actions?,
        fields: field_settings,
        retry,
        health,
    })
}

fn base_url(ctx: &mut Ctx<'_>, value: Option<&String>) -> Text {
    let key = "destination.base_url";
    let text = ctx.required("destination", "base_url", value, false);
    if value.is_none() || !ctx.known(key) || text.is_empty() {
        return text;
    }
    match url::normalize_base_url(text.as_str()) {
        Ok(normalized) => {
            // The normalised form is what requests use; it is as secret as what was written.
            Text::new(normalized, text.is_secret())
        }
        Err(problem) => {
            if problem == url::BaseUrlProblem::UserInfo {
                // Credentials in the URL are secrets all the same: keep them out of reports.
                ctx.secret_keys.push(key.to_owned());
                let authority = text.as_str().split_once("://").map_or("", |(_, rest)| rest);
                let userinfo = authority.split(['/', '?', '#']).next().and_then(|a| a.rsplit_once('@'));
                if let Some((userinfo, _)) = userinfo {
                    ctx.secrets.push(userinfo.to_owned());
                }
            }
            let p = Problem::error(ConfigCode::BaseUrl, key, problem.message());
            ctx.push(match problem.hint() {
                Some(h) => p.with_hint(h),
                None => p,
            });
            text
        }
    }
}

fn custom_headers(ctx: &mut Ctx<'_>, d: &DestinationTable) -> Vec<HeaderSetting> {
    let mut out: Vec<HeaderSetting> = Vec::new();
    for (name, value) in d.headers.iter() {
        let key = keypath::join("destination.headers", name);
        if !headers::is_token(name) {
            ctx.error_hint(
                ConfigCode::HeaderName,
                &key,
                "the header name is not an RFC 7230 token",
                "header names are letters, digits and !#$%&'*+-.^_`|~, without spaces or colons",
            );
        } else if headers::is_forbidden(name) {
            ctx.error_hint(
                ConfigCode::ForbiddenHeader,
                &key,
                format!("custom headers may not set {name}"),
                "Host, Content-Length, Transfer-Encoding and Connection are set by the HTTP client, Idempotency-Key by audience",
            );
        } else if let Some(first) = out.iter().find(|h| h.name.eq_ignore_ascii_case(name)) {
            ctx.error(
                ConfigCode::DuplicateHeader,
                &key,
                format!("header {name} is given twice (as {} too); header names are case-insensitive", first.name),
            );
        }
        let (value_key, value, secret) = match value {
            StringOr::String(v) => (key.clone(), Some(v), false),
            StringOr::Table(t) => {
                let value_key = keypath::join(&key, "value");
                if t.value.is_none() {
                    ctx.error(ConfigCode::MissingKey, &value_key, "`value` is required");
                }
                (value_key, t.value.as_ref(), t.secret.unwrap_or(false))
            }
        };
        let value = value.map(String::as_str).unwrap_or_default();
        if ctx.known(&value_key)
            && let Some(message) = headers::value_problem(value)
        {
            ctx.error(ConfigCode::HeaderValue, &value_key, message);
        }
        let value = ctx.text(&value_key, value, secret);
        out.push(HeaderSetting { name: name.to_owned(), value });
    }
    out
}

fn auth(ctx: &mut Ctx<'_>, table: Option<&AuthTable>) -> Auth {
    let Some(t) = table else { return Auth::None };
    let base = "destination.auth";
    let kind = t.kind.as_deref().unwrap_or("none");
    let given: [(&str, Option<&String>); 10] = [
        ("token", t.token.as_ref()),
        ("username", t.username.as_ref()),
        ("password", t.password.as_ref()),
        ("header", t.header.as_ref()),
        ("key", t.key.as_ref()),
        ("token_url", t.token_url.as_ref()),
        ("client_id", t.client_id.as_ref()),
        ("client_secret", t.client_secret.as_ref()),
        ("scope", t.scope.as_ref()),
        ("client_auth", t.client_auth.as_ref()),
    ];
    let needed: &[&str] = match kind {
        "none" => &[],
        "bearer" => &["token"],
        "basic" => &["username", "password"],
        "api_key" => &["header", "key"],
        "oauth2" => &["token_url", "client_id", "client_secret", "scope", "client_auth"],
        _ => {
            ctx.error_hint(
                ConfigCode::UnknownName,
                &keypath::join(base, "type"),
                format!("unknown auth type `{kind}`"),
                "expected none, basic, api_key, bearer or oauth2",
            );
            // Keys are still read as secrets, so that they are masked.
            for (name, value) in given {
                if let Some(v) = value {
                    ctx.text(&keypath::join(base, name), v, true);
                }
            }
            oauth::params_not_used(ctx, t, kind);
            return Auth::None;
        }
    };
    for (name, value) in given {
        if let Some(v) = value
            && !needed.contains(&name)
        {
            if matches!(name, "token" | "password" | "key" | "client_secret") {
                // A credential in the wrong place is still a credential.
                ctx.text(&keypath::join(base, name), v, true);
            }
            let owner = match name {
                "token" => "bearer",
                "username" | "password" => "basic",
                "header" | "key" => "api_key",
                _ => "oauth2",
            };
            ctx.error_hint(
                ConfigCode::AuthKeyNotUsed,
                &keypath::join(base, name),
                format!("`{name}` is not used by auth type {kind}"),
                format!("`{name}` belongs to type = \"{owner}\""),
            );
        }
    }
    if kind == "oauth2" {
        return oauth::oauth2(ctx, t);
    }
    oauth::params_not_used(ctx, t, kind);
    // Every credential is a secret; the user name and the key's header name are not.
    let credential = |ctx: &mut Ctx<'_>, name: &str, value: Option<&String>, may_be_empty: bool, secret: bool| {
        let key = keypath::join(base, name);
        match value {
            None => {
                ctx.error(ConfigCode::AuthIncomplete, &key, format!("auth type {kind} needs `{name}`"));
                Text::default()
            }
            Some(v) => {
                if v.is_empty() && !may_be_empty && ctx.known(&key) {
                    ctx.error(ConfigCode::AuthIncomplete, &key, format!("`{name}` is empty"));
                } else if ctx.known(&key)
                    && let Some(message) = headers::value_problem(v)
                {
                    ctx.error(ConfigCode::HeaderValue, &key, message);
                }
                ctx.text(&key, v, secret)
            }
        }
    };
    match kind {
        "bearer" => Auth::Bearer { token: credential(ctx, "token", t.token.as_ref(), false, true) },
        "basic" => {
            let username = credential(ctx, "username", t.username.as_ref(), false, false);
            if username.as_str().contains(':') {
                ctx.error(
                    ConfigCode::AuthIncomplete,
                    "destination.auth.username",
                    "a Basic user name cannot contain `:`",
                );
            }
            // An empty password is allowed: some APIs take the key as the user name.
            let password = credential(ctx, "password", t.password.as_ref(), true, true);
            Auth::Basic { username, password }
        }
        "api_key" => {
            let header = credential(ctx, "header", t.header.as_ref(), false, false);
            let key = keypath::join(base, "header");
            if !header.is_empty() && ctx.known(&key) {
                if !headers::is_token(header.as_str()) {
                    ctx.error(ConfigCode::HeaderName, &key, "the header name is not an RFC 7230 token");
                } else if headers::is_forbidden(header.as_str()) {
                    ctx.error(
                        ConfigCode::ForbiddenHeader,
                        &key,
                        format!("the API key cannot be sent as {}", header.as_str()),
                    );
                }
            }
            let value = credential(ctx, "key", t.key.as_ref(), false, true);
            Auth::ApiKey { header: header.as_str().to_owned(), key: value }
        }
        _ => Auth::None,
    }
}

fn field_settings(ctx: &mut Ctx<'_>, d: &DestinationTable) -> Vec<(String, FieldSettings)> {
    d.fields.iter().map(|(name, table)| (name.to_owned(), field(ctx, name, table))).collect()
}

fn field(ctx: &mut Ctx<'_>, name: &str, t: &FieldTable) -> FieldSettings {
    let base = keypath::join("destination.fields", name);
    let hash = match t.hash.as_deref().map(str::parse::<HashAlgorithm>) {
        None => HashAlgorithm::None,
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            ctx.error(ConfigCode::UnknownHash, &keypath::join(&base, "hash"), e.to_string());
            HashAlgorithm::None
        }
    };
    let normalize = match t.normalize.as_deref().map(str::parse::<Normalization>) {
        None => Normalization::None,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            ctx.error(ConfigCode::UnknownNormalization, &keypath::join(&base, "normalize"), e.to_string());
            Normalization::None
        }
    };
    FieldSettings { required: t.required.unwrap_or(false), is_static: t.is_static.unwrap_or(false), hash, normalize }
}

fn retry(ctx: &mut Ctx<'_>, table: Option<&RetryTable>) -> RetrySettings {
    let d = RetrySettings::default();
    let Some(t) = table else { return d };
    let hour = Duration::from_secs(3600);
    let settings = RetrySettings {
        max_attempts: ctx.int("destination.retry.max_attempts", t.max_attempts, 1..=100, d.max_attempts.into()) as u32,
        initial_backoff: ctx.duration(
            "destination.retry.initial_backoff",
            t.initial_backoff.as_ref(),
            d.initial_backoff,
            hour,
        ),
        max_backoff: ctx.duration("destination.retry.max_backoff", t.max_backoff.as_ref(), d.max_backoff, hour),
        max_elapsed: ctx.duration("destination.retry.max_elapsed", t.max_elapsed.as_ref(), d.max_elapsed, 24 * hour),
    };
    if settings.max_backoff < settings.initial_backoff {
        ctx.error(
            ConfigCode::OutOfRange,
            "destination.retry.max_backoff",
            "max_backoff is shorter than initial_backoff",
        );
    }
    settings
}

/// The key path of an action, as the user wrote it.
fn action_base(kind: ActionKind, action_keys: &[&'static str; 3]) -> String {
    format!("destination.actions.{}", action_keys[kind.index()])
}

/// An action with its own settings (add, remove, or update without `use_add`).
fn own_action(
    ctx: &mut Ctx<'_>,
    kind: ActionKind,
    action_keys: &[&'static str; 3],
    table: Option<&ActionTable>,
    templates: &mut [Option<TemplateSource>; 3],
    fields: &mut [Vec<String>; 3],
) -> Option<Action> {
    let base = action_base(kind, action_keys);
    let Some(t) = table else {
        ctx.error_hint(ConfigCode::MissingKey, &base, format!("[{base}] is required"), action_hint(kind));
        return None;
    };
    if t.use_add.is_some() && kind != ActionKind::Update {
        ctx.error_hint(
            ConfigCode::UnknownKey,
            &keypath::join(&base, "use_add"),
            "`use_add` is accepted only in [destination.actions.update]",
            "give this action its own method, path and template",
        );
    }
    let method = match t.method.as_deref() {
        None => defaults::METHOD,
        Some(m) => Method::parse(m).unwrap_or_else(|| {
            let hint = match Method::parse(&m.to_ascii_uppercase()) {
                Some(upper) => format!("write it in upper case: {upper}"),
                None => "expected POST, PUT, PATCH, GET or DELETE".to_owned(),
            };
            ctx.error_hint(
                ConfigCode::UnknownName,
                &keypath::join(&base, "method"),
                format!("unknown HTTP method `{m}`"),
                hint,
            );
            defaults::METHOD
        }),
    };
    let path = ctx.required(&base, "path", t.path.as_ref(), false);
    let path_key = keypath::join(&base, "path");
    if t.path.is_some() && ctx.known(&path_key) {
        for problem in url::check_path(path.as_str()) {
            let code = match problem {
                url::PathProblem::Placeholder(_) | url::PathProblem::Unclosed => ConfigCode::PathPlaceholder,
                _ => ConfigCode::Path,
            };
            let p = Problem::error(code, &path_key, problem.message());
            ctx.push(match problem.hint() {
                Some(h) => p.with_hint(h),
                None => p,
            });
        }
    }
    let batch_size =
        ctx.int(&keypath::join(&base, "batch_size"), t.batch_size, 1..=5000, defaults::BATCH_SIZE) as usize;
    let (source, file) = template_source(ctx, &base, t)?;
    let template_file = file.map(|path| {
        let secret = ctx.is_env(&keypath::join(&base, "template_file"));
        Text::new(path.display().to_string(), secret)
    });
    let template = compile(ctx, kind, &source, fields);
    let response = response::check_response(ctx, &base, t.response.as_ref(), &fields[kind.index()], Some(&source.text));
    templates[kind.index()] = Some(source);
    Some(Action { kind, method, path, batch_size, template: template?, template_file, uses_add: false, response })
}

fn action_hint(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::Update => "give it its own method, path and template, or `use_add = true`",
        _ => "give its method, path and template",
    }
}

/// The update action: its own settings, or add's with `use_add = true`.
fn update_action(
    ctx: &mut Ctx<'_>,
    action_keys: &[&'static str; 3],
    table: Option<&ActionTable>,
    add: Option<&Action>,
    templates: &mut [Option<TemplateSource>; 3],
    fields: &mut [Vec<String>; 3],
) -> Option<Action> {
    let base = action_base(ActionKind::Update, action_keys);
    match table {
        Some(t) if t.use_add == Some(true) => {
            let others = [
                ("method", t.method.is_some()),
                ("path", t.path.is_some()),
                ("batch_size", t.batch_size.is_some()),
                ("template", t.template.is_some()),
                ("template_file", t.template_file.is_some()),
                ("response", t.response.is_some()),
            ];
            for (name, given) in others {
                if given {
                    ctx.error_hint(
                        ConfigCode::Conflict,
                        &keypath::join(&base, name),
                        format!("`{name}` cannot be given beside `use_add = true`"),
                        "use_add reuses add's method, path, batch size, template and response: remove the other keys, or use_add",
                    );
                }
            }
            fields[ActionKind::Update.index()] = fields[ActionKind::Add.index()].clone();
            let add = add?;
            Some(Action { kind: ActionKind::Update, uses_add: true, ..add.clone() })
        }
        _ => own_action(ctx, ActionKind::Update, action_keys, table, templates, fields),
    }
}

/// The template text of an action: `template` xor `template_file`.
fn template_source(ctx: &mut Ctx<'_>, base: &str, t: &ActionTable) -> Option<(TemplateSource, Option<PathBuf>)> {
    match (&t.template, &t.template_file) {
        (Some(text), None) => {
            Some((TemplateSource { key: keypath::join(base, "template"), file: None, text: text.clone() }, None))
        }
        (None, Some(file)) => {
            let key = keypath::join(base, "template_file");
            if !ctx.known(&key) {
                return None;
            }
            let path = ctx.base_dir.join(file);
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    // Reports name a template file by its path, unless the path is a secret.
                    let shown = (!ctx.is_env(&key)).then(|| PathBuf::from(file));
                    Some((TemplateSource { key, file: shown, text }, Some(path)))
                }
                Err(e) => {
                    ctx.error(ConfigCode::TemplateFile, &key, format!("cannot read the template file {file}: {e}"));
                    None
                }
            }
        }
        (Some(_), Some(_)) => {
            ctx.error_hint(
                ConfigCode::Conflict,
                &keypath::join(base, "template_file"),
                "`template` and `template_file` are both given",
                "keep one of them",
            );
            None
        }
        (None, None) => {
            ctx.error_hint(
                ConfigCode::MissingKey,
                &keypath::join(base, "template"),
                "the action has no request-body template",
                "give `template` (the JSONata text) or `template_file` (a file relative to this config)",
            );
            None
        }
    }
}

/// Checks and compiles a template, reporting its diagnostics with the action.
fn compile(
    ctx: &mut Ctx<'_>,
    kind: ActionKind,
    source: &TemplateSource,
    fields: &mut [Vec<String>; 3],
) -> Option<Template> {
    let checked = template::check_template(&source.text);
    fields[kind.index()] = checked.fields.iter().map(|f| f.name.clone()).collect();
    for d in &checked.diagnostics {
        ctx.push(Problem::template(kind, source.key.clone(), d.clone()));
    }
    if checked.has_errors() {
        return None;
    }
    // The check passed, so compiling cannot fail; if it somehow did, its errors are reported.
    match Template::compile(&source.text) {
        Ok(t) => Some(t),
        Err(diagnostics) => {
            for d in diagnostics.into_iter().filter(|d| d.is_error()) {
                ctx.push(Problem::template(kind, source.key.clone(), d));
            }
            None
        }
    }
}

/// Warns about `[destination.fields.X]` for a field no template uses: most likely a typo,
/// which would leave the real field with the defaults (unhashed).
fn unused_field_settings(ctx: &mut Ctx<'_>, settings: &[(String, FieldSettings)], fields: &[Vec<String>; 3]) {
    for (name, _) in settings {
        if !fields.iter().flatten().any(|f| f == name) {
            ctx.push(
                Problem::warning(
                    ConfigCode::UnusedFieldSettings,
                    keypath::join("destination.fields", name),
                    format!("no template uses a field named {name}"),
                )
                .with_hint(format!("the templates' fields are: {}", field_list(fields))),
            );
        }
    }
}
