//! The projection runner: follows the log and keeps a [`Projector`] up to date.
//!
//! [`Projection::run`] subscribes from the checkpoint and applies every commit in order, in
//! bursts; it saves a snapshot (state + checkpoint together, see [`crate::store`]) every
//! [`LIVE_SAVE_EVERY`] commits or [`LIVE_SAVE_INTERVAL`], whichever comes first, so a restart
//! replays at most that much. Readers take a read lock and see a consistent state;
//! [`Projection::wait_for`] gives read-your-writes.
//!
//! [`Projection::catch_up`] (start-up, rebuilds, tools) reads ahead on one thread and applies
//! on another; a long one keeps the aggregates on a third and writes its last snapshot while
//! the lookups are built from the final case views.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use gridcase_bus::{Committed, EventLog, Position};
use gridcase_domain::Timestamp;
use tokio::sync::watch;

use crate::calendar::Calendar;
use crate::projector::{AggregateWorker, Projector, StagedChanges};
use crate::store::{Dump, Store};
use crate::ProjectionError;

/// Most commits applied under one write lock while following live.
const MAX_BURST: usize = 2048;
/// Commits handed to the applier at a time while catching up: small enough that what the
/// reader decoded is still in the CPU's cache when the applier gets it.
const CATCH_UP_CHUNK: usize = 1024;
/// Commits applied between snapshots while catching up (a long rebuild that is interrupted
/// resumes from the last one).
const CATCH_UP_SAVE_EVERY: usize = 1 << 21;
/// While following live, a snapshot after this many commits…
pub const LIVE_SAVE_EVERY: u64 = 100_000;
/// …or this long after the first unsaved commit.
pub const LIVE_SAVE_INTERVAL: Duration = Duration::from_secs(60);

/// Commits read and decoded ahead by [`Projection::catch_up`], for its applier thread.
struct Chunk {
    commits: Vec<Committed>,
    /// The event bodies, if the reader had time to decode them.
    bodies: Option<Vec<Vec<gridcase_domain::Event>>>,
    /// Which commits to apply (the others are only passed: [`Projection::catch_up_where`]);
    /// none: every one.
    kept: Option<Vec<bool>>,
    /// Save a snapshot after applying.
    save: bool,
    /// The catch-up's last chunk.
    last: bool,
}

/// The aggregates' own thread during a long catch-up: the applier hands it each chunk's
/// aggregate changes and goes on with the next chunk, so the counters' updates run beside the
/// case views' (on the core the log's reader leaves mostly idle).
struct Aggregator {
    changes: std::sync::mpsc::SyncSender<StagedChanges>,
    thread: std::thread::JoinHandle<Option<AggregateWorker>>,
}

impl Aggregator {
    /// Takes `p`'s aggregates to a new thread ([`Projector::stage_aggregates`]).
    fn start(p: &mut Projector) -> Result<Aggregator, ProjectionError> {
        let (worker_tx, worker_rx) = std::sync::mpsc::sync_channel::<AggregateWorker>(1);
        // A few chunks' changes in flight; the applier waits when the aggregates fall behind.
        let (changes, rx) = std::sync::mpsc::sync_channel::<StagedChanges>(4);
        let thread = std::thread::Builder::new()
            .name("projection-aggregates".into())
            .spawn(move || {
                let mut worker = worker_rx.recv().ok()?;
                while let Ok(staged) = rx.recv() {
                    worker.apply(&staged);
                }
                worker.roll_up();
                Some(worker)
            })
            .map_err(|e| ProjectionError::Worker {
                what: "aggregate thread could not start",
                source: Some(e.into()),
            })?;
        // The aggregates leave the projector only once the thread is started (if it cannot
        // start, they stay); a thread that stopped before taking them hands them back here.
        if let Err(back) = worker_tx.send(p.stage_aggregates()) {
            p.unstage_aggregates(back.0);
            return Err(ProjectionError::Worker {
                what: "aggregate thread stopped abnormally",
                source: None,
            });
        }
        Ok(Aggregator { changes, thread })
    }

    /// Hands one chunk's aggregate changes to the thread.
    fn send(&self, staged: StagedChanges) -> Result<(), ProjectionError> {
        self.changes
            .send(staged)
            .map_err(|_| ProjectionError::Worker {
                what: "aggregate thread stopped abnormally",
                source: None,
            })
    }

