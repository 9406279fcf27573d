//! The single writer of the file log: group commit, one write and one fsync per group, and
//! acknowledgement (and the index, and the durable head) only once the group is on disk.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{mpsc, Arc, RwLock};

use gridcase_domain::ChainHead;
use tokio::sync::watch;

use super::scan::{put_record, Index, Indexed, LEN};
use crate::local::{refuse_group, run_groups, write_failed, Admitted, Group, Reply};
use crate::log::*;
use crate::raw::encode_value;

pub(super) struct Writer {
    pub(super) file: Arc<File>,
    /// Extended only once a group is on disk: its head is the durable head, its end where
    /// the next group is written.
    pub(super) index: Arc<RwLock<Index>>,
    pub(super) head_tx: watch::Sender<Position>,
    pub(super) failed: Option<LogError>,
    /// Set by tests: the next fsync fails (after its write succeeded).
    #[cfg(feature = "test-support")]
    pub(super) fail_next_sync: Arc<std::sync::atomic::AtomicBool>,
}

/// A commit staged in the group's buffer: where its record starts and ends, what the index
/// keeps of it.
struct Staged {
    offset: u64,
    end: u64,
    indexed: Indexed,
}

impl Writer {
    pub(super) fn run(mut self, rx: mpsc::Receiver<(Commit, Reply)>) {
        run_groups(rx, |group| self.commit_group(group));
    }

    fn commit_group(&mut self, group: Vec<(Commit, Reply)>) {
        if let Some(e) = &self.failed {
            return refuse_group(group, e);
        }
        let mut buf = Vec::new();
        let mut staged = Vec::new();
        let mut staging = Group::default();
        let mut results = Vec::with_capacity(group.len());
        // Only this thread changes the index: what it says now holds for the whole group.
        let (first, start) = {
            let index = self.index.read().expect("the index lock is not poisoned");
            for (commit, reply) in group {
                let r = stage(
                    &index,
                    &self.file,
                    &commit,
                    &mut buf,
                    &mut staged,
                    &mut staging,
                );
                results.push((reply, r));
            }
            (index.head().next(), index.end)
        };
        if !staged.is_empty() {
            let done = self
                .file
                .write_all_at(&buf, start)
                .and_then(|()| self.sync());
            if let Err(e) = done {
                // Whether the records reached the disk is unknown (after a failed fsync the
                // kernel may keep pages readable that never reach the disk): cut the group
                // off, so that no reopening serves it, and stop writing.
                let cut = self.file.set_len(start).and_then(|()| self.file.sync_all());
                if let Err(cut) = cut {
                    tracing::error!(%cut, "could not cut off a group whose write failed");
                }
                let err = LogError::storage(
                    "writing a group of commits (the log stops accepting appends until reopened)",
                    e,
                );
                self.failed = Some(write_failed(results, first, err));
                return;
            }
            let head = {
                let mut index = self.index.write().expect("the index lock is not poisoned");
                for s in staged {
                    index.push(s.offset, s.end, s.indexed, &self.file);
                }
                index.head()
            };
            self.head_tx.send_replace(head);
        }
        for (reply, r) in results {
            let _ = reply.send(r);
        }
    }

    fn sync(&self) -> std::io::Result<()> {
        #[cfg(feature = "test-support")]
        if self
            .fail_next_sync
            .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            return Err(std::io::Error::other("an injected fsync failure"));
        }
        self.file.sync_data()
    }
}

/// Checks `c` against `index` and the appends staged before it in the group and, when it is
/// new, frames its record at the end of `buf` (which is written at `index.end`).
fn stage(
    index: &Index,
    file: &File,
    c: &Commit,
    buf: &mut Vec<u8>,
    staged: &mut Vec<Staged>,
    staging: &mut Group,
) -> Result<Appended, AppendError> {
    let next = index.head().plus(staged.len() as u64 + 1);
    let admitted = staging.admit(
        c,
        next,
        || index.command(&c.command_id, file),
        || {
            Ok(index
                .cases
                .get(&c.case_id)
                .map_or(ChainHead::EMPTY, |e| e.head))
        },
    )?;
    let a = match admitted {
        Admitted::Duplicate(a) => return Ok(a),
        Admitted::New(a) => a,
    };
    let value = encode_value(&c.case_id, &c.command_id, &c.events, c.fingerprint.as_ref())?;
    let offset = index.end + buf.len() as u64;
    put_record(&value, buf)?;
    staged.push(Staged {
        offset,
        end: offset + (LEN + value.len()) as u64,
        indexed: Indexed {
            case_id: c.case_id.clone(),
            command_id: c.command_id.clone(),
            head: ChainHead::of(c.events.last().expect("admitted: not empty")),
        },
    });
    staging.staged(c, a);
    Ok(a)
}
