//! `gridcase-replay --nats`: the same answers from a JetStream log, read-only. Skipped when no
//! nats-server ≥ 2.11 is installed (unless `GRIDCASE_REQUIRE_NATS` is set: `scripts/test`).

mod common;

use common::*;
use gridcase_bus::testing::jetstream as js;
use gridcase_bus::testing::NatsServer;
use gridcase_bus::{NatsLog, NatsSettings};
use serde_json::Value;

fn nats_args<'a>(url: &'a str, stream: &'a str, prefix: &'a str) -> Vec<&'a str> {
    vec![
        "--nats",
        url,
        "--stream",
        stream,
        "--subject-prefix",
        prefix,
    ]
}

fn run(base: &[&str], args: &[&str]) -> std::process::Output {
    let mut all = base.to_vec();
    all.extend_from_slice(args);
    replay(&all)
}

#[test]
fn the_tool_reads_and_verifies_a_nats_log_without_writing() {
    let Some(server) = NatsServer::start_or_skip() else {
        return;
    };
    let url = server.url();
    let settings = NatsSettings {
        url: url.clone(),
        stream: "REPLAY".into(),
        subject_prefix: "replay.cases".into(),
        ..NatsSettings::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let log = rt.block_on(async {
        let log = NatsLog::connect(settings).await.unwrap();
        append_all(&log, tiny()).await;
        log
    });
    let base = nats_args(&url, "REPLAY", "replay.cases");
    let events: usize = tiny().iter().map(|g| g.events.len()).sum();

    let o = run(&base, &["verify"]);
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("PASS"), "{out}");
    assert!(
        out.contains(&format!("{} commits, {events} events", tiny().len())),
        "{out}"
    );
    assert!(out.contains("stream REPLAY at"), "{out}");

    // The server's configuration names the stream: no --nats needed, its data_dir unused.
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = conf_dir.path().join("gridcase.toml");
    std::fs::write(
        &conf,
        format!(
            "data_dir = \"/nonexistent\"\n[nats]\nurl = {url:?}\nstream = \"REPLAY\"\nsubject_prefix = \"replay.cases\"\nduplicate_window_secs = 600\n"
        ),
    )
    .unwrap();
    let o = replay(&["--config", conf.to_str().unwrap(), "verify"]);
    assert_exit(&o, 0);
    let from_config = stdout(&o);
    assert!(from_config.contains("PASS"), "{from_config}");
    assert!(from_config.contains("stream REPLAY at"), "{from_config}");
    assert!(
        from_config.contains(&format!("{} commits, {events} events", tiny().len())),
        "{from_config}"
    );

    let (case, commits) = case_with_commits(3);
    let o = run(&base, &["history", case.as_str(), "--format", "json"]);
    assert_exit(&o, 0);
    let h: Value = serde_json::from_slice(&o.stdout).unwrap();
    let n: usize = commits.iter().map(|g| g.events.len()).sum();
    assert_eq!(h["events"].as_array().unwrap().len(), n);
    assert_eq!(h["intact"], true);

    let o = run(&base, &["export", "--format", "jsonl"]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o).lines().count(), events);

    let o = run(
        &base,
        &[
            "stats",
            "--region",
            "330802100",
            "--period",
            "2025-Q2",
            "--as-of",
            "2025-12-31T00:00:00Z",
        ],
    );
    assert_exit(&o, 0);

    // Same answers as the embedded store.
    let data = tiny_data();
    // One Merkle tree: the stream and the embedded store keep the same bytes in one order, so
    // a tree head kept from either checks the other.
    let head = |o: std::process::Output| {
        assert_exit(&o, 0);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["tree_head"].as_str().unwrap().to_owned()
    };
    let nats_head = head(run(&base, &["verify", "--format", "json"]));
    let sled_head = head(replay_on(data.path(), &["verify", "--format", "json"]));
    assert_eq!(nats_head, sled_head);
    assert!(
        nats_head.starts_with(&format!("{}:", tiny().len())),
        "{nats_head}"
    );
    let o = replay_on(data.path(), &["history", case.as_str(), "--format", "json"]);
    let mut sled_h: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut nats_h = h.clone();
    for h in [&mut sled_h, &mut nats_h] {
        for e in h["events"].as_array_mut().unwrap() {
            e.as_object_mut().unwrap().remove("position");
        }
    }
    assert_eq!(sled_h, nats_h);

    // A stream that does not exist is an error, and is not created.
    let o = run(&nats_args(&url, "NOPE", "replay.cases"), &["verify"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("NOPE"), "{}", stderr(&o));
    rt.block_on(async {
        let conn = js::connect(&url).await.unwrap();
        assert!(
            js::last_seq(&conn.jetstream, "NOPE").await.is_err(),
            "not created"
        );
    });

    // A commit copied onto another case's subject is found.
    let other = tiny()
        .iter()
        .find(|g| g.case_id != case)
        .unwrap()
        .case_id
        .clone();
    rt.block_on(async {
        let conn = log.connection();
        let seq = tiny()
            .iter()
            .position(|g| g.case_id == case && g.expected_version > 0)
            .unwrap() as u64
            + 1;
        let m = js::message_at(&conn.jetstream, "REPLAY", seq)
            .await
            .unwrap()
            .unwrap();
        let subject = format!("{}.{other}", m.subject.rsplit_once('.').unwrap().0);
        // A JetStream publish returns once the stream has stored the copy.
        conn.jetstream
            .publish(subject, m.payload.clone().into())
            .await
            .unwrap()
            .await
            .unwrap();
        // And a damaged copy on the case's own subject: its checksum fails and its bytes do
        // not decode, so only the subject can name the case.
        let mut damaged = m.payload.clone();
        damaged.truncate(damaged.len() / 2);
        damaged[6] ^= 0xff;
        conn.jetstream
            .publish(m.subject.clone(), damaged.into())
            .await
            .unwrap()
            .await
            .unwrap();
    });
    let o = run(&base, &["verify"]);
    assert_exit(&o, 1);
    let out = stdout(&o);
    let line = line_with(&out, "[wrong_subject]");
    assert!(line.contains(&format!("case {case}, version 2")), "{out}");
    let line = line_with(&out, "[checksum]");
    assert!(
        line.contains(&format!("case {case}")),
        "named from its subject: {out}"
    );
    drop(server);
}

#[test]
fn the_tool_reads_a_stream_in_a_jetstream_domain_through_its_api_prefix() {
    let Some(server) = NatsServer::start_in_domain("hub") else {
        return;
    };
    let url = server.url();
    let settings = NatsSettings {
        url: url.clone(),
        stream: "DOMAIN".into(),
        subject_prefix: "domain.cases".into(),
        api_prefix: "$JS.hub.API".into(),
        ..NatsSettings::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let log = NatsLog::connect(settings).await.unwrap();
        append_all(&log, tiny()).await;
    });
    let mut base = nats_args(&url, "DOMAIN", "domain.cases");
    base.extend(["--api-prefix", "$JS.hub.API"]);
    let o = run(&base, &["verify"]);
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("PASS"), "{}", stdout(&o));
    // The prefix is what the tool talks to: another domain's has no stream to read.
    let mut elsewhere = nats_args(&url, "DOMAIN", "domain.cases");
    elsewhere.extend(["--api-prefix", "$JS.elsewhere.API"]);
    let o = run(&elsewhere, &["verify"]);
    assert_exit(&o, 2);
}
