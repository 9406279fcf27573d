//! The event log on NATS JetStream: the system of record beyond one machine.
//!
//! Built on the primitives of [`crate::nats::jetstream`]. One stream (default `GRIDCASE`)
//! captures `<prefix>.>` (default prefix `gridcase.cases`); [`NatsLog::connect`] creates it or
//! verifies that an existing one keeps history forever (file storage, no limits, deletes and
//! purges denied), and refuses servers older than 2.11 (see
//! [`crate::nats::jetstream::MIN_SERVER_VERSION`] for why).
//!
//! ## Layout
//!
//! - A case lives on the subject `<prefix>.<partition>.<case id>`, the partition being the
//!   county (or city) of [`Commit::partition`], stable for the case's life. Projection workers
//!   can split the work by subject, one consumer per county.
//! - One commit is one message, so a commit is atomic. Its payload is the commit in the same
//!   framing as the embedded store: CRC-32 (u32 big-endian) followed by the MessagePack of
//!   case id, command id and events. Its headers are
//!   - `Nats-Msg-Id`: the command id (deduplication within the stream's duplicate window),
//!   - `Nats-Expected-Last-Subject-Sequence`: the stream sequence of the case's last message
//!     when the commit was validated (0 for a new case) — optimistic concurrency,
//!   - `Gridcase-Case-Version` and `Gridcase-Last-Hash` (hex): the case head after the commit,
//!     so the next append finds the head without decoding the payload.
//! - The global [`Position`] is the stream sequence: contiguous, since nothing is ever deleted.
//!
//! ## Appending
//!
//! [`EventLog::append`] needs the case's head (its last message's stream sequence, version
//! and hash). It checks the commit against that head with [`validate_commit`] (the very
//! refusals of the embedded store) and publishes with the expected last subject sequence.
//!
//! - When this `NatsLog` knows the head — it appended the case's last commit itself, or read
//!   the case ([`EventLog::read_case`], which the command path does on a cache miss) — it
//!   publishes right away: one round trip per command. What it knows is only a hint: if
//!   another writer appended since, the server refuses the expected sequence and the append
//!   starts over as below, from the stream leader's view. A case that a read found to have no
//!   message at all is trusted to be new by the one append that follows, within a second.
//! - Otherwise it first asks the stream leader for the case's last message in any partition
//!   (`<prefix>.*.<case id>`; one request).
//!
//! A `wrong last sequence` answer means another writer got there first: the head is read
//! again and reported as a [`Conflict`]. A commit naming another partition than the case's
//! own is refused (a conflict, or an invalid commit) instead of forking the case onto a second
//! subject.
//! Only two *simultaneous* first commits of one case id naming different partitions could
//! both pass (within the time between reading the case and publishing); the command path
//! derives the partition from the case, so that needs two reports racing under the same case
//! id from different counties. The acknowledgement comes after the server stored the
//! message (the file store writes before acknowledging; for surviving power loss, not just
//! `kill -9`, run the server with `sync_interval: always` or use a 3-replica cluster).
//!
//! ## Reading
//!
//! Reads never leave consumers behind (nats-server 2.15 refuses the 1,001st consumer of a
//! stream, and an ephemeral consumer nobody deletes lingers for its inactivity threshold):
//!
//! - [`EventLog::read_case`] reads the whole case in one batched direct get by subject
//!   (`<prefix>.*.<case id>`, ADR-31) when the stream has one replica and allows direct gets;
//!   on a replicated stream, where any replica could answer a direct get, it asks the stream
//!   leader for one message after another (`next_by_subj`). Neither creates a consumer; a new
//!   case (the common miss: a report) takes one request.
//! - [`EventLog::read_from`] reads a page of the stream with batched direct gets (one replica)
//!   or one consumer that is deleted when the page is read.
//! - [`EventLog::subscribe`] and [`NatsLog::raw_from`] (the projection runner, catch-ups, the
//!   replay tool) keep one consumer per reader and delete it when the read ends or the stream
//!   is dropped.
//!
//! ## Idempotency
//!
//! A repeated command id returns the first result with `duplicate: true` and appends nothing
//! when
//! - it is the id of the case's last message (checked before the version, so a retry decided
//!   against a stale or a newer version is still recognised),
//! - the append would otherwise be refused (stale version, invalid commit): the case's
//!   messages are searched for the id first, as the embedded store's command index would,
//! - or, for any other repeat, when it is within the stream's duplicate window (10 minutes by
//!   default): the server recognises the `Nats-Msg-Id`, across all cases.
//!
//! Beyond the duplicate window, a repeated command id that would otherwise be a valid append
//! to its case is not recognised by the log. The guard there is the command path
//! ([`crate::CommandPath`]): it loads the case and returns the first result when the command
//! id is among the commands already applied to it, before deciding anything.
//!
//! ## Errors
//!
//! An unreachable server (or one that does not answer in time) is
//! [`LogError::Unavailable`] — the HTTP layer answers 503 with `Retry-After`. A server older
//! than 2.11, one without JetStream, or a stream that could lose history is
//! [`LogError::Misconfigured`] with a message saying what to change. A message that does not
//! decode (bad checksum, bad MessagePack, a commit on the wrong subject) is
//! [`LogError::Corrupt`] naming its stream sequence.
//!
//! ## Production
//!
//! [`NatsLog::connect`] creates a missing stream with one replica. For a cluster, create the
//! stream beforehand with 3 replicas (same settings otherwise, e.g. with `nats stream add`);
//! [`NatsLog::connect`] accepts and verifies it. Deny the account the right to delete the
//! stream itself: `deny_delete`/`deny_purge` protect messages, not the stream.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use futures::StreamExt;
use gridcase_domain::{CaseId, ChainHead, CommandId, Hash, RegionCode};

