//! `audience studio CONFIG [--port N]`: the template authoring page, served on 127.0.0.1.

use std::path::PathBuf;

use super::exit;
use crate::authoring::Workspace;
use crate::studio::Studio;

/// Edit a config's templates in the browser: problems as you type, the template fields and
/// their settings, and the exact request for sample records of each action.
///
/// Prints the page's URL, which carries a random token that every call needs, and serves it on
/// 127.0.0.1 only until stopped (Ctrl-C). Save writes CONFIG back (and its template files) with
/// its comments, layout and every `${NAME}` kept, and is refused while an error shows. A CONFIG
/// that does not exist starts from an example and is created on the first save. Works with
/// environment variables unset (shown as warnings); secrets never reach the page.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The destination config (`.toml`), created on the first save when it does not exist.
    config: PathBuf,
    /// The port on 127.0.0.1 (default: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

pub fn run(args: Args) -> i32 {
    let workspace = match Workspace::open(&args.config) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    let new = !workspace.exists();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return exit::INVALID;
        }
    };
    runtime.block_on(async {
        let studio = match Studio::start(workspace, args.port, Box::new(|name| std::env::var(name).ok())).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot serve the studio on 127.0.0.1:{}: {e}", args.port);
                return exit::INVALID;
            }
        };
        if new {
            eprintln!("note: {} does not exist: it is created on the first save", args.config.display());
        }
        println!("audience studio: {}", studio.url());
        eprintln!("open that URL in a browser on this machine; Ctrl-C stops the studio");
        tokio::select! {
            () = studio.wait() => exit::INVALID,
            _ = tokio::signal::ctrl_c() => exit::OK,
        }
    })
}
