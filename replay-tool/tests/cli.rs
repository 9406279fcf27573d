//! Every subcommand of `gridcase-replay` on the `tiny` fixture (seed 1).

mod common;

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::*;
use gridcase_bus::{EventLog, Position, SledLog};
use gridcase_domain::{Event, RegionCode, Timestamp};
use gridcase_projections::{as_of, Calendar, Period, Projection, StatsQuery};
use serde_json::Value;

fn total_events() -> usize {
    tiny().iter().map(|g| g.events.len()).sum()
}

fn total_cases() -> usize {
    tiny()
        .iter()
        .map(|g| &g.case_id)
        .collect::<HashSet<_>>()
        .len()
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", stdout(o), stderr(o)))
}

#[test]
fn history_table_lists_every_event_with_hashes() {
    let data = tiny_data();
    let (case, commits) = case_with_commits(3);
    let o = replay_on(data.path(), &["history", case.as_str()]);
    assert_exit(&o, 0);
    let out = stdout(&o);
    let mut lines = out.lines();
    let title = lines.next().unwrap();
    assert!(
        title.contains(case.as_str()) && title.contains("hash chain intact"),
        "{title}"
    );
    let header = lines.next().unwrap();
    for col in [
        "VERSION",
        "POSITION",
        "RECORDED",
        "OCCURRED",
        "ACTOR",
        "ROLE",
        "EVENT",
        "HASH",
        "PREV_HASH",
        "FACTS",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let events: Vec<_> = commits.iter().flat_map(|g| g.events.iter()).collect();
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), events.len(), "{out}");
    for (row, r) in rows.iter().zip(&events) {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[0], r.header.case_version.to_string());
        assert!(row.contains(&r.event_type), "{row}");
        assert!(row.contains(&r.hash.to_hex()), "{row}");
        assert!(row.contains(&r.prev_hash.to_hex()), "{row}");
        assert!(row.contains(r.header.actor.id().as_str()), "{row}");
        assert!(row.contains(&r.header.recorded_at.to_string()), "{row}");
        assert!(row.contains(" ok "), "{row}");
    }
}

#[test]
fn history_json_is_the_fixture() {
    let data = tiny_data();
    let (case, _) = case_with_commits(4);
    let o = replay_on(data.path(), &["history", case.as_str(), "--format", "json"]);
    assert_exit(&o, 0);
    let v = json(&o);
    assert_eq!(v["case_id"], case.as_str());
    assert_eq!(v["intact"], true);
    let expected: Vec<(u64, &gridcase_domain::EventRecord)> = tiny()
        .iter()
        .enumerate()
        .filter(|(_, g)| g.case_id == case)
        .flat_map(|(i, g)| g.events.iter().map(move |r| (i as u64 + 1, r)))
        .collect();
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), expected.len());
    assert_eq!(v["version"], expected.len() as u64);
    for (e, (position, r)) in events.iter().zip(&expected) {
        assert_eq!(
            e["position"], *position,
            "positions follow the append order"
        );
        assert_eq!(e["version"], r.header.case_version);
        assert_eq!(e["event_type"], r.event_type.as_str());
        assert_eq!(e["hash"], r.hash.to_hex());
        assert_eq!(e["prev_hash"], r.prev_hash.to_hex());
        assert_eq!(
            e["recorded_at"],
            serde_json::to_value(r.header.recorded_at).unwrap()
        );
        assert_eq!(
            e["occurred_at"],
            serde_json::to_value(r.header.occurred_at).unwrap()
        );
        assert_eq!(e["actor"]["id"], r.header.actor.id().as_str());
        assert_eq!(e["actor"]["role"], r.header.actor.role().as_str());
        assert_eq!(
            e["facts"],
            serde_json::to_value(r.decode().unwrap()).unwrap()
        );
        assert_eq!(e["check"], "ok");
    }
}

