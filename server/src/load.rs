//! Loading fixtures through the real command path (`gridcase load`, `gridcase serve --demo`).
//!
//! The generator's commands are pushed through [`CommandPath::execute`] exactly as HTTP
//! commands are: decided again, sealed, appended durably. Commands are spread over lanes by
//! case, so a case's commands stay in order while many cases are in flight and share the log's
//! group commits. Each commit's events must equal what the generator decided, or the load
//! stops: the fixture and the engine disagree.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use gridcase_bus::{AnyLog, CommandError, CommandPath, ExpectedVersion, Submission};
use gridcase_domain::{Actor, CaseId, CommandId, Level, RegionCode};
use gridcase_fixtures::{GeneratedCommit, Roster, Scale, UnknownScale};
use tokio::sync::mpsc;

/// Why a load failed. What was loaded before the failure stays in the log; loading again
/// appends only the rest (every command's id is its own).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// No fixture has this name.
    #[error(transparent)]
    Fixture(#[from] UnknownScale),
    /// The command path failed on a command of the fixture (the log is unavailable, …).
    #[error("case {case_id} command {command_id}")]
    Command {
        /// The case.
        case_id: CaseId,
        /// The command.
        command_id: CommandId,
        /// Why.
        #[source]
        source: CommandError,
    },
    /// The engine decided other events than the generator did: the fixture and the engine
    /// disagree (a bug in one of them).
    #[error(
        "case {case_id} command {command_id}: the engine decided differently from the generator"
    )]
    Diverged {
        /// The case.
        case_id: CaseId,
        /// The command.
        command_id: CommandId,
    },
    /// A task of the load stopped abnormally.
    #[error("a load task stopped abnormally")]
    Task(#[from] tokio::task::JoinError),
}

/// The grid file the demo and the fixtures' data are read with (`--grids`): `DATA/demo-grids.csv`.
pub fn demo_grid_file(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("demo-grids.csv")
}

/// Writes the grids of fixture `scale` (seed `seed`) as a grid file at `path`, for `serve` and
/// `gridcase-replay --grids` over the loaded data.
///
/// # Errors
///
/// An unknown fixture (`InvalidInput`), or the file cannot be written.
pub fn write_fixture_grids(scale: &str, seed: u64, path: &std::path::Path) -> std::io::Result<()> {
    let scale = Scale::from_str(scale)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let tree = scale.generator(seed).regions().clone();
    path.parent().map_or(Ok(()), std::fs::create_dir_all)?;
    crate::serve::write_grid_file(&tree, path)
}

/// What a load wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct Loaded {
    /// Cases written.
    pub cases: u64,
    /// Commits written (duplicates of an earlier load not counted).
    pub commits: u64,
    /// Events written.
    pub events: u64,
    /// Seconds taken.
    pub seconds: f64,
}

/// Commands in flight at once.
const LANES: usize = 256;

/// Generates `scale` with `seed` and writes it through the command path into `log`.
pub async fn load(
    log: &AnyLog,
    scale: &str,
    seed: u64,
    progress: bool,
) -> Result<Loaded, LoadError> {
    let scale = Scale::from_str(scale)?;
    let generator = scale.generator(seed);
    let regions = Arc::new(generator.regions().clone());
    let path = Arc::new(CommandPath::new(
        log.clone(),
        regions,
        generator.config().policy.clone(),
        10_000,
    ));
    let bar = if progress {
        let b = indicatif::ProgressBar::new(scale.cases().total());
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} cases, {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = Instant::now();
    let mut total = Loaded::default();
    fan_out(
        LANES,
        generator,
        |g: &GeneratedCommit| lane_of(g.case_id.as_str(), LANES),
        move |g: GeneratedCommit| {
            let path = path.clone();
            async move {
                let first = g.expected_version == 0;
                let n = g.events.len() as u64;
                match path.execute(submission(&g)).await {
                    Ok(e) if e.duplicate => Ok((false, 0, 0)),
                    Ok(e) if e.events != g.events => Err(LoadError::Diverged {
                        case_id: g.case_id,
                        command_id: g.command_id,
                    }),
                    Ok(_) => Ok((first, 1, n)),
                    Err(source) => Err(LoadError::Command {
                        case_id: g.case_id,
                        command_id: g.command_id,
                        source,
                    }),
                }
            }
        },
        |(new_case, commits, events): (bool, u64, u64)| {
            total.cases += u64::from(new_case);
            total.commits += commits;
            total.events += events;
            if new_case {
                bar.inc(1);
                if total.cases % 512 == 0 {
                    let s = started.elapsed().as_secs_f64().max(1e-9);
                    bar.set_message(format!(
                        "{} events, {:.0} events/s",
                        total.events,
                        total.events as f64 / s
                    ));
                }
            }
        },
    )
    .await?;
    bar.finish_and_clear();
    total.seconds = started.elapsed().as_secs_f64();
    Ok(total)
}

/// A generated commit as the command path takes it: the generator's command, pinned to the
/// version it was generated at, stamped with the generator's recording time.
pub(crate) fn submission(g: &GeneratedCommit) -> Submission {
    Submission {
        case_id: g.case_id.clone(),
        command_id: g.command_id.clone(),
        expected: ExpectedVersion::Exactly(g.expected_version),
        correlation_id: None,
        causation_id: None,
        command: g.command.clone(),
        fingerprint: None,
        recorded_at: Some(g.recorded_at),
    }
}

/// FNV-1a of a case id: a stable lane, so one case's commits stay in order.
pub(crate) fn lane_of(case: &str, lanes: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in case.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % lanes as u64) as usize
}

