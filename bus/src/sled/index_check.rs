//! The embedded store's indexes checked against its commits, for auditors.
//!
//! A reader that walks every stored commit (the replay tool's verify pass) feeds each one it
//! could decode to an [`IndexCheck`], and each stretch it could not read; then
//! [`IndexCheck::run`] reads the indexes in key order — case index, command index, case heads —
//! and says every way they disagree with what was read, as an [`IndexFinding`] in that order.
//! Each commit leaves a fingerprint of (case, first version) and of (command, last version) at
//! its position, and each index entry must find its own; each case read must have a head
//! naming its last version, position and hash.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash as _, Hasher};

use gridcase_domain::{CaseId, Hash};

use super::{IndexEntry, SledLog};
use crate::log::{Committed, LogError, Position};

/// What the commits read say the indexes must hold; fed as the commits come.
#[derive(Debug, Default)]
pub struct IndexCheck {
    /// By position: fingerprint of (case, first version), 0 where no commit was read.
    case_fps: Vec<u64>,
    /// By position: fingerprint of (command, last version).
    command_fps: Vec<u64>,
    /// Each case's last commit read.
    ends: HashMap<CaseId, CaseEnd>,
    /// Stretches of positions that could not be read.
    unreadable: Vec<(Position, Position)>,
}

#[derive(Debug, Clone, Copy)]
struct CaseEnd {
    version: u64,
    hash: Hash,
    position: Position,
    has_head: bool,
}

/// Which of the indexes that name commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitIndex {
    /// `C`: case → the positions of its commits.
    Case,
    /// `K`: command id → the commit that applied it.
    Command,
}

/// What a case-index entry's position holds instead of the commit it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holds {
    /// No readable commit (deleted?).
    Nothing,
    /// Another commit: its case and first version when its bytes still tell them.
    Another(Option<(CaseId, u64)>),
}

/// How a case head disagrees with the commits read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadProblem {
    /// The log has no commit of the case.
    NoCommits,
    /// The log ends the case elsewhere: commits missing or added.
    EndsAt {
        /// The version of its last event read.
        version: u64,
        /// The position of its last commit read.
        position: Position,
    },
    /// Version and position agree, the hash is not the last event's.
    Hash,
}

/// One way the indexes disagree with the commits read (or could not be read).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum IndexFinding {
    /// A case-index entry names a position that does not hold its commit.
    CaseEntry {
        /// The case the entry is of (as stored).
        case: String,
        /// The first version it names.
        version: u64,
        /// The position it names.
        position: Position,
        /// What is there.
        holds: Holds,
    },
    /// A command-index entry names a position that holds another commit or none.
    CommandEntry {
        /// The command id (as stored).
        command: String,
        /// The case version after it.
        version: u64,
        /// The position it names.
        position: Position,
        /// The case of the commit there, if one can be read.
        case: Option<CaseId>,
    },
    /// A case head that does not match the case's last commit read.
    Head {
        /// The case (as stored).
        case: String,
        /// The version the head says.
        version: u64,
        /// The position the head says.
        position: Position,
        /// How it disagrees.
        problem: HeadProblem,
    },
    /// A commit read that `index` does not name.
    Unindexed {
        /// The index that lacks it.
        index: CommitIndex,
        /// The commit's position.
        position: Position,
        /// Its case and first version, when its bytes tell them.
        case: Option<(CaseId, u64)>,
    },
    /// A case with commits and no head.
    Headless {
        /// The case.
        case: CaseId,
        /// The version of its last event read.
        version: u64,
        /// The position of its last commit read.
        position: Position,
    },
    /// An index key or value that does not parse.
    Malformed {
        /// Which index: `case index`, `case head` or `command index`.
        index: &'static str,
        /// The key, lossily as text.
        key: String,
    },
    /// A case-index entry pointing into a stretch that could not be read: what the stretch
    /// held, by the index. Not a disagreement.
    InUnreadable {
        /// The case (as stored).
        case: String,
        /// The commit's first version.
        version: u64,
        /// Its position.
        position: Position,
    },
    /// The indexes' own storage could not be read past here ([`LogError::Damaged`]).
    Unreadable(LogError),
}

