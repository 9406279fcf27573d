//! Erasure of a party's personal data through a running server, on both backends: afterwards
//! no file under the data directory (and, on NATS, the JetStream store directory) holds the
//! party's name, ID number or phone, nor its data key raw or wrapped; `gridcase-replay verify`
//! passes on the same log; the statistics answer byte for byte as before; the export carries
//! no personal data before or after.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use gridcase_bus::testing::NatsServer;
use gridcase_domain::{CaseId, PartyId, RegionTree};
use gridcase_server::config::{Config, NatsConfig};
use gridcase_server::serve::{self, Server};
use serde_json::{json, Value};

const NAME: &str = "郑雅琴";
const ID_NUMBER: &str = "330802198503124427";
const PHONE: &str = "13712345678";
const SUMMARY: &str = "邻里纠纷（删除测试）";

fn regions() -> Arc<RegionTree> {
    let mut t = gridcase_regions::bundled_divisions().clone();
    t.add_grid(code(G1), None).unwrap();
    Arc::new(t)
}

/// The files under `dirs` that contain `needle`.
fn holding(dirs: &[PathBuf], needle: &[u8]) -> Vec<PathBuf> {
    let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    files_holding(&dirs, needle)
}

async fn replay(args: &[&str]) -> (gridcase_replay_tool::Status, String) {
    let mut cli = vec!["gridcase-replay", "--no-progress"];
    cli.extend_from_slice(args);
    let parsed = <gridcase_replay_tool::Cli as clap::Parser>::try_parse_from(&cli).unwrap();
    let mut out = Vec::new();
    let status = gridcase_replay_tool::execute(parsed, &mut out)
        .await
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    (status, String::from_utf8_lossy(&out).into_owned())
}

