//! The case file: a case's whole story as a center reads it — not only where it stands
//! ([`CaseState`]) but how it got there: every move between units, every deadline and why it
//! changed, the referrals and their returns, each mediation with its sessions and outcome, the
//! resolutions (also those sent back), supervision, notes, evidence, feedback and corrections.
//!
//! Like [`CaseState`] it is a fold of the case's events that records facts only; it is built
//! when a case is read (the projection keeps the lean state of every case; the file of one case
//! is folded from its few events on demand).

use serde::Serialize;

use crate::event::Event;
use crate::ids::{ActorId, CaseId, Hash};
use crate::record::Envelope;
use crate::region::{Level, RegionCode};
use crate::state::CaseState;
use crate::time::Timestamp;
use crate::vocab::*;

/// Who did something, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stamp {
    /// When it happened.
    pub at: Timestamp,
    /// Who did it.
    pub by: ActorId,
}

/// A move of the case between units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Move {
    /// When and by whom.
    #[serde(flatten)]
    pub stamp: Stamp,
    /// `escalated`, `delegated`, `taken_over`, `referral_returned` or `reopened`.
    pub kind: &'static str,
    /// The unit that held it (none for a return or reopening at the same unit).
    pub from: Option<RegionCode>,
    /// The unit that holds it after the move.
    pub to: RegionCode,
    /// Why.
    pub reason: String,
    /// The coded reason, when the move has one: a reopening's ([`ReopenReason`] wire name,
    /// e.g. `agreement_not_honoured`).
    pub code: Option<&'static str>,
}

/// A change of the deadline in force, and its cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadlineChange {
    /// When it changed.
    pub at: Timestamp,
    /// The new deadline (none: the clock stopped, e.g. referred out or closed as rejected).
    pub deadline: Option<Timestamp>,
    /// The event that changed it, e.g. `CaseRegistered`, `DeadlineExtended`.
    pub cause: &'static str,
    /// Why, when the change says (an extension's reason); empty otherwise.
    pub reason: String,
}

/// A referral to an outside body and its return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReferralRecord {
    /// When and by whom it was referred.
    #[serde(flatten)]
    pub stamp: Stamp,
    /// The kind of body.
    pub target: ReferralTarget,
    /// The body's name.
    pub body: String,
    /// Why.
    pub reason: String,
    /// When it came back, and why.
    pub returned: Option<(Timestamp, String)>,
}

/// One mediation session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    /// 1 for the first session of the mediation.
    pub number: u32,
    /// When it was held.
    pub at: Timestamp,
    /// What happened.
    pub summary: String,
}

/// A mediation: who, its sessions and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediationFile {
    /// When and by whom it was started.
    #[serde(flatten)]
    pub stamp: Stamp,
    /// 人民/行政/司法.
    pub mediation_type: MediationType,
    /// The mediator.
    pub mediator: ActorId,
    /// The mediation organization's region.
    pub organization: RegionCode,
    /// When it was due.
    pub deadline: Timestamp,
    /// The sessions held.
    pub sessions: Vec<Session>,
    /// How it ended, when it did: outcome, note, time.
    pub outcome: Option<(MediationOutcome, String, Timestamp)>,
    /// Who ended it: the mediator, or the holding unit when the mediator could not go on.
    pub concluded_by: Option<ActorId>,
}

/// A resolution, in force or sent back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResolutionFile {
    /// When and by whom.
    #[serde(flatten)]
    pub stamp: Stamp,
    /// How.
    pub method: ResolutionMethod,
    /// At which level.
    pub level: Level,
    /// By which unit.
    pub unit: RegionCode,
    /// Whether by the deadline in force.
    pub on_time: bool,
    /// What was done.
    pub summary: String,
    /// Verified: when, by whom, with which note.
    pub verified: Option<(Stamp, String)>,
    /// Sent back for rework: when, by whom, why.
    pub rejected: Option<(Stamp, String)>,
}

/// 督办: supervision from above.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SupervisionRecord {
    /// When and by whom.
    #[serde(flatten)]
    pub stamp: Stamp,
    /// The pressing unit.
    pub by_unit: RegionCode,
    /// Whether the case was overdue then.
    pub overdue: bool,
    /// The instruction.
    pub note: String,
}

/// A working note, a piece of evidence, feedback or a correction: a dated text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Entry {
    /// When and by whom.
    #[serde(flatten)]
    pub stamp: Stamp,
    /// The text (a note, an evidence description, a comment, a correction's reason).
    pub text: String,
}

/// The case file; see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseFile {
    /// Where the case stands (not serialized: readers show it beside the file).
    #[serde(skip)]
    pub state: CaseState,
    /// Who reported it.
    pub reported_by: Option<ActorId>,
    /// Every move between units.
    pub moves: Vec<Move>,
    /// Every change of the deadline.
    pub deadlines: Vec<DeadlineChange>,
    /// Referrals out, and their returns.
    pub referrals: Vec<ReferralRecord>,
    /// Mediations, oldest first.
    pub mediations: Vec<MediationFile>,
    /// Resolutions, oldest first (the last one is in force unless sent back).
    pub resolutions: Vec<ResolutionFile>,
    /// Supervision from above.
    pub supervisions: Vec<SupervisionRecord>,
    /// Working notes.
    pub notes: Vec<Entry>,
    /// Evidence, by content hash and description.
    pub evidence: Vec<(Entry, Hash, String)>,
    /// Feedback from the parties, with its rating.
    pub feedback: Vec<(Entry, Satisfaction)>,
    /// Corrections of the reported details: their reasons.
    pub corrections: Vec<Entry>,
    /// The case it was merged into, and why.
    pub merged: Option<(CaseId, String)>,
    /// Why it was not registered.
    pub rejected: Option<(RejectReason, String)>,
}

