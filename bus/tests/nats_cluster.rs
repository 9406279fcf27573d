//! A replicated stream on a three-node cluster: a direct get may be answered by a follower
//! that lags behind, so the log reads a case (and the case's last message) through the stream
//! leader — and still creates no consumer.

mod contract;

use std::time::{Duration, Instant};

use gridcase_bus::testing::jetstream as js;
use gridcase_bus::testing::NatsCluster;
use gridcase_bus::*;
use gridcase_domain::CaseId;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicated_stream_is_read_through_its_leader_without_consumers() {
    let Some(cluster) = NatsCluster::start_or_skip(3) else {
        return;
    };
    let settings = NatsSettings {
        url: cluster.url(1),
        stream: "REPLICATED".into(),
        subject_prefix: "replicated.cases".into(),
        ..NatsSettings::default()
    };
    // The operator creates the stream with three replicas (the log creates one replica).
    let stream = js::StreamSettings {
        name: settings.stream.clone(),
        subject_prefix: settings.subject_prefix.clone(),
        duplicate_window: settings.duplicate_window,
        replicas: 3,
    };
    let client = async_nats::connect(cluster.url(0)).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    // The cluster elects its JetStream leader after the nodes accept clients: until then
    // creating the stream fails, so it is retried (failing after a minute).
    let deadline = Instant::now() + Duration::from_secs(60);
    let config = loop {
        match js::ensure_stream(&jetstream, &stream).await {
            Ok(config) => break config,
            Err(e) if Instant::now() < deadline => {
                eprintln!("cluster not ready yet: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{e}\n{}", cluster.logs()),
        }
    };
    assert_eq!(config.num_replicas, 3);
    assert!(!js::direct_reads_are_current(&config));

    let log = NatsLog::connect(settings.clone()).await.unwrap();
    for (case, commits) in [("C-1", 3), ("C-2", 2)] {
        for i in 0..commits {
            contract::append_next(&log, case, &format!("{case}-{i}"), 2)
                .await
                .unwrap();
        }
    }
    let read = log.read_case(&CaseId::new("C-1").unwrap()).await.unwrap();
    let versions: Vec<u64> = read
        .iter()
        .flat_map(|c| c.events.iter().map(|e| e.header.case_version))
        .collect();
    assert_eq!(versions, (1..=6).collect::<Vec<_>>());
    let (version, _) = contract::case_head(&log, "C-2").await;
    assert_eq!(version, 4);
    // An append on top of what was read: the expected version held.
    contract::append_next(&log, "C-1", "C-1-3", 1)
        .await
        .unwrap();
    assert_eq!(contract::case_head(&log, "C-1").await.0, 7);
    assert_eq!(
        js::consumer_count(&jetstream, &settings.stream)
            .await
            .unwrap(),
        0,
        "reads of a replicated stream create no consumer"
    );
}
