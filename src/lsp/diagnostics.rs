//! Problems as the editor shows them: each at its range in the buffer (in the negotiated
//! encoding), with its code, its hint, and a link to the code's explanation: where the editor
//! was told explanations are served (`initializationOptions.explainUrl`, such as a running
//! `audience studio`'s `http://127.0.0.1:PORT/explain/`), else the line of the user docs
//! (`docs/templates.md`, `docs/config.md`) that first names the code, when the binary runs
//! beside the sources it was built from.

use std::path::{Path, PathBuf};

use lsp_types::{CodeDescription, Diagnostic, DiagnosticSeverity, NumberOrString, Uri};

use crate::template::Severity;

use super::analysis::{ConfigAnalysis, TemplateAnalysis};
use super::documents::{Document, uri_of};
use super::encoding::Encoding;

/// What turning problems into diagnostics needs beyond the problems.
#[derive(Clone, Debug)]
pub struct Style {
    /// The negotiated position encoding.
    pub encoding: Encoding,
    /// Where a code's explanation is: this followed by the code.
    pub explain_url: Option<String>,
    /// The user docs' paths and texts, when they are on this machine.
    pub docs: Vec<(PathBuf, String)>,
}

impl Style {
    /// The user docs beside the sources the binary was built from, when they are there.
    pub fn local_docs() -> Vec<(PathBuf, String)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        ["templates.md", "config.md"]
            .into_iter()
            .filter_map(|name| {
                let path = dir.join(name);
                Some((path.clone(), std::fs::read_to_string(path).ok()?))
            })
            .collect()
    }

    /// The link to `code`'s explanation.
    fn href(&self, code: &str) -> Option<Uri> {
        if let Some(base) = &self.explain_url {
            return format!("{base}{code}").parse().ok();
        }
        let config_code = code.starts_with('C');
        let (path, text) = self.docs.iter().find(|(path, _)| path.ends_with("config.md") == config_code)?;
        let line = text.lines().position(|l| l.contains(code))? + 1;
        format!("{}#L{line}", uri_of(path)?.as_str()).parse().ok()
    }

    fn diagnostic(
        &self,
        range: lsp_types::Range,
        severity: Severity,
        code: &str,
        message: &str,
        hint: Option<&str>,
    ) -> Diagnostic {
        let message = match hint {
            Some(hint) => format!("{message}\nhint: {hint}"),
            None => message.to_owned(),
        };
        let href = self.href(code);
        Diagnostic {
            range,
            severity: Some(match severity {
                Severity::Error => DiagnosticSeverity::ERROR,
                Severity::Warning => DiagnosticSeverity::WARNING,
            }),
            code: Some(NumberOrString::String(code.to_owned())),
            code_description: href.map(|href| CodeDescription { href }),
            source: Some("audience".to_owned()),
            message,
            ..Diagnostic::default()
        }
    }

    /// The problems of a config buffer; one that nothing in the file names is shown on the
    /// first line.
    pub fn config(&self, doc: &Document, analysis: &ConfigAnalysis) -> Vec<Diagnostic> {
        analysis
            .report
            .checked
            .problems
            .iter()
            .map(|p| {
                let (start, end) = analysis.places.range(p).map_or((0, 0), |r| (r.start, r.end));
                let range = doc.lines.range(&doc.text, start, end, self.encoding);
                let message = match p.action {
                    Some(action) if p.template.is_some() => format!("{action} template: {}", p.message),
                    _ => p.message.clone(),
                };
                self.diagnostic(range, p.severity, p.code.as_str(), &message, p.hint.as_deref())
            })
            .collect()
    }

    /// The problems of a template buffer.
    pub fn template(&self, doc: &Document, analysis: &TemplateAnalysis) -> Vec<Diagnostic> {
        analysis
            .checked
            .diagnostics
            .iter()
            .map(|d| {
                let range = doc.lines.range(&doc.text, d.span.start as usize, d.span.end as usize, self.encoding);
                self.diagnostic(range, d.severity, d.code.as_str(), &d.message, d.hint.as_deref())
            })
            .collect()
    }
}
