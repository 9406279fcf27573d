//! A case's hash chain: sealing a commit's events into records, and checking each link.
//!
//! The records of one case form a chain (DESIGN.md invariants 1 and 5): versions 1, 2, 3…
//! without gaps, each record's `prev_hash` the hash of the record before it ([`Hash::ZERO`]
//! for version 1), and each record's `hash` the hash of its own contents
//! ([`EventRecord::compute_hash`]).
//!
//! - [`seal`] builds the records of one commit on top of a [`ChainHead`]: every writer (the
//!   command path, the case generator, the bench) calls it, so they cannot chain differently.
//! - [`check_link`] checks that a record continues a [`ChainHead`] (version, `prev_hash`) and
//!   [`check_hash`] that its stored hash is the hash of its contents, each with a typed
//!   [`LinkError`]. The logs refuse a commit that fails either; the replay tool reports every
//!   failure it finds, which is why the two are separate.
//!
//! ```
//! use gridcase_domain::chain::{self, ChainHead, CommitHeader};
//! use gridcase_domain::event::NoteAdded;
//! use gridcase_domain::*;
//!
//! let grid: RegionCode = "330802005001007".parse().unwrap();
//! let at = Timestamp::parse("2026-03-02T02:00:00Z").unwrap();
//! let header = CommitHeader {
//!     case_id: CaseId::new("330802-2026-000042").unwrap(),
//!     command_id: CommandId::new("cmd-1").unwrap(),
//!     occurred_at: at,
//!     recorded_at: at.plus_millis(5),
//!     actor: Actor::new(ActorId::new("gw-1").unwrap(), Role::GridWorker, Scope::Subtree(grid))
//!         .unwrap(),
//!     correlation_id: None,
//!     causation_id: None,
//! };
//! let notes: Vec<Event> = ["一", "二"].map(|t| NoteAdded { text: t.into() }.into()).into();
//! let records = chain::seal(&header, ChainHead::EMPTY, &notes).unwrap();
//!
//! let mut head = ChainHead::EMPTY;
//! for r in &records {
//!     chain::check_link(head, r).unwrap();
//!     chain::check_hash(r).unwrap();
//!     head = ChainHead::of(r);
//! }
//! assert_eq!(head.version, 2);
//! // The same records do not continue the chain twice.
//! assert!(chain::check_link(head, &records[0]).is_err());
//! ```

use std::fmt;

use crate::actor::Actor;
use crate::event::Event;
use crate::ids::{CaseId, CommandId, CorrelationId, EventId, Hash};
use crate::record::{CodecError, EventHeader, EventRecord};
use crate::time::Timestamp;

/// Where a case's chain ends: the version and hash of its last record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChainHead {
    /// The last record's version (0 for a case with no events).
    pub version: u64,
    /// The last record's hash ([`Hash::ZERO`] for a case with no events).
    pub hash: Hash,
}

impl ChainHead {
    /// The head of a case with no events: version 0, [`Hash::ZERO`].
    pub const EMPTY: ChainHead = ChainHead {
        version: 0,
        hash: Hash::ZERO,
    };

    /// The head of a chain that ends with `record`.
    pub fn of(record: &EventRecord) -> ChainHead {
        ChainHead {
            version: record.header.case_version,
            hash: record.hash,
        }
    }
}

/// What every event of one commit shares: the case, the command, who and when.
///
/// [`seal`] adds what differs per event: the version, the event id and the hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitHeader {
    /// The case.
    pub case_id: CaseId,
    /// The command that produced the events.
    pub command_id: CommandId,
    /// When the act happened (supplied by the client).
    pub occurred_at: Timestamp,
    /// When the engine recorded it.
    pub recorded_at: Timestamp,
    /// Who caused it.
    pub actor: Actor,
    /// Correlates commands across cases and systems.
    pub correlation_id: Option<CorrelationId>,
    /// What caused the command, if known.
    pub causation_id: Option<CorrelationId>,
}

