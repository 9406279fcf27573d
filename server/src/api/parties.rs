//! Parties' personal data (当事人信息) over HTTP: what the personal data vault holds for the
//! parties of a case, who may see it, the lookup of a person's other cases, erasure, and the
//! access log (DOMAIN.md, "Personal information"; docs/personal-data.md).
//!
//! | method | path | who |
//! |---|---|---|
//! | GET | `/api/v1/cases/{id}/parties?purpose=` | the case's readers; names and phones only for the holding unit, the active mediator and auditors granted personal data |
//! | POST | `/api/v1/cases/{id}/parties/{party}/reveal` | the same people: the whole ID number, with a purpose |
//! | GET | `/api/v1/cases/{id}/parties/{party}/other-cases?purpose=` | the holding unit and the active mediator: cases of the same person, by blind index |
//! | DELETE | `/api/v1/parties/{party}/personal-data` | supervisors and admins over one of the party's cases, with a legal basis |
//! | DELETE | `/api/v1/cases/{id}/text` | the same people: a finished case's free text, once every party is erased and retention has passed |
//! | GET | `/api/v1/access-log` | auditors and admins: every read, reveal, lookup, write and erasure |
//!
//! Personal fields enter with a report (`parties[].personal`) or the `add_party` command
//! (`party.personal`): [`take_personal`] lifts them out of the body before it becomes an
//! [`Action`] — the event log carries only the party's opaque id and role — and
//! [`store_personal`] puts them in the vault once the command is recorded. A party given with
//! personal fields gets its id from the server (derived from the command id, so a retry with
//! the same `Idempotency-Key` names the same party): nobody can overwrite another case's party
//! by naming its id.
//!
//! Every read of personal data is recorded by the vault before anything is returned, with the
//! actor, role and stated purpose. Analysts never reach personal data (403 everywhere here);
//! auditors see parties' ids, roles and whether data is held or erased, and the access log.

use crate::error::{BadRequestCode, RefusalCode};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use gridcase_bus::EventLog;
use gridcase_domain::{
    Action, Actor, ActorId, CaseId, CaseState, CommandId, PartyId, PartyRole, Role, Timestamp,
};
use gridcase_projections::SearchQuery;
use gridcase_vault::{
    AccessFilter, Accessor, Address, Field, IdNumber, InvalidField, Lookup, PartyStatus,
    PersonName, PersonalData, Phone, VaultError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::access::may_read_case;
use super::params::parse_case_id;
use super::shape::CaseRow;
use crate::app::{App, AppState};
use crate::error::ApiError;

/// The purpose recorded when personal fields come with a report or an added party.
pub const PURPOSE_INTAKE: &str = "登记当事人信息";

/// Longest stated purpose or erasure remark (they are recorded in clear: no personal data).
pub const MAX_PURPOSE_CHARS: usize = 200;

/// A party's personal fields as a request gives them; each optional, each checked (an ID
/// number's GB 11643 check character, a phone's digits).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonalInput {
    /// 姓名.
    #[schema(max_length = 64, example = "王秀英")]
    pub name: Option<String>,
    /// 身份证号码 (18 characters, check character verified).
    #[schema(example = "11010519491231002X")]
    pub id_number: Option<String>,
    /// 电话 (digits as dialled; `+86`, spaces and dashes allowed).
    #[schema(example = "138 1234 5678")]
    pub phone: Option<String>,
    /// 地址.
    #[schema(max_length = 255)]
    pub address: Option<String>,
}

/// A party in a report's `parties` or in `add_party`'s `party`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyInput {
    /// An opaque id. Omit it when giving `personal` (the server assigns one); give it only to
    /// name a party known by id alone.
    #[schema(value_type = Option<String>)]
    pub id: Option<PartyId>,
    /// The party's role.
    #[schema(value_type = String, example = "applicant")]
    pub role: PartyRole,
    /// Personal fields, kept in the encrypted vault, never in the event log.
    pub personal: Option<PersonalInput>,
}

/// Personal data lifted out of a command's body: for each party (by its index in the action)
/// that had no id, whether it came with personal fields.
#[derive(Debug, Default)]
pub struct Lifted {
    /// (index of the party in the action, its personal data if given).
    pub parties: Vec<(usize, Option<PersonalData>)>,
}

/// The placeholder id of a party whose id the server derives ([`assign_party_ids`]).
const PENDING: &str = "pending";

