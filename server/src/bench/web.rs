//! The web suite: the server time of the workbench's pages on a full year of a city
//! (quzhou-year; tiny with `--smoke`), each next to the API's JSON of the same data.
//!
//! The fixture is appended straight to a sled log and read by an in-memory projection; the
//! pages are requested in process through the workbench's router ([`crate::web::router_of`])
//! with a session per person, as a browser sends them (`Accept-Encoding: gzip`), and timed
//! until the last byte of the body. No network, no browser: the figure is the server's time.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use gridcase_bus::{AnyLog, SledLog};
use gridcase_domain::{Actor, Level, RegionCode};
use gridcase_fixtures::{Roster, Scale};
use gridcase_projections::Projection;
use tower::ServiceExt;

use super::{ctx, group_digits, workload, BenchError, Percentiles, Row, Run};
use crate::config::Config;
use crate::web::WebApp;

/// The target: every page's p99 server time.
pub(crate) const MAX_P99_MS: f64 = 50.0;

/// One page to time: who asks, the page, and the API's answer of the same data.
struct Probe {
    name: String,
    actor: Actor,
    pages: Vec<String>,
    apis: Vec<String>,
}

pub(crate) async fn run(run: &mut Run) -> Result<(), BenchError> {
    let scale = if run.opts.smoke {
        Scale::Tiny
    } else {
        Scale::QuzhouYear
    };
    let n = if run.opts.smoke { 20 } else { 300 };
    let dir = run.dir("web-log")?;
    let log = SledLog::open(&dir).map_err(ctx("opening the sled log"))?;
    let t = Instant::now();
    let filled = workload::fill_sled(&log, scale, 1, None).await?;
    eprintln!(
        "bench: wrote {scale} to the embedded log: {} cases, {} events in {:.1}s",
        filled.cases,
        filled.events,
        t.elapsed().as_secs_f64()
    );
    let cfg = Config {
        data_dir: run.dir("web-data")?,
        demo_roster: true,
        ..Config::default()
    };
    let regions = Arc::new(scale.generator(1).regions().clone());
    let calendar =
        gridcase_projections::Calendar::new(&cfg.time_zone).map_err(ctx("the time zone"))?;
    let projection = Projection::in_memory(calendar);
    projection
        .catch_up(&log, |_, _| {})
        .await
        .map_err(ctx("building the projection"))?;

    // The people: staff of the unit holding the most open cases (and of its county), the
    // first mediator of a running mediation, a grid worker, the city's analyst and auditor.
    let roster = Roster::default();
    let (busiest, held, mediator) = {
        let view = projection.read();
        let mut by_unit = std::collections::BTreeMap::<RegionCode, usize>::new();
        let mut by_mediator = std::collections::BTreeMap::new();
        for e in view.cases().filter(|e| e.state.status.is_open()) {
            if let Some(h) = e.state.holder {
                *by_unit.entry(h).or_default() += 1;
            }
            if let Some(m) = &e.state.mediation {
                *by_mediator.entry(m.mediator.clone()).or_insert(0usize) += 1;
            }
        }
        let (unit, held) =
            busiest(by_unit).ok_or_else(|| BenchError::new("web: no unit holds an open case"))?;
        (unit, held, busiest(by_mediator).map(|m| m.0))
    };
    let county = busiest
        .self_and_ancestors()
        .find(|c| c.level() == Level::County)
        .ok_or_else(|| BenchError::new("web: the busiest unit has no county"))?;
    // Case pages: a deterministic spread over the county (its staff read them) and over the
    // city (the auditor), the longest story included.
    let sample = |within: Option<RegionCode>| {
        let view = projection.read();
        let all: Vec<_> = view
            .cases()
            .filter(|e| {
                within.is_none_or(|r| {
                    e.state
                        .details
                        .as_ref()
                        .is_some_and(|d| r.contains(d.location))
                })
            })
            .filter_map(|e| Some((e.state.id.clone()?, e.state.version)))
            .collect();
        let step = (all.len() / 97).max(1);
        let mut cases: Vec<_> = all.iter().step_by(step).map(|c| c.0.clone()).collect();
        if let Some(longest) = all.iter().max_by_key(|c| c.1) {
            cases.push(longest.0.clone());
        }
        cases
    };
    let county_cases = sample(Some(county));
    let city_cases = sample(None);
    if county_cases.is_empty() {
        return Err(BenchError::new("web: no case in the county"));
    }
    let city = busiest
        .self_and_ancestors()
        .find(|c| c.level() == Level::City)
        .ok_or_else(|| BenchError::new("web: the busiest unit has no city"))?;
    let grid = regions
        .subtree(county)
        .map(|r| r.code)
        .find(|c| c.level() == Level::Grid)
        .ok_or_else(|| BenchError::new("web: no grid"))?;
    let staff = roster.staff(busiest, 1);
    let county_staff = roster.staff(county, 1);
    let mediator = mediator
        .and_then(|m| roster.actor_of(&m))
        .unwrap_or_else(|| roster.mediator(busiest, 1));
    let analyst = roster.analyst(city, 1);
    let auditor = roster.auditor(city, 1);
    let worker = roster.grid_worker(grid, 1);
    let people = [
        &staff,
        &county_staff,
        &mediator,
        &analyst,
        &auditor,
        &worker,
    ];
    let tokens: Vec<(String, Actor)> = people
        .iter()
        .map(|a| (format!("bench-{}", a.id()), (*a).clone()))
        .collect();
    let log = AnyLog::Sled(log);
    let vault = crate::serve::open_vault(&cfg, &log)
        .await
        .map_err(ctx("opening the vault"))?;
    let app = crate::serve::build_app(&cfg, log, vault, regions.clone(), projection, &tokens)
        .map_err(ctx("building the server"))?;
    let web = WebApp::new(app.clone());
    let pages = crate::web::router_of(web.clone());
    let api = crate::api::router(app);

    let year = "2025";
    let each = |cases: &[gridcase_domain::CaseId], f: &dyn Fn(&str) -> String| {
        cases.iter().map(|c| f(c.as_str())).collect()
    };
    let probes = vec![
        Probe {
            name: "web work: unit queue".into(),
            actor: staff.clone(),
            pages: vec!["/work".into()],
            apis: vec!["/api/v1/me/cases?limit=25".into()],
        },
        Probe {
            name: "web work: overdue filter, list alone (htmx)".into(),
            actor: staff.clone(),
            pages: vec!["/work/list?view=queue&overdue=true".into()],
            apis: vec!["/api/v1/me/cases?view=queue&overdue=true&limit=25".into()],
        },
        Probe {
            name: "web work: a mediator's mediations".into(),
            actor: mediator.clone(),
            pages: vec!["/work".into()],
            apis: vec!["/api/v1/me/cases?limit=25".into()],
        },
        Probe {
            name: "web search: county, text".into(),
            actor: county_staff.clone(),
            // The county staff's search starts at their county.
            pages: vec!["/search?q=%E7%BA%A0%E7%BA%B7".into()],
            apis: vec![format!(
                "/api/v1/cases?region={county}&q=%E7%BA%A0%E7%BA%B7&limit=25"
            )],
        },
        Probe {
            name: "web search: county, open and overdue".into(),
            actor: county_staff.clone(),
            pages: vec!["/search?status=assigned&overdue=true".into()],
            apis: vec![format!(
                "/api/v1/cases?region={county}&status=assigned&overdue=true&limit=25"
            )],
        },
        Probe {
            name: "web case page".into(),
            actor: county_staff.clone(),
            pages: each(&county_cases, &|c| format!("/cases/{c}")),
            apis: each(&county_cases, &|c| format!("/api/v1/cases/{c}")),
        },
        Probe {
            name: "web audit case".into(),
            actor: auditor.clone(),
            pages: each(&city_cases, &|c| format!("/audit/cases/{c}")),
            apis: each(&city_cases, &|c| format!("/api/v1/cases/{c}/timeline")),
        },
        Probe {
            name: "web stats: city-year".into(),
            actor: analyst.clone(),
            pages: vec![format!("/stats?region={city}&period={year}")],
            apis: vec![format!("/api/v1/stats?region={city}&period={year}")],
        },
        Probe {
            name: "web stats: county-month".into(),
            actor: analyst.clone(),
            pages: vec![format!("/stats?region={county}&period={year}-06")],
            apis: vec![format!("/api/v1/stats?region={county}&period={year}-06")],
        },
        Probe {
            name: "web stats: county-month, printed report".into(),
            actor: analyst.clone(),
            pages: vec![format!("/stats/print?region={county}&period={year}-06")],
            apis: vec![format!("/api/v1/stats?region={county}&period={year}-06")],
        },
        Probe {
            name: "web stats: city-year, table as CSV".into(),
            actor: analyst.clone(),
            pages: vec![format!("/stats/children.csv?region={city}&period={year}")],
            apis: vec![format!(
                "/api/v1/stats?region={city}&period={year}&drill_down=true"
            )],
        },
        Probe {
            name: "web report form".into(),
            actor: worker.clone(),
            pages: vec!["/report".into()],
            apis: vec!["/api/v1/me".into()],
        },
    ];

    for p in probes {
        let session = web.sessions.create(p.actor.clone());
        let token = format!("bench-{}", p.actor.id());
        let page_req = |i: usize| {
            Request::get(&p.pages[i % p.pages.len()])
                .header(header::COOKIE, format!("gc_session={session}; gc_lang=zh"))
                .header(header::ACCEPT_ENCODING, "gzip")
                .body(Body::empty())
        };
        let api_req = |i: usize| {
            Request::get(&p.apis[i % p.apis.len()])
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::ACCEPT_ENCODING, "gzip")
                .body(Body::empty())
        };
        // One of each first: the page must answer 200 (a bench of error pages says nothing).
        let (status, _) = time(&pages, page_req(0).map_err(ctx("a request"))?).await?;
        if status != StatusCode::OK {
            return Err(BenchError::new(format!(
                "{}: {} answered {status}",
                p.name, p.pages[0]
            )));
        }
        let (status, _) = time(&api, api_req(0).map_err(ctx("a request"))?).await?;
        if status != StatusCode::OK {
            return Err(BenchError::new(format!(
                "{}: {} answered {status}",
                p.name, p.apis[0]
            )));
        }
        let mut page = Vec::with_capacity(n);
        let mut raw = Vec::with_capacity(n);
        let mut sizes = 0usize;
        for i in 0..n {
            let t = Instant::now();
            let (_, b) = time(&pages, page_req(i).map_err(ctx("a request"))?).await?;
            page.push(t.elapsed());
            sizes += b;
            let t = Instant::now();
            time(&api, api_req(i).map_err(ctx("a request"))?).await?;
            raw.push(t.elapsed());
        }
        let e = Percentiles::of(&mut page);
        let r = Percentiles::of(&mut raw);
        eprintln!(
            "bench: {}: p99 {:.2} ms (API {:.2} ms)",
            p.name, e.p99_ms, r.p99_ms
        );
        let mut row = Row::latency("web", &p.name, e.p99_ms, r.p99_ms)
            .within_ms(MAX_P99_MS)
            .note(format!(
                "p50 {:.2} ms (API JSON {:.2} ms); {} requests over {} page(s), {} B gzipped on average; {scale}",
                e.p50_ms,
                r.p50_ms,
                e.count,
                p.pages.len(),
                group_digits((sizes / n.max(1)) as f64)
            ))
            .detail("fixture", scale.name())
            .detail("engine", e)
            .detail("raw", r)
            .detail("raw_is", "the API's JSON of the same data");
        row = row
            .detail("pages", p.pages.len())
            .detail("unit_queue_open", held);
        run.rows.push(row);
        web.sessions.remove(&session);
    }
    run.rows
        .push(first_load(&web, &pages, &analyst, city, year).await?);
    if run.opts.smoke {
        return Ok(());
    }
    if scale != Scale::QuzhouYear {
        run.notes.push(format!(
            "web suite ran on {scale}; the target is stated for quzhou-year"
        ));
    }
    Ok(())
}

