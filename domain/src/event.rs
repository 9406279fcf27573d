//! Events: the immutable, past-tense facts of a case's life.
//!
//! Each event type is a struct named after the fact (`CaseReported`, `CaseEscalated`, …) and a
//! variant of [`Event`]. On the wire an event is identified by its type name and schema version
//! (see [`crate::record`]), never by the variant's position. Each type has its own current
//! schema version ([`EventBody::VERSION`]), so one type's schema can change without touching
//! the others.

use serde::{Deserialize, Serialize};

use crate::ids::{ActorId, CaseId, Hash, PartyId};
use crate::region::{Level, RegionCode};
use crate::text::{Text, SUMMARY_LABEL};
use crate::time::Timestamp;
use crate::vocab::*;

/// A party to a case: an opaque id and a role. Personal data lives apart (DOMAIN.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Party {
    /// Opaque party id.
    pub id: PartyId,
    /// The party's role.
    pub role: PartyRole,
}

/// 信息收集: a matter was reported and a case opened at the receiving unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseReported {
    /// Dispute, incident or request.
    pub kind: CaseKind,
    /// Category of the matter.
    pub category: Category,
    /// Where the report came from.
    pub source: Source,
    /// How serious it is.
    pub severity: Severity,
    /// Where it happened (usually a grid).
    pub location: RegionCode,
    /// The unit that received the report and first holds the case.
    pub received_by: RegionCode,
    /// The parties, by opaque id.
    pub parties: Vec<Party>,
    /// Free-text summary.
    pub summary: Text,
    /// When the matter itself happened.
    pub happened_at: Timestamp,
}

/// 立案: the holding unit registered the case; the clock runs from here.
///
/// Schema version 2 added `deadline`: version 1 bodies are upcast with `deadline: None`, their
/// old meaning (the clock started at assignment, which [`CaseAssigned`] carries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseRegistered {
    /// The registering unit.
    pub unit: RegionCode,
    /// The unit's level (for statistics).
    pub level: Level,
    /// When handling is due: the deadline grid of the registering unit from the registration,
    /// or the deadline already running when the case was moved before registration (e.g. a
    /// critical report's escalation). `None` only in version 1 events.
    pub deadline: Option<Timestamp>,
}

/// 不予立案/注销: the report was not registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseRejected {
    /// Why.
    pub reason: RejectReason,
    /// Free-text explanation.
    pub note: Text,
}

/// 任务派遣: dispatched to a handler in the holding unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseAssigned {
    /// The holding unit.
    pub unit: RegionCode,
    /// The handler.
    pub handler: ActorId,
    /// When handling is due: the deadline already running (from registration, or from the
    /// last move, return, rework or reopening); for a case registered by a version 1
    /// [`CaseRegistered`], which carried none, the clock starts here.
    pub deadline: Timestamp,
}

/// 上报: moved up to an ancestor unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseEscalated {
    /// The unit that held the case.
    pub from: RegionCode,
    /// The ancestor unit that holds it now.
    pub to: RegionCode,
    /// The new holder's level.
    pub to_level: Level,
    /// Why.
    pub reason: Text,
    /// The new deadline at the new level.
    pub deadline: Timestamp,
}

/// 下派/交办: moved down to a descendant unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseDelegated {
    /// The unit that held the case.
    pub from: RegionCode,
    /// The descendant unit that holds it now.
    pub to: RegionCode,
    /// The new holder's level.
    pub to_level: Level,
    /// Why.
    pub reason: Text,
    /// The new deadline at the new level.
    pub deadline: Timestamp,
}

/// 移送: handed to an outside body; leaves the in-system count unless returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseReferred {
    /// The kind of body.
    pub target: ReferralTarget,
    /// The body's name.
    pub body: String,
    /// Why.
    pub reason: Text,
}

/// The outside body returned a referred case to the unit that referred it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReferralReturned {
    /// The unit holding the case again.
    pub unit: RegionCode,
    /// Why it came back.
    pub reason: Text,
    /// The new deadline.
    pub deadline: Timestamp,
}

