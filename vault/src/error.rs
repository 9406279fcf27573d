//! The vault's errors.

use gridcase_domain::{CaseId, PartyId};

/// What went wrong in the vault. Messages never carry personal data or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The configured master key is not the one the vault was sealed with.
    #[error(
        "wrong master key: the vault was sealed with master key id {expected}, the configured \
         key has id {configured}; configure the right key (file or environment variable)"
    )]
    WrongMasterKey {
        /// Id of the key the vault expects.
        expected: String,
        /// Id of the key that was configured.
        configured: String,
    },
    /// A stored data key is wrapped under a master key other than the current one (an
    /// interrupted rotation: run the rotation again).
    #[error(
        "data key of {owner} is wrapped under master key id {found}, not the current {current}; \
         an interrupted rotation: rotate again"
    )]
    WrappedUnderOtherMaster {
        /// Whose key (`party …` or `case …`).
        owner: String,
        /// The key id found.
        found: String,
        /// The current key id.
        current: String,
    },
    /// A ciphertext failed authentication: it was altered, or moved to another party, case or
    /// field than the one it was sealed for.
    #[error("ciphertext of {what} failed authentication (tampered, or not sealed for it)")]
    Tampered {
        /// Which ciphertext (owner and field, no content).
        what: String,
    },
    /// The role may never see personal data (analysts).
    #[error("the {0} role never sees personal data or free text")]
    Forbidden(gridcase_domain::Role),
    /// An access to personal data without a stated purpose (or an erasure without a legal
    /// basis).
    #[error("a purpose (or, for an erasure, a legal basis) is required")]
    PurposeRequired,
    /// The master key could not be read or is malformed.
    #[error("master key: {0}")]
    MasterKey(String),
    /// A personal field failed validation.
    #[error(transparent)]
    Invalid(#[from] crate::personal::InvalidField),
    /// The party has no personal data in the vault.
    #[error("no personal data for party {0}")]
    UnknownParty(PartyId),
    /// The party's personal data was erased.
    #[error("personal data of party {0} was erased")]
    PartyErased(PartyId),
    /// The case's key was erased: its free text can no longer be read or written.
    #[error("the key of case {0} was erased")]
    CaseErased(CaseId),
    /// The case has no key (nothing was ever sealed for it).
    #[error("case {0} has no key in the vault")]
    UnknownCase(CaseId),
    /// Stored bytes could not be decoded.
    #[error("vault storage is corrupt: {0}")]
    Corrupt(String),
    /// Another writer changed an entry concurrently.
    #[error("concurrent update of vault entry {0}; retry")]
    Conflict(String),
    /// File-system I/O failed.
    #[error("vault I/O: {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The NATS backend failed.
    #[error("vault NATS backend: {0}")]
    Nats(String),
    /// The operating system's random number generator failed.
    #[error("random number generator: {0}")]
    Random(String),
}

/// The vault's result type.
pub type Result<T, E = VaultError> = std::result::Result<T, E>;

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> VaultError {
    let what = what.into();
    move |source| VaultError::Io { what, source }
}

pub(crate) fn nats<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> VaultError {
    move |err| VaultError::Nats(format!("{what}: {err}"))
}
