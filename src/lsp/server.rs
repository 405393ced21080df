//! The server loop: messages read on a thread of their own, handled one at a time on this one;
//! requests answered at once from the buffers, diagnostics published once edits pause
//! ([`DEBOUNCE`]) or have gone on for [`MAX_WAIT`], so that typing is never held up by a check.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionParams, CodeActionProviderCapability, CompletionOptions,
    CompletionParams, CompletionResponse, DidChangeTextDocumentParams, DidCloseTextDocumentParams,
    DidOpenTextDocumentParams, GotoDefinitionParams, GotoDefinitionResponse, HoverParams, HoverProviderCapability,
    InitializeParams, InitializeResult, OneOf, Position, PositionEncodingKind, PublishDiagnosticsParams,
    ServerCapabilities, ServerInfo, TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions, Uri,
};
use serde_json::{Value, json};

use super::analysis::{Analysis, ConfigAnalysis, Kind, TemplateAnalysis, kind_of};
use super::diagnostics::Style;
use super::documents::{Document, Documents, path_of};
use super::encoding::Encoding;
use super::hover::Construct;
use super::transport::{read_message, write_message};
use super::{actions, completion, definition, hover};

/// How long edits must pause before diagnostics are published.
pub const DEBOUNCE: Duration = Duration::from_millis(30);
/// The longest diagnostics wait while edits keep coming.
pub const MAX_WAIT: Duration = Duration::from_millis(250);

/// JSON-RPC error codes.
mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    pub const SERVER_NOT_INITIALIZED: i64 = -32002;
}

/// A request's failure: a JSON-RPC error code and message.
type Failure = (i64, String);

/// The server's state.
pub struct Server<W: Write> {
    out: W,
    docs: Documents,
    style: Style,
    /// The config's JSON Schema, made on first use.
    schema: Option<Rc<Value>>,
    initialized: bool,
    shut_down: bool,
    /// Buffers whose diagnostics are out of date, since when, and the last edit.
    dirty: BTreeSet<Uri>,
    dirty_since: Option<Instant>,
    last_edit: Instant,
    /// Bumped by every open, edit and close: an analysis made before is out of date.
    generation: u64,
    /// Each buffer's analysis, with the generation it was made at.
    cache: RefCell<HashMap<Uri, (u64, Rc<Analysis>)>>,
}

/// Serves the protocol on `input` and `output` until `exit` or the end of the input; `true`
/// when the client shut the server down first (exit status 0), as the protocol asks.
pub fn serve(input: impl BufRead + Send + 'static, output: impl Write) -> std::io::Result<bool> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut input = input;
        loop {
            let message = read_message(&mut input);
            let last = !matches!(message, Ok(Some(_)));
            if tx.send(message).is_err() || last {
                break;
            }
        }
    });
    let mut server = Server::new(output);
    loop {
        let message = if server.dirty.is_empty() {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            let since = server.dirty_since.unwrap_or_else(Instant::now);
            let wait =
                DEBOUNCE.saturating_sub(server.last_edit.elapsed()).min(MAX_WAIT.saturating_sub(since.elapsed()));
            rx.recv_timeout(wait)
        };
        match message {
            Ok(Ok(Some(body))) => {
                if let Some(clean) = server.handle(&body)? {
                    return Ok(clean);
                }
            }
            Ok(Ok(None)) | Err(RecvTimeoutError::Disconnected) => return Ok(false),
            Ok(Err(e)) => {
                // The framing is lost: nothing after it can be read as messages.
                eprintln!("audience lsp: {e}");
                return Ok(false);
            }
            Err(RecvTimeoutError::Timeout) => server.publish_dirty()?,
        }
        let waited = server.dirty_since.is_some_and(|s| s.elapsed() >= MAX_WAIT);
        if waited || server.last_edit.elapsed() >= DEBOUNCE && !server.dirty.is_empty() {
            server.publish_dirty()?;
        }
    }
}

impl<W: Write> Server<W> {
    /// A server writing to `out`, before `initialize`.
    pub fn new(out: W) -> Server<W> {
        Server {
            out,
            docs: Documents::default(),
            style: Style { encoding: Encoding::Utf16, explain_url: None, docs: Vec::new() },
            schema: None,
            initialized: false,
            shut_down: false,
            dirty: BTreeSet::new(),
            dirty_since: None,
            last_edit: Instant::now(),
            generation: 0,
            cache: RefCell::default(),
        }
    }

