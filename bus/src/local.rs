//! What the two embedded backends ([`crate::SledLog`], [`crate::FileLog`]) share: one writer
//! thread fed through a channel, taking appends in groups, and subscriptions that read pages
//! up to the durable head and wait for it to move.

use std::sync::mpsc;

use tokio::sync::{oneshot, watch};

use crate::log::*;

/// Most appends taken into one group (one fsync).
pub(crate) const MAX_GROUP: usize = 1024;
/// Commits read per page by subscriptions.
const PAGE: usize = 512;

/// Where the writer sends an append's result.
pub(crate) type Reply = oneshot::Sender<Result<Appended, AppendError>>;

/// Hands `commit` to the writer behind `tx` and waits for its result; a log opened for
/// reading only (no writer) is [`LogError::Closed`].
pub(crate) async fn append_through(
    tx: Option<&mpsc::Sender<(Commit, Reply)>>,
    commit: Commit,
) -> Result<Appended, AppendError> {
    let tx = tx.ok_or(LogError::Closed)?;
    let (reply, rx) = oneshot::channel();
    tx.send((commit, reply)).map_err(|_| LogError::Closed)?;
    rx.await.map_err(|_| LogError::Closed)?
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
