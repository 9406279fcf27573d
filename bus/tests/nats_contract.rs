//! The log contract against the NATS JetStream backend, plus NATS-specific behaviour:
//! connecting, tamper refusals, corrupt messages, idempotency beyond the last message, an
//! unavailable server.
//!
//! Each test starts its own nats-server (random port, temporary store). Without nats-server
//! installed they are skipped, unless `GRIDCASE_REQUIRE_NATS` is set (as `scripts/test`
//! does), which makes that a failure.

mod contract;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use gridcase_bus::testing::NatsServer;
use gridcase_bus::*;
use gridcase_domain::{CaseId, Hash};

/// Positions the damage tests expect, as patterns.
const P2: Position = Position::new(2);
const P4: Position = Position::new(4);

/// Fresh stream and subject prefix on each call, so tests sharing a server never meet.
fn settings(url: &str) -> NatsSettings {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    NatsSettings {
        url: url.to_owned(),
        stream: format!("T{n}"),
        subject_prefix: format!("t{n}.cases"),
        ..NatsSettings::default()
    }
}

async fn setup() -> Option<(NatsServer, NatsLog)> {
    let server = NatsServer::start_or_skip()?;
    let log = NatsLog::connect(settings(&server.url())).await.unwrap();
    Some((server, log))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_suite() {
    let Some(server) = NatsServer::start_or_skip() else {
        return;
    };
    let url = server.url();
    let started = std::time::Instant::now();
    contract::run_all(|| {
        let url = url.clone();
        async move {
            let log = NatsLog::connect(settings(&url)).await.unwrap();
            (log, Arc::new(()) as Arc<dyn std::any::Any + Send + Sync>)
        }
    })
    .await;
    eprintln!("NATS contract suite took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_any_log() {
    let Some((_server, log)) = setup().await else {
        return;
    };
    let log = AnyLog::from(log);
    let a = contract::append_next(&log, "any", "any-1", 2)
        .await
        .unwrap();
    assert_eq!((a.position.get(), a.version, a.duplicate), (1, 2, false));
    contract::assert_log_consistent(&log).await;
}

#[tokio::test]
async fn the_stream_refuses_deleting_and_purging_messages() {
    let Some((_server, log)) = setup().await else {
        return;
    };
    for i in 0..3 {
        contract::append_next(&log, "tamper", &format!("t{i}"), 1)
            .await
            .unwrap();
    }
    let ctx = &log.connection().jetstream;
    let stream = ctx.get_stream(&log.settings().stream).await.unwrap();
    let err = stream.delete_message(2).await.unwrap_err();
    assert!(err.to_string().contains("delete"), "{err}");
    assert!(stream.purge().await.is_err(), "purging the stream");
    assert!(
        stream
            .purge()
            .filter(format!("{}.>", log.settings().subject_prefix))
            .await
            .is_err(),
        "purging a subject"
    );
    assert!(
        stream.purge().sequence(3).await.is_err(),
        "purging up to a sequence"
    );
    // Nor can the protection be switched off: the server refuses to change deny_delete and
    // deny_purge on an existing stream.
    let mut config = stream.cached_info().config.clone();
    config.deny_delete = false;
    config.deny_purge = false;
    let refused = ctx.update_stream(config).await;
    let refused = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(refused.contains("deny message deletes"), "{refused}");
    let mut config = stream.cached_info().config.clone();
    config.deny_purge = false;
    let refused = ctx.update_stream(config).await;
    let refused = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(refused.contains("purge"), "{refused}");

    assert_eq!(log.head().await.unwrap().get(), 3);
    contract::assert_log_consistent(&log).await;
}

#[tokio::test]
async fn a_garbage_message_is_a_typed_corruption_naming_its_position_and_case() {
    let Some((_server, log)) = setup().await else {
        return;
    };
    contract::append_next(&log, "z", "z1", 1).await.unwrap();
    // Someone with publish rights writes garbage straight onto the case's subject.
    let subject = log.case_subject(&"330802".parse().unwrap(), &CaseId::new("z").unwrap());
    let ack = log
        .connection()
        .jetstream
        .publish(subject, b"\x00garbage\xff".to_vec().into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, 2);
    contract::append_next(&log, "other", "o1", 1).await.unwrap();

    let z = CaseId::new("z").unwrap();
    // The checksum fails, so the bytes say nothing: the case is named from the subject.
    assert!(matches!(
        log.read_case(&z).await,
        Err(LogError::Corrupt { position: P2, case: Some(c), .. }) if c == z
    ));
    assert!(matches!(
        log.read_from(Position::new(1), 10).await,
        Err(LogError::Corrupt { position: P2, case: Some(c), .. }) if c == z
    ));
    assert_eq!(
        log.read_from(Position::new(3), 10).await.unwrap()[0]
            .position
            .get(),
        3
    );
    // The subscription delivers what precedes it, then the error, then ends.
    let mut sub = log.subscribe(Position::new(1)).await.unwrap();
    assert_eq!(sub.next().await.unwrap().unwrap().position.get(), 1);
    assert!(matches!(
        sub.next().await,
        Some(Err(LogError::Corrupt { position: P2, .. }))
    ));
    assert!(sub.next().await.is_none());
    // Appending on top of it is refused with the same typed error; nothing is appended.
    let next = contract::commit("z", "z2", 1, Hash::ZERO, 1);
    assert!(matches!(
        log.append(next).await,
        Err(AppendError::Log(LogError::Corrupt { position: P2, .. }))
    ));
    assert_eq!(log.head().await.unwrap().get(), 3);

    // A well-formed commit of another case on this case's subject is corruption too.
    let stray = log.case_subject(&"330802".parse().unwrap(), &CaseId::new("y").unwrap());
    let ctx = &log.connection().jetstream;
    let good = log.read_from(Position::new(3), 1).await.unwrap();
    let raw = ctx
        .get_stream(&log.settings().stream)
        .await
        .unwrap()
        .get_raw_message(good[0].position.get())
        .await
        .unwrap();
    ctx.publish(stray, raw.payload)
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(matches!(
        log.read_from(Position::new(4), 1).await,
        Err(LogError::Corrupt { position: P4, case: Some(c), .. }) if c.as_str() == "y"
    ));
}

#[tokio::test]
async fn a_command_id_further_back_in_the_case_is_still_a_duplicate() {
    let Some((_server, log)) = setup().await else {
        return;
    };
    let first = contract::append_next(&log, "d", "d1", 2).await.unwrap();
    contract::append_next(&log, "d", "d2", 1).await.unwrap();
    // A retry decided against the state before it was applied: stale version, not the last
    // message — found in the case's history.
    let retry = contract::commit("d", "d1", 0, Hash::ZERO, 2);
    assert_eq!(
        log.append(retry).await.unwrap(),
        Appended {
            duplicate: true,
            ..first
        }
    );
    // A retry decided against the newest state: within the duplicate window the server knows
    // the id.
    let (v, h) = contract::case_head(&log, "d").await;
    let again = log
        .append(contract::commit("d", "d1", v, h, 1))
        .await
        .unwrap();
    assert_eq!(
        again,
        Appended {
            duplicate: true,
            ..first
        }
    );
    // A command id used on another case within the window returns that first result too,
    // as the embedded store does (the command path reports the reuse).
    let elsewhere = contract::commit("e", "d1", 0, Hash::ZERO, 1);
    assert_eq!(
        log.append(elsewhere).await.unwrap(),
        Appended {
            duplicate: true,
            ..first
        }
    );
    assert_eq!(log.head().await.unwrap().get(), 2);
}

#[tokio::test]
async fn a_commit_naming_another_partition_does_not_fork_the_case() {
    let Some((_server, log)) = setup().await else {
        return;
    };
    contract::append_next(&log, "p", "p1", 1).await.unwrap();
    let (v, h) = contract::case_head(&log, "p").await;
    let mut moved = contract::commit("p", "p2", v, h, 1);
    moved.partition = "330803".parse().unwrap();
    assert!(matches!(
        log.append(moved.clone()).await,
        Err(AppendError::Invalid(_))
    ));
    moved.expected_version = 0;
    assert!(matches!(
        log.append(moved).await,
        Err(AppendError::Conflict(Conflict {
            expected: 0,
            actual: 1
        }))
    ));
    assert_eq!(log.head().await.unwrap().get(), 1);
}

#[tokio::test]
async fn connecting_to_nothing_is_unavailable_and_a_stream_that_allows_deletes_is_misconfigured() {
    let Some(server) = NatsServer::start_or_skip() else {
        return;
    };
    let nowhere = NatsSettings {
        url: "nats://127.0.0.1:1".into(),
        ..NatsSettings::default()
    };
    match NatsLog::connect(nowhere).await {
        Err(LogError::Unavailable(m)) => assert!(m.to_string().contains("nats-server"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }

    let s = settings(&server.url());
    let client = async_nats::connect(server.url()).await.unwrap();
    async_nats::jetstream::new(client)
        .create_stream(async_nats::jetstream::stream::Config {
            name: s.stream.clone(),
            subjects: vec![format!("{}.>", s.subject_prefix)],
            ..Default::default()
        })
        .await
        .unwrap();
    match NatsLog::connect(s).await {
        Err(LogError::Misconfigured(m)) => assert!(m.to_string().contains("deny_delete"), "{m}"),
        other => panic!("expected Misconfigured, got {other:?}"),
    }

    let bad_prefix = NatsSettings {
        subject_prefix: "cases.>".into(),
        ..settings(&server.url())
    };
    assert!(matches!(
        NatsLog::connect(bad_prefix).await,
        Err(LogError::Misconfigured(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_is_unavailable_then_appends_resume_after_restart() {
    let Some((mut server, log)) = setup().await else {
        return;
    };
    contract::append_next(&log, "u", "u1", 1).await.unwrap();
    let mut sub = log.subscribe(Position::new(1)).await.unwrap();
    assert_eq!(sub.next().await.unwrap().unwrap().position.get(), 1);

    let (v, h) = contract::case_head(&log, "u").await;
    server.kill_hard();
    let started = std::time::Instant::now();
    let down = log.append(contract::commit("u", "u2", v, h, 1)).await;
    assert!(
        matches!(down, Err(AppendError::Log(LogError::Unavailable(_)))),
        "{down:?}"
    );
    assert!(matches!(log.head().await, Err(LogError::Unavailable(_))));
    // Reported promptly (HTTP 503), not after a long request timeout.
    let waited = started.elapsed();
    eprintln!("an append and a head against a dead server failed after {waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");

    server.restart();
    // The client reconnects by itself; the command goes through with the same id.
    let mut attempts = 0;
    let up = loop {
        attempts += 1;
        // The head is still the one read before the kill (the append above failed): no read
        // here, which could itself find the client not yet reconnected.
        match log.append(contract::commit("u", "u2", v, h, 1)).await {
            Ok(a) => break a,
            Err(AppendError::Log(LogError::Unavailable(_))) if attempts < 300 => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!((up.position.get(), up.version), (2, 2));
    // The subscription resumes without gap or duplicate.
    assert_eq!(sub.next().await.unwrap().unwrap().position.get(), 2);
    contract::assert_log_consistent(&log).await;
}
