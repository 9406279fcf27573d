//! 审计: a case's full history with its hash chain checked link by link, its state as of a
//! chosen time, and its history as a JSON download.
//!
//! The records are read from the log itself ([`gridcase_bus::EventLog::read_case`]), not from
//! a read model, and each is checked with [`chain::check_link`] (it continues the chain) and
//! [`chain::check_hash`] (its contents match its hash). "As of T" folds the events recorded
//! at or before T, stopping at the first one recorded later (DESIGN.md invariant 9).

use crate::error::BadRequestCode;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use gridcase_bus::{Committed, EventLog, Position};
use gridcase_domain::{chain, CaseId, CaseState, ChainHead, Envelope, LinkError, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};

use super::i18n::Tr;
use super::session::{encode, Viewer};
use super::{access, render, require, status_class, Chrome, Page, Web, WebApp, WebError};
use crate::error::ApiError;

/// One link of the chain, as shown.
pub struct Link {
    /// The event's version.
    pub version: u64,
    /// The commit's position.
    pub position: Position,
    /// When it was recorded (local time).
    pub recorded: String,
    /// When it happened (local time).
    pub occurred: String,
    /// Who, and in which role.
    pub actor: String,
    /// The event's name.
    pub event: String,
    /// The event type (stable name).
    pub event_type: String,
    /// The facts, as JSON (upcast), or why they do not decode.
    pub facts: String,
    /// The hash, short.
    pub hash: String,
    /// The hash, full.
    pub hash_full: String,
    /// The previous hash, short.
    pub prev: String,
    /// What is wrong with this link, in words; empty when intact.
    pub problems: Vec<String>,
    /// Whether it was recorded after the as-of time.
    pub after: bool,
}

/// A checked history.
struct Checked {
    links: Vec<Link>,
    json: Vec<Value>,
    intact: bool,
}

fn link_zh(e: &LinkError, t: Tr) -> String {
    if !t.zh() {
        return e.to_string();
    }
    match *e {
        LinkError::VersionGap { expected, found } => {
            format!(
                "版本 {found} 紧接在版本 {} 之后：缺少版本 {expected}",
                expected - 1
            )
        }
        LinkError::VersionNotAfter { expected, found } => {
            format!(
                "版本 {found} 出现在版本 {} 之后：重复或顺序错乱",
                expected - 1
            )
        }
        LinkError::PrevHashMismatch { version } => {
            format!("版本 {version} 记录的前一哈希与上一条记录不符：哈希链断裂")
        }
        LinkError::HashMismatch { version } => {
            format!("版本 {version} 的内容与其哈希不符：该记录被篡改")
        }
        _ => e.to_string(),
    }
}

/// The event type's name in words.
pub fn event_name(event_type: &str, t: Tr) -> String {
    let zh = match event_type {
        "CaseReported" => "上报",
        "CaseRegistered" => "立案",
        "CaseRejected" => "不予立案",
        "CaseAssigned" => "派遣",
        "CaseEscalated" => "上报上级",
        "CaseDelegated" => "交办下级",
        "CaseReferred" => "移送",
        "ReferralReturned" => "移送退回",
        "MediationStarted" => "开始调解",
        "MediationSessionHeld" => "调解会",
        "MediationConcluded" => "调解结束",
        "CaseResolved" => "化解/处置",
        "ResolutionVerified" => "核查通过",
        "ResolutionRejected" => "核查退回（返工）",
        "CaseClosed" => "结案",
        "FeedbackRecorded" => "回访",
        "CaseReopened" => "重新办理",
        "DeadlineExtended" => "延期",
        "SupervisionIssued" => "督办",
        "NoteAdded" => "备注",
        "EvidenceAttached" => "附证据",
        "CaseMerged" => "合并",
        "CaseDetailsCorrected" => "更正",
        "CaseTakenOver" => "提级领办",
        "PartyAdded" => "新增当事人",
        other => other,
    };
    if t.zh() {
        zh.to_owned()
    } else {
        event_type.to_owned()
    }
}

