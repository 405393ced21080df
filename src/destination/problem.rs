//! A problem found in a config: a `C` code with its key path, or a template diagnostic with
//! its action. One type for both, so that `check` reports them in one list.

use crate::template::{Code, Diagnostic, Severity, Span};

use super::codes::ConfigCode;
use super::model::ActionKind;

/// The code of a problem: the config family, or the template engine's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProblemCode {
    /// A config code (`C....`).
    Config(ConfigCode),
    /// A template code, for a problem in an action's template.
    Template(Code),
}

impl ProblemCode {
    /// The code as reported (`C0401`, `X0102`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            ProblemCode::Config(c) => c.as_str(),
            ProblemCode::Template(c) => c.as_str(),
        }
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem of a config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What kind of problem this is.
    pub code: ProblemCode,
    /// Only errors make the config invalid.
    pub severity: Severity,
    /// Never quotes a secret (and is passed through the config's redactor before it is shown).
    pub message: String,
    /// The config key path, such as `syncs.high_value.map.email`.
    pub key: Option<String>,
    /// The action, for template problems.
    pub action: Option<ActionKind>,
    /// A suggestion of how to fix it, if there is one.
    pub hint: Option<String>,
    /// For a template problem: the engine's diagnostic, whose spans are within that action's
    /// template text.
    pub template: Option<Diagnostic>,
    /// For a TOML syntax error: where it is in the config file.
    pub span: Option<Span>,
}

impl Problem {
    /// An error of the config family at key path `key`, with no hint.
    pub fn error(code: ConfigCode, key: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            code: ProblemCode::Config(code),
            severity: Severity::Error,
            message: message.into(),
            key: Some(key.into()),
            action: None,
            hint: None,
            template: None,
            span: None,
        }
    }

    /// A warning of the config family at key path `key`, with no hint.
    pub fn warning(code: ConfigCode, key: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem { severity: Severity::Warning, ..Problem::error(code, key, message) }
    }

    /// A template diagnostic of `action`, whose template is at config key `key`.
    pub fn template(action: ActionKind, key: String, diagnostic: Diagnostic) -> Problem {
        Problem {
            code: ProblemCode::Template(diagnostic.code),
            severity: diagnostic.severity,
            message: diagnostic.message.clone(),
            key: Some(key),
            action: Some(action),
            hint: diagnostic.hint.clone(),
            template: Some(diagnostic),
            span: None,
        }
    }

    /// The problem with `hint` as its suggested fix, replacing any earlier hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }

    /// Whether the problem makes the config invalid.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Whether this is the config-family `code`.
    pub fn is(&self, code: ConfigCode) -> bool {
        self.code == ProblemCode::Config(code)
    }
}
