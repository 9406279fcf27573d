//! Where the log is read from, read-only: the embedded store or NATS JetStream.
//!
//! [`Source`] offers two levels:
//!
//! - **raw**: [`RawCommit`]s exactly as stored (position, bytes, NATS subject), through a
//!   [`RawCursor`] over the whole log or [`Source::raw_case`] for one case. Decoding is up to
//!   the caller, so a damaged value becomes a reported problem at its position instead of
//!   aborting the read ([`RawCommit::decode`], [`RawCommit::decode_ignoring_checksum`]).
//! - **decoded**: [`Source`] implements [`EventLog`] (appends always fail), so the
//!   projections' [`Projection::catch_up`](gridcase_projections::Projection::catch_up) and
//!   [`as_of`](gridcase_projections::as_of) run over it unchanged.
//!
//! The embedded store is opened with [`SledLog::open_read_only`]: no writer runs. On NATS the
//! stream is never created or changed: the tool connects with the low-level primitives of
//! [`gridcase_bus::nats::jetstream`] and only reads (unlike `NatsLog::connect`, which creates
//! a missing stream).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use gridcase_bus::nats::jetstream::{self as js, Connection, NatsError, RawMsgStream};
use gridcase_bus::{
    AppendError, Appended, Commit, CommitStream, Committed, EventLog, LogError, Position, SledLog,
};
use gridcase_domain::{CaseId, CodecError, CommandId, EventRecord};
use serde::Deserialize;

use crate::Error;

/// Key prefix of commits in the embedded store: `P` + position (u64 BE).
pub const PREFIX_COMMIT: u8 = b'P';
/// Key prefix of the case index: `C` + case id + `0x00` + first version (u64 BE) → position.
pub const PREFIX_CASE: u8 = b'C';
/// Key prefix of case heads: `V` + case id → version, last hash, position.
pub const PREFIX_HEAD: u8 = b'V';
/// Key prefix of the command index: `K` + command id → position, version.
pub const PREFIX_COMMAND: u8 = b'K';

/// Commits read per page.
pub const PAGE: usize = 512;

/// The key of the commit at `p` in the embedded store.
pub fn commit_key(p: Position) -> [u8; 9] {
    let mut k = [PREFIX_COMMIT; 9];
    k[1..].copy_from_slice(&p.to_be_bytes());
    k
}

/// A big-endian u64 from the first 8 bytes, if there are 8.
pub fn be_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(..8)?.try_into().ok()?))
}

/// A stored commit, undecoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCommit {
    /// Its global position (the stream sequence on NATS).
    pub position: Position,
    /// The NATS subject it was published to (`None` in the embedded store).
    pub subject: Option<String>,
    /// The stored value: CRC-32 (u32 BE) followed by the MessagePack of the commit.
    pub value: Vec<u8>,
}

/// Why a stored value is not a commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RawError {
    /// Shorter than the 4-byte checksum.
    #[error("truncated value ({0} bytes)")]
    Truncated(usize),
    /// The CRC-32 does not match the bytes: damaged or edited without re-framing.
    #[error("checksum mismatch (stored {stored:08x}, computed {computed:08x})")]
    Checksum {
        /// The stored CRC-32.
        stored: u32,
        /// The CRC-32 of the bytes.
        computed: u32,
    },
    /// The bytes are not a commit.
    #[error("undecodable commit: {0}")]
    Undecodable(String),
    /// A NATS message on a subject that is not its case's.
    #[error("a commit of case {case} stored on subject {subject}")]
    WrongSubject {
        /// The case in the payload.
        case: CaseId,
        /// The subject.
        subject: String,
    },
}

/// The MessagePack layout of a stored commit (`gridcase_bus`'s `StoredCommit`).
#[derive(Deserialize)]
struct StoredCommit {
    case_id: CaseId,
    command_id: CommandId,
    events: Vec<EventRecord>,
}

/// Wraps commit bytes with their CRC-32, as every backend stores them (for tests that
/// deliberately re-frame a tampered value).
pub fn seal_value(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 4);
    v.extend_from_slice(&crc32fast::hash(body).to_be_bytes());
    v.extend_from_slice(body);
    v
}

impl RawCommit {
    /// Checks the CRC-32 and returns the commit bytes.
    pub fn body(&self) -> Result<&[u8], RawError> {
        if self.value.len() < 4 {
            return Err(RawError::Truncated(self.value.len()));
        }
        let (crc, body) = self.value.split_at(4);
        let stored = u32::from_be_bytes(crc.try_into().expect("4 bytes"));
        let computed = crc32fast::hash(body);
        if stored != computed {
            return Err(RawError::Checksum { stored, computed });
        }
        Ok(body)
    }

