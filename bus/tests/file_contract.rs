//! The log contract against the embedded file log, plus what is its own: reopening, the
//! lock, a torn tail cut off, a damaged record refused by a writer and read past by a reader,
//! the bytes on disk.

mod contract;

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;

use std::path::Path;
use std::sync::Arc;

use gridcase_bus::*;
use gridcase_domain::CaseId;

async fn open() -> (FileLog, Arc<dyn std::any::Any + Send + Sync>) {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path()).unwrap();
    (log, Arc::new(dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_suite() {
    contract::run_all(open).await;
}

/// The command index keeps digests of command ids, each confirmed against the stored commit:
/// with every id digested alike, every lookup takes the confirming path and every command
/// after the first the path of colliding ids — and the contract holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_suite_with_colliding_command_digests() {
    contract::run_all(|| async {
        let dir = tempfile::tempdir().unwrap();
        let log = FileLog::open_with_colliding_digests(dir.path()).unwrap();
        (log, Arc::new(dir) as Arc<dyn std::any::Any + Send + Sync>)
    })
    .await;
}

#[tokio::test]
async fn commands_whose_digests_collide_are_told_apart_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Vec::new();
    {
        let log = FileLog::open_with_colliding_digests(dir.path()).unwrap();
        for (case, cmd, n) in [("k", "one", 2), ("k", "two", 1), ("m", "three", 3)] {
            first.push(contract::append_next(&log, case, cmd, n).await.unwrap());
        }
    }
    // Reopened, the index is built again: each command finds its own first commit.
    let log = FileLog::open_with_colliding_digests(dir.path()).unwrap();
    for ((case, cmd), a) in [("k", "one"), ("k", "two"), ("m", "three")]
        .iter()
        .zip(&first)
    {
        let again = contract::append_next(&log, case, cmd, 1).await.unwrap();
        assert!(again.duplicate, "{cmd}: {again:?}");
        assert_eq!(
            (again.position, again.version),
            (a.position, a.version),
            "{cmd}"
        );
    }
    // A new command is new, though its digest is everyone's.
    let four = contract::append_next(&log, "k", "four", 1).await.unwrap();
    assert!(!four.duplicate && four.position.get() == 4, "{four:?}");
    contract::assert_log_consistent(&log).await;
}

/// Appends `n` commits over three cases (one to three events each).
async fn fill(dir: &Path, n: usize) {
    let log = FileLog::open(dir).unwrap();
    for i in 0..n {
        contract::append_next(&log, &format!("c{}", i % 3), &format!("cmd{i}"), 1 + i % 3)
            .await
            .unwrap();
    }
}

fn file_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(LOG_FILE)).unwrap().len()
}

#[tokio::test]
async fn reopening_keeps_everything_and_continues_positions() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = FileLog::open(dir.path()).unwrap();
        contract::append_next(&log, "k", "one", 2).await.unwrap();
        contract::append_next(&log, "k", "two", 1).await.unwrap();
    }
    let log = FileLog::open(dir.path()).unwrap();
    assert_eq!(log.head().await.unwrap().get(), 2);
    let a = contract::append_next(&log, "k", "three", 1).await.unwrap();
    assert_eq!((a.position.get(), a.version), (3, 4));
    let again = contract::append_next(&log, "k", "one", 1).await.unwrap();
    assert!(
        again.duplicate && again.position == Position::FIRST && again.version == 2,
        "the command index is rebuilt when the file is opened: {again:?}"
    );
    assert!(matches!(
        contract::append_next(&log, "k", "stale", 1).await,
        Ok(Appended { duplicate: false, position, version: 5 }) if position.get() == 4
    ));
    contract::assert_log_consistent(&log).await;
}

#[tokio::test]
async fn a_second_open_is_refused_and_a_reader_cannot_open_beside_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let first = FileLog::open(dir.path()).unwrap();
    for second in [
        FileLog::open(dir.path()).err(),
        FileLog::open_read_only(dir.path()).err(),
    ] {
        match second {
            Some(e @ LogError::Locked { .. }) => {
                assert!(e.to_string().contains("in use by another process"))
            }
            other => panic!("expected Locked, got {other:?}"),
        }
    }
    drop(first);
    // Readers share the store with each other, not with a writer.
    let r1 = FileLog::open_read_only(dir.path()).unwrap();
    let _r2 = FileLog::open_read_only(dir.path()).unwrap();
    assert!(matches!(
        FileLog::open(dir.path()),
        Err(LogError::Locked { .. })
    ));
    assert!(matches!(
        contract::append_next(&r1, "x", "y", 1).await,
        Err(AppendError::Log(LogError::Closed))
    ));
}

