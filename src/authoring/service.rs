//! The authoring service: a config being edited (its templates and field settings changed in
//! memory), checked and previewed as a whole, and saved back. Every answer comes from the code
//! behind `audience check` and `audience preview` ([`destination::check_text`],
//! [`destination::preview::preview`]), so the studio and the commands never disagree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::destination::preview::{PreviewOptions, parse_records, preview};
use crate::destination::{self, ActionKind, Config, EnvMode, Preview, PreviewError, Report};
use crate::template::diagnostic::DiagnosticJson;

use super::document::{ConfigDocument, FieldSettingsText, TemplateSlot};

/// The config a new file starts from: the smallest valid one, with a commented example sync.
pub const NEW_CONFIG: &str = r#"# An audience config: see docs/config.md.
[destination]
name = "My audiences"
base_url = "https://api.example.com"

[destination.actions.add]
method = "POST"
path = "/audiences/{{connection.audienceId}}/members"
template = '''
{"members": [$$.records.{"email": email}]}
'''

[destination.actions.update]
use_add = true

[destination.actions.remove]
method = "DELETE"
path = "/audiences/{{connection.audienceId}}/members"
template = '''
{"members": [$$.records.{"email": email}]}
'''

[destination.fields.email]
required = true
normalize = "email"
hash = "sha256"

# [syncs.my_sync]
# audience_name = "My audience"
# audience_id = "1234"
# source = "sqlite://warehouse.db"
# table = "users"
# primary_key = "id"
# map = { email = "email" }
"#;

/// Environment lookups: the process environment in the studio, a map in tests.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A config file open for editing: what is on disk as last read or saved.
#[derive(Debug)]
pub struct Workspace {
    path: PathBuf,
    base_dir: PathBuf,
    document: Result<ConfigDocument, String>,
    /// The text of each action's template file (for [`TemplateSlot::File`] actions).
    files: [Option<String>; 3],
    /// Whether the config file exists yet (it is created on the first save).
    exists: bool,
}

/// The author's edits, as the page sends them: templates by action name, field settings by
/// field name (ignored for a name no template reads). What is absent is as on disk.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Draft {
    /// Template text by action name (`add`, `update`, `remove`).
    pub templates: BTreeMap<String, String>,
    /// Field settings by template field name.
    pub fields: BTreeMap<String, FieldSettingsText>,
}

/// What to preview.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PreviewRequest {
    /// `add`, `update` or `remove`.
    pub action: String,
    /// The sync supplying the connection; `None` is the first.
    pub sync: Option<String>,
    /// Sample records as JSON text (an array of objects keyed by template field); blank to
    /// generate `count`.
    pub records: Option<String>,
    /// How many sample records to generate when `records` is blank.
    pub count: usize,
}

impl Default for PreviewRequest {
    fn default() -> Self {
        PreviewRequest { action: "add".to_owned(), sync: None, records: None, count: 2 }
    }
}

/// The whole answer to one round trip.
#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    /// No error (warnings allowed): the config can be saved.
    pub valid: bool,
    /// Number of error diagnostics.
    pub errors: usize,
    /// Number of warning diagnostics.
    pub warnings: usize,
    /// Every problem, as `check --format json` gives it.
    pub diagnostics: Vec<DiagnosticJson>,
    /// The three actions, in the order add, update, remove.
    pub actions: Vec<ActionView>,
    /// The config's syncs, in file order.
    pub syncs: Vec<SyncView>,
    /// The sync the preview used.
    pub sync: Option<String>,
    /// The first request the sample records would make; `None` when there is none (see
    /// `preview_error`).
    pub preview: Option<PreviewView>,
    /// Why there is no preview.
    pub preview_error: Option<String>,
}

/// One action as the editor shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ActionView {
    /// `add`, `update` or `remove`.
    pub action: &'static str,
    /// `inline`, `file` or `use_add`.
    pub source: &'static str,
    /// The template file, relative to the config.
    pub file: Option<String>,
    /// The template text (add's for `use_add`).
    pub template: String,
    /// The template fields with their settings as written.
    pub fields: Vec<FieldView>,
}