/// Lifts `personal` out of the parties of a `report` or `add_party` body and marks the parties
/// without an id (they get a placeholder until [`assign_party_ids`]).
///
/// # Errors
///
/// 400 naming the field: personal fields that fail their check, unknown personal fields, or
/// `personal` beside an `id`.
pub fn take_personal(action: &str, obj: &mut Map<String, Value>) -> Result<Lifted, ApiError> {
    let (field, items): (&str, Vec<&mut Value>) = match action {
        Action::REPORT => match obj.get_mut("parties") {
            Some(Value::Array(a)) => ("parties", a.iter_mut().collect()),
            _ => return Ok(Lifted::default()),
        },
        "add_party" => match obj.get_mut("party") {
            Some(v @ Value::Object(_)) => ("party", vec![v]),
            _ => return Ok(Lifted::default()),
        },
        _ => return Ok(Lifted::default()),
    };
    let mut lifted = Lifted::default();
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(party) = item else { continue };
        let at = if field == "party" {
            "party".to_owned()
        } else {
            format!("parties[{i}]")
        };
        let personal = party.remove("personal");
        let has_id = party.get("id").is_some_and(|v| !v.is_null());
        let data = match personal {
            None | Some(Value::Null) => None,
            Some(p) => {
                if has_id {
                    return Err(ApiError::field(
                        BadRequestCode::InvalidField,
                        format!("{at}.id"),
                        format!(
                            "{at}: personal data is given for new parties only; omit id (the \
                             server assigns one)"
                        ),
                    ));
                }
                let input: PersonalInput = serde_json::from_value(p).map_err(|e| {
                    ApiError::field(
                        BadRequestCode::InvalidField,
                        format!("{at}.personal"),
                        format!("{at}.personal: {e}"),
                    )
                })?;
                personal_data(&input, &format!("{at}.personal"))?
            }
        };
        if !has_id {
            party.insert("id".into(), Value::String(PENDING.into()));
            lifted.parties.push((i, data));
        }
    }
    Ok(lifted)
}

/// The checked personal data of `input` (`None` when every field is empty).
///
/// # Errors
///
/// 400 naming `<at>.<field>`.
pub fn personal_data(input: &PersonalInput, at: &str) -> Result<Option<PersonalData>, ApiError> {
    fn field<T>(
        v: &Option<String>,
        at: &str,
        name: &str,
        make: impl Fn(&str) -> Result<T, gridcase_vault::InvalidField>,
    ) -> Result<Option<T>, ApiError> {
        v.as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                make(s).map_err(|e| {
                    ApiError::field(
                        BadRequestCode::InvalidField,
                        format!("{at}.{name}"),
                        e.to_string(),
                    )
                })
            })
            .transpose()
    }
    let data = PersonalData {
        name: field(&input.name, at, "name", PersonName::new)?,
        id_number: field(&input.id_number, at, "id_number", IdNumber::new)?,
        phone: field(&input.phone, at, "phone", Phone::new)?,
        address: field(&input.address, at, "address", Address::new)?,
    };
    let empty = data.name.is_none()
        && data.id_number.is_none()
        && data.phone.is_none()
        && data.address.is_none();
    Ok((!empty).then_some(data))
}

/// The id the server gives the `index`-th new party of the command `command`: the same for a
/// retry with the same key, unguessable without it.
pub fn derived_party_id(command: &CommandId, index: usize) -> PartyId {
    let mut h = Sha256::new();
    h.update(b"gridcase/party/");
    h.update(command.as_str().as_bytes());
    h.update([0]);
    h.update((index as u64).to_be_bytes());
    PartyId::new(format!("p-{}", hex::encode(&h.finalize()[..12]))).expect("a valid party id")
}

/// Gives the parties marked by [`take_personal`] their derived ids; returns (id, data) of
/// those with personal data, to store once the command is recorded.
pub fn assign_party_ids(
    action: &mut Action,
    command: &CommandId,
    lifted: Lifted,
) -> Vec<(PartyId, PersonalData)> {
    let mut out = Vec::new();
    for (i, data) in lifted.parties {
        let id = derived_party_id(command, i);
        match action {
            Action::Report { parties, .. } => {
                if let Some(p) = parties.get_mut(i) {
                    p.id = id.clone();
                }
            }
            Action::AddParty { party } => party.id = id.clone(),
            _ => {}
        }
        if let Some(d) = data {
            out.push((id, d));
        }
    }
    out
}

/// Stores the personal data of a recorded command's parties (also when the command was a
/// retry: the data given again replaces what the first attempt stored).
///
/// # Errors
///
/// 503 when the vault cannot store it; the command *is* recorded, and repeating the request
/// with the same `Idempotency-Key` stores the data without recording anything twice.
pub async fn store_personal(
    app: &AppState,
    actor: &Actor,
    parties: &[(PartyId, PersonalData)],
) -> Result<(), ApiError> {
    let who = Accessor::now(actor.id().clone(), actor.role(), PURPOSE_INTAKE);
    for (id, data) in parties {
        app.vault
            .put_party(id, data, &who)
            .await
            .map_err(|e| ApiError::Unavailable {
                public: "the case was recorded, but the parties' personal data could not be \
                         stored; repeat the request with the same Idempotency-Key",
                internal: crate::error::chain(&e),
                retry_after: 5,
                damage: false,
            })?;
    }
    Ok(())
}

/// Whether `actor` may see the personal fields of this case's parties: the holding unit's
/// grid workers and staff and the mediator of its running mediation (by their work), and
/// auditors given the grant `[privacy] personal_data_auditors` (for cases in their scope, which
/// the caller has checked) — nobody else (minimum access, PIPL art. 6).
pub fn may_read_personal(app: &App, actor: &Actor, s: &CaseState) -> bool {
    match actor.role() {
        Role::GridWorker | Role::UnitStaff => s.holder == Some(actor.unit()),
        Role::Mediator => s
            .mediation
            .as_ref()
            .is_some_and(|m| &m.mediator == actor.id()),
        Role::Auditor => app.personal_data_auditors.contains(actor.id()),
        Role::Supervisor | Role::Analyst | Role::Admin => false,
    }
}