impl IndexCheck {
    /// A check with nothing read yet.
    pub fn new() -> IndexCheck {
        IndexCheck::default()
    }

    /// A commit read at `position` (also one salvaged from bytes whose checksum failed).
    pub fn commit(&mut self, position: Position, c: &Committed) {
        let end = self.ends.entry(c.case_id.clone()).or_insert(CaseEnd {
            version: 0,
            hash: Hash::ZERO,
            position: Position::ZERO,
            has_head: false,
        });
        end.position = position;
        let (Some(first), Some(last)) = (c.events.first(), c.events.last()) else {
            return;
        };
        end.version = last.header.case_version;
        end.hash = last.hash;
        let i = index(position);
        if self.case_fps.len() <= i {
            self.case_fps.resize(i + 1, 0);
            self.command_fps.resize(i + 1, 0);
        }
        self.case_fps[i] = case_fp(c.case_id.as_str(), first.header.case_version);
        self.command_fps[i] = command_fp(c.command_id.as_str(), last.header.case_version);
    }

    /// Positions `first..=last` could not be read.
    pub fn unreadable(&mut self, first: Position, last: Position) {
        self.unreadable.push((first, last));
    }

    fn is_unreadable(&self, p: Position) -> bool {
        self.unreadable
            .iter()
            .any(|(first, last)| (*first..=*last).contains(&p))
    }

    fn fp(fps: &[u64], p: Position) -> u64 {
        fps.get(index(p)).copied().unwrap_or(0)
    }

    /// Reads `log`'s indexes in key order and hands every disagreement with the commits read
    /// to `found`, in that order: the case index's entries, then the commits it lacks; the
    /// command index's, then the commits it lacks; the case heads, then the cases without one.
    ///
    /// # Errors
    ///
    /// A failure to read the store other than damage (damage is a finding, after which the
    /// check ends).
    pub fn run(
        mut self,
        log: &SledLog,
        mut found: impl FnMut(IndexFinding),
    ) -> Result<(), LogError> {
        let len = self.case_fps.len();
        let mut in_case_index = vec![false; len];
        let mut in_command_index = vec![false; len];
        let (mut case_swept, mut command_swept) = (false, false);
        let mut entries = log.index_entries();
        loop {
            let entry = match entries.next_entry() {
                Ok(e) => e,
                Err(e @ LogError::Damaged { .. }) => {
                    found(IndexFinding::Unreadable(e));
                    break;
                }
                Err(e) => return Err(e),
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
                self.sweep(log, CommitIndex::Case, &in_case_index, &mut found);
            }
            if matches!(entry, Some(IndexEntry::Head { .. }) | None) && !command_swept {
                command_swept = true;
                self.sweep(log, CommitIndex::Command, &in_command_index, &mut found);
            }
            let Some(entry) = entry else { break };
            match entry {
                IndexEntry::Case {
                    case,
                    first_version: version,
                    position,
                } => {
                    if self.is_unreadable(position) {
                        found(IndexFinding::InUnreadable {
                            case,
                            version,
                            position,
                        });
                        continue;
                    }
                    let have = Self::fp(&self.case_fps, position);
                    if let Some(seen) = in_case_index.get_mut(index(position)) {
                        *seen = true;
                    }
                    if have == case_fp(&case, version) {
                        continue;
                    }
                    let holds = if have == 0 {
                        Holds::Nothing
                    } else {
                        Holds::Another(case_at(log, position))
                    };
                    found(IndexFinding::CaseEntry {
                        case,
                        version,
                        position,
                        holds,
                    });
                }
                IndexEntry::Command {
                    command,
                    position,
                    version,
                } => {
                    if let Some(seen) = in_command_index.get_mut(index(position)) {
                        *seen = true;
                    }
                    if self.is_unreadable(position) {
                        continue;
                    }
                    if Self::fp(&self.command_fps, position) != command_fp(&command, version) {
                        found(IndexFinding::CommandEntry {
                            command,
                            version,
                            position,
                            case: case_at(log, position).map(|(c, _)| c),
                        });
                    }
                }
                IndexEntry::Head {
                    case,
                    version,
                    hash,
                    position,
                } => {
                    let head_unreadable = self.is_unreadable(position);
                    let end = CaseId::new(case.as_str())
                        .ok()
                        .and_then(|c| self.ends.get_mut(&c));
                    if head_unreadable {
                        if let Some(end) = end {
                            end.has_head = true;
                        }
                        continue;
                    }
                    let problem = match end {
                        None => Some(HeadProblem::NoCommits),
                        Some(end) => {
                            end.has_head = true;
                            if end.version != version || end.position != position {
                                Some(HeadProblem::EndsAt {
                                    version: end.version,
                                    position: end.position,
                                })
                            } else if end.hash != hash {
                                Some(HeadProblem::Hash)
                            } else {
                                None
                            }
                        }
                    };
                    if let Some(problem) = problem {
                        found(IndexFinding::Head {
                            case,
                            version,
                            position,
                            problem,
                        });
                    }
                }
                IndexEntry::Malformed { index, key } => {
                    found(IndexFinding::Malformed { index, key });
                }
            }
        }
        let mut headless: Vec<(CaseId, CaseEnd)> =
            self.ends.drain().filter(|(_, end)| !end.has_head).collect();
        headless.sort_by_key(|(_, end)| end.position);
        for (case, end) in headless {
            found(IndexFinding::Headless {
                case,
                version: end.version,
                position: end.position,
            });
        }
        Ok(())
    }

