//! Low-level JetStream primitives over bytes, built on `async-nats`.
//!
//! Everything here speaks raw subjects, headers and payloads; encoding events and choosing
//! subjects is the caller's business ([`crate::NatsLog`]). One file per job:
//!
//! | module | what |
//! |---|---|
//! | `error` | [`NatsError`] (connecting, setting up, reading) and [`PublishError`] |
//! | `connect` | [`connect`]: a [`Connection`] to a server ≥ [`MIN_SERVER_VERSION`] with JetStream, and the API prefix its requests use |
//! | `stream` | [`ensure_stream`] creates the log's stream or verifies that it keeps history forever; [`stream_state`] |
//! | `publish` | [`publish_expected`]: one message with a message id and the expected last sequence of its subject, set through async-nats's [`PublishMessage`](async_nats::jetstream::message::PublishMessage) builder |
//! | `get` | reads **without a consumer**: the last message on a subject, a message by sequence, and batched direct gets ([`read_subject`], [`read_range`]) |
//! | `consumer` | reads **through one consumer** that is deleted when the read ends: [`read_from`] (catch-up) and [`subscribe_from`] (catch-up, then live) |
//!
//! Reading a case never creates a consumer: nats-server 2.15 refuses the 1,001st consumer on
//! a stream, and consumers that nobody deletes linger until their inactivity threshold.

mod connect;
mod consumer;
mod error;
mod get;
mod publish;
mod stream;
#[cfg(test)]
mod tests;

pub use connect::*;
pub use consumer::*;
pub use error::*;
pub use get::*;
pub use publish::*;
pub use stream::*;
