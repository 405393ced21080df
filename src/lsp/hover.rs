//! Hover: on a problem, its code's explanation from the docs; on a template input
//! (`$$.records`, `$$.connection.*`, `$number`), what it is; on a template field, its settings,
//! the actions that read it and how each sync supplies it.

use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};

use crate::authoring::ConfigDocument;

use super::analysis::{ConfigAnalysis, word_at};
use super::completion::INPUTS;

/// What a word in a template is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Construct {
    /// One of [`INPUTS`], by index.
    Input(usize),
    /// A name that may be a template field (the caller checks it is one).
    Field(String),
}

/// The construct at byte `offset` of template `text`, with its range in `text`.
pub fn construct_at(text: &str, offset: usize) -> Option<(std::ops::Range<usize>, Construct)> {
    let (range, word) = word_at(text, offset)?;
    let before = &text[..range.start];
    let input = |name: &str| INPUTS.iter().position(|(n, _)| *n == name).map(Construct::Input);
    let construct = match word {
        "number" if before.ends_with('$') => input("$number"),
        "records" if before.ends_with("$$.") => input("$$.records"),
        "audienceId" if before.ends_with("$$.connection.") => input("$$.connection.audienceId"),
        "audienceName" if before.ends_with("$$.connection.") => input("$$.connection.audienceName"),
        _ if before.ends_with(['$', '"', '`']) => None,
        _ if word.starts_with(|c: char| c.is_ascii_digit()) => None,
        _ => Some(Construct::Field(word.to_owned())),
    }?;
    Some((range, construct))
}

/// Markdown on an input.
pub fn input(index: usize) -> String {
    let (name, about) = INPUTS[index];
    format!("`{name}`\n\n{about}")
}

/// Markdown on field `name` of `config`, `None` when neither a template nor a fields table
/// names it.
pub fn field(config: &ConfigAnalysis, name: &str) -> Option<String> {
    if !config.field_names().iter().any(|f| f == name) {
        return None;
    }
    let doc = config.doc()?;
    let settings = doc.field(name);
    let actions: Vec<&str> = config.actions_reading(name).iter().map(|a| a.name()).collect();
    let mut out = format!(
        "template field `{name}`\n\n- required: {}\n- static: {}\n- normalize: {}\n- hash: {}\n\nread by: {}\n",
        settings.required,
        settings.is_static,
        settings.normalize,
        settings.hash,
        if actions.is_empty() { "no template that checks clean".to_owned() } else { actions.join(", ") }
    );
    let syncs = ConfigDocument::sync_supply(doc, name);
    if syncs.is_empty() {
        out.push_str("\nno sync yet\n");
    }
    for (sync, how) in syncs {
        out.push_str(&format!("\n- sync `{sync}`: {}", how.as_deref().unwrap_or("not mapped")));
    }
    Some(out)
}

/// Markdown on code `code`: what the docs say of it.
pub fn code(code: &str) -> String {
    let mut out = format!("**{code}**\n");
    let mentions = crate::studio::explain::mentions(code);
    if mentions.is_empty() {
        out.push_str("\nThe docs do not mention this code yet.\n");
    }
    for (file, heading, line) in mentions.into_iter().take(6) {
        out.push_str(&format!("\n{file}, {heading}:\n\n{line}\n"));
    }
    out
}

/// A hover of `markdown` over `range`.
pub fn markdown(markdown: String, range: Option<lsp_types::Range>) -> Hover {
    Hover { contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: markdown }), range }
}