    /// The commits read that `index` does not name (`indexed[p]`: whether it names `p`).
    fn sweep(
        &self,
        log: &SledLog,
        index: CommitIndex,
        indexed: &[bool],
        found: &mut impl FnMut(IndexFinding),
    ) {
        let read = match index {
            CommitIndex::Case => &self.case_fps,
            CommitIndex::Command => &self.command_fps,
        };
        for (p, indexed) in indexed.iter().enumerate() {
            if read[p] != 0 && !indexed {
                let position = Position::new(p as u64);
                found(IndexFinding::Unindexed {
                    index,
                    position,
                    case: case_at(log, position),
                });
            }
        }
    }
}

/// The case and first version of the commit at `p`, from its bytes even if their checksum
/// failed (to name what an index problem is about).
fn case_at(log: &SledLog, p: Position) -> Option<(CaseId, u64)> {
    let raw = log.raw_from(p).next_raw().ok()??;
    if raw.position != p {
        return None;
    }
    let c = raw.decode_ignoring_checksum()?;
    let first = c.events.first()?.header.case_version;
    Some((c.case_id, first))
}

fn index(p: Position) -> usize {
    usize::try_from(p.get()).expect("a position fits in memory's index")
}

/// A fingerprint of the parts (never 0: 0 means "no commit here").
fn fingerprint(parts: &[&[u8]]) -> u64 {
    let mut h = DefaultHasher::new();
    parts.hash(&mut h);
    h.finish().max(1)
}

fn case_fp(case: &str, first_version: u64) -> u64 {
    fingerprint(&[case.as_bytes(), &first_version.to_be_bytes()])
}

fn command_fp(command: &str, last_version: u64) -> u64 {
    fingerprint(&[command.as_bytes(), &last_version.to_be_bytes()])
}

impl SledLog {
    /// The case (`None` if its stored id is not valid) and first version the case index
    /// names for position `p` (a full scan of the case index: for naming what an unreadable
    /// commit held, not for reads).
    ///
    /// # Errors
    ///
    /// The index could not be read.
    pub fn case_indexed_at(&self, p: Position) -> Result<Option<(Option<CaseId>, u64)>, LogError> {
        let mut entries = self.index_entries();
        while let Some(entry) = entries.next_entry()? {
            match entry {
                IndexEntry::Case {
                    case,
                    first_version,
                    position,
                } if position == p => {
                    return Ok(Some((CaseId::new(case).ok(), first_version)));
                }
                IndexEntry::Case { .. } | IndexEntry::Malformed { .. } => {}
                // The case index's keys come first: past them there is nothing more to find.
                IndexEntry::Head { .. } | IndexEntry::Command { .. } => break,
            }
        }
        Ok(None)
    }
}
