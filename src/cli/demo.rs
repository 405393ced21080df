//! `audience demo`: the whole job on this machine (see [`crate::demo`]), printed for people or
//! as one JSON document.

use std::path::PathBuf;

use super::{Format, exit, print_json};
use crate::demo::{self, Options, Report, RunReport};

/// Show the whole job on this machine, with nothing else installed: a SQLite warehouse of sample
/// users, a local audience API, and two real syncs.
///
/// Writes a real config (`audience.toml`, with its templates) and a SQLite warehouse of sample
/// users into a new temporary folder (or `--dir`), starts a local audience API on 127.0.0.1,
/// runs the sync (every member sent as an add), changes some users in the warehouse (new
/// e-mail addresses, deletions, new sign-ups), runs it again (only the adds, updates and
/// removes), and shows what the API received, per run. It ends with commands to try on the
/// files it leaves behind. Exit 0 when the API ends up holding exactly the model's members.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Work in this folder: created if missing; else it must be empty or a previous demo's
    /// (whose files are replaced). Default: a new folder in the system's temporary folder.
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
    /// Sample users in the warehouse (about 60% of them are in the model).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 3000,
        value_parser = clap::value_parser!(u32).range(100..=1_000_000)
    )]
    users: u32,
    /// `json`: one document on stdout with both runs' summaries and what the API received.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn run(args: Args) -> i32 {
    let options = Options { dir: args.dir, users: args.users, program: program() };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INVALID;
        }
    };
    let report = match runtime.block_on(demo::run(&options)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    match args.format {
        Format::Json => print_json(&report),
        Format::Human => print!("{}", human(&report)),
    }
    if report.ok() {
        exit::OK
    } else {
        eprintln!("error: the demo did not end in step (see above): please report it");
        exit::INVALID
    }
}

/// How to call this program in the suggested commands: `audience` when that is what `PATH`
/// finds, else the path of this executable (a `cargo run` build is not on `PATH`).
fn program() -> String {
    let Ok(me) = std::env::current_exe() else { return "audience".into() };
    let me = std::fs::canonicalize(&me).unwrap_or(me);
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| std::fs::canonicalize(dir.join("audience")).is_ok_and(|p| p == me))
    });
    if on_path { "audience".into() } else { demo::flow::shell_quote(&me.display().to_string()) }
}

/// The report for people.
fn human(r: &Report) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line("audience demo: the whole job on this machine, nothing else installed".into());
    line(String::new());
    line(format!("  folder     {}", r.dir.display()));
    line(format!("  config     {}  (templates in templates/)", r.config.display()));
    let initial = r.runs.first().map_or(0, |run| run.expected.add);
    line(format!(
        "  warehouse  {}  (SQLite: {} sample users; the model, users with ltv > 100, has {initial} rows)",
        r.warehouse.display(),
        r.users
    ));
    line(format!("  API        {}  (a local audience API inside this process, gone when the demo ends)", r.api));
    let mut shown = Vec::new();
    for (i, run) in r.runs.iter().enumerate() {
        line(String::new());
        if let Some(c) = &run.changes {
            line("Then the demo changes users in the warehouse:".into());
            line(format!("   {} members change their e-mail address", c.emails_changed));
            line(format!("   {} users are deleted ({} of them members)", c.users_deleted, c.members_deleted));
            line(format!("   {} members leave the model (ltv falls), {} users join it", c.left_model, c.joined_model));
            line(format!("   {} new users sign up ({} of them in the model)", c.users_inserted, c.new_members));
            line(String::new());
        }
        line(format!("{}. {}", i + 1, run.title));
        run_lines(run, &mut shown, &mut line);
    }
    line(String::new());
    if r.in_step {
        line(format!("In step: the API holds exactly the model's {} members.", r.model_rows));
    } else {
        line(format!("NOT in step: the API holds {} members, the model has {} rows.", r.members, r.model_rows));
    }
    for notice in &r.notices {
        line(format!("note: {notice}"));
    }
    line(String::new());
    line("The sync's state is in the warehouse, in tables you can query:".into());
    line("   _audience_logs: one row per record of each run's delta, with its outcome".into());
    line("   _audience_runs: one row per run, with its counts".into());
    line(format!("   _audience_baseline_{}: the members the API accepted", r.sync));
    line("Try next (the demo's API has stopped: these read the files and send nothing):".into());
    for command in &r.next {
        line(format!("  {command}"));
    }
    out
}

/// One run's lines; `shown` are the actions whose sample body an earlier run showed (the shape
/// is the same: one sample per action is enough for people; the JSON has them all).
fn run_lines(run: &RunReport, shown: &mut Vec<&'static str>, line: &mut impl FnMut(String)) {
    for (i, text) in run.summary.human().lines().enumerate() {
        line(format!("   {}{text}", if i == 0 { "" } else { "  " }));
    }
    let rec = &run.received;
    let mut parts = Vec::new();
    for (name, tally) in [("add", rec.add), ("update", rec.update), ("remove", rec.remove)] {
        if tally.requests > 0 {
            let s = if tally.requests == 1 { "" } else { "s" };
            parts.push(format!("{name} {} records ({} request{s})", tally.records, tally.requests));
        }
    }
    if rec.rejected > 0 {
        parts.push(format!("{} rejected", rec.rejected));
    }
    if rec.replayed > 0 {
        parts.push(format!("{} replays of requests already applied", rec.replayed));
    }
    line(format!("   the API received {} requests: {}", rec.requests, parts.join(", ")));
    // In sending order.
    for (action, sample) in ["remove", "update", "add"].into_iter().filter_map(|a| Some((a, rec.samples.get(a)?))) {
        if shown.contains(&action) {
            continue;
        }
        shown.push(action);
        let shown = sample.records.min(demo::api::SAMPLE_MEMBERS);
        line(format!(
            "   its first {action} request: {} {} with {} records ({shown} shown):",
            sample.method, sample.path, sample.records
        ));
        let body = serde_json::to_string_pretty(&sample.body).unwrap_or_default();
        for text in body.lines() {
            line(format!("     {text}"));
        }
    }
    line(format!("   the API now has {} members", run.members_after));
}