/// Runs `work` on every item of `items` across `lanes` concurrent tasks and hands each result
/// to `each` as it completes; the first failure stops the run and is returned. Items are
/// produced on a blocking thread (generating fixtures is CPU work) and go to the lane `lane`
/// picks, so the items of one case run in order.
pub(crate) async fn fan_out<T, R, E, Fut>(
    lanes: usize,
    items: impl Iterator<Item = T> + Send + 'static,
    lane: fn(&T) -> usize,
    work: impl Fn(T) -> Fut + Send + Sync + 'static,
    mut each: impl FnMut(R),
) -> Result<(), E>
where
    T: Send + 'static,
    R: Send + 'static,
    E: From<tokio::task::JoinError> + Send + 'static,
    Fut: std::future::Future<Output = Result<R, E>> + Send + 'static,
{
    let work = Arc::new(work);
    let (done_tx, mut done_rx) = mpsc::channel::<Result<R, E>>(4096);
    let mut senders = Vec::with_capacity(lanes);
    let mut workers = Vec::with_capacity(lanes);
    for _ in 0..lanes {
        let (tx, mut rx) = mpsc::channel::<T>(64);
        senders.push(tx);
        let (work, done) = (work.clone(), done_tx.clone());
        workers.push(tokio::spawn(async move {
            while let Some(item) = rx.recv().await {
                if done.send(work(item).await).await.is_err() {
                    return;
                }
            }
        }));
    }
    drop(done_tx);
    let feeder = tokio::task::spawn_blocking(move || {
        for item in items {
            if senders[lane(&item) % senders.len()]
                .blocking_send(item)
                .is_err()
            {
                return;
            }
        }
    });
    let mut failed = None;
    while let Some(r) = done_rx.recv().await {
        match r {
            Ok(r) => each(r),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    // Dropping the receiver stops the lanes, and with them the feeder.
    drop(done_rx);
    feeder.await?;
    for w in workers {
        w.await?;
    }
    failed.map_or(Ok(()), Err)
}

/// Ready-to-use demo tokens for the quzhou-month fixture, all around grid 1 of 金桂社区: its grid
/// worker, two staff of the village (a resolution is verified by someone else), the village's
/// mediator, the township's staff, the county dispute-resolution center, a county supervisor,
/// two auditors of the city (the second granted parties' personal data,
/// [`demo_personal_data_auditors`]) and an analyst of the city.
pub fn demo_tokens() -> Vec<(String, Actor)> {
    let roster = Roster::default();
    let code = |s: &str| s.parse::<RegionCode>().expect("valid demo code");
    let grid = code("330802005001001");
    let village = code("330802005001");
    let township = code("330802005");
    let county = code("330802");
    let city = city_of_demo();
    debug_assert_eq!(grid.level(), Level::Grid);
    vec![
        ("demo-grid-worker".into(), roster.grid_worker(grid, 1)),
        ("demo-village".into(), roster.staff(village, 1)),
        ("demo-village-2".into(), roster.staff(village, 2)),
        ("demo-mediator".into(), roster.mediator(village, 1)),
        ("demo-township".into(), roster.staff(township, 1)),
        ("demo-county-center".into(), roster.staff(county, 1)),
        ("demo-supervisor".into(), roster.supervisor(county, 1)),
        ("demo-auditor".into(), roster.auditor(city, 1)),
        ("demo-privacy-auditor".into(), roster.auditor(city, 2)),
        ("demo-analyst".into(), roster.analyst(city, 1)),
    ]
}

/// The demo's auditors granted parties' personal data (`demo-privacy-auditor`; the
/// `[privacy] personal_data_auditors` of `serve --demo`).
pub fn demo_personal_data_auditors() -> Vec<gridcase_domain::ActorId> {
    vec![Roster::default().auditor(city_of_demo(), 2).id().clone()]
}

fn city_of_demo() -> RegionCode {
    "330800".parse().expect("valid demo code")
}
