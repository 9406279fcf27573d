//! The single writer of the embedded log: group commit, one flush (fsync) per group, and
//! acknowledgement only once the group is durable.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use gridcase_domain::{ChainHead, Hash};
use tokio::sync::watch;

use super::guard::{guard, Reading};
use super::{be_position, be_u64, command_key, commit_writes, head_key};
use crate::local::{refuse_group, run_groups, write_failed, Admitted, Group, Reply};
use crate::log::*;
use crate::raw::encode_value;

pub(super) struct Writer {
    pub(super) dir: PathBuf,
    pub(super) tree: sled::Tree,
    pub(super) db: sled::Db,
    pub(super) next: Position,
    pub(super) durable: Arc<AtomicU64>,
    pub(super) head_tx: watch::Sender<Position>,
    pub(super) failed: Option<LogError>,
}

impl Writer {
    pub(super) fn run(mut self, rx: mpsc::Receiver<(Commit, Reply)>) {
        run_groups(rx, |group| self.commit_group(group));
    }

    fn commit_group(&mut self, group: Vec<(Commit, Reply)>) {
        if let Some(e) = &self.failed {
            return refuse_group(group, e);
        }
        let start = self.next;
        let mut batch = sled::Batch::default();
        let mut staging = Group::default();
        let mut results = Vec::with_capacity(group.len());
        for (commit, reply) in group {
            let r = self.stage(&commit, &mut batch, &mut staging);
            results.push((reply, r));
        }
        if self.next > start {
            let (tree, db) = (&self.tree, &self.db);
            let done = guard(&self.dir, Reading::Write, "writing a batch", || {
                tree.apply_batch(batch).and_then(|_| db.flush())
            });
            if let Err(e) = done {
                // Whether the batch reached the disk is unknown: stop writing rather than risk
                // reusing positions. Reopening the store recovers a consistent state.
                let err = LogError::storage(
                    "writing a batch (the log stops accepting appends until reopened)",
                    e,
                );
                self.failed = Some(write_failed(results, start, err));
                return;
            }
            let head = self.next.previous().expect("a batch was written");
            self.durable.store(head.get(), Ordering::Release);
            self.head_tx.send_replace(head);
        }
        for (reply, r) in results {
            let _ = reply.send(r);
        }
    }

    fn stage(
        &mut self,
        c: &Commit,
        batch: &mut sled::Batch,
        staging: &mut Group,
    ) -> Result<Appended, AppendError> {
        let (tree, dir) = (&self.tree, &self.dir);
        let stored_command = || {
            let known = guard(dir, Reading::Indexes, "reading the command index", || {
                tree.get(command_key(&c.command_id))
            })?;
            Ok(known.map(|v| Appended {
                position: be_position(&v),
                version: be_u64(&v[8..]),
                duplicate: true,
            }))
        };
        let stored_head = || {
            let v = guard(
                dir,
                Reading::Case(c.case_id.as_str()),
                "reading a case head",
                || tree.get(head_key(&c.case_id)),
            )?;
            Ok(v.map_or(ChainHead::EMPTY, |v| ChainHead {
                version: be_u64(&v),
                hash: Hash(v[8..40].try_into().expect("32-byte hash in case head")),
            }))
        };
        let a = match staging.admit(c, self.next, stored_command, stored_head)? {
            Admitted::Duplicate(a) => return Ok(a),
            Admitted::New(a) => a,
        };
        let last = c.events.last().expect("validated: not empty");
        let value = encode_value(&c.case_id, &c.command_id, &c.events, c.fingerprint.as_ref())?;
        let writes = commit_writes(
            a.position,
            &c.case_id,
            &c.command_id,
            c.expected_version + 1,
            last,
            value,
        );
        for (k, v) in writes {
            batch.insert(k, v);
        }
        self.next = self.next.next();
        staging.staged(c, a);
        Ok(a)
    }
}
