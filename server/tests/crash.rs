//! Nothing a server acknowledged is lost when it is killed: a child process runs the server
//! on a data directory (the embedded file log, the personal data vault beside it) and reports
//! cases over HTTP from several clients at once, printing each case it got a 201 for; the
//! parent kills it with SIGKILL mid-load, twice over the same directory, then finds every
//! acknowledged case in the log and, through a server started again, with its summary
//! unsealed (so its key reached the vault too).

mod common;

use common::*;
use gridcase_bus::testing::AckingChild;
use gridcase_bus::{AnyLog, EventLog, Position};
use gridcase_server::serve::{self, Server};
use reqwest::StatusCode;
use serde_json::json;

const CHILD_ENV: &str = "GRIDCASE_SERVER_CRASH_DIR";
const ROUND_ENV: &str = "GRIDCASE_SERVER_CRASH_ROUND";
/// Reports acknowledged per round before the kill.
const PER_ROUND: usize = 300;

/// The child: runs only when re-invoked by `kill_mid_load`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let round = std::env::var(ROUND_ENV).unwrap();
    let cfg = walk_config(std::path::Path::new(&dir));
    let log = serve::open_log(&cfg).await.unwrap();
    let server = Server::start(&cfg, log, walk_regions(), &tokens())
        .await
        .unwrap();
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (client, base, round) = (client.clone(), base.clone(), round.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let mut report = report_body(G1);
                report["occurred_at"] = json!("2025-06-02T01:00:00Z");
                let r = client
                    .post(format!("{base}/api/v1/cases"))
                    .bearer_auth(GW1)
                    .header("Idempotency-Key", format!("crash-r{round}-w{w}-{i}"))
                    .json(&report)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::CREATED);
                let v: serde_json::Value = r.json().await.unwrap();
                println!("ACK {}", v["case_id"].as_str().unwrap());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Runs the child on `dir` until it has acknowledged [`PER_ROUND`] reports, kills it, and
/// returns every case it acknowledged.
fn kill_mid_load(dir: &std::path::Path, round: usize) -> Vec<String> {
    let round = round.to_string();
    let mut child = AckingChild::spawn(
        "server_crash_child",
        &[(CHILD_ENV, dir.as_os_str()), (ROUND_ENV, round.as_ref())],
    );
    child.wait_for_acks(PER_ROUND);
    child.kill()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_acknowledged_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked = Vec::new();
    for round in 0..2 {
        acked.extend(kill_mid_load(dir.path(), round));
    }

    let cfg = walk_config(dir.path());
    let log = serve::open_log(&cfg).await.unwrap();
    assert!(
        matches!(log, AnyLog::File(_)),
        "a new data directory gets the file log"
    );
    let stored: std::collections::HashSet<String> = log
        .read_from(Position::FIRST, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.case_id.to_string())
        .collect();
    let missing: Vec<&String> = acked.iter().filter(|c| !stored.contains(*c)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged reports lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );

    let server = Server::start(&cfg, log, walk_regions(), &tokens())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    for case in &acked {
        let r = client
            .get(format!("http://{}/api/v1/cases/{case}", server.addr))
            .bearer_auth(GW1)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{case}");
        let text = r.text().await.unwrap();
        assert!(
            text.contains(SUMMARY),
            "{case}: the summary unsealed: {text}"
        );
    }
    server.stop().await.unwrap();
}
