//! The log contract against the embedded sled backend, plus sled-specific behaviour.

mod contract;

use std::sync::Arc;

use gridcase_bus::*;

async fn open() -> (SledLog, Arc<dyn std::any::Any + Send + Sync>) {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    (log, Arc::new(dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_suite() {
    contract::run_all(open).await;
}

#[tokio::test]
async fn reopening_keeps_everything_and_continues_positions() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = SledLog::open(dir.path()).unwrap();
        contract::append_next(&log, "k", "one", 2).await.unwrap();
        contract::append_next(&log, "k", "two", 1).await.unwrap();
    }
    let log = SledLog::open(dir.path()).unwrap();
    assert_eq!(log.head().await.unwrap().get(), 2);
    let a = contract::append_next(&log, "k", "three", 1).await.unwrap();
    assert_eq!((a.position.get(), a.version), (3, 4));
    let again = contract::append_next(&log, "k", "one", 1).await.unwrap();
    assert!(
        again.duplicate && again.position == Position::FIRST,
        "command index survives reopening"
    );
    contract::assert_log_consistent(&log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dropped_log_can_be_opened_again_at_once() {
    // sled's thread pool keeps the locked file open for a moment after its database is
    // dropped (longer while other stores keep the pool busy); dropping the log waits for it,
    // so a reopen right after never finds the store locked. Eight stores at once.
    let reopen_rounds = |store: usize| async move {
        let dir = tempfile::tempdir().unwrap();
        for round in 0..100 {
            let log = SledLog::open(dir.path())
                .unwrap_or_else(|e| panic!("store {store}, round {round}: {e}"));
            contract::append_next(&log, "k", &format!("c{round}"), 1)
                .await
                .unwrap();
            assert_eq!(log.head().await.unwrap().get(), round + 1);
        }
    };
    let stores: Vec<_> = (0..8).map(|s| tokio::spawn(reopen_rounds(s))).collect();
    for s in stores {
        s.await.unwrap();
    }
}

#[tokio::test]
async fn a_second_open_of_the_same_store_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SledLog::open(dir.path()).unwrap();
    // sled locks the store per process; a second handle in the same process is refused too.
    match SledLog::open(dir.path()) {
        Err(e @ LogError::Locked { .. }) => {
            assert!(e.to_string().contains("in use by another process"))
        }
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("a second open must fail"),
    }
}

#[tokio::test]
async fn a_flipped_byte_is_a_typed_corruption_naming_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    for i in 0..3 {
        contract::append_next(&log, "z", &format!("c{i}"), 1)
            .await
            .unwrap();
    }
    let tree = log.raw_tree();
    let key = [b'P', 0, 0, 0, 0, 0, 0, 0, 2];
    let mut v = tree.get(key).unwrap().unwrap().to_vec();
    let mid = v.len() / 2;
    v[mid] ^= 0x20;
    tree.insert(key, v).unwrap();
    match log.read_from(Position::FIRST, 10).await {
        Err(LogError::Corrupt { position, .. }) => assert_eq!(position.get(), 2),
        other => panic!("expected corruption at 2, got {other:?}"),
    }
    assert!(matches!(
        log.read_case(&gridcase_domain::CaseId::new("z").unwrap())
            .await,
        Err(LogError::Corrupt { position, .. }) if position.get() == 2
    ));
    // A truncated value too.
    tree.insert(key, vec![1, 2]).unwrap();
    assert!(matches!(
        log.read_from(Position::new(2), 1).await,
        Err(LogError::Corrupt { position, .. }) if position.get() == 2
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_flushes_and_all_land() {
    let (log, _g) = open().await;
    let mut tasks = Vec::new();
    for w in 0..32 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                contract::append_next(&log, &format!("w{w}"), &format!("w{w}-{i}"), 1)
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(log.head().await.unwrap().get(), 640);
    contract::assert_log_consistent(&log).await;
}

/// Opens the store in `dir` once the handles that last had it open in this process have let
/// go of its lock: sled releases it from its I/O threads after the handles are dropped (its
/// own tests block on the lock for this reason), so an immediate reopen can find it held.
fn open_released(
    dir: &std::path::Path,
    open: fn(&std::path::Path) -> Result<SledLog, LogError>,
) -> SledLog {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match open(dir) {
            Err(LogError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::yield_now()
            }
            other => return other.unwrap(),
        }
    }
}

/// Every stored commit and index entry of a store, raw.
fn stored(log: &SledLog) -> (Vec<RawCommit>, Vec<IndexEntry>, SpaceUsage) {
    let mut commits = Vec::new();
    let mut cursor = log.raw_from(Position::FIRST);
    while let Some(c) = cursor.next_raw().unwrap() {
        commits.push(c);
    }
    let mut entries = Vec::new();
    let mut cursor = log.index_entries();
    while let Some(e) = cursor.next_entry().unwrap() {
        entries.push(e);
    }
    (commits, entries, log.space_usage().unwrap())
}

#[tokio::test]
async fn a_compacted_copy_holds_the_same_log_and_takes_appends_on() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("log"), dir.path().join("compacted"));
    {
        let log = SledLog::open(&src).unwrap();
        for i in 0..40 {
            contract::append_next(&log, &format!("c{}", i % 7), &format!("cmd{i}"), 1 + i % 3)
                .await
                .unwrap();
        }
    }
    let from = open_released(&src, |d| SledLog::open_read_only(d));
    let compacted = from.compact_into(&dst).unwrap();
    assert!(
        !dir.path().join("compacted.partial").exists(),
        "written beside and moved into place"
    );
    let (commits, entries, usage) = stored(&from);
    // Opening a sled store writes a little (its recovery), so sizes on disk are not compared.
    let entries_only = |u: SpaceUsage| SpaceUsage { disk_bytes: 0, ..u };
    assert_eq!(
        entries_only(compacted.before),
        entries_only(usage),
        "the source is left as it was"
    );
    assert_eq!(
        (
            usage.commits.entries,
            usage.case_index.entries,
            usage.heads.entries
        ),
        (40, 40, 7)
    );
    assert_eq!(usage.commands.entries, 40);
    assert!(usage.disk_bytes > usage.entry_bytes());
    let copy = open_released(&dst, |d| SledLog::open_read_only(d));
    let (copied, copied_entries, copied_usage) = stored(&copy);
    drop(copy);
    assert_eq!(
        copied, commits,
        "the same stored commits at the same positions"
    );
    assert_eq!(copied_entries, entries, "the same index entries");
    assert_eq!(entries_only(copied_usage), entries_only(compacted.after));
    assert_eq!(copied_usage.entry_bytes(), usage.entry_bytes());

    let log = open_released(&dst, |d| SledLog::open(d));
    let again = contract::append_next(&log, "c0", "cmd0", 1).await.unwrap();
    assert!(again.duplicate && again.position == Position::FIRST);
    let next = contract::append_next(&log, "c0", "cmd-new", 1)
        .await
        .unwrap();
    assert_eq!(
        next.position.get(),
        41,
        "positions continue after the copy's head"
    );
    contract::assert_log_consistent(&log).await;
}

#[tokio::test]
async fn compacting_refuses_a_store_open_for_writing_and_a_used_destination() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("log"), dir.path().join("compacted"));
    let log = SledLog::open(&src).unwrap();
    contract::append_next(&log, "c", "one", 1).await.unwrap();
    assert!(matches!(
        log.compact_into(&dst),
        Err(LogError::Misconfigured(_))
    ));
    assert!(!dst.exists() && !dir.path().join("compacted.partial").exists());
    drop(log);
    let log = open_released(&src, |d| SledLog::open_read_only(d));
    std::fs::create_dir_all(&dst).unwrap();
    std::fs::write(dst.join("something"), b"x").unwrap();
    assert!(matches!(
        log.compact_into(&dst),
        Err(LogError::Misconfigured(_))
    ));
    assert_eq!(
        std::fs::read(dst.join("something")).unwrap(),
        b"x",
        "nothing was written into it"
    );
    // What an interrupted compaction leaves is not taken for a whole copy, nor overwritten.
    let other = dir.path().join("other");
    std::fs::create_dir_all(dir.path().join("other.partial")).unwrap();
    assert!(matches!(
        log.compact_into(&other),
        Err(LogError::Misconfigured(_))
    ));
    assert!(!other.exists());
}

