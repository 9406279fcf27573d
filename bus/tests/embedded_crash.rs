//! Acknowledgement after the write, on both embedded backends, proven with SIGKILL: a child
//! process appends concurrently and prints every acknowledged command id; the parent kills it
//! mid-load, reopens the store and finds every acknowledged commit. The file log is killed
//! several times over one store, so its reopening (cutting off what a kill left half
//! written) is exercised too. A kill keeps the page cache, so this proves that nothing is
//! acknowledged before it is written and that reopening loses nothing; the fsync before each
//! acknowledgement, which carries it past a power cut, cannot be proven by a kill.

mod contract;

use gridcase_bus::*;

const CHILD_ENV: &str = "GRIDCASE_CRASH_CHILD_DIR";
const BACKEND_ENV: &str = "GRIDCASE_CRASH_CHILD_BACKEND";

/// The embedded backend in `dir`, by name.
fn open_backend(backend: &str, dir: &std::path::Path) -> AnyLog {
    match backend {
        "sled" => SledLog::open(dir).unwrap().into(),
        "file" => FileLog::open(dir).unwrap().into(),
        other => panic!("unknown backend {other}"),
    }
}

/// The child: runs only when re-invoked by `kill_mid_load`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let backend = std::env::var(BACKEND_ENV).unwrap();
    let log = open_backend(&backend, std::path::Path::new(&dir));
    // Each run starts its commands after the ones already there (the store may have been
    // killed before), so each is a new command on its case.
    let round = log.head().await.unwrap().get();
    let mut tasks = Vec::new();
    for w in 0..16 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let cmd = format!("r{round}-w{w}-{i}");
                contract::append_next(&log, &format!("case-{w}"), &cmd, 1 + i % 3)
                    .await
                    .unwrap();
                println!("ACK {cmd}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Runs the child on `dir` until it has acknowledged `at_least` appends, kills it, and
/// returns every command id it acknowledged.
fn kill_mid_load(backend: &str, dir: &std::path::Path, at_least: usize) -> Vec<String> {
    let mut child = testing::AckingChild::spawn(
        "crash_child",
        &[
            (CHILD_ENV, dir.as_os_str()),
            (BACKEND_ENV, backend.as_ref()),
        ],
    );
    child.wait_for_acks(at_least);
    child.kill()
}

/// Kills the child `rounds` times on one store, then checks that every acknowledged commit
/// is there and the log is whole.
async fn sigkill_rounds(backend: &str, rounds: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut acked = Vec::new();
    for _ in 0..rounds {
        acked.extend(kill_mid_load(backend, dir.path(), 2000));
    }
    let log = open_backend(backend, dir.path());
    let all = log.read_from(Position::FIRST, usize::MAX).await.unwrap();
    let present: std::collections::HashSet<String> =
        all.iter().map(|c| c.command_id.to_string()).collect();
    let missing: Vec<&String> = acked.iter().filter(|c| !present.contains(*c)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged commits lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(all.len() >= acked.len());
    contract::assert_log_consistent(&log).await;
}

#[tokio::test]
async fn sigkill_loses_nothing_acknowledged_sled() {
    sigkill_rounds("sled", 1).await;
}

#[tokio::test]
async fn sigkill_loses_nothing_acknowledged_file() {
    sigkill_rounds("file", 3).await;
}
