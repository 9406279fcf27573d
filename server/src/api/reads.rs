//! Reads: the case view and timeline, queues and open cases, statistics — each checked
//! against the reader's scope, optionally after waiting for a position (read-your-writes).

use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use gridcase_bus::EventLog;
use gridcase_domain::{CaseState, Envelope, RegionCode, Role, Timestamp};
use gridcase_projections::{as_of, Breakdown, Period, StatsQuery};
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::{audit, may_read_case, may_read_stats, may_read_unit};
use super::params::{parse_case_id, parse_region};
use super::shape::{case_json, queue_item};
use crate::app::AppState;
use crate::error::ApiError;

/// How long a read waits for `after` (a position at or below the log's head) to be applied.
const READ_YOUR_WRITES: Duration = Duration::from_secs(2);

/// `?after=<position>`: wait until the projection has applied it.
#[derive(Deserialize, Default)]
pub(crate) struct ReadQuery {
    after: Option<u64>,
}

/// Read-your-writes: waits until the projection has applied position `after`.
///
/// A position beyond the log's head cannot be reached by waiting — it is a client error (400
/// `after_beyond_head`), answered at once. One at or below the head that is not applied
/// within [`READ_YOUR_WRITES`] answers 503 with `Retry-After`, as does a wait when
/// [`crate::app::MAX_WAITERS`] reads are already waiting.
pub(crate) async fn wait_after(app: &AppState, after: Option<u64>) -> Result<(), ApiError> {
    let Some(p) = after else { return Ok(()) };
    if app.projection.checkpoint() >= p {
        return Ok(());
    }
    let head = app.path.log().head().await?;
    if p > head {
        return Err(ApiError::BadRequest {
            code: "after_beyond_head",
            message: format!(
                "after={p} is beyond the log's head ({head}): pass a position that one of your \
                 commands returned"
            ),
            field: Some("after".into()),
        });
    }
    let Ok(_permit) = app.waiters.try_acquire() else {
        return Err(ApiError::Unavailable {
            public: "too many reads are waiting for their writes; retry shortly",
            internal: format!("{} reads already wait for ?after=", crate::app::MAX_WAITERS),
            retry_after: 1,
            damage: false,
        });
    };
    app.projection.wait_for(p, READ_YOUR_WRITES).await?;
    Ok(())
}

