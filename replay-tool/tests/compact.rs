//! A store compacted with `SledLog::compact_into` (what `gridcase compact` runs) is, for the
//! auditors' tool, the same log: `verify` passes on the copy as on the original, and reports
//! the same commits, events and cases.

mod common;

use common::*;
use gridcase_bus::SledLog;

/// The report's lines that do not name the directory, without the reading speed.
fn findings(out: &str, data: &std::path::Path) -> Vec<String> {
    let dir = data.display().to_string();
    out.lines()
        .filter(|l| !l.contains(&dir))
        .map(|l| l.split("; read ").next().unwrap_or(l).to_owned())
        .collect()
}

#[test]
fn a_compacted_copy_verifies_as_the_original() {
    let data = tiny_data();
    let copy = tempfile::tempdir().unwrap();
    let compacted = SledLog::open_read_only(data.path().join("log"))
        .unwrap()
        .compact_into(copy.path().join("log"))
        .unwrap();
    assert_eq!(compacted.after.commits, compacted.before.commits);

    let original = replay_on(data.path(), &["verify"]);
    assert_exit(&original, 0);
    let copied = replay_on(copy.path(), &["verify"]);
    assert_exit(&copied, 0);
    assert_eq!(
        findings(&stdout(&copied), copy.path()),
        findings(&stdout(&original), data.path())
    );
}
