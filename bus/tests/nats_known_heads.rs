//! `NatsLog` remembers the heads of the cases it appended or read, so an append needs no read
//! first. These tests check that what it remembers is only ever a hint: another writer (a
//! second process, here a second connection with its own memory) makes the server refuse the
//! stale expectation, and the append then ends exactly as one without the hint would.

mod contract;

use std::sync::atomic::{AtomicUsize, Ordering};

use gridcase_bus::testing::NatsServer;
use gridcase_bus::*;
use gridcase_domain::CaseId;

fn settings(url: &str) -> NatsSettings {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    NatsSettings {
        url: url.to_owned(),
        stream: format!("K{n}"),
        subject_prefix: format!("k{n}.cases"),
        ..NatsSettings::default()
    }
}

/// Two logs on one stream, each with its own memory of heads.
async fn two_writers() -> Option<(NatsServer, NatsLog, NatsLog)> {
    let server = NatsServer::start_or_skip()?;
    let s = settings(&server.url());
    let a = NatsLog::connect(s.clone()).await.unwrap();
    let b = NatsLog::connect(s).await.unwrap();
    Some((server, a, b))
}

#[tokio::test]
async fn a_stale_known_head_is_a_conflict() {
    let Some((_server, a, b)) = two_writers().await else {
        return;
    };
    let first = contract::append_next(&a, "c", "a-1", 1).await.unwrap();
    let (v1, h1) = contract::case_head(&a, "c").await;
    assert_eq!((first.version, v1), (1, 1));
    // `a` appends again without reading, trusting what it knows...
    let two = contract::commit("c", "a-2", 1, h1, 1);
    let h2 = two.events.last().unwrap().hash;
    let second = a.append(two).await.unwrap();
    assert_eq!((second.version, second.duplicate), (2, false));
    // ...until `b` appends behind its back: `a` still believes the case is at version 2.
    contract::append_next(&b, "c", "b-3", 2).await.unwrap();
    match a.append(contract::commit("c", "a-x", 2, h2, 1)).await {
        Err(AppendError::Conflict(c)) => assert_eq!((c.expected, c.actual), (2, 4)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Reading again, `a` appends on top of `b`'s commit.
    let next = contract::append_next(&a, "c", "a-5", 1).await.unwrap();
    assert_eq!((next.version, next.duplicate), (5, false));
    contract::assert_log_consistent(&a).await;
}

#[tokio::test]
async fn a_retry_behind_another_writer_is_still_the_first_result() {
    let Some((_server, a, b)) = two_writers().await else {
        return;
    };
    let commit = contract::commit("r", "a-1", 0, gridcase_domain::Hash::ZERO, 1);
    let first = a.append(commit.clone()).await.unwrap();
    contract::append_next(&b, "r", "b-2", 1).await.unwrap();
    let again = a.append(commit).await.unwrap();
    assert_eq!(
        (again.position.get(), again.version, again.duplicate),
        (first.position.get(), first.version, true)
    );
    assert_eq!(contract::case_head(&a, "r").await.0, 2);
}

#[tokio::test]
async fn a_case_seen_new_is_checked_again_by_the_server() {
    let Some((_server, a, b)) = two_writers().await else {
        return;
    };
    // `a` reads the case: it has no message yet.
    assert!(a
        .read_case(&CaseId::new("n").unwrap())
        .await
        .unwrap()
        .is_empty());
    // `b` creates it before `a` appends.
    contract::append_next(&b, "n", "b-1", 1).await.unwrap();
    let late = a
        .append(contract::commit(
            "n",
            "a-1",
            0,
            gridcase_domain::Hash::ZERO,
            1,
        ))
        .await;
    match late {
        Err(AppendError::Conflict(c)) => assert_eq!((c.expected, c.actual), (0, 1)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    contract::assert_log_consistent(&a).await;
}
