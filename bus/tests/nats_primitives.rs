//! The JetStream primitives against a real nats-server (random port, temporary store).
//!
//! Each test starts its own server. Without nats-server installed they are skipped, unless
//! `GRIDCASE_REQUIRE_NATS` is set (as `scripts/test` does), which makes that a failure.

use std::time::Duration;

use async_nats::jetstream::stream::{Config as StreamConfig, StorageType};
use async_nats::HeaderMap;
use futures::StreamExt;
use gridcase_bus::testing::jetstream::{
    self as js, Connection, NatsError, PublishError, RawMsg, StreamSettings,
};
use gridcase_bus::testing::NatsServer;

fn settings() -> StreamSettings {
    StreamSettings {
        name: "CASES".into(),
        subject_prefix: "cases".into(),
        duplicate_window: Duration::from_secs(120),
        replicas: 1,
    }
}

/// A server, a connection to it, and the stream from [`settings`].
async fn setup() -> Option<(NatsServer, Connection)> {
    let server = NatsServer::start_or_skip()?;
    let conn = js::connect(&server.url()).await.unwrap();
    js::ensure_stream(&conn.jetstream, &settings())
        .await
        .unwrap();
    Some((server, conn))
}

async fn publish(
    conn: &Connection,
    subject: &str,
    payload: &str,
    id: &str,
    expected: u64,
) -> js::Published {
    js::publish_expected(
        &conn.jetstream,
        subject,
        HeaderMap::new(),
        payload.as_bytes().to_vec(),
        id,
        expected,
    )
    .await
    .unwrap()
}

fn payloads(messages: &[RawMsg]) -> Vec<String> {
    messages
        .iter()
        .map(|m| String::from_utf8(m.payload.clone()).unwrap())
        .collect()
}

#[tokio::test]
async fn connect_reports_a_supported_server_version() {
    let Some(server) = NatsServer::start_or_skip() else {
        return;
    };
    let conn = js::connect(&server.url()).await.unwrap();
    assert!(conn.server_version.is_supported());
    assert_eq!(conn.server_version, server.version());
}

#[tokio::test]
async fn ensure_stream_is_idempotent() {
    let Some((_server, conn)) = setup().await else {
        return;
    };
    js::ensure_stream(&conn.jetstream, &settings())
        .await
        .unwrap();
    js::ensure_stream(&conn.jetstream, &settings())
        .await
        .unwrap();

    let info = conn.jetstream.get_stream("CASES").await.unwrap();
    let config = &info.cached_info().config;
    assert_eq!(config.subjects, ["cases.>"]);
    assert_eq!(config.storage, StorageType::File);
    assert!(config.deny_delete && config.deny_purge && config.allow_direct);
}

#[tokio::test]
async fn ensure_stream_refuses_a_stream_that_allows_deletes() {
    let Some(server) = NatsServer::start_or_skip() else {
        return;
    };
    let conn = js::connect(&server.url()).await.unwrap();
    conn.jetstream
        .create_stream(StreamConfig {
            deny_delete: false,
            ..settings().to_config()
        })
        .await
        .unwrap();

    let err = js::ensure_stream(&conn.jetstream, &settings())
        .await
        .unwrap_err();
    match &err {
        NatsError::StreamMisconfigured {
            stream, setting, ..
        } => {
            assert_eq!(stream, "CASES");
            assert_eq!(*setting, "deny_delete");
        }
        other => panic!("expected StreamMisconfigured, got {other:?}"),
    }
    assert!(err.to_string().contains("deny_delete"), "{err}");
}

