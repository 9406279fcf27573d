//! The log contract: one suite, run unchanged against every backend.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use gridcase_bus::*;
use gridcase_domain::event::NoteAdded;
use gridcase_domain::*;

pub fn actor() -> Actor {
    let grid: RegionCode = "330802005001007".parse().unwrap();
    Actor::new(
        ActorId::new("gw-1").unwrap(),
        Role::GridWorker,
        Scope::Subtree(grid),
    )
    .unwrap()
}

/// A commit of `n` note events on `case`, after `(version, hash)`.
pub fn commit(case: &str, cmd: &str, version: u64, prev: Hash, n: usize) -> Commit {
    let header = CommitHeader {
        case_id: CaseId::new(case).unwrap(),
        command_id: CommandId::new(cmd).unwrap(),
        occurred_at: Timestamp::from_millis(1_700_000_000_000),
        recorded_at: Timestamp::from_millis(1_700_000_000_001),
        actor: actor(),
        correlation_id: None,
        causation_id: None,
    };
    let notes: Vec<Event> = (0..n)
        .map(|i| {
            NoteAdded {
                text: format!("{cmd} #{i}").into(),
            }
            .into()
        })
        .collect();
    let head = ChainHead {
        version,
        hash: prev,
    };
    let events = chain::seal(&header, head, &notes).unwrap();
    Commit {
        case_id: header.case_id,
        partition: "330802".parse().unwrap(),
        command_id: header.command_id,
        expected_version: version,
        events,
        fingerprint: None,
    }
}

/// Appends a commit of `n` events on top of what the log has for `case`.
pub async fn append_next<L: EventLog>(
    log: &L,
    case: &str,
    cmd: &str,
    n: usize,
) -> Result<Appended, AppendError> {
    let (v, h) = case_head(log, case).await;
    log.append(commit(case, cmd, v, h, n)).await
}

pub async fn case_head<L: EventLog>(log: &L, case: &str) -> (u64, Hash) {
    let commits = log.read_case(&CaseId::new(case).unwrap()).await.unwrap();
    commits
        .last()
        .map(|c| (c.last_version(), c.last_hash()))
        .unwrap_or((0, Hash::ZERO))
}

/// Every case's chain is intact, versions contiguous, positions strictly increasing.
pub async fn assert_log_consistent<L: EventLog>(log: &L) {
    let head = log.head().await.unwrap();
    let all = log.read_from(Position::FIRST, usize::MAX).await.unwrap();
    assert_eq!(
        all.len() as u64,
        head.get(),
        "every position up to the head is readable"
    );
    let mut heads: HashMap<CaseId, (u64, Hash)> = HashMap::new();
    for (i, c) in all.iter().enumerate() {
        assert_eq!(c.position.get(), i as u64 + 1, "positions are contiguous");
        let (mut v, mut h) = heads.get(&c.case_id).copied().unwrap_or((0, Hash::ZERO));
        for e in &c.events {
            assert_eq!(
                e.header.case_version,
                v + 1,
                "versions contiguous in {}",
                c.case_id
            );
            assert_eq!(e.prev_hash, h, "chain links in {}", c.case_id);
            assert!(e.verify_hash(), "hash verifies in {}", c.case_id);
            v += 1;
            h = e.hash;
        }
        heads.insert(c.case_id.clone(), (v, h));
    }
    for (case, (v, _)) in heads {
        let per_case = log.read_case(&case).await.unwrap();
        assert_eq!(per_case.last().unwrap().last_version(), v);
    }
}

pub async fn round_trip<L: EventLog>(log: &L) {
    assert_eq!(log.head().await.unwrap(), Position::ZERO);
    let c = commit("case-a", "cmd-1", 0, Hash::ZERO, 3);
    let a = log.append(c.clone()).await.unwrap();
    assert_eq!(
        a,
        Appended {
            position: Position::FIRST,
            version: 3,
            duplicate: false
        }
    );
    let read = log.read_case(&c.case_id).await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].position, Position::FIRST);
    assert_eq!(read[0].command_id, c.command_id);
    assert_eq!(read[0].events, c.events);
    assert!(log
        .read_case(&CaseId::new("nobody").unwrap())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(log.head().await.unwrap(), Position::FIRST);
}

pub async fn global_order<L: EventLog>(log: &L) {
    for i in 0..30 {
        let case = format!("case-{}", i % 4);
        let a = append_next(log, &case, &format!("cmd-{i}"), 1 + i % 3)
            .await
            .unwrap();
        assert_eq!(a.position.get(), i as u64 + 1);
    }
    let page = log.read_from(Position::new(11), 5).await.unwrap();
    assert_eq!(
        page.iter().map(|c| c.position.get()).collect::<Vec<_>>(),
        vec![11, 12, 13, 14, 15]
    );
    assert!(log
        .read_from(Position::new(31), 10)
        .await
        .unwrap()
        .is_empty());
    assert_log_consistent(log).await;
}

