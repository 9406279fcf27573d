//! Workloads: fixtures materialised before timing, the 64-writer command-path driver, bulk
//! filling of a sled log, and copies of a fixture with distinct case ids.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::load::{fan_out, lane_of, submission};
use futures::FutureExt;
use gridcase_bus::{partition_of, CommandPath, Commit, EventLog, Position, SledLog};
use gridcase_domain::{
    chain, CaseId, ChainHead, CommandId, CommitHeader, Event, Hash, Policy, RegionTree,
};
use gridcase_fixtures::{GeneratedCommit, Scale};

use super::{ctx, BenchError};

/// Concurrent writers of the append suites.
pub(crate) const WRITERS: usize = 64;

/// Lanes used to bulk-fill a log (more than [`WRITERS`], for big groups).
const FILL_LANES: usize = 512;

/// A fixture generated in full before anything is timed.
pub(crate) struct Workload {
    pub commits: Vec<GeneratedCommit>,
    pub regions: Arc<RegionTree>,
    pub policy: Policy,
    pub events: u64,
    pub cases: u64,
}

pub(crate) fn materialize(scale: Scale, seed: u64) -> Workload {
    let g = scale.generator(seed);
    let regions = Arc::new(g.regions().clone());
    let policy = g.config().policy.clone();
    let commits: Vec<GeneratedCommit> = g.collect();
    let events = commits.iter().map(|c| c.events.len() as u64).sum();
    let cases = commits.iter().filter(|c| c.expected_version == 0).count() as u64;
    Workload {
        commits,
        regions,
        policy,
        events,
        cases,
    }
}

/// What a run of the command path did.
pub(crate) struct LaneRun {
    pub commands: u64,
    pub events: u64,
    pub seconds: f64,
    pub latencies: Vec<Duration>,
    /// Where the engine appended each command's commit, in order.
    pub applied: Vec<Position>,
}

/// Pushes `commits` through `path` with `lanes` concurrent writers, each owning the cases
/// hashed to it (a case's commands stay in order). Every commit must come out exactly as the
/// generator decided it.
pub(crate) async fn run_command_path<L: EventLog + Clone>(
    path: Arc<CommandPath<L>>,
    commits: Vec<GeneratedCommit>,
    lanes: usize,
) -> Result<LaneRun, BenchError> {
    let mut per_lane: Vec<Vec<GeneratedCommit>> = (0..lanes).map(|_| Vec::new()).collect();
    for g in commits {
        per_lane[lane_of(g.case_id.as_str(), lanes)].push(g);
    }
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(lanes);
    for work in per_lane {
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(work.len());
            let mut applied = Vec::with_capacity(work.len());
            let mut events = 0u64;
            for g in work {
                let sub = submission(&g);
                let t = Instant::now();
                let e = path
                    .execute(sub)
                    .await
                    .map_err(|e| ctx(&format!("case {} command {}", g.case_id, g.command_id))(e))?;
                latencies.push(t.elapsed());
                if e.duplicate || e.events != g.events {
                    return Err(BenchError::Failed(format!(
                        "case {} command {}: the engine did not append what the generator \
                         decided (duplicate: {})",
                        g.case_id, g.command_id, e.duplicate
                    )));
                }
                events += e.events.len() as u64;
                applied.push(e.position);
            }
            Ok::<_, BenchError>((latencies, applied, events))
        }));
    }
    let mut run = LaneRun {
        commands: 0,
        events: 0,
        seconds: 0.0,
        latencies: Vec::new(),
        applied: Vec::new(),
    };
    for t in tasks {
        let (lat, applied, events) = t.await.map_err(ctx("a writer task failed"))??;
        run.commands += lat.len() as u64;
        run.latencies.extend(lat);
        run.applied.extend(applied);
        run.events += events;
    }
    run.seconds = started.elapsed().as_secs_f64();
    run.applied.sort_unstable();
    Ok(run)
}

/// Watches an embedded log's durable head from a thread: each jump is one group commit (one
/// flush), so the jumps give the group sizes the writer achieved.
pub(crate) struct GroupProbe {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Vec<u64>>,
}

impl GroupProbe {
    pub fn start(log: impl EventLog) -> Result<GroupProbe, BenchError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("bench-group-probe".into())
            .spawn(move || {
                let head = || {
                    log.head()
                        .now_or_never()
                        .and_then(Result::ok)
                        .unwrap_or_default()
                };
                let mut last = head();
                let mut jumps = Vec::new();
                loop {
                    let done = flag.load(Ordering::Acquire);
                    let h = head();
                    if h != last {
                        jumps.push(h.since(last));
                        last = h;
                    }
                    if done {
                        return jumps;
                    }
                    std::thread::sleep(Duration::from_micros(100));
                }
            })
            .map_err(ctx("starting the group probe"))?;
        Ok(GroupProbe { stop, handle })
    }

    /// The observed group sizes (commits per flush).
    pub fn finish(self) -> Vec<u64> {
        self.stop.store(true, Ordering::Release);
        self.handle.join().unwrap_or_default()
    }
}

