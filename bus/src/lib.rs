//! # gridcase-bus
//!
//! The event log and the command path.
//!
//! - [`EventLog`]: the one contract every backend implements — append a [`Commit`] with an
//!   expected version (typed [`Conflict`] otherwise), read a case, read everything from a
//!   [`Position`], subscribe (catch-up then live, no gap, no duplicate), the head.
//! - [`SledLog`]: the embedded default; single writer with group commit, durable before
//!   acknowledgement.
//! - [`NatsLog`]: NATS JetStream (server ≥ 2.11), the system of record beyond one machine; one
//!   message per commit on `<prefix>.<partition>.<case id>`, optimistic concurrency through the
//!   expected last subject sequence, deduplication through `Nats-Msg-Id`. [`nats::jetstream`]
//!   holds its low-level primitives.
//! - [`AnyLog`]: either backend, chosen at run time.
//! - [`CommandPath`]: load a case (bounded cache), decide, append, re-decide on conflict.

mod any;
mod command_path;
mod log;
mod nats_log;
mod sled_log;

pub mod nats;
#[cfg(feature = "test-support")]
pub mod testing;

pub use any::AnyLog;
pub use command_path::{
    partition_for, partition_of, Clock, CommandError, CommandPath, Executed, Submission,
};
pub use log::{
    validate_commit, AppendError, Appended, Commit, CommitStream, Committed, Conflict, EventLog,
    ExpectedVersion, LogError, Position,
};
pub use nats_log::{NatsLog, NatsSettings};
pub use sled_log::SledLog;