#[tokio::test]
async fn a_write_cut_short_by_a_crash_is_cut_off_and_appends_go_on() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 10).await;
    let whole = file_len(dir.path());
    // What a crash in the middle of a write leaves: the start of a record whose (sound)
    // header states more bytes than remain.
    let mut f = OpenOptions::new()
        .append(true)
        .open(dir.path().join(LOG_FILE))
        .unwrap();
    let torn = [&header(500)[..], &[7u8; 100]].concat();
    f.write_all(&torn).unwrap();
    drop(f);
    {
        let reader = FileLog::open_read_only(dir.path()).unwrap();
        assert_eq!(reader.head().await.unwrap().get(), 10);
        assert!(
            reader.first_damage().is_none(),
            "a torn write is not damage"
        );
        assert_eq!(file_len(dir.path()), whole + 108, "a reader cuts nothing");
    }
    let log = FileLog::open(dir.path()).unwrap();
    assert_eq!(
        file_len(dir.path()),
        whole,
        "the writer cuts the torn write off"
    );
    let aside = dir.path().join(format!("{LOG_FILE}.torn-at-{whole}"));
    assert_eq!(
        std::fs::read(&aside).unwrap(),
        torn,
        "the bytes it cut are kept beside the log"
    );
    assert_eq!(log.head().await.unwrap().get(), 10);
    let a = contract::append_next(&log, "c0", "after", 1).await.unwrap();
    assert_eq!(a.position.get(), 11);
    drop(log);
    // Zeros (unwritten blocks after a power cut) are a torn tail too.
    let f = OpenOptions::new()
        .append(true)
        .open(dir.path().join(LOG_FILE))
        .unwrap();
    f.set_len(file_len(dir.path()) + 4096).unwrap();
    let log = FileLog::open(dir.path()).unwrap();
    assert_eq!(log.head().await.unwrap().get(), 11);
    contract::assert_log_consistent(&log).await;
}

/// A record header: the value's length and the CRC-32 of its four bytes.
fn header(len: u32) -> [u8; 8] {
    let len = len.to_le_bytes();
    let mut h = [0u8; 8];
    h[..4].copy_from_slice(&len);
    h[4..].copy_from_slice(&crc32fast::hash(&len).to_le_bytes());
    h
}

/// The offset of the `n`-th record (from 1): past the file header and the records before it.
fn record_offset(dir: &Path, n: u64) -> u64 {
    let f = std::fs::File::open(dir.join(LOG_FILE)).unwrap();
    let mut at = 16;
    for _ in 1..n {
        let mut len = [0u8; 4];
        f.read_exact_at(&mut len, at).unwrap();
        at += 8 + u64::from(u32::from_le_bytes(len));
    }
    at
}

fn second_record(dir: &Path) -> u64 {
    record_offset(dir, 2)
}

/// Flips a byte of the second record's last event hash: its checksum fails, but it still
/// decodes, so the case can be told.
fn flip_a_hash_byte_of_the_second_record(dir: &Path) {
    let at = second_record(dir);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join(LOG_FILE))
        .unwrap();
    let mut len = [0u8; 4];
    f.read_exact_at(&mut len, at).unwrap();
    let flip = at + 8 + u64::from(u32::from_le_bytes(len)) - 10;
    let mut byte = [0u8; 1];
    f.read_exact_at(&mut byte, flip).unwrap();
    f.write_all_at(&[byte[0] ^ 0x20], flip).unwrap();
}

