//! 当事人 on the workbench: the parties card of the case page, the reveal of an ID number,
//! a person's other cases, erasure, and the auditors' access log — over the same calls as the
//! API ([`crate::api::parties`]), so the same people see the same things and every read of
//! personal data is recorded the same way.
//!
//! | route | what | who |
//! |---|---|---|
//! | `POST /cases/{id}/parties/{party}/reveal` | the case page with the whole ID number shown once ([`super::case::reveal`]) | the holding unit, the active mediator |
//! | `GET /cases/{id}/parties/{party}/other-cases` | the same person's other cases (blind index) | the same |
//! | `POST /parties/{party}/erase` | erasure with a legal basis, back to the case | supervisors, admins |
//! | `POST /cases/{id}/text/erase` | a finished case's free text erased, back to the case | the same |
//! | `GET /audit/access-log` | who read, revealed, looked up or erased personal data | auditors |

use crate::error::BadRequestCode;
use std::collections::BTreeMap;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use gridcase_domain::{Actor, CaseId, CaseState, Role};
use serde::Deserialize;

use super::i18n::Tr;
use super::rows::RowView;
use super::session::{encode, Viewer};
use super::{csrf, render, require, Chrome, Opt, Page, Web, WebApp, WebError};
use crate::api::parties::{self as api, AccessLogQuery, DataStatus, LegalBasis, PersonalInput};
use crate::error::ApiError;

/// The purpose recorded when the case page shows a party's name and phone to those who
/// handle the case.
pub const PURPOSE_CASE_PAGE: &str = "办理案件（查看案件页面）";

/// The purpose recorded when the case page shows them to an auditor granted personal data.
pub const PURPOSE_AUDIT_PAGE: &str = "审计（查看案件页面）";

/// One party as the card shows it.
#[derive(Debug, Clone)]
pub struct PartyRow {
    /// The opaque id.
    pub id: String,
    /// The role in words.
    pub role: String,
    /// `held`, `erased` or `none`.
    pub status: &'static str,
    /// When it was erased (local), for `erased`.
    pub erased_at: String,
    /// 姓名, for readers of personal data.
    pub name: String,
    /// 身份证号码, masked.
    pub id_masked: String,
    /// 电话.
    pub phone: String,
    /// 地址.
    pub address: String,
}

/// The parties card of the case page.
#[derive(Debug, Clone, Default)]
pub struct PartiesCard {
    /// Whether the viewer sees personal fields (and may reveal them).
    pub personal: bool,
    /// Whether the viewer may look up the same person's other cases (the holding unit and
    /// the active mediator; not an auditor granted personal data).
    pub can_look_up: bool,
    /// Whether the viewer may erase (supervisors, admins).
    pub can_erase: bool,
    /// The parties.
    pub rows: Vec<PartyRow>,
    /// The legal bases to choose from when erasing.
    pub bases: Vec<Opt>,
    /// An ID number revealed just now: (party id, the number).
    pub revealed: Option<(String, String)>,
    /// For those who may erase: where the case's free text stands.
    pub text: Option<TextCard>,
}

/// Where a case's free text stands, for those who may erase it.
#[derive(Debug, Clone, Default)]
pub struct TextCard {
    /// `allowed` (the form is shown), `erased`, `unsealed`, `open`, `party_held` or `kept`.
    pub state: &'static str,
    /// Why not, or when it was erased, in words.
    pub note: String,
}

