//! `gridcase compact`: a sled store of an earlier version is copied into the file log (the
//! same stored commits at the same positions, the original left as it was), and a data
//! directory already on the file log is left alone.

use std::process::Command;

use gridcase_bus::{AnyLog, EventLog, FileLog, LogError, Position, RawCommit, SledLog};
use gridcase_server::load::load;

/// Every stored commit of `log`, raw.
async fn raw_commits(log: &AnyLog) -> Vec<RawCommit> {
    let mut cursor = log.raw_from(Position::FIRST).await.unwrap();
    let mut out = Vec::new();
    while let Some(c) = cursor.next_raw().await.unwrap() {
        out.push(c);
    }
    out
}

fn compact(data: &std::path::Path, to: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gridcase"))
        .args(["compact", "--data"])
        .arg(data)
        .arg("--to")
        .arg(to)
        .env_remove("GRIDCASE_DATA_DIR")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Opens the sled store in `dir` read-only once this process's last handle has let go of its
/// lock (sled releases it from its own threads).
fn sled_read_only(dir: &std::path::Path) -> SledLog {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match SledLog::open_read_only(dir) {
            Err(LogError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::yield_now()
            }
            other => return other.unwrap(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sled_store_is_copied_into_the_file_log_and_a_file_log_is_left_alone() {
    let data = tempfile::tempdir().unwrap();
    {
        let log = AnyLog::Sled(SledLog::open(data.path().join("log")).unwrap());
        load(&log, "tiny", 3, false).await.unwrap();
    }
    let copy = tempfile::tempdir().unwrap();
    let to = copy.path().join("log");
    let (ok, out) = compact(data.path(), &to);
    assert!(ok, "{out}");
    assert!(out.contains("into the file log"), "{out}");
    assert!(FileLog::exists_in(&to));

    let original = AnyLog::Sled(sled_read_only(&data.path().join("log")));
    let copied = AnyLog::File(FileLog::open_read_only(&to).unwrap());
    let commits = raw_commits(&original).await;
    assert!(commits.len() > 100, "{}", commits.len());
    assert_eq!(raw_commits(&copied).await, commits);
    assert_eq!(copied.head().await.unwrap(), original.head().await.unwrap());
    drop((original, copied));

    // Swapped in as the operator is told to, the data directory is on the file log.
    let moved = copy.path().join("data");
    std::fs::create_dir(&moved).unwrap();
    std::fs::rename(&to, moved.join("log")).unwrap();
    let (ok, out) = compact(&moved, &copy.path().join("again"));
    assert!(ok, "{out}");
    assert!(out.contains("already the file log"), "{out}");
    assert!(!copy.path().join("again").exists());
}
