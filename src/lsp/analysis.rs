//! What the server knows of a buffer: a config (any TOML file with a `[destination]` table)
//! checked by `audience check`'s code with the places of its problems, or a template checked
//! alone with the nearest `audience.toml` beside it for its fields. Built on demand from the
//! buffers (open buffers win over the disk) and cached by version.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use crate::authoring::{ConfigDocument, ProblemPlaces, TemplateSlot};
use crate::destination::{self, ActionKind, EnvMode, Report};
use crate::template::{Checked, check_template};

use super::documents::Documents;

/// What kind of file a buffer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An `audience` config.
    Config,
    /// A `.jsonata` template.
    Template,
    /// Anything else: the server says nothing about it.
    Other,
}

/// The kind of the buffer at `path` with `text`.
pub fn kind_of(path: &Path, text: &str) -> Kind {
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonata") => Kind::Template,
        Some("toml") if is_config(text) => Kind::Config,
        _ => Kind::Other,
    }
}

/// Whether TOML `text` has a `[destination]` table: a line that opens it (`[destination]`,
/// `[destination.…]`) or sets a key in it (`destination.…`, `destination = {…}`). Read from the
/// lines, not parsed, so that a file with a syntax error still counts (and its error shows),
/// and so that telling costs nothing per edit.
fn is_config(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        let Some(rest) = l.strip_prefix("[destination").or_else(|| l.strip_prefix("destination")) else {
            return false;
        };
        let rest = rest.trim_start();
        rest.starts_with([']', '.', '='])
    })
}

/// What the server knows of a buffer.
#[derive(Debug)]
pub enum Analysis {
    /// A config, checked.
    Config(ConfigAnalysis),
    /// A template, checked, with its config.
    Template(TemplateAnalysis),
}

/// A config as checked.
#[derive(Debug)]
pub struct ConfigAnalysis {
    /// The config's text as the author has it.
    pub text: String,
    /// The check (of a copy with open template files written inline, when any is open).
    pub report: Report,
    /// The places of the problems in `text`.
    pub places: ProblemPlaces,
    /// The document (`None` when it is not TOML), parsed on first use: diagnostics need only
    /// the check.
    doc: OnceCell<Option<ConfigDocument>>,
}

impl ConfigAnalysis {
    /// Checks the config at `path` whose text is `text`; a `template_file` open in the editor is
    /// checked as the buffer has it, any other is read from disk.
    pub fn new(path: &Path, text: &str, docs: &Documents) -> ConfigAnalysis {
        let base_dir = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let lookup = |name: &str| std::env::var(name).ok();
        let check =
            |text: &str| destination::check_text(text, &path.display().to_string(), &base_dir, &lookup, EnvMode::Warn);
        let mut report = check(text);
        let doc = OnceCell::new();
        // A template file open in the editor: checked again with the buffer written inline (the
        // studio's way), the document parsed for that alone.
        let open = |kind: ActionKind| {
            let file = report.checked.templates[kind.index()].as_ref()?.file.as_ref()?;
            let file = base_dir.join(file);
            docs.is_open(&file).then(|| docs.text_of(&file)).flatten()
        };
        let buffers: Vec<(ActionKind, String)> =
            ActionKind::ALL.into_iter().filter_map(|kind| Some((kind, open(kind)?))).collect();
        if !buffers.is_empty()
            && let Ok(parsed) = ConfigDocument::parse(text)
        {
            let mut copy = parsed.clone();
            for (kind, buffer) in &buffers {
                if matches!(parsed.slot(*kind), TemplateSlot::File(_)) {
                    let _ = copy.set_inline_template(*kind, buffer);
                }
            }
            report = check(&copy.text());
            let _ = doc.set(Some(parsed));
        }
        let places = ProblemPlaces::new(text, &report);
        ConfigAnalysis { text: text.to_owned(), report, places, doc }
    }

    /// The document, when the text is TOML.
    pub fn doc(&self) -> Option<&ConfigDocument> {
        self.doc.get_or_init(|| ConfigDocument::parse(&self.text).ok()).as_ref()
    }