/// The card for `v` on a case; a vault that cannot be read shows the parties without their
/// data rather than failing the whole page.
pub async fn card(web: &WebApp, v: &Viewer, case: &CaseId, state: &CaseState) -> PartiesCard {
    let t = v.tr();
    let list = match api::parties_of(
        &web.app,
        &v.actor,
        case.clone(),
        state,
        Some(if v.actor.role() == Role::Auditor {
            PURPOSE_AUDIT_PAGE
        } else {
            PURPOSE_CASE_PAGE
        }),
    )
    .await
    {
        Ok(list) => list,
        Err(e) => {
            tracing::warn!(error = %e, "the parties card without personal data");
            return PartiesCard {
                rows: state
                    .details
                    .iter()
                    .flat_map(|d| d.parties.iter())
                    .map(|p| PartyRow {
                        id: p.id.to_string(),
                        role: role_words(t, p.role),
                        status: "none",
                        erased_at: String::new(),
                        name: String::new(),
                        id_masked: String::new(),
                        phone: String::new(),
                        address: String::new(),
                    })
                    .collect(),
                ..PartiesCard::default()
            };
        }
    };
    let rows = list
        .parties
        .into_iter()
        .map(|p| {
            let personal = p.personal.unwrap_or(api::PersonalView {
                name: None,
                id_number_masked: None,
                phone: None,
                address: None,
            });
            PartyRow {
                id: p.id.to_string(),
                role: role_words(t, p.role),
                status: match p.data {
                    DataStatus::Held => "held",
                    DataStatus::Erased => "erased",
                    DataStatus::None => "none",
                },
                erased_at: p
                    .erased_at
                    .map(|at| web.clock.minute(at))
                    .unwrap_or_default(),
                name: personal.name.unwrap_or_default(),
                id_masked: personal.id_number_masked.unwrap_or_default(),
                phone: personal.phone.unwrap_or_default(),
                address: personal.address.unwrap_or_default(),
            }
        })
        .collect();
    let can_erase = api::may_erase(&v.actor).is_ok();
    let text = if can_erase {
        text_card(web, t, case, state).await
    } else {
        None
    };
    PartiesCard {
        personal: list.personal_data,
        can_look_up: list.personal_data && api::require_lookup(&v.actor).is_ok(),
        can_erase,
        text,
        rows,
        bases: LegalBasis::ALL
            .iter()
            .map(|b| Opt {
                value: b.as_str().into(),
                label: if t.zh() {
                    b.zh().into()
                } else {
                    b.as_str().replace('_', " ")
                },
                selected: false,
            })
            .collect(),
        revealed: None,
    }
}

/// Where the case's free text stands (its key, then [`api::text_erasure`] as the projection
/// stands, without waiting for it); none if the vault cannot say.
async fn text_card(web: &WebApp, t: Tr, case: &CaseId, state: &CaseState) -> Option<TextCard> {
    use api::TextErasure as E;
    use gridcase_vault::CaseTextStatus;
    let unknown = |e: &dyn std::fmt::Display| {
        tracing::warn!(error = %e, "the case text's erasure state is unknown");
        None
    };
    let (state, note) = match web.app.vault.case_text_status(case).await {
        Err(e) => return unknown(&e),
        Ok(CaseTextStatus::Erased { at }) => (
            "erased",
            format!(
                "{}{}",
                t.s("parties.text_erased"),
                web.clock
                    .minute(gridcase_domain::Timestamp::from_millis(at.as_millisecond()))
            ),
        ),
        Ok(CaseTextStatus::Unknown) => ("unsealed", t.s("parties.text_unsealed").to_owned()),
        Ok(CaseTextStatus::Sealed) => match api::text_erasure(&web.app, case, state, false).await {
            Err(e) => return unknown(&e),
            Ok(E::Allowed) => ("allowed", String::new()),
            Ok(E::NotFinished(_)) => ("open", t.s("parties.text_open").to_owned()),
            Ok(E::PartyHeld(_)) => ("party_held", t.s("parties.text_party_held").to_owned()),
            Ok(E::KeptUntil(until)) => (
                "kept",
                format!("{}{}", t.s("parties.text_kept"), web.clock.minute(until)),
            ),
        },
    };
    Some(TextCard { state, note })
}

fn role_words(t: Tr, role: gridcase_domain::PartyRole) -> String {
    if t.zh() {
        role.zh().to_owned()
    } else {
        role.as_str().replace('_', " ")
    }
}

