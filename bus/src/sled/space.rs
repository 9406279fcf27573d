//! Where the embedded store's disk space goes, and a compacted copy of a store.
//!
//! sled 0.34 writes a log of page fragments: every batch appends a delta of each leaf it
//! touches, a leaf is rewritten whole after ten deltas, and a segment is reclaimed only once
//! half of it is dead. Under the log's frequent small flushes the directory is therefore
//! several times the bytes of its keys and values (see BENCHMARKS.md). [`SledLog::space_usage`]
//! measures both sides; [`SledLog::compact_into`] rewrites a store opened read-only into a fresh directory in
//! a few large batches, which keeps far fewer dead page versions. sled has no compaction of
//! its own.

use std::path::Path;

use super::guard::{guard, Reading};
use super::{SledLog, LOG_CACHE_BYTES, PREFIX_CASE, PREFIX_COMMAND, PREFIX_COMMIT, PREFIX_HEAD};
use crate::local::{move_into_place, partial_dir};
use crate::log::{LogError, Reason};

/// The keys and values of one kind of entry of the embedded store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EntryBytes {
    /// How many entries.
    pub entries: u64,
    /// Their keys' bytes.
    pub key_bytes: u64,
    /// Their values' bytes.
    pub value_bytes: u64,
}

impl EntryBytes {
    /// Keys plus values.
    pub fn total(&self) -> u64 {
        self.key_bytes + self.value_bytes
    }

    fn add(&mut self, key: &[u8], value: &[u8]) {
        self.entries += 1;
        self.key_bytes += key.len() as u64;
        self.value_bytes += value.len() as u64;
    }
}

/// The embedded store's size on disk next to the bytes of what it holds; see
/// [`SledLog::space_usage`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SpaceUsage {
    /// Bytes of the files under the store's directory (sled's log of pages and its snapshot).
    pub disk_bytes: u64,
    /// `P`: the stored commits (CRC-32 and MessagePack, [`crate::raw`]).
    pub commits: EntryBytes,
    /// `C`: the case index.
    pub case_index: EntryBytes,
    /// `V`: the case heads.
    pub heads: EntryBytes,
    /// `K`: the command index.
    pub commands: EntryBytes,
    /// Anything else (none in a store this version wrote).
    pub other: EntryBytes,
}

impl SpaceUsage {
    /// Keys plus values of every entry: what the directory would be without sled's overhead.
    pub fn entry_bytes(&self) -> u64 {
        [
            self.commits,
            self.case_index,
            self.heads,
            self.commands,
            self.other,
        ]
        .iter()
        .map(EntryBytes::total)
        .sum()
    }
}

/// What [`SledLog::compact_into`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    /// The source store, measured before the copy.
    pub before: SpaceUsage,
    /// The copy, read back once flushed.
    pub after: SpaceUsage,
}

/// Entries per batch (and flush) of the copy: large batches leave few dead page versions
/// behind (measured on quzhou-month: 1,024 gave the smallest store of 256 to 10⁹).
const COMPACT_BATCH: usize = 1024;

/// The keys and values of every entry of `tree`, by kind (`disk_bytes` left at 0).
fn entry_usage(tree: &sled::Tree) -> sled::Result<SpaceUsage> {
    let mut u = SpaceUsage::default();
    for kv in tree.iter() {
        let (k, v) = kv?;
        let kind = match k.first() {
            Some(&PREFIX_COMMIT) => &mut u.commits,
            Some(&PREFIX_CASE) => &mut u.case_index,
            Some(&PREFIX_HEAD) => &mut u.heads,
            Some(&PREFIX_COMMAND) => &mut u.commands,
            _ => &mut u.other,
        };
        kind.add(&k, &v);
    }
    Ok(u)
}