/// The index check finds nothing when it was shown every commit; when one was not read, each
/// index entry naming its position is a finding, and so is its case's head, which ends where
/// no commit read ends.
#[tokio::test]
async fn the_index_check_agrees_with_a_whole_store_and_names_what_it_was_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    for i in 0..6 {
        contract::append_next(&log, &format!("c{}", i % 2), &format!("cmd{i}"), 2)
            .await
            .unwrap();
    }
    let (commits, _, _) = stored(&log);
    let findings = |skip: Option<Position>| {
        let mut check = IndexCheck::new();
        for raw in &commits {
            if Some(raw.position) != skip {
                check.commit(raw.position, &raw.clone().into_committed().unwrap());
            }
        }
        let mut found = Vec::new();
        check.run(&log, |f| found.push(f)).unwrap();
        found
    };
    assert!(findings(None).is_empty(), "{:?}", findings(None));

    // The last commit of case c1 (position 6, versions 5..=6) not read: both index entries
    // name a position with no commit read, and c1's head ends at 6 while what was read of c1
    // ends at version 4.
    let found = findings(Some(Position::new(6)));
    assert!(
        matches!(
            &found[..],
            [
                IndexFinding::CaseEntry { position: p1, holds: Holds::Nothing, version: 5, .. },
                IndexFinding::CommandEntry { position: p2, version: 6, .. },
                IndexFinding::Head {
                    position: p3,
                    problem: HeadProblem::EndsAt { version: 4, .. },
                    ..
                },
            ] if p1.get() == 6 && p2.get() == 6 && p3.get() == 6
        ),
        "{found:?}"
    );
}
