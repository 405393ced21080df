//! Progress on a terminal: one bar of records settled (delivered or failed). Nothing at all when
//! stderr is not a terminal, where logs go instead (interface.md: progress goes to stderr).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const WITH_TOTAL: &str = "{prefix} {bar:30} {pos}/{len} records {msg} ({elapsed})";
const WITHOUT_TOTAL: &str = "{prefix} {spinner} {pos} records {msg} ({elapsed})";

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
    /// records when known; hidden when stderr is not a terminal.
    pub fn stderr(label: &str, total: Option<u64>) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        let template = if total.is_some() { WITH_TOTAL } else { WITHOUT_TOTAL };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_prefix(label.to_owned());
        Progress { bar: Some(bar) }
    }

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

    /// Leaves the bar as it is on the screen.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
