//! The NATS JetStream backend's low-level layer.
//!
//! [`jetstream`] holds the primitives over bytes: connecting (refusing servers older than
//! 2.11), creating and verifying the stream, publishing with a per-subject expected sequence
//! and a message id, and reading — a case through batched direct gets, the whole stream
//! through one consumer that is deleted when the read ends. Encoding commits and mapping
//! cases to subjects happens above this layer, in [`crate::NatsLog`]. The layer is private to
//! the crate; tests and the bench reach it through `testing::jetstream` (feature
//! `test-support`).

pub(crate) mod jetstream;
