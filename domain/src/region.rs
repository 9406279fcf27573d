//! Administrative regions along China's five-level hierarchy
//! city 市 → county 县/区 → township 乡镇/街道 → village 村/社区 → grid 网格.
//!
//! * [`Level`] — one of the five levels, ordered bottom-up (`Grid < … < City`).
//! * [`RegionCode`] — a validated, `Copy`, 16-byte division code (统计用区划代码, extended by
//!   three digits for grids). Codes are prefix-nested, so "is X inside Y" is
//!   [`RegionCode::contains`], and codes sort so that every subtree is one contiguous range
//!   ([`RegionCode::subtree_bounds`], [`RegionCode::subtree_key_bounds`]).
//! * [`RegionTree`] — the set of known divisions (loaded from the reference CSV, plus grids),
//!   with names, children and per-level counts.
//!
//! # Code forms
//!
//! | digits | level | example | parent |
//! |---|---|---|---|
//! | 6, ending in `00` | city | `330800` | none (the 2-digit province is not modelled) |
//! | 6, otherwise | county | `330802` | first 4 digits + `00` (`330800`) |
//! | 9 | township | `330802005` | first 6 digits |
//! | 12 | village | `330802005001` | first 9 digits |
//! | 15 | grid | `330802005001007` | first 12 digits |
//!
//! Every segment must be non-zero: the province part (digits 1–2) and the city part
//! (digits 3–4) are never `00` (`xx0000` is a province, not a city); in a code below county
//! level the county part (digits 5–6) is not `00`; the township, village and grid parts are
//! never `000`. These rules are what make every code's parent a valid code of the level
//! directly above, and what make the ordering below contiguous per subtree.
//!
//! ```
//! use gridcase_domain::region::{Level, RegionCode, RegionError};
//!
//! let grid: RegionCode = "330802005001007".parse()?;
//! assert_eq!(grid.level(), Level::Grid);
//! assert_eq!(grid.parent().map(|p| p.to_string()).as_deref(), Some("330802005001"));
//! let county: RegionCode = "330802".parse()?;
//! assert!(county.contains(grid));
//! assert_eq!(grid.lowest_common_ancestor("330802006001001".parse()?), Some(county));
//! assert!(matches!("330802000".parse::<RegionCode>(), Err(RegionError::InvalidCode { .. })));
//! # Ok::<(), RegionError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io::BufRead;
use std::iter::FusedIterator;
use std::ops::Bound;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Number of digits a code is right-padded to (the grid length).
const PAD_DIGITS: usize = 15;

/// `POW10[i] == 10^i`.
const POW10: [u64; 16] = {
    let mut t = [1u64; 16];
    let mut i = 1;
    while i < 16 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// The header line [`RegionTree::from_csv`] requires.
pub const CSV_HEADER: &str = "code,name,level,parent";

/// Longest prefix of a rejected input kept in [`RegionError::InvalidCode`].
const MAX_ECHOED_INPUT: usize = 40;

// ---------------------------------------------------------------------------------------------
// Level
// ---------------------------------------------------------------------------------------------

/// One of the five administrative levels (五级).
///
/// Ordered bottom-up: `Grid < Village < Township < County < City`; the discriminant is the
/// [rank](Level::rank) (grid = 1 … city = 5). Serializes as the lowercase English name
/// (`"grid"`, `"village"`, `"township"`, `"county"`, `"city"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Level {
    /// 网格 — a grid: a village code plus 3 digits (15 digits).
    Grid = 1,
    /// 村社 — a village or urban community 村/社区 (12 digits).
    Village = 2,
    /// 乡镇 — a township, town or subdistrict 乡/镇/街道 (9 digits).
    Township = 3,
    /// 县 — a county, district or county-level city 县/区/县级市 (6 digits, not ending in `00`).
    County = 4,
    /// 市 — a prefecture-level city 地级市 (6 digits ending in `00`).
    City = 5,
}

impl Level {
    /// All levels, bottom-up: grid, village, township, county, city.
    pub const ALL: [Level; 5] = [
        Level::Grid,
        Level::Village,
        Level::Township,
        Level::County,
        Level::City,
    ];

    /// The lowercase English name, as used in serde and in the CSV `level` column.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Grid => "grid",
            Level::Village => "village",
            Level::Township => "township",
            Level::County => "county",
            Level::City => "city",
        }
    }

    /// The Chinese name: 网格, 村社, 乡镇, 县, 市.
    pub const fn zh(self) -> &'static str {
        match self {
            Level::Grid => "网格",
            Level::Village => "村社",
            Level::Township => "乡镇",
            Level::County => "县",
            Level::City => "市",
        }
    }

    /// The rank: grid = 1, village = 2, township = 3, county = 4, city = 5.
    pub const fn rank(self) -> u8 {
        self as u8
    }

    /// The level with the given [rank](Level::rank), if `1..=5`.
    pub const fn from_rank(rank: u8) -> Option<Level> {
        match rank {
            1 => Some(Level::Grid),
            2 => Some(Level::Village),
            3 => Some(Level::Township),
            4 => Some(Level::County),
            5 => Some(Level::City),
            _ => None,
        }
    }

    /// The level directly above (`None` for a city).
    pub const fn parent_level(self) -> Option<Level> {
        Level::from_rank(self.rank() + 1)
    }

    /// The level directly below (`None` for a grid).
    pub const fn child_level(self) -> Option<Level> {
        Level::from_rank(self.rank() - 1)
    }

    /// The number of digits of a code at this level (6, 6, 9, 12 or 15).
    pub const fn code_len(self) -> usize {
        match self {
            Level::City | Level::County => 6,
            Level::Township => 9,
            Level::Village => 12,
            Level::Grid => 15,
        }
    }

    /// Index 0..5 into per-level arrays, bottom-up (same order as [`Level::ALL`]).
    const fn index(self) -> usize {
        self as usize - 1
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Level {
    type Err = RegionError;

    /// Parses the lowercase English name (`"grid"`, …, `"city"`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| RegionError::InvalidLevel {
                input: echo_input(s),
            })
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// What can go wrong parsing region codes or building a [`RegionTree`].
///
/// Every message says what is wrong and names the code (or line) concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegionError {
    /// The text is not a valid region code (see the [module docs](self) for the forms).
    #[error("invalid region code {input:?}: {reason}")]
    InvalidCode {
        /// The rejected input (truncated if very long).
        input: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The text is not one of `grid`, `village`, `township`, `county`, `city`.
    #[error("invalid region level {input:?}: expected grid, village, township, county or city")]
    InvalidLevel {
        /// The rejected input (truncated if very long).
        input: String,
    },
    /// A well-formed code that is not in the [`RegionTree`].
    #[error("unknown region {code}: no such division is known")]
    UnknownRegion {
        /// The code that was looked up.
        code: RegionCode,
    },
    /// A region cannot be added because its parent is not in the [`RegionTree`].
    #[error("cannot add region {code}: its parent {parent} is not known")]
    UnknownParent {
        /// The region being added.
        code: RegionCode,
        /// Its parent (by code), which is missing.
        parent: RegionCode,
    },
    /// A malformed or inconsistent line in a divisions CSV (1-based line number; the header
    /// is line 1). Problems with a row's content are reported here with the message of the
    /// underlying error (invalid code, duplicate, parent mismatch, unknown parent, …).
    #[error("divisions CSV line {line}: {reason}")]
    Csv {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The region is already in the [`RegionTree`].
    #[error("duplicate region code {code}: it is already known")]
    DuplicateCode {
        /// The code added twice.
        code: RegionCode,
    },
    /// A stated parent differs from the parent implied by the code.
    #[error("region {code}: stated parent is {found:?} but by its code the parent is {expected}")]
    ParentMismatch {
        /// The region.
        code: RegionCode,
        /// The parent implied by the code (for a city, its 2-digit province).
        expected: String,
        /// The parent stated (e.g. in the CSV `parent` column).
        found: String,
    },
    /// A grid operation was given a code that is not a 15-digit grid code.
    #[error("region {code} is a {level} code, not a 15-digit grid code", level = .code.level())]
    NotAGrid {
        /// The offending code.
        code: RegionCode,
    },
    /// Reading the input failed (including invalid UTF-8).
    #[error("reading divisions: {0}")]
    Io(#[from] std::io::Error),
}

fn echo_input(s: &str) -> String {
    match s.char_indices().nth(MAX_ECHOED_INPUT) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}…", &s[..cut]),
    }
}

