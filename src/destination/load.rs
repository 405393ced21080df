//! From config text to the serde model ([`ConfigFile`]), collecting every problem of shape:
//! TOML syntax, `add`/`insert` given together, `${NAME}` references, unknown keys and wrongly
//! typed values, each with its key path.
//!
//! serde stops at the first wrongly typed value. To report them all at once, the loader
//! removes the offending value from the parsed tree (as if the key were absent), notes the
//! problem, and deserialises again; the config is small, so a few passes cost nothing. Unknown
//! keys are collected by `serde_ignored` in the pass that succeeds.

use std::collections::BTreeSet;

use crate::template::Span;

use super::codes::ConfigCode;
use super::config::ConfigFile;
use super::env::{self, EnvProblem, Expansion};
use super::keypath::{self, Segment};
use super::model::ActionKind;
use super::problem::Problem;

/// How an unset environment variable counts (docs/design/interface.md): an error only where its value is
/// used, a warning elsewhere, so that `check`, `preview` or reading the logs need no production
/// secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvMode {
    /// Every unset variable is a warning: `check`, `fields`, `preview` (nothing is sent and
    /// nothing read).
    Warn,
    /// A warehouse's variables (`syncs.*.source`) are errors, the others warnings: the commands
    /// that read the warehouse and send nothing (`logs`, `sync --dry-run`).
    Warehouse,
    /// Every unset variable is an error: the commands that send (`sync`, `run`).
    Error,
}

impl EnvMode {
    /// Whether an unset variable in the value at `key` is an error.
    pub fn needs(self, key: &str) -> bool {
        match self {
            EnvMode::Warn => false,
            EnvMode::Warehouse => key.starts_with("syncs.") && key.ends_with(".source"),
            EnvMode::Error => true,
        }
    }
}

/// The config as read: the serde model, what the environment expansion found, and the
/// problems so far.
pub struct Parsed {
    /// The config as serde read it, `${NAME}` references expanded.
    pub file: ConfigFile,
    /// Which values used `${NAME}` variables, and which of those could not be expanded.
    pub expansion: Expansion,
    /// The key each action was written under (`add` or `insert`, `remove` or `delete`), so that
    /// key paths name what the user wrote.
    pub action_keys: [&'static str; 3],
    /// The problems found so far (parsing, unknown keys, wrong types, expansion), in file order.
    pub problems: Vec<Problem>,
    /// Key paths of wrongly typed values, dropped from the model (and already reported: their
    /// absence is not reported again).
    pub dropped: BTreeSet<String>,
}

/// At most this many wrongly typed values are recovered from; past that the rest of the file
/// is not checked.
const MAX_REPAIRS: usize = 200;

/// Parses `text`. `Err` holds the TOML syntax error, after which nothing else can be checked.
pub fn parse(text: &str, lookup: &dyn Fn(&str) -> Option<String>, mode: EnvMode) -> Result<Parsed, Box<Problem>> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| Box::new(syntax_problem(&e)))?;
    let mut problems = Vec::new();
    let action_keys = resolve_aliases(&mut table, &mut problems);
    let expansion = env::expand(&mut table, lookup);
    for problem in &expansion.problems {
        problems.push(match problem {
            EnvProblem::Unset { key, name } => {
                let p =
                    Problem::error(ConfigCode::UnsetVariable, key, format!("environment variable {name} is not set"))
                        .with_hint(format!("set {name}, or write `$${{` for a literal `${{`"));
                if mode.needs(key) { p } else { Problem { severity: crate::template::Severity::Warning, ..p } }
            }
            EnvProblem::BadReference { key } => Problem::error(
                ConfigCode::BadReference,
                key,
                "a `${` here does not start a reference of the form `${NAME}`",
            )
            .with_hint("names are letters, digits and `_`, not starting with a digit; write `$${` for a literal `${`"),
        });
    }
    let mut dropped = BTreeSet::new();
    let file = deserialize(table, &mut problems, &mut dropped);
    Ok(Parsed { file, expansion, action_keys, problems, dropped })
}

fn syntax_problem(e: &toml::de::Error) -> Problem {
    let message = e.message().trim_end().replace('\n', "; ");
    Problem {
        key: None,
        span: e.span().map(|r| Span::new(r.start, r.end)),
        ..Problem::error(ConfigCode::Syntax, "", format!("the file is not valid TOML: {message}"))
    }
}

