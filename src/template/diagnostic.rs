//! The one diagnostic type every stage produces, and the stable codes.
//!
//! Codes are part of the public interface: never renumber one that has been released. Codes
//! shared with the reference JSONata keep its spelling (`S0101`, `T0410`, ...); what the reference
//! accepts but templates do not uses our own `X` prefix: `X01xx` for constructs outside the
//! allowlist, `X02xx` for template-profile rules, `X03xx` for limits.

use super::span::{LineIndex, Span};
use serde::Serialize;

/// How bad a diagnostic is. Only errors make a template invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Makes the template invalid: it is not compiled or rendered.
    Error,
    /// Reported, but the template still compiles and renders.
    Warning,
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $name:ident = $text:literal, )*) => {
        /// A stable diagnostic code. Each variant's doc gives a template that triggers it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code { $( $(#[$doc])* $name, )* }

        impl Code {
            /// Every code, in declaration order (used by the uniqueness test and the docs).
            pub const ALL: &'static [Code] = &[$(Code::$name,)*];

            /// The code as it is printed, for example `"X0102"`.
            pub const fn as_str(self) -> &'static str {
                match self { $( Code::$name => $text, )* }
            }
        }
    };
}

codes! {
    // ---- lexical errors (reference codes) ----
    /// `"abc` — a string literal without its closing quote.
    UnterminatedString = "S0101",
    /// `1e999` — a number literal that is not a finite double.
    NumberOutOfRange = "S0102",
    /// `"a\qb"` — an escape other than `\" \\ \/ \b \f \n \r \t \uXXXX`.
    UnsupportedEscape = "S0103",
    /// `"\u12"` — `\u` not followed by four hex digits.
    InvalidUnicodeEscape = "S0104",
    /// `` `abc `` — a backtick name without its closing backtick.
    UnterminatedName = "S0105",
    /// `/* abc` — a comment without its closing `*/`.
    UnterminatedComment = "S0106",
    // ---- syntax errors (reference codes) ----
    /// `a b` — a token where none may follow.
    UnexpectedToken = "S0201",
    /// `[1 2]` — a token other than the one the grammar needs here.
    ExpectedToken = "S0202",
    /// `[1, 2` — the input ends inside a construct.
    UnexpectedEnd = "S0203",
    /// `a ! b` — a character that is no operator.
    UnknownOperator = "S0204",
    /// `` (empty) or `$$.` — an expression is missing.
    MissingExpression = "S0207",
    /// `function(a, 1){a}` — a lambda parameter that is not a variable.
    InvalidParameter = "S0208",
    /// `a{"k": 1}[0]` — a predicate after a grouping expression.
    PredicateAfterGroup = "S0209",
    /// `a{"k": 1}{"j": 2}` — two grouping expressions on one path.
    DoubleGroup = "S0210",
    /// `[1, 2, ]` or `+1` — a token that cannot start an expression.
    InvalidUnary = "S0211",
    /// `a := 1` — the left side of `:=` is not a variable.
    InvalidBinding = "S0212",
    /// `$$.true` — a literal value used as a path step.
    LiteralStep = "S0213",
    /// `a@b` — `@` or `#` not followed by a variable.
    ExpectedVariable = "S0214",
    /// `//` — an empty regular expression.
    EmptyRegex = "S0301",
    /// `/abc` — a regular expression without its closing `/`.
    UnterminatedRegex = "S0302",
    // ---- runtime errors (reference codes) ----
    /// `$number(null)` — an argument of the wrong type.
    ArgumentType = "T0410",
    /// `{$$.n: 1}` with `n = 5` — an object key that is not a string.
    KeyNotString = "T1003",
    /// `{"a": 1, "a": 2}` — two pairs with the same key.
    DuplicateKey = "D1009",
    /// `{"_jsonata_function": 1}` — a key the reference keeps for itself.
    ReservedKey = "D1013",
    /// `$number("12 ")` — a string that is no number.
    NotANumber = "D3030",
    // ---- constructs outside the allowlist (ours) ----
    /// `a + 1`, `a - b`, `a * 2`, `a / 2`, `a % 2`, `-a`
    Arithmetic = "X0101",
    /// `first & " " & last`
    Concatenation = "X0102",
    /// `a = 1`, `a != 1`, `a < 1`, `a <= 1`, `a > 1`, `a >= 1`
    Comparison = "X0103",
    /// `"a" in tags`
    Membership = "X0104",
    /// `a and b`, `a or b`
    Boolean = "X0105",
    /// `vip ? "gold" : "grey"`
    Conditional = "X0106",
    /// `a ?: b`, `a ?? b`
    DefaultOperator = "X0107",
    /// `$x := 1`
    Binding = "X0108",
    /// `a ~> $uppercase()`
    Chain = "X0109",
    /// `[1..5]`
    Range = "X0110",
    /// `a.*`
    Wildcard = "X0111",
    /// `**.email`
    Descendants = "X0112",
    /// `a.%.b`
    Parent = "X0113",
    /// `records[0]`, `records[active]`
    Predicate = "X0114",
    /// `tags[]`
    KeepArray = "X0115",
    /// `records^(name)`
    Sort = "X0116",
    /// `records@$r`
    Focus = "X0117",
    /// `records#$i`
    Index = "X0118",
    /// `(a)`, `(a; b)`
    Block = "X0119",
    /// `$ ~> |a|{"b": 1}|`
    Transform = "X0120",
    /// `function($x){ $x }`, `λ($x){ $x }`
    Lambda = "X0121",
    /// `/ab+c/i`
    Regex = "X0122",
    /// `$name`
    Variable = "X0123",
    /// `$` (the context)
    Context = "X0124",
    /// `$string(a)`, `$sum(a)` — every function other than `$number`
    Function = "X0125",
    /// `$number()`, `$number(a, b)`
    NumberArity = "X0126",
    /// `records{"k": email}` — grouping, an object constructor without the dot
    Grouping = "X0127",
    /// `records.[email]` — an array constructor as a path step
    ArrayStep = "X0128",
    /// `{ key: 1 }`, `{ $$.k: 1 }` — an object key that is not a string literal
    ComputedKey = "X0129",
    /// `a.$number(b)`, `a.(b)`, `a.$$` — an expression other than a name or `.{}` as a step
    StepKind = "X0130",
    /// `[1].a`, `{"a":1}.a`, `$number(a).b` — a path that does not start with `$$` or a name
    PathStart = "X0131",
    /// `$number(?)` — partial application
    Partial = "X0132",
    /// `"\uD800"` — a `\u` escape that leaves a lone surrogate (Rust strings cannot hold one)
    LoneSurrogate = "X0133",
    /// `(a)(b)` — calling something that is not a function name
    Call = "X0134",
    // ---- template-profile rules (ours) ----
    /// `$$.connection.audienceId` — the top level of a body is not an object or array constructor
    TopLevel = "X0201",
    /// `{"u": $$.records.{ "e": email }}` — `$$.records` other than as `[$$.records.{ ... }]`
    RecordsUsage = "X0202",
    /// `{"e": email}` — a relative field path outside the `[$$.records.{ ... }]` block
    FieldOutsideBlock = "X0203",
    /// `[$$.records.{ "x": [$$.records.{ "e": email }] }]` — iteration inside the block
    NestedIteration = "X0204",
    /// `$$.other`, `$$` — a root path that is not `$$.records` or `$$.connection`
    RootPath = "X0205",
    /// `$$.connection.id` — `$$.connection` not followed by exactly one of its keys
    ConnectionKey = "X0206",
    /// `{"a": 1}` (warning) — a template that never iterates `$$.records`
    NoRecords = "X0207",
    // ---- limits (ours) ----
    /// A template longer than 64 KiB.
    TooLarge = "X0301",
    /// Constructs nested more than 64 levels deep.
    TooDeep = "X0302",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A secondary location that helps explain a diagnostic ("first defined here").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    /// Where the secondary location is, in the template source.
    pub span: Span,
    /// What that location has to do with the diagnostic, e.g. "first defined here".
    pub message: String,
}

