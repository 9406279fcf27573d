//! Reads **without a consumer**: the last message on a subject (from the stream leader, or a
//! direct get), a message by sequence, and batched direct gets by subject or by sequence range.
//!
//! Batched direct gets (`$JS.API.DIRECT.GET.<stream>` with `batch`, ADR-31, nats-server ≥
//! 2.11) answer a whole case in one request: the server sends up to `batch` matching messages
//! to a reply inbox and ends with an empty `204 EOB` message whose `Nats-Num-Pending` header
//! says how many more match. Any replica may answer a direct get, so on a replicated stream
//! a direct read may lag the leader; [`read_subject`] then asks the stream leader for one
//! message after another instead (`STREAM.MSG.GET` with `next_by_subj`), still without a
//! consumer.

use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::{HeaderMap, StatusCode};
use futures::StreamExt;

use super::connect::Connection;
use super::error::{api_error, get_stream_error, NatsError};

/// How long a direct get may wait for its next reply message before the server counts as
/// unavailable. A failure detector only: a batch ends with its end-of-batch message.
pub const DIRECT_GET_TIMEOUT: Duration = Duration::from_secs(5);

/// Most messages asked for in one batched direct get (the server sends a batch without flow
/// control, so a batch is kept to a size a client buffers comfortably).
const MAX_BATCH: usize = 1024;

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
    pub(super) fn from_consumer(message: &jetstream::Message, seq: u64) -> Self {
        Self {
            seq,
            subject: message.subject.to_string(),
            headers: message.headers.clone().unwrap_or_default(),
            payload: message.payload.to_vec(),
        }
    }

    fn from_stream_message(message: jetstream::message::StreamMessage) -> RawMsg {
        RawMsg {
            seq: message.sequence,
            subject: message.subject.to_string(),
            headers: message.headers,
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

/// One answer to a batched direct get.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The messages, in stream order.
    pub messages: Vec<RawMsg>,
    /// How many more messages match after the last one sent (the end-of-batch message's
    /// `Nats-Num-Pending`); 0 when the read is complete.
    pub pending: u64,
}

/// Up to `max` messages of `stream` from sequence `from` on that match `filter` (wildcards
/// allowed), in stream order, through one batched direct get: no consumer is created.
///
/// Like every direct get it needs `allow_direct`, and it sees every acknowledged publish only
/// when [`direct_reads_are_current`](super::direct_reads_are_current) holds.
///
/// # Errors
///
/// [`NatsError::InvalidName`] for a filter that cannot be sent, [`NatsError::Api`] when the
/// server refuses, [`NatsError::Request`] when it does not answer within
/// [`DIRECT_GET_TIMEOUT`] or the connection is lost.
pub async fn direct_batch(
    conn: &Connection,
    stream: &str,
    filter: &str,
    from: u64,
    max: usize,
) -> Result<Batch, NatsError> {
    const OPERATION: &str = "read messages (batched direct get)";
    check_filter(filter)?;
    let request = format!(
        r#"{{"seq":{},"batch":{},"next_by_subj":"{filter}"}}"#,
        from.max(1),
        max.clamp(1, MAX_BATCH)
    );
    let inbox = conn.client.new_inbox();
    let mut replies = conn
        .client
        .subscribe(inbox.clone())
        .await
        .map_err(|err| request_error(OPERATION, stream, Box::new(err)))?;
    conn.client
        .publish_with_reply(
            conn.api(&format!("DIRECT.GET.{stream}")),
            inbox,
            request.into(),
        )
        .await
        .map_err(|err| request_error(OPERATION, stream, Box::new(err)))?;
    let mut batch = Batch {
        messages: Vec::new(),
        pending: 0,
    };
    loop {
        let reply = match tokio::time::timeout(DIRECT_GET_TIMEOUT, replies.next()).await {
            Ok(Some(reply)) => reply,
            Ok(None) => {
                return Err(request_error(
                    OPERATION,
                    stream,
                    "the connection closed during the read".into(),
                ))
            }
            Err(_) => {
                return Err(request_error(
                    OPERATION,
                    stream,
                    format!("no answer within {DIRECT_GET_TIMEOUT:?}").into(),
                ))
            }
        };
        match reply.status {
            // Nothing matches from `from` on.
            Some(StatusCode::NOT_FOUND) => return Ok(batch),
            // End of batch: how many more match.
            Some(status) if status.as_u16() == 204 => {
                batch.pending = reply
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Num-Pending"))
                    .and_then(|v| v.as_str().parse().ok())
                    .unwrap_or(0);
                return Ok(batch);
            }
            Some(status) if status != StatusCode::OK => {
                return Err(refused(OPERATION, stream, &reply))
            }
            _ => {
                let message = stream_message(OPERATION, stream, reply)?;
                batch.messages.push(message);
            }
        }
    }
}

/// Every message of `stream` on `filter` (wildcards allowed, e.g. one case in any partition),
/// in stream order, without a consumer.
///
/// When direct reads are current (`direct_current`, see
/// [`direct_reads_are_current`](super::direct_reads_are_current)), through batched direct
/// gets — one request for a case of up to 1,024 commits. Otherwise through the stream leader,
/// one request per message, so that every acknowledged publish is seen.
///
/// # Errors
///
/// As [`direct_batch`] and [`next_on_subject`].
pub async fn read_subject(
    conn: &Connection,
    stream: &str,
    filter: &str,
    direct_current: bool,
) -> Result<Vec<RawMsg>, NatsError> {
    let mut out: Vec<RawMsg> = Vec::new();
    let mut from = 1;
    loop {
        if direct_current {
            let batch = direct_batch(conn, stream, filter, from, MAX_BATCH).await?;
            let more = batch.pending > 0;
            out.extend(batch.messages);
            match out.last() {
                Some(last) if more => from = last.seq + 1,
                _ => return Ok(out),
            }
        } else {
            match next_on_subject(&conn.jetstream, stream, filter, from).await? {
                Some(m) => {
                    from = m.seq + 1;
                    out.push(m);
                }
                None => return Ok(out),
            }
        }
    }
}

/// Up to `limit` messages of the whole stream from sequence `from` on, in order, through
/// batched direct gets; `filter` is the stream's subject filter (`<prefix>.>`). Fewer come back
/// only at the end of the stream. Use it only where direct reads are current.
///
/// # Errors
///
/// As [`direct_batch`].
pub async fn read_range(
    conn: &Connection,
    stream: &str,
    filter: &str,
    from: u64,
    limit: usize,
) -> Result<Vec<RawMsg>, NatsError> {
    let mut out: Vec<RawMsg> = Vec::with_capacity(limit.min(4096));
    let mut from = from.max(1);
    while out.len() < limit {
        let want = (limit - out.len()).min(MAX_BATCH);
        let batch = direct_batch(conn, stream, filter, from, want).await?;
        let more = batch.pending > 0;
        out.extend(batch.messages);
        match out.last() {
            Some(last) if more => from = last.seq + 1,
            _ => break,
        }
    }
    Ok(out)
}

/// The first message on `subject` (wildcards allowed) at or after sequence `from`, or `None`
/// — from the stream leader (`STREAM.MSG.GET` with `next_by_subj`), so it sees every
/// acknowledged publish.
///
/// # Errors
///
/// [`NatsError::StreamNotFound`], [`NatsError::Api`], [`NatsError::Request`].
pub async fn next_on_subject(
    ctx: &jetstream::Context,
    stream: &str,
    subject: &str,
    from: u64,
) -> Result<Option<RawMsg>, NatsError> {
    const OPERATION: &str = "get the next message on a subject";
    let handle = ctx
        .get_stream_no_info(stream)
        .await
        .map_err(|err| get_stream_error(err.kind(), err, stream, OPERATION))?;
    match handle
        .get_first_raw_message_by_subject(subject, from.max(1))
        .await
    {
        Ok(message) => Ok(Some(RawMsg::from_stream_message(message))),
        Err(err) => match err.kind() {
            async_nats::jetstream::stream::RawMessageErrorKind::NoMessageFound => Ok(None),
            async_nats::jetstream::stream::RawMessageErrorKind::JetStream(api) => {
                Err(api_error(api, stream, OPERATION))
            }
            _ => Err(request_error(OPERATION, stream, Box::new(err))),
        },
    }
}

/// Refuses filters that cannot travel inside the JSON of a direct get request.
fn check_filter(subject: &str) -> Result<(), NatsError> {
    if subject.is_empty()
        || subject.contains(['"', '\\'])
        || subject.chars().any(char::is_whitespace)
    {
        return Err(NatsError::InvalidName {
            what: "subject",
            value: subject.to_owned(),
        });
    }
    Ok(())
}

fn request_error(
    operation: &'static str,
    stream: &str,
    source: super::error::BoxError,
) -> NatsError {
    NatsError::Request {
        operation,
        stream: stream.to_owned(),
        source,
    }
}

fn refused(operation: &'static str, stream: &str, reply: &async_nats::Message) -> NatsError {
    NatsError::Api {
        operation,
        stream: stream.to_owned(),
        code: reply.status.map_or(0, |s| u64::from(s.as_u16())),
        description: reply
            .description
            .clone()
            .unwrap_or_else(|| "direct get refused".to_owned()),
    }
}

fn stream_message(
    operation: &'static str,
    stream: &str,
    reply: async_nats::Message,
) -> Result<RawMsg, NatsError> {
    jetstream::message::StreamMessage::try_from(reply)
        .map(RawMsg::from_stream_message)
        .map_err(|err| request_error(operation, stream, Box::new(err)))
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
