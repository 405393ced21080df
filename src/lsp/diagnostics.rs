//! Problems as the editor shows them: each at its range in the buffer (in the negotiated
//! encoding), with its code, its hint, and a link to the code's explanation when the editor was
//! given where explanations are served (`initializationOptions.explainUrl`, such as a running
//! `audience studio`'s `http://127.0.0.1:PORT/explain/`).

use lsp_types::{CodeDescription, Diagnostic, DiagnosticSeverity, NumberOrString, Uri};

use crate::template::Severity;

use super::analysis::{ConfigAnalysis, TemplateAnalysis};
use super::documents::Document;
use super::encoding::Encoding;

/// What turning problems into diagnostics needs beyond the problems.
#[derive(Clone, Debug)]
pub struct Style {
    /// The negotiated position encoding.
    pub encoding: Encoding,
    /// Where a code's explanation is: this followed by the code.
    pub explain_url: Option<String>,
}

impl Style {
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
        let href = self.explain_url.as_ref().and_then(|base| format!("{base}{code}").parse::<Uri>().ok());
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