/// 403 unless `actor` looks people up by their data: grid workers, unit staff and mediators,
/// for their work (not supervisors, auditors — even with the personal-data grant — analysts
/// or admins).
pub fn require_lookup(actor: &Actor) -> Result<(), ApiError> {
    if matches!(
        actor.role(),
        Role::GridWorker | Role::UnitStaff | Role::Mediator
    ) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "a {} does not look people up by their personal data",
            actor.role()
        )))
    }
}

/// The parties of a person given as an ID number, a phone number or a full name (tried in that
/// order), by blind index; recorded as a lookup with the parties found.
///
/// # Errors
///
/// 403 for roles that never look people up, 400 without a purpose.
pub async fn find_person(
    app: &AppState,
    actor: &Actor,
    person: &str,
    purpose_given: Option<&str>,
) -> Result<Vec<PartyId>, ApiError> {
    require_lookup(actor)?;
    let why = purpose(purpose_given, "purpose")?;
    let lookup = match IdNumber::new(person) {
        Ok(id) => Lookup::IdNumber(id),
        // Shaped like an ID number, but the check character does not fit: a typing error, not
        // a phone number.
        Err(e @ InvalidField::IdNumberChecksum) => {
            return Err(ApiError::field(
                BadRequestCode::InvalidQuery,
                "person",
                e.to_string(),
            ))
        }
        Err(_) => other_lookup(person)?,
    };
    let who = Accessor::now(actor.id().clone(), actor.role(), why);
    Ok(app.vault.find_parties(&lookup, &who).await?)
}

/// A lookup by phone (digits and `+ -()` only, at least seven digits), else by name.
fn other_lookup(person: &str) -> Result<Lookup, ApiError> {
    let bad =
        |e: InvalidField| ApiError::field(BadRequestCode::InvalidQuery, "person", e.to_string());
    Ok(
        if person.chars().filter(char::is_ascii_digit).count() >= 7
            && person
                .chars()
                .all(|c| c.is_ascii_digit() || " +-()".contains(c))
        {
            Lookup::Phone(Phone::new(person).map_err(bad)?)
        } else {
            Lookup::Name(PersonName::new(person).map_err(bad)?)
        },
    )
}

/// A stated purpose, required and short (it is recorded in clear).
pub fn purpose(v: Option<&str>, field: &'static str) -> Result<String, ApiError> {
    let p = v.map(str::trim).unwrap_or_default();
    if p.is_empty() {
        return Err(ApiError::field(
            BadRequestCode::InvalidField,
            field,
            format!("{field} is required: say why you need the personal data (it is recorded)"),
        ));
    }
    if p.chars().count() > MAX_PURPOSE_CHARS {
        return Err(ApiError::field(
            BadRequestCode::InvalidField,
            field,
            format!("{field}: at most {MAX_PURPOSE_CHARS} characters"),
        ));
    }
    Ok(p.to_owned())
}

impl From<VaultError> for ApiError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::Forbidden(role) => {
                ApiError::Forbidden(format!("the {role} role never sees personal data"))
            }
            VaultError::PurposeRequired => ApiError::field(
                BadRequestCode::InvalidField,
                "purpose",
                "a purpose is required",
            ),
            VaultError::Invalid(f) => {
                ApiError::field(BadRequestCode::InvalidField, "personal", f.to_string())
            }
            VaultError::UnknownParty(_) => {
                ApiError::NotFound("no personal data is held for this party".into())
            }
            VaultError::PartyErased(_) => ApiError::Refused {
                code: RefusalCode::PersonalDataErased,
                message: "this party's personal data was erased (已删除)".into(),
            },
            VaultError::Conflict(_) => ApiError::Unavailable {
                public: "the personal data vault was changed concurrently; retry",
                internal: e.to_string(),
                retry_after: 1,
                damage: false,
            },
            VaultError::Io { .. } | VaultError::Nats(_) => ApiError::Unavailable {
                public: "the personal data vault is unavailable; retry shortly",
                internal: crate::error::chain(&e),
                retry_after: 5,
                damage: false,
            },
            other => ApiError::Internal(crate::error::chain(&other)),
        }
    }
}

/// A case the reader may see, or 404 as for an unknown one; analysts 403.
pub async fn readable_case(
    app: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<(CaseId, CaseState), ApiError> {
    if actor.role() == Role::Analyst {
        return Err(ApiError::Forbidden(
            "analysts read statistics only, never personal data".into(),
        ));
    }
    let id = parse_case_id(id)?;
    let state = app.path.load(&id).await?;
    if state.status == gridcase_domain::Status::New || !may_read_case(actor, &state) {
        return Err(ApiError::NotFound(format!("no case {id}")));
    }
    Ok((id, state))
}

/// A party of the case, or 404.
pub fn party_of(state: &CaseState, party: &str) -> Result<PartyId, ApiError> {
    let id = PartyId::new(party).map_err(|_| ApiError::NotFound("no such party".into()))?;
    let known = state
        .details
        .as_ref()
        .is_some_and(|d| d.parties.iter().any(|p| p.id == id));
    if known {
        Ok(id)
    } else {
        Err(ApiError::NotFound("no such party in this case".into()))
    }
}

/// 403 unless `actor` may see the personal data of this case's parties
/// ([`may_read_personal`]).
pub fn require_personal(app: &App, actor: &Actor, state: &CaseState) -> Result<(), ApiError> {
    if may_read_personal(app, actor, state) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only the holding unit, the case's active mediator and auditors granted personal data see parties' personal data"
                .into(),
        ))
    }
}

