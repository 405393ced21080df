//! `audience check PATH`: every problem of a destination config (`.toml`) or of a single
//! template at once, and the template fields.

use super::{Format, exit, print_json, stderr_color};
use crate::destination::{self, EnvMode};
use crate::sync::probe::{ConnectProblem, check_connections};
use crate::template::{self, report};
use serde::Serialize;
use std::path::PathBuf;

/// Check a destination config (`.toml`) or a request-body template without sending anything.
///
/// Reports every problem at once, each with a code, its config key or its action and template
/// position, and a hint, and lists the template fields (the names the templates read from each
/// record). Nothing touches the network or the warehouse, unless `--connect`. An unset
/// environment variable is only a warning here (an error with `--connect`). Exits 1 when there
/// is an error, 0 when valid (warnings allowed).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A destination config (`.toml`) or a template file (any other name).
    path: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Then, per sync, open the warehouse and prepare the model (without reading it) to check
    /// the primary key and the mapped columns, and check that the API's host resolves and its
    /// TLS handshake succeeds, sending the `[destination.health]` request when there is one
    /// (and no other).
    #[arg(long)]
    connect: bool,
}

#[derive(Serialize)]
struct Output {
    valid: bool,
    diagnostics: Vec<template::diagnostic::DiagnosticJson>,
    fields: Vec<String>,
}

pub fn run(args: Args) -> i32 {
    let name = args.path.display().to_string();
    if args.path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml")) {
        return check_config(&args);
    }
    let src = match std::fs::read_to_string(&args.path) {
        Ok(src) => src,
        Err(e) => {
            eprintln!("error: cannot read {name}: {e}");
            return exit::INVALID;
        }
    };
    let checked = template::check_template(&src);
    let valid = !checked.has_errors();
    let fields: Vec<String> = checked.fields.iter().map(|f| f.name.clone()).collect();
    match args.format {
        Format::Json => {
            print_json(&Output { valid, diagnostics: report::render_json(&src, &checked.diagnostics), fields })
        }
        Format::Human => {
            if !checked.diagnostics.is_empty() {
                eprint!("{}", report::render_human(&src, &name, &checked.diagnostics, stderr_color()));
            }
            let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
            let warnings = checked.diagnostics.len() - errors;
            if valid {
                let list = if fields.is_empty() { "(none)".to_string() } else { fields.join(", ") };
                println!("{name}: valid ({warnings} warning{}); template fields: {list}", plural(warnings));
            } else {
                println!("{name}: {errors} error{}, {warnings} warning{}", plural(errors), plural(warnings));
            }
        }
    }
    if valid { exit::OK } else { exit::INVALID }
}

/// `check CONFIG.toml`: diagnostics on stderr and a summary on stdout, or the JSON document.
fn check_config(args: &Args) -> i32 {
    // `--connect` uses the warehouses' and the API's secrets: an unset one is an error.
    let mode = if args.connect { EnvMode::Error } else { EnvMode::Warn };
    let report = destination::check_file(&args.path, mode);
    let connected = match (&report.checked.config, args.connect) {
        (Some(config), true) => Some(connect_problems(config)),
        _ => None,
    };
    let ok = report.is_valid() && connected.as_ref().is_none_or(|p| p.is_empty());
    match args.format {
        Format::Json => print_json(&ConnectOutput {
            report: report.to_json(),
            connect: connected.map(|problems| Connect { problems }),
        }),
        Format::Human => {
            eprint!("{}", report.render_human(stderr_color()));
            for p in connected.iter().flatten() {
                match &p.sync {
                    Some(sync) => eprintln!("error: sync {sync}: {}: {}", p.key, p.message),
                    None => eprintln!("error: {}: {}", p.key, p.message),
                }
            }
            println!("{}", report.summary());
            if let Some(problems) = &connected {
                let syncs = report.checked.config.as_ref().map_or(0, |c| c.syncs.len());
                match problems.len() {
                    0 => println!("connected: {syncs} sync{} and the API checked, no problem", plural(syncs)),
                    n => println!("connected: {n} problem{}", plural(n)),
                }
            }
        }
    }
    if ok { exit::OK } else { exit::INVALID }
}

/// `check --format json`, with `connect` when `--connect` was given.
#[derive(Serialize)]
struct ConnectOutput {
    #[serde(flatten)]
    report: destination::report::CheckJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    connect: Option<Connect>,
}

#[derive(Serialize)]
struct Connect {
    problems: Vec<ConnectProblem>,
}

fn connect_problems(config: &destination::Config) -> Vec<ConnectProblem> {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt.block_on(check_connections(config)),
        Err(e) => vec![ConnectProblem { sync: None, key: String::new(), message: format!("cannot start: {e}") }],
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
