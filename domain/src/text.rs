//! Free text that may name people — a summary, a note, a reason — clear or sealed.
//!
//! The decider writes free text clear ([`Text::Clear`]); the server seals it under the case's
//! own key before the events are chained ([`Text::Sealed`]: the personal data vault's bytes),
//! so the log, its hash chain and every export carry only ciphertext, and destroying the case
//! key makes the text unreadable while the chain still verifies. Records written before
//! sealing existed, fixtures and tests hold clear text, which stays readable forever.
//!
//! Stored form (named-field MessagePack): clear text is a `str`, sealed text a `bin`, so a
//! record of either kind decodes with the same schema and old golden files are unchanged. In
//! JSON (exports, API answers) sealed text is `{"sealed": "<hex>"}`.
//!
//! Readers that show text open it with a [`TextOpener`] (the vault's); [`Opened`] says what
//! came out.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::ids::CaseId;

/// The label a case's summary is sealed under, by the report and by a correction alike (the
/// case view holds whichever came last, and opens it under this one label).
pub const SUMMARY_LABEL: &str = "case.summary";

/// What stands for sealed text that was not opened, where clear text is needed.
pub const SEALED_MARK: &str = "［已加密］";

/// Free text of an event or a case view.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Text {
    /// Clear text.
    Clear(String),
    /// Ciphertext under the case's key, with the vault's version byte.
    Sealed(Vec<u8>),
}

impl Default for Text {
    fn default() -> Self {
        Text::Clear(String::new())
    }
}

impl Text {
    /// The clear text, if this is clear.
    pub fn clear(&self) -> Option<&str> {
        match self {
            Text::Clear(s) => Some(s),
            Text::Sealed(_) => None,
        }
    }

    /// The clear text, or [`SEALED_MARK`] for sealed text nobody opened (readers that show
    /// text open it first: [`Text::open`]).
    pub fn to_clear_or_mark(&self) -> String {
        match self {
            Text::Clear(s) => s.clone(),
            Text::Sealed(_) => SEALED_MARK.to_owned(),
        }
    }

    /// Whether this is ciphertext.
    pub fn is_sealed(&self) -> bool {
        matches!(self, Text::Sealed(_))
    }

    /// Empty clear text (what optional notes are when none was given).
    pub fn is_empty(&self) -> bool {
        matches!(self, Text::Clear(s) if s.is_empty())
    }

