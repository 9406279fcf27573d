//! Commands: what an actor asks to happen to a case.
//!
//! A [`Command`] is an [`Actor`], the time the act happened and an [`Action`]. The decider
//! ([`crate::decide::decide`]) turns it into events or a typed rejection.

use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::event::Party;
use crate::ids::{ActorId, CaseId, Hash};
use crate::region::RegionCode;
use crate::time::Timestamp;
use crate::vocab::*;

/// A request to change a case, by an actor, at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Who asks.
    pub actor: Actor,
    /// When the act happened (becomes the events' `occurred_at`).
    pub occurred_at: Timestamp,
    /// What is asked.
    pub action: Action,
}

/// Everything that can be asked of a case, one variant per step of its life.
///
/// An action's name ([`Action::name`], [`Action::NAMES`]) is its variant in snake case, derived
/// by `strum` from the variants themselves; it is also the JSON tag.
///
/// [`ActionKind`] is the same list without the fields, derived from it: code that says
/// something about every action (which probe, which words, which form fields) matches on it
/// without a wildcard, so a new action does not compile until each of those says its part.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantNames,
    strum::EnumDiscriminants,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
#[strum(serialize_all = "snake_case")]
#[strum_discriminants(
    name(ActionKind),
    vis(pub),
    derive(
        Hash,
        PartialOrd,
        Ord,
        strum::IntoStaticStr,
        strum::VariantArray,
        strum::EnumString
    ),
    strum(serialize_all = "snake_case"),
    doc = "An [`Action`] without its fields: the kind of action, named as the action is."
)]
#[non_exhaustive]
pub enum Action {
    /// Open a case (信息收集). The actor's unit becomes the holder.
    Report {
        /// Dispute, incident or request.
        kind: CaseKind,
        /// Category.
        category: Category,
        /// Source.
        source: Source,
        /// Severity; critical cases below the township are escalated to it at once.
        severity: Severity,
        /// Where it happened; inside the actor's scope.
        location: RegionCode,
        /// Parties by opaque id.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(max_items = 50))]
        parties: Vec<Party>,
        /// Summary (required).
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        summary: String,
        /// When it happened; not after the report.
        happened_at: Timestamp,
    },
    /// 立案.
    Register,
    /// 不予立案.
    Reject {
        /// Why.
        reason: RejectReason,
        /// Explanation.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        note: String,
    },
    /// 派遣 to a handler in the holding unit.
    Assign {
        /// The handler.
        handler: ActorId,
    },
    /// 上报 to an ancestor unit (the parent when `to` is absent).
    Escalate {
        /// The ancestor unit.
        #[serde(default)]
        to: Option<RegionCode>,
        /// Why (required).
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        reason: String,
    },
    /// 下派 to a descendant unit.
    Delegate {
        /// The descendant unit.
        to: RegionCode,
        /// Why (required).
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        reason: String,
    },
    /// 移送 to an outside body.
    Refer {
        /// The kind of body.
        target: ReferralTarget,
        /// The body's name (required).
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        body: String,
        /// Why (required).
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        reason: String,
    },
    /// The outside body sent the case back.
    ReturnReferral {
        /// Why (required).
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        reason: String,
    },
    /// Start a mediation.
    StartMediation {
        /// 人民/行政/司法.
        mediation_type: MediationType,
        /// The mediator.
        mediator: ActorId,
        /// The mediation organization's region.
        organization: RegionCode,
    },
    /// Record a mediation session (the assigned mediator).
    HoldMediationSession {
        /// What happened (required).
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        summary: String,
    },
    /// Conclude the mediation (the assigned mediator).
    ConcludeMediation {
        /// Agreement or failure.
        outcome: MediationOutcome,
        /// Terms or reason (required for a failure).
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        note: String,
    },
    /// 化解/处置: resolve at the holding unit's level.
    Resolve {
        /// How.
        method: ResolutionMethod,
        /// Summary (required).
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        summary: String,
    },
    /// 核查: accept the resolution.
    VerifyResolution {
        /// Note.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        note: String,
    },
    /// 返工: send the resolution back.
    RejectResolution {
        /// Why (required).
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        reason: String,
    },
    /// 结案.
    Close,
    /// 回访.
    RecordFeedback {
        /// How satisfied.
        satisfaction: Satisfaction,
        /// Comment.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        comment: String,
    },
    /// Reopen a closed case.
    Reopen {
        /// Why.
        reason: ReopenReason,
        /// Note.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        note: String,
    },
    /// 延期 (approved from above).
    ExtendDeadline {
        /// The new deadline; later than the current one.
        deadline: Timestamp,
        /// Why (required).
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        reason: String,
    },
    /// 督办 from above.
    IssueSupervision {
        /// Instruction (required).
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        note: String,
    },
    /// Add a party learned after the report (当事人). Their personal data goes to the vault
    /// first; the case and its events carry only the opaque id and the role.
    AddParty {
        /// The party.
        party: Party,
    },
    /// A working note.
    AddNote {
        /// The note (required).
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        text: String,
    },
    /// Attach evidence by content hash.
    AttachEvidence {
        /// SHA-256 of the content.
        content_hash: Hash,
        /// Media type (required), e.g. `image/jpeg`.
        #[cfg_attr(feature = "openapi", schema(max_length = 255))]
        media_type: String,
        /// Description.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        description: String,
    },
    /// Merge this case, a duplicate, into another.
    Merge {
        /// The surviving case.
        into: CaseId,
        /// Why (required).
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        reason: String,
    },
    /// Audited correction of the reported details (admins).
    CorrectDetails {
        /// New kind.
        #[serde(default)]
        kind: Option<CaseKind>,
        /// New category.
        #[serde(default)]
        category: Option<Category>,
        /// New source.
        #[serde(default)]
        source: Option<Source>,
        /// New severity.
        #[serde(default)]
        severity: Option<Severity>,
        /// New location.
        #[serde(default)]
        location: Option<RegionCode>,
        /// New summary.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        summary: Option<String>,
        /// Why (required).
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        reason: String,
    },
    /// 提级领办: the actor's unit, an ancestor of the holding unit, takes the case over.
    TakeOver {
        /// Why (required).
        #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
        reason: String,
    },
}