/// A template field and its settings.
#[derive(Clone, Debug, Serialize)]
pub struct FieldView {
    /// The template field's name.
    pub name: String,
    /// Its settings as written (defaults when absent).
    #[serde(flatten)]
    pub settings: FieldSettingsText,
}

/// A sync's connection values, secrets masked.
#[derive(Clone, Debug, Serialize)]
pub struct SyncView {
    /// The sync's name.
    pub name: String,
    /// The audience's display name.
    pub audience_name: String,
    /// The audience's id in the API.
    pub audience_id: String,
    /// Whether PII fields are hashed before they are sent.
    pub hash_pii: bool,
}

/// The preview with what it is measured against.
#[derive(Clone, Debug, Serialize)]
pub struct PreviewView {
    /// The request: method, URL, headers and body, secrets masked.
    #[serde(flatten)]
    pub preview: Preview,
    /// The body indented for reading.
    pub body_pretty: Option<String>,
    /// Bytes of the body.
    pub body_bytes: usize,
    /// Records in the body.
    pub records: usize,
    /// The action's `batch_size`: at most this many records per request.
    pub batch_size: usize,
    /// The action's `max_request_bytes`, if set: the cap on a request body, in bytes.
    pub max_request_bytes: Option<u64>,
}

/// The outcome of a save.
#[derive(Clone, Debug, Serialize)]
pub struct SaveOutcome {
    /// Whether the config file was written.
    pub saved: bool,
    /// For the page's status line.
    pub status: String,
    /// The analysis of the draft, saved or not, as [`Workspace::analyse`] would give it.
    pub analysis: Analysis,
}

/// The draft applied: the text to save, the text to check, the template files to write.
struct Applied {
    save: ConfigDocument,
    check: ConfigDocument,
    check_text: String,
    files: Vec<(PathBuf, String)>,
    templates: [String; 3],
}

