//! The stored commit read straight from its bytes, for the layout this build writes.
//!
//! Decoding a commit through serde costs about a microsecond per event, most of a replay's
//! reading: every field name is read as a string (UTF-8 checked, then compared), every
//! value goes through the decoder's generic dispatch, and each hash is copied into a
//! buffer of its own before it is checked for length (issue 17). [`decode`] reads the
//! layout [`super::encode_value`] writes — maps with their fields in declaration order,
//! string keys, binary hashes — comparing field names as bytes and building the same
//! values with the same checks (`CaseId::new`, `RegionCode::parse`, `Actor::new` …).
//!
//! It only ever answers for bytes it fully understands: at the first thing it does not
//! expect (another field order, an unknown or missing field, a number in another form, an
//! invalid value, trailing bytes) it returns `None` and the caller decodes through serde,
//! which accepts or refuses the bytes exactly as before. So the direct reader can never
//! accept what serde refuses or read a value differently — the tests compare both on every
//! encoded commit and on damaged ones.

use gridcase_domain::{
    Actor, ActorId, CaseId, CommandId, CorrelationId, EventHeader, EventId, EventRecord, Hash,
    RegionCode, Role, Scope, Timestamp,
};

use super::StoredCommit;
use crate::log::Fingerprint;

/// Decodes commit bytes written in this build's layout; `None` for anything else (decode
/// those with serde).
pub(crate) fn decode(body: &[u8]) -> Option<StoredCommit> {
    let mut r = Reader { buf: body };
    let fields = r.commit()?;
    r.buf.is_empty().then_some(fields)
}

