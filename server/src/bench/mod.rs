//! `gridcase bench`: each engine measurement next to the raw limit it is held against, in one
//! process and one run.
//!
//! | suite | engine | raw limit | target |
//! |---|---|---|---|
//! | `append-embedded` | commands/s through [`CommandPath::execute`] on the sled log, 64 writers on distinct cases, durable before ack | sled inserts of the same keys and values, one flush per batch of the engine's mean group size | ≥ 0.5 × raw |
//! | `append-nats` | the same on [`NatsLog`] | pipelined JetStream publishes of the same messages (subjects, headers, payloads), then the acks | ≥ 0.7 × raw |
//! | `replay` | projection rebuild ([`Projection::open`] + `catch_up`) events/s from the file log (the filled sled store, copied) and from NATS | scan the log + check the CRC + decode each commit (the bus's reader of the stored form, as the engine's) and each event body (NATS: one ordered consumer, same decoding) | embedded: ≥ 0.9 × raw and ≥ 400,000 events/s (issue 17); NATS: ≥ 0.7 × raw |
//! | `query` | statistics p50/p99 for a county-year, a city-year, a grid-month; a unit's queue | the bare bucket lookups ([`gridcase_projections::Projector::sum`]) / the bare queue index walk | p99 < 1 ms |
//! | `web` | server time of each workbench page (我的工作台, 检索, the case page, 审计, 统计分析, 上报) on quzhou-year, in process, to the last byte | the API's JSON of the same data | p99 < 50 ms |
//! | `scale` | rebuild time and peak RSS (child processes) for 1×, 4×, 16× the replay fixture | the raw scan+decode of the same log | time linear in events; memory flat |
//!
//! `--smoke` runs every suite on tiny fixtures in seconds (scale: 1×, 2×, 4× tiny) and checks
//! nothing about speed.
//!
//! [`CommandPath::execute`]: gridcase_bus::CommandPath::execute
//! [`NatsLog`]: gridcase_bus::NatsLog
//! [`Projection::open`]: gridcase_projections::Projection::open

mod append;
mod child;
mod nats;
mod query;
mod replay;
mod scale;
mod search;
mod storage;
mod web;
mod workload;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use gridcase_fixtures::Scale;
use serde::Serialize;

pub use child::{run_child, ChildMode};

/// The suites, in the order they run.
pub const SUITES: [&str; 8] = [
    "append-embedded",
    "append-nats",
    "replay",
    "storage",
    "query",
    "search",
    "web",
    "scale",
];

/// What to run: the `gridcase bench` options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// Suites to run, comma-separated: append-embedded, append-nats, replay, storage, query,
    /// search, web, scale; `append` for both append suites (default: all).
    #[arg(long = "suite", value_delimiter = ',')]
    pub suites: Vec<String>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Use the NATS server at this URL (default: start a throwaway nats-server ≥ 2.11 from
    /// NATS_SERVER_BIN or PATH; without one the NATS rows are skipped).
    #[arg(long)]
    pub nats: Option<String>,
    /// A seconds-long run of every suite on tiny fixtures; checks nothing about speed.
    #[arg(long)]
    pub smoke: bool,
    /// The query suite's fixture (default zhejiang-year, ~1M cases; tiny with --smoke).
    #[arg(long)]
    pub fixture: Option<String>,
    /// Directory for the temporary stores (default: the system's temporary directory).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Keep the work directory (logs, projections) for profiling.
    #[arg(long)]
    pub keep: bool,
    /// Run the persisted rebuild at every scale size, not only 1× (slow, memory-hungry).
    #[arg(long)]
    pub scale_persisted: bool,
}

/// A cause kept as it came (the bench drives many libraries).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why the bench (or one of its suites) could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A step failed: `context` says which, the cause why.
    #[error("{context}")]
    Step {
        /// What was being done.
        context: String,
        /// Why it failed.
        #[source]
        source: Cause,
    },
    /// The bench cannot go on: a bad option, no NATS server, or a result that contradicts
    /// what was written (the message says which).
    #[error("{0}")]
    Failed(String),
}

impl BenchError {
    pub(crate) fn new(what: impl std::fmt::Display) -> BenchError {
        BenchError::Failed(what.to_string())
    }
}

impl From<tokio::task::JoinError> for BenchError {
    fn from(e: tokio::task::JoinError) -> BenchError {
        ctx("a bench task stopped abnormally")(e)
    }
}

