//! The event envelope and its versioned, tamper-evident encoding.
//!
//! An [`EventRecord`] is what the log stores: an [`EventHeader`] (ids, version, times, actor,
//! command), the event's type name and schema version, its body as MessagePack bytes
//! (`to_vec_named`, string tags), the hash of the case's previous event and its own hash.
//! [`crate::chain`] seals a commit's events into records and checks their links.
//!
//! The hash is SHA-256 over the canonical MessagePack of everything but the hash itself, body
//! included *as stored*. Upcasting an old body to the current schema therefore never changes
//! what the hash covers: [`EventRecord::verify_hash`] checks the stored bytes, and
//! [`EventRecord::decode`] upcasts a copy.
//!
//! The global position is not part of the record: the log assigns it at commit.
//!
//! # Schema versions, one per event type
//!
//! Each event type has its own current schema version ([`crate::event::EventBody::VERSION`], written in the
//! `events!` list of [`crate::event`]). A record stores the version its body was written at;
//! [`EventRecord::decode`] brings an older body up to its type's current version through the
//! [`Upcaster`]s registered for that type, one per version step. Types are independent: one
//! can be at version 3 while every other is still at version 1.
//!
//! To change one type's body (say `CaseResolved`, at version 1 today):
//!
//! 1. Change the struct in [`crate::event`] and write `CaseResolved => 2` in the `events!`
//!    list. Nothing else changes version: records of other types keep their bytes and hashes.
//! 2. Register an [`Upcaster`] `{ event_type: CaseResolved::TYPE, from: 1, upcast }` in
//!    [`upcasters`], where `upcast` decodes the version 1 bytes (a private copy of the old
//!    struct) and encodes the version 2 body. A test checks that every type has one upcaster
//!    per old version.
//! 3. Bless the new golden file: `GRIDCASE_BLESS=1 cargo test -p gridcase-domain --test golden`
//!    writes `tests/golden/CaseResolved/v2.msgpack` from the updated example. Keep `v1.msgpack`
//!    for ever, and add what it now decodes to (the upcast event) to the old versions' table
//!    in `tests/golden.rs`.

use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::event::Event;
use crate::ids::{CaseId, CommandId, CorrelationId, EventId, Hash};
use crate::time::Timestamp;

/// Everything about an event except its body and hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventHeader {
    /// Unique event id (derived from case, command and index).
    pub event_id: EventId,
    /// The case.
    pub case_id: CaseId,
    /// The case version this event creates: 1, 2, 3… without gaps.
    pub case_version: u64,
    /// When it happened (supplied by the client).
    pub occurred_at: Timestamp,
    /// When the engine recorded it.
    pub recorded_at: Timestamp,
    /// Who caused it.
    pub actor: Actor,
    /// The command that produced it.
    pub command_id: CommandId,
    /// Correlates commands across cases and systems.
    pub correlation_id: Option<CorrelationId>,
    /// What caused the command, if known.
    pub causation_id: Option<CorrelationId>,
}

/// An event as stored: header, typed and versioned body bytes, hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Ids, version, times, actor.
    pub header: EventHeader,
    /// The event type's stable name.
    pub event_type: String,
    /// The body's schema version.
    pub schema_version: u16,
    /// The body: MessagePack with named fields.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// The hash of the case's previous event ([`Hash::ZERO`] for version 1).
    pub prev_hash: Hash,
    /// SHA-256 over the canonical bytes of all the fields above.
    pub hash: Hash,
}

/// The hashed part of a record, borrowed; field order is the canonical order.
#[derive(Serialize)]
struct Hashed<'a> {
    header: &'a EventHeader,
    event_type: &'a str,
    schema_version: u16,
    #[serde(with = "serde_bytes")]
    body: &'a [u8],
    prev_hash: &'a Hash,
}

impl From<rmp_serde::decode::Error> for CodecError {
    fn from(e: rmp_serde::decode::Error) -> CodecError {
        CodecError::Record(e)
    }
}