use crate::log::*;
use crate::nats::jetstream::{self as js, Connection, NatsError, PublishError, RawMsg};
use crate::raw::{encode_value, RawCommit};

/// How long a call waits for a lost connection to come back before it reports the log as
/// unavailable. Bridges a server restart or a cluster fail-over; a dead server is reported
/// quickly (HTTP 503) instead of after a request timeout.
const RECONNECT_WAIT: Duration = Duration::from_secs(2);

/// How long a request to the server may take (a healthy server answers in milliseconds; a
/// cluster electing a stream leader in a few seconds).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How many case heads [`NatsLog`] remembers (see [`Known`]).
const KNOWN_HEADS: usize = 65_536;

/// How long "this case has no message yet" learned by [`EventLog::read_case`] is trusted by
/// the next append. The server's expected-sequence check guards the case's own subject
/// anyway; this bounds the window in which a first commit of the same case id on *another*
/// partition could go unnoticed (see "Appending" above) to what it was before: the time
/// between reading the case and publishing.
const ABSENT_TRUST: Duration = Duration::from_secs(1);

/// Header carrying the case version after the commit.
pub const HEADER_CASE_VERSION: &str = "Gridcase-Case-Version";
/// Header carrying the hash of the commit's last event (lowercase hex).
pub const HEADER_LAST_HASH: &str = "Gridcase-Last-Hash";

/// Where the NATS log lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSettings {
    /// The server URL, e.g. `nats://127.0.0.1:4222` (several comma-separated for a cluster).
    pub url: String,
    /// The stream's name.
    pub stream: String,
    /// Cases live on `<subject_prefix>.<partition>.<case id>`.
    pub subject_prefix: String,
    /// How long the server remembers command ids (`Nats-Msg-Id`) for deduplication. An
    /// existing stream may have a longer window, not a shorter one.
    pub duplicate_window: Duration,
    /// The JetStream API prefix: `$JS.API` (the default), or `$JS.<domain>.API` to reach the
    /// stream in a JetStream domain (e.g. through a leaf node).
    pub api_prefix: String,
}

impl Default for NatsSettings {
    fn default() -> Self {
        NatsSettings {
            url: "nats://127.0.0.1:4222".into(),
            stream: "GRIDCASE".into(),
            subject_prefix: "gridcase.cases".into(),
            duplicate_window: Duration::from_secs(10 * 60),
            api_prefix: js::DEFAULT_API_PREFIX.into(),
        }
    }
}

