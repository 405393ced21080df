//! The outcome of checking a config, rendered for people (ariadne reports pointing into the
//! config file or the action's template) and for programs (the JSON of docs/design/interface.md).

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use ariadne::{Config as AriadneConfig, IndexType, Label, Report as AriadneReport, ReportKind, Source};
use serde::Serialize;

use crate::template::diagnostic::DiagnosticJson;
use crate::template::report as template_report;
use crate::template::span::{LineIndex, Span};

use super::codes::ConfigCode;
use super::model::ActionKind;
use super::positions::StringPositions;
use super::problem::Problem;
use super::spans::KeySpans;
use super::validate::Validated;

/// Each action's inline template positions in the config file, and the file's line index.
type TemplatePlaces<'t> = ([Option<StringPositions>; 3], LineIndex<'t>);

/// Everything `check` found in a config file: the file, and what the checks found in it.
pub struct Report {
    /// The config file as given on the command line.
    pub name: String,
    /// Its text (empty when it could not be read).
    pub text: String,
    /// Every problem (in file order, messages already redacted once the report is finished),
    /// the templates, their fields, and the config when there is no error.
    pub checked: Validated,
    /// Where each key of `text` is, indexed on first need (a clean file is never parsed for
    /// it): problems found by key path are placed, and rendered, through it.
    pub(crate) spans: OnceLock<Arc<KeySpans>>,
}

impl std::fmt::Debug for Report {
    /// Without the file's text, which may hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Report")
            .field("name", &self.name)
            .field("problems", &self.checked.problems)
            .field("fields", &self.checked.fields)
            .field("config", &self.checked.config)
            .finish_non_exhaustive()
    }
}

/// `check --format json`.
#[derive(Debug, Serialize)]
pub struct CheckJson {
    /// No error (warnings allowed).
    pub valid: bool,
    /// Every problem, errors and warnings, in the order found.
    pub diagnostics: Vec<DiagnosticJson>,
    /// The template fields of each action.
    pub fields: FieldsJson,
}

/// Each action's template fields.
#[derive(Debug, Serialize)]
pub struct FieldsJson {
    /// Add's template fields, in slot order.
    pub add: Vec<String>,
    /// Update's template fields, in slot order (add's with `use_add`).
    pub update: Vec<String>,
    /// Remove's template fields, in slot order.
    pub remove: Vec<String>,
}

impl Report {
    /// Valid: no error (warnings allowed).
    pub fn is_valid(&self) -> bool {
        !self.checked.problems.iter().any(Problem::is_error)
    }

    /// Number of error problems.
    pub fn errors(&self) -> usize {
        self.checked.problems.iter().filter(|p| p.is_error()).count()
    }

    /// Number of warning problems.
    pub fn warnings(&self) -> usize {
        self.checked.problems.len() - self.errors()
    }

    /// Where each key of the file is (parsed once, on first use).
    pub fn spans(&self) -> &Arc<KeySpans> {
        self.spans.get_or_init(|| Arc::new(KeySpans::new(&self.text)))
    }

    /// Orders problems as they appear in the file, masks secrets in their text.
    pub(crate) fn finish(mut self) -> Report {
        let (spans, text) = (&self.spans, &self.text);
        let spans = || spans.get_or_init(|| Arc::new(KeySpans::new(text)));
        for p in &mut self.checked.problems {
            p.message = self.checked.redactor.redact(&p.message).into_owned();
            p.hint = p.hint.as_deref().map(|h| self.checked.redactor.redact(h).into_owned());
        }
        let position = |p: &Problem| -> (usize, u32) {
            let at = match (&p.span, p.key.as_deref()) {
                (Some(span), _) => span.start as usize,
                (None, Some(key)) if !key.is_empty() => spans().key(key).map_or(usize::MAX, |(r, _)| r.start),
                _ => usize::MAX,
            };
            (at, p.template.as_ref().map_or(0, |d| d.span.start))
        };
        self.checked.problems.sort_by_key(position);
        self
    }