    /// Checks the framing, decodes the commit and, on NATS, checks its subject. Does not look
    /// at hashes or versions: that is [`crate::verify`]'s work.
    pub fn decode(&self) -> Result<Committed, RawError> {
        let c = self.decode_body(self.body()?)?;
        if let Some(subject) = &self.subject {
            if subject.rsplit('.').next() != Some(c.case_id.as_str()) {
                return Err(RawError::WrongSubject {
                    case: c.case_id,
                    subject: subject.clone(),
                });
            }
        }
        Ok(c)
    }

    /// Decodes the commit bytes even though the checksum failed, to name the damaged case.
    pub fn decode_ignoring_checksum(&self) -> Option<Committed> {
        self.value
            .get(4..)
            .and_then(|body| self.decode_body(body).ok())
    }

    fn decode_body(&self, body: &[u8]) -> Result<Committed, RawError> {
        let s: StoredCommit = rmp_serde::from_slice(body)
            .map_err(|e| RawError::Undecodable(CodecError::from(e).to_string()))?;
        Ok(Committed {
            position: self.position,
            case_id: s.case_id,
            command_id: s.command_id,
            events: s.events,
        })
    }

    /// [`RawCommit::decode`] as a [`LogError`], for strict readers.
    pub fn decode_strict(&self) -> Result<Committed, LogError> {
        self.decode().map_err(|e| LogError::Corrupt {
            position: self.position,
            reason: format!("{e} (run `gridcase-replay verify` for a full report)"),
        })
    }
}

/// A read-only connection to a NATS JetStream log.
#[derive(Clone)]
pub struct NatsSource {
    conn: Connection,
    stream: String,
    prefix: String,
    url: String,
}

/// The log being replayed.
#[derive(Clone)]
pub enum Source {
    /// The embedded store, opened read-only.
    Sled(SledLog),
    /// A NATS JetStream stream.
    Nats(Box<NatsSource>),
}

fn nats_error(e: NatsError) -> LogError {
    match e {
        NatsError::StreamNotFound { .. }
        | NatsError::ServerTooOld { .. }
        | NatsError::UnknownServerVersion { .. }
        | NatsError::JetStreamDisabled { .. }
        | NatsError::StreamMisconfigured { .. }
        | NatsError::InvalidName { .. } => LogError::Misconfigured(e.to_string()),
        other => LogError::Unavailable(other.to_string()),
    }
}

impl Source {
    /// Opens the embedded log of a server data directory (`DIR/log`) read-only.
    pub fn open_data_dir(data: &Path) -> Result<Source, Error> {
        let dir = data.join("log");
        if !dir.join("conf").exists() && !dir.join("db").exists() {
            return Err(Error::NoLog { path: dir });
        }
        let log = SledLog::open_read_only(&dir).map_err(|source| Error::OpenLog {
            what: dir.display().to_string(),
            source,
        })?;
        Ok(Source::Sled(log))
    }

    /// Connects to a NATS server and checks that the stream exists; creates nothing.
    pub async fn connect_nats(url: &str, stream: &str, prefix: &str) -> Result<Source, Error> {
        let what = format!("stream {stream} at {url}");
        let open = |e: NatsError| Error::OpenLog {
            what: what.clone(),
            source: nats_error(e),
        };
        let conn = js::connect(url).await.map_err(open)?;
        js::last_seq(&conn.jetstream, stream).await.map_err(open)?;
        Ok(Source::Nats(Box::new(NatsSource {
            conn,
            stream: stream.to_owned(),
            prefix: prefix.to_owned(),
            url: url.to_owned(),
        })))
    }

