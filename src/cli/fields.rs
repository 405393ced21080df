//! `audience fields CONFIG`: each action's template fields with their settings.

use super::{Format, exit, print_json, usable_config};
use crate::destination::{self, ActionKind, Config, EnvMode};
use serde::Serialize;
use std::path::PathBuf;

/// List each action's template fields with their settings (required, static, hash, normalize).
///
/// The config is checked first, as `check` does; with an error, the diagnostics are printed and
/// the exit code is 1.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The destination config (`.toml`).
    config: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// One field as `--format json` shows it.
#[derive(Serialize)]
struct FieldJson<'a> {
    name: &'a str,
    required: bool,
    #[serde(rename = "static")]
    is_static: bool,
    hash: &'static str,
    normalize: &'static str,
}

#[derive(Serialize)]
struct Output<'a> {
    add: Vec<FieldJson<'a>>,
    update: Vec<FieldJson<'a>>,
    remove: Vec<FieldJson<'a>>,
}

pub fn run(args: Args) -> i32 {
    let report = destination::check_file(&args.config, EnvMode::Warn);
    let Some(config) = usable_config(&report, args.format, None) else {
        return exit::INVALID;
    };
    match args.format {
        Format::Json => {
            let [add, update, remove] = ActionKind::ALL.map(|kind| fields(config, kind));
            print_json(&Output { add, update, remove });
        }
        Format::Human => print!("{}", human(config)),
    }
    exit::OK
}

fn fields(config: &Config, kind: ActionKind) -> Vec<FieldJson<'_>> {
    let d = &config.destination;
    d.action(kind)
        .field_names()
        .into_iter()
        .map(|name| {
            let s = d.field(name);
            FieldJson {
                name,
                required: s.required,
                is_static: s.is_static,
                hash: s.hash.name(),
                normalize: s.normalize.name(),
            }
        })
        .collect()
}

fn human(config: &Config) -> String {
    let mut out = String::new();
    for kind in ActionKind::ALL {
        let action = config.destination.action(kind);
        let how = if action.uses_add { " (uses add)" } else { "" };
        out.push_str(&format!("{kind}: {} {}{how}\n", action.method, action.path.shown()));
        let rows = fields(config, kind);
        if rows.is_empty() {
            out.push_str("  (no fields)\n");
        }
        let width = rows.iter().map(|f| f.name.chars().count()).max().unwrap_or(0);
        for f in rows {
            let mut settings = vec![if f.required { "required" } else { "optional" }.to_owned()];
            if f.is_static {
                settings.push("static".into());
            }
            if f.hash != "none" {
                settings.push(format!("hash={}", f.hash));
            }
            if f.normalize != "none" {
                settings.push(format!("normalize={}", f.normalize));
            }
            out.push_str(&format!("  {:width$}  {}\n", f.name, settings.join("  ")));
        }
    }
    out
}