/// `map_err(ctx("doing x"))`: keeps the error as the cause of what was being done.
pub(crate) fn ctx<E: Into<Cause>>(what: &str) -> impl FnOnce(E) -> BenchError + '_ {
    move |e| BenchError::Step {
        context: what.to_owned(),
        source: e.into(),
    }
}

/// How a row's target compares the numbers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Target {
    /// `ratio >= min` (and, if given, `engine >= min_engine`).
    RatioAtLeast {
        /// Smallest acceptable engine/raw ratio.
        min: f64,
        /// Smallest acceptable engine rate, if any.
        min_engine: Option<f64>,
    },
    /// The engine's p99 latency below this many milliseconds.
    P99BelowMs {
        /// The bound.
        max_ms: f64,
    },
    /// The engine's figure (a size: lower is better) at most this.
    AtMost {
        /// The bound.
        max: f64,
    },
    /// Informational: growth is read from the numbers, nothing is checked.
    Observe {
        /// What to look at.
        what: String,
    },
}

impl Target {
    fn describe(&self) -> String {
        match self {
            Target::RatioAtLeast {
                min,
                min_engine: None,
            } => format!(">= {min:.2} x raw"),
            Target::RatioAtLeast {
                min,
                min_engine: Some(e),
            } => format!(">= {min:.2} x raw, >= {} ev/s", group_digits(*e)),
            Target::P99BelowMs { max_ms } => format!("p99 < {max_ms} ms"),
            Target::AtMost { max } => format!("<= {}", group_digits(*max)),
            Target::Observe { what } => what.clone(),
        }
    }
}

/// One line of the results.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The suite it belongs to.
    pub suite: String,
    /// The measurement.
    pub name: String,
    /// Unit of `engine` and `raw`: `commands/s`, `events/s`, `bytes/event` or `ms (p99)`.
    pub unit: String,
    /// The engine's figure.
    pub engine: f64,
    /// The raw limit's figure.
    pub raw: f64,
    /// Engine relative to raw, as a rate ratio (higher is better; latencies are inverted).
    pub ratio: f64,
    /// What the row is held against.
    pub target: Target,
    /// Whether the target is met (`None` for observations).
    pub met: Option<bool>,
    /// Short human notes (latencies, sizes, memory).
    pub notes: String,
    /// Everything else measured, machine-readable.
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl Row {
    /// A rate row (higher is better).
    pub(crate) fn rate(
        suite: &str,
        name: &str,
        unit: &str,
        engine: f64,
        raw: f64,
        target: Target,
    ) -> Row {
        let ratio = if raw > 0.0 { engine / raw } else { 0.0 };
        let met = match &target {
            Target::RatioAtLeast { min, min_engine } => {
                Some(ratio >= *min && min_engine.is_none_or(|m| engine >= m))
            }
            Target::P99BelowMs { .. } | Target::AtMost { .. } | Target::Observe { .. } => None,
        };
        Row {
            suite: suite.into(),
            name: name.into(),
            unit: unit.into(),
            engine,
            raw,
            ratio,
            target,
            met,
            notes: String::new(),
            details: serde_json::Map::new(),
        }
    }

    /// A latency row: `engine` and `raw` are p99 milliseconds; the ratio is raw/engine.
    pub(crate) fn latency(suite: &str, name: &str, engine_p99_ms: f64, raw_p99_ms: f64) -> Row {
        let max_ms = 1.0;
        Row {
            suite: suite.into(),
            name: name.into(),
            unit: "ms (p99)".into(),
            engine: engine_p99_ms,
            raw: raw_p99_ms,
            ratio: if engine_p99_ms > 0.0 {
                raw_p99_ms / engine_p99_ms
            } else {
                1.0
            },
            target: Target::P99BelowMs { max_ms },
            met: Some(engine_p99_ms < max_ms),
            notes: String::new(),
            details: serde_json::Map::new(),
        }
    }

    /// A size row (lower is better), e.g. bytes per event: the engine's figure must be at most
    /// `max`; the ratio is raw/engine (1 when the engine adds nothing to the raw size).
    pub(crate) fn at_most(
        suite: &str,
        name: &str,
        unit: &str,
        engine: f64,
        raw: f64,
        max: f64,
    ) -> Row {
        Row {
            suite: suite.into(),
            name: name.into(),
            unit: unit.into(),
            engine,
            raw,
            ratio: if engine > 0.0 { raw / engine } else { 1.0 },
            target: Target::AtMost { max },
            met: Some(engine <= max),
            notes: String::new(),
            details: serde_json::Map::new(),
        }
    }

    /// Sets the p99 target of a latency row to `max_ms`.
    pub(crate) fn within_ms(mut self, max_ms: f64) -> Row {
        self.target = Target::P99BelowMs { max_ms };
        self.met = Some(self.engine < max_ms);
        self
    }

    pub(crate) fn note(mut self, note: impl Into<String>) -> Row {
        self.notes = note.into();
        self
    }

    pub(crate) fn detail(mut self, key: &str, value: impl Serialize) -> Row {
        self.details.insert(
            key.into(),
            serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
        );
        self
    }
}

