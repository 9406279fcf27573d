//! Invariant 7: projections are derived, exactly-once in effect. For random generated
//! histories, the live (incremental) projection equals a rebuild from position 0 byte for
//! byte, and a runner killed at a random point resumes to the same bytes.

mod common;

use common::{commit_of, runtime};
use gridcase_bus::{EventLog, Position, SledLog};
use gridcase_fixtures::Scale;
use gridcase_projections::{as_of, Calendar, Projection, Projector, Store};
use proptest::prelude::*;

/// Appends a tiny dataset, projecting it live in bursts of the given sizes.
async fn live(seed: u64, bursts: &[usize], dir: &std::path::Path) -> (SledLog, Projection) {
    let log = SledLog::open(dir.join("log")).unwrap();
    let proj = Projection::open(&dir.join("live"), Calendar::default()).unwrap();
    let mut gen = Scale::Tiny.generator(seed).peekable();
    let mut i = 0;
    while gen.peek().is_some() {
        let n = bursts[i % bursts.len()].max(1);
        i += 1;
        let from = log.head().await.unwrap().next();
        for g in gen.by_ref().take(n) {
            log.append(commit_of(&g)).await.unwrap();
        }
        let page = log.read_from(from, usize::MAX).await.unwrap();
        proj.apply_batch(&page).unwrap();
    }
    (log, proj)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn live_equals_rebuild_and_a_killed_runner_resumes_to_the_same_bytes(
        seed in 1u64..1_000,
        bursts in proptest::collection::vec(1usize..300, 1..6),
        kill_after in 1usize..2_000,
    ) {
        runtime().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let (log, live) = live(seed, &bursts, dir.path()).await;
            let head = log.head().await.unwrap();
            prop_assert_eq!(live.checkpoint(), head);

            let rebuilt = Projection::open(&dir.path().join("rebuilt"), Calendar::default()).unwrap();
            rebuilt.catch_up(&log, |_, _| {}).await.unwrap();
            let live_bytes = live.dump();
            prop_assert!(!live_bytes.is_empty());
            prop_assert!(live_bytes == rebuilt.dump(), "live and rebuilt projections differ");
            // What was saved is what is held, for both.
            prop_assert!(Store::dump_dir(&dir.path().join("live")).unwrap() == live_bytes, "the live snapshot differs from the live projection");
            prop_assert!(Store::dump_dir(&dir.path().join("rebuilt")).unwrap() == live_bytes, "the rebuilt snapshot differs");
            // A rebuild that saves after every chunk it applies (1,024 commits; a tiny history
            // has two): the aggregates come back from their thread for each snapshot and go
            // to a new one after it.
            prop_assert!(head.get() > 1024, "{head} commits are one chunk");
            let often = Projection::open(&dir.path().join("often"), Calendar::default())
                .unwrap()
                .with_catch_up_save_every(1);
            often.catch_up(&log, |_, _| {}).await.unwrap();
            prop_assert!(often.dump() == live_bytes, "a rebuild saving after every chunk differs");
            prop_assert!(Store::dump_dir(&dir.path().join("often")).unwrap() == live_bytes, "its snapshot differs");

            // Crash: some commits saved, then more applied in memory and never saved.
            let crash_dir = dir.path().join("crashed");
            {
                let store = Store::open(&crash_dir).unwrap();
                let mut p = store.load(Calendar::default()).unwrap();
                let all = log.read_from(Position::FIRST, usize::MAX).await.unwrap();
                let saved = (kill_after / 2).min(all.len());
                for c in &all[..saved] {
                    p.apply(c).unwrap();
                }
                store.save(&p).unwrap();
                for c in all.iter().skip(saved).take(kill_after - kill_after / 2) {
                    p.apply(c).unwrap();
                }
                // Dropped here without saving: the unsaved commits are lost with the process.
            }
            let resumed = Projection::open(&crash_dir, Calendar::default()).unwrap();
            prop_assert!(resumed.checkpoint() <= head);
            resumed.catch_up(&log, |_, _| {}).await.unwrap();
            prop_assert!(resumed.dump() == live_bytes, "resumed projection differs");
            prop_assert!(Store::dump_dir(&crash_dir).unwrap() == live_bytes, "resumed snapshot differs");
            Ok(())
        })?;
    }
}

#[test]
fn commits_already_applied_are_not_counted_twice() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (log, live) = live(7, &[50], dir.path()).await;
        let before = live.dump();
        // Re-delivering every commit (as a subscription restarting too early would) changes nothing.
        let all = log.read_from(Position::FIRST, usize::MAX).await.unwrap();
        live.apply_batch(&all).unwrap();
        assert_eq!(live.dump(), before);
    });
}

#[test]
fn as_of_equals_the_commits_recorded_until_then_applied_one_by_one() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = live(11, &[100], dir.path()).await;
        let all = log.read_from(Position::FIRST, usize::MAX).await.unwrap();
        assert!(all.len() > 1024, "the replays span two chunks");
        let recorded = |i: usize| all[i].events[0].header.recorded_at;
        let before_all = gridcase_domain::Timestamp::from_millis(recorded(0).as_millis() - 1);
        // Before everything, within the first and the second chunk, at its border, at the end.
        let cuts = [0, 1, 700, 1023, 1024, 1400, all.len() - 1].map(recorded);
        for t in std::iter::once(before_all).chain(cuts) {
            let replayed = as_of(&log, Calendar::default(), t).await.unwrap();
            let mut expected = Projector::new(Calendar::default());
            for c in all.iter().filter(|c| c.events[0].header.recorded_at <= t) {
                expected.apply(c).unwrap();
            }
            // Equal but for the checkpoint: the replay has passed over the later commits.
            let state = |p: &Projector| {
                let mut d = p.entries();
                d.retain(|(k, _)| k.as_slice() != b"mcheckpoint");
                d
            };
            assert_eq!(state(&replayed), state(&expected), "as of {t}");
            let open = |p: &Projector| {
                p.overdue_at(i64::MAX)
                    .map(|e| e.state.id.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(open(&replayed), open(&expected), "open cases as of {t}");
            assert_eq!(replayed.checkpoint(), log.head().await.unwrap());
        }
    });
}
