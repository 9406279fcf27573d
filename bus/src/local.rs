//! What the two embedded backends ([`crate::SledLog`], [`crate::FileLog`]) share: one writer
//! thread fed through a channel, taking appends in groups, subscriptions that read pages up
//! to the durable head and wait for it to move, and moving a finished copy into place.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use tokio::sync::{oneshot, watch};

use crate::log::*;

/// Syncs the directory `dir`, so that the entries created or renamed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LogError::storage("syncing a directory", e))
}

/// `dst` with `.partial` added to its name: where a copy of a store is written before it is
/// moved into place with [`move_into_place`].
pub(crate) fn partial_dir(dst: &Path) -> PathBuf {
    let mut name = dst.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dst.with_file_name(name)
}

/// Moves a finished copy from `partial` to `dst`, durably: the copy's directory synced, the
/// rename, then the directory that now holds `dst`.
pub(crate) fn move_into_place(partial: &Path, dst: &Path) -> Result<(), LogError> {
    sync_dir(partial)?;
    std::fs::rename(partial, dst)
        .map_err(|e| LogError::storage("moving the copy into place", e))?;
    let parent = dst.parent().filter(|p| !p.as_os_str().is_empty());
    sync_dir(parent.unwrap_or(Path::new(".")))
}

/// Most appends taken into one group (one fsync).
pub(crate) const MAX_GROUP: usize = 1024;
/// Commits read per page by subscriptions.
const PAGE: usize = 512;

/// Where the writer sends an append's result.
pub(crate) type Reply = oneshot::Sender<Result<Appended, AppendError>>;

/// An embedded log's writer thread and the channel that feeds it; none for a log opened for
/// reading only. Dropping it closes the channel and waits for the thread to finish the
/// appends it has taken.
pub(crate) struct WriterThread {
    tx: Option<mpsc::Sender<(Commit, Reply)>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WriterThread {
    /// Starts the thread `name` running `run` on the receiving end of the channel.
    pub(crate) fn start(
        name: &str,
        run: impl FnOnce(mpsc::Receiver<(Commit, Reply)>) + Send + 'static,
    ) -> Result<WriterThread, LogError> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(rx))
            .map_err(|e| LogError::storage("starting the writer thread", e))?;
        Ok(WriterThread {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// No writer: appends are [`LogError::Closed`].
    pub(crate) fn none() -> WriterThread {
        WriterThread {
            tx: None,
            thread: None,
        }
    }

    /// Whether there is a writer (the log was opened for writing).
    pub(crate) fn is_running(&self) -> bool {
        self.tx.is_some()
    }

    /// Hands `commit` to the writer and waits for its result.
    pub(crate) async fn append(&self, commit: Commit) -> Result<Appended, AppendError> {
        let tx = self.tx.as_ref().ok_or(LogError::Closed)?;
        let (reply, rx) = oneshot::channel();
        tx.send((commit, reply)).map_err(|_| LogError::Closed)?;
        rx.await.map_err(|_| LogError::Closed)?
    }
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The writer's loop: waits for an append, takes every other one already waiting (up to
/// [`MAX_GROUP`]) and hands the group to `commit_group`; ends when every sender is gone.
pub(crate) fn run_groups(
    rx: mpsc::Receiver<(Commit, Reply)>,
    mut commit_group: impl FnMut(Vec<(Commit, Reply)>),
) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        commit_group(group);
    }
}

/// A writer that failed earlier refuses every append of a group with its error.
pub(crate) fn refuse_group(group: Vec<(Commit, Reply)>, err: &LogError) {
    for (_, reply) in group {
        let _ = reply.send(Err(err.clone().into()));
    }
}

/// After a group's write failed with `err`: the writer stops (it keeps `err` to refuse what
/// comes next), and every append answered with a position from `first` on — a new commit of
/// the group, or a retry of one within the group — gets `err`: whether it reached the disk is
/// unknown. A duplicate of a commit durable before the group keeps its first result. Returns
/// `err`, for the writer to keep.
pub(crate) fn write_failed(
    results: Vec<(Reply, Result<Appended, AppendError>)>,
    first: Position,
    err: LogError,
) -> LogError {
    tracing::error!(%err);
    for (reply, r) in results {
        let _ = reply.send(refused_after_failed_write(r, first, &err));
    }
    err
}

/// [`write_failed`]'s answer to one append of the failed group.
fn refused_after_failed_write(
    r: Result<Appended, AppendError>,
    first: Position,
    err: &LogError,
) -> Result<Appended, AppendError> {
    match r {
        Ok(a) if a.position >= first => Err(err.clone().into()),
        other => other,
    }
}

/// Implements [`EventLog`] for an embedded log through its writer (`inner.writer`), its
/// synchronous readers (`raw_case`, `read_from_sync`), its head watch (`inner.head_rx`)
/// and [`LocalRead`].
macro_rules! embedded_event_log {
    ($log:ty) => {
        impl $crate::local::LocalRead for $log {
            fn durable(&self) -> Position {
                <$log>::durable(self)
            }

            fn read_page(&self, from: Position, limit: usize) -> Result<Vec<Committed>, LogError> {
                self.read_from_sync(from, limit)
            }
        }

        impl EventLog for $log {
            async fn append(&self, commit: Commit) -> Result<Appended, AppendError> {
                self.inner.writer.append(commit).await
            }

            async fn read_case(&self, case: &CaseId) -> Result<Vec<Committed>, LogError> {
                self.raw_case(case)?
                    .into_iter()
                    .map($crate::raw::RawCommit::into_committed)
                    .collect()
            }

            async fn read_from(
                &self,
                from: Position,
                limit: usize,
            ) -> Result<Vec<Committed>, LogError> {
                self.read_from_sync(from, limit)
            }

            async fn subscribe(&self, from: Position) -> Result<CommitStream, LogError> {
                Ok($crate::local::subscription(
                    self.clone(),
                    self.inner.head_rx.clone(),
                    from,
                ))
            }

            async fn head(&self) -> Result<Position, LogError> {
                Ok(self.durable())
            }
        }
    };
}
pub(crate) use embedded_event_log;

/// An embedded log as its subscriptions see it.
pub(crate) trait LocalRead: Clone + Send + Sync + 'static {
    /// The last durable position.
    fn durable(&self) -> Position;
    /// Up to `limit` commits from `from`, never past the durable head.
    fn read_page(&self, from: Position, limit: usize) -> Result<Vec<Committed>, LogError>;
}

