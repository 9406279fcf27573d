//! The embedded log in one append-only file: the one-machine default for new stores.
//!
//! `DIR/commits.log` is a 16-byte header (`gridcase-log v1\n`) followed by one record per
//! commit, in position order: a record header — the stored value's length (u32
//! little-endian) and the CRC-32 of those four bytes — then the stored value itself
//! ([`crate::raw`]: CRC-32 + MessagePack, the same bytes NATS and the sled store keep).
//! Nothing else is on disk: about the events' own size, against three times as much in sled
//! (see BENCHMARKS.md).
//!
//! The indexes live in memory, built by reading the file once when it is opened (`scan`):
//! where each position's record starts, each case's head and commits, each command's first
//! commit (by a per-process-seeded digest of its id, confirmed by reading that commit back;
//! ids whose digests collide kept by id). A single writer thread does group commit
//! (`writer`): it validates a group of appends against the index, writes their records in one
//! write at the end of the file, fsyncs, and only then extends the index, raises the durable
//! head and acknowledges them.
//! Readers never look past the durable head. Opened for writing, the file is fsynced once
//! after the scan, so what a killed writer left unsynced is durable before it is served.
//!
//! A crash can cut the last write short: opening finds a record header cut short, a sound
//! header stating more bytes than remain, zeros, or — after a power cut that kept the file's
//! new size but not its last blocks — a last record or header that ends in zeros from a block
//! boundary on. Opened for writing, such a torn tail (never acknowledged) is copied beside the
//! log (`commits.log.torn-at-OFFSET`, never overwriting an earlier one) and cut off. A write
//! or fsync that fails cuts its group off the same way and stops the writer.
//! Anything else is damage, never cut: a record header or a whole record that fails its
//! checksum, a record that does not decode or does not follow its case's versions. A writer
//! refuses a damaged store ([`LogError::Corrupt`] or [`LogError::Damaged`] naming where); a
//! reader ([`FileLog::open_read_only`], the auditors' tool) reads past a damaged record
//! (kept in its case's commits when its bytes tell the case) and reports what it cannot read
//! where it is. A power cut can also leave zeros in the middle of the last, unsynced write,
//! followed by records: that is refused as damage too (nothing is lost; the operator decides).
//!
//! The store is locked with an advisory lock on the file (exclusive for a writer, shared for
//! readers), so two servers never write one store.

mod copy;
mod scan;
mod writer;

use std::collections::VecDeque;
use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use gridcase_domain::CaseId;
use tokio::sync::watch;

pub use self::copy::Copied;
use self::scan::{scan, stated_len, CommandDigest, Index, LEN, MAGIC};
use self::writer::Writer;
use crate::local::{embedded_event_log, sync_dir, WriterThread};
use crate::log::*;
use crate::raw::RawCommit;

/// The log file's name in its directory.
pub const LOG_FILE: &str = "commits.log";
/// Commits read per page by the readers.
const PAGE: usize = 512;
/// About the most bytes one page reads (a page holds at least one commit).
const PAGE_BYTES: u64 = 4 << 20;

/// The embedded log in one append-only file. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct FileLog {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    file: Arc<File>,
    /// Extended by the writer only once a group is on disk: its head is the durable head.
    index: Arc<RwLock<Index>>,
    head_rx: watch::Receiver<Position>,
    /// The first damage the opening scan found (a reader's; a writer refuses).
    damage: Option<LogError>,
    /// Bytes after the last readable record that are not a torn write (a reader's).
    unreadable_tail: Option<LogError>,
    #[cfg(feature = "test-support")]
    fail_next_sync: Arc<std::sync::atomic::AtomicBool>,
    writer: WriterThread,
}

impl FileLog {
    /// Whether `dir` holds a file log.
    pub fn exists_in(dir: impl AsRef<Path>) -> bool {
        dir.as_ref().join(LOG_FILE).is_file()
    }

    /// Opens (or creates) the log in `dir`, reading the whole file to index it. Fails with
    /// [`LogError::Locked`] when another process has it open, and with [`LogError::Corrupt`]
    /// or [`LogError::Damaged`] when a stored record is damaged (a torn tail left by a crash
    /// is cut off instead: it was never acknowledged).
    pub fn open(dir: impl AsRef<Path>) -> Result<FileLog, LogError> {
        Self::open_inner(dir.as_ref(), true, CommandDigest::Seeded)
    }

    /// [`FileLog::open`] with every command id digested alike in the command index, so that
    /// every lookup takes the path that confirms a digest against the stored commit and the
    /// path of ids whose digests collide (tests: the contract holds there too).
    #[cfg(feature = "test-support")]
    pub fn open_with_colliding_digests(dir: impl AsRef<Path>) -> Result<FileLog, LogError> {
        Self::open_inner(dir.as_ref(), true, CommandDigest::Colliding)
    }

