//! The `tiny` fixture's statistics match the golden values computed by an independent fold in
//! the fixtures crate (`fixtures/golden/tiny-seed1.stats.json`), exactly: for the whole
//! dataset, a village (sub-region), a month (sub-period) and disputes only.

use gridcase_bus::{partition_of, Commit, EventLog, SledLog};
use gridcase_domain::{CaseKind, EventRecord, Level, RegionCode, Timestamp};
use gridcase_projections::{Breakdown, Calendar, Dim, Figures, Period, Projection, StatsQuery};
use serde_json::Value;

const EVENTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/golden/tiny-seed1.events.msgpack"
);
const STATS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/golden/tiny-seed1.stats.json"
);

/// Groups consecutive records of one command into commits.
fn commits(records: Vec<EventRecord>) -> Vec<Commit> {
    let mut out: Vec<Commit> = Vec::new();
    for r in records {
        match out.last_mut() {
            Some(c) if c.command_id == r.header.command_id && c.case_id == r.header.case_id => {
                c.events.push(r)
            }
            _ => out.push(Commit {
                case_id: r.header.case_id.clone(),
                partition: partition_of(r.header.actor.unit()),
                command_id: r.header.command_id.clone(),
                expected_version: r.header.case_version - 1,
                events: vec![r],
                fingerprint: None,
            }),
        }
    }
    out
}

fn rate(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn round6(x: Option<f64>) -> Option<f64> {
    x.map(|x| (x * 1e6).round() / 1e6)
}

fn check(name: &str, f: &Figures, want: &Value) {
    let c = &want["cohort"];
    let n = |v: &Value| v.as_i64().unwrap();
    let got = &f.cohort;
    assert_eq!(got.registered, n(&c["registered"]), "{name}: registered");
    for l in Level::ALL {
        assert_eq!(
            got.resolved_at[&l],
            n(&c["resolved_at"][l.as_str()]),
            "{name}: resolved_at.{l}"
        );
    }
    assert_eq!(got.resolved, n(&c["resolved"]), "{name}: resolved");
    assert_eq!(
        got.referred_out,
        n(&c["referred_out"]),
        "{name}: referred_out"
    );
    assert_eq!(got.merged, n(&c["merged"]), "{name}: merged");
    assert_eq!(got.open, n(&c["open"]), "{name}: open");
    assert_eq!(got.rejected, n(&c["rejected"]), "{name}: rejected");
    for (field, got) in [
        ("escalated", got.escalated),
        ("extended", got.extended),
        ("reopened", got.reopened),
        ("closed", got.closed),
    ] {
        assert_eq!(got, n(&c[field]), "{name}: cohort.{field} (cases)");
    }
    for (field, got) in [
        ("escalation_rate", f.rates.escalation),
        ("extension_rate", f.rates.extension),
        ("reopen_rate", f.rates.reopen),
    ] {
        assert_eq!(round6(got), rate(&c[field]), "{name}: {field}");
    }
    assert_eq!(
        round6(got.grid_rate),
        rate(&c["grid_rate"]),
        "{name}: grid_rate"
    );
    assert_eq!(
        round6(got.village_rate),
        rate(&c["village_rate"]),
        "{name}: village_rate"
    );
    assert_eq!(
        round6(got.township_rate),
        rate(&c["township_rate"]),
        "{name}: township_rate"
    );
    assert_eq!(
        round6(got.resolution_rate),
        rate(&c["resolution_rate"]),
        "{name}: resolution_rate"
    );
    let m = &want["mediation"];
    assert_eq!(
        f.activity.mediations_concluded,
        n(&m["concluded"]),
        "{name}: mediations concluded"
    );
    assert_eq!(
        f.activity.mediation_agreements,
        n(&m["agreements"]),
        "{name}: agreements"
    );
    assert_eq!(
        round6(f.rates.mediation_success),
        rate(&m["success_rate"]),
        "{name}: mediation success"
    );
    let a = &want["activity"];
    let act = &f.activity;
    for (field, got) in [
        ("reported", act.reported),
        ("registered", act.registered),
        ("escalated", act.escalated),
        ("taken_over", act.taken_over),
        ("mediations_concluded", act.mediations_concluded),
        ("resolved", act.resolved),
        ("resolved_late", act.overdue),
        ("reworked", act.reworked),
        ("extended", act.extended),
    ] {
        assert_eq!(got, n(&a[field]), "{name}: activity.{field}");
    }
}

#[tokio::test]
async fn tiny_statistics_match_the_golden_values() {
    let bytes = std::fs::read(EVENTS).unwrap();
    let records = gridcase_fixtures::golden::decode_records(&bytes).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path().join("log")).unwrap();
    for c in commits(records) {
        log.append(c).await.unwrap();
    }
    let proj = Projection::in_memory(Calendar::default());
    proj.catch_up(&log, |_, _| {}).await.unwrap();
    let regions = gridcase_regions::bundled_divisions();

    let golden: Value = serde_json::from_str(&std::fs::read_to_string(STATS).unwrap()).unwrap();
    let as_of = Timestamp::parse(golden["as_of"].as_str().unwrap()).unwrap();
    let views = golden["views"].as_array().unwrap();
    assert!(
        views.len() >= 3,
        "whole dataset, a sub-region and a sub-period"
    );
    for v in views {
        let name = v["name"].as_str().unwrap();
        let region: RegionCode = v["region"].as_str().unwrap().parse().unwrap();
        let period = Period::parse(&format!(
            "{}..{}",
            v["period"][0].as_str().unwrap(),
            v["period"][1].as_str().unwrap()
        ))
        .unwrap();
        let kind = v["kind"].as_str().map(|k| k.parse::<CaseKind>().unwrap());
        let q = StatsQuery {
            region,
            period,
            breakdown: kind.map(|_| Breakdown::Kind),
            drill_down: false,
            rank_by: Default::default(),
            as_of: Some(as_of),
        };
        let report = proj.read().stats(&q, regions);
        if kind.is_none() {
            assert_eq!(
                report.overdue.registered_in_period,
                v["cohort"]["overdue_open"].as_i64().unwrap(),
                "{name}: overdue open at T among the registered"
            );
        }
        let figures = match kind {
            None => report.figures,
            Some(k) => report
                .breakdown
                .into_iter()
                .find(|(d, _)| *d == Dim::Kind(k))
                .map(|(_, f)| f)
                .unwrap_or_default(),
        };
        check(name, &figures, v);
    }
}