#[test]
fn history_of_an_unknown_or_invalid_case_is_a_usage_error() {
    let data = tiny_data();
    let o = replay_on(data.path(), &["history", "no-such-case"]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("no case no-such-case"),
        "{}",
        stderr(&o)
    );
    let o = replay_on(data.path(), &["history", "a.b"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("case id"), "{}", stderr(&o));
}

#[test]
fn bad_arguments_and_a_missing_log_exit_2_with_the_cause() {
    let empty = tempfile::tempdir().unwrap();
    let o = replay_on(empty.path(), &["verify"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("no event log at"), "{}", stderr(&o));
    assert!(
        !empty.path().join("log").exists(),
        "a missing log is not created"
    );
    let o = replay(&["verify", "--bogus"]);
    assert_exit(&o, 2);
    let o = replay(&["stats", "--region", "330802", "--period", "2025-13"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("--period"), "{}", stderr(&o));
    let o = replay(&["stats", "--region", "999999", "--period", "2025-03"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("unknown region"), "{}", stderr(&o));
    let o = replay(&["state", "c1", "--as-of", "yesterday"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("--as-of"), "{}", stderr(&o));
}

#[test]
fn a_store_in_use_is_reported_with_its_cause() {
    let data = tiny_data();
    let held = SledLog::open(data.path().join("log")).unwrap();
    let o = replay_on(data.path(), &["verify"]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("opening the event log") && err.contains("caused by"),
        "{err}"
    );
    assert!(err.contains("in use by another process"), "{err}");
    drop(held);
}

#[test]
fn state_as_of_a_time_between_commits() {
    let data = tiny_data();
    let (case, commits) = case_with_commits(3);
    // Just before the third commit was recorded.
    let t = commits[2].recorded_at.plus_millis(-1);
    let o = replay_on(
        data.path(),
        &["state", case.as_str(), "--as-of", &t.to_string()],
    );
    assert_exit(&o, 0);
    let v = json(&o);
    let want = commits[1].events.last().unwrap();
    assert_eq!(v["version"], want.header.case_version);
    assert_eq!(v["exists"], true);
    assert_eq!(v["state"]["last_hash"], want.hash.to_hex());
    // Before the report: the case did not exist yet.
    let before = commits[0].recorded_at.plus_millis(-1);
    let o = replay_on(
        data.path(),
        &["state", case.as_str(), "--as-of", &before.to_string()],
    );
    assert_exit(&o, 0);
    let v = json(&o);
    assert_eq!(v["exists"], false);
    assert_eq!(v["state"]["status"], "new");
    // A date is the end of that day in the deployment's time zone (Asia/Shanghai, UTC+8): the
    // state as it stood at its last instant (the output names the instant).
    let day_of_t = Timestamp::from_millis(t.as_millis() + 8 * 3_600_000)
        .to_string()
        .split('T')
        .next()
        .unwrap()
        .to_owned();
    let end_of_day = Timestamp::parse(&format!("{day_of_t}T23:59:59.999+08:00")).unwrap();
    let by_date = replay_on(data.path(), &["state", case.as_str(), "--as-of", &day_of_t]);
    let by_instant = replay_on(
        data.path(),
        &["state", case.as_str(), "--as-of", &end_of_day.to_string()],
    );
    assert_exit(&by_date, 0);
    assert_eq!(json(&by_date), json(&by_instant));
    // Default: now, everything.
    let o = replay_on(data.path(), &["state", case.as_str()]);
    assert_exit(&o, 0);
    let all: usize = commits.iter().map(|g| g.events.len()).sum();
    assert_eq!(json(&o)["version"], all as u64);
}

#[test]
fn verify_passes_on_an_intact_log_and_prints_the_rate() {
    let data = tiny_data();
    let o = replay_on(data.path(), &["verify"]);
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("PASS"), "{out}");
    assert!(
        out.contains(&format!(
            "{} commits, {} events, {} cases",
            tiny().len(),
            total_events(),
            total_cases()
        )),
        "{out}"
    );
    assert!(out.contains("events/s"), "{out}");
    assert!(
        out.contains(&format!("positions 1..={}", tiny().len())),
        "{out}"
    );

    let o = replay_on(data.path(), &["verify", "--format", "json"]);
    assert_exit(&o, 0);
    let v = json(&o);
    assert_eq!(v["passed"], true);
    assert_eq!(v["problem_count"], 0);
    assert_eq!(v["events"], total_events() as u64);
    assert_eq!(v["indexes_checked"], true);
}

/// The township's first village holding a case, and that village's cases.
fn a_village() -> (RegionCode, BTreeSet<String>) {
    let mut village = None;
    let mut cases = BTreeSet::new();
    for g in tiny() {
        for r in &g.events {
            let loc = match r.decode().unwrap() {
                Event::CaseReported(e) => Some(e.location),
                Event::CaseDetailsCorrected(e) => e.location,
                _ => None,
            };
            let Some(loc) = loc else { continue };
            let v = *village.get_or_insert_with(|| loc.parent().unwrap());
            if v.contains(loc) {
                cases.insert(g.case_id.to_string());
            }
        }
    }
    (village.unwrap(), cases)
}

#[test]
fn verify_a_region_counts_only_its_cases() {
    let data = tiny_data();
    let (village, cases) = a_village();
    let o = replay_on(
        data.path(),
        &[
            "verify",
            "--region",
            &village.to_string(),
            "--format",
            "json",
        ],
    );
    assert_exit(&o, 0);
    let v = json(&o);
    assert_eq!(v["cases"], cases.len() as u64);
    let events: usize = tiny()
        .iter()
        .filter(|g| cases.contains(g.case_id.as_str()))
        .map(|g| g.events.len())
        .sum();
    assert_eq!(v["events"], events as u64);
    assert_eq!(
        v["commits_read"],
        tiny().len() as u64,
        "the whole log is read"
    );
}

fn build_live_projection(data: &std::path::Path, upto: Option<u64>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let log = SledLog::open_read_only(data.join("log")).unwrap();
        let p = Projection::open(&data.join("projection"), Calendar::default()).unwrap();
        match upto {
            None => {
                p.catch_up(&log, |_, _| {}).await.unwrap();
            }
            Some(n) => {
                // As a server would have saved it, in bursts of various sizes.
                let mut next = 1;
                while next <= n {
                    let page = log
                        .read_from(Position::new(next), 37.min((n - next + 1) as usize))
                        .await
                        .unwrap();
                    p.apply_batch(&page).unwrap();
                    next += page.len() as u64;
                }
            }
        }
    });
}

#[test]
fn rebuild_is_byte_identical_to_a_live_projection() {
    let data = tiny_data();
    build_live_projection(data.path(), None);
    let out = data.path().join("rebuilt");
    let o = replay_on(data.path(), &["rebuild", "--out", out.to_str().unwrap()]);
    assert_exit(&o, 0);
    let text = stdout(&o);
    assert!(
        text.contains(&format!("up to position {}", tiny().len())),
        "{text}"
    );
    assert!(text.contains(&format!("{} cases", total_cases())), "{text}");
    assert!(text.contains("events/s"), "{text}");
    let dump = |dir: &std::path::Path| gridcase_projections::Store::dump_dir(dir).unwrap();
    assert_eq!(dump(&out), dump(&data.path().join("projection")));
    // Never into a directory that holds something.
    let o = replay_on(data.path(), &["rebuild", "--out", out.to_str().unwrap()]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
}

#[test]
fn verify_compares_the_live_projections_with_a_rebuild() {
    let data = tiny_data();
    build_live_projection(data.path(), None);
    let proj = data.path().join("projection");
    let o = replay_on(
        data.path(),
        &["verify", "--projections", proj.to_str().unwrap()],
    );
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("byte-identical"), "{out}");
    assert!(out.contains("(0 behind"), "{out}");
}

#[test]
fn verify_allows_a_lagging_projection_and_reports_the_lag() {
    let data = tiny_data();
    let n = tiny().len() as u64 - 100;
    build_live_projection(data.path(), Some(n));
    let proj = data.path().join("projection");
    let o = replay_on(
        data.path(),
        &["verify", "--projections", proj.to_str().unwrap()],
    );
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(
        out.contains(&format!("at checkpoint {n} (100 behind")),
        "{out}"
    );
    assert!(out.contains(&format!("rebuilt to position {n}")), "{out}");
    assert!(out.contains("byte-identical"), "{out}");
}

#[test]
fn verify_finds_a_live_projection_that_differs() {
    let data = tiny_data();
    build_live_projection(data.path(), None);
    let proj = data.path().join("projection");
    {
        // Alter one case view in the live snapshot, keeping the file well formed (entries, then
        // the entry count and a CRC-32 over everything before it): a projection written by a
        // faulty build, not a damaged file.
        let path = proj.join("projection.snapshot");
        let mut bytes = std::fs::read(&path).unwrap();
        let magic = b"GRIDCASE-PROJECTION-1\n".len();
        let end = bytes.len() - 12;
        let mut at = magic;
        let read_len =
            |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
        let mut altered = false;
        while at < end {
            let klen = read_len(&bytes, at);
            let key_first = bytes[at + 4];
            let vat = at + 4 + klen;
            let vlen = read_len(&bytes, vat);
            if key_first == b'c' {
                bytes[vat + 4 + vlen - 1] ^= 1;
                altered = true;
                break;
            }
            at = vat + 4 + vlen;
        }
        assert!(altered, "the snapshot holds a case view");
        let crc = crc32fast::hash(&bytes[..bytes.len() - 4]).to_le_bytes();
        let n = bytes.len();
        bytes[n - 4..].copy_from_slice(&crc);
        std::fs::write(&path, bytes).unwrap();
    }
    let o = replay_on(
        data.path(),
        &["verify", "--projections", proj.to_str().unwrap()],
    );
    assert_exit(&o, 1);
    let out = stdout(&o);
    assert!(out.contains("projection_mismatch"), "{out}");
    assert!(out.contains("case view"), "{out}");
    assert!(out.contains("differs from the rebuild"), "{out}");
}

#[test]
fn export_jsonl_streams_every_event_in_log_order() {
    let data = tiny_data();
    let o = replay_on(data.path(), &["export", "--format", "jsonl"]);
    assert_exit(&o, 0);
    let rows: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected: Vec<(u64, &gridcase_domain::EventRecord)> = tiny()
        .iter()
        .enumerate()
        .flat_map(|(i, g)| g.events.iter().map(move |r| (i as u64 + 1, r)))
        .collect();
    assert_eq!(rows.len(), expected.len());
    for (row, (p, r)) in rows.iter().zip(&expected) {
        assert_eq!(row["position"], *p);
        assert_eq!(row["case_id"], r.header.case_id.as_str());
        assert_eq!(row["version"], r.header.case_version);
        assert_eq!(row["hash"], r.hash.to_hex());
        assert_eq!(row["actor_id"], r.header.actor.id().as_str());
        assert_eq!(row["command_id"], r.header.command_id.as_str());
        assert_eq!(
            row["facts"],
            serde_json::to_value(r.decode().unwrap()).unwrap()
        );
    }
}

#[test]
fn export_csv_has_a_header_and_one_row_per_event() {
    let data = tiny_data();
    let o = replay_on(data.path(), &["export", "--format", "csv"]);
    assert_exit(&o, 0);
    let mut rd = csv::Reader::from_reader(o.stdout.as_slice());
    let header: Vec<String> = rd.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header.first().map(String::as_str), Some("position"));
    assert_eq!(header.last().map(String::as_str), Some("facts"));
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), total_events());
    let facts = header.iter().position(|h| h == "facts").unwrap();
    let first = tiny()[0].events[0].decode().unwrap();
    let parsed: Value = serde_json::from_str(&rows[0][facts]).unwrap();
    assert_eq!(parsed, serde_json::to_value(first).unwrap());
}