/// Bytes of the files under `dir`.
pub(super) fn dir_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_bytes(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

impl SledLog {
    /// Measures the store: the bytes on disk, and the keys and values of each kind of entry.
    /// Reads every entry (as a rebuild does); what is appended meanwhile may or may not be
    /// counted.
    ///
    /// # Errors
    ///
    /// [`LogError::Damaged`] when an entry cannot be read, [`LogError::Storage`] when the
    /// directory cannot be listed.
    pub fn space_usage(&self) -> Result<SpaceUsage, LogError> {
        let mut u = self.with_tree(Reading::Indexes, "measuring the store", entry_usage)?;
        u.disk_bytes =
            dir_bytes(self.path()).map_err(|e| LogError::storage("measuring the store", e))?;
        Ok(u)
    }

    /// Copies this store, opened with [`SledLog::open_read_only`] (so no server has it open),
    /// into a new store in `dst`, entry for entry, in large batches: the copy holds the same
    /// keys and values (so the same commits, positions and indexes) in much less space. `dst`
    /// must not exist or be empty; this store is left as it was. The copy is written into `dst` + `.partial`, flushed (fsync), read
    /// back and checked to hold the same number and bytes of entries of each kind, and only
    /// then renamed to `dst`: a directory `dst` is always a whole copy. Replacing `src` with
    /// it is left to the operator, with the server stopped.
    ///
    /// # Errors
    ///
    /// [`LogError::Misconfigured`] when this store was opened for writing, when `dst` is not
    /// empty, when `dst.partial` is left from an interrupted run, or when the copy does not
    /// match (it is then left in `dst.partial`), [`LogError::Damaged`] when this store cannot
    /// be read, [`LogError::Storage`] on I/O failures.
    pub fn compact_into(&self, dst: impl AsRef<Path>) -> Result<Compacted, LogError> {
        let dst = dst.as_ref();
        if self.inner.writer.is_running() {
            // Appends during the copy could be copied in part (the entries are read in key
            // order, a commit's index entries before it).
            return Err(LogError::Misconfigured(std::sync::Arc::new(Reason(
                format!(
                    "{} is open for writing: compact a store opened read-only",
                    self.path().display()
                ),
            ))));
        }
        if std::fs::read_dir(dst).is_ok_and(|mut d| d.next().is_some()) {
            return Err(LogError::Misconfigured(std::sync::Arc::new(Reason(
                format!(
                    "{} is not empty: a compacted copy goes into a new directory",
                    dst.display()
                ),
            ))));
        }
        // The copy is written beside `dst` and renamed into place once complete, so that a
        // directory named `dst` is always a whole copy, even after a crash.
        let partial = partial_dir(dst);
        if partial.exists() {
            return Err(LogError::Misconfigured(std::sync::Arc::new(Reason(
                format!(
                    "{} exists: an earlier compaction was interrupted; delete it and run again",
                    partial.display()
                ),
            ))));
        }
        let before = self.space_usage()?;
        let after = copy_entries(self, &partial)?;
        let same = [
            (before.commits, after.commits),
            (before.case_index, after.case_index),
            (before.heads, after.heads),
            (before.commands, after.commands),
            (before.other, after.other),
        ]
        .iter()
        .all(|(x, y)| x == y);
        if !same {
            return Err(LogError::Misconfigured(std::sync::Arc::new(Reason(
                format!(
                    "the compacted copy in {} does not hold what {} holds; discard it",
                    partial.display(),
                    self.path().display()
                ),
            ))));
        }
        move_into_place(&partial, dst)?;
        Ok(Compacted { before, after })
    }
}

/// Copies every entry of `from` into a new store in `dst`, [`COMPACT_BATCH`] entries per
/// batch and flush; returns what the flushed copy holds, read back through its own handles
/// (opening it again in this process could find sled's lock still held by its I/O threads).
fn copy_entries(from: &SledLog, dst: &Path) -> Result<SpaceUsage, LogError> {
    let db = guard(dst, Reading::Open, "creating the compacted store", || {
        sled::Config::new()
            .path(dst)
            .cache_capacity(LOG_CACHE_BYTES)
            .create_new(true)
            .open()
    })?;
    let to = guard(dst, Reading::Open, "opening the log tree", || {
        db.open_tree("log")
    })?;
    let write = |batch: sled::Batch| {
        guard(dst, Reading::Write, "writing the compacted store", || {
            to.apply_batch(batch).and_then(|_| db.flush()).map(|_| ())
        })
    };
    let mut batch = sled::Batch::default();
    let mut staged = 0;
    from.with_tree(Reading::Indexes, "reading the store to compact", |tree| {
        for kv in tree.iter() {
            let (k, v) = kv?;
            batch.insert(k, v);
            staged += 1;
            if staged == COMPACT_BATCH {
                staged = 0;
                // A write failure ends the scan; it is returned below.
                if let Err(e) = write(std::mem::take(&mut batch)) {
                    return Ok(Err(e));
                }
            }
        }
        Ok(Ok(()))
    })??;
    write(batch)?;
    let mut u = guard(
        dst,
        Reading::Indexes,
        "reading the compacted store back",
        || entry_usage(&to),
    )?;
    u.disk_bytes =
        dir_bytes(dst).map_err(|e| LogError::storage("measuring the compacted store", e))?;
    Ok(u)
}