/// The NATS JetStream event log. Cheap to clone; clones share one connection.
#[derive(Clone)]
pub struct NatsLog {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Connection,
    settings: NatsSettings,
    /// Whether direct gets see every acknowledged append (see
    /// [`js::direct_reads_are_current`]).
    direct_reads: bool,
    /// Opened by [`NatsLog::open_read_only`]: appends fail with [`LogError::Closed`].
    read_only: bool,
    /// The heads of recently read or appended cases, so an append needs no read first.
    known: Mutex<lru::LruCache<CaseId, Known>>,
}

/// What this process last learned about a case's head, from its own appends and reads.
///
/// Only a hint: an append that trusts it still publishes with the expected last subject
/// sequence, so the server refuses it when another writer got there first, and the append
/// then reads the head from the stream leader and proceeds exactly as without the hint.
#[derive(Debug, Clone)]
enum Known {
    /// The case's last message.
    Head {
        subject: String,
        seq: u64,
        version: u64,
        hash: Hash,
        command_id: CommandId,
    },
    /// The case had no message on any subject at `seen`.
    Absent { seen: Instant },
}

impl std::fmt::Debug for NatsLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsLog")
            .field("url", &self.inner.settings.url)
            .field("stream", &self.inner.settings.stream)
            .field("subject_prefix", &self.inner.settings.subject_prefix)
            .field("server_version", &self.inner.conn.server_version)
            .finish()
    }
}

/// Maps a primitive's error to the log's: unreachable → unavailable, wrong deployment →
/// misconfigured. The primitive's error stays the cause.
fn log_error(err: NatsError) -> LogError {
    match err {
        NatsError::Connect { .. }
        | NatsError::Request { .. }
        | NatsError::ReadStalled { .. }
        | NatsError::Api { .. } => LogError::unavailable(err),
        NatsError::ServerTooOld { .. }
        | NatsError::UnknownServerVersion { .. }
        | NatsError::JetStreamDisabled { .. }
        | NatsError::StreamMisconfigured { .. }
        | NatsError::StreamNotFound { .. }
        | NatsError::InvalidName { .. } => LogError::misconfigured(err),
    }
}

fn publish_error(err: PublishError) -> LogError {
    match err {
        PublishError::Unavailable { .. } | PublishError::NoStream { .. } => {
            LogError::unavailable(err)
        }
        PublishError::TooLarge { .. } => LogError::misconfigured(err),
        other => LogError::storage("publishing a commit", other),
    }
}

/// Checks that `prefix` is a plain subject of one or more tokens (no wildcards, no spaces).
fn check_prefix(prefix: &str) -> Result<(), LogError> {
    let ok = !prefix.is_empty()
        && prefix.split('.').all(|token| {
            !token.is_empty()
                && !token
                    .chars()
                    .any(|c| c.is_whitespace() || c == '*' || c == '>')
        });
    if ok {
        Ok(())
    } else {
        Err(LogError::misconfigured(Reason(format!(
            "invalid NATS subject prefix {prefix:?}: it must be one or more dot-separated \
             tokens without spaces, `*` or `>` (e.g. \"gridcase.cases\")"
        ))))
    }
}

fn header<'a>(msg: &'a RawMsg, name: &str) -> Option<&'a str> {
    msg.headers.get(name).map(|v| v.as_str())
}

fn msg_id(msg: &RawMsg) -> Option<&str> {
    header(msg, async_nats::header::NATS_MESSAGE_ID.as_ref())
}

/// The stored message as a raw commit (its subject kept, so damage names the case).
fn raw(msg: &RawMsg) -> RawCommit {
    RawCommit {
        position: Position::new(msg.seq),
        subject: Some(msg.subject.clone()),
        value: msg.payload.clone(),
    }
}

/// Decodes a stored message into a commit, checking its framing and that it is on its case's
/// subject; a damaged one is [`LogError::Corrupt`] naming the case from its subject.
fn decode(msg: &RawMsg) -> Result<Committed, LogError> {
    raw(msg).into_committed()
}

