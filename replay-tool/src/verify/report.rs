//! What a verification found ([`Report`], its [`Problem`]s of each [`Kind`], the
//! [`ProjectionCheck`]) and how it is printed: lines of text or one JSON document.

use std::io::Write;
use std::path::PathBuf;

use gridcase_bus::{LogError, Position};
use gridcase_domain::{CaseId, RegionCode};
use serde::Serialize;

use crate::progress::Rate;
use crate::{outln, Error};

/// What kind of problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Kind {
    PositionOrder,
    MissingPositions,
    Checksum,
    Undecodable,
    WrongSubject,
    EmptyCommit,
    ForeignEvent,
    CommandMismatch,
    EventId,
    RecordedAt,
    VersionGap,
    VersionOrder,
    BrokenChain,
    HashMismatch,
    BodyUndecodable,
    FirstNotReported,
    ReportNotFirst,
    IndexMismatch,
    Unindexed,
    HeadMismatch,
    RecordedBackwards,
    Unreadable,
    ProjectionAhead,
    ProjectionMismatch,
    RebuildFailed,
    CheckpointMismatch,
}

impl Kind {
    /// The stable snake_case name.
    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What kind.
    pub kind: Kind,
    /// The position, when known.
    pub position: Option<Position>,
    /// The case, when known.
    pub case_id: Option<CaseId>,
    /// The case version, when known.
    pub version: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(c) = &self.case_id {
            parts.push(format!("case {c}"));
        }
        if let Some(v) = self.version {
            parts.push(format!("version {v}"));
        }
        if let Some(p) = self.position {
            parts.push(format!("position {p}"));
        }
        if parts.is_empty() {
            parts.push("log".into());
        }
        write!(
            f,
            "{} [{}]: {}",
            parts.join(", "),
            self.kind.as_str(),
            self.message
        )
    }
}

/// The outcome of comparing the live projection store with a rebuild.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectionCheck {
    /// The live store.
    pub dir: PathBuf,
    /// Its checkpoint.
    pub checkpoint: Position,
    /// The log's head.
    pub head: Position,
    /// How far the live store is behind the log.
    pub lag: u64,
    /// The time zone the store was built in.
    pub time_zone: String,
    /// Keys compared (live store).
    pub keys: usize,
    /// Keys that differ, are missing or are extra.
    pub differences: usize,
    /// The first differences, described.
    pub first_differences: Vec<String>,
    /// Problems (a mismatch, a store ahead of the log, a rebuild that failed).
    pub problems: Vec<Problem>,
    /// Seconds taken.
    pub seconds: f64,
}

/// The result of a verification.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was read.
    pub source: String,
    /// The region filter.
    pub region: Option<RegionCode>,
    /// The first and last positions read.
    pub positions: Option<(Position, Position)>,
    /// Commits verified (of the region's cases, with a filter).
    pub commits: u64,
    /// Events verified.
    pub events: u64,
    /// Cases verified.
    pub cases: u64,
    /// Commits read in all (the whole log is always read).
    pub commits_read: u64,
    /// Seconds taken by the pass.
    pub seconds: f64,
    /// Whether the embedded store's indexes were checked.
    pub indexes_checked: bool,
    /// Problems found, in the order found.
    pub problem_count: u64,
    /// The first problems.
    pub problems: Vec<Problem>,
    /// Warnings (not failures) found.
    pub warning_count: u64,
    /// The first warnings.
    pub warnings: Vec<Problem>,
    /// The Merkle tree head of every commit read (`SIZE:ROOT`): kept, it shows later whether
    /// any of them was removed, inserted or changed (`--checkpoint`).
    pub tree_head: super::TreeHead,
    /// Tree heads compared (a mismatch is a `checkpoint_mismatch` problem).
    pub checkpoints: usize,
    /// The projection comparison, when asked for.
    pub projections: Option<ProjectionCheck>,
}

impl Report {
    /// The report on a store too damaged to open: one `unreadable` problem saying why.
    pub fn unopenable(source: String, e: &LogError) -> Report {
        let message = match e {
            LogError::Damaged { location, reason } => {
                format!("could not open the store ({location}): {reason}")
            }
            other => format!("could not open the store: {}", crate::chain(other)),
        };
        Report {
            source,
            region: None,
            positions: None,
            commits: 0,
            events: 0,
            cases: 0,
            commits_read: 0,
            seconds: 0.0,
            indexes_checked: false,
            problem_count: 1,
            problems: vec![problem(Kind::Unreadable, None, None, None, message)],
            warning_count: 0,
            warnings: Vec::new(),
            tree_head: super::TreeHasher::default().head(),
            checkpoints: 0,
            projections: None,
        }
    }

