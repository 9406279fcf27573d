//! `state <case> --as-of T`: the case as it stood at T.
//!
//! "As of T" means only events recorded at or before T (DESIGN.md invariant 9). The case's
//! events are folded with [`CaseState::apply`] in version order up to the first one recorded
//! after T; a later event recorded earlier (a clock that stepped back) is not applied out of
//! order, so the state is always one the case actually passed through.

use gridcase_bus::{Corruption, EventLog, LogError, Position};
use gridcase_domain::{CaseId, CaseState, Envelope, Timestamp};
use serde::Serialize;

use crate::source::Source;
use crate::Error;

/// The answer of `state`.
#[derive(Debug, Clone, Serialize)]
pub struct StateAt {
    /// The case.
    pub case_id: CaseId,
    /// The time asked about.
    pub as_of: Timestamp,
    /// Whether the case had been reported by then.
    pub exists: bool,
    /// The case version at T (0 before the report).
    pub version: u64,
    /// The position of the last commit applied.
    pub position: Option<Position>,
    /// When the last applied event was recorded.
    pub last_recorded_at: Option<Timestamp>,
    /// Events applied.
    pub events_applied: u64,
    /// Events the case has in the log now.
    pub events_total: u64,
    /// The folded state.
    pub state: CaseState,
}

/// Folds `case` up to `as_of`. [`Error::UnknownCase`] when the log has no such case at all.
pub async fn state_at(source: &Source, case: &CaseId, as_of: Timestamp) -> Result<StateAt, Error> {
    let commits = source.read_case(case).await?;
    if commits.is_empty() {
        return Err(Error::UnknownCase(case.clone()));
    }
    let mut out = StateAt {
        case_id: case.clone(),
        as_of,
        exists: false,
        version: 0,
        position: None,
        last_recorded_at: None,
        events_applied: 0,
        events_total: commits.iter().map(|c| c.events.len() as u64).sum(),
        state: CaseState::default(),
    };
    let mut done = false;
    for c in &commits {
        for r in &c.events {
            if done || r.header.recorded_at > as_of {
                done = true;
                break;
            }
            let corrupt = |cause: Corruption| LogError::Corrupt {
                position: c.position,
                case: Some(case.clone()),
                cause,
            };
            let version = r.header.case_version;
            if version != out.state.version + 1 {
                return Err(corrupt(Corruption::VersionGap {
                    version,
                    previous: out.state.version,
                })
                .into());
            }
            let env = Envelope::try_from(r).map_err(|e| corrupt(Corruption::event(version, e)))?;
            out.state.apply(&env);
            out.events_applied += 1;
            out.position = Some(c.position);
            out.last_recorded_at = Some(r.header.recorded_at);
        }
    }
    out.version = out.state.version;
    out.exists = out.version > 0;
    Ok(out)
}
