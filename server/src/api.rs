//! The HTTP API (`/api/v1`, JSON) and the operational endpoints.
//!
//! | method | path | who |
//! |---|---|---|
//! | POST | `/api/v1/cases` | report a case (grid workers, unit staff) |
//! | POST | `/api/v1/cases/{id}/{action}` | any other command, e.g. `escalate`, `resolve` |
//! | GET | `/api/v1/cases/{id}` | the case view (not analysts; mediators only their cases) |
//! | GET | `/api/v1/cases/{id}/timeline` | every event of the case |
//! | GET | `/api/v1/units/{code}/queue` | open cases a unit holds, soonest deadline first |
//! | GET | `/api/v1/regions/{code}/open` | open cases held in a subtree, by level |
//! | GET | `/api/v1/stats` | statistics (everyone, within scope) |
//! | GET | `/api/v1/openapi.json` | the OpenAPI document |
//! | GET | `/healthz`, `/readyz`, `/metrics` | operations |
//!
//! Commands take an `Idempotency-Key` header (the command id) and an optional `If-Match`
//! expected version; responses carry the case version (also as `ETag`) and global position.
//! Reads take `?after=<position>` to wait until the projection has caught up (read-your-writes).

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gridcase_bus::{partition_of, EventLog, Executed, ExpectedVersion, Submission};
use gridcase_domain::{
    Action, Actor, CaseId, CaseState, Command, CommandId, CorrelationId, Envelope, RegionCode,
    Role, Timestamp,
};
use gridcase_projections::{as_of, Breakdown, CaseEntry, Period, StatsQuery};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::ApiError;

/// How long a read waits for `after` (a position at or below the log's head) to be applied.
const READ_YOUR_WRITES: Duration = Duration::from_secs(2);

/// The router.
pub fn router(state: AppState) -> Router {
    let limit = state.max_body_bytes;
    Router::new()
        .route("/api/v1/cases", post(report))
        .route("/api/v1/cases/{id}", get(case_view))
        .route("/api/v1/cases/{id}/timeline", get(timeline))
        .route("/api/v1/cases/{id}/{action}", post(command))
        .route("/api/v1/units/{code}/queue", get(queue))
        .route("/api/v1/regions/{code}/open", get(open_cases))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            ApiError::NotFound("no such endpoint; see /api/v1/openapi.json".into())
        })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

fn parse_case_id(id: &str) -> Result<CaseId, ApiError> {
    CaseId::new(id).map_err(|e| ApiError::NotFound(format!("no case {id:?}: {e}")))
}

fn parse_region(field: &'static str, s: &str, app: &AppState) -> Result<RegionCode, ApiError> {
    let code: RegionCode = s
        .parse()
        .map_err(|e| ApiError::field("invalid_field", field, format!("{field}: {e}")))?;
    if !app.regions.contains_code(code) {
        return Err(ApiError::NotFound(format!("unknown region {code}")));
    }
    Ok(code)
}

/// A fresh command id when the client sent no `Idempotency-Key`.
fn generated_key() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let mut h = Sha256::new();
    h.update(nanos.to_be_bytes());
    h.update(std::process::id().to_be_bytes());
    h.update(SEQ.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    format!("gen-{}", hex::encode(&h.finalize()[..12]))
}

fn header_str<'a>(h: &'a HeaderMap, name: &'static str) -> Result<Option<&'a str>, ApiError> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.trim())).map_err(|_| {
            ApiError::field("invalid_field", name, format!("header {name} is not ASCII"))
        }),
    }
}

/// Parses the body into an [`Action`], naming the offending field on error.
fn parse_action(
    name: &str,
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<(Action, Map<String, Value>), ApiError> {
    let bytes = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge { limit }
        } else {
            ApiError::BadRequest {
                code: "malformed_json",
                message: r.body_text(),
                field: None,
            }
        }
    })?;
    let mut obj: Map<String, Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(ApiError::BadRequest {
                    code: "malformed_json",
                    message: "the body must be a JSON object".into(),
                    field: None,
                })
            }
            Err(e) => {
                return Err(ApiError::BadRequest {
                    code: "malformed_json",
                    message: format!("malformed JSON: {e}"),
                    field: None,
                })
            }
        }
    };
    // Envelope fields, not part of the action.
    let mut extra = Map::new();
    for k in ["occurred_at", "case_id", "correlation_id", "causation_id"] {
        if let Some(v) = obj.remove(k) {
            extra.insert(k.into(), v);
        }
    }
    obj.insert("action".into(), Value::String(name.into()));
    let body = Value::Object(obj);
    let action: Action = serde_path_to_error::deserialize(&body).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let field = if path == "." {
            named_field(&inner)
                .or_else(|| offending_field(name, &body))
                .unwrap_or_else(|| "body".to_owned())
        } else {
            path
        };
        ApiError::field(
            "invalid_field",
            field.clone(),
            format!("invalid {field}: {inner}"),
        )
    })?;
    Ok((action, extra))
}

