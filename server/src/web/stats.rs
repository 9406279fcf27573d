//! 统计分析: the analysts' dashboard, its CSV table and its printable monthly report.
//!
//! Region and period pickers and an "as known on" date (the API's `as_of`); the headline
//! rates (小事不出格 / 大事不出村 / 矛盾不上交 / 化解率) with their change on the previous
//! period; where cases were resolved, by level (stacked bars, per child region); the rates over
//! twelve months (one series query, [`Projector::series`]); the child regions ranked, each a
//! link one level down, to the grid; breakdowns by category and source; quality of handling.
//!
//! Every figure comes from [`gridcase_projections::Projector::stats`], the same call as
//! `/api/v1/stats`; scope is [`access::may_read_stats`]. No free text and no parties: the
//! figures are counts.

use crate::error::BadRequestCode;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use gridcase_domain::{Level, RegionCode, RegionTree, Timestamp};
use gridcase_projections::{
    civil_from_days, month_of, Breakdown, Dim, Figures, Period, Projector, StatsQuery, StatsReport,
    Step,
};
use serde::Deserialize;
use serde_json::json;

use super::i18n::{pct, Tr};
use super::session::{encode, Viewer};
use super::Opt;
use super::{access, render, require, Chrome, Page, Web, WebApp, WebError};
use crate::error::ApiError;

/// What the pickers send (or a link carries: `region`, `period`, `as_of`).
#[derive(Deserialize, Default, Debug, Clone)]
pub struct StatsParams {
    #[serde(default)]
    region: String,
    /// A period as the API reads it (`2025-01`, `2025-Q1`, `2025`, `a..b`); wins over the
    /// pickers' fields.
    #[serde(default)]
    period: String,
    /// `month`, `quarter`, `year` or `custom`.
    #[serde(default)]
    ptype: String,
    #[serde(default)]
    month: String,
    #[serde(default)]
    quarter: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    from: String,
    /// Inclusive.
    #[serde(default)]
    to: String,
    /// A local date: the figures as known at the end of that day.
    #[serde(default)]
    as_of: String,
}

/// The period as the API writes it: `2025-01`, `2025-Q1`, `2025` or `2025-01-05..2025-02-01`.
pub fn canonical(p: &Period) -> String {
    let (y, m, d) = civil_from_days(p.from);
    let (ny, nm, nd) = civil_from_days(p.to);
    let months = (ny - y) * 12 + nm as i32 - m as i32;
    match (d == 1 && nd == 1, months) {
        (true, 1) => format!("{y}-{m:02}"),
        (true, 3) if m % 3 == 1 => format!("{y}-Q{}", m / 3 + 1),
        (true, 12) if m == 1 => format!("{y}"),
        _ => p.to_string(),
    }
}

/// The shape of a period, for the picker.
fn shape(p: &Period) -> &'static str {
    let c = canonical(p);
    if c.contains("..") {
        "custom"
    } else if c.contains('Q') {
        "quarter"
    } else if c.len() == 4 {
        "year"
    } else {
        "month"
    }
}

/// The message key of the printed report's title for a period of this shape.
fn report_title(p: &Period) -> &'static str {
    match shape(p) {
        "month" => "stats.report_title.month",
        "quarter" => "stats.report_title.quarter",
        "year" => "stats.report_title.year",
        _ => "stats.report_title.custom",
    }
}

fn bad(field: &'static str, msg: String) -> ApiError {
    ApiError::field(BadRequestCode::InvalidQuery, field, msg)
}

/// Reads the period from the parameters; `None` when none was given.
fn period_of(q: &StatsParams) -> Result<Option<Period>, ApiError> {
    let parse = |s: &str| {
        Period::parse(s)
            .map(Some)
            .map_err(|e| bad("period", e.to_string()))
    };
    if !q.period.trim().is_empty() {
        return parse(&q.period);
    }
    match q.ptype.as_str() {
        "month" if !q.month.is_empty() => parse(&q.month),
        "quarter" if !q.quarter.is_empty() => parse(&q.quarter),
        "year" if !q.year.is_empty() => parse(&q.year),
        "custom" if !q.from.is_empty() && !q.to.is_empty() => {
            let to = Period::parse(&q.to).map_err(|e| bad("to", e.to_string()))?;
            let from = Period::parse(&q.from).map_err(|e| bad("from", e.to_string()))?;
            if from.from >= to.to {
                return Err(bad("to", "the end is not after the start".into()));
            }
            Ok(Some(Period {
                from: from.from,
                to: to.to,
            }))
        }
        _ => Ok(None),
    }
}

