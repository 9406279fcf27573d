//! End to end over real sockets: `Server::start` on `127.0.0.1:0`, driven with `reqwest`.
//!
//! One dispute walks its whole life — reported by a grid worker, escalated to the village,
//! registered there, mediated by a people's mediator, resolved by agreement, verified by the
//! township, closed, followed up — and is then read back: the case view and the village rate
//! of that month. The walk is written once over a base URL and run against the embedded store
//! and against NATS JetStream (skipped without nats-server unless `GRIDCASE_REQUIRE_NATS` is
//! set). A graceful stop lets the command in flight finish.

mod common;

use std::net::SocketAddr;

use common::*;
use gridcase_bus::testing::NatsServer;
use gridcase_bus::EventLog;
use gridcase_domain::CaseId;
use gridcase_server::config::{Config, NatsConfig};
use gridcase_server::serve::{self, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A client of one server.
struct Api {
    client: reqwest::Client,
    base: String,
    /// The position of the last command, for read-your-writes.
    last: u64,
}

impl Api {
    fn new(base: &str) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            last: 0,
        }
    }

    async fn post(
        &self,
        token: &str,
        path: &str,
        key: &str,
        body: &Value,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
        (status, headers, v)
    }

    /// A command on a case that must succeed; returns the response body.
    async fn command(&mut self, token: &str, case: &str, action: &str, body: Value) -> Value {
        let key = format!("e2e-{case}-{action}-{}", self.last);
        let (status, headers, v) = self
            .post(
                token,
                &format!("/api/v1/cases/{case}/{action}"),
                &key,
                &body,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{action}: {v}");
        assert_eq!(
            headers["etag"].to_str().unwrap(),
            format!("\"{}\"", v["version"])
        );
        self.last = v["position"].as_u64().unwrap();
        v
    }

    async fn get(&self, token: &str, path: &str) -> Value {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// The case view once the projection has applied the last command.
    async fn view(&self, token: &str, case: &str) -> Value {
        self.get(token, &format!("/api/v1/cases/{case}?after={}", self.last))
            .await
    }
}

/// The whole life of one dispute, against the server at `base`.
async fn walk(base: &str) {
    let mut api = Api::new(base);

    // 信息收集: the grid worker reports; a retry returns the first result.
    let mut report = report_body(G1);
    report["occurred_at"] = json!("2025-06-02T01:00:00Z");
    let (status, _, first) = api.post(GW1, "/api/v1/cases", "e2e-report", &report).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let case = first["case_id"].as_str().unwrap().to_owned();
    let (status, _, again) = api.post(GW1, "/api/v1/cases", "e2e-report", &report).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["position"], first["position"]);
    api.last = first["position"].as_u64().unwrap();

    // 上报: beyond the grid, escalated before registering: still only reported, now at the
    // village.
    api.command(
        GW1,
        &case,
        "escalate",
        json!({ "reason": "双方分歧大，需村调委会调解", "occurred_at": "2025-06-02T01:10:00Z" }),
    )
    .await;
    let v = api.view(VIL, &case).await;
    assert_eq!(v["status"], "reported", "{v}");
    assert_eq!(v["case"]["holder"], VILLAGE);

    // 立案, 派遣 at the village.
    api.command(
        VIL,
        &case,
        "register",
        json!({ "occurred_at": "2025-06-02T01:20:00Z" }),
    )
    .await;
    api.command(
        VIL,
        &case,
        "assign",
        json!({ "handler": "staff-v1", "occurred_at": "2025-06-02T01:30:00Z" }),
    )
    .await;

    // 人民调解 by the village's mediator.
    api.command(
        VIL,
        &case,
        "start_mediation",
        json!({
            "mediation_type": "people",
            "mediator": "med-1",
            "organization": VILLAGE,
            "occurred_at": "2025-06-02T02:00:00Z",
        }),
    )
    .await;
    api.command(
        MED1,
        &case,
        "hold_mediation_session",
        json!({ "summary": "现场测量界址，双方陈述意见", "occurred_at": "2025-06-03T02:00:00Z" }),
    )
    .await;
    api.command(
        MED1,
        &case,
        "conclude_mediation",
        json!({ "outcome": "agreement", "note": "双方签订调解协议", "occurred_at": "2025-06-03T03:00:00Z" }),
    )
    .await;

    // 化解, 核查, 结案, 回访.
    api.command(
        VIL,
        &case,
        "resolve",
        json!({ "method": "mediated_agreement", "summary": "依调解协议化解", "occurred_at": "2025-06-03T04:00:00Z" }),
    )
    .await;
    api.command(
        TWN,
        &case,
        "verify_resolution",
        json!({ "note": "电话回访核实", "occurred_at": "2025-06-04T01:00:00Z" }),
    )
    .await;
    api.command(
        VIL,
        &case,
        "close",
        json!({ "occurred_at": "2025-06-04T02:00:00Z" }),
    )
    .await;
    let done = api
        .command(
            VIL,
            &case,
            "record_feedback",
            json!({ "satisfaction": "satisfied", "occurred_at": "2025-06-05T01:00:00Z" }),
        )
        .await;
    assert_eq!(done["version"], 11);

    // The case view: closed, resolved at the village.
    let v = api.view(VIL, &case).await;
    assert_eq!(v["status"], "closed", "{v}");
    assert_eq!(v["version"], 11);
    assert_eq!(v["holder_level"], "village");
    assert_eq!(v["case"]["resolution"]["level"], "village");
    assert_eq!(v["case"]["resolution"]["method"], "mediated_agreement");
    assert_eq!(v["case"]["feedback"], "satisfied");

    // The auditor's timeline: every event, in order.
    let tl = api
        .get(AUD, &format!("/api/v1/cases/{case}/timeline"))
        .await;
    let types: Vec<&str> = tl["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "CaseReported",
            "CaseEscalated",
            "CaseRegistered",
            "CaseAssigned",
            "MediationStarted",
            "MediationSessionHeld",
            "MediationConcluded",
            "CaseResolved",
            "ResolutionVerified",
            "CaseClosed",
            "FeedbackRecorded",
        ]
    );

    // 大事不出村: the month's village rate, for the township and for the village.
    for region in [TOWNSHIP, VILLAGE] {
        let s = api
            .get(
                ANA,
                &format!(
                    "/api/v1/stats?region={region}&period=2025-06&after={}",
                    api.last
                ),
            )
            .await;
        let cohort = &s["figures"]["cohort"];
        assert_eq!(cohort["registered"], 1, "{region}: {s}");
        assert_eq!(cohort["resolved_at"]["village"], 1, "{region}: {s}");
        assert_eq!(cohort["resolved"], 1);
        assert_eq!(cohort["grid_rate"], 0.0);
        assert_eq!(cohort["village_rate"], 1.0);
        assert_eq!(cohort["township_rate"], 1.0);
        assert_eq!(s["figures"]["rates"]["mediation_success"], 1.0);
        assert_eq!(s["figures"]["rates"]["satisfaction"], 1.0);
    }
    // Nothing in the month before.
    let s = api
        .get(
            ANA,
            &format!("/api/v1/stats?region={TOWNSHIP}&period=2025-05"),
        )
        .await;
    assert_eq!(s["figures"]["cohort"]["registered"], 0);

    // Operations over the wire.
    let ready = api.get(ANA, "/readyz").await;
    assert_eq!(ready["head"], api.last);
    let metrics = api
        .client
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("gridcase_commands_total{action=\"resolve\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispute_walks_its_whole_life_over_http_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = walk_config(dir.path());
    let log = serve::open_log(&cfg).await.unwrap();
    let server = Server::start(&cfg, log, walk_regions(), &tokens())
        .await
        .unwrap();
    walk(&format!("http://{}", server.addr)).await;
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispute_walks_its_whole_life_over_http_on_nats() {
    let Some(nats) = NatsServer::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        nats: Some(NatsConfig {
            url: nats.url(),
            ..NatsConfig::default()
        }),
        ..walk_config(dir.path())
    };
    let log = serve::open_log(&cfg).await.unwrap();
    assert!(matches!(log, gridcase_bus::AnyLog::Nats(_)));
    let server = Server::start(&cfg, log, walk_regions(), &tokens())
        .await
        .unwrap();
    walk(&format!("http://{}", server.addr)).await;
    server.stop().await.unwrap();
}