/// What an outside tool reads of the hashed bytes (a MessagePack map with named fields).
#[derive(serde::Deserialize)]
struct Hashed {
    header: HashedHeader,
    event_type: String,
    schema_version: u64,
    body: serde_bytes::ByteBuf,
    prev_hash: serde_bytes::ByteBuf,
}

#[derive(serde::Deserialize)]
struct HashedHeader {
    case_id: String,
    case_version: u64,
}

/// With `--hashed-bytes` every row carries the bytes its hash is taken over: SHA-256 of them is
/// the hash, and they read (as any MessagePack reader reads them) as the row's event.
#[test]
fn export_gives_outside_tools_the_bytes_each_hash_covers() {
    use sha2::{Digest, Sha256};
    let data = tiny_data();
    let o = replay_on(
        data.path(),
        &["export", "--format", "jsonl", "--hashed-bytes"],
    );
    assert_exit(&o, 0);
    let out = stdout(&o);
    let mut rows = 0;
    for line in out.lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        let hex = row["hashed"].as_str().unwrap();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(row["hash"], digest.as_str(), "{row}");
        let read: Hashed = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(read.event_type, row["event_type"].as_str().unwrap());
        assert_eq!(read.schema_version, row["schema_version"].as_u64().unwrap());
        assert_eq!(read.header.case_id, row["case_id"].as_str().unwrap());
        assert_eq!(read.header.case_version, row["version"].as_u64().unwrap());
        let prev: String = read.prev_hash.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(row["prev_hash"], prev.as_str());
        assert!(!read.body.is_empty(), "the body as stored: {row}");
        rows += 1;
    }
    assert_eq!(rows, total_events());
    // Not with --redact: the bytes hold what a redacted export leaves out.
    let o = replay_on(
        data.path(),
        &["export", "--format", "jsonl", "--hashed-bytes", "--redact"],
    );
    assert_exit(&o, 2);
}

