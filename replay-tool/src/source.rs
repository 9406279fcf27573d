//! Where the log is read from, read-only: the embedded store or NATS JetStream.
//!
//! [`Source`] is an [`AnyLog`] opened for reading only — the embedded store with
//! [`AnyLog::open_embedded_read_only`] (the file log, or the sled store of earlier versions;
//! no writer runs), a NATS stream with
//! [`NatsLog::open_read_only`] (nothing is created or changed) — and offers two levels:
//!
//! - **raw**: stored commits exactly as stored ([`gridcase_bus::RawCommit`]: position, bytes,
//!   NATS subject), through [`Source::raw_from`] over the whole log or [`Source::raw_case`]
//!   for one case. Decoding is up to the caller, so a damaged value becomes a reported
//!   problem at its position instead of aborting the read, and storage that cannot be read at
//!   all comes back as one [`LogError::Damaged`] naming what, after which the read goes on.
//! - **decoded**: [`Source`] implements [`EventLog`] (appends always fail, and a subscription
//!   ends at the head), so the projections'
//!   [`Projection::catch_up`](gridcase_projections::Projection::catch_up) and
//!   [`as_of`](gridcase_projections::as_of) run over it unchanged.
//!
//! The storage format itself (keys, framing, the stored commit) lives in `gridcase-bus` only.

use std::path::{Path, PathBuf};

use gridcase_bus::{
    AnyLog, AppendError, Appended, Commit, CommitStream, Committed, EventLog, FileLog, LogError,
    NatsLog, NatsSettings, Position, RawCommit, RawCursor, SledLog,
};
use gridcase_domain::CaseId;

use crate::Error;

/// The log being replayed, opened read-only.
#[derive(Clone)]
pub struct Source {
    log: AnyLog,
}

impl Source {
    /// Opens the embedded log of a server data directory (`DIR/log`) read-only.
    pub fn open_data_dir(data: &Path) -> Result<Source, Error> {
        let dir = data.join("log");
        if !dir.join("conf").exists() && !dir.join("db").exists() && !FileLog::exists_in(&dir) {
            return Err(Error::NoLog { path: dir });
        }
        let log = AnyLog::open_embedded_read_only(&dir).map_err(|source| Error::OpenLog {
            what: dir.display().to_string(),
            source,
        })?;
        Ok(Source { log })
    }

    /// Connects to a NATS server and checks that the stream exists; creates nothing.
    pub async fn connect_nats(
        url: &str,
        stream: &str,
        prefix: &str,
        api_prefix: &str,
    ) -> Result<Source, Error> {
        let settings = NatsSettings {
            url: url.to_owned(),
            stream: stream.to_owned(),
            subject_prefix: prefix.to_owned(),
            api_prefix: api_prefix.to_owned(),
            ..NatsSettings::default()
        };
        let log = NatsLog::open_read_only(settings)
            .await
            .map_err(|source| Error::OpenLog {
                what: format!("stream {stream} at {url}"),
                source,
            })?;
        Ok(Source { log: log.into() })
    }

    /// What is being read, for messages.
    pub fn describe(&self) -> String {
        self.log.describe()
    }

    /// The embedded store, if that is the source (its indexes can be checked).
    pub fn sled(&self) -> Option<&SledLog> {
        self.log.sled()
    }

    /// Every stored commit from `from` on, in position order, undecoded.
    pub async fn raw_from(&self, from: Position) -> Result<RawCursor, LogError> {
        self.log.raw_from(from).await
    }

    /// Every stored commit of one case, undecoded: in version order (embedded store, via the
    /// case index) or stream order (NATS, via the case's subject).
    pub async fn raw_case(&self, case: &CaseId) -> Result<Vec<RawCommit>, LogError> {
        self.log.raw_case(case).await
    }

    /// Every commit from `from` on, decoded; a damaged commit is an error.
    pub async fn commits_from(&self, from: Position) -> Result<CommitCursor, LogError> {
        Ok(CommitCursor {
            raw: self.raw_from(from).await?,
        })
    }
}

/// Decoded commits in position order; see [`Source::commits_from`].
pub struct CommitCursor {
    raw: RawCursor,
}

impl CommitCursor {
    /// The next commit, `None` at the end; a damaged commit is [`LogError::Corrupt`] and
    /// unreadable storage [`LogError::Damaged`].
    pub async fn next(&mut self) -> Result<Option<Committed>, LogError> {
        match self.raw.next_raw().await? {
            Some(r) => Ok(Some(r.into_committed()?)),
            None => Ok(None),
        }
    }
}

impl EventLog for Source {
    async fn append(&self, _commit: Commit) -> Result<Appended, AppendError> {
        Err(AppendError::Log(LogError::Closed))
    }

    async fn read_case(&self, case: &CaseId) -> Result<Vec<Committed>, LogError> {
        self.raw_case(case)
            .await?
            .into_iter()
            .map(RawCommit::into_committed)
            .collect()
    }

    async fn read_from(&self, from: Position, limit: usize) -> Result<Vec<Committed>, LogError> {
        self.log.read_from(from, limit).await
    }

    /// The commits up to the head at the time of the call; the stream then ends (the tool
    /// never follows a live log).
    async fn subscribe(&self, from: Position) -> Result<CommitStream, LogError> {
        let cursor = self.commits_from(from).await?;
        let s = futures::stream::unfold(Some(cursor), |cursor| async move {
            let mut cursor = cursor?;
            match cursor.next().await {
                Ok(Some(c)) => Some((Ok(c), Some(cursor))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        });
        Ok(Box::pin(s))
    }

    async fn head(&self) -> Result<Position, LogError> {
        self.log.head().await
    }
}

/// Where the tool reads from (the command line's, else the configuration's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A server data directory (the log is `DIR/log`).
    DataDir(PathBuf),
    /// A NATS server.
    Nats {
        /// Server URL.
        url: String,
        /// Stream name.
        stream: String,
        /// Subject prefix.
        prefix: String,
        /// The JetStream API prefix.
        api_prefix: String,
    },
}

impl Location {
    /// Opens the source.
    pub async fn open(&self) -> Result<Source, Error> {
        match self {
            Location::DataDir(d) => Source::open_data_dir(d),
            Location::Nats {
                url,
                stream,
                prefix,
                api_prefix,
            } => Source::connect_nats(url, stream, prefix, api_prefix).await,
        }
    }
}
