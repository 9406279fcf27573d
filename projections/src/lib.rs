//! # gridcase-projections
//!
//! Read models built only from the log, checkpointed and rebuildable.
//!
//! - [`Projector`]: the deterministic in-memory fold — case views ([`CaseEntry`]), the queue
//!   index (open cases by holding unit and deadline) and pre-aggregated [`Aggregate`]s per
//!   region and local day/month.
//! - [`Projection`]: the runner — follows the log, saves state and checkpoint in one atomic
//!   batch ([`Store`]), offers read-your-writes ([`Projection::wait_for`]). The store owns its
//!   key layout: [`describe_key`] names a key for people (the replay tool's difference
//!   reports).
//! - [`SearchQuery`] → [`SearchPage`]: case search over indexes kept beside the case views
//!   (region, holder, handler, mediator, character n-grams of the summary), never persisted.
//! - [`StatsQuery`] → [`StatsReport`]: the "小事不出格" statistics exactly as DOMAIN.md defines
//!   them; [`as_of`] replays the log up to a time for historical views.
//! - [`Calendar`] and [`Period`]: local days in the deployment's time zone.

mod aggregates;
mod calendar;
mod counts;
mod projector;
mod runner;
mod search;
mod stats;
mod store;

pub use calendar::{
    civil_from_days, month_of, month_start, Calendar, Day, Month, Period, PeriodParseError,
    UnknownTimeZone,
};
pub use counts::{Accumulator, Aggregate, Cell, Cells, Counts, Delta, Dim};
pub use projector::{
    has_month_buckets, Acted, AggKey, Bucket, CaseEntry, CohortMark, DeadlineKey, Outcome,
    Projector, FLAG_CLOSED, FLAG_ESCALATED, FLAG_EXTENDED, FLAG_REOPENED,
};
pub use runner::{as_of, Projection};
pub use search::{is_visible, SearchError, SearchPage, SearchQuery, SearchSort, Visibility};
pub use stats::{
    Activity, Breakdown, Change, ChildFigures, Cohort, Durations, Figures, Overdue, RankBy, Rates,
    Series, SeriesPoint, StatsQuery, StatsReport, Step, UnitCount,
};
pub use store::{checkpoint_of, describe_key, Dump, Store};

use std::path::PathBuf;

use gridcase_bus::{LogError, Position};
use gridcase_domain::{CaseId, CodecError};

/// A cause kept as it came (the snapshot's decoders fail with several error types).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a projection could not advance or answer.
///
/// How to handle each: [`ProjectionError::Lagging`] and [`ProjectionError::Log`] when the log
/// is unavailable — retry shortly; [`ProjectionError::Gap`], [`ProjectionError::Corrupt`] and
/// [`ProjectionError::VersionJump`] — the log is damaged: run `gridcase-replay verify`;
/// [`ProjectionError::Locked`], [`ProjectionError::TimeZone`] — fix the deployment as the
/// message says; [`ProjectionError::Storage`], [`ProjectionError::Damaged`],
/// [`ProjectionError::Undecodable`] — the projection's own files: fix the disk or remove the
/// snapshot and let the log rebuild it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// A commit arrived out of order: the log or the subscription is broken.
    #[error(
        "expected position {expected}, got {got}: the log skipped or repeated a commit; run \
         `gridcase-replay verify` for a full report"
    )]
    Gap {
        /// The next position expected.
        expected: Position,
        /// The position received.
        got: Position,
    },
    /// An event of a commit does not decode.
    #[error(
        "cannot project the commit at position {position}: an event does not decode; run \
         `gridcase-replay verify` for a full report"
    )]
    Corrupt {
        /// Where.
        position: Position,
        /// What the decoder said.
        #[source]
        source: CodecError,
    },
    /// A commit does not continue its case: its first version is not the next one.
    #[error(
        "cannot project the commit at position {position}: case {case} jumps from version \
         {from} to {to}; run `gridcase-replay verify` for a full report"
    )]
    VersionJump {
        /// Where.
        position: Position,
        /// The case.
        case: CaseId,
        /// The case's version before the commit.
        from: u64,
        /// The version the commit starts at.
        to: u64,
    },
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A file of the projection store could not be read or written.
    #[error("projection store: {context}")]
    Storage {
        /// What was being done, naming the file.
        context: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the projection store: stop it, or use another data directory.
    #[error("the projection store at {} is in use by another process", dir.display())]
    Locked {
        /// The store's directory.
        dir: PathBuf,
    },
    /// The snapshot's framing is damaged (reading it for a comparison; opening the store sets
    /// a damaged snapshot aside instead).
    #[error("the projection snapshot in {} is damaged: {reason}", dir.display())]
    Damaged {
        /// The store's directory.
        dir: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An entry of a snapshot whose framing checks out does not decode: remove the snapshot
    /// and let the log rebuild it.
    #[error("the projection snapshot's {what} does not decode")]
    Undecodable {
        /// Which entry.
        what: String,
        /// What the decoder said, when it said something.
        #[source]
        source: Option<Cause>,
    },
    /// The snapshot was built in another time zone.
    #[error("the projection was built in time zone {built}, not {configured}: rebuild it")]
    TimeZone {
        /// The snapshot's.
        built: String,
        /// The deployment's.
        configured: String,
    },
    /// A thread of the projection (the applier of commits read ahead, the snapshot writer)
    /// could not start, or failed.
    #[error("the projection's {what}")]
    Worker {
        /// What happened to it.
        what: &'static str,
        /// Why, when known.
        #[source]
        source: Option<Cause>,
    },
    /// Read-your-writes timed out.
    #[error("the projection has applied position {applied}, not yet {wanted}: retry shortly")]
    Lagging {
        /// The position asked for.
        wanted: Position,
        /// The position applied.
        applied: Position,
    },
}