    /// Whether everything checked out.
    pub fn passed(&self) -> bool {
        self.problem_count == 0
            && self
                .projections
                .as_ref()
                .is_none_or(|p| p.problems.is_empty())
    }

    /// The rate of the pass.
    pub fn rate(&self) -> Rate {
        Rate {
            commits: self.commits_read,
            events: self.events,
            seconds: self.seconds,
        }
    }

    /// The summary as lines of text.
    pub fn write_text(&self, out: &mut dyn Write, max: usize) -> Result<(), Error> {
        let scope = match self.region {
            Some(r) => format!(" (cases located in {r})"),
            None => String::new(),
        };
        let positions = match self.positions {
            Some((a, b)) => format!("positions {a}..={b}"),
            None => "empty log".into(),
        };
        outln!(out, "verified {}{scope}: {positions}", self.source)?;
        outln!(
            out,
            "  {} commits, {} events, {} cases; read {} in {:.2}s ({:.0} commits/s, {:.0} events/s)",
            self.commits,
            self.events,
            self.cases,
            self.commits_read,
            self.seconds,
            self.rate().commits_per_second(),
            self.rate().events_per_second()
        )?;
        outln!(
            out,
            "  indexes: {}",
            if self.indexes_checked {
                "case index, case heads and command index checked"
            } else {
                "none stored to check (the file log builds them from its records when opened; \
                 NATS: subjects checked instead)"
            }
        )?;
        outln!(
            out,
            "  tree head: {} (keep it: `verify --checkpoint {}` later shows whether any of these \
             commits was removed, inserted or changed){}",
            self.tree_head,
            self.tree_head,
            match self.checkpoints {
                0 => String::new(),
                n => format!("; {n} kept tree head(s) compared"),
            }
        )?;
        if let Some(p) = &self.projections {
            let standing = if p.checkpoint > p.head {
                format!("ahead of the log head {}", p.head)
            } else {
                format!("{} behind the log head {}", p.lag, p.head)
            };
            outln!(
                out,
                "  projections: live store {} at checkpoint {} ({standing}), time zone {}",
                p.dir.display(),
                p.checkpoint,
                p.time_zone
            )?;
            if p.problems.is_empty() {
                outln!(
                    out,
                    "  projections: rebuilt to position {} and compared {} keys: byte-identical ({:.2}s)",
                    p.checkpoint,
                    p.keys,
                    p.seconds
                )?;
            } else {
                for pr in &p.problems {
                    outln!(out, "  projections: {pr}")?;
                }
                for d in &p.first_differences {
                    outln!(out, "    {d}")?;
                }
            }
        }
        if self.passed() {
            outln!(out, "PASS: no problems found")?;
        } else {
            let projection_problems = self.projections.as_ref().map_or(0, |p| p.problems.len());
            let shown = max.min(self.problems.len());
            let listing = if self.problem_count == 0 {
                " (in the projections, above)".to_owned()
            } else if (shown as u64) < self.problem_count {
                format!("; the first {shown} in the log (--max-problems N for more):")
            } else {
                ":".to_owned()
            };
            outln!(
                out,
                "FAIL: {} problem(s) found{listing}",
                self.problem_count + projection_problems as u64
            )?;
            for p in self.problems.iter().take(max) {
                outln!(out, "  {p}")?;
            }
        }
        if self.warning_count > 0 {
            outln!(out, "{} warning(s), not failures:", self.warning_count)?;
            for w in self.warnings.iter().take(max) {
                outln!(out, "  warning: {w}")?;
            }
        }
        Ok(())
    }

    /// The summary as one JSON document (at most `max` problems and warnings listed).
    pub fn write_json(&self, out: &mut dyn Write, max: usize) -> Result<(), Error> {
        let mut r = self.clone();
        r.problems.truncate(max);
        r.warnings.truncate(max);
        let mut v = serde_json::to_value(&r).map_err(crate::json_error)?;
        v["passed"] = self.passed().into();
        v["commits_per_second"] = self.rate().commits_per_second().round().into();
        v["events_per_second"] = self.rate().events_per_second().round().into();
        serde_json::to_writer_pretty(&mut *out, &v).map_err(crate::json_error)?;
        outln!(out)
    }
}

pub(super) fn problem(
    kind: Kind,
    position: Option<Position>,
    case_id: Option<&CaseId>,
    version: Option<u64>,
    message: impl Into<String>,
) -> Problem {
    Problem {
        kind,
        position,
        case_id: case_id.cloned(),
        version,
        message: message.into(),
    }
}