/// One problem found in a template, by any stage (lexer, parser, checker, VM).
///
/// Kept as plain data: the engine never formats it for a terminal. [`super::report`] renders it
/// for people (ariadne) and for programs (JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The stable code (`S0101`, `X0102`, ...): what kind of problem this is.
    pub code: Code,
    /// Whether the problem makes the template invalid.
    pub severity: Severity,
    /// One line that names the construct, e.g. "string concatenation `&` is not allowed in templates".
    pub message: String,
    /// The offending construct.
    pub span: Span,
    /// Secondary locations that explain the problem, in the order they were added.
    pub labels: Vec<Label>,
    /// A suggestion of how to fix it, if there is one worth giving.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error (the template is invalid) with no hint and no labels yet.
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { code, severity: Severity::Error, message: message.into(), span, labels: Vec::new(), hint: None }
    }

    /// A warning (the template stays valid) with no hint and no labels yet.
    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, span, message) }
    }

    /// The diagnostic with `hint` as its suggested fix, replacing any earlier hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// The diagnostic with one more secondary location, after the existing ones.
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: message.into() });
        self
    }

    /// Whether the diagnostic makes the template invalid.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The diagnostic as the JSON object of the public interface (`docs/design/interface.md`), located in
    /// `src`. `action` and `key` are filled in by callers that know them.
    pub fn to_json(&self, src: &str) -> DiagnosticJson {
        self.located_json(&LineIndex::new(src))
    }

    /// [`Diagnostic::to_json`] with the line index of its source already built.
    pub fn located_json(&self, index: &LineIndex) -> DiagnosticJson {
        let at = index.line_col(self.span.start as usize);
        DiagnosticJson {
            code: self.code.as_str().to_owned(),
            severity: self.severity,
            line: Some(at.line),
            column: Some(at.column),
            start: Some(self.span.start),
            end: Some(self.span.end),
            hint: self.hint.clone(),
            ..DiagnosticJson::error("", self.message.clone())
        }
    }
}