/// Seals `events`, one commit of a case, onto the chain that ends at `head`.
///
/// Event `i` gets version `head.version + 1 + i`, the id
/// [`EventId::derive`]`(case, command, i)` and the shared fields of `header`, and is chained to
/// the hash of the event before it (`head.hash` for the first). Sealing is deterministic: the
/// same arguments give the same bytes.
///
/// # Errors
/// [`CodecError::Encode`] if an event does not encode (a bug: every event type encodes).
pub fn seal(
    header: &CommitHeader,
    head: ChainHead,
    events: &[Event],
) -> Result<Vec<EventRecord>, CodecError> {
    let mut prev = head.hash;
    let mut records = Vec::with_capacity(events.len());
    for (i, event) in events.iter().enumerate() {
        let index = u32::try_from(i).expect("fewer than 2^32 events in one commit");
        let event_header = EventHeader {
            event_id: EventId::derive(&header.case_id, &header.command_id, index),
            case_id: header.case_id.clone(),
            case_version: head.version + 1 + i as u64,
            occurred_at: header.occurred_at,
            recorded_at: header.recorded_at,
            actor: header.actor.clone(),
            command_id: header.command_id.clone(),
            correlation_id: header.correlation_id.clone(),
            causation_id: header.causation_id.clone(),
        };
        let record = EventRecord::seal(event_header, event, prev)?;
        prev = record.hash;
        records.push(record);
    }
    Ok(records)
}

/// A record that does not continue its case's chain, or does not match its own hash.
///
/// Each variant names the version of the record at fault; the message says what was found.
/// A log refuses the commit; an auditor reports the record (see `gridcase-replay verify`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The record skips versions: events are missing between the head and it.
    VersionGap {
        /// The version that should come next (the head's + 1).
        expected: u64,
        /// The record's version, greater than `expected`.
        found: u64,
    },
    /// The record's version is not above the head's: repeated, or out of order.
    VersionNotAfter {
        /// The version that should come next (the head's + 1).
        expected: u64,
        /// The record's version, less than `expected`.
        found: u64,
    },
    /// The record's `prev_hash` is not the hash of the record before it.
    PrevHashMismatch {
        /// The record's version.
        version: u64,
    },
    /// The stored hash is not the hash of the record's contents: the record was altered.
    HashMismatch {
        /// The record's version.
        version: u64,
    },
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LinkError::VersionGap { expected, found } => {
                write!(f, "version {found} follows version {}: ", expected - 1)?;
                if found == expected + 1 {
                    write!(f, "version {expected} is missing")
                } else {
                    write!(f, "versions {expected}..={} are missing", found - 1)
                }
            }
            LinkError::VersionNotAfter { expected, found } => write!(
                f,
                "version {found} follows version {}: repeated or out of order",
                expected - 1
            ),
            LinkError::PrevHashMismatch { version: 1 } => {
                f.write_str("prev_hash of version 1 is not zero: hash chain broken")
            }
            LinkError::PrevHashMismatch { version } => write!(
                f,
                "prev_hash of version {version} does not match the hash of version {}: hash chain broken",
                version - 1
            ),
            LinkError::HashMismatch { version } => write!(
                f,
                "stored hash does not match the contents of version {version}: the event was altered"
            ),
        }
    }
}

/// Checks that `record` continues the chain that ends at `head`: its version is the next one
/// and its `prev_hash` is the head's hash. A version problem is reported before a hash one.
///
/// Does not check the record's own hash: see [`check_hash`].
pub fn check_link(head: ChainHead, record: &EventRecord) -> Result<(), LinkError> {
    let expected = head.version + 1;
    let found = record.header.case_version;
    if found > expected {
        return Err(LinkError::VersionGap { expected, found });
    }
    if found < expected {
        return Err(LinkError::VersionNotAfter { expected, found });
    }
    if record.prev_hash != head.hash {
        return Err(LinkError::PrevHashMismatch { version: found });
    }
    Ok(())
}