/// Every free text, party id and actor id in the fixture.
fn secrets() -> BTreeSet<String> {
    let mut s = BTreeSet::new();
    let mut text = |t: &str| {
        if t.chars().count() >= 4 {
            s.insert(t.to_owned());
        }
    };
    for g in tiny() {
        for r in &g.events {
            text(r.header.actor.id().as_str());
            text(r.header.command_id.as_str());
            match r.decode().unwrap() {
                Event::CaseReported(e) => {
                    text(e.summary.clear().unwrap());
                    for p in &e.parties {
                        text(p.id.as_str());
                    }
                }
                Event::CaseRejected(e) => text(e.note.clear().unwrap()),
                Event::CaseAssigned(e) => text(e.handler.as_str()),
                Event::CaseEscalated(e) => text(e.reason.clear().unwrap()),
                Event::CaseDelegated(e) => text(e.reason.clear().unwrap()),
                Event::CaseTakenOver(e) => text(e.reason.clear().unwrap()),
                Event::CaseReferred(e) => {
                    text(&e.body);
                    text(e.reason.clear().unwrap());
                }
                Event::ReferralReturned(e) => text(e.reason.clear().unwrap()),
                Event::MediationStarted(e) => text(e.mediator.as_str()),
                Event::MediationSessionHeld(e) => text(e.summary.clear().unwrap()),
                Event::MediationConcluded(e) => text(e.note.clear().unwrap()),
                Event::CaseResolved(e) => {
                    text(e.by.as_str());
                    text(e.summary.clear().unwrap());
                }
                Event::ResolutionVerified(e) => text(e.note.clear().unwrap()),
                Event::ResolutionRejected(e) => text(e.reason.clear().unwrap()),
                Event::FeedbackRecorded(e) => text(e.comment.clear().unwrap()),
                Event::CaseReopened(e) => text(e.note.clear().unwrap()),
                Event::DeadlineExtended(e) => text(e.reason.clear().unwrap()),
                Event::SupervisionIssued(e) => text(e.note.clear().unwrap()),
                Event::NoteAdded(e) => text(e.text.clear().unwrap()),
                Event::EvidenceAttached(e) => text(e.description.clear().unwrap()),
                Event::CaseMerged(e) => text(e.reason.clear().unwrap()),
                Event::CaseDetailsCorrected(e) => {
                    text(e.reason.clear().unwrap());
                    if let Some(s) = &e.summary {
                        text(s.clear().unwrap());
                    }
                }
                Event::PartyAdded(e) => text(e.party.id.as_str()),
                Event::CaseRegistered(_) | Event::CaseClosed(_) => {}
            }
        }
    }
    s
}

