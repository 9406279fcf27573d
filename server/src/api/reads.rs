//! Reads: the case view and timeline, queues and open cases, statistics — each checked
//! against the reader's scope, optionally after waiting for a position (read-your-writes).

use crate::error::BadRequestCode;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use gridcase_bus::{EventLog, Position};
use std::collections::BTreeMap;

use gridcase_domain::{
    allowed_actions, ActionKind, Actor, ActorId, CaseFile, CaseId, CaseState, CommandId, Context,
    Envelope, Event, Hash, Level, RegionCode, Role, Status, Timestamp,
};
use gridcase_projections::{
    as_of, Breakdown, CaseEntry, Period, RankBy, SearchQuery, SearchSort, StatsQuery, Step,
    Visibility,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::access::{audit, may_read_case, may_read_stats, may_read_unit};
use super::params::{parse_case_id, parse_region, wait_after};
use super::shape::{place_name, region_ref, CaseRow, RegionRef};
use super::work::run_search;
use crate::app::AppState;
use crate::error::ApiError;

/// `?after=<position>`: wait until the projection has applied it.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReadQuery {
    /// Wait (up to 2 s) until the projection has applied this log position, e.g. the
    /// `position` a command answered (read-your-writes). Beyond the log's head: 400.
    #[param(value_type = Option<u64>)]
    after: Option<Position>,
}

/// A case read from the log: its events decoded, folded into its [`CaseFile`], and the
/// position and time of its last commit. `None` when the log has no such case.
pub(crate) async fn read_case_file(
    app: &AppState,
    id: &CaseId,
) -> Result<Option<(CaseFile, Vec<(Position, Envelope)>)>, ApiError> {
    let commits = app.path.log().read_case(id).await?;
    if commits.is_empty() {
        return Ok(None);
    }
    let mut envelopes = Vec::new();
    for c in &commits {
        for r in &c.events {
            let env = Envelope::try_from(r).map_err(|e| {
                ApiError::from(gridcase_bus::LogError::Corrupt {
                    position: c.position,
                    case: Some(id.clone()),
                    cause: gridcase_bus::Corruption::event(r.header.case_version, e),
                })
            })?;
            envelopes.push((c.position, env));
        }
    }
    let file = CaseFile::fold(envelopes.iter().map(|(_, e)| e));
    Ok(Some((file, envelopes)))
}

/// The case file of a case `actor` may read, with its free text opened (one recorded read,
/// `purpose`) and folded again from the opened events.
pub(crate) async fn open_case_file(
    app: &AppState,
    actor: &Actor,
    id: &CaseId,
    mut envelopes: Vec<(Position, Envelope)>,
    purpose: &str,
) -> Result<(CaseFile, Vec<(Position, Envelope)>), ApiError> {
    crate::text::open_history(
        app,
        actor,
        id,
        envelopes.iter_mut().map(|(_, e)| &mut e.event),
        purpose,
    )
    .await?;
    let file = CaseFile::fold(envelopes.iter().map(|(_, e)| e));
    Ok((file, envelopes))
}

/// The purpose recorded when a case's free text is read through the API.
pub const PURPOSE_API_READ: &str = "读取案件（接口）";

/// The case view: where the case stands, its whole story, and what the reader may do now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseView {
    /// The case.
    pub case_id: CaseId,
    /// Its version (for `If-Match`).
    pub version: u64,
    /// The position of its last commit.
    #[schema(value_type = u64)]
    pub position: Position,
    /// When its last event was recorded.
    pub updated_at: Timestamp,
    /// Where it is in its life.
    pub status: Status,
    /// Open and past its deadline now.
    pub overdue: bool,
    /// The level of the holding unit.
    pub holder_level: Option<Level>,
    /// Where it happened, with the names along the path.
    pub location: Option<RegionRef>,
    /// The names along the location's path below the city.
    pub place: Option<String>,
    /// The unit holding it.
    pub holder: Option<RegionRef>,
    /// The actions the reader may take now (from the decider's own rules).
    pub allowed_actions: Vec<&'static str>,
    /// The folded state.
    pub case: CaseState,
    /// The story: moves, deadlines, referrals, mediations, resolutions, supervision, notes.
    pub file: CaseFile,
}