/// A stored event that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The bytes are not a record at all (truncated or corrupted). The decoder's complaint
    /// is in the message (and the field), not repeated as a source.
    #[error("undecodable record: {0}")]
    Record(rmp_serde::decode::Error),
    /// The body does not decode as its declared type and version.
    #[error("body of {event_type} v{schema_version} does not decode: {complaint}")]
    Body {
        /// The declared type.
        event_type: String,
        /// The declared version.
        schema_version: u16,
        /// The decoder's complaint (in the message, not repeated as a source).
        complaint: rmp_serde::decode::Error,
    },
    /// No event type has this name.
    #[error("unknown event type {0:?}: written by a newer gridcase? upgrade before reading")]
    UnknownType(String),
    /// A version newer than this build knows, or an old one with no upcaster.
    #[error("{event_type} schema version {schema_version} is not readable by this build (current {current})")]
    UnsupportedVersion {
        /// The type.
        event_type: String,
        /// The stored version.
        schema_version: u16,
        /// The version this build writes for the type.
        current: u16,
    },
    /// An upcaster failed.
    #[error("upcasting {event_type} from v{from}: {reason}")]
    Upcast {
        /// The type.
        event_type: String,
        /// The version being upcast.
        from: u16,
        /// What went wrong.
        reason: String,
    },
    /// Encoding failed (a bug: every event type encodes).
    #[error("encoding failed: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
}

/// One step of one event type's schema history: turns a body of `event_type` stored at
/// version `from` into the body at version `from + 1`.
///
/// Registered per (type, old version) in [`upcasters`]; the golden files of the old version
/// then keep decoding through it. See the [module documentation](self) for the whole recipe.
#[derive(Debug, Clone, Copy)]
pub struct Upcaster {
    /// The event type, e.g. `CaseResolved::TYPE`.
    pub event_type: &'static str,
    /// The version this step reads.
    pub from: u16,
    /// The body at `from` to the body at `from + 1`, or why the old body cannot be read.
    pub upcast: fn(&[u8]) -> Result<Vec<u8>, String>,
}

/// The upcasters of this build, one per (event type, old version).
///
/// | type | from | change |
/// |---|---|---|
/// | `CaseRegistered` | 1 | gained `deadline` (the clock starts at registration); v1 bodies get `None`: their clock started at assignment |
pub fn upcasters() -> &'static [Upcaster] {
    &[Upcaster {
        event_type: <crate::event::CaseRegistered as crate::event::EventBody>::TYPE,
        from: 1,
        upcast: old::registered_v1_to_v2,
    }]
}

/// Old schema versions, as private copies of the structs that wrote them, and their steps up.
mod old {
    use serde::Deserialize;

    use crate::event::CaseRegistered;
    use crate::region::{Level, RegionCode};

    /// `CaseRegistered` v1: no deadline.
    #[derive(Deserialize)]
    struct CaseRegisteredV1 {
        unit: RegionCode,
        level: Level,
    }

    /// `CaseRegistered` v1 → v2: no deadline (the clock of a v1 case starts at assignment).
    pub(super) fn registered_v1_to_v2(body: &[u8]) -> Result<Vec<u8>, String> {
        let v1: CaseRegisteredV1 = rmp_serde::from_slice(body).map_err(|e| e.to_string())?;
        rmp_serde::to_vec_named(&CaseRegistered {
            unit: v1.unit,
            level: v1.level,
            deadline: None,
        })
        .map_err(|e| e.to_string())
    }
}

/// What a build reads: each type's current version and the upcasters that lead to it.
///
/// Always [`Event::current_version`] outside the tests, which use toy versions.
struct Schema<'a> {
    current: fn(&str) -> Option<u16>,
    upcasters: &'a [Upcaster],
}

impl Schema<'_> {
    /// The record's body at its type's current version: borrowed when stored at it, else
    /// upcast one version at a time.
    fn upcast<'r>(
        &self,
        record: &'r EventRecord,
    ) -> Result<std::borrow::Cow<'r, [u8]>, CodecError> {
        let ty = record.event_type.as_str();
        let current = (self.current)(ty).ok_or_else(|| CodecError::UnknownType(ty.to_owned()))?;
        let unsupported = || CodecError::UnsupportedVersion {
            event_type: ty.to_owned(),
            schema_version: record.schema_version,
            current,
        };
        if record.schema_version > current {
            return Err(unsupported());
        }
        let mut version = record.schema_version;
        let mut body = std::borrow::Cow::Borrowed(record.body.as_slice());
        while version < current {
            let step = self
                .upcasters
                .iter()
                .find(|u| u.event_type == ty && u.from == version)
                .ok_or_else(unsupported)?;
            body = std::borrow::Cow::Owned((step.upcast)(&body).map_err(|reason| {
                CodecError::Upcast {
                    event_type: ty.to_owned(),
                    from: version,
                    reason,
                }
            })?);
            version += 1;
        }
        Ok(body)
    }
}

impl EventRecord {
    /// Seals an event: encodes its body and computes its hash, chained to `prev_hash`.
    pub fn seal(header: EventHeader, event: &Event, prev_hash: Hash) -> Result<Self, CodecError> {
        let body = event.encode_body()?;
        let mut rec = EventRecord {
            header,
            event_type: event.type_name().to_owned(),
            schema_version: event.schema_version(),
            body,
            prev_hash,
            hash: Hash::ZERO,
        };
        rec.hash = rec.compute_hash()?;
        Ok(rec)
    }

