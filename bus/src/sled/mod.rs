//! The embedded log on sled: the one-machine store of data directories created before the
//! file log ([`crate::file`]), which new ones get.
//!
//! One sled tree holds everything, so a commit and its indexes land in one atomic batch:
//!
//! | key | value |
//! |---|---|
//! | `P` + position (u64 BE) | the stored commit ([`crate::raw`]: CRC-32 + MessagePack) |
//! | `C` + case id + `0x00` + first version (u64 BE) | position |
//! | `V` + case id | case head: version, last hash, position |
//! | `K` + command id | first result: position, version |
//!
//! A single writer thread does group commit (`writer`): it takes every append waiting in its
//! queue, validates them in order, applies them in one batch, flushes (fsync) once, and only
//! then acknowledges them and raises the durable head. Readers never look past the durable
//! head, so a position is never visible before everything up to it is on disk.
//!
//! Every call into sled goes through `guard`, so a damaged store is a
//! [`LogError::Damaged`] naming what could not be read — never a panic. For auditors,
//! [`SledLog::raw_from`] reads stored commits past damage and [`SledLog::index_entries`]
//! reads the indexes, typed; [`IndexCheck`] checks them against the commits read.
//! [`SledLog::space_usage`] says where the disk space goes, and
//! [`SledLog::compact_into`] copies a store opened read-only into much less of it.

mod guard;
mod index_check;
mod space;
mod writer;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use gridcase_domain::{CaseId, CommandId, EventRecord, Hash};
use tokio::sync::watch;

use self::guard::{guard, Reading};
pub use self::index_check::{CommitIndex, HeadProblem, Holds, IndexCheck, IndexFinding};
pub use self::space::{Compacted, EntryBytes, SpaceUsage};
use self::writer::Writer;
use crate::local::{embedded_event_log, WriterThread};
use crate::log::*;
use crate::raw::RawCommit;

const PREFIX_COMMIT: u8 = b'P';
const PREFIX_CASE: u8 = b'C';
const PREFIX_HEAD: u8 = b'V';
const PREFIX_COMMAND: u8 = b'K';
/// Commits read per page by the readers.
const PAGE: usize = 512;

/// The embedded sled event log. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct SledLog {
    inner: Arc<Inner>,
}

struct Inner {
    tree: sled::Tree,
    /// The database the tree lives in, open for the log's lifetime (flushed by tests).
    #[cfg_attr(not(feature = "test-support"), allow(dead_code))]
    db: sled::Db,
    path: PathBuf,
    durable: Arc<AtomicU64>,
    head_rx: watch::Receiver<Position>,
    writer: WriterThread,
    /// Declared last, so dropped after every sled handle above: see [`LockReleased`].
    _released: LockReleased,
}

/// Waits, when a log is dropped, until sled has let go of the store's lock, so that the store
/// can be opened again as soon as the log is gone (a restart in the same process, a test
/// reopening it, `gridcase compact` after a read). sled finishes its buffer writes and file
/// truncations on a global thread pool whose tasks keep the locked file open for a moment
/// after the database is dropped; without this wait a reopen could fail with
/// [`LogError::Locked`] although nothing holds the store any more.
struct LockReleased {
    db_file: PathBuf,
}

/// How long a dropped log waits for sled's pool before it gives up (and warns).
const LOCK_RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Drop for LockReleased {
    fn drop(&mut self) {
        let Ok(file) = std::fs::File::open(&self.db_file) else {
            return;
        };
        let deadline = std::time::Instant::now() + LOCK_RELEASE_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => {
                    let _ = file.unlock();
                    return;
                }
                // sled's pool tasks end on their own; there is nothing to wait on but the lock.
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                Err(e) => {
                    tracing::warn!(
                        path = %self.db_file.display(),
                        error = %e,
                        "the sled store is still locked after the log was dropped"
                    );
                    return;
                }
            }
        }
    }
}

pub(crate) fn commit_key(p: Position) -> [u8; 9] {
    let mut k = [PREFIX_COMMIT; 9];
    k[1..].copy_from_slice(&p.to_be_bytes());
    k
}

pub(super) fn case_prefix(case: &CaseId) -> Vec<u8> {
    let mut k = Vec::with_capacity(case.as_str().len() + 2);
    k.push(PREFIX_CASE);
    k.extend_from_slice(case.as_str().as_bytes());
    k.push(0);
    k
}

