//! Commands over HTTP: the body becomes an [`Action`], the headers its idempotency key and
//! expected version, and the command path does the rest.

use crate::error::BadRequestCode;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gridcase_bus::{partition_of, Executed, ExpectedVersion, Position, Submission};
use gridcase_domain::{
    Action, ActionKind, Actor, CaseId, Command, CommandId, CorrelationId, Timestamp,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::params::{header_str, parse_case_id};
use crate::app::AppState;
use crate::error::ApiError;

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

/// Parses the body into an [`Action`], naming the offending field on error.
/// A command request's body: the action, the envelope fields beside it (`occurred_at`,
/// `case_id`, correlation ids), and the body's canonical JSON (for its fingerprint).
type ParsedCommand = (Action, Map<String, Value>, Vec<u8>, super::parties::Lifted);

fn parse_action(
    name: &str,
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<ParsedCommand, ApiError> {
    let bytes = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge { limit }
        } else {
            ApiError::BadRequest {
                code: BadRequestCode::MalformedJson,
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
                    code: BadRequestCode::MalformedJson,
                    message: "the body must be a JSON object".into(),
                    field: None,
                })
            }
            Err(e) => {
                return Err(ApiError::BadRequest {
                    code: BadRequestCode::MalformedJson,
                    message: format!("malformed JSON: {e}"),
                    field: None,
                })
            }
        }
    };
    // What the request asks, canonically (keys sorted), for its fingerprint — personal fields
    // included (the fingerprint is a keyed hash, never the bytes), so the same key with another
    // ID number is a mismatch, not a duplicate that would overwrite the first party's data.
    let canonical = serde_json::to_vec(&obj).unwrap_or_default();
    // Personal fields go to the vault, never into the action.
    let lifted = super::parties::take_personal(name, &mut obj)?;
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
            BadRequestCode::InvalidField,
            field.clone(),
            format!("invalid {field}: {inner}"),
        )
    })?;
    Ok((action, extra, canonical, lifted))
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
            BadRequestCode::InvalidField,
            key,
            format!("{key} must be a string"),
        )),
    }
}

pub(crate) async fn report(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    execute(app, headers, None, Action::REPORT, body).await
}

