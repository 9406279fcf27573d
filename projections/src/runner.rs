//! The projection runner: follows the log and keeps a [`Projector`] up to date.
//!
//! [`Projection::run`] subscribes from the checkpoint, applies every commit in order and saves
//! each burst (state + checkpoint in one atomic batch). Readers take a read lock and see a
//! consistent state; [`Projection::wait_for`] gives read-your-writes.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use gridcase_bus::{Committed, EventLog, Position};
use gridcase_domain::Timestamp;
use tokio::sync::watch;

use crate::calendar::Calendar;
use crate::projector::Projector;
use crate::store::{Dump, Store};
use crate::ProjectionError;

/// Most commits applied under one write lock and saved in one batch while following live.
const MAX_BURST: usize = 2048;
/// Commits read per page while catching up.
const CATCH_UP_PAGE: usize = 16_384;
/// Commits applied between saves while catching up: hot aggregates (a city's month) and busy
/// cases are written once per save, not once per page.
const CATCH_UP_SAVE_EVERY: usize = 262_144;

/// A live projection, optionally persisted. Cheap to clone.
#[derive(Clone)]
pub struct Projection {
    inner: Arc<Inner>,
}

struct Inner {
    projector: RwLock<Projector>,
    store: Mutex<Option<Store>>,
    applied: watch::Sender<Position>,
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
            }),
        }
    }

    /// A consistent read view.
    pub fn read(&self) -> RwLockReadGuard<'_, Projector> {
        self.inner.projector.read().expect("projection lock")
    }

    /// The last position applied.
    pub fn checkpoint(&self) -> Position {
        *self.inner.applied.borrow()
    }

    /// Applies commits and saves them with the checkpoint in one batch.
    pub fn apply_batch(&self, commits: &[Committed]) -> Result<(), ProjectionError> {
        self.apply_and_maybe_save(commits, true)
    }

    /// Applies commits; saves (state and checkpoint in one batch) only when `save` is set.
    /// Unsaved work is simply redone after a crash: the stored checkpoint matches the stored
    /// state either way.
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
            match self.inner.store.lock().expect("store lock").as_ref() {
                Some(store) if save => store.save(&mut p)?,
                Some(_) => {}
                None => {
                    p.dirty_cases.clear();
                    p.dirty_aggs.clear();
                }
            }
            p.checkpoint()
        };
        self.inner.applied.send_replace(checkpoint);
        Ok(())
    }

    /// Follows the log until it ends or fails. Run it in a task.
    pub async fn run<L: EventLog>(&self, log: &L) -> Result<(), ProjectionError> {
        let mut sub = log.subscribe(self.checkpoint() + 1).await?;
        while let Some(first) = sub.next().await {
            let mut burst = vec![first?];
            while burst.len() < MAX_BURST {
                match sub.next().now_or_never() {
                    Some(Some(c)) => burst.push(c?),
                    _ => break,
                }
            }
            let caught_up = burst.len() < MAX_BURST;
            self.apply_batch(&burst)?;
            if caught_up {
                // Durable from here on; a crash before this only costs replaying the burst.
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Applies everything up to the log's current head, then returns (rebuilds, tools).
    pub async fn catch_up<L: EventLog>(
        &self,
        log: &L,
        mut progress: impl FnMut(Position, Position),
    ) -> Result<Position, ProjectionError> {
        let head = log.head().await?;
        let mut since_save = 0;
        while self.checkpoint() < head {
            let page = log.read_from(self.checkpoint() + 1, CATCH_UP_PAGE).await?;
            if page.is_empty() {
                break;
            }
            since_save += page.len();
            let last_page = page.last().is_some_and(|c| c.position >= head);
            let save = since_save >= CATCH_UP_SAVE_EVERY || last_page;
            self.apply_and_maybe_save(&page, save)?;
            if save {
                since_save = 0;
            }
            progress(self.checkpoint(), head);
        }
        if let Some(s) = self.inner.store.lock().expect("store lock").as_ref() {
            s.flush()?;
        }
        Ok(self.checkpoint())
    }

    /// Flushes the persisted store to disk (nothing for in-memory projections).
    pub fn flush(&self) -> Result<(), ProjectionError> {
        match self.inner.store.lock().expect("store lock").as_ref() {
            Some(s) => s.flush(),
            None => Ok(()),
        }
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

    /// Every key and value of the persisted store (empty for in-memory projections).
    pub fn dump(&self) -> Result<Dump, ProjectionError> {
        match self.inner.store.lock().expect("store lock").as_ref() {
            Some(s) => s.dump(),
            None => Ok(Vec::new()),
        }
    }
}

/// The projection as it stood at `as_of`: replays every commit recorded at or before it into
/// a fresh in-memory projector.
pub async fn as_of<L: EventLog>(
    log: &L,
    calendar: Calendar,
    as_of: Timestamp,
) -> Result<Projector, ProjectionError> {
    let mut p = Projector::new(calendar);
    let head = log.head().await?;
    let mut next = 1;
    while next <= head {
        let page = log.read_from(next, CATCH_UP_PAGE).await?;
        let Some(last) = page.last() else { break };
        next = last.position + 1;
        for c in &page {
            if c.events
                .first()
                .is_some_and(|e| e.header.recorded_at <= as_of)
            {
                p.apply(c)?;
            } else {
                p.skip(c.position);
            }
        }
    }
    p.dirty_cases.clear();
    p.dirty_aggs.clear();
    Ok(p)
}

impl Projector {
    /// Moves the checkpoint past a commit without applying it (as-of replays).
    pub(crate) fn skip(&mut self, position: Position) {
        self.checkpoint = self.checkpoint.max(position);
    }
}