/// `GET /api/v1/cases/{id}`: read from the log, so it is current without `?after`.
pub(crate) async fn case_view(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let actor = app.authenticate(&headers)?;
    let Query(q) = q.map_err(|e| ApiError::query(e.body_text()))?;
    if actor.role() == Role::Analyst {
        return Err(ApiError::Forbidden("analysts read statistics only".into()));
    }
    let id = parse_case_id(&id)?;
    wait_after(&app, q.after).await?;
    let Some((file, envelopes)) = read_case_file(&app, &id).await? else {
        return Err(ApiError::NotFound(format!("no case {id}")));
    };
    // A case outside the reader's scope is answered exactly as an unknown one.
    if !may_read_case(actor, &file.state) {
        return Err(ApiError::NotFound(format!("no case {id}")));
    }
    let (file, envelopes) = open_case_file(&app, actor, &id, envelopes, PURPOSE_API_READ).await?;
    audit(actor, &format!("case {id}"));
    Ok(Json(case_view_of(&app, actor, file, &envelopes)))
}

/// Shapes a case file for `reader`.
pub(crate) fn case_view_of(
    app: &AppState,
    reader: &Actor,
    file: CaseFile,
    envelopes: &[(Position, Envelope)],
) -> CaseView {
    let now = Timestamp::now();
    let s = &file.state;
    let ctx = Context {
        regions: app.path.regions(),
        policy: app.path.policy(),
        now,
    };
    let location = s.details.as_ref().map(|d| d.location);
    CaseView {
        case_id: s.id.clone().expect("a reported case has an id"),
        version: s.version,
        position: envelopes.last().map_or(Position::ZERO, |(p, _)| *p),
        updated_at: envelopes
            .last()
            .map_or(Timestamp::EPOCH, |(_, e)| e.header.recorded_at),
        status: s.status,
        overdue: s.is_overdue(now),
        holder_level: s.holder_level(),
        location: location.map(|l| region_ref(app, l)),
        place: location.map(|l| place_name(app, l)),
        holder: s.holder.map(|h| region_ref(app, h)),
        allowed_actions: allowed_actions(s, reader, &ctx)
            .into_iter()
            .map(ActionKind::name)
            .collect(),
        case: s.clone(),
        file,
    }
}

/// Who did something: the actor's id and role.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActorRef {
    /// The actor id.
    pub id: ActorId,
    /// Their role.
    pub role: Role,
}

/// One event of a case's history, with its place in the hash chain.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    /// The case version this event made (1 for the report).
    pub version: u64,
    /// The log position of the commit that holds it.
    #[schema(value_type = u64)]
    pub position: Position,
    /// The event's type, e.g. `CaseEscalated`; names the schema of `event`.
    pub event_type: String,
    /// The schema version the event was stored at.
    pub schema_version: u16,
    /// When it happened, by the actor's account.
    pub occurred_at: Timestamp,
    /// When the log recorded it.
    pub recorded_at: Timestamp,
    /// Who.
    pub actor: ActorRef,
    /// The command (idempotency key, scoped to its sender) that made it.
    pub command_id: CommandId,
    /// The event's body, upcast to its type's current version.
    pub event: Event,
    /// The previous record's hash (zeros for the first).
    pub prev_hash: Hash,
    /// This record's hash.
    pub hash: Hash,
}

/// A case's whole history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Timeline {
    /// The case.
    pub case_id: CaseId,
    /// Its current version.
    pub version: u64,
    /// Every event, oldest first.
    pub events: Vec<TimelineEntry>,
}

