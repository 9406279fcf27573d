//! Persistence of a projection: a snapshot file in its own directory (separate from the log).
//!
//! The projection lives in memory; the store holds a *snapshot* of it — every case view and
//! aggregate with the checkpoint they correspond to — written whole, to a temporary file that
//! is synced and then renamed over the previous one. A crash at any point leaves either the
//! old or the new snapshot, each matching its own checkpoint, so resuming (load, then replay
//! the log after the checkpoint) neither loses nor double-counts (DESIGN.md invariant 7).
//!
//! A snapshot is one sequential write, so a rebuild saves in a fraction of a second what
//! per-key stores took most of the rebuild to write; the price is that a restart replays the
//! commits since the last snapshot (the runner saves every [`crate::runner`] interval).
//!
//! The snapshot is a sorted list of entries, the same for a live and a rebuilt projection at
//! the same checkpoint (byte for byte, see [`Projector::entries`]):
//!
//! | key | value |
//! |---|---|
//! | `a` + region (9 sortable bytes) + bucket kind + bucket (i32, sign-flipped BE) | the non-zero counters ([`Cells::encode_into`]: key u16, value i32, little-endian) |
//! | `c` + case id | MessagePack (compact) of the [`CaseEntry`] |
//! | `m` + `checkpoint` | position (u64 BE) |
//! | `m` + `layout` | the [`layout_fingerprint`] of the counters (hex) |
//! | `m` + `time_zone` | the calendar's zone name |
//! | `u` + region + bucket kind + bucket (as `a`) | the acting units' activity counters (as `a`) |
//!
//! File layout (`projection.snapshot`): the magic `GRIDCASE-PROJECTION-1\n`, then per entry
//! its key length (u32 LE), key, value length (u32 LE) and value; then the trailer: the entry
//! count (u64 LE) and the CRC-32 of everything before it (u32 LE). A file that fails any check
//! is set aside (renamed `*.damaged`) and the projection is rebuilt from the log.
//!
//! Counters are stored by id (see [`crate::counts`]), so a snapshot means what it says only
//! under the layout it was written with. One whose layout fingerprint differs from this build's
//! (or that has none: written before it was recorded) is set aside the same way (renamed
//! `*.other-layout`) and rebuilt, never read into the wrong counters.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use gridcase_bus::Position;
use gridcase_domain::{CaseId, RegionCode};

use crate::aggregates::Aggregates;
use crate::calendar::{civil_from_days, Calendar};
use crate::counts::{layout_fingerprint, Cells};
use crate::projector::{AggKey, Bucket, CaseEntry, Projector};
use crate::ProjectionError;

/// Every key and value of a store, in key order.
pub type Dump = Vec<(Vec<u8>, Vec<u8>)>;

const CHECKPOINT: &[u8] = b"mcheckpoint";
const LAYOUT: &[u8] = b"mlayout";
const TIME_ZONE: &[u8] = b"mtime_zone";
const MAGIC: &[u8] = b"GRIDCASE-PROJECTION-1\n";
const SNAPSHOT: &str = "projection.snapshot";
const LOCK: &str = "LOCK";
/// Trailer: entry count (u64) + CRC-32 (u32).
const TRAILER: usize = 12;

/// A projection's on-disk store: the snapshot file and a lock held while it is open.
pub struct Store {
    dir: PathBuf,
    /// Held for the store's lifetime: one writer per directory.
    _lock: File,
}

/// An entry of the snapshot that does not decode.
fn undecodable(what: impl Into<String>) -> ProjectionError {
    ProjectionError::Undecodable {
        what: what.into(),
        source: None,
    }
}

/// [`undecodable`] with the decoder's error.
fn undecodable_because<E: Into<crate::Cause>>(
    what: impl Into<String>,
) -> impl FnOnce(E) -> ProjectionError {
    let what = what.into();
    move |e| ProjectionError::Undecodable {
        what,
        source: Some(e.into()),
    }
}

fn io<'a>(what: &str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ProjectionError + 'a {
    let what = what.to_owned();
    move |source| ProjectionError::Storage {
        context: format!("{what} {}", path.display()),
        source,
    }
}