fn check(web: &WebApp, t: Tr, commits: &[Committed], at: Option<Timestamp>) -> Checked {
    let mut head = ChainHead::EMPTY;
    let mut links = Vec::new();
    let mut out = Vec::new();
    let mut intact = true;
    for c in commits {
        for r in &c.events {
            let mut problems = Vec::new();
            let mut raw = Vec::new();
            if let Err(e) = chain::check_link(head, r) {
                problems.push(link_zh(&e, t));
                raw.push(e.to_string());
            }
            if let Err(e) = chain::check_hash(r) {
                problems.push(link_zh(&e, t));
                raw.push(e.to_string());
            }
            let facts = match r.decode() {
                Ok(ev) => serde_json::to_value(&ev).unwrap_or(Value::Null),
                Err(e) => {
                    problems.push(format!(
                        "{}: {e}",
                        if t.zh() {
                            "内容无法解码"
                        } else {
                            "does not decode"
                        }
                    ));
                    raw.push(format!("body does not decode: {e}"));
                    Value::Null
                }
            };
            intact &= problems.is_empty();
            let h = &r.header;
            out.push(json!({
                "version": h.case_version,
                "position": c.position,
                "event_type": r.event_type,
                "schema_version": r.schema_version,
                "occurred_at": h.occurred_at,
                "recorded_at": h.recorded_at,
                "actor": { "id": h.actor.id(), "role": h.actor.role() },
                "command_id": h.command_id,
                "event": facts,
                "prev_hash": r.prev_hash,
                "hash": r.hash,
                "intact": raw.is_empty(),
                "problems": raw,
            }));
            links.push(Link {
                version: h.case_version,
                position: c.position,
                recorded: web.clock.second(h.recorded_at),
                occurred: web.clock.minute(h.occurred_at),
                actor: format!(
                    "{} · {}",
                    web.app.directory.name_of(h.actor.id()),
                    t.role(&h.actor.role())
                ),
                event: event_name(&r.event_type, t),
                event_type: r.event_type.clone(),
                facts: serde_json::to_string_pretty(&facts).unwrap_or_default(),
                hash: r.hash.to_hex()[..12].to_owned(),
                hash_full: r.hash.to_hex(),
                prev: r.prev_hash.to_hex()[..12].to_owned(),
                problems,
                after: at.is_some_and(|at| h.recorded_at > at),
            });
            head = ChainHead::of(r);
        }
    }
    Checked {
        links,
        json: out,
        intact,
    }
}

/// The case folded up to `at`: its state and the number of events applied.
fn state_at(commits: &[Committed], at: Timestamp) -> (CaseState, usize) {
    let mut s = CaseState::default();
    let mut n = 0;
    'all: for c in commits {
        for r in &c.events {
            if r.header.recorded_at > at || r.header.case_version != s.version + 1 {
                break 'all;
            }
            match Envelope::try_from(r) {
                Ok(env) => s.apply(&env),
                Err(_) => break 'all,
            }
            n += 1;
        }
    }
    (s, n)
}

/// The whole state (for who may read it).
fn full_state(commits: &[Committed]) -> CaseState {
    state_at(commits, Timestamp::from_millis(i64::MAX)).0
}

/// Reads a case for the auditor: 404 when unknown or outside their scope (the same answer,
/// so that scope does not reveal which cases exist).
async fn read(web: &WebApp, v: &Viewer, id: &str) -> Result<(CaseId, Vec<Committed>), WebError> {
    require(web, v, Page::Audit)?;
    let not_found = || WebError::new(web, v, ApiError::NotFound(format!("no case {id}")));
    let case = CaseId::new(id).map_err(|_| not_found())?;
    let commits = web
        .app
        .path
        .log()
        .read_case(&case)
        .await
        .map_err(|e| WebError::new(web, v, e))?;
    if commits.is_empty() || !access::may_read_case(&v.actor, &full_state(&commits)) {
        return Err(not_found());
    }
    access::audit(&v.actor, &format!("history {case}"));
    Ok((case, commits))
}