/// The field a serde message names itself: ``missing field `x` `` or ``unknown field `x`, …``.
fn named_field(message: &str) -> Option<String> {
    ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next())
        .map(str::to_owned)
}

/// Serde loses the path inside an internally tagged enum, so a bad value (a malformed region
/// code, a word outside a vocabulary) comes back without its field. Find it: the field whose
/// value fails on its own (alone, it can only complain about the fields that are missing).
fn offending_field(name: &str, body: &Value) -> Option<String> {
    body.as_object()?
        .iter()
        .filter(|(k, _)| k.as_str() != "action")
        .find_map(|(k, v)| {
            let mut probe = Map::new();
            probe.insert("action".into(), Value::String(name.into()));
            probe.insert(k.clone(), v.clone());
            match Action::deserialize(&Value::Object(probe)) {
                Err(e) if named_field(&e.to_string()).is_none() => Some(k.clone()),
                _ => None,
            }
        })
}

fn extra_str(extra: &Map<String, Value>, key: &'static str) -> Result<Option<String>, ApiError> {
    match extra.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::field(
            "invalid_field",
            key,
            format!("{key} must be a string"),
        )),
    }
}

async fn report(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    execute(app, headers, None, Action::REPORT, body).await
}

async fn command(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if !Action::case_commands().any(|name| name == action) {
        return Err(ApiError::NotFound(format!(
            "no command {action:?}; commands are {}",
            Action::case_commands().collect::<Vec<_>>().join(", ")
        )));
    }
    let case = parse_case_id(&id)?;
    execute(app, headers, Some(case), &action, body).await
}