// ---------------------------------------------------------------------------------------------
// RegionCode
// ---------------------------------------------------------------------------------------------

/// A validated region code at any of the five levels. `Copy`, 16 bytes, no allocation.
///
/// # Representation and order
///
/// Stored as `padded` — the digits right-padded with zeros to 15 digits, as a `u64` — and the
/// number of digits (6, 9, 12 or 15). `330802` is `(330802000000000, 6)`.
///
/// `Ord` compares `padded`, then the length. Because every segment of a valid code is non-zero
/// (see the [module docs](self)), no two valid codes share a `padded` value, and:
///
/// * a parent sorts before all of its descendants (they extend it with non-zero segments);
/// * the subtree of a code (itself and all descendants) is exactly the codes whose `padded`
///   lies in the half-open range [`subtree_bounds`](RegionCode::subtree_bounds) — for a city
///   `[prefix4·10¹¹, (prefix4+1)·10¹¹)`, for a county `[prefix6·10⁹, (prefix6+1)·10⁹)`, and so
///   on — so a subtree is one contiguous run in any sorted collection (a `BTreeMap`, a sled tree
///   keyed by [`to_sortable_bytes`](RegionCode::to_sortable_bytes), a sorted `Vec`).
///
/// A city's subtree is the codes sharing its first 4 digits: the city, its counties
/// (`3308xx`) and everything below them.
///
/// Text form (`Display`, `FromStr`, serde) is the plain digit string; deserializing validates.
/// `Debug` shows `RegionCode(330802)`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionCode {
    // Field order matters: the derived `Ord` compares `padded` first.
    padded: u64,
    len: u8,
}

impl RegionCode {
    /// Parses and validates a code (see the [module docs](self) for the accepted forms).
    ///
    /// # Errors
    /// [`RegionError::InvalidCode`] naming the input and the reason.
    pub fn parse(s: &str) -> Result<RegionCode, RegionError> {
        RegionCode::parse_ascii(s.as_bytes()).map_err(|reason| RegionError::InvalidCode {
            input: echo_input(s),
            reason,
        })
    }