/// Reads from `sock` until the end of a response head.
async fn read_head(sock: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = sock.read(&mut byte).await.unwrap();
        assert_eq!(n, 1, "connection closed inside a response head: {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Whether new connections to `addr` are refused (the listener is gone).
async fn refuses_connections(addr: SocketAddr) -> bool {
    TcpStream::connect(addr).await.is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_finishes_the_command_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = walk_config(dir.path());
    let log = serve::open_log(&cfg).await.unwrap();
    let server = Server::start(&cfg, log, walk_regions(), &tokens())
        .await
        .unwrap();
    let addr = server.addr;
    let app = server.app.clone();
    let mut report = report_body(G1);
    report["occurred_at"] = json!("2025-06-02T01:00:00Z");
    let (status, _, v) = Api::new(&format!("http://{addr}"))
        .post(GW1, "/api/v1/cases", "graceful-report", &report)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let case = v["case_id"].as_str().unwrap().to_owned();

    // A command whose body is still on its way: `Expect: 100-continue` makes the server say
    // when the handler has started reading it.
    let body = json!({ "text": "停机时仍在提交的备注" }).to_string();
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/cases/{case}/add_note HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {GW1}\r\nContent-Type: application/json\r\n\
         Idempotency-Key: in-flight\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let cont = read_head(&mut sock).await;
    assert!(cont.starts_with("HTTP/1.1 100"), "{cont}");

    // Stop while it is in flight; once new connections are refused the server is draining.
    let stopping = tokio::spawn(server.stop());
    while !refuses_connections(addr).await {
        tokio::task::yield_now().await;
    }
    assert!(!stopping.is_finished(), "stopped with a request in flight");

    // The rest of the body: the command completes and is answered.
    sock.write_all(body.as_bytes()).await.unwrap();
    let mut response = String::new();
    sock.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"version\":2"), "{response}");
    stopping.await.unwrap().unwrap();

    // And it is in the log.
    let commits = app
        .path
        .log()
        .read_case(&CaseId::new(case).unwrap())
        .await
        .unwrap();
    assert_eq!(commits.len(), 2);
    // The client's key, scoped to the client.
    assert_eq!(commits[1].command_id.as_str(), "4.gw-1:in-flight");

    // The stop saved the projection at the log's head: the next start replays nothing.
    let head = app.path.log().head().await.unwrap();
    let snapshot = gridcase_projections::Store::dump_dir(&cfg.data_dir.join("projection")).unwrap();
    assert_eq!(gridcase_projections::checkpoint_of(&snapshot), head);
}
