//! The embedded store's indexes (case index, command index, case heads) against the commits
//! the pass read: each commit leaves a fingerprint of (case, first version) and of (command,
//! last version) at its position, and each index entry must find its own.

use gridcase_bus::{IndexEntry, LogError, Position};
use gridcase_domain::CaseId;

use super::pass::Verifier;
use super::report::{problem, Kind};
use crate::Error;

/// Full scans of the case index to name the case of an unreadable commit.
const LOOKUP_CAP: usize = 50;

/// FNV-1a over parts separated by 0xff; never 0 (0 means "no commit here").
pub(super) fn fingerprint(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h.max(1)
}

pub(super) fn case_fp(case: &str, first_version: u64) -> u64 {
    fingerprint(&[case.as_bytes(), &first_version.to_be_bytes()])
}

pub(super) fn command_fp(command: &str, last_version: u64) -> u64 {
    fingerprint(&[command.as_bytes(), &last_version.to_be_bytes()])
}

/// The two indexes that name commits.
#[derive(Debug, Clone, Copy)]
pub(super) enum Index {
    /// Case → the positions of its commits.
    Case,
    /// Command id → the commit that applied it.
    Command,
}

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

    pub(super) fn set_fp(&mut self, p: Position, case: u64, command: u64) {
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

    /// Reads the commit at `p` to name its case (for index problems).
    pub(super) fn case_at(&self, p: Position) -> Option<(CaseId, u64)> {
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
    pub(super) fn check_indexes(&mut self) -> Result<(), Error> {
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
                self.sweep(Index::Case, &in_case_index);
            }
            if matches!(entry, Some(IndexEntry::Head { .. }) | None) && !command_swept {
                command_swept = true;
                self.sweep(Index::Command, &in_command_index);
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

    /// Commits read that `index` does not name (`indexed[p]`: whether it names position `p`).
    pub(super) fn sweep(&mut self, index: Index, indexed: &[bool]) {
        let (read, consequence) = match index {
            Index::Case => (
                &self.case_fps,
                "the commit is not in the case index: reading the case skips it",
            ),
            Index::Command => (
                &self.command_fps,
                "the commit is not in the command index: its command could be applied twice",
            ),
        };
        let missing: Vec<Position> = indexed
            .iter()
            .enumerate()
            .filter(|&(p, indexed)| read[p] != 0 && !indexed)
            .map(|(p, _)| Position::new(p as u64))
            .collect();
        for p in missing {
            let (case, version) = self.case_at(p).unzip();
            self.report(problem(
                Kind::Unindexed,
                Some(p),
                case.as_ref(),
                version,
                consequence,
            ));
        }
    }
}
