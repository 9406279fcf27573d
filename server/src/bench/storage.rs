//! The storage suite: bytes on disk per event of the embedded log — the file log new stores
//! get, and the sled store of earlier versions as a load leaves it and after
//! [`SledLog::compact_into`] — next to the MessagePack of the same events; and the rebuild rate
//! over each, against the raw scan of the same store.

use std::time::Instant;

use gridcase_bus::{EventLog, FileLog, Position, SledLog, SpaceUsage};

use super::replay::{raw_scan, rebuild};
use super::workload;
use super::{child, ctx, group_digits, BenchError, Row, Run, Target};

/// The bytes on disk per event the embedded log must stay within (issue 17).
pub(crate) const MAX_BYTES_PER_EVENT: f64 = 600.0;

/// The events/s a full rebuild must reach (issue 17), at ≥ 0.9 × the raw scan.
pub(crate) const MIN_REBUILD_EVENTS_PER_S: f64 = 400_000.0;

pub(crate) async fn run(run: &mut Run) -> Result<(), BenchError> {
    let scale = run.sizes.append;
    let (loaded, log, filled) = workload::new_filled_sled(run, "storage-log", scale).await?;
    let msgpack = event_bytes(&log).await?;
    drop(log);
    let loaded_log = child::open_read_only(&loaded).await?;
    let compacted = run.work.path().join("storage-compacted");
    let sled_log = loaded_log.sled().expect("the fill writes a sled store");
    let t = Instant::now();
    let c = sled_log
        .compact_into(&compacted)
        .map_err(ctx("compacting the log"))?;
    let compact_secs = t.elapsed().as_secs_f64();
    // The file log holds the same stored values, each behind its record header, and nothing
    // that depends on how appends were grouped: a copy is byte for byte what a load writes.
    let file = run.work.path().join("storage-file-log");
    let _ = std::fs::remove_dir_all(&file);
    let copied =
        FileLog::copy_from_sled(sled_log, &file).map_err(ctx("copying into a file log"))?;
    let file_usage = SpaceUsage {
        disk_bytes: copied.file_bytes,
        ..SpaceUsage::default()
    };
    let mut loaded_log = Some(loaded_log);

    let events = filled.events as f64;
    // The sled store as loaded first: its handle is still open (sled lets go of a store's
    // lock only some time after its last handle is dropped).
    for (name, usage, dir) in [
        ("sled as loaded", c.before, &loaded),
        ("sled compacted", c.after, &compacted),
        ("file log", file_usage, &file),
    ] {
        let mut row = Row::at_most(
            "storage",
            &format!("bytes-per-event ({name})"),
            "bytes/event",
            usage.disk_bytes as f64 / events,
            msgpack as f64 / events,
            MAX_BYTES_PER_EVENT,
        )
        .note(if dir == &file {
            format!(
                "the file log: {} B/event of stored commits (record header, CRC-32, \
                 MessagePack), indexes in memory",
                group_digits(usage.disk_bytes as f64 / events)
            )
        } else {
            breakdown(&usage, events)
        })
        .detail("fixture", scale.name())
        .detail("events", filled.events)
        .detail("commits", filled.commits)
        .detail("event_msgpack_bytes", msgpack)
        .detail("space", usage);
        if name == "sled compacted" {
            row = row.detail("compact_seconds", compact_secs);
        }
        run.rows.push(row);

        let log = match loaded_log.take() {
            Some(l) if dir == &loaded => l,
            _ => child::open_read_only(dir).await?,
        };
        raw_scan(&log)?; // warm-up: the pages into the OS (and sled's) caches
        let proj = run.dir("storage-projection")?;
        let (mut engine_secs, mut raw_secs) = (f64::MAX, f64::MAX);
        for round in 0..2 {
            if round > 0 {
                std::fs::remove_dir_all(&proj).map_err(ctx("clearing the projection"))?;
            }
            engine_secs = engine_secs.min(rebuild(&log, &proj).await?);
            let t = Instant::now();
            raw_scan(&log)?;
            raw_secs = raw_secs.min(t.elapsed().as_secs_f64());
        }
        run.rows.push(
            Row::rate(
                "storage",
                &format!("rebuild ({name})"),
                "events/s",
                events / engine_secs,
                events / raw_secs,
                Target::RatioAtLeast {
                    min: 0.9,
                    min_engine: Some(MIN_REBUILD_EVENTS_PER_S),
                },
            )
            .note(format!(
                "persisted projection from the {name} ({} MiB)",
                usage.disk_bytes >> 20
            ))
            .detail("fixture", scale.name())
            .detail("engine_seconds", engine_secs)
            .detail("raw_seconds", raw_secs),
        );
        drop(log);
        let _ = std::fs::remove_dir_all(&proj);
    }
    if !run.opts.keep {
        let _ = std::fs::remove_dir_all(&loaded);
        let _ = std::fs::remove_dir_all(&compacted);
        let _ = std::fs::remove_dir_all(&file);
    }
    Ok(())
}

/// The MessagePack (named fields, as stored) of every event in the log, summed: what the
/// events are before any framing, commit envelope, index or storage overhead.
async fn event_bytes(log: &SledLog) -> Result<u64, BenchError> {
    let head = log.head().await.map_err(ctx("reading the head"))?;
    let (mut next, mut bytes) = (Position::FIRST, 0u64);
    while next <= head {
        let page = log
            .read_from(next, 2048)
            .await
            .map_err(ctx("reading the log"))?;
        let Some(last) = page.last() else { break };
        next = last.position.next();
        for c in &page {
            for e in &c.events {
                bytes += rmp_serde::to_vec_named(e)
                    .map_err(ctx("encoding an event"))?
                    .len() as u64;
            }
        }
    }
    Ok(bytes)
}

/// Bytes per event of each part: the directory, then the keys and values of each kind of
/// entry.
fn breakdown(u: &SpaceUsage, events: f64) -> String {
    let per = |b: u64| group_digits(b as f64 / events);
    format!(
        "disk {} B/event = entries {} (commits {}, case index {}, heads {}, command index {}) \
         + sled overhead {}",
        per(u.disk_bytes),
        per(u.entry_bytes()),
        per(u.commits.total()),
        per(u.case_index.total()),
        per(u.heads.total()),
        per(u.commands.total()),
        per(u.disk_bytes.saturating_sub(u.entry_bytes())),
    )
}
