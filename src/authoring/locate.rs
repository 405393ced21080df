//! Where each problem of a config check is in the config file, as byte ranges an editor can
//! underline: a TOML syntax error at its span, a template problem of an inline template at its
//! place inside the TOML string (escapes and multi-line strings mapped by
//! [`StringPositions`]), a template problem of a template file at its `template_file` value,
//! an unknown key at the key, any other config problem at its value (or, for a missing key, at
//! the nearest table that is written).

use std::ops::Range;
use std::sync::Arc;

use crate::destination::positions::StringPositions;
use crate::destination::spans::KeySpans;
use crate::destination::{ActionKind, ConfigCode, Problem, ProblemCode, Report};

/// The places of one config text's keys and inline templates, built once per check.
#[derive(Debug)]
pub struct ProblemPlaces {
    spans: Arc<KeySpans>,
    inline: [Option<StringPositions>; 3],
    template_keys: [Option<String>; 3],
}

impl ProblemPlaces {
    /// Indexes `text`, the config as the author has it, for `report`, its check. The report
    /// may have checked a copy with a template file's edited text written inline (an open
    /// buffer): its keys still name the same tables. The report's own index serves when it
    /// checked `text` itself.
    pub fn new(text: &str, report: &Report) -> ProblemPlaces {
        let spans = if report.text == text { Arc::clone(report.spans()) } else { Arc::new(KeySpans::new(text)) };
        let mut inline: [Option<StringPositions>; 3] = Default::default();
        let mut template_keys: [Option<String>; 3] = Default::default();
        for kind in ActionKind::ALL {
            let Some(source) = &report.checked.templates[kind.index()] else { continue };
            let file_key = source.key.strip_suffix("_file").map_or(format!("{}_file", source.key), str::to_owned);
            match spans.value_span(&source.key) {
                Some((span, true)) if source.file.is_none() => {
                    inline[kind.index()] = StringPositions::new(text, span, &source.text);
                    template_keys[kind.index()] = Some(source.key.clone());
                }
                Some((_, true)) => template_keys[kind.index()] = Some(source.key.clone()),
                _ if spans.value_span(&file_key).is_some_and(|(_, exact)| exact) => {
                    template_keys[kind.index()] = Some(file_key);
                }
                _ => {}
            }
        }
        ProblemPlaces { spans, inline, template_keys }
    }

    /// Where `problem` is in the text, `None` when nothing in the file names it.
    pub fn range(&self, problem: &Problem) -> Option<Range<usize>> {
        if let Some(span) = problem.span {
            return Some(span.start as usize..span.end as usize);
        }
        if let (Some(d), Some(action)) = (&problem.template, problem.action) {
            if let Some(positions) = &self.inline[action.index()] {
                let start = positions.file_offset(d.span.start as usize);
                return Some(start..positions.file_offset(d.span.end as usize).max(start));
            }
            let key = self.template_keys[action.index()].as_deref()?;
            return self.spans.value_span(key).map(|(r, _)| r);
        }
        let key = problem.key.as_deref().filter(|k| !k.is_empty())?;
        if problem.code == ProblemCode::Config(ConfigCode::UnknownKey) {
            return self.spans.key(key).map(|(r, _)| r);
        }
        self.spans.value_span(key).map(|(r, _)| r)
    }

    /// The inline template of `action`: where each of its bytes is in the file.
    pub fn inline(&self, action: ActionKind) -> Option<&StringPositions> {
        self.inline[action.index()].as_ref()
    }

    /// The key spans of the file.
    pub fn spans(&self) -> &KeySpans {
        &self.spans
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_kind_of_problem_has_its_place() {
        let text = "[destination]\nname = \"A\"\nbase_urll = \"x\"\nbase_url = \"https://e.com\"\n\
            [destination.actions.add]\npath = \"/m\"\ntemplate = \"\"\"\n{\"a\\u00e9\": $foo(email)}\"\"\"\n\
            [destination.actions.update]\nuse_add = true\n[destination.actions.remove]\npath = \"/m\"\n\
            template_file = \"missing.jsonata\"\n[destination.fields.email]\nhash = \"sha9\"\n";
        let report = crate::destination::check_text(
            text,
            "a.toml",
            Path::new("/nonexistent"),
            &|_| None,
            crate::destination::EnvMode::Warn,
        );
        let places = ProblemPlaces::new(text, &report);
        let shown: Vec<(&str, &str)> =
            report.checked.problems.iter().filter_map(|p| Some((p.code.as_str(), &text[places.range(p)?]))).collect();
        assert!(shown.contains(&("C0101", "base_urll")), "{shown:?}");
        assert!(shown.contains(&("X0125", "$foo(")), "{shown:?}");
        assert!(shown.contains(&("C0310", "\"missing.jsonata\"")), "{shown:?}");
        assert!(shown.contains(&("C0401", "\"sha9\"")), "{shown:?}");
    }
}