#[test]
fn a_redacted_export_has_no_personal_data_or_free_text() {
    let data = tiny_data();
    let secrets = secrets();
    assert!(secrets.len() > 100, "the fixture has free text to hide");
    for format in ["jsonl", "csv"] {
        let o = replay_on(data.path(), &["export", "--format", format, "--redact"]);
        assert_exit(&o, 0);
        let out = stdout(&o);
        for s in &secrets {
            assert!(!out.contains(s.as_str()), "{format} export leaks {s:?}");
        }
        for col in [
            "actor_id",
            "command_id",
            "correlation_id",
            "causation_id",
            "summary",
            "parties",
        ] {
            assert!(!out.contains(col), "{format} export has {col}");
        }
        assert!(
            out.contains("party_count") && out.contains("actor_role"),
            "{format}"
        );
    }
    // Still one row per event, with the facts analysts need.
    let o = replay_on(data.path(), &["export", "--format", "jsonl", "--redact"]);
    let rows: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), total_events());
    let resolved = rows
        .iter()
        .find(|r| r["event_type"] == "CaseResolved")
        .unwrap();
    assert!(resolved["facts"]["level"].is_string() && resolved["facts"]["on_time"].is_boolean());
}

#[test]
fn export_filters_by_region_and_dates() {
    let data = tiny_data();
    let (village, cases) = a_village();
    let cal = Calendar::default();
    let april = Period::parse("2025-04").unwrap();
    let (from, until) = (cal.day_start(april.from), cal.day_start(april.to));
    let expected = tiny()
        .iter()
        .filter(|g| cases.contains(g.case_id.as_str()))
        .filter(|g| g.recorded_at >= from && g.recorded_at < until)
        .map(|g| g.events.len())
        .sum::<usize>();
    assert!(expected > 0);
    let o = replay_on(
        data.path(),
        &[
            "export",
            "--format",
            "jsonl",
            "--region",
            &village.to_string(),
            "--from",
            "2025-04-01",
            "--to",
            "2025-04-30",
        ],
    );
    assert_exit(&o, 0);
    let rows: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), expected);
    for r in &rows {
        assert!(cases.contains(r["case_id"].as_str().unwrap()));
        let t = Timestamp::parse(r["recorded_at"].as_str().unwrap()).unwrap();
        assert!(t >= from && t < until);
    }
    // A month as a period means the same.
    let o = replay_on(
        data.path(),
        &[
            "export",
            "--format",
            "jsonl",
            "--region",
            &village.to_string(),
            "--from",
            "2025-04",
            "--to",
            "2025-04",
        ],
    );
    assert_eq!(stdout(&o).lines().count(), expected);
    let o = replay_on(
        data.path(),
        &[
            "export",
            "--format",
            "csv",
            "--from",
            "2025-05-01",
            "--to",
            "2025-04-01",
        ],
    );
    assert_exit(&o, 2);
}