/// The latest month (of the last two years) in which the region registered cases, else the
/// current month: an analyst opening the dashboard sees figures, not an empty month.
fn latest_month(p: &Projector, region: RegionCode, now: Timestamp, web: &WebApp) -> Period {
    let current = month_of(web.app.calendar.day(now));
    (0..24)
        .map(|back| Period::month(current - back))
        .find(|m| p.sum(region, m).total.registered > 0)
        .unwrap_or_else(|| Period::month(current))
}

/// The resolved request: region, period, as-of.
struct Resolved {
    region: RegionCode,
    period: Option<Period>,
    as_of: Option<(String, Timestamp)>,
}

fn resolve(web: &WebApp, v: &Viewer, q: &StatsParams) -> Result<Resolved, WebError> {
    let err = |e: ApiError| WebError::new(web, v, e);
    let region = match q.region.trim() {
        "" => v.actor.unit(),
        s => {
            let code: RegionCode = s
                .parse()
                .map_err(|e| err(bad("region", format!("region: {e}"))))?;
            if !web.app.regions.contains_code(code) {
                return Err(err(ApiError::NotFound(format!("unknown region {code}"))));
            }
            code
        }
    };
    access::may_read_stats(&v.actor, region).map_err(err)?;
    let period = period_of(q).map_err(err)?;
    // A date (its end, in the deployment's time zone) or an instant as the API and the export
    // write it; one not yet past is today's figures, the live ones.
    let as_of = match q.as_of.trim() {
        "" => None,
        s => {
            let t = web
                .clock
                .end_of_date(s)
                .or_else(|| Timestamp::parse(s).ok())
                .ok_or_else(|| err(bad("as_of", format!("as_of {s:?} is not a date"))))?;
            (t <= Timestamp::now()).then(|| (s.to_owned(), t))
        }
    };
    Ok(Resolved {
        region,
        period,
        as_of,
    })
}

/// The projector to read: the live one, or the log replayed up to the as-of time.
enum Source<'a> {
    Live(std::sync::RwLockReadGuard<'a, Projector>),
    Replayed(Box<Projector>),
}

impl std::ops::Deref for Source<'_> {
    type Target = Projector;
    fn deref(&self) -> &Projector {
        match self {
            Source::Live(g) => g,
            Source::Replayed(p) => p,
        }
    }
}

async fn source<'a>(web: &'a WebApp, as_of: Option<Timestamp>) -> Result<Source<'a>, ApiError> {
    Ok(match as_of {
        Some(t) => Source::Replayed(Box::new(
            gridcase_projections::as_of(web.app.path.log(), web.app.calendar.clone(), t).await?,
        )),
        None => Source::Live(web.app.projection.read()),
    })
}

/// One headline or quality figure.
#[derive(Debug, Clone)]
pub struct Kpi {
    /// Element id (`kpi-grid_rate`), also for the tests.
    pub id: &'static str,
    /// Its name.
    pub label: &'static str,
    /// The figure.
    pub value: String,
    /// Its change on the previous period.
    pub change: String,
    /// `up`, `down` or `flat`.
    pub direction: &'static str,
}

/// One row of the child-region table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Rank by township rate.
    pub rank: usize,
    /// The region.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Whether it has children to drill into.
    pub drill: bool,
    /// Cells: (text, sort value).
    pub cells: Vec<(String, String)>,
}

