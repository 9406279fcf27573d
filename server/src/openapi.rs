//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`, and its readable page at
//! `/api/v1/docs`.
//!
//! Nothing here describes a body by hand: every schema is derived (utoipa) from the very type
//! that the server deserializes or serializes — the domain's [`Action`] (one request body per
//! action, cut out of its `oneOf`), the case view, rows, timeline, problem details — and every
//! query parameter from the handler's query struct. What this module adds is the routing facts
//! (method, path, summary, status codes) in [`endpoints`], and one example body per action
//! ([`action_example`]) that a test posts to a running server.

use std::collections::BTreeMap;

use gridcase_domain::{Action, ActionKind, Rejection};
use gridcase_projections::{Series, StatsReport};
use serde_json::{json, Map, Value};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::api::commands::CommandResult;
use crate::api::parties::{
    AccessLog, AccessLogQuery, EraseRequest, Erased, OtherCases, PartyInput, PartyList,
    PurposeQuery, RevealRequest, Revealed, TextErased,
};
use crate::api::reads::{
    CaseView, ListParams, OpenList, ReadQuery, SeriesParams, StatsParams, Timeline,
};
use crate::api::shape::{CaseRow, Page};
use crate::api::work::{Me, MyCasesParams, RegionInfo, SearchParams, StaffList};
use crate::error::Problem;

/// The fields beside the action in a command's body (the command's envelope).
const ENVELOPE: [(&str, &str); 4] = [
    (
        "occurred_at",
        "When it happened, RFC 3339 (default: now). At most 5 minutes ahead of the server's \
         clock and 30 days back.",
    ),
    (
        "case_id",
        "Report only: the new case's id (1–64 characters of A–Z, a–z, 0–9, `_`, `-`); \
         default: derived from the Idempotency-Key as the county code and 16 hex digits, e.g. \
         330802-7e7dbdfc98e1d3f6.",
    ),
    (
        "correlation_id",
        "Ties commands of one workflow together (1–128 characters of A–Z, a–z, 0–9, `.`, `_`, \
         `:`, `-`).",
    ),
    (
        "causation_id",
        "The event or command that caused this one (1–128 characters of A–Z, a–z, 0–9, `.`, \
         `_`, `:`, `-`).",
    ),
];

/// One route as the document describes it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `get`, `post` or `delete`.
    pub method: &'static str,
    /// The path, with `{name}` placeholders.
    pub path: String,
    /// One line.
    pub summary: String,
    /// More, for people.
    pub description: String,
    /// Path and query parameters.
    pub parameters: Vec<Value>,
    /// The request body's schema (a `$ref`), for commands.
    pub body: Option<Value>,
    /// An example request body.
    pub example: Option<Value>,
    /// The success status and its body's schema (`None`: plain text).
    pub ok: (u16, Option<Value>),
    /// The error statuses it can answer.
    pub errors: &'static [u16],
}

/// Collects named schemas and their dependencies.
#[derive(Default)]
struct Schemas(BTreeMap<String, Value>);

impl Schemas {
    /// Registers `T` (and what it refers to) under its own name; returns a `$ref` to it.
    fn of<T: ToSchema>(&mut self) -> Value {
        let name = T::name().into_owned();
        self.named::<T>(&name)
    }

    /// Registers `T` under `name` (for generic types); returns a `$ref` to it.
    fn named<T: ToSchema>(&mut self, name: &str) -> Value {
        self.insert(name.to_owned(), T::schema());
        let mut deps = Vec::new();
        T::schemas(&mut deps);
        for (n, s) in deps {
            self.insert(n, s);
        }
        reference(name)
    }