impl Workspace {
    /// Opens `path`; a file that does not exist starts from [`NEW_CONFIG`].
    pub fn open(path: &Path) -> Result<Workspace, String> {
        let (text, exists) = match std::fs::read_to_string(path) {
            Ok(text) => (text, true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (NEW_CONFIG.to_owned(), false),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let base_dir = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let base_dir = if base_dir.as_os_str().is_empty() { PathBuf::from(".") } else { base_dir };
        let mut workspace = Workspace {
            path: path.to_owned(),
            base_dir,
            document: Err(String::new()),
            files: Default::default(),
            exists,
        };
        workspace.load(&text);
        Ok(workspace)
    }

    fn load(&mut self, text: &str) {
        self.document = ConfigDocument::parse(text);
        self.files = Default::default();
        if let Ok(doc) = &self.document {
            for kind in ActionKind::ALL {
                if let TemplateSlot::File(file) = doc.slot(kind) {
                    // A missing file is created on save; until then the editor starts empty.
                    self.files[kind.index()] =
                        Some(std::fs::read_to_string(self.base_dir.join(file)).unwrap_or_default());
                }
            }
        }
    }

    /// The config file being edited.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the config file exists yet.
    pub fn exists(&self) -> bool {
        self.exists
    }

    fn apply(&self, draft: &Draft) -> Result<Applied, String> {
        let doc = self
            .document
            .as_ref()
            .map_err(|e| format!("the config is not valid TOML ({e}): fix it in a text editor"))?;
        let mut save = doc.clone();
        let mut check = doc.clone();
        let mut files = Vec::new();
        let mut templates: [String; 3] = Default::default();
        for kind in ActionKind::ALL {
            let slot = doc.slot(kind);
            let current = match &slot {
                TemplateSlot::File(_) => self.files[kind.index()].clone().unwrap_or_default(),
                _ => doc.inline_template(kind).unwrap_or_default().to_owned(),
            };
            let edited = draft.templates.get(kind.name());
            let text = edited.cloned().unwrap_or(current.clone());
            templates[kind.index()] = text.clone();
            match slot {
                TemplateSlot::UseAdd => {}
                TemplateSlot::File(file) => {
                    check.set_inline_template(kind, &text)?;
                    if file.contains("${") {
                        if edited.is_some_and(|t| *t != current) {
                            return Err(format!(
                                "{kind}'s template_file {file} names an environment variable: edit that file in a text editor"
                            ));
                        }
                    } else {
                        files.push((self.base_dir.join(file), text));
                    }
                }
                TemplateSlot::Inline => {
                    if edited.is_some_and(|t| *t != current) {
                        save.set_inline_template(kind, &text)?;
                        check.set_inline_template(kind, &text)?;
                    }
                }
            }
        }
        // Settings are written only for fields a template reads: the page shows no other, and
        // an edit left over from a field since deleted from its template must not add a table.
        let read: std::collections::BTreeSet<String> =
            templates.iter().flat_map(|t| crate::template::check_template(t).fields).map(|f| f.name).collect();
        for (name, settings) in draft.fields.iter().filter(|(name, _)| read.contains(*name)) {
            save.set_field(name, settings)?;
            check.set_field(name, settings)?;
        }
        let check_text = check.text();
        Ok(Applied { save, check, check_text, files, templates })
    }

    /// Checks `text` as the config file, with unset variables as `mode` treats them.
    fn check(&self, text: &str, lookup: Lookup<'_>, mode: EnvMode) -> Report {
        destination::check_text(text, &self.path.display().to_string(), &self.base_dir, lookup, mode)
    }

    /// Checks the config with `draft` applied and previews `request`.
    pub fn analyse(&self, draft: &Draft, request: &PreviewRequest, lookup: Lookup<'_>) -> Analysis {
        match self.apply(draft) {
            Ok(applied) => self.analyse_applied(&applied, request, lookup),
            Err(message) => unusable(message),
        }
    }

    fn analyse_applied(&self, applied: &Applied, request: &PreviewRequest, lookup: Lookup<'_>) -> Analysis {
        let report = self.check(&applied.check_text, lookup, EnvMode::Warn);
        let json = report.to_json();
        let fields = [&json.fields.add, &json.fields.update, &json.fields.remove];
        let actions = ActionKind::ALL
            .iter()
            .map(|&kind| {
                let slot = self.document.as_ref().map_or(TemplateSlot::Inline, |d| d.slot(kind));
                let (source, file) = match slot {
                    TemplateSlot::Inline => ("inline", None),
                    TemplateSlot::File(f) => ("file", Some(f)),
                    TemplateSlot::UseAdd => ("use_add", None),
                };
                let shown = if source == "use_add" { ActionKind::Add } else { kind };
                ActionView {
                    action: kind.name(),
                    source,
                    file,
                    template: applied.templates[shown.index()].clone(),
                    fields: fields[kind.index()]
                        .iter()
                        .map(|name| FieldView { name: name.clone(), settings: applied.check.field(name) })
                        .collect(),
                }
            })
            .collect();
        let (syncs, chosen, preview, preview_error) = match &report.checked.config {
            Some(config) => {
                let syncs = config
                    .syncs
                    .iter()
                    .map(|s| SyncView {
                        name: s.name.clone(),
                        audience_name: s.audience_name.shown().to_owned(),
                        audience_id: s.audience_id.shown().to_owned(),
                        hash_pii: s.hash_pii,
                    })
                    .collect();
                let chosen = request.sync.clone().or_else(|| config.syncs.first().map(|s| s.name.clone()));
                let (preview, error) = match preview_of(config, request, chosen.clone()) {
                    Ok(p) => (Some(p), None),
                    Err(e) => (None, Some(e)),
                };
                (syncs, chosen, preview, error)
            }
            None => (Vec::new(), None, None, Some("no preview while the config has errors".to_owned())),
        };
        Analysis {
            valid: json.valid,
            errors: report.errors(),
            warnings: report.warnings(),
            diagnostics: json.diagnostics,
            actions,
            syncs,
            sync: chosen,
            preview,
            preview_error,
        }
    }

    /// The config with `draft` applied, checked as the commands that read the warehouse check
    /// it (`sync --dry-run`, `logs`: an unset variable of a sync's `source` is an error), with
    /// each action's template text (for the configuration fingerprint); or why there is none.
    pub fn warehouse_config(&self, draft: &Draft, lookup: Lookup<'_>) -> Result<(Config, [Option<String>; 3]), String> {
        let applied = self.apply(draft)?;
        let report = self.check(&applied.check_text, lookup, EnvMode::Warehouse);
        let templates = report.checked.templates.clone().map(|t| t.map(|t| t.text));
        match report.checked.config {
            Some(config) => Ok((config, templates)),
            None => {
                let json = report.to_json();
                let named: Vec<String> = json
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity == crate::template::Severity::Error)
                    .map(|d| match &d.key {
                        Some(key) => format!("{} at {key}: {}", d.code, d.message),
                        None => format!("{}: {}", d.code, d.message),
                    })
                    .collect();
                Err(format!("the config has errors: {}", named.join("; ")))
            }
        }
    }

    /// Saves the config with `draft` applied, unless it has an error: template files first,
    /// then the config, each written whole to a temporary file and renamed over the old one.
    pub fn save(&mut self, draft: &Draft, request: &PreviewRequest, lookup: Lookup<'_>) -> SaveOutcome {
        let applied = match self.apply(draft) {
            Ok(applied) => applied,
            Err(message) => {
                return SaveOutcome {
                    saved: false,
                    status: format!("not saved: {message}"),
                    analysis: unusable(message),
                };
            }
        };
        let analysis = self.analyse_applied(&applied, request, lookup);
        if !analysis.valid {
            let n = analysis.errors;
            // The errors named, so that the status alone says what blocks the save.
            let named: Vec<String> = analysis
                .diagnostics
                .iter()
                .filter(|d| d.severity == crate::template::Severity::Error)
                .map(|d| match (&d.action, d.line, d.column, &d.key) {
                    (Some(action), Some(line), Some(column), _) => format!("{} in {action} at {line}:{column}", d.code),
                    (_, _, _, Some(key)) => format!("{} at {key}", d.code),
                    _ => d.code.to_owned(),
                })
                .collect();
            let status =
                format!("not saved: {n} error{} to fix first ({})", if n == 1 { "" } else { "s" }, named.join(", "));
            return SaveOutcome { saved: false, status, analysis };
        }
        for (path, text) in &applied.files {
            if let Err(e) = write_whole(path, text) {
                return SaveOutcome {
                    saved: false,
                    status: format!("not saved: cannot write {}: {e}", path.display()),
                    analysis,
                };
            }
        }
        let save_text = applied.save.text();
        if let Err(e) = write_whole(&self.path, &save_text) {
            return SaveOutcome {
                saved: false,
                status: format!("not saved: cannot write {}: {e}", self.path.display()),
                analysis,
            };
        }
        self.exists = true;
        self.load(&save_text);
        let status = format!(
            "saved {} ({} warning{})",
            self.path.display(),
            analysis.warnings,
            if analysis.warnings == 1 { "" } else { "s" }
        );
        SaveOutcome { saved: true, status, analysis }
    }
}

/// The preview of `request` with the chosen sync, or why there is none (secrets masked).
fn preview_of(config: &Config, request: &PreviewRequest, sync: Option<String>) -> Result<PreviewView, String> {
    let action: ActionKind = request.action.parse()?;
    let records = match request.records.as_deref() {
        Some(text) if !text.trim().is_empty() => {
            Some(parse_records(text).map_err(|e| e.replace("the records file", "the sample records"))?)
        }
        _ => None,
    };
    let options = PreviewOptions { action, sync, records, count: request.count.min(1000), show_secrets: false };
    let p = preview(config, &options).map_err(|e| match e {
        PreviewError::Render(d) => config
            .redactor
            .redact(&format!("the {action} template failed on the samples: [{}] {}", d.code, d.message))
            .into_owned(),
        e => config.redactor.redact(&e.to_string()).into_owned(),
    })?;
    let body_pretty = p.body.as_ref().and_then(|b| serde_json::to_string_pretty(b).ok());
    let body_bytes = p.body_text.as_ref().map_or(0, String::len);
    let samples = options.records.as_ref().map_or(options.count, Vec::len);
    let act = config.destination.action(action);
    Ok(PreviewView {
        records: if p.body.is_some() { samples.saturating_sub(p.rejected.len()).min(act.batch_size) } else { 0 },
        batch_size: act.batch_size,
        max_request_bytes: config.destination.max_request_bytes,
        body_pretty,
        body_bytes,
        preview: p,
    })
}

fn unusable(message: String) -> Analysis {
    Analysis {
        valid: false,
        errors: 1,
        warnings: 0,
        diagnostics: Vec::new(),
        actions: Vec::new(),
        syncs: Vec::new(),
        sync: None,
        preview: None,
        preview_error: Some(message),
    }
}

/// Writes `text` to a sibling temporary file and renames it over `path`, so that a reader
/// never sees half a file.
fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.studio-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("audience-authoring-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn draft(action: &str, template: &str) -> Draft {
        Draft { templates: [(action.to_owned(), template.to_owned())].into(), ..Draft::default() }
    }