/// The query of `/api/v1/cases/{id}/parties`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PurposeQuery {
    /// Why the personal data is read (recorded in the access log), e.g. `电话联系当事人`.
    /// Required for readers who see personal fields; others get ids and roles only.
    pub(crate) purpose: Option<String>,
}

/// Whether a party's personal data is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataStatus {
    /// Held in the vault.
    Held,
    /// Erased (已删除): the key was destroyed.
    Erased,
    /// Never given.
    None,
}

/// The personal fields a reader may see: the ID number masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PersonalView {
    /// 姓名.
    pub name: Option<String>,
    /// 身份证号码, masked (`110***********002X`); `reveal` shows it whole.
    pub id_number_masked: Option<String>,
    /// 电话.
    pub phone: Option<String>,
    /// 地址.
    pub address: Option<String>,
}

/// One party of a case.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartyView {
    /// The opaque id.
    #[schema(value_type = String)]
    pub id: PartyId,
    /// The role.
    #[schema(value_type = String)]
    pub role: PartyRole,
    /// Whether personal data is held, erased or was never given.
    pub data: DataStatus,
    /// When it was erased.
    pub erased_at: Option<Timestamp>,
    /// The personal fields, for the holding unit and the active mediator only.
    pub personal: Option<PersonalView>,
}

/// The parties of a case.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartyList {
    /// The case.
    pub case_id: CaseId,
    /// Whether this reader sees personal fields.
    pub personal_data: bool,
    /// The parties, in the order they joined the case.
    pub parties: Vec<PartyView>,
}

/// `GET /api/v1/cases/{id}/parties`.
pub(crate) async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<PurposeQuery>, QueryRejection>,
) -> Result<Json<PartyList>, ApiError> {
    let actor = app.authenticate(&headers)?.clone();
    let Query(q) = q.map_err(|e| ApiError::query(e.body_text()))?;
    let (case_id, state) = readable_case(&app, &actor, &id).await?;
    Ok(Json(
        parties_of(&app, &actor, case_id, &state, q.purpose.as_deref()).await?,
    ))
}

/// The parties of a case as `actor` may see them; personal fields (read with `purpose`, which
/// is then required) only for the holding unit and the active mediator.
pub async fn parties_of(
    app: &AppState,
    actor: &Actor,
    case_id: CaseId,
    state: &CaseState,
    purpose_given: Option<&str>,
) -> Result<PartyList, ApiError> {
    let personal = may_read_personal(app, actor, state);
    let why = if personal {
        Some(purpose(purpose_given, "purpose")?)
    } else {
        None
    };
    let mut parties = Vec::new();
    for p in state.details.iter().flat_map(|d| d.parties.iter()) {
        // A reader of personal data reads it at once (one vault read, recorded); the status
        // alone is asked for only when there is nothing to read.
        let read = match &why {
            Some(why) => {
                let who = Accessor::now(actor.id().clone(), actor.role(), why.clone());
                match app.vault.read_party(&p.id, &who).await {
                    Ok(v) => Some(v),
                    Err(VaultError::UnknownParty(_) | VaultError::PartyErased(_)) => None,
                    Err(e) => return Err(e.into()),
                }
            }
            None => None,
        };
        let (data, erased_at, view) = match read {
            Some(v) => (
                DataStatus::Held,
                None,
                Some(PersonalView {
                    name: v.name.as_ref().map(|n| n.expose().to_owned()),
                    id_number_masked: v.id_number_masked,
                    phone: v.phone.as_ref().map(|n| n.expose().to_owned()),
                    address: v.address.as_ref().map(|n| n.expose().to_owned()),
                }),
            ),
            None => match app.vault.party_status(&p.id).await? {
                PartyStatus::Present => (DataStatus::Held, None, None),
                PartyStatus::Erased { at } => (
                    DataStatus::Erased,
                    Some(Timestamp::from_millis(at.as_millisecond())),
                    None,
                ),
                PartyStatus::Unknown => (DataStatus::None, None, None),
            },
        };
        parties.push(PartyView {
            id: p.id.clone(),
            role: p.role,
            data,
            erased_at,
            personal: view,
        });
    }
    Ok(PartyList {
        case_id,
        personal_data: personal,
        parties,
    })
}

/// The body of a reveal.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    /// Why the whole ID number is needed (recorded), e.g. `出具调解协议书`.
    #[schema(max_length = 200, example = "出具调解协议书")]
    pub purpose: String,
}

/// A revealed ID number.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Revealed {
    /// The party.
    #[schema(value_type = String)]
    pub party: PartyId,
    /// The whole 身份证号码.
    pub id_number: String,
}

fn json_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = body.map_err(|r| ApiError::BadRequest {
        code: BadRequestCode::MalformedJson,
        message: r.body_text(),
        field: None,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest {
        code: BadRequestCode::MalformedJson,
        message: format!("malformed body: {e}"),
        field: None,
    })
}

