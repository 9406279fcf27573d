//! The file's framing and the scan that opens it: every record read once, its index entries
//! (offset, case head and commits, command result) built in memory, a torn tail found.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use gridcase_domain::{CaseId, ChainHead, CodecError, CommandId, Hash};
use serde::Deserialize;

use crate::log::{Appended, Corruption, LogError, Position};
use crate::raw::{RawCommit, RawError};

/// The first bytes of a log file: the format's name and version.
pub(super) const MAGIC: &[u8; 16] = b"gridcase-log v1\n";
/// A record's length prefix: the stored value's length, u32 little-endian.
pub(super) const LEN: usize = 4;

/// Appends one record (length prefix, then the stored value) to `out`.
///
/// # Errors
///
/// [`LogError::Storage`] for a value of 4 GiB or more, which a record cannot hold (the API
/// refuses requests anywhere near that size, so this is a bug where it happens).
pub(super) fn put_record(value: &[u8], out: &mut Vec<u8>) -> Result<(), LogError> {
    let len = u32::try_from(value.len()).map_err(|_| {
        LogError::storage(
            "framing a record",
            std::io::Error::other(format!(
                "a stored commit of {} bytes is larger than a record can hold (4 GiB)",
                value.len()
            )),
        )
    })?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(value);
    Ok(())
}

/// What the log holds, in memory: where each record is, each case's head and commits, each
/// command's first result. Built by [`scan`], extended by the writer after each fsync.
#[derive(Default)]
pub(super) struct Index {
    /// `offsets[p - 1]`: the file offset of the record at position `p`.
    pub(super) offsets: Vec<u64>,
    /// The offset just past the last record.
    pub(super) end: u64,
    pub(super) cases: HashMap<CaseId, CaseEntry>,
    pub(super) commands: HashMap<CommandId, Appended>,
}

/// One case: its head and the positions of its commits, in order.
pub(super) struct CaseEntry {
    pub(super) head: ChainHead,
    pub(super) commits: Vec<Position>,
}

impl Index {
    /// The position of the last record (0 when empty).
    pub(super) fn head(&self) -> Position {
        Position::new(self.offsets.len() as u64)
    }

    /// The byte range `[start, end)` of the records at positions `from..=to` (both held).
    pub(super) fn span(&self, from: Position, to: Position) -> (u64, u64) {
        let start = self.offsets[(from.get() - 1) as usize];
        let end = self
            .offsets
            .get(to.get() as usize)
            .copied()
            .unwrap_or(self.end);
        (start, end)
    }

    /// Records a commit at the next position, starting at `offset` and ending at `end`.
    pub(super) fn push(&mut self, offset: u64, end: u64, indexed: Indexed) {
        let position = self.head().next();
        self.offsets.push(offset);
        self.end = end;
        let entry = self
            .cases
            .entry(indexed.case_id)
            .or_insert_with(|| CaseEntry {
                head: ChainHead::EMPTY,
                commits: Vec::new(),
            });
        entry.head = indexed.head;
        entry.commits.push(position);
        self.commands.entry(indexed.command_id).or_insert(Appended {
            position,
            version: indexed.head.version,
            duplicate: false,
        });
    }
}

/// What the index keeps of one commit.
pub(super) struct Indexed {
    pub(super) case_id: CaseId,
    pub(super) command_id: CommandId,
    pub(super) head: ChainHead,
}

/// The parts of a stored commit the index needs; the rest of each event is skipped without
/// being kept (serde ignores the other fields).
#[derive(Deserialize)]
struct IndexView {
    case_id: CaseId,
    command_id: CommandId,
    events: Vec<EventView>,
}

#[derive(Deserialize)]
struct EventView {
    header: HeaderView,
    hash: Hash,
}

#[derive(Deserialize)]
struct HeaderView {
    case_version: u64,
}

/// Checks a stored value and reads what the index keeps of it, checking that its versions
/// follow the case's head.
fn index_value(value: &[u8], cases: &HashMap<CaseId, CaseEntry>) -> Result<Indexed, Damage> {
    let body = crate::raw::unframe(value).map_err(Damage::Stored)?;
    let view: IndexView = rmp_serde::from_slice(body).map_err(|e| {
        Damage::Stored(RawError::Undecodable(std::sync::Arc::new(
            CodecError::from(e),
        )))
    })?;
    let mut head = cases
        .get(&view.case_id)
        .map_or(ChainHead::EMPTY, |c| c.head);
    if view.events.is_empty() {
        return Err(Damage::Commit(view.case_id, Corruption::NoEvents));
    }
    for e in &view.events {
        if e.header.case_version != head.version + 1 {
            let cause = Corruption::VersionGap {
                version: e.header.case_version,
                previous: head.version,
            };
            return Err(Damage::Commit(view.case_id, cause));
        }
        head = ChainHead {
            version: e.header.case_version,
            hash: e.hash,
        };
    }
    Ok(Indexed {
        case_id: view.case_id,
        command_id: view.command_id,
        head,
    })
}

