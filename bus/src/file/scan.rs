//! The file's framing and the scan that opens it: every record read once, its index entries
//! (offset, case head and commits, command result) built in memory, a torn tail found.

use std::collections::HashMap;
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{BufReader, Read};
use std::path::Path;

use gridcase_domain::{CaseId, ChainHead, CodecError, CommandId, Hash};
use serde::Deserialize;

use crate::log::{Appended, Committed, Corruption, LogError, Position};
use crate::raw::RawError;

/// The first bytes of a log file: the format's name and version.
pub(super) const MAGIC: &[u8; 16] = b"gridcase-log v1\n";
/// A record's header: the stored value's length (u32 little-endian), then the CRC-32 of those
/// four bytes (u32 little-endian), so that a damaged length is told from a write cut short.
pub(super) const LEN: usize = 8;

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
    out.extend_from_slice(&header(len));
    out.extend_from_slice(value);
    Ok(())
}

/// The header of a record whose value is `len` bytes long.
fn header(len: u32) -> [u8; LEN] {
    let len = len.to_le_bytes();
    let mut h = [0u8; LEN];
    h[..4].copy_from_slice(&len);
    h[4..].copy_from_slice(&crc32fast::hash(&len).to_le_bytes());
    h
}

/// The value length a record header states, `None` when its checksum fails.
pub(super) fn stated_len(h: &[u8; LEN]) -> Option<u64> {
    let len: [u8; 4] = h[..4].try_into().expect("4 bytes");
    let crc = u32::from_le_bytes(h[4..].try_into().expect("4 bytes"));
    (crc32fast::hash(&len) == crc).then(|| u64::from(u32::from_le_bytes(len)))
}

/// What the log holds, in memory: where each record is, each case's head and commits, each
/// command's first result. Built by [`scan`], extended by the writer after each fsync.
#[derive(Default)]
pub(super) struct Index {
    /// `offsets[p - 1]`: the file offset of the record at position `p`.
    pub(super) offsets: Vec<u64>,
    /// The offset just past the last record.
    pub(super) end: u64,
    pub(super) cases: FastMap<CaseId, CaseEntry>,
    /// Each command's first commit, by a digest of its id: the id itself is in that commit's
    /// record, read back to confirm a match ([`Index::command`]), so the ids are not kept
    /// (opening quzhou-year's log peaked at 139 MB with them as keys, 64.5 MB with digests).
    commands: FastMap<u64, Position>,
    /// The commands whose digest an earlier, other command has (by their id): rare.
    colliding: HashMap<CommandId, Appended>,
    digest: CommandDigest,
}

/// How a command id is digested: seeded per process (clients choose command ids, so the
/// digest must not be predictable), or — for tests of the confirming path — one digest for all.
#[derive(Default, Clone, Copy)]
pub(super) enum CommandDigest {
    #[default]
    Seeded,
    /// Every id digests alike: every lookup is confirmed against the record, every command
    /// after the first goes to the colliding map.
    #[cfg(feature = "test-support")]
    Colliding,
}

/// The per-process seed of command digests.
fn seed() -> &'static foldhash::fast::RandomState {
    static SEED: std::sync::OnceLock<foldhash::fast::RandomState> = std::sync::OnceLock::new();
    SEED.get_or_init(foldhash::fast::RandomState::default)
}

