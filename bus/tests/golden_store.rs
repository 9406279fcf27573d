//! A store written by this version of the embedded log stays readable by every later one
//! (issue 17): the entries of a small store — its stored commits and its case index, case
//! heads and command index, keys and values exactly as written — are checked in as
//! `tests/golden/sled-entries-v1.bin`, loaded into a fresh sled store and read through
//! [`SledLog`]: every commit decodes, every chain and index holds, and appends go on. The
//! same commits written by the file log are checked in as `tests/golden/file-log-v1.log`
//! (the file exactly as written) and read through [`FileLog`] the same way; its records hold
//! the very values the sled store keeps under its commit keys.
//!
//! The file's format: for each entry in key order, the key's length (u32 big-endian), the key,
//! the value's length (u32 big-endian), the value. A missing file fails the tests; write it
//! with `GRIDCASE_BLESS=1 cargo test -p gridcase-bus --test golden_store`. An existing file is
//! never overwritten: a new stored form gets a new file (`v2`) beside this one, and this test
//! keeps loading `v1`.

mod contract;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gridcase_bus::*;
use gridcase_domain::Hash;

const BLESS_VAR: &str = "GRIDCASE_BLESS";

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
        .join(name)
}

fn fixture() -> PathBuf {
    golden("sled-entries-v1.bin")
}

fn file_fixture() -> PathBuf {
    golden("file-log-v1.log")
}

/// The commits of the fixture: (case, events) in append order; every third one carries a
/// request fingerprint.
const PLAN: [(&str, usize); 8] = [
    ("case-a", 1),
    ("case-b", 2),
    ("case-a", 3),
    ("case-c", 1),
    ("case-b", 1),
    ("case-a", 1),
    ("case-c", 2),
    ("case-a", 1),
];

fn fingerprint_of(i: usize) -> Option<Fingerprint> {
    i.is_multiple_of(3).then(|| Fingerprint([i as u8 + 1; 32]))
}

/// Opens the store in `dir` once handles that last had it open in this process have let go
/// of its lock (sled releases it from its I/O threads after they are dropped).
fn open_released(dir: &Path) -> SledLog {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match SledLog::open(dir) {
            Err(LogError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::yield_now()
            }
            other => return other.unwrap(),
        }
    }
}

