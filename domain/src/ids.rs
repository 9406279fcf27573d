//! Identifiers: validated newtypes, never bare strings.
//!
//! Case ids travel inside NATS subjects (`<prefix>.<county>.<case id>`), so they are restricted
//! to characters that are safe in a subject token. Command ids come from clients
//! (`Idempotency-Key`) and travel in the `Nats-Msg-Id` header.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Why a string was not accepted as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The identifier was empty or longer than allowed.
    #[error("{kind} must be 1 to {max} characters long, got {len}")]
    Length {
        /// Which identifier.
        kind: &'static str,
        /// The maximum length.
        max: usize,
        /// The length received.
        len: usize,
    },
    /// The identifier contained a character outside its alphabet.
    #[error("{kind} {input:?} contains {ch:?}; allowed are ASCII letters, digits and {extra}")]
    Character {
        /// Which identifier.
        kind: &'static str,
        /// The rejected input.
        input: String,
        /// The first offending character.
        ch: char,
        /// The punctuation the identifier allows.
        extra: &'static str,
    },
    /// A hex-encoded value had the wrong length or non-hex characters.
    #[error("{kind} must be {len} hex digits")]
    Hex {
        /// Which identifier.
        kind: &'static str,
        /// The expected number of hex digits.
        len: usize,
    },
}

fn validate(kind: &'static str, s: &str, max: usize, extra: &'static str) -> Result<(), IdError> {
    if s.is_empty() || s.len() > max {
        return Err(IdError::Length {
            kind,
            max,
            len: s.len(),
        });
    }
    // Byte by byte (every id of every stored event is checked when the log is read). The
    // alphabets are ASCII, so the first refused byte starts the first refused character.
    if let Some(at) = s
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || extra.as_bytes().contains(&b)))
    {
        return Err(IdError::Character {
            kind,
            input: s.to_owned(),
            ch: s[at..]
                .chars()
                .next()
                .expect("a character starts at a refused byte"),
            extra,
        });
    }
    Ok(())
}

macro_rules! token_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:literal, $extra:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Longest accepted identifier, in bytes.
            pub const MAX_LEN: usize = $max;

            /// Validates and wraps an identifier.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                validate($kind, &s, $max, $extra)?;
                Ok(Self(s))
            }

            /// The identifier as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                crate::ids::openapi::token($kind, $max, $extra)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

/// OpenAPI schemas of identifiers: strings with their length and alphabet.
#[cfg(feature = "openapi")]
pub(crate) mod openapi {
    use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
    use utoipa::openapi::RefOr;

    /// A token id: 1..=`max` characters of ASCII letters, digits and `extra`.
    pub(crate) fn token(kind: &str, max: usize, extra: &str) -> RefOr<Schema> {
        let extra: String = extra.chars().map(|c| format!("\\{c}")).collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(format!("A {kind}.")))
            .min_length(Some(1))
            .max_length(Some(max))
            .pattern(Some(format!("^[A-Za-z0-9{extra}]+$")))
            .into()
    }

    /// Bytes as lowercase hex.
    pub(crate) fn hex(kind: &str, bytes: usize) -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(format!("A {kind}, {} hex digits.", 2 * bytes)))
            .min_length(Some(2 * bytes))
            .max_length(Some(2 * bytes))
            .pattern(Some(format!("^[0-9a-f]{{{}}}$", 2 * bytes)))
            .into()
    }

    /// A string in a named format.
    pub(crate) fn string(
        description: &str,
        format: Option<SchemaFormat>,
        pattern: Option<&str>,
    ) -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
            .format(format)
            .pattern(pattern)
            .into()
    }
}

token_id!(
    /// A case identifier: 1–64 characters of `[A-Za-z0-9_-]`, safe as a NATS subject token.
    CaseId, "case id", 64, "_-"
);
token_id!(
    /// A command identifier (idempotency key): 1–128 characters of `[A-Za-z0-9._:-]`.
    CommandId, "command id", 128, "._:-"
);
token_id!(
    /// An actor (user account) identifier: 1–64 characters of `[A-Za-z0-9._:-]`.
    ActorId, "actor id", 64, "._:-"
);
token_id!(
    /// An opaque party identifier. Personal data lives apart, keyed by this id (see DOMAIN.md).
    PartyId, "party id", 64, "._:-"
);
token_id!(
    /// A correlation or causation identifier linking commands across cases and systems.
    CorrelationId, "correlation id", 128, "._:-"
);

