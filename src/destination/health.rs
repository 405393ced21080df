//! `[destination.health]`: the one request `audience check --connect` may send to learn that
//! the API and its credentials work. Its path is the destination's, not a sync's, so it holds
//! no placeholder.

use super::checker::Ctx;
use super::codes::ConfigCode;
use super::config::HealthTable;
use super::keypath;
use super::model::Health;
use super::problem::Problem;
use super::url;

const BASE: &str = "destination.health";

/// The methods a health request may use.
pub const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// The checked `[destination.health]` (`None` when absent).
pub(super) fn health(ctx: &mut Ctx<'_>, table: Option<&HealthTable>) -> Option<Health> {
    let t = table?;
    let method = match t.method.as_deref() {
        None => "GET",
        Some(m) => match METHODS.iter().find(|known| **known == m) {
            Some(known) => known,
            None => {
                ctx.error_hint(
                    ConfigCode::UnknownName,
                    &keypath::join(BASE, "method"),
                    format!("unknown method `{m}`"),
                    "expected GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS, upper case",
                );
                "GET"
            }
        },
    };
    let path = ctx.required(BASE, "path", t.path.as_ref(), false);
    let key = keypath::join(BASE, "path");
    if t.path.is_some() && ctx.known(&key) {
        if path.as_str().contains("{{") {
            ctx.error(
                ConfigCode::PathPlaceholder,
                &key,
                "the health path holds no placeholder: it belongs to the destination, not a sync",
            );
        } else {
            for problem in url::check_path(path.as_str()) {
                let p = Problem::error(ConfigCode::Path, &key, problem.message());
                ctx.push(match problem.hint() {
                    Some(h) => p.with_hint(h),
                    None => p,
                });
            }
        }
    }
    Some(Health { method: method.to_owned(), path })
}
