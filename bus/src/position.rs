//! [`Position`]: where a commit sits in the global order of the log.

use std::fmt;
use std::num::ParseIntError;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A global position: 1 for the first commit, contiguous, never reused; the stream sequence on
/// NATS. [`Position::ZERO`] means "before everything" (an empty log's head, a projection that
/// has applied nothing).
///
/// Serializes as the bare number (JSON `42`), prints as the number, parses from it.
///
/// ```
/// use gridcase_bus::Position;
///
/// let p: Position = "41".parse()?;
/// assert_eq!(p.next(), Position::new(42));
/// assert_eq!(p.next().get(), 42);
/// assert_eq!(Position::new(50).since(p), 9);
/// assert_eq!(serde_json::to_string(&p).unwrap(), "41");
/// # Ok::<(), std::num::ParseIntError>(())
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Position(u64);

impl Position {
    /// Before the first commit.
    pub const ZERO: Position = Position(0);
    /// The first commit's position.
    pub const FIRST: Position = Position(1);

    /// The position `n`.
    pub const fn new(n: u64) -> Position {
        Position(n)
    }

    /// The number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The position after this one.
    pub const fn next(self) -> Position {
        Position(self.0 + 1)
    }

    /// The position before this one, if any (none before [`Position::ZERO`]).
    pub const fn previous(self) -> Option<Position> {
        match self.0.checked_sub(1) {
            Some(n) => Some(Position(n)),
            None => None,
        }
    }

    /// The position `n` commits after this one.
    pub const fn plus(self, n: u64) -> Position {
        Position(self.0 + n)
    }

    /// How many commits `earlier` is behind this position (0 when it is not behind).
    pub const fn since(self, earlier: Position) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The position `n` commits before this one, if that is not before [`Position::ZERO`].
    pub const fn checked_sub(self, n: u64) -> Option<Position> {
        match self.0.checked_sub(n) {
            Some(p) => Some(Position(p)),
            None => None,
        }
    }

    /// Big-endian bytes: storage keys sort in position order.
    pub const fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// From big-endian bytes.
    pub const fn from_be_bytes(bytes: [u8; 8]) -> Position {
        Position(u64::from_be_bytes(bytes))
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Position {
    type Err = ParseIntError;

    fn from_str(s: &str) -> Result<Position, ParseIntError> {
        s.parse().map(Position)
    }
}

impl From<u64> for Position {
    fn from(n: u64) -> Position {
        Position(n)
    }
}

impl From<Position> for u64 {
    fn from(p: Position) -> u64 {
        p.0
    }
}