pub(crate) fn agg_key(key: &AggKey) -> [u8; 15] {
    agg_key_with(b'a', key)
}

/// The key of a unit-activity aggregate: as [`agg_key`], prefix `u`.
pub(crate) fn unit_agg_key(key: &AggKey) -> [u8; 15] {
    agg_key_with(b'u', key)
}

fn agg_key_with(prefix: u8, (region, bucket): &AggKey) -> [u8; 15] {
    let mut k = [0u8; 15];
    k[0] = prefix;
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
        return Err(undecodable(format!("aggregate key {k:?} (wrong length)")));
    }
    let region = RegionCode::from_sortable_bytes(&k[1..10])
        .map_err(undecodable_because("region of an aggregate key"))?;
    let n = (u32::from_be_bytes(k[11..15].try_into().expect("4 bytes")) ^ 0x8000_0000) as i32;
    let bucket = match k[10] {
        0 => Bucket::Month(n),
        1 => Bucket::Day(n),
        other => {
            return Err(undecodable(format!(
                "aggregate key of {region} (bucket kind {other})"
            )))
        }
    };
    Ok((region, bucket))
}

pub(crate) fn case_key(id: &CaseId) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + id.as_str().len());
    k.push(b'c');
    k.extend_from_slice(id.as_str().as_bytes());
    k
}

/// Writes entries in the snapshot layout, computing the trailer as it goes. Entries are
/// gathered into a buffer of [`SNAPSHOT_WRITE_BYTES`] that is checksummed and written whole:
/// a snapshot holds millions of small entries, and a checksum update and a write for each of
/// their four parts cost more than encoding them.
struct SnapshotWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    crc: crc32fast::Hasher,
    entries: u64,
}

/// How much a [`SnapshotWriter`] gathers before it writes.
const SNAPSHOT_WRITE_BYTES: usize = 1 << 20;

impl<W: Write> SnapshotWriter<W> {
    fn new(out: W) -> Self {
        let mut buf = Vec::with_capacity(SNAPSHOT_WRITE_BYTES + 4096);
        buf.extend_from_slice(MAGIC);
        SnapshotWriter {
            out,
            buf,
            crc: crc32fast::Hasher::new(),
            entries: 0,
        }
    }

