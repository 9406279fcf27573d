//! Prometheus metrics: commands by action and outcome, append latency, projection lag.

use gridcase_bus::Position;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// Process-wide counters.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    commands: BTreeMap<(&'static str, &'static str), u64>,
    latency_counts: [u64; BUCKETS.len() + 1],
    latency_sum: f64,
    latency_n: u64,
}

impl Metrics {
    /// Counts one command and, when it reached the log, its latency.
    pub fn command(&self, action: &'static str, outcome: &'static str, latency: Option<Duration>) {
        let mut m = self.inner.lock().expect("metrics lock");
        *m.commands.entry((action, outcome)).or_default() += 1;
        if let Some(l) = latency {
            let s = l.as_secs_f64();
            let i = BUCKETS
                .iter()
                .position(|b| s <= *b)
                .unwrap_or(BUCKETS.len());
            m.latency_counts[i] += 1;
            m.latency_sum += s;
            m.latency_n += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self, head: Position, applied: Position) -> String {
        let m = self.inner.lock().expect("metrics lock");
        let mut out = String::new();
        out.push_str("# HELP gridcase_commands_total Commands handled, by action and outcome.\n# TYPE gridcase_commands_total counter\n");
        for ((action, outcome), n) in &m.commands {
            let _ = writeln!(
                out,
                "gridcase_commands_total{{action=\"{action}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str("# HELP gridcase_append_seconds Command latency through decide and durable append.\n# TYPE gridcase_append_seconds histogram\n");
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += m.latency_counts[i];
            let _ = writeln!(
                out,
                "gridcase_append_seconds_bucket{{le=\"{b}\"}} {cumulative}"
            );
        }
        cumulative += m.latency_counts[BUCKETS.len()];
        let _ = writeln!(
            out,
            "gridcase_append_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(out, "gridcase_append_seconds_sum {}", m.latency_sum);
        let _ = writeln!(out, "gridcase_append_seconds_count {}", m.latency_n);
        out.push_str("# HELP gridcase_log_head_position Last durable position of the log.\n# TYPE gridcase_log_head_position gauge\n");
        let _ = writeln!(out, "gridcase_log_head_position {head}");
        out.push_str("# HELP gridcase_projection_lag Commits in the log not yet projected.\n# TYPE gridcase_projection_lag gauge\n");
        let _ = writeln!(out, "gridcase_projection_lag {}", head.since(applied));
        out
    }
}
