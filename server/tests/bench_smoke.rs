//! `gridcase bench --smoke` runs every suite on tiny fixtures in seconds and prints every row
//! with a ratio, so the bench cannot rot. Nothing about speed is checked.
//!
//! The NATS rows need nats-server ≥ 2.11 (`NATS_SERVER_BIN` or `PATH`); without one they are
//! reported as skipped, which is accepted unless `GRIDCASE_REQUIRE_NATS` is set (as
//! `scripts/test` and CI do).

use std::process::Command;

fn nats_required() -> bool {
    std::env::var("GRIDCASE_REQUIRE_NATS").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The cells of a table line: columns are separated by at least two spaces.
fn cells(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

#[test]
fn bench_smoke_prints_every_row_with_a_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_gridcase"))
        .args(["bench", "--smoke", "--json"])
        .arg(&json_path)
        .arg("--work-dir")
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .expect("running gridcase bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "gridcase bench --smoke failed with {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );

    let nats_skipped = stdout.contains("skipped append-nats:");
    assert!(
        !(nats_skipped && nats_required()),
        "GRIDCASE_REQUIRE_NATS is set but the NATS suites were skipped:\n{stdout}"
    );
    assert_eq!(
        nats_skipped,
        stdout.contains("skipped replay-nats:"),
        "both NATS rows run or both are skipped:\n{stdout}"
    );
    let mut expected = vec![
        "append-embedded",
        "replay-embedded",
        "bytes-per-event (file log)",
        "bytes-per-event (sled as loaded)",
        "bytes-per-event (sled compacted)",
        "rebuild (file log)",
        "rebuild (sled as loaded)",
        "rebuild (sled compacted)",
        "query county-year",
        "query city-year",
        "query grid-month",
        "query unit queue",
        "search county open by deadline",
        "search township category",
        "search city text",
        "search county open by deadline, page 5",
        "web work: unit queue",
        "web work: overdue filter, list alone (htmx)",
        "web work: a mediator's mediations",
        "web search: county, text",
        "web search: county, open and overdue",
        "web case page",
        "web audit case",
        "web stats: city-year",
        "web stats: county-month",
        "web stats: county-month, printed report",
        "web stats: city-year, table as CSV",
        "web report form",
        "web first dashboard load (page + assets, gzip)",
        "scale 1x tiny",
        "scale 2x tiny",
        "scale 4x tiny",
    ];
    if !nats_skipped {
        expected.extend(["append-nats", "replay-nats"]);
    }

    // The printed table: every row, each with a numeric ratio in the fourth column.
    for name in &expected {
        let line = stdout
            .lines()
            .find(|l| cells(l).first() == Some(name))
            .unwrap_or_else(|| panic!("no row {name:?} in the table:\n{stdout}"));
        let c = cells(line);
        assert!(c.len() >= 6, "row {name:?} is missing columns: {line:?}");
        let ratio: f64 = c[3]
            .parse()
            .unwrap_or_else(|_| panic!("row {name:?} has no ratio: {line:?}"));
        assert!(
            ratio.is_finite() && ratio >= 0.0,
            "row {name:?}: ratio {ratio}"
        );
    }

    // The JSON: the same rows, machine-readable.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("the JSON file"))
            .expect("valid JSON");
    assert_eq!(json["smoke"], true);
    assert!(json["machine"]["nproc"].as_u64().unwrap_or(0) >= 1);
    let rows = json["rows"].as_array().expect("rows");
    for name in &expected {
        let row = rows
            .iter()
            .find(|r| r["name"] == *name)
            .unwrap_or_else(|| panic!("no row {name:?} in the JSON"));
        for field in ["engine", "raw", "ratio"] {
            let v = row[field].as_f64();
            assert!(
                v.is_some_and(|v| v.is_finite() && v >= 0.0),
                "row {name:?}: {field} = {:?}",
                row[field]
            );
        }
        assert!(row["target"]["kind"].is_string(), "row {name:?}: no target");
    }
    assert_eq!(
        rows.len(),
        expected.len(),
        "unexpected rows in the JSON: {rows:#?}"
    );
}