#[tokio::test]
async fn a_damaged_record_is_refused_by_a_writer_and_reported_where_it_is_by_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 6).await;
    flip_a_hash_byte_of_the_second_record(dir.path());
    let before = std::fs::read(dir.path().join(LOG_FILE)).unwrap();

    match FileLog::open(dir.path()) {
        Err(LogError::Corrupt {
            position,
            case,
            cause: Corruption::Stored(RawError::Checksum { .. }),
        }) => {
            assert_eq!(position.get(), 2);
            assert_eq!(case.as_ref().map(CaseId::as_str), Some("c1"));
        }
        Err(other) => panic!("expected a checksum failure at 2, got {other}"),
        Ok(_) => panic!("a writer must refuse a damaged store"),
    }
    assert_eq!(
        std::fs::read(dir.path().join(LOG_FILE)).unwrap(),
        before,
        "refusing changes nothing"
    );

    let reader = FileLog::open_read_only(dir.path()).unwrap();
    assert_eq!(
        reader.head().await.unwrap().get(),
        6,
        "read past the damage"
    );
    assert!(matches!(
        reader.read_from(Position::FIRST, 10).await,
        Err(LogError::Corrupt { position, .. }) if position.get() == 2
    ));
    let after = reader.read_from(Position::new(3), 10).await.unwrap();
    assert_eq!(after.len(), 4);
    let mut cursor = reader.raw_from(Position::FIRST);
    let mut raw = Vec::new();
    while let Some(c) = cursor.next_raw().unwrap() {
        raw.push(c);
    }
    assert_eq!(raw.len(), 6);
    assert!(matches!(raw[1].decode(), Err(RawError::Checksum { .. })));
    assert!(raw
        .iter()
        .enumerate()
        .all(|(i, c)| i == 1 || c.decode().is_ok()));
}

#[tokio::test]
async fn a_file_that_is_not_a_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(LOG_FILE), b"not a gridcase log at all").unwrap();
    assert!(matches!(
        FileLog::open(dir.path()),
        Err(LogError::Damaged { .. })
    ));
}

#[tokio::test]
async fn the_file_holds_the_stored_commits_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 30).await;
    let log = FileLog::open_read_only(dir.path()).unwrap();
    let mut cursor = log.raw_from(Position::FIRST);
    let mut values = 0u64;
    let mut n = 0u64;
    while let Some(c) = cursor.next_raw().unwrap() {
        values += c.value.len() as u64;
        n += 1;
    }
    assert_eq!(n, 30);
    assert_eq!(log.file_bytes().unwrap(), 16 + 8 * n + values);
}

#[tokio::test]
async fn a_directory_keeps_the_backend_it_was_created_with() {
    let dir = tempfile::tempdir().unwrap();
    let (new, old) = (dir.path().join("new"), dir.path().join("old"));
    {
        let sled = SledLog::open(&old).unwrap();
        contract::append_next(&sled, "a", "x", 1).await.unwrap();
    }
    assert!(matches!(
        AnyLog::open_embedded(&new).unwrap(),
        AnyLog::File(_)
    ));
    assert!(FileLog::exists_in(&new));
    // sled lets go of its lock from its own threads after the last handle is dropped.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let log = loop {
        match AnyLog::open_embedded(&old) {
            Err(LogError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::yield_now()
            }
            other => break other.unwrap(),
        }
    };
    assert!(matches!(log, AnyLog::Sled(_)));
    assert!(!FileLog::exists_in(&old));
    assert_eq!(log.head().await.unwrap().get(), 1);
}

/// Every stored commit of a log, raw, in order.
fn raw_commits(mut next: impl FnMut() -> Result<Option<RawCommit>, LogError>) -> Vec<RawCommit> {
    let mut out = Vec::new();
    while let Some(c) = next().unwrap() {
        out.push(c);
    }
    out
}

