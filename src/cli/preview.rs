//! `audience preview CONFIG --action ACTION`: the exact request for sample records, sent
//! nowhere. The URL is shown as the HTTP client sends it.

use super::{Format, exit, print_json, stderr_color, usable_config};
use crate::destination::preview::{PreviewError, PreviewOptions, parse_records, preview, preview_response};
use crate::destination::{self, ActionKind, EnvMode, Preview};
use crate::template::report as template_report;
use std::path::PathBuf;

/// Build the exact HTTP request one action would send for sample records, and send nothing.
///
/// Runs every check of `check` first and refuses on an error. Sample records come from
/// `--records` (a JSON array of objects keyed by template field, values before normalisation
/// and hashing) or are generated (`--count`, deterministic). Rejected samples are listed with
/// their reason; the exit code is still 0. Secrets are shown as `***` unless `--show-secrets`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The destination config (`.toml`).
    config: PathBuf,
    /// The action: add, update or remove (also insert, delete).
    #[arg(long, value_parser = parse_action)]
    action: ActionKind,
    /// The sync that supplies the connection, static values and hash_pii (default: the only
    /// one).
    #[arg(long, value_name = "NAME")]
    sync: Option<String>,
    /// A JSON array of sample records keyed by template field.
    #[arg(long, value_name = "FILE", conflicts_with = "count")]
    records: Option<PathBuf>,
    /// How many sample records to generate.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    count: u32,
    /// A sample answer body (JSON): shows which records of the previewed request the action's
    /// `response` setting reads as refused, and why.
    #[arg(long, value_name = "FILE")]
    response: Option<PathBuf>,
    /// Show secrets in headers, URL and body instead of `***`.
    #[arg(long)]
    show_secrets: bool,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

fn parse_action(s: &str) -> Result<ActionKind, String> {
    s.parse()
}

pub fn run(args: Args) -> i32 {
    let report = destination::check_file(&args.config, EnvMode::Warn);
    let Some(config) = usable_config(&report, args.format, Some("preview")) else {
        return exit::INVALID;
    };
    let records = match &args.records {
        None => None,
        Some(path) => match std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|t| parse_records(&t)) {
            Ok(records) => Some(records),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return exit::INVALID;
            }
        },
    };
    let answer = match &args.response {
        None => None,
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return exit::INVALID;
            }
        },
    };
    if config.syncs.is_empty() {
        eprintln!("note: the config has no sync: previewing with a sample connection and hash_pii = true");
    }
    let options = PreviewOptions {
        action: args.action,
        sync: args.sync.clone(),
        records,
        count: args.count as usize,
        show_secrets: args.show_secrets,
    };
    let built = match &answer {
        None => preview(config, &options),
        Some(answer) => preview_response(config, &options, answer),
    };
    match built {
        Ok(mut p) => {
            // As delivery sends it (dot segments resolved, the host lower-cased): what is shown
            // is what goes on the wire.
            if let Ok(url) = crate::http::client::wire_url(&p.url) {
                p.url = url.into();
            }
            match args.format {
                Format::Json => print_json(&p),
                Format::Human => print!("{}", human(&p)),
            }
            let batch_size = config.destination.action(args.action).batch_size;
            if args.records.is_none() && args.format == Format::Human && args.count as usize > batch_size {
                eprintln!(
                    "note: {} sample records asked for, and batch_size is {batch_size}: the preview shows the first \
                     request, so {} are left out",
                    args.count,
                    args.count as usize - batch_size
                );
            }
            exit::OK
        }
        Err(
            e @ (PreviewError::UnknownSync { .. }
            | PreviewError::SeveralSyncs { .. }
            | PreviewError::NoResponseSetting(_)),
        ) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
        Err(PreviewError::Render(d)) => {
            let kind = args.action;
            match &report.checked.templates[kind.index()] {
                Some(source) => {
                    let name = source.file.as_ref().map_or_else(|| source.key.clone(), |f| f.display().to_string());
                    let mut d = d.clone();
                    d.message = format!("{kind} template failed on the samples: {}", d.message);
                    let text = template_report::render_human(&source.text, &name, &[d], stderr_color());
                    eprint!("{}", config.redactor.redact(&text));
                }
                None => eprintln!("error: {}", config.redactor.redact(&PreviewError::Render(d).to_string())),
            }
            exit::INVALID
        }
        Err(e) => {
            eprintln!("error: {}", config.redactor.redact(&e.to_string()));
            exit::INVALID
        }
    }
}

/// The request as people read it: request line, headers, body, then rejected samples.
fn human(p: &Preview) -> String {
    let mut out = format!("{} {}\n", p.method, p.url);
    for (name, value) in &p.headers {
        out.push_str(&format!("{name}: {}\n", value.as_str().unwrap_or_default()));
    }
    out.push('\n');
    match &p.body {
        Some(body) => {
            out.push_str(&serde_json::to_string_pretty(body).unwrap_or_default());
            out.push('\n');
        }
        None if p.rejected.is_empty() => out.push_str("(no body: there are no sample records)\n"),
        None => out.push_str("(no body: every sample record was rejected)\n"),
    }
    // Counted from 1 for people, as an editor numbers a list (the JSON counts from 0).
    for r in &p.rejected {
        out.push_str(&format!("sample record {} rejected: {}\n", r.index + 1, r.error));
    }
    if let Some(reading) = &p.response {
        out.push_str("\nthe sample answer, read with the response setting:\n");
        match &reading.unreadable {
            Some(why) => out.push_str(&format!("every record of the request fails: {why}\n")),
            None => {
                let shown: Vec<String> = reading.succeeded.iter().map(usize::to_string).collect();
                let shown = if shown.is_empty() { "none".to_owned() } else { shown.join(", ") };
                out.push_str(&format!("accepted samples: {shown}\n"));
                for r in &reading.refused {
                    out.push_str(&format!("refused sample {}: {}\n", r.index, r.error));
                }
            }
        }
    }
    out
}