/// One row of a breakdown.
#[derive(Debug, Clone)]
pub struct DimRow {
    /// The value's name.
    pub label: String,
    /// Registered.
    pub registered: String,
    /// Resolved.
    pub resolved: String,
    /// Resolution rate.
    pub rate: String,
    /// Resolution rate, 0–1 (for the meter).
    pub ratio: f64,
    /// Grid rate (小事不出格).
    pub grid: String,
}

/// Everything the dashboard and the printed report show.
pub struct Dashboard {
    /// The region's name.
    pub region_name: String,
    /// The region's code.
    pub region: String,
    /// The region's level.
    pub level: &'static str,
    /// The period, named.
    pub period_label: String,
    /// The printed report's title key, by the period's kind (月报, 季报, 年报, 统计报告).
    pub report_title: &'static str,
    /// The query of this view (`region=…&period=…[&as_of=…]`).
    pub qs: String,
    /// The query without the region (`period=…[&as_of=…]`), for links to other regions.
    pub rest: String,
    /// The as-of date, if any.
    pub as_of: Option<String>,
    /// Headline rates.
    pub kpis: Vec<Kpi>,
    /// Counts: registered, resolved, open, referred out.
    pub counts: Vec<Kpi>,
    /// Mediation success, on time, satisfaction, resolved late.
    pub quality: Vec<Kpi>,
    /// The child level's name.
    pub child_level: &'static str,
    /// Child regions.
    pub children: Vec<Row>,
    /// The table's column names.
    pub columns: Vec<&'static str>,
    /// By category.
    pub by_category: Vec<DimRow>,
    /// By source.
    pub by_source: Vec<DimRow>,
    /// Stacked bars: JSON for the chart.
    pub level_chart: String,
    /// Twelve months: JSON for the chart.
    pub trend_chart: String,
    /// Up one level (within scope).
    pub up: Option<String>,
    /// The path from the viewer's unit down to the region: (query, name).
    pub crumbs: Vec<(String, String)>,
    /// Overdue open cases at T (督办's figure): when T is (local, minutes).
    pub overdue_at: String,
    /// … how many, located in the region, whenever registered.
    pub overdue_open: String,
    /// … the words after that count: "件（其中本期立案 M 件）".
    pub overdue_rest: String,
    /// … the units holding the most (name, count), at most [`OVERDUE_UNITS`].
    pub overdue_by_holder: Vec<(String, String)>,
    /// … what the table holds: "the 10 holding most, of 23 units" (empty when it holds all).
    pub overdue_units_note: String,
}

/// Holding units listed under the overdue open cases (the API lists all).
pub const OVERDUE_UNITS: usize = 10;

/// A unit's name as a list of units far from its place shows it: a grid or village with the
/// unit above it (`金桂社区 第1网格`), others as they are.
fn unit_name(regions: &RegionTree, code: RegionCode) -> String {
    let name = regions.name(code).unwrap_or_default();
    match (code.level(), code.parent().and_then(|p| regions.name(p))) {
        (Level::Grid | Level::Village, Some(parent)) => format!("{parent} {name}"),
        _ => name.to_owned(),
    }
}

fn kpi(id: &'static str, label: &'static str, now: Option<f64>, before: Option<f64>, t: Tr) -> Kpi {
    let direction = match (now, before) {
        (Some(a), Some(b)) if (a - b).abs() >= 0.0005 => {
            if a > b {
                "up"
            } else {
                "down"
            }
        }
        _ => "flat",
    };
    Kpi {
        id,
        label,
        value: pct(now),
        // Nothing to compare with (no cases the period before): say nothing.
        change: if before.is_some() {
            t.pp(&now, &before)
        } else {
            String::new()
        },
        direction,
    }
}

fn count(id: &'static str, label: &'static str, n: i64, t: Tr) -> Kpi {
    Kpi {
        id,
        label,
        value: t.int(&n),
        change: String::new(),
        direction: "flat",
    }
}