#[tokio::test]
async fn ensure_stream_refuses_a_stream_with_limits() {
    let Some(server) = NatsServer::start_or_skip() else {
        return;
    };
    let conn = js::connect(&server.url()).await.unwrap();
    conn.jetstream
        .create_stream(StreamConfig {
            max_messages: 1000,
            ..settings().to_config()
        })
        .await
        .unwrap();

    let err = js::ensure_stream(&conn.jetstream, &settings())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            NatsError::StreamMisconfigured {
                setting: "max_msgs",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn expected_sequence_conflict_appends_nothing() {
    let Some((_server, conn)) = setup().await else {
        return;
    };
    let first = publish(&conn, "cases.a", "a1", "id-1", 0).await;
    assert_eq!(
        first,
        js::Published {
            stream_seq: 1,
            duplicate: false
        }
    );
    // Another subject has its own sequence: 0 is right for it.
    let other = publish(&conn, "cases.b", "b1", "id-2", 0).await;
    assert_eq!(other.stream_seq, 2);

    // A second writer that also believed cases.a empty loses.
    let err = js::publish_expected(
        &conn.jetstream,
        "cases.a",
        HeaderMap::new(),
        b"a1-late".to_vec(),
        "id-3",
        0,
    )
    .await
    .unwrap_err();
    match err {
        PublishError::WrongLastSequence {
            subject,
            expected,
            actual,
        } => {
            assert_eq!(subject, "cases.a");
            assert_eq!(expected, 0);
            assert_eq!(actual, Some(1));
        }
        other => panic!("expected WrongLastSequence, got {other:?}"),
    }
    // A stale expectation after the subject moved on loses too.
    let second = publish(&conn, "cases.a", "a2", "id-4", 1).await;
    assert_eq!(second.stream_seq, 3);
    let err = js::publish_expected(
        &conn.jetstream,
        "cases.a",
        HeaderMap::new(),
        b"a2-late".to_vec(),
        "id-5",
        1,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            PublishError::WrongLastSequence {
                expected: 1,
                actual: Some(3),
                ..
            }
        ),
        "{err:?}"
    );

    assert_eq!(js::last_seq(&conn.jetstream, "CASES").await.unwrap(), 3);
    let a = js::read_subject(&conn, "CASES", "cases.a", true)
        .await
        .unwrap();
    assert_eq!(payloads(&a), ["a1", "a2"]);
}

#[tokio::test]
async fn duplicate_message_id_returns_the_first_sequence_and_appends_nothing() {
    let Some((_server, conn)) = setup().await else {
        return;
    };
    let first = publish(&conn, "cases.a", "once", "cmd-1", 0).await;
    assert!(!first.duplicate);
    // The same message again — as a client retrying after a lost acknowledgement would.
    let again = publish(&conn, "cases.a", "once", "cmd-1", 0).await;
    assert_eq!(
        again,
        js::Published {
            stream_seq: first.stream_seq,
            duplicate: true
        }
    );

    assert_eq!(js::last_seq(&conn.jetstream, "CASES").await.unwrap(), 1);
    let a = js::read_subject(&conn, "CASES", "cases.a", true)
        .await
        .unwrap();
    assert_eq!(payloads(&a), ["once"]);
}

#[tokio::test]
async fn publishing_outside_the_stream_is_a_typed_error() {
    let Some((_server, conn)) = setup().await else {
        return;
    };
    let err = js::publish_expected(
        &conn.jetstream,
        "elsewhere.a",
        HeaderMap::new(),
        b"x".to_vec(),
        "id",
        0,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PublishError::NoStream { .. }), "{err:?}");
}

