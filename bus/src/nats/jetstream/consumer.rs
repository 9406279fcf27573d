//! Reads **through one consumer** that is deleted when the read ends: [`read_from`] (catch-up,
//! ends at the head as of opening) and [`subscribe_from`] (catch-up, then live).
//!
//! Each read creates one ephemeral pull consumer with a name of its own (`gridcase-read-…`,
//! no acknowledgements, in memory, one replica) and reads the whole stream in order from a
//! sequence. It is deleted when the read ends — at the end of a catch-up, when the stream is
//! dropped, and before a replacement is opened after a failure — so a reader never leaves
//! consumers behind; the server's inactivity threshold ([`CONSUMER_INACTIVE_THRESHOLD`])
//! removes the consumer of a process that was killed.
//!
//! The stream never deletes messages, so sequences are contiguous: the reader checks that
//! every message is the next sequence it needs, skips redeliveries and reopens its consumer
//! at the next sequence on a gap. Nothing is skipped or repeated.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use async_nats::client::Statistics;
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::stream::ConsumerErrorKind;
use async_nats::jetstream::{self};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};

use super::error::{api_error, get_stream_error, BoxError, NatsError};
use super::get::RawMsg;

/// How long a catch-up read waits for a message that the consumer says is pending before it
/// reports the server as stalled. A failure detector only: the end of a read is decided by
/// the consumer's pending count, never by this timeout.
const READ_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the server keeps a reader's consumer without pull requests: only the consumer of
/// a process that died without deleting it lives this long.
pub const CONSUMER_INACTIVE_THRESHOLD: Duration = Duration::from_secs(30);

/// Messages asked for in one pull request.
const PULL_BATCH: usize = 1000;

/// A catch-up read ([`read_from`]) gives up after this many consecutive failures; a live
/// subscription never does.
pub const CATCH_UP_MAX_FAILURES: u32 = 5;

/// How often a reader checks whether the client has reconnected.
const RECONNECT_POLL: Duration = Duration::from_millis(200);

/// Every message of `stream` from sequence `start_seq` (1 or 0: from the beginning) up to
/// the end as of opening, in order, then the stream ends (and its consumer is deleted).
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
    open(ctx, stream, start_seq, Mode::CatchUp).await
}

/// Every message of `stream` from sequence `start_seq` (1 or 0: from the beginning), then
/// every new one as it is stored, without gaps or duplicates, until dropped (which deletes
/// its consumer).
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
    open(ctx, stream, start_seq, Mode::Live).await
}

/// Messages read from a stream by [`read_from`] or [`subscribe_from`].
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

/// The consumer a reader currently uses: deleted when replaced or dropped.
struct Open {
    messages: pull::Stream,
    name: String,
}

struct Reader {
    ctx: jetstream::Context,
    stream: String,
    /// `None` after a failure or at the end: the next poll opens a new consumer at `next_seq`.
    open: Option<Open>,
    /// Lowest sequence not yet yielded.
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

impl Drop for Reader {
    fn drop(&mut self) {
        self.close();
    }
}

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

/// A consumer name no other reader uses: process id, a per-process counter and the time.
fn consumer_name() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "gridcase-read-{}-{}-{:x}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        nanos & 0xffff_ffff
    )
}

/// Deletes a consumer in the background (best effort: a consumer that outlives its reader
/// expires after [`CONSUMER_INACTIVE_THRESHOLD`]).
fn delete_later(ctx: &jetstream::Context, stream: &str, name: String) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let ctx = ctx.clone();
    let stream = stream.to_owned();
    runtime.spawn(async move {
        if let Err(error) = ctx.delete_consumer_from_stream(&name, &stream).await {
            tracing::debug!(%stream, consumer = %name, %error, "could not delete a reader's consumer; it expires by itself");
        }
    });
}

async fn open(
    ctx: &jetstream::Context,
    stream: &str,
    start_seq: u64,
    mode: Mode,
) -> Result<RawMsgStream, NatsError> {
    let start_seq = start_seq.max(1);
    let stats = ctx.client().statistics();
    let connects_at_open = stats.connects.load(Ordering::Relaxed);
    let (open, pending) = open_consumer(ctx, stream, start_seq).await?;
    let mut reader = Reader {
        stats,
        connects_at_open,
        ctx: ctx.clone(),
        stream: stream.to_owned(),
        open: Some(open),
        next_seq: start_seq,
        mode,
        done: false,
        failures: 0,
    };
    if mode == Mode::CatchUp && pending == 0 {
        reader.finish().await;
    }
    let inner = futures::stream::unfold(reader, |mut reader| async move {
        let item = reader.next().await?;
        Some((item, reader))
    });
    Ok(RawMsgStream {
        inner: inner.boxed(),
    })
}

