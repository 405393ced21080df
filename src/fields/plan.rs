//! The per-action plan: which slot each field fills, where its value comes from, with what
//! settings. Built once per action and sync; static values are run through the pipeline here,
//! once, rather than for every record.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;

use super::error::PlanError;
use super::pipeline::{Failure, Out, Scratch, value_out};
use super::settings::FieldSettings;
use super::value::{OwnedValue, WarehouseValue};

/// Where a field's value comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// Column `index` of the row (the sync's `map`, resolved against the query's columns).
    Column(usize),
    /// A literal (the sync's `static` table), for a field with `static = true`.
    Static(OwnedValue),
    /// Neither mapped nor given: the field is missing from every record.
    Unmapped,
}

/// One template field as the plan is built from it.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldSpec {
    /// The template field's name, as configured (error messages use it).
    pub name: String,
    /// How the field's value is checked, normalised and hashed.
    pub settings: FieldSettings,
    /// Where the field's value comes from.
    pub source: Source,
    /// The name of the warehouse column of [`Source::Column`], for error messages.
    pub column: Option<String>,
}

impl FieldSpec {
    /// A field named `name` with these settings, read from `source`.
    pub fn new(name: impl Into<String>, settings: FieldSettings, source: Source) -> FieldSpec {
        FieldSpec { name: name.into(), settings, source, column: None }
    }

    /// Names the column the value comes from, for error messages.
    pub fn with_column(mut self, column: impl Into<String>) -> FieldSpec {
        self.column = Some(column.into());
        self
    }
}

/// A compiled field list for one action: record `i`'s slot `s` is field `s`, in the order of
/// the template's fields, so a [`RecordBatch`](crate::template::RecordBatch) of
/// [`FieldPlan::width`] slots feeds the template directly.
#[derive(Clone, Debug)]
pub struct FieldPlan {
    pub(super) hash_pii: bool,
    pub(super) fields: Vec<CompiledField>,
}

/// A field ready to run: its slot is its index in [`FieldPlan::fields`].
#[derive(Clone, Debug)]
pub(super) struct CompiledField {
    /// Shared with every error about this field, so a failure costs no string copy.
    pub name: Arc<str>,
    pub settings: FieldSettings,
    pub origin: Origin,
    /// The column's name, when the spec gave it.
    pub column: Option<Arc<str>>,
}

/// A field's source, with static values already processed.
#[derive(Clone, Debug)]
pub(super) enum Origin {
    Column(usize),
    Unmapped,
    /// The outcome of the pipeline for the literal: the same for every record.
    Static(Result<StaticOut, Failure>),
}

/// What a static value became: [`Out`] with owned data.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum StaticOut {
    Missing,
    Emptied,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Json(Value),
}

impl FieldPlan {
    /// Compiles `fields` (slot `i` is `fields[i]`) for a sync whose "Automatically hash PII
    /// data" is `hash_pii`.
    pub fn compile(fields: &[FieldSpec], hash_pii: bool) -> Result<FieldPlan, PlanError> {
        let mut seen = HashSet::new();
        let mut scratch = Scratch::default();
        let mut compiled = Vec::with_capacity(fields.len());
        for spec in fields {
            if !seen.insert(spec.name.as_str()) {
                return Err(PlanError::DuplicateField(spec.name.clone()));
            }
            let name: Arc<str> = Arc::from(spec.name.as_str());
            let origin = match (&spec.source, spec.settings.is_static) {
                (Source::Column(_), true) => {
                    return Err(PlanError::StaticMappedToColumn(spec.name.clone()));
                }
                (Source::Static(_), false) => {
                    return Err(PlanError::LiteralForNonStatic(spec.name.clone()));
                }
                (Source::Column(index), false) => Origin::Column(*index),
                (Source::Unmapped, _) => Origin::Unmapped,
                (Source::Static(literal), true) => {
                    let value = literal.as_value();
                    scratch.text.clear();
                    let out = value_out(&name, &spec.settings, hash_pii, value, &mut scratch);
                    Origin::Static(out.map(|out| owned(out, value, &scratch.text)))
                }
            };
            let column = spec.column.as_deref().map(Arc::from);
            compiled.push(CompiledField { name, settings: spec.settings, origin, column });
        }
        Ok(FieldPlan { hash_pii, fields: compiled })
    }

    /// Number of slots of a record: the template's field count.
    pub fn width(&self) -> usize {
        self.fields.len()
    }

    /// The sync's `hash_pii` this plan was built for.
    pub fn hash_pii(&self) -> bool {
        self.hash_pii
    }

    /// The field names, in slot order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|f| &*f.name)
    }

    /// The reason every record will fail because of a static value (for `check` and
    /// `preview` to report once), if any.
    pub fn static_error(&self) -> Option<&super::FieldError> {
        self.fields.iter().find_map(|f| match &f.origin {
            Origin::Static(Err(failure)) => Some(&failure.error),
            _ => None,
        })
    }
}

fn owned(out: Out, value: WarehouseValue<'_>, text: &str) -> StaticOut {
    match out {
        Out::Missing => StaticOut::Missing,
        Out::Emptied => StaticOut::Emptied,
        Out::Bool(b) => StaticOut::Bool(b),
        Out::Int(i) => StaticOut::Int(i),
        Out::UInt(u) => StaticOut::UInt(u),
        Out::Float(f) => StaticOut::Float(f),
        Out::Str { start, len } => StaticOut::Str(text[start as usize..(start + len) as usize].to_owned()),
        Out::Json | Out::Static => match value {
            WarehouseValue::Json(v) => StaticOut::Json(v.clone()),
            // `value_out` answers `Json` only for JSON values.
            _ => StaticOut::Missing,
        },
    }
}