#[tokio::test]
async fn reads_one_subject_in_order_with_headers() {
    let Some((_server, conn)) = setup().await else {
        return;
    };
    assert!(js::read_subject(&conn, "CASES", "cases.a", true)
        .await
        .unwrap()
        .is_empty());
    assert!(js::last_on_subject(&conn.jetstream, "CASES", "cases.a")
        .await
        .unwrap()
        .is_none());

    let mut last_a = 0;
    let mut last_b = 0;
    for i in 1..=20 {
        let (subject, last) = if i % 3 == 0 {
            ("cases.b", &mut last_b)
        } else {
            ("cases.a", &mut last_a)
        };
        let mut headers = HeaderMap::new();
        headers.insert("Gridcase-Version", i.to_string().as_str());
        let published = js::publish_expected(
            &conn.jetstream,
            subject,
            headers,
            format!("{subject}-{i}").into_bytes(),
            &format!("id-{i}"),
            *last,
        )
        .await
        .unwrap();
        *last = published.stream_seq;
    }

    let a = js::read_subject(&conn, "CASES", "cases.a", true)
        .await
        .unwrap();
    let expected: Vec<u64> = (1..=20).filter(|i| i % 3 != 0).collect();
    assert_eq!(a.iter().map(|m| m.seq).collect::<Vec<_>>(), expected);
    assert!(a.iter().all(|m| m.subject == "cases.a"));
    // What replicated streams use, asking the stream leader message by message, reads the same.
    let by_leader = js::read_subject(&conn, "CASES", "cases.a", false)
        .await
        .unwrap();
    let essence = |ms: &[RawMsg]| -> Vec<(u64, String, Vec<u8>)> {
        ms.iter()
            .map(|m| (m.seq, m.subject.clone(), m.payload.clone()))
            .collect()
    };
    assert_eq!(essence(&by_leader), essence(&a));
    // A small batch says how many more match; the read goes on from there.
    let first = js::direct_batch(&conn, "CASES", "cases.a", 1, 3)
        .await
        .unwrap();
    assert_eq!(
        first.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        expected[..3]
    );
    assert_eq!(first.pending, (expected.len() - 3) as u64);
    let rest = js::direct_batch(&conn, "CASES", "cases.a", expected[2] + 1, 100)
        .await
        .unwrap();
    assert_eq!(rest.pending, 0);
    assert_eq!(rest.messages.len(), expected.len() - 3);
    // A range of the whole stream, across subjects, in pages.
    let range = js::read_range(&conn, "CASES", "cases.>", 5, 7)
        .await
        .unwrap();
    assert_eq!(
        range.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (5..=11).collect::<Vec<_>>()
    );
    let tail = js::read_range(&conn, "CASES", "cases.>", 18, 100)
        .await
        .unwrap();
    assert_eq!(
        tail.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![18, 19, 20]
    );
    // None of these reads created a consumer.
    assert_eq!(
        js::consumer_count(&conn.jetstream, "CASES").await.unwrap(),
        0
    );
    assert_eq!(
        payloads(&a),
        expected
            .iter()
            .map(|i| format!("cases.a-{i}"))
            .collect::<Vec<_>>()
    );
    let versions: Vec<String> = a
        .iter()
        .map(|m| m.headers.get("Gridcase-Version").unwrap().to_string())
        .collect();
    assert_eq!(
        versions,
        expected.iter().map(u64::to_string).collect::<Vec<_>>()
    );
    assert_eq!(
        a[0].headers.get("Nats-Msg-Id").map(|v| v.to_string()),
        Some("id-1".to_owned())
    );

    let last_b_msg = js::last_on_subject(&conn.jetstream, "CASES", "cases.b")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last_b_msg.seq, 18);
    assert_eq!(last_b_msg.payload, b"cases.b-18");
    assert_eq!(
        last_b_msg
            .headers
            .get("Gridcase-Version")
            .map(|v| v.to_string()),
        Some("18".to_owned())
    );
}

#[tokio::test]
async fn read_from_returns_the_rest_of_the_stream_and_ends() {
    let Some((_server, conn)) = setup().await else {
        return;
    };
    let empty: Vec<_> = js::read_from(&conn.jetstream, "CASES", 1)
        .await
        .unwrap()
        .collect()
        .await;
    assert!(empty.is_empty());

    for i in 1..=10 {
        publish(
            &conn,
            &format!("cases.c{i}"),
            &i.to_string(),
            &format!("id-{i}"),
            0,
        )
        .await;
    }
    let seqs = |items: Vec<Result<RawMsg, NatsError>>| -> Vec<u64> {
        items.into_iter().map(|m| m.unwrap().seq).collect()
    };
    let all = js::read_from(&conn.jetstream, "CASES", 0)
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(seqs(all), (1..=10).collect::<Vec<_>>());
    let tail = js::read_from(&conn.jetstream, "CASES", 4)
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(seqs(tail), (4..=10).collect::<Vec<_>>());
    let beyond = js::read_from(&conn.jetstream, "CASES", 11)
        .await
        .unwrap()
        .collect()
        .await;
    assert!(seqs(beyond).is_empty());
}