/// The one JSON shape of a diagnostic, whatever reports it (`audience check` for a template or a
/// config, `audience render --format json`, and any other command that reports one): the keys
/// `docs/design/interface.md` fixes, always all of them, null where they do not apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DiagnosticJson {
    /// A template code (`X0102`, `D3030`, ...), a config code, or `input` for input that is not
    /// JSON.
    pub code: String,
    /// One line that says what is wrong.
    pub message: String,
    /// `error` or `warning`.
    pub severity: Severity,
    /// `add`, `update` or `remove` for a problem in an action's template.
    pub action: Option<String>,
    /// The config key path of a config problem.
    pub key: Option<String>,
    /// Where the problem is: line and column (1-based, in characters) and the byte span, in
    /// the text it was found in.
    pub line: Option<u32>,
    /// See `line`.
    pub column: Option<u32>,
    /// Byte offset of the start of the offending text (inclusive); see `line`.
    pub start: Option<u32>,
    /// Byte offset of the end of the offending text (exclusive); see `line`.
    pub end: Option<u32>,
    /// A suggestion of how to fix it, if there is one.
    pub hint: Option<String>,
    /// For a template written inline in a config: where the problem is in the config file
    /// (1-based line, and column in characters), where an editor jumps; null otherwise.
    pub file_line: Option<u32>,
    /// The column of `file_line` (1-based, in characters); null with it.
    pub file_column: Option<u32>,
}

impl DiagnosticJson {
    /// An error with nothing to locate it by; callers fill in what they know.
    pub fn error(code: impl Into<String>, message: impl Into<String>) -> DiagnosticJson {
        DiagnosticJson {
            code: code.into(),
            message: message.into(),
            severity: Severity::Error,
            action: None,
            key: None,
            line: None,
            column: None,
            start: None,
            end: None,
            hint: None,
            file_line: None,
            file_column: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert_eq!(s.len(), 5, "{s}");
            assert!(matches!(&s[..1], "S" | "T" | "D" | "X"), "{s}");
            assert!(s[1..].bytes().all(|b| b.is_ascii_digit()), "{s}");
        }
    }
}