#[derive(Template)]
#[template(path = "views/audit_index.html")]
struct IndexView {
    c: Chrome,
    t: Tr,
    case: String,
}

/// The query of `GET /audit`.
#[derive(Deserialize, Default)]
pub struct IndexQuery {
    #[serde(default)]
    case: String,
}

/// `GET /audit`: the case to look at.
pub async fn index(
    State(web): State<Web>,
    v: Viewer,
    Query(q): Query<IndexQuery>,
) -> Result<Response, WebError> {
    require(&web, &v, Page::Audit)?;
    let case = q.case.trim();
    if !case.is_empty() {
        return Ok(Redirect::to(&format!("/audit/cases/{}", encode(case))).into_response());
    }
    let t = v.tr();
    Ok(render(&IndexView {
        c: Chrome::new(&web, &v, Some(Page::Audit), t.s("audit.title")),
        t,
        case: String::new(),
    }))
}

/// The state shown for the as-of time.
pub struct StateView {
    /// Whether the case existed then.
    pub exists: bool,
    /// Version then.
    pub version: u64,
    /// Events applied.
    pub applied: usize,
    /// Events in all.
    pub total: usize,
    /// Status.
    pub status: String,
    /// Its badge class.
    pub status_class: &'static str,
    /// Rows: (label, value).
    pub rows: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "views/audit_case.html")]
struct CaseView {
    c: Chrome,
    t: Tr,
    case: String,
    links: Vec<Link>,
    intact: bool,
    at: String,
    state: StateView,
}

/// The query of the case's audit page.
#[derive(Deserialize, Default)]
pub struct AtQuery {
    #[serde(default)]
    at: String,
}

