//! The log contract shared by every backend.
//!
//! A [`Commit`] is the events one command produced for one case: appended all-or-nothing at
//! the next global position, only if the case is still at the expected version. The
//! [`EventLog`] trait is implemented by [`crate::FileLog`] (the embedded default),
//! [`crate::SledLog`] (the embedded store of earlier versions) and [`crate::NatsLog`]
//! (JetStream); [`crate::AnyLog`] picks one at run time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use gridcase_domain::{
    chain, CaseId, ChainHead, CodecError, CommandId, EventRecord, Hash, LinkError, RegionCode,
};

use crate::raw::RawError;
use serde::{Deserialize, Serialize};

pub use crate::position::Position;

/// What the appender believes the case's version to be.
///
/// At the log level every append names an exact version; [`ExpectedVersion::Any`] is a
/// command-path notion ("re-decide on conflict").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Whatever the current version is: the command path re-reads and re-decides on conflict.
    Any,
    /// Exactly this version (0 = the case must not exist yet).
    Exactly(u64),
}

/// Another writer got there first: the case is at `actual`, not at `expected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("version conflict: expected version {expected}, the case is at version {actual}")]
pub struct Conflict {
    /// The version the appender expected.
    pub expected: u64,
    /// The case's actual version.
    pub actual: u64,
}

/// One command's events for one case, sealed and chained, ready to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The case.
    pub case_id: CaseId,
    /// The county (or city) the case belongs to, for partitioning subjects. Stable for a
    /// case's whole life: the county of the unit that first received it.
    pub partition: RegionCode,
    /// The command that produced the events; idempotency key.
    pub command_id: CommandId,
    /// The case version the events were decided against.
    pub expected_version: u64,
    /// The events, versions `expected_version + 1 ..`, each chained to the previous hash.
    pub events: Vec<EventRecord>,
    /// A keyed fingerprint of the request that carried the command (see [`Fingerprint`]), so
    /// that a retry with the same idempotency key but another request is told apart.
    pub fingerprint: Option<Fingerprint>,
}

/// A keyed hash (HMAC) of the request behind a command: stored beside the commit (not in the
/// hashed events), compared when the same command id comes again. Keyed, because a request
/// can carry personal data that a plain hash would let anyone confirm by guessing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint(#[serde(with = "serde_bytes")] pub [u8; 32]);

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// A commit as read back from the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    /// Its global position.
    pub position: Position,
    /// The case.
    pub case_id: CaseId,
    /// The command.
    pub command_id: CommandId,
    /// The events.
    pub events: Vec<EventRecord>,
    /// The fingerprint of the request, when one was stored.
    pub fingerprint: Option<Fingerprint>,
}

impl Committed {
    /// The case version after this commit.
    pub fn last_version(&self) -> u64 {
        self.events
            .last()
            .map(|e| e.header.case_version)
            .unwrap_or(0)
    }

    /// The hash of the commit's last event.
    pub fn last_hash(&self) -> Hash {
        self.events.last().map(|e| e.hash).unwrap_or(Hash::ZERO)
    }
}

/// The result of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appended {
    /// The commit's global position.
    pub position: Position,
    /// The case version after the commit.
    pub version: u64,
    /// True when the command id had already been applied: nothing was appended and this is the
    /// first result.
    pub duplicate: bool,
}

