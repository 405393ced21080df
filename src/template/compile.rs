//! AST to bytecode. (Being written.)
use super::TemplateField;
use super::ast::Expr;
use super::program::Program;

pub fn compile(_expr: &Expr, _src: &str, _fields: Option<&[TemplateField]>) -> Program {
    unimplemented!()
}