/// A suite that did not run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The suite (or row).
    pub suite: String,
    /// Why.
    pub reason: String,
}

/// Where the bench ran.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs.
    pub nproc: usize,
    /// CPU model from /proc/cpuinfo.
    pub cpu: String,
    /// Total memory in MiB.
    pub memory_mib: u64,
    /// /proc/loadavg when the run started.
    pub load_at_start: String,
    /// /proc/loadavg when it ended.
    pub load_at_end: String,
    /// Kernel.
    pub os: String,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The gridcase version.
    pub version: String,
    /// Whether this was a `--smoke` run (tiny sizes: the numbers mean nothing).
    pub smoke: bool,
    /// The machine.
    pub machine: Machine,
    /// The results.
    pub rows: Vec<Row>,
    /// What did not run.
    pub skipped: Vec<Skipped>,
    /// Caveats about sizes and setup, printed with the table.
    pub notes: Vec<String>,
    /// Wall time of the whole run, seconds.
    pub seconds: f64,
}

impl Report {
    /// Targets that were missed.
    pub fn missed(&self) -> Vec<&Row> {
        self.rows.iter().filter(|r| r.met == Some(false)).collect()
    }
}

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// Fixture of the append suites.
    pub append: Scale,
    /// Fixture of the replay suite and the unit of the scale suite.
    pub replay: Scale,
    /// Fixture of the query suite.
    pub query: Scale,
    /// Copies of the replay fixture in the scale suite (1, 4, 16; smoke: 1, 2, 4).
    pub scale_copies: [u32; 3],
    /// Queries per kind.
    pub query_iterations: usize,
}

impl Sizes {
    fn new(opts: &Options) -> Result<Sizes, BenchError> {
        let query = match &opts.fixture {
            Some(f) => f.parse::<Scale>().map_err(ctx("--fixture"))?,
            None if opts.smoke => Scale::Tiny,
            None => Scale::ZhejiangYear,
        };
        Ok(if opts.smoke {
            Sizes {
                append: Scale::Tiny,
                replay: Scale::Tiny,
                query,
                scale_copies: [1, 2, 4],
                query_iterations: 200,
            }
        } else {
            Sizes {
                append: Scale::QuzhouMonth,
                replay: Scale::QuzhouYear,
                query,
                scale_copies: [1, 4, 16],
                query_iterations: 5_000,
            }
        })
    }
}

/// Shared state of one run: the work directory and, once needed, a NATS server.
pub(crate) struct Run {
    pub opts: Options,
    pub sizes: Sizes,
    pub work: tempfile::TempDir,
    pub nats: nats::NatsEnv,
    pub rows: Vec<Row>,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<String>,
}

impl Run {
    /// A fresh directory under the work directory.
    pub fn dir(&self, name: &str) -> Result<PathBuf, BenchError> {
        let d = self.work.path().join(name);
        if d.exists() {
            std::fs::remove_dir_all(&d).map_err(ctx("clearing a work directory"))?;
        }
        std::fs::create_dir_all(&d).map_err(ctx("creating a work directory"))?;
        Ok(d)
    }

    pub fn skip(&mut self, suite: &str, reason: impl Into<String>) {
        let reason = reason.into();
        eprintln!("bench: skipping {suite}: {reason}");
        self.skipped.push(Skipped {
            suite: suite.into(),
            reason,
        });
    }
}