/// A party of a case `actor` may see, whose personal data `actor` may see: 404 for a case or
/// party they do not know, 403 when the data is not theirs to see.
pub async fn personal_party(
    app: &AppState,
    actor: &Actor,
    case: &str,
    party: &str,
) -> Result<(CaseId, CaseState, PartyId), ApiError> {
    let (case_id, state) = readable_case(app, actor, case).await?;
    let party = party_of(&state, party)?;
    require_personal(app, actor, &state)?;
    Ok((case_id, state, party))
}

/// `POST /api/v1/cases/{id}/parties/{party}/reveal`.
pub(crate) async fn reveal(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, party)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Revealed>, ApiError> {
    let actor = app.authenticate(&headers)?.clone();
    let (_, _, party) = personal_party(&app, &actor, &id, &party).await?;
    let req: RevealRequest = json_body(body)?;
    let why = purpose(Some(&req.purpose), "purpose")?;
    let who = Accessor::now(actor.id().clone(), actor.role(), why);
    let id_number = app.vault.reveal_id_number(&party, &who).await?;
    Ok(Json(Revealed {
        party,
        id_number: id_number.expose().to_owned(),
    }))
}

/// A case of the same person.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OtherCase {
    /// The party id the person has in that case.
    #[schema(value_type = String)]
    pub party: PartyId,
    /// What matched: `id_number`, `phone` and/or `name` (a name alone may be a namesake).
    #[schema(value_type = Vec<String>)]
    pub matched_by: Vec<Field>,
    /// The case, as a list shows it.
    pub case: CaseRow,
}

/// The other cases of a party's person.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OtherCases {
    /// The party asked about.
    #[schema(value_type = String)]
    pub party: PartyId,
    /// Cases of other parties with the same ID number, phone or name that the reader may see
    /// (cases outside the reader's scope are not listed), newest first.
    pub items: Vec<OtherCase>,
    /// Matching parties none of whose cases the reader may see (counted, not shown).
    pub hidden: usize,
}

/// `GET /api/v1/cases/{id}/parties/{party}/other-cases`.
pub(crate) async fn other_cases(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, party)): Path<(String, String)>,
    q: Result<Query<PurposeQuery>, QueryRejection>,
) -> Result<Json<OtherCases>, ApiError> {
    let actor = app.authenticate(&headers)?.clone();
    let Query(q) = q.map_err(|e| ApiError::query(e.body_text()))?;
    Ok(Json(
        same_person_cases(&app, &actor, &id, &party, q.purpose.as_deref()).await?,
    ))
}

/// The other cases of the person behind `party` of `case` that `actor` may see: 404 for a case
/// or party they do not know, 403 unless they may look people up (the holding unit and the
/// active mediator), 400 without a purpose; the lookup is recorded with the parties found.
pub async fn same_person_cases(
    app: &AppState,
    actor: &Actor,
    case: &str,
    party: &str,
    purpose_given: Option<&str>,
) -> Result<OtherCases, ApiError> {
    let (case_id, _, party) = personal_party(app, actor, case, party).await?;
    require_lookup(actor)?;
    let why = purpose(purpose_given, "purpose")?;
    let who = Accessor::now(actor.id().clone(), actor.role(), why);
    let same = app.vault.same_person(&party, &who).await?;
    caught_up(app).await?;
    Ok(other_cases_of(app, actor, &case_id, party, same))
}

/// Shapes the lookup's parties into the cases `actor` may see (`case_id` itself left out).
pub fn other_cases_of(
    app: &AppState,
    actor: &Actor,
    case_id: &CaseId,
    party: PartyId,
    same: Vec<(PartyId, Vec<Field>)>,
) -> OtherCases {
    let now = Timestamp::now();
    let visible = super::access::visibility(actor).ok();
    let projector = app.projection.read();
    let mut items = Vec::new();
    let mut hidden = 0;
    for (other, fields) in same {
        let seen = match &visible {
            Some(v) => every_case_of(&projector, &other, v, now),
            None => Vec::new(),
        };
        if seen.is_empty() {
            hidden += 1;
        }
        for e in seen {
            if e.state.id.as_ref() == Some(case_id) {
                continue;
            }
            items.push(OtherCase {
                party: other.clone(),
                matched_by: fields.clone(),
                case: CaseRow::of(e, app, actor, now),
            });
        }
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.case.reported_at));
    OtherCases {
        party,
        items,
        hidden,
    }
}

/// Why personal data is erased: the grounds of PIPL art. 47, as choices (the basis is recorded
/// in clear, so it must hold no personal data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    /// The person asked for deletion (个人信息主体请求删除).
    DataSubjectRequest,
    /// The purpose of processing is achieved or no longer needed (处理目的已实现或不再必要).
    PurposeAchieved,
    /// The retention period ended (保存期限已届满).
    RetentionExpired,
    /// The person withdrew consent (个人撤回同意).
    ConsentWithdrawn,
    /// The processing breached law or agreement (违反法律、行政法规或约定处理).
    Unlawful,
}

