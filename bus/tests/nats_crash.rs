//! Durability before acknowledgement on NATS, proven with SIGKILL: a child process appends
//! concurrently through [`NatsLog`] and prints every acknowledged command id; mid-load the
//! parent kills the nats-server with SIGKILL and then the child, restarts the server on the
//! same store, reconnects and finds every acknowledged commit, versions contiguous and chains
//! intact.
//!
//! Skipped without nats-server, unless `GRIDCASE_REQUIRE_NATS` is set.

mod contract;

use std::collections::HashSet;
use std::time::Instant;

use gridcase_bus::testing::NatsServer;
use gridcase_bus::*;

const CHILD_URL_ENV: &str = "GRIDCASE_NATS_CRASH_CHILD_URL";
/// Acknowledgements to see before pulling the plug.
const ACKS_BEFORE_KILL: usize = 1500;

fn settings(url: &str) -> NatsSettings {
    NatsSettings {
        url: url.to_owned(),
        stream: "CRASH".into(),
        subject_prefix: "crash.cases".into(),
        ..NatsSettings::default()
    }
}

/// The child: runs only when re-invoked by `sigkill_of_server_and_writer_loses_nothing_acknowledged`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_crash_child() {
    let Ok(url) = std::env::var(CHILD_URL_ENV) else {
        return;
    };
    let log = NatsLog::connect(settings(&url)).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..16 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let cmd = format!("w{w}-{i}");
                // Once the server is gone appends fail; the parent kills us anyway.
                if contract::append_next(&log, &format!("case-{w}"), &cmd, 1 + i % 3)
                    .await
                    .is_err()
                {
                    return;
                }
                println!("ACK {cmd}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Keep the process alive until the parent kills it.
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_server_and_writer_loses_nothing_acknowledged() {
    let Some(mut server) = NatsServer::start_or_skip() else {
        return;
    };
    // Create the stream before the child starts, as a deployment would.
    drop(NatsLog::connect(settings(&server.url())).await.unwrap());

    let started = Instant::now();
    let url = server.url();
    let mut child =
        testing::AckingChild::spawn("nats_crash_child", &[(CHILD_URL_ENV, url.as_ref())]);
    child.wait_for_acks(ACKS_BEFORE_KILL);
    let load_time = started.elapsed();
    // SIGKILL the server while the child is writing (no shutdown, no flush), then the child.
    server.kill_hard();
    let acked = child.kill();

    server.restart();
    let log = NatsLog::connect(settings(&server.url())).await.unwrap();
    let all = log.read_from(Position::new(1), usize::MAX).await.unwrap();
    let present: HashSet<String> = all.iter().map(|c| c.command_id.to_string()).collect();
    let missing: Vec<&String> = acked.iter().filter(|c| !present.contains(*c)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged commits lost, e.g. {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(all.len() >= acked.len());
    contract::assert_log_consistent(&log).await;
    // The log goes on where it stopped.
    let a = contract::append_next(&log, "after", "after-restart", 1)
        .await
        .unwrap();
    assert_eq!(a.position.get(), all.len() as u64 + 1);
    eprintln!(
        "{} acknowledged appends in {load_time:?} before the kill; {} commits after restart",
        acked.len(),
        all.len()
    );
}
