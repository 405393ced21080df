//! The command-line interface: argument parsing and one module per command. Commands print
//! results on stdout and diagnostics on stderr; `--format json` prints one JSON document on
//! stdout instead.

mod check;
mod demo;
mod fields;
mod input_file;
mod listen;
mod log;
mod logs;
mod lsp;
mod preview;
mod render;
mod run;
mod runs;
mod studio;
mod sync;

use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;

/// Keeps an audience list in your own HTTP API in step with a SQL model in your warehouse.
///
/// One TOML file describes your audience API and the syncs that feed it; request bodies are
/// templates in an allowlisted subset of JSONata. `check`, `fields`, `render` and `preview` work
/// offline; `sync` runs syncs now and `run` runs them on their schedules; `logs` shows what a run
/// did and `runs` the run history; `studio` edits templates in the browser, `lsp` checks them in your editor. New here? `audience demo` does the whole job on
/// this machine, nothing else installed.
#[derive(Parser, Debug)]
#[command(name = "audience", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Check(check::Args),
    Fields(fields::Args),
    Preview(preview::Args),
    Render(render::Args),
    Sync(sync::Args),
    Run(run::Args),
    Logs(logs::Args),
    Runs(runs::Args),
    Demo(demo::Args),
    Studio(studio::Args),
    Lsp(lsp::Args),
}

/// Output format of a command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text for people (results on stdout; problems, with the source they are in, on stderr).
    #[default]
    Human,
    /// One JSON document on stdout.
    Json,
}

/// Exit codes of the public interface.
pub mod exit {
    /// Success: everything checked is valid, or the command did what it was asked.
    pub const OK: i32 = 0;
    /// The input (a template, a config, records) is invalid: the diagnostics say why.
    pub const INVALID: i32 = 1;
    /// The command line itself is wrong (unknown flag, missing argument).
    pub const USAGE: i32 = 2;
}

/// Runs the command line; returns the process exit code.
// Unsafe: `signal` through libc, to restore SIGPIPE's default (allowed on this function alone,
// not on the command modules below `cli`).
#[allow(unsafe_code)]
pub fn main() -> i32 {
    // Rust ignores SIGPIPE, so a closed stdout (`audience logs … | head`) would make every
    // `print!` panic; restore the default so the process ends quietly, as other tools do.
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // The process's one TLS set-up, before any connection (HTTPS or a warehouse).
    crate::http::tls::install_crypto_provider();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { exit::USAGE } else { exit::OK };
        }
    };
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Fields(args) => fields::run(args),
        Command::Preview(args) => preview::run(args),
        Command::Render(args) => render::run(args),
        Command::Sync(args) => sync::run(args),
        Command::Run(args) => run::run(args),
        Command::Logs(args) => logs::run(args),
        Command::Runs(args) => runs::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Studio(args) => studio::run(args),
        Command::Lsp(args) => lsp::run(args),
    }
}

/// Whether diagnostics on stderr may use colour: a terminal that is not `TERM=dumb`, and
/// `NO_COLOR` unset or empty.
pub(crate) fn stderr_color() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// Prints a config report for a command that needs a valid config: on errors, the whole report
/// (JSON on stdout, or annotated on stderr with its summary) and, when `command` is given, that
/// the command refuses it; returns the config when it is usable. With warnings only, human
/// output shows them on stderr and the command goes on.
pub(crate) fn usable_config<'r>(
    report: &'r crate::destination::Report,
    format: Format,
    command: Option<&str>,
) -> Option<&'r crate::destination::Config> {
    let Some(config) = &report.checked.config else {
        match format {
            Format::Json => print_json(&report.to_json()),
            Format::Human => {
                eprint!("{}", report.render_human(stderr_color()));
                eprintln!("{}", report.summary());
            }
        }
        if let Some(command) = command {
            eprintln!("error: {command} refuses a config with errors");
        }
        return None;
    };
    if format == Format::Human && report.warnings() > 0 {
        eprint!("{}", report.render_human(stderr_color()));
    }
    Some(config)
}

/// Prints a JSON document and a newline on stdout.
pub(crate) fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot serialise the output: {e}"),
    }
}
