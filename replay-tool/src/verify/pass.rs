//! The pass: every stored commit in position order, raw, so that damage is a problem at its
//! position; each case's chain followed as its commits come.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash as _, Hasher};

use gridcase_bus::{IndexCheck, LogError, Position, RawCommit, RawError, SledLog};
use gridcase_domain::{chain, CaseId, ChainHead, Event, EventId, Hash, LinkError, Timestamp};

use super::report::{problem, Kind, Problem};
use super::Options;

/// Problems kept in memory before filtering by region; more are only counted.
const STORE_CAP: usize = 10_000;

/// Per-case state of the pass.
pub(super) struct Track {
    pub(super) version: u64,
    pub(super) hash: Hash,
    pub(super) recorded: Timestamp,
    pub(super) last_position: Position,
    pub(super) commits: u64,
    pub(super) events: u64,
    pub(super) in_region: bool,
    /// The next event is taken as the new baseline (after an unreadable commit).
    pub(super) resync: bool,
    /// A fingerprint of the NATS subject of its first commit (0: none seen).
    pub(super) subject: u64,
}

impl Track {
    pub(super) fn new() -> Track {
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
        }
    }
}

pub(super) struct Verifier<'a> {
    pub(super) opts: &'a Options,
    pub(super) sled: Option<&'a SledLog>,
    pub(super) cases: HashMap<CaseId, Track>,
    pub(super) problems: Vec<Problem>,
    pub(super) overflow: u64,
    pub(super) warnings: Vec<Problem>,
    pub(super) warning_count: u64,
    pub(super) next: Position,
    pub(super) first: Option<Position>,
    pub(super) last: Position,
    pub(super) commits_read: u64,
    /// The embedded store's index check, fed as the commits come.
    pub(super) index_check: Option<IndexCheck>,
    pub(super) lookups: usize,
    /// Stretches of positions that could not be read, with the index of their problem.
    pub(super) unreadable: Vec<(Position, Position, usize)>,
    /// Per unreadable stretch, what the case index says it held.
    pub(super) lost: HashMap<usize, Vec<String>>,
}

impl<'a> Verifier<'a> {
    pub(super) fn new(opts: &'a Options, sled: Option<&'a SledLog>) -> Verifier<'a> {
        Verifier {
            opts,
            sled,
            cases: HashMap::new(),
            problems: Vec::new(),
            overflow: 0,
            warnings: Vec::new(),
            warning_count: 0,
            next: Position::FIRST,
            first: None,
            last: Position::ZERO,
            commits_read: 0,
            index_check: sled.map(|_| IndexCheck::new()),
            lookups: 0,
            unreadable: Vec::new(),
            lost: HashMap::new(),
        }
    }
}

impl Verifier<'_> {
    pub(super) fn report(&mut self, p: Problem) {
        if self.problems.len() < STORE_CAP {
            self.problems.push(p);
        } else {
            self.overflow += 1;
        }
    }

    pub(super) fn warn(&mut self, p: Problem) {
        self.warning_count += 1;
        if self.warnings.len() < STORE_CAP {
            self.warnings.push(p);
        }
    }

    /// A stretch of storage that could not be read: reported, and the positions it covers
    /// count as read (so they are not reported again as missing).
    pub(super) fn unreadable(&mut self, e: &LogError) {
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
            if let Some(check) = &mut self.index_check {
                check.unreadable(first, last);
            }
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
    pub(super) fn unreadable_at(&self, p: Position) -> Option<usize> {
        self.unreadable
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&p))
            .map(|(_, _, i)| *i)
    }

    pub(super) fn raw(&mut self, raw: RawCommit) {
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
                    format!("{}{note}", crate::error::chain(&e)),
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

    pub(super) fn commit(
        &mut self,
        p: Position,
        subject: Option<&str>,
        c: gridcase_bus::Committed,
    ) {
        if let Some(check) = &mut self.index_check {
            check.commit(p, &c);
        }
        let mut found = Vec::new();
        let mut warnings = Vec::new();
        let region = self.opts.region;
        let case = &c.case_id;
        let track = self.cases.entry(case.clone()).or_insert_with(Track::new);
        track.commits += 1;
        let previous_position = track.last_position;
        track.last_position = p;
        if let Some(s) = subject {
            let f = {
                let mut h = DefaultHasher::new();
                s.hash(&mut h);
                h.finish().max(1)
            };
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
        for f in found {
            self.report(f);
        }
        for w in warnings {
            self.warn(w);
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