    /// Handles one message; `Some(clean)` when it was `exit`.
    pub fn handle(&mut self, body: &[u8]) -> std::io::Result<Option<bool>> {
        let message: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                self.reply(Value::Null, Err((code::PARSE_ERROR, format!("not JSON: {e}"))))?;
                return Ok(None);
            }
        };
        let id = message.get("id").cloned();
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        let Some(method) = message.get("method").and_then(Value::as_str) else {
            if id.is_none() || message.get("result").is_none() && message.get("error").is_none() {
                self.reply(
                    id.unwrap_or(Value::Null),
                    Err((code::INVALID_REQUEST, "a message without `method`".into())),
                )?;
            }
            // Otherwise a response to a request of ours: none are sent.
            return Ok(None);
        };
        let Some(id) = id else {
            return self.notification(method, params);
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.request(method, params)))
            .unwrap_or_else(|_| Err((code::INTERNAL_ERROR, format!("`{method}` failed inside the server"))));
        self.reply(id, result)?;
        Ok(None)
    }

    fn request(&mut self, method: &str, params: Value) -> Result<Value, Failure> {
        if method == "initialize" {
            return self.initialize(params);
        }
        if !self.initialized {
            return Err((code::SERVER_NOT_INITIALIZED, "`initialize` must come first".into()));
        }
        match method {
            "shutdown" => {
                self.shut_down = true;
                Ok(Value::Null)
            }
            "textDocument/completion" => {
                let p: CompletionParams = parse(params)?;
                let items =
                    self.completion(&p.text_document_position.text_document.uri, p.text_document_position.position);
                to_value(items.map(CompletionResponse::Array))
            }
            "textDocument/hover" => {
                let p: HoverParams = parse(params)?;
                to_value(self.hover(
                    &p.text_document_position_params.text_document.uri,
                    p.text_document_position_params.position,
                ))
            }
            "textDocument/definition" => {
                let p: GotoDefinitionParams = parse(params)?;
                let at = p.text_document_position_params;
                to_value(self.definition(&at.text_document.uri, at.position).map(GotoDefinitionResponse::Scalar))
            }
            "textDocument/codeAction" => {
                let p: CodeActionParams = parse(params)?;
                to_value(self.code_actions(&p.text_document.uri, p.range))
            }
            _ => Err((code::METHOD_NOT_FOUND, format!("`{method}` is not served"))),
        }
    }

    fn initialize(&mut self, params: Value) -> Result<Value, Failure> {
        let p: InitializeParams = parse(params)?;
        let offered = p.capabilities.general.and_then(|g| g.position_encodings).unwrap_or_default();
        self.style.encoding =
            if offered.contains(&PositionEncodingKind::UTF8) { Encoding::Utf8 } else { Encoding::Utf16 };
        self.style.explain_url = p
            .initialization_options
            .as_ref()
            .and_then(|o| o.get("explainUrl"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        self.style.docs = Style::local_docs();
        self.initialized = true;
        let capabilities = ServerCapabilities {
            position_encoding: Some(match self.style.encoding {
                Encoding::Utf8 => PositionEncodingKind::UTF8,
                Encoding::Utf16 => PositionEncodingKind::UTF16,
            }),
            text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                ..TextDocumentSyncOptions::default()
            })),
            completion_provider: Some(CompletionOptions {
                trigger_characters: Some(vec![".".into(), "$".into(), "[".into(), "{".into()]),
                ..CompletionOptions::default()
            }),
            hover_provider: Some(HoverProviderCapability::Simple(true)),
            definition_provider: Some(OneOf::Left(true)),
            code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                ..CodeActionOptions::default()
            })),
            ..ServerCapabilities::default()
        };
        let info = ServerInfo { name: "audience".into(), version: Some(env!("CARGO_PKG_VERSION").into()) };
        to_value(InitializeResult { capabilities, server_info: Some(info) })
    }

    fn notification(&mut self, method: &str, params: Value) -> std::io::Result<Option<bool>> {
        match method {
            "exit" => return Ok(Some(self.shut_down)),
            "textDocument/didOpen" => {
                if let Ok(p) = serde_json::from_value::<DidOpenTextDocumentParams>(params) {
                    let d = p.text_document;
                    self.docs.open(d.uri.clone(), d.version, d.text);
                    self.edited(d.uri);
                }
            }
            "textDocument/didChange" => {
                if let Ok(p) = serde_json::from_value::<DidChangeTextDocumentParams>(params) {
                    let uri = p.text_document.uri;
                    match self.docs.change(&uri, p.text_document.version, p.content_changes, self.style.encoding) {
                        Ok(()) => self.edited(uri),
                        Err(e) => eprintln!("audience lsp: {e}"),
                    }
                }
            }
            "textDocument/didClose" => {
                if let Ok(p) = serde_json::from_value::<DidCloseTextDocumentParams>(params) {
                    let uri = p.text_document.uri;
                    self.docs.close(&uri);
                    self.cache.get_mut().remove(&uri);
                    self.generation += 1;
                    self.dirty.remove(&uri);
                    self.publish(uri, Vec::new(), None)?;
                    // A config that read the closed template's buffer reads the file again.
                    self.mark_configs();
                }
            }
            // Notifications not served (`initialized`, `$/cancelRequest`, settings) are ignored,
            // as the protocol asks.
            _ => {}
        }
        Ok(None)
    }

    /// A buffer changed: it, and every open config (which may read it as a template file),
    /// are published again once edits pause.
    fn edited(&mut self, uri: Uri) {
        self.generation += 1;
        self.dirty.insert(uri);
        self.mark_configs();
        self.last_edit = Instant::now();
        self.dirty_since.get_or_insert(self.last_edit);
    }

    fn mark_configs(&mut self) {
        let configs: Vec<Uri> = self
            .docs
            .uris()
            .filter(|uri| self.view(uri).is_some_and(|(_, _, kind)| kind == Kind::Config))
            .cloned()
            .collect();
        if !configs.is_empty() {
            self.dirty.extend(configs);
            self.dirty_since.get_or_insert_with(Instant::now);
        }
    }

    /// Publishes the diagnostics of every buffer edited since the last time.
    pub fn publish_dirty(&mut self) -> std::io::Result<()> {
        self.dirty_since = None;
        for uri in std::mem::take(&mut self.dirty) {
            let Some(doc) = self.docs.get(&uri) else { continue };
            let version = doc.version;
            let diagnostics = self.diagnostics(&uri);
            self.publish(uri, diagnostics, Some(version))?;
        }
        Ok(())
    }

    /// The diagnostics of the buffer at `uri` as they are now.
    pub fn diagnostics(&self, uri: &Uri) -> Vec<lsp_types::Diagnostic> {
        let Some((doc, _, analysis)) = self.analysis(uri) else { return Vec::new() };
        match &*analysis {
            Analysis::Config(config) => self.style.config(doc, config),
            Analysis::Template(template) => self.style.template(doc, template),
        }
    }

    /// The analysis of the buffer at `uri` for the buffers as they are: made once per edit of
    /// any buffer (a config reads its open template files; a template its config).
    fn analysis(&self, uri: &Uri) -> Option<(&Document, PathBuf, Rc<Analysis>)> {
        let (doc, path, kind) = self.view(uri)?;
        if let Some((generation, analysis)) = self.cache.borrow().get(uri)
            && *generation == self.generation
        {
            return Some((doc, path, analysis.clone()));
        }
        let analysis = Rc::new(match kind {
            Kind::Config => Analysis::Config(ConfigAnalysis::new(&path, &doc.text, &self.docs)),
            Kind::Template => Analysis::Template(TemplateAnalysis::new(&path, &doc.text, &self.docs)),
            Kind::Other => return None,
        });
        self.cache.borrow_mut().insert(uri.clone(), (self.generation, analysis.clone()));
        Some((doc, path, analysis))
    }

    fn publish(
        &mut self,
        uri: Uri,
        diagnostics: Vec<lsp_types::Diagnostic>,
        version: Option<i32>,
    ) -> std::io::Result<()> {
        let params = PublishDiagnosticsParams { uri, diagnostics, version };
        let message = json!({"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics", "params": params});
        write_message(&mut self.out, message.to_string().as_bytes())
    }

    fn reply(&mut self, id: Value, result: Result<Value, Failure>) -> std::io::Result<()> {
        let message = match result {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err((code, message)) => json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
        };
        write_message(&mut self.out, message.to_string().as_bytes())
    }

    /// The open buffer at `uri`, its path and its kind.
    fn view(&self, uri: &Uri) -> Option<(&Document, PathBuf, Kind)> {
        let doc = self.docs.get(uri)?;
        let path = path_of(uri)?;
        let kind = kind_of(&path, &doc.text);
        Some((doc, path, kind))
    }

    fn schema(&mut self) -> Rc<Value> {
        self.schema.get_or_insert_with(|| Rc::new(crate::destination::schema::config_schema())).clone()
    }

    fn completion(&mut self, uri: &Uri, at: Position) -> Option<Vec<lsp_types::CompletionItem>> {
        let schema = self.schema();
        let (doc, path, analysis) = self.analysis(uri)?;
        let offset = doc.lines.offset(&doc.text, at, self.style.encoding);
        match &*analysis {
            Analysis::Template(template) => {
                let fields = template.config.as_ref().map(|(_, c)| c.field_names()).unwrap_or_default();
                Some(completion::template(doc, offset, &fields, self.style.encoding))
            }
            Analysis::Config(config) => {
                if config.template_at(offset).is_some() {
                    return Some(completion::template(doc, offset, &config.field_names(), self.style.encoding));
                }
                let mut fields = config.field_names();
                if config.doc().is_none() {
                    // The line being typed is not TOML yet (`[destination.fields.`): the names
                    // come from the rest of the file.
                    let start = doc.text[..offset].rfind('\n').map_or(0, |i| i + 1);
                    let end = doc.text[offset..].find('\n').map_or(doc.text.len(), |i| offset + i);
                    let mut rest = doc.text.clone();
                    rest.replace_range(start..end, "");
                    fields = ConfigAnalysis::new(&path, &rest, &self.docs).field_names();
                }
                Some(completion::config(&doc.text, offset, &fields, &schema))
            }
        }
    }

    fn hover(&self, uri: &Uri, at: Position) -> Option<lsp_types::Hover> {
        let (doc, _, analysis) = self.analysis(uri)?;
        let offset = doc.lines.offset(&doc.text, at, self.style.encoding);
        let encoding = self.style.encoding;
        // On a problem: its code.
        let problem = self.diagnostics(uri).into_iter().find(|d| {
            let (start, end) = (
                doc.lines.offset(&doc.text, d.range.start, encoding),
                doc.lines.offset(&doc.text, d.range.end, encoding),
            );
            start <= offset && offset <= end && start < end
        });
        if let Some(d) = problem {
            let code = match &d.code {
                Some(lsp_types::NumberOrString::String(c)) => c.clone(),
                _ => String::new(),
            };
            return Some(hover::markdown(format!("{}\n\n---\n\n{}", d.message, hover::code(&code)), Some(d.range)));
        }
        type ToFile<'a> = Box<dyn Fn(usize) -> usize + 'a>;
        let (config, text, template_offset, to_file): (&ConfigAnalysis, &str, usize, ToFile<'_>) = match &*analysis {
            Analysis::Template(template) => (&template.config.as_ref()?.1, &doc.text, offset, Box::new(|o| o)),
            Analysis::Config(config) => {
                let (action, text, template_offset) = config.template_at(offset)?;
                let positions = config.places.inline(action)?;
                (config, text, template_offset, Box::new(move |o| positions.file_offset(o)))
            }
        };
        let (range, construct) = hover::construct_at(text, template_offset)?;
        let range = Some(doc.lines.range(&doc.text, to_file(range.start), to_file(range.end), encoding));
        let markdown = match construct {
            Construct::Input(i) => hover::input(i),
            Construct::Field(name) => hover::field(config, &name)?,
        };
        Some(hover::markdown(markdown, range))
    }

    fn definition(&self, uri: &Uri, at: Position) -> Option<lsp_types::Location> {
        let (doc, path, analysis) = self.analysis(uri)?;
        let offset = doc.lines.offset(&doc.text, at, self.style.encoding);
        let (config_path, config, name) = match &*analysis {
            Analysis::Template(template) => {
                let (config_path, config) = template.config.as_ref()?;
                let (_, Construct::Field(name)) = hover::construct_at(&doc.text, offset)? else { return None };
                (config_path.clone(), config, name)
            }
            Analysis::Config(config) => {
                let (_, text, template_offset) = config.template_at(offset)?;
                let (_, Construct::Field(name)) = hover::construct_at(text, template_offset)? else { return None };
                (path, config, name)
            }
        };
        definition::field_table(&config_path, config, &name, self.style.encoding)
    }

    fn code_actions(&mut self, uri: &Uri, range: lsp_types::Range) -> Vec<lsp_types::CodeActionOrCommand> {
        let schema = self.schema();
        let Some((doc, _, analysis)) = self.analysis(uri) else { return Vec::new() };
        let Analysis::Config(config) = &*analysis else { return Vec::new() };
        let encoding = self.style.encoding;
        let wanted =
            doc.lines.offset(&doc.text, range.start, encoding)..doc.lines.offset(&doc.text, range.end, encoding);
        actions::quick_fixes(uri, doc, config, wanted, &schema, encoding)
    }
}

fn parse<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, Failure> {
    serde_json::from_value(params).map_err(|e| (code::INVALID_PARAMS, format!("invalid params: {e}")))
}

fn to_value(value: impl serde::Serialize) -> Result<Value, Failure> {
    serde_json::to_value(value).map_err(|e| (code::INTERNAL_ERROR, e.to_string()))
}
