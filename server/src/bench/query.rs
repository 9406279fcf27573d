//! The query suite: statistics and queue latency, in process, on a large projection.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use gridcase_bus::{Committed, Position};
use gridcase_domain::{Level, RegionCode, RegionTree, Timestamp};
use gridcase_fixtures::{Area, Scale};
use gridcase_projections::{Calendar, Period, Projection, StatsQuery};

use super::{ctx, group_digits, proc_kib, BenchError, Percentiles, Row, Run};

pub(crate) async fn run(run: &mut Run) -> Result<(), BenchError> {
    let scale = run.sizes.query;
    if !run.opts.smoke && scale != Scale::ZhejiangYear {
        run.notes.push(format!(
            "query suite ran on {scale} ({} cases); the target is stated for zhejiang-year",
            group_digits(scale.cases().total() as f64)
        ));
    }
    let (projection, regions, grids, built) = build(scale, None)?;
    eprintln!(
        "bench: built the {scale} projection in memory: {} cases in {:.1}s",
        projection.read().case_count(),
        built
    );
    let area = scale.area();
    let cities = area.cities();
    let counties: Vec<RegionCode> = cities
        .iter()
        .flat_map(|c| regions.children(*c).iter().copied())
        .filter(|c| {
            c.level() == Level::County
                && (area.contains(*c) || matches!(area, Area::Region(r) if c.contains(r)))
        })
        .collect();
    let year = Period::parse("2025").map_err(ctx("a period"))?;
    let months: Vec<Period> = (1..=12)
        .map(|m| Period::parse(&format!("2025-{m:02}")))
        .collect::<Result<_, _>>()
        .map_err(ctx("a period"))?;
    // A deterministic spread of grids over the whole area.
    let step = (grids.len() / 997).max(1);
    let grid_sample: Vec<RegionCode> = grids.iter().step_by(step).copied().collect();
    let n = run.sizes.query_iterations;

    let stats_cases: [(&str, Vec<StatsQuery>); 3] = [
        (
            "query county-year",
            counties.iter().map(|c| query(*c, year)).collect(),
        ),
        (
            "query city-year",
            cities.iter().map(|c| query(*c, year)).collect(),
        ),
        (
            "query grid-month",
            grid_sample
                .iter()
                .enumerate()
                .map(|(i, g)| query(*g, months[i % months.len()]))
                .collect(),
        ),
    ];
    for (name, queries) in stats_cases {
        if queries.is_empty() {
            return Err(BenchError::Failed(format!("{name}: no region to query")));
        }
        let mut engine = Vec::with_capacity(n);
        let mut raw = Vec::with_capacity(n);
        for i in 0..n {
            let q = &queries[i % queries.len()];
            let t = Instant::now();
            {
                let view = projection.read();
                black_box(view.stats(q, &regions));
            }
            engine.push(t.elapsed());
            let t = Instant::now();
            {
                let view = projection.read();
                black_box(view.sum(q.region, &q.period));
            }
            raw.push(t.elapsed());
        }
        run.rows.push(latency_row(
            name,
            &mut engine,
            &mut raw,
            queries.len(),
            scale,
            "bucket lookups",
        ));
    }

    // Queues: the units holding open cases, busiest first.
    let units: Vec<(RegionCode, usize)> = {
        let view = projection.read();
        let mut by_unit: BTreeMap<RegionCode, usize> = BTreeMap::new();
        for e in view.cases() {
            if let (true, Some(h)) = (e.state.status.is_open(), e.state.holder) {
                *by_unit.entry(h).or_default() += 1;
            }
        }
        let mut v: Vec<_> = by_unit.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    if units.is_empty() {
        return Err(BenchError::new(
            "query unit queue: no unit holds an open case",
        ));
    }
    let now = Timestamp::now();
    let mut engine = Vec::with_capacity(n);
    let mut raw = Vec::with_capacity(n);
    for i in 0..n {
        let unit = units[i % units.len()].0;
        let t = Instant::now();
        {
            let view = projection.read();
            let mut by_status = BTreeMap::<&str, usize>::new();
            let mut overdue = 0usize;
            let mut items = Vec::new();
            for e in view.queue(unit) {
                *by_status.entry(e.state.status.as_str()).or_default() += 1;
                overdue += usize::from(e.state.is_overdue(now));
                items.push((e.state.id.clone(), e.state.deadline, e.state.version));
            }
            black_box((by_status, overdue, items));
        }
        engine.push(t.elapsed());
        let t = Instant::now();
        {
            let view = projection.read();
            black_box(view.queue(unit).count());
        }
        raw.push(t.elapsed());
    }
    let busiest = units[0].1;
    let row = latency_row(
        "query unit queue",
        &mut engine,
        &mut raw,
        units.len(),
        scale,
        "queue index walk",
    );
    let notes = format!("{}; busiest unit holds {busiest} open", row.notes);
    run.rows.push(
        row.note(notes)
            .detail("busiest_queue", busiest)
            .detail("projection_build_seconds", built)
            .detail(
                "vm_hwm_kib_after_build",
                proc_kib("/proc/self/status", "VmHWM:"),
            ),
    );
    Ok(())
}

fn query(region: RegionCode, period: Period) -> StatsQuery {
    StatsQuery::new(region, period)
}

fn latency_row(
    name: &str,
    engine: &mut [Duration],
    raw: &mut [Duration],
    regions: usize,
    scale: Scale,
    raw_what: &str,
) -> Row {
    let e = Percentiles::of(engine);
    let r = Percentiles::of(raw);
    Row::latency("query", name, e.p99_ms, r.p99_ms)
        .note(format!(
            "p50 {:.3} ms (raw {:.3} ms, {raw_what}); {} queries over {regions} regions, {scale}",
            e.p50_ms, r.p50_ms, e.count
        ))
        .detail("fixture", scale.name())
        .detail("engine", e)
        .detail("raw", r)
        .detail("raw_is", raw_what)
        .detail("regions", regions)
}

/// The fixture's projection, built in memory straight from the generator (the same commits
/// a load would append, at positions 1, 2, …). Returns it with the region tree, the area's
/// grids and the seconds taken.
///
/// With `until`, only the commits recorded before it (the projection as it stood then).
pub(super) fn build(
    scale: Scale,
    until: Option<Timestamp>,
) -> Result<(Projection, RegionTree, Vec<RegionCode>, f64), BenchError> {
    let started = Instant::now();
    let generator = scale.generator(1);
    let regions = generator.regions().clone();
    let grids = generator.grids().to_vec();
    let projection = Projection::in_memory(Calendar::default());
    let mut batch = Vec::with_capacity(2048);
    for (i, g) in generator.enumerate() {
        let recorded = g.events.first().map(|e| e.header.recorded_at);
        if until.is_some_and(|t| recorded.is_some_and(|r| r >= t)) {
            continue;
        }
        batch.push(Committed {
            position: Position::new(i as u64 + 1),
            case_id: g.case_id,
            command_id: g.command_id,
            events: g.events,
            fingerprint: None,
        });
        if batch.len() == 2048 {
            projection
                .apply_batch(&batch)
                .map_err(ctx("building the projection"))?;
            batch.clear();
        }
        if (i + 1) % 1_000_000 == 0 {
            eprintln!(
                "bench: projection at {} commits, {} cases, {:.0}s, RSS {} MiB",
                i + 1,
                projection.read().case_count(),
                started.elapsed().as_secs_f64(),
                proc_kib("/proc/self/status", "VmRSS:").unwrap_or(0) / 1024
            );
        }
    }
    projection
        .apply_batch(&batch)
        .map_err(ctx("building the projection"))?;
    Ok((projection, regions, grids, started.elapsed().as_secs_f64()))
}