    /// Checksums and writes what is gathered.
    fn write_out(&mut self) -> std::io::Result<()> {
        self.crc.update(&self.buf);
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    fn entry(&mut self, key: &[u8], value: &[u8]) -> std::io::Result<()> {
        let len = |n: usize| {
            u32::try_from(n)
                .map(u32::to_le_bytes)
                .map_err(|_| std::io::Error::other("a snapshot entry over 4 GiB"))
        };
        self.buf.extend_from_slice(&len(key.len())?);
        self.buf.extend_from_slice(key);
        self.buf.extend_from_slice(&len(value.len())?);
        self.buf.extend_from_slice(value);
        self.entries += 1;
        if self.buf.len() >= SNAPSHOT_WRITE_BYTES {
            self.write_out()?;
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<W> {
        self.buf.extend_from_slice(&self.entries.to_le_bytes());
        self.write_out()?;
        let crc = self.crc.clone().finalize().to_le_bytes();
        self.out.write_all(&crc)?;
        Ok(self.out)
    }
}

/// A key of the store for people (difference reports): `case view <id>`, `aggregate <region>
/// month 2025-03`, `aggregate <region> day 2025-03-02`, `metadata <name>`, else the key.
pub fn describe_key(k: &[u8]) -> String {
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match k.first() {
        Some(b'c') => format!("case view {}", lossy(&k[1..])),
        Some(prefix @ (b'a' | b'u')) => {
            let what = if *prefix == b'a' {
                "aggregate"
            } else {
                "unit activity"
            };
            match parse_agg_key(k) {
                Ok((region, Bucket::Month(n))) => format!(
                    "{what} {region} month {:04}-{:02}",
                    n.div_euclid(12),
                    n.rem_euclid(12) + 1
                ),
                Ok((region, Bucket::Day(n))) => {
                    let (y, m, d) = civil_from_days(n);
                    format!("{what} {region} day {y:04}-{m:02}-{d:02}")
                }
                Err(_) => format!("key {:?}", lossy(k)),
            }
        }
        Some(b'm') => format!("metadata {}", lossy(&k[1..])),
        _ => format!("key {:?}", lossy(k)),
    }
}

/// The entries of a snapshot file's bytes, checked (magic, lengths, count, CRC).
/// A borrowed snapshot entry: key and value.
type RawEntry<'a> = (&'a [u8], &'a [u8]);

fn parse_snapshot(bytes: &[u8]) -> Result<Vec<RawEntry<'_>>, String> {
    if bytes.len() < MAGIC.len() + TRAILER || !bytes.starts_with(MAGIC) {
        return Err("not a projection snapshot (bad magic or too short)".into());
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err("the snapshot fails its CRC (truncated or damaged)".into());
    }
    let (entries, count) = body.split_at(body.len() - 8);
    let count = u64::from_le_bytes(count.try_into().expect("8 bytes"));
    let mut rest = &entries[MAGIC.len()..];
    let mut out = Vec::with_capacity(count.min(1 << 24) as usize);
    fn take<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8], String> {
        if rest.len() < 4 {
            return Err("a snapshot entry is cut short".into());
        }
        let n = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        if rest.len() < 4 + n {
            return Err("a snapshot entry is cut short".into());
        }
        let v = &rest[4..4 + n];
        *rest = &rest[4 + n..];
        Ok(v)
    }
    while !rest.is_empty() {
        let k = take(&mut rest)?;
        let v = take(&mut rest)?;
        if out
            .last()
            .is_some_and(|(last, _): &(&[u8], &[u8])| *last >= k)
        {
            return Err("snapshot keys out of order".into());
        }
        out.push((k, v));
    }
    if out.len() as u64 != count {
        return Err(format!(
            "the snapshot says {count} entries, holds {}",
            out.len()
        ));
    }
    Ok(out)
}

impl Store {
    /// Opens (or creates) a store in `dir`, taking its lock: a second process gets a clear
    /// "in use" error.
    pub fn open(dir: &Path) -> Result<Store, ProjectionError> {
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let lock_path = dir.join(LOCK);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("opening", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(ProjectionError::Locked {
                    dir: dir.to_owned(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io("locking", &lock_path)(e)),
        }
        Ok(Store {
            dir: dir.to_owned(),
            _lock: lock,
        })
    }

    fn snapshot_path(&self) -> PathBuf {
        self.dir.join(SNAPSHOT)
    }

    /// The snapshot's bytes, or `None` if there is none yet.
    fn read_bytes(dir: &Path) -> Result<Option<Vec<u8>>, ProjectionError> {
        let path = dir.join(SNAPSHOT);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading", &path)(e)),
        }
    }

    /// Renames the snapshot to `projection.snapshot.<suffix>` with a warning saying why, so the
    /// projection starts empty and the log rebuilds it.
    fn set_aside(&self, suffix: &str, problem: &str, reason: &str) -> Result<(), ProjectionError> {
        let path = self.snapshot_path();
        let aside = self.dir.join(format!("{SNAPSHOT}.{suffix}"));
        tracing::warn!(
            snapshot = %path.display(),
            set_aside = %aside.display(),
            %reason,
            "the projection snapshot {problem}: set aside, rebuilding from the log"
        );
        std::fs::rename(&path, &aside).map_err(io("setting aside", &path))
    }

    /// Loads the projection saved in the snapshot (an empty one if there is none). A damaged
    /// snapshot is set aside as `projection.snapshot.damaged`, and one written under another
    /// counter layout as `projection.snapshot.other-layout`, each with a warning, and the
    /// projection starts empty: the log rebuilds it. A snapshot written in another time zone
    /// is refused: rebuild it.
    pub fn load(&self, calendar: Calendar) -> Result<Projector, ProjectionError> {
        let Some(bytes) = Self::read_bytes(&self.dir)? else {
            return Ok(Projector::new(calendar));
        };
        let entries = match parse_snapshot(&bytes) {
            Ok(e) => e,
            Err(reason) => {
                self.set_aside("damaged", "is damaged", &reason)?;
                return Ok(Projector::new(calendar));
            }
        };
        let layout = entries
            .binary_search_by(|(k, _)| (*k).cmp(LAYOUT))
            .ok()
            .map(|i| entries[i].1);
        if layout != Some(layout_fingerprint().as_bytes()) {
            let reason = format!(
                "written with counter layout {}, this build's is {}",
                layout.map_or("(not recorded)".into(), String::from_utf8_lossy),
                layout_fingerprint()
            );
            self.set_aside("other-layout", "has another counter layout", &reason)?;
            return Ok(Projector::new(calendar));
        }
        let mut p = Projector::new(calendar);
        for (k, v) in entries {
            match k.first() {
                Some(prefix @ (b'a' | b'u')) => {
                    let key = parse_agg_key(k)?;
                    let (map, what) = if *prefix == b'a' {
                        (&mut p.aggregates, "aggregate")
                    } else {
                        (&mut p.unit_aggregates, "unit activity")
                    };
                    let cells = Cells::decode(v).map_err(undecodable_because(format!(
                        "{what} {:?} of {}",
                        key.1, key.0
                    )))?;
                    map.insert(key, cells);
                }
                Some(b'c') => {
                    let id = CaseId::new(String::from_utf8_lossy(&k[1..]).into_owned())
                        .map_err(undecodable_because("case id of a case view"))?;
                    let e: CaseEntry = rmp_serde::from_slice(v)
                        .map_err(undecodable_because(format!("case view of {id}")))?;
                    p.cases.insert(id, e);
                }
                _ if k == LAYOUT => {} // checked above
                _ if k == CHECKPOINT => {
                    p.checkpoint = Position::from_be_bytes(
                        v.try_into().map_err(|_| undecodable("checkpoint"))?,
                    );
                }
                _ if k == TIME_ZONE => {
                    if v != p.calendar.name().as_bytes() {
                        return Err(ProjectionError::TimeZone {
                            built: String::from_utf8_lossy(v).into_owned(),
                            configured: p.calendar.name().to_owned(),
                        });
                    }
                }
                _ => {
                    return Err(undecodable(format!(
                        "entry {:?} (an unknown key)",
                        String::from_utf8_lossy(k)
                    )))
                }
            }
        }
        p.build_lookups();
        Ok(p)
    }

    /// Writes a snapshot of `p` (state and checkpoint together) and makes it durable: temporary
    /// file, sync, rename over the previous snapshot, sync the directory.
    pub fn save(&self, p: &Projector) -> Result<(), ProjectionError> {
        // A projector whose aggregates are on a catch-up's thread (or were lost with it when
        // that thread failed) holds no aggregates to save: never a snapshot without them.
        if p.aggregates_staged() {
            return Err(ProjectionError::Worker {
                what: "the aggregates are not in the projector (a catch-up holds them, or it failed): nothing saved",
                source: None,
            });
        }
        let tmp = self.dir.join(format!("{SNAPSHOT}.tmp"));
        let file = File::create(&tmp).map_err(io("creating", &tmp))?;
        let mut w = SnapshotWriter::new(file);
        p.for_each_entry(|k, v| w.entry(k, v))
            .map_err(io("writing", &tmp))?;
        let file = w.finish().map_err(io("writing", &tmp))?;
        file.sync_all().map_err(io("syncing", &tmp))?;
        drop(file);
        let path = self.snapshot_path();
        std::fs::rename(&tmp, &path).map_err(io("renaming", &tmp))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing", &self.dir))
    }

    /// Every key and value of the snapshot in `dir`, in order (empty without one), for
    /// byte-for-byte comparisons. Takes no lock: snapshots are replaced by rename, so this
    /// reads a whole one even while a server writes the next.
    pub fn dump_dir(dir: &Path) -> Result<Dump, ProjectionError> {
        let Some(bytes) = Self::read_bytes(dir)? else {
            return Ok(Vec::new());
        };
        let entries = parse_snapshot(&bytes).map_err(|reason| ProjectionError::Damaged {
            dir: dir.to_owned(),
            reason,
        })?;
        Ok(entries
            .into_iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect())
    }
}

/// The checkpoint recorded in a dump (0 if it has none, as a store without a snapshot).
pub fn checkpoint_of(dump: &Dump) -> Position {
    dump.iter()
        .find(|(k, _)| k.as_slice() == CHECKPOINT)
        .and_then(|(_, v)| v.as_slice().try_into().ok())
        .map(Position::from_be_bytes)
        .unwrap_or(Position::ZERO)
}

/// The aggregates with their snapshot keys (`key` of each), in key order. The keys are sorted
/// as integers: comparing millions of 15-byte arrays byte by byte cost more than encoding them.
fn in_key_order(aggregates: &Aggregates, key: fn(&AggKey) -> [u8; 15]) -> Vec<([u8; 15], &Cells)> {
    let mut keyed: Vec<(u128, &Cells)> = aggregates
        .iter()
        .map(|(k, c)| {
            let mut wide = [0u8; 16];
            wide[..15].copy_from_slice(&key(&k));
            (u128::from_be_bytes(wide), c)
        })
        .collect();
    keyed.sort_unstable_by_key(|(k, _)| *k);
    keyed
        .into_iter()
        .map(|(k, c)| {
            let mut narrow = [0u8; 15];
            narrow.copy_from_slice(&k.to_be_bytes()[..15]);
            (narrow, c)
        })
        .collect()
}

impl Projector {
    /// Calls `f` with every entry of this projection's snapshot, in key order.
    pub(crate) fn for_each_entry<E>(
        &self,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.debug_assert_aggregates_here();
        let keys = in_key_order(&self.aggregates, agg_key);
        std::thread::scope(|scope| {
            // The case views, the larger half of the work, are encoded on a thread of their own
            // (into one buffer) while the aggregates are encoded and handed to `f` here.
            let encode_cases = || self.encoded_cases();
            let cases = std::thread::Builder::new()
                .name("snapshot-cases".into())
                .spawn_scoped(scope, encode_cases);
            let mut value = Vec::new();
            for (k, cells) in keys {
                value.clear();
                cells.encode_into(&mut value);
                f(&k, &value)?;
            }
            let (ids, bytes, ends) = match cases {
                Ok(thread) => thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // No thread to spare: encoded here.
                Err(_) => encode_cases(),
            };
            let mut start = 0;
            for (id, end) in ids.into_iter().zip(ends) {
                f(&case_key(id), &bytes[start..end])?;
                start = end;
            }
            Ok(())
        })?;
        let mut value = Vec::new();
        f(CHECKPOINT, &self.checkpoint.to_be_bytes())?;
        f(LAYOUT, layout_fingerprint().as_bytes())?;
        f(TIME_ZONE, self.calendar.name().as_bytes())?;
        for (k, cells) in in_key_order(&self.unit_aggregates, unit_agg_key) {
            value.clear();
            cells.encode_into(&mut value);
            f(&k, &value)?;
        }
        Ok(())
    }

