//! The stored form of a commit — the one home of the log's storage format — and stored
//! commits as bytes, for readers that must report damage instead of stopping at it.
//!
//! Every backend stores a commit as one value: a CRC-32 of the body (u32 big-endian), then
//! the body, the MessagePack (named fields) of `{case_id, command_id, events, fingerprint?}`
//! (the request's keyed fingerprint, absent in commits stored before it was kept). The position
//! is not in the value: it is the embedded store's key, or the NATS stream sequence.
//!
//! Commits in the layout this build writes are read straight from their bytes (`raw/direct.rs`);
//! serde reads (or refuses) any other, so both accept and read exactly the same commits.
//!
//! [`RawCommit`] is such a value with its position (and, on NATS, its subject), undecoded.
//! [`RawCommit::decode`] checks it step by step and names what is wrong as a [`RawError`];
//! the replay tool reports those as findings. The backends' own readers use
//! [`RawCommit::into_committed`], which turns any of them into [`LogError::Corrupt`] naming
//! the case when the subject or the bytes tell it.

use std::sync::Arc;

use gridcase_domain::{CaseId, CodecError, CommandId, EventRecord};
use serde::{Deserialize, Serialize};

use crate::log::{Committed, Fingerprint, LogError, Position};

pub(crate) mod direct;

/// The body of a stored commit (the position is the key or the stream sequence). Commits
/// stored before fingerprints were kept have none.
#[derive(Debug, Deserialize)]
pub(crate) struct StoredCommit {
    pub(crate) case_id: CaseId,
    pub(crate) command_id: CommandId,
    pub(crate) events: Vec<EventRecord>,
    #[serde(default)]
    pub(crate) fingerprint: Option<Fingerprint>,
}

/// Encodes a commit into its stored value: CRC-32 framing around the MessagePack body.
pub(crate) fn encode_value(
    case_id: &CaseId,
    command_id: &CommandId,
    events: &[EventRecord],
    fingerprint: Option<&Fingerprint>,
) -> Result<Vec<u8>, LogError> {
    #[derive(Serialize)]
    struct Borrowed<'a> {
        case_id: &'a CaseId,
        command_id: &'a CommandId,
        events: &'a [EventRecord],
        #[serde(skip_serializing_if = "Option::is_none")]
        fingerprint: Option<&'a Fingerprint>,
    }
    let body = rmp_serde::to_vec_named(&Borrowed {
        case_id,
        command_id,
        events,
        fingerprint,
    })
    .map_err(|e| LogError::storage("encoding a commit", e))?;
    Ok(frame(&body))
}

/// Wraps commit bytes with their CRC-32 (u32 big-endian, then the bytes), so a damaged value
/// is reported, never misread.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 4);
    v.extend_from_slice(&crc32fast::hash(body).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// Why a stored value is not a commit.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RawError {
    /// Shorter than the 4-byte checksum.
    #[error("truncated value ({0} bytes)")]
    Truncated(usize),
    /// The CRC-32 does not match the bytes: damaged or edited without re-framing.
    #[error("checksum mismatch (stored {stored:08x}, computed {computed:08x})")]
    Checksum {
        /// The stored CRC-32.
        stored: u32,
        /// The CRC-32 of the bytes.
        computed: u32,
    },
    /// The bytes are not a commit.
    #[error("undecodable commit")]
    Undecodable(#[source] Arc<CodecError>),
    /// A NATS message on a subject that is not its case's.
    #[error("a commit of case {case} stored on subject {subject}")]
    WrongSubject {
        /// The case in the payload.
        case: CaseId,
        /// The subject.
        subject: String,
    },
}

/// A stored commit, undecoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCommit {
    /// Its global position (the stream sequence on NATS).
    pub position: Position,
    /// The NATS subject it was published to (`None` in the embedded store).
    pub subject: Option<String>,
    /// The stored value: CRC-32 (u32 BE) followed by the MessagePack of the commit.
    pub value: Vec<u8>,
}

impl RawCommit {
    /// Checks the CRC-32 and returns the commit bytes.
    pub fn body(&self) -> Result<&[u8], RawError> {
        unframe(&self.value)
    }

    /// Checks the framing, decodes the commit and, on NATS, checks its subject. Does not look
    /// at hashes or versions (the replay tool's `verify` does).
    pub fn decode(&self) -> Result<Committed, RawError> {
        let c = decode_body(self.position, self.body()?)?;
        if let Some(subject) = &self.subject {
            if subject.rsplit('.').next() != Some(c.case_id.as_str()) {
                return Err(RawError::WrongSubject {
                    case: c.case_id,
                    subject: subject.clone(),
                });
            }
        }
        Ok(c)
    }

    /// Decodes the commit bytes even though the checksum failed, to name the damaged case.
    pub fn decode_ignoring_checksum(&self) -> Option<Committed> {
        body_unchecked(&self.value).and_then(|body| decode_body(self.position, body).ok())
    }

    /// The case a NATS subject names (`<prefix>.<partition>.<case id>`), if any.
    pub fn case_from_subject(&self) -> Option<CaseId> {
        let subject = self.subject.as_deref()?;
        CaseId::new(subject.rsplit('.').next()?).ok()
    }

