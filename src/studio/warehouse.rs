//! The studio's warehouse buttons: the chosen sync's first model rows as sample records, and
//! its next run's dry-run counts, both through [`crate::sync::peek`] (the studio reaches a
//! warehouse only through the sync layer).
//!
//! The warehouse is read on a thread of its own, with a runtime of its own: a connector's
//! futures need not be `Send` (docs/design/README.md, the `Warehouse` trait), and a slow
//! warehouse must not hold up the page's checks meanwhile.

use hyper::StatusCode;
use serde_json::{Value, json};

use crate::destination::Config;
use crate::sync::Job;
use crate::sync::peek::{dry_run, model_sample};

/// What is asked of the warehouse.
#[derive(Clone, Copy, Debug)]
pub enum Ask {
    /// The model's first rows, at most this many.
    Rows(usize),
    /// The next run's dry run.
    DryRun,
}

/// The answer to `ask` for sync `sync` (`None`: the first) of `config`: its HTTP status and
/// its JSON (an `{error}` when there is none).
pub async fn answer(
    config: Config,
    templates: [Option<String>; 3],
    sync: Option<String>,
    ask: Ask,
) -> (StatusCode, Value) {
    let names = || config.syncs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
    let chosen = match &sync {
        Some(name) => config.sync(name).map(|s| s.name.clone()).ok_or_else(|| {
            format!(
                "there is no sync named {name}; the syncs are: {}",
                if config.syncs.is_empty() { "(none)".to_owned() } else { names() }
            )
        }),
        None => config.syncs.first().map(|s| s.name.clone()).ok_or_else(|| {
            "the config has no sync: add a [syncs.NAME] table with the warehouse's source and model".to_owned()
        }),
    };
    let name = match chosen {
        Ok(name) => name,
        Err(e) => return (StatusCode::NOT_FOUND, json!({ "error": e })),
    };
    let work = move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let sync = config.sync(&name).ok_or("the sync went away")?;
            let job = Job { config: &config, sync, templates: &templates };
            match ask {
                Ask::Rows(limit) => model_sample(&job, limit)
                    .await
                    .map(|sample| json!(sample))
                    .map_err(|e| format!("cannot read the model of sync {name}: {e}")),
                Ask::DryRun => {
                    let (summary, notices) = dry_run(&job).await;
                    let text = summary.human();
                    Ok(json!({ "syncs": [summary], "text": text, "notices": notices }))
                }
            }
        })
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => (StatusCode::OK, value),
        Ok(Err(e)) => (StatusCode::BAD_GATEWAY, json!({ "error": e })),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": format!("the warehouse call failed: {e}") })),
    }
}
