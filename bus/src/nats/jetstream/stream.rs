//! The log's stream: [`ensure_stream`] creates it from [`StreamSettings`] or verifies that an
//! existing one keeps history forever; [`last_seq`] reads its head.

use std::time::Duration;

use async_nats::jetstream::context::{CreateStreamErrorKind, GetStreamErrorKind};
use async_nats::jetstream::stream::{
    Config as StreamConfig, PersistenceMode, RetentionPolicy, StorageType,
};
use async_nats::jetstream::{self, ErrorCode};

use super::error::{api_error_parts, get_stream_error, NatsError};

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
    if let Some(config) = stream_config(ctx, &settings.name).await? {
        return settings.verify(&config).map(|()| config);
    }
    match ctx.create_stream(settings.to_config()).await {
        Ok(stream) => Ok(stream.cached_info().config.clone()),
        Err(err) => {
            if let CreateStreamErrorKind::JetStream(api) = err.kind() {
                if api.error_code() == ErrorCode::STREAM_NAME_EXIST {
                    // Someone created it between our look and our create: verify theirs.
                    if let Some(config) = stream_config(ctx, &settings.name).await? {
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
///
/// # Errors
///
/// [`NatsError::Api`] or [`NatsError::Request`] when the server refuses or does not answer.
pub async fn stream_config(
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

/// Whether a direct get ([`direct_batch`](super::direct_batch)) on a stream of this configuration sees
/// every acknowledged publish, like a request to the stream leader does: direct gets are
/// allowed and there is only one replica to answer them. (With more replicas any of them
/// answers, possibly one that lags behind the leader.)
pub fn direct_reads_are_current(config: &StreamConfig) -> bool {
    config.allow_direct && config.num_replicas <= 1
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

/// How many consumers `stream` has right now (readers that did not delete theirs show here).
///
/// # Errors
///
/// [`NatsError::StreamNotFound`], [`NatsError::Api`], [`NatsError::Request`].
#[cfg(any(test, feature = "test-support"))]
pub async fn consumer_count(ctx: &jetstream::Context, stream: &str) -> Result<usize, NatsError> {
    let handle = ctx
        .get_stream(stream)
        .await
        .map_err(|err| get_stream_error(err.kind(), err, stream, "read the stream's state"))?;
    Ok(handle.cached_info().state.consumer_count)
}