    /// The case this value belongs to as far as it can be told: from the subject (NATS), else
    /// from the bytes even if their checksum failed.
    pub fn case_hint(&self) -> Option<CaseId> {
        self.case_from_subject()
            .or_else(|| self.decode_ignoring_checksum().map(|c| c.case_id))
    }

    /// [`RawCommit::decode`] for readers that stop at damage: any problem is
    /// [`LogError::Corrupt`], naming the case when the subject or the bytes tell it.
    pub fn into_committed(self) -> Result<Committed, LogError> {
        match self.decode() {
            Ok(c) => Ok(c),
            Err(e) => Err(LogError::Corrupt {
                position: self.position,
                case: match &e {
                    RawError::WrongSubject { subject, .. } => {
                        CaseId::new(subject.rsplit('.').next().unwrap_or_default()).ok()
                    }
                    _ => self.case_hint(),
                },
                cause: e.into(),
            }),
        }
    }
}

/// A stored value's commit bytes without checking its CRC-32 (to name what a damaged value
/// held); `None` when it is too short to have any.
pub(crate) fn body_unchecked(value: &[u8]) -> Option<&[u8]> {
    value.get(4..)
}

/// Checks a stored value's CRC-32 and returns the commit bytes.
pub(crate) fn unframe(value: &[u8]) -> Result<&[u8], RawError> {
    if value.len() < 4 {
        return Err(RawError::Truncated(value.len()));
    }
    let (crc, body) = value.split_at(4);
    let stored = u32::from_be_bytes(crc.try_into().expect("4 bytes"));
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(RawError::Checksum { stored, computed });
    }
    Ok(body)
}

/// [`RawCommit::decode`] on borrowed bytes, with no subject to check: the framing checked and
/// the commit at `position` decoded (its events' bodies are not).
pub fn decode_value(position: Position, value: &[u8]) -> Result<Committed, RawError> {
    decode_body(position, unframe(value)?)
}

/// Decodes a stored value for a reader that stops at damage: from the borrowed bytes, and only
/// for a value that does not decode, copied to name what it holds in [`LogError::Corrupt`].
pub(crate) fn decode_stored(position: Position, value: &[u8]) -> Result<Committed, LogError> {
    decode_value(position, value).or_else(|_| {
        RawCommit {
            position,
            subject: None,
            value: value.to_vec(),
        }
        .into_committed()
    })
}

/// Decodes commit bytes: read directly when they have the layout this build writes (the
/// fast path, see [`direct`]), else through serde, which decides what they are.
fn decode_body(position: Position, body: &[u8]) -> Result<Committed, RawError> {
    let s = match direct::decode(body) {
        Some(fields) => fields,
        None => decode_with_serde(body)?,
    };
    Ok(Committed {
        position,
        case_id: s.case_id,
        command_id: s.command_id,
        events: s.events,
        fingerprint: s.fingerprint,
    })
}

/// Commit bytes decoded through serde: any layout serde reads, and the decoder's own words
/// for bytes that are not a commit.
fn decode_with_serde(body: &[u8]) -> Result<StoredCommit, RawError> {
    rmp_serde::from_slice(body).map_err(|e| RawError::Undecodable(Arc::new(CodecError::from(e))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Corruption;

    fn raw(value: Vec<u8>, subject: Option<&str>) -> RawCommit {
        RawCommit {
            position: Position::new(7),
            subject: subject.map(str::to_owned),
            value,
        }
    }

    #[test]
    fn a_damaged_value_names_its_case_from_the_subject() {
        let e = raw(frame(&[0xc1]), Some("gridcase.cases.330802.c-1"))
            .into_committed()
            .unwrap_err();
        match e {
            LogError::Corrupt {
                position,
                ref case,
                ref cause,
            } => {
                assert_eq!(position.get(), 7);
                assert_eq!(case.as_ref().map(|c| c.as_str()), Some("c-1"));
                assert!(matches!(
                    cause,
                    Corruption::Stored(RawError::Undecodable(_))
                ));
                // The cause is the error's source, down to the decoder's own words.
                let chain = gridcase_domain::error_chain(&e);
                assert!(
                    chain.starts_with("corrupt commit at position 7 (case c-1)")
                        && chain.contains(": undecodable commit: undecodable record: "),
                    "{chain}"
                );
                // Each cause once: no message repeated by the error that follows it.
                let parts: Vec<&str> = chain.split(": ").collect();
                assert!(parts.windows(2).all(|w| w[0] != w[1]), "{chain}");
                assert_eq!(chain.matches("undecodable record").count(), 1, "{chain}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn framing_is_checked() {
        assert!(matches!(
            raw(vec![1, 2], None).body(),
            Err(RawError::Truncated(2))
        ));
        let mut v = frame(b"abc");
        assert_eq!(raw(v.clone(), None).body().unwrap(), &b"abc"[..]);
        v[5] ^= 1;
        assert!(matches!(
            raw(v, None).body(),
            Err(RawError::Checksum { .. })
        ));
    }
}