    fn insert(&mut self, name: String, schema: RefOr<Schema>) {
        let v = serde_json::to_value(schema).expect("a schema serializes");
        self.0.insert(name, v);
    }
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn params<P: IntoParams>() -> Vec<Value> {
    P::into_params(|| Some(ParameterIn::Query))
        .into_iter()
        .map(|p: Parameter| serde_json::to_value(p).expect("a parameter serializes"))
        .collect()
}

fn path_param(name: &str, description: &str, example: &str) -> Value {
    json!({
        "name": name, "in": "path", "required": true, "description": description,
        "schema": { "type": "string" }, "example": example,
    })
}

fn header(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "header", "schema": { "type": "string" }, "description": description })
}

/// The request body schema of one action: the action's member of [`Action`]'s `oneOf`, without
/// its `action` tag (the path names it), plus the envelope fields.
fn action_body(action_schema: &Value, name: &str) -> Value {
    let member = action_schema["oneOf"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| {
            m["properties"]["action"]["enum"]
                .as_array()
                .is_some_and(|e| e.len() == 1 && e[0] == name)
        })
        .unwrap_or_else(|| panic!("Action's schema has no member for {name}"));
    let mut body = member.clone();
    let obj = body.as_object_mut().expect("an object schema");
    obj.insert("type".into(), json!("object"));
    let props = obj
        .entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("properties");
    props.remove("action");
    for (field, description) in ENVELOPE {
        if field == "case_id" && name != Action::REPORT {
            continue;
        }
        props.insert(
            field.into(),
            json!({ "type": "string", "description": description }),
        );
    }
    if let Some(req) = obj.get_mut("required").and_then(Value::as_array_mut) {
        req.retain(|f| f != "action");
    }
    obj.insert("additionalProperties".into(), json!(false));
    body
}

/// A valid example body for each action, in the demo deployment's terms (衢州市柯城区).
pub fn action_example(kind: ActionKind) -> Value {
    match kind {
        ActionKind::Report => json!({
            "kind": "dispute", "category": "neighbours", "source": "grid_patrol",
            "severity": "normal", "location": "330802005001",
            "parties": [
                { "role": "applicant", "personal": {
                    "name": "王秀英", "id_number": "11010519491231002X", "phone": "138 1234 5678",
                } },
                { "role": "respondent", "personal": { "name": "李建国" } },
            ],
            "summary": "两户因院墙滴水发生争执", "happened_at": "2026-03-02T08:30:00+08:00",
        }),
        ActionKind::Register | ActionKind::Close => json!({}),
        ActionKind::Reject => json!({ "reason": "duplicate", "note": "与已登记案件重复" }),
        ActionKind::Assign => json!({ "handler": "staff-330802005001-1" }),
        ActionKind::Escalate => json!({ "reason": "涉及两个村，需要乡镇协调" }),
        ActionKind::Delegate => json!({ "to": "330802005001", "reason": "属地村社处理" }),
        ActionKind::Refer => {
            json!({ "target": "court", "body": "柯城区人民法院", "reason": "当事人申请诉讼" })
        }
        ActionKind::ReturnReferral => json!({ "reason": "法院建议先行调解" }),
        ActionKind::StartMediation => json!({
            "mediation_type": "people", "mediator": "med-330802005001-1",
            "organization": "330802005001",
        }),
        ActionKind::HoldMediationSession => json!({ "summary": "双方到场，陈述各自诉求" }),
        ActionKind::ConcludeMediation => json!({ "outcome": "agreement", "note": "达成书面协议" }),
        ActionKind::Resolve => {
            json!({ "method": "mediated_agreement", "summary": "调解达成协议，已履行" })
        }
        ActionKind::VerifyResolution => json!({ "note": "电话回访，属实" }),
        ActionKind::RejectResolution => json!({ "reason": "协议未履行" }),
        ActionKind::RecordFeedback => json!({ "satisfaction": "satisfied", "comment": "处理及时" }),
        ActionKind::Reopen => {
            json!({ "reason": "agreement_not_honoured", "note": "对方未按协议履行" })
        }
        ActionKind::ExtendDeadline => {
            json!({ "deadline": "2026-12-31T18:00:00+08:00", "reason": "需等待鉴定结果" })
        }
        ActionKind::IssueSupervision => json!({ "note": "请于三日内反馈进展" }),
        ActionKind::AddNote => json!({ "text": "已电话联系双方" }),
        ActionKind::AddParty => json!({
            "party": { "role": "third_party", "personal": { "name": "张卫东", "phone": "13900001111" } },
        }),
        ActionKind::AttachEvidence => json!({
            "content_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "media_type": "image/jpeg", "description": "现场照片",
        }),
        ActionKind::Merge => {
            json!({ "into": "0123456789abcdef0123456789abcdef", "reason": "同一事件重复上报" })
        }
        ActionKind::CorrectDetails => {
            json!({ "category": "housing_homestead", "reason": "登记类别有误" })
        }
        ActionKind::TakeOver => json!({ "reason": "影响面扩大，县级提级办理" }),
    }
}

