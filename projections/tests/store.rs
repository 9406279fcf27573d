//! The snapshot store: a damaged snapshot, or one written under another counter layout, is set
//! aside and rebuilt from the log; a store has one owner at a time; a snapshot from another
//! time zone is refused.

mod common;

use common::{commit_of, runtime};
use gridcase_bus::{EventLog, SledLog};
use gridcase_fixtures::Scale;
use gridcase_projections::{Calendar, Projection, ProjectionError, Store};

/// A tiny log, and a projection of all of it saved in `dir/projection`.
async fn saved(dir: &std::path::Path) -> (SledLog, gridcase_projections::Dump) {
    let log = SledLog::open(dir.join("log")).unwrap();
    for g in Scale::Tiny.generator(3) {
        log.append(commit_of(&g)).await.unwrap();
    }
    let p = Projection::open(&dir.join("projection"), Calendar::default()).unwrap();
    p.catch_up(&log, |_, _| {}).await.unwrap();
    let dump = p.dump();
    assert_eq!(Store::dump_dir(&dir.join("projection")).unwrap(), dump);
    (log, dump)
}

fn damage(path: &std::path::Path, how: &str) {
    let mut bytes = std::fs::read(path).unwrap();
    match how {
        "truncated" => bytes.truncate(bytes.len() - 7),
        "flipped" => {
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x40;
        }
        "emptied" => bytes.clear(),
        _ => unreachable!(),
    }
    std::fs::write(path, bytes).unwrap();
}

/// Opens the projection in `proj_dir`, whose snapshot must not be loaded: it starts over, the
/// file is kept as `projection.snapshot.<suffix>`, and the log rebuilds and saves `dump`.
async fn rebuilt_beside(
    proj_dir: &std::path::Path,
    suffix: &str,
    log: &SledLog,
    dump: &gridcase_projections::Dump,
    how: &str,
) {
    let p = Projection::open(proj_dir, Calendar::default()).unwrap();
    assert_eq!(p.checkpoint().get(), 0, "{how}: not loaded, starts over");
    assert!(
        proj_dir
            .join(format!("projection.snapshot.{suffix}"))
            .exists(),
        "{how}: the file is kept for inspection"
    );
    assert!(
        !proj_dir.join("projection.snapshot").exists(),
        "{how}: and is no longer the snapshot"
    );
    p.catch_up(log, |_, _| {}).await.unwrap();
    assert_eq!(&p.dump(), dump, "{how}: rebuilt to the same projection");
    assert_eq!(
        &Store::dump_dir(proj_dir).unwrap(),
        dump,
        "{how}: and saved"
    );
}

#[test]
fn a_damaged_snapshot_is_set_aside_and_rebuilt_from_the_log() {
    for how in ["truncated", "flipped", "emptied"] {
        runtime().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let (log, dump) = saved(dir.path()).await;
            let proj_dir = dir.path().join("projection");
            let snapshot = proj_dir.join("projection.snapshot");
            damage(&snapshot, how);
            assert!(
                Store::dump_dir(&proj_dir).is_err(),
                "{how}: reading a damaged snapshot is an error"
            );
            rebuilt_beside(&proj_dir, "damaged", &log, &dump, how).await;
        });
    }
}

/// Writes `entries` as a well-formed snapshot file (the framing of the store's docs: magic,
/// length-prefixed keys and values, entry count, CRC-32), as another build would have.
fn write_snapshot(path: &std::path::Path, entries: &gridcase_projections::Dump) {
    let mut b = b"GRIDCASE-PROJECTION-1\n".to_vec();
    for (k, v) in entries {
        for part in [k, v] {
            b.extend_from_slice(&(part.len() as u32).to_le_bytes());
            b.extend_from_slice(part);
        }
    }
    b.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    std::fs::write(path, b).unwrap();
}

#[test]
fn a_snapshot_of_another_counter_layout_is_set_aside_and_rebuilt() {
    // "same" rewrites the snapshot unchanged (it loads: the rewriting is faithful); "other" as
    // a build whose counter ids differ wrote it (well formed, every counter key still decodes:
    // only the recorded layout tells); "unrecorded" as a build from before layouts were recorded.
    for how in ["same", "other", "unrecorded"] {
        runtime().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let (log, dump) = saved(dir.path()).await;
            let layout = dump
                .iter()
                .position(|(k, _)| k.as_slice() == b"mlayout")
                .expect("a snapshot records its counter layout");
            let fingerprint = &dump[layout].1;
            assert!(
                fingerprint.len() == 64 && fingerprint.iter().all(u8::is_ascii_hexdigit),
                "{how}: the layout is a SHA-256 in hex: {:?}",
                String::from_utf8_lossy(fingerprint)
            );
            let mut entries = dump.clone();
            match how {
                "same" => {}
                "other" => entries[layout].1 = b"0".repeat(64),
                "unrecorded" => {
                    entries.remove(layout);
                }
                _ => unreachable!(),
            }
            let proj_dir = dir.path().join("projection");
            write_snapshot(&proj_dir.join("projection.snapshot"), &entries);
            assert_eq!(
                Store::dump_dir(&proj_dir).unwrap(),
                entries,
                "{how}: well formed"
            );

            if how == "same" {
                let p = Projection::open(&proj_dir, Calendar::default()).unwrap();
                assert_eq!(p.dump(), dump, "{how}: loaded as written");
                assert!(
                    !proj_dir.join("projection.snapshot.other-layout").exists(),
                    "{how}: nothing set aside"
                );
                return;
            }
            rebuilt_beside(&proj_dir, "other-layout", &log, &dump, how).await;
        });
    }
}

#[test]
fn a_store_has_one_owner_at_a_time() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (_log, dump) = saved(dir.path()).await;
        let proj_dir = dir.path().join("projection");
        let first = Store::open(&proj_dir).unwrap();
        match Store::open(&proj_dir) {
            Err(e @ ProjectionError::Locked { .. }) => {
                assert!(e.to_string().contains("in use"), "{e}")
            }
            other => panic!("a second owner was let in: {:?}", other.err()),
        }
        // Readers need no lock: the snapshot is replaced by rename, never rewritten in place.
        assert_eq!(Store::dump_dir(&proj_dir).unwrap(), dump);
        drop(first);
        Store::open(&proj_dir).unwrap();
    });
}

#[test]
fn a_snapshot_from_another_time_zone_is_refused() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        saved(dir.path()).await;
        let tokyo = Calendar::new("Asia/Tokyo").unwrap();
        match Projection::open(&dir.path().join("projection"), tokyo) {
            Err(e @ ProjectionError::TimeZone { .. }) => {
                let m = e.to_string();
                assert!(m.contains("Asia/Shanghai") && m.contains("rebuild"), "{m}")
            }
            other => panic!("opened in the wrong zone: {:?}", other.err()),
        }
    });
}
