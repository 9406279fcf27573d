//! The replay suite: projection rebuild events/s against a raw read + decode of the same log.

use std::time::Instant;

use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::consumer::DeliverPolicy;
use futures::StreamExt;
use gridcase_bus::raw::decode_value;
use gridcase_bus::testing::jetstream as js;
use gridcase_bus::{AnyLog, EventLog, FileLog, Position};
use gridcase_projections::{Calendar, Projection};

use super::workload;
use super::{append, child, ctx, group_digits, BenchError, Row, Run, Target};

/// The events/s the embedded rebuild must reach (issue 17).
pub(crate) const MIN_REPLAY_EVENTS_PER_S: f64 = 400_000.0;
/// The share of the raw scan+decode the embedded rebuild must keep (issue 17).
pub(crate) const MIN_REPLAY_RATIO: f64 = 0.9;

/// Checks the CRC-32 framing of the stored commit at `position`, decodes it and every event
/// body (with the bus's decoder of the stored format, not the engine's readers). Returns the
/// number of events.
pub(crate) fn raw_decode(position: Position, value: &[u8]) -> Result<u64, BenchError> {
    let c = decode_value(position, value).map_err(ctx("decoding a stored commit"))?;
    for r in &c.events {
        r.decode().map_err(ctx("decoding an event body"))?;
    }
    Ok(c.events.len() as u64)
}

/// Raw scan of an embedded log: every stored commit value in order, straight from sled (in
/// key order) or from the log file, CRC checked, decoded. Returns (commits, events).
pub(crate) fn raw_scan(log: &AnyLog) -> Result<(u64, u64), BenchError> {
    let (mut commits, mut events) = (0, 0);
    match log {
        AnyLog::Sled(log) => {
            for kv in log.raw_commit_values() {
                let (position, v) = kv.map_err(ctx("scanning the log"))?;
                events += raw_decode(position, &v)?;
                commits += 1;
            }
        }
        AnyLog::File(log) => {
            let mut failed = None;
            log.for_each_value(|position, v| {
                match raw_decode(position, v) {
                    Ok(n) => events += n,
                    Err(e) => _ = failed.get_or_insert(e),
                }
                commits += 1;
                Ok(())
            })
            .map_err(ctx("scanning the log"))?;
            if let Some(e) = failed {
                return Err(e);
            }
        }
        AnyLog::Nats(_) => return Err(BenchError::new("the raw scan reads an embedded log")),
    }
    Ok((commits, events))
}

/// Rebuilds a persisted projection in `dir` from `log`; returns seconds.
pub(crate) async fn rebuild<L: EventLog>(
    log: &L,
    dir: &std::path::Path,
) -> Result<f64, BenchError> {
    let started = Instant::now();
    let p = Projection::open(dir, Calendar::default()).map_err(ctx("opening the projection"))?;
    p.catch_up(log, |_, _| {})
        .await
        .map_err(ctx("rebuilding the projection"))?;
    Ok(started.elapsed().as_secs_f64())
}

pub(crate) async fn run(run: &mut Run) -> Result<(), BenchError> {
    embedded(run).await?;
    nats(run).await
}

async fn embedded(run: &mut Run) -> Result<(), BenchError> {
    let scale = run.sizes.replay;
    let (sled_dir, sled, filled) = workload::new_filled_sled(run, "replay-log", scale).await?;
    // Measured on the file log, the embedded store new data directories get: the same stored
    // commits, copied (the file holds nothing that depends on how appends were grouped).
    let dir = run.work.path().join("replay-file-log");
    let _ = std::fs::remove_dir_all(&dir);
    FileLog::copy_from_sled(&sled, &dir).map_err(ctx("copying into a file log"))?;
    drop(sled);
    let _ = std::fs::remove_dir_all(&sled_dir);
    let log: AnyLog = FileLog::open_read_only(&dir)
        .map_err(ctx("opening the file log"))?
        .into();
    let events = filled.events as f64;

    // Warm-up (and a cold-ish raw figure): the log's pages into the OS cache.
    let t = Instant::now();
    let (_, raw_events) = raw_scan(&log)?;
    let raw_first = t.elapsed().as_secs_f64();
    if raw_events != filled.events {
        return Err(BenchError::Failed(format!(
            "the raw scan found {raw_events} events, {} were written",
            filled.events
        )));
    }
    // Phase split of the engine: the log's read path alone, then an in-memory projection,
    // then the real thing (persisted projection, the engine figure).
    let t = Instant::now();
    let head = log.head().await.map_err(ctx("reading the head"))?;
    let mut next = Position::FIRST;
    while next <= head {
        let page = log
            .read_from(next, 2048)
            .await
            .map_err(ctx("reading the log"))?;
        let Some(last) = page.last() else { break };
        next = last.position.next();
    }
    let read_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    Projection::in_memory(Calendar::default())
        .catch_up(&log, |_, _| {})
        .await
        .map_err(ctx("the in-memory projection"))?;
    let memory_secs = t.elapsed().as_secs_f64();
    // Engine and raw alternate, twice each, and each keeps its best time: neither profits
    // from running last on the warmest caches.
    let proj_dir = run.dir("replay-projection")?;
    let (mut engine_secs, mut raw_secs, mut store_written) = (f64::MAX, f64::MAX, 0);
    for round in 0..2 {
        if round > 0 {
            std::fs::remove_dir_all(&proj_dir).map_err(ctx("clearing the projection"))?;
        }
        let written_before = child::io_write_bytes();
        engine_secs = engine_secs.min(rebuild(&log, &proj_dir).await?);
        store_written = child::io_write_bytes().saturating_sub(written_before);
        let t = Instant::now();
        raw_scan(&log)?;
        raw_secs = raw_secs.min(t.elapsed().as_secs_f64());
    }

    let engine = events / engine_secs;
    let raw = events / raw_secs;
    let store_bytes = dir_bytes(&proj_dir);
    let log_bytes = dir_bytes(&dir);
    let store = StoreStats::read(&proj_dir).await;
    drop(log);
    if !run.opts.keep {
        // These are big (the projection store especially): free the disk for the next suites.
        let _ = std::fs::remove_dir_all(&proj_dir);
        let _ = std::fs::remove_dir_all(&dir);
    }
    run.rows.push(
        Row::rate(
            "replay",
            "replay-embedded",
            "events/s",
            engine,
            raw,
            Target::RatioAtLeast {
                min: MIN_REPLAY_RATIO,
                min_engine: Some(MIN_REPLAY_EVENTS_PER_S),
            },
        )
        .note(format!(
            "{} events from the file log; phases: log read {} ev/s, in-memory projection {} \
             ev/s; the rebuild wrote {} MiB for a {} MiB log",
            group_digits(events),
            group_digits(events / read_secs),
            group_digits(events / memory_secs),
            store_written >> 20,
            log_bytes >> 20
        ))
        .detail("fixture", scale.name())
        .detail("events", filled.events)
        .detail("commits", filled.commits)
        .detail("cases", filled.cases)
        .detail("engine_seconds", engine_secs)
        .detail("raw_seconds", raw_secs)
        .detail("raw_first_pass_seconds", raw_first)
        .detail("log_read_decode_seconds", read_secs)
        .detail("in_memory_projection_seconds", memory_secs)
        .detail("log_disk_bytes", log_bytes)
        .detail("projection_store_disk_bytes", store_bytes)
        .detail("rebuild_write_bytes", store_written)
        .detail("projection_store", store),
    );
    Ok(())
}

