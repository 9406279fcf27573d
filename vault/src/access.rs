//! The access log: every write, read, reveal, lookup and erasure of personal data, with who,
//! when, which party or case, and why. It holds ids and field names, never personal data, so
//! it survives erasure as the record that the data existed and was destroyed.

use gridcase_domain::{ActorId, CaseId, PartyId, Role};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::personal::Field;

/// Who is asking, why, and when. Every vault call that touches personal data takes one, and
/// the vault records it before any clear text is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accessor {
    /// The signed-in actor.
    pub actor: ActorId,
    /// The role they act in. The vault refuses analysts outright (they never see personal
    /// data or free text); finer rules (the holding unit and the assigned mediator see names
    /// and phones, auditors see them only with a separate grant) are the API's, and the role
    /// is recorded so that auditors can check them.
    pub role: Role,
    /// Why (e.g. "调解联系当事人", or the legal basis of an erasure). Required, non-empty.
    pub purpose: String,
    /// When.
    pub at: Timestamp,
}

impl Accessor {
    /// An accessor at the current time.
    pub fn now(actor: ActorId, role: Role, purpose: impl Into<String>) -> Self {
        Self {
            actor,
            role,
            purpose: purpose.into(),
            at: Timestamp::now(),
        }
    }
}

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Personal fields were stored or replaced.
    Write,
    /// Personal fields were read (ID number masked).
    Read,
    /// The full ID number was revealed.
    RevealIdNumber,
    /// Parties were looked up by a blind index.
    Lookup,
    /// A party's personal data was erased (its key destroyed).
    ErasePartyData,
    /// Free text of a case was decrypted.
    ReadCaseText,
    /// A case's key was destroyed.
    EraseCaseKey,
}

/// One entry of the access log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: ActorId,
    /// In which role.
    pub role: Role,
    /// What.
    pub action: Action,
    /// The party whose data was touched, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<PartyId>,
    /// The case whose text was touched, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<CaseId>,
    /// The fields touched (for a lookup: the field searched by).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    /// For a lookup: the parties found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<PartyId>,
    /// Why.
    pub purpose: String,
}

impl AccessEntry {
    pub(crate) fn new(who: &Accessor, action: Action) -> Self {
        Self {
            at: who.at,
            actor: who.actor.clone(),
            role: who.role,
            action,
            party: None,
            case: None,
            fields: Vec::new(),
            matched: Vec::new(),
            purpose: who.purpose.clone(),
        }
    }
}

/// Which entries to return; every set criterion must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessFilter {
    /// Entries about this party (as the subject, or found by a lookup).
    pub party: Option<PartyId>,
    /// Entries about this case.
    pub case: Option<CaseId>,
    /// Entries by this actor.
    pub actor: Option<ActorId>,
    /// Entries of this action.
    pub action: Option<Action>,
    /// Entries at or after this time.
    pub since: Option<Timestamp>,
    /// Entries before this time.
    pub until: Option<Timestamp>,
}

impl AccessFilter {
    /// Whether `entry` passes.
    pub fn matches(&self, entry: &AccessEntry) -> bool {
        self.party
            .as_ref()
            .is_none_or(|p| entry.party.as_ref() == Some(p) || entry.matched.contains(p))
            && self
                .case
                .as_ref()
                .is_none_or(|c| entry.case.as_ref() == Some(c))
            && self.actor.as_ref().is_none_or(|a| &entry.actor == a)
            && self.action.is_none_or(|a| entry.action == a)
            && self.since.is_none_or(|t| entry.at >= t)
            && self.until.is_none_or(|t| entry.at < t)
    }
}
