//! Appending: [`publish_expected`] publishes one message with a message id (deduplication)
//! and the expected last sequence of its subject (optimistic concurrency).

use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, ErrorCode};
use async_nats::HeaderMap;

use super::error::{api_error_parts, NatsError, PublishError};
use super::get::last_on_subject;

/// How often [`publish_expected`] sends the same message before giving up on transient
/// failures (timeouts, no responders, server-side "not ready" answers).
const PUBLISH_ATTEMPTS: u32 = 5;

/// Backoff before the first retry of a publish; doubled for each further retry.
const PUBLISH_FIRST_BACKOFF: Duration = Duration::from_millis(25);

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
    headers: HeaderMap,
    payload: Vec<u8>,
    msg_id: &str,
    expected_last_subject_seq: u64,
) -> Result<Published, PublishError> {
    let message = PublishMessage::build()
        .headers(headers)
        .message_id(msg_id)
        .expected_last_subject_sequence(expected_last_subject_seq)
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
pub(super) fn parse_actual_sequence(description: &str) -> Option<u64> {
    let (_, after) = description.rsplit_once(':')?;
    after.trim().parse().ok()
}
