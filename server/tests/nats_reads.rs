//! Many case reads on one NATS stream leave no consumers behind: 5,000 case reads (timelines,
//! and commands on cases the command path has not cached) within a few seconds, then the
//! server restarts and the replay tool verifies and exports the stream — with no "maximum
//! consumers limit reached" (nats-server 2.15 refuses the 1,001st consumer of a stream) and
//! no 503.

mod common;

use std::sync::Arc;

use common::*;
use futures::StreamExt;
use gridcase_bus::testing::{jetstream as js, NatsServer};
use gridcase_domain::RegionTree;
use gridcase_server::config::{Config, NatsConfig};
use gridcase_server::serve::{self, Server};
use serde_json::{json, Value};

fn regions() -> Arc<RegionTree> {
    let mut t = gridcase_regions::bundled_divisions().clone();
    for g in [G1, G2] {
        t.add_grid(code(g), None).unwrap();
    }
    Arc::new(t)
}

/// When the reported matters happened: an hour ago (commands happen now, on the engine's
/// clock, which the domain checks against).
fn an_hour_ago() -> String {
    gridcase_domain::Timestamp::now()
        .plus_millis(-3_600_000)
        .to_string()
}

const CASES: usize = 50;
const READS: usize = 5_000;
const AT_ONCE: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_case_reads_then_a_restart_and_the_replay_tool_on_the_same_stream() {
    let Some(nats) = NatsServer::start_or_skip() else {
        return;
    };
    eprintln!("nats-server {}", nats.version());
    let dir = tempfile::tempdir().unwrap();
    // The personal data vault lives in the stream's server, its master key outside the data
    // directory: the restart below on a fresh data directory must name the same key.
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("vault.key");
    gridcase_vault::master::write_key_file(
        &key_file,
        &gridcase_vault::MasterKey::generate().unwrap(),
    )
    .unwrap();
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        nats: Some(NatsConfig {
            url: nats.url(),
            ..NatsConfig::default()
        }),
        // Every command on another case misses the command path's cache and reads the case
        // from the log.
        cache_cases: 1,
        ..Config::default()
    };
    cfg.vault.key_file = Some(key_file);
    let log = serve::open_log(&cfg).await.unwrap();
    let server = Server::start(&cfg, log, regions(), &tokens())
        .await
        .unwrap();
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();

    let mut ids = Vec::new();
    for i in 0..CASES {
        let r = client
            .post(format!("{base}/api/v1/cases"))
            .bearer_auth(GW1)
            .header("Idempotency-Key", format!("read-test-{i}"))
            .json(&json!({
                "kind": "dispute", "category": "neighbours", "source": "grid_patrol",
                "severity": "normal", "location": G1, "summary": format!("纠纷 {i}"),
                "happened_at": an_hour_ago()
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        ids.push(v["case_id"].as_str().unwrap().to_owned());
    }

    // 5,000 reads of a case from the log, 32 at a time: four timelines for every command.
    let statuses: Vec<u16> = futures::stream::iter(0..READS)
        .map(|i| {
            let client = client.clone();
            let case = ids[i % CASES].clone();
            let base = base.clone();
            async move {
                let r = if i % 5 == 4 {
                    client
                        .post(format!("{base}/api/v1/cases/{case}/add_note"))
                        .bearer_auth(GW1)
                        .header("Idempotency-Key", format!("note-{i}"))
                        .json(&json!({ "text": format!("巡查记录 {i}") }))
                        .send()
                        .await
                } else {
                    client
                        .get(format!("{base}/api/v1/cases/{case}/timeline"))
                        .bearer_auth(AUD)
                        .send()
                        .await
                };
                r.unwrap().status().as_u16()
            }
        })
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    let failed: Vec<&u16> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {READS} reads failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(10)]
    );

    let conn = js::connect(&nats.url()).await.unwrap();
    // Only the projection runner's live subscription holds a consumer.
    let consumers = js::consumer_count(&conn.jetstream, "GRIDCASE")
        .await
        .unwrap();
    assert!(
        consumers <= 1,
        "{consumers} consumers after {READS} case reads"
    );

    server.stop().await.unwrap();
    // A restart on an empty data directory catches the whole projection up from the stream.
    let fresh = tempfile::tempdir().unwrap();
    let cfg = Config {
        data_dir: fresh.path().to_owned(),
        ..cfg
    };
    let log = serve::open_log(&cfg).await.unwrap();
    let server = Server::start(&cfg, log, regions(), &tokens())
        .await
        .expect("the server restarts against the same stream");
    let r = client
        .get(format!("http://{}/api/v1/cases/{}", server.addr, ids[0]))
        .bearer_auth(AUD)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The replay tool reads the same stream: every chain verifies, every event exports.
    let url = nats.url();
    for args in [vec!["verify"], vec!["export", "--format", "jsonl"]] {
        let mut cli = vec!["gridcase-replay", "--no-progress", "--nats", url.as_str()];
        cli.extend(args.iter().copied());
        let parsed = <gridcase_replay_tool::Cli as clap::Parser>::try_parse_from(&cli).unwrap();
        let mut out = Vec::new();
        let status = gridcase_replay_tool::execute(parsed, &mut out)
            .await
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert_eq!(
            status,
            gridcase_replay_tool::Status::Ok,
            "{args:?}: {}",
            String::from_utf8_lossy(&out)
        );
        if args[0] == "export" {
            let lines = out.iter().filter(|b| **b == b'\n').count();
            assert_eq!(lines, CASES + READS / 5, "one line per event");
        }
    }
    let consumers = js::consumer_count(&conn.jetstream, "GRIDCASE")
        .await
        .unwrap();
    assert!(
        consumers <= 1,
        "{consumers} consumers after the replay tool ran"
    );
    server.stop().await.unwrap();
}
