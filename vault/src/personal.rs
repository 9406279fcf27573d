//! Personal fields of a party: validated, normalised, never printed.
//!
//! Each type keeps its clear text in a [`Zeroizing`] buffer (wiped on drop), has a `Debug`
//! that prints only the type name, and deliberately implements neither `Display` nor
//! `Serialize`: clear text leaves only through an explicit `expose()`.

use gridcase_domain::identifiers::id_number_check_character;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A personal field, as named in associated data, the access log and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// 姓名.
    Name,
    /// 身份证号码.
    IdNumber,
    /// 电话.
    Phone,
    /// 地址.
    Address,
}

impl Field {
    /// Every field.
    pub const ALL: [Field; 4] = [Field::Name, Field::IdNumber, Field::Phone, Field::Address];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::IdNumber => "id_number",
            Self::Phone => "phone",
            Self::Address => "address",
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A personal field that failed validation. Carries no part of the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidField {
    /// Empty after normalisation.
    #[error("{0} is empty")]
    Empty(Field),
    /// Too long.
    #[error("{field} is longer than {max} characters")]
    TooLong {
        /// Which field.
        field: Field,
        /// The limit.
        max: usize,
    },
    /// Not 17 digits and a check character (digit or X).
    #[error("an ID number has 18 characters: 17 digits and a check digit or X")]
    IdNumberShape,
    /// The GB 11643 check character does not match.
    #[error("the ID number's check character does not match (GB 11643)")]
    IdNumberChecksum,
    /// A phone number with too few or too many digits.
    #[error("a phone number has 5 to 15 digits (17 with the international prefix 00)")]
    PhoneLength,
    /// A phone number with characters other than digits, spaces, `+`, `-`, `(`, `)`.
    #[error("a phone number holds only digits, spaces, +, -, ( and )")]
    PhoneCharacters,
}

macro_rules! redacted_debug {
    ($name:ident) => {
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

/// Maps full-width ASCII (U+FF01–U+FF5E) to ASCII and the ideographic space to a space, as
/// NFKC would for these characters (which is all a Chinese form tends to mix in).
fn narrow(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

const MAX_NAME: usize = 100;
const MAX_ADDRESS: usize = 500;

/// A person's name (姓名), as entered (trimmed).
#[derive(Clone, PartialEq, Eq)]
pub struct PersonName(Zeroizing<String>);
redacted_debug!(PersonName);

impl PersonName {
    /// Validates a name: non-empty after trimming, at most 100 characters.
    ///
    /// # Errors
    ///
    /// [`InvalidField::Empty`] or [`InvalidField::TooLong`].
    pub fn new(text: &str) -> Result<Self, InvalidField> {
        let trimmed = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}');
        if trimmed.is_empty() {
            return Err(InvalidField::Empty(Field::Name));
        }
        if trimmed.chars().count() > MAX_NAME {
            return Err(InvalidField::TooLong {
                field: Field::Name,
                max: MAX_NAME,
            });
        }
        Ok(Self(Zeroizing::new(trimmed.to_owned())))
    }

    /// The name as entered.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The form the blind index hashes: full-width letters narrowed, all whitespace removed,
    /// Latin letters lowercased, and the middle dots of transliterated names (·・•‧) unified,
    /// so that `张 三`, `张三` and `Ａｌｉ·Ｋｅ` match `ali·ke`.
    pub fn normalized(&self) -> Zeroizing<String> {
        Zeroizing::new(
            self.0
                .chars()
                .map(narrow)
                .filter(|c| !c.is_whitespace())
                .map(|c| match c {
                    '\u{30FB}' | '\u{2022}' | '\u{2027}' | '\u{FF65}' | '\u{2219}' => '\u{00B7}',
                    c => c.to_ascii_lowercase(),
                })
                .collect(),
        )
    }
}

/// A resident identity card number (居民身份证号码), 18 characters, check character verified
/// (GB 11643-1999, ISO 7064 MOD 11-2). Stored normalised: ASCII digits and upper-case `X`.
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(Zeroizing<String>);
redacted_debug!(IdNumber);

impl IdNumber {
    /// Normalises (full-width digits narrowed, spaces removed, `x` upper-cased) and validates.
    ///
    /// # Errors
    ///
    /// [`InvalidField::IdNumberShape`] or [`InvalidField::IdNumberChecksum`].
    pub fn new(text: &str) -> Result<Self, InvalidField> {
        let normal: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .map(narrow)
                .filter(|c| !c.is_whitespace())
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        let bytes = normal.as_bytes();
        if normal.is_empty() {
            return Err(InvalidField::Empty(Field::IdNumber));
        }
        if bytes.len() != 18
            || !bytes[..17].iter().all(u8::is_ascii_digit)
            || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
        {
            return Err(InvalidField::IdNumberShape);
        }
        if id_number_check_character(&bytes[..17]) != Some(bytes[17]) {
            return Err(InvalidField::IdNumberChecksum);
        }
        Ok(Self(normal))
    }

    /// The normalised number.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The masked form shown by default: the first 3 and last 4 characters, the 11 between as
    /// `*` (`110***********1234`).
    pub fn masked(&self) -> String {
        let s = self.0.as_str();
        format!("{}{}{}", &s[..3], "*".repeat(11), &s[14..])
    }
}

/// The most digits of a normalised phone number: 15 (E.164) after the international prefix 00.
const MAX_PHONE_DIGITS: usize = 17;

/// A Chinese number after its country code, in national form: a mobile number (11 digits,
/// starting with 1) as it is, a landline with its trunk prefix 0 (added if it was left out, as
/// is usual after +86).
fn chinese_national(rest: &str) -> Zeroizing<String> {
    if rest.starts_with('0') || (rest.len() == 11 && rest.starts_with('1')) {
        Zeroizing::new(rest.to_owned())
    } else {
        Zeroizing::new(format!("0{rest}"))
    }
}

/// A phone number, normalised to digits in the form dialled within China: `+86`/`0086`
/// dropped (a landline given after `+86` without its 0 gets it back), other countries as `00`
/// and the international number. Normalising a normalised number changes nothing, so stored
/// and searched numbers hash alike.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(Zeroizing<String>);
redacted_debug!(Phone);

impl Phone {
    /// Normalises to digits and validates the length.
    ///
    /// # Errors
    ///
    /// [`InvalidField::PhoneCharacters`] or [`InvalidField::PhoneLength`].
    pub fn new(text: &str) -> Result<Self, InvalidField> {
        let narrowed: Zeroizing<String> = Zeroizing::new(text.chars().map(narrow).collect());
        if narrowed.trim().is_empty() {
            return Err(InvalidField::Empty(Field::Phone));
        }
        if !narrowed
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_whitespace() || "+-()".contains(c))
        {
            return Err(InvalidField::PhoneCharacters);
        }
        let international = narrowed.trim_start().starts_with('+');
        let digits: Zeroizing<String> =
            Zeroizing::new(narrowed.chars().filter(char::is_ascii_digit).collect());
        let mut digits = if international {
            match digits.strip_prefix("86") {
                Some(rest) => chinese_national(rest),
                None => Zeroizing::new(format!("00{}", digits.as_str())),
            }
        } else {
            digits
        };
        // Until no country code is left, so that the result never starts with 0086 and
        // normalising it again changes nothing.
        while let Some(rest) = digits.strip_prefix("0086") {
            digits = chinese_national(rest);
        }
        if !(5..=MAX_PHONE_DIGITS).contains(&digits.len()) {
            return Err(InvalidField::PhoneLength);
        }
        Ok(Self(digits))
    }

    /// The digits.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The first 3 and last 4 digits, the rest as `*` (`138****5678`); all `*` when shorter
    /// than 8 digits.
    pub fn masked(&self) -> String {
        let s = self.0.as_str();
        if s.len() < 8 {
            return "*".repeat(s.len());
        }
        format!(
            "{}{}{}",
            &s[..3],
            "*".repeat(s.len() - 7),
            &s[s.len() - 4..]
        )
    }
}

/// A postal address, as entered (trimmed). Not indexed.
#[derive(Clone, PartialEq, Eq)]
pub struct Address(Zeroizing<String>);
redacted_debug!(Address);

impl Address {
    /// Validates: non-empty after trimming, at most 500 characters.
    ///
    /// # Errors
    ///
    /// [`InvalidField::Empty`] or [`InvalidField::TooLong`].
    pub fn new(text: &str) -> Result<Self, InvalidField> {
        let trimmed = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}');
        if trimmed.is_empty() {
            return Err(InvalidField::Empty(Field::Address));
        }
        if trimmed.chars().count() > MAX_ADDRESS {
            return Err(InvalidField::TooLong {
                field: Field::Address,
                max: MAX_ADDRESS,
            });
        }
        Ok(Self(Zeroizing::new(trimmed.to_owned())))
    }

    /// The address as entered.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The personal data of one party. Any field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonalData {
    /// 姓名.
    pub name: Option<PersonName>,
    /// 身份证号码.
    pub id_number: Option<IdNumber>,
    /// 电话.
    pub phone: Option<Phone>,
    /// 地址.
    pub address: Option<Address>,
}

impl PersonalData {
    /// The fields present, each with its clear text.
    pub(crate) fn fields(&self) -> Vec<(Field, &str)> {
        let mut out = Vec::new();
        if let Some(v) = &self.name {
            out.push((Field::Name, v.expose()));
        }
        if let Some(v) = &self.id_number {
            out.push((Field::IdNumber, v.expose()));
        }
        if let Some(v) = &self.phone {
            out.push((Field::Phone, v.expose()));
        }
        if let Some(v) = &self.address {
            out.push((Field::Address, v.expose()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of GB 11643-1999 itself.
    const STANDARD_EXAMPLE: &str = "11010519491231002X";

    #[test]
    fn id_number_checksum() {
        let id = IdNumber::new(STANDARD_EXAMPLE).unwrap();
        assert_eq!(id.expose(), STANDARD_EXAMPLE);
        assert_eq!(IdNumber::new("11010519491231002x").unwrap(), id);
        assert_eq!(
            IdNumber::new(" １１０１０５１９４９１２３１００２Ｘ ").unwrap(),
            id
        );
        assert_eq!(
            IdNumber::new("110105194912310021"),
            Err(InvalidField::IdNumberChecksum)
        );
        assert_eq!(
            IdNumber::new("11010519491231002"),
            Err(InvalidField::IdNumberShape)
        );
        assert_eq!(
            IdNumber::new("1101051949123100X2"),
            Err(InvalidField::IdNumberShape)
        );
        assert_eq!(
            IdNumber::new("  "),
            Err(InvalidField::Empty(Field::IdNumber))
        );
        // Another valid number (check digit computed independently): 440524188001010014.
        assert!(IdNumber::new("440524188001010014").is_ok());
    }

    fn check_char(first17: &str) -> char {
        char::from(id_number_check_character(first17.as_bytes()).unwrap())
    }

    proptest::proptest! {
        /// MOD 11-2 catches every single-character error: any number with its check character
        /// is accepted, and changing any one character of it is refused.
        #[test]
        fn id_number_single_errors_are_caught(
            first17 in "[0-9]{17}",
            at in 0usize..18,
            replacement in proptest::sample::select(b"0123456789X".to_vec()),
        ) {
            let valid = format!("{first17}{}", check_char(&first17));
            proptest::prop_assert!(IdNumber::new(&valid).is_ok());
            proptest::prop_assert_eq!(IdNumber::new(&valid).unwrap().masked().len(), 18);
            let mut bytes = valid.clone().into_bytes();
            proptest::prop_assume!(bytes[at] != replacement);
            bytes[at] = replacement;
            let changed = String::from_utf8(bytes).unwrap();
            proptest::prop_assert!(IdNumber::new(&changed).is_err(), "{}", changed);
        }

        /// Phone normalisation is idempotent and keeps only digits.
        #[test]
        fn phone_normalisation_is_idempotent(
            text in "(\\+86|\\+|0086|\\+860086|\\+86086|00)?[0-9 ()-]{3,20}",
        ) {
            if let Ok(phone) = Phone::new(&text) {
                proptest::prop_assert!(phone.expose().bytes().all(|b| b.is_ascii_digit()));
                let again = Phone::new(phone.expose()).unwrap();
                proptest::prop_assert_eq!(again.expose(), phone.expose());
            }
        }
    }

    #[test]
    fn id_number_masking() {
        let id = IdNumber::new(STANDARD_EXAMPLE).unwrap();
        assert_eq!(id.masked(), "110***********002X");
        assert_eq!(id.masked().len(), 18);
    }

    #[test]
    fn phone_normalisation() {
        let want = "13812345678";
        for text in [
            "13812345678",
            "138 1234 5678",
            "138-1234-5678",
            "+86 138 1234 5678",
            "0086-13812345678",
            "１３８１２３４５６７８",
        ] {
            assert_eq!(Phone::new(text).unwrap().expose(), want, "{text}");
        }
        assert_eq!(Phone::new("010-6552 9988").unwrap().expose(), "01065529988");
        assert_eq!(
            Phone::new("+86 10 6552 9988").unwrap().expose(),
            "01065529988"
        );
        assert_eq!(
            Phone::new("+86 (010) 6552 9988").unwrap().expose(),
            "01065529988"
        );
        assert_eq!(
            Phone::new("0086 10 65529988").unwrap().expose(),
            "01065529988"
        );
        assert_eq!(
            Phone::new("+1 415 555 0100").unwrap().expose(),
            "0014155550100"
        );
        assert_eq!(
            Phone::new("001 415 555 0100").unwrap().expose(),
            "0014155550100"
        );
        assert_eq!(Phone::new("1234"), Err(InvalidField::PhoneLength));
        assert_eq!(Phone::new("138abc"), Err(InvalidField::PhoneCharacters));
        assert_eq!(Phone::new("13812345678").unwrap().masked(), "138****5678");
    }

    #[test]
    fn name_normalisation() {
        let a = PersonName::new(" 张 三 ").unwrap();
        assert_eq!(a.expose(), "张 三");
        assert_eq!(&*a.normalized(), "张三");
        let b = PersonName::new("Ａｌｉ・Ｋｅ").unwrap();
        assert_eq!(&*b.normalized(), "ali·ke");
        assert_eq!(
            PersonName::new("\u{3000}"),
            Err(InvalidField::Empty(Field::Name))
        );
    }

    #[test]
    fn debug_never_prints_clear_text() {
        let data = PersonalData {
            name: Some(PersonName::new("张三").unwrap()),
            id_number: Some(IdNumber::new(STANDARD_EXAMPLE).unwrap()),
            phone: Some(Phone::new("13812345678").unwrap()),
            address: Some(Address::new("北京市东城区").unwrap()),
        };
        let shown = format!("{data:?} {data:#?}");
        for secret in [
            "张三",
            STANDARD_EXAMPLE,
            "13812345678",
            "北京",
            "1381",
            "002X",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("PersonName(<redacted>)"));
    }
}
