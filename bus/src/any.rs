//! [`AnyLog`]: the backend chosen at run time (embedded sled or NATS JetStream).

use gridcase_domain::CaseId;

use crate::log::*;
use crate::{NatsLog, SledLog};

/// Either backend behind one type, so the server and tools pick one from configuration.
#[derive(Clone)]
pub enum AnyLog {
    /// The embedded sled log.
    Sled(SledLog),
    /// The NATS JetStream log.
    Nats(NatsLog),
}

macro_rules! dispatch {
    ($self:ident, $l:ident => $e:expr) => {
        match $self {
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
