//! The scale suite: rebuild time and peak memory at 1×, 4× and 16× the replay fixture, each
//! measured in its own process.
//!
//! One log grows copy by copy: copy 1 is the fixture with seed 1; copy k (k ≥ 2) is the fixture
//! with seed k, every case and command id prefixed `kNN-` and every event re-sealed, so the
//! copies are distinct, valid cases.
//!
//! At every size the rebuild is the in-memory projection (the fold itself) next to the raw
//! scan + decode. The persisted rebuild (time, peak memory, bytes written) runs at 1× only
//! unless `--scale-persisted`: it differs from the in-memory one by the final snapshot, and
//! at 16× doubles a run that is already long on a small machine.

use std::time::Instant;

use gridcase_bus::SledLog;

use super::child::{self, ChildMode, ChildResult};
use super::workload::{fill_sled, Filled};
use super::{ctx, group_digits, BenchError, Row, Run, Target};

pub(crate) async fn run(run: &mut Run) -> Result<(), BenchError> {
    let base = run.sizes.replay;
    let log_dir = run.dir("scale-log")?;
    let mut written = 0u32;
    let mut total = Filled::default();
    let mut first: Option<(f64, ChildResult, u64)> = None;
    for n in run.sizes.scale_copies {
        {
            let log = SledLog::open(&log_dir).map_err(ctx("opening the scale log"))?;
            while written < n {
                written += 1;
                let t = Instant::now();
                let prefix = (written > 1).then(|| format!("k{written:02}-"));
                let f = fill_sled(&log, base, u64::from(written), prefix).await?;
                total.commits += f.commits;
                total.events += f.events;
                total.cases += f.cases;
                eprintln!(
                    "bench: scale: copy {written} of {base} written ({} events, {:.1}s); log holds {} events",
                    f.events,
                    t.elapsed().as_secs_f64(),
                    total.events
                );
            }
        }
        let raw = child::spawn(ChildMode::RawScan, &log_dir, None).await?;
        let engine = child::spawn(ChildMode::RebuildMemory, &log_dir, None).await?;
        let persisted = if first.is_none() || run.opts.scale_persisted {
            let proj = run.dir("scale-projection")?;
            let p = child::spawn(ChildMode::Rebuild, &log_dir, Some(&proj)).await?;
            let _ = std::fs::remove_dir_all(&proj);
            Some(p)
        } else {
            None
        };
        let events = total.events as f64;
        let (t1, m1, e1) = match &first {
            Some((t, m, e)) => (*t, m.vm_hwm_kib, *e),
            None => (engine.seconds, engine.vm_hwm_kib, total.events),
        };
        let time_growth = engine.seconds / t1.max(1e-9);
        let mem_growth = engine.vm_hwm_kib as f64 / (m1.max(1) as f64);
        let event_growth = events / (e1.max(1) as f64);
        let persisted_note = persisted.as_ref().map_or(String::new(), |p| {
            format!(
                "; persisted rebuild {:.1}s, peak RSS {} MiB, wrote {} MiB",
                p.seconds,
                p.vm_hwm_kib / 1024,
                p.write_bytes >> 20
            )
        });
        let mut row = Row::rate(
            "scale",
            &format!("scale {n}x {base}"),
            "events/s",
            events / engine.seconds,
            events / raw.seconds,
            Target::Observe {
                what: "time ~ events, memory flat".into(),
            },
        )
        .note(format!(
            "{} events: in-memory rebuild {:.1}s ({:.1}x the 1x time), peak RSS {} MiB \
                 ({:.1}x; raw scan {} MiB){persisted_note}",
            group_digits(events),
            engine.seconds,
            time_growth,
            engine.vm_hwm_kib / 1024,
            mem_growth,
            raw.vm_hwm_kib / 1024
        ))
        .detail("copies", n)
        .detail("fixture", base.name())
        .detail("events", total.events)
        .detail("commits", total.commits)
        .detail("cases", total.cases)
        .detail("engine_seconds", engine.seconds)
        .detail("raw_seconds", raw.seconds)
        .detail("engine_peak_rss_kib", engine.vm_hwm_kib)
        .detail("raw_peak_rss_kib", raw.vm_hwm_kib)
        .detail("event_growth", event_growth)
        .detail("time_growth", time_growth)
        .detail("memory_growth", mem_growth)
        .detail("engine_is", "in-memory projection rebuild");
        if let Some(p) = &persisted {
            row = row
                .detail("persisted_rebuild_seconds", p.seconds)
                .detail("persisted_rebuild_peak_rss_kib", p.vm_hwm_kib)
                .detail("persisted_rebuild_write_bytes", p.write_bytes);
        }
        run.rows.push(row);
        if first.is_none() {
            first = Some((engine.seconds, engine, total.events));
        }
    }
    if let Some(last) = run.rows.last().filter(|r| r.suite == "scale") {
        let get = |k: &str| last.details.get(k).and_then(|v| v.as_f64()).unwrap_or(0.0);
        let (eg, tg, mg) = (
            get("event_growth"),
            get("time_growth"),
            get("memory_growth"),
        );
        let memory = if mg < 1.5 {
            "flat".to_owned()
        } else {
            format!(
                "NOT flat ({mg:.1}x): the projection holds every case in memory \
                 (Projector::cases)"
            )
        };
        if !run.opts.scale_persisted {
            run.notes.push(
                "scale: engine = in-memory projection rebuild in a child process; the \
                 persisted rebuild ran at 1x only (its time, memory and write volume are in \
                 that row; add --scale-persisted to run it at every size)"
                    .to_owned(),
            );
        }
        let per_event = tg / eg.max(1e-9);
        let time = if per_event < 0.9 {
            "sub-linear"
        } else if per_event <= 1.25 {
            "about linear"
        } else {
            "worse than linear"
        };
        run.notes.push(format!(
            "scale: {eg:.1}x the events took {tg:.1}x the rebuild time ({time}); \
             peak rebuild memory {memory}"
        ));
    }
    Ok(())
}