/// The cause of a [`LogError`], shared so that the error stays `Clone` (a failed writer
/// hands the same error to every waiting append).
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// A failure to read or write the log. Expected outcomes (conflicts) are in [`AppendError`].
///
/// How to handle each: [`LogError::Unavailable`] — retry later (HTTP 503); [`LogError::Corrupt`]
/// and [`LogError::Damaged`] — the stored log is damaged: stop using what it touches, run
/// `gridcase-replay verify` and restore from a replica or backup; [`LogError::Locked`],
/// [`LogError::Misconfigured`] — fix the deployment as the message says;
/// [`LogError::Storage`] — an I/O failure of the embedded store (disk full, permissions);
/// [`LogError::Closed`] — the log was shut down.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A stored commit was read but does not decode (bad checksum, bad MessagePack, a commit
    /// on another case's subject, an event that does not decode). The log is damaged at this
    /// position; the cause says how.
    #[error(
        "corrupt commit at position {position}{} (run `gridcase-replay verify` for a full report)",
        case_suffix(case.as_ref())
    )]
    Corrupt {
        /// Where.
        position: Position,
        /// The case, when the stored bytes or the NATS subject name it.
        case: Option<CaseId>,
        /// What is wrong with it.
        #[source]
        cause: Corruption,
    },
    /// The storage itself could not be read: the embedded store's own page checksum failed or
    /// its pages do not parse. `location` names what could not be read (a file offset, or a
    /// range of positions).
    #[error(
        "the event log's storage is damaged ({location}): {reason}; run `gridcase-replay \
         verify` for a full report, then restore the data directory from a backup"
    )]
    Damaged {
        /// What could not be read: `file offset N of DIR/db` or `positions A..=B`.
        location: String,
        /// What the storage engine said.
        reason: String,
    },
    /// The log cannot be reached right now; retry later (HTTP 503). The cause says why.
    #[error("the event log is unavailable")]
    Unavailable(#[source] Cause),
    /// Another process holds the embedded store.
    #[error("the store at {path} is in use by another process (is another `gridcase serve` running on it?)")]
    Locked {
        /// The data directory.
        path: String,
    },
    /// The log is not usable as configured (e.g. a NATS stream that allows deletes, a server
    /// older than 2.11, a stream that does not exist). The cause says what to change.
    #[error("the event log is not usable as configured")]
    Misconfigured(#[source] Cause),
    /// An I/O failure of the embedded store while doing `context`.
    #[error("storage failure while {context}")]
    Storage {
        /// What was being done, e.g. `"opening the store"`.
        context: &'static str,
        /// The failure.
        #[source]
        source: Cause,
    },
    /// The log was closed.
    #[error("the event log is closed")]
    Closed,
}

/// What is wrong with a stored commit that was read: the cause of [`LogError::Corrupt`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// Its stored bytes: framing, checksum, MessagePack, subject.
    #[error(transparent)]
    Stored(#[from] RawError),
    /// The commit decodes but one of its events does not.
    #[error("event version {version} does not decode")]
    Event {
        /// The event's case version.
        version: u64,
        /// The codec's complaint.
        #[source]
        source: Arc<CodecError>,
    },
    /// An event's version does not follow the one before it.
    #[error("event version {version} follows version {previous}")]
    VersionGap {
        /// The event's case version.
        version: u64,
        /// The version before it.
        previous: u64,
    },
    /// The case index names a position that holds no commit.
    #[error("the case index names a missing commit")]
    MissingCommit,
    /// A stored commit with no events.
    #[error("a commit without events")]
    NoEvents,
    /// NATS reported a duplicate of a message it does not have.
    #[error("the server reported a duplicate of a message it does not have")]
    UnknownDuplicate,
}

impl Corruption {
    /// An event (at case `version`) that does not decode.
    pub fn event(version: u64, source: CodecError) -> Corruption {
        Corruption::Event {
            version,
            source: Arc::new(source),
        }
    }
}

fn case_suffix(case: Option<&CaseId>) -> String {
    case.map(|c| format!(" (case {c})")).unwrap_or_default()
}

/// A plain message as the cause of a [`LogError`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reason(pub String);

impl LogError {
    /// [`LogError::Unavailable`] because of `cause`.
    pub fn unavailable(cause: impl std::error::Error + Send + Sync + 'static) -> LogError {
        LogError::Unavailable(Arc::new(cause))
    }

    /// [`LogError::Misconfigured`] because of `cause`.
    pub fn misconfigured(cause: impl std::error::Error + Send + Sync + 'static) -> LogError {
        LogError::Misconfigured(Arc::new(cause))
    }

    /// [`LogError::Storage`] while doing `context`.
    pub fn storage(
        context: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> LogError {
        LogError::Storage {
            context,
            source: Arc::new(source),
        }
    }

    /// Whether the stored log is damaged ([`LogError::Corrupt`] or [`LogError::Damaged`]):
    /// `gridcase-replay verify` reports the rest.
    pub fn is_damage(&self) -> bool {
        matches!(self, LogError::Corrupt { .. } | LogError::Damaged { .. })
    }
}

/// Why an append was not acknowledged. After a conflict or an invalid commit nothing was
/// appended; after a log failure ([`AppendError::Log`]) whether the commit reached the log is
/// unknown (a write can fail after its bytes landed): retrying with the same command id is
/// safe, and answers with the first result if it did.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// Another writer got there first: re-read the case and decide again.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// The commit is malformed (a bug in the caller): empty, wrong versions, broken chain.
    #[error("invalid commit")]
    Invalid(#[from] InvalidCommit),
    /// The log failed; the commit may or may not have been stored (retry with the same
    /// command id).
    #[error(transparent)]
    Log(#[from] LogError),
}

/// What is wrong with a malformed commit. The command path builds commits, so each is a bug
/// there (or in a test): nothing was appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidCommit {
    /// A commit without events.
    #[error("a commit needs at least one event")]
    Empty,
    /// An event of another case.
    #[error("event {index} belongs to case {case}")]
    ForeignEvent {
        /// The event's index in the commit.
        index: usize,
        /// The case it names.
        case: CaseId,
    },
    /// An event of another command.
    #[error("event {index} names command {command}")]
    ForeignCommand {
        /// The event's index in the commit.
        index: usize,
        /// The command it names.
        command: CommandId,
    },
    /// An event that is not the next link of the case's chain.
    #[error("event {index} is not the next link of the case's chain")]
    Link {
        /// The event's index in the commit.
        index: usize,
        /// How it breaks the chain.
        #[source]
        source: LinkError,
    },
    /// A commit naming another partition than the one its case is stored in.
    #[error(
        "case {case} is stored on subject {subject}, but the commit names partition \
         {partition} (a case's partition never changes)"
    )]
    Partition {
        /// The case.
        case: CaseId,
        /// Where its commits are.
        subject: String,
        /// The partition the commit names.
        partition: RegionCode,
    },
}

