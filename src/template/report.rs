//! Diagnostics rendered for people (ariadne reports) and for programs (JSON).
//!
//! Both renderings locate a diagnostic the same way: byte spans, lines ended by LF, CRLF or a
//! lone CR and by nothing else, columns counted in characters ([`LineIndex`]). ariadne has its
//! own idea of line ends (it also breaks lines at VT, FF, NEL, U+2028 and U+2029), so it is
//! given a display copy of the source in which those characters are replaced by stand-ins of the
//! same byte length and character count: every byte offset and every column stays where it was,
//! and only our three line ends remain.

use std::ops::Range;

use ariadne::{Config, IndexType, Label, Report, ReportKind, Source};

use super::diagnostic::{Diagnostic, DiagnosticJson, Severity};
use super::span::{LineIndex, Span};

/// Renders `diags` as ariadne reports over `src`, one after the other. `source_name` names the
/// source in the headers (`name:line:column`); `color` turns ANSI colours on.
pub fn render_human(src: &str, source_name: &str, diags: &[Diagnostic], color: bool) -> String {
    let display = display_source(src);
    let source = Source::from(display.as_str());
    let config = Config::default().with_index_type(IndexType::Byte).with_color(color);
    let mut out = Vec::new();
    for diag in diags {
        let report = build_report(&display, source_name, diag, config);
        // Writing into a Vec cannot fail; a report that somehow could not be drawn is left out
        // rather than taking the caller down.
        let _ = report.write((source_name, &source), &mut out);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Renders `diags` as the JSON objects of the public interface, located in `src`.
pub fn render_json(src: &str, diags: &[Diagnostic]) -> Vec<DiagnosticJson> {
    let index = LineIndex::new(src);
    diags.iter().map(|d| d.located_json(&index)).collect()
}

fn build_report<'a>(
    display: &str,
    source_name: &'a str,
    diag: &Diagnostic,
    config: Config,
) -> Report<'a, (&'a str, Range<usize>)> {
    let kind = match diag.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let primary = clamp(display, diag.span);
    let mut builder = Report::build(kind, (source_name, primary.clone()))
        .with_config(config)
        .with_code(diag.code)
        .with_message(&diag.message)
        .with_label(
            Label::new((source_name, primary.clone())).with_message(label_text(diag)).with_order(order(&primary)),
        );
    // ariadne starts a new section, header repeated, at a label on an earlier line than the
    // one before it: ordering labels by position keeps one section per report.
    for label in &diag.labels {
        let span = clamp(display, label.span);
        builder
            .add_label(Label::new((source_name, span.clone())).with_message(&label.message).with_order(order(&span)));
    }
    if let Some(hint) = &diag.hint {
        builder.set_help(hint);
    }
    builder.finish()
}

/// A label's place among the others: its position in the source.
fn order(span: &Range<usize>) -> i32 {
    i32::try_from(span.start).unwrap_or(i32::MAX)
}

/// The text under the primary label: what kind of problem, since the header says which.
fn label_text(diag: &Diagnostic) -> &'static str {
    match diag.severity {
        Severity::Error => "here",
        Severity::Warning => "this",
    }
}

/// A copy of `src` that ariadne splits into the same lines as [`LineIndex`]: VT, FF, NEL,
/// U+2028 and U+2029 become characters of equal UTF-8 length that end no line, and a space is
/// appended so that a position at the very end (after a final line break, say) has a character
/// to point at.
fn display_source(src: &str) -> String {
    let mut out = String::with_capacity(src.len() + 1);
    for c in src.chars() {
        out.push(match c {
            '\u{0B}' | '\u{0C}' => ' ',
            '\u{85}' => '\u{B7}',                  // 2 bytes: MIDDLE DOT
            '\u{2028}' | '\u{2029}' => '\u{2424}', // 3 bytes: SYMBOL FOR NEWLINE
            c => c,
        });
    }
    out.push(' ');
    out
}

/// A span as a range within `display`, moved back to character boundaries (spans from the
/// engine always are; this keeps a hand-made one from making ariadne slice inside a character).
fn clamp(display: &str, span: Span) -> Range<usize> {
    let floor = |mut i: usize| {
        i = i.min(display.len());
        while !display.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(span.start as usize);
    let end = floor(span.end as usize).max(start);
    start..end
}

#[cfg(test)]
mod tests {
    use super::super::diagnostic::Code;
    use super::*;

    /// The `name:line:column` of every report header.
    fn header_positions(report: &str, name: &str) -> Vec<(u32, u32)> {
        let marker = format!("{name}:");
        report
            .lines()
            .filter_map(|line| {
                let at = line.find(&marker)?;
                let rest = line[at + marker.len()..].trim_end_matches(|c: char| !c.is_ascii_digit());
                let (l, c) = rest.split_once(':')?;
                Some((l.parse().ok()?, c.parse().ok()?))
            })
            .collect()
    }

    #[test]
    fn human_and_json_agree_on_every_position() {
        // every kind of line end, tabs, multi-byte and astral characters, VT/FF/NEL/LS/PS
        let src = "a\r\nb\té\rc\n😀x\u{b}y\u{c}z\u{85}w\u{2028}v\u{2029}u\r\n\r\nend\n";
        let mut offsets: Vec<usize> = (0..=src.len()).filter(|&i| src.is_char_boundary(i)).collect();
        offsets.dedup();
        let diags: Vec<_> = offsets
            .iter()
            .map(|&i| Diagnostic::error(Code::UnexpectedToken, Span::new(i, i), format!("at {i}")))
            .collect();
        let json = render_json(src, &diags);
        for (d, j) in diags.iter().zip(&json) {
            let human = render_human(src, "t.jsonata", std::slice::from_ref(d), false);
            let positions = header_positions(&human, "t.jsonata");
            assert_eq!(positions, [(j.line.unwrap(), j.column.unwrap())], "offset {}:\n{human}", d.span.start);
            assert_eq!(*j, d.to_json(src));
        }
    }

    #[test]
    fn report_shows_code_message_labels_and_hint() {
        let src = "{\"a\": 1,\n \"a\": 2}";
        let d = Diagnostic::error(Code::DuplicateKey, Span::new(10, 13), "the key \"a\" is defined twice")
            .with_label(Span::new(1, 4), "first defined here")
            .with_hint("remove one");
        let out = render_human(src, "body.jsonata", &[d], false);
        assert!(out.contains("[D1009] Error: the key \"a\" is defined twice"), "{out}");
        assert!(out.contains("body.jsonata:2:2"), "{out}");
        assert!(out.contains("first defined here"), "{out}");
        assert!(out.contains("Help: remove one"), "{out}");
        assert!(!out.contains('\u{1b}'), "no colour codes: {out}");
        let coloured =
            render_human(src, "body.jsonata", &[Diagnostic::error(Code::TooDeep, Span::new(0, 1), "x")], true);
        assert!(coloured.contains('\u{1b}'));
    }

    #[test]
    fn odd_spans_do_not_panic() {
        let src = "é";
        for (s, e) in [(0, 0), (1, 1), (0, 1), (2, 2), (5, 9), (1, 0)] {
            let d = Diagnostic::error(Code::TooDeep, Span { start: s, end: e }, "x");
            render_human(src, "t", &[d], false);
        }
        render_human("", "t", &[Diagnostic::error(Code::MissingExpression, Span::new(0, 0), "x")], false);
    }
}