/// A cursor over MessagePack bytes; every method returns `None` at anything unexpected.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }

    fn be(&mut self, n: usize) -> Option<u64> {
        Some(
            self.take(n)?
                .iter()
                .fold(0u64, |v, &b| (v << 8) | u64::from(b)),
        )
    }

    /// A length after a marker: `n` big-endian bytes.
    fn len(&mut self, n: usize) -> Option<usize> {
        usize::try_from(self.be(n)?).ok()
    }

    fn map_len(&mut self) -> Option<usize> {
        match self.byte()? {
            m @ 0x80..=0x8f => Some(usize::from(m & 0x0f)),
            0xde => self.len(2),
            0xdf => self.len(4),
            _ => None,
        }
    }

    fn array_len(&mut self) -> Option<usize> {
        match self.byte()? {
            m @ 0x90..=0x9f => Some(usize::from(m & 0x0f)),
            0xdc => self.len(2),
            0xdd => self.len(4),
            _ => None,
        }
    }

    /// A string's bytes (not checked as UTF-8).
    fn str_bytes(&mut self) -> Option<&'a [u8]> {
        let n = match self.byte()? {
            m @ 0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => self.len(1)?,
            0xda => self.len(2)?,
            0xdb => self.len(4)?,
            _ => return None,
        };
        self.take(n)
    }

    fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.str_bytes()?).ok()
    }

    fn bin(&mut self) -> Option<&'a [u8]> {
        let n = match self.byte()? {
            0xc4 => self.len(1)?,
            0xc5 => self.len(2)?,
            0xc6 => self.len(4)?,
            _ => return None,
        };
        self.take(n)
    }

    fn bin_array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bin()?.try_into().ok()
    }

    /// An integer in any of MessagePack's forms, widened.
    fn int(&mut self) -> Option<i128> {
        Some(match self.byte()? {
            m @ 0x00..=0x7f => i128::from(m),
            m @ 0xe0..=0xff => i128::from(m as i8),
            0xcc => i128::from(self.be(1)?),
            0xcd => i128::from(self.be(2)?),
            0xce => i128::from(self.be(4)?),
            0xcf => i128::from(self.be(8)?),
            0xd0 => i128::from(self.be(1)? as u8 as i8),
            0xd1 => i128::from(self.be(2)? as u16 as i16),
            0xd2 => i128::from(self.be(4)? as u32 as i32),
            0xd3 => i128::from(self.be(8)? as i64),
            _ => return None,
        })
    }

    /// The next map key, which must be `name`.
    fn key(&mut self, name: &str) -> Option<()> {
        (self.str_bytes()? == name.as_bytes()).then_some(())
    }

    /// A map of exactly `n` entries; returns after the map header (the caller reads each key
    /// in the expected order with [`Reader::key`]).
    fn map_of(&mut self, n: usize) -> Option<()> {
        (self.map_len()? == n).then_some(())
    }

    fn is_nil(&self) -> bool {
        self.buf.first() == Some(&0xc0)
    }

    fn nil(&mut self) -> Option<()> {
        (self.byte()? == 0xc0).then_some(())
    }

    fn commit(&mut self) -> Option<StoredCommit> {
        let n = self.map_len()?;
        if !(3..=4).contains(&n) {
            return None;
        }
        self.key("case_id")?;
        let case_id = CaseId::new(self.str()?).ok()?;
        self.key("command_id")?;
        let command_id = CommandId::new(self.str()?).ok()?;
        self.key("events")?;
        let count = self.array_len()?;
        // Each record takes well over 100 bytes: a damaged count cannot reserve much.
        let mut events = Vec::with_capacity(count.min(self.buf.len() / 100 + 1).min(1024));
        for _ in 0..count {
            events.push(self.record()?);
        }
        let mut fingerprint = None;
        if n == 4 {
            self.key("fingerprint")?;
            if self.is_nil() {
                self.nil()?;
            } else {
                fingerprint = Some(Fingerprint(self.bin_array()?));
            }
        }
        Some(StoredCommit {
            case_id,
            command_id,
            events,
            fingerprint,
        })
    }

    fn record(&mut self) -> Option<EventRecord> {
        self.map_of(6)?;
        self.key("header")?;
        let header = self.header()?;
        self.key("event_type")?;
        let event_type = self.str()?.to_owned();
        self.key("schema_version")?;
        let schema_version = u16::try_from(self.int()?).ok()?;
        self.key("body")?;
        let body = self.bin()?.to_vec();
        self.key("prev_hash")?;
        let prev_hash = Hash(self.bin_array()?);
        self.key("hash")?;
        let hash = Hash(self.bin_array()?);
        Some(EventRecord {
            header,
            event_type,
            schema_version,
            body,
            prev_hash,
            hash,
        })
    }

    fn header(&mut self) -> Option<EventHeader> {
        self.map_of(9)?;
        self.key("event_id")?;
        let event_id = EventId(self.bin_array()?);
        self.key("case_id")?;
        let case_id = CaseId::new(self.str()?).ok()?;
        self.key("case_version")?;
        let case_version = u64::try_from(self.int()?).ok()?;
        self.key("occurred_at")?;
        let occurred_at = Timestamp::from_millis(i64::try_from(self.int()?).ok()?);
        self.key("recorded_at")?;
        let recorded_at = Timestamp::from_millis(i64::try_from(self.int()?).ok()?);
        self.key("actor")?;
        let actor = self.actor()?;
        self.key("command_id")?;
        let command_id = CommandId::new(self.str()?).ok()?;
        self.key("correlation_id")?;
        let correlation_id = self.optional_correlation()?;
        self.key("causation_id")?;
        let causation_id = self.optional_correlation()?;
        Some(EventHeader {
            event_id,
            case_id,
            case_version,
            occurred_at,
            recorded_at,
            actor,
            command_id,
            correlation_id,
            causation_id,
        })
    }

    /// `Option<CorrelationId>`: `Some(None)` for nil.
    fn optional_correlation(&mut self) -> Option<Option<CorrelationId>> {
        if self.is_nil() {
            self.nil()?;
            return Some(None);
        }
        Some(Some(CorrelationId::new(self.str()?).ok()?))
    }

    fn actor(&mut self) -> Option<Actor> {
        self.map_of(3)?;
        self.key("id")?;
        let id = ActorId::new(self.str()?).ok()?;
        self.key("role")?;
        let role = self.str_bytes()?;
        let role = Role::ALL
            .into_iter()
            .find(|r| r.as_str().as_bytes() == role)?;
        self.key("scope")?;
        // Externally tagged: a map of one entry, the variant's name to its content.
        self.map_of(1)?;
        let scope = match self.str_bytes()? {
            b"subtree" => Scope::Subtree(self.region()?),
            b"assignment" => {
                self.map_of(1)?;
                self.key("organization")?;
                Scope::Assignment {
                    organization: self.region()?,
                }
            }
            _ => return None,
        };
        Actor::new(id, role, scope).ok()
    }

    fn region(&mut self) -> Option<RegionCode> {
        RegionCode::parse(self.str()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::Serialize;

    use super::*;
    use crate::raw::{decode_with_serde, encode_value};

    fn fields_eq(a: &StoredCommit, b: &StoredCommit) -> bool {
        (&a.case_id, &a.command_id, &a.events, &a.fingerprint)
            == (&b.case_id, &b.command_id, &b.events, &b.fingerprint)
    }

    fn regions() -> Vec<RegionCode> {
        let grid: RegionCode = "330802005001007".parse().unwrap();
        grid.self_and_ancestors().collect()
    }

    fn arb_actor() -> impl Strategy<Value = Actor> {
        ("[A-Za-z0-9._:-]{1,24}", 0..Role::ALL.len(), 0..4usize).prop_map(|(id, role, at)| {
            let role = Role::ALL[role];
            let regions = regions();
            let region = regions[at.min(regions.len() - 1)];
            let scope = match role {
                Role::Mediator => Scope::Assignment {
                    organization: region,
                },
                Role::GridWorker => Scope::Subtree(regions[0]),
                _ => Scope::Subtree(region),
            };
            Actor::new(ActorId::new(id).unwrap(), role, scope).unwrap()
        })
    }

    /// Integers of every MessagePack width, both signs, and the ends.
    fn arb_i64() -> impl Strategy<Value = i64> {
        prop_oneof![
            -200i64..200,
            -70_000i64..70_000,
            -5_000_000_000i64..5_000_000_000,
            any::<i64>(),
            Just(i64::MIN),
            Just(i64::MAX),
        ]
    }

    fn arb_u64() -> impl Strategy<Value = u64> {
        prop_oneof![0u64..300, 0u64..5_000_000_000, any::<u64>(), Just(u64::MAX)]
    }

    fn arb_correlation() -> impl Strategy<Value = Option<CorrelationId>> {
        proptest::option::of("[A-Za-z0-9._:-]{1,40}".prop_map(|s| CorrelationId::new(s).unwrap()))
    }

    fn arb_record(case: CaseId, command: CommandId) -> impl Strategy<Value = EventRecord> {
        (
            (
                any::<[u8; 16]>(),
                arb_u64(),
                arb_i64(),
                arb_i64(),
                arb_actor(),
                arb_correlation(),
                arb_correlation(),
            ),
            "[A-Za-z]{1,24}",
            prop_oneof![0..300u16, any::<u16>()],
            proptest::collection::vec(any::<u8>(), 0..80),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
        )
            .prop_map(
                move |(
                    (event_id, case_version, occurred, recorded, actor, correlation, causation),
                    event_type,
                    schema_version,
                    body,
                    prev_hash,
                    hash,
                )| EventRecord {
                    header: EventHeader {
                        event_id: EventId(event_id),
                        case_id: case.clone(),
                        case_version,
                        occurred_at: Timestamp::from_millis(occurred),
                        recorded_at: Timestamp::from_millis(recorded),
                        actor,
                        command_id: command.clone(),
                        correlation_id: correlation,
                        causation_id: causation,
                    },
                    event_type,
                    schema_version,
                    body,
                    prev_hash: Hash(prev_hash),
                    hash: Hash(hash),
                },
            )
    }

    /// A commit's stored bytes (without the checksum), as [`encode_value`] writes them.
    fn arb_commit_bytes() -> impl Strategy<Value = Vec<u8>> {
        ("[A-Za-z0-9_-]{1,64}", "[A-Za-z0-9._:-]{1,128}")
            .prop_flat_map(|(case, command)| {
                let (case, command) =
                    (CaseId::new(case).unwrap(), CommandId::new(command).unwrap());
                (
                    Just(case.clone()),
                    Just(command.clone()),
                    proptest::collection::vec(arb_record(case, command), 0..4),
                    proptest::option::of(any::<[u8; 32]>().prop_map(Fingerprint)),
                )
            })
            .prop_map(|(case, command, events, fingerprint)| {
                let framed = encode_value(&case, &command, &events, fingerprint.as_ref()).unwrap();
                framed[4..].to_vec()
            })
    }

    proptest! {
        /// Whatever this build writes is read directly, to what serde reads.
        #[test]
        fn every_written_commit_is_read_directly_as_serde_reads_it(body in arb_commit_bytes()) {
            let direct = decode(&body).expect("this build's layout is read directly");
            let serde = decode_with_serde(&body).expect("serde reads it");
            prop_assert!(fields_eq(&direct, &serde));
        }

        /// Damaged bytes: the direct reader answers only where serde reads the same commit.
        /// Changed bytes inside values (an id's character, a number, a hash) give bytes serde
        /// reads differently or refuses; the direct reader must agree or leave them to serde.
        #[test]
        fn damaged_bytes_are_read_as_serde_reads_them_or_left_to_it(
            body in arb_commit_bytes(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..4u8), 1..4),
        ) {
            let mut bytes = body;
            for (at, value, how) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match how {
                    0 => bytes[i] = value,
                    1 => bytes[i] ^= 1 << (value % 8),
                    2 => bytes.truncate(i),
                    _ => bytes.insert(i, value),
                }
            }
            if let Some(direct) = decode(&bytes) {
                let serde = decode_with_serde(&bytes);
                prop_assert!(serde.is_ok(), "serde refuses what was read directly");
                prop_assert!(fields_eq(&direct, &serde.unwrap()), "read differently");
            }
        }
    }

    /// Another layout that serde reads (fields in another order, a field this build does not
    /// know, no fingerprint field) is left to serde, which reads it as before.
    #[test]
    fn other_layouts_are_left_to_serde() {
        let case = CaseId::new("c-1").unwrap();
        let command = CommandId::new("k-1").unwrap();
        #[derive(Serialize)]
        struct Reordered<'a> {
            command_id: &'a CommandId,
            case_id: &'a CaseId,
            events: Vec<EventRecord>,
        }
        #[derive(Serialize)]
        struct Extra<'a> {
            case_id: &'a CaseId,
            command_id: &'a CommandId,
            events: Vec<EventRecord>,
            later: u8,
        }
        #[derive(Serialize)]
        struct Old<'a> {
            case_id: &'a CaseId,
            command_id: &'a CommandId,
            events: Vec<EventRecord>,
        }
        let reordered = rmp_serde::to_vec_named(&Reordered {
            command_id: &command,
            case_id: &case,
            events: vec![],
        })
        .unwrap();
        let extra = rmp_serde::to_vec_named(&Extra {
            case_id: &case,
            command_id: &command,
            events: vec![],
            later: 1,
        })
        .unwrap();
        for bytes in [&reordered, &extra] {
            assert!(decode(bytes).is_none());
            let read = decode_with_serde(bytes).unwrap();
            assert_eq!(
                (read.case_id.as_str(), read.command_id.as_str()),
                ("c-1", "k-1")
            );
        }
        // A commit stored before fingerprints were kept has no such field: read directly.
        let old = rmp_serde::to_vec_named(&Old {
            case_id: &case,
            command_id: &command,
            events: vec![],
        })
        .unwrap();
        let read = decode(&old).expect("read directly");
        assert!(fields_eq(&read, &decode_with_serde(&old).unwrap()));
        assert_eq!(read.fingerprint, None);
    }

    /// What the direct reader checks, it checks as the types do: an id with a character its
    /// alphabet lacks, a grid worker not on a grid, an unknown role are left to serde, which
    /// refuses them.
    #[test]
    fn values_the_types_refuse_are_left_to_serde() {
        let case = CaseId::new("c-1").unwrap();
        let command = CommandId::new("k-1").unwrap();
        let record = EventRecord {
            header: EventHeader {
                event_id: EventId([7; 16]),
                case_id: case.clone(),
                case_version: 1,
                occurred_at: Timestamp::from_millis(1),
                recorded_at: Timestamp::from_millis(2),
                actor: Actor::new(
                    ActorId::new("gw-1").unwrap(),
                    Role::GridWorker,
                    Scope::Subtree("330802005001007".parse().unwrap()),
                )
                .unwrap(),
                command_id: command.clone(),
                correlation_id: None,
                causation_id: None,
            },
            event_type: "NoteAdded".into(),
            schema_version: 1,
            body: vec![0x80],
            prev_hash: Hash::ZERO,
            hash: Hash([1; 32]),
        };
        let body = encode_value(&case, &command, &[record], None).unwrap()[4..].to_vec();
        assert!(decode(&body).is_some());
        let replace = |from: &[u8], to: &[u8]| {
            let at = body
                .windows(from.len())
                .position(|w| w == from)
                .expect("present");
            let mut b = body.clone();
            b[at..at + from.len()].copy_from_slice(to);
            b
        };
        for damaged in [
            replace(b"gw-1", b"gw 1"),                       // an actor id's alphabet
            replace(b"c-1", b"c/1"),                         // a case id's alphabet
            replace(b"330802005001007", b"33080200500100x"), // not a region code
            replace(b"grid_worker", b"grid_wonker"),         // no such role
            replace(b"subtree", b"subtrex"),                 // no such scope
        ] {
            assert!(decode(&damaged).is_none(), "{damaged:?}");
            assert!(decode_with_serde(&damaged).is_err(), "{damaged:?}");
        }
    }
}