async fn nats(run: &mut Run) -> Result<(), BenchError> {
    let url = match run.nats.url() {
        Ok(url) => url,
        Err(reason) => {
            run.skip("replay-nats", reason);
            return Ok(());
        }
    };
    let log = if run.nats.engine_filled {
        run.nats.engine_log().await?
    } else {
        append::fill_nats(run).await?.0
    };
    let stream = log.settings().stream.clone();
    let conn = js::connect(&url).await.map_err(ctx("connecting to NATS"))?;
    let head = log
        .head()
        .await
        .map_err(ctx("reading the NATS head"))?
        .get();
    // Warm-up pass, then the engine, then the raw figure.
    let (_, events) = raw_read(&conn.jetstream, &stream, head).await?;
    let dir = run.dir("replay-nats-projection")?;
    let engine_secs = rebuild(&log, &dir).await?;
    let t = Instant::now();
    raw_read(&conn.jetstream, &stream, head).await?;
    let raw_secs = t.elapsed().as_secs_f64();
    let ev = events as f64;
    run.rows.push(
        Row::rate(
            "replay",
            "replay-nats",
            "events/s",
            ev / engine_secs,
            ev / raw_secs,
            Target::RatioAtLeast {
                min: 0.7,
                min_engine: None,
            },
        )
        .note(format!(
            "{} events ({}); raw: one ordered consumer",
            group_digits(ev),
            run.sizes.append.name()
        ))
        .detail("fixture", run.sizes.append.name())
        .detail("events", events)
        .detail("commits", head)
        .detail("engine_seconds", engine_secs)
        .detail("raw_seconds", raw_secs),
    );
    Ok(())
}

/// Raw NATS read: one ordered consumer over the whole stream, every payload CRC-checked and
/// decoded as in [`raw_decode`]. Returns (messages, events).
async fn raw_read(
    ctx_js: &async_nats::jetstream::Context,
    stream: &str,
    head: u64,
) -> Result<(u64, u64), BenchError> {
    let s = ctx_js
        .get_stream(stream)
        .await
        .map_err(ctx("opening the stream"))?;
    let consumer = s
        .create_consumer(OrderedConfig {
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(ctx("creating an ordered consumer"))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(ctx("reading the stream"))?;
    let (mut n, mut events) = (0u64, 0u64);
    while n < head {
        let m = messages
            .next()
            .await
            .ok_or_else(|| BenchError::new("the ordered consumer ended early"))?
            .map_err(ctx("reading the stream"))?;
        n += 1;
        // The stream allows no deletes: the n-th message is at sequence n.
        events += raw_decode(Position::new(n), &m.payload)?;
    }
    Ok((n, events))
}

/// Bytes of the files under `dir`.
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// What a rebuilt projection store holds: case views (`c` keys) and aggregates (`a` keys).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
struct StoreStats {
    cases: u64,
    case_bytes: u64,
    aggregates: u64,
    aggregate_bytes: u64,
}

impl StoreStats {
    /// Reads the snapshot in `dir` (lock-free); zeros if there is none.
    async fn read(dir: &std::path::Path) -> StoreStats {
        let mut stats = StoreStats::default();
        for (k, v) in gridcase_projections::Store::dump_dir(dir).unwrap_or_default() {
            match k.first() {
                Some(b'c') => {
                    stats.cases += 1;
                    stats.case_bytes += v.len() as u64;
                }
                Some(b'a') => {
                    stats.aggregates += 1;
                    stats.aggregate_bytes += v.len() as u64;
                }
                _ => {}
            }
        }
        stats
    }
}