/// `GET /audit/cases/{id}`.
pub async fn case(
    State(web): State<Web>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<AtQuery>,
) -> Result<Response, WebError> {
    let (case, commits) = read(&web, &v, &id).await?;
    let t = v.tr();
    let at = match q.at.trim() {
        "" => None,
        // As the form sends it (local), or as the export and the API write it (RFC 3339).
        s => Some(
            web.clock
                .parse_input(s)
                .or_else(|| Timestamp::parse(s).ok())
                .ok_or_else(|| {
                    WebError::new(
                        &web,
                        &v,
                        ApiError::field(
                            BadRequestCode::InvalidQuery,
                            "at",
                            format!("at {s:?} is not a date and time"),
                        ),
                    )
                })?,
        ),
    };
    let checked = check(&web, t, &commits, at);
    let shown_at = at.unwrap_or_else(Timestamp::now);
    let (mut s, applied) = state_at(&commits, shown_at);
    if let Some(d) = s.details.as_mut() {
        crate::text::open_texts(
            &web.app,
            &v.actor,
            &case,
            vec![(gridcase_domain::SUMMARY_LABEL, &mut d.summary)],
            super::parties::PURPOSE_AUDIT_PAGE,
        )
        .await
        .map_err(|e| WebError::new(&web, &v, e))?;
    }
    let regions = &web.app.regions;
    // A grid's name (第1网格) means little alone: with its village.
    let place = |c: gridcase_domain::RegionCode| {
        let name = regions.name(c).unwrap_or_default();
        match c
            .parent()
            .filter(|_| c.level() == gridcase_domain::Level::Grid)
        {
            Some(v) => format!("{} {name}（{c}）", regions.name(v).unwrap_or_default()),
            None => format!("{name}（{c}）"),
        }
    };
    let mut rows = Vec::new();
    if let Some(d) = &s.details {
        rows.push((
            t.s("audit.kind"),
            format!(
                "{} / {} / {}",
                t.kind(&d.kind),
                t.category(&d.category),
                t.severity(&d.severity)
            ),
        ));
        rows.push((t.s("audit.location"), place(d.location)));
        rows.push((t.s("report.summary"), d.summary.to_clear_or_mark()));
    }
    if let Some(h) = s.holder {
        rows.push((t.s("audit.holder"), place(h)));
    }
    if let Some(h) = &s.handler {
        rows.push((t.s("audit.handler"), web.app.directory.name_of(h)));
    }
    // A deadline runs while the case is open; a finished case shows how it ended instead.
    if let Some(d) = s.deadline.filter(|_| s.status.is_open()) {
        rows.push((t.s("audit.deadline"), web.clock.minute(d)));
    }
    let name = |a: &gridcase_domain::ActorId| web.app.directory.name_of(a);
    if let Some(m) = &s.mediation {
        rows.push((
            t.s("audit.mediation"),
            format!(
                "{} · {} · {}（{}）",
                t.s("audit.mediating"),
                t.vocab(m.mediation_type.zh(), m.mediation_type.as_str()),
                name(&m.mediator),
                regions.name(m.organization).unwrap_or_default()
            ),
        ));
    } else if let Some(m) = s.mediations.last() {
        rows.push((
            t.s("audit.mediation"),
            format!(
                "{} · {} · {} · {}",
                t.vocab(m.outcome.zh(), m.outcome.as_str()),
                t.vocab(m.mediation_type.zh(), m.mediation_type.as_str()),
                name(&m.mediator),
                web.clock.minute(m.concluded_at)
            ),
        ));
    }
    if let Some(r) = &s.referral {
        rows.push((
            t.s("audit.referral"),
            format!(
                "{} · {} · {}",
                t.vocab(r.target.zh(), r.target.as_str()),
                r.body,
                web.clock.minute(r.at)
            ),
        ));
    }
    if let Some(r) = &s.resolution {
        rows.push((
            t.s("audit.resolution"),
            format!(
                "{} · {} · {}（{}）· {}",
                t.level(&r.level),
                t.vocab(r.method.zh(), r.method.as_str()),
                name(&r.by),
                regions.name(r.unit).unwrap_or_default(),
                web.clock.minute(r.at)
            ),
        ));
    }
    if let Some(m) = &s.merged_into {
        rows.push((t.s("audit.merged_into"), m.to_string()));
    }
    if let Some(f) = s.feedback {
        rows.push((t.s("audit.feedback"), t.vocab(f.zh(), f.as_str())));
    }
    if !s.path.is_empty() {
        rows.push((
            t.s("audit.path"),
            s.path
                .iter()
                .map(|c| regions.name(*c).unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
                .join(" → "),
        ));
    }
    let state = StateView {
        exists: s.version > 0,
        version: s.version,
        applied,
        total: checked.links.len(),
        status: t.status(&s.status),
        status_class: status_class(&s.status),
        rows,
    };
    Ok(render(&CaseView {
        c: Chrome::new(
            &web,
            &v,
            Some(Page::Audit),
            format!("{} {case}", t.s("audit.title")),
        ),
        t,
        case: case.to_string(),
        links: checked.links,
        intact: checked.intact,
        at: web.clock.input(shown_at),
        state,
    }))
}

/// `GET /audit/cases/{id}/history.json`: every event with its checks, as a file.
pub async fn download(
    State(web): State<Web>,
    v: Viewer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (case, commits) = read(&web, &v, &id).await?;
    let checked = check(&web, Tr::default(), &commits, None);
    let body = json!({
        "case_id": case,
        "exported_at": Timestamp::now(),
        "exported_by": v.actor.id(),
        "intact": checked.intact,
        "events": checked.json,
    });
    let bytes = serde_json::to_vec_pretty(&body)
        .map_err(|e| WebError::new(&web, &v, ApiError::Internal(e.to_string())))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{case}-history.json\""),
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
    fn every_event_type_has_chinese_words() {
        for ty in gridcase_domain::Event::TYPE_NAMES {
            let words = event_name(ty, Tr::default());
            assert!(
                !words.is_ascii(),
                "{ty} shows as {words:?} on the Chinese pages"
            );
        }
    }
}