pub async fn conflict<L: EventLog>(log: &L) {
    append_next(log, "case-c", "c1", 2).await.unwrap();
    let stale = commit("case-c", "c2", 1, Hash::ZERO, 1);
    match log.append(stale).await {
        Err(AppendError::Conflict(c)) => assert_eq!(
            c,
            Conflict {
                expected: 1,
                actual: 2
            }
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let ahead = commit("case-c", "c3", 5, Hash::ZERO, 1);
    assert!(matches!(
        log.append(ahead).await,
        Err(AppendError::Conflict(Conflict {
            expected: 5,
            actual: 2
        }))
    ));
    assert_eq!(
        log.head().await.unwrap(),
        Position::FIRST,
        "nothing appended by refused commits"
    );
}

pub async fn racing_appends<L: EventLog + Clone>(log: &L, rounds: usize) {
    for round in 0..rounds {
        let case = format!("race-{round}");
        let (v, h) = case_head(log, &case).await;
        let mut tasks = Vec::new();
        for w in 0..4 {
            let log = log.clone();
            let c = commit(&case, &format!("race-{round}-w{w}"), v, h, 1);
            tasks.push(tokio::spawn(async move { log.append(c).await }));
        }
        let mut wins = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(a) => {
                    assert!(!a.duplicate);
                    wins += 1
                }
                Err(AppendError::Conflict(c)) => assert_eq!(
                    c,
                    Conflict {
                        expected: 0,
                        actual: 1
                    }
                ),
                Err(e) => panic!("unexpected error {e}"),
            }
        }
        assert_eq!(wins, 1, "exactly one racer wins round {round}");
    }
    assert_log_consistent(log).await;
}

pub async fn idempotent_retry<L: EventLog>(log: &L) {
    let c = commit("case-i", "same-key", 0, Hash::ZERO, 2);
    let first = log.append(c.clone()).await.unwrap();
    append_next(log, "case-other", "other", 1).await.unwrap();
    let again = log.append(c.clone()).await.unwrap();
    assert_eq!(
        again,
        Appended {
            duplicate: true,
            ..first
        }
    );
    // Even a retry decided against a newer state is recognised by its command id.
    let (v, h) = case_head(log, "case-i").await;
    let later = log
        .append(commit("case-i", "same-key", v, h, 1))
        .await
        .unwrap();
    assert_eq!(
        later,
        Appended {
            duplicate: true,
            ..first
        }
    );
    assert_eq!(
        log.head().await.unwrap().get(),
        2,
        "retries appended nothing"
    );
}

pub async fn subscribe_while_appending<L: EventLog + Clone>(log: &L, total: usize) {
    // Some commits exist before the subscription, the rest arrive while it runs.
    let before = total / 3;
    for i in 0..before {
        append_next(log, &format!("s-{}", i % 7), &format!("pre-{i}"), 1)
            .await
            .unwrap();
    }
    let mut sub = log.subscribe(Position::ZERO).await.unwrap();
    let writer = {
        let log = log.clone();
        tokio::spawn(async move {
            for i in before..total {
                append_next(
                    &log,
                    &format!("s-{}", i % 7),
                    &format!("live-{i}"),
                    1 + i % 2,
                )
                .await
                .unwrap();
            }
        })
    };
    let mut seen = Vec::new();
    while seen.len() < total {
        let c = sub
            .next()
            .await
            .expect("the subscription stays open")
            .unwrap();
        seen.push(c.position.get());
    }
    writer.await.unwrap();
    let want: Vec<u64> = (1..=total as u64).collect();
    assert_eq!(seen, want, "every commit exactly once, in order");
    // Subscribing from the middle starts exactly there.
    let mut mid = log
        .subscribe(Position::new(total as u64 - 2))
        .await
        .unwrap();
    assert_eq!(
        mid.next().await.unwrap().unwrap().position.get(),
        total as u64 - 2
    );
    assert_log_consistent(log).await;
}

pub async fn invalid_commits<L: EventLog>(log: &L) {
    let mut c = commit("case-x", "x1", 0, Hash::ZERO, 2);
    c.events[1].body.push(0);
    assert!(matches!(log.append(c).await, Err(AppendError::Invalid(_))));
    let mut c = commit("case-x", "x2", 0, Hash::ZERO, 1);
    c.events.clear();
    assert!(matches!(log.append(c).await, Err(AppendError::Invalid(_))));
    let wrong_chain = commit("case-x", "x3", 0, Hash::of(b"elsewhere"), 1);
    assert!(matches!(
        log.append(wrong_chain).await,
        Err(AppendError::Invalid(_))
    ));
    assert_eq!(log.head().await.unwrap(), Position::ZERO);
}

/// Runs every contract test against fresh logs from `open`.
pub async fn run_all<L, F, Fut>(open: F)
where
    L: EventLog + Clone,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (L, Arc<dyn std::any::Any + Send + Sync>)>,
{
    let (l, _g) = open().await;
    round_trip(&l).await;
    let (l, _g) = open().await;
    global_order(&l).await;
    let (l, _g) = open().await;
    conflict(&l).await;
    let (l, _g) = open().await;
    racing_appends(&l, 25).await;
    let (l, _g) = open().await;
    idempotent_retry(&l).await;
    let (l, _g) = open().await;
    subscribe_while_appending(&l, 300).await;
    let (l, _g) = open().await;
    invalid_commits(&l).await;
}