/// A boxed stream of commits.
pub type CommitStream = Pin<Box<dyn Stream<Item = Result<Committed, LogError>> + Send>>;

/// The event log: every backend implements this, and one contract suite tests them all.
pub trait EventLog: Send + Sync + 'static {
    /// Appends a commit atomically at the next position if the case is at
    /// `commit.expected_version`. Returns only once the commit is durable. A command id that
    /// was already applied returns the first result with `duplicate: true` and appends nothing.
    fn append(&self, commit: Commit) -> impl Future<Output = Result<Appended, AppendError>> + Send;

    /// Every commit of one case, in order (empty for an unknown case).
    fn read_case(
        &self,
        case: &CaseId,
    ) -> impl Future<Output = Result<Vec<Committed>, LogError>> + Send;

    /// Up to `limit` commits from position `from` (inclusive), in order.
    fn read_from(
        &self,
        from: Position,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Committed>, LogError>> + Send;

    /// Every commit from `from` (inclusive): the ones already there, then new ones as they
    /// become durable, each exactly once and in order.
    fn subscribe(
        &self,
        from: Position,
    ) -> impl Future<Output = Result<CommitStream, LogError>> + Send;

    /// The position of the last durable commit (0 for an empty log).
    fn head(&self) -> impl Future<Output = Result<Position, LogError>> + Send;
}

/// Checks a commit's shape against the case's current head (version and last hash): the
/// expected version, events of this case and command, each event a link of the case's chain
/// ([`chain::check_link`], [`chain::check_hash`]).
///
/// Shared by every backend so they refuse exactly the same things.
pub fn validate_commit(commit: &Commit, head: ChainHead) -> Result<(), AppendError> {
    if commit.expected_version != head.version {
        return Err(Conflict {
            expected: commit.expected_version,
            actual: head.version,
        }
        .into());
    }
    if commit.events.is_empty() {
        return Err(InvalidCommit::Empty.into());
    }
    let mut head = head;
    for (i, e) in commit.events.iter().enumerate() {
        if e.header.case_id != commit.case_id {
            return Err(InvalidCommit::ForeignEvent {
                index: i,
                case: e.header.case_id.clone(),
            }
            .into());
        }
        if e.header.command_id != commit.command_id {
            return Err(InvalidCommit::ForeignCommand {
                index: i,
                command: e.header.command_id.clone(),
            }
            .into());
        }
        chain::check_link(head, e)
            .and_then(|()| chain::check_hash(e))
            .map_err(|source| InvalidCommit::Link { index: i, source })?;
        head = ChainHead::of(e);
    }
    Ok(())
}