    /// Waits for the thread to add everything it was handed and puts the aggregates back
    /// into `p` ([`Projector::unstage_aggregates`]).
    fn finish(self, p: &mut Projector) -> Result<(), ProjectionError> {
        drop(self.changes);
        match self.thread.join() {
            Ok(Some(worker)) => {
                p.unstage_aggregates(worker);
                Ok(())
            }
            _ => Err(ProjectionError::Worker {
                what: "aggregate thread panicked",
                source: None,
            }),
        }
    }
}

/// A live projection, optionally persisted. Cheap to clone.
#[derive(Clone)]
pub struct Projection {
    inner: Arc<Inner>,
}

struct Inner {
    projector: RwLock<Projector>,
    store: Mutex<Option<Store>>,
    applied: watch::Sender<Position>,
    /// Commits a catch-up applies between snapshots ([`CATCH_UP_SAVE_EVERY`] unless set).
    catch_up_save_every: usize,
}

impl Projection {
    /// A projection persisted in `dir`, resuming from its checkpoint.
    pub fn open(dir: &Path, calendar: Calendar) -> Result<Projection, ProjectionError> {
        let store = Store::open(dir)?;
        let projector = store.load(calendar)?;
        Ok(Self::with(projector, Some(store)))
    }

    /// A projection held in memory only.
    pub fn in_memory(calendar: Calendar) -> Projection {
        Self::with(Projector::new(calendar), None)
    }

    fn with(projector: Projector, store: Option<Store>) -> Projection {
        let (applied, _) = watch::channel(projector.checkpoint());
        Projection {
            inner: Arc::new(Inner {
                projector: RwLock::new(projector),
                store: Mutex::new(store),
                applied,
                catch_up_save_every: CATCH_UP_SAVE_EVERY,
            }),
        }
    }

    /// Sets how many commits a long [`Projection::catch_up`] applies between the snapshots it
    /// saves (about 2 million unless set; a snapshot is saved after the chunk that reaches
    /// the count, and at the end). For tests of the snapshots taken midway. Call it on a
    /// projection not yet shared.
    ///
    /// # Panics
    /// If the projection has been cloned.
    pub fn with_catch_up_save_every(mut self, commits: usize) -> Projection {
        Arc::get_mut(&mut self.inner)
            .expect("a projection not yet shared")
            .catch_up_save_every = commits.max(1);
        self
    }

    /// Drops what the text index knows of `case`'s summary (its key was destroyed): text
    /// queries no longer match it.
    pub fn forget_text(&self, case: &gridcase_domain::CaseId) {
        self.inner
            .projector
            .write()
            .expect("projection lock")
            .forget_text(case);
    }

    /// Whether the text index has an opener.
    pub fn has_text_opener(&self) -> bool {
        self.read().opener.is_some()
    }

    /// Lets the text index open sealed summaries ([`Projector::set_text_opener`]).
    pub fn set_text_opener(&self, opener: Arc<dyn gridcase_domain::TextOpener>) {
        self.inner
            .projector
            .write()
            .expect("projection lock")
            .set_text_opener(opener);
    }

