//! The snapshot store: a damaged snapshot is set aside and rebuilt from the log, a store has one
//! owner at a time, and a snapshot from another time zone is refused.

use gridcase_bus::{partition_of, Commit, EventLog, SledLog};
use gridcase_fixtures::Scale;
use gridcase_projections::{Calendar, Projection, ProjectionError, Store};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A tiny log, and a projection of all of it saved in `dir/projection`.
async fn saved(dir: &std::path::Path) -> (SledLog, gridcase_projections::Dump) {
    let log = SledLog::open(dir.join("log")).unwrap();
    for g in Scale::Tiny.generator(3) {
        log.append(Commit {
            case_id: g.case_id.clone(),
            partition: partition_of(g.command.actor.unit()),
            command_id: g.command_id.clone(),
            expected_version: g.expected_version,
            events: g.events.clone(),
        })
        .await
        .unwrap();
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
            let p = Projection::open(&proj_dir, Calendar::default()).unwrap();
            assert_eq!(p.checkpoint(), 0, "{how}: starts over");
            assert!(
                proj_dir.join("projection.snapshot.damaged").exists(),
                "{how}: the damaged file is kept for inspection"
            );
            p.catch_up(&log, |_, _| {}).await.unwrap();
            assert_eq!(p.dump(), dump, "{how}: rebuilt to the same projection");
            assert_eq!(
                Store::dump_dir(&proj_dir).unwrap(),
                dump,
                "{how}: and saved"
            );
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
            Err(ProjectionError::Storage(m)) => assert!(m.contains("in use"), "{m}"),
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
            Err(ProjectionError::Storage(m)) => {
                assert!(m.contains("Asia/Shanghai") && m.contains("rebuild"), "{m}")
            }
            other => panic!("opened in the wrong zone: {:?}", other.err()),
        }
    });
}
