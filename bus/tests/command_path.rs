//! The command path on the embedded log: decide, append, idempotency, conflicts, retries.

use std::sync::Arc;

use gridcase_bus::*;
use gridcase_domain::*;

const CSV: &str = "code,name,level,parent\n330800,衢州市,city,33\n330802,柯城区,county,330800\n\
330802005,新新街道,township,330802\n330802005001,金桂社区,village,330802005\n";

fn regions() -> Arc<RegionTree> {
    let mut t = gridcase_regions::read_divisions(CSV.as_bytes()).unwrap();
    t.add_grid(grid(), None).unwrap();
    Arc::new(t)
}

fn grid() -> RegionCode {
    "330802005001007".parse().unwrap()
}

fn worker() -> Actor {
    Actor::new(
        ActorId::new("gw-7").unwrap(),
        Role::GridWorker,
        Scope::Subtree(grid()),
    )
    .unwrap()
}

fn at() -> Timestamp {
    Timestamp::parse("2026-03-02T02:00:00Z").unwrap()
}

fn sub(case: &str, key: &str, expected: ExpectedVersion, action: Action) -> Submission {
    Submission {
        case_id: CaseId::new(case).unwrap(),
        command_id: CommandId::new(key).unwrap(),
        expected,
        correlation_id: None,
        causation_id: None,
        command: Command {
            actor: worker(),
            occurred_at: at(),
            action,
        },
        fingerprint: None,
        recorded_at: None,
    }
}

fn report() -> Action {
    Action::Report {
        kind: CaseKind::Dispute,
        category: Category::Neighbours,
        source: Source::GridPatrol,
        severity: Severity::Normal,
        location: grid(),
        parties: vec![],
        summary: "楼上漏水引发邻里纠纷".into(),
        happened_at: at(),
    }
}

fn note(text: &str) -> Action {
    Action::AddNote { text: text.into() }
}

/// A path whose clock reads one second after [`at`], whatever the wall clock says: the
/// decider refuses commands dated far from the engine's clock.
fn path(log: SledLog) -> CommandPath<SledLog> {
    CommandPath::new(log, regions(), Policy::default(), 1000)
        .with_clock(Arc::new(|| at().plus_millis(1000)))
}

async fn fresh() -> (CommandPath<SledLog>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (path(SledLog::open(dir.path()).unwrap()), dir)
}

#[tokio::test]
async fn a_report_is_decided_sealed_and_appended() {
    let (p, _d) = fresh().await;
    let r = p
        .execute(sub("c1", "k1", ExpectedVersion::Exactly(0), report()))
        .await
        .unwrap();
    assert_eq!((r.position.get(), r.version, r.duplicate), (1, 1, false));
    assert_eq!(r.events[0].event_type, "CaseReported");
    assert_eq!(r.events[0].prev_hash, Hash::ZERO);
    let s = p.load(&CaseId::new("c1").unwrap()).await.unwrap();
    assert_eq!(
        (s.status, s.holder, s.version),
        (Status::Reported, Some(grid()), 1)
    );
}

#[tokio::test]
async fn a_retried_command_returns_the_first_result_and_appends_nothing() {
    let (p, _d) = fresh().await;
    let first = p
        .execute(sub("c1", "k1", ExpectedVersion::Any, report()))
        .await
        .unwrap();
    p.execute(sub("c1", "k2", ExpectedVersion::Any, note("a")))
        .await
        .unwrap();
    // Same key again, after the case moved on: the first result, not CaseAlreadyExists.
    let again = p
        .execute(sub("c1", "k1", ExpectedVersion::Any, report()))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (again.position.get(), again.version),
        (first.position.get(), first.version)
    );
    assert_eq!(again.events, first.events);
    // A new path on the same log (empty cache, like a restarted server) answers the same.
    let p2 = path(p.log().clone());
    let again = p2
        .execute(sub("c1", "k1", ExpectedVersion::Any, report()))
        .await
        .unwrap();
    assert!(again.duplicate && again.position == first.position);
    assert_eq!(p.log().head().await.unwrap().get(), 2);
}