pub(crate) async fn case_view(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let actor = app.authenticate(&headers)?;
    let Query(q) = q.map_err(|e| ApiError::query(e.body_text()))?;
    if actor.role() == Role::Analyst {
        return Err(ApiError::Forbidden("analysts read statistics only".into()));
    }
    let id = parse_case_id(&id)?;
    wait_after(&app, q.after).await?;
    let view = app.projection.read();
    let e = view
        .case(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no case {id}")))?;
    if !may_read_case(actor, &e.state) {
        return Err(ApiError::Forbidden(format!(
            "case {id} is outside your scope"
        )));
    }
    audit(actor, &format!("case {id}"));
    Ok(Json(case_json(e, Timestamp::now())))
}

pub(crate) async fn timeline(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
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
    let mut entries = Vec::new();
    for c in &commits {
        for r in &c.events {
            let env = Envelope::try_from(r)
                .map_err(|e| ApiError::Internal(format!("case {id} at {}: {e}", c.position)))?;
            state.apply(&env);
            entries.push(json!({
                "version": r.header.case_version,
                "position": c.position,
                "event_type": r.event_type,
                "schema_version": r.schema_version,
                "occurred_at": r.header.occurred_at,
                "recorded_at": r.header.recorded_at,
                "actor": { "id": r.header.actor.id(), "role": r.header.actor.role() },
                "command_id": r.header.command_id,
                "event": env.event,
                "prev_hash": r.prev_hash,
                "hash": r.hash,
            }));
        }
    }
    if !may_read_case(actor, &state) {
        return Err(ApiError::Forbidden(format!(
            "case {id} is outside your scope"
        )));
    }
    audit(actor, &format!("timeline {id}"));
    Ok(Json(
        json!({ "case_id": id, "version": state.version, "events": entries }),
    ))
}

/// The shared checks of a read about a region: token, query, known region in scope, wait for
/// `after`, audit log.
async fn read_region(
    app: &AppState,
    headers: &HeaderMap,
    field: &'static str,
    code: &str,
    q: Result<Query<ReadQuery>, QueryRejection>,
    what: &str,
) -> Result<RegionCode, ApiError> {
    let actor = app.authenticate(headers)?;
    let Query(q) = q.map_err(|e| ApiError::query(e.body_text()))?;
    let region = parse_region(field, code, app)?;
    may_read_unit(actor, region)?;
    wait_after(app, q.after).await?;
    audit(actor, &format!("{what} {region}"));
    Ok(region)
}

pub(crate) async fn queue(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    q: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let unit = read_region(&app, &headers, "unit", &code, q, "queue").await?;
    let now = Timestamp::now();
    let view = app.projection.read();
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    let (mut overdue, mut supervised) = (0, 0);
    let items: Vec<Value> = view
        .queue(unit)
        .map(|e| {
            *counts.entry(e.state.status.as_str()).or_default() += 1;
            overdue += usize::from(e.state.is_overdue(now));
            supervised += usize::from(e.state.supervisions > 0);
            queue_item(e, now)
        })
        .collect();
    Ok(Json(
        json!({ "unit": unit, "open": items.len(), "overdue": overdue, "supervised": supervised, "by_status": counts, "cases": items }),
    ))
}

pub(crate) async fn open_cases(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    q: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let region = read_region(&app, &headers, "region", &code, q, "open cases in").await?;
    let now = Timestamp::now();
    let view = app.projection.read();
    let mut by_level = std::collections::BTreeMap::new();
    let mut cases = Vec::new();
    let mut overdue = 0;
    for e in view.open_in_subtree(region) {
        if let Some(l) = e.state.holder_level() {
            *by_level.entry(l).or_insert(0usize) += 1;
        }
        overdue += usize::from(e.state.is_overdue(now));
        if cases.len() < 1000 {
            cases.push(queue_item(e, now));
        }
    }
    Ok(Json(
        json!({ "region": region, "open": by_level.values().sum::<usize>(), "overdue": overdue, "by_level": by_level, "cases": cases }),
    ))
}

/// The query of `/api/v1/stats`.
#[derive(Deserialize)]
pub(crate) struct StatsParams {
    region: Option<String>,
    period: Option<String>,
    as_of: Option<String>,
    breakdown: Option<String>,
    drill_down: Option<bool>,
    after: Option<u64>,
}

pub(crate) async fn stats(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<StatsParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let actor = app.authenticate(&headers)?;
    let Query(q) = q.map_err(|e| ApiError::query(e.body_text()))?;
    let region = match &q.region {
        Some(r) => parse_region("region", r, &app)?,
        None => actor.unit(),
    };
    may_read_stats(actor, region)?;
    let period = match &q.period {
        Some(p) => Period::parse(p)
            .map_err(|e| ApiError::field("invalid_query", "period", e.to_string()))?,
        None => {
            // The current month.
            let today = app.calendar.day(Timestamp::now());
            Period::month(gridcase_projections::month_of(today))
        }
    };
    let breakdown = match q.breakdown.as_deref() {
        None => None,
        Some("category") => Some(Breakdown::Category),
        Some("source") => Some(Breakdown::Source),
        Some("kind") => Some(Breakdown::Kind),
        Some(other) => {
            return Err(ApiError::field(
                "invalid_query",
                "breakdown",
                format!("breakdown {other:?}: use category, source or kind"),
            ))
        }
    };
    let query = StatsQuery {
        region,
        period,
        breakdown,
        drill_down: q.drill_down.unwrap_or(false),
    };
    audit(actor, &format!("stats {region}"));
    let report = match &q.as_of {
        Some(t) => {
            let t = Timestamp::parse(t)
                .map_err(|e| ApiError::field("invalid_query", "as_of", e.to_string()))?;
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
