//! `gridcase load`: a fixture goes through the real command path, every commit the generator
//! made lands once, and loading it again appends nothing (each command's id is its own).

use gridcase_bus::{AnyLog, EventLog, SledLog};
use gridcase_fixtures::Scale;
use gridcase_server::load::load;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixture_loads_once_and_a_second_load_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = AnyLog::Sled(SledLog::open(dir.path().join("log")).unwrap());
    let generated: Vec<_> = Scale::Tiny.generator(5).collect();
    let events: u64 = generated.iter().map(|g| g.events.len() as u64).sum();
    let cases = generated.iter().filter(|g| g.expected_version == 0).count() as u64;

    let first = load(&log, "tiny", 5, false).await.unwrap();
    assert_eq!(first.commits, generated.len() as u64);
    assert_eq!(first.events, events);
    assert_eq!(first.cases, cases);
    assert_eq!(log.head().await.unwrap().get(), generated.len() as u64);

    let again = load(&log, "tiny", 5, false).await.unwrap();
    assert_eq!((again.commits, again.events, again.cases), (0, 0, 0));
    assert_eq!(log.head().await.unwrap().get(), generated.len() as u64);

    // Every case's history is the generator's, in order.
    let case = &generated[0].case_id;
    let stored = log.read_case(case).await.unwrap();
    let expected: Vec<_> = generated.iter().filter(|g| &g.case_id == case).collect();
    assert_eq!(stored.len(), expected.len());
    for (s, g) in stored.iter().zip(expected) {
        assert_eq!(s.command_id, g.command_id);
        assert_eq!(s.events, g.events);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_fixture_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = AnyLog::Sled(SledLog::open(dir.path().join("log")).unwrap());
    let e = load(&log, "atlantis-year", 1, false).await.unwrap_err();
    assert!(e.to_string().contains("atlantis-year"), "{e}");
    assert_eq!(log.head().await.unwrap().get(), 0);
}
