//! The auditors' tool on the file log, the embedded store new data directories get: `verify`
//! passes on a whole store; a byte altered in a stored commit is found — re-framed, as a broken
//! hash naming case, version and position; not re-framed, as a failed checksum naming them —
//! and the rest is verified; a reader that needs the whole log refuses it with the position;
//! a record removed from the middle or cut off the end is found against a tree head kept
//! from an earlier verify, which a grown log still matches.
//! Each test edits a fresh copy of the `tiny` log's file, as an attacker with file access (or
//! a failing disk) would.

mod common;

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::OnceLock;

use common::*;
use gridcase_bus::raw::frame as seal_value;
use gridcase_bus::{FileLog, Position, LOG_FILE};
use gridcase_domain::{CaseId, Event};
use tempfile::TempDir;

/// The tiny fixture written into `data/log` as a file log, once per test binary.
fn template() -> &'static Path {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| file_log_of(tiny())).path()
}

/// A data directory whose file log holds `commits`.
fn file_log_of(commits: &[gridcase_fixtures::GeneratedCommit]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let log = FileLog::open(dir.path().join("log")).unwrap();
    rt.block_on(append_all(&log, commits));
    drop(log);
    dir
}

fn tiny_file_data() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(template(), dir.path());
    dir
}

/// The file offset of the stored value at `position`: past the 16-byte header and, for each
/// record before it, its 8-byte record header and its value.
fn value_offset(file: &std::fs::File, position: Position) -> (u64, usize) {
    let mut at = 16u64;
    let mut len = [0u8; 4];
    for p in 1..=position.get() {
        file.read_exact_at(&mut len, at).unwrap();
        let n = u32::from_le_bytes(len) as usize;
        if p == position.get() {
            return (at + 8, n);
        }
        at += 8 + n as u64;
    }
    unreachable!("positions start at 1")
}

/// Alters one byte inside the summary of a case's report (still valid UTF-8, so the record
/// decodes), re-framing the value when `reframe`; returns the case and the report's position.
fn alter_one_byte(data: &Path, reframe: bool) -> (CaseId, Position) {
    let (case, commits) = case_with_commits(2);
    let Event::CaseReported(report) = commits[0].events[0].decode().unwrap() else {
        panic!("version 1 is the report")
    };
    // Positions are the append order: the i-th generated commit is at position i + 1.
    let p = Position::new(tiny().iter().position(|g| g.case_id == case).unwrap() as u64 + 1);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(data.join("log").join(LOG_FILE))
        .unwrap();
    let (offset, len) = value_offset(&file, p);
    let mut v = vec![0u8; len];
    file.read_exact_at(&mut v, offset).unwrap();
    let summary = report.summary.clear().expect("fixtures write clear text");
    let at = v
        .windows(summary.len())
        .position(|w| w == summary.as_bytes())
        .expect("the summary is stored as is");
    // The last byte of the first three-byte character: flipping its lowest bit gives another
    // valid character.
    let (i, _) = summary
        .char_indices()
        .find(|(_, c)| c.len_utf8() == 3)
        .expect("a CJK character in the summary");
    v[at + i + 2] ^= 1;
    if reframe {
        v = seal_value(&v[4..]);
    }
    file.write_all_at(&v, offset).unwrap();
    (case, p)
}

#[test]
fn verify_passes_on_a_whole_file_log() {
    let data = tiny_file_data();
    let o = replay_on(data.path(), &["verify"]);
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("PASS"), "{out}");
    assert!(
        out.contains(&format!("positions 1..={}", tiny().len())),
        "{out}"
    );
    let (case, commits) = case_with_commits(2);
    let o = replay_on(data.path(), &["history", case.as_str()]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains(&format!("version {}", commits.len())),
        "{}",
        stdout(&o)
    );
}

#[test]
fn an_altered_byte_with_a_valid_checksum_breaks_the_hash() {
    let data = tiny_file_data();
    let (case, p) = alter_one_byte(data.path(), true);
    let o = replay_on(data.path(), &["verify"]);
    assert_exit(&o, 1);
    assert_reports_a_broken_hash(&stdout(&o), &case, p);
}

#[test]
fn an_altered_byte_without_reframing_fails_the_checksum_and_names_the_case() {
    let data = tiny_file_data();
    let (case, p) = alter_one_byte(data.path(), false);
    let o = replay_on(data.path(), &["verify"]);
    assert_exit(&o, 1);
    assert_reports_a_failed_checksum(data.path(), &stdout(&o), &case, p);
}

/// The tree head `verify` prints (`SIZE:ROOT`).
fn tree_head(data: &Path) -> String {
    let o = replay_on(data, &["verify", "--format", "json"]);
    assert_exit(&o, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    v["tree_head"].as_str().unwrap().to_owned()
}

/// Removes the record at `position` from the log file, as someone with file access would to
/// make a commit disappear: the records after it move up, their positions one lower.
fn remove_record(data: &Path, position: Position) {
    let path = data.join("log").join(LOG_FILE);
    let bytes = std::fs::read(&path).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let (offset, len) = value_offset(&file, position);
    let start = offset as usize - 8;
    let mut kept = bytes[..start].to_vec();
    kept.extend_from_slice(&bytes[offset as usize + len..]);
    std::fs::write(&path, kept).unwrap();
}

#[test]
fn a_removed_record_is_found_against_a_kept_tree_head() {
    let data = tiny_file_data();
    let kept = tree_head(data.path());
    let (size, _) = kept.split_once(':').unwrap();
    assert_eq!(size, tiny().len().to_string());
    // A whole store matches the tree head kept from it.
    let o = replay_on(data.path(), &["verify", "--checkpoint", &kept]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("1 kept tree head(s) compared"),
        "{}",
        stdout(&o)
    );

    // The last commit of a case removed from the middle of the file: every chain still holds
    // (the case simply ends earlier) and positions stay contiguous, but the tree does not.
    let (_, commits) = case_with_commits(3);
    let last = commits.last().unwrap();
    let p = Position::new(
        tiny()
            .iter()
            .position(|g| g.command_id == last.command_id)
            .unwrap() as u64
            + 1,
    );
    assert!(p.get() < tiny().len() as u64, "a record in the middle");
    remove_record(data.path(), p);
    let o = replay_on(data.path(), &["verify", "--checkpoint", &kept]);
    assert_exit(&o, 1);
    let out = stdout(&o);
    let line = line_with(&out, "[checkpoint_mismatch]");
    assert!(line.contains("fewer than"), "{out}");
}

#[test]
fn a_changed_or_cut_log_differs_from_the_tree_head_and_a_grown_one_matches() {
    // A head kept when the log held its first commits: the whole log still matches it.
    let half = tiny().len() / 2;
    let early = tree_head(file_log_of(&tiny()[..half]).path());
    assert!(early.starts_with(&format!("{half}:")), "{early}");
    let data = tiny_file_data();
    let o = replay_on(data.path(), &["verify", "--checkpoint", &early]);
    assert_exit(&o, 0);

    // One record of the early part removed: the first `half` commits now hash differently.
    remove_record(data.path(), Position::new(2));
    let o = replay_on(data.path(), &["verify", "--checkpoint", &early]);
    assert_exit(&o, 1);
    let out = stdout(&o);
    let line = line_with(&out, "[checkpoint_mismatch]");
    assert!(
        line.contains(&format!("the first {half} commits are not those")),
        "{out}"
    );

    // A head that does not parse is a usage error.
    let o = replay_on(data.path(), &["verify", "--checkpoint", "12:zz"]);
    assert_exit(&o, 2);
}