pub(crate) async fn timeline(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Timeline>, ApiError> {
    let actor = app.authenticate(&headers)?;
    if actor.role() == Role::Analyst {
        return Err(ApiError::Forbidden("analysts read statistics only".into()));
    }
    let id = parse_case_id(&id)?;
    let commits = app.path.log().read_case(&id).await?;
    if commits.is_empty() {
        return Err(ApiError::NotFound(format!("no case {id}")));
    }
    let mut state = CaseState::default();
    let mut events = Vec::new();
    for c in &commits {
        for r in &c.events {
            let env = Envelope::try_from(r)
                .map_err(|e| ApiError::Internal(format!("case {id} at {}: {e}", c.position)))?;
            state.apply(&env);
            events.push(TimelineEntry {
                version: r.header.case_version,
                position: c.position,
                event_type: r.event_type.clone(),
                schema_version: r.schema_version,
                occurred_at: r.header.occurred_at,
                recorded_at: r.header.recorded_at,
                actor: ActorRef {
                    id: r.header.actor.id().clone(),
                    role: r.header.actor.role(),
                },
                command_id: r.header.command_id.clone(),
                event: env.event,
                prev_hash: r.prev_hash,
                hash: r.hash,
            });
        }
    }
    if !may_read_case(actor, &state) {
        return Err(ApiError::NotFound(format!("no case {id}")));
    }
    crate::text::open_history(
        &app,
        actor,
        &id,
        events.iter_mut().map(|e| &mut e.event),
        PURPOSE_API_READ,
    )
    .await?;
    audit(actor, &format!("timeline {id}"));
    Ok(Json(Timeline {
        case_id: id,
        version: state.version,
        events,
    }))
}

/// The query of a unit's queue or a region's open cases: paging, and read-your-writes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    /// Wait (up to 2 s) until the projection has applied this log position, e.g. the
    /// `position` a command answered (read-your-writes). Beyond the log's head: 400.
    #[param(value_type = Option<u64>)]
    after: Option<Position>,
    /// Rows per page, 1–200 (default 50).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A queue or an open-cases list: counts over every open case, and one page of rows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OpenList {
    /// The unit or region.
    pub region: RegionRef,
    /// Open cases in all.
    pub open: usize,
    /// Of those, past their deadline now.
    pub overdue: usize,
    /// Of those, pressed from above.
    pub supervised: usize,
    /// Open cases by status.
    pub by_status: BTreeMap<Status, usize>,
    /// Open cases by the level of their holder.
    pub by_level: BTreeMap<Level, usize>,
    /// One page of the cases, soonest deadline first.
    pub cases: Vec<CaseRow>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The list of open cases held by `unit` (exactly) or in its subtree.
fn open_list(
    app: &AppState,
    actor: &Actor,
    region: RegionCode,
    exactly: bool,
    p: &ListParams,
) -> Result<OpenList, ApiError> {
    let now = Timestamp::now();
    let mut list = OpenList {
        region: region_ref(app, region),
        open: 0,
        overdue: 0,
        supervised: 0,
        by_status: BTreeMap::new(),
        by_level: BTreeMap::new(),
        cases: Vec::new(),
        next_cursor: None,
    };
    {
        let view = app.projection.read();
        let entries: Box<dyn Iterator<Item = &CaseEntry>> = if exactly {
            Box::new(view.queue(region))
        } else {
            Box::new(view.open_in_subtree(region))
        };
        for e in entries {
            list.open += 1;
            list.overdue += usize::from(e.state.is_overdue(now));
            list.supervised += usize::from(e.state.supervisions > 0);
            *list.by_status.entry(e.state.status).or_default() += 1;
            if let Some(l) = e.state.holder_level() {
                *list.by_level.entry(l).or_default() += 1;
            }
        }
    }
    let query = SearchQuery {
        holder: exactly.then_some(region),
        held_in: (!exactly).then_some(region),
        status: vec![Status::Reported, Status::Registered, Status::Assigned],
        sort: SearchSort::Deadline,
        limit: super::work::limit(p.limit)?,
        cursor: p.cursor.clone().filter(|c| !c.is_empty()),
        ..SearchQuery::default()
    };
    // Whoever may read the unit sees every case held in it (may_read_unit checked that).
    let page = run_search(app, actor, &Visibility::Subtree(region), &query)?;
    list.cases = page.items;
    list.next_cursor = page.next_cursor;
    Ok(list)
}

/// `GET /api/v1/units/{code}/queue`: open cases a unit holds, soonest deadline first.
pub(crate) async fn queue(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<OpenList>, ApiError> {
    let actor = app.authenticate(&headers)?;
    let Query(p) = q.map_err(|e| ApiError::query(e.body_text()))?;
    let unit = parse_region("unit", &code, &app)?;
    may_read_unit(actor, unit)?;
    wait_after(&app, p.after).await?;
    audit(actor, &format!("queue {unit}"));
    Ok(Json(open_list(&app, actor, unit, true, &p)?))
}

/// `GET /api/v1/regions/{code}/open`: open cases held in a subtree, soonest deadline first.
pub(crate) async fn open_cases(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<OpenList>, ApiError> {
    let actor = app.authenticate(&headers)?;
    let Query(p) = q.map_err(|e| ApiError::query(e.body_text()))?;
    let region = parse_region("region", &code, &app)?;
    may_read_unit(actor, region)?;
    wait_after(&app, p.after).await?;
    audit(actor, &format!("open cases in {region}"));
    Ok(Json(open_list(&app, actor, region, false, &p)?))
}

/// The query of `/api/v1/stats`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsParams {
    /// Region code (default: the actor's unit), e.g. `330802`.
    region: Option<String>,
    /// `2026`, `2026-Q1`, `2026-03`, `2026-W05`, `2026-03-02` or `2026-03-01..2026-04-15`
    /// (local dates, end inclusive); default: the current month.
    period: Option<String>,
    /// RFC 3339 time: the statistics as they stood then (what was known on that day).
    as_of: Option<String>,
    /// `category`, `source` or `kind`.
    breakdown: Option<String>,
    /// Also every child region, ranked by `rank_by`, each broken down by `breakdown` too,
    /// with its overdue open cases.
    drill_down: Option<bool>,
    /// With `drill_down`, the rate child regions are ranked by (default `township_rate`):
    /// `grid_rate`, `village_rate`, `township_rate`, `county_rate`, `resolution_rate`,
    /// `mediation_success`, `on_time`, `satisfaction` (higher first), `rework`, `extension`,
    /// `escalation`, `reopen` (lower first); regions without the rate last.
    rank_by: Option<String>,
    /// Wait (up to 2 s) until the projection has applied this log position, e.g. the
    /// `position` a command answered (read-your-writes). Beyond the log's head: 400.
    #[param(value_type = Option<u64>)]
    after: Option<Position>,
}

/// The most periods one `/api/v1/stats/series` answers (a year of days and then some).
pub const MAX_SERIES_POINTS: usize = 400;

/// The query of `/api/v1/stats/series`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SeriesParams {
    /// Region code (default: the actor's unit), e.g. `330802`.
    region: Option<String>,
    /// The whole span, as for `/api/v1/stats`; default: the twelve months up to this one.
    period: Option<String>,
    /// `day`, `week` (ISO, Monday first), `month` (default), `quarter` or `year`; the first
    /// and last point are cut to the period; at most 400 points.
    step: Option<String>,
    /// RFC 3339 time: the statistics as they stood then.
    as_of: Option<String>,
    /// `category`, `source` or `kind`, per point.
    breakdown: Option<String>,
    /// Wait (up to 2 s) until the projection has applied this log position.
    #[param(value_type = Option<u64>)]
    after: Option<Position>,
}

fn stats_region(
    app: &AppState,
    actor: &Actor,
    region: &Option<String>,
) -> Result<RegionCode, ApiError> {
    let region = match region {
        Some(r) => parse_region("region", r, app)?,
        None => actor.unit(),
    };
    may_read_stats(actor, region)?;
    Ok(region)
}

fn stats_period(app: &AppState, period: &Option<String>) -> Result<Period, ApiError> {
    match period {
        Some(p) => Period::parse(p)
            .map_err(|e| ApiError::field(BadRequestCode::InvalidQuery, "period", e.to_string())),
        // The current month.
        None => Ok(Period::month(gridcase_projections::month_of(
            app.calendar.day(Timestamp::now()),
        ))),
    }
}

fn stats_breakdown(b: Option<&str>) -> Result<Option<Breakdown>, ApiError> {
    match b {
        None => Ok(None),
        Some("category") => Ok(Some(Breakdown::Category)),
        Some("source") => Ok(Some(Breakdown::Source)),
        Some("kind") => Ok(Some(Breakdown::Kind)),
        Some(other) => Err(ApiError::field(
            BadRequestCode::InvalidQuery,
            "breakdown",
            format!("breakdown {other:?}: use category, source or kind"),
        )),
    }
}

/// `as_of`: a time not later than now (figures as they will stand are not known yet: the
/// open cases overdue at a later time would be a guess).
fn stats_as_of(t: &Option<String>) -> Result<Option<Timestamp>, ApiError> {
    let bad = |reason: String| ApiError::field(BadRequestCode::InvalidQuery, "as_of", reason);
    let Some(t) = t.as_deref() else {
        return Ok(None);
    };
    let t = Timestamp::parse(t).map_err(|e| bad(e.to_string()))?;
    let now = Timestamp::now();
    if t > now {
        return Err(bad(format!(
            "as_of {t} is later than now ({now}): the figures as they will stand are not known yet"
        )));
    }
    Ok(Some(t))
}

pub(crate) async fn stats(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<StatsParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let actor = app.authenticate(&headers)?;
    let Query(q) = q.map_err(|e| ApiError::query(e.body_text()))?;
    let region = stats_region(&app, actor, &q.region)?;
    let period = stats_period(&app, &q.period)?;
    let breakdown = stats_breakdown(q.breakdown.as_deref())?;
    let rank_by = match q.rank_by.as_deref() {
        None => RankBy::default(),
        Some(r) => RankBy::parse(r).ok_or_else(|| {
            ApiError::field(
                BadRequestCode::InvalidQuery,
                "rank_by",
                format!(
                    "rank_by {r:?}: use one of {}",
                    RankBy::ALL
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?,
    };
    let t = stats_as_of(&q.as_of)?;
    let query = StatsQuery {
        region,
        period,
        breakdown,
        drill_down: q.drill_down.unwrap_or(false),
        rank_by,
        as_of: t,
    };
    audit(actor, &format!("stats {region}"));
    let report = match t {
        Some(t) => {
            let p = as_of(app.path.log(), app.calendar.clone(), t).await?;
            p.stats(&query, &app.regions)
        }
        None => {
            wait_after(&app, q.after).await?;
            app.projection.read().stats(&query, &app.regions)
        }
    };
    let mut v = serde_json::to_value(&report).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(t) = &q.as_of {
        v["as_of"] = Value::String(t.clone());
    }
    Ok(Json(v))
}

/// `GET /api/v1/stats/series`: the figures of each step (day, week, month — the default —,
/// quarter or year) of a period, for trend charts, in one query.
pub(crate) async fn stats_series(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<SeriesParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let actor = app.authenticate(&headers)?;
    let Query(q) = q.map_err(|e| ApiError::query(e.body_text()))?;
    let region = stats_region(&app, actor, &q.region)?;
    let period = match &q.period {
        Some(_) => stats_period(&app, &q.period)?,
        // The twelve months up to and including the current one.
        None => {
            let m = gridcase_projections::month_of(app.calendar.day(Timestamp::now()));
            Period {
                from: gridcase_projections::month_start(m - 11),
                to: gridcase_projections::month_start(m + 1),
            }
        }
    };
    let step = match q.step.as_deref() {
        None => Step::Month,
        Some(s) => Step::parse(s).ok_or_else(|| {
            ApiError::field(
                BadRequestCode::InvalidQuery,
                "step",
                format!("step {s:?}: use day, week, month, quarter or year"),
            )
        })?,
    };
    let points = period.split(step).len();
    if points > MAX_SERIES_POINTS {
        return Err(ApiError::field(
            BadRequestCode::InvalidQuery,
            "period",
            format!(
                "{period} in steps of {} is {points} periods; at most {MAX_SERIES_POINTS}: \
                 use a longer step or a shorter period",
                q.step.as_deref().unwrap_or("month")
            ),
        ));
    }
    let breakdown = stats_breakdown(q.breakdown.as_deref())?;
    let t = stats_as_of(&q.as_of)?;
    audit(actor, &format!("stats series {region}"));
    let series = match t {
        Some(t) => {
            let p = as_of(app.path.log(), app.calendar.clone(), t).await?;
            p.series(region, &period, step, breakdown)
        }
        None => {
            wait_after(&app, q.after).await?;
            app.projection
                .read()
                .series(region, &period, step, breakdown)
        }
    };
    let mut v = serde_json::to_value(&series).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(t) = &q.as_of {
        v["as_of"] = Value::String(t.clone());
    }
    Ok(Json(v))
}
