//! Why a record failed the field pipeline, and why a plan could not be built.
//!
//! A record error fails that record only (it is logged with this reason and not sent); the
//! rest of the batch goes on. No message quotes a record value: values are PII and the reason is
//! stored in the sync log.

use std::fmt;
use std::sync::Arc;

use super::normalize::PhoneProblem;

/// Why one record failed. `field` is the template field's name as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// `hash_pii = true` and the raw value is already a digest of the field's algorithm (64,
    /// 128 or 32 hex digits). Hashing it again would send a digest of a digest.
    AlreadyHashed {
        /// The template field's name, as configured.
        field: Arc<str>,
    },
    /// `hash_pii = false` and the raw value is not a digest of the field's algorithm, so
    /// plain PII would be sent where a digest is expected.
    NotHashed {
        /// The template field's name, as configured.
        field: Arc<str>,
    },
    /// A required field is unmapped, null, empty, or normalised to empty.
    Required {
        /// The template field's name, as configured.
        field: Arc<str>,
    },
    /// A BLOB/bytea value: it has no JSON form.
    Bytes {
        /// The template field's name, as configured.
        field: Arc<str>,
    },
    /// Text that is not valid UTF-8.
    InvalidUtf8 {
        /// The template field's name, as configured.
        field: Arc<str>,
        /// The warehouse column, when the plan knows its name.
        column: Option<Arc<str>>,
        /// The byte offset of the first invalid byte in the value.
        offset: usize,
    },
    /// A floating-point NaN or infinity: JSON has no such number.
    NotFinite {
        /// The template field's name, as configured.
        field: Arc<str>,
    },
    /// `phone_e164` could not make an E.164 number of the value.
    Phone {
        /// The template field's name, as configured.
        field: Arc<str>,
        /// What is wrong with the number.
        problem: PhoneProblem,
    },
    /// The plan reads a column the row does not have: the plan was built for another query.
    NoSuchColumn {
        /// The template field's name, as configured.
        field: Arc<str>,
        /// The column index the plan maps the field to (0-based, in the query's column order).
        column: usize,
    },
}

impl FieldError {
    /// The field the error is about.
    pub fn field(&self) -> &str {
        match self {
            FieldError::AlreadyHashed { field }
            | FieldError::NotHashed { field }
            | FieldError::Required { field }
            | FieldError::Bytes { field }
            | FieldError::InvalidUtf8 { field, .. }
            | FieldError::NotFinite { field }
            | FieldError::Phone { field, .. }
            | FieldError::NoSuchColumn { field, .. } => field,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The two hash-state messages are the seed's, word for word.
            FieldError::AlreadyHashed { field } => write!(
                f,
                "Hashing is enabled but the value for field {field} appears to already be hashed. \
                 Either disable hashing or send unhashed data."
            ),
            FieldError::NotHashed { field } => write!(
                f,
                "Hashing is disabled but the value for field {field} appears to be unhashed. \
                 Either enable hashing or send pre-hashed data."
            ),
            FieldError::Required { field } => {
                write!(f, "required field {field} is empty or not mapped")
            }
            FieldError::Bytes { field } => {
                write!(f, "field {field} holds binary data (BLOB/bytea), which has no JSON form")
            }
            FieldError::InvalidUtf8 { field, column, offset } => {
                write!(f, "field {field}")?;
                if let Some(column) = column {
                    write!(f, " (column {column})")?;
                }
                write!(f, " holds text that is not valid UTF-8: the first invalid byte is at byte offset {offset}")
            }
            FieldError::NotFinite { field } => {
                write!(f, "field {field} holds a floating-point NaN or infinity, which has no JSON form")
            }
            FieldError::Phone { field, problem } => write!(f, "field {field}: {problem}"),
            FieldError::NoSuchColumn { field, column } => {
                write!(f, "field {field} is mapped to column {column}, which the row does not have")
            }
        }
    }
}

impl std::error::Error for FieldError {}

/// Why [`FieldPlan::compile`](super::FieldPlan::compile) refused a field list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// Two fields of one template with the same name.
    DuplicateField(String),
    /// A field with `static = true` mapped to a warehouse column.
    StaticMappedToColumn(String),
    /// A literal value given for a field without `static = true`.
    LiteralForNonStatic(String),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::DuplicateField(name) => write!(f, "field {name} is listed twice"),
            PlanError::StaticMappedToColumn(name) => {
                write!(f, "field {name} is static: give it a literal value under `static`, not a column under `map`")
            }
            PlanError::LiteralForNonStatic(name) => {
                write!(f, "field {name} has a static value but its settings do not say `static = true`")
            }
        }
    }
}

impl std::error::Error for PlanError {}
