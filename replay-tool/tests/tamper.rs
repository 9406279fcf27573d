//! Tampering with the embedded store is detected by `verify` (exit status 1), naming the case
//! and version. Each test edits a fresh copy of the `tiny` log with raw sled writes, as an
//! attacker with file access (or a failing disk) would.

mod common;

use std::path::Path;

use common::*;
use gridcase_bus::raw::frame as seal_value;
use gridcase_bus::testing::sled_commit_key as commit_key;
use gridcase_bus::{Position, SledLog};
use gridcase_domain::{CaseId, Event};

/// Positions are the append order: the i-th generated commit is at position i + 1.
fn positions_of(case: &CaseId) -> Vec<Position> {
    tiny()
        .iter()
        .enumerate()
        .filter(|(_, g)| g.case_id == *case)
        .map(|(i, _)| Position::new(i as u64 + 1))
        .collect()
}

/// Edits the raw tree of the log in `data` (the tool is not running).
fn edit(data: &Path, f: impl FnOnce(&sled::Tree)) {
    let log = SledLog::open(data.join("log")).unwrap();
    f(log.raw_tree());
    log.flush().unwrap();
}

/// Alters one byte inside the summary of a case's report (still valid UTF-8, so the record
/// decodes); returns the case and the position of the report.
fn alter_one_byte(data: &Path, reframe: bool) -> (CaseId, Position) {
    let (case, commits) = case_with_commits(2);
    let Event::CaseReported(report) = commits[0].events[0].decode().unwrap() else {
        panic!("version 1 is the report")
    };
    let p = positions_of(&case)[0];
    edit(data, |tree| {
        let mut v = tree.get(commit_key(p)).unwrap().unwrap().to_vec();
        let summary = report.summary.clear().expect("fixtures write clear text");
        let needle = summary.as_bytes();
        let at = v
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("the summary is stored as is");
        // The last byte of the first three-byte character: flipping its lowest bit gives
        // another valid character.
        let (i, ch) = summary
            .char_indices()
            .find(|(_, c)| c.len_utf8() == 3)
            .expect("a CJK character in the summary");
        v[at + i + 2] ^= 1;
        assert!(std::str::from_utf8(&v[at..at + needle.len()]).is_ok());
        assert_ne!(
            std::str::from_utf8(&v[at + i..at + i + 3])
                .unwrap()
                .chars()
                .next(),
            Some(ch)
        );
        if reframe {
            v = seal_value(&v[4..]);
        }
        tree.insert(commit_key(p), v).unwrap();
    });
    (case, p)
}