/// `add`/`insert` and `remove`/`delete` name one action each: both spellings together is a
/// conflict (the alias is dropped, so that serde does not fail on a duplicate field).
fn resolve_aliases(table: &mut toml::Table, problems: &mut Vec<Problem>) -> [&'static str; 3] {
    let mut keys = ActionKind::ALL.map(ActionKind::name);
    let Some(toml::Value::Table(actions)) =
        table.get_mut("destination").and_then(|d| d.as_table_mut()).and_then(|d| d.get_mut("actions"))
    else {
        return keys;
    };
    for kind in [ActionKind::Add, ActionKind::Remove] {
        let (name, alias) = (kind.name(), kind.alias());
        match (actions.contains_key(name), actions.contains_key(alias)) {
            (true, true) => {
                actions.remove(alias);
                problems.push(
                    Problem::error(
                        ConfigCode::Conflict,
                        format!("destination.actions.{alias}"),
                        format!("`{name}` and `{alias}` are the same action, and both are given"),
                    )
                    .with_hint(format!("keep one of [destination.actions.{name}] and [destination.actions.{alias}]")),
                );
            }
            (false, true) => keys[kind.index()] = alias,
            _ => {}
        }
    }
    keys
}

fn deserialize(mut table: toml::Table, problems: &mut Vec<Problem>, reported: &mut BTreeSet<String>) -> ConfigFile {
    for _ in 0..=MAX_REPAIRS {
        let mut unknown: Vec<Vec<Segment>> = Vec::new();
        let result = {
            let mut note = |path: serde_ignored::Path<'_>| unknown.push(keypath::from_ignored(&path));
            let de = serde_ignored::Deserializer::new(toml::Value::Table(table.clone()), &mut note);
            serde_path_to_error::deserialize::<_, ConfigFile>(de)
        };
        match result {
            Ok(file) => {
                for path in unknown {
                    problems.push(unknown_key(&path));
                }
                return file;
            }
            Err(e) => {
                let path = keypath::from_tracked(e.path());
                let key = keypath::format(&path);
                if !reported.insert(key.clone()) || !remove(&mut table, &path) {
                    break;
                }
                problems.push(wrong_type(key, e.inner().message()));
            }
        }
    }
    problems.push(Problem::error(
        ConfigCode::WrongType,
        "",
        "too many wrongly typed values: the rest of the file was not checked",
    ));
    ConfigFile::default()
}

fn unknown_key(path: &[Segment]) -> Problem {
    let key = keypath::format(path);
    let name = match path.last() {
        Some(Segment::Key(k)) => k.clone(),
        _ => key.clone(),
    };
    let mut problem = Problem::error(ConfigCode::UnknownKey, key, format!("unknown key `{name}`"));
    if let Some(known) = suggestion(path) {
        problem = problem.with_hint(known);
    }
    problem
}

/// The keys accepted where an unknown key was found, closest first.
fn suggestion(path: &[Segment]) -> Option<String> {
    let keys: Vec<&str> = path
        .iter()
        .map(|s| match s {
            Segment::Key(k) => k.as_str(),
            Segment::Index(_) => "[]",
        })
        .collect();
    let (name, parent) = keys.split_last()?;
    let accepted: &[&str] = match parent {
        [] => &["destination", "syncs", "alerts"],
        ["alerts", "[]"] => &["url", "on", "format"],
        ["destination"] => &[
            "name",
            "base_url",
            "headers",
            "timeout",
            "max_concurrency",
            "rate_limit",
            "max_request_bytes",
            "auth",
            "actions",
            "fields",
            "retry",
            "health",
        ],
        ["destination", "headers", _] => &["value", "secret"],
        ["destination", "auth"] => &[
            "type",
            "token",
            "username",
            "password",
            "header",
            "key",
            "token_url",
            "client_id",
            "client_secret",
            "scope",
            "client_auth",
            "params",
        ],
        ["destination", "actions"] => &["add", "update", "remove", "insert", "delete"],
        ["destination", "actions", _] => &["method", "path", "batch_size", "template", "template_file", "use_add"],
        ["destination", "fields", _] => &["required", "static", "hash", "normalize"],
        ["destination", "health"] => &["method", "path"],
        ["destination", "retry"] => &["max_attempts", "initial_backoff", "max_backoff", "max_elapsed"],
        ["syncs", _] => &[
            "audience_name",
            "audience_id",
            "source",
            "query",
            "table",
            "primary_key",
            "hash_pii",
            "map",
            "static",
            "schedule",
            "retain_logs",
            "log_retention_days",
            "snapshot_retention",
            "retry_failed",
            "max_removal_share",
            "lock_timeout",
        ],
        ["syncs", _, "schedule"] => &["every", "starting_at", "cron"],
        _ => return None,
    };
    let close = accepted.iter().min_by_key(|k| edit_distance(name, k)).filter(|k| edit_distance(name, k) <= 2);
    Some(match close {
        Some(k) => format!("did you mean `{k}`? (accepted here: {})", accepted.join(", ")),
        None => format!("accepted here: {}", accepted.join(", ")),
    })
}