    /// The bytes the record's hash is taken over: the MessagePack, with named fields, of a map
    /// `{header, event_type, schema_version, body, prev_hash}` (the body as the binary it is
    /// stored as). `hash = SHA-256(hashed_bytes)`; an outside tool can check both with any
    /// MessagePack reader and SHA-256 (`gridcase-replay export --hashed-bytes`).
    pub fn hashed_bytes(&self) -> Result<Vec<u8>, CodecError> {
        Ok(rmp_serde::to_vec_named(&Hashed {
            header: &self.header,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            body: &self.body,
            prev_hash: &self.prev_hash,
        })?)
    }

    /// The hash the record should carry, computed from its other fields.
    pub fn compute_hash(&self) -> Result<Hash, CodecError> {
        Ok(Hash::of(&self.hashed_bytes()?))
    }

    /// Whether the stored hash matches the record's contents.
    pub fn verify_hash(&self) -> bool {
        self.compute_hash().map(|h| h == self.hash).unwrap_or(false)
    }

    /// Decodes the body with this build's upcasters.
    pub fn decode(&self) -> Result<Event, CodecError> {
        self.decode_with(upcasters())
    }

    /// Decodes the body, upcasting a body stored at an old schema version of its type with
    /// `upcasters` (found by type and version).
    pub fn decode_with(&self, upcasters: &[Upcaster]) -> Result<Event, CodecError> {
        let schema = Schema {
            current: Event::current_version,
            upcasters,
        };
        let body = schema.upcast(self)?;
        match Event::decode_body(&self.event_type, &body) {
            Some(r) => r.map_err(|complaint| CodecError::Body {
                event_type: self.event_type.clone(),
                schema_version: self.schema_version,
                complaint,
            }),
            None => Err(CodecError::UnknownType(self.event_type.clone())),
        }
    }

    /// The record as MessagePack bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CodecError> {
        Ok(rmp_serde::to_vec_named(self)?)
    }

    /// A record from MessagePack bytes (all of them: trailing bytes are an error); does not
    /// check the hash.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut de = rmp_serde::Deserializer::new(bytes);
        let rec = Self::deserialize(&mut de)?;
        if !de.get_ref().is_empty() {
            return Err(CodecError::Record(rmp_serde::decode::Error::Syntax(
                format!("{} trailing bytes after the record", de.get_ref().len()),
            )));
        }
        Ok(rec)
    }
}

/// A decoded event with its header and hashes: what projections and the replay tool work on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Ids, version, times, actor.
    pub header: EventHeader,
    /// The event, upcast to the current schema.
    pub event: Event,
    /// The previous event's hash.
    pub prev_hash: Hash,
    /// This event's hash.
    pub hash: Hash,
}

