//! [`AnyLog`]: the backend chosen at run time (the embedded file log, the embedded sled log of
//! earlier versions, or NATS JetStream), and its raw readers for auditors' tools.

use gridcase_domain::CaseId;

use crate::log::*;
use crate::raw::RawCommit;
use crate::{FileLog, FileRawCursor, NatsLog, NatsRawCursor, SledLog, SledRawCursor};

/// Either backend behind one type, so the server and tools pick one from configuration.
#[derive(Clone)]
pub enum AnyLog {
    /// The embedded file log.
    File(FileLog),
    /// The embedded sled log.
    Sled(SledLog),
    /// The NATS JetStream log.
    Nats(NatsLog),
}

macro_rules! dispatch {
    ($self:ident, $l:ident => $e:expr) => {
        match $self {
            AnyLog::File($l) => $e,
            AnyLog::Sled($l) => $e,
            AnyLog::Nats($l) => $e,
        }
    };
}

impl EventLog for AnyLog {
    async fn append(&self, commit: Commit) -> Result<Appended, AppendError> {
        dispatch!(self, l => l.append(commit).await)
    }

    async fn read_case(&self, case: &CaseId) -> Result<Vec<Committed>, LogError> {
        dispatch!(self, l => l.read_case(case).await)
    }

    async fn read_from(&self, from: Position, limit: usize) -> Result<Vec<Committed>, LogError> {
        dispatch!(self, l => l.read_from(from, limit).await)
    }

    async fn subscribe(&self, from: Position) -> Result<CommitStream, LogError> {
        dispatch!(self, l => l.subscribe(from).await)
    }

    async fn head(&self) -> Result<Position, LogError> {
        dispatch!(self, l => l.head().await)
    }
}

impl From<FileLog> for AnyLog {
    fn from(l: FileLog) -> Self {
        AnyLog::File(l)
    }
}

impl From<SledLog> for AnyLog {
    fn from(l: SledLog) -> Self {
        AnyLog::Sled(l)
    }
}

impl From<NatsLog> for AnyLog {
    fn from(l: NatsLog) -> Self {
        AnyLog::Nats(l)
    }
}

/// Whether `dir` holds a sled store (written by an earlier version).
fn holds_sled(dir: &std::path::Path) -> bool {
    dir.join("db").is_file() && dir.join("conf").is_file()
}

impl AnyLog {
    /// Opens the embedded store in `dir` for writing: the sled store an earlier version
    /// created there, else the file log (created when `dir` holds neither).
    ///
    /// # Errors
    ///
    /// As [`FileLog::open`] and [`SledLog::open`].
    pub fn open_embedded(dir: impl AsRef<std::path::Path>) -> Result<AnyLog, LogError> {
        let dir = dir.as_ref();
        Ok(if holds_sled(dir) {
            SledLog::open(dir)?.into()
        } else {
            FileLog::open(dir)?.into()
        })
    }

    /// Opens the embedded store in `dir` for reading only (the auditors' tools): the sled
    /// store or the file log that is there.
    ///
    /// # Errors
    ///
    /// As [`FileLog::open_read_only`] and [`SledLog::open_read_only`]; a directory with
    /// neither is [`LogError::Storage`] (the file log is not found).
    pub fn open_embedded_read_only(dir: impl AsRef<std::path::Path>) -> Result<AnyLog, LogError> {
        let dir = dir.as_ref();
        Ok(if holds_sled(dir) {
            SledLog::open_read_only(dir)?.into()
        } else {
            FileLog::open_read_only(dir)?.into()
        })
    }

    /// Every stored commit from `from` up to the head as of the call, undecoded and in
    /// position order; see [`RawCursor`].
    ///
    /// # Errors
    ///
    /// [`LogError::Unavailable`] when NATS cannot be reached.
    pub async fn raw_from(&self, from: Position) -> Result<RawCursor, LogError> {
        Ok(match self {
            AnyLog::File(l) => RawCursor::File(l.raw_from(from)),
            AnyLog::Sled(l) => RawCursor::Sled(l.raw_from(from)),
            AnyLog::Nats(l) => RawCursor::Nats(l.raw_from(from).await?),
        })
    }

    /// Every stored commit of one case, undecoded: in version order (embedded store, through
    /// its case index) or stream order (NATS, through its subject).
    ///
    /// # Errors
    ///
    /// [`LogError::Unavailable`], [`LogError::Damaged`], or [`LogError::Corrupt`] when the
    /// case index names a missing commit.
    pub async fn raw_case(&self, case: &CaseId) -> Result<Vec<RawCommit>, LogError> {
        match self {
            AnyLog::File(l) => l.raw_case(case),
            AnyLog::Sled(l) => l.raw_case(case),
            AnyLog::Nats(l) => l.raw_case(case).await,
        }
    }

    /// What is being read, for messages: the store's directory, or the stream and server.
    pub fn describe(&self) -> String {
        match self {
            AnyLog::File(l) => l.path().display().to_string(),
            AnyLog::Sled(l) => l.path().display().to_string(),
            AnyLog::Nats(l) => format!("stream {} at {}", l.settings().stream, l.settings().url),
        }
    }

    /// The embedded store, if that is the backend (its indexes can be checked).
    pub fn sled(&self) -> Option<&SledLog> {
        match self {
            AnyLog::Sled(l) => Some(l),
            AnyLog::File(_) | AnyLog::Nats(_) => None,
        }
    }
}

/// Stored commits in position order, undecoded; see [`AnyLog::raw_from`].
///
/// On the embedded store, damage does not end the read: an unreadable stretch is one
/// [`LogError::Damaged`] naming its positions, and the next call goes on after it.
pub enum RawCursor {
    /// The embedded file log.
    File(FileRawCursor),
    /// The embedded sled store.
    Sled(SledRawCursor),
    /// NATS JetStream.
    Nats(NatsRawCursor),
}

impl RawCursor {
    /// The next stored commit; `Ok(None)` at the end.
    ///
    /// # Errors
    ///
    /// [`LogError::Damaged`] for an unreadable stretch (the read goes on after it);
    /// [`LogError::Unavailable`] when NATS keeps failing.
    pub async fn next_raw(&mut self) -> Result<Option<RawCommit>, LogError> {
        match self {
            RawCursor::File(c) => c.next_raw(),
            RawCursor::Sled(c) => c.next_raw(),
            RawCursor::Nats(c) => c.next_raw().await,
        }
    }
}