/// A mediation began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediationStarted {
    /// 人民/行政/司法.
    pub mediation_type: MediationType,
    /// The mediator running it.
    pub mediator: ActorId,
    /// The mediation organization's region.
    pub organization: RegionCode,
    /// When the mediation is due (people's mediation: 30 days).
    pub deadline: Timestamp,
}

/// A mediation session took place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediationSessionHeld {
    /// 1 for the first session of this mediation, and so on.
    pub session: u32,
    /// Free-text record.
    pub summary: Text,
}

/// A mediation ended with an agreement or a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediationConcluded {
    /// Agreement or failure.
    pub outcome: MediationOutcome,
    /// Free text: the agreement's terms or why it failed.
    pub note: Text,
}

/// 化解/处置完毕: the case was resolved by the holding unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseResolved {
    /// How.
    pub method: ResolutionMethod,
    /// The holding unit's level: what 小事不出格 counts.
    pub level: Level,
    /// The holding unit.
    pub unit: RegionCode,
    /// Who resolved it.
    pub by: ActorId,
    /// Whether it was resolved by the deadline in force.
    pub on_time: bool,
    /// Free-text summary.
    pub summary: Text,
}

/// 核查: the resolution was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResolutionVerified {
    /// Free-text note.
    pub note: Text,
}

/// 返工: the resolution was sent back for rework.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResolutionRejected {
    /// Why.
    pub reason: Text,
    /// The new deadline for the rework.
    pub deadline: Timestamp,
}

/// 结案: the case was closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseClosed {
    /// Closed directly after on-the-spot resolution at grid level, without verification.
    pub on_the_spot: bool,
}

/// 回访: feedback from the parties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedbackRecorded {
    /// How satisfied.
    pub satisfaction: Satisfaction,
    /// Free-text comment.
    pub comment: Text,
}

/// A closed case was reopened at the unit that last held it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseReopened {
    /// Why.
    pub reason: ReopenReason,
    /// Free-text note.
    pub note: Text,
    /// The unit holding the reopened case.
    pub unit: RegionCode,
    /// The new deadline.
    pub deadline: Timestamp,
}

/// 延期: an approved deadline extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadlineExtended {
    /// The deadline before.
    pub previous: Timestamp,
    /// The deadline now.
    pub deadline: Timestamp,
    /// Why.
    pub reason: Text,
}

/// 督办: a higher level pressed the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SupervisionIssued {
    /// The pressing unit.
    pub by_unit: RegionCode,
    /// Whether the case was overdue when pressed.
    pub overdue: bool,
    /// Free-text instruction.
    pub note: Text,
}

/// A party joined the case after the report: its opaque id and role only (its personal data
/// lives in the vault, DOMAIN.md "Personal information").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartyAdded {
    /// The party.
    pub party: Party,
}

/// A working note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoteAdded {
    /// The note.
    pub text: Text,
}

/// Evidence attached by content hash; the content lives elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EvidenceAttached {
    /// SHA-256 of the content.
    pub content_hash: Hash,
    /// Media type, e.g. `image/jpeg`.
    pub media_type: String,
    /// Free-text description.
    pub description: Text,
}

/// This case was a duplicate and was merged into another case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseMerged {
    /// The surviving case.
    pub into: CaseId,
    /// Why.
    pub reason: Text,
}

/// An audited correction of the reported details; the original report stays in history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseDetailsCorrected {
    /// New kind, if corrected.
    pub kind: Option<CaseKind>,
    /// New category, if corrected.
    pub category: Option<Category>,
    /// New source, if corrected.
    pub source: Option<Source>,
    /// New severity, if corrected.
    pub severity: Option<Severity>,
    /// New location, if corrected.
    pub location: Option<RegionCode>,
    /// New summary, if corrected.
    pub summary: Option<Text>,
    /// Why the correction was made (required).
    pub reason: Text,
}