/// One round: report with personal data, read and reveal it, erase it, check every file.
/// `store` is where the backend keeps its bytes; `source` names the log for the replay tool.
async fn erasure_round(cfg: Config, store: Vec<PathBuf>, source: Vec<String>) {
    let source: Vec<&str> = source.iter().map(String::as_str).collect();
    let with = |args: &[&'static str]| [source.as_slice(), args].concat();
    let log = serve::open_log(&cfg).await.unwrap();
    let server = Server::start(&cfg, log, regions(), &tokens())
        .await
        .unwrap();
    let base = format!("http://{}", server.addr);
    let base_before = base.clone();
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/api/v1/cases"))
        .bearer_auth(GW1)
        .header("Idempotency-Key", "erasure-round")
        .json(&json!({
            "kind": "dispute", "category": "neighbours", "source": "grid_patrol",
            "severity": "normal", "location": G1, "summary": SUMMARY,
            "happened_at": gridcase_domain::Timestamp::now().plus_millis(-3_600_000).to_string(),
            "parties": [
                { "role": "applicant", "personal": { "name": NAME, "id_number": ID_NUMBER, "phone": PHONE } },
                { "role": "respondent", "personal": { "name": "冯志强" } },
            ],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let reported = r.json::<Value>().await.unwrap();
    let case = reported["case_id"].as_str().unwrap().to_owned();
    let position = reported["position"].as_u64().unwrap();
    let get = |uri: String, token: &'static str| {
        let client = client.clone();
        async move {
            let r = client.get(uri).bearer_auth(token).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.bytes().await.unwrap()
        }
    };
    let parties: Value = serde_json::from_slice(
        &get(format!("{base}/api/v1/cases/{case}/parties?purpose=x"), GW1).await,
    )
    .unwrap();
    assert_eq!(parties["parties"][0]["personal"]["name"], NAME);
    let party = PartyId::new(parties["parties"][0]["id"].as_str().unwrap()).unwrap();
    let (raw, wrapped) = server
        .app
        .vault
        .party_key_material(&party)
        .await
        .unwrap()
        .unwrap();
    let raw = raw.expose().to_vec();
    // The wrapped key is in the store (so the search below can find it), the clear text not.
    assert!(
        !holding(&store, &wrapped).is_empty(),
        "the wrapped key is stored"
    );
    // The summary is sealed under the case's key: in no file either.
    for secret in [NAME, ID_NUMBER, PHONE, SUMMARY] {
        assert_eq!(holding(&store, secret.as_bytes()), Vec::<PathBuf>::new());
    }
    // The statistics and the history, before.
    // The current month (the default period), as known at one fixed time.
    let stats_uri = format!(
        "{base}/api/v1/stats?region=330802&as_of={}",
        gridcase_domain::Timestamp::now()
    );
    // Read-your-writes: the projection has the report.
    get(format!("{base}/api/v1/cases/{case}?after={position}"), GW1).await;
    let stats = get(stats_uri.clone(), ANA).await;
    let timeline = get(format!("{base}/api/v1/cases/{case}/timeline"), AUD).await;
    // The export, with the server stopped (the embedded store has one writer at a time),
    // then the server again, on the same store.
    server.stop().await.unwrap();
    let export_before = replay(&with(&["export", "--format", "jsonl"])).await;
    assert!(!export_before.1.contains(NAME));
    let log = serve::open_log(&cfg).await.unwrap();
    let server = Server::start(&cfg, log, regions(), &tokens())
        .await
        .unwrap();
    let base = format!("http://{}", server.addr);
    let stats_uri = stats_uri.replace(&base_before, &base);

    let r = client
        .delete(format!("{base}/api/v1/parties/{party}/personal-data"))
        .bearer_auth(SUP)
        .json(&json!({ "legal_basis": "data_subject_request" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(get(stats_uri, ANA).await, stats, "statistics unchanged");
    assert_eq!(
        get(format!("{base}/api/v1/cases/{case}/timeline"), AUD).await,
        timeline,
        "history unchanged"
    );
    server.stop().await.unwrap();

    for (what, needle) in [
        ("name", NAME.as_bytes().to_vec()),
        ("ID number", ID_NUMBER.as_bytes().to_vec()),
        ("phone", PHONE.as_bytes().to_vec()),
        ("raw data key", raw.clone()),
        ("raw data key, hex", hex::encode(&raw).into_bytes()),
        ("wrapped data key", wrapped.clone()),
        ("wrapped data key, hex", hex::encode(&wrapped).into_bytes()),
    ] {
        assert_eq!(
            holding(&store, &needle),
            Vec::<PathBuf>::new(),
            "the {what} survives erasure"
        );
    }
    let (status, out) = replay(&with(&["verify"])).await;
    assert_eq!(status, gridcase_replay_tool::Status::Ok, "{out}");
    let export_after = replay(&with(&["export", "--format", "jsonl"])).await;
    assert_eq!(export_after.1, export_before.1, "the export is unchanged");
    case_text_round(&cfg, &store, &source, &case).await;
}

/// The case of `erasure_round` finished, its other party erased, then its text: the case key
/// is in no file afterwards, the text reads ［已删除］, the log still verifies and exports the
/// same records.
async fn case_text_round(cfg: &Config, store: &[PathBuf], source: &[&str], case: &str) {
    let log = serve::open_log(cfg).await.unwrap();
    let server = Server::start(cfg, log, regions(), &tokens()).await.unwrap();
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let send = |method: reqwest::Method, uri: String, token: &'static str, body: Value| {
        let client = client.clone();
        async move {
            let r = client
                .request(method, &uri)
                .bearer_auth(token)
                .header(
                    "Idempotency-Key",
                    format!("text-round-{}", uri.rsplit('/').next().unwrap_or("x")),
                )
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            assert!(status.is_success(), "{status}: {text}");
            serde_json::from_str::<Value>(&text).unwrap()
        }
    };
    let post = reqwest::Method::POST;
    for (action, body) in [
        ("register", json!({})),
        ("assign", json!({ "handler": "gw-1" })),
        (
            "resolve",
            json!({ "method": "on_the_spot", "summary": "当场化解" }),
        ),
        ("close", json!({})),
    ] {
        send(
            post.clone(),
            format!("{base}/api/v1/cases/{case}/{action}"),
            GW1,
            body,
        )
        .await;
    }
    let parties = send(
        reqwest::Method::GET,
        format!("{base}/api/v1/cases/{case}/parties"),
        SUP,
        json!(null),
    )
    .await;
    let other = parties["parties"][1]["id"].as_str().unwrap().to_owned();
    let basis = json!({ "legal_basis": "retention_expired" });
    send(
        reqwest::Method::DELETE,
        format!("{base}/api/v1/parties/{other}/personal-data"),
        SUP,
        basis.clone(),
    )
    .await;
    let case_id: CaseId = case.parse().unwrap();
    let (raw, wrapped) = server
        .app
        .vault
        .case_key_material(&case_id)
        .await
        .unwrap()
        .unwrap();
    let raw = raw.expose().to_vec();
    assert!(
        !holding(store, &wrapped).is_empty(),
        "the wrapped case key is stored"
    );
    send(
        reqwest::Method::DELETE,
        format!("{base}/api/v1/cases/{case}/text"),
        SUP,
        basis,
    )
    .await;
    let timeline = send(
        reqwest::Method::GET,
        format!("{base}/api/v1/cases/{case}/timeline"),
        SUP,
        json!(null),
    )
    .await
    .to_string();
    assert!(!timeline.contains(SUMMARY), "{timeline}");
    assert!(timeline.contains("［已删除］"), "{timeline}");
    server.stop().await.unwrap();
    for (what, needle) in [
        ("raw case key", raw.clone()),
        ("raw case key, hex", hex::encode(&raw).into_bytes()),
        ("wrapped case key", wrapped.clone()),
        ("wrapped case key, hex", hex::encode(&wrapped).into_bytes()),
    ] {
        assert_eq!(
            holding(store, &needle),
            Vec::<PathBuf>::new(),
            "the {what} survives erasure"
        );
    }
    let (status, out) = replay(&[source, &["verify"]].concat()).await;
    assert_eq!(status, gridcase_replay_tool::Status::Ok, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_on_the_embedded_store_leaves_no_trace_and_changes_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let data = dir.path().to_str().unwrap().to_owned();
    erasure_round(
        cfg,
        vec![dir.path().to_owned()],
        vec!["--data".into(), data],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_on_nats_leaves_no_trace_and_changes_nothing_else() {
    let Some(nats) = NatsServer::start_or_skip() else {
        return;
    };
    eprintln!("nats-server {}", nats.version());
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        nats: Some(NatsConfig {
            url: nats.url(),
            ..NatsConfig::default()
        }),
        ..Config::default()
    };
    erasure_round(
        cfg,
        vec![dir.path().to_owned(), nats.store_dir()],
        vec!["--nats".into(), nats.url()],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_master_key_stops_the_start_with_both_key_ids() {
    let dir = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key_file = |name: &str| {
        let path = keys.path().join(name);
        gridcase_vault::master::write_key_file(
            &path,
            &gridcase_vault::MasterKey::generate().unwrap(),
        )
        .unwrap();
        path
    };
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    cfg.vault.key_file = Some(key_file("right.key"));
    let log = serve::open_log(&cfg).await.unwrap();
    Server::start(&cfg, log, regions(), &tokens())
        .await
        .unwrap()
        .stop()
        .await
        .unwrap();
    cfg.vault.key_file = Some(key_file("wrong.key"));
    let log = serve::open_log(&cfg).await.unwrap();
    let Err(e) = Server::start(&cfg, log, regions(), &tokens()).await else {
        panic!("the server started with the wrong master key");
    };
    let chain = gridcase_domain::error_chain(&e);
    assert!(chain.contains("opening the personal data vault"), "{chain}");
    assert!(chain.contains("wrong master key"), "{chain}");
    assert!(chain.contains("master key id"), "{chain}");
    // Naming both a file and a variable is a configuration error, not a guess.
    cfg.vault.key_env = Some("GRIDCASE_VAULT_KEY".into());
    let log = serve::open_log(&cfg).await.unwrap();
    let Err(e) = Server::start(&cfg, log, regions(), &tokens()).await else {
        panic!("the server started with two key sources");
    };
    assert!(
        gridcase_domain::error_chain(&e).contains("key_file and key_env"),
        "{e}"
    );
}
