//! The search suite: one filtered page of `GET /api/v1/cases` (the projection's search
//! indexes) on the quzhou-year projection, next to a full scan answering the same question.
//!
//! Four kinds of query, each over many regions so no single answer is cached by luck: the open
//! cases of a county by deadline; a category in a township, newest first; a two-character
//! text in a city; and the fifth page of the first (cursor paging).

use std::hint::black_box;
use std::time::{Duration, Instant};

use gridcase_domain::{Category, RegionCode, Status, Timestamp};
use gridcase_fixtures::Scale;
use gridcase_projections::{SearchQuery, SearchSort, Visibility};

use super::{ctx, BenchError, Percentiles, Row, Run};

/// The target for a filtered page.
const TARGET_P99_MS: f64 = 20.0;

pub(crate) async fn run(run: &mut Run) -> Result<(), BenchError> {
    let scale = if run.opts.smoke {
        Scale::Tiny
    } else {
        Scale::QuzhouYear
    };
    // The fixture's calendar is 2025: the projection as it stood on 1 October, so that work
    // lists hold the cases then in flight.
    let now = Timestamp::parse("2025-10-01T00:00:00+08:00").map_err(ctx("a time"))?;
    let (projection, regions, _, _) = super::query::build(scale, Some(now))?;
    eprintln!(
        "bench: built the {scale} projection up to {now} for search: {} cases",
        projection.read().case_count()
    );
    let city = *scale
        .area()
        .cities()
        .first()
        .ok_or_else(|| BenchError::new("search: the fixture has no city"))?;
    let below = |r: RegionCode| regions.children(r).to_vec();
    let counties = below(city);
    let townships: Vec<RegionCode> = counties.iter().flat_map(|c| below(*c)).collect();
    if counties.is_empty() || townships.is_empty() {
        return Err(BenchError::new(
            "search: the fixture has no counties or townships",
        ));
    }
    // Two-character texts taken from the fixture's own summaries.
    let texts: Vec<String> = {
        let view = projection.read();
        view.cases()
            .step_by(997)
            .filter_map(|e| e.state.details.as_ref())
            .filter_map(|d| {
                let chars: Vec<char> = d.summary.to_clear_or_mark().chars().collect();
                (chars.len() >= 4).then(|| chars[1..3].iter().collect())
            })
            .take(64)
            .collect()
    };
    if texts.is_empty() {
        return Err(BenchError::new("search: no summaries to search for"));
    }
    let open = vec![Status::Reported, Status::Registered, Status::Assigned];
    let page = |q: SearchQuery| SearchQuery { limit: 50, ..q };
    let kinds: Vec<(&str, Vec<(Visibility, SearchQuery)>)> = vec![
        (
            "search county open by deadline",
            counties
                .iter()
                .map(|c| {
                    (
                        Visibility::Subtree(*c),
                        page(SearchQuery {
                            region: Some(*c),
                            status: open.clone(),
                            sort: SearchSort::Deadline,
                            ..SearchQuery::default()
                        }),
                    )
                })
                .collect(),
        ),
        (
            "search township category",
            townships
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    (
                        Visibility::Subtree(*t),
                        page(SearchQuery {
                            region: Some(*t),
                            category: Some(Category::ALL[i % Category::ALL.len()]),
                            sort: SearchSort::Newest,
                            ..SearchQuery::default()
                        }),
                    )
                })
                .collect(),
        ),
        (
            "search city text",
            texts
                .iter()
                .map(|t| {
                    (
                        Visibility::Subtree(city),
                        page(SearchQuery {
                            text: Some(t.clone()),
                            sort: SearchSort::Newest,
                            ..SearchQuery::default()
                        }),
                    )
                })
                .collect(),
        ),
    ];
    let n = run.sizes.query_iterations;
    for (name, queries) in &kinds {
        let mut engine = Vec::with_capacity(n);
        let mut scan = Vec::with_capacity(n);
        let mut matched = 0usize;
        for i in 0..n {
            let (visible, q) = &queries[i % queries.len()];
            let t = Instant::now();
            {
                let view = projection.read();
                let found = view.search(q, visible, now).map_err(ctx("a search"))?;
                matched += found.total;
                black_box(found.items.len());
            }
            engine.push(t.elapsed());
            let t = Instant::now();
            black_box(full_scan(&projection.read(), q, now));
            scan.push(t.elapsed());
        }
        let avg = matched / n.max(1);
        run.rows.push(
            row(name, &mut engine, &mut scan, queries.len(), scale).note(format!(
                "{} queries over {} regions or texts, {avg} matches on average, {scale}",
                n,
                queries.len()
            )),
        );
    }
    // Cursor paging: the fifth page of the county query.
    let (name, queries) = &kinds[0];
    let mut fifth = Vec::with_capacity(n);
    for i in 0..n {
        let (visible, q) = &queries[i % queries.len()];
        let view = projection.read();
        let mut q = q.clone();
        for _ in 0..4 {
            match view.search(&q, visible, now).map_err(ctx("a search"))?.next {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        let t = Instant::now();
        black_box(
            view.search(&q, visible, now)
                .map_err(ctx("a search"))?
                .items
                .len(),
        );
        fifth.push(t.elapsed());
    }
    let e = Percentiles::of(&mut fifth);
    run.rows.push(
        Row::latency("search", &format!("{name}, page 5"), e.p99_ms, e.p99_ms)
            .within_ms(TARGET_P99_MS)
            .note(format!(
                "p50 {:.3} ms; the page after four cursors, {scale}",
                e.p50_ms
            ))
            .detail("fixture", scale.name())
            .detail("engine", e),
    );
    Ok(())
}

/// The same question without the indexes: every case, every condition.
fn full_scan(view: &gridcase_projections::Projector, q: &SearchQuery, now: Timestamp) -> usize {
    view.cases()
        .filter(|e| {
            let s = &e.state;
            let Some(d) = s.details.as_ref() else {
                return false;
            };
            q.region.is_none_or(|r| r.contains(d.location))
                && (q.status.is_empty() || q.status.contains(&s.status))
                && q.category.is_none_or(|c| d.category == c)
                && q.overdue.is_none_or(|o| s.is_overdue(now) == o)
                && q.text
                    .as_deref()
                    .is_none_or(|t| d.summary.to_clear_or_mark().contains(t))
        })
        .count()
}

fn row(
    name: &str,
    engine: &mut [Duration],
    scan: &mut [Duration],
    regions: usize,
    scale: Scale,
) -> Row {
    let e = Percentiles::of(engine);
    let r = Percentiles::of(scan);
    Row::latency("search", name, e.p99_ms, r.p99_ms)
        .within_ms(TARGET_P99_MS)
        .detail("fixture", scale.name())
        .detail("engine", e)
        .detail("raw", r)
        .detail("raw_is", "a full scan of every case")
        .detail("regions", regions)
}
