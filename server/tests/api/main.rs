//! The HTTP API in process: `Router::oneshot` over the real command path, a temporary sled log
//! and a live in-memory projection.
//!
//! - a full life cycle through every endpoint and every command;
//! - every error status of the problem+json table, each leaving the log unchanged;
//! - per role, what it must not do;
//! - many clients racing on one case: no 500, no lost update.
//!
//! One test binary, a module per concern: [`life_cycle`], [`errors`], [`roles`],
//! [`concurrency`], [`read_your_writes`], [`work`] (search, my work, rosters, regions), [`openapi`] (the document against the server), [`parties`] (personal data: vault, reveal, lookup, erasure, access log), [`rules`] (a center's domain rules as
//! the API answers them), [`stats`]
//! (what analysts ask: corrections, denominators, overdue at T, series, rankings); the harness they share is [`harness`].

#[path = "../common/mod.rs"]
mod common;
mod harness;

mod concurrency;
mod errors;
mod life_cycle;
mod openapi;
mod parties;
mod read_your_writes;
mod roles;
mod rules;
mod stats;
mod work;
