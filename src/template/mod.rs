//! The template engine: an allowlisted subset of JSONata, checked, compiled to bytecode and run
//! by a small VM. Pure: no I/O, no async, no SQL. Everything else in the crate depends on this
//! module, never the reverse.
//!
//! ```text
//!  source ──lexer──▶ tokens ──parser──▶ ast::Expr ──check──▶ (subset, profile, fields)
//!                                                     │
//!                                         compile ◀───┘
//!                                            │
//!                                            ▼
//!                                   program::Program ──vm──▶ bytes in the caller's Vec<u8>
//!                                                            (from a JSON value, or from a
//!                                                             RecordBatch of slot records)
//! ```
//!
//! * [`lexer`] knows every JSONata token, so nothing outside the subset is a generic error.
//! * [`parser`] is a recursive-descent parser with precedence climbing for all of JSONata.
//! * [`subset`] applies the expression subset (the allowlist of JSONata constructs); then
//!   [`profile`] applies the template profile (the request-body rules) and extracts the
//!   template fields.
//! * [`compile`] lowers a checked tree to a flat [`program::Program`], serialising constant
//!   parts once.
//! * [`lower`] turns the object of a `[$$.records.{ ... }]` block into flat pieces, which
//!   [`vm`] writes record by record through a `cursor` over reserved room.
//! * [`input`] reads a JSON input into the nodes the VM reads (no general tree).
//! * [`vm`] runs a program; [`json`] holds the JavaScript-exact number and string printing.
//! * [`report`] renders [`Diagnostic`]s for people and for programs.

pub mod ast;
pub mod batch;
pub mod compile;
pub(crate) mod cursor;
pub mod diagnostic;
pub mod input;
pub mod json;
pub mod lexer;
pub mod lower;
pub mod parser;
pub mod profile;
pub mod program;
pub mod report;
pub mod span;
pub mod subset;
pub mod value;
pub mod vm;

pub use batch::{Connection, RecordBatch};
pub use diagnostic::{Code, Diagnostic, Severity};
pub use span::Span;

/// Largest template source accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 64 * 1024;
/// Deepest nesting of constructs accepted.
pub const MAX_DEPTH: usize = 64;

/// A field that a template reads from each record: a distinct first name of a relative path
/// inside the `[$$.records.{ ... }]` block, with the span of its first use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateField {
    /// The field's name: the first step of the path (`email` in `email.domain`).
    pub name: String,
    /// Where the template first reads it.
    pub span: Span,
}

/// What checking a template found: every diagnostic (errors and warnings, in source order) and,
/// when there are no errors, the tree and the fields.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The tree, or `None` when the parser could not build one.
    pub expr: Option<ast::Expr>,
    /// Every error and warning, in source order.
    pub diagnostics: Vec<Diagnostic>,
    /// The record fields the template reads, in order of first use. Only [`check_template`]
    /// looks for them, and only on a tree that keeps to the subset.
    pub fields: Vec<TemplateField>,
}

impl Checked {
    /// Whether any diagnostic is an error (warnings alone do not stop compilation).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses `src` and applies the expression subset (the layer `audience render` uses).
pub fn check_expression(src: &str) -> Checked {
    let parsed = parser::parse(src);
    let mut diagnostics = parsed.diagnostics;
    if let Some(expr) = &parsed.expr {
        subset::check_subset(expr, &mut diagnostics);
    }
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    Checked { expr: parsed.expr, diagnostics, fields: Vec::new() }
}

/// Parses `src` and applies the subset and the template profile (the layer of request-body
/// templates in a destination config), extracting the template fields.
pub fn check_template(src: &str) -> Checked {
    let parsed = parser::parse(src);
    let mut diagnostics = parsed.diagnostics;
    let mut fields = Vec::new();
    if let Some(expr) = &parsed.expr {
        let before = diagnostics.len();
        subset::check_subset(expr, &mut diagnostics);
        // The profile rules talk about the shape of a valid expression: on a tree that already
        // broke the subset they would only repeat what was said.
        let subset_ok = diagnostics[before..].iter().all(|d| !d.is_error());
        if subset_ok {
            fields = profile::check_profile(expr, &mut diagnostics);
        }
    }
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    Checked { expr: parsed.expr, diagnostics, fields }
}

/// A compiled expression of the subset, evaluated over any JSON input.
#[derive(Clone, Debug)]
pub struct Expression {
    program: program::Program,
}

impl Expression {
    /// Checks and compiles `src`; on failure, every error (and warning) found.
    pub fn compile(src: &str) -> Result<Expression, Vec<Diagnostic>> {
        let checked = check_expression(src);
        match checked.expr {
            Some(expr) if !checked.has_errors() => Ok(Expression { program: compile::compile(&expr, src, None) }),
            _ => Err(checked.diagnostics),
        }
    }

    /// Evaluates over `input` (`None` is undefined input), appending the result's JSON text to
    /// `out`. Returns `Ok(false)` and appends nothing when the result is undefined.
    pub fn evaluate(&self, input: Option<&serde_json::Value>, out: &mut Vec<u8>) -> Result<bool, Diagnostic> {
        vm::Vm::new(&self.program).eval_json(input, out)
    }

    /// [`Expression::evaluate`] over an input read by [`input::Input::parse`] (`None` is
    /// undefined input): the same result, without a `serde_json::Value` tree.
    pub fn evaluate_input(&self, input: Option<&input::Input<'_>>, out: &mut Vec<u8>) -> Result<bool, Diagnostic> {
        vm::Vm::new(&self.program).eval_input(input, out)
    }

    /// The compiled program (for disassembly and tests).
    pub fn program(&self) -> &program::Program {
        &self.program
    }
}

/// A compiled request-body template: compile once, render batch after batch.
#[derive(Clone, Debug)]
pub struct Template {
    program: program::Program,
    fields: Vec<TemplateField>,
    warnings: Vec<Diagnostic>,
}

impl Template {
    /// Checks (subset and profile) and compiles `src`.
    pub fn compile(src: &str) -> Result<Template, Vec<Diagnostic>> {
        let checked = check_template(src);
        match checked.expr {
            Some(expr) if !checked.has_errors() => {
                let program = compile::compile(&expr, src, Some(&checked.fields));
                Ok(Template { program, fields: checked.fields, warnings: checked.diagnostics })
            }
            _ => Err(checked.diagnostics),
        }
    }

    /// The template fields, in order of first appearance; a field's index is its slot in a
    /// [`RecordBatch`].
    pub fn fields(&self) -> &[TemplateField] {
        &self.fields
    }

    /// Warnings found when checking (the template is valid).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Renders one request body for `batch` into `out` (appending). The batch must have been
    /// built with `self.fields().len()` slots per record.
    pub fn render(&self, batch: &RecordBatch, connection: &Connection, out: &mut Vec<u8>) -> Result<(), Diagnostic> {
        vm::Vm::new(&self.program).eval_batch(batch, connection, out)
    }

    /// Evaluates the template over a JSON document, as `Expression::evaluate` does.
    pub fn evaluate(&self, input: Option<&serde_json::Value>, out: &mut Vec<u8>) -> Result<bool, Diagnostic> {
        vm::Vm::new(&self.program).eval_json(input, out)
    }

    /// The compiled program (for disassembly and tests).
    pub fn program(&self) -> &program::Program {
        &self.program
    }
}