enum Damage {
    Stored(RawError),
    Commit(CaseId, Corruption),
}

/// What the scan found.
pub(super) struct Scanned {
    pub(super) index: Index,
    /// Bytes after the last whole record that are not one (a write cut short by a crash):
    /// never acknowledged, since acknowledgement waits for the fsync after the whole write.
    pub(super) torn: u64,
    /// The first damaged record (a reader keeps going past it; a writer refuses the store).
    pub(super) damage: Option<LogError>,
}

/// Reads the whole file once, from just after its magic, and indexes every record.
///
/// A record that is cut short at the end of the file (or a tail of zeros, which is what a
/// crashed file system leaves of unwritten blocks) is a torn tail: counted in
/// [`Scanned::torn`], not indexed. A whole record that fails its checksum, does not decode or
/// does not follow its case's versions is damage: `keep_going` says whether to index past it
/// (a reader, which reports it when the position is read) or to stop there.
pub(super) fn scan(path: &Path, file: &File, keep_going: bool) -> Result<Scanned, LogError> {
    let len = file
        .metadata()
        .map_err(|e| LogError::storage("reading the log file's size", e))?
        .len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; MAGIC.len()];
    reader
        .read_exact(&mut magic)
        .map_err(|e| LogError::storage("reading the log file's header", e))?;
    if &magic != MAGIC {
        return Err(LogError::Damaged {
            location: format!("file offset 0 of {}", path.display()),
            reason: "the file does not start with a gridcase log header".into(),
        });
    }
    let mut index = Index {
        end: MAGIC.len() as u64,
        ..Index::default()
    };
    let mut at = index.end;
    let mut value = Vec::new();
    let mut damage = None;
    let read = |reader: &mut BufReader<&File>, buf: &mut [u8]| {
        reader
            .read_exact(buf)
            .map_err(|e| LogError::storage("reading the log file", e))
    };
    while at < len {
        let remaining = len - at;
        let mut prefix = [0u8; LEN];
        if remaining < LEN as u64 {
            break;
        }
        read(&mut reader, &mut prefix)?;
        let n = u32::from_le_bytes(prefix) as u64;
        if n == 0 || n > remaining - LEN as u64 {
            break;
        }
        value.resize(n as usize, 0);
        read(&mut reader, &mut value)?;
        let position = index.head().next();
        let end = at + LEN as u64 + n;
        match index_value(&value, &index.cases) {
            Ok(indexed) => index.push(at, end, indexed),
            Err(d) => {
                let (case, cause) = match d {
                    Damage::Stored(e) => (
                        RawCommit {
                            position,
                            subject: None,
                            value: value.clone(),
                        }
                        .case_hint(),
                        Corruption::Stored(e),
                    ),
                    Damage::Commit(case, cause) => (Some(case), cause),
                };
                let e = LogError::Corrupt {
                    position,
                    case,
                    cause,
                };
                if !keep_going {
                    return Err(e);
                }
                damage.get_or_insert(e);
                // Still a record: its place is kept, and reading it reports the damage.
                index.offsets.push(at);
                index.end = end;
            }
        }
        at = end;
    }
    let torn = len - index.end;
    if torn > 0 && !keep_going && !tail_is_torn(file, index.end, len)? {
        return Err(LogError::Damaged {
            location: format!("file offset {} of {}", index.end, path.display()),
            reason: format!(
                "{torn} bytes after the last whole record are neither a record nor a cut-short \
                 one"
            ),
        });
    }
    Ok(Scanned {
        index,
        torn,
        damage,
    })
}

/// Whether the bytes from `from` to `len` are what a crash leaves: the start of one record cut
/// short (its length reaching past the end), or zeros.
fn tail_is_torn(file: &File, from: u64, len: u64) -> Result<bool, LogError> {
    use std::os::unix::fs::FileExt;
    let mut tail = vec![0u8; (len - from) as usize];
    file.read_exact_at(&mut tail, from)
        .map_err(|e| LogError::storage("reading the log file's tail", e))?;
    if tail.iter().all(|b| *b == 0) {
        return Ok(true);
    }
    if tail.len() < LEN {
        return Ok(true);
    }
    let n = u32::from_le_bytes(tail[..LEN].try_into().expect("4 bytes")) as usize;
    Ok(n > tail.len() - LEN)
}