    /// Every template field any action reads and every `[destination.fields.*]` table, once
    /// each, in that order.
    pub fn field_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let tables = self.doc().map(ConfigDocument::field_tables).unwrap_or_default();
        for name in self.report.checked.fields.iter().flatten().chain(&tables) {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    /// The actions whose templates read field `name`.
    pub fn actions_reading(&self, name: &str) -> Vec<ActionKind> {
        ActionKind::ALL
            .into_iter()
            .filter(|k| self.report.checked.fields[k.index()].iter().any(|f| f == name))
            .collect()
    }

    /// The inline template of the action whose string holds file offset `offset`, with the
    /// offset in the template's text.
    pub fn template_at(&self, offset: usize) -> Option<(ActionKind, &str, usize)> {
        ActionKind::ALL.into_iter().find_map(|kind| {
            let positions = self.places.inline(kind)?;
            let source = self.report.checked.templates[kind.index()].as_ref()?;
            let len = source.text.len();
            if offset < positions.file_offset(0) || offset > positions.file_offset(len) {
                return None;
            }
            // File offsets grow with decoded offsets: the first byte at or after `offset`.
            let (mut lo, mut hi) = (0, len);
            while lo < hi {
                let mid = (lo + hi) / 2;
                if positions.file_offset(mid) < offset {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            Some((kind, source.text.as_str(), lo))
        })
    }
}

/// A template buffer as checked, with the config it belongs with.
#[derive(Debug)]
pub struct TemplateAnalysis {
    /// The check of the template alone.
    pub checked: Checked,
    /// The nearest `audience.toml`, in the template's folder or above, checked.
    pub config: Option<(PathBuf, ConfigAnalysis)>,
}

impl TemplateAnalysis {
    /// Checks template `text` at `path`.
    pub fn new(path: &Path, text: &str, docs: &Documents) -> TemplateAnalysis {
        let checked = check_template(text);
        let config = path.ancestors().skip(1).map(|dir| dir.join("audience.toml")).find_map(|config| {
            let text = docs.text_of(&config)?;
            let analysis = ConfigAnalysis::new(&config, &text, docs);
            Some((config, analysis))
        });
        TemplateAnalysis { checked, config }
    }
}

/// The identifier (letters, digits, `_`) around byte `offset` of `text` (inside a character:
/// that character), with its range.
pub fn word_at(text: &str, offset: usize) -> Option<(std::ops::Range<usize>, &str)> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let start = text[..offset].char_indices().rev().take_while(|&(_, c)| is_word(c)).last().map_or(offset, |(i, _)| i);
    let end = text[offset..].char_indices().find(|&(_, c)| !is_word(c)).map_or(text.len(), |(i, _)| offset + i);
    (start < end).then(|| (start..end, &text[start..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toml_file_is_a_config_when_it_has_a_destination_table() {
        let toml = Path::new("x.toml");
        assert_eq!(kind_of(toml, "[destination]\nname = 1\n"), Kind::Config);
        assert_eq!(kind_of(toml, "  [destination.actions.add]\n"), Kind::Config);
        assert_eq!(kind_of(toml, "destination.name = \"a\"\n"), Kind::Config);
        assert_eq!(kind_of(toml, "destination = { name = \"a\" }\n"), Kind::Config);
        // Not TOML yet, still a config: its syntax error shows.
        assert_eq!(kind_of(toml, "[destination]\nname = \n"), Kind::Config);
        assert_eq!(kind_of(toml, "[package]\ndestinations = 1\n[destination_x]\n"), Kind::Other);
        assert_eq!(kind_of(Path::new("x.json"), "[destination]\n"), Kind::Other);
        assert_eq!(kind_of(Path::new("a.jsonata"), ""), Kind::Template);
    }

    #[test]
    fn words_around_an_offset() {
        assert_eq!(word_at("$$.records.{\"e\": email}", 19), Some((17..22, "email")));
        assert_eq!(word_at("a é_b c", 3), Some((2..6, "é_b")));
        assert_eq!(word_at("a  b", 2), None);
    }
}