/// Levenshtein distance over characters (keys are short); the language server's quick fix
/// uses it too.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A wrongly typed value, said without quoting the value (it may be a secret).
fn wrong_type(key: String, serde_message: &str) -> Problem {
    let (message, quote_hint) =
        match serde_message.strip_prefix("invalid type: ").and_then(|rest| rest.split_once(", expected ")) {
            Some((found, expected)) => {
                let found = found_words(found);
                let expected = expected_words(expected);
                let hint = expected == "a string" && matches!(found, "an integer" | "a float" | "a boolean");
                (format!("expected {expected}, found {found}"), hint)
            }
            None => (serde_message.to_owned(), false),
        };
    let problem = Problem::error(ConfigCode::WrongType, key, message);
    if quote_hint { problem.with_hint("write the value in quotes") } else { problem }
}

fn found_words(found: &str) -> &'static str {
    let kind = found.split([' ', '`', '"']).next().unwrap_or_default();
    match kind {
        "string" | "char" => "a string",
        "integer" => "an integer",
        "floating" => "a float",
        "boolean" => "a boolean",
        "map" => "a table",
        "sequence" => "an array",
        _ => "another kind of value",
    }
}

fn expected_words(expected: &str) -> String {
    match expected {
        "i64" | "u64" | "i32" | "u32" | "usize" => "an integer".into(),
        "f64" | "f32" => "a number".into(),
        "a sequence" => "an array".into(),
        "a map" => "a table".into(),
        e if e.starts_with("struct ") => "a table".into(),
        e => e.to_owned(),
    }
}

/// Removes the value at `path` from `table`; false when there is none.
fn remove(table: &mut toml::Table, path: &[Segment]) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut value: Option<&mut toml::Value> = None;
    for (i, segment) in parents.iter().enumerate() {
        let next = match (i, segment, value) {
            (0, Segment::Key(k), _) => table.get_mut(k),
            (_, Segment::Key(k), Some(toml::Value::Table(t))) => t.get_mut(k),
            (_, Segment::Index(n), Some(toml::Value::Array(a))) => a.get_mut(*n),
            _ => None,
        };
        match next {
            Some(v) => value = Some(v),
            None => return false,
        }
    }
    match (parents.is_empty(), last, value) {
        (true, Segment::Key(k), _) => table.remove(k).is_some(),
        (false, Segment::Key(k), Some(toml::Value::Table(t))) => t.remove(k).is_some(),
        (false, Segment::Index(n), Some(toml::Value::Array(a))) if *n < a.len() => {
            a.remove(*n);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(problems: &[Problem]) -> Vec<(&str, &str)> {
        problems.iter().map(|p| (p.code.as_str(), p.key.as_deref().unwrap_or(""))).collect()
    }

    #[test]
    fn every_unknown_key_and_wrong_type_at_once() {
        let text = r#"
            [destination]
            name = 5
            base_ur = "x"
            [destination.actions.add]
            tempalte = "x"
            batch_size = "10"
            [syncs.a]
            hash_pii = "yes"
            extra = 1
        "#;
        let parsed = parse(text, &|_| None, EnvMode::Error).unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(
            keys(&parsed.problems),
            [
                ("C0103", "destination.name"),
                ("C0103", "destination.actions.add.batch_size"),
                ("C0103", "syncs.a.hash_pii"),
                ("C0101", "destination.base_ur"),
                ("C0101", "destination.actions.add.tempalte"),
                ("C0101", "syncs.a.extra"),
            ]
        );
        assert_eq!(parsed.problems[0].message, "expected a string, found an integer");
        assert_eq!(parsed.problems[0].hint.as_deref(), Some("write the value in quotes"));
        assert_eq!(parsed.problems[1].message, "expected an integer, found a string");
        assert!(parsed.problems[3].hint.as_deref().unwrap_or_default().contains("did you mean `base_url`?"));
    }

    #[test]
    fn aliases_and_their_conflicts() {
        let parsed = parse("[destination.actions.insert]\n[destination.actions.delete]\n", &|_| None, EnvMode::Error)
            .unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(parsed.action_keys, ["insert", "update", "delete"]);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let parsed = parse("[destination.actions.add]\n[destination.actions.insert]\n", &|_| None, EnvMode::Error)
            .unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(keys(&parsed.problems), [("C0104", "destination.actions.insert")]);
    }

    #[test]
    fn syntax_errors_have_a_span() {
        let Err(p) = parse("[destination\n", &|_| None, EnvMode::Error) else { panic!() };
        assert_eq!(p.code.as_str(), "C0002");
        assert!(p.span.is_some());
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("tempalte", "template"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