const READ_ERRORS: &[u16] = &[400, 401, 403, 404, 503];
const COMMAND_ERRORS: &[u16] = &[400, 401, 403, 404, 409, 413, 422, 503];

/// Every route the API serves, as documented. `api::router` serves exactly these (a test
/// checks every one answers, and that every action has its own entry).
pub fn endpoints() -> (Vec<Endpoint>, BTreeMap<String, Value>) {
    let mut s = Schemas::default();
    let action = serde_json::to_value(Action::schema()).expect("a schema serializes");
    let mut deps = Vec::new();
    Action::schemas(&mut deps);
    for (n, v) in deps {
        s.insert(n, v);
    }
    let result = s.of::<CommandResult>();
    let case_id = path_param(
        "id",
        "The case id: the county code and 16 hex digits for a case reported through the API \
         (e.g. 330802-7e7dbdfc98e1d3f6); an imported case keeps its own (e.g. \
         330881-20250107-0029).",
        "330802-7e7dbdfc98e1d3f6",
    );
    let code = |what: &str| path_param("code", what, "330802005001");
    let key = header(
        "Idempotency-Key",
        "Names the command (scoped to its sender): a retry with the same key and body returns \
         the first result; the same key with another body is 422 `idempotency_key_mismatch`.",
    );
    let if_match = header(
        "If-Match",
        "The case version the command was decided on, e.g. \"3\"; a stale one is 409.",
    );

    let mut out = Vec::new();
    let mut command =
        |name: &str, path: String, ok: u16, parameters: Vec<Value>, s: &mut Schemas| {
            let schema_name = format!("{}Request", pascal(name));
            s.0.insert(schema_name.clone(), action_body(&action, name));
            let doc = action_doc(&action, name);
            out.push(Endpoint {
                method: "post",
                path,
                summary: doc.lines().next().unwrap_or(name).to_owned(),
                description: format!(
                    "Action `{name}`.{}",
                    doc.split_once('\n')
                        .map(|(_, rest)| format!(" {rest}"))
                        .unwrap_or_default()
                ),
                parameters,
                body: Some(reference(&schema_name)),
                example: Some(action_example(
                    ActionKind::from_name(name).expect("a documented action is an action"),
                )),
                ok: (ok, Some(result.clone())),
                errors: COMMAND_ERRORS,
            });
        };
    command(
        Action::REPORT,
        "/api/v1/cases".into(),
        201,
        vec![key.clone()],
        &mut s,
    );
    for name in Action::case_commands() {
        command(
            name,
            format!("/api/v1/cases/{{id}}/{name}"),
            200,
            vec![case_id.clone(), key.clone(), if_match.clone()],
            &mut s,
        );
    }
    // Parties come with their personal fields, which the server lifts out into the vault: the
    // documented party is the request's, not the event's.
    let party_input = s.of::<PartyInput>();
    s.0.get_mut("ReportRequest").expect("report's body")["properties"]["parties"]["items"] =
        party_input.clone();
    s.0.get_mut("AddPartyRequest").expect("add_party's body")["properties"]["party"] = party_input;

    let mut read =
        |path: &str, summary: &str, description: &str, parameters: Vec<Value>, ok: Value| {
            out.push(Endpoint {
                method: "get",
                path: path.into(),
                summary: summary.into(),
                description: description.into(),
                parameters,
                body: None,
                example: None,
                ok: (200, Some(ok)),
                errors: READ_ERRORS,
            });
        };
    let page = s.named::<Page<CaseRow>>("CasePage");
    read(
        "/api/v1/cases",
        "Search cases",
        "Cases the reader may see, filtered; analysts have no case search (403).",
        params::<SearchParams>(),
        page.clone(),
    );
    read(
        "/api/v1/me",
        "Who I am",
        "The actor behind the token: role, scope, unit and the views of their work.",
        vec![],
        s.of::<Me>(),
    );
    read(
        "/api/v1/me/cases",
        "My work",
        "A unit's queue, the cases assigned to me, or a mediator's mediations; soonest deadline first.",
        params::<MyCasesParams>(),
        page,
    );
    read(
        "/api/v1/units/{code}/staff",
        "A unit's roster",
        "Handlers and mediators of a unit, to assign or to start a mediation with.",
        vec![code("The unit's region code.")],
        s.of::<StaffList>(),
    );
    read(
        "/api/v1/regions/{code}",
        "A region",
        "Name, level, parent and children, for cascading pickers.",
        vec![code("The region code.")],
        s.of::<RegionInfo>(),
    );
    let mut with_after = vec![case_id.clone()];
    with_after.extend(params::<ReadQuery>());
    read(
        "/api/v1/cases/{id}",
        "A case",
        "The case's state, its file (resolution, referrals, mediations, deadlines, supervision) \
         and the actions the reader may take now.",
        with_after,
        s.of::<CaseView>(),
    );
    read(
        "/api/v1/cases/{id}/timeline",
        "A case's history",
        "Every event, oldest first, with its hashes.",
        vec![case_id.clone()],
        s.of::<Timeline>(),
    );
    let party_id = path_param(
        "party",
        "The party's opaque id.",
        "p-3f2a9c0d1e4b5a6978c0d1e2",
    );
    let mut with_purpose = vec![case_id.clone()];
    with_purpose.extend(params::<PurposeQuery>());
    read(
        "/api/v1/cases/{id}/parties",
        "A case's parties",
        "Each party's id, role and whether personal data is held or erased (已删除); names, \
         phones, addresses and the masked ID number only for the holding unit and the case's \
         active mediator, who must state a `purpose` (recorded in the access log). Analysts: 403.",
        with_purpose.clone(),
        s.of::<PartyList>(),
    );
    let mut other = vec![case_id.clone(), party_id.clone()];
    other.extend(params::<PurposeQuery>());
    read(
        "/api/v1/cases/{id}/parties/{party}/other-cases",
        "Other cases of the same person",
        "Cases of parties with the same ID number, phone or name, by the vault's keyed blind \
         index (nothing is decrypted); only cases the reader may see are listed, the rest \
         counted in `hidden`. For the holding unit and the active mediator, with a `purpose`; \
         recorded as a lookup.",
        other,
        s.of::<OtherCases>(),
    );
    read(
        "/api/v1/access-log",
        "The personal data access log",
        "Every write, read, reveal, lookup and erasure of personal data: who, in which role, \
         when, which party, which fields, why. For auditors and admins, about parties of cases \
         in their scope.",
        params::<AccessLogQuery>(),
        s.of::<AccessLog>(),
    );
    let mut unit = vec![code("The unit's region code.")];
    unit.extend(params::<ListParams>());
    read(
        "/api/v1/units/{code}/queue",
        "A unit's queue",
        "Open cases the unit holds, soonest deadline first.",
        unit,
        s.of::<OpenList>(),
    );
    let mut region = vec![code("The region code.")];
    region.extend(params::<ListParams>());
    read(
        "/api/v1/regions/{code}/open",
        "Open cases in a region",
        "Open cases held anywhere in the region's subtree.",
        region,
        s.of::<OpenList>(),
    );
    read(
        "/api/v1/stats",
        "Resolution statistics",
        "小事不出格 and the other rates of a region and period: cohort (cases registered in the \
         period, outcome as of T) and activity (events in the period) counts, every one under the \
         case's corrected location, category, source and kind; rates with DOMAIN.md's \
         denominators (escalation = cases escalated at least once / registered, extension = cases \
         with an approved extension / registered, reopen = cases reopened / cases closed, from \
         `cohort.escalated`, `extended`, `reopened`, `closed`; rework = resolutions sent back / \
         resolutions); `overdue`: open cases located in the region with their deadline before T \
         (`as_of`, default now), `by_holder` and `by_region`; `change` on the previous period and \
         `year_on_year` on the same dates a year before; time to resolution (median and p90 by \
         resolving level, within ±4.9% of the exact quantile's hours + 1 — not of its hours — its \
         bucket in `median_range_hours` / `p90_range_hours`); breakdowns; child regions ranked by \
         `rank_by`, each with `rank_value`, its breakdown and `overdue_open`.",
        params::<StatsParams>(),
        with_as_of(s.of::<StatsReport>()),
    );
    read(
        "/api/v1/stats/series",
        "Statistics of consecutive periods",
        "For trend charts, in one query: `points`, one per step of the period, in order, each \
         with `period` (from..to, end exclusive), `figures` (cohort, activity and rates as in \
         /api/v1/stats) and `breakdown`. The points' activity adds up to the whole period's.",
        params::<SeriesParams>(),
        with_as_of(s.of::<Series>()),
    );
    read(
        "/api/v1/openapi.json",
        "This document",
        "OpenAPI 3.1.",
        vec![],
        json!({ "type": "object" }),
    );
    for (path, summary) in [
        ("/healthz", "Liveness: the process answers"),
        (
            "/readyz",
            "Readiness: the log is reachable and the projection caught up",
        ),
        ("/metrics", "Prometheus metrics"),
    ] {
        out.push(Endpoint {
            method: "get",
            path: path.into(),
            summary: summary.into(),
            description: String::new(),
            parameters: vec![],
            body: None,
            example: None,
            ok: (200, None),
            errors: &[],
        });
    }
    out.push(Endpoint {
        method: "get",
        path: "/api/v1/docs".into(),
        summary: "This document, for people".into(),
        description: String::new(),
        parameters: vec![],
        body: None,
        example: None,
        ok: (200, None),
        errors: &[],
    });
    let mut personal = Vec::new();
    let reveal = s.of::<RevealRequest>();
    let revealed = s.of::<Revealed>();
    let erase = s.of::<EraseRequest>();
    let erased = s.of::<Erased>();
    let text_erased = s.of::<TextErased>();
    personal.push(Endpoint {
        method: "post",
        path: "/api/v1/cases/{id}/parties/{party}/reveal".into(),
        summary: "Reveal a party's whole ID number".into(),
        description: "For the holding unit and the case's active mediator, with a `purpose`; \
            recorded in the access log before the number is returned."
            .into(),
        parameters: vec![case_id.clone(), party_id.clone()],
        body: Some(reveal),
        example: Some(json!({ "purpose": "出具调解协议书" })),
        ok: (200, Some(revealed)),
        errors: &[400, 401, 403, 404, 422, 503],
    });
    personal.push(Endpoint {
        method: "delete",
        path: "/api/v1/parties/{party}/personal-data".into(),
        summary: "Erase a party's personal data".into(),
        description: "Crypto-shredding (PIPL art. 47): the party's data key, ciphertexts and \
            blind-index entries are destroyed, and no storage file keeps them. The cases show \
            已删除 where the data was; their history, its hash chain and the statistics are \
            unchanged. For supervisors and admins over one of the party's cases, with a \
            `legal_basis`."
            .into(),
        parameters: vec![party_id],
        body: Some(erase.clone()),
        example: Some(
            json!({ "legal_basis": "data_subject_request", "remark": "申请编号 2026-117" }),
        ),
        ok: (200, Some(erased)),
        errors: &[400, 401, 403, 404, 503],
    });
    personal.push(Endpoint {
        method: "delete",
        path: "/api/v1/cases/{id}/text".into(),
        summary: "Erase a finished case's free text".into(),
        description: "Crypto-shredding of the case's summary, notes, records and reasons: its \
            text key is destroyed, so the ciphertexts the events carry can never be opened; \
            the case then shows ［已删除］ where the text was, and its history, hash chain and \
            statistics are unchanged. For supervisors and admins over the case, with a \
            `legal_basis`; refused (422) while the case is not closed \
            (`case_not_finished`), while a party still has personal data \
            (`parties_not_erased`) or before `[privacy] case_text_retention_days` have passed \
            since its last activity (`retention_not_passed`)."
            .into(),
        parameters: vec![case_id.clone()],
        body: Some(erase),
        example: Some(json!({ "legal_basis": "retention_expired" })),
        ok: (200, Some(text_erased)),
        errors: &[400, 401, 403, 404, 422, 503],
    });
    out.extend(personal);
    s.of::<Problem<'_>>();
    (out, s.0)
}

