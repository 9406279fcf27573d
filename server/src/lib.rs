//! # gridcase-server
//!
//! The `gridcase` binary's library: everything but argument parsing.
//!
//! - [`serve::Server`]: opens the log (embedded sled under `data_dir/log`, or NATS), the
//!   projection (`data_dir/projection`), starts the projection runner and the HTTP API
//!   ([`api::router`]) in one process, and shuts down gracefully.
//! - [`web`]: the workbench (工作台), server-rendered pages on the same port, calling the same
//!   command path and read models as the API.
//! - [`config::Config`]: TOML plus environment overrides; the region data comes from
//!   `gridcase-regions` ([`serve::load_regions`]: the `[regions]` table, or `--divisions` /
//!   `--grids`, the same options as `gridcase-replay`'s), never from the fixtures — but for
//!   the demo's generated grids with `serve --demo` ([`config::Config::demo_grids`]).
//! - [`serve::ServeError`], [`load::LoadError`]: kind + source, printed by `main` as a chain;
//!   an [`error::ApiError`] logs its internal cause and sends the client only its public
//!   text.
//! - [`directory::Directory`]: who works where, by name (rosters for assigning and mediating).
//! - [`error::ApiError`]: the one `application/problem+json` error shape.
//! - [`load`]: pushes a fixture through the real command path (`gridcase load`, `serve --demo`).
//! - `bench` (only with the cargo feature `bench`, off by default): `gridcase bench`, each
//!   engine measurement next to its raw limit. A tool beside the product, not in its build.

pub mod api;
pub mod app;
#[cfg(feature = "bench")]
pub mod bench;
pub mod config;
pub mod directory;
pub mod error;
pub mod load;
pub mod metrics;
pub mod openapi;
pub mod secrets;
pub mod serve;
pub mod text;
pub mod web;
