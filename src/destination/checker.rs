//! The state the config checks share (`validate` for the destination and its actions, `syncs`
//! for the syncs): the problems so far, the secrets found, and what the environment expansion
//! and the loader said about each value.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use super::codes::ConfigCode;
use super::env::Expansion;
use super::keypath;
use super::problem::Problem;
use super::schedule::parse_duration;
use super::secret::Text;

/// The checker's state: the problems so far, and what the environment expansion found.
pub(crate) struct Ctx<'a> {
    pub problems: Vec<Problem>,
    expansion: &'a Expansion,
    /// Wrongly typed values the loader dropped (and reported).
    dropped: &'a BTreeSet<String>,
    pub secrets: Vec<String>,
    /// Key paths whose value, as written in the file, is a secret (masked when the file is
    /// shown in a report).
    pub secret_keys: Vec<String>,
    pub base_dir: &'a Path,
}

impl<'a> Ctx<'a> {
    /// A checker that starts from the loader's `problems` and the secrets the expansion found.
    pub fn new(
        problems: Vec<Problem>,
        expansion: &'a Expansion,
        dropped: &'a BTreeSet<String>,
        base_dir: &'a Path,
    ) -> Ctx<'a> {
        Ctx { problems, expansion, dropped, secrets: expansion.secrets.clone(), secret_keys: Vec::new(), base_dir }
    }

    /// Records a problem, unless it is about a value the loader already reported as wrongly
    /// typed (and dropped), or about something inside such a value.
    pub fn push(&mut self, problem: Problem) {
        if !problem.key.as_deref().is_some_and(|key| self.was_dropped(key)) {
            self.problems.push(problem);
        }
    }

    /// Whether the value at `key` (or a value holding it) was dropped for its type.
    pub fn was_dropped(&self, key: &str) -> bool {
        self.dropped.iter().any(|d| {
            key == d || (key.starts_with(d.as_str()) && matches!(key.as_bytes().get(d.len()), Some(b'.' | b'[')))
        })
    }

    pub fn error(&mut self, code: ConfigCode, key: &str, message: impl Into<String>) {
        self.push(Problem::error(code, key, message));
    }

    pub fn error_hint(&mut self, code: ConfigCode, key: &str, message: impl Into<String>, hint: impl Into<String>) {
        self.push(Problem::error(code, key, message).with_hint(hint));
    }

    /// Whether the value at `key` is known (it used no unset variable).
    pub fn known(&self, key: &str) -> bool {
        !self.expansion.unresolved.contains(key)
    }

    /// Whether the value at `key`, or any value inside it, came from the environment.
    pub fn is_env(&self, key: &str) -> bool {
        self.expansion
            .from_env
            .iter()
            .any(|k| k == key || (k.starts_with(key) && matches!(k.as_bytes().get(key.len()), Some(b'.' | b'['))))
    }

    /// The value at `key` as a [`Text`]: secret when `always_secret` or from the environment.
    pub fn text(&mut self, key: &str, value: &str, always_secret: bool) -> Text {
        let from_env = self.is_env(key);
        let text = Text::new(value, always_secret || from_env);
        if text.is_secret() && !value.is_empty() {
            self.secrets.push(value.to_owned());
        }
        if always_secret && !from_env {
            self.secret_keys.push(key.to_owned());
        }
        text
    }

    /// A required string: reports it missing or empty.
    pub fn required(&mut self, base: &str, name: &str, value: Option<&String>, always_secret: bool) -> Text {
        let key = keypath::join(base, name);
        match value {
            None => {
                self.error(ConfigCode::MissingKey, &key, format!("`{name}` is required"));
                Text::default()
            }
            Some(v) if v.is_empty() && self.known(&key) => {
                self.error(ConfigCode::Empty, &key, format!("`{name}` is empty"));
                Text::default()
            }
            Some(v) => self.text(&key, v, always_secret),
        }
    }

    /// An integer in `range`, or `default` when absent.
    pub fn int(&mut self, key: &str, value: Option<i64>, range: std::ops::RangeInclusive<i64>, default: i64) -> i64 {
        match value {
            Some(v) if !range.contains(&v) => {
                self.error(
                    ConfigCode::OutOfRange,
                    key,
                    format!("{v} is out of range: expected {} to {}", range.start(), range.end()),
                );
                default
            }
            Some(v) => v,
            None => default,
        }
    }

    /// A duration, or `default` when absent; must be more than zero and at most `max`.
    pub fn duration(&mut self, key: &str, value: Option<&String>, default: Duration, max: Duration) -> Duration {
        let Some(text) = value else { return default };
        if !self.known(key) {
            return default;
        }
        match parse_duration(text) {
            Ok(d) if d.is_zero() || d > max => {
                self.error(
                    ConfigCode::OutOfRange,
                    key,
                    format!("expected more than 0 and at most {}", show_duration(max)),
                );
                default
            }
            Ok(d) => d,
            Err(message) => {
                self.error(ConfigCode::Duration, key, message);
                default
            }
        }
    }
}

fn show_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) { format!("{}h", s / 3600) } else { format!("{}m", s / 60) }
}

/// The distinct fields of every template, for hints.
pub(crate) fn field_list(fields: &[Vec<String>; 3]) -> String {
    let mut all: Vec<&str> = Vec::new();
    for f in fields.iter().flatten() {
        if !all.contains(&f.as_str()) {
            all.push(f);
        }
    }
    if all.is_empty() { "(none)".to_owned() } else { all.join(", ") }
}