    /// The text as a reader sees it: clear text as it is, sealed text opened by `opener`
    /// (`None`: nobody can open it here).
    pub fn open(&self, case: &CaseId, label: &str, opener: Option<&dyn TextOpener>) -> Opened {
        match self {
            Text::Clear(s) => Opened::Clear(s.clone()),
            Text::Sealed(bytes) => match opener {
                Some(o) => o.open(case, label, bytes),
                None => Opened::Unavailable,
            },
        }
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text::Clear(s)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::Clear(s.to_owned())
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text::Clear(s.clone())
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.clear() == Some(other)
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.clear() == Some(*other)
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.clear() == Some(other.as_str())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Text::Clear(s) => fmt::Debug::fmt(s, f),
            Text::Sealed(b) => write!(f, "Sealed({} bytes)", b.len()),
        }
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Text::Clear(text) => s.serialize_str(text),
            Text::Sealed(bytes) if s.is_human_readable() => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("sealed", &hex::encode(bytes))?;
                m.end()
            }
            Text::Sealed(bytes) => s.serialize_bytes(bytes),
        }
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("text (a string) or sealed text (bytes, or {\"sealed\": hex})")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
        Ok(Text::Clear(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
        Ok(Text::Clear(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Text, E> {
        Ok(Text::Sealed(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Text, E> {
        Ok(Text::Sealed(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(b) = seq.next_element::<u8>()? {
            bytes.push(b);
        }
        Ok(Text::Sealed(bytes))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
        let mut sealed = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "sealed" {
                let h: String = map.next_value()?;
                sealed = Some(hex::decode(&h).map_err(de::Error::custom)?);
            } else {
                return Err(de::Error::unknown_field(&key, &["sealed"]));
            }
        }
        sealed
            .map(Text::Sealed)
            .ok_or_else(|| de::Error::missing_field("sealed"))
    }
}

/// Free text in API answers is the text (the server opens it for the reader); the log and
/// exports carry sealed text as `{"sealed": "<hex>"}`.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Text {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("The text.")),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some(
                        "Text sealed under the case's key, as the log holds it (hex).",
                    ))
                    .property("sealed", ObjectBuilder::new().schema_type(Type::String))
                    .required("sealed"),
            )
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Text {}

/// What a reader gets from free text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// The text.
    Clear(String),
    /// The case's key was destroyed (已删除).
    Erased,
    /// It cannot be opened here: no key in this process, or the ciphertext does not
    /// authenticate.
    Unavailable,
}

impl Opened {
    /// The clear text, if any.
    pub fn text(&self) -> Option<&str> {
        match self {
            Opened::Clear(s) => Some(s),
            Opened::Erased | Opened::Unavailable => None,
        }
    }

    /// The text, or the words a page shows where it was: `erased` (e.g. 已删除) or
    /// `unavailable`.
    pub fn or<'a>(&'a self, erased: &'a str, unavailable: &'a str) -> &'a str {
        match self {
            Opened::Clear(s) => s,
            Opened::Erased => erased,
            Opened::Unavailable => unavailable,
        }
    }
}

/// Opens sealed text of a case without a person reading it (the system's own indexes) or
/// after the read was recorded by the caller; `label` is the field the text was sealed as
/// (bound as associated data).
pub trait TextOpener: Send + Sync + fmt::Debug {
    /// The clear text of `sealed`, or why not.
    fn open(&self, case: &CaseId, label: &str, sealed: &[u8]) -> Opened;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Body {
        summary: Text,
        note: Option<Text>,
    }

    #[test]
    fn clear_text_is_a_msgpack_string_and_sealed_text_bytes() {
        let clear = Body {
            summary: "漏水".into(),
            note: None,
        };
        let bytes = rmp_serde::to_vec_named(&clear).unwrap();
        // The same bytes as a `String` field would give: old records decode unchanged.
        #[derive(Serialize)]
        struct Old {
            summary: String,
            note: Option<String>,
        }
        let old = rmp_serde::to_vec_named(&Old {
            summary: "漏水".into(),
            note: None,
        })
        .unwrap();
        assert_eq!(bytes, old);
        assert_eq!(rmp_serde::from_slice::<Body>(&bytes).unwrap(), clear);
        let sealed = Body {
            summary: Text::Sealed(vec![1, 0, 255, 7]),
            note: Some(Text::Sealed(vec![1])),
        };
        let bytes = rmp_serde::to_vec_named(&sealed).unwrap();
        assert!(
            bytes.windows(6).any(|w| w == [0xc4, 4, 1, 0, 255, 7]),
            "a bin 8"
        );
        assert_eq!(rmp_serde::from_slice::<Body>(&bytes).unwrap(), sealed);
    }

    #[test]
    fn json_names_sealed_text_and_reads_it_back() {
        let t = Text::Sealed(vec![0xab, 0x01]);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"sealed":"ab01"}"#);
        assert_eq!(serde_json::from_str::<Text>(&json).unwrap(), t);
        assert_eq!(
            serde_json::from_str::<Text>(r#""说明""#).unwrap(),
            Text::from("说明")
        );
        assert!(serde_json::from_str::<Text>(r#"{"other":"ab"}"#).is_err());
    }

    #[test]
    fn only_clear_text_equals_a_string() {
        assert_eq!(Text::from("a"), "a");
        assert_ne!(Text::Sealed(b"a".to_vec()), "a");
        assert!(Text::default().is_empty());
        assert!(!Text::Sealed(vec![]).is_empty());
        let case: CaseId = "c-1".parse().unwrap();
        assert_eq!(
            Text::Sealed(vec![1]).open(&case, "summary", None),
            Opened::Unavailable
        );
        assert_eq!(
            Text::from("x").open(&case, "summary", None),
            Opened::Clear("x".into())
        );
    }
}