impl LegalBasis {
    /// Every basis.
    pub const ALL: [LegalBasis; 5] = [
        LegalBasis::DataSubjectRequest,
        LegalBasis::PurposeAchieved,
        LegalBasis::RetentionExpired,
        LegalBasis::ConsentWithdrawn,
        LegalBasis::Unlawful,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LegalBasis::DataSubjectRequest => "data_subject_request",
            LegalBasis::PurposeAchieved => "purpose_achieved",
            LegalBasis::RetentionExpired => "retention_expired",
            LegalBasis::ConsentWithdrawn => "consent_withdrawn",
            LegalBasis::Unlawful => "unlawful",
        }
    }

    /// In Chinese, as the law words it.
    pub fn zh(self) -> &'static str {
        match self {
            LegalBasis::DataSubjectRequest => "个人信息主体请求删除（个保法第47条）",
            LegalBasis::PurposeAchieved => "处理目的已实现或不再必要（个保法第47条）",
            LegalBasis::RetentionExpired => "保存期限已届满（个保法第47条）",
            LegalBasis::ConsentWithdrawn => "个人撤回同意（个保法第47条）",
            LegalBasis::Unlawful => "违反法律、行政法规或约定处理（个保法第47条）",
        }
    }
}

/// The body of an erasure.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    /// The legal basis.
    pub legal_basis: LegalBasis,
    /// A short remark, e.g. the request's reference number; recorded in clear, so no personal
    /// data.
    #[schema(max_length = 200)]
    pub remark: Option<String>,
}

/// What an erasure did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Erased {
    /// The party.
    #[schema(value_type = String)]
    pub party: PartyId,
    /// The legal basis recorded.
    pub legal_basis: LegalBasis,
    /// The cases the party is in: they now show 已删除 where the data was; their history and
    /// the statistics are unchanged.
    #[schema(value_type = Vec<String>)]
    pub cases: Vec<CaseId>,
}

/// Who may erase: supervisors and admins (not the units that use the data).
pub(crate) fn may_erase(actor: &Actor) -> Result<(), ApiError> {
    match actor.role() {
        Role::Supervisor | Role::Admin => Ok(()),
        Role::Analyst => Err(ApiError::Forbidden(
            "analysts read statistics only, never personal data".into(),
        )),
        role => Err(ApiError::Forbidden(format!(
            "erasing personal data is for supervisors and admins, not for the {role} role"
        ))),
    }
}

/// Waits (bounded) until the projection has applied everything in the log: erasure, the
/// access log and the other cases of a person find a party's cases through it, and a party
/// reported a moment ago must count.
pub async fn caught_up(app: &AppState) -> Result<(), ApiError> {
    let head = app.path.log().head().await?;
    app.projection
        .wait_for(head, super::params::READ_YOUR_WRITES)
        .await?;
    Ok(())
}

/// The cases of `party` that `actor` may see.
fn cases_of_party(app: &AppState, actor: &Actor, party: &PartyId) -> Vec<CaseId> {
    let Ok(visible) = super::access::visibility(actor) else {
        return Vec::new();
    };
    let projector = app.projection.read();
    every_case_of(&projector, party, &visible, Timestamp::now())
        .into_iter()
        .filter_map(|e| e.state.id.clone())
        .collect()
}

/// Every case of `party` visible as `visible`, page after page (no cap).
fn every_case_of<'p>(
    projector: &'p gridcase_projections::Projector,
    party: &PartyId,
    visible: &gridcase_projections::Visibility,
    now: Timestamp,
) -> Vec<&'p gridcase_projections::CaseEntry> {
    let mut q = SearchQuery {
        parties: vec![party.clone()],
        limit: super::work::MAX_LIMIT,
        ..SearchQuery::default()
    };
    let mut all = Vec::new();
    while let Ok(page) = projector.search(&q, visible, now) {
        all.extend(page.items);
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    all
}

/// `DELETE /api/v1/parties/{party}/personal-data`.
pub(crate) async fn erase(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(party): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Erased>, ApiError> {
    let actor = app.authenticate(&headers)?.clone();
    may_erase(&actor)?;
    let party = PartyId::new(&party).map_err(|_| ApiError::NotFound("no such party".into()))?;
    let req: EraseRequest = json_body(body)?;
    caught_up(&app).await?;
    let cases = cases_of_party(&app, &actor, &party);
    // A party in no case the actor may see is answered as an unknown one.
    if cases.is_empty() {
        return Err(ApiError::NotFound("no such party".into()));
    }
    erase_party(&app, &actor, &party, req.legal_basis, req.remark.as_deref()).await?;
    Ok(Json(Erased {
        party,
        legal_basis: req.legal_basis,
        cases,
    }))
}

/// What erasing a case's free text answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TextErased {
    /// The case: its free text now reads ［已删除］; its history, hash chain and statistics
    /// are unchanged.
    #[schema(value_type = String)]
    pub case: CaseId,
    /// The legal basis recorded.
    pub legal_basis: LegalBasis,
}

/// `DELETE /api/v1/cases/{id}/text`: destroys the case's text key (crypto-shredding of its
/// summary, notes, records and reasons) once the case is finished, every party's personal data
/// is erased and the retention period has passed.
pub(crate) async fn erase_text(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<TextErased>, ApiError> {
    let actor = app.authenticate(&headers)?.clone();
    may_erase(&actor)?;
    let req: EraseRequest = json_body(body)?;
    let case = erase_case_text(&app, &actor, &id, req.legal_basis, req.remark.as_deref()).await?;
    Ok(Json(TextErased {
        case,
        legal_basis: req.legal_basis,
    }))
}

/// Whether a case's free text may be erased now, and if not, why (the rules of
/// `DELETE /api/v1/cases/{id}/text`, also shown on the workbench's case page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TextErasure {
    /// The case is not finished (closed, rejected or merged).
    NotFinished(gridcase_domain::Status),
    /// This party still has personal data.
    PartyHeld(PartyId),
    /// The retention period after the case's last activity runs until then.
    KeptUntil(Timestamp),
    /// It may be erased.
    Allowed,
}

