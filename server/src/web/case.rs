//! The case page (`/cases/{id}`): the facts, where it stands, its whole story and timeline,
//! and a small form for each action the viewer may take now.
//!
//! The page reads the case as the API's case view does (`read_case_file`,
//! `case_view_of`): from the log, so it is current. The actions offered are exactly the
//! case view's `allowed_actions` — the decider's own rules, asked through
//! [`gridcase_domain::allowed`] — and each form posts to `POST /cases/{id}/{action}`, which
//! builds the API's [`Action`] from the fields and runs it through
//! `api::commands::run`, the one command path. Every form carries the case's
//! version (a stale one answers 409 with an offer to reload) and its own idempotency key (a
//! double click acts once). A refusal shows the domain's reason in words
//! ([`Tr::rejection`]); so do a few refusals that explain why an expected action is missing
//! (e.g. whoever resolved a case does not verify it).
//!
//! Pickers come from the same read models as the API's: the ancestors of the holding unit to
//! escalate to, its descendants through cascading selects (`GET /cases/{id}/units`, htmx) to
//! delegate to, and the people of a unit ([`crate::directory::Directory::staff_of`]) to
//! assign or mediate.

use crate::error::BadRequestCode;
use std::collections::BTreeMap;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use gridcase_bus::{ExpectedVersion, Position};
use gridcase_domain::allowed::probe;
use gridcase_domain::{
    decide, Action, ActionKind, Actor, CaseFile, CaseId, CaseState, Category, Command, CommandId,
    Context, Envelope, MediationOutcome, MediationType, PartyRole, ReferralTarget, RegionCode,
    RejectReason, Rejection, ReopenReason, ResolutionMethod, Role, Satisfaction, Severity,
    Timestamp,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::audit::event_name;
use super::i18n::Tr;
use super::parties::PartiesCard;
use super::report::LocationPicker;
use super::rows::countdown;
use super::session::{encode, Viewer};
use super::{access, csrf, render, status_class, Chrome, Opt, Web, WebApp, WebError};
use crate::api::reads::{case_view_of, open_case_file, read_case_file, CaseView};
use crate::error::ApiError;

/// One field of an action form.
#[derive(Debug, Clone, Default)]
pub struct Field {
    /// `select`, `text`, `textarea`, `datetime`, `info` or `units` (the delegation picker).
    pub kind: &'static str,
    /// The form field's name.
    pub name: &'static str,
    /// Its label.
    pub label: &'static str,
    /// Help under it.
    pub help: Option<&'static str>,
    /// Required.
    pub required: bool,
    /// The value (text, textarea, datetime; the text of `info`).
    pub value: String,
    /// The lower bound (datetime).
    pub min: String,
    /// The options (select).
    pub options: Vec<Opt>,
    /// The picker (units).
    pub picker: Option<LocationPicker>,
}

/// The form of one action.
#[derive(Debug, Clone)]
pub struct ActionForm {
    /// The action's name (its URL).
    pub name: &'static str,
    /// What it is called.
    pub label: &'static str,
    /// One line on what it does.
    pub help: &'static str,
    /// Its fields.
    pub fields: Vec<Field>,
    /// Its idempotency key.
    pub key: String,
    /// Its button's class (`primary` for the case's next step).
    pub primary: bool,
    /// Shown open with what was typed in it (the form was just refused).
    pub open: bool,
}

/// An action missing from the forms, and why (a refusal that explains it).
#[derive(Debug, Clone)]
pub struct Blocked {
    /// The actions.
    pub labels: String,
    /// Why, in words.
    pub reason: String,
}

/// A row of a section of the story: when, who, what.
#[derive(Debug, Clone)]
pub struct StoryRow {
    /// When (local).
    pub at: String,
    /// Who (name), or empty.
    pub by: String,
    /// The headline.
    pub what: String,
    /// More text (a reason, a note, a summary).
    pub text: String,
    /// Lines under it (a mediation's sessions).
    pub lines: Vec<String>,
    /// A badge: (class, text).
    pub badge: Option<(&'static str, String)>,
}

/// A section of the story.
#[derive(Debug, Clone)]
pub struct Section {
    /// Its id.
    pub id: &'static str,
    /// Its title.
    pub title: &'static str,
    /// Its rows.
    pub rows: Vec<StoryRow>,
}

/// One event of the timeline.
#[derive(Debug, Clone)]
pub struct TimelineRow {
    /// Its version.
    pub version: u64,
    /// The event in words.
    pub event: String,
    /// Who: name and role.
    pub actor: String,
    /// When it happened (local).
    pub at: String,
    /// When recorded (local, seconds).
    pub recorded: String,
    /// The hash, short.
    pub hash: String,
    /// The hash, whole.
    pub hash_full: String,
}

#[derive(Template)]
#[template(path = "views/case.html")]
struct CasePage {
    c: Chrome,
    t: Tr,
    id: String,
    version: u64,
    status: String,
    status_class: &'static str,
    overdue: bool,
    supervised: u32,
    /// The case it was merged into, as a duplicate, and why.
    merged_into: Option<String>,
    merged_reason: String,
    summary: String,
    facts: Vec<(&'static str, String)>,
    path: Vec<(&'static str, String)>,
    holder: String,
    handler: String,
    deadline: String,
    countdown: String,
    due_class: &'static str,
    forms: Vec<ActionForm>,
    blocked: Vec<Blocked>,
    story: Vec<Section>,
    timeline: Vec<TimelineRow>,
    done: Option<String>,
    error: Option<String>,
    auditor: bool,
    parties: PartiesCard,
}

/// The page's words for an action.
fn action_words(kind: ActionKind) -> (&'static str, &'static str) {
    match kind {
        ActionKind::Register => ("act.register", "act.register_help"),
        ActionKind::Reject => ("act.reject", "act.reject_help"),
        ActionKind::Assign => ("act.assign", "act.assign_help"),
        ActionKind::Escalate => ("act.escalate", "act.escalate_help"),
        ActionKind::Delegate => ("act.delegate", "act.delegate_help"),
        ActionKind::Refer => ("act.refer", "act.refer_help"),
        ActionKind::ReturnReferral => ("act.return_referral", "act.return_referral_help"),
        ActionKind::StartMediation => ("act.start_mediation", "act.start_mediation_help"),
        ActionKind::HoldMediationSession => ("act.hold_session", "act.hold_session_help"),
        ActionKind::ConcludeMediation => ("act.conclude", "act.conclude_help"),
        ActionKind::Resolve => ("act.resolve", "act.resolve_help"),
        ActionKind::VerifyResolution => ("act.verify", "act.verify_help"),
        ActionKind::RejectResolution => ("act.rework", "act.rework_help"),
        ActionKind::Close => ("act.close", "act.close_help"),
        ActionKind::RecordFeedback => ("act.feedback", "act.feedback_help"),
        ActionKind::Reopen => ("act.reopen", "act.reopen_help"),
        ActionKind::ExtendDeadline => ("act.extend", "act.extend_help"),
        ActionKind::IssueSupervision => ("act.supervise", "act.supervise_help"),
        ActionKind::AddNote => ("act.note", "act.note_help"),
        ActionKind::AddParty => ("act.add_party", "act.add_party_help"),
        ActionKind::AttachEvidence => ("act.evidence", "act.evidence_help"),
        ActionKind::Merge => ("act.merge", "act.merge_help"),
        ActionKind::CorrectDetails => ("act.correct", "act.correct_help"),
        ActionKind::TakeOver => ("act.take_over", "act.take_over_help"),
        // It opens a case: never offered on one.
        ActionKind::Report => ("act.unknown", "act.unknown"),
    }
}

/// The actions that move the case on (the rest — notes, evidence, merging, corrections —
/// come after them).
fn is_step(kind: ActionKind) -> bool {
    use ActionKind as K;
    match kind {
        K::AddNote | K::AttachEvidence | K::Merge | K::CorrectDetails => false,
        K::Report
        | K::Register
        | K::Reject
        | K::Assign
        | K::Escalate
        | K::Delegate
        | K::Refer
        | K::ReturnReferral
        | K::StartMediation
        | K::HoldMediationSession
        | K::ConcludeMediation
        | K::Resolve
        | K::VerifyResolution
        | K::RejectResolution
        | K::Close
        | K::RecordFeedback
        | K::Reopen
        | K::ExtendDeadline
        | K::IssueSupervision
        | K::AddParty
        | K::TakeOver => true,
    }
}

/// The action to offer first: the one that moves the case on in the usual course — register it,
/// finish a running mediation (its mediator), resolve after an agreement, give it a handler,
/// resolve, verify, close — or else the first allowed step. While a mediation runs, the others
/// wait for its mediator: nothing is offered first (ending it is for a mediator who cannot).
fn next_step(allowed: &[ActionKind], s: &CaseState, role: Role) -> Option<ActionKind> {
    if s.mediation.is_some() && role != Role::Mediator {
        return None;
    }
    let agreed = s
        .mediations
        .last()
        .is_some_and(|m| m.outcome == MediationOutcome::Agreement)
        && s.mediation.is_none();
    let mut order = vec![
        ActionKind::Register,
        ActionKind::ConcludeMediation,
        ActionKind::VerifyResolution,
        ActionKind::Close,
    ];
    if agreed {
        order.push(ActionKind::Resolve);
    }
    if s.handler.is_none() {
        order.push(ActionKind::Assign);
    }
    order.extend([ActionKind::Resolve, ActionKind::RecordFeedback]);
    order
        .iter()
        .find(|o| allowed.contains(o))
        .or_else(|| allowed.iter().find(|k| is_step(**k)))
        .copied()
}

/// Refusals that explain why an action a person expects is not offered.
fn explains(r: &Rejection) -> bool {
    matches!(
        r,
        Rejection::ResolverCannotVerify { .. }
            | Rejection::NotVerified
            | Rejection::MediationInProgress { .. }
            | Rejection::NoMediatedAgreement
    )
}

fn opts<T: Copy + PartialEq>(
    all: &[T],
    chosen: Option<T>,
    value: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> String,
) -> Vec<Opt> {
    all.iter()
        .map(|v| Opt {
            value: value(*v).into(),
            label: label(*v),
            selected: Some(*v) == chosen,
        })
        .collect()
}

fn textarea(name: &'static str, label: &'static str, required: bool) -> Field {
    Field {
        kind: "textarea",
        name,
        label,
        required,
        ..Field::default()
    }
}

fn select(name: &'static str, label: &'static str, options: Vec<Opt>) -> Field {
    Field {
        kind: "select",
        name,
        label,
        required: true,
        options,
        ..Field::default()
    }
}

/// A region's name (`金桂社区`); its code only when the tree does not know it.
fn unit_name(web: &WebApp, c: RegionCode) -> String {
    web.app
        .regions
        .name(c)
        .map_or_else(|| c.to_string(), str::to_owned)
}

/// The delegation picker: the units below `holder`, level by level.
fn units_picker(
    web: &WebApp,
    t: Tr,
    case: &str,
    holder: RegionCode,
    chosen: &BTreeMap<u8, String>,
) -> LocationPicker {
    LocationPicker::new(t, &web.app.regions, holder, chosen).at(
        format!("/cases/{}/units", encode(case)),
        "case.holder",
        "case.choose_unit",
    )
}

/// The fields of the form of `name`.
fn fields(web: &WebApp, t: Tr, v: &Viewer, kind: ActionKind, s: &CaseState) -> Vec<Field> {
    let holder = s.holder.unwrap_or_else(|| v.actor.unit());
    let regions = &web.app.regions;
    let dir = &web.app.directory;
    match kind {
        ActionKind::Reject => vec![
            select(
                "reason",
                t.s("f.reject_reason"),
                opts(RejectReason::ALL, None, RejectReason::as_str, |r| {
                    t.vocab(r.zh(), r.as_str())
                }),
            ),
            textarea("note", t.s("f.note"), false),
        ],
        ActionKind::Assign => {
            let handlers: Vec<_> = if v.actor.role() == Role::GridWorker {
                vec![crate::directory::Person::new(
                    &v.actor,
                    dir.name_of(v.actor.id()),
                )]
            } else {
                dir.staff_of(holder).handlers
            };
            vec![select(
                "handler",
                t.s("f.handler"),
                handlers
                    .iter()
                    .map(|p| Opt {
                        value: p.id.to_string(),
                        label: if &p.id == v.actor.id() {
                            format!("{}（{}）", p.name, t.s("f.me"))
                        } else {
                            p.name.clone()
                        },
                        selected: &p.id == v.actor.id(),
                    })
                    .collect(),
            )]
        }
        ActionKind::Escalate => vec![
            select(
                "to",
                t.s("f.escalate_to"),
                holder
                    .ancestors()
                    .filter(|c| regions.contains_code(*c))
                    .enumerate()
                    .map(|(i, c)| Opt {
                        value: c.to_string(),
                        label: format!("{} · {}", t.level(&c.level()), unit_name(web, c)),
                        selected: i == 0,
                    })
                    .collect(),
            ),
            textarea("reason", t.s("f.reason"), true),
        ],
        ActionKind::Delegate => vec![
            Field {
                kind: "units",
                name: "to",
                label: t.s("f.delegate_to"),
                picker: Some(units_picker(
                    web,
                    t,
                    s.id.as_ref().map_or("", |c| c.as_str()),
                    holder,
                    &BTreeMap::new(),
                )),
                ..Field::default()
            },
            textarea("reason", t.s("f.reason"), true),
        ],
        ActionKind::Refer => vec![
            select(
                "target",
                t.s("f.refer_target"),
                opts(ReferralTarget::ALL, None, ReferralTarget::as_str, |r| {
                    t.vocab(r.zh(), r.as_str())
                }),
            ),
            Field {
                kind: "text",
                name: "body",
                label: t.s("f.refer_body"),
                required: true,
                ..Field::default()
            },
            textarea("reason", t.s("f.reason"), true),
        ],
        ActionKind::ReturnReferral | ActionKind::RejectResolution | ActionKind::TakeOver => {
            vec![textarea("reason", t.s("f.reason"), true)]
        }
        ActionKind::StartMediation => {
            // The mediators of the holding unit and of the units above it, nearest first.
            let mediators: Vec<Opt> = holder
                .self_and_ancestors()
                .flat_map(|u| dir.staff_of(u).mediators)
                .map(|p| Opt {
                    label: format!("{}（{}）", p.name, regions.name(p.unit).unwrap_or_default()),
                    value: p.id.to_string(),
                    selected: false,
                })
                .collect();
            vec![
                select(
                    "mediation_type",
                    t.s("f.mediation_type"),
                    opts(
                        MediationType::ALL,
                        Some(MediationType::People),
                        MediationType::as_str,
                        |m| t.vocab(m.zh(), m.as_str()),
                    ),
                ),
                select("mediator", t.s("f.mediator"), mediators),
            ]
        }
        ActionKind::HoldMediationSession => {
            vec![textarea("summary", t.s("f.session_summary"), true)]
        }
        // The mediator records an agreement or a failure; the holding unit only ends a
        // mediation its mediator cannot finish, as not agreed, saying why.
        ActionKind::ConcludeMediation if v.actor.role() != Role::Mediator => vec![
            Field {
                kind: "info",
                label: t.s("f.outcome"),
                value: t.vocab(MediationOutcome::Failure.zh(), "failure"),
                ..Field::default()
            },
            textarea("note", t.s("f.end_mediation_reason"), true),
        ],
        ActionKind::ConcludeMediation => vec![
            select(
                "outcome",
                t.s("f.outcome"),
                opts(
                    MediationOutcome::ALL,
                    Some(MediationOutcome::Agreement),
                    MediationOutcome::as_str,
                    |m| t.vocab(m.zh(), m.as_str()),
                ),
            ),
            Field {
                help: Some(t.s("f.outcome_note_help")),
                ..textarea("note", t.s("f.outcome_note"), false)
            },
        ],
        ActionKind::Resolve => vec![
            select(
                "method",
                t.s("f.method"),
                opts(
                    ResolutionMethod::ALL,
                    Some(if s.agreement_pending {
                        ResolutionMethod::MediatedAgreement
                    } else {
                        ResolutionMethod::OnTheSpot
                    }),
                    ResolutionMethod::as_str,
                    |m| t.vocab(m.zh(), m.as_str()),
                ),
            ),
            Field {
                kind: "info",
                label: t.s("f.level"),
                value: format!("{} · {}", t.level(&holder.level()), unit_name(web, holder)),
                ..Field::default()
            },
            textarea("summary", t.s("f.resolution_summary"), true),
        ],
        ActionKind::VerifyResolution => vec![textarea("note", t.s("f.note"), false)],
        ActionKind::RecordFeedback => vec![
            select(
                "satisfaction",
                t.s("f.satisfaction"),
                opts(
                    Satisfaction::ALL,
                    Some(Satisfaction::Satisfied),
                    Satisfaction::as_str,
                    |x| t.vocab(x.zh(), x.as_str()),
                ),
            ),
            textarea("comment", t.s("f.comment"), false),
        ],
        ActionKind::Reopen => vec![
            select(
                "reason",
                t.s("f.reopen_reason"),
                opts(ReopenReason::ALL, None, ReopenReason::as_str, |r| {
                    t.vocab(r.zh(), r.as_str())
                }),
            ),
            textarea("note", t.s("f.note"), false),
        ],
        ActionKind::ExtendDeadline => {
            // A new deadline is later than the current one and than now (an overdue case's
            // extension gives time from today).
            let now = Timestamp::now();
            let current = s.deadline.map_or(now, |d| d.max(now));
            vec![
                Field {
                    kind: "datetime",
                    name: "deadline",
                    label: t.s("f.new_deadline"),
                    required: true,
                    value: web.clock.input(current.plus_days(7)),
                    min: web.clock.input(current),
                    help: Some(t.s("f.new_deadline_help")),
                    ..Field::default()
                },
                textarea("reason", t.s("f.reason"), true),
            ]
        }
        ActionKind::IssueSupervision => vec![textarea("note", t.s("f.instruction"), true)],
        ActionKind::AddNote => vec![textarea("text", t.s("f.note_text"), true)],
        ActionKind::AddParty => {
            let text = |name, label, help| Field {
                kind: "text",
                name,
                label,
                help,
                ..Field::default()
            };
            vec![
                select(
                    "role",
                    t.s("f.party_role"),
                    opts(
                        PartyRole::ALL,
                        Some(PartyRole::ThirdParty),
                        PartyRole::as_str,
                        |r| t.vocab(r.zh(), r.as_str()),
                    ),
                ),
                text("name", t.s("parties.name"), None),
                text(
                    "id_number",
                    t.s("parties.id_number"),
                    Some(t.s("f.id_number_help")),
                ),
                text("phone", t.s("parties.phone"), None),
                text("address", t.s("parties.address"), None),
            ]
        }
        ActionKind::AttachEvidence => vec![
            Field {
                kind: "text",
                name: "content_hash",
                label: t.s("f.content_hash"),
                required: true,
                help: Some(t.s("f.content_hash_help")),
                ..Field::default()
            },
            Field {
                kind: "text",
                name: "media_type",
                label: t.s("f.media_type"),
                required: true,
                value: "image/jpeg".into(),
                ..Field::default()
            },
            textarea("description", t.s("f.description"), false),
        ],
        ActionKind::Merge => vec![
            Field {
                kind: "text",
                name: "into",
                label: t.s("f.merge_into"),
                required: true,
                ..Field::default()
            },
            textarea("reason", t.s("f.reason"), true),
        ],
        ActionKind::CorrectDetails => {
            let d = s.details.as_ref();
            let unchanged = |label: &str| Opt {
                value: String::new(),
                label: label.to_owned(),
                selected: true,
            };
            let keep = t.s("f.unchanged");
            vec![
                select(
                    "category",
                    t.s("report.category"),
                    std::iter::once(unchanged(keep))
                        .chain(
                            Category::ALL
                                .iter()
                                .filter(|c| d.is_none_or(|d| c.fits(d.kind)))
                                .map(|c| Opt {
                                    value: c.as_str().into(),
                                    label: t.category(c),
                                    selected: false,
                                }),
                        )
                        .collect(),
                ),
                select(
                    "severity",
                    t.s("report.severity"),
                    std::iter::once(unchanged(keep))
                        .chain(Severity::ALL.iter().map(|x| Opt {
                            value: x.as_str().into(),
                            label: t.severity(x),
                            selected: false,
                        }))
                        .collect(),
                ),
                Field {
                    value: d.map(|d| d.summary.to_clear_or_mark()).unwrap_or_default(),
                    ..textarea("summary", t.s("report.summary"), false)
                },
                textarea("reason", t.s("f.reason"), true),
            ]
        }
        // Nothing to fill in; `report` has its own page.
        ActionKind::Register | ActionKind::Close | ActionKind::Report => Vec::new(),
    }
}

/// What the form sent, as the API's action (400 naming the field when it does not fit).
fn action_of(
    web: &WebApp,
    kind: ActionKind,
    s: &CaseState,
    form: &BTreeMap<String, String>,
) -> Result<Action, ApiError> {
    let field = |k: &str| form.get(k).map(|v| v.trim()).unwrap_or("");
    let mut obj = Map::new();
    obj.insert("action".into(), Value::String(kind.name().into()));
    let mut put = |k: &str, v: Value| {
        obj.insert(k.into(), v);
    };
    let text = |k: &str| Value::String(field(k).to_owned());
    let holder = s.holder;
    match kind {
        ActionKind::Reject | ActionKind::Reopen => {
            put("reason", text("reason"));
            put("note", text("note"));
        }
        ActionKind::Assign => put("handler", text("handler")),
        ActionKind::Escalate => {
            if !field("to").is_empty() {
                put("to", text("to"));
            }
            put("reason", text("reason"));
        }
        ActionKind::Delegate => {
            let chosen: BTreeMap<u8, String> = (1..=4)
                .filter_map(|r| {
                    let v = field(&format!("l{r}"));
                    (!v.is_empty()).then(|| (r, v.to_owned()))
                })
                .collect();
            let picker =
                holder.map(|h| LocationPicker::new(Tr::default(), &web.app.regions, h, &chosen));
            let Some(picker) = picker.filter(LocationPicker::narrowed) else {
                return Err(ApiError::field(
                    BadRequestCode::InvalidField,
                    "to",
                    "choose the unit to delegate to",
                ));
            };
            put("to", Value::String(picker.location.to_string()));
            put("reason", text("reason"));
        }
        ActionKind::Refer => {
            put("target", text("target"));
            put("body", text("body"));
            put("reason", text("reason"));
        }
        ActionKind::ReturnReferral | ActionKind::RejectResolution | ActionKind::TakeOver => {
            put("reason", text("reason"))
        }
        ActionKind::StartMediation => {
            put("mediation_type", text("mediation_type"));
            put("mediator", text("mediator"));
            // The mediation organization is the mediator's unit.
            let org = gridcase_domain::ActorId::new(field("mediator"))
                .ok()
                .and_then(|m| web.app.directory.person(&m))
                .map(|p| p.unit)
                .or(holder);
            if let Some(org) = org {
                put("organization", Value::String(org.to_string()));
            }
        }
        ActionKind::HoldMediationSession => put("summary", text("summary")),
        ActionKind::ConcludeMediation => {
            // The holding unit's form has no choice: it ends a mediation as not agreed.
            let outcome = Some(field("outcome")).filter(|o| !o.is_empty());
            put(
                "outcome",
                Value::String(outcome.unwrap_or("failure").to_owned()),
            );
            put("note", text("note"));
        }
        ActionKind::Resolve => {
            put("method", text("method"));
            put("summary", text("summary"));
        }
        ActionKind::VerifyResolution => put("note", text("note")),
        ActionKind::RecordFeedback => {
            put("satisfaction", text("satisfaction"));
            put("comment", text("comment"));
        }
        ActionKind::ExtendDeadline => {
            let at = web.clock.parse_input(field("deadline")).ok_or_else(|| {
                ApiError::field(
                    BadRequestCode::InvalidField,
                    "deadline",
                    "deadline is not a date and time",
                )
            })?;
            put(
                "deadline",
                serde_json::to_value(at).map_err(|e| ApiError::Internal(e.to_string()))?,
            );
            put("reason", text("reason"));
        }
        ActionKind::IssueSupervision => put("note", text("note")),
        ActionKind::AddNote => put("text", text("text")),
        // The id is the server's ([`crate::api::parties::assign_party_ids`]); the personal
        // fields go to the vault, not into the action.
        ActionKind::AddParty => put(
            "party",
            serde_json::json!({ "id": "pending", "role": field("role") }),
        ),
        ActionKind::AttachEvidence => {
            put("content_hash", text("content_hash"));
            put("media_type", text("media_type"));
            put("description", text("description"));
        }
        ActionKind::Merge => {
            put("into", text("into"));
            put("reason", text("reason"));
        }
        ActionKind::CorrectDetails => {
            let d = s.details.as_ref();
            for k in ["category", "severity"] {
                if !field(k).is_empty() {
                    put(k, text(k));
                }
            }
            if d.is_some_and(|d| d.summary.to_clear_or_mark().trim() != field("summary"))
                && !field("summary").is_empty()
            {
                put("summary", text("summary"));
            }
            put("reason", text("reason"));
        }
        ActionKind::Register | ActionKind::Close | ActionKind::Report => {}
    }
    serde_path_to_error::deserialize(Value::Object(obj)).map_err(|e| {
        let path = e.path().to_string();
        ApiError::field(
            BadRequestCode::InvalidField,
            // An error not inside one field (serde could not say which) is the form's.
            if path == "." { "form".to_owned() } else { path },
            e.into_inner().to_string(),
        )
    })
}

/// Reads the case for `v`: 403 for analysts, 404 when unknown or outside their view.
async fn read(
    web: &WebApp,
    v: &Viewer,
    id: &str,
) -> Result<(CaseId, CaseFile, Vec<(Position, Envelope)>), WebError> {
    if v.actor.role() == Role::Analyst {
        return Err(WebError::new(
            web,
            v,
            ApiError::Forbidden("analysts read statistics only".into()),
        ));
    }
    let not_found = || WebError::new(web, v, ApiError::NotFound(format!("no case {id}")));
    let case = CaseId::new(id).map_err(|_| not_found())?;
    let Some((file, envelopes)) = read_case_file(&web.app, &case)
        .await
        .map_err(|e| WebError::new(web, v, e))?
    else {
        return Err(not_found());
    };
    if !access::may_read_case(&v.actor, &file.state) {
        return Err(not_found());
    }
    let purpose = if v.actor.role() == Role::Auditor {
        super::parties::PURPOSE_AUDIT_PAGE
    } else {
        super::parties::PURPOSE_CASE_PAGE
    };
    let (file, envelopes) = open_case_file(&web.app, &v.actor, &case, envelopes, purpose)
        .await
        .map_err(|e| WebError::new(web, v, e))?;
    access::audit(&v.actor, &format!("case {case}"));
    Ok((case, file, envelopes))
}

/// The refusals that explain missing actions, grouped by reason.
fn blocked(
    web: &WebApp,
    t: Tr,
    actor: &Actor,
    s: &CaseState,
    allowed: &[ActionKind],
) -> Vec<Blocked> {
    let ctx = Context {
        regions: web.app.path.regions(),
        policy: web.app.path.policy(),
        now: Timestamp::now(),
    };
    let mut out: Vec<Blocked> = Vec::new();
    for kind in ActionKind::case_commands().filter(|k| !allowed.contains(k)) {
        let Some(action) = probe(kind, s, actor, &ctx) else {
            continue;
        };
        let cmd = Command {
            actor: actor.clone(),
            occurred_at: ctx.now,
            action,
        };
        let Err(r) = decide(s, &cmd, &ctx) else {
            continue;
        };
        if !explains(&r) {
            continue;
        }
        let reason = t.rejection(&r, &web.app.regions, &web.clock);
        let label = t.s(action_words(kind).0);
        match out.iter_mut().find(|b| b.reason == reason) {
            Some(b) => {
                b.labels.push_str(" / ");
                b.labels.push_str(label);
            }
            None => out.push(Blocked {
                labels: label.to_owned(),
                reason,
            }),
        }
    }
    out
}

fn story(web: &WebApp, t: Tr, f: &CaseFile) -> Vec<Section> {
    let name = |id: &gridcase_domain::ActorId| web.app.directory.name_of(id);
    let region = |c: RegionCode| web.app.regions.name(c).unwrap_or_default().to_owned();
    let at = |x: Timestamp| web.clock.minute(x);
    let row = |when: Timestamp, by: String, what: String, text: String| StoryRow {
        at: at(when),
        by,
        what,
        text,
        lines: Vec::new(),
        badge: None,
    };
    let mut out = Vec::new();
    let moves = f
        .moves
        .iter()
        .map(|m| {
            let kind = t.s(match m.kind {
                "escalated" => "story.escalated",
                "delegated" => "story.delegated",
                "taken_over" => "story.taken_over",
                "referral_returned" => "story.referral_returned",
                _ => "story.reopened",
            });
            // A reopening says why in its own words (协议未履行, 新情况…).
            let kind = match m.code.and_then(|c| c.parse::<ReopenReason>().ok()) {
                Some(r) => format!("{kind}（{}）", t.vocab(r.zh(), r.as_str())),
                None => kind.to_owned(),
            };
            let what = match m.from {
                Some(from) => format!("{kind}：{} → {}", region(from), region(m.to)),
                None => format!("{kind}：{}", region(m.to)),
            };
            row(m.stamp.at, name(&m.stamp.by), what, m.reason.clone())
        })
        .collect();
    out.push(Section {
        id: "moves",
        title: t.s("story.moves"),
        rows: moves,
    });
    out.push(Section {
        id: "deadlines",
        title: t.s("story.deadlines"),
        rows: f
            .deadlines
            .iter()
            .map(|d| {
                row(
                    d.at,
                    String::new(),
                    match d.deadline {
                        Some(x) => format!("{} {}", t.s("story.deadline_to"), at(x)),
                        None => t.s("story.clock_stopped").to_owned(),
                    },
                    // An extension with the reason it was approved for.
                    if d.reason.is_empty() {
                        event_name(d.cause, t)
                    } else {
                        format!("{}：{}", event_name(d.cause, t), d.reason)
                    },
                )
            })
            .collect(),
    });
    out.push(Section {
        id: "referrals",
        title: t.s("story.referrals"),
        rows: f
            .referrals
            .iter()
            .map(|r| {
                let mut x = row(
                    r.stamp.at,
                    name(&r.stamp.by),
                    format!("{}：{}", t.vocab(r.target.zh(), r.target.as_str()), r.body),
                    r.reason.clone(),
                );
                if let Some((when, why)) = &r.returned {
                    x.lines
                        .push(format!("{} {}：{why}", at(*when), t.s("story.returned")));
                }
                x
            })
            .collect(),
    });
    out.push(Section {
        id: "mediations",
        title: t.s("story.mediations"),
        rows: f
            .mediations
            .iter()
            .map(|m| {
                let mut x = row(
                    m.stamp.at,
                    name(&m.stamp.by),
                    format!(
                        "{} · {} {}（{}）",
                        t.vocab(m.mediation_type.zh(), m.mediation_type.as_str()),
                        t.s("f.mediator"),
                        name(&m.mediator),
                        region(m.organization)
                    ),
                    format!("{} {}", t.s("story.due"), at(m.deadline)),
                );
                for s in &m.sessions {
                    x.lines.push(if t.zh() {
                        format!("第{}次调解会 {}：{}", s.number, at(s.at), s.summary)
                    } else {
                        format!("Session {}, {}: {}", s.number, at(s.at), s.summary)
                    });
                }
                if let Some((outcome, note, when)) = &m.outcome {
                    x.badge = Some((
                        if *outcome == MediationOutcome::Agreement {
                            "ok"
                        } else {
                            "bad"
                        },
                        t.vocab(outcome.zh(), outcome.as_str()),
                    ));
                    // Ended by the holding unit (its mediator could not go on): said so.
                    let by = match &m.concluded_by {
                        Some(by) if by != &m.mediator => {
                            format!("（{}{}）", name(by), t.s("story.ended_by_unit"))
                        }
                        _ => String::new(),
                    };
                    x.lines.push(format!(
                        "{} {}{by}：{note}",
                        at(*when),
                        t.s("story.concluded")
                    ));
                } else {
                    x.badge = Some(("warn", t.s("story.ongoing").to_owned()));
                }
                x
            })
            .collect(),
    });
    out.push(Section {
        id: "resolutions",
        title: t.s("story.resolutions"),
        rows: f
            .resolutions
            .iter()
            .map(|r| {
                let mut x = row(
                    r.stamp.at,
                    name(&r.stamp.by),
                    format!(
                        "{} · {} · {}",
                        t.vocab(r.method.zh(), r.method.as_str()),
                        t.level(&r.level),
                        region(r.unit)
                    ),
                    r.summary.clone(),
                );
                if !r.on_time {
                    x.lines.push(t.s("story.late").to_owned());
                }
                if let Some((s, note)) = &r.verified {
                    x.badge = Some(("ok", t.s("story.verified").to_owned()));
                    x.lines.push(format!(
                        "{} {} {}{}",
                        at(s.at),
                        name(&s.by),
                        t.s("story.verified"),
                        if note.is_empty() {
                            String::new()
                        } else {
                            format!("：{note}")
                        }
                    ));
                }
                if let Some((s, why)) = &r.rejected {
                    x.badge = Some(("bad", t.s("story.reworked").to_owned()));
                    x.lines.push(format!(
                        "{} {} {}：{why}",
                        at(s.at),
                        name(&s.by),
                        t.s("story.reworked")
                    ));
                }
                x
            })
            .collect(),
    });
    out.push(Section {
        id: "supervisions",
        title: t.s("story.supervisions"),
        rows: f
            .supervisions
            .iter()
            .map(|s| {
                let mut x = row(
                    s.stamp.at,
                    name(&s.stamp.by),
                    region(s.by_unit),
                    s.note.clone(),
                );
                if s.overdue {
                    x.badge = Some(("bad", t.s("case.overdue").to_owned()));
                }
                x
            })
            .collect(),
    });
    let entries = |key: &'static str, id: &'static str, rows: Vec<StoryRow>| Section {
        id,
        title: t.s(key),
        rows,
    };
    out.push(entries(
        "story.notes",
        "notes",
        f.notes
            .iter()
            .map(|e| row(e.stamp.at, name(&e.stamp.by), String::new(), e.text.clone()))
            .collect(),
    ));
    out.push(entries(
        "story.evidence",
        "evidence",
        f.evidence
            .iter()
            .map(|(e, hash, media)| {
                row(
                    e.stamp.at,
                    name(&e.stamp.by),
                    format!("{media} · {}…", &hash.to_hex()[..12]),
                    e.text.clone(),
                )
            })
            .collect(),
    ));
    out.push(entries(
        "story.feedback",
        "feedback",
        f.feedback
            .iter()
            .map(|(e, s)| {
                let mut x = row(e.stamp.at, name(&e.stamp.by), String::new(), e.text.clone());
                x.badge = Some((
                    if s.is_positive() { "ok" } else { "bad" },
                    t.vocab(s.zh(), s.as_str()),
                ));
                x
            })
            .collect(),
    ));
    out.push(entries(
        "story.corrections",
        "corrections",
        f.corrections
            .iter()
            .map(|e| row(e.stamp.at, name(&e.stamp.by), String::new(), e.text.clone()))
            .collect(),
    ));
    out.retain(|s| !s.rows.is_empty());
    out
}

/// The page of a case for `v`, with a message after an action (`done`) or a refusal.
fn page(
    web: &WebApp,
    v: &Viewer,
    view: CaseView,
    envelopes: &[(Position, Envelope)],
    done: Option<String>,
    refused: Option<Refused<'_>>,
    parties: PartiesCard,
) -> CasePage {
    let (mut error, kept) = match refused {
        Some(r) => (Some(r.reason), Some((r.kind, r.posted))),
        None => (None, None),
    };
    let t = v.tr();
    let s = &view.case;
    let dir = &web.app.directory;
    let regions = &web.app.regions;
    let d = s.details.as_ref();
    let now = Timestamp::now();
    let mut facts = Vec::new();
    if let Some(d) = d {
        facts.push((t.s("report.kind"), t.kind(&d.kind)));
        facts.push((t.s("report.category"), t.category(&d.category)));
        facts.push((t.s("report.source"), t.source(&d.source)));
        facts.push((t.s("report.severity"), t.severity(&d.severity)));
        facts.push((t.s("case.parties"), d.parties.len().to_string()));
        facts.push((t.s("report.happened_at"), web.clock.minute(d.happened_at)));
    }
    if let Some(r) = s.reported_at {
        let by = view
            .file
            .reported_by
            .as_ref()
            .map(|b| format!("（{}）", dir.name_of(b)))
            .unwrap_or_default();
        facts.push((
            t.s("case.reported_at"),
            format!("{}{by}", web.clock.minute(r)),
        ));
    }
    if let Some(r) = s.registered_at {
        facts.push((t.s("case.registered_at"), web.clock.minute(r)));
    }
    let path = d
        .map(|d| {
            let mut p: Vec<(&'static str, String)> = d
                .location
                .self_and_ancestors()
                .filter_map(|c| Some((t.level(&c.level()), regions.name(c)?.to_owned())))
                .collect();
            p.reverse();
            p
        })
        .unwrap_or_default();
    let (countdown, due) = countdown(t, s.deadline, s.status.is_open(), now);
    let mut allowed: Vec<ActionKind> = view
        .allowed_actions
        .iter()
        .filter_map(|name| ActionKind::from_name(name))
        .collect();
    let step = next_step(&allowed, s, v.actor.role());
    allowed.sort_by_key(|k| !is_step(*k));
    let forms: Vec<ActionForm> = allowed
        .iter()
        .map(|&kind| {
            let (label, mut help) = action_words(kind);
            if kind == ActionKind::ConcludeMediation && v.actor.role() != Role::Mediator {
                help = "act.end_mediation_help";
            }
            let mut fields = fields(web, t, v, kind, s);
            let typed = kept.filter(|(k, _)| *k == kind).map(|(_, posted)| posted);
            if let Some(posted) = typed {
                keep_typed(&mut fields, posted);
            }
            ActionForm {
                name: kind.name(),
                label: t.s(label),
                help: t.s(help),
                fields,
                key: format!("web-{}", &csrf::token()[..32]),
                primary: Some(kind) == step,
                open: typed.is_some(),
            }
        })
        .collect();
    // A refused form that is not offered any more (the case moved on): what was typed in it is
    // given back in the message, not lost.
    if let (Some(e), Some((kind, posted))) = (error.as_mut(), kept) {
        if !forms.iter().any(|f| f.open) {
            let typed: Vec<String> = fields(web, t, v, kind, s)
                .iter()
                .filter_map(|x| {
                    let text = posted.get(x.name)?.trim();
                    (matches!(x.kind, "text" | "textarea") && !text.is_empty())
                        .then(|| format!("{}：{text}", x.label))
                })
                .collect();
            if !typed.is_empty() {
                e.push_str(&format!("{}{}", t.s("case.form_gone"), typed.join("；")));
            }
        }
    }
    let blocked = blocked(web, t, &v.actor, s, &allowed);
    let timeline = envelopes
        .iter()
        .map(|(_, e)| {
            let h = &e.header;
            TimelineRow {
                version: h.case_version,
                event: event_name(e.event.type_name(), t),
                actor: format!(
                    "{} · {}",
                    dir.name_of(h.actor.id()),
                    t.role(&h.actor.role())
                ),
                at: web.clock.minute(h.occurred_at),
                recorded: web.clock.second(h.recorded_at),
                hash: e.hash.to_hex()[..10].to_owned(),
                hash_full: e.hash.to_hex(),
            }
        })
        .collect();
    CasePage {
        c: Chrome::new(
            web,
            v,
            None,
            format!("{} {}", t.s("case.title"), view.case_id),
        ),
        t,
        id: view.case_id.to_string(),
        version: view.version,
        status: t.status(&s.status),
        status_class: status_class(&s.status),
        overdue: view.overdue,
        supervised: s.supervisions,
        merged_into: view.file.merged.as_ref().map(|(c, _)| c.to_string()),
        merged_reason: view
            .file
            .merged
            .as_ref()
            .map(|(_, why)| why.clone())
            .unwrap_or_default(),
        summary: d.map(|d| d.summary.to_clear_or_mark()).unwrap_or_default(),
        facts,
        path,
        holder: s.holder.map_or_else(
            || "—".into(),
            |h| format!("{} · {}", t.level(&h.level()), unit_name(web, h)),
        ),
        handler: s
            .handler
            .as_ref()
            .map_or_else(|| "—".into(), |h| dir.name_of(h)),
        deadline: s
            .deadline
            .filter(|_| s.status.is_open())
            .map_or_else(|| "—".into(), |x| web.clock.minute(x)),
        countdown,
        due_class: due.class(),
        forms,
        blocked,
        story: story(web, t, &view.file),
        timeline,
        done,
        error,
        auditor: v.actor.role() == Role::Auditor,
        parties,
    }
}

/// The query of the case page: the action just taken.
#[derive(Deserialize, Default)]
pub struct CaseQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    dup: String,
}

/// `GET /cases/{id}`.
pub async fn show(
    State(web): State<Web>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<CaseQuery>,
) -> Result<Response, WebError> {
    let (case, file, envelopes) = read(&web, &v, &id).await?;
    let t = v.tr();
    let done = if q.done == "erased" {
        Some(t.s("parties.done_erased").to_owned())
    } else if q.done == "text_erased" {
        Some(t.s("parties.done_text_erased").to_owned())
    } else {
        ActionKind::case_command(&q.done).map(|kind| {
            let mut s = format!("{}{}", t.s("case.done"), t.s(action_words(kind).0));
            if !q.dup.is_empty() {
                s.push_str(t.s("case.done_again"));
            }
            s
        })
    };
    let parties = super::parties::card(&web, &v, &case, &file.state).await;
    let view = case_view_of(&web.app, &v.actor, file, &envelopes);
    Ok(render(&page(
        &web, &v, view, &envelopes, done, None, parties,
    )))
}

/// The form of a reveal.
#[derive(Debug, Deserialize)]
pub struct RevealForm {
    csrf: String,
    #[serde(default)]
    purpose: String,
}

/// `POST /cases/{id}/parties/{party}/reveal`: the case page with the party's whole ID number
/// shown once (never in a URL), recorded with the stated purpose.
pub async fn reveal(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Path((id, party)): Path<(String, String)>,
    form: Result<Form<RevealForm>, FormRejection>,
) -> Result<Response, WebError> {
    let Form(f) = form.map_err(|e| super::parties::form_error(&web, &v, e))?;
    if !csrf::verify(&v.csrf, Some(&f.csrf), &headers) {
        return Err(WebError::csrf(Chrome::new(&web, &v, None, "")));
    }
    let back = format!("/cases/{}", encode(&id));
    let number = super::parties::reveal_number(&web, &v.actor, &id, &party, &f.purpose)
        .await
        .map_err(|e| WebError::new(&web, &v, e).reload_at(back))?;
    show_with(&web, &v, &id, Some((party, number))).await
}

/// The case page with an ID number just revealed (`(party, number)`), shown once.
async fn show_with(
    web: &WebApp,
    v: &Viewer,
    id: &str,
    revealed: Option<(String, String)>,
) -> Result<Response, WebError> {
    let (case, file, envelopes) = read(web, v, id).await?;
    let mut parties = super::parties::card(web, v, &case, &file.state).await;
    parties.revealed = revealed;
    let view = case_view_of(&web.app, &v.actor, file, &envelopes);
    Ok(render(&page(web, v, view, &envelopes, None, None, parties)))
}

/// The query of `GET /cases/{id}/units`: the levels chosen so far.
#[derive(Deserialize, Default)]
pub struct UnitsQuery {
    #[serde(default)]
    l4: String,
    #[serde(default)]
    l3: String,
    #[serde(default)]
    l2: String,
    #[serde(default)]
    l1: String,
}

/// `GET /cases/{id}/units` (htmx): the delegation picker again after a level changed.
pub async fn units(
    State(web): State<Web>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<UnitsQuery>,
) -> Result<Response, WebError> {
    let (case, file, _) = read(&web, &v, &id).await?;
    let holder = file.state.holder.unwrap_or_else(|| v.actor.unit());
    let chosen = [(4, q.l4), (3, q.l3), (2, q.l2), (1, q.l1)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    Ok(render(&units_picker(
        &web,
        v.tr(),
        case.as_str(),
        holder,
        &chosen,
    )))
}

/// `POST /cases/{id}/{action}`: one action's form.
pub async fn act(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Result<Response, WebError> {
    let f = form.map(|Form(f)| f).map_err(|e| {
        WebError::new(
            &web,
            &v,
            ApiError::BadRequest {
                code: BadRequestCode::InvalidField,
                message: e.body_text(),
                field: None,
            },
        )
    })?;
    if !csrf::verify(&v.csrf, f.get("csrf").map(String::as_str), &headers) {
        return Err(WebError::csrf(Chrome::new(&web, &v, None, "")));
    }
    let case_page = format!("/cases/{}", encode(&id));
    let Some(kind) = ActionKind::case_command(&name) else {
        return Err(WebError::new(
            &web,
            &v,
            ApiError::NotFound(format!("no action {name}")),
        ));
    };
    let (case, file, _) = read(&web, &v, &id).await?;
    let action = match action_of(&web, kind, &file.state, &f) {
        Ok(action) => action,
        Err(e) => return refused_form(&web, &v, &id, kind, &f, &e).await,
    };
    let key = f.get("key").map(|k| k.trim()).unwrap_or("");
    CommandId::new(key).map_err(|e| {
        WebError::new(
            &web,
            &v,
            ApiError::field(BadRequestCode::InvalidField, "key", e.to_string()),
        )
    })?;
    let lifted = if kind == ActionKind::AddParty {
        // A party added on the page is someone: at least one of their fields is filled in (an
        // added party stays in the case for good).
        let data = match super::parties::personal_of_form(&f, "").and_then(|d| {
            d.map(Some).ok_or_else(|| {
                ApiError::field(
                    BadRequestCode::InvalidField,
                    "personal",
                    "a new party needs a name, an ID number, a phone or an address",
                )
            })
        }) {
            Ok(data) => data,
            Err(e) => return refused_form(&web, &v, &id, kind, &f, &e).await,
        };
        crate::api::parties::Lifted {
            parties: vec![(0, data)],
        }
    } else {
        crate::api::parties::Lifted::default()
    };
    let body = serde_json::to_vec(&action).unwrap_or_default();
    let mut sub = crate::api::commands::submission(
        &web.app,
        &v.actor,
        Some(case.clone()),
        Some(key),
        action,
        Timestamp::now(),
        &body,
    );
    // The version the page showed: a form that names none acts on the case as it stands; one
    // that names something else is malformed (not silently unchecked).
    match f.get("version").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => {}
        Some(s) => match s.parse() {
            Ok(version) => sub.expected = ExpectedVersion::Exactly(version),
            Err(_) => {
                let e = ApiError::field(
                    BadRequestCode::InvalidField,
                    "version",
                    format!("version {s:?} is not a number"),
                );
                return refused_form(&web, &v, &id, kind, &f, &e).await;
            }
        },
    }
    let personal =
        crate::api::parties::assign_party_ids(&mut sub.command.action, &sub.command_id, lifted);
    match crate::api::commands::run(&web.app, sub).await {
        Ok(done) => {
            crate::api::parties::store_personal(&web.app, &v.actor, &personal)
                .await
                .map_err(|e| WebError::new(&web, &v, e).reload_at(case_page.clone()))?;
            let mut to = format!("{case_page}?done={name}");
            if done.duplicate {
                to.push_str("&dup=1");
            }
            Ok(Redirect::to(&to).into_response())
        }
        // Refused, a stale version or a key sent again with other words: the case as it
        // stands, the reason above it, the form open with what was typed (nothing is lost).
        Err(
            e @ (ApiError::Rejected(_)
            | ApiError::Denied(_)
            | ApiError::Conflict { .. }
            | ApiError::KeyMismatch(_)
            | ApiError::BadRequest { .. }),
        ) => refused_form(&web, &v, &id, kind, &f, &e).await,
        Err(e) => Err(WebError::new(&web, &v, e).reload_at(case_page)),
    }
}

/// A form the case page shows refused: why, and what was sent in it.
struct Refused<'a> {
    reason: String,
    kind: ActionKind,
    posted: &'a BTreeMap<String, String>,
}

/// Puts what was typed into a refused form back into its fields.
fn keep_typed(fields: &mut [Field], posted: &BTreeMap<String, String>) {
    for x in fields {
        let Some(typed) = posted.get(x.name) else {
            continue;
        };
        match x.kind {
            "text" | "textarea" | "datetime" => x.value = typed.clone(),
            "select" => {
                for o in &mut x.options {
                    o.selected = &o.value == typed;
                }
            }
            _ => {}
        }
    }
}

/// Why a case form was refused, in words, with the fields named as the form labels them.
fn refusal_words(
    web: &WebApp,
    v: &Viewer,
    kind: ActionKind,
    s: &CaseState,
    posted: &BTreeMap<String, String>,
    e: &ApiError,
) -> String {
    let t = v.tr();
    let fields = fields(web, t, v, kind, s);
    let label = |field: &str| {
        fields.iter().find(|x| x.name == field).map_or_else(
            || super::i18n::field_label(field).to_owned(),
            |x| x.label.to_owned(),
        )
    };
    let why = match e {
        ApiError::Rejected(Rejection::InvalidField { field, reason }) => {
            t.invalid_field(&label(field), field, reason)
        }
        // A person the unit does not have, named as people know them.
        ApiError::Rejected(
            r @ (Rejection::HandlerNotOfUnit { handler: who, .. }
            | Rejection::MediatorNotOfOrganization { mediator: who, .. }),
        ) => t.rejection(r, &web.app.regions, &web.clock).replacen(
            who.as_str(),
            &web.app.directory.name_of(who),
            1,
        ),
        ApiError::Rejected(r) | ApiError::Denied(r) => t.rejection(r, &web.app.regions, &web.clock),
        ApiError::Conflict { .. } => t.s("case.conflict").to_owned(),
        ApiError::KeyMismatch(_) => t.s("case.sent_before").to_owned(),
        ApiError::BadRequest {
            field: Some(field),
            message,
            ..
        } if t.zh() => {
            // The form's own name for it (`id_number` for the API's `personal.id_number`).
            let short = field.rsplit('.').next().unwrap_or(field);
            let typed = posted
                .get(field.as_str())
                .or_else(|| posted.get(short))
                .map_or("", |s| s.trim());
            t.bad_field(&label(field), field, typed, message)
        }
        other => other.to_string(),
    };
    format!("{}：{why}", t.s(action_words(kind).0))
}

/// The case page again after a form of `kind` was refused with `e`: the case as it stands
/// now, why in words above it, and the form open with what was typed in it.
async fn refused_form(
    web: &WebApp,
    v: &Viewer,
    id: &str,
    kind: ActionKind,
    posted: &BTreeMap<String, String>,
    e: &ApiError,
) -> Result<Response, WebError> {
    let (case, file, envelopes) = read(web, v, id).await?;
    let reason = refusal_words(web, v, kind, &file.state, posted, e);
    let parties = super::parties::card(web, v, &case, &file.state).await;
    let view = case_view_of(&web.app, &v.actor, file, &envelopes);
    let refused = Refused {
        reason,
        kind,
        posted,
    };
    let page = page(web, v, view, &envelopes, None, Some(refused), parties);
    let mut resp = render(&page);
    *resp.status_mut() = e.status();
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_words_and_a_form() {
        for kind in ActionKind::case_commands() {
            let (label, help) = action_words(kind);
            let name = kind.name();
            assert_ne!(label, "act.unknown", "{name}");
            let t = Tr::default();
            assert_ne!(t.s(label), "?", "{name}");
            assert_ne!(t.s(help), "?", "{name}");
        }
    }
}
