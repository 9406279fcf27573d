//! Writing a file log from stored commits read elsewhere: how `gridcase compact` moves a sled
//! store of an earlier version into the file log, byte for byte.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::scan::{put_record, MAGIC};
use super::{FileLog, LOG_FILE};
use crate::local::{move_into_place, partial_dir};
use crate::log::{LogError, Position};
use crate::raw::RawCommit;

/// What [`FileLog::write_copy`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Commits copied.
    pub commits: u64,
    /// The new log file's size in bytes.
    pub file_bytes: u64,
}

impl FileLog {
    /// Writes the stored commits of the sled store `from` (opened read-only) into a new file
    /// log in `dst`: [`FileLog::write_copy`] of its commits in position order. How a data
    /// directory of an earlier version moves to the file log (`gridcase compact`).
    ///
    /// # Errors
    ///
    /// As [`FileLog::write_copy`], and [`LogError::Damaged`] for a stretch of the sled store
    /// that cannot be read.
    pub fn copy_from_sled(from: &crate::SledLog, dst: &Path) -> Result<Copied, LogError> {
        let mut cursor = from.raw_from(Position::FIRST);
        FileLog::write_copy(dst, || cursor.next_raw())
    }

    /// Writes a new file log in `dst` (which must not exist) holding exactly the stored
    /// commits `next` yields, positions 1, 2, … in order, their stored values unchanged.
    ///
    /// The copy is written to `dst.partial`, fsynced, opened again (which checks every
    /// record's checksum and versions) and read back (through the page cache: this checks
    /// what was written, not the disk's later reading of it): only when it holds the same
    /// values at the same positions is it moved to `dst`.
    ///
    /// # Errors
    ///
    /// A commit that is damaged (its checksum fails) or out of place (a gap in positions)
    /// stops the copy with [`LogError::Corrupt`]: run `gridcase-replay verify` on the source.
    /// Nothing is left at `dst` then.
    pub fn write_copy(
        dst: &Path,
        next: impl FnMut() -> Result<Option<RawCommit>, LogError>,
    ) -> Result<Copied, LogError> {
        let partial = partial_dir(dst);
        let copied = write_partial(dst, &partial, next);
        if copied.is_err() && partial.exists() {
            let _ = std::fs::remove_dir_all(&partial);
        }
        copied
    }
}

/// [`FileLog::write_copy`], written in `partial` and moved to `dst`; `partial` may be left
/// behind when it fails.
fn write_partial(
    dst: &Path,
    partial: &Path,
    mut next: impl FnMut() -> Result<Option<RawCommit>, LogError>,
) -> Result<Copied, LogError> {
    if dst.exists() {
        return Err(LogError::storage(
            "creating the copy",
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} already exists", dst.display()),
            ),
        ));
    }
    if partial.exists() {
        std::fs::remove_dir_all(partial)
            .map_err(|e| LogError::storage("removing an unfinished copy", e))?;
    }
    std::fs::create_dir_all(partial)
        .map_err(|e| LogError::storage("creating the copy's directory", e))?;
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(partial.join(LOG_FILE))
        .map_err(|e| LogError::storage("creating the copy's log file", e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let write_err = |e| LogError::storage("writing the copy", e);
    out.write_all(MAGIC).map_err(write_err)?;
    let mut expected = Position::FIRST;
    let mut digest = crc32fast::Hasher::new();
    let mut record = Vec::new();
    while let Some(c) = next()? {
        if c.position != expected {
            return Err(LogError::Corrupt {
                position: expected,
                case: None,
                cause: crate::log::Corruption::MissingCommit,
            });
        }
        if let Err(e) = c.body() {
            let case = c.case_hint();
            return Err(LogError::Corrupt {
                position: c.position,
                case,
                cause: e.into(),
            });
        }
        record.clear();
        put_record(&c.value, &mut record)?;
        digest.update(&record);
        out.write_all(&record).map_err(write_err)?;
        expected = expected.next();
    }
    let file = out.into_inner().map_err(|e| write_err(e.into_error()))?;
    file.sync_all().map_err(write_err)?;
    drop(file);

    let copy = FileLog::open_read_only(partial)?;
    let commits = expected.get() - 1;
    if let Some(damage) = copy.first_damage() {
        return Err(damage);
    }
    let mut back = crc32fast::Hasher::new();
    let mut cursor = copy.raw_from(Position::FIRST);
    let mut read = 0u64;
    while let Some(c) = cursor.next_raw()? {
        record.clear();
        put_record(&c.value, &mut record)?;
        back.update(&record);
        read += 1;
    }
    if read != commits || back.finalize() != digest.finalize() {
        return Err(LogError::Damaged {
            location: partial.display().to_string(),
            reason: format!("the copy read back differs ({read} of {commits} commits)"),
        });
    }
    let file_bytes = copy.file_bytes()?;
    drop(copy);
    move_into_place(partial, dst)?;
    Ok(Copied {
        commits,
        file_bytes,
    })
}