/// What a bulk fill wrote.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Filled {
    pub commits: u64,
    pub events: u64,
    pub cases: u64,
}

/// A fresh embedded log in the run's work directory `name`, filled with `scale` (seed 1) by
/// [`fill_sled`] and timed, as the replay and storage suites start.
pub(crate) async fn new_filled_sled(
    run: &super::Run,
    name: &str,
    scale: Scale,
) -> Result<(std::path::PathBuf, SledLog, Filled), BenchError> {
    let dir = run.dir(name)?;
    let log = SledLog::open(&dir).map_err(ctx("opening the sled log"))?;
    let t = Instant::now();
    let filled = fill_sled(&log, scale, 1, None).await?;
    eprintln!(
        "bench: wrote {scale} to the embedded log: {} cases, {} commits, {} events in {:.1}s",
        filled.cases,
        filled.commits,
        filled.events,
        t.elapsed().as_secs_f64()
    );
    Ok((dir, log, filled))
}

/// Appends `scale` generated with `seed` straight to a sled log (the generator's sealed
/// commits are byte-for-byte what `gridcase load` appends through the command path), with
/// case and command ids prefixed by `prefix` when given (re-sealed, so each copy is a
/// distinct, valid set of cases).
pub(crate) async fn fill_sled(
    log: &SledLog,
    scale: Scale,
    seed: u64,
    prefix: Option<String>,
) -> Result<Filled, BenchError> {
    // The copies' ids are re-derived on the feeder thread; a failure there stops the fill like
    // a failed append.
    let mut heads: HashMap<CaseId, Hash> = HashMap::new();
    let commits = scale.generator(seed).map(move |g| {
        let g = match &prefix {
            Some(p) => reprefix(g, p, &mut heads)?,
            None => g,
        };
        Ok(Commit {
            partition: partition_of(g.command.actor.unit()),
            case_id: g.case_id,
            command_id: g.command_id,
            expected_version: g.expected_version,
            events: g.events,
            fingerprint: None,
        })
    });
    let mut filled = Filled::default();
    let log = log.clone();
    fan_out(
        FILL_LANES,
        commits,
        |c: &Result<Commit, BenchError>| match c {
            Ok(c) => lane_of(c.case_id.as_str(), FILL_LANES),
            Err(_) => 0,
        },
        move |c: Result<Commit, BenchError>| {
            let log = log.clone();
            async move {
                let c = c?;
                let first = c.expected_version == 0;
                let n = c.events.len() as u64;
                let case = c.case_id.clone();
                match log.append(c).await {
                    Ok(a) if !a.duplicate => Ok((first, n)),
                    Ok(_) => Err(BenchError::Failed(format!(
                        "case {case}: unexpected duplicate"
                    ))),
                    Err(e) => Err(ctx(&format!("appending case {case}"))(e)),
                }
            }
        },
        |(first, n): (bool, u64)| {
            filled.commits += 1;
            filled.events += n;
            filled.cases += u64::from(first);
        },
    )
    .await?;
    Ok(filled)
}

/// The same commit for case `<prefix><case id>`: ids re-derived, merge targets renamed, every
/// event re-sealed onto the renamed case's hash chain.
pub(crate) fn reprefix(
    g: GeneratedCommit,
    prefix: &str,
    heads: &mut HashMap<CaseId, Hash>,
) -> Result<GeneratedCommit, BenchError> {
    let rename =
        |id: &CaseId| CaseId::new(format!("{prefix}{id}")).map_err(ctx("prefixing a case id"));
    let case_id = rename(&g.case_id)?;
    let command_id = CommandId::new(format!("{prefix}{}", g.command_id))
        .map_err(ctx("prefixing a command id"))?;
    let mut decoded = Vec::with_capacity(g.events.len());
    for r in &g.events {
        let event = match r.decode().map_err(ctx("decoding a generated event"))? {
            Event::CaseMerged(mut m) => {
                m.into = rename(&m.into)?;
                Event::CaseMerged(m)
            }
            other => other,
        };
        decoded.push(event);
    }
    let header = CommitHeader {
        case_id: case_id.clone(),
        command_id: command_id.clone(),
        ..g.header()
    };
    let head = ChainHead {
        version: g.expected_version,
        hash: heads.get(&case_id).copied().unwrap_or(Hash::ZERO),
    };
    let events = chain::seal(&header, head, &decoded).map_err(ctx("re-sealing an event"))?;
    heads.insert(case_id.clone(), events.last().map_or(head.hash, |r| r.hash));
    Ok(GeneratedCommit {
        case_id,
        command_id,
        events,
        ..g
    })
}
