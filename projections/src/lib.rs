//! # gridcase-projections
//!
//! Read models built only from the log, checkpointed and rebuildable.
//!
//! - [`Projector`]: the deterministic in-memory fold — case views ([`CaseEntry`]), the queue
//!   index (open cases by holding unit and deadline) and pre-aggregated [`Aggregate`]s per
//!   region and local day/month.
//! - [`Projection`]: the runner — follows the log, saves state and checkpoint in one atomic
//!   batch ([`Store`]), offers read-your-writes ([`Projection::wait_for`]).
//! - [`SearchQuery`] → [`SearchPage`]: case search over indexes kept beside the case views
//!   (region, holder, handler, mediator, character n-grams of the summary), never persisted.
//! - [`StatsQuery`] → [`StatsReport`]: the "小事不出格" statistics exactly as DOMAIN.md defines
//!   them; [`as_of`] replays the log up to a time for historical views.
//! - [`Calendar`] and [`Period`]: local days in the deployment's time zone.

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
pub use store::{checkpoint_of, Dump, Store};

use gridcase_bus::{LogError, Position};

/// Why a projection could not advance or answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// A commit arrived out of order: the log or the subscription is broken.
    #[error("expected position {expected}, got {got}: the log skipped or repeated a commit")]
    Gap {
        /// The next position expected.
        expected: Position,
        /// The position received.
        got: Position,
    },
    /// A commit could not be decoded or does not fit the case.
    #[error("cannot project the commit at position {position}: {reason}")]
    Corrupt {
        /// Where.
        position: Position,
        /// Why.
        reason: String,
    },
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The projection store failed.
    #[error("projection store: {0}")]
    Storage(String),
    /// Read-your-writes timed out.
    #[error("the projection has applied position {applied}, not yet {wanted}: retry shortly")]
    Lagging {
        /// The position asked for.
        wanted: Position,
        /// The position applied.
        applied: Position,
    },
}