    #[test]
    fn a_new_file_starts_valid_and_is_created_on_save() {
        let path = folder("new").join("a.toml");
        let mut w = Workspace::open(&path).unwrap();
        assert!(!w.exists());
        let request = PreviewRequest::default();
        let a = w.analyse(&Draft::default(), &request, &no_env);
        assert!(a.valid && a.errors == 0, "{:?}", a.diagnostics);
        assert_eq!(a.actions.iter().map(|v| v.source).collect::<Vec<_>>(), ["inline", "use_add", "inline"]);
        assert!(a.preview.as_ref().is_some_and(|p| p.preview.body_text.is_some()));
        let saved = w.save(&Draft::default(), &request, &no_env);
        assert!(saved.saved, "{}", saved.status);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), NEW_CONFIG);
    }

    #[test]
    fn an_edit_is_checked_where_it_is_and_refused_on_save() {
        let path = folder("edit").join("a.toml");
        std::fs::write(&path, NEW_CONFIG).unwrap();
        let mut w = Workspace::open(&path).unwrap();
        let bad = draft("remove", "{\"m\": $foo(email)}");
        let a = w.analyse(&bad, &PreviewRequest::default(), &no_env);
        let d: Vec<_> = a.diagnostics.iter().map(|d| (d.code.as_str(), d.action.as_deref(), d.start, d.end)).collect();
        // The template's error at its range in that template; the config's warning (no sync
        // yet) by its key.
        assert_eq!(d, [("X0125", Some("remove"), Some(6), Some(11)), ("C0511", None, None, None)]);
        assert!(a.preview.is_none() && a.preview_error.is_some());
        let outcome = w.save(&bad, &PreviewRequest::default(), &no_env);
        assert!(!outcome.saved, "{}", outcome.status);
        assert_eq!(outcome.status, "not saved: 1 error to fix first (X0125 in remove at 1:7)");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), NEW_CONFIG);
    }

    #[test]
    fn settings_of_a_field_no_template_reads_are_not_written() {
        let path = folder("fields").join("a.toml");
        std::fs::write(&path, NEW_CONFIG).unwrap();
        let mut w = Workspace::open(&path).unwrap();
        let settings =
            FieldSettingsText { required: true, hash: "none".into(), normalize: "trim".into(), ..Default::default() };
        let mut edits = draft("add", "{\"members\": [$$.records.{\"email\": email, \"zip\": zip}]}");
        edits.fields.insert("zip".into(), settings.clone());
        edits.fields.insert("gone".into(), settings);
        let outcome = w.save(&edits, &PreviewRequest::default(), &no_env);
        assert!(outcome.saved, "{}", outcome.status);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[destination.fields.zip]\nrequired = true\nnormalize = \"trim\"\n"), "{text}");
        assert!(!text.contains("gone"), "{text}");
    }
}
