//! `[destination.actions.NAME.response]`: which records a 2xx answer refuses. Checked here
//! into the [`ResponseRule`] delivery reads bodies with (`crate::http::response`).

use crate::http::response::{Naming, ResponsePath, ResponseRule};
use crate::template::lexer::{Op, TokenKind, tokenize};

use super::checker::Ctx;
use super::codes::ConfigCode;
use super::config::ResponseTable;
use super::keypath;
use super::problem::Problem;

/// Checks an action's `response` table (`base` is the action's key path, `fields` its
/// template's fields, `template` its text when known). `None` when there is no table or it has
/// an error (reported in `ctx`).
pub fn check_response(
    ctx: &mut Ctx<'_>,
    base: &str,
    table: Option<&ResponseTable>,
    fields: &[String],
    template: Option<&str>,
) -> Option<ResponseRule> {
    let t = table?;
    let base = keypath::join(base, "response");
    let errors = ctx.problems.iter().filter(|p| p.is_error()).count();
    let path = |ctx: &mut Ctx<'_>, name: &str, value: Option<&String>| -> Option<ResponsePath> {
        let key = keypath::join(&base, name);
        match ResponsePath::parse(value?) {
            Ok(p) => Some(p),
            Err(why) => {
                let hint = "a relative field path of the template language, such as `errors` or `result.items`";
                ctx.error_hint(ConfigCode::ResponsePath, &key, format!("not a response path: {why}"), hint);
                None
            }
        }
    };
    let failures = path(ctx, "failures", t.failures.as_ref());
    if t.failures.is_none() {
        ctx.error_hint(
            ConfigCode::MissingKey,
            &keypath::join(&base, "failures"),
            "`failures` is required: the path to the array of refused records in the body",
            "such as `failures = \"errors\"`",
        );
    }
    let reason = path(ctx, "reason", t.reason.as_ref());
    let index = path(ctx, "index", t.index.as_ref());
    let value = path(ctx, "value", t.value.as_ref());
    let status = path(ctx, "status", t.status.as_ref());

    let ways = [
        ("index", t.index.is_some()),
        ("field", t.field.is_some() || t.value.is_some()),
        ("status", t.status.is_some() || t.ok.is_some()),
    ];
    let given: Vec<&str> = ways.iter().filter(|(_, g)| *g).map(|(n, _)| *n).collect();
    let hint = "name each refused record by `index`, by `field` and `value`, or by its place with `status` and `ok`";
    if given.len() != 1 {
        let message = if given.is_empty() {
            "the response setting does not say how an entry names its record".to_owned()
        } else {
            format!("the response setting names records in more than one way ({})", given.join(", "))
        };
        ctx.error_hint(ConfigCode::ResponseNaming, &base, message, hint);
    }
    let missing = |ctx: &mut Ctx<'_>, name: &str, beside: &str| {
        ctx.error_hint(
            ConfigCode::MissingKey,
            &keypath::join(&base, name),
            format!("`{name}` is required beside `{beside}`"),
            hint,
        );
    };
    let naming = match given.as_slice() {
        ["index"] => index.map(Naming::Index),
        ["field"] => {
            match (&t.field, &t.value) {
                (None, _) => missing(ctx, "field", "value"),
                (_, None) => missing(ctx, "value", "field"),
                (Some(field), _) if !fields.iter().any(|f| f == field) => {
                    let known = if fields.is_empty() { "(none)".to_owned() } else { fields.join(", ") };
                    ctx.error_hint(
                        ConfigCode::ResponseField,
                        &keypath::join(&base, "field"),
                        format!("`{field}` is not a field of this action's template"),
                        format!("the template's fields: {known}"),
                    );
                }
                _ => {}
            }
            match (&t.field, value) {
                (Some(field), Some(value)) => Some(Naming::Field { field: field.clone(), value }),
                _ => None,
            }
        }
        ["status"] => {
            if t.status.is_none() {
                missing(ctx, "status", "ok");
            }
            match &t.ok {
                None => missing(ctx, "ok", "status"),
                Some(ok) if ok.is_empty() => ctx.error_hint(
                    ConfigCode::Empty,
                    &keypath::join(&base, "ok"),
                    "`ok` is empty: every record would be refused",
                    "list the statuses of accepted records, such as `ok = [\"ok\"]`",
                ),
                _ => {}
            }
            match (status, &t.ok) {
                (Some(status), Some(ok)) if !ok.is_empty() => Some(Naming::Status { status, ok: ok.clone() }),
                _ => None,
            }
        }
        _ => None,
    };
    if matches!(given.as_slice(), ["index"] | ["status"]) && template.is_some_and(records_are_a_list) {
        let way = given[0];
        ctx.push(
            Problem::warning(
                ConfigCode::ResponsePositions,
                keypath::join(&base, way),
                format!(
                    "`{way}` counts the records as rendered into the list, and a record without a value is not in it, so a position may name the wrong record"
                ),
            )
            .with_hint("name the records by `field` and `value` instead"),
        );
    }
    let new_errors = ctx.problems.iter().filter(|p| p.is_error()).count() > errors;
    if new_errors {
        return None;
    }
    Some(ResponseRule { failures: failures?, naming: naming?, reason })
}

/// Whether the template's records block is a list of one field's values
/// (`[$$.records.user_id]`) rather than one object per record (`[$$.records.{ ... }]`): read
/// from the tokens, `$$` `.` `records` `.` followed by anything but `{`.
fn records_are_a_list(template: &str) -> bool {
    let (tokens, _) = tokenize(template);
    let kinds: Vec<&TokenKind> = tokens.iter().map(|t| &t.kind).collect();
    kinds.windows(5).any(|w| match w {
        [
            TokenKind::Variable(root),
            TokenKind::Op(Op::Dot),
            TokenKind::Name { name, .. },
            TokenKind::Op(Op::Dot),
            next,
        ] => root == "$" && name == "records" && !matches!(next, TokenKind::Op(Op::LBrace)),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_told_from_objects() {
        assert!(!records_are_a_list(r#"{"users": [$$.records.{"id": user_id}]}"#));
        assert!(!records_are_a_list(r#"{"users": [$$.records . { "id": user_id }]}"#));
        assert!(records_are_a_list(r#"{"ids": [$$.records.user_id]}"#));
        assert!(records_are_a_list(r#"{"ids": [$$.records.`user id`]}"#));
        assert!(!records_are_a_list(r#"{"a": $$.connection.audienceId}"#));
    }
}
