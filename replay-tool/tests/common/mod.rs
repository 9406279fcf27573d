//! Shared test support: a data directory holding the `tiny` fixture (seed 1), built once per
//! test binary and copied for each test that needs its own, and a runner for the binary.

#![allow(dead_code, missing_docs)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use gridcase_bus::{partition_of, Commit, EventLog, SledLog};
use gridcase_domain::{CaseId, RegionCode};
use gridcase_fixtures::{GeneratedCommit, Scale};
use tempfile::TempDir;

/// The tiny fixture's commits, in generation order.
pub fn tiny() -> &'static [GeneratedCommit] {
    static TINY: OnceLock<Vec<GeneratedCommit>> = OnceLock::new();
    TINY.get_or_init(|| Scale::Tiny.generator(1).collect())
}

/// The commits as `Commit`s for `append`, with each case's stable partition.
pub fn commits(gs: &[GeneratedCommit]) -> Vec<Commit> {
    let mut partitions: HashMap<CaseId, RegionCode> = HashMap::new();
    gs.iter()
        .map(|g| {
            let partition = *partitions
                .entry(g.case_id.clone())
                .or_insert_with(|| partition_of(g.command.actor.unit()));
            Commit {
                case_id: g.case_id.clone(),
                partition,
                command_id: g.command_id.clone(),
                expected_version: g.expected_version,
                events: g.events.clone(),
                fingerprint: None,
            }
        })
        .collect()
}

/// Appends every commit, in order, to `log`.
pub async fn append_all<L: EventLog>(log: &L, gs: &[GeneratedCommit]) {
    for c in commits(gs) {
        let a = log.append(c).await.expect("append");
        assert!(!a.duplicate);
    }
}

/// Writes the tiny fixture into `data/log` (a server data directory).
pub fn write_tiny(data: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let log = SledLog::open(data.join("log")).unwrap();
    rt.block_on(append_all(&log, tiny()));
    log.flush().unwrap();
    drop(log);
}

fn template() -> &'static Path {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        write_tiny(dir.path());
        dir
    })
    .path()
}

/// Copies the directory tree `from` into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A fresh copy of the tiny data directory, for tests that change it or hold its lock.
pub fn tiny_data() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(template(), dir.path());
    dir
}

/// Runs `gridcase-replay` with `args`.
pub fn replay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridcase-replay"))
        .args(args)
        .env_remove("GRIDCASE_DATA_DIR")
        .env_remove("GRIDCASE_NATS_URL")
        .env_remove("GRIDCASE_TIME_ZONE")
        .output()
        .expect("run gridcase-replay")
}

/// Runs `gridcase-replay --data <data> args…`.
pub fn replay_on(data: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--data", data.to_str().unwrap()];
    all.extend_from_slice(args);
    replay(&all)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the exit status, showing the output when it differs.
#[track_caller]
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit status\n--- stdout\n{}\n--- stderr\n{}",
        stdout(o),
        stderr(o)
    );
}

/// A case with at least `n` commits, and its commits in order.
pub fn case_with_commits(n: usize) -> (CaseId, Vec<&'static GeneratedCommit>) {
    let mut by_case: HashMap<&CaseId, Vec<&GeneratedCommit>> = HashMap::new();
    for g in tiny() {
        by_case.entry(&g.case_id).or_default().push(g);
    }
    // The first such case in log order, for determinism.
    for g in tiny() {
        let cs = &by_case[&g.case_id];
        if cs.len() >= n {
            return (g.case_id.clone(), cs.clone());
        }
    }
    panic!("no case with {n} commits in the tiny fixture");
}

pub fn data_path(d: &TempDir) -> PathBuf {
    d.path().to_owned()
}

/// The first line of `out` that contains `needle`; panics showing `out` if none does.
#[track_caller]
pub fn line_with<'a>(out: &'a str, needle: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
}

/// `verify`'s report of a byte altered in the report of `case` at position `p` and then
/// re-framed: a broken hash naming them, no checksum failure, the rest verified.
#[track_caller]
pub fn assert_reports_a_broken_hash(out: &str, case: &CaseId, p: gridcase_bus::Position) {
    assert!(out.contains("FAIL"), "{out}");
    let first = line_with(out, "hash_mismatch");
    assert!(
        first.contains(&format!("case {case}, version 1, position {p}")),
        "{out}"
    );
    assert!(!out.contains("checksum"), "the value was re-framed: {out}");
    assert!(
        out.contains(&format!("read {} in", tiny().len())),
        "the rest is read: {out}"
    );
}

/// `verify`'s report of a byte altered in the report of `case` at position `p` without
/// re-framing: a failed checksum naming them; then `export`, which needs the whole log,
/// refuses it with the position.
#[track_caller]
pub fn assert_reports_a_failed_checksum(
    data: &Path,
    out: &str,
    case: &CaseId,
    p: gridcase_bus::Position,
) {
    let line = line_with(out, "[checksum]");
    assert!(
        line.contains(&format!("case {case}, version 1, position {p}")),
        "{out}"
    );
    assert!(
        out.contains("hash_mismatch"),
        "the bytes still decode, so the hash is checked: {out}"
    );
    let o = replay_on(data, &["export", "--format", "jsonl"]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains(&format!("corrupt commit at position {p}")),
        "{}",
        stderr(&o)
    );
}
