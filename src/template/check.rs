//! The subset and template-profile checker. (Being written.)
use super::TemplateField;
use super::ast::Expr;
use super::diagnostic::Diagnostic;

pub fn check_subset(_expr: &Expr, _diags: &mut Vec<Diagnostic>) {
    unimplemented!()
}

pub fn check_profile(_expr: &Expr, _diags: &mut Vec<Diagnostic>) -> Vec<TemplateField> {
    unimplemented!()
}