    /// Validates ASCII digits; the error is the reason.
    fn parse_ascii(b: &[u8]) -> Result<RegionCode, &'static str> {
        if b.is_empty() {
            return Err("the code is empty");
        }
        if !b.iter().all(u8::is_ascii_digit) {
            return Err("a code must consist of ASCII digits 0-9 only");
        }
        let len = b.len();
        if !matches!(len, 6 | 9 | 12 | 15) {
            return Err(
                "a code must have 6 (city/county), 9 (township), 12 (village) or 15 (grid) digits",
            );
        }
        if &b[0..2] == b"00" {
            return Err("the province part (digits 1-2) must not be 00");
        }
        if &b[2..4] == b"00" {
            return Err(
                "the city part (digits 3-4) must not be 00 (xx0000 is a province, not a city)",
            );
        }
        if len > 6 && &b[4..6] == b"00" {
            return Err(
                "the county part (digits 5-6) of a township, village or grid code must not be 00",
            );
        }
        if len >= 9 && &b[6..9] == b"000" {
            return Err("the township part (digits 7-9) must not be 000");
        }
        if len >= 12 && &b[9..12] == b"000" {
            return Err("the village part (digits 10-12) must not be 000");
        }
        if len == 15 && &b[12..15] == b"000" {
            return Err("the grid part (digits 13-15) must not be 000");
        }
        let value = b.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
        Ok(RegionCode {
            padded: value * POW10[PAD_DIGITS - len],
            // `len` is at most 15.
            len: len as u8,
        })
    }

    /// Rebuilds a code from its padded value and digit count, validating both.
    ///
    /// # Errors
    /// [`RegionError::InvalidCode`] if the pair is not the representation of a valid code.
    pub fn from_padded(padded: u64, len: u8) -> Result<RegionCode, RegionError> {
        let invalid = |reason| RegionError::InvalidCode {
            input: format!("padded={padded}, len={len}"),
            reason,
        };
        if !matches!(len, 6 | 9 | 12 | 15) {
            return Err(invalid("the length must be 6, 9, 12 or 15 digits"));
        }
        if padded >= POW10[PAD_DIGITS] {
            return Err(invalid("the padded value must have at most 15 digits"));
        }
        let scale = POW10[PAD_DIGITS - usize::from(len)];
        // Written without `%`/`is_multiple_of` to stay within the 1.85 MSRV lint-clean.
        if padded / scale * scale != padded {
            return Err(invalid(
                "the padded value has non-zero digits beyond the length",
            ));
        }
        let candidate = RegionCode { padded, len };
        let mut buf = [0u8; PAD_DIGITS];
        let digits = candidate.write_digits(&mut buf);
        RegionCode::parse_ascii(digits.as_bytes()).map_err(invalid)
    }

    /// The code right-padded with zeros to 15 digits (`330802` → `330802000000000`).
    pub const fn padded(self) -> u64 {
        self.padded
    }

    /// The number of digits: 6, 9, 12 or 15.
    pub const fn digit_len(self) -> u8 {
        self.len
    }

    /// The code's digits as a number (`330802005` → `330802005`).
    pub const fn value(self) -> u64 {
        self.padded / POW10[PAD_DIGITS - self.len as usize]
    }

    /// The level: 15 digits grid, 12 village, 9 township, 6 ending in `00` city, else county.
    pub const fn level(self) -> Level {
        match self.len {
            15 => Level::Grid,
            12 => Level::Village,
            9 => Level::Township,
            _ => {
                // Digits 5-6 (the county part): `00` for a city.
                let county_part = (self.padded / POW10[9]) % 100;
                if county_part == 0 {
                    Level::City
                } else {
                    Level::County
                }
            }
        }
    }

    /// The code truncated to `level`; only meaningful for `level >= self.level()`.
    const fn truncate_to(self, level: Level) -> RegionCode {
        // Digits kept: city 4 (then padded to 6), county 6, township 9, village 12, grid 15.
        let zeroed = match level {
            Level::City => 11,
            Level::County => 9,
            Level::Township => 6,
            Level::Village => 3,
            Level::Grid => 0,
        };
        let scale = POW10[zeroed];
        RegionCode {
            padded: self.padded - self.padded % scale,
            len: level.code_len() as u8,
        }
    }

    /// The parent: grid → its 12-digit village, village → 9-digit township, township →
    /// 6-digit county, county → its city (first 4 digits + `00`), city → `None`.
    pub const fn parent(self) -> Option<RegionCode> {
        match self.level().parent_level() {
            Some(level) => Some(self.truncate_to(level)),
            None => None,
        }
    }

    /// The parent, grandparent, … up to and including the city (excludes `self`).
    pub fn ancestors(self) -> Ancestors {
        Ancestors {
            next: self.parent(),
        }
    }

    /// `self`, then its parent, grandparent, … up to and including the city.
    pub fn self_and_ancestors(self) -> Ancestors {
        Ancestors { next: Some(self) }
    }

    /// The ancestor (or `self`) at `level`; `None` if `level` is below `self`'s level.
    pub const fn ancestor_at(self, level: Level) -> Option<RegionCode> {
        if level.rank() < self.level().rank() {
            None
        } else {
            Some(self.truncate_to(level))
        }
    }

    /// The county containing this code (itself for a county); `None` for a city.
    pub const fn county(self) -> Option<RegionCode> {
        self.ancestor_at(Level::County)
    }

    /// The city containing this code (itself for a city). Every code has one.
    pub const fn city(self) -> RegionCode {
        self.truncate_to(Level::City)
    }

    /// The half-open range `[lower, upper)` of [`padded`](RegionCode::padded) values of this
    /// code's subtree (itself and all descendants). For any valid `other`,
    /// `self.contains(other)` iff `lower <= other.padded() < upper`.
    pub const fn subtree_bounds(self) -> (u64, u64) {
        let span = match self.level() {
            Level::City => POW10[11],
            Level::County => POW10[9],
            Level::Township => POW10[6],
            Level::Village => POW10[3],
            Level::Grid => 1,
        };
        (self.padded, self.padded + span)
    }

    /// The half-open range `[lower, upper)` of [sortable keys](RegionCode::to_sortable_bytes)
    /// of this code's subtree: `lower` is `self`'s own key, `upper` is exclusive. For a
    /// storage range scan over keys that start with a region key.
    pub const fn subtree_key_bounds(self) -> ([u8; 9], [u8; 9]) {
        let (_, upper) = self.subtree_bounds();
        (self.to_sortable_bytes(), sortable_key(upper, 0))
    }

    /// Is `other` equal to `self` or one of its descendants? (For a city: does `other`
    /// share its first 4 digits.) Siblings, ancestors and other branches give `false`.
    pub const fn contains(self, other: RegionCode) -> bool {
        let (lower, upper) = self.subtree_bounds();
        lower <= other.padded && other.padded < upper
    }

    /// The lowest region containing both `self` and `other` (one of them if it contains the
    /// other); `None` when they are in different cities. A matter spanning two grids belongs
    /// to their lowest common ancestor.
    pub fn lowest_common_ancestor(self, other: RegionCode) -> Option<RegionCode> {
        self.self_and_ancestors().find(|a| a.contains(other))
    }

    /// A 9-byte storage key with the same order as `RegionCode`: `padded` as big-endian `u64`
    /// followed by the digit count. Invert with [`from_sortable_bytes`](RegionCode::from_sortable_bytes).
    pub const fn to_sortable_bytes(self) -> [u8; 9] {
        sortable_key(self.padded, self.len)
    }

    /// Decodes (and validates) a key made by [`to_sortable_bytes`](RegionCode::to_sortable_bytes).
    /// Takes a slice so storage keys can be passed directly; it must be exactly 9 bytes.
    ///
    /// # Errors
    /// [`RegionError::InvalidCode`] if the slice is not 9 bytes or does not encode a valid code.
    pub fn from_sortable_bytes(bytes: &[u8]) -> Result<RegionCode, RegionError> {
        let Ok(key) = <[u8; 9]>::try_from(bytes) else {
            return Err(RegionError::InvalidCode {
                input: format!("{bytes:02x?}"),
                reason: "a sortable region key must be exactly 9 bytes",
            });
        };
        let mut be = [0u8; 8];
        be.copy_from_slice(&key[..8]);
        RegionCode::from_padded(u64::from_be_bytes(be), key[8])
    }

    /// Writes the digits into `buf` and returns them as a `&str` (no allocation).
    pub fn write_digits<'a>(&self, buf: &'a mut [u8; 15]) -> &'a str {
        let len = usize::from(self.len);
        let mut v = self.value();
        for slot in buf[..len].iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        std::str::from_utf8(&buf[..len]).expect("region code digits are ASCII")
    }
}

const fn sortable_key(padded: u64, len: u8) -> [u8; 9] {
    let be = padded.to_be_bytes();
    [be[0], be[1], be[2], be[3], be[4], be[5], be[6], be[7], len]
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; PAD_DIGITS];
        f.pad(self.write_digits(&mut buf))
    }
}

impl fmt::Debug for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; PAD_DIGITS];
        write!(f, "RegionCode({})", self.write_digits(&mut buf))
    }
}

impl FromStr for RegionCode {
    type Err = RegionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RegionCode::parse(s)
    }
}

impl TryFrom<&str> for RegionCode {
    type Error = RegionError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        RegionCode::parse(s)
    }
}

impl From<RegionCode> for String {
    fn from(code: RegionCode) -> String {
        code.to_string()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for RegionCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::ids::openapi::string(
            "A division code: 6 digits (city, county), 9 (township), 12 (village) or 15 (grid), \
             prefix-nested.",
            None,
            Some("^[0-9]{6}([0-9]{3}([0-9]{3}([0-9]{3})?)?)?$"),
        )
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for RegionCode {}

impl Serialize for RegionCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; PAD_DIGITS];
        serializer.serialize_str(self.write_digits(&mut buf))
    }
}

impl<'de> Deserialize<'de> for RegionCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CodeVisitor;

        impl serde::de::Visitor<'_> for CodeVisitor {
            type Value = RegionCode;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a region code string of 6, 9, 12 or 15 digits")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RegionCode, E> {
                RegionCode::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(CodeVisitor)
    }
}

/// Iterator over a code's ancestors, bottom-up; see [`RegionCode::ancestors`] and
/// [`RegionCode::self_and_ancestors`].
#[derive(Debug, Clone)]
pub struct Ancestors {
    next: Option<RegionCode>,
}

impl Iterator for Ancestors {
    type Item = RegionCode;

    fn next(&mut self) -> Option<RegionCode> {
        let current = self.next?;
        self.next = current.parent();
        Some(current)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // From `next` up to the city inclusive.
        let n = self.next.map_or(0, |c| usize::from(6 - c.level().rank()));
        (n, Some(n))
    }
}

impl ExactSizeIterator for Ancestors {}
impl FusedIterator for Ancestors {}

// ---------------------------------------------------------------------------------------------
// RegionTree
// ---------------------------------------------------------------------------------------------

/// A known division: what [`RegionTree::get`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionInfo {
    /// Its code.
    pub code: RegionCode,
    /// Its name (e.g. `柯城区`). Grids added without a name get `第N网格` (N = grid number).
    pub name: String,
    /// Its level (always `code.level()`).
    pub level: Level,
    /// Its parent (always `code.parent()`; `None` for a city).
    pub parent: Option<RegionCode>,
}

#[derive(Debug, Clone)]
struct Node {
    info: RegionInfo,
    /// Sorted.
    children: Vec<RegionCode>,
}

