//! Durability before acknowledgement, proven with SIGKILL: a child process appends
//! concurrently and prints every acknowledged command id; the parent kills it mid-load,
//! reopens the store and finds every acknowledged commit.

mod contract;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use gridcase_bus::*;

const CHILD_ENV: &str = "GRIDCASE_CRASH_CHILD_DIR";

/// The child: runs only when re-invoked by `sigkill_loses_nothing_acknowledged`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let log = SledLog::open(&dir).unwrap();
    let mut tasks = Vec::new();
    for w in 0..16 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let cmd = format!("w{w}-{i}");
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

#[tokio::test]
async fn sigkill_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while acked.len() < 2000 {
        let line = lines.next().expect("child exited early").unwrap();
        if let Some(cmd) = line.strip_prefix("ACK ") {
            acked.push(cmd.to_owned());
        }
    }
    // SIGKILL: no destructors, no flush on exit.
    child.kill().unwrap();
    child.wait().unwrap();
    // Acks printed between our last read and the kill are in the pipe: count them too.
    for line in lines.map_while(Result::ok) {
        if let Some(cmd) = line.strip_prefix("ACK ") {
            acked.push(cmd.to_owned());
        }
    }

    let log = SledLog::open(dir.path()).unwrap();
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