macro_rules! byte_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $n:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub [u8; $n]);

        impl $name {
            /// Parses the lowercase hex form.
            pub fn from_hex(s: &str) -> Result<Self, IdError> {
                let mut out = [0u8; $n];
                hex::decode_to_slice(s, &mut out).map_err(|_| IdError::Hex { kind: $kind, len: 2 * $n })?;
                Ok(Self(out))
            }

            /// The lowercase hex form.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&self.to_hex())
                } else {
                    s.serialize_bytes(&self.0)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = String::deserialize(d)?;
                    Self::from_hex(&s).map_err(serde::de::Error::custom)
                } else {
                    let b: serde_bytes::ByteBuf = serde_bytes::ByteBuf::deserialize(d)?;
                    let arr: [u8; $n] = b.as_slice().try_into().map_err(|_| {
                        serde::de::Error::custom(concat!($kind, " must be ", stringify!($n), " bytes"))
                    })?;
                    Ok(Self(arr))
                }
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                crate::ids::openapi::hex($kind, $n)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

byte_id!(
    /// A SHA-256 digest: event hashes, previous-event links and evidence content hashes.
    Hash, "hash", 32
);
byte_id!(
    /// A 128-bit event identifier, derived from the command id and the event's index in its
    /// commit, so a retried command produces the same event ids.
    EventId, "event id", 16
);

impl Hash {
    /// The hash that precedes a case's first event.
    pub const ZERO: Hash = Hash([0; 32]);

    /// SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Hash {
        Hash(Sha256::digest(bytes).into())
    }
}

impl EventId {
    /// The id of the `index`-th event produced by `command` on `case`.
    pub fn derive(case: &CaseId, command: &CommandId, index: u32) -> EventId {
        let mut h = Sha256::new();
        h.update(b"gridcase.event-id.v1\0");
        h.update(case.as_str().as_bytes());
        h.update([0]);
        h.update(command.as_str().as_bytes());
        h.update(index.to_be_bytes());
        let d = h.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&d[..16]);
        EventId(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids_are_subject_safe() {
        assert!(CaseId::new("330802-2026-000001").is_ok());
        assert!(matches!(
            CaseId::new("a.b"),
            Err(IdError::Character { ch: '.', .. })
        ));
        assert!(matches!(CaseId::new(""), Err(IdError::Length { .. })));
        assert!(matches!(
            CaseId::new("x".repeat(65)),
            Err(IdError::Length { .. })
        ));
        assert!(matches!(
            CaseId::new("a b"),
            Err(IdError::Character { ch: ' ', .. })
        ));
        assert!(CommandId::new("cmd:1.2-3").is_ok());
        // The first refused character is named whole, also when it is not ASCII.
        assert!(matches!(
            CaseId::new("ab案件-1"),
            Err(IdError::Character { ch: '案', .. })
        ));
        assert!(matches!(
            ActorId::new("gw-1é"),
            Err(IdError::Character { ch: 'é', .. })
        ));
    }

    #[test]
    fn ids_deserialize_with_validation() {
        let ok: CaseId = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(ok.as_str(), "abc");
        assert!(serde_json::from_str::<CaseId>("\"a*c\"").is_err());
    }

    #[test]
    fn hashes_round_trip_hex_and_msgpack() {
        let h = Hash::of(b"x");
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        let bytes = rmp_serde::to_vec(&h).unwrap();
        assert_eq!(bytes.len(), 34, "bin8 header + 32 bytes");
        assert_eq!(rmp_serde::from_slice::<Hash>(&bytes).unwrap(), h);
        assert!(Hash::from_hex("zz").is_err());
    }

    #[test]
    fn event_ids_are_deterministic_and_distinct() {
        let c = CaseId::new("c1").unwrap();
        let k = CommandId::new("k1").unwrap();
        assert_eq!(EventId::derive(&c, &k, 0), EventId::derive(&c, &k, 0));
        assert_ne!(EventId::derive(&c, &k, 0), EventId::derive(&c, &k, 1));
    }
}