/// Equal JSON, numbers within printing precision.
fn assert_json_close(a: &Value, b: &Value, path: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                "{path}: {x} != {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                assert_json_close(x, y, &format!("{path}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{path}"
            );
            for (k, x) in x {
                assert_json_close(x, &y[k], &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

#[test]
fn stats_as_of_match_the_projection_replayed_to_that_time() {
    let data = tiny_data();
    let cal = Calendar::default();
    let township: RegionCode = "330802100".parse().unwrap();
    for t in ["2025-04-15T00:00:00+08:00", "2025-12-31T00:00:00+08:00"] {
        let o = replay_on(
            data.path(),
            &[
                "stats",
                "--region",
                "330802100",
                "--period",
                "2025-Q2",
                "--as-of",
                t,
                "--breakdown",
                "category",
            ],
        );
        assert_exit(&o, 0);
        let mut v = json(&o);
        assert_eq!(
            v["as_of"],
            serde_json::to_value(Timestamp::parse(t).unwrap()).unwrap()
        );
        // The same question asked of the projections directly.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let want = rt.block_on(async {
            let log = SledLog::open_read_only(data.path().join("log")).unwrap();
            let p = as_of(&log, cal.clone(), Timestamp::parse(t).unwrap())
                .await
                .unwrap();
            let q = StatsQuery {
                region: township,
                period: Period::parse("2025-Q2").unwrap(),
                breakdown: Some(gridcase_projections::Breakdown::Category),
                drill_down: false,
                rank_by: Default::default(),
                as_of: Some(Timestamp::parse(t).unwrap()),
            };
            serde_json::to_value(p.stats(&q, gridcase_regions::bundled_divisions())).unwrap()
        });
        let obj = v.as_object_mut().unwrap();
        obj.remove("as_of");
        obj.remove("cases_as_of");
        assert_json_close(&v, &want, "$");
    }
    let early = replay_on(
        data.path(),
        &[
            "stats",
            "--region",
            "330802100",
            "--period",
            "2025-Q2",
            "--as-of",
            "2025-04-15T00:00:00+08:00",
        ],
    );
    let late = replay_on(
        data.path(),
        &[
            "stats",
            "--region",
            "330802100",
            "--period",
            "2025-Q2",
            "--as-of",
            "2025-12-31T00:00:00+08:00",
        ],
    );
    let reg =
        |o: &std::process::Output| json(o)["figures"]["cohort"]["registered"].as_i64().unwrap();
    assert!(
        reg(&early) < reg(&late),
        "fewer cases were registered by mid-April"
    );
    let o = replay_on(
        data.path(),
        &[
            "stats",
            "--region",
            "330802100",
            "--period",
            "2025-Q2",
            "--drill-down",
        ],
    );
    assert_exit(&o, 0);
    assert!(!json(&o)["children"].as_array().unwrap().is_empty());
}

