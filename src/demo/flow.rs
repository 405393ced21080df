//! The demo, step by step: folder, API, config, warehouse, first sync, changes, second sync,
//! and the check that the API holds exactly the model's members.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::api::{AudienceApi, Received};
use super::data::{self, Changes, Expected};
use super::files::{self, AUDIENCE_ID, SYNC, TOKEN, WAREHOUSE};
use crate::delivery::{DeliveryClient, StopToken};
use crate::destination::{self, Config, EnvMode};
use crate::sync::connect::connect;
use crate::sync::endpoint::delivery_client;
use crate::sync::{Job, RunOptions, Status, SyncSummary, run_sync};

/// What to run the demo with.
#[derive(Clone, Debug)]
pub struct Options {
    /// The folder (default: a new one in the system's temporary folder).
    pub dir: Option<PathBuf>,
    /// Sample users in the warehouse.
    pub users: u32,
    /// How to call `audience` in the commands suggested at the end.
    pub program: String,
}

/// Everything the demo did, as `demo --format json` prints it.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The demo's folder.
    pub dir: PathBuf,
    /// The destination config it wrote.
    pub config: PathBuf,
    /// The SQLite warehouse it made.
    pub warehouse: PathBuf,
    /// The API's address while the demo ran.
    pub api: String,
    /// The sync that ran.
    pub sync: &'static str,
    /// The audience the sync fed.
    pub audience_id: &'static str,
    /// Sample users created in the warehouse.
    pub users: u32,
    /// The two runs.
    pub runs: Vec<RunReport>,
    /// The API's members at the end.
    pub members: u64,
    /// The model's rows at the end (every one valid: the key is the table's primary key).
    pub model_rows: u64,
    /// The API's member ids are exactly the model's ids.
    pub in_step: bool,
    /// Log messages of the runs (a stale lock taken over, retention).
    pub notices: Vec<String>,
    /// Commands to try next, on the files the demo left.
    pub next: Vec<String>,
}

/// One sync of the demo.
#[derive(Debug, Serialize)]
pub struct RunReport {
    /// What this run shows.
    pub title: &'static str,
    /// What the demo changed in the warehouse before this run (`null` before the first).
    pub changes: Option<Changes>,
    /// Records this run should send, per action, known from the data.
    pub expected: Expected,
    /// The run's summary, as `audience sync --format json` prints it.
    pub summary: SyncSummary,
    /// What the API received during the run.
    pub received: Received,
    /// The API's members after the run.
    pub members_after: u64,
}

impl Report {
    /// Both runs succeeded, each sent what the data says it should, and the API holds exactly
    /// the model.
    pub fn ok(&self) -> bool {
        self.in_step
            && self.runs.iter().all(|r| {
                r.summary.status == Status::Succeeded
                    && r.summary.counts.inserted == r.expected.add
                    && r.summary.counts.updated == r.expected.update
                    && r.summary.counts.deleted == r.expected.remove
            })
    }
}

/// Why the demo could not run.
#[derive(Debug)]
pub struct DemoError(pub String);

impl std::fmt::Display for DemoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DemoError {}

fn fail(what: &str, e: impl std::fmt::Display) -> DemoError {
    DemoError(format!("{what}: {e}"))
}

