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