pub(super) fn head_key(case: &CaseId) -> Vec<u8> {
    let mut k = vec![PREFIX_HEAD];
    k.extend_from_slice(case.as_str().as_bytes());
    k
}

pub(super) fn command_key(cmd: &CommandId) -> Vec<u8> {
    let mut k = vec![PREFIX_COMMAND];
    k.extend_from_slice(cmd.as_str().as_bytes());
    k
}

/// The four writes of one commit: the commit under its position; the case index entry (the
/// case and the commit's first version → the position); the case head (the last version, its
/// hash, the position); the command record (the position, the last version).
pub(super) fn commit_writes(
    position: Position,
    case: &CaseId,
    command: &CommandId,
    first_version: u64,
    last: &EventRecord,
    value: Vec<u8>,
) -> [(Vec<u8>, Vec<u8>); 4] {
    let at = position.to_be_bytes();
    let last_version = last.header.case_version.to_be_bytes();
    let mut ck = case_prefix(case);
    ck.extend_from_slice(&first_version.to_be_bytes());
    let mut hv = Vec::with_capacity(48);
    hv.extend_from_slice(&last_version);
    hv.extend_from_slice(&last.hash.0);
    hv.extend_from_slice(&at);
    let mut kv = Vec::with_capacity(16);
    kv.extend_from_slice(&at);
    kv.extend_from_slice(&last_version);
    [
        (commit_key(position).to_vec(), value),
        (ck, at.to_vec()),
        (head_key(case), hv),
        (command_key(command), kv),
    ]
}

pub(super) fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

pub(super) fn be_position(b: &[u8]) -> Position {
    Position::new(be_u64(b))
}

/// sled's page cache for the log. Its default (1 GiB) filled with every page a rebuild reads
/// once and dominated the process's memory; the log is read sequentially (rebuilds, tools) or
/// by recent case (the command path, which has its own cache), and the OS caches the file.
const LOG_CACHE_BYTES: u64 = 64 << 20;

impl SledLog {
    /// Opens (or creates) the log in `dir`. Fails with [`LogError::Locked`] when another
    /// process has it open, and with [`LogError::Damaged`] when what opening reads (sled's
    /// recovery, the last commit) is damaged.
    pub fn open(dir: impl AsRef<Path>) -> Result<SledLog, LogError> {
        Self::open_inner(dir.as_ref(), true)
    }