/// The index's hash maps: foldhash (fast, seeded per process: case and command ids come from
/// clients, so the hasher must not be predictable). About a third of opening a large log was
/// spent hashing ids with the standard library's SipHash.
pub(super) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

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

    /// An index whose command ids are digested as `digest` says.
    pub(super) fn new(digest: CommandDigest) -> Index {
        Index {
            digest,
            ..Index::default()
        }
    }

    fn digest_of(&self, id: &CommandId) -> u64 {
        match self.digest {
            CommandDigest::Seeded => seed().hash_one(id.as_str()),
            #[cfg(feature = "test-support")]
            CommandDigest::Colliding => 0,
        }
    }

    /// The commit at `p` (held), read back from `file`.
    fn read_commit(&self, p: Position, file: &File) -> Result<Committed, LogError> {
        use std::os::unix::fs::FileExt;
        let (start, end) = self.span(p, p);
        let mut value = vec![0u8; (end - start) as usize - LEN];
        file.read_exact_at(&mut value, start + LEN as u64)
            .map_err(|e| LogError::storage("reading back a command's commit", e))?;
        crate::raw::decode_stored(p, &value)
    }

    /// The first commit of command `id`, if the log holds one: found by its digest and
    /// confirmed by reading that commit back from `file`.
    pub(super) fn command(
        &self,
        id: &CommandId,
        file: &File,
    ) -> Result<Option<Appended>, LogError> {
        if let Some(&p) = self.commands.get(&self.digest_of(id)) {
            let c = self.read_commit(p, file)?;
            if &c.command_id == id {
                return Ok(Some(Appended {
                    position: p,
                    version: c.last_version(),
                    duplicate: false,
                }));
            }
        }
        Ok(self.colliding.get(id).copied())
    }

    /// Records a commit at the next position, starting at `offset` and ending at `end` (its
    /// record already in `file`).
    pub(super) fn push(&mut self, offset: u64, end: u64, indexed: Indexed, file: &File) {
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
        let digest = self.digest_of(&indexed.command_id);
        let Some(&first) = self.commands.get(&digest) else {
            self.commands.insert(digest, position);
            return;
        };
        // The same command again (its first commit stays its result), or another with the
        // same digest. A first commit that cannot be read back (a reader past damage) is
        // taken as another command's.
        let again = self
            .read_commit(first, file)
            .is_ok_and(|c| c.command_id == indexed.command_id);
        if !again {
            self.colliding
                .entry(indexed.command_id)
                .or_insert(Appended {
                    position,
                    version: indexed.head.version,
                    duplicate: false,
                });
        }
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

impl IndexView {
    /// The view of a commit in this build's layout, read directly (faster than serde's, and
    /// the same: a commit that reads whole has the fields the view reads); `None` for others.
    fn direct(body: &[u8]) -> Option<IndexView> {
        let c = crate::raw::direct::decode(body)?;
        Some(IndexView {
            case_id: c.case_id,
            command_id: c.command_id,
            events: c
                .events
                .into_iter()
                .map(|e| EventView {
                    header: HeaderView {
                        case_version: e.header.case_version,
                    },
                    hash: e.hash,
                })
                .collect(),
        })
    }
}

/// Checks a stored value and reads what the index keeps of it, checking that its versions
/// follow the case's head.
fn index_value(value: &[u8], cases: &FastMap<CaseId, CaseEntry>) -> Result<Indexed, Damage> {
    let body = crate::raw::unframe(value).map_err(Damage::Stored)?;
    let view = match IndexView::direct(body) {
        Some(view) => view,
        None => rmp_serde::from_slice(body).map_err(|e| {
            Damage::Stored(RawError::Undecodable(std::sync::Arc::new(
                CodecError::from(e),
            )))
        })?,
    };
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
    /// Bytes after the last whole record that are what a crash leaves of an unfinished write
    /// (never acknowledged: acknowledgement waits for the fsync after the whole write).
    pub(super) torn: u64,
    /// The first damage found: a damaged record (a reader keeps going past it; a writer
    /// refuses the store), or bytes after the last readable record that are not a torn write.
    pub(super) damage: Option<LogError>,
    /// Bytes after the last readable record that are not a torn write (a reader's; a writer
    /// refuses the store): [`LogError::Damaged`] naming where.
    pub(super) unreadable_tail: Option<LogError>,
}

/// Reads the whole file once, from just after its magic, and indexes every record.
///
/// What follows the last whole record is a torn tail when it is what a crash leaves of one
/// unfinished write: a record header cut short, a record whose (checksummed) header states
/// more bytes than remain, or zeros (the unwritten blocks a crashed file system can leave).
/// It is counted in [`Scanned::torn`], not indexed. Anything else is damage: a record whose
/// header fails its checksum (its length cannot be trusted, so nothing after it can be read),
/// a whole record that fails its checksum, does not decode or does not follow its case's
/// versions. `keep_going` says whether to index past a damaged record (a reader, which
/// reports it where it is read) or to stop at the first damage with its error (a writer).
pub(super) fn scan(
    path: &Path,
    file: &File,
    keep_going: bool,
    digest: CommandDigest,
) -> Result<Scanned, LogError> {
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
        ..Index::new(digest)
    };
    let mut at = index.end;
    let mut value = Vec::new();
    let mut damage = None;
    let mut zero_filled_last = false;
    let read = |reader: &mut BufReader<&File>, buf: &mut [u8]| {
        reader
            .read_exact(buf)
            .map_err(|e| LogError::storage("reading the log file", e))
    };
    while len - at >= LEN as u64 {
        let mut h = [0u8; LEN];
        read(&mut reader, &mut h)?;
        let Some(n) = stated_len(&h) else { break };
        if n > len - at - LEN as u64 {
            break;
        }
        value.resize(n as usize, 0);
        read(&mut reader, &mut value)?;
        let position = index.head().next();
        let end = at + LEN as u64 + n;
        match index_value(&value, &index.cases) {
            Ok(indexed) => index.push(at, end, indexed, file),
            Err(_) if end == len && zeros_from_a_block(&value, at + LEN as u64) => {
                // The last record, its end zeros from a block boundary on: what a power cut
                // leaves of an unsynced write whose file size was kept. Torn, not damaged.
                zero_filled_last = true;
                break;
            }
            Err(d) => {
                // What the bytes still tell without their checksum or versions.
                let lenient = lenient(&value);
                let (case, cause) = match d {
                    Damage::Stored(e) => (
                        lenient.as_ref().map(|i| i.case_id.clone()),
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
                // Still a record: its place is kept, in its case's commits when the bytes tell
                // the case (so reading the case reports it), and reading it reports the damage.
                match lenient {
                    Some(indexed) => index.push(at, end, indexed, file),
                    None => {
                        index.offsets.push(at);
                        index.end = end;
                    }
                }
            }
        }
        at = end;
    }
    let rest = len - index.end;
    let torn = if rest > 0 && (zero_filled_last || tail_is_torn(file, index.end, len)?) {
        rest
    } else {
        0
    };
    let mut unreadable_tail = None;
    if rest > torn {
        let e = LogError::Damaged {
            location: format!("file offset {} of {}", index.end, path.display()),
            reason: format!(
                "the {rest} bytes after position {} are neither records nor a write a crash \
                 cut short (a record header fails its checksum)",
                index.head()
            ),
        };
        if !keep_going {
            return Err(e);
        }
        damage.get_or_insert(e.clone());
        unreadable_tail = Some(e);
    }
    Ok(Scanned {
        index,
        torn,
        damage,
        unreadable_tail,
    })
}

/// What the index keeps of a damaged record, read without checking its checksum or versions:
/// its case, command and last event, when the bytes still decode that far.
fn lenient(value: &[u8]) -> Option<Indexed> {
    let view: IndexView = rmp_serde::from_slice(crate::raw::body_unchecked(value)?).ok()?;
    let last = view.events.last()?;
    Some(Indexed {
        case_id: view.case_id,
        command_id: view.command_id,
        head: ChainHead {
            version: last.header.case_version,
            hash: last.hash,
        },
    })
}

/// Block size of the zero runs a power cut can leave (file systems allocate whole blocks).
const BLOCK: u64 = 4096;

/// Whether `value` (at file offset `offset`) ends in zeros from a block boundary inside it.
fn zeros_from_a_block(value: &[u8], offset: u64) -> bool {
    let boundary = offset.div_ceil(BLOCK) * BLOCK;
    let Some(from) = boundary.checked_sub(offset).map(|b| b as usize) else {
        return false;
    };
    from < value.len() && value[from..].iter().all(|b| *b == 0)
}

/// Whether the bytes from `from` to `len` are what a crash leaves of one unfinished write: a
/// record header cut short, a record whose header is sound but states more bytes than remain,
/// or zeros. Reads the header and then the tail in pieces (a damaged file can have a long one).
fn tail_is_torn(file: &File, from: u64, len: u64) -> Result<bool, LogError> {
    use std::os::unix::fs::FileExt;
    let io = |e| LogError::storage("reading the log file's tail", e);
    let rest = len - from;
    if rest >= LEN as u64 {
        let mut h = [0u8; LEN];
        file.read_exact_at(&mut h, from).map_err(io)?;
        if let Some(n) = stated_len(&h) {
            return Ok(n > rest - LEN as u64);
        }
        // A header split by a block boundary, its second part zeros (a power cut).
        let boundary = from.div_ceil(BLOCK) * BLOCK;
        if boundary > from && boundary - from < LEN as u64 && all_zero(file, boundary, len)? {
            return Ok(true);
        }
    }
    // A header cut short is torn; other bytes that are neither zeros nor a sound header are
    // damage.
    Ok(rest < LEN as u64 || all_zero(file, from, len)?)
}

/// Whether the bytes from `from` to `len` are all zeros (read in pieces).
fn all_zero(file: &File, from: u64, len: u64) -> Result<bool, LogError> {
    use std::os::unix::fs::FileExt;
    let mut chunk = vec![0u8; (1 << 20).min((len - from) as usize)];
    let mut at = from;
    while at < len {
        let n = chunk.len().min((len - at) as usize);
        file.read_exact_at(&mut chunk[..n], at)
            .map_err(|e| LogError::storage("reading the log file's tail", e))?;
        if chunk[..n].iter().any(|b| *b != 0) {
            return Ok(false);
        }
        at += n as u64;
    }
    Ok(true)
}
