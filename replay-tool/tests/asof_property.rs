//! Property: `state --as-of T` is exactly what `history` shows up to T — the fold of the
//! events recorded at or before T — for random cases and cut-off times on the `tiny` log.

mod common;

use std::collections::HashMap;

use common::*;
use gridcase_domain::{CaseState, Envelope, Timestamp};
use proptest::prelude::*;
use serde_json::Value;

fn history(data: &std::path::Path, case: &str) -> Value {
    let o = replay_on(data, &["history", case, "--format", "json"]);
    assert_exit(&o, 0);
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn state_as_of_is_the_history_up_to_that_time() {
    let data = tiny_data();
    let cases: Vec<_> = {
        let mut seen = std::collections::BTreeSet::new();
        tiny()
            .iter()
            .filter(|g| seen.insert(g.case_id.clone()))
            .map(|g| g.case_id.clone())
            .collect()
    };
    let lo = tiny().first().unwrap().recorded_at.as_millis() - 86_400_000;
    let hi = tiny().last().unwrap().recorded_at.as_millis() + 86_400_000;
    let histories: std::cell::RefCell<HashMap<String, Value>> = Default::default();
    let config = ProptestConfig {
        cases: 40,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(i in 0..cases.len(), frac in 0.0f64..1.0, exact in any::<bool>())| {
        let case = &cases[i];
        let commits: Vec<_> = tiny().iter().filter(|g| g.case_id == *case).collect();
        // Half the time, cut exactly at one of the case's own recorded-at times (inclusive).
        let t = if exact {
            commits[(frac * commits.len() as f64) as usize % commits.len()].recorded_at
        } else {
            let first = commits[0].recorded_at.as_millis() - 3_600_000;
            let last = commits.last().unwrap().recorded_at.as_millis() + 3_600_000;
            let (a, b) = if frac < 0.1 { (lo, hi) } else { (first, last) };
            Timestamp::from_millis(a + ((b - a) as f64 * frac) as i64)
        };
        let o = replay_on(data.path(), &["state", case.as_str(), "--as-of", &t.to_string()]);
        assert_exit(&o, 0);
        let got: Value = serde_json::from_slice(&o.stdout).unwrap();

        // Independently: fold the fixture's events recorded at or before t.
        let mut want = CaseState::default();
        let mut applied = 0u64;
        for g in &commits {
            for r in &g.events {
                if r.header.recorded_at <= t {
                    want.apply(&Envelope::try_from(r).unwrap());
                    applied += 1;
                }
            }
        }
        prop_assert_eq!(&got["state"], &serde_json::to_value(&want).unwrap());
        prop_assert_eq!(got["events_applied"].as_u64(), Some(applied));

        // And against what `history` shows up to t.
        let mut histories = histories.borrow_mut();
        let h = histories
            .entry(case.to_string())
            .or_insert_with(|| history(data.path(), case.as_str()));
        let shown: Vec<&Value> = h["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| Timestamp::parse(e["recorded_at"].as_str().unwrap()).unwrap() <= t)
            .collect();
        prop_assert_eq!(got["version"].as_u64(), Some(shown.len() as u64));
        prop_assert_eq!(got["exists"].as_bool(), Some(!shown.is_empty()));
        match shown.last() {
            Some(last) => {
                prop_assert_eq!(&got["version"], &last["version"]);
                prop_assert_eq!(&got["state"]["last_hash"], &last["hash"]);
                prop_assert_eq!(&got["position"], &last["position"]);
            }
            None => prop_assert_eq!(&got["state"]["status"], "new"),
        }
    });
}