#[test]
fn an_altered_byte_with_a_valid_checksum_breaks_the_hash() {
    let data = tiny_data();
    let (case, p) = alter_one_byte(data.path(), true);
    let o = replay_on(data.path(), &["verify"]);
    assert_exit(&o, 1);
    assert_reports_a_broken_hash(&stdout(&o), &case, p);
    // The history shows the broken event too.
    let o = replay_on(data.path(), &["history", case.as_str()]);
    assert_exit(&o, 1);
    assert!(
        stdout(&o).contains("BROKEN: stored hash does not match"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn an_altered_byte_without_reframing_fails_the_checksum_and_names_the_case() {
    let data = tiny_data();
    let (case, p) = alter_one_byte(data.path(), false);
    let o = replay_on(data.path(), &["verify"]);
    assert_exit(&o, 1);
    assert_reports_a_failed_checksum(data.path(), &stdout(&o), &case, p);
}

#[test]
fn garbage_in_a_value_is_a_problem_at_its_position_not_a_crash() {
    let data = tiny_data();
    let (case, commits) = case_with_commits(3);
    let p = positions_of(&case)[1];
    edit(data.path(), |tree| {
        tree.insert(commit_key(p), seal_value(b"\xc1 not a commit"))
            .unwrap();
    });
    let o = replay_on(data.path(), &["verify", "--max-problems", "50"]);
    assert_exit(&o, 1);
    let out = stdout(&o);
    let v2 = commits[1].events[0].header.case_version;
    let line = line_with(&out, "[undecodable]");
    assert!(
        line.contains(&format!("case {case}, version {v2}, position {p}")),
        "named through the case index: {out}"
    );
    // The rest of the log was still read.
    assert!(out.contains(&format!("read {} in", tiny().len())), "{out}");
}

#[test]
fn a_deleted_commit_is_found() {
    let data = tiny_data();
    let (case, commits) = case_with_commits(3);
    let p = positions_of(&case)[1];
    let deleted = commits[1].events[0].header.case_version;
    edit(data.path(), |tree| {
        tree.remove(commit_key(p)).unwrap();
    });
    let o = replay_on(data.path(), &["verify", "--max-problems", "50"]);
    assert_exit(&o, 1);
    let out = stdout(&o);
    assert!(out.contains(&format!("position {p} is missing")), "{out}");
    let gap = line_with(&out, "[version_gap]");
    assert!(gap.contains(&format!("case {case}")), "{out}");
    assert!(
        gap.contains(&format!("version {deleted} is missing"))
            || gap.contains(&format!("versions {deleted}..=")),
        "{out}"
    );
    let index = line_with(&out, "[index_mismatch]");
    assert!(
        index.contains(&format!("case {case}, version {deleted}, position {p}")),
        "{out}"
    );
}

#[test]
fn a_deleted_last_commit_of_a_case_is_found_through_its_head() {
    let data = tiny_data();
    let (case, commits) = case_with_commits(2);
    let ps = positions_of(&case);
    let p = *ps.last().unwrap();
    edit(data.path(), |tree| {
        tree.remove(commit_key(p)).unwrap();
    });
    let o = replay_on(data.path(), &["verify", "--max-problems", "50"]);
    assert_exit(&o, 1);
    let out = stdout(&o);
    let last_version = commits
        .last()
        .unwrap()
        .events
        .last()
        .unwrap()
        .header
        .case_version;
    let head = line_with(&out, "[head_mismatch]");
    assert!(
        head.contains(&format!("case {case}, version {last_version}")),
        "{out}"
    );
}

#[test]
fn two_reordered_commits_of_a_case_are_found() {
    let data = tiny_data();
    let (case, commits) = case_with_commits(3);
    let ps = positions_of(&case);
    let (a, b) = (ps[1], ps[2]);
    edit(data.path(), |tree| {
        let va = tree.get(commit_key(a)).unwrap().unwrap();
        let vb = tree.get(commit_key(b)).unwrap().unwrap();
        tree.insert(commit_key(a), vb).unwrap();
        tree.insert(commit_key(b), va).unwrap();
    });
    let o = replay_on(data.path(), &["verify", "--max-problems", "50"]);
    assert_exit(&o, 1);
    let out = stdout(&o);
    // At position a the case jumps to the third commit's first version.
    let third = commits[2].events[0].header.case_version;
    let second = commits[1].events[0].header.case_version;
    let first_problem = out
        .lines()
        .find(|l| l.contains(&format!("case {case}")) && !l.contains("warning"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        first_problem.contains(&format!("case {case}, version {third}, position {a}")),
        "{out}"
    );
    assert!(first_problem.contains("[version_gap]"), "{out}");
    assert!(
        out.contains(&format!(
            "case {case}, version {second}, position {b} [version_order]"
        )),
        "{out}"
    );
}

#[test]
fn verify_of_a_region_ignores_damage_to_other_regions_cases_but_not_unreadable_commits() {
    let data = tiny_data();
    let (case, _) = alter_one_byte(data.path(), true);
    // A village other than the damaged case's.
    let loc = match tiny().iter().find(|g| g.case_id == case).unwrap().events[0]
        .decode()
        .unwrap()
    {
        Event::CaseReported(e) => e.location,
        _ => unreachable!(),
    };
    let other = tiny()
        .iter()
        .filter_map(|g| match g.events[0].decode().unwrap() {
            Event::CaseReported(e) if g.expected_version == 0 => Some(e.location.parent().unwrap()),
            _ => None,
        })
        .find(|v| !v.contains(loc))
        .unwrap();
    let o = replay_on(data.path(), &["verify", "--region", &other.to_string()]);
    assert_exit(&o, 0);
    let o = replay_on(
        data.path(),
        &["verify", "--region", &loc.parent().unwrap().to_string()],
    );
    assert_exit(&o, 1);
    assert!(
        stdout(&o).contains(&format!("case {case}, version 1")),
        "{}",
        stdout(&o)
    );
}
