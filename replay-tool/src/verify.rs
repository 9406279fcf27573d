//! `verify`: is the log whole, unaltered and consistent?
//!
//! One pass over every stored commit in position order, reading raw values so that damage is a
//! problem at its position instead of the end of the run. Checked:
//!
//! | check | problem kind |
//! |---|---|
//! | positions strictly increasing and contiguous from the first | `position_order`, `missing_positions` |
//! | the CRC-32 framing of each value | `checksum` (the bytes are still decoded if they can be, to name the case) |
//! | the value decodes as a commit; on NATS, it sits on its case's subject | `undecodable`, `wrong_subject` |
//! | a commit has events, all of its case and command, ids derived from them, one recorded-at time | `empty_commit`, `foreign_event`, `command_mismatch`, `event_id`, `recorded_at` |
//! | per case, versions 1, 2, 3… in position order | `version_gap`, `version_order` |
//! | per case, each `prev_hash` is the previous event's hash (zero for version 1) | `broken_chain` |
//! | each stored hash is the hash of the record's contents | `hash_mismatch` |
//! | each body decodes, old schema versions through the upcasters | `body_undecodable` |
//! | version 1 is `CaseReported`, and only version 1 | `first_not_reported`, `report_not_first` |
//! | embedded store: the case index, the case heads and the command index agree with the commits | `index_mismatch`, `unindexed`, `head_mismatch` |
//! | the storage itself can be read (sled's page checksums, pages that parse) | `unreadable`, naming the file offset or positions; the rest is verified |
//!
//! Events cannot be re-decided — commands are not stored — so the domain rules are checked only
//! as far as the events themselves show them. A case whose recorded-at times go backwards is a
//! warning (clocks of several servers), not a failure.
//!
//! After a broken link the case's chain is resynchronised at the event found, so one damaged
//! commit gives a few problems, not one per later event.
//!
//! `--projections DIR` then rebuilds the projections into a temporary directory up to the live
//! store's checkpoint and compares the two stores key by key and byte by byte (DESIGN.md
//! invariant 7). A live store behind the log is fine: the lag is reported and the comparison is
//! made at its checkpoint.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use gridcase_bus::{EventLog, IndexEntry, LogError, Position, RawCommit, RawError, SledLog};
use gridcase_domain::{
    chain, CaseId, ChainHead, Event, EventId, Hash, LinkError, RegionCode, Timestamp,
};
use gridcase_projections::{civil_from_days, Calendar, Projection, Store};
use serde::Serialize;

use crate::progress::{self, Rate};
use crate::source::Source;
use crate::{outln, Error};

/// Problems kept in memory before filtering by region; more are only counted.
const STORE_CAP: usize = 10_000;
/// Full scans of the case index to name the case of an unreadable commit.
const LOOKUP_CAP: usize = 50;