    /// The case views in key order, each encoded: the ids, the encodings one after another,
    /// and where each ends.
    fn encoded_cases(&self) -> (Vec<&CaseId>, Vec<u8>, Vec<usize>) {
        let mut ids: Vec<&CaseId> = self.cases.keys().collect();
        ids.sort_unstable();
        let mut bytes = Vec::new();
        let ends = ids
            .iter()
            .map(|id| {
                rmp_serde::encode::write(&mut bytes, &self.cases[*id])
                    .expect("a case view encodes into memory");
                bytes.len()
            })
            .collect();
        (ids, bytes, ends)
    }

    /// Every entry a snapshot of this projection holds, in key order (see the module docs):
    /// two projections with equal entries are the same projection.
    pub fn entries(&self) -> Dump {
        let mut out = Vec::new();
        self.for_each_entry(|k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok::<(), std::convert::Infallible>(())
        })
        .unwrap_or_else(|e| match e {});
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_projector_whose_aggregates_are_away_is_never_saved() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut p = Projector::new(Calendar::default());
        let away = p.stage_aggregates();
        assert!(matches!(
            store.save(&p),
            Err(ProjectionError::Worker { .. })
        ));
        assert!(
            Store::dump_dir(dir.path()).unwrap().is_empty(),
            "nothing written"
        );
        p.unstage_aggregates(away);
        store.save(&p).unwrap();
        assert_eq!(Store::dump_dir(dir.path()).unwrap(), p.entries());
    }
}
