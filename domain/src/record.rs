//! The event envelope and its versioned, tamper-evident encoding.
//!
//! An [`EventRecord`] is what the log stores: an [`EventHeader`] (ids, version, times, actor,
//! command), the event's type name and schema version, its body as MessagePack bytes
//! (`to_vec_named`, string tags), the hash of the case's previous event and its own hash.
//!
//! The hash is SHA-256 over the canonical MessagePack of everything but the hash itself, body
//! included *as stored*. Upcasting an old body to the current schema therefore never changes
//! what the hash covers: [`EventRecord::verify_hash`] checks the stored bytes, and
//! [`EventRecord::decode`] upcasts a copy.
//!
//! The global position is not part of the record: the log assigns it at commit.

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

/// A stored event that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The bytes are not a record at all (truncated or corrupted).
    #[error("undecodable record: {0}")]
    Record(#[from] rmp_serde::decode::Error),
    /// The body does not decode as its declared type and version.
    #[error("body of {event_type} v{schema_version} does not decode: {source}")]
    Body {
        /// The declared type.
        event_type: String,
        /// The declared version.
        schema_version: u16,
        /// The decoder's complaint.
        source: rmp_serde::decode::Error,
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
        /// The version this build writes.
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

/// Turns a body at an old schema version into the body of the next version.
///
/// Register one per (type, old version) when an event's schema changes; the golden files of
/// the old version then keep decoding through it.
pub trait Upcaster: Send + Sync {
    /// If this upcaster handles `event_type` at `version`, returns the body at `version + 1`.
    fn upcast(
        &self,
        event_type: &str,
        version: u16,
        body: &[u8],
    ) -> Option<Result<Vec<u8>, String>>;
}

/// The upcasters of this build. Schema version 1 is the first, so there are none yet.
pub fn upcasters() -> &'static [&'static dyn Upcaster] {
    &[]
}

impl EventRecord {
    /// Seals an event: encodes its body and computes its hash, chained to `prev_hash`.
    pub fn seal(header: EventHeader, event: &Event, prev_hash: Hash) -> Result<Self, CodecError> {
        let body = event.encode_body()?;
        let mut rec = EventRecord {
            header,
            event_type: event.type_name().to_owned(),
            schema_version: Event::SCHEMA_VERSION,
            body,
            prev_hash,
            hash: Hash::ZERO,
        };
        rec.hash = rec.compute_hash()?;
        Ok(rec)
    }

    /// The hash the record should carry, computed from its other fields.
    pub fn compute_hash(&self) -> Result<Hash, CodecError> {
        let bytes = rmp_serde::to_vec_named(&Hashed {
            header: &self.header,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            body: &self.body,
            prev_hash: &self.prev_hash,
        })?;
        Ok(Hash::of(&bytes))
    }

    /// Whether the stored hash matches the record's contents.
    pub fn verify_hash(&self) -> bool {
        self.compute_hash().map(|h| h == self.hash).unwrap_or(false)
    }

    /// Decodes the body with this build's upcasters.
    pub fn decode(&self) -> Result<Event, CodecError> {
        self.decode_with(upcasters())
    }

    /// Decodes the body, upcasting old schema versions with `upcasters`.
    pub fn decode_with(&self, upcasters: &[&dyn Upcaster]) -> Result<Event, CodecError> {
        let ty = self.event_type.as_str();
        if !Event::TYPE_NAMES.contains(&ty) {
            return Err(CodecError::UnknownType(self.event_type.clone()));
        }
        let unsupported = || CodecError::UnsupportedVersion {
            event_type: self.event_type.clone(),
            schema_version: self.schema_version,
            current: Event::SCHEMA_VERSION,
        };
        if self.schema_version > Event::SCHEMA_VERSION {
            return Err(unsupported());
        }
        let mut version = self.schema_version;
        let mut body = std::borrow::Cow::Borrowed(self.body.as_slice());
        while version < Event::SCHEMA_VERSION {
            let next = upcasters
                .iter()
                .find_map(|u| u.upcast(ty, version, &body))
                .ok_or_else(unsupported)?
                .map_err(|reason| CodecError::Upcast {
                    event_type: self.event_type.clone(),
                    from: version,
                    reason,
                })?;
            body = std::borrow::Cow::Owned(next);
            version += 1;
        }
        match Event::decode_body(ty, &body) {
            Some(r) => r.map_err(|source| CodecError::Body {
                event_type: self.event_type.clone(),
                schema_version: self.schema_version,
                source,
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