    /// What is being read, for messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Sled(l) => l.path().display().to_string(),
            Source::Nats(n) => format!("stream {} at {}", n.stream, n.url),
        }
    }

    /// The embedded store, if that is the source (index checks need it).
    pub fn sled(&self) -> Option<&SledLog> {
        match self {
            Source::Sled(l) => Some(l),
            Source::Nats(_) => None,
        }
    }

    /// Every stored commit from `from` on, in position order, undecoded.
    pub async fn raw_from(&self, from: Position) -> Result<RawCursor, LogError> {
        Ok(RawCursor {
            inner: match self {
                Source::Sled(l) => Cursor::Sled {
                    log: l.clone(),
                    next: Some(commit_key(from.max(1)).to_vec()),
                    buf: VecDeque::new(),
                },
                Source::Nats(n) => Cursor::Nats(
                    js::read_from(&n.conn.jetstream, &n.stream, from.max(1))
                        .await
                        .map_err(nats_error)?,
                ),
            },
        })
    }

    /// Every stored commit of one case, undecoded: in version order (embedded store, via the
    /// case index) or stream order (NATS, via the case's subject).
    pub async fn raw_case(&self, case: &CaseId) -> Result<Vec<RawCommit>, LogError> {
        match self {
            Source::Sled(l) => {
                let tree = l.raw_tree();
                let mut prefix = vec![PREFIX_CASE];
                prefix.extend_from_slice(case.as_str().as_bytes());
                prefix.push(0);
                let mut out = Vec::new();
                for kv in tree.scan_prefix(&prefix) {
                    let (_, v) = kv.map_err(storage)?;
                    let Some(p) = be_u64(&v) else {
                        return Err(LogError::Corrupt {
                            position: 0,
                            reason: format!("case {case}: malformed case index entry"),
                        });
                    };
                    match tree.get(commit_key(p)).map_err(storage)? {
                        Some(value) => out.push(RawCommit {
                            position: p,
                            subject: None,
                            value: value.to_vec(),
                        }),
                        None => {
                            return Err(LogError::Corrupt {
                                position: p,
                                reason: format!(
                                    "case {case} indexes a missing commit (run `gridcase-replay verify`)"
                                ),
                            })
                        }
                    }
                }
                Ok(out)
            }
            Source::Nats(n) => {
                let filter = format!("{}.*.{case}", n.prefix);
                let msgs = js::read_subject(&n.conn.jetstream, &n.stream, &filter)
                    .await
                    .map_err(nats_error)?;
                Ok(msgs
                    .into_iter()
                    .map(|m| RawCommit {
                        position: m.seq,
                        subject: Some(m.subject),
                        value: m.payload,
                    })
                    .collect())
            }
        }
    }

    /// Every commit from `from` on, decoded; a damaged commit is an error.
    pub async fn commits_from(&self, from: Position) -> Result<CommitCursor, LogError> {
        Ok(CommitCursor {
            raw: self.raw_from(from).await?,
        })
    }
}

fn storage(e: impl std::fmt::Display) -> LogError {
    LogError::Storage(e.to_string())
}

enum Cursor {
    Sled {
        log: SledLog,
        /// The next key to read from; `None` once the commits are exhausted.
        next: Option<Vec<u8>>,
        buf: VecDeque<RawCommit>,
    },
    Nats(RawMsgStream),
}

/// Stored commits in position order; see [`Source::raw_from`].
pub struct RawCursor {
    inner: Cursor,
}

impl RawCursor {
    /// The next stored commit, `None` at the end of the log.
    pub async fn next(&mut self) -> Result<Option<RawCommit>, LogError> {
        match &mut self.inner {
            Cursor::Sled { log, next, buf } => {
                if buf.is_empty() {
                    let Some(start) = next.take() else {
                        return Ok(None);
                    };
                    let end = [PREFIX_COMMIT + 1];
                    for kv in log
                        .raw_tree()
                        .range(start.as_slice()..end.as_slice())
                        .take(PAGE)
                    {
                        let (k, v) = kv.map_err(storage)?;
                        let position = if k.len() == 9 { be_u64(&k[1..]) } else { None };
                        let Some(position) = position else {
                            return Err(LogError::Corrupt {
                                position: 0,
                                reason: format!("malformed commit key {k:?}"),
                            });
                        };
                        buf.push_back(RawCommit {
                            position,
                            subject: None,
                            value: v.to_vec(),
                        });
                    }
                    if buf.len() == PAGE {
                        let last = buf.back().expect("full page").position;
                        *next = last.checked_add(1).map(|p| commit_key(p).to_vec());
                    }
                }
                Ok(buf.pop_front())
            }
            Cursor::Nats(s) => match s.next().await {
                Some(Ok(m)) => Ok(Some(RawCommit {
                    position: m.seq,
                    subject: Some(m.subject),
                    value: m.payload,
                })),
                Some(Err(e)) => Err(nats_error(e)),
                None => Ok(None),
            },
        }
    }
}

/// Decoded commits in position order; see [`Source::commits_from`].
pub struct CommitCursor {
    raw: RawCursor,
}

impl CommitCursor {
    /// The next commit, `None` at the end; a damaged commit is [`LogError::Corrupt`].
    pub async fn next(&mut self) -> Result<Option<Committed>, LogError> {
        match self.raw.next().await? {
            Some(r) => Ok(Some(r.decode_strict()?)),
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
            .iter()
            .map(RawCommit::decode_strict)
            .collect()
    }

    async fn read_from(&self, from: Position, limit: usize) -> Result<Vec<Committed>, LogError> {
        match self {
            Source::Sled(l) => l.read_from_sync(from, limit),
            Source::Nats(_) => {
                let mut cursor = self.commits_from(from).await?;
                let mut out = Vec::new();
                while out.len() < limit {
                    match cursor.next().await? {
                        Some(c) => out.push(c),
                        None => break,
                    }
                }
                Ok(out)
            }
        }
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
        match self {
            Source::Sled(l) => l.head().await,
            Source::Nats(n) => js::last_seq(&n.conn.jetstream, &n.stream)
                .await
                .map_err(nats_error),
        }
    }
}

/// Where the tool reads from, as given on the command line.
#[derive(Debug, Clone)]
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
            } => Source::connect_nats(url, stream, prefix).await,
        }
    }
}