    /// A consistent read view.
    pub fn read(&self) -> RwLockReadGuard<'_, Projector> {
        self.inner.projector.read().expect("projection lock")
    }

    /// The last position applied.
    pub fn checkpoint(&self) -> Position {
        *self.inner.applied.borrow()
    }

    /// The last position applied, watched: it changes after every applied burst (live lists
    /// re-check what they show; [`Projection::wait_for`] is the one-shot form).
    pub fn watch_applied(&self) -> watch::Receiver<Position> {
        self.inner.applied.subscribe()
    }

    /// Applies commits, then saves a snapshot (state and checkpoint together).
    pub fn apply_batch(&self, commits: &[Committed]) -> Result<(), ProjectionError> {
        self.apply_and_maybe_save(commits, true)
    }

    /// Applies commits; saves a snapshot only when `save` is set. Unsaved work is simply
    /// redone after a crash: the stored checkpoint matches the stored state either way.
    fn apply_and_maybe_save(
        &self,
        commits: &[Committed],
        save: bool,
    ) -> Result<(), ProjectionError> {
        let checkpoint = {
            let mut p = self.inner.projector.write().expect("projection lock");
            for c in commits {
                p.apply(c)?;
            }
            p.checkpoint()
        };
        self.inner.applied.send_replace(checkpoint);
        if save {
            self.save()?;
        }
        Ok(())
    }

    /// Applies a chunk read ahead by [`Projection::catch_up`], handing its aggregate changes
    /// to `aggregator` if the aggregates are kept there. Before a snapshot is saved, the
    /// aggregator's work is waited for and its aggregates put back; a new one takes them after.
    fn apply_chunk(
        &self,
        chunk: &Chunk,
        aggregator: &mut Option<Aggregator>,
    ) -> Result<(), ProjectionError> {
        let (checkpoint, staged) = {
            let mut p = self.write();
            for (i, c) in chunk.commits.iter().enumerate() {
                if chunk.kept.as_ref().is_some_and(|k| !k[i]) {
                    p.skip(c.position);
                    continue;
                }
                let bodies = chunk.bodies.as_ref().map(|b| b[i].as_slice());
                p.apply_decoded(c, bodies)?;
            }
            (p.checkpoint(), p.take_staged())
        };
        if let Some(a) = aggregator {
            a.send(staged)?;
        }
        self.inner.applied.send_replace(checkpoint);
        // The last chunk's snapshot is saved by `finish_catch_up`.
        if chunk.save && !chunk.last && self.inner.store.lock().expect("store lock").is_some() {
            let resume = match aggregator.take() {
                Some(a) => {
                    a.finish(&mut self.write())?;
                    true
                }
                None => false,
            };
            self.save()?;
            if resume {
                *aggregator = Some(Aggregator::start(&mut self.write())?);
            }
        }
        Ok(())
    }

    /// The end of a catch-up, on its applier thread: the aggregates come back from their
    /// thread, then the snapshot is saved (if `save`) while the deferred lookups are built
    /// from the same case views — both only read them, so they run side by side.
    fn finish_catch_up(
        &self,
        aggregator: Option<Aggregator>,
        save: bool,
    ) -> Result<(), ProjectionError> {
        let poisoned = |what| ProjectionError::Worker { what, source: None };
        // The store's lock before the projector's, the order `save` takes them in.
        let store = self.inner.store.lock();
        let mut p = self
            .inner
            .projector
            .write()
            .map_err(|_| poisoned("projection lock poisoned"))?;
        let aggregated = match aggregator {
            Some(a) => a.finish(&mut p),
            None => Ok(()),
        };
        // Without its aggregates the state is not one to save.
        let saving_to = match &store {
            Ok(s) => s.as_ref().filter(|_| save && aggregated.is_ok()),
            Err(_) => None,
        };
        let view = &*p;
        let (saved, lookups) = std::thread::scope(|scope| {
            let saving = saving_to.map(|s| {
                std::thread::Builder::new()
                    .name("projection-snapshot".into())
                    .spawn_scoped(scope, move || s.save(view))
                    .map_err(|_| s)
            });
            let lookups = view.lookups_deferred().then(|| view.derive_lookups());
            let saved = match saving {
                None => Ok(()),
                Some(Ok(thread)) => thread
                    .join()
                    .unwrap_or_else(|_| Err(poisoned("snapshot writer panicked"))),
                // No thread to spare: saved here, after the lookups.
                Some(Err(s)) => s.save(view),
            };
            (saved, lookups)
        });
        // Built whatever else failed: what was applied stays readable.
        if let Some(lookups) = lookups {
            p.set_lookups(lookups);
        }
        let store_ok = match store {
            Ok(_) => Ok(()),
            Err(_) if save => Err(poisoned("snapshot store lock poisoned")),
            Err(_) => Ok(()),
        };
        aggregated.and(saved).and(store_ok)
    }

    /// The projector itself, from a projection nothing else shares (an as-of replay's own,
    /// its catch-up over).
    fn into_projector(self) -> Result<Projector, ProjectionError> {
        let inner = Arc::try_unwrap(self.inner).map_err(|_| ProjectionError::Worker {
            what: "the replayed projection is still shared",
            source: None,
        })?;
        inner
            .projector
            .into_inner()
            .map_err(|_| ProjectionError::Worker {
                what: "projection lock poisoned",
                source: None,
            })
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Projector> {
        self.inner.projector.write().expect("projection lock")
    }

    /// Saves a snapshot now (nothing for in-memory projections). Readers go on meanwhile: the
    /// snapshot is taken under the read lock.
    pub fn save(&self) -> Result<(), ProjectionError> {
        let store = self.inner.store.lock().expect("store lock");
        match store.as_ref() {
            Some(s) => s.save(&self.read()),
            None => Ok(()),
        }
    }

    /// [`Projection::save`] on a blocking thread: writing and syncing a snapshot takes long
    /// enough to stall the other tasks of the runtime thread it would run on.
    async fn save_off_runtime(&self) -> Result<(), ProjectionError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.save())
            .await
            .map_err(|e| ProjectionError::Worker {
                what: "snapshot writer stopped abnormally",
                source: Some(e.into()),
            })?
    }

    /// Follows the log until it ends or fails. Run it in a task.
    pub async fn run<L: EventLog>(&self, log: &L) -> Result<(), ProjectionError> {
        let mut sub = log.subscribe(self.checkpoint().next()).await?;
        let mut unsaved = 0u64;
        let mut save_by: Option<tokio::time::Instant> = None;
        loop {
            let next = match save_by {
                Some(at) => match tokio::time::timeout_at(at, sub.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        self.save_off_runtime().await?;
                        (unsaved, save_by) = (0, None);
                        continue;
                    }
                },
                None => sub.next().await,
            };
            let Some(first) = next else { break };
            let mut burst = vec![first?];
            while burst.len() < MAX_BURST {
                match sub.next().now_or_never() {
                    Some(Some(c)) => burst.push(c?),
                    _ => break,
                }
            }
            unsaved += burst.len() as u64;
            save_by.get_or_insert_with(|| tokio::time::Instant::now() + LIVE_SAVE_INTERVAL);
            self.apply_and_maybe_save(&burst, false)?;
            if unsaved >= LIVE_SAVE_EVERY {
                self.save_off_runtime().await?;
                (unsaved, save_by) = (0, None);
            }
        }
        Ok(())
    }

    /// Applies everything up to the log's current head, then returns (rebuilds, tools).
    ///
    /// Reading and applying overlap: this task reads and decodes the next pages of the log
    /// while a thread of its own applies (and periodically saves) the previous ones, so a
    /// rebuild keeps two cores busy. When there are at least as many commits to apply as
    /// cases already held (a long catch-up), the work queues, deadlines and search indexes
    /// are built once from the case views at the end instead of following every commit (then
    /// one pass over the views costs less), while the last snapshot is written; and the
    /// aggregates are kept on a third thread, fed each chunk's changes. Nothing may read the
    /// lookups or the aggregates before this returns.
    pub async fn catch_up<L: EventLog>(
        &self,
        log: &L,
        progress: impl FnMut(Position, Position),
    ) -> Result<Position, ProjectionError> {
        self.catch_up_where(log, |_| true, progress).await
    }

    /// [`Projection::catch_up`] applying only the commits `keep` accepts; the others are
    /// passed over (the checkpoint moves past them). For as-of replays.
    pub async fn catch_up_where<L: EventLog>(
        &self,
        log: &L,
        keep: impl Fn(&Committed) -> bool,
        mut progress: impl FnMut(Position, Position),
    ) -> Result<Position, ProjectionError> {
        let head = log.head().await?;
        if self.checkpoint() >= head {
            return Ok(self.checkpoint());
        }
        // A few chunks in flight: one being applied, some read ahead.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(4);
        let applier = {
            let me = self.clone();
            std::thread::Builder::new()
                .name("projection-catch-up".into())
                .spawn(move || -> Result<(), ProjectionError> {
                    let long = {
                        let p = me.write();
                        head.since(p.checkpoint()) >= p.case_count() as u64
                    };
                    // A long catch-up also keeps the aggregates on a thread of their own.
                    let mut aggregator = None;
                    let mut save_at_end = false;
                    let applied = (|| {
                        if long {
                            let mut p = me.write();
                            p.defer_lookups();
                            aggregator = Some(Aggregator::start(&mut p)?);
                        }
                        while let Some(chunk) = rx.blocking_recv() {
                            me.apply_chunk(&chunk, &mut aggregator)?;
                            save_at_end = chunk.save && chunk.last;
                        }
                        Ok(())
                    })();
                    // Also after a failure: what was applied stays readable. (Done here, on
                    // this thread, so that nothing leaves them deferred or elsewhere.)
                    let finished = me.finish_catch_up(aggregator, applied.is_ok() && save_at_end);
                    applied.and(finished)
                })
                .map_err(|e| ProjectionError::Worker {
                    what: "applier thread could not start",
                    source: Some(e.into()),
                })?
        };
        let read = async {
            let mut sub = log.subscribe(self.checkpoint().next()).await?;
            let mut since_save = 0;
            let mut done = false;
            while !done {
                let mut chunk = Vec::with_capacity(CATCH_UP_CHUNK);
                while chunk.len() < CATCH_UP_CHUNK {
                    let Some(c) = sub.next().await else {
                        done = true;
                        break;
                    };
                    let c = c?;
                    done = c.position >= head;
                    chunk.push(c);
                    if done {
                        break;
                    }
                }
                since_save += chunk.len();
                let save = since_save >= self.inner.catch_up_save_every || done;
                if save {
                    since_save = 0;
                }
                let kept: Vec<bool> = chunk.iter().map(&keep).collect();
                let kept = kept.contains(&false).then_some(kept);
                // Balance the two threads: when the applier is behind (the channel is full),
                // this side has time to decode the bodies too; otherwise it sends at once.
                let bodies = if tx.capacity() == 0 {
                    Some(
                        chunk
                            .iter()
                            .enumerate()
                            .map(|(i, c)| match &kept {
                                Some(k) if !k[i] => Ok(Vec::new()),
                                _ => Projector::decode_bodies(c),
                            })
                            .collect::<Result<Vec<_>, _>>()?,
                    )
                } else {
                    None
                };
                let chunk = Chunk {
                    commits: chunk,
                    bodies,
                    kept,
                    save,
                    last: done,
                };
                if tx.send(chunk).await.is_err() {
                    break; // the applier stopped: its error is reported below
                }
                progress(self.checkpoint(), head);
            }
            Ok::<(), ProjectionError>(())
        };
        let read_result = read.await;
        drop(tx);
        let applied = tokio::task::spawn_blocking(move || applier.join())
            .await
            .map_err(|e| ProjectionError::Worker {
                what: "applier thread could not be waited for",
                source: Some(e.into()),
            })?
            .map_err(|_| ProjectionError::Worker {
                what: "applier thread panicked",
                source: None,
            })?;
        applied?;
        read_result?;
        progress(self.checkpoint(), head);
        Ok(self.checkpoint())
    }

    /// Waits until the projection has applied `position`, at most `timeout`.
    pub async fn wait_for(
        &self,
        position: Position,
        timeout: Duration,
    ) -> Result<(), ProjectionError> {
        let mut rx = self.inner.applied.subscribe();
        let reached = tokio::time::timeout(timeout, async {
            rx.wait_for(|p| *p >= position).await.is_ok()
        })
        .await;
        match reached {
            Ok(true) => Ok(()),
            _ => Err(ProjectionError::Lagging {
                wanted: position,
                applied: self.checkpoint(),
            }),
        }
    }

    /// Every key and value of a snapshot of the projection as it stands (persisted or not),
    /// in key order: equal dumps mean equal projections.
    pub fn dump(&self) -> Dump {
        self.read().entries()
    }
}

/// The projection as it stood at `as_of`: replays every commit recorded at or before it into
/// a fresh in-memory projector (a [`Projection::catch_up_where`] of its own: reading, the case
/// views and the aggregates on their own threads, off the caller's runtime).
pub async fn as_of<L: EventLog>(
    log: &L,
    calendar: Calendar,
    as_of: Timestamp,
) -> Result<Projector, ProjectionError> {
    let replay = Projection::in_memory(calendar);
    replay
        .catch_up_where(
            log,
            |c| {
                c.events
                    .first()
                    .is_some_and(|e| e.header.recorded_at <= as_of)
            },
            |_, _| {},
        )
        .await?;
    replay.into_projector()
}

impl Projector {
    /// Moves the checkpoint past a commit without applying it (as-of replays).
    pub(crate) fn skip(&mut self, position: Position) {
        self.checkpoint = self.checkpoint.max(position);
    }
}
