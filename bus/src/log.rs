//! The log contract shared by every backend.
//!
//! A [`Commit`] is the events one command produced for one case: appended all-or-nothing at
//! the next global position, only if the case is still at the expected version. The
//! [`EventLog`] trait is implemented by [`crate::SledLog`] (embedded default) and
//! [`crate::NatsLog`] (JetStream); [`crate::AnyLog`] picks one at run time.

use std::future::Future;
use std::pin::Pin;

use futures::Stream;
use gridcase_domain::{
    chain, CaseId, ChainHead, CodecError, CommandId, EventRecord, Hash, RegionCode,
};
use serde::{Deserialize, Serialize};

/// A global position: 1 for the first commit, contiguous, never reused. 0 means "before
/// everything" (an empty log's head).
pub type Position = u64;

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

/// The body of a stored commit (the position is the key or the stream sequence).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredCommit {
    pub case_id: CaseId,
    pub command_id: CommandId,
    pub events: Vec<EventRecord>,
}

impl StoredCommit {
    pub(crate) fn encode(
        case_id: &CaseId,
        command_id: &CommandId,
        events: &[EventRecord],
    ) -> Result<Vec<u8>, LogError> {
        #[derive(Serialize)]
        struct Borrowed<'a> {
            case_id: &'a CaseId,
            command_id: &'a CommandId,
            events: &'a [EventRecord],
        }
        rmp_serde::to_vec_named(&Borrowed {
            case_id,
            command_id,
            events,
        })
        .map_err(|e| LogError::Storage(format!("encoding a commit: {e}")))
    }

    pub(crate) fn decode(position: Position, bytes: &[u8]) -> Result<Committed, LogError> {
        let s: StoredCommit = rmp_serde::from_slice(bytes).map_err(|e| LogError::Corrupt {
            position,
            reason: CodecError::from(e).to_string(),
        })?;
        Ok(Committed {
            position,
            case_id: s.case_id,
            command_id: s.command_id,
            events: s.events,
        })
    }
}

/// Wraps commit bytes with a CRC-32 (u32 big-endian, then the bytes) so a damaged value is
/// reported, never misread. Every backend stores commits in this framing.
pub(crate) fn seal_value(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 4);
    v.extend_from_slice(&crc32fast::hash(body).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// Checks and strips the CRC-32 of a stored value.
pub(crate) fn open_value(position: Position, v: &[u8]) -> Result<&[u8], LogError> {
    if v.len() < 4 {
        return Err(LogError::Corrupt {
            position,
            reason: "truncated value".into(),
        });
    }
    let (crc, body) = v.split_at(4);
    if crc32fast::hash(body).to_be_bytes() != crc {
        return Err(LogError::Corrupt {
            position,
            reason: "checksum mismatch".into(),
        });
    }
    Ok(body)
}

/// A failure to read or write the log. Expected outcomes (conflicts) are in [`AppendError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A stored commit does not decode. The log is damaged at this position: run
    /// `gridcase-replay verify` and restore from a replica or backup.
    #[error("corrupt commit at position {position}: {reason}")]
    Corrupt {
        /// Where.
        position: Position,
        /// What the decoder said.
        reason: String,
    },
    /// The log cannot be reached right now; retry later (HTTP 503).
    #[error("the event log is unavailable: {0}")]
    Unavailable(String),
    /// Another process holds the embedded store.
    #[error("the store at {path} is in use by another process (is another `gridcase serve` running on it?)")]
    Locked {
        /// The data directory.
        path: String,
    },
    /// The log is not usable as configured (e.g. a NATS stream that allows deletes, a server
    /// older than 2.11). The message says what to change.
    #[error("{0}")]
    Misconfigured(String),
    /// An I/O or storage failure.
    #[error("storage failure: {0}")]
    Storage(String),
    /// The log was closed.
    #[error("the event log is closed")]
    Closed,
}

/// Why an append did not happen. Nothing was appended in any case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// Another writer got there first: re-read the case and decide again.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// The commit is malformed (a bug in the caller): empty, wrong versions, broken chain.
    #[error("invalid commit: {0}")]
    Invalid(String),
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
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
pub fn validate_commit(
    commit: &Commit,
    head_version: u64,
    head_hash: Hash,
) -> Result<(), AppendError> {
    if commit.expected_version != head_version {
        return Err(Conflict {
            expected: commit.expected_version,
            actual: head_version,
        }
        .into());
    }
    if commit.events.is_empty() {
        return Err(AppendError::Invalid(
            "a commit needs at least one event".into(),
        ));
    }
    let mut head = ChainHead {
        version: head_version,
        hash: head_hash,
    };
    for (i, e) in commit.events.iter().enumerate() {
        if e.header.case_id != commit.case_id {
            return Err(AppendError::Invalid(format!(
                "event {i} belongs to case {}",
                e.header.case_id
            )));
        }
        if e.header.command_id != commit.command_id {
            return Err(AppendError::Invalid(format!(
                "event {i} names command {}",
                e.header.command_id
            )));
        }
        chain::check_link(head, e)
            .and_then(|()| chain::check_hash(e))
            .map_err(|broken| AppendError::Invalid(format!("event {i}: {broken}")))?;
        head = ChainHead::of(e);
    }
    Ok(())
}