fn dim_rows(report: &StatsReport, t: Tr) -> Vec<DimRow> {
    let mut rows: Vec<(&Dim, &Figures)> = report.breakdown.iter().map(|(d, f)| (d, f)).collect();
    rows.sort_by_key(|(_, f)| std::cmp::Reverse(f.cohort.registered));
    rows.into_iter()
        .filter(|(_, f)| f.cohort.registered > 0 || f.activity.reported > 0)
        .map(|(d, f)| DimRow {
            label: match d {
                Dim::Category(c) => t.category(c),
                Dim::Source(s) => t.source(s),
                Dim::Kind(k) => t.kind(k),
            },
            registered: t.int(&f.cohort.registered),
            resolved: t.int(&f.cohort.resolved),
            rate: pct(f.cohort.resolution_rate),
            ratio: f.cohort.resolution_rate.unwrap_or(0.0),
            grid: pct(f.cohort.grid_rate),
        })
        .collect()
}

fn query_string(
    region: RegionCode,
    period: &Period,
    as_of: &Option<(String, Timestamp)>,
) -> String {
    let mut s = format!("region={region}&period={}", encode(&canonical(period)));
    if let Some((d, _)) = as_of {
        s.push_str(&format!("&as_of={}", encode(d)));
    }
    s
}

