//! Progress on a terminal: one bar of records settled (delivered or failed). Nothing at all when
//! stderr is not a terminal, where logs go instead (docs/design/interface.md: progress goes to stderr).

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

// `wide_bar` takes the width the rest leaves, so the line never wraps on a narrow terminal.
const WITH_TOTAL: &str = "{prefix} {wide_bar} {pos}/{len} records, {rate}, {eta} left {msg}";
const WITHOUT_TOTAL: &str = "{prefix} {spinner} {pos} records, {rate} {msg} ({elapsed})";

/// The bar on the screen, if any: log lines are written around it ([`suspend`]).
static SHOWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Runs `write` (which prints a line on stderr) with the progress bar off the screen, so that the
/// line does not land inside the bar; the bar is drawn again below it.
pub fn suspend(write: impl FnOnce()) {
    let shown = SHOWN.lock().unwrap_or_else(|p| p.into_inner()).clone();
    match shown {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// `{rate}`: records per second, whole.
fn rate(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{:.0}/s", state.per_sec());
}

/// A progress display, or nothing. Clones share the bar.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// No display (the default).
    pub fn hidden() -> Progress {
        Progress { bar: None }
    }

    /// A bar on stderr labelled `label` (a sync and action name: never a value), of `total`
    /// records when known; hidden when stderr is not a terminal, or one that cannot redraw a
    /// line (`TERM=dumb`).
    pub fn stderr(label: &str, total: Option<u64>) -> Progress {
        if !std::io::stderr().is_terminal() || std::env::var_os("TERM").is_some_and(|t| t == "dumb") {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        let template = if total.is_some() { WITH_TOTAL } else { WITHOUT_TOTAL };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.with_key("rate", rate));
        }
        bar.set_prefix(label.to_owned());
        *SHOWN.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar.clone());
        Progress { bar: Some(bar) }
    }

    /// Whether no bar is drawn (progress was not asked for, or stderr cannot show it).
    pub fn is_hidden(&self) -> bool {
        self.bar.is_none()
    }

    /// `records` more settled; `failed` is the running count of failures, shown when not zero.
    pub(crate) fn advance(&self, records: u64, failed: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(records);
            if failed > 0 {
                bar.set_message(format!("{failed} failed"));
            }
        }
    }

    /// Clears the bar: the summary that follows says how the run went.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            SHOWN.lock().unwrap_or_else(|p| p.into_inner()).take();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fits_the_terminal_and_shows_rate_and_time_left() {
        // `wide_bar` takes what the rest of the line leaves (a fixed `bar:30` wraps on narrow
        // terminals); the rate and the time left are what people watch on a long run.
        for key in ["{wide_bar}", "{rate}", "{eta} left"] {
            assert!(WITH_TOTAL.contains(key), "{key}");
        }
    }

    #[test]
    fn styles_parse_and_a_hidden_bar_does_nothing() {
        assert!(ProgressStyle::with_template(WITH_TOTAL).is_ok());
        assert!(ProgressStyle::with_template(WITHOUT_TOTAL).is_ok());
        let hidden = Progress::hidden();
        hidden.advance(10, 1);
        hidden.finish();
        assert!(hidden.is_hidden());
    }
}