fn selected(opts: &Options) -> Result<Vec<&'static str>, BenchError> {
    if opts.suites.is_empty() {
        return Ok(SUITES.to_vec());
    }
    let mut out = Vec::new();
    for s in &opts.suites {
        let s = s.trim();
        let add: Vec<&'static str> = match s {
            "all" => SUITES.to_vec(),
            "append" => vec!["append-embedded", "append-nats"],
            other => match SUITES.iter().find(|x| **x == other) {
                Some(x) => vec![*x],
                None => {
                    return Err(BenchError::Failed(format!(
                        "unknown suite {other:?}: expected one of {}, append or all",
                        SUITES.join(", ")
                    )))
                }
            },
        };
        for a in add {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    // Run in the canonical order whatever the command line's.
    out.sort_by_key(|s| SUITES.iter().position(|x| x == s));
    Ok(out)
}

/// Runs the selected suites and returns the report (also printed, and written as JSON when
/// asked).
pub async fn run(opts: Options) -> Result<Report, BenchError> {
    let started = std::time::Instant::now();
    let suites = selected(&opts)?;
    let sizes = Sizes::new(&opts)?;
    let load_at_start = loadavg();
    let mut b = tempfile::Builder::new();
    b.prefix("gridcase-bench-");
    let work = match &opts.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(ctx("creating the work directory"))?;
            b.tempdir_in(d)
        }
        None => b.tempdir(),
    }
    .map_err(ctx("creating the work directory"))?;
    let nats = nats::NatsEnv::new(opts.nats.clone());
    let mut run = Run {
        opts: opts.clone(),
        sizes,
        work,
        nats,
        rows: Vec::new(),
        skipped: Vec::new(),
        notes: Vec::new(),
    };
    if opts.smoke {
        run.notes
            .push("smoke run: tiny fixtures, the numbers say nothing about speed".to_owned());
    }
    eprintln!(
        "bench: suites {}; work directory {}; load average {load_at_start}",
        suites.join(", "),
        run.work.path().display()
    );
    let mut failed = Vec::new();
    for suite in suites {
        let t = std::time::Instant::now();
        eprintln!("bench: ── {suite} ──");
        let rows_before = run.rows.len();
        let result = match suite {
            "append-embedded" => append::embedded(&mut run).await,
            "append-nats" => append::nats(&mut run).await,
            "replay" => replay::run(&mut run).await,
            "storage" => storage::run(&mut run).await,
            "query" => query::run(&mut run).await,
            "search" => search::run(&mut run).await,
            "web" => web::run(&mut run).await,
            "scale" => scale::run(&mut run).await,
            _ => unreachable!("selected() only returns known suites"),
        };
        for row in &run.rows[rows_before..] {
            eprintln!(
                "bench: {}: engine {} raw {} ratio {:.2}",
                row.name,
                fmt_value(row.engine, &row.unit),
                fmt_value(row.raw, &row.unit),
                row.ratio
            );
        }
        match result {
            Ok(()) => eprintln!("bench: {suite} took {:.1}s", t.elapsed().as_secs_f64()),
            Err(e) => {
                // Keep going: the other suites' numbers are still worth printing.
                let e = crate::error::chain(&e);
                eprintln!("bench: {suite} FAILED: {e}");
                failed.push(format!("{suite}: {e}"));
                run.skip(suite, format!("failed: {e}"));
            }
        }
    }
    run.nats.shutdown().await;
    if opts.keep {
        let kept = run.work.keep();
        eprintln!("bench: kept the work directory {}", kept.display());
    }
    let report = Report {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        smoke: opts.smoke,
        machine: Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu: cpu_model(),
            memory_mib: mem_total_kib() / 1024,
            load_at_start,
            load_at_end: loadavg(),
            os: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| format!("Linux {}", s.trim()))
                .unwrap_or_else(|_| std::env::consts::OS.to_owned()),
        },
        rows: run.rows,
        skipped: run.skipped,
        notes: run.notes,
        seconds: started.elapsed().as_secs_f64(),
    };
    print!("{}", render(&report));
    if let Some(path) = &opts.json {
        let json = serde_json::to_string_pretty(&report).map_err(ctx("encoding the results"))?;
        std::fs::write(path, json + "\n").map_err(ctx(&format!("writing {}", path.display())))?;
        eprintln!("bench: results written to {}", path.display());
    }
    if !failed.is_empty() {
        return Err(BenchError::Failed(format!(
            "{} suite(s) failed: {}",
            failed.len(),
            failed.join("; ")
        )));
    }
    Ok(report)
}