    /// Opens the log for reading only: no writer runs, and appends fail with
    /// [`LogError::Closed`]. Takes a shared lock (so no writer can hold the store meanwhile)
    /// and reads past damaged records: reading one reports it.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<FileLog, LogError> {
        Self::open_inner(dir.as_ref(), false, CommandDigest::Seeded)
    }

    fn open_inner(dir: &Path, writable: bool, digest: CommandDigest) -> Result<FileLog, LogError> {
        let path = dir.join(LOG_FILE);
        let file = if writable {
            std::fs::create_dir_all(dir)
                .map_err(|e| LogError::storage("creating the data directory", e))?;
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
        } else {
            File::open(&path)
        }
        .map_err(|e| LogError::storage("opening the log file", e))?;
        let locked = if writable {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match locked {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LogError::Locked {
                    path: dir.display().to_string(),
                })
            }
            Err(TryLockError::Error(e)) => {
                return Err(LogError::storage("locking the log file", e))
            }
        }
        let len = file
            .metadata()
            .map_err(|e| LogError::storage("reading the log file's size", e))?
            .len();
        if writable && len <= MAGIC.len() as u64 && unfinished_header(&file, len)? {
            // New (or a crash cut its creation short: no commit was ever in it).
            file.set_len(0)
                .and_then(|()| file.write_all_at(MAGIC, 0))
                .and_then(|()| file.sync_all())
                .map_err(|e| LogError::storage("creating the log file", e))?;
            sync_dir(dir)?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        let scanned = scan(&path, &file, !writable, digest)?;
        if writable {
            if scanned.torn > 0 {
                set_aside(&file, &path, scanned.index.end, scanned.torn)?;
                file.set_len(scanned.index.end)
                    .map_err(|e| LogError::storage("cutting off a torn write", e))?;
            }
            // What a killed writer wrote but had not yet synced is still in the page cache,
            // and is now indexed as durable: make it so before anything is read or retried.
            file.sync_all()
                .map_err(|e| LogError::storage("syncing the log file", e))?;
        }
        if let Some(damage) = &scanned.damage {
            tracing::warn!(%damage, "the log file is damaged");
        }
        let damage = scanned.damage;
        let unreadable_tail = scanned.unreadable_tail;
        let (head_tx, head_rx) = watch::channel(scanned.index.head());
        let file = Arc::new(file);
        let index = Arc::new(RwLock::new(scanned.index));
        #[cfg(feature = "test-support")]
        let fail_next_sync = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = if writable {
            let w = Writer {
                file: file.clone(),
                index: index.clone(),
                head_tx,
                failed: None,
                #[cfg(feature = "test-support")]
                fail_next_sync: fail_next_sync.clone(),
            };
            WriterThread::start("gridcase-file-writer", move |rx| w.run(rx))?
        } else {
            WriterThread::none()
        };
        Ok(FileLog {
            inner: Arc::new(Inner {
                dir: dir.to_owned(),
                file,
                index,
                head_rx,
                damage,
                unreadable_tail,
                #[cfg(feature = "test-support")]
                fail_next_sync,
                writer,
            }),
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// The first damaged record found when the log was opened for reading (a writer refuses
    /// a damaged store instead): reading its position reports it too.
    pub fn first_damage(&self) -> Option<LogError> {
        self.inner.damage.clone()
    }

    /// The log file's size in bytes.
    pub fn file_bytes(&self) -> Result<u64, LogError> {
        Ok(self
            .inner
            .file
            .metadata()
            .map_err(|e| LogError::storage("reading the log file's size", e))?
            .len())
    }

    fn durable(&self) -> Position {
        self.index().head()
    }

    fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.inner
            .index
            .read()
            .expect("the index lock is not poisoned")
    }

    /// Reads the records at positions `from..=to` (all durable) in one read, and hands each
    /// stored value to `each`.
    fn records(
        &self,
        from: Position,
        to: Position,
        mut each: impl FnMut(Position, &[u8]) -> Result<(), LogError>,
    ) -> Result<(), LogError> {
        let (start, end, offsets) = {
            let index = self.index();
            let (start, end) = index.span(from, to);
            let offsets = index.offsets[(from.get() - 1) as usize..to.get() as usize].to_vec();
            (start, end, offsets)
        };
        let mut buf = vec![0u8; (end - start) as usize];
        self.inner
            .file
            .read_exact_at(&mut buf, start)
            .map_err(|e| LogError::Damaged {
                location: format!(
                    "positions {from}..={to} (file offsets {start}..{end} of {})",
                    self.path().join(LOG_FILE).display()
                ),
                reason: format!("reading the log file failed: {e}"),
            })?;
        let mut p = from;
        for (i, offset) in offsets.iter().enumerate() {
            let at = (offset - start) as usize;
            let stop = offsets
                .get(i + 1)
                .map_or(buf.len(), |next| (next - start) as usize);
            let record = &buf[at..stop];
            let stated = record
                .get(..LEN)
                .and_then(|h| stated_len(h.try_into().expect("a header")));
            if stated != Some((record.len() - LEN.min(record.len())) as u64) {
                return Err(LogError::Damaged {
                    location: format!(
                        "file offset {offset} of {}",
                        self.path().join(LOG_FILE).display()
                    ),
                    reason: "a record's length changed since the file was opened".into(),
                });
            }
            each(p, &record[LEN..])?;
            p = p.next();
        }
        Ok(())
    }

    /// Hands every stored value up to the durable head to `each`, in order, straight from
    /// the file (no copy, no damage reporting): the bench's raw read baseline.
    #[cfg(feature = "test-support")]
    pub fn for_each_value(
        &self,
        mut each: impl FnMut(Position, &[u8]) -> Result<(), LogError>,
    ) -> Result<(), LogError> {
        let mut from = Position::FIRST;
        while let Some(to) = self.page_end(from, usize::MAX) {
            self.records(from, to, &mut each)?;
            from = to.next();
        }
        Ok(())
    }

    /// Makes the writer's next fsync fail after its write succeeded, as a failing disk can:
    /// for tests of what an append that fails that way leaves.
    #[cfg(feature = "test-support")]
    pub fn fail_next_sync(&self) {
        self.inner
            .fail_next_sync
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Appends the record of `value` (its header, then the value) to `out`, as the writer
    /// frames it: the bench's raw write baseline writes the same bytes.
    #[cfg(feature = "test-support")]
    pub fn frame_record(value: &[u8], out: &mut Vec<u8>) -> Result<(), LogError> {
        scan::put_record(value, out)
    }

    /// Overwrites the stored value at a durable `position` with `value` of the same length, as
    /// someone with access to the file could: for tamper tests.
    #[cfg(feature = "test-support")]
    pub fn replace_stored(&self, position: Position, value: &[u8]) -> Result<(), LogError> {
        let mut at = None;
        if position >= Position::FIRST && position <= self.durable() {
            self.records(position, position, |_, stored| {
                at = Some(stored.len());
                Ok(())
            })?;
        }
        if at != Some(value.len()) {
            return Err(LogError::storage(
                "replacing a stored value",
                std::io::Error::other("no stored value of that length at that position"),
            ));
        }
        let offset = self.index().offsets[(position.get() - 1) as usize] + LEN as u64;
        self.inner
            .file
            .write_all_at(value, offset)
            .and_then(|()| self.inner.file.sync_data())
            .map_err(|e| LogError::storage("replacing a stored value", e))
    }

    /// The last position of a page of at most `limit` commits and about [`PAGE_BYTES`] from
    /// `from` (at least one commit), up to the durable head; `None` when there is nothing to
    /// read.
    fn page_end(&self, from: Position, limit: usize) -> Option<Position> {
        let head = self.durable();
        if from > head || limit == 0 {
            return None;
        }
        let room = head.since(from) + 1;
        let last = from.plus(room.min(limit.min(PAGE * 8) as u64) - 1);
        let index = self.index();
        let offsets = &index.offsets[(from.get() - 1) as usize..last.get() as usize];
        let start = offsets[0];
        // Records start at increasing offsets: the last one starting within the budget.
        let within = offsets.partition_point(|o| o - start < PAGE_BYTES);
        Some(from.plus(within.max(1) as u64 - 1))
    }

    /// Synchronous form of [`EventLog::read_from`].
    pub fn read_from_sync(&self, from: Position, limit: usize) -> Result<Vec<Committed>, LogError> {
        let mut from = from.max(Position::FIRST);
        let mut out = Vec::new();
        while let Some(to) = self.page_end(from, limit - out.len()) {
            out.reserve(to.since(from) as usize + 1);
            self.records(from, to, |p, value| {
                out.push(crate::raw::decode_stored(p, value)?);
                Ok(())
            })?;
            from = to.next();
        }
        Ok(out)
    }

    /// Every stored commit of one case, undecoded, in version order.
    ///
    /// # Errors
    ///
    /// [`LogError::Storage`] when the file cannot be read.
    pub fn raw_case(&self, case: &CaseId) -> Result<Vec<RawCommit>, LogError> {
        let end = self.durable();
        let positions = self
            .index()
            .cases
            .get(case)
            .map(|c| c.commits.clone())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(positions.len());
        for p in positions.into_iter().take_while(|p| *p <= end) {
            self.records(p, p, |position, value| {
                out.push(RawCommit {
                    position,
                    subject: None,
                    value: value.to_vec(),
                });
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// Every stored commit from `from` on, undecoded and in position order, up to the durable
    /// head when called: see [`FileRawCursor`].
    pub fn raw_from(&self, from: Position) -> FileRawCursor {
        FileRawCursor {
            log: self.clone(),
            next: from.max(Position::FIRST),
            end: self.durable(),
            buf: VecDeque::new(),
            tail_pending: true,
            pending: None,
        }
    }
}

/// Whether a log file of `len` bytes (at most the header's) holds no more than a header being
/// written: nothing, zeros, or the start of the header.
fn unfinished_header(file: &File, len: u64) -> Result<bool, LogError> {
    let mut start = vec![0u8; len as usize];
    file.read_exact_at(&mut start, 0)
        .map_err(|e| LogError::storage("reading the log file's header", e))?;
    Ok(start.iter().all(|b| *b == 0) || MAGIC.starts_with(&start) && start.len() < MAGIC.len())
}

/// Copies the `torn` bytes at `from` (a write a crash cut short) beside the log, synced,
/// before they are cut off: nothing is destroyed, even if the rule that called them torn
/// were wrong.
fn set_aside(file: &File, path: &Path, from: u64, torn: u64) -> Result<(), LogError> {
    let io = |e| LogError::storage("setting a torn write aside", e);
    let (aside, mut out) = (0..)
        .map(|n| {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!(".{n}")
            };
            path.with_extension(format!("log.torn-at-{from}{suffix}"))
        })
        .find_map(|aside| match File::create_new(&aside) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
            created => Some(created.map(|f| (aside, f))),
        })
        .expect("some name is free")
        .map_err(io)?;
    tracing::warn!(
        bytes = torn,
        file = %path.display(),
        kept = %aside.display(),
        "cutting off a write a crash left unfinished (never acknowledged); its bytes are kept"
    );
    let mut reader = FileSlice {
        file,
        at: from,
        end: from + torn,
    };
    std::io::copy(&mut reader, &mut out).map_err(io)?;
    out.sync_all().map_err(io)?;
    if let Some(dir) = aside.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// A byte range of a file as a reader (positioned reads, the file's cursor untouched).
struct FileSlice<'a> {
    file: &'a File,
    at: u64,
    end: u64,
}

impl std::io::Read for FileSlice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min((self.end - self.at) as usize);
        let n = self.file.read_at(&mut buf[..n], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// Stored commits in position order, undecoded, from [`FileLog::raw_from`]. A damaged record
/// comes back as it is stored (its checksum fails when decoded). Damage does not end the read:
/// a page that cannot be read, and bytes after the last record that cannot be read as
/// records, each come back once, in their place, as [`LogError::Damaged`]; the next call goes
/// on after them.
pub struct FileRawCursor {
    log: FileLog,
    next: Position,
    end: Position,
    buf: VecDeque<RawCommit>,
    /// Whether the unreadable tail (if any) is still to be reported.
    tail_pending: bool,
    /// A page's failure, reported after the records read before it.
    pending: Option<LogError>,
}

impl FileRawCursor {
    /// The next stored commit; `Ok(None)` at the end; [`LogError::Damaged`] for what cannot
    /// be read, after which the read continues.
    pub fn next_raw(&mut self) -> Result<Option<RawCommit>, LogError> {
        if let Some(c) = self.buf.pop_front() {
            return Ok(Some(c));
        }
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if self.next > self.end {
            if std::mem::take(&mut self.tail_pending) {
                if let Some(e) = self.log.inner.unreadable_tail.clone() {
                    return Err(e);
                }
            }
            return Ok(None);
        }
        let Some(to) = self
            .log
            .page_end(self.next, PAGE)
            .map(|to| to.min(self.end))
        else {
            return Ok(None);
        };
        let from = std::mem::replace(&mut self.next, to.next());
        let buf = &mut self.buf;
        let read = self.log.records(from, to, |position, value| {
            buf.push_back(RawCommit {
                position,
                subject: None,
                value: value.to_vec(),
            });
            Ok(())
        });
        if let Err(e) = read {
            // The records read before the failure first, then the failure; the read goes
            // on after the page.
            match self.buf.pop_front() {
                Some(c) => {
                    self.pending = Some(e);
                    return Ok(Some(c));
                }
                None => return Err(e),
            }
        }
        self.next_raw()
    }
}

embedded_event_log!(FileLog);