#[tokio::test]
async fn subscribe_catches_up_then_delivers_live_messages_exactly_once() {
    let Some((_server, conn)) = setup().await else {
        return;
    };
    for i in 1..=5 {
        publish(
            &conn,
            &format!("cases.c{i}"),
            &format!("old-{i}"),
            &format!("old-{i}"),
            0,
        )
        .await;
    }
    let mut from_start = js::subscribe_from(&conn.jetstream, "CASES", 1)
        .await
        .unwrap();
    let mut from_third = js::subscribe_from(&conn.jetstream, "CASES", 3)
        .await
        .unwrap();

    // Live messages, published while the subscriptions are still catching up.
    let publisher = {
        let conn = conn.clone();
        tokio::spawn(async move {
            for i in 6..=30 {
                let subject = format!("cases.c{i}");
                publish(&conn, &subject, &format!("new-{i}"), &format!("new-{i}"), 0).await;
            }
        })
    };

    let mut seen = Vec::new();
    while seen.len() < 30 {
        seen.push(from_start.next().await.unwrap().unwrap().seq);
    }
    assert_eq!(seen, (1..=30).collect::<Vec<_>>());
    let mut seen = Vec::new();
    while seen.len() < 28 {
        seen.push(from_third.next().await.unwrap().unwrap().seq);
    }
    assert_eq!(seen, (3..=30).collect::<Vec<_>>());
    publisher.await.unwrap();

    // Nothing is delivered twice: the next message each one sees is the next one stored.
    let next = publish(&conn, "cases.sentinel", "sentinel", "sentinel", 0).await;
    assert_eq!(
        from_start.next().await.unwrap().unwrap().seq,
        next.stream_seq
    );
    assert_eq!(
        from_third.next().await.unwrap().unwrap().seq,
        next.stream_seq
    );
}

#[tokio::test]
async fn acknowledged_messages_survive_kill_and_restart() {
    let Some((mut server, conn)) = setup().await else {
        return;
    };
    let first = publish(&conn, "cases.a", "before", "id-1", 0).await;
    drop(conn);

    server.kill_hard();
    server.restart();

    let conn = js::connect(&server.url()).await.unwrap();
    js::ensure_stream(&conn.jetstream, &settings())
        .await
        .unwrap();
    let a = js::read_subject(&conn, "CASES", "cases.a", true)
        .await
        .unwrap();
    assert_eq!(payloads(&a), ["before"]);
    // The per-subject sequence and the duplicate window carry on after the restart.
    let again = publish(&conn, "cases.a", "before", "id-1", 0).await;
    assert_eq!(
        again,
        js::Published {
            stream_seq: first.stream_seq,
            duplicate: true
        }
    );
    publish(&conn, "cases.a", "after", "id-2", first.stream_seq).await;
}