/// Where `case` (in `state`) stands under the rules for erasing its free text (whether its
/// key is already gone is [`gridcase_vault::Vault::case_text_status`]'s to say).
pub(crate) async fn text_erasure(
    app: &AppState,
    case: &CaseId,
    state: &gridcase_domain::CaseState,
    settled: bool,
) -> Result<TextErasure, ApiError> {
    use gridcase_domain::Status;
    if !matches!(
        state.status,
        Status::Closed | Status::Rejected | Status::Merged
    ) {
        return Ok(TextErasure::NotFinished(state.status));
    }
    for p in state.details.iter().flat_map(|d| d.parties.iter()) {
        if matches!(
            app.vault.party_status(&p.id).await?,
            gridcase_vault::PartyStatus::Present
        ) {
            return Ok(TextErasure::PartyHeld(p.id.clone()));
        }
    }
    // The last activity as the projection has it: an erasure waits for it to catch up first
    // (`settled`); a page showing the state takes it as it stands rather than wait.
    if settled {
        caught_up(app).await?;
    }
    let last = app
        .projection
        .read()
        .case(case)
        .map_or(Timestamp::now(), |e| e.updated_at);
    let until = last.plus_millis(i64::from(app.case_text_retention_days) * 86_400_000);
    if Timestamp::now() < until {
        return Ok(TextErasure::KeptUntil(until));
    }
    Ok(TextErasure::Allowed)
}

/// Erases the free text of case `id` for `actor` (who may erase) with a legal basis: 404 for
/// a case they cannot read, 422 naming the rule when it may not be erased (also on a repeat:
/// the rules are checked again). Repeating an erasure finishes it again.
pub(crate) async fn erase_case_text(
    app: &AppState,
    actor: &Actor,
    id: &str,
    basis: LegalBasis,
    remark: Option<&str>,
) -> Result<CaseId, ApiError> {
    let (case, state) = readable_case(app, actor, id).await?;
    let refused = |code: RefusalCode, message: String| ApiError::Refused { code, message };
    match text_erasure(app, &case, &state, true).await? {
        TextErasure::Allowed => {}
        TextErasure::NotFinished(status) => {
            return Err(refused(
                RefusalCode::CaseNotFinished,
                format!("the case is {status}: its text is kept until it is closed"),
            ))
        }
        TextErasure::PartyHeld(party) => {
            return Err(refused(
                RefusalCode::PartiesNotErased,
                format!("party {party} still has personal data: erase every party's data first"),
            ))
        }
        TextErasure::KeptUntil(until) => {
            return Err(refused(
                RefusalCode::RetentionNotPassed,
                format!(
                    "the case's text is kept {} days after its last activity, until {until}",
                    app.case_text_retention_days
                ),
            ))
        }
    }
    let recorded = erasure_record(basis, remark)?;
    let who = Accessor::now(actor.id().clone(), actor.role(), recorded);
    match app.vault.erase_case_key(&case, &who).await {
        // A case that never had sealed text has no key: there is nothing to destroy.
        Ok(()) | Err(VaultError::UnknownCase(_)) => {}
        Err(e) => return Err(e.into()),
    }
    app.projection.forget_text(&case);
    tracing::info!(target: "gridcase::audit", actor = %actor.id(), case = %case, basis = basis.as_str(), "case text erased");
    Ok(case)
}

/// The basis and remark as the vault records them; 400 for a remark that is too long.
fn erasure_record(basis: LegalBasis, remark: Option<&str>) -> Result<String, ApiError> {
    let remark = remark.map(str::trim).filter(|r| !r.is_empty());
    if remark.is_some_and(|r| r.chars().count() > MAX_PURPOSE_CHARS) {
        return Err(ApiError::field(
            BadRequestCode::InvalidField,
            "remark",
            format!("remark: at most {MAX_PURPOSE_CHARS} characters"),
        ));
    }
    Ok(match remark {
        Some(r) => format!("{}: {r}", basis.as_str()),
        None => basis.as_str().to_owned(),
    })
}

/// Erases a party's personal data on `basis` (the API and the workbench both come here).
///
/// # Errors
///
/// 400 for a remark that is too long; 404 when nothing was ever stored; vault failures.
pub async fn erase_party(
    app: &AppState,
    actor: &Actor,
    party: &PartyId,
    basis: LegalBasis,
    remark: Option<&str>,
) -> Result<(), ApiError> {
    let recorded = erasure_record(basis, remark)?;
    let who = Accessor::now(actor.id().clone(), actor.role(), recorded);
    app.vault.erase_party(party, &who).await?;
    tracing::info!(target: "gridcase::audit", actor = %actor.id(), party = %party, basis = basis.as_str(), "personal data erased");
    Ok(())
}

