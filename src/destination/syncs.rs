//! The checks of `[syncs.NAME]`: names, connection values, source, model, mapping and static
//! values against the templates' fields and their settings, schedules, retention, and syncs
//! that share an audience.

use crate::fields::{FieldPlan, FieldSettings, FieldSpec, OwnedValue, Source};

use super::checker::{Ctx, field_list};
use super::codes::ConfigCode;
use super::config::{OrderedMap, ScheduleTable, StringOr, SyncTable};
use super::defaults;
use super::keypath;
use super::model::{Destination, Model, StaticSetting, Sync, WarehouseSource};
use super::problem::Problem;
use super::schedule::{self, MAX_EVERY, MIN_EVERY, Schedule, TimeOfDay};
use super::secret::Text;
use super::source::parse_source;
use crate::percent::percent_decode;

/// What the sync checks need to know of the destination.
pub(crate) struct FieldContext<'a> {
    /// Each action's template fields.
    pub fields: &'a [Vec<String>; 3],
    /// `[destination.fields.X]`, in file order.
    pub settings: &'a [(String, FieldSettings)],
    /// Whether every template compiled, so that the field lists are complete (a mapping is
    /// called unused only then).
    pub complete: bool,
}

impl FieldContext<'_> {
    fn used(&self, field: &str) -> bool {
        self.fields.iter().flatten().any(|f| f == field)
    }

    fn settings(&self, field: &str) -> FieldSettings {
        self.settings.iter().find(|(n, _)| n == field).map(|(_, s)| *s).unwrap_or_default()
    }

    /// Every field some template uses, once, in order of first use.
    fn all(&self) -> Vec<&str> {
        let mut all: Vec<&str> = Vec::new();
        for f in self.fields.iter().flatten() {
            if !all.contains(&f.as_str()) {
                all.push(f);
            }
        }
        all
    }
}

/// Checks every sync, in file order.
pub(crate) fn check_syncs(ctx: &mut Ctx<'_>, syncs: &OrderedMap<SyncTable>, fields: &FieldContext<'_>) -> Vec<Sync> {
    if syncs.is_empty() {
        ctx.push(Problem::warning(ConfigCode::NoSyncs, "syncs", "the config has no sync").with_hint(
            "add a [syncs.NAME] table with audience_name, audience_id, source, query or table, and primary_key",
        ));
    }
    let checked: Vec<Sync> = syncs.iter().map(|(name, table)| check_sync(ctx, name, table, fields)).collect();
    shared_audiences(ctx, &checked);
    checked
}