    /// Opens the log for reading only: no writer runs, and appends fail with
    /// [`LogError::Closed`]. Still takes the store's lock (sled has no shared mode). When the
    /// last commit cannot be read, the head is taken from the case heads, so that the rest
    /// can still be read.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<SledLog, LogError> {
        Self::open_inner(dir.as_ref(), false)
    }

    fn open_inner(dir: &Path, writable: bool) -> Result<SledLog, LogError> {
        let opened = guard(dir, Reading::Open, "opening the store", || {
            sled::Config::new()
                .path(dir)
                .cache_capacity(LOG_CACHE_BYTES)
                .open()
        });
        // Declared before the database so that it is dropped after it, also when opening fails
        // further on: a failed open lets go of the lock as a dropped log does.
        let released: LockReleased;
        let db = match opened {
            Err(LogError::Storage { source, .. })
                if source.to_string().contains("lock")
                    || source
                        .downcast_ref::<std::io::Error>()
                        .is_some_and(|io| io.kind() == std::io::ErrorKind::WouldBlock) =>
            {
                return Err(LogError::Locked {
                    path: dir.display().to_string(),
                })
            }
            other => other?,
        };
        released = LockReleased {
            db_file: dir.join("db"),
        };
        let tree = guard(dir, Reading::Open, "opening the log tree", || {
            db.open_tree("log")
        })?;
        let last = guard(dir, Reading::Open, "reading the last commit", || {
            tree.scan_prefix([PREFIX_COMMIT]).next_back().transpose()
        });
        let head = match last {
            Ok(last) => last.map_or(Position::ZERO, |(k, _)| be_position(&k[1..])),
            // A reader (the auditors' tool) can still read the rest: every commit raises its
            // case's head in the same batch, so the highest head position is the log's head.
            Err(LogError::Damaged { .. }) if !writable => {
                guard(dir, Reading::Indexes, "reading the case heads", || {
                    let mut head = Position::ZERO;
                    for kv in tree.scan_prefix([PREFIX_HEAD]) {
                        let (_, v) = kv?;
                        if v.len() == 48 {
                            head = head.max(be_position(&v[40..]));
                        }
                    }
                    Ok(head)
                })?
            }
            Err(e) => return Err(e),
        };
        let durable = Arc::new(AtomicU64::new(head.get()));
        let (head_tx, head_rx) = watch::channel(head);
        let writer = if writable {
            let w = Writer {
                dir: dir.to_owned(),
                tree: tree.clone(),
                db: db.clone(),
                next: head.next(),
                durable: durable.clone(),
                head_tx,
                failed: None,
            };
            WriterThread::start("gridcase-sled-writer", move |rx| w.run(rx))?
        } else {
            WriterThread::none()
        };
        Ok(SledLog {
            inner: Arc::new(Inner {
                tree,
                db,
                path: dir.to_owned(),
                durable,
                head_rx,
                writer,
                _released: released,
            }),
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn durable(&self) -> Position {
        Position::new(self.inner.durable.load(Ordering::Acquire))
    }

    /// Runs one guarded call on the tree.
    fn with_tree<T>(
        &self,
        reading: Reading<'_>,
        context: &'static str,
        f: impl FnOnce(&sled::Tree) -> sled::Result<T>,
    ) -> Result<T, LogError> {
        guard(&self.inner.path, reading, context, || f(&self.inner.tree))
    }

    /// Up to `limit` stored values from position `from` to `end`, as sled holds them (no copy
    /// of their bytes); a page that cannot be read is [`LogError::Damaged`] naming the
    /// positions.
    fn stored_page(
        &self,
        from: Position,
        end: Position,
        limit: usize,
    ) -> Result<Vec<(Position, sled::IVec)>, LogError> {
        if from > end || limit == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(limit.min(end.since(from) as usize + 1));
        self.with_tree(Reading::Positions(from, end), "reading commits", |tree| {
            for kv in tree.range(commit_key(from)..=commit_key(end)).take(limit) {
                let (k, v) = kv?;
                out.push((be_position(&k[1..]), v));
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Up to `limit` stored commits from position `from` to `end`, undecoded; a page that
    /// cannot be read is [`LogError::Damaged`] naming the positions.
    fn raw_page(
        &self,
        from: Position,
        end: Position,
        limit: usize,
    ) -> Result<Vec<RawCommit>, LogError> {
        Ok(self
            .stored_page(from, end, limit)?
            .into_iter()
            .map(|(position, v)| RawCommit {
                position,
                subject: None,
                value: v.to_vec(),
            })
            .collect())
    }

    /// Synchronous form of [`EventLog::read_from`].
    ///
    /// Each value is decoded from sled's buffer (no copy); only a value that does not decode
    /// is copied, to name what it holds in the error.
    pub fn read_from_sync(&self, from: Position, limit: usize) -> Result<Vec<Committed>, LogError> {
        self.stored_page(from.max(Position::FIRST), self.durable(), limit)?
            .into_iter()
            .map(|(position, v)| crate::raw::decode_stored(position, &v))
            .collect()
    }

    /// Every stored commit of one case, undecoded, in version order (through the case index).
    ///
    /// # Errors
    ///
    /// [`LogError::Corrupt`] when the index names a commit that is not there,
    /// [`LogError::Damaged`] when the storage cannot be read.
    pub fn raw_case(&self, case: &CaseId) -> Result<Vec<RawCommit>, LogError> {
        let end = self.durable();
        let reading = Reading::Case(case.as_str());
        let positions = self.with_tree(reading, "reading the case index", |tree| {
            tree.scan_prefix(case_prefix(case))
                .map(|kv| kv.map(|(_, v)| be_position(&v)))
                .collect::<sled::Result<Vec<_>>>()
        })?;
        let mut out = Vec::with_capacity(positions.len());
        for p in positions.into_iter().take_while(|p| *p <= end) {
            match self.with_tree(reading, "reading a commit", |tree| tree.get(commit_key(p)))? {
                Some(v) => out.push(RawCommit {
                    position: p,
                    subject: None,
                    value: v.to_vec(),
                }),
                None => {
                    return Err(LogError::Corrupt {
                        position: p,
                        case: Some(case.clone()),
                        cause: Corruption::MissingCommit,
                    })
                }
            }
        }
        Ok(out)
    }

    /// Every stored commit from `from` on, undecoded and in position order, reading past
    /// damage: see [`SledRawCursor`].
    pub fn raw_from(&self, from: Position) -> SledRawCursor {
        SledRawCursor {
            log: self.clone(),
            next: from.max(Position::FIRST),
            end: self.durable(),
            buf: VecDeque::new(),
            damage: None,
        }
    }

    /// The entries of the case index, the case heads and the command index, typed, in key
    /// order: what `gridcase-replay verify` checks against the commits.
    pub fn index_entries(&self) -> IndexCursor {
        IndexCursor {
            log: self.clone(),
            after: vec![PREFIX_CASE],
            buf: VecDeque::new(),
            done: false,
        }
    }

    /// The raw sled tree, for tamper tests and the bench's raw baselines.
    #[cfg(feature = "test-support")]
    pub fn raw_tree(&self) -> &sled::Tree {
        &self.inner.tree
    }

    /// Every stored commit value with its position, in order, straight from sled (no
    /// paging, no damage reporting): the bench's raw read baseline.
    #[cfg(feature = "test-support")]
    pub fn raw_commit_values(
        &self,
    ) -> impl Iterator<Item = Result<(Position, sled::IVec), LogError>> {
        self.inner
            .tree
            .scan_prefix([PREFIX_COMMIT])
            .map(|kv| match kv {
                Ok((k, v)) => Ok((be_position(&k[1..]), v)),
                Err(e) => Err(LogError::storage("scanning the log", e)),
            })
    }

    /// Flushes sled's buffers (everything acknowledged is already durable; this is for tests
    /// that edit raw values).
    #[cfg(feature = "test-support")]
    pub fn flush(&self) -> Result<(), LogError> {
        let db = &self.inner.db;
        guard(&self.inner.path, Reading::Write, "flushing", || {
            db.flush().map(|_| ())
        })
    }
}

/// Stored commits in position order, undecoded, from [`SledLog::raw_from`].
///
/// Damage does not end the read: a stretch that cannot be read comes back, in its place, as
/// one [`LogError::Damaged`] naming its positions, and the next call goes on after it. The
/// end is the durable head when the cursor was made.
pub struct SledRawCursor {
    log: SledLog,
    next: Position,
    end: Position,
    buf: VecDeque<RawCommit>,
    /// A damaged stretch found after the commits in `buf`.
    damage: Option<LogError>,
}

impl SledRawCursor {
    /// The next stored commit; `Ok(None)` at the end; [`LogError::Damaged`] for an
    /// unreadable stretch, after which the read continues.
    pub fn next_raw(&mut self) -> Result<Option<RawCommit>, LogError> {
        if let Some(c) = self.buf.pop_front() {
            return Ok(Some(c));
        }
        if let Some(e) = self.damage.take() {
            return Err(e);
        }
        if self.next > self.end {
            return Ok(None);
        }
        match self.log.raw_page(self.next, self.end, PAGE) {
            Ok(page) => {
                self.next = page
                    .last()
                    .map_or(self.end.next(), |last| last.position.next());
                self.buf.extend(page);
            }
            Err(LogError::Damaged { reason, .. }) => self.probe(reason)?,
            Err(e) => return Err(e),
        }
        self.next_raw()
    }

    /// After a page failed to read: reads one commit at a time, keeping the readable ones,
    /// up to the first readable position after a damaged stretch, which the next page read
    /// starts from.
    fn probe(&mut self, mut reason: String) -> Result<(), LogError> {
        let mut damaged: Option<(Position, Position)> = None;
        let mut p = self.next;
        while p <= self.end {
            let read = self
                .log
                .with_tree(Reading::Positions(p, p), "reading a commit", |tree| {
                    tree.get(commit_key(p))
                });
            match read {
                Ok(_) if damaged.is_some() => break,
                Ok(Some(v)) => self.buf.push_back(RawCommit {
                    position: p,
                    subject: None,
                    value: v.to_vec(),
                }),
                // A missing key is a gap, which verify reports by itself.
                Ok(None) => {}
                Err(LogError::Damaged { reason: r, .. }) => {
                    reason = r;
                    damaged = Some((damaged.map_or(p, |(first, _)| first), p));
                }
                Err(other) => return Err(other),
            }
            p = p.next();
        }
        self.next = p;
        if let Some((first, last)) = damaged {
            self.damage = Some(LogError::Damaged {
                location: format!(
                    "{} in {}",
                    if first == last {
                        format!("position {first}")
                    } else {
                        format!("positions {first}..={last}")
                    },
                    self.log.path().display()
                ),
                reason,
            });
        }
        Ok(())
    }
}

/// One entry of the embedded store's indexes, typed; see [`SledLog::index_entries`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexEntry {
    /// `C`: the commit that starts at `first_version` of `case` is at `position`.
    Case {
        /// The case.
        case: String,
        /// The first version of the commit.
        first_version: u64,
        /// Its position.
        position: Position,
    },
    /// `V`: the head of `case`.
    Head {
        /// The case.
        case: String,
        /// Its version.
        version: u64,
        /// The hash of its last event.
        hash: Hash,
        /// The position of its last commit.
        position: Position,
    },
    /// `K`: the first result of `command`.
    Command {
        /// The command id.
        command: String,
        /// The position of the commit it produced.
        position: Position,
        /// The case version after it.
        version: u64,
    },
    /// A key or value of an index that does not parse.
    Malformed {
        /// Which index: `case index`, `case head` or `command index`.
        index: &'static str,
        /// The key, lossily as text.
        key: String,
    },
}

/// The indexes' entries in key order; see [`SledLog::index_entries`].
pub struct IndexCursor {
    log: SledLog,
    /// Read keys strictly after this one (initially the first index prefix).
    after: Vec<u8>,
    buf: VecDeque<IndexEntry>,
    done: bool,
}

impl IndexCursor {
    /// The next entry, `Ok(None)` at the end.
    pub fn next_entry(&mut self) -> Result<Option<IndexEntry>, LogError> {
        if let Some(e) = self.buf.pop_front() {
            return Ok(Some(e));
        }
        if self.done {
            return Ok(None);
        }
        let start = self.after.clone();
        let mut keys = Vec::new();
        self.log
            .with_tree(Reading::Indexes, "reading the indexes", |tree| {
                for kv in tree.range(start.clone()..).take(PAGE) {
                    let (k, v) = kv?;
                    if k.as_ref() == start.as_slice() {
                        continue;
                    }
                    keys.push((k, v));
                }
                Ok(())
            })?;
        if keys.is_empty() {
            self.done = true;
            return Ok(None);
        }
        for (k, v) in keys {
            self.after = k.to_vec();
            match k.first() {
                Some(&PREFIX_CASE) => self.buf.push_back(parse_case_entry(&k, &v)),
                Some(&PREFIX_HEAD) => self.buf.push_back(parse_head_entry(&k, &v)),
                Some(&PREFIX_COMMAND) => self.buf.push_back(parse_command_entry(&k, &v)),
                // Commits (`P`) are not index entries; skip past them in one step.
                Some(&PREFIX_COMMIT) => {
                    self.after = vec![
                        PREFIX_COMMIT,
                        0xff,
                        0xff,
                        0xff,
                        0xff,
                        0xff,
                        0xff,
                        0xff,
                        0xff,
                    ];
                    break;
                }
                _ => self.buf.push_back(IndexEntry::Malformed {
                    index: "unknown",
                    key: String::from_utf8_lossy(&k).into_owned(),
                }),
            }
        }
        self.next_entry()
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn parse_case_entry(k: &[u8], v: &[u8]) -> IndexEntry {
    let parsed = (|| {
        if k.len() < 11 || k[k.len() - 9] != 0 || v.len() != 8 {
            return None;
        }
        let case = std::str::from_utf8(&k[1..k.len() - 9]).ok()?.to_owned();
        Some(IndexEntry::Case {
            case,
            first_version: be_u64(&k[k.len() - 8..]),
            position: be_position(v),
        })
    })();
    parsed.unwrap_or_else(|| IndexEntry::Malformed {
        index: "case index",
        key: lossy(k),
    })
}

fn parse_head_entry(k: &[u8], v: &[u8]) -> IndexEntry {
    if v.len() != 48 {
        return IndexEntry::Malformed {
            index: "case head",
            key: lossy(k),
        };
    }
    IndexEntry::Head {
        case: lossy(&k[1..]),
        version: be_u64(v),
        hash: Hash(v[8..40].try_into().expect("32 bytes")),
        position: be_position(&v[40..]),
    }
}

fn parse_command_entry(k: &[u8], v: &[u8]) -> IndexEntry {
    if v.len() != 16 {
        return IndexEntry::Malformed {
            index: "command index",
            key: lossy(k),
        };
    }
    IndexEntry::Command {
        command: lossy(&k[1..]),
        position: be_position(v),
        version: be_u64(&v[8..]),
    }
}

embedded_event_log!(SledLog);