/// 提级领办: an ancestor unit took the case over from the unit holding it.
///
/// Its own fact, not an escalation: the holder did not ask to be relieved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseTakenOver {
    /// The unit that held the case.
    pub from: RegionCode,
    /// The ancestor unit that took it and holds it now.
    pub to: RegionCode,
    /// The taking unit's level.
    pub to_level: Level,
    /// Why.
    pub reason: Text,
    /// The taking unit's deadline, from the take-over.
    pub deadline: Timestamp,
}

/// An event type's body: the struct behind one variant of [`Event`].
///
/// Implemented by the `events!` list in this module, which names each type with its current
/// schema version; see [`crate::record`] for how to bump one type's version.
pub trait EventBody: Serialize + serde::de::DeserializeOwned + Into<Event> {
    /// The stable type name stored beside the body, e.g. `"CaseReported"`.
    const TYPE: &'static str;
    /// The schema version this build writes for the type. Bodies stored at an older version
    /// are upcast to it on decode ([`crate::record::Upcaster`]).
    const VERSION: u16;
}

macro_rules! events {
    ($($name:ident => $version:literal),+ $(,)?) => {
        /// Every fact that can happen to a case.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Event {
            $(
                #[doc = concat!("See [`", stringify!($name), "`].")]
                $name($name),
            )+
        }

        $(
            impl EventBody for $name {
                const TYPE: &'static str = stringify!($name);
                const VERSION: u16 = $version;
            }
        )+

        impl Event {
            /// Every event type name, in declaration order.
            pub const TYPE_NAMES: &'static [&'static str] = &[$(<$name as EventBody>::TYPE),+];

            /// The stable type name, e.g. `"CaseReported"`.
            pub fn type_name(&self) -> &'static str {
                match self { $(Event::$name(_) => <$name as EventBody>::TYPE),+ }
            }

            /// The schema version this build writes for the event's type.
            pub fn schema_version(&self) -> u16 {
                match self { $(Event::$name(_) => <$name as EventBody>::VERSION),+ }
            }

            /// The current schema version of the type named `type_name`; `None` for a name no
            /// event type has.
            pub fn current_version(type_name: &str) -> Option<u16> {
                match type_name {
                    $(<$name as EventBody>::TYPE => Some(<$name as EventBody>::VERSION),)+
                    _ => None,
                }
            }

            /// MessagePack (named fields) of the event's body at its type's current version.
            pub(crate) fn encode_body(&self) -> Result<Vec<u8>, rmp_serde::encode::Error> {
                match self { $(Event::$name(b) => rmp_serde::to_vec_named(b)),+ }
            }

            /// Decodes a body at its type's current version. `None` for an unknown type name.
            pub(crate) fn decode_body(
                type_name: &str,
                body: &[u8],
            ) -> Option<Result<Event, rmp_serde::decode::Error>> {
                match type_name {
                    $(<$name as EventBody>::TYPE => Some(rmp_serde::from_slice(body).map(Event::$name)),)+
                    _ => None,
                }
            }
        }

        /// The schema of an event's body: one of the bodies (its type name travels beside it).
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for Event {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let mut one_of = utoipa::openapi::schema::OneOfBuilder::new()
                    .description(Some("The event's body; `event_type` beside it names which."));
                $(
                    one_of = one_of.item(utoipa::openapi::Ref::from_schema_name(<$name as EventBody>::TYPE));
                )+
                one_of.into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for Event {
            fn schemas(
                schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
            ) {
                $(
                    schemas.push((<$name as EventBody>::TYPE.to_owned(), <$name as utoipa::PartialSchema>::schema()));
                    <$name as utoipa::ToSchema>::schemas(schemas);
                )+
            }
        }

        /// Serializes as the event's body alone (its type name travels beside it).
        impl Serialize for Event {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self { $(Event::$name(b) => b.serialize(s)),+ }
            }
        }

        $(
            impl From<$name> for Event {
                fn from(e: $name) -> Event {
                    Event::$name(e)
                }
            }
        )+
    };
}

