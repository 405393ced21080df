//! `audience lsp`: the language server, on stdin and stdout.

use super::exit;

/// Serve the Language Server Protocol on stdin/stdout, for editors: `audience check`'s
/// diagnostics as you type in `.jsonata` templates and in config files (any TOML file with a
/// `[destination]` table), completion, hover, go to definition and quick fixes.
///
/// Started by the editor, not by hand: see docs/editors.md for VS Code, Neovim and Helix.
/// Works with environment variables unset (shown as warnings); secrets never reach the editor.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Accepted and ignored: editors' clients commonly pass it; stdio is the one transport.
    #[arg(long)]
    stdio: bool,
}

pub fn run(args: Args) -> i32 {
    let _ = args.stdio;
    let input = std::io::BufReader::new(std::io::stdin());
    match crate::lsp::serve(input, std::io::stdout().lock()) {
        Ok(true) => exit::OK,
        Ok(false) => exit::INVALID,
        Err(e) => {
            eprintln!("error: audience lsp: {e}");
            exit::INVALID
        }
    }
}
