//! # gridcase-bus
//!
//! The event log and the command path.
//!
//! - [`EventLog`]: the one contract every backend implements — append a [`Commit`] with an
//!   expected version (typed [`Conflict`] otherwise), read a case, read everything from a
//!   [`Position`], subscribe (catch-up then live, no gap, no duplicate), the head.
//! - [`Position`]: a commit's place in the global order, a newtype over the number (the
//!   stream sequence on NATS); [`LogError`] keeps its cause (kind + source; a corrupt commit's
//!   is a typed [`Corruption`]).
//! - [`FileLog`]: the embedded default for new stores: one append-only file of the stored
//!   commits, indexes in memory; single writer with group commit, durable before
//!   acknowledgement.
//! - [`SledLog`]: the embedded store of earlier versions (sled), still read and written: a
//!   data directory keeps the backend it was created with ([`AnyLog::open_embedded`]).
//! - [`NatsLog`]: NATS JetStream (server ≥ 2.11), the system of record beyond one machine; one
//!   message per commit on `<prefix>.<partition>.<case id>`, optimistic concurrency through the
//!   expected last subject sequence, deduplication through `Nats-Msg-Id` (both set through
//!   async-nats's publish builder); JetStream requests go to the configured API prefix
//!   ([`DEFAULT_API_PREFIX`], or a domain's); a case is read with batched direct gets, never a
//!   consumer per read.
//! - [`AnyLog`]: either backend, chosen at run time; its raw readers ([`AnyLog::raw_from`],
//!   [`AnyLog::raw_case`], [`SledLog::index_entries`]) and the embedded store's index check
//!   ([`IndexCheck`], against the commits a reader saw) serve the auditors' tool.
//! - [`raw`]: the one home of the storage format (the stored commit and its CRC framing) and
//!   [`RawCommit`], a stored value read without stopping at damage.
//! - [`CommandPath`]: load a case (bounded cache), decide, append, re-decide on conflict.

mod any;
mod command_path;
mod file;
mod local;
mod log;
mod nats;
mod nats_log;
mod position;
pub mod raw;
mod sled;
#[cfg(feature = "test-support")]
pub mod testing;

pub use any::{AnyLog, RawCursor};
pub use command_path::{
    partition_for, partition_of, Clock, CommandError, CommandPath, Executed, People, SealError,
    Submission, TextSealer,
};
pub use file::{Copied, FileLog, FileRawCursor, LOG_FILE};
pub use log::{
    validate_commit, AppendError, Appended, Cause, Commit, CommitStream, Committed, Conflict,
    Corruption, EventLog, ExpectedVersion, Fingerprint, InvalidCommit, LogError, Reason,
};
pub use nats::jetstream::{ServerVersion, DEFAULT_API_PREFIX, MIN_SERVER_VERSION};
pub use nats_log::{NatsLog, NatsRawCursor, NatsSettings};
pub use position::Position;
pub use raw::{RawCommit, RawError};
pub use sled::{
    CommitIndex, Compacted, EntryBytes, HeadProblem, Holds, IndexCheck, IndexCursor, IndexEntry,
    IndexFinding, SledLog, SledRawCursor, SpaceUsage,
};
