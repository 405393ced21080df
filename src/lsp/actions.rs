//! Code actions: a quick fix only where the fix is certain, a misspelt key one edit away from
//! exactly one key the table accepts (`base_urll` → `base_url`).

use std::collections::HashMap;

use lsp_types::{CodeAction, CodeActionKind, CodeActionOrCommand, Range, TextEdit, Uri, WorkspaceEdit};
use serde_json::Value;

use crate::destination::load::edit_distance;
use crate::destination::{ConfigCode, ProblemCode};

use super::analysis::ConfigAnalysis;
use super::documents::Document;
use super::encoding::Encoding;
use super::keys;

/// The quick fixes for the problems of `analysis` that overlap bytes `wanted` of the buffer.
pub fn quick_fixes(
    uri: &Uri,
    doc: &Document,
    analysis: &ConfigAnalysis,
    wanted: std::ops::Range<usize>,
    schema: &Value,
    encoding: Encoding,
) -> Vec<CodeActionOrCommand> {
    let mut out = Vec::new();
    for problem in &analysis.report.checked.problems {
        if problem.code != ProblemCode::Config(ConfigCode::UnknownKey) {
            continue;
        }
        let (Some(key), Some(range)) = (problem.key.as_deref(), analysis.places.range(problem)) else { continue };
        if range.end < wanted.start || range.start > wanted.end {
            continue;
        }
        let path = keys::split(key);
        let Some((name, parent)) = path.split_last() else { continue };
        // The key as written must be the name (not a quoted form the fix would change).
        if doc.text.get(range.clone()) != Some(name.as_str()) {
            continue;
        }
        let close: Vec<&str> =
            keys::keys(schema, parent).into_iter().map(|(k, _)| k).filter(|k| edit_distance(name, k) == 1).collect();
        let [fix] = close[..] else { continue };
        let edit_range: Range = doc.lines.range(&doc.text, range.start, range.end, encoding);
        let edit = WorkspaceEdit {
            changes: Some(HashMap::from([(uri.clone(), vec![TextEdit::new(edit_range, fix.to_owned())])])),
            ..WorkspaceEdit::default()
        };
        out.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: format!("Replace `{name}` with `{fix}`"),
            kind: Some(CodeActionKind::QUICKFIX),
            edit: Some(edit),
            is_preferred: Some(true),
            ..CodeAction::default()
        }));
    }
    out
}