/// Checks that `record`'s stored hash is the hash of its contents, as stored.
pub fn check_hash(record: &EventRecord) -> Result<(), LinkError> {
    if record.verify_hash() {
        Ok(())
    } else {
        Err(LinkError::HashMismatch {
            version: record.header.case_version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::{Role, Scope};
    use crate::event::NoteAdded;
    use crate::ids::ActorId;

    fn header() -> CommitHeader {
        let grid = "330802005001007".parse().unwrap();
        let at = Timestamp::parse("2026-03-02T02:00:00Z").unwrap();
        CommitHeader {
            case_id: CaseId::new("c1").unwrap(),
            command_id: CommandId::new("cmd-1").unwrap(),
            occurred_at: at,
            recorded_at: at.plus_millis(7),
            actor: Actor::new(
                ActorId::new("gw-1").unwrap(),
                Role::GridWorker,
                Scope::Subtree(grid),
            )
            .unwrap(),
            correlation_id: Some(CorrelationId::new("corr").unwrap()),
            causation_id: Some(CorrelationId::new("cause").unwrap()),
        }
    }

    fn notes(n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| {
                NoteAdded {
                    text: format!("note {i}").into(),
                }
                .into()
            })
            .collect()
    }

    #[test]
    fn seal_numbers_derives_ids_copies_the_header_and_chains_from_the_head() {
        let head = ChainHead {
            version: 4,
            hash: Hash::of(b"version 4"),
        };
        let h = header();
        let records = seal(&h, head, &notes(3)).unwrap();
        assert_eq!(records.len(), 3);
        let mut prev = head.hash;
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.header.case_version, 5 + i as u64);
            assert_eq!(
                r.header.event_id,
                EventId::derive(&h.case_id, &h.command_id, i as u32)
            );
            assert_eq!(r.header.case_id, h.case_id);
            assert_eq!(r.header.command_id, h.command_id);
            assert_eq!(r.header.occurred_at, h.occurred_at);
            assert_eq!(r.header.recorded_at, h.recorded_at);
            assert_eq!(r.header.actor, h.actor);
            assert_eq!(r.header.correlation_id, h.correlation_id);
            assert_eq!(r.header.causation_id, h.causation_id);
            assert_eq!(r.prev_hash, prev);
            assert!(r.verify_hash());
            assert_eq!(r.decode().unwrap(), notes(3)[i]);
            prev = r.hash;
        }
        assert_eq!(seal(&h, head, &notes(3)).unwrap(), records, "deterministic");
        assert!(seal(&h, head, &[]).unwrap().is_empty());
    }

    #[test]
    fn a_sealed_chain_checks_out_link_by_link() {
        let first = seal(&header(), ChainHead::EMPTY, &notes(2)).unwrap();
        let mut h = header();
        h.command_id = CommandId::new("cmd-2").unwrap();
        let second = seal(&h, ChainHead::of(&first[1]), &notes(1)).unwrap();
        let mut head = ChainHead::EMPTY;
        for r in first.iter().chain(&second) {
            assert_eq!(check_link(head, r), Ok(()));
            assert_eq!(check_hash(r), Ok(()));
            head = ChainHead::of(r);
        }
        assert_eq!(head.version, 3);
    }

    #[test]
    fn each_broken_link_is_its_own_error() {
        let records = seal(&header(), ChainHead::EMPTY, &notes(4)).unwrap();
        let after = |i: usize| ChainHead::of(&records[i]);

        // Version 2 deleted, then versions 2 and 3.
        let e = check_link(after(0), &records[2]).unwrap_err();
        assert_eq!(
            e,
            LinkError::VersionGap {
                expected: 2,
                found: 3
            }
        );
        assert_eq!(
            e.to_string(),
            "version 3 follows version 1: version 2 is missing"
        );
        let e = check_link(after(0), &records[3]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "version 4 follows version 1: versions 2..=3 are missing"
        );

        // Repeated and out of order.
        let e = check_link(after(1), &records[1]).unwrap_err();
        assert_eq!(
            e,
            LinkError::VersionNotAfter {
                expected: 3,
                found: 2
            }
        );
        assert_eq!(
            e.to_string(),
            "version 2 follows version 2: repeated or out of order"
        );
        assert!(matches!(
            check_link(after(2), &records[0]),
            Err(LinkError::VersionNotAfter {
                expected: 4,
                found: 1
            })
        ));

        // Right version, wrong predecessor.
        let forged = ChainHead {
            version: 2,
            hash: Hash::of(b"another version 2"),
        };
        let e = check_link(forged, &records[2]).unwrap_err();
        assert_eq!(e, LinkError::PrevHashMismatch { version: 3 });
        assert_eq!(
            e.to_string(),
            "prev_hash of version 3 does not match the hash of version 2: hash chain broken"
        );
        let mut not_first = records[0].clone();
        not_first.prev_hash = Hash::of(b"x");
        let e = check_link(ChainHead::EMPTY, &not_first).unwrap_err();
        assert_eq!(
            e.to_string(),
            "prev_hash of version 1 is not zero: hash chain broken"
        );

        // The version is checked before the previous hash.
        assert!(matches!(
            check_link(forged, &records[3]),
            Err(LinkError::VersionGap { .. })
        ));

        // A link can hold while the record itself was altered, and the other way round.
        let mut altered = records[1].clone();
        altered.body[3] ^= 1;
        assert_eq!(check_link(after(0), &altered), Ok(()));
        assert_eq!(
            check_hash(&altered),
            Err(LinkError::HashMismatch { version: 2 })
        );
        assert!(check_hash(&altered)
            .unwrap_err()
            .to_string()
            .starts_with("stored hash does not match"));
        assert_eq!(
            check_hash(&not_first),
            Err(LinkError::HashMismatch { version: 1 })
        );
        assert!(check_link(after(2), &records[1]).is_err());
        assert_eq!(check_hash(&records[1]), Ok(()));
    }
}