/// Runs the demo. Needs a multi-thread tokio runtime (the API serves while the sync runs).
pub async fn run(options: &Options) -> Result<Report, DemoError> {
    let dir = files::prepare(options.dir.as_deref()).map_err(|e| DemoError(e.to_string()))?;
    let api = AudienceApi::start(TOKEN).await.map_err(|e| fail("cannot start the local API on 127.0.0.1", e))?;
    let config_path = files::write(&dir, &api.url(), data::MODEL).map_err(|e| fail("cannot write the config", e))?;
    let warehouse = dir.join(WAREHOUSE);
    data::create(&warehouse, options.users).map_err(|e| fail("cannot create the SQLite warehouse", e))?;

    // The config is read back and checked exactly as `audience sync` does.
    let report = destination::check_file(&config_path, EnvMode::Error);
    if !report.is_valid() || report.warnings() > 0 {
        return Err(DemoError(format!("the demo's config does not check clean (a bug): {}", report.summary())));
    }
    let templates = report.checked.templates.clone().map(|t| t.map(|t| t.text));
    let Some(config) = report.checked.config else { return Err(DemoError("the demo's config did not load".into())) };
    let client = delivery_client(&config).map_err(|e| fail("cannot make the HTTP client", e))?;
    let runner = Runner { config: &config, templates: &templates, client: &client, notices: RefCell::default() };

    let initial = data::model_ids(&warehouse).map_err(|e| fail("cannot read the model", e))?.len() as u64;
    let first = Expected { add: initial, update: 0, remove: 0 };
    let mut runs = vec![runner.run(&api, "first sync: the whole model is sent as adds", None, first).await?];
    let changes = data::change(&warehouse, options.users).map_err(|e| fail("cannot change the sample users", e))?;
    let title = "second sync: only what changed is sent (adds, updates, removes)";
    runs.push(runner.run(&api, title, Some(changes), changes.expected).await?);

    let model = data::model_ids(&warehouse).map_err(|e| fail("cannot read the model", e))?;
    let members = api.members(AUDIENCE_ID);
    let in_step = members.len() == model.len() && members.iter().all(|id| model.contains(id));
    let next = follow_ups(&options.program, &config_path, &warehouse);
    let notices = runner.notices.take();
    Ok(Report {
        dir,
        config: config_path,
        warehouse,
        api: api.url(),
        sync: SYNC,
        audience_id: AUDIENCE_ID,
        users: options.users,
        runs,
        members: members.len() as u64,
        model_rows: model.len() as u64,
        in_step,
        notices,
        next,
    })
}

/// What each of the demo's runs shares.
struct Runner<'a> {
    config: &'a Config,
    templates: &'a [Option<String>; 3],
    client: &'a DeliveryClient,
    /// Messages the runs passed to their `notice` callback.
    notices: RefCell<Vec<String>>,
}

impl Runner<'_> {
    /// One real sync run of the demo's sync, and what the API received meanwhile.
    async fn run(
        &self,
        api: &AudienceApi,
        title: &'static str,
        changes: Option<Changes>,
        expected: Expected,
    ) -> Result<RunReport, DemoError> {
        let Some(sync) = self.config.sync(SYNC) else {
            return Err(DemoError(format!("the config has no sync {SYNC}")));
        };
        let job = Job { config: self.config, sync, templates: self.templates };
        let options = RunOptions { dry_run: false, full_resync: false, allow_mass_removal: false, progress: false };
        let notice = |message: &str| self.notices.borrow_mut().push(message.to_owned());
        // Through the one seam every command uses (the config's source is the demo's database).
        let mut warehouse = connect(sync).await.map_err(|e| fail("cannot open the warehouse", e))?;
        api.take_received();
        let summary = run_sync(&mut warehouse, &job, self.client, &StopToken::new(), &options, &notice).await;
        drop(warehouse);
        let received = api.take_received();
        let members_after = api.members(AUDIENCE_ID).len() as u64;
        Ok(RunReport { title, changes, expected, summary, received, members_after })
    }
}

/// Commands that work on the demo's files once it has ended (its API gone: none of them sends
/// anything).
fn follow_ups(program: &str, config: &Path, warehouse: &Path) -> Vec<String> {
    let c = shell_quote(&config.display().to_string());
    let w = shell_quote(&warehouse.display().to_string());
    vec![
        format!("{program} check {c}"),
        format!("{program} fields {c}"),
        format!("{program} preview {c} --action add --count 2"),
        format!("{program} sync {c} --dry-run"),
        format!("{program} logs {c} --sync {SYNC}"),
        format!("{program} logs {c} --sync {SYNC} --run 1"),
        format!("sqlite3 {w} \"SELECT run_id, operation, status, count(*) FROM _audience_logs GROUP BY 1, 2, 3\""),
    ]
}

/// `s` as one shell word.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-./:=@%+,".contains(&b));
    if plain { s.to_owned() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/tmp/a-b/audience.toml"), "/tmp/a-b/audience.toml");
        assert_eq!(shell_quote("/tmp/my demo"), "'/tmp/my demo'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