impl CaseFile {
    /// Folds a whole history.
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Envelope>) -> CaseFile {
        let mut file = CaseFile::default();
        for e in events {
            file.apply(e);
        }
        file
    }

    /// Applies one event: records facts only.
    pub fn apply(&mut self, env: &Envelope) {
        let before = self.state.deadline;
        let holder = self.state.holder;
        self.state.apply(env);
        let at = env.header.occurred_at;
        let stamp = Stamp {
            at,
            by: env.header.actor.id().clone(),
        };
        let mv = |kind, from, to, reason: &str| Move {
            stamp: stamp.clone(),
            kind,
            from,
            to,
            reason: reason.to_owned(),
            code: None,
        };
        match &env.event {
            Event::CaseReported(_) => self.reported_by = Some(stamp.by.clone()),
            Event::CaseEscalated(e) => self.moves.push(mv(
                "escalated",
                Some(e.from),
                e.to,
                &e.reason.to_clear_or_mark(),
            )),
            Event::CaseDelegated(e) => self.moves.push(mv(
                "delegated",
                Some(e.from),
                e.to,
                &e.reason.to_clear_or_mark(),
            )),
            Event::CaseTakenOver(e) => self.moves.push(mv(
                "taken_over",
                Some(e.from),
                e.to,
                &e.reason.to_clear_or_mark(),
            )),
            Event::ReferralReturned(e) => {
                self.moves.push(mv(
                    "referral_returned",
                    None,
                    e.unit,
                    &e.reason.to_clear_or_mark(),
                ));
                if let Some(r) = self.referrals.last_mut() {
                    r.returned = Some((at, e.reason.to_clear_or_mark()));
                }
            }
            Event::CaseReopened(e) => self.moves.push(Move {
                code: Some(e.reason.as_str()),
                ..mv(
                    "reopened",
                    holder.filter(|h| *h != e.unit),
                    e.unit,
                    &e.note.to_clear_or_mark(),
                )
            }),
            Event::CaseReferred(e) => self.referrals.push(ReferralRecord {
                stamp,
                target: e.target,
                body: e.body.clone(),
                reason: e.reason.to_clear_or_mark(),
                returned: None,
            }),
            Event::MediationStarted(e) => self.mediations.push(MediationFile {
                stamp,
                mediation_type: e.mediation_type,
                mediator: e.mediator.clone(),
                organization: e.organization,
                deadline: e.deadline,
                sessions: Vec::new(),
                outcome: None,
                concluded_by: None,
            }),
            Event::MediationSessionHeld(e) => {
                if let Some(m) = self.mediations.last_mut() {
                    m.sessions.push(Session {
                        number: e.session,
                        at,
                        summary: e.summary.to_clear_or_mark(),
                    });
                }
            }
            Event::MediationConcluded(e) => {
                if let Some(m) = self.mediations.last_mut() {
                    m.outcome = Some((e.outcome, e.note.to_clear_or_mark(), at));
                    m.concluded_by = Some(stamp.by.clone());
                }
            }
            Event::CaseResolved(e) => self.resolutions.push(ResolutionFile {
                stamp,
                method: e.method,
                level: e.level,
                unit: e.unit,
                on_time: e.on_time,
                summary: e.summary.to_clear_or_mark(),
                verified: None,
                rejected: None,
            }),
            Event::ResolutionVerified(e) => {
                if let Some(r) = self.resolutions.last_mut() {
                    r.verified = Some((stamp, e.note.to_clear_or_mark()));
                }
            }
            Event::ResolutionRejected(e) => {
                if let Some(r) = self.resolutions.last_mut() {
                    r.rejected = Some((stamp, e.reason.to_clear_or_mark()));
                }
            }
            Event::SupervisionIssued(e) => self.supervisions.push(SupervisionRecord {
                stamp,
                by_unit: e.by_unit,
                overdue: e.overdue,
                note: e.note.to_clear_or_mark(),
            }),
            Event::NoteAdded(e) => self.notes.push(Entry {
                stamp,
                text: e.text.to_clear_or_mark(),
            }),
            Event::EvidenceAttached(e) => self.evidence.push((
                Entry {
                    stamp,
                    text: e.description.to_clear_or_mark(),
                },
                e.content_hash,
                e.media_type.clone(),
            )),
            Event::FeedbackRecorded(e) => self.feedback.push((
                Entry {
                    stamp,
                    text: e.comment.to_clear_or_mark(),
                },
                e.satisfaction,
            )),
            Event::CaseDetailsCorrected(e) => self.corrections.push(Entry {
                stamp,
                text: e.reason.to_clear_or_mark(),
            }),
            Event::CaseMerged(e) => {
                self.merged = Some((e.into.clone(), e.reason.to_clear_or_mark()))
            }
            Event::CaseRejected(e) => self.rejected = Some((e.reason, e.note.to_clear_or_mark())),
            Event::CaseRegistered(_)
            | Event::CaseAssigned(_)
            | Event::CaseClosed(_)
            | Event::DeadlineExtended(_)
            | Event::PartyAdded(_) => {}
        }
        if self.state.deadline != before {
            self.deadlines.push(DeadlineChange {
                at,
                deadline: self.state.deadline,
                cause: env.event.type_name(),
                reason: match &env.event {
                    Event::DeadlineExtended(e) => e.reason.to_clear_or_mark(),
                    _ => String::new(),
                },
            });
        }
    }
}
