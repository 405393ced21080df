//! The JSONata parser. (Being written.)
use super::ast::Expr;
use super::diagnostic::Diagnostic;

/// The parse result: the tree when one could be built, and every diagnostic found.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub expr: Option<Expr>,
    pub diagnostics: Vec<Diagnostic>,
}

pub fn parse(_src: &str) -> Parsed {
    unimplemented!()
}