/// The table and its notes as printed.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let m = &r.machine;
    let _ = writeln!(
        out,
        "\ngridcase {} bench{} — {} CPUs ({}), {} MiB, load {} → {}",
        r.version,
        if r.smoke { " --smoke" } else { "" },
        m.nproc,
        m.cpu,
        m.memory_mib,
        m.load_at_start,
        m.load_at_end
    );
    let header = ["name", "engine", "raw", "ratio", "target", "met", "notes"];
    let mut lines: Vec<[String; 7]> = vec![header.map(str::to_owned)];
    for row in &r.rows {
        lines.push([
            row.name.clone(),
            fmt_value(row.engine, &row.unit),
            fmt_value(row.raw, &row.unit),
            format!("{:.2}", row.ratio),
            row.target.describe(),
            match row.met {
                Some(true) => "yes".into(),
                Some(false) => "MISSED".into(),
                None => "-".into(),
            },
            row.notes.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (n, l) in lines.iter().enumerate() {
        let mut s = String::new();
        for (i, cell) in l.iter().enumerate() {
            if i < 6 {
                let pad = widths[i] - cell.chars().count();
                // Names and targets left-aligned, numbers right-aligned.
                if i == 0 || i == 4 || i == 5 {
                    let _ = write!(s, "{cell}{}  ", " ".repeat(pad));
                } else {
                    let _ = write!(s, "{}{cell}  ", " ".repeat(pad));
                }
            } else {
                s.push_str(cell);
            }
        }
        let _ = writeln!(out, "{}", s.trim_end());
        if n == 0 {
            let total: usize = widths.iter().map(|w| w + 2).sum::<usize>() + 5;
            let _ = writeln!(out, "{}", "-".repeat(total));
        }
    }
    for s in &r.skipped {
        let _ = writeln!(out, "skipped {}: {}", s.suite, s.reason);
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let missed = r.missed();
    if missed.is_empty() {
        let _ = writeln!(out, "every checked target met ({:.0}s)", r.seconds);
    } else {
        let names: Vec<&str> = missed.iter().map(|r| r.name.as_str()).collect();
        let _ = writeln!(
            out,
            "targets missed: {} ({:.0}s)",
            names.join(", "),
            r.seconds
        );
    }
    out
}

fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "commands/s" => format!("{} cmd/s", group_digits(v)),
        "events/s" => format!("{} ev/s", group_digits(v)),
        "ms (p99)" => format!("{v:.3} ms"),
        "bytes" => format!("{} B", group_digits(v)),
        other => format!("{v:.1} {other}"),
    }
}

/// `1234567.8` → `1,234,568`.
pub(crate) fn group_digits(v: f64) -> String {
    let n = v.round() as i64;
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        let left = s.len() - i;
        if i > 0 && left / 3 * 3 == left {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Latency percentiles of a sample.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Percentiles {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub count: usize,
}

impl Percentiles {
    pub fn of(samples: &mut [Duration]) -> Percentiles {
        samples.sort_unstable();
        let at = |q: f64| {
            if samples.is_empty() {
                return 0.0;
            }
            let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[i].as_secs_f64() * 1e3
        };
        Percentiles {
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: at(1.0),
            count: samples.len(),
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn mem_total_kib() -> u64 {
    proc_kib("/proc/meminfo", "MemTotal:").unwrap_or(0)
}

/// A `kB` field of a /proc file, e.g. `VmHWM:` of /proc/self/status.
pub(crate) fn proc_kib(file: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(file).ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(0.0), "0");
        assert_eq!(group_digits(999.4), "999");
        assert_eq!(group_digits(1000.0), "1,000");
        assert_eq!(group_digits(1234567.8), "1,234,568");
    }

    #[test]
    fn percentiles_pick_the_right_sample() {
        let mut v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(&mut v);
        assert_eq!(p.p50_ms, 50.0);
        assert_eq!(p.p99_ms, 99.0);
        assert_eq!(p.max_ms, 100.0);
    }

    #[test]
    fn suites_are_selected_in_order() {
        let opts = Options {
            suites: vec!["scale".into(), "append".into()],
            ..Options::default()
        };
        assert_eq!(
            selected(&opts).unwrap(),
            vec!["append-embedded", "append-nats", "scale"]
        );
        let bad = Options {
            suites: vec!["nope".into()],
            ..Options::default()
        };
        assert!(selected(&bad).is_err());
    }
}