#[tokio::test]
async fn a_sled_store_copied_into_a_file_log_holds_the_same_commits_and_takes_appends_on() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("sled"), dir.path().join("file"));
    let sled = SledLog::open(&src).unwrap();
    for i in 0..40 {
        contract::append_next(&sled, &format!("c{}", i % 7), &format!("cmd{i}"), 1 + i % 3)
            .await
            .unwrap();
    }
    let copied = FileLog::copy_from_sled(&sled, &dst).unwrap();
    assert_eq!(copied.commits, 40);
    assert!(!dir.path().join("file.partial").exists());
    let original = {
        let mut c = sled.raw_from(Position::FIRST);
        raw_commits(|| c.next_raw())
    };
    let copy = FileLog::open(&dst).unwrap();
    let mut c = copy.raw_from(Position::FIRST);
    assert_eq!(
        raw_commits(|| c.next_raw()),
        original,
        "the same stored values at the same positions"
    );
    assert_eq!(copy.file_bytes().unwrap(), copied.file_bytes);
    for case in ["c0", "c3", "c6"] {
        let id = CaseId::new(case).unwrap();
        assert_eq!(
            copy.read_case(&id).await.unwrap(),
            sled.read_case(&id).await.unwrap()
        );
    }
    let again = contract::append_next(&copy, "c0", "cmd0", 1).await.unwrap();
    assert!(again.duplicate && again.position == Position::FIRST);
    let next = contract::append_next(&copy, "c0", "cmd-new", 1)
        .await
        .unwrap();
    assert_eq!(next.position.get(), 41);
    contract::assert_log_consistent(&copy).await;

    // A copy never goes over an existing directory, and a damaged source stops it.
    assert!(FileLog::copy_from_sled(&sled, &dst).is_err());
    let mut damaged = original.clone();
    damaged[5].value[20] ^= 1;
    let mut it = damaged.into_iter();
    let other = dir.path().join("other");
    match FileLog::write_copy(&other, || Ok(it.next())) {
        Err(LogError::Corrupt { position, .. }) => assert_eq!(position.get(), 6),
        other => panic!("expected the damaged commit named, got {other:?}"),
    }
    assert!(!other.exists());
}

#[tokio::test]
async fn a_damaged_record_length_is_damage_and_nothing_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 10).await;
    // One bit of the first record's length: read as a torn write, it would cut off all ten.
    let at = record_offset(dir.path(), 1);
    let path = dir.path().join(LOG_FILE);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut byte = [0u8; 1];
    f.read_exact_at(&mut byte, at + 2).unwrap();
    f.write_all_at(&[byte[0] ^ 0x10], at + 2).unwrap();
    drop(f);
    let before = std::fs::read(&path).unwrap();
    match FileLog::open(dir.path()) {
        Err(LogError::Damaged { location, reason }) => {
            assert!(
                location.contains(&format!("file offset {at}")),
                "{location}"
            );
            assert!(reason.contains("fails its checksum"), "{reason}");
        }
        Err(other) => panic!("expected Damaged, got {other}"),
        Ok(_) => panic!("a writer must refuse a damaged store"),
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "nothing cut or changed"
    );
    // A reader opens it, says so, and its raw cursor reports what it cannot read.
    let reader = FileLog::open_read_only(dir.path()).unwrap();
    assert!(matches!(
        reader.first_damage(),
        Some(LogError::Damaged { .. })
    ));
    let mut cursor = reader.raw_from(Position::FIRST);
    assert!(matches!(cursor.next_raw(), Err(LogError::Damaged { .. })));
    assert!(matches!(cursor.next_raw(), Ok(None)));
}

#[tokio::test]
async fn a_reader_keeps_a_damaged_record_in_its_case() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 9).await;
    // The second record (case c1, its first commit) fails its checksum.
    flip_a_hash_byte_of_the_second_record(dir.path());
    let reader = FileLog::open_read_only(dir.path()).unwrap();
    let c1 = CaseId::new("c1").unwrap();
    let raw = reader.raw_case(&c1).unwrap();
    assert_eq!(
        raw.iter().map(|c| c.position.get()).collect::<Vec<_>>(),
        [2, 5, 8],
        "the damaged commit and the ones after it are all in the case"
    );
    assert!(matches!(raw[0].decode(), Err(RawError::Checksum { .. })));
    assert!(raw[1..].iter().all(|c| c.decode().is_ok()));
    assert!(matches!(
        reader.read_case(&c1).await,
        Err(LogError::Corrupt { position, .. }) if position.get() == 2
    ));
}

#[tokio::test]
async fn a_file_whose_creation_a_crash_cut_short_opens_as_new() {
    let dir = tempfile::tempdir().unwrap();
    for start in [&[][..], &[0u8; 16][..], &b"gridcase-l"[..]] {
        std::fs::write(dir.path().join(LOG_FILE), start).unwrap();
        let log = FileLog::open(dir.path()).unwrap();
        assert_eq!(log.head().await.unwrap().get(), 0);
        contract::append_next(&log, "a", "one", 1).await.unwrap();
        drop(log);
        assert_eq!(
            FileLog::open_read_only(dir.path())
                .unwrap()
                .head()
                .await
                .unwrap()
                .get(),
            1
        );
    }
}