/// What to verify.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only cases located in this subtree (as reported or corrected).
    pub region: Option<RegionCode>,
    /// How many problems the report keeps for printing.
    pub max_problems: usize,
    /// Draw a progress bar.
    pub progress: bool,
}

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
                "none to check (NATS: subjects checked instead)"
            }
        )?;
        if let Some(p) = &self.projections {
            outln!(
                out,
                "  projections: live store {} at checkpoint {} ({} behind the log head {}), time zone {}",
                p.dir.display(),
                p.checkpoint,
                p.lag,
                p.head,
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

/// FNV-1a over parts separated by 0xff; never 0 (0 means "no commit here").
fn fingerprint(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h.max(1)
}

fn case_fp(case: &str, first_version: u64) -> u64 {
    fingerprint(&[case.as_bytes(), &first_version.to_be_bytes()])
}

fn command_fp(command: &str, last_version: u64) -> u64 {
    fingerprint(&[command.as_bytes(), &last_version.to_be_bytes()])
}

/// Per-case state of the pass.
struct Track {
    version: u64,
    hash: Hash,
    recorded: Timestamp,
    last_position: Position,
    commits: u64,
    events: u64,
    in_region: bool,
    /// The next event is taken as the new baseline (after an unreadable commit).
    resync: bool,
    subject: u64,
    has_head: bool,
}

impl Track {
    fn new() -> Track {
        Track {
            version: 0,
            hash: Hash::ZERO,
            recorded: Timestamp::EPOCH,
            last_position: Position::ZERO,
            commits: 0,
            events: 0,
            in_region: false,
            resync: false,
            subject: 0,
            has_head: false,
        }
    }
}

struct Verifier<'a> {
    opts: &'a Options,
    sled: Option<&'a SledLog>,
    cases: HashMap<CaseId, Track>,
    problems: Vec<Problem>,
    overflow: u64,
    warnings: Vec<Problem>,
    warning_count: u64,
    next: Position,
    first: Option<Position>,
    last: Position,
    commits_read: u64,
    /// By position: fingerprint of (case, first version) and of (command, last version).
    case_fps: Vec<u64>,
    command_fps: Vec<u64>,
    lookups: usize,
    /// Stretches of positions that could not be read, with the index of their problem.
    unreadable: Vec<(Position, Position, usize)>,
    /// Per unreadable stretch, what the case index says it held.
    lost: HashMap<usize, Vec<String>>,
}

fn problem(
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

impl<'a> Verifier<'a> {
    fn report(&mut self, p: Problem) {
        if self.problems.len() < STORE_CAP {
            self.problems.push(p);
        } else {
            self.overflow += 1;
        }
    }

    fn warn(&mut self, p: Problem) {
        self.warning_count += 1;
        if self.warnings.len() < STORE_CAP {
            self.warnings.push(p);
        }
    }

    /// The case and first version the case index names for position `p` (embedded store).
    fn lookup_index(&mut self, p: Position) -> (Option<CaseId>, Option<u64>) {
        let Some(log) = self.sled else {
            return (None, None);
        };
        if self.lookups >= LOOKUP_CAP {
            return (None, None);
        }
        self.lookups += 1;
        let mut entries = log.index_entries();
        while let Ok(Some(entry)) = entries.next_entry() {
            if let IndexEntry::Case {
                case,
                first_version,
                position,
            } = entry
            {
                if position == p {
                    return (CaseId::new(case).ok(), Some(first_version));
                }
            }
        }
        (None, None)
    }

    fn set_fp(&mut self, p: Position, case: u64, command: u64) {
        if self.sled.is_none() {
            return;
        }
        let i = p.get() as usize;
        if self.case_fps.len() <= i {
            self.case_fps.resize(i + 1, 0);
            self.command_fps.resize(i + 1, 0);
        }
        self.case_fps[i] = case;
        self.command_fps[i] = command;
    }

    /// A stretch of storage that could not be read: reported, and the positions it covers
    /// count as read (so they are not reported again as missing).
    fn unreadable(&mut self, e: &LogError) {
        let (positions, message) = match e {
            LogError::Damaged { location, reason } => (
                parse_positions(location),
                format!("could not read {location}: {reason}"),
            ),
            other => (None, crate::chain(other)),
        };
        if let Some((first, last)) = positions {
            self.first.get_or_insert(first);
            self.last = self.last.max(last);
            self.next = self.next.max(last.next());
            self.unreadable.push((first, last, self.problems.len()));
        }
        self.report(problem(
            Kind::Unreadable,
            positions.map(|(first, _)| first),
            None,
            None,
            message,
        ));
    }

    /// The unreadable stretch holding position `p`, if any (its problem's index).
    fn unreadable_at(&self, p: Position) -> Option<usize> {
        self.unreadable
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&p))
            .map(|(_, _, i)| *i)
    }

    fn raw(&mut self, raw: RawCommit) {
        let p = raw.position;
        self.commits_read += 1;
        self.first.get_or_insert(p);
        self.last = self.last.max(p);
        if p < self.next {
            self.report(problem(
                Kind::PositionOrder,
                Some(p),
                None,
                None,
                format!(
                    "position {p} read after position {}",
                    self.next.since(Position::FIRST)
                ),
            ));
        } else if p > self.next && self.first != Some(p) {
            let msg = if p == self.next.next() {
                format!("position {} is missing (deleted?)", self.next)
            } else {
                format!(
                    "positions {}..={} are missing (deleted?)",
                    self.next,
                    p.since(Position::FIRST)
                )
            };
            self.report(problem(
                Kind::MissingPositions,
                Some(self.next),
                None,
                None,
                msg,
            ));
        } else if p > self.next && p != Position::FIRST {
            self.report(problem(
                Kind::MissingPositions,
                Some(Position::FIRST),
                None,
                None,
                format!(
                    "the log starts at position {p}, not 1: positions 1..={} are missing",
                    p.since(Position::FIRST)
                ),
            ));
        }
        self.next = self.next.max(p.next());
        let commit = match raw.decode() {
            Ok(c) => c,
            Err(e) => {
                let salvaged = match e {
                    RawError::Undecodable(_) => None,
                    _ => raw.decode_ignoring_checksum(),
                };
                let (case, version) = match &salvaged {
                    Some(c) => (
                        Some(c.case_id.clone()),
                        c.events.first().map(|e| e.header.case_version),
                    ),
                    // On NATS the subject names the case even when the bytes say nothing.
                    None => match raw.case_from_subject() {
                        Some(c) => (Some(c), None),
                        None => self.lookup_index(p),
                    },
                };
                let kind = match e {
                    RawError::Truncated(_) | RawError::Checksum { .. } => Kind::Checksum,
                    RawError::WrongSubject { .. } => Kind::WrongSubject,
                    _ => Kind::Undecodable,
                };
                let note = if salvaged.is_some() {
                    "; its bytes still decode, so its events are checked below"
                } else {
                    ""
                };
                self.report(problem(
                    kind,
                    Some(p),
                    case.as_ref(),
                    version,
                    format!("{e}{note}"),
                ));
                match salvaged {
                    Some(c) => c,
                    None => {
                        if let Some(t) = case.and_then(|c| self.cases.get_mut(&c)) {
                            t.resync = true;
                        }
                        return;
                    }
                }
            }
        };
        self.commit(p, raw.subject.as_deref(), commit);
    }

    fn commit(&mut self, p: Position, subject: Option<&str>, c: gridcase_bus::Committed) {
        let mut found = Vec::new();
        let mut warnings = Vec::new();
        let region = self.opts.region;
        let case = &c.case_id;
        let track = self.cases.entry(case.clone()).or_insert_with(Track::new);
        track.commits += 1;
        let previous_position = track.last_position;
        track.last_position = p;
        if let Some(s) = subject {
            let f = fingerprint(&[s.as_bytes()]);
            if track.subject == 0 {
                track.subject = f;
            } else if track.subject != f {
                found.push(problem(
                    Kind::WrongSubject,
                    Some(p),
                    Some(case),
                    c.events.first().map(|e| e.header.case_version),
                    format!("commit on subject {s}, the case's earlier commits on another subject"),
                ));
            }
        }
        let fps = c.events.first().zip(c.events.last()).map(|(first, last)| {
            (
                case_fp(case.as_str(), first.header.case_version),
                command_fp(c.command_id.as_str(), last.header.case_version),
            )
        });
        if c.events.is_empty() {
            found.push(problem(
                Kind::EmptyCommit,
                Some(p),
                Some(case),
                None,
                "a commit without events",
            ));
        }
        let recorded = c.events.first().map(|e| e.header.recorded_at);
        for (i, r) in c.events.iter().enumerate() {
            let v = r.header.case_version;
            let at = |kind, msg: String| problem(kind, Some(p), Some(case), Some(v), msg);
            if r.header.case_id != *case {
                found.push(at(
                    Kind::ForeignEvent,
                    format!(
                        "event {i} of the commit belongs to case {}",
                        r.header.case_id
                    ),
                ));
            }
            if r.header.command_id != c.command_id {
                found.push(at(
                    Kind::CommandMismatch,
                    format!(
                        "event {i} names command {}, the commit is command {}",
                        r.header.command_id, c.command_id
                    ),
                ));
            }
            if r.header.event_id != EventId::derive(case, &c.command_id, i as u32) {
                found.push(at(
                    Kind::EventId,
                    format!(
                        "event id {} is not derived from its case, command and index",
                        r.header.event_id
                    ),
                ));
            }
            if Some(r.header.recorded_at) != recorded {
                found.push(at(
                    Kind::RecordedAt,
                    "events of one commit carry different recorded-at times".into(),
                ));
            }
            let unverifiable = v > track.version + 1
                && self
                    .unreadable
                    .iter()
                    .any(|(first, last, _)| *last > previous_position && *first < p);
            if track.resync || unverifiable {
                // The previous commit of this case was unreadable (or may lie in a stretch of
                // storage that could not be read, reported as such): start again from here.
            } else if let Err(broken) = chain::check_link(
                ChainHead {
                    version: track.version,
                    hash: track.hash,
                },
                r,
            ) {
                found.push(match broken {
                    LinkError::VersionGap { .. } => at(Kind::VersionGap, broken.to_string()),
                    LinkError::VersionNotAfter { .. } => at(
                        Kind::VersionOrder,
                        format!(
                            "{broken} (version {} at position {})",
                            track.version, track.last_position
                        ),
                    ),
                    _ => at(Kind::BrokenChain, broken.to_string()),
                });
            }
            if let Err(altered) = chain::check_hash(r) {
                found.push(at(Kind::HashMismatch, altered.to_string()));
            }
            match r.decode() {
                Err(e) => found.push(at(Kind::BodyUndecodable, e.to_string())),
                Ok(ev) => {
                    let is_report = matches!(ev, Event::CaseReported(_));
                    if v == 1 && !is_report {
                        found.push(at(
                            Kind::FirstNotReported,
                            format!("version 1 is {}, not CaseReported", r.event_type),
                        ));
                    }
                    if v != 1 && is_report {
                        found.push(at(
                            Kind::ReportNotFirst,
                            "CaseReported at a version other than 1".into(),
                        ));
                    }
                    if let Some(region) = region {
                        let location = match &ev {
                            Event::CaseReported(e) => Some(e.location),
                            Event::CaseDetailsCorrected(e) => e.location,
                            _ => None,
                        };
                        if location.is_some_and(|l| region.contains(l)) {
                            track.in_region = true;
                        }
                    }
                }
            }
            if r.header.recorded_at < track.recorded {
                warnings.push(at(
                    Kind::RecordedBackwards,
                    format!(
                        "recorded at {}, before version {} ({}): a clock stepped back",
                        r.header.recorded_at, track.version, track.recorded
                    ),
                ));
            }
            track.version = v;
            track.hash = r.hash;
            track.recorded = r.header.recorded_at;
            track.resync = false;
            track.events += 1;
        }
        if let Some((cf, kf)) = fps {
            self.set_fp(p, cf, kf);
        }
        for f in found {
            self.report(f);
        }
        for w in warnings {
            self.warn(w);
        }
    }

    /// Reads the commit at `p` to name its case (for index problems).
    fn case_at(&self, p: Position) -> Option<(CaseId, u64)> {
        let raw = self.sled?.raw_from(p).next_raw().ok()??;
        if raw.position != p {
            return None;
        }
        let c = raw.decode_ignoring_checksum()?;
        let first = c.events.first()?.header.case_version;
        Some((c.case_id, first))
    }

    /// Checks the embedded store's indexes against the commits read. The entries come in key
    /// order — case index, command index, case heads — and each index's sweep for commits it
    /// lacks runs when its entries end.
    fn check_indexes(&mut self) -> Result<(), Error> {
        let Some(log) = self.sled else {
            return Ok(());
        };
        let len = self.case_fps.len();
        let mut in_case_index = vec![false; len];
        let mut in_command_index = vec![false; len];
        let (mut case_swept, mut command_swept) = (false, false);
        let mut entries = log.index_entries();
        loop {
            let entry = match entries.next_entry() {
                Ok(e) => e,
                Err(e @ LogError::Damaged { .. }) => {
                    self.report(problem(Kind::Unreadable, None, None, None, e.to_string()));
                    break;
                }
                Err(e) => return Err(Error::Log(e)),
            };
            let in_case_entries = matches!(
                entry,
                Some(
                    IndexEntry::Case { .. }
                        | IndexEntry::Malformed {
                            index: "case index",
                            ..
                        }
                )
            );
            if !in_case_entries && !case_swept {
                case_swept = true;
                self.sweep_case_index(&in_case_index);
            }
            if matches!(entry, Some(IndexEntry::Head { .. }) | None) && !command_swept {
                command_swept = true;
                self.sweep_command_index(&in_command_index);
            }
            let Some(entry) = entry else { break };
            match entry {
                IndexEntry::Case {
                    case,
                    first_version: version,
                    position: p,
                } => {
                    if let Some(i) = self.unreadable_at(p) {
                        // Not a mismatch: the commit is in storage that could not be read.
                        self.lost
                            .entry(i)
                            .or_default()
                            .push(format!("case {case} version {version}"));
                        continue;
                    }
                    let case_id = CaseId::new(case.as_str()).ok();
                    let have = self.case_fps.get(p.get() as usize).copied().unwrap_or(0);
                    if let Some(seen) = in_case_index.get_mut(p.get() as usize) {
                        *seen = true;
                    }
                    if have == case_fp(&case, version) {
                        continue;
                    }
                    let msg = if have == 0 {
                        format!("the case index puts version {version} at position {p}, but there is no readable commit there (deleted?)")
                    } else {
                        let holds = match self.case_at(p) {
                            Some((c, v)) => format!("case {c} version {v}"),
                            None => "another commit".into(),
                        };
                        format!("the case index puts version {version} at position {p}, which holds {holds} (reordered or replaced)")
                    };
                    self.report(problem(
                        Kind::IndexMismatch,
                        Some(p),
                        case_id.as_ref(),
                        Some(version),
                        msg,
                    ));
                }
                IndexEntry::Command {
                    command,
                    position: p,
                    version,
                } => {
                    if let Some(seen) = in_command_index.get_mut(p.get() as usize) {
                        *seen = true;
                    }
                    if self.unreadable_at(p).is_some() {
                        continue;
                    }
                    let have = self.command_fps.get(p.get() as usize).copied().unwrap_or(0);
                    if have != command_fp(&command, version) {
                        let case = self.case_at(p).map(|(c, _)| c);
                        self.report(problem(
                            Kind::IndexMismatch,
                            Some(p),
                            case.as_ref(),
                            Some(version),
                            format!("the command index puts command {command} (version {version}) at position {p}, which holds another commit or none"),
                        ));
                    }
                }
                IndexEntry::Head {
                    case,
                    version,
                    hash,
                    position: p,
                } => {
                    let case_id = CaseId::new(case.as_str()).ok();
                    let head_unreadable = self.unreadable_at(p).is_some();
                    let track = case_id.as_ref().and_then(|c| self.cases.get_mut(c));
                    if head_unreadable {
                        if let Some(t) = track {
                            t.has_head = true;
                        }
                        continue;
                    }
                    let msg = match track {
                        None => Some(format!("the case head says version {version} at position {p}, but the log has no commit of the case")),
                        Some(t) => {
                            t.has_head = true;
                            if t.version != version || t.last_position != p {
                                Some(format!(
                                    "the case head says version {version} at position {p}, but the log ends the case at version {} (position {}): commits missing or added",
                                    t.version, t.last_position
                                ))
                            } else if t.hash != hash {
                                Some("the case head's hash is not the hash of the case's last event".into())
                            } else {
                                None
                            }
                        }
                    };
                    if let Some(m) = msg {
                        self.report(problem(
                            Kind::HeadMismatch,
                            Some(p),
                            case_id.as_ref(),
                            Some(version),
                            m,
                        ));
                    }
                }
                IndexEntry::Malformed { index, key } => {
                    let kind = if index == "case head" {
                        Kind::HeadMismatch
                    } else {
                        Kind::IndexMismatch
                    };
                    self.report(problem(
                        kind,
                        None,
                        None,
                        None,
                        format!("malformed {index} entry {key:?}"),
                    ));
                }
                _ => {}
            }
        }
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
        let headless: Vec<(CaseId, u64, Position)> = self
            .cases
            .iter()
            .filter(|(_, t)| !t.has_head)
            .map(|(c, t)| (c.clone(), t.version, t.last_position))
            .collect();
        for (c, v, p) in headless {
            self.report(problem(
                Kind::HeadMismatch,
                Some(p),
                Some(&c),
                Some(v),
                "the case has commits but no case head: appends to it would restart at version 1",
            ));
        }
        Ok(())
    }

    /// Commits read that the case index does not name.
    fn sweep_case_index(&mut self, indexed: &[bool]) {
        for (p, indexed) in indexed.iter().enumerate() {
            if self.case_fps[p] != 0 && !indexed {
                let (case, version) = self.case_at(Position::new(p as u64)).unzip();
                self.report(problem(
                    Kind::Unindexed,
                    Some(Position::new(p as u64)),
                    case.as_ref(),
                    version,
                    "the commit is not in the case index: reading the case skips it",
                ));
            }
        }
    }

    /// Commits read that the command index does not name.
    fn sweep_command_index(&mut self, indexed: &[bool]) {
        for (p, indexed) in indexed.iter().enumerate() {
            if self.command_fps[p] != 0 && !indexed {
                let (case, version) = self.case_at(Position::new(p as u64)).unzip();
                self.report(problem(
                    Kind::Unindexed,
                    Some(Position::new(p as u64)),
                    case.as_ref(),
                    version,
                    "the commit is not in the command index: its command could be applied twice",
                ));
            }
        }
    }
}