/// Creates a named pull consumer from `start_seq`; returns it and how many messages it has
/// pending.
async fn open_consumer(
    ctx: &jetstream::Context,
    stream: &str,
    start_seq: u64,
) -> Result<(Open, u64), NatsError> {
    const OPERATION: &str = "create a reader's consumer";
    let handle = ctx
        .get_stream_no_info(stream)
        .await
        .map_err(|err| get_stream_error(err.kind(), err, stream, OPERATION))?;
    let name = consumer_name();
    let config = pull::Config {
        name: Some(name.clone()),
        description: Some("gridcase log reader (deleted when the read ends)".into()),
        deliver_policy: if start_seq <= 1 {
            DeliverPolicy::All
        } else {
            DeliverPolicy::ByStartSequence {
                start_sequence: start_seq,
            }
        },
        ack_policy: AckPolicy::None,
        max_deliver: 1,
        inactive_threshold: CONSUMER_INACTIVE_THRESHOLD,
        memory_storage: true,
        num_replicas: 1,
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
        .stream()
        .max_messages_per_batch(PULL_BATCH)
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await;
    match messages {
        Ok(messages) => Ok((Open { messages, name }, pending)),
        Err(err) => {
            delete_later(ctx, stream, name);
            Err(NatsError::Request {
                operation: "start reading",
                stream: stream.to_owned(),
                source: Box::new(err),
            })
        }
    }
}

impl Reader {
    /// Deletes the current consumer, if any.
    fn close(&mut self) {
        if let Some(open) = self.open.take() {
            delete_later(&self.ctx, &self.stream, open.name);
        }
    }

    /// The read is complete: no more items, and the consumer is deleted now (awaited, so a
    /// tool that exits right after the read leaves nothing behind).
    async fn finish(&mut self) {
        self.done = true;
        if let Some(open) = self.open.take() {
            let deleted = tokio::time::timeout(
                Duration::from_secs(2),
                self.ctx
                    .delete_consumer_from_stream(&open.name, &self.stream),
            )
            .await;
            if !matches!(deleted, Ok(Ok(_))) {
                tracing::debug!(stream = %self.stream, consumer = %open.name, "could not delete a reader's consumer; it expires by itself");
            }
        }
    }

    async fn next(&mut self) -> Option<Result<RawMsg, NatsError>> {
        loop {
            if self.done {
                return None;
            }
            let Some(open) = self.open.as_mut() else {
                if self.failures > 0 {
                    tokio::time::sleep(reopen_backoff(self.failures)).await;
                }
                self.connects_at_open = self.stats.connects.load(Ordering::Relaxed);
                match open_consumer(&self.ctx, &self.stream, self.next_seq).await {
                    Ok((open, pending)) => {
                        self.open = Some(open);
                        if self.mode == Mode::CatchUp && pending == 0 {
                            self.finish().await;
                        }
                    }
                    Err(err) => {
                        if let Some(item) = self.failed(err).await {
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
                    next = open.messages.next() => Some(next),
                    () = reconnected(&stats, connects_at_open) => None,
                }
            };
            let next = match self.mode {
                Mode::Live => wait.await,
                Mode::CatchUp => match tokio::time::timeout(READ_STALL_TIMEOUT, wait).await {
                    Ok(next) => next,
                    Err(_) => {
                        self.finish().await;
                        return Some(Err(NatsError::ReadStalled {
                            stream: self.stream.clone(),
                            waited: READ_STALL_TIMEOUT,
                        }));
                    }
                },
            };
            let Some(next) = next else {
                // The connection was re-established. The server may have restarted and lost
                // our (in-memory) consumer; reopening at `next_seq` now is cheap and loses
                // nothing.
                tracing::debug!(stream = %self.stream, "reconnected; reopening the reader's consumer");
                self.close();
                continue;
            };
            let message = match next {
                Some(Ok(message)) => message,
                Some(Err(err)) => {
                    let err = self.read_error(Box::new(err));
                    if let Some(item) = self.failed(err).await {
                        return Some(item);
                    }
                    continue;
                }
                None => {
                    let err = self.read_error("the consumer's message stream ended".into());
                    if let Some(item) = self.failed(err).await {
                        return Some(item);
                    }
                    continue;
                }
            };
            let (seq, pending) = match message.info() {
                Ok(info) => (info.stream_sequence, info.pending),
                Err(source) => {
                    let err = self.read_error(source);
                    if let Some(item) = self.failed(err).await {
                        return Some(item);
                    }
                    continue;
                }
            };
            if seq < self.next_seq {
                continue; // a redelivery after reopening
            }
            if seq > self.next_seq {
                // A message went missing in transit: read again from the one we need.
                let err = self.read_error(
                    format!("expected stream sequence {}, got {seq}", self.next_seq).into(),
                );
                if let Some(item) = self.failed(err).await {
                    return Some(item);
                }
                continue;
            }
            self.failures = 0;
            self.next_seq = seq + 1;
            if self.mode == Mode::CatchUp && pending == 0 {
                self.finish().await;
            }
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
    async fn failed(&mut self, err: NatsError) -> Option<Result<RawMsg, NatsError>> {
        self.close();
        self.failures += 1;
        tracing::debug!(stream = %self.stream, failures = self.failures, error = %err, "reopening the reader's consumer");
        match self.mode {
            Mode::Live => (self.failures % 10 == 1).then_some(Err(err)),
            Mode::CatchUp if self.failures >= CATCH_UP_MAX_FAILURES => {
                self.finish().await;
                Some(Err(err))
            }
            Mode::CatchUp => None,
        }
    }
}