#[tokio::test]
async fn an_append_whose_fsync_failed_is_not_acknowledged_and_its_retry_after_reopening_is_safe() {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path()).unwrap();
    contract::append_next(&log, "a", "first", 1).await.unwrap();
    log.fail_next_sync();
    match contract::append_next(&log, "a", "unsure", 1).await {
        Err(AppendError::Log(LogError::Storage { .. })) => {}
        other => panic!("expected a storage failure, got {other:?}"),
    }
    // The writer stops: nothing more is acknowledged until the store is reopened, and a
    // retry of the unsure command is not answered as written.
    for cmd in ["unsure", "next"] {
        assert!(matches!(
            contract::append_next(&log, "b", cmd, 1).await,
            Err(AppendError::Log(LogError::Storage { .. }))
        ));
    }
    assert_eq!(log.head().await.unwrap().get(), 1, "nothing unsure is read");
    drop(log);
    // The writer cut the unsure group off (its pages may never reach the disk): reopened, the
    // log ends where it did, and the retry is appended as new.
    let log = FileLog::open(dir.path()).unwrap();
    assert_eq!(log.head().await.unwrap().get(), 1);
    let again = contract::append_next(&log, "a", "unsure", 1).await.unwrap();
    assert!(!again.duplicate && again.position.get() == 2, "{again:?}");
    // Two appends of one command sent together when the fsync fails: neither is answered as
    // written, whether they share the failed group or the second comes after it.
    log.fail_next_sync();
    let c = contract::commit(
        "a",
        "together",
        again.version,
        contract::case_head(&log, "a").await.1,
        1,
    );
    let (x, y) = tokio::join!(log.append(c.clone()), log.append(c));
    assert!(x.is_err() && y.is_err(), "{x:?} {y:?}");
    drop(log);
    let log = FileLog::open(dir.path()).unwrap();
    assert_eq!(log.head().await.unwrap().get(), 2);
    contract::assert_log_consistent(&log).await;
}

#[tokio::test]
async fn zeros_from_a_block_boundary_inside_the_last_record_are_a_torn_write() {
    // A power cut can keep a write's new file size but not its last blocks: the last record
    // then ends in zeros from a block boundary on. That is torn (set aside, cut off), not
    // damage.
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path()).unwrap();
    let mut n = 0;
    let (start, end) = loop {
        let start = file_len(dir.path());
        contract::append_next(&log, "z", &format!("big{n}"), 6)
            .await
            .unwrap();
        n += 1;
        let end = file_len(dir.path());
        if (start + 8).div_ceil(4096) * 4096 < end {
            break (start, end);
        }
    };
    drop(log);
    let boundary = (start + 8).div_ceil(4096) * 4096;
    let f = OpenOptions::new()
        .write(true)
        .open(dir.path().join(LOG_FILE))
        .unwrap();
    f.write_all_at(&vec![0u8; (end - boundary) as usize], boundary)
        .unwrap();
    drop(f);
    let log = FileLog::open(dir.path()).unwrap();
    assert_eq!(log.head().await.unwrap().get(), n - 1);
    assert_eq!(file_len(dir.path()), start);
    assert!(dir
        .path()
        .join(format!("{LOG_FILE}.torn-at-{start}"))
        .exists());
    // A header cut short after it is torn too, and its set-aside file does not overwrite
    // the first.
    drop(log);
    let f = OpenOptions::new()
        .write(true)
        .open(dir.path().join(LOG_FILE))
        .unwrap();
    f.write_all_at(&header(300)[..5], start).unwrap();
    drop(f);
    let log = FileLog::open(dir.path()).unwrap();
    assert_eq!(log.head().await.unwrap().get(), n - 1);
    assert!(dir
        .path()
        .join(format!("{LOG_FILE}.torn-at-{start}.1"))
        .exists());
    contract::assert_log_consistent(&log).await;
}
