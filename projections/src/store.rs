//! Persistence of a projection in its own sled directory (separate from the embedded log).
//!
//! One tree, one atomic batch per flush: the changed case views, the changed aggregates and
//! the checkpoint together, so a crash at any point leaves a state that matches its
//! checkpoint — resuming neither loses nor double-counts.
//!
//! | key | value |
//! |---|---|
//! | `c` + case id | MessagePack (compact) of the [`CaseEntry`] |
//! | `a` + region (9 sortable bytes) + bucket kind + bucket (i32, sign-flipped BE) | MessagePack (compact) of the [`Aggregate`] |
//! | `m` + `checkpoint` | position (u64 BE) |
//! | `m` + `time_zone` | the calendar's zone name |

use std::path::Path;

use gridcase_bus::Position;
use gridcase_domain::{CaseId, RegionCode};

use crate::calendar::Calendar;
use crate::counts::Aggregate;
use crate::projector::{AggKey, Bucket, CaseEntry, Projector};
use crate::ProjectionError;

/// Every key and value of a store, in key order.
pub type Dump = Vec<(Vec<u8>, Vec<u8>)>;

const CHECKPOINT: &[u8] = b"mcheckpoint";
const TIME_ZONE: &[u8] = b"mtime_zone";

/// A projection's on-disk store.
pub struct Store {
    tree: sled::Tree,
    db: sled::Db,
}

fn storage(e: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::Storage(e.to_string())
}

fn agg_key((region, bucket): &AggKey) -> [u8; 15] {
    let mut k = [0u8; 15];
    k[0] = b'a';
    k[1..10].copy_from_slice(&region.to_sortable_bytes());
    let (kind, n) = match bucket {
        Bucket::Month(m) => (0u8, *m),
        Bucket::Day(d) => (1u8, *d),
    };
    k[10] = kind;
    k[11..15].copy_from_slice(&((n as u32) ^ 0x8000_0000).to_be_bytes());
    k
}

fn parse_agg_key(k: &[u8]) -> Result<AggKey, ProjectionError> {
    if k.len() != 15 {
        return Err(storage("aggregate key of wrong length"));
    }
    let region = RegionCode::from_sortable_bytes(&k[1..10]).map_err(storage)?;
    let n = (u32::from_be_bytes(k[11..15].try_into().expect("4 bytes")) ^ 0x8000_0000) as i32;
    let bucket = if k[10] == 0 {
        Bucket::Month(n)
    } else {
        Bucket::Day(n)
    };
    Ok((region, bucket))
}

fn case_key(id: &CaseId) -> Vec<u8> {
    let mut k = vec![b'c'];
    k.extend_from_slice(id.as_str().as_bytes());
    k
}

impl Store {
    /// Opens (or creates) a store.
    pub fn open(dir: &Path) -> Result<Store, ProjectionError> {
        // No background flusher: batches are atomic on recovery, the runner flushes when it has
        // caught up, and the store's lock is released as soon as the store is dropped.
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(None)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io)
                    if io.to_string().contains("lock")
                        || io.kind() == std::io::ErrorKind::WouldBlock =>
                {
                    ProjectionError::Storage(format!(
                        "the projection store at {} is in use by another process",
                        dir.display()
                    ))
                }
                other => storage(other),
            })?;
        let tree = db.open_tree("projection").map_err(storage)?;
        Ok(Store { tree, db })
    }

    /// Loads the whole projection into memory. A store written in another time zone is
    /// refused: rebuild it.
    pub fn load(&self, calendar: Calendar) -> Result<Projector, ProjectionError> {
        if let Some(tz) = self.tree.get(TIME_ZONE).map_err(storage)? {
            if tz.as_ref() != calendar.name().as_bytes() {
                return Err(ProjectionError::Storage(format!(
                    "the projection was built in time zone {}, not {}: rebuild it",
                    String::from_utf8_lossy(&tz),
                    calendar.name()
                )));
            }
        }
        let mut p = Projector::new(calendar);
        p.checkpoint = match self.tree.get(CHECKPOINT).map_err(storage)? {
            Some(v) => u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| storage("bad checkpoint"))?,
            ),
            None => 0,
        };
        for kv in self.tree.scan_prefix(b"c") {
            let (k, v) = kv.map_err(storage)?;
            let id = CaseId::new(String::from_utf8_lossy(&k[1..]).into_owned()).map_err(storage)?;
            let e: CaseEntry = rmp_serde::from_slice(&v).map_err(storage)?;
            p.cases.insert(id, e);
        }
        for kv in self.tree.scan_prefix(b"a") {
            let (k, v) = kv.map_err(storage)?;
            let a: Aggregate = rmp_serde::from_slice(&v).map_err(storage)?;
            p.aggregates.insert(parse_agg_key(&k)?, a);
        }
        p.rebuild_queue();
        Ok(p)
    }

    /// Writes what changed since the last save, with the checkpoint, in one atomic batch.
    pub fn save(&self, p: &mut Projector) -> Result<(), ProjectionError> {
        let mut batch = sled::Batch::default();
        // Internal format: compact MessagePack (fields by position). Rebuilt, never exchanged.
        for id in std::mem::take(&mut p.dirty_cases) {
            match p.cases.get(&id) {
                Some(e) => batch.insert(case_key(&id), rmp_serde::to_vec(e).map_err(storage)?),
                None => batch.remove(case_key(&id)),
            }
        }
        for key in std::mem::take(&mut p.dirty_aggs) {
            match p.aggregates.get(&key) {
                Some(a) => batch.insert(&agg_key(&key), rmp_serde::to_vec(a).map_err(storage)?),
                None => batch.remove(&agg_key(&key)),
            }
        }
        batch.insert(CHECKPOINT, &p.checkpoint.to_be_bytes());
        batch.insert(TIME_ZONE, p.calendar.name().as_bytes());
        self.tree.apply_batch(batch).map_err(storage)
    }

    /// Flushes to disk (not needed for correctness: batches are atomic on recovery).
    pub fn flush(&self) -> Result<(), ProjectionError> {
        self.db.flush().map(|_| ()).map_err(storage)
    }

    /// The stored checkpoint.
    pub fn checkpoint(&self) -> Result<Position, ProjectionError> {
        Ok(match self.tree.get(CHECKPOINT).map_err(storage)? {
            Some(v) => u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| storage("bad checkpoint"))?,
            ),
            None => 0,
        })
    }

    /// Every key and value, in order: for byte-for-byte comparisons of two stores.
    pub fn dump(&self) -> Result<Dump, ProjectionError> {
        self.tree
            .iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(storage))
            .collect()
    }

    /// Deletes everything (before a rebuild from position 0).
    pub fn clear(&self) -> Result<(), ProjectionError> {
        self.tree.clear().map_err(storage)
    }
}

impl Projector {
    pub(crate) fn rebuild_queue(&mut self) {
        self.queue.clear();
        for e in self.cases.values() {
            if let (true, Some(h), Some(id)) =
                (e.state.status.is_open(), e.state.holder, e.state.id.clone())
            {
                self.queue
                    .insert((h, e.state.deadline.map_or(i64::MAX, |d| d.as_millis()), id));
            }
        }
    }
}