impl Dashboard {
    /// Computes the dashboard from a projector.
    fn build(
        web: &WebApp,
        v: &Viewer,
        p: &Projector,
        region: RegionCode,
        period: Period,
        as_of: &Option<(String, Timestamp)>,
    ) -> Dashboard {
        let t = v.tr();
        let regions = &web.app.regions;
        let q = |period: Period, breakdown, drill_down| StatsQuery {
            region,
            period,
            breakdown,
            drill_down,
            rank_by: Default::default(),
            as_of: as_of.as_ref().map(|(_, t)| *t),
        };
        let main = p.stats(&q(period, None, true), regions);
        let prev = p.stats(&q(period.previous(), None, false), regions);
        let by_category = p.stats(&q(period, Some(Breakdown::Category), false), regions);
        let by_source = p.stats(&q(period, Some(Breakdown::Source), false), regions);
        let (c, pc) = (&main.figures.cohort, &prev.figures.cohort);
        let kpis = vec![
            kpi(
                "kpi-grid_rate",
                t.s("stats.grid_rate"),
                c.grid_rate,
                pc.grid_rate,
                t,
            ),
            kpi(
                "kpi-village_rate",
                t.s("stats.village_rate"),
                c.village_rate,
                pc.village_rate,
                t,
            ),
            kpi(
                "kpi-township_rate",
                t.s("stats.township_rate"),
                c.township_rate,
                pc.township_rate,
                t,
            ),
            kpi(
                "kpi-resolution_rate",
                t.s("stats.resolution_rate"),
                c.resolution_rate,
                pc.resolution_rate,
                t,
            ),
        ];
        let mut registered = count("kpi-registered", t.s("stats.registered"), c.registered, t);
        if main.change.registered_change.is_some() {
            registered.change = t.rel(&main.change.registered_change);
        }
        // The four after 立案 add up to it (resolved + open + referred out + merged).
        let counts = vec![
            registered,
            count("kpi-resolved", t.s("stats.resolved"), c.resolved, t),
            count("kpi-open", t.s("stats.open"), c.open, t),
            count("kpi-referred", t.s("stats.referred"), c.referred_out, t),
            count("kpi-merged", t.s("stats.merged"), c.merged, t),
        ];
        let (r, pr) = (&main.figures.rates, &prev.figures.rates);
        let mut overdue = count(
            "kpi-overdue",
            t.s("stats.overdue"),
            main.figures.activity.overdue,
            t,
        );
        overdue.change = String::new();
        let quality = vec![
            kpi(
                "kpi-mediation_success",
                t.s("stats.mediation_success"),
                r.mediation_success,
                pr.mediation_success,
                t,
            ),
            kpi(
                "kpi-on_time",
                t.s("stats.on_time"),
                r.on_time,
                pr.on_time,
                t,
            ),
            kpi(
                "kpi-satisfaction",
                t.s("stats.satisfaction"),
                r.satisfaction,
                pr.satisfaction,
                t,
            ),
            overdue,
        ];
        let columns = vec![
            t.s("stats.registered"),
            t.s("stats.resolved"),
            t.s("stats.grid_rate"),
            t.s("stats.village_rate"),
            t.s("stats.township_rate"),
            t.s("stats.resolution_rate"),
            t.s("stats.on_time"),
            t.s("stats.satisfaction"),
        ];
        let num = |n: i64| (t.int(&n), n.to_string());
        let rate = |r: Option<f64>| {
            (
                pct(r),
                r.map(|r| format!("{r:.6}")).unwrap_or_else(|| "-1".into()),
            )
        };
        let children: Vec<Row> = main
            .children
            .iter()
            .map(|ch| {
                let (c, r) = (&ch.figures.cohort, &ch.figures.rates);
                Row {
                    rank: ch.rank,
                    code: ch.region.to_string(),
                    name: ch.name.clone(),
                    drill: !regions.children(ch.region).is_empty(),
                    cells: vec![
                        num(c.registered),
                        num(c.resolved),
                        rate(c.grid_rate),
                        rate(c.village_rate),
                        rate(c.township_rate),
                        rate(c.resolution_rate),
                        rate(r.on_time),
                        rate(r.satisfaction),
                    ],
                }
            })
            .collect();
        // Stacked bars: one bar per child region (or the region itself at a grid), stacked by
        // where the registered cases were resolved, then referred out and still open.
        let bars: Vec<(String, &Figures)> = if main.children.is_empty() {
            vec![(
                regions.name(region).unwrap_or_default().to_owned(),
                &main.figures,
            )]
        } else {
            let mut by_code: Vec<_> = main.children.iter().collect();
            by_code.sort_by_key(|c| c.region);
            by_code
                .into_iter()
                .map(|c| (c.name.clone(), &c.figures))
                .collect()
        };
        let mut series = Vec::new();
        for l in Level::ALL {
            if l > region.level() {
                continue;
            }
            series.push(json!({
                "key": l.as_str(),
                "name": t.level(&l),
                "data": bars.iter().map(|(_, f)| f.cohort.resolved_at.get(&l).copied().unwrap_or(0)).collect::<Vec<_>>(),
            }));
        }
        series.push(json!({ "key": "referred", "name": t.s("stats.referred"), "data": bars.iter().map(|(_, f)| f.cohort.referred_out).collect::<Vec<_>>() }));
        series.push(json!({ "key": "open", "name": t.s("stats.open"), "data": bars.iter().map(|(_, f)| f.cohort.open).collect::<Vec<_>>() }));
        let level_chart = json!({
            "categories": bars.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
            "series": series,
        })
        .to_string();
        // Twelve months ending with the period's last month: one series query.
        let last = month_of(period.to - 1);
        let months: Vec<Period> = (0..12)
            .rev()
            .map(|back| Period::month(last - back))
            .collect();
        let year = Period {
            from: months[0].from,
            to: months[11].to,
        };
        let monthly = p.series(region, &year, Step::Month, None).points;
        let line = |name: &str, f: fn(&Figures) -> Option<f64>| {
            json!({
                "name": name,
                "data": monthly.iter().map(|r| f(&r.figures).map(|x| (x * 1000.0).round() / 10.0)).collect::<Vec<_>>(),
            })
        };
        let trend_chart = json!({
            "categories": months
                .iter()
                .enumerate()
                .map(|(i, m)| t.month_label(m, i == 0))
                .collect::<Vec<_>>(),
            "series": [
                line(t.s("stats.grid_rate"), |f| f.cohort.grid_rate),
                line(t.s("stats.village_rate"), |f| f.cohort.village_rate),
                line(t.s("stats.township_rate"), |f| f.cohort.township_rate),
                line(t.s("stats.resolution_rate"), |f| f.cohort.resolution_rate),
            ],
            "registered": { "name": t.s("stats.registered"), "data": monthly.iter().map(|r| r.figures.cohort.registered).collect::<Vec<_>>() },
        })
        .to_string();
        let unit = v.actor.unit();
        let period_q = encode(&canonical(&period));
        let as_of_q = as_of
            .as_ref()
            .map(|(d, _)| format!("&as_of={}", encode(d)))
            .unwrap_or_default();
        let crumbs: Vec<(String, String)> = region
            .self_and_ancestors()
            .take_while(|c| v.actor.scope().covers(*c) || *c == unit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .map(|c| {
                (
                    format!("region={c}&period={period_q}{as_of_q}"),
                    regions.name(c).unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let up = (crumbs.len() > 1).then(|| crumbs[crumbs.len() - 2].0.clone());
        Dashboard {
            region_name: regions.name(region).unwrap_or_default().to_owned(),
            region: region.to_string(),
            level: t.level(&region.level()),
            period_label: t.period(&period),
            report_title: report_title(&period),
            qs: query_string(region, &period, as_of),
            rest: format!("period={period_q}{as_of_q}"),
            as_of: as_of.as_ref().map(|(d, _)| d.clone()),
            kpis,
            counts,
            quality,
            child_level: region
                .level()
                .child_level()
                .map(|l| t.level(&l))
                .unwrap_or(""),
            children,
            columns,
            by_category: dim_rows(&by_category, t),
            by_source: dim_rows(&by_source, t),
            level_chart,
            trend_chart,
            up,
            crumbs,
            overdue_at: web.clock.minute(main.overdue.as_of),
            overdue_open: t.int(&main.overdue.open),
            overdue_rest: if t.zh() {
                format!(
                    "件（其中本期立案 {} 件）",
                    t.int(&main.overdue.registered_in_period)
                )
            } else {
                format!(
                    "cases ({} registered in the period)",
                    t.int(&main.overdue.registered_in_period)
                )
            },
            overdue_by_holder: main
                .overdue
                .by_holder
                .iter()
                .take(OVERDUE_UNITS)
                .map(|u| (unit_name(regions, u.code), t.int(&u.count)))
                .collect(),
            overdue_units_note: match main.overdue.by_holder.len() {
                n if n <= OVERDUE_UNITS => String::new(),
                n if t.zh() => {
                    format!("超期件数最多的 {OVERDUE_UNITS} 个单位（共 {n} 个单位有超期案件）")
                }
                n => format!("The {OVERDUE_UNITS} units holding most ({n} hold overdue cases)"),
            },
        }
    }
}

/// The pickers, filled in.
pub struct Pickers {
    /// `month`, `quarter`, `year` or `custom`.
    pub ptype: &'static str,
    /// The month (`2025-01`).
    pub month: String,
    /// Quarters to choose from.
    pub quarters: Vec<Opt>,
    /// Years to choose from.
    pub years: Vec<Opt>,
    /// Custom start (inclusive).
    pub from: String,
    /// Custom end (inclusive).
    pub to: String,
    /// The as-of date.
    pub as_of: String,
    /// Regions to choose from: up the chain within scope, the region, its children.
    pub regions: Vec<Opt>,
}

fn pickers(
    web: &WebApp,
    v: &Viewer,
    region: RegionCode,
    period: &Period,
    as_of: &Option<(String, Timestamp)>,
) -> Pickers {
    let t = v.tr();
    let regions = &web.app.regions;
    let day = |d: i32| {
        let (y, m, dd) = civil_from_days(d);
        format!("{y:04}-{m:02}-{dd:02}")
    };
    let (y, m, _) = civil_from_days(period.from);
    let this_year = civil_from_days(web.app.calendar.day(Timestamp::now()))
        .0
        .max(y);
    let chosen = canonical(period);
    let mut quarters = Vec::new();
    for yy in (this_year - 2..=this_year).rev() {
        for qq in (1..=4).rev() {
            let value = format!("{yy}-Q{qq}");
            quarters.push(Opt {
                label: t.period(&Period::parse(&value).expect("a quarter parses")),
                selected: value == chosen,
                value,
            });
        }
    }
    let years = (this_year - 5..=this_year)
        .rev()
        .map(|yy| Opt {
            value: yy.to_string(),
            label: if t.zh() {
                format!("{yy}年")
            } else {
                yy.to_string()
            },
            selected: yy.to_string() == chosen,
        })
        .collect();
    let unit = v.actor.unit();
    let mut chain: Vec<RegionCode> = region
        .self_and_ancestors()
        .take_while(|c| v.actor.scope().covers(*c) || *c == unit)
        .collect();
    chain.reverse();
    let mut opts: Vec<Opt> = chain
        .iter()
        .enumerate()
        .map(|(i, c)| Opt {
            value: c.to_string(),
            label: format!("{}{}", "　".repeat(i), regions.name(*c).unwrap_or_default()),
            selected: *c == region,
        })
        .collect();
    let depth = chain.len();
    opts.extend(regions.children(region).iter().map(|c| Opt {
        value: c.to_string(),
        label: format!(
            "{}{}",
            "　".repeat(depth),
            regions.name(*c).unwrap_or_default()
        ),
        selected: false,
    }));
    Pickers {
        ptype: shape(period),
        month: format!("{y:04}-{m:02}"),
        quarters,
        years,
        from: day(period.from),
        to: day(period.to - 1),
        as_of: as_of.as_ref().map(|(d, _)| d.clone()).unwrap_or_default(),
        regions: opts,
    }
}

#[derive(Template)]
#[template(path = "views/stats.html")]
struct StatsView {
    c: Chrome,
    t: Tr,
    d: Dashboard,
    p: Pickers,
}

#[derive(Template)]
#[template(path = "views/stats_print.html")]
struct PrintView {
    c: Chrome,
    t: Tr,
    d: Dashboard,
    generated: String,
    time_zone: String,
}

async fn dashboard(
    web: &WebApp,
    v: &Viewer,
    q: &StatsParams,
) -> Result<(Dashboard, Pickers), WebError> {
    require(web, v, Page::Stats)?;
    let r = resolve(web, v, q)?;
    let src = source(web, r.as_of.as_ref().map(|(_, t)| *t))
        .await
        .map_err(|e| WebError::new(web, v, e))?;
    let period = r
        .period
        .unwrap_or_else(|| latest_month(&src, r.region, Timestamp::now(), web));
    if period.to <= period.from || period.days() > 3 * 366 + 1 {
        return Err(WebError::new(
            web,
            v,
            bad("period", "a period is one day to three years long".into()),
        ));
    }
    access::audit(&v.actor, &format!("stats {}", r.region));
    let d = Dashboard::build(web, v, &src, r.region, period, &r.as_of);
    let p = pickers(web, v, r.region, &period, &r.as_of);
    Ok((d, p))
}

/// `GET /stats`.
pub async fn page(
    State(web): State<Web>,
    v: Viewer,
    Query(q): Query<StatsParams>,
) -> Result<Response, WebError> {
    let (d, p) = dashboard(&web, &v, &q).await?;
    let mut c = Chrome::new(
        &web,
        &v,
        Some(Page::Stats),
        format!("{} · {}", d.region_name, d.period_label),
    );
    c.charts = true;
    Ok(render(&StatsView { c, t: v.tr(), d, p }))
}

/// `GET /stats/print`: the monthly report on A4.
pub async fn print(
    State(web): State<Web>,
    v: Viewer,
    Query(q): Query<StatsParams>,
) -> Result<Response, WebError> {
    let (d, _) = dashboard(&web, &v, &q).await?;
    let t = v.tr();
    let c = Chrome::new(
        &web,
        &v,
        Some(Page::Stats),
        format!("{} · {}", t.s(d.report_title), d.period_label),
    );
    Ok(render(&PrintView {
        c,
        t,
        d,
        generated: web.clock.minute(Timestamp::now()),
        time_zone: web.app.calendar.name().to_owned(),
    }))
}

/// `GET /stats/children.csv`: the child-region table (UTF-8 with a BOM, so spreadsheet
/// programs read the Chinese names).
pub async fn csv(
    State(web): State<Web>,
    v: Viewer,
    Query(q): Query<StatsParams>,
) -> Result<Response, WebError> {
    let (d, _) = dashboard(&web, &v, &q).await?;
    let t = v.tr();
    let mut w = csv::Writer::from_writer(Vec::from(*b"\xEF\xBB\xBF"));
    let mut head = vec![t.s("stats.rank"), t.s("audit.case_id"), t.s("stats.name")];
    head[1] = if t.zh() { "区划代码" } else { "Code" };
    head.extend(d.columns.iter().copied());
    let fail = |e: csv::Error| WebError::new(&web, &v, ApiError::Internal(e.to_string()));
    w.write_record(&head).map_err(fail)?;
    for r in &d.children {
        let mut rec = vec![r.rank.to_string(), r.code.clone(), r.name.clone()];
        // Plain numbers in the file: counts without separators, rates as shown.
        rec.extend(r.cells.iter().enumerate().map(
            |(i, (text, raw))| {
                if i < 2 {
                    raw.clone()
                } else {
                    text.clone()
                }
            },
        ));
        w.write_record(&rec).map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| WebError::new(&web, &v, ApiError::Internal(e.to_string())))?;
    let name = format!(
        "gridcase-{}-{}.csv",
        d.region,
        d.qs.split("period=")
            .nth(1)
            .unwrap_or("")
            .split('&')
            .next()
            .unwrap_or("")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_round_trip_through_their_canonical_form() {
        for s in ["2025-01", "2025-Q3", "2025", "2025-01-05..2025-02-01"] {
            let p = Period::parse(s).unwrap();
            assert_eq!(canonical(&p), s);
            assert_eq!(Period::parse(&canonical(&p)).unwrap(), p);
        }
        assert_eq!(shape(&Period::parse("2025-Q1").unwrap()), "quarter");
        assert_eq!(shape(&Period::parse("2025").unwrap()), "year");
        assert_eq!(
            shape(&Period::parse("2025-02-01..2025-02-10").unwrap()),
            "custom"
        );
        assert_eq!(
            canonical(&Period::parse("2025-W05").unwrap()),
            "2025-01-27..2025-02-03"
        );
    }

    #[test]
    fn the_printed_report_is_titled_by_the_period_kind() {
        let zh = Tr {
            lang: super::super::i18n::Lang::Zh,
        };
        let en = Tr {
            lang: super::super::i18n::Lang::En,
        };
        let title = |s: &str| report_title(&Period::parse(s).unwrap());
        assert_eq!(zh.s(title("2025-03")), "矛盾纠纷和事件诉求办理情况月报");
        assert_eq!(zh.s(title("2025-Q1")), "矛盾纠纷和事件诉求办理情况季报");
        assert_eq!(zh.s(title("2025")), "矛盾纠纷和事件诉求办理情况年报");
        assert_eq!(
            zh.s(title("2025-02-01..2025-02-10")),
            "矛盾纠纷和事件诉求办理情况统计报告"
        );
        assert_eq!(
            en.s(title("2025-Q1")),
            "Quarterly report on case resolution"
        );
        assert_eq!(en.s(title("2025")), "Annual report on case resolution");
    }

    #[test]
    fn the_pickers_compose_a_period() {
        let q = |ptype: &str, f: &dyn Fn(&mut StatsParams)| {
            let mut p = StatsParams {
                ptype: ptype.into(),
                ..StatsParams::default()
            };
            f(&mut p);
            period_of(&p).unwrap().map(|p| canonical(&p))
        };
        assert_eq!(
            q("month", &|p| p.month = "2025-03".into()),
            Some("2025-03".into())
        );
        assert_eq!(
            q("quarter", &|p| p.quarter = "2025-Q2".into()),
            Some("2025-Q2".into())
        );
        assert_eq!(q("year", &|p| p.year = "2024".into()), Some("2024".into()));
        assert_eq!(
            q("custom", &|p| {
                p.from = "2025-01-05".into();
                p.to = "2025-01-31".into();
            }),
            Some("2025-01-05..2025-02-01".into())
        );
        assert_eq!(q("custom", &|p| p.from = "2025-01-05".into()), None);
        let p = StatsParams {
            period: "2025-13".into(),
            ..StatsParams::default()
        };
        assert!(period_of(&p).is_err());
    }
}
