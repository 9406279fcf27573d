//! The search indexes answer exactly what a scan of every case answers: for regions at every
//! level, work lists (open cases by holder and by location), categories and texts, read page by
//! page through the cursor — at several points of a fixture's history, so that cases enter and
//! leave the open indexes in between. A projection caught up from the log, which builds its
//! lookups once from the case views, answers every query, queue and deadline list exactly as
//! one that followed each commit.

use std::collections::BTreeSet;

mod common;

use common::{commit_of, runtime};
use gridcase_bus::{Committed, EventLog, Position, SledLog};
use gridcase_domain::{CaseId, Category, EventRecord, Level, RegionCode, Status, Timestamp};
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

/// Two characters from the summaries of five cases (every `step`-th), to search for.
fn sample_texts(view: &Projector, step: usize) -> Vec<String> {
    view.cases()
        .step_by(step)
        .filter_map(|e| e.state.details.as_ref())
        .map(|d| d.summary.clear().unwrap().chars().skip(1).take(2).collect())
        .take(5)
        .collect()
}

/// When the last of a commit's events was recorded: "now" for the queries after it.
fn last_recorded(events: &[EventRecord]) -> Timestamp {
    events.last().unwrap().header.recorded_at
}

/// Every case the search finds, reading every page.
fn search(view: &Projector, q: &SearchQuery, v: &Visibility, now: Timestamp) -> BTreeSet<CaseId> {
    let found = pages(view, q, v, now);
    let set: BTreeSet<CaseId> = found.iter().cloned().collect();
    assert_eq!(set.len(), found.len(), "a case on two pages");
    set
}

