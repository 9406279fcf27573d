//! The NATS JetStream backend of the event log.
//!
//! [`jetstream`] holds the low-level primitives over bytes: connecting (refusing servers
//! older than 2.11), creating and verifying the stream, publishing with a per-subject
//! expected sequence and a message id, and reading one subject or the whole stream in order.
//! Encoding commits and mapping cases to subjects happens above this layer, in
//! [`crate::NatsLog`].

pub mod jetstream;
