//! A damaged embedded store: `serve` refuses to start when what it reads at start-up is
//! damaged (a clear message pointing to `gridcase-replay verify`, no panic), and damage met
//! later answers 503 for what it touches while everything else is served.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use gridcase_bus::testing::sled_damage;
use gridcase_bus::{AnyLog, EventLog, Position, SledLog};
use gridcase_server::config::Config;
use gridcase_server::load::{self, demo_tokens};
use gridcase_server::serve::Server;

/// Loads the tiny fixture into `data/log` through the command path; returns the case ids in
/// position order (one per commit).
async fn load_tiny(data: &Path) -> Vec<String> {
    let log: AnyLog = SledLog::open(data.join("log")).unwrap().into();
    load::load(&log, "tiny", 1, false).await.unwrap();
    let head = log.head().await.unwrap();
    let cases = log
        .read_from(Position::FIRST, head.get() as usize)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.case_id.to_string())
        .collect();
    drop(log);
    wait_unlocked(&data.join("log"));
    cases
}

/// sled releases its file lock from a background thread after the last handle is dropped.
fn wait_unlocked(dir: &Path) {
    for _ in 0..500 {
        match SledLog::open_read_only(dir) {
            Ok(_) => return,
            Err(gridcase_bus::LogError::Locked { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("the store stayed locked");
}

/// The last 48 bytes of the stored commit at `position` (they hold its last event's hash).
fn needle(data: &Path, position: u64) -> Vec<u8> {
    let log = SledLog::open_read_only(data.join("log")).unwrap();
    let raw = log
        .raw_from(Position::new(position))
        .next_raw()
        .unwrap()
        .unwrap();
    raw.value[raw.value.len() - 48..].to_vec()
}

/// `gridcase serve` on `data` exits 2 saying the store is damaged and what to run, without a
/// panic.
fn assert_serve_refuses_to_start(data: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_gridcase"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env_remove("GRIDCASE_DATA_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("damaged"), "{stderr}");
    assert!(stderr.contains("gridcase-replay verify"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn config(data: &Path) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.to_owned(),
        ..Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_to_start_on_a_store_damaged_where_it_reads_at_start_up() {
    let data = tempfile::tempdir().unwrap();
    let cases = load_tiny(data.path()).await;
    let middle = cases.len() as u64 / 2;
    let n = needle(data.path(), middle);
    sled_damage::garble_with_valid_checksum(&data.path().join("log"), &n).unwrap();
    // No projection snapshot yet: start-up replays the whole log and meets the damage.
    assert_serve_refuses_to_start(data.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_to_start_on_a_flipped_byte_caught_by_the_page_checksum() {
    let data = tempfile::tempdir().unwrap();
    let cases = load_tiny(data.path()).await;
    let middle = cases.len() as u64 / 2;
    let n = needle(data.path(), middle);
    let flipped = sled_damage::flip_bit(&data.path().join("log"), &n).unwrap();
    assert!(!flipped.is_empty(), "the commit is in the store's files");
    // Whether sled's recovery meets the page (opening fails) or the replay does (no snapshot
    // yet: start-up reads the whole log), `serve` must refuse with a pointer to `verify`.
    assert_serve_refuses_to_start(data.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_met_later_answers_503_for_what_it_touches_only() {
    let data = tempfile::tempdir().unwrap();
    let cases = load_tiny(data.path()).await;
    let cfg = config(data.path());
    let regions = Arc::new(
        gridcase_fixtures::Scale::Tiny
            .generator(1)
            .regions()
            .clone(),
    );
    // A first run catches the projection up and saves it on a graceful stop, so the next
    // start reads nothing old from the log.
    let log: AnyLog = SledLog::open(data.path().join("log")).unwrap().into();
    let server = Server::start(&cfg, log, regions.clone(), &demo_tokens())
        .await
        .unwrap();
    server.stop().await.unwrap();
    wait_unlocked(&data.path().join("log"));

    let middle = cases.len() as u64 / 2;
    let damaged_case = &cases[middle as usize - 1];
    let n = needle(data.path(), middle);
    sled_damage::garble_with_valid_checksum(&data.path().join("log"), &n).unwrap();

    let log: AnyLog = SledLog::open(data.path().join("log")).unwrap().into();
    let server = Server::start(&cfg, log, regions, &demo_tokens())
        .await
        .expect("nothing damaged is read at start-up");
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        let url = format!("http://{}{path}", server.addr);
        async move {
            let r = client
                .get(url)
                .bearer_auth("demo-auditor")
                .send()
                .await
                .unwrap();
            let status = r.status();
            let retry = r.headers().get("retry-after").cloned();
            (status, retry, r.text().await.unwrap())
        }
    };
    let (status, retry, body) = get(format!("/api/v1/cases/{damaged_case}/timeline")).await;
    assert_eq!(status, 503, "{body}");
    assert!(retry.is_some(), "Retry-After on a 503");
    assert!(
        !body.contains("sled"),
        "internal text stays in the log: {body}"
    );
    // A case elsewhere in the log is served as usual: the one whose commits are all farthest
    // from the damaged commit (sled keeps neighbouring keys in one page, and the load's lanes
    // order commits differently from run to run).
    let distance = |case: &String| {
        (1..)
            .zip(&cases)
            .filter(|(_, c)| *c == case)
            .map(|(p, _): (u64, _)| p.abs_diff(middle))
            .min()
            .unwrap_or(0)
    };
    let healthy = cases.iter().max_by_key(|c| distance(c)).unwrap();
    assert_ne!(healthy, damaged_case);
    let (status, _, body) = get(format!("/api/v1/cases/{healthy}/timeline")).await;
    assert_eq!(status, 200, "{body}");
    server.stop().await.unwrap();
}

/// A file log (what new data directories get) with a damaged record: `serve` refuses to start,
/// naming the position and what to run, and changes nothing in the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_a_file_log_with_a_damaged_record_and_changes_nothing() {
    use std::os::unix::fs::FileExt;
    let data = tempfile::tempdir().unwrap();
    {
        let log: AnyLog = gridcase_bus::FileLog::open(data.path().join("log"))
            .unwrap()
            .into();
        load::load(&log, "tiny", 1, false).await.unwrap();
    }
    // A byte near the end of the tenth record (in its last event's hash).
    let path = data.path().join("log").join(gridcase_bus::LOG_FILE);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let (mut at, mut len) = (16u64, [0u8; 4]);
    for _ in 0..9 {
        file.read_exact_at(&mut len, at).unwrap();
        at += 8 + u64::from(u32::from_le_bytes(len));
    }
    file.read_exact_at(&mut len, at).unwrap();
    let flip = at + 8 + u64::from(u32::from_le_bytes(len)) - 10;
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, flip).unwrap();
    file.write_all_at(&[byte[0] ^ 1], flip).unwrap();
    drop(file);
    let before = std::fs::read(&path).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_gridcase"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env_remove("GRIDCASE_DATA_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("corrupt commit at position 10"), "{stderr}");
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(stderr.contains("gridcase-replay verify"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "nothing cut or changed"
    );
}
