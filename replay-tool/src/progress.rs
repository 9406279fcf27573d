//! Progress bars on standard error for long work (verify, rebuild, export, stats).

use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// A bar over `len` log positions, drawn on standard error only when `enabled` and standard
/// error is a terminal.
pub fn bar(len: u64, enabled: bool, what: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(4));
    let template = format!(
        "{{spinner}} {what} [{{elapsed_precise}}] {{bar:40}} {{pos}}/{{len}} positions ({{rate}}, eta {{eta}}) {{msg}}"
    );
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0}/s", s.per_sec());
        });
    b.set_style(style);
    b
}

/// Counts and elapsed time of a pass over the log, for the rate lines.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Commits read.
    pub commits: u64,
    /// Events read.
    pub events: u64,
    /// Seconds taken.
    pub seconds: f64,
}

impl Rate {
    /// Measures from `started` to now.
    pub fn since(started: Instant, commits: u64, events: u64) -> Rate {
        Rate {
            commits,
            events,
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    /// Events per second.
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.seconds.max(1e-9)
    }

    /// Commits per second.
    pub fn commits_per_second(&self) -> f64 {
        self.commits as f64 / self.seconds.max(1e-9)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} commits, {} events in {:.2}s ({:.0} commits/s, {:.0} events/s)",
            self.commits,
            self.events,
            self.seconds,
            self.commits_per_second(),
            self.events_per_second()
        )
    }
}