    /// The JSON of `check --format json`.
    pub fn to_json(&self) -> CheckJson {
        // Where inline templates sit in the file, worked out once for all their problems.
        let places = self.template_places();
        let diagnostics = self.checked.problems.iter().map(|p| self.problem_json(p, places.as_ref())).collect();
        let [add, update, remove] = self.checked.fields.clone();
        CheckJson { valid: self.is_valid(), diagnostics, fields: FieldsJson { add, update, remove } }
    }

    /// For a report with template problems: each action's inline template positions in the
    /// file, and the file's line index (`None` without template problems: nothing to place).
    fn template_places(&self) -> Option<TemplatePlaces<'_>> {
        self.checked
            .problems
            .iter()
            .any(|p| p.template.is_some())
            .then(|| (ActionKind::ALL.map(|k| self.inline_positions(k)), LineIndex::new(&self.text)))
    }

    fn problem_json(&self, p: &Problem, places: Option<&TemplatePlaces<'_>>) -> DiagnosticJson {
        // Template problems are located within the template text; a TOML syntax error within
        // the config file; other config problems by their key alone.
        let located = match (&p.template, p.action, &p.span) {
            (Some(d), Some(action), _) => {
                self.checked.templates[action.index()].as_ref().map(|t| (t.text.as_str(), d.span.start, d.span.end))
            }
            (None, _, Some(span)) => Some((self.text.as_str(), span.start, span.end)),
            _ => None,
        };
        let (line, column, start, end) = match located {
            Some((text, start, end)) => {
                let at = LineIndex::new(text).line_col(start as usize);
                (Some(at.line), Some(at.column), Some(start), Some(end))
            }
            None => (None, None, None, None),
        };
        let in_file = match (&p.template, p.action, places) {
            (Some(d), Some(action), Some((inline, lines))) => {
                inline[action.index()].as_ref().map(|positions| positions.file_line_col(lines, d.span.start as usize))
            }
            _ => None,
        };
        DiagnosticJson {
            code: p.code.as_str().to_owned(),
            message: p.message.clone(),
            severity: p.severity,
            action: p.action.map(|a| a.name().to_owned()),
            key: p.key.clone().filter(|k| !k.is_empty()),
            line,
            column,
            start,
            end,
            hint: p.hint.clone(),
            file_line: in_file.map(|at| at.line),
            file_column: in_file.map(|at| at.column),
        }
    }

    /// For an action whose template is written inline in the config: where each byte of the
    /// template is in the file. `None` for a template file (or a file the positions cannot be
    /// told in).
    fn inline_positions(&self, action: ActionKind) -> Option<StringPositions> {
        let source = self.checked.templates[action.index()].as_ref().filter(|t| t.file.is_none())?;
        let (span, true) = self.spans().value_span(&source.key)? else { return None };
        StringPositions::new(&self.text, span, &source.text)
    }

    /// Every problem as people read it: ariadne reports into the config file or the template
    /// (naming the action), plain lines where there is nothing to point at.
    pub fn render_human(&self, color: bool) -> String {
        let spans = self.spans();
        let display = self.masked_text(spans);
        let inline = self.template_places().map(|(inline, _)| inline).unwrap_or_default();
        let mut out = String::new();
        for p in &self.checked.problems {
            match (&p.template, p.action) {
                (Some(d), Some(action)) => {
                    let Some(source) = &self.checked.templates[action.index()] else { continue };
                    if let Some(positions) = &inline[action.index()] {
                        // Shown in the config file, at the line and column an editor jumps to.
                        let mut d = d.clone();
                        d.message = format!("{action} template: {}", d.message);
                        let map = |s: Span| {
                            let start = positions.file_offset(s.start as usize);
                            Span::new(start, positions.file_offset(s.end as usize).max(start))
                        };
                        d.span = map(d.span);
                        for label in &mut d.labels {
                            label.span = map(label.span);
                        }
                        let text = display.strip_suffix(' ').unwrap_or(&display);
                        out.push_str(&template_report::render_human(text, &self.name, &[d], color));
                        continue;
                    }
                    let name = match &source.file {
                        Some(file) => file.display().to_string(),
                        None => format!("{} ({})", source.key, self.name),
                    };
                    let mut d = d.clone();
                    d.message = format!("{action} template: {}", d.message);
                    out.push_str(&template_report::render_human(&source.text, &name, &[d], color));
                }
                _ => out.push_str(&self.render_config_problem(p, spans, &display, color)),
            }
        }
        out
    }

    /// The file's text with every secret written in it masked, byte for byte, so that spans
    /// still point at the same places: the values of secret keys, and any other occurrence of
    /// a secret (in a comment, say).
    fn masked_text(&self, spans: &KeySpans) -> String {
        let mut bytes = self.text.clone().into_bytes();
        let mut mask = |range: Range<usize>| {
            let len = range.len();
            let fill: Vec<u8> = if len >= 5 {
                let mut f = b"\"***\"".to_vec();
                f.resize(len, b' ');
                f
            } else {
                vec![b'*'; len]
            };
            if let Some(slot) = bytes.get_mut(range) {
                slot.copy_from_slice(&fill);
            }
        };
        for key in &self.checked.secret_keys {
            if let Some((range, true)) = spans.value_span(key) {
                mask(range);
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let redacted = self.checked.redactor.redact_same_length(&text);
        // A space after the end, so that a span at the very end has a character to point at.
        format!("{redacted} ")
    }

    fn render_config_problem(&self, p: &Problem, spans: &KeySpans, display: &str, color: bool) -> String {
        let key = p.key.as_deref().filter(|k| !k.is_empty());
        let points_at_key = p.is(ConfigCode::UnknownKey) || p.is(ConfigCode::Conflict) || p.is(ConfigCode::MissingKey);
        let span: Option<(Range<usize>, bool)> = match (&p.span, key) {
            // A syntax error is shown without the file's line, which could hold a secret that
            // the unparsed file cannot tell.
            (Some(_), _) => None,
            (None, Some(k)) if points_at_key => spans.key(k),
            (None, Some(k)) => spans.value_span(k),
            _ => None,
        };
        let message = match (key, &p.span) {
            (Some(k), _) => format!("{k}: {}", p.message),
            (None, Some(s)) => {
                let at = LineIndex::new(&self.text).line_col(s.start as usize);
                format!("{}:{}:{}: {}", self.name, at.line, at.column, p.message)
            }
            (None, None) => p.message.clone(),
        };
        let Some((range, exact)) = span else {
            let kind = if p.is_error() { "error" } else { "warning" };
            let mut text = format!("{kind}[{}]: {message}\n", p.code);
            if let Some(h) = &p.hint {
                text.push_str(&format!("  help: {h}\n"));
            }
            return text;
        };
        let range = clamp(display, range);
        let kind = if p.is_error() { ReportKind::Error } else { ReportKind::Warning };
        let label = if exact { "here" } else { "in this table" };
        let config = AriadneConfig::default().with_index_type(IndexType::Byte).with_color(color);
        let name = self.name.as_str();
        let mut report = AriadneReport::build(kind, (name, range.clone()))
            .with_config(config)
            .with_code(p.code)
            .with_message(&message)
            .with_label(Label::new((name, range)).with_message(label));
        if let Some(h) = &p.hint {
            report.set_help(h);
        }
        let mut out = Vec::new();
        // Writing into a Vec cannot fail; a report that could not be drawn falls back to a line.
        match report.finish().write((name, Source::from(display)), &mut out) {
            Ok(()) => String::from_utf8_lossy(&out).into_owned(),
            Err(_) => format!("{message}\n"),
        }
    }

    /// The last line of `check` on stdout.
    pub fn summary(&self) -> String {
        let (errors, warnings) = (self.errors(), self.warnings());
        if !self.is_valid() {
            return format!("{}: {errors} error{}, {warnings} warning{}", self.name, plural(errors), plural(warnings));
        }
        let mut text = format!("{}: valid ({warnings} warning{})", self.name, plural(warnings));
        for kind in ActionKind::ALL {
            let fields = &self.checked.fields[kind.index()];
            let list = if fields.is_empty() { "(none)".to_owned() } else { fields.join(", ") };
            text.push_str(&format!("\n  {kind} fields: {list}"));
        }
        text
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A range moved to character boundaries within `text`.
fn clamp(text: &str, range: Range<usize>) -> Range<usize> {
    let floor = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(range.start);
    start..floor(range.end).max(start)
}