/// The positions a damage location names: `position N …` or `positions A..=B …`.
fn parse_positions(location: &str) -> Option<(Position, Position)> {
    let rest = location
        .strip_prefix("positions ")
        .or_else(|| location.strip_prefix("position "))?;
    let span = rest.split_whitespace().next()?;
    match span.split_once("..=") {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => {
            let p = span.parse().ok()?;
            Some((p, p))
        }
    }
}

/// Verifies the whole log; see the module documentation.
pub async fn verify(source: &Source, opts: &Options) -> Result<Report, Error> {
    let started = Instant::now();
    let head = source.head().await?;
    let bar = progress::bar(head.get(), opts.progress, "verify");
    let mut v = Verifier {
        opts,
        sled: source.sled(),
        cases: HashMap::new(),
        problems: Vec::new(),
        overflow: 0,
        warnings: Vec::new(),
        warning_count: 0,
        next: Position::FIRST,
        first: None,
        last: Position::ZERO,
        commits_read: 0,
        case_fps: Vec::new(),
        command_fps: Vec::new(),
        lookups: 0,
        unreadable: Vec::new(),
        lost: HashMap::new(),
    };
    let mut cursor = source.raw_from(Position::FIRST).await?;
    loop {
        let raw = match cursor.next_raw().await {
            Ok(Some(raw)) => raw,
            Ok(None) => break,
            // Storage that cannot be read is a finding; the read goes on after it.
            Err(e @ LogError::Damaged { .. }) => {
                v.unreadable(&e);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let p = raw.position;
        v.raw(raw);
        if v.commits_read.is_multiple_of(256) {
            bar.set_position(p.min(head).get());
            bar.set_message(format!("{} cases", v.cases.len()));
        }
    }
    if head > v.last {
        let from = v.next.max(Position::FIRST);
        v.report(problem(
            Kind::MissingPositions,
            Some(from),
            None,
            None,
            format!("the log's head is {head}, but positions {from}..={head} could not be read"),
        ));
    }
    bar.set_position(head.get());
    v.check_indexes()?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let in_scope = |c: &Option<CaseId>, cases: &HashMap<CaseId, Track>| match (opts.region, c) {
        (None, _) | (_, None) => true,
        (Some(_), Some(c)) => cases.get(c).is_none_or(|t| t.in_region),
    };
    let problems: Vec<Problem> = v
        .problems
        .iter()
        .filter(|p| in_scope(&p.case_id, &v.cases))
        .cloned()
        .collect();
    let warnings: Vec<Problem> = v
        .warnings
        .iter()
        .filter(|p| in_scope(&p.case_id, &v.cases))
        .cloned()
        .collect();
    let warning_count = if opts.region.is_some() {
        warnings.len() as u64
    } else {
        v.warning_count
    };
    let selected = v
        .cases
        .values()
        .filter(|t| opts.region.is_none() || t.in_region);
    let (mut commits, mut events, mut cases) = (0, 0, 0);
    for t in selected {
        commits += t.commits;
        events += t.events;
        cases += 1;
    }
    Ok(Report {
        source: source.describe(),
        region: opts.region,
        positions: v.first.map(|f| (f, v.last)),
        commits,
        events,
        cases,
        commits_read: v.commits_read,
        seconds,
        indexes_checked: v.sled.is_some(),
        problem_count: problems.len() as u64 + v.overflow,
        problems,
        warning_count,
        warnings,
        projections: None,
    })
}

/// Describes a projection store key for a difference report.
fn describe_key(k: &[u8]) -> String {
    match k.first() {
        Some(b'c') => format!("case view {}", String::from_utf8_lossy(&k[1..])),
        Some(b'a') if k.len() == 15 => {
            let region = RegionCode::from_sortable_bytes(&k[1..10])
                .map(|r| r.to_string())
                .unwrap_or_else(|_| "?".into());
            let n =
                (u32::from_be_bytes(k[11..15].try_into().expect("4 bytes")) ^ 0x8000_0000) as i32;
            if k[10] == 0 {
                format!(
                    "aggregate {region} month {:04}-{:02}",
                    n.div_euclid(12),
                    n.rem_euclid(12) + 1
                )
            } else {
                let (y, m, d) = civil_from_days(n);
                format!("aggregate {region} day {y:04}-{m:02}-{d:02}")
            }
        }
        Some(b'm') => format!("metadata {}", String::from_utf8_lossy(&k[1..])),
        _ => format!("key {:?}", String::from_utf8_lossy(k)),
    }
}

/// Rebuilds the projections up to the live store's checkpoint in a temporary directory and
/// compares the two stores byte for byte.
pub async fn check_projections(
    source: &Source,
    dir: &Path,
    default_calendar: &Calendar,
    progress: bool,
) -> Result<ProjectionCheck, Error> {
    let started = Instant::now();
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "--projections {}: no such directory (the live store is usually DATA/projection)",
            dir.display()
        )));
    }
    // Read without the store's lock: snapshots are replaced by rename, so this works while a
    // server is running on the same data directory.
    let live = Store::dump_dir(dir)?;
    let checkpoint = gridcase_projections::checkpoint_of(&live);
    let time_zone = live
        .iter()
        .find(|(k, _)| k.as_slice() == b"mtime_zone")
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
    let calendar = match &time_zone {
        Some(tz) => Calendar::new(tz).map_err(crate::bad_value(format!(
            "the time zone the live projection store names ({tz})"
        )))?,
        None => default_calendar.clone(),
    };
    let head = source.head().await?;
    let mut check = ProjectionCheck {
        dir: dir.to_owned(),
        checkpoint,
        head,
        lag: head.since(checkpoint),
        time_zone: calendar.name().to_owned(),
        keys: live.len(),
        differences: 0,
        first_differences: Vec::new(),
        problems: Vec::new(),
        seconds: 0.0,
    };
    if checkpoint > head {
        check.problems.push(problem(
            Kind::ProjectionAhead,
            Some(checkpoint),
            None,
            None,
            format!("the live projection is at position {checkpoint}, beyond the log's head {head}: the log lost commits, or the store belongs to another log"),
        ));
        check.seconds = started.elapsed().as_secs_f64();
        return Ok(check);
    }
    let rebuilt = Projection::in_memory(calendar);
    let bar = progress::bar(checkpoint.get(), progress, "rebuild");
    let mut next = Position::FIRST;
    while next <= checkpoint {
        let limit = (checkpoint.since(next) + 1).min(crate::rebuild::BATCH as u64) as usize;
        let page = match source.read_from(next, limit).await {
            Ok(p) => p,
            Err(e) => {
                check.problems.push(problem(
                    Kind::RebuildFailed,
                    Some(next),
                    None,
                    None,
                    format!("the rebuild could not read the log: {}", crate::chain(&e)),
                ));
                break;
            }
        };
        let Some(last) = page.last().map(|c| c.position) else {
            break;
        };
        if let Err(e) = rebuilt.apply_batch(&page) {
            check.problems.push(problem(
                Kind::RebuildFailed,
                Some(next),
                None,
                None,
                format!("the rebuild failed: {}", crate::chain(&e)),
            ));
            break;
        }
        next = last.next();
        bar.set_position(last.get());
    }
    bar.finish_and_clear();
    if check.problems.is_empty() {
        let mine = rebuilt.dump();
        let (mut a, mut b) = (live.iter().peekable(), mine.iter().peekable());
        let note = |check: &mut ProjectionCheck, s: String| {
            check.differences += 1;
            if check.first_differences.len() < 10 {
                check.first_differences.push(s);
            }
        };
        loop {
            match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some((k, _)), None) => {
                    note(
                        &mut check,
                        format!("{}: only in the live store", describe_key(k)),
                    );
                    a.next();
                }
                (None, Some((k, _))) => {
                    note(
                        &mut check,
                        format!("{}: missing from the live store", describe_key(k)),
                    );
                    b.next();
                }
                (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                    std::cmp::Ordering::Less => {
                        note(
                            &mut check,
                            format!("{}: only in the live store", describe_key(ka)),
                        );
                        a.next();
                    }
                    std::cmp::Ordering::Greater => {
                        note(
                            &mut check,
                            format!("{}: missing from the live store", describe_key(kb)),
                        );
                        b.next();
                    }
                    std::cmp::Ordering::Equal => {
                        if va != vb {
                            note(
                                &mut check,
                                format!("{}: differs from the rebuild", describe_key(ka)),
                            );
                        }
                        a.next();
                        b.next();
                    }
                },
            }
        }
        if check.differences > 0 {
            check.problems.push(problem(
                Kind::ProjectionMismatch,
                Some(checkpoint),
                None,
                None,
                format!(
                    "the live projection differs from a rebuild at position {checkpoint} in {} key(s)",
                    check.differences
                ),
            ));
        }
    }
    drop(rebuilt);
    check.seconds = started.elapsed().as_secs_f64();
    Ok(check)
}