/// The case head (version, last hash) after the commit in `msg`: from its headers, else from
/// its payload.
fn head_of(msg: &RawMsg) -> Result<ChainHead, LogError> {
    let from_headers = header(msg, HEADER_CASE_VERSION)
        .and_then(|v| v.parse::<u64>().ok())
        .zip(header(msg, HEADER_LAST_HASH).and_then(|h| Hash::from_hex(h).ok()));
    match from_headers {
        Some((version, hash)) => Ok(ChainHead { version, hash }),
        None => {
            let c = decode(msg)?;
            Ok(ChainHead {
                version: c.last_version(),
                hash: c.last_hash(),
            })
        }
    }
}

/// The case version after the commit in `msg`.
fn version_of(msg: &RawMsg) -> Result<u64, LogError> {
    match header(msg, HEADER_CASE_VERSION).and_then(|v| v.parse::<u64>().ok()) {
        Some(v) => Ok(v),
        None => Ok(decode(msg)?.last_version()),
    }
}

/// The first result of a command, from the message that applied it.
fn first_result(msg: &RawMsg) -> Result<Appended, LogError> {
    Ok(Appended {
        position: Position::new(msg.seq),
        version: version_of(msg)?,
        duplicate: true,
    })
}

impl NatsLog {
    /// Connects, checks the server (≥ 2.11, JetStream enabled) and creates or verifies the
    /// stream.
    ///
    /// # Errors
    ///
    /// [`LogError::Unavailable`] when the server cannot be reached; [`LogError::Misconfigured`]
    /// for a server older than 2.11, one without JetStream, an existing stream that could lose
    /// history, or invalid names. The messages say what to change.
    pub async fn connect(settings: NatsSettings) -> Result<NatsLog, LogError> {
        let conn = Self::open_connection(&settings).await?;
        let config = js::ensure_stream(
            &conn.jetstream,
            &js::StreamSettings {
                name: settings.stream.clone(),
                subject_prefix: settings.subject_prefix.clone(),
                duplicate_window: settings.duplicate_window,
                replicas: 1,
            },
        )
        .await
        .map_err(log_error)?;
        Ok(Self::with(conn, settings, &config, false))
    }

    /// Connects for reading only, as auditors' tools do: creates and changes nothing, and
    /// appends fail with [`LogError::Closed`]. The stream must exist; a stream whose settings
    /// could lose history is still read (that is what an auditor wants to look at), with a
    /// warning.
    ///
    /// # Errors
    ///
    /// As [`NatsLog::connect`]; a missing stream is [`LogError::Misconfigured`].
    pub async fn open_read_only(settings: NatsSettings) -> Result<NatsLog, LogError> {
        let conn = Self::open_connection(&settings).await?;
        let config = js::stream_config(&conn.jetstream, &settings.stream)
            .await
            .map_err(log_error)?
            .ok_or_else(|| {
                log_error(NatsError::StreamNotFound {
                    stream: settings.stream.clone(),
                })
            })?;
        let expected = js::StreamSettings {
            name: settings.stream.clone(),
            subject_prefix: settings.subject_prefix.clone(),
            duplicate_window: Duration::ZERO,
            replicas: 1,
        };
        if let Err(e) = expected.verify(&config) {
            tracing::warn!(error = %e, "reading a stream whose settings could lose history");
        }
        Ok(Self::with(conn, settings, &config, true))
    }

    async fn open_connection(settings: &NatsSettings) -> Result<Connection, LogError> {
        check_prefix(&settings.subject_prefix)?;
        let options = async_nats::ConnectOptions::new()
            .name("gridcase")
            .request_timeout(Some(REQUEST_TIMEOUT));
        let conn = js::connect_with_options(&settings.url, options, &settings.api_prefix)
            .await
            .map_err(log_error)?;
        tracing::info!(
            url = %settings.url,
            stream = %settings.stream,
            server_version = %conn.server_version,
            "connected to the NATS event log"
        );
        Ok(conn)
    }

    fn with(
        conn: Connection,
        settings: NatsSettings,
        config: &async_nats::jetstream::stream::Config,
        read_only: bool,
    ) -> NatsLog {
        NatsLog {
            inner: Arc::new(Inner {
                conn,
                settings,
                direct_reads: js::direct_reads_are_current(config),
                read_only,
                known: Mutex::new(lru::LruCache::new(
                    NonZeroUsize::new(KNOWN_HEADS).expect("not zero"),
                )),
            }),
        }
    }

    /// The settings it was connected with.
    pub fn settings(&self) -> &NatsSettings {
        &self.inner.settings
    }