/// The set of known divisions: every region's parent is also known (cities are the roots).
///
/// Backed by a `BTreeMap` in [`RegionCode`] order, so [`iter`](RegionTree::iter) is sorted and
/// [`subtree`](RegionTree::subtree) is a range scan; each node keeps its sorted children.
/// Comfortable for a province (~27k divisions + ~61k grids). `Clone + Send + Sync`.
#[derive(Debug, Clone, Default)]
pub struct RegionTree {
    nodes: BTreeMap<RegionCode, Node>,
    cities: Vec<RegionCode>,
    counts: [usize; 5],
}

/// One parsed CSV row, before linking.
struct CsvRow {
    code: RegionCode,
    name: String,
    line: usize,
}

impl RegionTree {
    /// An empty tree.
    pub fn new() -> RegionTree {
        RegionTree::default()
    }

    /// Loads divisions from CSV with the header `code,name,level,parent` (see
    /// `fixtures/data/divisions-zhejiang.csv`). Rows may come in any order (a parent may follow
    /// its children); any level may appear, including 15-digit grids. A UTF-8 BOM, `\r\n`
    /// line ends and trailing blank lines are tolerated; quoted fields are not supported.
    ///
    /// Each row is checked: exactly 4 fields; a valid code; a non-empty name; the `level`
    /// column equals the code's level; the `parent` column equals
    /// [`RegionCode::parent`] (for a city: its 2-digit province, e.g. `33`); no duplicate
    /// codes; every parent is present somewhere in the file.
    ///
    /// # Errors
    /// [`RegionError::Csv`] with the 1-based line number (header = line 1) for any malformed
    /// or inconsistent line; [`RegionError::Io`] if reading fails or the input is not UTF-8.
    pub fn from_csv(mut reader: impl BufRead) -> Result<RegionTree, RegionError> {
        let csv_err = |line: usize, reason: String| RegionError::Csv { line, reason };
        let mut buf = String::new();

        if reader.read_line(&mut buf)? == 0 {
            return Err(csv_err(
                1,
                format!("empty input: expected the header {CSV_HEADER:?}"),
            ));
        }
        let header = trim_line_end(&buf);
        let header = header.strip_prefix('\u{feff}').unwrap_or(header);
        if header != CSV_HEADER {
            return Err(csv_err(
                1,
                format!(
                    "expected the header {CSV_HEADER:?}, found {:?}",
                    echo_input(header)
                ),
            ));
        }

        let mut rows: Vec<CsvRow> = Vec::new();
        let mut line_no = 1;
        let mut blank_line: Option<usize> = None;
        loop {
            buf.clear();
            if reader.read_line(&mut buf)? == 0 {
                break;
            }
            line_no += 1;
            let line = trim_line_end(&buf);
            if line.is_empty() {
                blank_line.get_or_insert(line_no);
                continue;
            }
            if let Some(blank) = blank_line {
                return Err(csv_err(
                    blank,
                    "blank line before the end of the file".into(),
                ));
            }
            rows.push(parse_csv_row(line, line_no).map_err(|reason| csv_err(line_no, reason))?);
        }

        // Sorted by code, parents come before their children, and duplicates are adjacent.
        rows.sort_by_key(|r| (r.code, r.line));
        if let Some(pair) = rows.windows(2).find(|w| w[0].code == w[1].code) {
            let (first, again) = (&pair[0], &pair[1]);
            return Err(csv_err(
                again.line,
                format!(
                    "{} (first on line {})",
                    RegionError::DuplicateCode { code: again.code },
                    first.line
                ),
            ));
        }

        let mut tree = RegionTree::new();
        for row in rows {
            let (line, code) = (row.line, row.code);
            tree.insert(code, row.name)
                .map_err(|e| csv_err(line, e.to_string()))?;
        }
        Ok(tree)
    }

    /// Adds a region whose parent is already known (cities need no parent).
    ///
    /// # Errors
    /// [`RegionError::DuplicateCode`] if already present; [`RegionError::UnknownParent`] if its
    /// parent is not known.
    pub fn insert(
        &mut self,
        code: RegionCode,
        name: impl Into<String>,
    ) -> Result<&RegionInfo, RegionError> {
        if self.nodes.contains_key(&code) {
            return Err(RegionError::DuplicateCode { code });
        }
        let parent = code.parent();
        let siblings = match parent {
            None => &mut self.cities,
            Some(p) => match self.nodes.get_mut(&p) {
                Some(node) => &mut node.children,
                None => return Err(RegionError::UnknownParent { code, parent: p }),
            },
        };
        // Absent (checked above), so `Err` gives the insertion point.
        if let Err(at) = siblings.binary_search(&code) {
            siblings.insert(at, code);
        }
        let level = code.level();
        self.counts[level.index()] += 1;
        let node = self.nodes.entry(code).or_insert(Node {
            info: RegionInfo {
                code,
                name: name.into(),
                level,
                parent,
            },
            children: Vec::new(),
        });
        Ok(&node.info)
    }

    /// Adds a grid (a 15-digit code) under its village, which must be known. Without a name
    /// the grid is called `第N网格`, N being its 3-digit suffix as a number.
    ///
    /// # Errors
    /// [`RegionError::NotAGrid`] for a code of another level, [`RegionError::UnknownParent`]
    /// if its village is not known, [`RegionError::DuplicateCode`] if already present.
    pub fn add_grid(
        &mut self,
        code: RegionCode,
        name: Option<String>,
    ) -> Result<&RegionInfo, RegionError> {
        if code.level() != Level::Grid {
            return Err(RegionError::NotAGrid { code });
        }
        let name = name.unwrap_or_else(|| format!("第{}网格", code.value() % 1000));
        self.insert(code, name)
    }

    /// The division with this code, if known.
    pub fn get(&self, code: RegionCode) -> Option<&RegionInfo> {
        self.nodes.get(&code).map(|n| &n.info)
    }

    /// Is this code known?
    pub fn contains_code(&self, code: RegionCode) -> bool {
        self.nodes.contains_key(&code)
    }

    /// The division with this code.
    ///
    /// # Errors
    /// [`RegionError::UnknownRegion`] (its message names the code) if not known.
    pub fn require(&self, code: RegionCode) -> Result<&RegionInfo, RegionError> {
        self.get(code).ok_or(RegionError::UnknownRegion { code })
    }

    /// Parses a code and checks that it is known.
    ///
    /// # Errors
    /// [`RegionError::InvalidCode`] if malformed, [`RegionError::UnknownRegion`] if unknown.
    pub fn parse_known(&self, s: &str) -> Result<RegionCode, RegionError> {
        let code = RegionCode::parse(s)?;
        self.require(code)?;
        Ok(code)
    }

    /// The name of a known division.
    pub fn name(&self, code: RegionCode) -> Option<&str> {
        self.get(code).map(|i| i.name.as_str())
    }

    /// The known children of `code`, sorted (empty if none or if `code` is unknown).
    pub fn children(&self, code: RegionCode) -> &[RegionCode] {
        self.nodes.get(&code).map_or(&[], |n| n.children.as_slice())
    }

    /// The known cities (the roots), sorted.
    pub fn cities(&self) -> &[RegionCode] {
        &self.cities
    }

    /// Number of known divisions (all levels).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Is the tree empty?
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Number of known divisions at `level`.
    pub fn count(&self, level: Level) -> usize {
        self.counts[level.index()]
    }

