//! Storage the tool cannot read is a finding, not a crash: `verify` exits 1, says what it
//! could not read, and verifies the rest. Each test damages a fresh copy of the `tiny` log's
//! file directly, as a failing disk would.

mod common;

use std::path::Path;

use common::*;
use gridcase_bus::testing::sled_damage;
use gridcase_bus::{Position, SledLog};

/// The stored value of the commit at `position`; its last 48 bytes hold the last event's
/// hash, so they occur in no other commit.
fn needle_of(data: &Path, position: u64) -> Vec<u8> {
    let log = SledLog::open_read_only(data.join("log")).unwrap();
    let raw = log
        .raw_from(Position::new(position))
        .next_raw()
        .unwrap()
        .unwrap();
    assert_eq!(raw.position.get(), position);
    raw.value[raw.value.len() - 48..].to_vec()
}

/// Damages, with `damage`, one commit in the older part of the log (searching back from
/// the middle) whose damage `verify` reports as that one problem alone, and returns its
/// position.
///
/// sled's recovery reads the whole segment that holds the log's tip, so damage there stops
/// the open itself (that case has its own test below); and a page can hold index entries
/// beside commits, so damage there is a second problem. Both depend on where sled's
/// background flusher cut the segments and pages while the fixture was written, so the
/// commit is chosen by running `verify` on a scratch copy: reading is deterministic for
/// given files.
fn damage_away_from_the_tip(
    data: &Path,
    damage: fn(&Path, &[u8]) -> std::io::Result<Vec<u64>>,
) -> u64 {
    for position in (1..=tiny().len() as u64 / 2).rev() {
        let needle = needle_of(data, position);
        let scratch = tempfile::tempdir().unwrap();
        copy_dir(data, scratch.path());
        damage(&scratch.path().join("log"), &needle).unwrap();
        let out = stdout(&replay_on(scratch.path(), &["verify"]));
        let whole = format!("positions 1..={}", tiny().len());
        if out.contains("FAIL: 1 problem(s) found") && out.contains(&whole) {
            damage(&data.join("log"), &needle).unwrap();
            return position;
        }
    }
    panic!("no commit of the first half can be damaged alone");
}

#[test]
fn a_flipped_byte_caught_by_the_page_checksum_is_reported_and_the_rest_verified() {
    let data = tiny_data();
    damage_away_from_the_tip(data.path(), sled_damage::flip_bit);
    let o = replay_on(data.path(), &["verify"]);
    assert_exit(&o, 1);
    let out = stdout(&o);
    assert!(out.contains("FAIL"), "{out}");
    assert_eq!(unreadable_lines(&out), 1, "{out}");
    assert!(
        out.contains("sled's page checksum failed at file offset"),
        "names the file offset: {out}"
    );
    assert!(
        out.contains("by the case index it held case"),
        "names what was lost: {out}"
    );
    assert!(
        out.contains("FAIL: 1 problem(s) found"),
        "no noise besides the damage: {out}"
    );
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    // Everything else was read and verified.
    let read = tiny().len();
    assert!(
        out.contains(&format!("positions 1..={read}")),
        "the whole log was gone through: {out}"
    );
}

#[test]
fn checksum_valid_garbage_is_reported_without_a_panic_and_the_rest_verified() {
    let data = tiny_data();
    damage_away_from_the_tip(data.path(), sled_damage::garble_with_valid_checksum);
    let o = replay_on(data.path(), &["verify"]);
    assert_exit(&o, 1);
    let out = stdout(&o);
    assert!(out.contains("FAIL: 1 problem(s) found"), "{out}");
    assert_eq!(unreadable_lines(&out), 1, "{out}");
    assert!(out.contains("does not parse"), "{out}");
    assert!(out.contains("by the case index it held case"), "{out}");
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    let read = tiny().len();
    assert!(out.contains(&format!("positions 1..={read}")), "{out}");
}

fn unreadable_lines(out: &str) -> usize {
    out.lines().filter(|l| l.contains("[unreadable]")).count()
}

#[test]
fn a_store_too_damaged_to_open_is_a_finding() {
    // Damage in the newest page stops sled's recovery itself: nothing can be read, and the
    // report says so (exit 1), instead of the tool failing (exit 2).
    let data = tiny_data();
    let last = tiny().len() as u64;
    let needle = needle_of(data.path(), last);
    sled_damage::flip_bit(&data.path().join("log"), &needle).unwrap();
    let o = replay_on(data.path(), &["verify"]);
    assert_exit(&o, 1);
    let out = stdout(&o);
    assert_eq!(unreadable_lines(&out), 1, "{out}");
    assert!(out.contains("could not open the store"), "{out}");
    assert!(out.contains("sled's page checksum failed"), "{out}");
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}