    /// The JetStream context of the log's connection (with its API prefix), for stores that
    /// live beside the event stream on the same server, like the personal data vault's
    /// key-value bucket.
    pub fn jetstream(&self) -> async_nats::jetstream::Context {
        self.inner.conn.jetstream.clone()
    }

    /// The underlying connection, for tests that need raw JetStream access.
    #[cfg(feature = "test-support")]
    pub fn connection(&self) -> &Connection {
        &self.inner.conn
    }

    /// Waits up to [`RECONNECT_WAIT`] for the connection to be up.
    async fn ready(&self) -> Result<(), LogError> {
        let client = &self.inner.conn.client;
        let deadline = tokio::time::Instant::now() + RECONNECT_WAIT;
        loop {
            if client.connection_state() == async_nats::connection::State::Connected {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(LogError::unavailable(Reason(format!(
                    "not connected to NATS at {}: the server is down or unreachable; the \
                     client keeps reconnecting, retry later",
                    self.inner.settings.url
                ))));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn ctx(&self) -> &async_nats::jetstream::Context {
        &self.inner.conn.jetstream
    }

    fn stream(&self) -> &str {
        &self.inner.settings.stream
    }

    /// The subject of a case: `<prefix>.<partition>.<case id>`.
    pub fn case_subject(&self, partition: &RegionCode, case: &CaseId) -> String {
        format!("{}.{partition}.{case}", self.inner.settings.subject_prefix)
    }

    /// The filter matching a case in any partition: `<prefix>.*.<case id>`.
    fn case_filter(&self, case: &CaseId) -> String {
        format!("{}.*.{case}", self.inner.settings.subject_prefix)
    }

    async fn last_on(&self, subject: &str) -> Result<Option<RawMsg>, LogError> {
        js::last_on_subject(self.ctx(), self.stream(), subject)
            .await
            .map_err(log_error)
    }

    /// Every message on `filter` (one case's subject, or its filter over every partition), in
    /// order, without a consumer: see [`js::read_subject`].
    async fn read_subject(&self, filter: &str) -> Result<Vec<RawMsg>, LogError> {
        js::read_subject(
            &self.inner.conn,
            self.stream(),
            filter,
            self.inner.direct_reads,
        )
        .await
        .map_err(log_error)
    }

    /// Up to `limit` stored commits from position `from`, undecoded: batched direct gets when
    /// they are current (no consumer), else one consumer that is deleted when the page is read.
    async fn raw_page(&self, from: Position, limit: usize) -> Result<Vec<RawCommit>, LogError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.ready().await?;
        if self.inner.direct_reads {
            let all = format!("{}.>", self.inner.settings.subject_prefix);
            let messages = js::read_range(&self.inner.conn, self.stream(), &all, from.get(), limit)
                .await
                .map_err(log_error)?;
            return Ok(messages.iter().map(raw).collect());
        }
        let mut cursor = self.raw_from(from).await?;
        let mut out = Vec::new();
        while out.len() < limit {
            match cursor.next_raw().await? {
                Some(r) => out.push(r),
                None => break,
            }
        }
        Ok(out)
    }

    /// Every stored commit from `from` up to the head as of the call, undecoded, through one
    /// consumer that is deleted at the end of the read (or when the cursor is dropped).
    ///
    /// # Errors
    ///
    /// [`LogError::Unavailable`] when the server cannot be reached.
    pub async fn raw_from(&self, from: Position) -> Result<NatsRawCursor, LogError> {
        self.ready().await?;
        let messages = js::read_from(self.ctx(), self.stream(), from.get().max(1))
            .await
            .map_err(log_error)?;
        Ok(NatsRawCursor { messages })
    }

    /// Every stored commit of one case, undecoded, in stream order, without a consumer.
    ///
    /// # Errors
    ///
    /// [`LogError::Unavailable`] when the server cannot be reached.
    pub async fn raw_case(&self, case: &CaseId) -> Result<Vec<RawCommit>, LogError> {
        self.ready().await?;
        Ok(self
            .read_subject(&self.case_filter(case))
            .await?
            .iter()
            .map(raw)
            .collect())
    }

    /// The message that applied `command` to the case on `subject`, if any.
    async fn applied_on_case(
        &self,
        subject: &str,
        command: &CommandId,
    ) -> Result<Option<Appended>, LogError> {
        let messages = self.read_subject(subject).await?;
        match messages
            .iter()
            .find(|m| msg_id(m) == Some(command.as_str()))
        {
            Some(m) => Ok(Some(first_result(m)?)),
            None => Ok(None),
        }
    }

    /// The first result of a command the server reported as a duplicate of message `seq`.
    async fn duplicate_at(&self, seq: u64) -> Result<Appended, LogError> {
        match js::message_at(self.ctx(), self.stream(), seq)
            .await
            .map_err(log_error)?
        {
            Some(m) => first_result(&m),
            None => Err(LogError::Corrupt {
                position: Position::new(seq),
                case: None,
                cause: Corruption::UnknownDuplicate,
            }),
        }
    }

    /// The case's current version, read from its last message.
    async fn version_on(&self, subject: &str) -> Result<u64, LogError> {
        match self.last_on(subject).await? {
            Some(m) => version_of(&m),
            None => Ok(0),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, lru::LruCache<CaseId, Known>> {
        // Every update is one `put` or `pop`, so a panic elsewhere cannot leave the cache
        // inconsistent: a poisoned lock is used as is.
        self.inner
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remembers `head` for `case` unless a later head is known.
    fn learn(&self, case: &CaseId, head: Known) {
        let mut known = self.known();
        let newer = match (known.peek(case), &head) {
            (Some(Known::Head { seq: old, .. }), Known::Head { seq: new, .. }) => new > old,
            (Some(Known::Head { .. }), Known::Absent { .. }) => false,
            _ => true,
        };
        if newer {
            known.put(case.clone(), head);
        }
    }

    fn forget(&self, case: &CaseId) {
        self.known().pop(case);
    }

    /// What the known head lets an append of `commit` on `subject` do without reading:
    /// publish expecting this last subject sequence (the known head is on `subject` at the
    /// commit's expected version and the commit continues its hash chain, or the case was
    /// just seen to have no message at all and the commit starts it), return the first
    /// result (the known head is this very command), or nothing (read first).
    fn trusted(&self, commit: &Commit, subject: &str) -> Option<Result<u64, Appended>> {
        let known = {
            let mut known = self.known();
            match known.get(&commit.case_id)? {
                // Good for the one append that follows the read.
                Known::Absent { .. } => known.pop(&commit.case_id)?,
                head => head.clone(),
            }
        };
        match known {
            Known::Head {
                subject: on,
                seq,
                version,
                hash,
                command_id,
            } if on == subject => {
                if command_id == commit.command_id {
                    return Some(Err(Appended {
                        position: Position::new(seq),
                        version,
                        duplicate: true,
                    }));
                }
                validate_commit(commit, ChainHead { version, hash })
                    .is_ok()
                    .then_some(Ok(seq))
            }
            Known::Absent { seen } if seen.elapsed() < ABSENT_TRUST => {
                validate_commit(commit, ChainHead::EMPTY)
                    .is_ok()
                    .then_some(Ok(0))
            }
            _ => None,
        }
    }

    async fn append_inner(&self, commit: Commit) -> Result<Appended, AppendError> {
        self.ready().await?;
        let subject = self.case_subject(&commit.partition, &commit.case_id);
        let payload = encode_value(
            &commit.case_id,
            &commit.command_id,
            &commit.events,
            commit.fingerprint.as_ref(),
        )?;
        match self.trusted(&commit, &subject) {
            Some(Err(first)) => return Ok(first),
            Some(Ok(head_seq)) => match self.publish(&commit, &payload, &subject, head_seq).await {
                // Another writer appended since: forget the hint and do what an append
                // without it does, from the stream leader's view.
                Err(PublishError::WrongLastSequence { .. }) => self.forget(&commit.case_id),
                other => return self.published(&commit, other).await,
            },
            None => {}
        }
        self.append_read_first(commit, &payload, subject).await
    }

    /// Publishes `commit` (encoded as `payload`) on `subject` expecting `head_seq` as the
    /// subject's last sequence.
    async fn publish(
        &self,
        commit: &Commit,
        payload: &[u8],
        subject: &str,
        head_seq: u64,
    ) -> Result<js::Published, PublishError> {
        let last_event = commit.events.last().expect("validated: not empty");
        let mut headers = HeaderMap::new();
        headers.insert(
            HEADER_CASE_VERSION,
            last_event.header.case_version.to_string().as_str(),
        );
        headers.insert(HEADER_LAST_HASH, last_event.hash.to_hex().as_str());
        js::publish_expected(
            self.ctx(),
            subject,
            headers,
            payload.to_vec(),
            commit.command_id.as_str(),
            head_seq,
        )
        .await
    }

    /// The result of a publish that did not conflict; remembers the new head.
    async fn published(
        &self,
        commit: &Commit,
        published: Result<js::Published, PublishError>,
    ) -> Result<Appended, AppendError> {
        match published {
            Ok(p) if !p.duplicate => {
                let last_event = commit.events.last().expect("validated: not empty");
                let version = last_event.header.case_version;
                self.learn(
                    &commit.case_id,
                    Known::Head {
                        subject: self.case_subject(&commit.partition, &commit.case_id),
                        seq: p.stream_seq,
                        version,
                        hash: last_event.hash,
                        command_id: commit.command_id.clone(),
                    },
                );
                Ok(Appended {
                    position: Position::new(p.stream_seq),
                    version,
                    duplicate: false,
                })
            }
            Ok(p) => {
                self.forget(&commit.case_id);
                Ok(self.duplicate_at(p.stream_seq).await?)
            }
            Err(e) => {
                self.forget(&commit.case_id);
                Err(publish_error(e).into())
            }
        }
    }

    /// Appends after reading the case's last message from the stream leader.
    async fn append_read_first(
        &self,
        commit: Commit,
        payload: &[u8],
        subject: String,
    ) -> Result<Appended, AppendError> {
        // The case's last message on any subject: when it is on the commit's subject it is
        // that subject's last message too, and when there is none the case is new. Only a
        // case found elsewhere needs a second look.
        let last = match self.last_on(&self.case_filter(&commit.case_id)).await? {
            None => None,
            Some(m) if m.subject == subject => Some(m),
            Some(elsewhere) => match self.last_on(&subject).await? {
                Some(m) => Some(m),
                None => {
                    // A commit naming another partition than the case's own, which must not
                    // fork the case onto a second subject.
                    if msg_id(&elsewhere) == Some(commit.command_id.as_str()) {
                        return Ok(first_result(&elsewhere)?);
                    }
                    if let Some(a) = self
                        .applied_on_case(&elsewhere.subject, &commit.command_id)
                        .await?
                    {
                        return Ok(a);
                    }
                    let actual = head_of(&elsewhere)?.version;
                    if actual != commit.expected_version {
                        return Err(Conflict {
                            expected: commit.expected_version,
                            actual,
                        }
                        .into());
                    }
                    return Err(InvalidCommit::Partition {
                        case: commit.case_id.clone(),
                        subject: elsewhere.subject.clone(),
                        partition: commit.partition,
                    }
                    .into());
                }
            },
        };
        let (head_seq, head) = match &last {
            Some(m) => {
                if msg_id(m) == Some(commit.command_id.as_str()) {
                    return Ok(first_result(m)?);
                }
                (m.seq, head_of(m)?)
            }
            None => (0, ChainHead::EMPTY),
        };
        if let Err(refused) = validate_commit(&commit, head) {
            if head_seq > 0 {
                if let Some(a) = self.applied_on_case(&subject, &commit.command_id).await? {
                    return Ok(a);
                }
            }
            return Err(refused);
        }
        match self.publish(&commit, payload, &subject, head_seq).await {
            Err(PublishError::WrongLastSequence { .. }) => {
                // Another writer got there first (our own earlier copy as the last message was
                // already recognised by publish_expected).
                if let Some(a) = self.applied_on_case(&subject, &commit.command_id).await? {
                    return Ok(a);
                }
                let actual = self.version_on(&subject).await?;
                Err(Conflict {
                    expected: commit.expected_version,
                    actual,
                }
                .into())
            }
            other => self.published(&commit, other).await,
        }
    }
}

impl EventLog for NatsLog {
    async fn append(&self, commit: Commit) -> Result<Appended, AppendError> {
        if self.inner.read_only {
            return Err(LogError::Closed.into());
        }
        self.append_inner(commit).await
    }

    async fn read_case(&self, case: &CaseId) -> Result<Vec<Committed>, LogError> {
        self.ready().await?;
        // One batched direct get (or, on a replicated stream, a few requests to the stream
        // leader) reads the whole case; it never creates a consumer.
        let seen = Instant::now();
        let messages = self.read_subject(&self.case_filter(case)).await?;
        if messages.is_empty() {
            self.learn(case, Known::Absent { seen });
            return Ok(Vec::new());
        }
        let commits = messages.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        if let (Some(m), Some(c)) = (messages.last(), commits.last()) {
            self.learn(
                case,
                Known::Head {
                    subject: m.subject.clone(),
                    seq: m.seq,
                    version: c.last_version(),
                    hash: c.last_hash(),
                    command_id: c.command_id.clone(),
                },
            );
        }
        Ok(commits)
    }

    async fn read_from(&self, from: Position, limit: usize) -> Result<Vec<Committed>, LogError> {
        self.raw_page(from, limit)
            .await?
            .into_iter()
            .map(RawCommit::into_committed)
            .collect()
    }

    async fn subscribe(&self, from: Position) -> Result<CommitStream, LogError> {
        self.ready().await?;
        let messages = js::subscribe_from(self.ctx(), self.stream(), from.get().max(1))
            .await
            .map_err(log_error)?;
        let stream = self.inner.settings.stream.clone();
        // Transient failures (a lost connection, a restarting server) are handled by the
        // subscription itself, which resumes at the next sequence without gap or duplicate:
        // they are logged, not yielded, so a consumer never sees a hole. A commit that does not
        // decode is yielded as an error and ends the stream, as in the embedded store.
        let s = futures::stream::unfold(Some(messages), move |messages| {
            let stream = stream.clone();
            async move {
                let mut messages = messages?;
                loop {
                    match messages.next().await? {
                        Ok(m) => {
                            return match decode(&m) {
                                Ok(c) => Some((Ok(c), Some(messages))),
                                Err(e) => Some((Err(e), None)),
                            }
                        }
                        Err(e) => {
                            tracing::warn!(%stream, error = %e, "event log subscription interrupted; resuming");
                        }
                    }
                }
            }
        });
        Ok(Box::pin(s))
    }

    async fn head(&self) -> Result<Position, LogError> {
        self.ready().await?;
        js::last_seq(self.ctx(), self.stream())
            .await
            .map(Position::new)
            .map_err(log_error)
    }
}

/// Stored commits in stream order, undecoded; see [`NatsLog::raw_from`].
pub struct NatsRawCursor {
    messages: js::RawMsgStream,
}

impl NatsRawCursor {
    /// The next stored commit; `Ok(None)` at the end of the read.
    ///
    /// # Errors
    ///
    /// [`LogError::Unavailable`] when the server keeps failing.
    pub async fn next_raw(&mut self) -> Result<Option<RawCommit>, LogError> {
        match self.messages.next().await {
            Some(Ok(m)) => Ok(Some(raw(&m))),
            Some(Err(e)) => Err(log_error(e)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_must_be_plain_subjects() {
        for ok in ["gridcase.cases", "g", "a.b.c-d_e"] {
            assert!(check_prefix(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a..b", ".a", "a.", "a.*", "a.>", "a b"] {
            assert!(
                matches!(check_prefix(bad), Err(LogError::Misconfigured(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn defaults() {
        let s = NatsSettings::default();
        assert_eq!(s.stream, "GRIDCASE");
        assert_eq!(s.subject_prefix, "gridcase.cases");
        assert_eq!(s.duplicate_window, Duration::from_secs(600));
    }

    #[test]
    fn an_old_server_is_a_misconfiguration_with_the_helpful_message() {
        let err = log_error(js::check_server_version("nats://x", "2.10.4").unwrap_err());
        match err {
            LogError::Misconfigured(m) => {
                assert!(
                    m.to_string().contains("2.11") && m.to_string().contains("scripts/nats-server"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
