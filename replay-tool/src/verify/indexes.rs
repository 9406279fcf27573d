//! The embedded store's indexes: the bus checks them against the commits the pass fed it
//! ([`IndexCheck`]); here its findings become the report's problems, in the order found.

use gridcase_bus::{CommitIndex, HeadProblem, Holds, IndexFinding, Position};
use gridcase_domain::CaseId;

use super::pass::Verifier;
use super::report::{problem, Kind};
use crate::Error;

/// Full scans of the case index to name the case of an unreadable commit.
const LOOKUP_CAP: usize = 50;

impl Verifier<'_> {
    /// The case and first version the case index names for position `p` (embedded store).
    pub(super) fn lookup_index(&mut self, p: Position) -> (Option<CaseId>, Option<u64>) {
        let Some(log) = self.sled else {
            return (None, None);
        };
        if self.lookups >= LOOKUP_CAP {
            return (None, None);
        }
        self.lookups += 1;
        match log.case_indexed_at(p) {
            Ok(Some((case, version))) => (case, Some(version)),
            Ok(None) | Err(_) => (None, None),
        }
    }

    /// Checks the embedded store's indexes against the commits read and reports what
    /// disagrees.
    pub(super) fn check_indexes(&mut self) -> Result<(), Error> {
        let (Some(log), Some(check)) = (self.sled, self.index_check.take()) else {
            return Ok(());
        };
        // Reported as they come, so the report's cap bounds what is kept.
        check.run(log, |f| self.found(f))?;
        for (i, cases) in std::mem::take(&mut self.lost) {
            if let Some(p) = self.problems.get_mut(i) {
                let shown: Vec<&str> = cases.iter().take(10).map(String::as_str).collect();
                let more = cases.len().saturating_sub(shown.len());
                p.message.push_str(&format!(
                    "; by the case index it held {}{}",
                    shown.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ));
            }
        }
        Ok(())
    }

    fn found(&mut self, f: IndexFinding) {
        let p = match f {
            IndexFinding::CaseEntry {
                case,
                version,
                position: p,
                holds,
            } => {
                let msg = match holds {
                    Holds::Nothing => format!("the case index puts version {version} at position {p}, but there is no readable commit there (deleted?)"),
                    Holds::Another(other) => {
                        let holds = match other {
                            Some((c, v)) => format!("case {c} version {v}"),
                            None => "another commit".into(),
                        };
                        format!("the case index puts version {version} at position {p}, which holds {holds} (reordered or replaced)")
                    }
                };
                let case = CaseId::new(case.as_str()).ok();
                problem(Kind::IndexMismatch, Some(p), case.as_ref(), Some(version), msg)
            }
            IndexFinding::CommandEntry {
                command,
                version,
                position: p,
                case,
            } => problem(
                Kind::IndexMismatch,
                Some(p),
                case.as_ref(),
                Some(version),
                format!("the command index puts command {command} (version {version}) at position {p}, which holds another commit or none"),
            ),
            IndexFinding::Head {
                case,
                version,
                position: p,
                problem: head,
            } => {
                let msg = match head {
                    HeadProblem::NoCommits => format!("the case head says version {version} at position {p}, but the log has no commit of the case"),
                    HeadProblem::EndsAt { version: v, position: at } => format!(
                        "the case head says version {version} at position {p}, but the log ends the case at version {v} (position {at}): commits missing or added",
                    ),
                    HeadProblem::Hash => "the case head's hash is not the hash of the case's last event".into(),
                };
                let case = CaseId::new(case.as_str()).ok();
                problem(Kind::HeadMismatch, Some(p), case.as_ref(), Some(version), msg)
            }
            IndexFinding::Unindexed {
                index,
                position,
                case,
            } => {
                let consequence = match index {
                    CommitIndex::Case => {
                        "the commit is not in the case index: reading the case skips it"
                    }
                    CommitIndex::Command => {
                        "the commit is not in the command index: its command could be applied twice"
                    }
                };
                let (case, version) = case.unzip();
                problem(
                    Kind::Unindexed,
                    Some(position),
                    case.as_ref(),
                    version,
                    consequence,
                )
            }
            IndexFinding::Headless {
                case,
                version,
                position,
            } => problem(
                Kind::HeadMismatch,
                Some(position),
                Some(&case),
                Some(version),
                "the case has commits but no case head: appends to it would restart at version 1",
            ),
            IndexFinding::Malformed { index, key } => {
                let kind = if index == "case head" {
                    Kind::HeadMismatch
                } else {
                    Kind::IndexMismatch
                };
                problem(kind, None, None, None, format!("malformed {index} entry {key:?}"))
            }
            IndexFinding::InUnreadable {
                case,
                version,
                position,
            } => {
                // Not a mismatch: the commit is in storage that could not be read.
                if let Some(i) = self.unreadable_at(position) {
                    self.lost
                        .entry(i)
                        .or_default()
                        .push(format!("case {case} version {version}"));
                }
                return;
            }
            IndexFinding::Unreadable(e) => {
                problem(Kind::Unreadable, None, None, None, crate::chain(&e))
            }
            other => problem(
                Kind::IndexMismatch,
                None,
                None,
                None,
                format!("{other:?}"),
            ),
        };
        self.report(p);
    }
}