/// Every case the search finds, in the order of its pages.
fn pages(view: &Projector, q: &SearchQuery, v: &Visibility, now: Timestamp) -> Vec<CaseId> {
    let mut q = q.clone();
    q.limit = 7;
    let mut found = Vec::new();
    let mut total = None;
    loop {
        let page = view.search(&q, v, now).unwrap();
        assert!(
            total.is_none_or(|t| t == page.total),
            "the total changed between pages"
        );
        total = Some(page.total);
        found.extend(page.items.iter().map(|e| e.state.id.clone().unwrap()));
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
    let mut checked = 0usize;
    let mut nonempty_open = 0usize;
    for chunk in commits.chunks(commits.len() / 6 + 1) {
        projection.apply_batch(chunk).unwrap();
        let view = projection.read();
        let now = last_recorded(&chunk.last().unwrap().events);
        let units: Vec<RegionCode> = regions
            .iter()
            .filter(|r| r.level >= Level::County)
            .map(|r| r.code)
            .collect();
        let texts = sample_texts(&view, 41);
        for (i, unit) in units.iter().enumerate() {
            let v = Visibility::Subtree(*unit);
            let queries = queries_for(*unit, i, &texts);
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

/// The queries asked of a unit: its work lists, its overdue cases, a category and a text.
fn queries_for(unit: RegionCode, i: usize, texts: &[String]) -> Vec<SearchQuery> {
    let open = vec![Status::Reported, Status::Registered, Status::Assigned];
    let mut queries = vec![
        SearchQuery {
            region: Some(unit),
            status: open.clone(),
            sort: SearchSort::Deadline,
            ..SearchQuery::default()
        },
        SearchQuery {
            region: Some(unit),
            status: open.clone(),
            overdue: Some(true),
            ..SearchQuery::default()
        },
        SearchQuery {
            holder: Some(unit),
            status: open.clone(),
            ..SearchQuery::default()
        },
        SearchQuery {
            held_in: Some(unit),
            status: open.clone(),
            sort: SearchSort::Updated,
            ..SearchQuery::default()
        },
        SearchQuery {
            region: Some(unit),
            category: Some(Category::ALL[i % Category::ALL.len()]),
            sort: SearchSort::Oldest,
            ..SearchQuery::default()
        },
        SearchQuery {
            status: vec![Status::Closed],
            ..SearchQuery::default()
        },
        // Any status: cases by location and by every unit that held them.
        SearchQuery {
            region: Some(unit),
            ..SearchQuery::default()
        },
        SearchQuery {
            held_in: Some(unit),
            sort: SearchSort::Oldest,
            ..SearchQuery::default()
        },
        SearchQuery::default(),
    ];
    if let Some(t) = texts.get(i % texts.len().max(1)) {
        queries.push(SearchQuery {
            text: Some(t.clone()),
            ..SearchQuery::default()
        });
    }
    queries
}

/// The case ids of a list of case views, in its order.
fn ids<'a>(entries: impl Iterator<Item = &'a CaseEntry>) -> Vec<CaseId> {
    entries.filter_map(|e| e.state.id.clone()).collect()
}

#[test]
fn a_caught_up_projection_answers_as_one_that_followed_every_commit() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let log = SledLog::open(dir.path().join("log")).unwrap();
        let generator = Scale::Tiny.generator(11);
        let regions = generator.regions().clone();
        let generated: Vec<_> = generator.collect();
        let live = Projection::in_memory(Calendar::default());
        // Follows the log by catching up at each point: far behind at first (as many commits
        // to apply as cases held or more: the lookups are built at the end), then not (they
        // follow each commit).
        let follower = Projection::in_memory(Calendar::default());
        let (mut far_behind, mut close_behind) = (0, 0);
        let mut compared = 0usize;
        let n = generated.len();
        let ends = [
            n / 2,
            n * 7 / 10,
            n * 85 / 100,
            n * 95 / 100,
            n * 99 / 100,
            n,
        ];
        for (i, end) in ends.into_iter().enumerate() {
            let chunk = &generated[if i == 0 { 0 } else { ends[i - 1] }..end];
            if chunk.len() >= follower.read().case_count() {
                far_behind += 1;
            } else {
                close_behind += 1;
            }
            let from = log.head().await.unwrap().next();
            for g in chunk {
                log.append(commit_of(g)).await.unwrap();
            }
            live.apply_batch(&log.read_from(from, usize::MAX).await.unwrap())
                .unwrap();
            follower.catch_up(&log, |_, _| {}).await.unwrap();
            // A fresh projection catches up the whole log: its lookups are built at the end.
            let rebuilt = Projection::in_memory(Calendar::default());
            rebuilt.catch_up(&log, |_, _| {}).await.unwrap();

            let expected = live.read();
            let now = last_recorded(&chunk.last().unwrap().events);
            let texts = sample_texts(&expected, 37);
            // People to ask for: handlers, mediators, parties of some cases.
            let sample: Vec<&CaseEntry> = expected.cases().step_by(13).collect();
            let city = regions
                .iter()
                .find(|r| r.level == Level::City)
                .unwrap()
                .code;
            for view in [follower.read(), rebuilt.read()] {
                assert_eq!(
                    ids(view.overdue_at(now.as_millis())),
                    ids(expected.overdue_at(now.as_millis()))
                );
                for (i, (unit, level)) in regions.iter().map(|r| (r.code, r.level)).enumerate() {
                    assert_eq!(ids(view.queue(unit)), ids(expected.queue(unit)), "{unit}");
                    assert_eq!(
                        ids(view.open_in_subtree(unit)),
                        ids(expected.open_in_subtree(unit)),
                        "{unit}"
                    );
                    if level < Level::County {
                        continue;
                    }
                    let v = Visibility::Subtree(unit);
                    for q in queries_for(unit, i, &texts) {
                        assert_eq!(pages(&view, &q, &v, now), pages(&expected, &q, &v, now));
                        compared += 1;
                    }
                }
                for e in &sample {
                    let s = &e.state;
                    let city = Visibility::Subtree(city);
                    let mut people = vec![SearchQuery {
                        parties: s
                            .details
                            .iter()
                            .flat_map(|d| &d.parties)
                            .map(|p| p.id.clone())
                            .collect(),
                        ..SearchQuery::default()
                    }];
                    if let Some(h) = &s.handler {
                        people.push(SearchQuery {
                            assignee: Some(h.clone()),
                            ..SearchQuery::default()
                        });
                    }
                    for m in s
                        .mediations
                        .iter()
                        .map(|m| &m.mediator)
                        .chain(s.mediation.iter().map(|m| &m.mediator))
                    {
                        let q = SearchQuery {
                            mediator: Some(m.clone()),
                            ..SearchQuery::default()
                        };
                        let v = Visibility::Mediator(m.clone());
                        assert_eq!(pages(&view, &q, &v, now), pages(&expected, &q, &v, now));
                        people.push(q);
                    }
                    for q in people {
                        assert_eq!(
                            pages(&view, &q, &city, now),
                            pages(&expected, &q, &city, now)
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 500, "only {compared} answers compared");
        assert!(
            far_behind > 0 && close_behind > 0,
            "the follower caught up {far_behind} times far behind, {close_behind} times close"
        );
    });
}
