//! Completion: in a template (a `.jsonata` buffer, or inside a config's inline template) the
//! inputs a template may read and the field names the config knows; elsewhere in a config the
//! keys and values its schema allows, and field names in `map`, `static` and
//! `[destination.fields.*]`.

use lsp_types::{CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, TextEdit};

use super::documents::Document;
use super::encoding::Encoding;
use super::keys::{self, Place};

/// What a template may read besides its fields, with what each is.
pub const INPUTS: [(&str, &str); 4] = [
    ("$$.records", "The batch's records: an array of objects keyed by template field."),
    ("$$.connection.audienceId", "The audience's id in the API (the sync's `audience_id`)."),
    ("$$.connection.audienceName", "The audience's display name (the sync's `audience_name`)."),
    ("$number", "`$number(x)`: a string of digits as a JSON number; the one function templates may call."),
];

/// The items at byte `offset` of a template, `text` being the buffer it is written in (a
/// template file, or the config holding it inline): `fields` are the names the config knows.
pub fn template(doc: &Document, offset: usize, fields: &[String], encoding: Encoding) -> Vec<CompletionItem> {
    let text = &doc.text;
    let is_path = |c: char| c.is_alphanumeric() || c == '_' || c == '$' || c == '.';
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let start_of = |pred: &dyn Fn(char) -> bool| {
        text[..offset].char_indices().rev().take_while(|&(_, c)| pred(c)).last().map_or(offset, |(i, _)| i)
    };
    let path_start = start_of(&is_path);
    let word_start = start_of(&is_word);
    let typed = &text[path_start..offset];
    let edit = |start: usize, label: &str| {
        Some(CompletionTextEdit::Edit(TextEdit::new(doc.lines.range(text, start, offset, encoding), label.to_owned())))
    };
    let mut items = Vec::new();
    if typed.is_empty() || (typed.starts_with('$') && !typed.starts_with("$$.records.")) {
        for (label, about) in INPUTS {
            items.push(CompletionItem {
                label: label.to_owned(),
                kind: Some(if label == "$number" {
                    CompletionItemKind::FUNCTION
                } else {
                    CompletionItemKind::VARIABLE
                }),
                documentation: Some(Documentation::String(about.to_owned())),
                text_edit: edit(path_start, label),
                ..CompletionItem::default()
            });
        }
    }
    if !typed.starts_with('$') || typed.starts_with("$$.records.") {
        for name in fields {
            items.push(CompletionItem {
                label: name.clone(),
                kind: Some(CompletionItemKind::FIELD),
                detail: Some("template field".to_owned()),
                text_edit: edit(word_start, name),
                ..CompletionItem::default()
            });
        }
    }
    items
}

/// The items at byte `offset` of config `text`, outside its templates; `fields` are the field
/// names the config knows.
pub fn config(text: &str, offset: usize, fields: &[String], schema: &serde_json::Value) -> Vec<CompletionItem> {
    let field = |name: &String| CompletionItem {
        label: name.clone(),
        kind: Some(CompletionItemKind::FIELD),
        detail: Some("template field".to_owned()),
        ..CompletionItem::default()
    };
    match keys::place(text, offset) {
        Place::Header(path) if path == ["destination", "fields"] => fields.iter().map(field).collect(),
        Place::Header(path) => keys::keys(schema, &path)
            .into_iter()
            .filter(|(key, _)| {
                keys::node(schema, &[path.clone(), vec![key.to_string()]].concat()).is_some_and(is_table)
            })
            .map(|(key, about)| item(key, about, CompletionItemKind::MODULE))
            .collect(),
        Place::Key(table) if table.len() == 3 && table[0] == "syncs" && (table[2] == "map" || table[2] == "static") => {
            fields.iter().map(field).collect()
        }
        Place::Key(table) => keys::keys(schema, &table)
            .into_iter()
            .map(|(key, about)| item(key, about, CompletionItemKind::PROPERTY))
            .collect(),
        Place::Value(path) => keys::values(schema, &path)
            .into_iter()
            .map(|value| CompletionItem {
                label: value,
                kind: Some(CompletionItemKind::VALUE),
                ..CompletionItem::default()
            })
            .collect(),
    }
}

fn is_table(node: &serde_json::Value) -> bool {
    node.get("type").and_then(serde_json::Value::as_str) == Some("object")
}

fn item(label: &str, about: &str, kind: CompletionItemKind) -> CompletionItem {
    CompletionItem {
        label: label.to_owned(),
        kind: Some(kind),
        documentation: (!about.is_empty()).then(|| Documentation::String(about.to_owned())),
        ..CompletionItem::default()
    }
}