#[test]
fn region_data_and_time_zone_come_from_the_config_or_the_command_line() {
    let data = tiny_data();
    let dir = tempfile::tempdir().unwrap();
    let (village, _) = a_village();
    let village_arg = village.to_string();
    let grids: BTreeSet<String> = tiny()
        .iter()
        .flat_map(|g| &g.events)
        .filter_map(|r| match r.decode().unwrap() {
            Event::CaseReported(e) => Some(e.location),
            _ => None,
        })
        .filter(|l| village.contains(*l) && *l != village)
        .map(|l| l.to_string())
        .collect();
    assert!(!grids.is_empty());
    let grid_file = dir.path().join("grids.csv");
    let text: String = grids.iter().map(|g| format!("{g}\n")).collect();
    std::fs::write(&grid_file, format!("# the village's grids\n{text}")).unwrap();
    // `stats` of the village's year, drilled down, after `extra`; on the fixture's data
    // directory unless `extra` says where the log is.
    let stats_after = |extra: &[&str]| {
        let mut args = extra.to_vec();
        args.extend(["stats", "--region", &village_arg, "--period", "2025"]);
        args.push("--drill-down");
        replay(&args)
    };
    let data_arg = data.path().to_str().unwrap();
    let stats = |extra: &[&str]| stats_after(&[&["--data", data_arg], extra].concat());
    let children = |o: &std::process::Output| json(o)["children"].as_array().unwrap().len();

    // Without a grid file a village has no children to drill down to.
    let o = stats(&[]);
    assert_exit(&o, 0);
    assert_eq!(children(&o), 0);
    assert_eq!(json(&o)["time_zone"], "Asia/Shanghai");

    // --grids names them.
    let o = stats(&["--grids", grid_file.to_str().unwrap()]);
    assert_exit(&o, 0);
    assert_eq!(children(&o), grids.len());

    // So does the server's configuration, with its time zone; the command line wins.
    let config = dir.path().join("gridcase.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:9999\"\ntime_zone = \"Asia/Urumqi\"\n[regions]\ngrids = {:?}\n",
            grid_file.to_str().unwrap()
        ),
    )
    .unwrap();
    let o = stats(&["--config", config.to_str().unwrap()]);
    assert_exit(&o, 0);
    assert_eq!(children(&o), grids.len());
    assert_eq!(json(&o)["time_zone"], "Asia/Urumqi");
    let o = stats(&[
        "--config",
        config.to_str().unwrap(),
        "--time-zone",
        "Asia/Shanghai",
    ]);
    assert_eq!(json(&o)["time_zone"], "Asia/Shanghai");

    // The configuration's data directory is where the log is read when --data is not given.
    let with_dir = dir.path().join("with-data-dir.toml");
    std::fs::write(
        &with_dir,
        format!(
            "data_dir = {:?}\n[regions]\ngrids = {:?}\n",
            data.path().to_str().unwrap(),
            grid_file.to_str().unwrap()
        ),
    )
    .unwrap();
    let o = stats_after(&["--config", with_dir.to_str().unwrap()]);
    assert_exit(&o, 0);
    // (As of now: the two runs' "now" differ.)
    let but_now = |o: &std::process::Output| {
        let mut v = json(o);
        v["as_of"] = Value::Null;
        v["overdue"]["as_of"] = Value::Null;
        v
    };
    assert_eq!(
        but_now(&o),
        but_now(&stats(&["--grids", grid_file.to_str().unwrap()]))
    );

    // Ranked by the rate asked for, as the API's rank_by: lower rework first.
    let grid_arg = grid_file.to_str().unwrap();
    let ranked = |rate: &str| {
        replay_on(
            data.path(),
            &[
                "--grids",
                grid_arg,
                "stats",
                "--region",
                &village_arg,
                "--period",
                "2025",
                "--drill-down",
                "--rank-by",
                rate,
            ],
        )
    };
    let o = ranked("rework");
    assert_exit(&o, 0);
    let v = json(&o);
    assert_eq!(v["ranked_by"], "rework", "{v}");
    let values: Vec<f64> = v["children"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["rank_value"].as_f64())
        .collect();
    assert!(values.windows(2).all(|w| w[0] <= w[1]), "{values:?}");
    let o = ranked("speed");
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("township_rate"), "{}", stderr(&o));

    // A division table the region is not in: unknown region.
    let divisions = dir.path().join("divisions.csv");
    std::fs::write(
        &divisions,
        "code,name,level,parent\n330100,杭州市,city,33\n",
    )
    .unwrap();
    let o = stats(&["--divisions", divisions.to_str().unwrap()]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("unknown region"), "{}", stderr(&o));

    // A broken one: the file and the line.
    std::fs::write(
        &divisions,
        "code,name,level,parent\n330100,杭州市,county,33\n",
    )
    .unwrap();
    let o = stats(&["--divisions", divisions.to_str().unwrap()]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(err.contains("loading the region data"), "{err}");
    assert!(
        err.contains(&format!(
            "caused by: the division table {}",
            divisions.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("caused by: line 2: region 330100 is a city code"),
        "{err}"
    );
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let data = tiny_data();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridcase-replay"))
        .args([
            "--data",
            data.path().to_str().unwrap(),
            "export",
            "--format",
            "jsonl",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with('{'));
    // The reader is gone (like `| head -1`).
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}