/// [`EventLog::subscribe`] for an embedded log: pages up to the durable head, then waits on
/// `head` for it to move; ends after an error, or when the log is gone and everything durable
/// was delivered.
pub(crate) fn subscription<L: LocalRead>(
    log: L,
    head: watch::Receiver<Position>,
    from: Position,
) -> CommitStream {
    let state = (
        log,
        head,
        from.max(Position::FIRST),
        std::collections::VecDeque::<Committed>::new(),
    );
    let s = futures::stream::unfold(Some(state), |st| async move {
        let (log, mut rx, mut next, mut buf) = st?;
        loop {
            if let Some(c) = buf.pop_front() {
                return Some((Ok(c), Some((log, rx, next, buf))));
            }
            if next <= log.durable() {
                match log.read_page(next, PAGE) {
                    Ok(batch) => {
                        if let Some(last) = batch.last() {
                            next = last.position.next();
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
    Box::pin(s)
}

/// The appends of one group as the writer stages them: each checked against the heads and
/// commands staged before it in the group, then against the store's.
#[derive(Default)]
pub(crate) struct Group {
    heads: std::collections::HashMap<gridcase_domain::CaseId, gridcase_domain::ChainHead>,
    commands: std::collections::HashMap<gridcase_domain::CommandId, Appended>,
}

/// What [`Group::admit`] decided.
pub(crate) enum Admitted {
    /// The command was applied before: its first result, nothing to write.
    Duplicate(Appended),
    /// A valid commit, to be written at the position asked for.
    New(Appended),
}

impl Group {
    /// Checks `c` for the next position `next`: a command seen before (in the group, else
    /// `stored_command`) is a duplicate; otherwise the commit is validated against its case's
    /// head (in the group, else `stored_head`). A new commit counts in the group only once the
    /// writer has [`Group::staged`] it.
    pub(crate) fn admit(
        &mut self,
        c: &Commit,
        next: Position,
        stored_command: impl FnOnce() -> Result<Option<Appended>, LogError>,
        stored_head: impl FnOnce() -> Result<gridcase_domain::ChainHead, LogError>,
    ) -> Result<Admitted, AppendError> {
        if let Some(a) = self.commands.get(&c.command_id) {
            return Ok(Admitted::Duplicate(Appended {
                duplicate: true,
                ..*a
            }));
        }
        if let Some(a) = stored_command()? {
            return Ok(Admitted::Duplicate(Appended {
                duplicate: true,
                ..a
            }));
        }
        let head = match self.heads.get(&c.case_id) {
            Some(h) => *h,
            None => stored_head()?,
        };
        validate_commit(c, head)?;
        let last = c.events.last().expect("validated: not empty");
        Ok(Admitted::New(Appended {
            position: next,
            version: last.header.case_version,
            duplicate: false,
        }))
    }

    /// Counts `c`, admitted as `a` and staged for writing, in the group.
    pub(crate) fn staged(&mut self, c: &Commit, a: Appended) {
        let last = c.events.last().expect("admitted: not empty");
        self.heads
            .insert(c.case_id.clone(), gridcase_domain::ChainHead::of(last));
        self.commands.insert(c.command_id.clone(), a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_failed_write_only_what_was_durable_before_the_group_is_answered_as_written() {
        let err = LogError::Closed;
        let first = Position::new(10);
        let appended = |p: u64, duplicate| {
            Ok(Appended {
                position: Position::new(p),
                version: 1,
                duplicate,
            })
        };
        // A new commit of the group, and a retry of it within the group: unknown, refused.
        for r in [appended(10, false), appended(11, true)] {
            assert!(matches!(
                refused_after_failed_write(r, first, &err),
                Err(AppendError::Log(LogError::Closed))
            ));
        }
        // A retry of a commit durable before the group: its first result.
        assert!(matches!(
            refused_after_failed_write(appended(9, true), first, &err),
            Ok(Appended {
                duplicate: true,
                ..
            })
        ));
        // A refusal (a conflict) stays what it was.
        let conflict = Err(AppendError::Conflict(Conflict {
            expected: 1,
            actual: 2,
        }));
        assert!(matches!(
            refused_after_failed_write(conflict, first, &err),
            Err(AppendError::Conflict(_))
        ));
    }
}