#[tokio::test]
async fn a_key_reused_for_another_case_is_refused() {
    let (p, _d) = fresh().await;
    p.execute(sub("c1", "k1", ExpectedVersion::Any, report()))
        .await
        .unwrap();
    match p
        .execute(sub("c2", "k1", ExpectedVersion::Any, report()))
        .await
    {
        Err(CommandError::CommandIdReused { case_id, .. }) => assert_eq!(case_id.as_str(), "c1"),
        other => panic!("expected CommandIdReused, got {other:?}"),
    }
    assert_eq!(p.log().head().await.unwrap().get(), 1);
}

#[tokio::test]
async fn a_rejection_appends_nothing() {
    let (p, _d) = fresh().await;
    match p
        .execute(sub("c1", "k1", ExpectedVersion::Any, Action::Register))
        .await
    {
        Err(CommandError::Rejected(Rejection::CaseNotFound)) => {}
        other => panic!("expected CaseNotFound, got {other:?}"),
    }
    assert_eq!(p.log().head().await.unwrap().get(), 0);
}

#[tokio::test]
async fn a_pinned_stale_version_gets_the_conflict() {
    let (p, _d) = fresh().await;
    p.execute(sub("c1", "k1", ExpectedVersion::Any, report()))
        .await
        .unwrap();
    p.execute(sub("c1", "k2", ExpectedVersion::Exactly(1), note("a")))
        .await
        .unwrap();
    match p
        .execute(sub("c1", "k3", ExpectedVersion::Exactly(1), note("b")))
        .await
    {
        Err(CommandError::Conflict(c)) => assert_eq!(
            c,
            Conflict {
                expected: 1,
                actual: 2
            }
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(p.log().head().await.unwrap().get(), 2);
}

#[tokio::test]
async fn a_stale_cache_is_re_read_and_re_decided() {
    let (p1, _d) = fresh().await;
    let p2 = path(p1.log().clone());
    p1.execute(sub("c1", "k1", ExpectedVersion::Any, report()))
        .await
        .unwrap();
    // p2 caches version 1, then p1 moves the case on behind its back.
    assert_eq!(
        p2.load(&CaseId::new("c1").unwrap()).await.unwrap().version,
        1
    );
    p1.execute(sub("c1", "k2", ExpectedVersion::Any, note("a")))
        .await
        .unwrap();
    // Any: p2 conflicts, re-reads, re-decides and succeeds.
    let r = p2
        .execute(sub("c1", "k3", ExpectedVersion::Any, note("b")))
        .await
        .unwrap();
    assert_eq!(r.version, 3);
    // Pinned to the version p1 just made: p2's cache is behind, but it is not a conflict.
    p1.execute(sub("c1", "k4", ExpectedVersion::Any, note("c")))
        .await
        .unwrap();
    let r = p2
        .execute(sub("c1", "k5", ExpectedVersion::Exactly(4), note("d")))
        .await
        .unwrap();
    assert_eq!(r.version, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_on_one_case_lose_nothing() {
    let (p, _d) = fresh().await;
    let p = Arc::new(p);
    p.execute(sub("c1", "k0", ExpectedVersion::Any, report()))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            p.execute(sub(
                "c1",
                &format!("n{i}"),
                ExpectedVersion::Any,
                note(&i.to_string()),
            ))
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(CommandError::Conflict(_)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    // In one process, commands on one case take turns: none conflicts.
    assert_eq!(ok, 40);
    let s = p.load(&CaseId::new("c1").unwrap()).await.unwrap();
    assert_eq!(
        s.version,
        1 + ok,
        "every success is in the history, nothing else"
    );
    let commits = p
        .log()
        .read_case(&CaseId::new("c1").unwrap())
        .await
        .unwrap();
    assert_eq!(commits.len() as u64, 1 + ok);
}