impl TryFrom<&EventRecord> for Envelope {
    type Error = CodecError;
    fn try_from(r: &EventRecord) -> Result<Self, CodecError> {
        Ok(Envelope {
            header: r.header.clone(),
            event: r.decode()?,
            prev_hash: r.prev_hash,
            hash: r.hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::{Role, Scope};
    use crate::event::{CaseClosed, EventBody, NoteAdded};
    use crate::ids::ActorId;

    /// Every registered upcaster names a known type and one of its old versions, once; every
    /// old version of every type has one, so old bodies always reach the current version.
    #[test]
    fn the_upcasters_of_this_build_cover_every_old_version_once() {
        let mut seen = std::collections::BTreeSet::new();
        for u in upcasters() {
            let current = Event::current_version(u.event_type)
                .unwrap_or_else(|| panic!("upcaster for unknown type {}", u.event_type));
            assert!(
                (1..current).contains(&u.from),
                "{} v{}: not an old version (current {current})",
                u.event_type,
                u.from
            );
            assert!(
                seen.insert((u.event_type, u.from)),
                "two upcasters for {} v{}",
                u.event_type,
                u.from
            );
        }
        for ty in Event::TYPE_NAMES {
            for from in 1..Event::current_version(ty).unwrap() {
                assert!(seen.contains(&(*ty, from)), "no upcaster for {ty} v{from}");
            }
        }
    }

    #[test]
    fn each_type_names_its_own_version() {
        let note: Event = NoteAdded { text: "x".into() }.into();
        assert_eq!(note.type_name(), NoteAdded::TYPE);
        assert_eq!(note.schema_version(), NoteAdded::VERSION);
        assert_eq!(
            Event::current_version("NoteAdded"),
            Some(NoteAdded::VERSION)
        );
        assert_eq!(Event::current_version("CaseTeleported"), None);
    }

    // --- a toy build: NoteAdded at version 2, every other type at version 1 ---------------

    /// `NoteAdded` as the toy build writes it: it gained a flag.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct NoteAddedV2 {
        text: crate::Text,
        pinned: bool,
    }

    fn note_v1_to_v2(body: &[u8]) -> Result<Vec<u8>, String> {
        let v1: NoteAdded = rmp_serde::from_slice(body).map_err(|e| e.to_string())?;
        rmp_serde::to_vec_named(&NoteAddedV2 {
            text: v1.text,
            pinned: false,
        })
        .map_err(|e| e.to_string())
    }

    fn toy_versions(ty: &str) -> Option<u16> {
        if ty == NoteAdded::TYPE {
            Some(2)
        } else {
            Event::current_version(ty)
        }
    }

    const TOY_UPCASTERS: &[Upcaster] = &[Upcaster {
        event_type: NoteAdded::TYPE,
        from: 1,
        upcast: note_v1_to_v2,
    }];

    fn toy() -> Schema<'static> {
        Schema {
            current: toy_versions,
            upcasters: TOY_UPCASTERS,
        }
    }

    fn record(event: Event) -> EventRecord {
        let grid = "330802005001007".parse().unwrap();
        let at = Timestamp::parse("2026-03-02T02:00:00Z").unwrap();
        let header = EventHeader {
            event_id: EventId::from_hex("00112233445566778899aabbccddeeff").unwrap(),
            case_id: CaseId::new("c1").unwrap(),
            case_version: 3,
            occurred_at: at,
            recorded_at: at,
            actor: Actor::new(
                ActorId::new("gw-1").unwrap(),
                Role::GridWorker,
                Scope::Subtree(grid),
            )
            .unwrap(),
            command_id: CommandId::new("cmd-1").unwrap(),
            correlation_id: None,
            causation_id: None,
        };
        EventRecord::seal(header, &event, Hash::ZERO).unwrap()
    }

    #[test]
    fn one_type_at_v2_upcasts_while_the_others_stay_at_v1() {
        // A NoteAdded stored at v1 reaches v2 through its upcaster.
        let note = record(
            NoteAdded {
                text: "旧笔记".into(),
            }
            .into(),
        );
        assert_eq!(note.schema_version, 1);
        let body = toy().upcast(&note).unwrap();
        assert!(matches!(body, std::borrow::Cow::Owned(_)));
        let v2: NoteAddedV2 = rmp_serde::from_slice(&body).unwrap();
        assert_eq!(
            v2,
            NoteAddedV2 {
                text: "旧笔记".into(),
                pinned: false
            }
        );
        // Upcasting read a copy: the stored bytes and their hash are untouched.
        assert!(note.verify_hash());

        // A NoteAdded already at v2 is read as stored.
        let mut current = note.clone();
        current.schema_version = 2;
        current.body = body.into_owned();
        assert!(matches!(
            toy().upcast(&current).unwrap(),
            std::borrow::Cow::Borrowed(b) if b == current.body.as_slice()
        ));

        // Every other type is still at v1 and needs no upcaster.
        let closed = record(CaseClosed { on_the_spot: true }.into());
        assert!(matches!(
            toy().upcast(&closed).unwrap(),
            std::borrow::Cow::Borrowed(b) if b == closed.body.as_slice()
        ));

        // Without the NoteAdded step, its v1 bodies are unreadable by the toy build.
        let no_steps = Schema {
            current: toy_versions,
            upcasters: &[],
        };
        assert!(matches!(
            no_steps.upcast(&note),
            Err(CodecError::UnsupportedVersion {
                schema_version: 1,
                current: 2,
                ..
            })
        ));
        // ... and a step registered for another type does not apply.
        let wrong_type = [Upcaster {
            event_type: CaseClosed::TYPE,
            from: 1,
            upcast: note_v1_to_v2,
        }];
        let schema = Schema {
            current: toy_versions,
            upcasters: &wrong_type,
        };
        assert!(matches!(
            schema.upcast(&note),
            Err(CodecError::UnsupportedVersion { .. })
        ));
        // A version beyond the toy's current one is refused, not guessed at.
        current.schema_version = 3;
        assert!(matches!(
            toy().upcast(&current),
            Err(CodecError::UnsupportedVersion {
                schema_version: 3,
                current: 2,
                ..
            })
        ));
    }
}