/// A statistics answer, with the `as_of` it was asked for echoed beside it.
fn with_as_of(schema: Value) -> Value {
    json!({ "allOf": [schema, {
        "type": "object",
        "properties": { "as_of": {
            "type": "string",
            "description": "The `as_of` of the request, when one was given: the figures as known then.",
        } },
    }] })
}

/// `report` → `Report`, `start_mediation` → `StartMediation`.
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// The doc comment of the action's variant, as utoipa put it in the member's description.
fn action_doc(action: &Value, name: &str) -> String {
    action["oneOf"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["properties"]["action"]["enum"][0] == name)
        .and_then(|m| m["description"].as_str())
        .unwrap_or(name)
        .to_owned()
}

/// The problem codes a status can carry.
fn problem_codes(status: u16) -> Vec<&'static str> {
    let mut codes = crate::error::ApiError::codes(status);
    if matches!(status, 403 | 422) {
        codes.push("…or the rule's name (see RejectionCode)");
    }
    codes
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created: the case was reported",
        400 => "Malformed body or query; `field` names what is wrong",
        401 => "Missing or unknown bearer token",
        403 => "The role or scope does not allow it",
        404 => "Unknown — or outside the reader's scope, answered alike",
        409 => "Stale If-Match version (`expected`, `actual`)",
        413 => "Body larger than the limit (64 KiB by default)",
        422 => "Refused by the domain; `code` is the rule's name",
        503 => "The log is unavailable or not caught up; see Retry-After",
        _ => "",
    }
}