fn valid_name(name: &str) -> bool {
    (1..=40).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check_sync(ctx: &mut Ctx<'_>, name: &str, t: &SyncTable, fields: &FieldContext<'_>) -> Sync {
    let base = keypath::join("syncs", name);
    if !valid_name(name) {
        ctx.error_hint(
            ConfigCode::SyncName,
            &base,
            "a sync name is 1 to 40 characters of a-z, 0-9 and _",
            "for example [syncs.high_value]",
        );
    }
    let audience_name = ctx.required(&base, "audience_name", t.audience_name.as_ref(), false);
    let audience_id = ctx.required(&base, "audience_id", t.audience_id.as_ref(), false);
    let source = source(ctx, &base, t.source.as_ref());
    let model = model(ctx, &base, t);
    let primary_key = ctx.required(&base, "primary_key", t.primary_key.as_ref(), false);
    identifier(ctx, &keypath::join(&base, "primary_key"), &primary_key);
    let hash_pii = t.hash_pii.unwrap_or(defaults::HASH_PII);
    let map = mapping(ctx, &base, t, fields);
    let statics = statics(ctx, &base, t, hash_pii, fields);
    required_fields(ctx, &base, &map, &statics, fields);
    let schedule = schedule(ctx, &keypath::join(&base, "schedule"), t.schedule.as_ref());
    let log_retention_days = ctx.int(
        &keypath::join(&base, "log_retention_days"),
        t.log_retention_days,
        1..=36500,
        defaults::LOG_RETENTION_DAYS,
    ) as u32;
    let snapshot_retention = ctx.int(
        &keypath::join(&base, "snapshot_retention"),
        t.snapshot_retention,
        1..=1000,
        defaults::SNAPSHOT_RETENTION,
    ) as u32;
    let max_removal_share = match t.max_removal_share {
        Some(s) if !(0.0..=1.0).contains(&s) => {
            ctx.error_hint(
                ConfigCode::OutOfRange,
                &keypath::join(&base, "max_removal_share"),
                "max_removal_share is a share of the audience: from 0 to 1",
                "0.5 stops a run that would remove more than half of the members",
            );
            0.5
        }
        Some(s) => s,
        None => 0.5,
    };
    let lock_timeout = {
        let key = keypath::join(&base, "lock_timeout");
        use super::model::{LOCK_TIMEOUT_DEFAULT, LOCK_TIMEOUT_MAX, LOCK_TIMEOUT_MIN};
        let lease = ctx.duration(&key, t.lock_timeout.as_ref(), LOCK_TIMEOUT_DEFAULT, LOCK_TIMEOUT_MAX);
        if lease < LOCK_TIMEOUT_MIN {
            ctx.error(ConfigCode::OutOfRange, &key, "lock_timeout is the lock's lease: from 1s to 1h");
            LOCK_TIMEOUT_DEFAULT
        } else {
            lease
        }
    };
    Sync {
        name: name.to_owned(),
        audience_name,
        audience_id,
        source,
        model,
        primary_key,
        hash_pii,
        map,
        statics,
        schedule,
        retain_logs: t.retain_logs.unwrap_or(defaults::RETAIN_LOGS),
        log_retention_days,
        snapshot_retention,
        retry_failed: t.retry_failed.unwrap_or(defaults::RETRY_FAILED),
        max_removal_share,
        lock_timeout,
    }
}

fn source(ctx: &mut Ctx<'_>, base: &str, value: Option<&String>) -> WarehouseSource {
    let key = keypath::join(base, "source");
    let placeholder = WarehouseSource::Sqlite { path: Default::default(), secret: false };
    let Some(text) = value else {
        ctx.error_hint(
            ConfigCode::MissingKey,
            &key,
            "`source` is required",
            "sqlite://PATH (relative to this file), postgres://USER:PASSWORD@HOST/DATABASE or \
             snowflake://USER@ACCOUNT/DATABASE/SCHEMA?warehouse=WH&private_key_file=PATH",
        );
        return placeholder;
    };
    let from_env = ctx.is_env(&key);
    if !ctx.known(&key) {
        if from_env && !text.is_empty() {
            ctx.secrets.push(text.clone());
        }
        return placeholder;
    }
    match parse_source(text, from_env, ctx.base_dir) {
        Ok(parsed) => {
            if let Some(password) = parsed.password.filter(|p| !p.is_empty()) {
                ctx.secret_keys.push(key.clone());
                ctx.secrets.push(percent_decode(&password));
                ctx.secrets.push(password);
            }
            if let Some(passphrase) = parsed.passphrase.filter(|p| !p.is_empty()) {
                ctx.secret_keys.push(key.clone());
                ctx.secrets.push(percent_decode(&passphrase));
                ctx.secrets.push(passphrase);
            }
            if let WarehouseSource::Postgres { url, .. } | WarehouseSource::Snowflake { url, .. } = &parsed.source
                && url.is_secret()
            {
                ctx.secrets.push(url.as_str().to_owned());
            }
            parsed.source
        }
        Err(message) => {
            // A source with user info may hold a password even when it is not a valid URL: mask
            // it whole.
            if text.contains('@') || text.to_ascii_lowercase().contains("password") {
                ctx.secrets.push(text.clone());
                ctx.secret_keys.push(key.clone());
            }
            ctx.error(ConfigCode::Source, &key, message);
            placeholder
        }
    }
}

fn model(ctx: &mut Ctx<'_>, base: &str, t: &SyncTable) -> Model {
    match (&t.query, &t.table) {
        (Some(_), Some(_)) => {
            ctx.error_hint(
                ConfigCode::Conflict,
                &keypath::join(base, "table"),
                "`query` and `table` are both given",
                "keep one: the model is a SQL query or a table",
            );
            Model::Table(Text::default())
        }
        (None, None) => {
            ctx.error_hint(
                ConfigCode::MissingKey,
                &keypath::join(base, "query"),
                "the sync has no model",
                "give `query` (SQL) or `table` (a table name)",
            );
            Model::Table(Text::default())
        }
        (Some(q), None) => Model::Query(ctx.required(base, "query", Some(q), false)),
        (None, Some(table)) => {
            let text = ctx.required(base, "table", Some(table), false);
            identifier(ctx, &keypath::join(base, "table"), &text);
            Model::Table(text)
        }
    }
}

/// A warehouse identifier (a table, a column): quoted by the warehouse layer, so any text
/// goes except control characters, which no sane identifier holds.
fn identifier(ctx: &mut Ctx<'_>, key: &str, text: &Text) {
    if ctx.known(key) && text.as_str().chars().any(char::is_control) {
        ctx.error(ConfigCode::Identifier, key, "the name contains a control character");
    }
}

fn mapping(ctx: &mut Ctx<'_>, base: &str, t: &SyncTable, fields: &FieldContext<'_>) -> Vec<(String, Text)> {
    let mut out = Vec::new();
    for (field, column) in t.map.iter() {
        let key = keypath::join(&keypath::join(base, "map"), field);
        let column = if column.is_empty() {
            ctx.error(ConfigCode::Empty, &key, "the column name is empty");
            Text::default()
        } else {
            let text = ctx.text(&key, column, false);
            identifier(ctx, &key, &text);
            text
        };
        if fields.complete && !fields.used(field) {
            ctx.push(unused(&key, field, "mapped", fields));
            continue;
        }
        if fields.settings(field).is_static {
            ctx.error_hint(
                ConfigCode::StaticMapped,
                &key,
                format!("field {field} is static: it takes a literal value, not a column"),
                format!("move it to `static`, as static = {{ {field} = \"...\" }}"),
            );
            continue;
        }
        out.push((field.to_owned(), column));
    }
    out
}

fn unused(key: &str, field: &str, how: &str, fields: &FieldContext<'_>) -> Problem {
    let list = field_list(fields.fields);
    Problem::warning(ConfigCode::UnusedMapping, key, format!("field {field} is {how} but no template uses it"))
        .with_hint(format!("the templates' fields are: {list}"))
}

fn statics(
    ctx: &mut Ctx<'_>,
    base: &str,
    t: &SyncTable,
    hash_pii: bool,
    fields: &FieldContext<'_>,
) -> Vec<StaticSetting> {
    let mut out = Vec::new();
    for (field, value) in t.statics.iter() {
        let key = keypath::join(&keypath::join(base, "static"), field);
        let secret = ctx.is_env(&key);
        let value = owned(&value.0);
        if secret && let OwnedValue::Text(s) = &value {
            ctx.text(&key, s, true);
        }
        if fields.complete && !fields.used(field) {
            ctx.push(unused(&key, field, "given a static value", fields));
            continue;
        }
        let settings = fields.settings(field);
        if !settings.is_static {
            ctx.error_hint(
                ConfigCode::StaticForNonStatic,
                &key,
                format!("field {field} is not static, so it cannot take a static value"),
                format!("set `static = true` in [destination.fields.{field}], or map it to a column under `map`"),
            );
            continue;
        }
        // The pipeline runs once on a static value: a value it rejects would fail every record.
        if ctx.known(&key) {
            let spec = FieldSpec::new(field, settings, Source::Static(value.clone()));
            if let Ok(plan) = FieldPlan::compile(std::slice::from_ref(&spec), hash_pii)
                && let Some(error) = plan.static_error()
            {
                ctx.error(ConfigCode::StaticValueRejected, &key, format!("every record would fail: {error}"));
            }
        }
        out.push(StaticSetting { field: field.to_owned(), value, secret });
    }
    out
}

/// A TOML value as a warehouse value: dates and times are RFC 3339 text, arrays and tables
/// JSON.
fn owned(value: &toml::Value) -> OwnedValue {
    match value {
        toml::Value::String(s) => OwnedValue::Text(s.clone()),
        toml::Value::Integer(i) => OwnedValue::Int(*i),
        toml::Value::Float(f) => OwnedValue::Float(*f),
        toml::Value::Boolean(b) => OwnedValue::Bool(*b),
        toml::Value::Datetime(d) => OwnedValue::Timestamp(d.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => OwnedValue::Json(to_json(value)),
    }
}

fn to_json(value: &toml::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        toml::Value::Table(t) => Value::Object(t.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// Every field a template uses must be fed: a static field by a static value, a required field
/// by a mapping.
fn required_fields(
    ctx: &mut Ctx<'_>,
    base: &str,
    map: &[(String, Text)],
    statics: &[StaticSetting],
    fields: &FieldContext<'_>,
) {
    for field in fields.all() {
        let settings = fields.settings(field);
        if settings.is_static {
            if !statics.iter().any(|s| s.field == field) {
                ctx.error_hint(
                    ConfigCode::StaticWithoutValue,
                    &keypath::join(base, "static"),
                    format!("field {field} is static but this sync gives it no value"),
                    format!("add static = {{ {field} = \"...\" }}"),
                );
            }
        } else if settings.required
            && !map.iter().any(|(f, _)| f == field)
            && !ctx.was_dropped(&keypath::join(&keypath::join(base, "map"), field))
        {
            ctx.error_hint(
                ConfigCode::RequiredUnmapped,
                &keypath::join(base, "map"),
                format!("field {field} is required but this sync does not map it"),
                format!("add map = {{ {field} = \"COLUMN\" }}"),
            );
        }
    }
}

fn schedule(ctx: &mut Ctx<'_>, key: &str, value: Option<&StringOr<ScheduleTable>>) -> Schedule {
    const FORMS: &str = "\"manual\", { every = \"6h\", starting_at = \"00:30\" } or { cron = \"0 */6 * * *\" }";
    match value {
        None => Schedule::Manual,
        Some(StringOr::String(s)) if s == "manual" || !ctx.known(key) => Schedule::Manual,
        Some(StringOr::String(s)) => {
            ctx.error_hint(
                ConfigCode::UnknownName,
                key,
                format!("unknown schedule `{s}`"),
                format!("a schedule is {FORMS}"),
            );
            Schedule::Manual
        }
        Some(StringOr::Table(t)) => match (&t.every, &t.cron) {
            (Some(_), Some(_)) => {
                ctx.error_hint(
                    ConfigCode::Conflict,
                    &keypath::join(key, "cron"),
                    "`every` and `cron` are both given",
                    "keep one",
                );
                Schedule::Manual
            }
            (None, None) => {
                ctx.error_hint(
                    ConfigCode::MissingKey,
                    key,
                    "a schedule table needs `every` or `cron`",
                    format!("a schedule is {FORMS}"),
                );
                Schedule::Manual
            }
            (Some(every), None) => every_schedule(ctx, key, every, t.starting_at.as_ref()),
            (None, Some(expression)) => {
                if t.starting_at.is_some() {
                    ctx.error_hint(
                        ConfigCode::Conflict,
                        &keypath::join(key, "starting_at"),
                        "`starting_at` goes with `every`, not with `cron`",
                        "give the time in the cron expression's minute and hour fields",
                    );
                }
                cron_schedule(ctx, &keypath::join(key, "cron"), expression)
            }
        },
    }
}

fn every_schedule(ctx: &mut Ctx<'_>, key: &str, every: &str, starting_at: Option<&toml::Value>) -> Schedule {
    let every_key = keypath::join(key, "every");
    let every = if ctx.known(&every_key) {
        match schedule::parse_duration(every) {
            Ok(d) if (MIN_EVERY..=MAX_EVERY).contains(&d) => Some(d),
            Ok(_) => {
                ctx.error(ConfigCode::Schedule, &every_key, "`every` must be from 5 minutes to 24 hours");
                None
            }
            Err(message) => {
                ctx.error(ConfigCode::Schedule, &every_key, message);
                None
            }
        }
    } else {
        None
    };
    let at_key = keypath::join(key, "starting_at");
    let starting_at = match starting_at {
        None => Some(TimeOfDay::default()),
        Some(_) if !ctx.known(&at_key) => Some(TimeOfDay::default()),
        Some(toml::Value::String(s)) => TimeOfDay::parse(s),
        // An unquoted TOML local time (`starting_at = 00:30`) is accepted too.
        Some(toml::Value::Datetime(d)) => match (d.date, d.time, d.offset) {
            (None, Some(t), None) if t.second.unwrap_or(0) == 0 && t.nanosecond.unwrap_or(0) == 0 => {
                Some(TimeOfDay { hour: t.hour, minute: t.minute })
            }
            _ => None,
        },
        Some(_) => None,
    };
    if starting_at.is_none() {
        ctx.error_hint(
            ConfigCode::Schedule,
            &at_key,
            "`starting_at` is not a time of day",
            "write \"HH:MM\" in UTC, from \"00:00\" to \"23:59\"",
        );
    }
    match (every, starting_at) {
        (Some(every), Some(starting_at)) => Schedule::Every { every, starting_at },
        _ => Schedule::Manual,
    }
}

fn cron_schedule(ctx: &mut Ctx<'_>, key: &str, expression: &str) -> Schedule {
    if !ctx.known(key) {
        return Schedule::Manual;
    }
    match schedule::parse_cron(expression) {
        Ok(cron) if schedule::cron_fires(&cron) => {
            Schedule::Cron { expression: expression.to_owned(), cron: Box::new(cron) }
        }
        Ok(_) => {
            ctx.error_hint(
                ConfigCode::ScheduleNeverFires,
                key,
                "the cron expression never fires",
                "check the day of the month against the month (February has no 30th)",
            );
            Schedule::Manual
        }
        Err(message) => {
            ctx.error_hint(
                ConfigCode::Schedule,
                key,
                format!("the cron expression does not parse: {message}"),
                "standard 5 fields in UTC: minute hour day-of-month month day-of-week, such as \"0 */6 * * *\"",
            );
            Schedule::Manual
        }
    }
}

/// Connection values that make a dot segment of an action's path: the request would go to
/// another path (`audience_id = ".."`). The message names the action, never the value (it may
/// come from the environment).
pub(crate) fn dot_segments(ctx: &mut Ctx<'_>, destination: &Destination, syncs: &[Sync]) {
    for sync in syncs {
        let connection = crate::template::Connection {
            audience_id: sync.audience_id.as_str().to_owned(),
            audience_name: sync.audience_name.as_str().to_owned(),
        };
        let mut flagged = [false, false];
        for action in &destination.actions {
            let (id, name) = super::url::dot_segment_values(action.path.as_str(), &connection);
            for (i, (key, hit)) in [("audience_id", id), ("audience_name", name)].into_iter().enumerate() {
                if !hit || flagged[i] {
                    continue;
                }
                flagged[i] = true;
                ctx.push(
                    Problem::error(
                        ConfigCode::DotSegment,
                        keypath::join(&keypath::join("syncs", &sync.name), key),
                        format!(
                            "{key} makes a whole segment `.` or `..` of the {} action's path, which URLs resolve away: the request would go to another path",
                            action.kind.name()
                        ),
                    )
                    .with_hint("use the audience's real id and name; a placeholder's value must not be `.` or `..`"),
                );
            }
        }
    }
}

/// Syncs with one `audience_id` would each mirror their own model into the same list, and each
/// would remove the members the others added.
fn shared_audiences(ctx: &mut Ctx<'_>, syncs: &[Sync]) {
    for (i, sync) in syncs.iter().enumerate() {
        if sync.audience_id.is_empty() {
            continue;
        }
        let earlier: Vec<&str> =
            syncs[..i].iter().filter(|s| s.audience_id == sync.audience_id).map(|s| s.name.as_str()).collect();
        if let Some(first) = earlier.first() {
            ctx.push(
                Problem::warning(
                    ConfigCode::SharedAudience,
                    keypath::join(&keypath::join("syncs", &sync.name), "audience_id"),
                    format!(
                        "syncs {first} and {} share one audience_id: their mirrors would remove each other's members",
                        sync.name
                    ),
                )
                .with_hint("give each sync its own audience, or merge the models into one sync"),
            );
        }
    }
}