async fn execute(
    app: AppState,
    headers: HeaderMap,
    case: Option<CaseId>,
    name: &str,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let actor = app.authenticate(&headers)?.clone();
    let (action, extra) = parse_action(name, body, app.max_body_bytes)?;
    let command_id = match header_str(&headers, "idempotency-key")? {
        Some(k) => CommandId::new(k)
            .map_err(|e| ApiError::field("invalid_field", "Idempotency-Key", e.to_string()))?,
        None => CommandId::new(generated_key()).expect("generated keys are valid"),
    };
    let expected = match header_str(&headers, "if-match")? {
        None => ExpectedVersion::Any,
        Some(v) => ExpectedVersion::Exactly(v.trim_matches('"').parse().map_err(|_| {
            ApiError::field(
                "invalid_field",
                "If-Match",
                "If-Match must be a case version, e.g. \"3\"",
            )
        })?),
    };
    let occurred_at = match extra_str(&extra, "occurred_at")? {
        Some(s) => Timestamp::parse(&s)
            .map_err(|e| ApiError::field("invalid_field", "occurred_at", e.to_string()))?,
        None => Timestamp::now(),
    };
    let case_id = match (case, extra_str(&extra, "case_id")?) {
        (Some(c), _) => c,
        (None, Some(c)) => CaseId::new(c)
            .map_err(|e| ApiError::field("invalid_field", "case_id", e.to_string()))?,
        // Derived from the key, so a retried report finds its case.
        (None, None) => derived_case_id(&actor, command_id.as_str()),
    };
    let correlation = |k| -> Result<Option<CorrelationId>, ApiError> {
        extra_str(&extra, k)?
            .map(|s| {
                CorrelationId::new(s)
                    .map_err(|e| ApiError::field("invalid_field", k, e.to_string()))
            })
            .transpose()
    };
    let sub = Submission {
        case_id,
        command_id,
        expected,
        correlation_id: correlation("correlation_id")?,
        causation_id: correlation("causation_id")?,
        command: Command {
            actor,
            occurred_at,
            action,
        },
        recorded_at: None,
    };
    let action_name = sub.command.action.name();
    let started = Instant::now();
    let result = app.path.execute(sub).await;
    let outcome = match &result {
        Ok(e) if e.duplicate => "duplicate",
        Ok(_) => "ok",
        Err(gridcase_bus::CommandError::Rejected(_)) => "rejected",
        Err(gridcase_bus::CommandError::Conflict(_)) => "conflict",
        Err(_) => "error",
    };
    app.metrics.command(
        action_name,
        outcome,
        result.as_ref().ok().map(|_| started.elapsed()),
    );
    let done = result?;
    let status = if action_name == Action::REPORT && !done.duplicate {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(command_response(status, &done))
}

fn command_response(status: StatusCode, e: &Executed) -> Response {
    let body = json!({
        "case_id": e.case_id,
        "version": e.version,
        "position": e.position,
        "duplicate": e.duplicate,
        "events": e.events.iter().map(|r| json!({"type": r.event_type, "version": r.header.case_version, "hash": r.hash})).collect::<Vec<_>>(),
    });
    let mut resp = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", e.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

#[derive(Deserialize, Default)]
struct ReadQuery {
    after: Option<u64>,
}

/// Read-your-writes: waits until the projection has applied position `after`.
///
/// A position beyond the log's head cannot be reached by waiting — it is a client error (400
/// `after_beyond_head`), answered at once. One at or below the head that is not applied
/// within [`READ_YOUR_WRITES`] answers 503 with `Retry-After`, as does a wait when
/// [`crate::app::MAX_WAITERS`] reads are already waiting.
async fn wait_after(app: &AppState, after: Option<u64>) -> Result<(), ApiError> {
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

/// Whether `actor` may read this case (its identity and history).
fn may_read_case(actor: &Actor, s: &CaseState) -> bool {
    match actor.role() {
        Role::Analyst => false,
        Role::Mediator => {
            s.mediation
                .as_ref()
                .is_some_and(|m| &m.mediator == actor.id())
                || s.mediations.iter().any(|m| &m.mediator == actor.id())
        }
        _ => {
            let scope = actor.scope();
            s.details.as_ref().is_some_and(|d| scope.covers(d.location))
                || s.path.iter().any(|u| scope.covers(*u))
        }
    }
}

fn audit(actor: &Actor, what: &str) {
    if actor.role() == Role::Auditor {
        tracing::info!(target: "gridcase::audit", auditor = %actor.id(), read = what, "auditor read");
    }
}

fn case_json(e: &CaseEntry, now: Timestamp) -> Value {
    json!({
        "case_id": e.state.id,
        "version": e.state.version,
        "position": e.position,
        "updated_at": e.updated_at,
        "status": e.state.status,
        "overdue": e.state.is_overdue(now),
        "holder_level": e.state.holder_level(),
        "case": e.state,
    })
}

async fn case_view(
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

async fn timeline(
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

fn may_read_unit(actor: &Actor, unit: RegionCode) -> Result<(), ApiError> {
    match actor.role() {
        Role::Analyst => Err(ApiError::Forbidden("analysts read statistics only".into())),
        Role::Mediator => Err(ApiError::Forbidden(
            "mediators read the cases assigned to them".into(),
        )),
        _ if actor.scope().covers(unit) => Ok(()),
        _ => Err(ApiError::Forbidden(format!("{unit} is outside your scope"))),
    }
}

fn queue_item(e: &CaseEntry, now: Timestamp) -> Value {
    let d = e.state.details.as_ref();
    json!({
        "case_id": e.state.id,
        "status": e.state.status,
        "holder": e.state.holder,
        "holder_level": e.state.holder_level(),
        "handler": e.state.handler,
        "deadline": e.state.deadline,
        "overdue": e.state.is_overdue(now),
        "supervised": e.state.supervisions > 0,
        "kind": d.map(|d| d.kind),
        "category": d.map(|d| d.category),
        "severity": d.map(|d| d.severity),
        "version": e.state.version,
    })
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

async fn queue(
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

async fn open_cases(
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

#[derive(Deserialize)]
struct StatsParams {
    region: Option<String>,
    period: Option<String>,
    as_of: Option<String>,
    breakdown: Option<String>,
    drill_down: Option<bool>,
    after: Option<u64>,
}

async fn stats(
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
    if !actor.scope().covers(region) && actor.scope().region() != region {
        return Err(ApiError::Forbidden(format!(
            "{region} is outside your scope"
        )));
    }
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

async fn readyz(State(app): State<AppState>) -> Response {
    match app.path.log().head().await {
        Ok(head) => {
            let applied = app.projection.checkpoint();
            Json(json!({ "status": "ready", "log": "ok", "head": head, "applied": applied, "lag": head.saturating_sub(applied) })).into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn metrics(State(app): State<AppState>) -> Response {
    let head = app.path.log().head().await.unwrap_or(0);
    let text = app.metrics.render(head, app.projection.checkpoint());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Shared for tests: a case id derived the way reports derive it.
pub fn derived_case_id(actor: &Actor, key: &str) -> CaseId {
    let county = partition_of(actor.unit());
    let h = Sha256::digest(key.as_bytes());
    CaseId::new(format!("{county}-{}", hex::encode(&h[..8]))).expect("valid id")
}