/// The OpenAPI document, built once (it depends on nothing but the types).
pub fn document() -> &'static Value {
    static DOCUMENT: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(build_document)
}

fn build_document() -> Value {
    let (endpoints, mut schemas) = endpoints();
    schemas.insert(
        "RejectionCode".into(),
        json!({
            "type": "string",
            "description": "The domain rule that refused a command (422, or 403 when it is about who asks).",
            "enum": Rejection::CODES,
        }),
    );
    let mut paths: Map<String, Value> = Map::new();
    for e in &endpoints {
        let mut responses = Map::new();
        let (status, schema) = &e.ok;
        let ok = match schema {
            Some(schema) => json!({
                "description": status_text(*status),
                "content": { "application/json": { "schema": schema } },
            }),
            None => json!({ "description": status_text(*status) }),
        };
        responses.insert(status.to_string(), ok);
        if e.method == "post" && e.path == "/api/v1/cases" {
            responses.insert(
                "200".into(),
                json!({ "description": "A retried report: the first result", "content": { "application/json": { "schema": schema } } }),
            );
        }
        for s in e.errors {
            responses.insert(
                s.to_string(),
                json!({
                    "description": format!("{} — code: {}", status_text(*s), problem_codes(*s).join(", ")),
                    "content": { "application/problem+json": { "schema": reference("Problem") } },
                }),
            );
        }
        let mut op = json!({
            "summary": e.summary,
            "description": e.description,
            "parameters": e.parameters,
            "responses": responses,
        });
        if let Some(body) = &e.body {
            op["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": body, "example": e.example } },
            });
        }
        if e.errors.is_empty() {
            op["security"] = json!([]);
        }
        let item = paths.entry(e.path.clone()).or_insert_with(|| json!({}));
        item[e.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "gridcase",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Grid-based incident and dispute cases (市 → 县 → 乡镇 → 村社 → 网格): \
                commands, case views, work lists and resolution statistics. Bodies are JSON of at \
                most 64 KiB (configurable); errors are application/problem+json with a stable `code`.",
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas,
        },
        "security": [{ "bearer": [] }],
        "paths": paths,
    })
}

