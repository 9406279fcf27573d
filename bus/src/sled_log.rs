//! The embedded log on sled: the one-machine default.
//!
//! One sled tree holds everything, so a commit and its indexes land in one atomic batch:
//!
//! | key | value |
//! |---|---|
//! | `P` + position (u64 BE) | CRC-32 (u32 BE) + MessagePack of the commit |
//! | `C` + case id + `0x00` + first version (u64 BE) | position |
//! | `V` + case id | case head: version, last hash, position |
//! | `K` + command id | first result: position, version |
//!
//! A single writer thread does group commit: it takes every append waiting in its queue,
//! validates them in order, applies them in one batch, flushes (fsync) once, and only then
//! acknowledges them and raises the durable head. Readers never look past the durable head,
//! so a position is never visible before everything up to it is on disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use gridcase_domain::{CaseId, CommandId, Hash};
use tokio::sync::{oneshot, watch};

use crate::log::*;

const PREFIX_COMMIT: u8 = b'P';
const PREFIX_CASE: u8 = b'C';
const PREFIX_HEAD: u8 = b'V';
const PREFIX_COMMAND: u8 = b'K';
/// Most appends taken into one batch (one flush).
const MAX_GROUP: usize = 1024;

type Reply = oneshot::Sender<Result<Appended, AppendError>>;

/// The embedded sled event log. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct SledLog {
    inner: Arc<Inner>,
}

