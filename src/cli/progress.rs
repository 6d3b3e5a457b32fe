//! Progress on the terminal: every bar pattern-guard draws comes from here (the delay countdown,
//! the pause between `--repeat` runs, replay's progress). Bars are drawn on stderr only when it is
//! a terminal and `-q` was not given, so nothing reaches a pipe, a log or a cron mail.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Makes progress bars, or none where they must not be drawn.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    shown: bool,
}

impl Progress {
    /// Bars are shown when stderr is a terminal and `quiet` is false.
    pub fn new(quiet: bool) -> Self {
        Progress {
            shown: !quiet && std::io::stderr().is_terminal(),
        }
    }

    /// A bar of `len` steps drawn with an indicatif `template`; `None` where bars are not shown.
    pub fn bar(self, len: u64, template: &str) -> Option<ProgressBar> {
        self.shown.then(|| styled(ProgressBar::new(len), template))
    }

    /// A spinner for work of unknown length; `None` where bars are not shown.
    pub fn spinner(self, template: &str) -> Option<ProgressBar> {
        self.shown
            .then(|| styled(ProgressBar::new_spinner(), template))
    }
}

fn styled(bar: ProgressBar, template: &str) -> ProgressBar {
    // The templates are constants of this program: one that does not parse falls back to
    // indicatif's default style rather than failing a run.
    let style =
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Clears a bar, if there is one.
pub fn finish(bar: Option<&ProgressBar>) {
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}