/// The readable page of the document: `/api/v1/docs`.
pub mod page {
    use askama::Template;
    use serde_json::Value;

    use super::document;

    /// A piece of prose: plain text, or `code` between backticks.
    pub struct Seg {
        /// Whether it was between backticks.
        pub code: bool,
        /// The text.
        pub text: String,
    }

    /// Splits prose at backticks.
    pub fn segments(s: &str) -> Vec<Seg> {
        s.split('`')
            .enumerate()
            .filter(|(_, t)| !t.is_empty())
            .map(|(i, t)| Seg {
                code: i % 2 == 1,
                text: t.to_owned(),
            })
            .collect()
    }

    /// One field of a body or one parameter, as a row.
    pub struct Field {
        /// Its name.
        pub name: String,
        /// Where it goes (`query`, `path`, `header`, `body`).
        pub place: String,
        /// Its type in words: `string`, `integer`, `one of: a, b`, a schema name.
        pub ty: Vec<Seg>,
        /// Limits: maximum length, item counts, patterns.
        pub limits: String,
        /// Required?
        pub required: bool,
        /// What it is.
        pub description: Vec<Seg>,
    }

    /// One route.
    pub struct Op {
        /// An anchor.
        pub id: String,
        /// `GET` or `POST`.
        pub method: String,
        /// The path.
        pub path: String,
        /// One line.
        pub summary: String,
        /// More.
        pub description: Vec<Seg>,
        /// Parameters and body fields.
        pub fields: Vec<Field>,
        /// The example body, pretty-printed.
        pub example: String,
        /// Status, meaning and codes.
        pub responses: Vec<(String, Vec<Seg>)>,
    }