// Each event type with its current schema version. Bumping one type's version: see
// `crate::record`.
events!(
    CaseReported => 1,
    CaseRegistered => 2,
    CaseRejected => 1,
    CaseAssigned => 1,
    CaseEscalated => 1,
    CaseDelegated => 1,
    CaseReferred => 1,
    ReferralReturned => 1,
    MediationStarted => 1,
    MediationSessionHeld => 1,
    MediationConcluded => 1,
    CaseResolved => 1,
    ResolutionVerified => 1,
    ResolutionRejected => 1,
    CaseClosed => 1,
    FeedbackRecorded => 1,
    CaseReopened => 1,
    DeadlineExtended => 1,
    SupervisionIssued => 1,
    NoteAdded => 1,
    EvidenceAttached => 1,
    CaseMerged => 1,
    CaseDetailsCorrected => 1,
    CaseTakenOver => 1,
    PartyAdded => 1,
);

impl Event {
    /// The event's free text, each with its label (`"CaseResolved.summary"`, or
    /// [`SUMMARY_LABEL`] for the case's summary: what the text is sealed as, so a ciphertext
    /// opens only in its own place): what the server seals before
    /// the events are chained and what readers open. Empty text is left out (there is nothing
    /// to protect, and it stays recognisably empty).
    pub fn texts_mut(&mut self) -> Vec<(&'static str, &mut Text)> {
        let all: Vec<(&'static str, &mut Text)> = match self {
            Event::CaseReported(e) => vec![(SUMMARY_LABEL, &mut e.summary)],
            Event::CaseRejected(e) => vec![("CaseRejected.note", &mut e.note)],
            Event::CaseEscalated(e) => vec![("CaseEscalated.reason", &mut e.reason)],
            Event::CaseDelegated(e) => vec![("CaseDelegated.reason", &mut e.reason)],
            Event::CaseReferred(e) => vec![("CaseReferred.reason", &mut e.reason)],
            Event::ReferralReturned(e) => vec![("ReferralReturned.reason", &mut e.reason)],
            Event::MediationSessionHeld(e) => {
                vec![("MediationSessionHeld.summary", &mut e.summary)]
            }
            Event::MediationConcluded(e) => vec![("MediationConcluded.note", &mut e.note)],
            Event::CaseResolved(e) => vec![("CaseResolved.summary", &mut e.summary)],
            Event::ResolutionVerified(e) => vec![("ResolutionVerified.note", &mut e.note)],
            Event::ResolutionRejected(e) => vec![("ResolutionRejected.reason", &mut e.reason)],
            Event::FeedbackRecorded(e) => vec![("FeedbackRecorded.comment", &mut e.comment)],
            Event::CaseReopened(e) => vec![("CaseReopened.note", &mut e.note)],
            Event::DeadlineExtended(e) => vec![("DeadlineExtended.reason", &mut e.reason)],
            Event::SupervisionIssued(e) => vec![("SupervisionIssued.note", &mut e.note)],
            Event::NoteAdded(e) => vec![("NoteAdded.text", &mut e.text)],
            Event::EvidenceAttached(e) => {
                vec![("EvidenceAttached.description", &mut e.description)]
            }
            Event::CaseMerged(e) => vec![("CaseMerged.reason", &mut e.reason)],
            Event::CaseDetailsCorrected(e) => {
                let mut v = vec![("CaseDetailsCorrected.reason", &mut e.reason)];
                if let Some(s) = &mut e.summary {
                    v.push((SUMMARY_LABEL, s));
                }
                v
            }
            Event::CaseTakenOver(e) => vec![("CaseTakenOver.reason", &mut e.reason)],
            Event::CaseRegistered(_)
            | Event::CaseAssigned(_)
            | Event::MediationStarted(_)
            | Event::CaseClosed(_)
            | Event::PartyAdded(_) => Vec::new(),
        };
        all.into_iter().filter(|(_, t)| !t.is_empty()).collect()
    }
}