/// The key with the largest count (the smallest key among equals).
fn busiest<K: Ord>(counts: std::collections::BTreeMap<K, usize>) -> Option<(K, usize)> {
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
}

/// The target: the dashboard's first load (page and every asset it references, as sent) in
/// bytes.
pub(crate) const MAX_FIRST_LOAD_BYTES: f64 = 1_500_000.0;

/// The bytes of the dashboard's first load, as a browser with an empty cache fetches it: the
/// page (the city's year, ECharts included) and every asset it references, gzipped as sent
/// (bodies; headers not counted), against the same uncompressed.
async fn first_load(
    web: &WebApp,
    pages: &Router,
    analyst: &Actor,
    city: RegionCode,
    year: &str,
) -> Result<Row, BenchError> {
    let session = web.sessions.create(analyst.clone());
    let page = format!("/stats?region={city}&period={year}");
    let get = |path: &str, gzip: bool| {
        let mut r =
            Request::get(path).header(header::COOKIE, format!("gc_session={session}; gc_lang=zh"));
        if gzip {
            r = r.header(header::ACCEPT_ENCODING, "gzip");
        }
        r.body(Body::empty()).map_err(ctx("a request"))
    };
    let (status, html) = fetch(pages, get(&page, false)?).await?;
    if status != StatusCode::OK {
        return Err(BenchError::new(format!("web: {page} answered {status}")));
    }
    let html = String::from_utf8_lossy(&html);
    let mut assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/assets/"))
        .collect();
    assets.sort_unstable();
    assets.dedup();
    if !assets.iter().any(|a| a.contains("echarts")) {
        return Err(BenchError::new(format!("web: {page} loads no ECharts")));
    }
    let (mut gzipped, mut plain) = (0usize, 0usize);
    for path in std::iter::once(page.as_str()).chain(assets.iter().copied()) {
        for gzip in [true, false] {
            let (status, body) = fetch(pages, get(path, gzip)?).await?;
            if status != StatusCode::OK {
                return Err(BenchError::new(format!("web: {path} answered {status}")));
            }
            *(if gzip { &mut gzipped } else { &mut plain }) += body.len();
        }
    }
    web.sessions.remove(&session);
    eprintln!(
        "bench: web first dashboard load: {gzipped} B gzipped ({plain} B uncompressed), {} files",
        assets.len() + 1
    );
    Ok(Row::at_most(
        "web",
        "web first dashboard load (page + assets, gzip)",
        "bytes",
        gzipped as f64,
        plain as f64,
        MAX_FIRST_LOAD_BYTES,
    )
    .note(format!(
        "{page}: the page and its {} assets (ECharts included) as sent, bodies; raw: uncompressed",
        assets.len()
    ))
    .detail("files", assets.len() + 1)
    .detail("assets", &assets))
}

/// Sends `req` to `router` and reads the whole body.
async fn fetch(
    router: &Router,
    req: Request<Body>,
) -> Result<(StatusCode, axum::body::Bytes), BenchError> {
    let resp = router
        .clone()
        .oneshot(req)
        .await
        .map_err(ctx("a request"))?;
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .map_err(ctx("reading a body"))?;
    Ok((status, body))
}

/// Sends `req` to `router` and reads the whole body: (status, body bytes).
async fn time(router: &Router, req: Request<Body>) -> Result<(StatusCode, usize), BenchError> {
    let (status, body) = fetch(router, req).await?;
    Ok((status, body.len()))
}