pub(crate) async fn command(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if ActionKind::case_command(&action).is_none() {
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
    if !actor.role().can_command() {
        return Err(ApiError::Denied(gridcase_domain::Rejection::ReadOnlyRole {
            role: actor.role(),
        }));
    }
    let (action, extra, canonical, lifted) = parse_action(name, body, app.max_body_bytes)?;
    // A client's key is scoped to the client: two workers who happen to send the same key
    // make two commands.
    let key = header_str(&headers, "idempotency-key")?;
    if let Some(k) = key {
        CommandId::new(k).map_err(|e| {
            ApiError::field(
                BadRequestCode::InvalidField,
                "Idempotency-Key",
                e.to_string(),
            )
        })?;
    }
    let expected = match header_str(&headers, "if-match")? {
        None => ExpectedVersion::Any,
        Some(v) => ExpectedVersion::Exactly(v.trim_matches('"').parse().map_err(|_| {
            ApiError::field(
                BadRequestCode::InvalidField,
                "If-Match",
                "If-Match must be a case version, e.g. \"3\"",
            )
        })?),
    };
    let occurred_at = match extra_str(&extra, "occurred_at")? {
        Some(s) => Timestamp::parse(&s).map_err(|e| {
            ApiError::field(BadRequestCode::InvalidField, "occurred_at", e.to_string())
        })?,
        None => Timestamp::now(),
    };
    let case = match (case, extra_str(&extra, "case_id")?) {
        (Some(c), _) => Some(c),
        (None, Some(c)) => Some(CaseId::new(c).map_err(|e| {
            ApiError::field(BadRequestCode::InvalidField, "case_id", e.to_string())
        })?),
        // Derived from the key, so a retried report finds its case.
        (None, None) => None,
    };
    let correlation = |k| -> Result<Option<CorrelationId>, ApiError> {
        extra_str(&extra, k)?
            .map(|s| {
                CorrelationId::new(s)
                    .map_err(|e| ApiError::field(BadRequestCode::InvalidField, k, e.to_string()))
            })
            .transpose()
    };
    let mut sub = submission(&app, &actor, case, key, action, occurred_at, &canonical);
    sub.expected = expected;
    sub.correlation_id = correlation("correlation_id")?;
    sub.causation_id = correlation("causation_id")?;
    let personal =
        super::parties::assign_party_ids(&mut sub.command.action, &sub.command_id, lifted);
    let action_name = sub.command.action.name();
    let done = run(&app, sub).await?;
    super::parties::store_personal(&app, &actor, &personal).await?;
    let status = if action_name == Action::REPORT && !done.duplicate {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(command_response(status, &done))
}

/// Runs a submission through the command path, counts it in the metrics, and turns a refusal
/// into its answer — the one way the API and the workbench's forms execute commands.
pub(crate) async fn run(app: &AppState, sub: Submission) -> Result<Executed, ApiError> {
    let action_name = sub.command.action.name();
    let (actor, case) = (sub.command.actor.clone(), sub.case_id.clone());
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
    match result {
        Ok(done) => Ok(done),
        // Any refusal of a case the actor may not know — for who asked, for a stale version,
        // for a rule about its state — answers as an unknown case does; so does a version
        // expected of a case that does not exist.
        Err(
            e @ (gridcase_bus::CommandError::Rejected(_) | gridcase_bus::CommandError::Conflict(_)),
        ) => {
            if answers_as_unknown(app, &actor, &case, &e).await? {
                return Err(ApiError::NotFound("no such case".into()));
            }
            match e {
                gridcase_bus::CommandError::Rejected(r) if r.is_authorization() => {
                    Err(ApiError::Denied(r))
                }
                e => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// A submission for `actor` of `action` on `case` (a report's case id is derived from the
/// key), keyed by the client's `key` (scoped to the actor, fingerprinted with `body`, the
/// request's canonical bytes) or, without one, a fresh command id.
pub(crate) fn submission(
    app: &AppState,
    actor: &Actor,
    case: Option<CaseId>,
    key: Option<&str>,
    action: Action,
    occurred_at: Timestamp,
    body: &[u8],
) -> Submission {
    let command_id = match key {
        Some(k) => scoped_command_id(actor, k),
        None => CommandId::new(generated_key()).expect("generated keys are valid"),
    };
    let case_id =
        case.unwrap_or_else(|| derived_case_id(actor, key.unwrap_or(command_id.as_str())));
    let fingerprint = key.map(|_| app.fingerprint(action.name(), &case_id, body));
    Submission {
        case_id,
        command_id,
        expected: ExpectedVersion::Any,
        correlation_id: None,
        causation_id: None,
        command: Command {
            actor: actor.clone(),
            occurred_at,
            action,
        },
        fingerprint,
        recorded_at: None,
    }
}

/// What a command did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommandResult {
    /// The case.
    pub case_id: CaseId,
    /// The case version after the command (also the `ETag`).
    pub version: u64,
    /// The commit's global position: pass it as `?after=` to read your write.
    #[schema(value_type = u64)]
    pub position: Position,
    /// True when the key was used before: this is the first result, nothing was appended.
    pub duplicate: bool,
    /// The events the command appended.
    pub events: Vec<CommittedEvent>,
}

/// One event a command appended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommittedEvent {
    /// Its type, e.g. `CaseEscalated`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The case version it made.
    pub version: u64,
    /// Its hash in the case's chain.
    pub hash: gridcase_domain::Hash,
}

fn command_response(status: StatusCode, e: &Executed) -> Response {
    let body = CommandResult {
        case_id: e.case_id.clone(),
        version: e.version,
        position: e.position,
        duplicate: e.duplicate,
        events: e
            .events
            .iter()
            .map(|r| CommittedEvent {
                event_type: r.event_type.clone(),
                version: r.header.case_version,
                hash: r.hash,
            })
            .collect(),
    };
    let mut resp = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", e.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// Shared for tests: a case id derived the way reports derive it.
pub fn derived_case_id(actor: &Actor, key: &str) -> CaseId {
    let county = partition_of(actor.unit());
    let h = scoped_key_hash(actor, key);
    CaseId::new(format!("{county}-{}", hex::encode(&h[..8]))).expect("valid id")
}

/// SHA-256 of the actor and their key: what makes a key the actor's own.
fn scoped_key_hash(actor: &Actor, key: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(actor.id().as_str().as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    h.finalize().into()
}

/// The command id of a client's `Idempotency-Key`: scoped to the actor who sends it.
///
/// Readable where it fits — `<length of the actor id>.<actor id>:<key>`, e.g. `4.gw-1:walk-1`
/// (the length keeps two actors' ids and keys from running into each other) — else
/// `k-<40 hex digits>` of a hash of the two.
pub fn scoped_command_id(actor: &Actor, key: &str) -> CommandId {
    let id = actor.id().as_str();
    CommandId::new(format!("{}.{id}:{key}", id.len())).unwrap_or_else(|_| {
        CommandId::new(format!(
            "k-{}",
            hex::encode(&scoped_key_hash(actor, key)[..20])
        ))
        .expect("valid id")
    })
}

/// Whether a refused command must answer as for an unknown case: its case exists (a report
/// names a new one) but `actor` may not read it, or it does not exist and the refusal is a
/// version conflict (which an unknown case would otherwise answer differently from a hidden
/// one).
async fn answers_as_unknown(
    app: &AppState,
    actor: &Actor,
    case: &CaseId,
    refusal: &gridcase_bus::CommandError,
) -> Result<bool, ApiError> {
    let state = app.path.load(case).await?;
    Ok(if state.status == gridcase_domain::Status::New {
        matches!(refusal, gridcase_bus::CommandError::Conflict(_))
    } else {
        !super::access::may_read_case(actor, &state)
    })
}