/// The query of `/api/v1/access-log`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessLogQuery {
    /// Entries about this party (its own data, or found by a lookup).
    pub(crate) party: Option<String>,
    /// Entries by this actor.
    pub(crate) actor: Option<String>,
    /// `write`, `read`, `reveal_id_number`, `lookup`, `erase_party_data`, `read_case_text` or
    /// `erase_case_key`.
    pub(crate) action: Option<String>,
    /// At or after this RFC 3339 time.
    pub(crate) since: Option<String>,
    /// Before this RFC 3339 time.
    pub(crate) until: Option<String>,
    /// Entries per page, 1–200 (default 50).
    pub(crate) limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub(crate) cursor: Option<String>,
}

/// One entry of the access log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessRecord {
    /// When.
    pub at: Timestamp,
    /// Who.
    #[schema(value_type = String)]
    pub actor: ActorId,
    /// In which role.
    #[schema(value_type = String)]
    pub role: Role,
    /// What: `write`, `read`, `reveal_id_number`, `lookup`, `erase_party_data`, …
    pub action: String,
    /// The party whose data was touched.
    #[schema(value_type = Option<String>)]
    pub party: Option<PartyId>,
    /// The case whose free text was read (`read_case_text`) or whose text key was erased.
    #[schema(value_type = Option<String>)]
    pub case: Option<CaseId>,
    /// The fields touched (for a lookup: searched by).
    #[schema(value_type = Vec<String>)]
    pub fields: Vec<Field>,
    /// For a lookup: the parties found.
    #[schema(value_type = Vec<String>)]
    pub matched: Vec<PartyId>,
    /// The stated purpose or legal basis.
    pub purpose: String,
}

/// The access log: who read, revealed, looked up, wrote or erased personal data.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessLog {
    /// Matching entries, oldest first (one page of them through the API).
    pub entries: Vec<AccessRecord>,
    /// The cursor of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/access-log`.
pub(crate) async fn access_log(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<AccessLogQuery>, QueryRejection>,
) -> Result<Json<AccessLog>, ApiError> {
    let actor = app.authenticate(&headers)?.clone();
    let Query(q) = q.map_err(|e| ApiError::query(e.body_text()))?;
    let limit = super::work::limit(q.limit)?;
    // The log only grows at its end, so an offset into the matching entries is a stable
    // cursor.
    let start = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => c
            .strip_prefix('e')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                ApiError::field(
                    BadRequestCode::InvalidQuery,
                    "cursor",
                    "cursor: not a cursor this list gave",
                )
            })?,
    };
    let mut log = access_log_for(&app, &actor, &q).await?;
    let end = start.saturating_add(limit).min(log.entries.len());
    log.next_cursor = (end < log.entries.len()).then(|| format!("e{end}"));
    log.entries = log.entries.drain(start.min(end)..end).collect();
    Ok(Json(log))
}

/// The access log entries `actor` (an auditor or admin) may read: those about parties of cases
/// in their scope (as the subject, or found by a lookup), and those about no party.
pub(crate) async fn access_log_for(
    app: &AppState,
    actor: &Actor,
    q: &AccessLogQuery,
) -> Result<AccessLog, ApiError> {
    if !matches!(actor.role(), Role::Auditor | Role::Admin) {
        return Err(ApiError::Forbidden(
            "the access log is for auditors and admins".into(),
        ));
    }
    let bad =
        |field: &'static str, m: String| ApiError::field(BadRequestCode::InvalidQuery, field, m);
    let time = |field: &'static str, v: &Option<String>| {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<jiff::Timestamp>()
                    .map_err(|e| bad(field, format!("{field}: {e}")))
            })
            .transpose()
    };
    let filter = AccessFilter {
        party: q
            .party
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| PartyId::new(s).map_err(|e| bad("party", e.to_string())))
            .transpose()?,
        case: None,
        actor: q
            .actor
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| ActorId::new(s).map_err(|e| bad("actor", e.to_string())))
            .transpose()?,
        action: q
            .action
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                serde_json::from_value(Value::String(s.to_owned()))
                    .map_err(|_| bad("action", format!("action {s:?} is not an access action")))
            })
            .transpose()?,
        since: time("since", &q.since)?,
        until: time("until", &q.until)?,
    };
    let entries = app.vault.access_log(&filter).await?;
    caught_up(app).await?;
    let mut in_scope: std::collections::HashMap<PartyId, bool> = Default::default();
    let mut out = Vec::new();
    for e in entries {
        // About a party of a case in scope (as the subject or found by a lookup), or about
        // no party at all.
        let mut about = e.party.iter().chain(e.matched.iter()).peekable();
        let visible = about.peek().is_none()
            || about.any(|p| {
                *in_scope
                    .entry(p.clone())
                    .or_insert_with(|| !cases_of_party(app, actor, p).is_empty())
            });
        // About a case: only if the case is in scope.
        let case_visible = e.case.as_ref().is_none_or(|c| {
            app.projection
                .read()
                .case(c)
                .is_some_and(|entry| may_read_case(actor, &entry.state))
        });
        if !visible || !case_visible {
            continue;
        }
        out.push(AccessRecord {
            at: Timestamp::from_millis(e.at.as_millisecond()),
            actor: e.actor,
            role: e.role,
            action: serde_json::to_value(e.action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            party: e.party,
            case: e.case,
            fields: e.fields,
            matched: e.matched,
            purpose: e.purpose,
        });
    }
    Ok(AccessLog {
        entries: out,
        next_cursor: None,
    })
}
