//! # gridcase-replay
//!
//! The auditors' tool: it reads the gridcase event log — the embedded store of a server data
//! directory (`--data DIR`, log in `DIR/log`) or a NATS JetStream stream (`--nats URL`, with
//! `--stream`, `--subject-prefix` and, for a JetStream domain, `--api-prefix`) — and never
//! writes to it. The embedded store is opened read-only
//! ([`gridcase_bus::AnyLog::open_embedded_read_only`]: the file log, or a sled store of an
//! earlier version); either is locked by a running server, so stop the server first or point
//! `--data` at a copy or backup.
//!
//! | command | what it does | module |
//! |---|---|---|
//! | `history <case>` | the full timeline of one case: versions, times, actor and role, event type, the facts, hash and previous hash, each link checked | [`history`] |
//! | `state <case> --as-of T` | the case as it stood at T (events recorded at or before T) | [`asof`] |
//! | `verify` | every record decodes (old schemas through upcasters), versions contiguous from 1, hash chains intact, positions strictly increasing, indexes consistent; optionally rebuilds the projections and compares them byte for byte with the live store | [`verify`] |
//! | `rebuild --out DIR` | every projection from position 0 into a fresh directory | [`rebuild`] |
//! | `export --format jsonl\|csv` | every event, streamed, for external audit tools; `--redact` for analysts | [`export`] |
//! | `stats --region R --period P --as-of T` | the statistics as they stood at T | [`stats`] |
//!
//! The deployment's settings come as for `gridcase serve`: `--config FILE` (the server's TOML,
//! of which `time_zone` and `[regions]` are read: [`config`]), `--divisions FILE` and
//! `--grids FILE` (region codes given to `verify`, `export` and `stats` are checked against
//! them, and `stats --drill-down` names children from them; see `gridcase-regions`),
//! `--time-zone TZ`; the command line wins over the file.
//!
//! Exit status: 0 all is well, 1 a problem was found (a broken chain, a damaged record, a
//! projection that differs from its rebuild), 2 usage or runtime error. Errors are printed
//! with their cause chain; a closed output pipe (`… | head`) ends the run quietly.
//!
//! [`Source`] reads the log raw or decoded; a damaged value is a problem at its position, not a
//! crash. The command line ([`Cli`], parsed by clap) and [`execute`], which runs one, live in
//! `cli.rs`; [`Error`] and the helpers that keep causes in `error.rs`; `main` is glue.

pub mod asof;
mod cli;
pub mod config;
mod error;
pub mod export;
pub mod history;
pub mod progress;
pub mod rebuild;
pub mod redact;
pub mod source;
pub mod stats;
pub mod verify;

pub use cli::{
    calendar, execute, parse_case, parse_time, Cli, Cmd, HistoryFormat, Status, SummaryFormat,
    DEFAULT_TIME_ZONE,
};
pub use error::{bad_value, chain, json_error, Error};
pub use source::{Location, Source};