struct Inner {
    tree: sled::Tree,
    db: sled::Db,
    path: PathBuf,
    durable: Arc<AtomicU64>,
    head_rx: watch::Receiver<Position>,
    tx: Option<mpsc::Sender<(Commit, Reply)>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

fn storage(e: sled::Error) -> LogError {
    LogError::Storage(e.to_string())
}

pub(crate) fn commit_key(p: Position) -> [u8; 9] {
    let mut k = [PREFIX_COMMIT; 9];
    k[1..].copy_from_slice(&p.to_be_bytes());
    k
}

fn case_prefix(case: &CaseId) -> Vec<u8> {
    let mut k = Vec::with_capacity(case.as_str().len() + 2);
    k.push(PREFIX_CASE);
    k.extend_from_slice(case.as_str().as_bytes());
    k.push(0);
    k
}

fn head_key(case: &CaseId) -> Vec<u8> {
    let mut k = vec![PREFIX_HEAD];
    k.extend_from_slice(case.as_str().as_bytes());
    k
}

fn command_key(cmd: &CommandId) -> Vec<u8> {
    let mut k = vec![PREFIX_COMMAND];
    k.extend_from_slice(cmd.as_str().as_bytes());
    k
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// sled's page cache for the log. Its default (1 GiB) filled with every page a rebuild reads
/// once and dominated the process's memory; the log is read sequentially (rebuilds, tools) or
/// by recent case (the command path, which has its own cache), and the OS caches the file.
const LOG_CACHE_BYTES: u64 = 64 << 20;

impl SledLog {
    /// Opens (or creates) the log in `dir`. Fails with [`LogError::Locked`] when another
    /// process has it open.
    pub fn open(dir: impl AsRef<Path>) -> Result<SledLog, LogError> {
        Self::open_inner(dir.as_ref(), true)
    }

    /// Opens the log for reading only: no writer runs, and appends fail with
    /// [`LogError::Closed`]. Still takes the store's lock (sled has no shared mode).
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<SledLog, LogError> {
        Self::open_inner(dir.as_ref(), false)
    }

    fn open_inner(dir: &Path, writable: bool) -> Result<SledLog, LogError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(LOG_CACHE_BYTES)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("lock") =>
                {
                    LogError::Locked {
                        path: dir.display().to_string(),
                    }
                }
                other => storage(other),
            })?;
        let tree = db.open_tree("log").map_err(storage)?;
        let head = match tree.scan_prefix([PREFIX_COMMIT]).next_back() {
            Some(kv) => be_u64(&kv.map_err(storage)?.0[1..]),
            None => 0,
        };
        let durable = Arc::new(AtomicU64::new(head));
        let (head_tx, head_rx) = watch::channel(head);
        let (tx, writer) = if writable {
            let (tx, rx) = mpsc::channel();
            let w = Writer {
                tree: tree.clone(),
                db: db.clone(),
                next: head + 1,
                durable: durable.clone(),
                head_tx,
                failed: None,
            };
            let handle = std::thread::Builder::new()
                .name("gridcase-sled-writer".into())
                .spawn(move || w.run(rx))
                .map_err(|e| LogError::Storage(format!("starting the writer thread: {e}")))?;
            (Some(tx), Some(handle))
        } else {
            (None, None)
        };
        Ok(SledLog {
            inner: Arc::new(Inner {
                tree,
                db,
                path: dir.to_owned(),
                durable,
                head_rx,
                tx,
                writer,
            }),
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn durable(&self) -> Position {
        self.inner.durable.load(Ordering::Acquire)
    }

    fn get_commit(&self, p: Position) -> Result<Option<Committed>, LogError> {
        match self.inner.tree.get(commit_key(p)).map_err(storage)? {
            Some(v) => Ok(Some(StoredCommit::decode(p, open_value(p, &v)?)?)),
            None => Ok(None),
        }
    }

    /// Synchronous form of [`EventLog::read_from`].
    pub fn read_from_sync(&self, from: Position, limit: usize) -> Result<Vec<Committed>, LogError> {
        let end = self.durable();
        let from = from.max(1);
        if from > end || limit == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(limit.min((end - from + 1) as usize));
        for kv in self
            .inner
            .tree
            .range(commit_key(from)..=commit_key(end))
            .take(limit)
        {
            let (k, v) = kv.map_err(storage)?;
            let p = be_u64(&k[1..]);
            out.push(StoredCommit::decode(p, open_value(p, &v)?)?);
        }
        Ok(out)
    }

    /// Synchronous form of [`EventLog::read_case`].
    pub fn read_case_sync(&self, case: &CaseId) -> Result<Vec<Committed>, LogError> {
        let end = self.durable();
        let mut out = Vec::new();
        for kv in self.inner.tree.scan_prefix(case_prefix(case)) {
            let (_, v) = kv.map_err(storage)?;
            let p = be_u64(&v);
            if p > end {
                break;
            }
            match self.get_commit(p)? {
                Some(c) => out.push(c),
                None => {
                    return Err(LogError::Corrupt {
                        position: p,
                        reason: format!("case {case} indexes a missing commit"),
                    })
                }
            }
        }
        Ok(out)
    }

    /// The raw sled tree, for tamper tests and the replay tool's low-level checks.
    #[doc(hidden)]
    pub fn raw_tree(&self) -> &sled::Tree {
        &self.inner.tree
    }

    /// Flushes sled's buffers (everything acknowledged is already durable; this is for tests
    /// that edit raw values).
    #[doc(hidden)]
    pub fn flush(&self) -> Result<(), LogError> {
        self.inner.db.flush().map(|_| ()).map_err(storage)
    }
}

impl EventLog for SledLog {
    async fn append(&self, commit: Commit) -> Result<Appended, AppendError> {
        let tx = self.inner.tx.as_ref().ok_or(LogError::Closed)?;
        let (reply, rx) = oneshot::channel();
        tx.send((commit, reply)).map_err(|_| LogError::Closed)?;
        rx.await.map_err(|_| LogError::Closed)?
    }

    async fn read_case(&self, case: &CaseId) -> Result<Vec<Committed>, LogError> {
        self.read_case_sync(case)
    }

    async fn read_from(&self, from: Position, limit: usize) -> Result<Vec<Committed>, LogError> {
        self.read_from_sync(from, limit)
    }

    async fn subscribe(&self, from: Position) -> Result<CommitStream, LogError> {
        let log = self.clone();
        let rx = self.inner.head_rx.clone();
        let state = (
            log,
            rx,
            from.max(1),
            std::collections::VecDeque::<Committed>::new(),
        );
        let s = futures::stream::unfold(Some(state), |st| async move {
            let (log, mut rx, mut next, mut buf) = st?;
            loop {
                if let Some(c) = buf.pop_front() {
                    return Some((Ok(c), Some((log, rx, next, buf))));
                }
                if next <= log.durable() {
                    match log.read_from_sync(next, 512) {
                        Ok(batch) => {
                            if let Some(last) = batch.last() {
                                next = last.position + 1;
                            }
                            buf.extend(batch);
                            continue;
                        }
                        Err(e) => return Some((Err(e), None)),
                    }
                }
                if rx.changed().await.is_err() && next > log.durable() {
                    return None;
                }
            }
        });
        Ok(Box::pin(s))
    }

    async fn head(&self) -> Result<Position, LogError> {
        Ok(self.durable())
    }
}

struct Writer {
    tree: sled::Tree,
    db: sled::Db,
    next: Position,
    durable: Arc<AtomicU64>,
    head_tx: watch::Sender<Position>,
    failed: Option<LogError>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<(Commit, Reply)>) {
        while let Ok(first) = rx.recv() {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(r) => group.push(r),
                    Err(_) => break,
                }
            }
            self.commit_group(group);
        }
    }

    fn commit_group(&mut self, group: Vec<(Commit, Reply)>) {
        if let Some(e) = &self.failed {
            for (_, reply) in group {
                let _ = reply.send(Err(e.clone().into()));
            }
            return;
        }
        let start = self.next;
        let mut batch = sled::Batch::default();
        let mut heads: HashMap<CaseId, (u64, Hash)> = HashMap::new();
        let mut commands: HashMap<CommandId, Appended> = HashMap::new();
        let mut results = Vec::with_capacity(group.len());
        for (commit, reply) in group {
            let r = self.stage(&commit, &mut batch, &mut heads, &mut commands);
            results.push((reply, r));
        }
        if self.next > start {
            let done = self.tree.apply_batch(batch).and_then(|_| self.db.flush());
            if let Err(e) = done {
                // Whether the batch reached the disk is unknown: stop writing rather than risk
                // reusing positions. Reopening the store recovers a consistent state.
                let err = LogError::Storage(format!(
                    "writing a batch failed, the log stops accepting appends until reopened: {e}"
                ));
                tracing::error!(%err);
                self.failed = Some(err.clone());
                for (reply, r) in results {
                    let _ = reply.send(match r {
                        Ok(a) if !a.duplicate => Err(err.clone().into()),
                        other => other,
                    });
                }
                return;
            }
            let head = self.next - 1;
            self.durable.store(head, Ordering::Release);
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
        heads: &mut HashMap<CaseId, (u64, Hash)>,
        commands: &mut HashMap<CommandId, Appended>,
    ) -> Result<Appended, AppendError> {
        if let Some(a) = commands.get(&c.command_id) {
            return Ok(Appended {
                duplicate: true,
                ..*a
            });
        }
        if let Some(v) = self.tree.get(command_key(&c.command_id)).map_err(storage)? {
            return Ok(Appended {
                position: be_u64(&v),
                version: be_u64(&v[8..]),
                duplicate: true,
            });
        }
        let (version, hash) = match heads.get(&c.case_id) {
            Some(h) => *h,
            None => match self.tree.get(head_key(&c.case_id)).map_err(storage)? {
                Some(v) => (
                    be_u64(&v),
                    Hash(v[8..40].try_into().expect("32-byte hash in case head")),
                ),
                None => (0, Hash::ZERO),
            },
        };
        validate_commit(c, version, hash)?;
        let position = self.next;
        let last = c.events.last().expect("validated: not empty");
        let new_version = last.header.case_version;
        let body = StoredCommit::encode(&c.case_id, &c.command_id, &c.events)?;
        batch.insert(&commit_key(position), seal_value(&body));
        let mut ck = case_prefix(&c.case_id);
        ck.extend_from_slice(&(c.expected_version + 1).to_be_bytes());
        batch.insert(ck, &position.to_be_bytes());
        let mut hv = Vec::with_capacity(48);
        hv.extend_from_slice(&new_version.to_be_bytes());
        hv.extend_from_slice(&last.hash.0);
        hv.extend_from_slice(&position.to_be_bytes());
        batch.insert(head_key(&c.case_id), hv);
        let mut kv = Vec::with_capacity(16);
        kv.extend_from_slice(&position.to_be_bytes());
        kv.extend_from_slice(&new_version.to_be_bytes());
        batch.insert(command_key(&c.command_id), kv);
        self.next += 1;
        heads.insert(c.case_id.clone(), (new_version, last.hash));
        let a = Appended {
            position,
            version: new_version,
            duplicate: false,
        };
        commands.insert(c.command_id.clone(), a);
        Ok(a)
    }
}