#[tokio::test]
async fn racing_writers_with_the_same_expected_sequence_exactly_one_wins() {
    let Some((_server, conn)) = setup().await else {
        return;
    };
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let ctx = conn.jetstream.clone();
            tokio::spawn(async move {
                js::publish_expected(
                    &ctx,
                    "cases.race",
                    HeaderMap::new(),
                    format!("writer-{i}").into_bytes(),
                    &format!("writer-{i}"),
                    0,
                )
                .await
            })
        })
        .collect();
    let mut won = Vec::new();
    let mut lost = Vec::new();
    for writer in writers {
        match writer.await.unwrap() {
            Ok(published) => won.push(published),
            Err(PublishError::WrongLastSequence { actual, .. }) => lost.push(actual),
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(won.len(), 1, "{won:?}");
    assert!(!won[0].duplicate);
    assert_eq!(lost, vec![Some(won[0].stream_seq); 7]);
    let race = js::read_subject(&conn, "CASES", "cases.race", true)
        .await
        .unwrap();
    assert_eq!(race.len(), 1);
}

#[tokio::test]
async fn concurrent_copies_of_one_message_are_stored_once() {
    let Some((_server, conn)) = setup().await else {
        return;
    };
    let copies: Vec<_> = (0..4)
        .map(|_| {
            let ctx = conn.jetstream.clone();
            tokio::spawn(async move {
                js::publish_expected(
                    &ctx,
                    "cases.a",
                    HeaderMap::new(),
                    b"cmd".to_vec(),
                    "cmd-1",
                    0,
                )
                .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for copy in copies {
        results.push(copy.await.unwrap().unwrap());
    }
    assert!(results.iter().all(|p| p.stream_seq == 1), "{results:?}");
    assert_eq!(
        results.iter().filter(|p| !p.duplicate).count(),
        1,
        "{results:?}"
    );
    assert_eq!(js::last_seq(&conn.jetstream, "CASES").await.unwrap(), 1);
}

#[tokio::test]
async fn a_stored_message_resent_after_others_followed_appends_nothing() {
    // The limit of duplicate detection under an expected sequence differs between server
    // versions: 2.11 checks the message id first and answers "duplicate" (the first copy's
    // sequence); 2.14 and later check the expected sequence first and answer a conflict, as
    // only the subject's last message is compared for our own copy. Either way nothing is
    // appended, and the command path covers the conflict with its own record of applied
    // command ids.
    let Some((_server, conn)) = setup().await else {
        return;
    };
    publish(&conn, "cases.a", "first", "cmd-1", 0).await;
    publish(&conn, "cases.a", "second", "cmd-2", 1).await;
    let outcome = js::publish_expected(
        &conn.jetstream,
        "cases.a",
        HeaderMap::new(),
        b"first".to_vec(),
        "cmd-1",
        0,
    )
    .await;
    match outcome {
        Ok(p) => assert_eq!(
            p,
            js::Published {
                stream_seq: 1,
                duplicate: true
            }
        ),
        Err(err) => assert!(
            matches!(
                err,
                PublishError::WrongLastSequence {
                    expected: 0,
                    actual: Some(2),
                    ..
                }
            ),
            "{err:?}"
        ),
    }
    assert_eq!(js::last_seq(&conn.jetstream, "CASES").await.unwrap(), 2);
}

#[tokio::test]
async fn subscription_continues_without_gap_or_duplicate_across_a_server_restart() {
    let Some((mut server, conn)) = setup().await else {
        return;
    };
    for i in 1..=3 {
        publish(
            &conn,
            &format!("cases.c{i}"),
            "before",
            &format!("before-{i}"),
            0,
        )
        .await;
    }
    let mut sub = js::subscribe_from(&conn.jetstream, "CASES", 1)
        .await
        .unwrap();
    for seq in 1..=3 {
        assert_eq!(sub.next().await.unwrap().unwrap().seq, seq);
    }

    server.kill_hard();
    server.restart();

    // The client reconnects by itself; publish_expected retries while it does.
    for i in 4..=6 {
        publish(
            &conn,
            &format!("cases.c{i}"),
            "after",
            &format!("after-{i}"),
            0,
        )
        .await;
    }
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match sub.next().await.unwrap() {
            Ok(message) => seen.push(message.seq),
            // Transient errors while the consumer is recreated are reported, then it goes on.
            Err(err) => eprintln!("subscription error (continuing): {err}"),
        }
    }
    assert_eq!(seen, [4, 5, 6]);
}