/// The personal fields of a form (`name`, `id_number`, `phone`, `address`), checked.
///
/// # Errors
///
/// 400 naming the field.
pub fn personal_of_form(
    form: &BTreeMap<String, String>,
    prefix: &str,
) -> Result<Option<gridcase_vault::PersonalData>, ApiError> {
    let get = |k: &str| {
        form.get(&format!("{prefix}{k}"))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    api::personal_data(
        &PersonalInput {
            name: get("name"),
            id_number: get("id_number"),
            phone: get("phone"),
            address: get("address"),
        },
        "personal",
    )
}

/// A form that does not parse: 400.
pub(crate) fn form_error(web: &WebApp, v: &Viewer, e: FormRejection) -> WebError {
    WebError::new(
        web,
        v,
        ApiError::BadRequest {
            code: BadRequestCode::InvalidField,
            message: e.body_text(),
            field: None,
        },
    )
}

/// The whole ID number of a party of `case`, for the holding unit or the active mediator,
/// recorded with `purpose` before it is returned.
pub async fn reveal_number(
    web: &WebApp,
    actor: &Actor,
    case: &str,
    party: &str,
    purpose: &str,
) -> Result<String, ApiError> {
    let (_, _, party) = api::personal_party(&web.app, actor, case, party).await?;
    let purpose = api::purpose(Some(purpose), "purpose")?;
    let who = gridcase_vault::Accessor::now(actor.id().clone(), actor.role(), purpose);
    let number = web.app.vault.reveal_id_number(&party, &who).await?;
    Ok(number.expose().to_owned())
}

#[derive(Template)]
#[template(path = "views/other_cases.html")]
struct OtherCasesView {
    c: Chrome,
    t: Tr,
    case: String,
    rows: Vec<(RowView, String)>,
    hidden: usize,
}

/// `GET /cases/{id}/parties/{party}/other-cases`.
pub async fn other_cases(
    State(web): State<Web>,
    v: Viewer,
    Path((id, party)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let t = v.tr();
    let back = format!("/cases/{}", encode(&id));
    let found = api::same_person_cases(
        &web.app,
        &v.actor,
        &id,
        &party,
        Some("核查当事人的其他案件"),
    )
    .await
    .map_err(|e| WebError::new(&web, &v, e).reload_at(back))?;
    let rows = found
        .items
        .iter()
        .map(|o| {
            let matched = o
                .matched_by
                .iter()
                .map(|f| match (t.zh(), f.as_str()) {
                    (true, "id_number") => "身份证号码",
                    (true, "phone") => "电话",
                    (true, "name") => "姓名",
                    (_, other) => other,
                })
                .collect::<Vec<_>>()
                .join("、");
            (
                RowView::of(t, &web.clock, &o.case, gridcase_domain::Timestamp::now()),
                matched,
            )
        })
        .collect();
    Ok(render(&OtherCasesView {
        c: Chrome::new(&web, &v, None, t.s("parties.other_title")),
        t,
        case: id,
        rows,
        hidden: found.hidden,
    }))
}

/// The form of an erasure.
#[derive(Debug, Deserialize)]
pub struct EraseForm {
    csrf: String,
    case: String,
    #[serde(default)]
    legal_basis: String,
    #[serde(default)]
    remark: String,
}

/// `POST /parties/{party}/erase`: back to the case page, the party shown as 已删除.
pub async fn erase(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Path(party): Path<String>,
    form: Result<Form<EraseForm>, FormRejection>,
) -> Result<Response, WebError> {
    let Form(f) = form.map_err(|e| form_error(&web, &v, e))?;
    let (app, actor) = (&web.app, &v.actor);
    erasure(
        &web,
        &v,
        &headers,
        &f.csrf,
        &f.case,
        &f.legal_basis,
        "erased",
        async |basis| {
            let (_, state) = api::readable_case(app, actor, &f.case).await?;
            let party = api::party_of(&state, &party)?;
            api::erase_party(app, actor, &party, basis, Some(&f.remark)).await
        },
    )
    .await
}

/// What both erasure forms do around their erasure: the CSRF token, who may erase, the legal
/// basis chosen; then back to the case page with `done` shown, or the refusal in words.
#[allow(clippy::too_many_arguments)]
async fn erasure(
    web: &Web,
    v: &Viewer,
    headers: &HeaderMap,
    csrf_token: &str,
    case: &str,
    basis: &str,
    done: &str,
    erase: impl AsyncFnOnce(LegalBasis) -> Result<(), ApiError>,
) -> Result<Response, WebError> {
    if !csrf::verify(&v.csrf, Some(csrf_token), headers) {
        return Err(WebError::csrf(Chrome::new(web, v, None, "")));
    }
    let back = format!("/cases/{}", encode(case));
    let erased = async {
        api::may_erase(&v.actor)?;
        erase(legal_basis(basis)?).await
    }
    .await;
    match erased {
        Ok(()) => Ok(Redirect::to(&format!("{back}?done={done}")).into_response()),
        Err(e) => Err(WebError::new(web, v, e).reload_at(back)),
    }
}

/// The legal basis chosen in an erasure form: 400 naming the field if none is.
fn legal_basis(chosen: &str) -> Result<LegalBasis, ApiError> {
    LegalBasis::ALL
        .into_iter()
        .find(|b| b.as_str() == chosen)
        .ok_or_else(|| {
            ApiError::field(
                BadRequestCode::InvalidField,
                "legal_basis",
                "choose the legal basis",
            )
        })
}

/// The form erasing a case's free text.
#[derive(Debug, Deserialize)]
pub struct EraseTextForm {
    csrf: String,
    #[serde(default)]
    legal_basis: String,
    #[serde(default)]
    remark: String,
}

/// `POST /cases/{id}/text/erase`: the case's free text erased (its key destroyed), back to
/// the case page; refused in words while the case is open, a party's data is held or the
/// retention period runs.
pub async fn erase_text(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<EraseTextForm>, FormRejection>,
) -> Result<Response, WebError> {
    let Form(f) = form.map_err(|e| form_error(&web, &v, e))?;
    let (app, actor) = (&web.app, &v.actor);
    erasure(
        &web,
        &v,
        &headers,
        &f.csrf,
        &id,
        &f.legal_basis,
        "text_erased",
        async |basis| {
            api::erase_case_text(app, actor, &id, basis, Some(&f.remark))
                .await
                .map(drop)
        },
    )
    .await
}

/// One line of the access log page.
pub struct AccessLine {
    /// When (local).
    pub at: String,
    /// Who, by name, and the role.
    pub who: String,
    /// What, in words.
    pub action: String,
    /// The party.
    pub party: String,
    /// The fields.
    pub fields: String,
    /// The purpose or legal basis.
    pub purpose: String,
}

#[derive(Template)]
#[template(path = "views/access_log.html")]
struct AccessLogView {
    c: Chrome,
    t: Tr,
    party: String,
    actor: String,
    actions: Vec<Opt>,
    lines: Vec<AccessLine>,
}

/// The query of the access log page.
#[derive(Debug, Default, Deserialize)]
pub struct AccessLogForm {
    #[serde(default)]
    party: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
}

const ACTIONS: [(&str, &str); 7] = [
    ("write", "登记"),
    ("read", "查看"),
    ("reveal_id_number", "显示完整身份证号"),
    ("lookup", "比对查找"),
    ("erase_party_data", "删除个人信息"),
    ("read_case_text", "读取案件文字"),
    ("erase_case_key", "删除案件密钥"),
];

fn action_words(t: Tr, a: &str) -> String {
    match ACTIONS.iter().find(|(k, _)| *k == a) {
        Some((_, zh)) if t.zh() => (*zh).to_owned(),
        _ => a.replace('_', " "),
    }
}

/// A recorded purpose with a legal basis's code (`data_subject_request: …`) in words.
fn basis_words(t: Tr, purpose: &str) -> String {
    let (code, rest) = purpose.split_once(": ").unwrap_or((purpose, ""));
    match LegalBasis::ALL.into_iter().find(|b| b.as_str() == code) {
        Some(b) if t.zh() => {
            if rest.is_empty() {
                b.zh().to_owned()
            } else {
                format!("{}：{rest}", b.zh())
            }
        }
        _ => purpose.to_owned(),
    }
}

/// `GET /audit/access-log`.
pub async fn access_log(
    State(web): State<Web>,
    v: Viewer,
    Query(q): Query<AccessLogForm>,
) -> Result<Response, WebError> {
    require(&web, &v, Page::Audit)?;
    let t = v.tr();
    let query = AccessLogQuery {
        party: Some(q.party.trim().to_owned()),
        actor: Some(q.actor.trim().to_owned()),
        action: Some(q.action.trim().to_owned()),
        ..AccessLogQuery::default()
    };
    let log = api::access_log_for(&web.app, &v.actor, &query)
        .await
        .map_err(|e| WebError::new(&web, &v, e))?;
    let lines = log
        .entries
        .into_iter()
        .rev()
        .map(|e| AccessLine {
            at: web.clock.second(e.at),
            who: format!(
                "{} · {}",
                web.app.directory.name_of(&e.actor),
                t.role(&e.role)
            ),
            action: action_words(t, &e.action),
            party: e.party.map(|p| p.to_string()).unwrap_or_default(),
            fields: e
                .fields
                .iter()
                .map(|f| {
                    if t.zh() {
                        super::i18n::field_label(f.as_str())
                    } else {
                        f.as_str()
                    }
                })
                .collect::<Vec<_>>()
                .join(if t.zh() { "、" } else { ", " }),
            purpose: basis_words(t, &e.purpose),
        })
        .collect();
    Ok(render(&AccessLogView {
        c: Chrome::new(&web, &v, Some(Page::Audit), t.s("access.title")),
        t,
        party: q.party,
        actor: q.actor,
        actions: ACTIONS
            .iter()
            .map(|(k, zh)| Opt {
                value: (*k).into(),
                label: if t.zh() {
                    (*zh).into()
                } else {
                    k.replace('_', " ")
                },
                selected: *k == q.action,
            })
            .collect(),
        lines,
    }))
}