impl Action {
    /// The action's stable name (its JSON tag), e.g. `"escalate"`.
    pub fn name(&self) -> &'static str {
        self.into()
    }

    /// The kind of action this is.
    pub fn kind(&self) -> ActionKind {
        self.into()
    }

    /// Every action name, in declaration order.
    pub const NAMES: &'static [&'static str] = <Action as strum::VariantNames>::VARIANTS;

    /// The name of [`Action::Report`], the one action that opens a case.
    pub const REPORT: &'static str = "report";

    /// The names of the actions on an existing case: every name but [`Action::REPORT`], in
    /// declaration order.
    pub fn case_commands() -> impl Iterator<Item = &'static str> + Clone {
        ActionKind::case_commands().map(ActionKind::name)
    }
}

impl ActionKind {
    /// The action's stable name, as [`Action::name`] (e.g. `"escalate"`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The kind with this name, `None` for an unknown one.
    pub fn from_name(name: &str) -> Option<ActionKind> {
        name.parse().ok()
    }

    /// The action on an existing case named `name`: `None` for an unknown name and for
    /// `report` (it opens a case).
    pub fn case_command(name: &str) -> Option<ActionKind> {
        ActionKind::from_name(name).filter(|k| *k != ActionKind::Report)
    }

    /// Every kind but [`ActionKind::Report`] (the actions on an existing case), in
    /// declaration order.
    pub fn case_commands() -> impl Iterator<Item = ActionKind> + Clone {
        <ActionKind as strum::VariantArray>::VARIANTS
            .iter()
            .copied()
            .filter(|k| *k != ActionKind::Report)
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