    /// The page.
    #[derive(Template)]
    #[template(path = "api_docs.html")]
    pub struct DocsPage {
        /// The stylesheet's URL.
        pub css: String,
        /// Every route.
        pub ops: Vec<Op>,
        /// Every rejection code.
        pub rejections: Vec<&'static str>,
    }

    fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or(r);
                &doc["components"]["schemas"][name]
            }
            None => schema,
        }
    }

    /// A schema's type in words.
    fn type_words(doc: &Value, schema: &Value) -> String {
        if let Some(r) = schema["$ref"].as_str() {
            let name = r.rsplit('/').next().unwrap_or(r);
            let target = resolve(doc, schema);
            return match (target["enum"].as_array(), target["description"].as_str()) {
                (Some(_), Some(words)) => format!("{name}: {words}"),
                (Some(values), None) => format!("{name}: {}", join(values)),
                _ => name.to_owned(),
            };
        }
        if let Some(values) = schema["enum"].as_array() {
            return format!("one of: {}", join(values));
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(items) = schema[key].as_array() {
                let parts: Vec<String> = items
                    .iter()
                    .filter(|s| s["type"] != "null")
                    .map(|s| type_words(doc, s))
                    .collect();
                return parts.join(" | ");
            }
        }
        match &schema["type"] {
            Value::String(t) if t == "array" => {
                format!("array of {}", type_words(doc, &schema["items"]))
            }
            Value::String(t) => match schema["format"].as_str() {
                Some(f) => format!("{t} ({f})"),
                None => t.clone(),
            },
            Value::Array(ts) => ts
                .iter()
                .filter(|t| *t != "null")
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" | "),
            _ => "any".into(),
        }
    }

    fn join(values: &[Value]) -> String {
        values
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn limits(doc: &Value, schema: &Value) -> String {
        let s = resolve(doc, schema);
        let mut out = Vec::new();
        for (key, word) in [
            ("maxLength", "≤ {} characters"),
            ("minLength", "≥ {} characters"),
            ("maxItems", "≤ {} items"),
            ("pattern", "pattern {}"),
        ] {
            if let Some(v) = s.get(key).or_else(|| schema.get(key)) {
                let v = v
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string());
                out.push(word.replace("{}", &v));
            }
        }
        out.join("; ")
    }

    /// Builds the page from the document itself, so the two cannot disagree.
    pub fn build(css: String) -> DocsPage {
        let doc = document();
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let mut fields = Vec::new();
                for p in op["parameters"].as_array().into_iter().flatten() {
                    fields.push(Field {
                        name: p["name"].as_str().unwrap_or_default().to_owned(),
                        place: p["in"].as_str().unwrap_or_default().to_owned(),
                        ty: segments(&type_words(doc, &p["schema"])),
                        limits: limits(doc, &p["schema"]),
                        required: p["required"].as_bool().unwrap_or(false),
                        description: segments(p["description"].as_str().unwrap_or_default()),
                    });
                }
                let body = &op["requestBody"]["content"]["application/json"];
                let schema = resolve(doc, &body["schema"]);
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
                    fields.push(Field {
                        name: name.clone(),
                        place: "body".into(),
                        ty: segments(&type_words(doc, prop)),
                        limits: limits(doc, prop),
                        required: required.contains(&name.as_str()),
                        description: segments(prop["description"].as_str().unwrap_or_default()),
                    });
                }
                let example = match &body["example"] {
                    Value::Null => String::new(),
                    v => serde_json::to_string_pretty(v).unwrap_or_default(),
                };
                let responses = op["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(status, r)| {
                        let mut text = r["description"].as_str().unwrap_or_default().to_owned();
                        let schema = &r["content"]["application/json"]["schema"];
                        let name = schema["$ref"]
                            .as_str()
                            .or(schema["allOf"][0]["$ref"].as_str());
                        if let Some(name) = name.and_then(|r| r.rsplit('/').next()) {
                            text.push_str(&format!(": `{name}`"));
                        }
                        (status.clone(), segments(&text))
                    })
                    .collect();
                ops.push(Op {
                    id: format!("{method}-{path}")
                        .replace(['/', '{', '}'], "-")
                        .replace("--", "-"),
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary: op["summary"].as_str().unwrap_or_default().to_owned(),
                    description: segments(op["description"].as_str().unwrap_or_default()),
                    fields,
                    example,
                    responses,
                });
            }
        }
        // Reads first, then the report, then the case commands.
        ops.sort_by_key(|o| (o.method != "GET", o.path != "/api/v1/cases", o.path.clone()));
        DocsPage {
            css,
            ops,
            rejections: gridcase_domain::Rejection::CODES.to_vec(),
        }
    }
}