    /// All known divisions in [`RegionCode`] order (each parent before its descendants).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &RegionInfo> + '_ {
        self.nodes.values().map(|n| &n.info)
    }

    /// The known divisions of `code`'s subtree (itself, if known, and all known
    /// descendants), in [`RegionCode`] order. A range scan; `code` need not be known.
    pub fn subtree(&self, code: RegionCode) -> impl DoubleEndedIterator<Item = &RegionInfo> + '_ {
        let (_, upper) = code.subtree_bounds();
        // Sorts before every real code whose padded value is `upper`.
        let end = RegionCode {
            padded: upper,
            len: 0,
        };
        self.nodes
            .range((Bound::Included(code), Bound::Excluded(end)))
            .map(|(_, n)| &n.info)
    }
}

fn trim_line_end(line: &str) -> &str {
    line.strip_suffix('\n')
        .map_or(line, |l| l.strip_suffix('\r').unwrap_or(l))
}

/// Parses one data line (already without its line end); the error is the reason.
fn parse_csv_row(line: &str, line_no: usize) -> Result<CsvRow, String> {
    if line.contains('"') {
        return Err("quoted fields are not supported".into());
    }
    let fields: Vec<&str> = line.split(',').collect();
    let [code, name, level, parent] = fields[..] else {
        return Err(format!(
            "expected 4 comma-separated fields (code,name,level,parent), found {}",
            fields.len()
        ));
    };
    let code = RegionCode::parse(code).map_err(|e| e.to_string())?;
    if name.trim().is_empty() {
        return Err(format!("region {code}: the name is empty"));
    }
    let level: Level = level.parse().map_err(|e: RegionError| e.to_string())?;
    if level != code.level() {
        return Err(format!(
            "region {code} is a {} code but the level column says {level}",
            code.level()
        ));
    }
    let mut buf = [0u8; PAD_DIGITS];
    let expected = match code.parent() {
        Some(p) => p.write_digits(&mut buf),
        // A city's parent column is its 2-digit province.
        None => &code.write_digits(&mut buf)[..2],
    };
    if parent != expected {
        return Err(RegionError::ParentMismatch {
            code,
            expected: expected.to_owned(),
            found: echo_input(parent),
        }
        .to_string());
    }
    Ok(CsvRow {
        code,
        name: name.to_owned(),
        line: line_no,
    })
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    const ZHEJIANG_CSV: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/data/divisions-zhejiang.csv"
    );

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    fn zhejiang() -> &'static RegionTree {
        static TREE: OnceLock<RegionTree> = OnceLock::new();
        TREE.get_or_init(|| {
            let file = std::fs::File::open(ZHEJIANG_CSV)
                .unwrap_or_else(|e| panic!("open {ZHEJIANG_CSV}: {e}"));
            RegionTree::from_csv(std::io::BufReader::new(file)).unwrap()
        })
    }

    // ----- Level -----

    #[test]
    fn level_basics() {
        assert_eq!(
            Level::ALL,
            [
                Level::Grid,
                Level::Village,
                Level::Township,
                Level::County,
                Level::City
            ]
        );
        assert!(Level::ALL.windows(2).all(|w| w[0] < w[1]));
        assert!(Level::Grid < Level::City);
        for (i, l) in Level::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(l.rank()), i + 1);
            assert_eq!(Level::from_rank(l.rank()), Some(l));
            assert_eq!(l.as_str().parse::<Level>().unwrap(), l);
            assert_eq!(l.to_string(), l.as_str());
            assert_eq!(
                serde_json::to_string(&l).unwrap(),
                format!("\"{}\"", l.as_str())
            );
            let back: Level = serde_json::from_str(&format!("\"{l}\"")).unwrap();
            assert_eq!(back, l);
            if let Some(p) = l.parent_level() {
                assert_eq!(p.child_level(), Some(l));
            }
        }
        assert_eq!(Level::City.parent_level(), None);
        assert_eq!(Level::Grid.child_level(), None);
        assert_eq!(Level::Grid.parent_level(), Some(Level::Village));
        assert_eq!(
            Level::ALL.map(Level::zh),
            ["网格", "村社", "乡镇", "县", "市"]
        );
        assert_eq!(Level::from_rank(0), None);
        assert_eq!(Level::from_rank(6), None);
        let err = "Grid".parse::<Level>().unwrap_err();
        assert!(matches!(&err, RegionError::InvalidLevel { input } if input == "Grid"));
        assert!(err.to_string().contains("\"Grid\""));
        assert!(serde_json::from_str::<Level>("\"province\"").is_err());
    }

    // ----- RegionCode parsing -----

    #[test]
    fn valid_codes() {
        let table = [
            ("330800", Level::City),
            ("330802", Level::County),
            ("330802005", Level::Township),
            ("330802005001", Level::Village),
            ("330802005001007", Level::Grid),
            ("110100", Level::City),
            ("469001", Level::County),
            ("011001", Level::County),
            ("331181207100", Level::Village),
            ("330802005001999", Level::Grid),
        ];
        for (s, level) in table {
            let c = code(s);
            assert_eq!(c.level(), level, "{s}");
            assert_eq!(c.to_string(), s);
            assert_eq!(format!("{c:?}"), format!("RegionCode({s})"));
            assert_eq!(usize::from(c.digit_len()), s.len());
            assert_eq!(usize::from(c.digit_len()), level.code_len());
            assert_eq!(c.value(), s.parse::<u64>().unwrap());
            assert_eq!(s.parse::<RegionCode>().unwrap(), c);
            assert_eq!(RegionCode::try_from(s).unwrap(), c);
            assert_eq!(String::from(c), s);
            let mut buf = [0u8; 15];
            assert_eq!(c.write_digits(&mut buf), s);
        }
        assert_eq!(code("330802").padded(), 330_802_000_000_000);
        assert_eq!(format!("[{:>8}]", code("330802")), "[  330802]");
        assert_eq!(code("011001").to_string(), "011001");
    }

    #[test]
    fn invalid_codes_name_the_reason() {
        let table = [
            ("", "empty"),
            ("33080a", "ASCII digits"),
            (" 330802", "ASCII digits"),
            ("330802 ", "ASCII digits"),
            ("-330802", "ASCII digits"),
            ("３３０８００", "ASCII digits"),
            ("3308", "6 (city/county), 9"),
            ("3308020", "6 (city/county), 9"),
            ("33080200", "6 (city/county), 9"),
            ("3308020050010071", "6 (city/county), 9"),
            ("000802", "province part"),
            ("000800", "province part"),
            ("000802005", "province part"),
            ("330000", "city part"),
            ("330012", "city part"),
            ("330000005001", "city part"),
            ("330800005", "county part"),
            ("330800005001007", "county part"),
            ("330802000", "township part"),
            ("330802000001", "township part"),
            ("330802005000", "village part"),
            ("330802005000007", "village part"),
            ("330802005001000", "grid part"),
        ];
        for (input, why) in table {
            let err = RegionCode::parse(input).unwrap_err();
            match &err {
                RegionError::InvalidCode { input: got, reason } => {
                    assert_eq!(got, input);
                    assert!(reason.contains(why), "{input:?}: {reason:?} lacks {why:?}");
                }
                other => panic!("{input:?}: unexpected {other:?}"),
            }
            assert!(err.to_string().contains(&format!("{input:?}")), "{err}");
        }
        let long = "9".repeat(1000);
        match RegionCode::parse(&long).unwrap_err() {
            RegionError::InvalidCode { input, .. } => assert!(input.chars().count() <= 41),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn sortable_bytes_round_trip_and_validation() {
        for s in [
            "330800",
            "330802",
            "330802005",
            "330802005001",
            "330802005001007",
        ] {
            let c = code(s);
            let key = c.to_sortable_bytes();
            assert_eq!(&key[..8], &c.padded().to_be_bytes());
            assert_eq!(key[8], c.digit_len());
            assert_eq!(RegionCode::from_sortable_bytes(&key).unwrap(), c);
            assert_eq!(
                RegionCode::from_padded(c.padded(), c.digit_len()).unwrap(),
                c
            );
        }
        let c = code("330802005");
        let key = c.to_sortable_bytes();
        assert!(RegionCode::from_sortable_bytes(&key[..8]).is_err());
        let mut wrong_len = key;
        wrong_len[8] = 12; // 330802005000: village part 000
        assert!(RegionCode::from_sortable_bytes(&wrong_len).is_err());
        wrong_len[8] = 6; // non-zero digits beyond the length
        assert!(RegionCode::from_sortable_bytes(&wrong_len).is_err());
        wrong_len[8] = 7;
        assert!(RegionCode::from_sortable_bytes(&wrong_len).is_err());
        assert!(RegionCode::from_padded(10u64.pow(15), 15).is_err());
        assert!(RegionCode::from_padded(0, 6).is_err());
    }

    // ----- hierarchy -----

    #[test]
    fn parent_and_ancestor_chain() {
        let grid = code("330802005001007");
        let chain: Vec<String> = grid.ancestors().map(|c| c.to_string()).collect();
        assert_eq!(chain, ["330802005001", "330802005", "330802", "330800"]);
        assert_eq!(grid.ancestors().len(), 4);
        let with_self: Vec<RegionCode> = grid.self_and_ancestors().collect();
        assert_eq!(with_self.len(), 5);
        assert_eq!(with_self[0], grid);
        assert_eq!(grid.self_and_ancestors().len(), 5);
        assert_eq!(
            with_self.iter().map(|c| c.level()).collect::<Vec<_>>(),
            Level::ALL
        );
        assert_eq!(grid.parent(), Some(code("330802005001")));
        assert_eq!(code("330802005001").parent(), Some(code("330802005")));
        assert_eq!(code("330802005").parent(), Some(code("330802")));
        assert_eq!(code("330802").parent(), Some(code("330800")));
        assert_eq!(code("330800").parent(), None);
        assert_eq!(code("330800").ancestors().count(), 0);

        for level in Level::ALL {
            assert_eq!(grid.ancestor_at(level).map(|c| c.level()), Some(level));
        }
        assert_eq!(grid.ancestor_at(Level::County), Some(code("330802")));
        assert_eq!(code("330802005").ancestor_at(Level::Village), None);
        assert_eq!(
            code("330802005").ancestor_at(Level::Township),
            Some(code("330802005"))
        );
        assert_eq!(grid.county(), Some(code("330802")));
        assert_eq!(code("330802").county(), Some(code("330802")));
        assert_eq!(code("330800").county(), None);
        assert_eq!(grid.city(), code("330800"));
        assert_eq!(code("330800").city(), code("330800"));
    }

    #[test]
    fn contains_follows_the_tree() {
        let city = code("330800");
        let county = code("330802");
        let town = code("330802005");
        let village = code("330802005001");
        let grid = code("330802005001007");
        let chain = [city, county, town, village, grid];
        for (i, a) in chain.iter().enumerate() {
            for (j, b) in chain.iter().enumerate() {
                assert_eq!(a.contains(*b), i <= j, "{a} contains {b}");
            }
        }
        // Other counties of the city, and their descendants.
        assert!(city.contains(code("330881")));
        assert!(city.contains(code("330881100200")));
        // Siblings and cousins.
        assert!(!county.contains(code("330803")));
        assert!(!code("330803").contains(county));
        assert!(!town.contains(code("330802006")));
        assert!(!village.contains(code("330802005002")));
        assert!(!grid.contains(code("330802005001008")));
        assert!(!village.contains(code("330802005002001")));
        // Other cities.
        assert!(!city.contains(code("330700")));
        assert!(!city.contains(code("330702")));
        assert!(!code("330700").contains(county));
        // Same digits prefix but not an ancestor: 330802 vs 3308020050 is not a code; a
        // township is not inside a village-length code of another township.
        assert!(!code("330802005").contains(code("330802050001")));
    }

    #[test]
    fn lowest_common_ancestor() {
        let a = code("330802005001007");
        let b = code("330802005002001");
        assert_eq!(a.lowest_common_ancestor(b), Some(code("330802005")));
        assert_eq!(
            RegionCode::lowest_common_ancestor(b, a),
            Some(code("330802005"))
        );
        assert_eq!(
            a.lowest_common_ancestor(code("330802005001008")),
            Some(code("330802005001"))
        );
        assert_eq!(a.lowest_common_ancestor(a), Some(a));
        assert_eq!(
            a.lowest_common_ancestor(code("330802005001")),
            Some(code("330802005001"))
        );
        assert_eq!(
            a.lowest_common_ancestor(code("330881100200001")),
            Some(code("330800"))
        );
        assert_eq!(
            a.lowest_common_ancestor(code("330803001001001")),
            Some(code("330800"))
        );
        assert_eq!(a.lowest_common_ancestor(code("330702001001001")), None);
        assert_eq!(code("330800").lowest_common_ancestor(code("330700")), None);
    }

    #[test]
    fn ordering_parents_first_and_subtrees_contiguous() {
        let mut codes: Vec<RegionCode> = [
            "330802005001007",
            "330700",
            "330881",
            "330802005",
            "330802006001",
            "330800",
            "330802",
            "330803",
            "330802005001",
            "330802005002",
            "330802005001001",
            "330900",
            "330802006",
            "330702001",
        ]
        .into_iter()
        .map(code)
        .collect();
        codes.sort();
        let sorted: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            sorted,
            [
                "330700",
                "330702001",
                "330800",
                "330802",
                "330802005",
                "330802005001",
                "330802005001001",
                "330802005001007",
                "330802005002",
                "330802006",
                "330802006001",
                "330803",
                "330881",
                "330900",
            ]
        );
        for a in &codes {
            let members: Vec<usize> = (0..codes.len()).filter(|&i| a.contains(codes[i])).collect();
            let first = members[0];
            assert_eq!(codes[first], *a, "a code is the first of its subtree");
            assert_eq!(
                members,
                (first..first + members.len()).collect::<Vec<_>>(),
                "{a}"
            );
            if let Some(p) = a.parent() {
                assert!(p < *a);
            }
        }
        let sorted_keys: Vec<[u8; 9]> = codes.iter().map(|c| c.to_sortable_bytes()).collect();
        assert!(sorted_keys.windows(2).all(|w| w[0] < w[1]));
    }

    // ----- serde -----

    #[test]
    fn serde_round_trip_and_rejection() {
        for s in [
            "330800",
            "330802",
            "330802005",
            "330802005001",
            "330802005001007",
        ] {
            let c = code(s);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<RegionCode>(&json).unwrap(), c);
        }
        for bad in [
            "\"330802000\"",
            "\"\"",
            "\"33080\"",
            "\"330000\"",
            "330802",
            "null",
        ] {
            assert!(serde_json::from_str::<RegionCode>(bad).is_err(), "{bad}");
        }
        let err = serde_json::from_str::<RegionCode>("\"330802005000\"").unwrap_err();
        assert!(err.to_string().contains("330802005000"), "{err}");
        assert!(err.to_string().contains("village part"), "{err}");

        let info = RegionInfo {
            code: code("330802"),
            name: "柯城区".into(),
            level: Level::County,
            parent: Some(code("330800")),
        };
        let json = serde_json::to_string(&info).unwrap();
        assert_eq!(
            json,
            r#"{"code":"330802","name":"柯城区","level":"county","parent":"330800"}"#
        );
        assert_eq!(serde_json::from_str::<RegionInfo>(&json).unwrap(), info);
        let by_code: BTreeMap<RegionCode, u32> = [(code("330802"), 1)].into_iter().collect();
        let json = serde_json::to_string(&by_code).unwrap();
        assert_eq!(json, r#"{"330802":1}"#);
        assert_eq!(
            serde_json::from_str::<BTreeMap<RegionCode, u32>>(&json).unwrap(),
            by_code
        );
    }

    // ----- property tests -----

    fn arb_code() -> impl Strategy<Value = RegionCode> {
        const PROVINCE: [&str; 2] = ["33", "34"];
        const CITY: [&str; 2] = ["01", "08"];
        const COUNTY: [&str; 3] = ["01", "02", "81"];
        const TOWNSHIP: [&str; 3] = ["001", "002", "100"];
        const VILLAGE: [&str; 3] = ["001", "010", "200"];
        const GRID: [&str; 3] = ["001", "007", "999"];
        (
            0..2usize,
            0..2usize,
            0..3usize,
            0..3usize,
            0..3usize,
            0..3usize,
            1..=5u8,
        )
            .prop_map(|(p, c, k, t, v, g, rank)| {
                let mut s = format!("{}{}", PROVINCE[p], CITY[c]);
                if rank == 5 {
                    s.push_str("00");
                } else {
                    s.push_str(COUNTY[k]);
                    if rank <= 3 {
                        s.push_str(TOWNSHIP[t]);
                    }
                    if rank <= 2 {
                        s.push_str(VILLAGE[v]);
                    }
                    if rank <= 1 {
                        s.push_str(GRID[g]);
                    }
                }
                code(&s)
            })
    }

    /// Containment by the textual definition: a city holds the codes sharing its first
    /// 4 digits, any other code the codes that start with its digits.
    fn contains_by_prefix(a: RegionCode, b: RegionCode) -> bool {
        let (a, b) = (a.to_string(), b.to_string());
        if code(&a).level() == Level::City {
            b.starts_with(&a[..4])
        } else {
            b.starts_with(&a)
        }
    }

    proptest! {
        #[test]
        fn contains_iff_key_in_subtree_bounds(a in arb_code(), b in arb_code()) {
            let by_prefix = contains_by_prefix(a, b);
            prop_assert_eq!(a.contains(b), by_prefix);
            let (lo, hi) = a.subtree_bounds();
            prop_assert_eq!(lo <= b.padded() && b.padded() < hi, by_prefix);
            let (klo, khi) = a.subtree_key_bounds();
            let key = b.to_sortable_bytes();
            prop_assert_eq!(klo <= key && key < khi, by_prefix);
            prop_assert_eq!(a.cmp(&b), a.to_sortable_bytes().cmp(&key));
            prop_assert_eq!(a == b, a.padded() == b.padded());
            if by_prefix {
                prop_assert!(a <= b);
                prop_assert_eq!(a == b || b.ancestors().any(|x| x == a), true);
            }
        }

        #[test]
        fn subtrees_are_contiguous(a in arb_code(), b in arb_code(), c in arb_code(), x in arb_code()) {
            let (lo, hi) = if b <= c { (b, c) } else { (c, b) };
            if a.contains(lo) && a.contains(hi) && lo <= x && x <= hi {
                prop_assert!(a.contains(x), "{} holds {} and {} but not {}", a, lo, hi, x);
            }
        }

        #[test]
        fn lca_is_lowest(a in arb_code(), b in arb_code()) {
            let lca = a.lowest_common_ancestor(b);
            prop_assert_eq!(lca, b.lowest_common_ancestor(a));
            prop_assert_eq!(lca.is_some(), a.city() == b.city());
            if let Some(l) = lca {
                prop_assert!(l.contains(a) && l.contains(b));
                for x in a.self_and_ancestors().filter(|x| x.contains(b)) {
                    prop_assert!(x.contains(l));
                }
            }
        }

        #[test]
        fn text_and_key_round_trip(a in arb_code()) {
            prop_assert_eq!(code(&a.to_string()), a);
            prop_assert_eq!(RegionCode::from_sortable_bytes(&a.to_sortable_bytes()).unwrap(), a);
            if let Some(p) = a.parent() {
                prop_assert!(p.contains(a) && p < a);
                prop_assert_eq!(Some(p.level()), a.level().parent_level());
            }
        }

        #[test]
        fn parse_never_panics(s in "[0-9a ]{0,16}") {
            if let Ok(c) = RegionCode::parse(&s) {
                prop_assert_eq!(c.to_string(), s);
            }
        }
    }

    // ----- RegionTree -----

    #[test]
    fn tree_is_clone_send_sync() {
        fn check<T: Clone + Send + Sync + 'static>() {}
        check::<RegionTree>();
        check::<RegionCode>();
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<RegionError>();
    }

    #[test]
    fn zhejiang_counts() {
        let tree = zhejiang();
        assert_eq!(tree.count(Level::City), 11);
        assert_eq!(tree.count(Level::County), 90);
        assert_eq!(tree.count(Level::Township), 1_387);
        assert_eq!(tree.count(Level::Village), 25_547);
        assert_eq!(tree.count(Level::Grid), 0);
        assert_eq!(tree.len(), 11 + 90 + 1_387 + 25_547);
        assert_eq!(tree.cities().len(), 11);
        assert_eq!(tree.iter().count(), tree.len());
        assert!(tree
            .iter()
            .zip(tree.iter().skip(1))
            .all(|(a, b)| a.code < b.code));

        let quzhou = code("330800");
        assert_eq!(tree.name(quzhou), Some("衢州市"));
        assert_eq!(tree.children(quzhou).len(), 6);
        let mut per_level = [0usize; 5];
        for info in tree.subtree(quzhou) {
            assert!(quzhou.contains(info.code));
            per_level[info.level.index()] += 1;
        }
        assert_eq!(per_level, [0, 1_664, 100, 6, 1]);
        // The subtree range scan agrees with a full filter.
        assert_eq!(
            tree.subtree(quzhou).count(),
            tree.iter().filter(|i| quzhou.contains(i.code)).count()
        );

        let kecheng = tree.require(code("330802")).unwrap();
        assert_eq!(kecheng.name, "柯城区");
        assert_eq!(kecheng.level, Level::County);
        assert_eq!(kecheng.parent, Some(quzhou));
        assert_eq!(tree.name(code("330802005")), Some("新新街道"));
        assert_eq!(tree.name(code("330802005001")), Some("金桂社区"));
        assert_eq!(
            tree.parse_known("330802005001").unwrap(),
            code("330802005001")
        );
        assert!(matches!(
            tree.parse_known("330802005999"),
            Err(RegionError::UnknownRegion { .. })
        ));
        assert!(matches!(
            tree.parse_known("33080200599"),
            Err(RegionError::InvalidCode { .. })
        ));

        // Structure: every node's children are sorted, known, and point back to it.
        let mut linked = 0;
        for info in tree.iter() {
            assert_eq!(info.level, info.code.level());
            assert_eq!(info.parent, info.code.parent());
            if let Some(p) = info.parent {
                assert!(tree.children(p).binary_search(&info.code).is_ok());
            }
            let kids = tree.children(info.code);
            assert!(kids.windows(2).all(|w| w[0] < w[1]));
            linked += kids.len();
        }
        assert_eq!(linked + tree.cities().len(), tree.len());
        assert!(tree.children(code("330802005001")).is_empty());
        assert!(tree.children(code("330899")).is_empty());
    }

    #[test]
    fn unknown_region_error_names_the_code() {
        let tree = zhejiang();
        let missing = code("330802005999");
        let err = tree.require(missing).unwrap_err();
        assert!(matches!(err, RegionError::UnknownRegion { code } if code == missing));
        assert!(err.to_string().contains("330802005999"), "{err}");
        assert!(!tree.contains_code(missing));
        assert!(tree.contains_code(code("330802005001")));
        assert!(tree.get(missing).is_none());
    }

    #[test]
    fn grids() {
        let mut tree = zhejiang().clone();
        let village = code("330802005001");
        let g7 = code("330802005001007");
        let info = tree.add_grid(g7, None).unwrap().clone();
        assert_eq!(info.name, "第7网格");
        assert_eq!(info.level, Level::Grid);
        assert_eq!(info.parent, Some(village));
        tree.add_grid(code("330802005001002"), Some("金桂二网格".into()))
            .unwrap();
        assert_eq!(tree.children(village), [code("330802005001002"), g7]);
        assert_eq!(tree.count(Level::Grid), 2);
        assert_eq!(tree.name(code("330802005001002")), Some("金桂二网格"));

        let err = tree.add_grid(g7, None).unwrap_err();
        assert!(matches!(err, RegionError::DuplicateCode { code } if code == g7));
        assert!(err.to_string().contains("330802005001007"));

        let err = tree.add_grid(village, None).unwrap_err();
        assert!(matches!(err, RegionError::NotAGrid { .. }));
        assert!(
            err.to_string().contains("330802005001 is a village code"),
            "{err}"
        );

        let orphan = code("330802005999001");
        let err = tree.add_grid(orphan, None).unwrap_err();
        assert!(matches!(
            err,
            RegionError::UnknownParent { code, parent } if code == orphan && parent == code_of("330802005999")
        ));
        assert!(err.to_string().contains("330802005999001"), "{err}");
        assert!(err.to_string().contains("parent 330802005999"), "{err}");

        // Generic insert.
        let err = tree.insert(code("330899001"), "x").unwrap_err();
        assert!(matches!(err, RegionError::UnknownParent { .. }));
        assert!(err.to_string().contains("330899001"), "{err}");
        tree.insert(code("330802999"), "新乡镇").unwrap();
        assert_eq!(tree.count(Level::Township), 1_388);
        assert!(tree.children(code("330802")).contains(&code("330802999")));
        assert_eq!(zhejiang().count(Level::Grid), 0, "the clone is independent");
    }

    fn code_of(s: &str) -> RegionCode {
        code(s)
    }

    // ----- CSV -----

    const SMALL: &str = "code,name,level,parent
330800,衢州市,city,33
330802,柯城区,county,330800
330802005,新新街道,township,330802
330802005001,金桂社区,village,330802005
";

    fn load(text: &str) -> Result<RegionTree, RegionError> {
        RegionTree::from_csv(text.as_bytes())
    }

    fn csv_error(text: &str) -> (usize, String) {
        match load(text) {
            Err(RegionError::Csv { line, reason }) => (line, reason),
            other => panic!("expected a CSV error, got {other:?}"),
        }
    }

    #[test]
    fn csv_accepts_variants() {
        assert_eq!(load(SMALL).unwrap().len(), 4);
        assert_eq!(
            load(SMALL.trim_end()).unwrap().len(),
            4,
            "no trailing newline"
        );
        assert_eq!(
            load(&format!("{SMALL}\n\n")).unwrap().len(),
            4,
            "trailing blank lines"
        );
        assert_eq!(load(&SMALL.replace('\n', "\r\n")).unwrap().len(), 4, "CRLF");
        assert_eq!(load(&format!("\u{feff}{SMALL}")).unwrap().len(), 4, "BOM");
        // Children before parents.
        let mut lines: Vec<&str> = SMALL.lines().collect();
        lines[1..].reverse();
        let tree = load(&lines.join("\n")).unwrap();
        assert_eq!(tree.children(code("330800")), [code("330802")]);
        // Header only.
        assert!(load("code,name,level,parent\n").unwrap().is_empty());
        // Grid rows are accepted too.
        let tree = load(&format!(
            "{SMALL}330802005001007,七网格,grid,330802005001\n"
        ))
        .unwrap();
        assert_eq!(tree.name(code("330802005001007")), Some("七网格"));
    }

    #[test]
    fn csv_errors_report_the_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 1, "empty input"),
            ("code,name,parent,level\n", 1, "expected the header"),
            (&format!("{SMALL}330803,衢江区,county\n"), 6, "found 3"),
            (
                &format!("{SMALL}330803,衢江区,county,330800,x\n"),
                6,
                "found 5",
            ),
            (
                &format!("{SMALL}\"330803\",衢江区,county,330800\n"),
                6,
                "quoted",
            ),
            (
                &format!("{SMALL}33080x,衢江区,county,330800\n"),
                6,
                "\"33080x\"",
            ),
            (
                &format!("{SMALL}330803,,county,330800\n"),
                6,
                "name is empty",
            ),
            (
                &format!("{SMALL}330803,衢江区,County,330800\n"),
                6,
                "invalid region level",
            ),
            (
                &format!("{SMALL}330803,衢江区,city,330800\n"),
                6,
                "330803 is a county code but the level column says city",
            ),
            (
                &format!("{SMALL}330803,衢江区,county,330700\n"),
                6,
                "region 330803: stated parent is \"330700\" but by its code the parent is 330800",
            ),
            (
                &format!("{SMALL}330700,温州市,city,34\n"),
                6,
                "by its code the parent is 33",
            ),
            (
                &format!(
                    "{SMALL}330802005002,x,village,330802005\n330802005002,y,village,330802005\n"
                ),
                7,
                "duplicate region code 330802005002",
            ),
            (
                &format!("{SMALL}330803001,x,township,330803\n"),
                6,
                "parent 330803 is not known",
            ),
            (
                &format!("{SMALL}\n330803,衢江区,county,330800\n"),
                6,
                "blank line",
            ),
        ];
        for (text, want_line, want) in cases {
            let (line, reason) = csv_error(text);
            assert_eq!(line, *want_line, "{reason}");
            assert!(
                reason.contains(want),
                "line {line}: {reason:?} lacks {want:?}"
            );
            let shown = RegionError::Csv { line, reason }.to_string();
            assert!(
                shown.starts_with(&format!("divisions CSV line {want_line}: ")),
                "{shown}"
            );
        }
        // Duplicate: the message names the first line too.
        let (_, reason) = csv_error(&format!("{SMALL}330802,柯城区,county,330800\n"));
        assert!(reason.contains("first on line 3"), "{reason}");
    }

    #[test]
    fn csv_invalid_utf8_is_io_error() {
        let mut bytes = SMALL.as_bytes().to_vec();
        bytes.extend_from_slice(b"330803,\xff\xfe,county,330800\n");
        assert!(matches!(
            RegionTree::from_csv(&bytes[..]),
            Err(RegionError::Io(_))
        ));
    }
}