fn encode(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in entries {
        for part in [k, v] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

fn decode(mut bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    fn take(bytes: &mut &[u8]) -> Vec<u8> {
        let (len, rest) = bytes.split_at(4);
        let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
        let (part, rest) = rest.split_at(len);
        *bytes = rest;
        part.to_vec()
    }
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let k = take(&mut bytes);
        let v = take(&mut bytes);
        out.push((k, v));
    }
    out
}

/// Appends the plan to `log`.
async fn append_plan<L: EventLog>(log: &L) {
    let mut heads: HashMap<&str, (u64, Hash)> = HashMap::new();
    for (i, (case, n)) in PLAN.iter().enumerate() {
        let (version, hash) = heads.get(case).copied().unwrap_or((0, Hash::ZERO));
        let mut c = contract::commit(case, &format!("cmd-{i}"), version, hash, *n);
        c.fingerprint = fingerprint_of(i);
        let last = c.events.last().unwrap();
        heads.insert(case, (last.header.case_version, last.hash));
        let a = log.append(c).await.unwrap();
        assert_eq!(a.position.get(), i as u64 + 1);
    }
}

/// Writes the plan through today's sled log and returns its entries.
async fn written_today() -> Vec<(Vec<u8>, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    append_plan(&log).await;
    log.raw_tree()
        .iter()
        .map(|kv| {
            let (k, v) = kv.unwrap();
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

/// Writes the plan through today's file log and returns the file.
async fn file_written_today() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    append_plan(&FileLog::open(dir.path()).unwrap()).await;
    std::fs::read(dir.path().join(LOG_FILE)).unwrap()
}

/// Writes `path` with `bytes` when blessing and it is missing; never overwrites it.
fn bless(path: &Path, bytes: Vec<u8>) {
    if path.exists() {
        return; // never overwritten
    }
    if std::env::var_os(BLESS_VAR).is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    } else {
        panic!(
            "{} is missing: write it with {BLESS_VAR}=1 cargo test -p gridcase-bus --test \
             golden_store",
            path.display()
        );
    }
}

#[tokio::test]
async fn the_version_1_entries_are_checked_in() {
    bless(&fixture(), encode(&written_today().await));
}

#[tokio::test]
async fn the_version_1_file_log_is_checked_in() {
    bless(&file_fixture(), file_written_today().await);
}

#[tokio::test]
async fn a_store_written_by_version_1_reads_and_takes_appends() {
    let Ok(bytes) = std::fs::read(fixture()) else {
        panic!(
            "{} is missing (see the_version_1_entries_are_checked_in)",
            fixture().display()
        );
    };
    let entries = decode(&bytes);
    let dir = tempfile::tempdir().unwrap();
    {
        // The entries as they were stored, into a store made by sled alone.
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let tree = db.open_tree("log").unwrap();
        for (k, v) in &entries {
            tree.insert(k, v.as_slice()).unwrap();
        }
        db.flush().unwrap();
    }
    let log = open_released(dir.path());
    let all = reads_the_plan(&log).await;
    for case in ["case-a", "case-b", "case-c"] {
        let id = gridcase_domain::CaseId::new(case).unwrap();
        let theirs: Vec<_> = all.iter().filter(|c| c.case_id == id).cloned().collect();
        assert_eq!(log.read_case(&id).await.unwrap(), theirs);
    }
    let mut index = log.index_entries();
    let mut kinds = [0; 3];
    while let Some(e) = index.next_entry().unwrap() {
        match e {
            IndexEntry::Case { .. } => kinds[0] += 1,
            IndexEntry::Command { .. } => kinds[1] += 1,
            IndexEntry::Head { .. } => kinds[2] += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(kinds, [PLAN.len(), PLAN.len(), 3]);
    takes_appends(&log).await;
}

#[tokio::test]
async fn a_file_log_written_by_version_1_reads_and_takes_appends() {
    let Ok(bytes) = std::fs::read(file_fixture()) else {
        panic!(
            "{} is missing (see the_version_1_file_log_is_checked_in)",
            file_fixture().display()
        );
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(LOG_FILE), &bytes).unwrap();
    let log = FileLog::open(dir.path()).unwrap();
    let all = reads_the_plan(&log).await;
    // The file's records are the very values the sled store keeps under its commit keys.
    let sled_values: Vec<Vec<u8>> = decode(&std::fs::read(fixture()).unwrap())
        .into_iter()
        .filter(|(k, _)| k.first() == Some(&b'P'))
        .map(|(_, v)| v)
        .collect();
    let mut cursor = log.raw_from(Position::FIRST);
    let mut values = Vec::new();
    while let Some(c) = cursor.next_raw().unwrap() {
        values.push(c.value);
    }
    assert_eq!(values, sled_values);
    assert_eq!(all.len(), PLAN.len());
    takes_appends(&log).await;
}

/// Checks that `log` holds the plan: every commit, event, chain and case read.
async fn reads_the_plan<L: EventLog>(log: &L) -> Vec<Committed> {
    assert_eq!(log.head().await.unwrap().get(), PLAN.len() as u64);
    contract::assert_log_consistent(log).await;

    let all = log.read_from(Position::FIRST, usize::MAX).await.unwrap();
    for (i, (c, (case, n))) in all.iter().zip(PLAN).enumerate() {
        assert_eq!(c.case_id.as_str(), case);
        assert_eq!(c.command_id.as_str(), format!("cmd-{i}"));
        assert_eq!(c.events.len(), n);
        assert_eq!(c.fingerprint, fingerprint_of(i));
        for (j, e) in c.events.iter().enumerate() {
            assert!(e.verify_hash());
            match e.decode().unwrap() {
                gridcase_domain::Event::NoteAdded(note) => {
                    assert_eq!(note.text, format!("cmd-{i} #{j}"))
                }
                other => panic!("{other:?}"),
            }
        }
    }
    for case in ["case-a", "case-b", "case-c"] {
        let id = gridcase_domain::CaseId::new(case).unwrap();
        let theirs: Vec<_> = all.iter().filter(|c| c.case_id == id).cloned().collect();
        assert_eq!(log.read_case(&id).await.unwrap(), theirs);
    }
    all
}

/// A retried command of the plan is a duplicate; a new one goes on after it.
async fn takes_appends<L: EventLog>(log: &L) {
    let again = contract::append_next(log, "case-b", "cmd-1", 1)
        .await
        .unwrap();
    assert!(again.duplicate && again.position.get() == 2);
    let next = contract::append_next(log, "case-b", "cmd-new", 1)
        .await
        .unwrap();
    assert_eq!(
        (next.position.get(), next.version),
        (PLAN.len() as u64 + 1, 4)
    );
    contract::assert_log_consistent(log).await;
}
