//! The search indexes answer exactly what a scan of every case answers: for regions at every
//! level, work lists (open cases by holder and by location), categories and texts, read page by
//! page through the cursor — at several points of a fixture's history, so that cases enter and
//! leave the open indexes in between.

use std::collections::BTreeSet;

use gridcase_bus::{Committed, Position};
use gridcase_domain::{CaseId, Category, Level, RegionCode, Status, Timestamp};
use gridcase_fixtures::Scale;
use gridcase_projections::{
    is_visible, Calendar, CaseEntry, Projection, Projector, SearchQuery, SearchSort, Visibility,
};

/// Every case the query should find, by brute force.
fn scan(view: &Projector, q: &SearchQuery, v: &Visibility, now: Timestamp) -> BTreeSet<CaseId> {
    view.cases()
        .filter(|e| is_visible(v, &e.state) && wanted(q, e, now))
        .filter_map(|e| e.state.id.clone())
        .collect()
}

fn wanted(q: &SearchQuery, e: &CaseEntry, now: Timestamp) -> bool {
    let s = &e.state;
    let Some(d) = s.details.as_ref() else {
        return false;
    };
    q.region.is_none_or(|r| r.contains(d.location))
        && (q.status.is_empty() || q.status.contains(&s.status))
        && q.category.is_none_or(|c| c == d.category)
        && q.holder.is_none_or(|h| s.holder == Some(h))
        && q.held_in
            .is_none_or(|r| s.holder.is_some_and(|h| r.contains(h)))
        && q.overdue.is_none_or(|o| s.is_overdue(now) == o)
        && q.text
            .as_deref()
            .is_none_or(|t| d.summary.clear().unwrap().contains(t))
}

/// Every case the search finds, reading every page.
fn search(view: &Projector, q: &SearchQuery, v: &Visibility, now: Timestamp) -> BTreeSet<CaseId> {
    let mut q = q.clone();
    q.limit = 7;
    let mut found = BTreeSet::new();
    let mut total = None;
    loop {
        let page = view.search(&q, v, now).unwrap();
        assert!(
            total.is_none_or(|t| t == page.total),
            "the total changed between pages"
        );
        total = Some(page.total);
        for e in &page.items {
            assert!(
                found.insert(e.state.id.clone().unwrap()),
                "a case on two pages"
            );
        }
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(total.unwrap_or(0), found.len(), "total and pages disagree");
    found
}

#[test]
fn search_finds_what_a_scan_finds() {
    let generator = Scale::Tiny.generator(5);
    let regions = generator.regions().clone();
    let projection = Projection::in_memory(Calendar::default());
    let commits: Vec<Committed> = generator
        .enumerate()
        .map(|(i, g)| Committed {
            position: Position::new(i as u64 + 1),
            case_id: g.case_id,
            command_id: g.command_id,
            events: g.events,
            fingerprint: None,
        })
        .collect();
    let open = vec![Status::Reported, Status::Registered, Status::Assigned];
    let mut checked = 0usize;
    let mut nonempty_open = 0usize;
    for chunk in commits.chunks(commits.len() / 6 + 1) {
        projection.apply_batch(chunk).unwrap();
        let view = projection.read();
        let now = chunk
            .last()
            .unwrap()
            .events
            .last()
            .unwrap()
            .header
            .recorded_at;
        let units: Vec<RegionCode> = regions
            .iter()
            .filter(|r| r.level >= Level::County)
            .map(|r| r.code)
            .collect();
        let texts: Vec<String> = view
            .cases()
            .step_by(41)
            .filter_map(|e| e.state.details.as_ref())
            .map(|d| d.summary.clear().unwrap().chars().skip(1).take(2).collect())
            .take(5)
            .collect();
        for (i, unit) in units.iter().enumerate() {
            let v = Visibility::Subtree(*unit);
            let mut queries = vec![
                SearchQuery {
                    region: Some(*unit),
                    status: open.clone(),
                    sort: SearchSort::Deadline,
                    ..SearchQuery::default()
                },
                SearchQuery {
                    region: Some(*unit),
                    status: open.clone(),
                    overdue: Some(true),
                    ..SearchQuery::default()
                },
                SearchQuery {
                    holder: Some(*unit),
                    status: open.clone(),
                    ..SearchQuery::default()
                },
                SearchQuery {
                    held_in: Some(*unit),
                    status: open.clone(),
                    sort: SearchSort::Updated,
                    ..SearchQuery::default()
                },
                SearchQuery {
                    region: Some(*unit),
                    category: Some(Category::ALL[i % Category::ALL.len()]),
                    sort: SearchSort::Oldest,
                    ..SearchQuery::default()
                },
                SearchQuery {
                    status: vec![Status::Closed],
                    ..SearchQuery::default()
                },
            ];
            if let Some(t) = texts.get(i % texts.len().max(1)) {
                queries.push(SearchQuery {
                    text: Some(t.clone()),
                    ..SearchQuery::default()
                });
            }
            for q in &queries {
                let expected = scan(&view, q, &v, now);
                assert_eq!(search(&view, q, &v, now), expected, "{q:?} for {unit}");
                checked += 1;
                if !q.status.is_empty() && q.status[0] == Status::Reported && !expected.is_empty() {
                    nonempty_open += 1;
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} queries checked");
    assert!(
        nonempty_open > 10,
        "the open work lists were almost always empty ({nonempty_open})"
    );
}
