//! The HTTP API in process: `Router::oneshot` over the real command path, a temporary sled log
//! and a live in-memory projection.
//!
//! - a full life cycle through every endpoint and every command;
//! - every error status of the problem+json table, each leaving the log unchanged;
//! - per role, what it must not do;
//! - many clients racing on one case: no 500, no lost update.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use common::*;
use gridcase_bus::{AnyLog, EventLog, SledLog};
use gridcase_domain::{Action, RegionTree, Timestamp};
use gridcase_projections::{Calendar, Projection};
use gridcase_server::api;
use gridcase_server::app::AppState;
use gridcase_server::config::Config;
use gridcase_server::serve;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tower::ServiceExt;

const CSV: &str = "code,name,level,parent\n\
330800,衢州市,city,33\n\
330802,柯城区,county,330800\n\
330802005,新新街道,township,330802\n\
330802005001,金桂社区,village,330802005\n\
330802005002,荷花社区,village,330802005\n\
330802006,荷花街道,township,330802\n\
330802006001,双港社区,village,330802006\n";

fn regions() -> Arc<RegionTree> {
    let mut t = RegionTree::from_csv(CSV.as_bytes()).unwrap();
    for g in [G1, G2, G3, G4] {
        t.add_grid(code(g), None).unwrap();
    }
    Arc::new(t)
}

/// A response, body read.
struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// The app over a log, its projection runner, and bookkeeping for the assertions.
struct Harness {
    app: AppState,
    router: Router,
    runner: Option<JoinHandle<()>>,
    /// Minutes after 2025-06-02T00:00Z: each command happens one minute after the previous.
    minutes: AtomicU64,
    keys: AtomicU64,
    /// The position of the last successful, non-duplicate command: the log head must stay
    /// there after every refused request.
    last: AtomicU64,
    /// Actions that succeeded at least once.
    used: Mutex<BTreeSet<String>>,
    /// Every free text sent (non-ASCII string fields), for the analyst's no-free-text check.
    texts: Mutex<BTreeSet<String>>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(r) = self.runner.take() {
            r.abort();
        }
    }
}

impl Harness {
    fn new() -> Harness {
        Harness::with_config(Config::default())
    }

    fn with_config(cfg: Config) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let log = SledLog::open(dir.path().join("log")).unwrap();
        Harness::over(cfg, log.into(), Some(dir))
    }

    fn over(mut cfg: Config, log: AnyLog, dir: Option<tempfile::TempDir>) -> Harness {
        // The scripts are dated June 2025 and run on the wall clock: lift the back-dating
        // window (a deployment migrating old records would do the same).
        cfg.policy.times.max_backdate_days = 0;
        let projection = Projection::in_memory(Calendar::default());
        let app = serve::build_app(&cfg, log, regions(), projection, &tokens()).unwrap();
        let runner = {
            let app = app.clone();
            tokio::spawn(async move {
                app.projection.run(app.path.log()).await.unwrap();
            })
        };
        Harness {
            router: api::router(app.clone()),
            app,
            runner: Some(runner),
            minutes: AtomicU64::new(0),
            keys: AtomicU64::new(0),
            last: AtomicU64::new(0),
            used: Mutex::default(),
            texts: Mutex::default(),
            _dir: dir,
        }
    }

    /// Stops the runner and lets go of the log (and with it the store's lock).
    async fn close(mut self) {
        if let Some(r) = self.runner.take() {
            r.abort();
            let _ = r.await;
        }
    }

    async fn head(&self) -> u64 {
        self.app.path.log().head().await.unwrap()
    }

    fn last(&self) -> u64 {
        self.last.load(Ordering::SeqCst)
    }

    fn next_key(&self) -> String {
        format!("key-{}", self.keys.fetch_add(1, Ordering::SeqCst))
    }

    fn tick(&self) -> String {
        let m = self.minutes.fetch_add(1, Ordering::SeqCst) as i64;
        Timestamp::parse("2025-06-02T00:00:00Z")
            .unwrap()
            .plus_millis(m * 60_000)
            .to_string()
    }

    async fn request(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let resp = self
            .router
            .clone()
            .oneshot(b.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, uri: &str, token: &str) -> Resp {
        self.request(Method::GET, uri, Some(token), &[], Body::empty())
            .await
    }

    /// A GET that must succeed.
    async fn read(&self, uri: &str, token: &str) -> Value {
        let r = self.get(uri, token).await;
        assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.text());
        r.json()
    }

    async fn post_raw(
        &self,
        uri: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Resp {
        let mut h = vec![("content-type", "application/json")];
        h.extend_from_slice(headers);
        self.request(Method::POST, uri, token, &h, body.into())
            .await
    }

    /// Sends a command (`report` goes to `/api/v1/cases`), adding `occurred_at` if missing.
    async fn send(
        &self,
        token: &str,
        case: &str,
        action: &str,
        mut body: Value,
        headers: &[(&str, &str)],
    ) -> Resp {
        if let Value::Object(m) = &mut body {
            m.entry("occurred_at")
                .or_insert_with(|| Value::String(self.tick()));
            let mut texts = self.texts.lock().unwrap();
            for v in m.values() {
                if let Value::String(s) = v {
                    if !s.is_ascii() {
                        texts.insert(s.clone());
                    }
                }
            }
        }
        let uri = if action == "report" {
            "/api/v1/cases".to_owned()
        } else {
            format!("/api/v1/cases/{case}/{action}")
        };
        let r = self
            .post_raw(&uri, Some(token), headers, body.to_string())
            .await;
        if r.status.is_success() {
            let v = r.json();
            if v["duplicate"] == false {
                self.last
                    .fetch_max(v["position"].as_u64().unwrap(), Ordering::SeqCst);
                self.used.lock().unwrap().insert(action.to_owned());
            }
        }
        r
    }

    /// A command with a fresh idempotency key.
    async fn command(&self, token: &str, case: &str, action: &str, body: Value) -> Resp {
        let key = self.next_key();
        self.send(token, case, action, body, &[("idempotency-key", &key)])
            .await
    }

    /// A command that must succeed with 200.
    async fn ok(&self, token: &str, case: &str, action: &str, body: Value) -> Value {
        let r = self.command(token, case, action, body).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{action} on {case} by {token}: {}",
            r.text()
        );
        let v = r.json();
        assert_eq!(v["duplicate"], false);
        assert_eq!(
            r.headers[header::ETAG].to_str().unwrap(),
            format!("\"{}\"", v["version"])
        );
        v
    }

    /// Reports a dispute in `grid`; returns the case id.
    async fn report(&self, token: &str, grid: &str) -> String {
        let r = self.command(token, "", "report", report_body(grid)).await;
        assert_eq!(r.status, StatusCode::CREATED, "report: {}", r.text());
        r.json()["case_id"].as_str().unwrap().to_owned()
    }

    /// Asserts a problem+json error and that the log did not move.
    async fn refused(&self, r: Resp, status: u16, code: &str) -> Value {
        assert_eq!(
            r.status.as_u16(),
            status,
            "expected {status} {code}: {}",
            r.text()
        );
        assert_eq!(
            r.headers[header::CONTENT_TYPE],
            "application/problem+json",
            "{}",
            r.text()
        );
        let v = r.json();
        assert_eq!(v["code"], code, "{v}");
        assert_eq!(v["status"], status);
        assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
        assert_eq!(
            self.head().await,
            self.last(),
            "a refused request moved the log"
        );
        v
    }

    fn after(&self) -> String {
        format!("after={}", self.last())
    }
}

fn note(text: &str) -> Value {
    json!({ "text": text })
}

/// Every string and key of a JSON document.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                strings(v, out);
            }
        }
        _ => {}
    }
}

/// An analyst's answer holds no personal data and no free text.
fn assert_no_free_text(v: &Value, texts: &BTreeSet<String>) {
    let mut all = Vec::new();
    strings(v, &mut all);
    for s in &all {
        for forbidden in [
            "summary",
            "note",
            "text",
            "reason",
            "comment",
            "description",
            "parties",
            "party",
            "body",
        ] {
            assert_ne!(s, forbidden, "analyst stats carry the field {forbidden:?}");
        }
        for p in PARTIES {
            assert!(!s.contains(p), "analyst stats carry party id {p}");
        }
        for t in texts {
            assert!(
                !s.contains(t.as_str()),
                "analyst stats carry free text {t:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The life cycle: every command, every read endpoint.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_full_life_cycle_through_every_endpoint() {
    let h = Harness::new();

    // Report: 201, the case id derived from the Idempotency-Key.
    let body = report_body(G1);
    let r = h
        .send(
            GW1,
            "",
            "report",
            body.clone(),
            &[("idempotency-key", "life-a")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let first = r.json();
    let a = first["case_id"].as_str().unwrap().to_owned();
    assert_eq!(
        a,
        api::derived_case_id(&actor_of(GW1), "life-a").to_string()
    );
    assert_eq!(first["version"], 1);
    assert_eq!(first["duplicate"], false);
    assert_eq!(first["events"][0]["type"], "CaseReported");
    let head = h.head().await;
    assert_eq!(first["position"], head);

    // The retry: 200, the first result, nothing appended.
    let r = h
        .send(GW1, "", "report", body, &[("idempotency-key", "life-a")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let retry = r.json();
    assert_eq!(retry["duplicate"], true);
    assert_eq!(retry["case_id"], first["case_id"]);
    assert_eq!(retry["position"], first["position"]);
    assert_eq!(retry["version"], first["version"]);
    assert_eq!(retry["events"], first["events"]);
    assert_eq!(h.head().await, head);

    // Handled at the grid first, then escalated to the village.
    h.ok(GW1, &a, "register", json!({})).await;
    h.ok(GW1, &a, "assign", json!({ "handler": "gw-1" })).await;
    h.ok(GW1, &a, "add_note", note("已到现场了解情况，双方情绪激动"))
        .await;
    h.ok(
        GW1,
        &a,
        "attach_evidence",
        json!({ "content_hash": "ab".repeat(32), "media_type": "image/jpeg", "description": "院墙现场照片" }),
    )
    .await;
    let v = h
        .ok(
            GW1,
            &a,
            "escalate",
            json!({ "reason": "双方分歧较大，需村调委会调解" }),
        )
        .await;
    assert_eq!(v["events"][0]["type"], "CaseEscalated");
    let view = h
        .read(&format!("/api/v1/cases/{a}?{}", h.after()), VIL)
        .await;
    assert_eq!(view["status"], "registered", "{view}");
    assert_eq!(view["case"]["holder"], VILLAGE);
    assert_eq!(view["holder_level"], "village");

    // From above: an extension and a supervision.
    h.ok(
        TWN,
        &a,
        "extend_deadline",
        json!({ "deadline": "2025-07-30T00:00:00Z", "reason": "当事人外出务工，需延期调解" }),
    )
    .await;
    h.ok(
        SUP,
        &a,
        "issue_supervision",
        note_field("请抓紧调处，防止矛盾激化"),
    )
    .await;

    // The village mediates.
    h.ok(VIL, &a, "assign", json!({ "handler": "staff-v1" }))
        .await;
    h.ok(
        VIL,
        &a,
        "start_mediation",
        json!({ "mediation_type": "people", "mediator": "med-1", "organization": VILLAGE }),
    )
    .await;
    h.ok(
        MED1,
        &a,
        "hold_mediation_session",
        json!({ "summary": "第一次调解：双方同意重新测量界址" }),
    )
    .await;
    h.ok(
        MED1,
        &a,
        "conclude_mediation",
        json!({ "outcome": "agreement", "note": "双方签订人民调解协议书" }),
    )
    .await;
    let resolve = json!({ "method": "mediated_agreement", "summary": "依调解协议化解" });
    h.ok(VIL, &a, "resolve", resolve.clone()).await;
    // The township sends it back once; an agreement resolves once, so the village mediates
    // again before resolving again.
    h.ok(
        TWN,
        &a,
        "reject_resolution",
        json!({ "reason": "协议履行情况未核实，返工" }),
    )
    .await;
    h.refused(
        h.command(VIL, &a, "resolve", resolve.clone()).await,
        422,
        "NoMediatedAgreement",
    )
    .await;
    h.ok(
        VIL,
        &a,
        "start_mediation",
        json!({ "mediation_type": "people", "mediator": "med-1", "organization": VILLAGE }),
    )
    .await;
    h.ok(
        MED1,
        &a,
        "hold_mediation_session",
        json!({ "summary": "第二次调解：补充约定履行期限" }),
    )
    .await;
    h.ok(
        MED1,
        &a,
        "conclude_mediation",
        json!({ "outcome": "agreement", "note": "签订补充协议" }),
    )
    .await;
    h.ok(VIL, &a, "resolve", resolve).await;
    h.ok(
        TWN,
        &a,
        "verify_resolution",
        note_field("经回访核实，协议已履行"),
    )
    .await;
    h.ok(VIL, &a, "close", json!({})).await;
    h.ok(
        VIL,
        &a,
        "record_feedback",
        json!({ "satisfaction": "satisfied", "comment": "对调解结果满意" }),
    )
    .await;
    let view = h
        .read(&format!("/api/v1/cases/{a}?{}", h.after()), VIL)
        .await;
    assert_eq!(view["status"], "closed");
    assert_eq!(view["case"]["resolution"]["level"], "village");
    assert_eq!(view["case"]["resolution"]["method"], "mediated_agreement");

    // New facts: reopened, and an audited correction.
    h.ok(
        TWN,
        &a,
        "reopen",
        json!({ "reason": "new_facts", "note": "一方反映界址测量有误" }),
    )
    .await;
    h.ok(
        ADM,
        &a,
        "correct_details",
        json!({ "category": "housing_homestead", "reason": "纠纷实为宅基地界址争议，更正类别" }),
    )
    .await;

    // Case B: up to the township, down to the village, out to a court and back, taken over
    // by the township (提级领办), merged there.
    let b = h.report(GW1, G1).await;
    h.ok(GW1, &b, "register", json!({})).await;
    h.ok(
        GW1,
        &b,
        "escalate",
        json!({ "to": TOWNSHIP, "reason": "涉及多个村，需街道协调" }),
    )
    .await;
    h.ok(TWN, &b, "assign", json!({ "handler": "staff-t1" }))
        .await;
    h.ok(
        TWN,
        &b,
        "delegate",
        json!({ "to": VILLAGE, "reason": "经核实仅涉及金桂社区，交办社区处理" }),
    )
    .await;
    h.ok(
        VIL,
        &b,
        "refer",
        json!({ "target": "court", "body": "柯城区人民法院", "reason": "当事人已申请诉前调解" }),
    )
    .await;
    h.ok(
        VIL,
        &b,
        "return_referral",
        json!({ "reason": "法院退回，建议先行人民调解" }),
    )
    .await;
    h.ok(
        TWN,
        &b,
        "take_over",
        json!({ "reason": "与前案系同一纠纷，街道提级领办" }),
    )
    .await;
    h.ok(
        TWN,
        &b,
        "merge",
        json!({ "into": a, "reason": "与前案系同一纠纷，合并办理" }),
    )
    .await;

    // Case C: not registered.
    let c = h.report(GW1, G1).await;
    h.ok(
        GW1,
        &c,
        "reject",
        json!({ "reason": "duplicate", "note": "重复上报" }),
    )
    .await;

    // Every command was used.
    let names: BTreeSet<String> = Action::NAMES.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(*h.used.lock().unwrap(), names);

    // The case view, read-your-writes.
    let after = h.after();
    let view = h.read(&format!("/api/v1/cases/{a}?{after}"), VIL).await;
    assert_eq!(view["case_id"], a);
    assert_eq!(view["version"], 23);
    assert_eq!(view["status"], "registered");
    assert_eq!(view["case"]["details"]["category"], "housing_homestead");
    let view_b = h.read(&format!("/api/v1/cases/{b}?{after}"), VIL).await;
    assert_eq!(view_b["status"], "merged");
    assert_eq!(view_b["case"]["merged_into"], a);

    // The timeline: every event, versions 1.. without gaps, chained.
    let tl = h.read(&format!("/api/v1/cases/{a}/timeline"), VIL).await;
    assert_eq!(tl["version"], 23);
    let events = tl["events"].as_array().unwrap();
    assert_eq!(events.len(), 23);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["version"], i as u64 + 1);
        if i > 0 {
            assert_eq!(e["prev_hash"], events[i - 1]["hash"]);
        }
    }
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "CaseReported",
            "CaseRegistered",
            "CaseAssigned",
            "NoteAdded",
            "EvidenceAttached",
            "CaseEscalated",
            "DeadlineExtended",
            "SupervisionIssued",
            "CaseAssigned",
            "MediationStarted",
            "MediationSessionHeld",
            "MediationConcluded",
            "CaseResolved",
            "ResolutionRejected",
            "MediationStarted",
            "MediationSessionHeld",
            "MediationConcluded",
            "CaseResolved",
            "ResolutionVerified",
            "CaseClosed",
            "FeedbackRecorded",
            "CaseReopened",
            "CaseDetailsCorrected",
        ]
    );
    assert_eq!(events[0]["command_id"], "life-a");
    assert_eq!(events[0]["actor"]["id"], "gw-1");

    // The village's queue: case A only (B merged, C rejected).
    let q = h
        .read(&format!("/api/v1/units/{VILLAGE}/queue?{after}"), VIL)
        .await;
    assert_eq!(q["unit"], VILLAGE);
    assert_eq!(q["open"], 1, "{q}");
    assert_eq!(q["cases"][0]["case_id"], a);
    assert_eq!(q["cases"][0]["status"], "registered");
    assert_eq!(q["supervised"], 1);
    let q = h
        .read(&format!("/api/v1/units/{G1}/queue?{after}"), GW1)
        .await;
    assert_eq!(q["open"], 0, "{q}");

    // Open cases in the township's subtree, by level.
    let open = h
        .read(&format!("/api/v1/regions/{TOWNSHIP}/open?{after}"), TWN)
        .await;
    assert_eq!(open["open"], 1, "{open}");
    assert_eq!(open["by_level"]["village"], 1);
    assert_eq!(open["cases"][0]["case_id"], a);

    // Statistics for June 2025, by category, drilled down to the villages.
    let s = h
        .read(
            &format!(
                "/api/v1/stats?region={TOWNSHIP}&period=2025-06&breakdown=category&drill_down=true&{after}"
            ),
            TWN,
        )
        .await;
    assert_eq!(s["region"], TOWNSHIP);
    assert_eq!(s["level"], "township");
    assert_eq!(s["time_zone"], "Asia/Shanghai");
    let f = &s["figures"];
    assert_eq!(f["activity"]["reported"], 3, "{s}");
    assert_eq!(f["activity"]["escalated"], 2);
    assert_eq!(f["activity"]["delegated"], 1);
    assert_eq!(f["activity"]["referred"], 1);
    assert_eq!(f["activity"]["mediations_concluded"], 2);
    assert_eq!(f["activity"]["mediation_agreements"], 2);
    assert_eq!(f["activity"]["resolved"], 2);
    assert_eq!(f["activity"]["reworked"], 1);
    assert_eq!(f["activity"]["extended"], 1);
    assert_eq!(f["activity"]["supervised"], 1);
    assert_eq!(f["activity"]["closed"], 1);
    assert_eq!(f["activity"]["reopened"], 1);
    assert_eq!(f["activity"]["feedback"], 1);
    assert_eq!(f["cohort"]["rejected"], 1);
    assert_eq!(f["cohort"]["merged"], 1);
    // Registered = resolved + referred out + merged + open: A open, B merged.
    assert_eq!(f["cohort"]["registered"], 2);
    assert_eq!(f["cohort"]["open"], 1);
    assert_eq!(f["rates"]["mediation_success"], 1.0);
    assert!(!s["breakdown"].as_array().unwrap().is_empty(), "{s}");
    let children = s["children"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    let ranks: BTreeSet<u64> = children
        .iter()
        .map(|c| c["rank"].as_u64().unwrap())
        .collect();
    assert_eq!(ranks, BTreeSet::from([1, 2]));
    let mine = children.iter().find(|c| c["region"] == VILLAGE).unwrap();
    assert_eq!(mine["name"], "金桂社区");
    assert_eq!(mine["figures"]["activity"]["reported"], 3);

    // As of a time before anything was recorded: nothing; as of now: everything.
    let s = h
        .read(
            &format!("/api/v1/stats?region={TOWNSHIP}&period=2025-06&as_of=2000-01-01T00:00:00Z"),
            TWN,
        )
        .await;
    assert_eq!(s["as_of"], "2000-01-01T00:00:00Z");
    assert_eq!(s["figures"]["activity"]["reported"], 0);
    let now = Timestamp::now().to_string();
    let s = h
        .read(
            &format!("/api/v1/stats?region={TOWNSHIP}&period=2025-06&as_of={now}"),
            TWN,
        )
        .await;
    assert_eq!(s["figures"]["activity"]["reported"], 3);

    // The OpenAPI document names every API path.
    let r = h
        .request(
            Method::GET,
            "/api/v1/openapi.json",
            None,
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/cases",
        "/api/v1/cases/{id}",
        "/api/v1/cases/{id}/timeline",
        "/api/v1/cases/{id}/{action}",
        "/api/v1/units/{code}/queue",
        "/api/v1/regions/{code}/open",
        "/api/v1/stats",
    ] {
        assert!(doc["paths"][path].is_object(), "openapi lacks {path}");
    }

    // Operations.
    let r = h
        .request(Method::GET, "/healthz", None, &[], Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), "ok");
    let r = h
        .request(Method::GET, "/readyz", None, &[], Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let ready = r.json();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["head"], h.last());
    let r = h
        .request(Method::GET, "/metrics", None, &[], Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let m = r.text();
    assert!(m.contains("# TYPE gridcase_commands_total counter"), "{m}");
    assert!(
        m.contains("gridcase_commands_total{action=\"report\",outcome=\"ok\"} 3"),
        "{m}"
    );
    assert!(
        m.contains("gridcase_commands_total{action=\"report\",outcome=\"duplicate\"} 1"),
        "{m}"
    );
    assert!(
        m.contains(&format!("gridcase_log_head_position {}", h.last())),
        "{m}"
    );
}

fn note_field(text: &str) -> Value {
    json!({ "note": text })
}

// ---------------------------------------------------------------------------------------------
// Every error status; none appends anything.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_json_is_400() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    let uri = format!("/api/v1/cases/{a}/add_note");
    for body in [
        "{\"text\": ",
        "[1, 2]",
        "\"note\"",
        "{\"text\": \"x\"} trailing",
    ] {
        let r = h.post_raw(&uri, Some(GW1), &[], body).await;
        let v = h.refused(r, 400, "malformed_json").await;
        assert!(v.get("field").is_none(), "{v}");
    }
    let r = h.post_raw("/api/v1/cases", Some(GW1), &[], "{").await;
    h.refused(r, 400, "malformed_json").await;
}

#[tokio::test]
async fn an_invalid_field_is_400_naming_the_field() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;

    // A missing required field.
    let r = h.command(GW1, &a, "escalate", json!({})).await;
    let v = h.refused(r, 400, "invalid_field").await;
    assert_eq!(v["field"], "reason", "{v}");
    assert!(v["detail"].as_str().unwrap().contains("reason"), "{v}");

    // A malformed region code.
    let mut body = report_body(G1);
    body["location"] = json!("33080200500100");
    let r = h.command(GW1, "", "report", body).await;
    let v = h.refused(r, 400, "invalid_field").await;
    assert_eq!(v["field"], "location", "{v}");
    assert!(v["detail"].as_str().unwrap().contains("location"), "{v}");

    // A malformed instant, a bad value nested in a list.
    let mut body = report_body(G1);
    body["happened_at"] = json!("last Tuesday");
    let v = h
        .refused(
            h.command(GW1, "", "report", body).await,
            400,
            "invalid_field",
        )
        .await;
    assert_eq!(v["field"], "happened_at", "{v}");
    let mut body = report_body(G1);
    body["parties"][1]["role"] = json!("bystander");
    let v = h
        .refused(
            h.command(GW1, "", "report", body).await,
            400,
            "invalid_field",
        )
        .await;
    assert_eq!(v["field"], "parties", "{v}");
    assert!(v["detail"].as_str().unwrap().contains("bystander"), "{v}");

    // A value outside the vocabulary, and a field that does not exist.
    let mut body = report_body(G1);
    body["category"] = json!("weather");
    let v = h
        .refused(
            h.command(GW1, "", "report", body).await,
            400,
            "invalid_field",
        )
        .await;
    assert_eq!(v["field"], "category", "{v}");
    let v = h
        .refused(
            h.command(GW1, &a, "add_note", json!({ "text": "x", "colour": "red" }))
                .await,
            400,
            "invalid_field",
        )
        .await;
    assert_eq!(v["field"], "colour", "{v}");

    // Envelope fields and headers.
    let v = h
        .refused(
            h.command(
                GW1,
                &a,
                "add_note",
                json!({ "text": "x", "occurred_at": "yesterday" }),
            )
            .await,
            400,
            "invalid_field",
        )
        .await;
    assert_eq!(v["field"], "occurred_at", "{v}");
    let r = h
        .send(GW1, &a, "add_note", note("x"), &[("if-match", "three")])
        .await;
    let v = h.refused(r, 400, "invalid_field").await;
    assert_eq!(v["field"], "If-Match", "{v}");
    let r = h
        .send(
            GW1,
            &a,
            "add_note",
            note("x"),
            &[("idempotency-key", "a key")],
        )
        .await;
    let v = h.refused(r, 400, "invalid_field").await;
    assert_eq!(v["field"], "Idempotency-Key", "{v}");

    // Queries.
    let v = h
        .refused(
            h.get("/api/v1/stats?period=last-month", TWN).await,
            400,
            "invalid_query",
        )
        .await;
    assert_eq!(v["field"], "period");
    let v = h
        .refused(
            h.get("/api/v1/stats?breakdown=colour", TWN).await,
            400,
            "invalid_query",
        )
        .await;
    assert_eq!(v["field"], "breakdown");
    let v = h
        .refused(
            h.get("/api/v1/stats?as_of=soon", TWN).await,
            400,
            "invalid_query",
        )
        .await;
    assert_eq!(v["field"], "as_of");
    h.refused(
        h.get("/api/v1/stats?drill_down=maybe", TWN).await,
        400,
        "invalid_query",
    )
    .await;
    for uri in [
        format!("/api/v1/cases/{a}?after=soon"),
        format!("/api/v1/units/{VILLAGE}/queue?after=-1"),
        format!("/api/v1/regions/{TOWNSHIP}/open?after=x"),
    ] {
        h.refused(h.get(&uri, TWN).await, 400, "invalid_query")
            .await;
    }
    let v = h
        .refused(
            h.get("/api/v1/units/33080200/queue", TWN).await,
            400,
            "invalid_field",
        )
        .await;
    assert_eq!(v["field"], "unit");
}

#[tokio::test]
async fn no_or_an_unknown_token_is_401() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    let uri = format!("/api/v1/cases/{a}/add_note");
    let body = note("x").to_string();
    h.refused(
        h.post_raw(&uri, None, &[], body.clone()).await,
        401,
        "unauthenticated",
    )
    .await;
    h.refused(
        h.post_raw(&uri, Some("tok-stolen"), &[], body.clone())
            .await,
        401,
        "unauthenticated",
    )
    .await;
    h.refused(
        h.post_raw(
            &uri,
            None,
            &[("authorization", &format!("Basic {GW1}"))],
            body,
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    h.refused(
        h.post_raw("/api/v1/cases", None, &[], report_body(G1).to_string())
            .await,
        401,
        "unauthenticated",
    )
    .await;
    for uri in [
        format!("/api/v1/cases/{a}"),
        format!("/api/v1/cases/{a}/timeline"),
        format!("/api/v1/units/{G1}/queue"),
        format!("/api/v1/regions/{G1}/open"),
        "/api/v1/stats".to_owned(),
    ] {
        let r = h.request(Method::GET, &uri, None, &[], Body::empty()).await;
        h.refused(r, 401, "unauthenticated").await;
        h.refused(h.get(&uri, "tok-wrong").await, 401, "unauthenticated")
            .await;
    }
}

#[tokio::test]
async fn reading_outside_role_or_scope_is_403() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.refused(
        h.get(&format!("/api/v1/cases/{a}"), ANA).await,
        403,
        "forbidden",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/units/{G1}/queue"), GW2).await,
        403,
        "forbidden",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/stats?region={TOWNSHIP}"), GW1)
            .await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn unknown_cases_commands_regions_and_routes_are_404() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    let missing = "330802-0000000000000000";
    for uri in [
        format!("/api/v1/cases/{missing}"),
        format!("/api/v1/cases/{missing}/timeline"),
        "/api/v1/cases/not%20an%20id".to_owned(),
        format!("/api/v1/units/{}/queue", "330802005009"),
        format!("/api/v1/regions/{}/open", "330802099"),
        "/api/v1/stats?region=330802099".to_owned(),
        "/api/v2/cases".to_owned(),
        "/nothing/here".to_owned(),
    ] {
        h.refused(h.get(&uri, TWN).await, 404, "not_found").await;
    }
    // Commands: an unknown name, `report` on a case, a case never reported.
    h.refused(
        h.command(GW1, &a, "explode", json!({})).await,
        404,
        "not_found",
    )
    .await;
    let r = h
        .post_raw(
            &format!("/api/v1/cases/{a}/report"),
            Some(GW1),
            &[],
            report_body(G1).to_string(),
        )
        .await;
    h.refused(r, 404, "not_found").await;
    h.refused(
        h.command(GW1, missing, "add_note", note("x")).await,
        404,
        "not_found",
    )
    .await;
    h.refused(
        h.command(GW1, "bad!id", "add_note", note("x")).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_stale_if_match_is_409_with_expected_and_actual() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "add_note", note("第一条")).await;
    // Pinned to the current version: accepted.
    let r = h
        .send(
            GW1,
            &a,
            "add_note",
            note("第二条"),
            &[("if-match", "\"2\""), ("idempotency-key", "pinned-ok")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["version"], 3);
    // Pinned to a stale one: 409 naming both versions.
    let r = h
        .send(
            GW1,
            &a,
            "add_note",
            note("第三条"),
            &[("if-match", "\"2\""), ("idempotency-key", "pinned-stale")],
        )
        .await;
    let v = h.refused(r, 409, "conflict").await;
    assert_eq!(v["expected"], 2);
    assert_eq!(v["actual"], 3);
    let r = h
        .send(GW1, &a, "add_note", note("第四条"), &[("if-match", "7")])
        .await;
    let v = h.refused(r, 409, "conflict").await;
    assert_eq!(
        (v["expected"].as_u64(), v["actual"].as_u64()),
        (Some(7), Some(3))
    );
    // An idempotency key already used on another case.
    let b = h.report(GW1, G1).await;
    let r = h
        .send(
            GW1,
            &b,
            "add_note",
            note("x"),
            &[("idempotency-key", "pinned-ok")],
        )
        .await;
    h.refused(r, 409, "idempotency_key_reused").await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let h = Harness::with_config(Config {
        max_body_bytes: 1024,
        ..Config::default()
    });
    let a = h.report(GW1, G1).await;
    let big = note(&"很长的备注".repeat(200));
    h.refused(
        h.command(GW1, &a, "add_note", big.clone()).await,
        413,
        "payload_too_large",
    )
    .await;
    let mut body = report_body(G1);
    body["summary"] = json!("长".repeat(2000));
    h.refused(
        h.command(GW1, "", "report", body).await,
        413,
        "payload_too_large",
    )
    .await;
    // Just under the limit passes.
    h.ok(GW1, &a, "add_note", note(&"备注".repeat(100))).await;
}

#[tokio::test]
async fn a_domain_rejection_is_422_named_after_the_rule() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    // Escalating sideways, to a sibling grid.
    let v = h
        .refused(
            h.command(
                GW1,
                &a,
                "escalate",
                json!({ "to": G2, "reason": "试图平级上报" }),
            )
            .await,
            422,
            "EscalationNotToAncestor",
        )
        .await;
    assert!(v["detail"].as_str().unwrap().contains(G2), "{v}");
    // The township acting on what the grid holds.
    h.refused(
        h.command(TWN, &a, "assign", json!({ "handler": "staff-t1" }))
            .await,
        422,
        "NotHoldingUnit",
    )
    .await;
    // A well-formed code no one knows.
    let mut body = report_body(G1);
    body["location"] = json!("330802005001999");
    h.refused(
        h.command(GW1, "", "report", body).await,
        422,
        "UnknownRegion",
    )
    .await;
    // A role that may not, a status that does not allow it, an empty required text.
    h.refused(
        h.command(GW1, &a, "verify_resolution", json!({})).await,
        422,
        "RoleNotPermitted",
    )
    .await;
    h.refused(
        h.command(VIL, &a, "close", json!({})).await,
        422,
        "NotResolved",
    )
    .await;
    h.refused(
        h.command(GW1, &a, "add_note", note("   ")).await,
        422,
        "InvalidField",
    )
    .await;
    // A grid worker assigns only to themselves.
    h.refused(
        h.command(GW1, &a, "assign", json!({ "handler": "gw-2" }))
            .await,
        422,
        "AssignToOther",
    )
    .await;
    // Reporting twice under one explicit case id.
    let mut body = report_body(G1);
    body["case_id"] = json!(a);
    h.refused(
        h.command(GW1, "", "report", body).await,
        422,
        "CaseAlreadyExists",
    )
    .await;
}

#[tokio::test]
async fn an_empty_read_only_store_is_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open_read_only(dir.path().join("log")).unwrap();
    let h = Harness::over(Config::default(), log.into(), None);
    let r = h.command(GW1, "", "report", report_body(G1)).await;
    assert_eq!(
        r.headers
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap()),
        Some("5"),
        "{}",
        r.text()
    );
    h.refused(r, 503, "unavailable").await;
    assert_eq!(h.head().await, 0);
}

#[tokio::test]
async fn a_log_that_takes_no_appends_is_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let (a, head) = {
        let h = Harness::over(
            Config::default(),
            SledLog::open(&path).unwrap().into(),
            None,
        );
        let a = h.report(GW1, G1).await;
        h.ok(GW1, &a, "add_note", note("写入可用时的备注")).await;
        let head = h.head().await;
        h.close().await;
        (a, head)
    };
    // The same store, now refusing appends (as while it is being shut down).
    let h = Harness::over(
        Config::default(),
        SledLog::open_read_only(&path).unwrap().into(),
        None,
    );
    h.last.store(head, Ordering::SeqCst);
    // Fresh keys: the first harness used key-0 and key-1 on this store.
    h.keys.store(1000, Ordering::SeqCst);
    let r = h.command(GW1, &a, "add_note", note("不可写时的备注")).await;
    assert_eq!(
        r.headers
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap()),
        Some("5"),
        "{}",
        r.text()
    );
    let v = h.refused(r, 503, "unavailable").await;
    assert!(v["detail"].as_str().unwrap().contains("unavailable"), "{v}");
    h.refused(
        h.command(GW1, "", "report", report_body(G1)).await,
        503,
        "unavailable",
    )
    .await;
    // Reads still work, and nothing was added.
    let tl = h.read(&format!("/api/v1/cases/{a}/timeline"), GW1).await;
    assert_eq!(tl["version"], 2);
    let view = h
        .read(&format!("/api/v1/cases/{a}?after={head}"), GW1)
        .await;
    assert_eq!(view["version"], 2);
    assert_eq!(h.head().await, head);
}

// ---------------------------------------------------------------------------------------------
// Per role: what it must not do.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_grid_worker_acts_and_reads_only_in_its_grid() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    // Acting on a case its grid does not hold.
    let v = h
        .refused(
            h.command(GW2, &a, "register", json!({})).await,
            422,
            "OutOfScope",
        )
        .await;
    assert!(v["detail"].as_str().unwrap().contains(G1), "{v}");
    h.refused(
        h.command(GW2, &a, "add_note", note("隔壁网格的备注")).await,
        422,
        "OutOfScope",
    )
    .await;
    // Reporting outside its grid.
    h.refused(
        h.command(GW1, "", "report", report_body(G2)).await,
        422,
        "OutOfScope",
    )
    .await;
    // Reading another grid's queue or case.
    h.refused(
        h.get(&format!("/api/v1/units/{G1}/queue"), GW2).await,
        403,
        "forbidden",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/cases/{a}?{}", h.after()), GW2)
            .await,
        403,
        "forbidden",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/cases/{a}/timeline"), GW2).await,
        403,
        "forbidden",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/regions/{VILLAGE}/open"), GW1).await,
        403,
        "forbidden",
    )
    .await;
    // Its own grid: fine.
    let q = h
        .read(&format!("/api/v1/units/{G1}/queue?{}", h.after()), GW1)
        .await;
    assert_eq!(q["open"], 1);
    h.read(&format!("/api/v1/cases/{a}/timeline"), GW1).await;
}

#[tokio::test]
async fn unit_staff_act_only_on_cases_their_unit_holds() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    // Held by a grid of the village: the village may not act in its place.
    h.refused(
        h.command(VIL, &a, "assign", json!({ "handler": "staff-v1" }))
            .await,
        422,
        "NotHoldingUnit",
    )
    .await;
    // Held by the township: the village is below it, the case is out of its scope.
    h.ok(
        GW1,
        &a,
        "escalate",
        json!({ "to": TOWNSHIP, "reason": "重大隐患，直接上报街道" }),
    )
    .await;
    let v = h
        .refused(
            h.command(VIL, &a, "assign", json!({ "handler": "staff-v1" }))
                .await,
            422,
            "OutOfScope",
        )
        .await;
    assert!(v["detail"].as_str().unwrap().contains(TOWNSHIP), "{v}");
    h.refused(
        h.command(
            VIL,
            &a,
            "delegate",
            json!({ "to": VILLAGE, "reason": "自行下派" }),
        )
        .await,
        422,
        "OutOfScope",
    )
    .await;
    // The county covers the township but does not hold the case either.
    h.refused(
        h.command(CTY, &a, "assign", json!({ "handler": "staff-c1" }))
            .await,
        422,
        "NotHoldingUnit",
    )
    .await;
    // Extensions come from above the holder only.
    h.refused(
        h.command(
            TWN,
            &a,
            "extend_deadline",
            json!({ "deadline": "2026-12-31T00:00:00Z", "reason": "自行延期" }),
        )
        .await,
        422,
        "NotAboveHolder",
    )
    .await;
    // The village no longer sees it in its queue; the township does.
    let q = h
        .read(&format!("/api/v1/units/{VILLAGE}/queue?{}", h.after()), VIL)
        .await;
    assert_eq!(q["open"], 0);
    let q = h
        .read(
            &format!("/api/v1/units/{TOWNSHIP}/queue?{}", h.after()),
            TWN,
        )
        .await;
    assert_eq!(q["open"], 1);
    h.refused(
        h.get(&format!("/api/v1/units/{TOWNSHIP}/queue"), VIL).await,
        403,
        "forbidden",
    )
    .await;
    h.ok(TWN, &a, "assign", json!({ "handler": "staff-t1" }))
        .await;
}

#[tokio::test]
async fn a_mediator_runs_and_reads_only_the_mediations_assigned_to_them() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    h.ok(GW1, &a, "assign", json!({ "handler": "gw-1" })).await;
    h.ok(
        GW1,
        &a,
        "start_mediation",
        json!({ "mediation_type": "people", "mediator": "med-1", "organization": VILLAGE }),
    )
    .await;
    let after = h.after();
    // med-2 is not the assigned mediator.
    h.refused(
        h.command(
            MED2,
            &a,
            "hold_mediation_session",
            json!({ "summary": "未受指派的调解" }),
        )
        .await,
        422,
        "NotAssignedMediator",
    )
    .await;
    h.refused(
        h.command(
            MED2,
            &a,
            "conclude_mediation",
            json!({ "outcome": "agreement" }),
        )
        .await,
        422,
        "NotAssignedMediator",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/cases/{a}?{after}"), MED2).await,
        403,
        "forbidden",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/cases/{a}/timeline"), MED2).await,
        403,
        "forbidden",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/units/{VILLAGE}/queue"), MED1).await,
        403,
        "forbidden",
    )
    .await;
    // A mediator does not handle cases.
    h.refused(
        h.command(
            MED1,
            &a,
            "resolve",
            json!({ "method": "explanation", "summary": "调解员自行办结" }),
        )
        .await,
        422,
        "RoleNotPermitted",
    )
    .await;
    // med-1 is.
    let view = h.read(&format!("/api/v1/cases/{a}?{after}"), MED1).await;
    assert_eq!(view["case"]["mediation"]["mediator"], "med-1");
    h.ok(
        MED1,
        &a,
        "hold_mediation_session",
        json!({ "summary": "首次调解" }),
    )
    .await;
    h.ok(MED1, &a, "add_note", note("调解员备注")).await;
}

#[tokio::test]
async fn a_supervisor_presses_and_approves_but_does_not_handle() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.refused(
        h.command(SUP, &a, "register", json!({})).await,
        422,
        "RoleNotPermitted",
    )
    .await;
    h.refused(
        h.command(SUP, "", "report", report_body(G1)).await,
        422,
        "RoleNotPermitted",
    )
    .await;
    h.refused(
        h.command(
            SUP,
            &a,
            "correct_details",
            json!({ "severity": "urgent", "reason": "督办人更正" }),
        )
        .await,
        422,
        "RoleNotPermitted",
    )
    .await;
    h.ok(SUP, &a, "issue_supervision", note_field("请尽快立案"))
        .await;
}

#[tokio::test]
async fn an_auditor_reads_history_in_scope_and_changes_nothing() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    let outside = h.report(GW4, G4).await;
    for (action, body) in [
        ("add_note", note("审计备注")),
        ("register", json!({})),
        ("close", json!({})),
    ] {
        h.refused(h.command(AUD, &a, action, body).await, 422, "ReadOnlyRole")
            .await;
    }
    h.refused(
        h.command(AUD, "", "report", report_body(G1)).await,
        422,
        "ReadOnlyRole",
    )
    .await;
    let tl = h.read(&format!("/api/v1/cases/{a}/timeline"), AUD).await;
    assert_eq!(tl["events"][0]["event"]["summary"], SUMMARY);
    h.read(&format!("/api/v1/cases/{a}?{}", h.after()), AUD)
        .await;
    h.read(&format!("/api/v1/units/{G1}/queue"), AUD).await;
    // The auditor's scope is the township; the other township's case is outside it.
    h.refused(
        h.get(&format!("/api/v1/cases/{outside}/timeline"), AUD)
            .await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn an_analyst_reads_statistics_without_personal_data_or_free_text() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    h.ok(GW1, &a, "assign", json!({ "handler": "gw-1" })).await;
    h.ok(GW1, &a, "add_note", note("当事人电话13800000000"))
        .await;
    h.ok(
        GW1,
        &a,
        "resolve",
        json!({ "method": "on_the_spot", "summary": "现场劝解，双方和好" }),
    )
    .await;
    h.ok(GW1, &a, "close", json!({})).await;
    h.ok(
        GW1,
        &a,
        "record_feedback",
        json!({ "satisfaction": "basically_satisfied", "comment": "基本满意，希望加强巡查" }),
    )
    .await;
    let b = h.report(GW1, G1).await;
    h.ok(
        GW1,
        &b,
        "reject",
        json!({ "reason": "invalid", "note": "经核实不属实" }),
    )
    .await;

    for uri in [
        format!("/api/v1/cases/{a}"),
        format!("/api/v1/cases/{a}/timeline"),
        format!("/api/v1/units/{G1}/queue"),
        format!("/api/v1/regions/{VILLAGE}/open"),
    ] {
        h.refused(h.get(&uri, ANA).await, 403, "forbidden").await;
    }
    h.refused(
        h.command(ANA, &a, "add_note", note("分析员备注")).await,
        422,
        "ReadOnlyRole",
    )
    .await;

    let texts = h.texts.lock().unwrap().clone();
    assert!(texts.contains(SUMMARY));
    let after = h.after();
    for query in [
        format!("period=2025-06&{after}"),
        format!("region={VILLAGE}&period=2025-06&breakdown=category&drill_down=true&{after}"),
        format!("region={COUNTY}&period=2025&breakdown=source&drill_down=true&{after}"),
        format!("region={G1}&period=2025-06-02&breakdown=kind&{after}"),
        "period=2025-06&as_of=2100-01-01T00:00:00Z".to_owned(),
    ] {
        let s = h.read(&format!("/api/v1/stats?{query}"), ANA).await;
        assert_no_free_text(&s, &texts);
        assert_eq!(s["figures"]["cohort"]["registered"], 1, "{query}: {s}");
        assert_eq!(s["figures"]["cohort"]["rejected"], 1, "{query}: {s}");
        assert_eq!(s["figures"]["rates"]["satisfaction"], 1.0, "{query}: {s}");
    }
    let s = h
        .read(
            &format!("/api/v1/stats?region={G1}&period=2025-06&{after}"),
            ANA,
        )
        .await;
    assert_eq!(s["figures"]["cohort"]["grid_rate"], 1.0);
}

#[tokio::test]
async fn an_admin_corrects_details_but_does_not_handle_cases() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    let v = h
        .ok(
            ADM,
            &a,
            "correct_details",
            json!({ "severity": "urgent", "summary": "更正后的摘要", "reason": "上报时误填严重程度" }),
        )
        .await;
    assert_eq!(v["events"][0]["type"], "CaseDetailsCorrected");
    h.refused(
        h.command(
            ADM,
            &a,
            "correct_details",
            json!({ "severity": "urgent", "reason": "重复更正" }),
        )
        .await,
        422,
        "EmptyCorrection",
    )
    .await;
    h.refused(
        h.command(ADM, &a, "register", json!({})).await,
        422,
        "RoleNotPermitted",
    )
    .await;
    h.refused(
        h.command(ADM, "", "report", report_body(G1)).await,
        422,
        "RoleNotPermitted",
    )
    .await;
    // Unit staff may not correct.
    h.refused(
        h.command(
            VIL,
            &a,
            "correct_details",
            json!({ "severity": "normal", "reason": "村里更正" }),
        )
        .await,
        422,
        "RoleNotPermitted",
    )
    .await;
    let view = h
        .read(&format!("/api/v1/cases/{a}?{}", h.after()), ADM)
        .await;
    assert_eq!(view["case"]["details"]["severity"], "urgent");
}

// ---------------------------------------------------------------------------------------------
// Many clients on one case.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_clients_on_one_case_lose_no_update() {
    let h = Arc::new(Harness::new());
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    let v0 = 2u64;

    /// One client's request: its key, its If-Match, who sends it.
    struct Client {
        key: String,
        if_match: Option<u64>,
        token: &'static str,
    }
    let mut clients = Vec::new();
    for i in 0..16 {
        clients.push(Client {
            key: format!("free-{i}"),
            if_match: None,
            token: if i % 2 == 0 { GW1 } else { VIL },
        });
    }
    for i in 0..8 {
        // All pinned to the version they read: at most one of them can win.
        clients.push(Client {
            key: format!("pinned-{i}"),
            if_match: Some(v0),
            token: GW1,
        });
    }
    for i in 0..2 {
        clients.push(Client {
            key: format!("stale-{i}"),
            if_match: Some(v0 - 1),
            token: GW1,
        });
    }
    for i in 0..3 {
        // The same key twice: a retry racing its original.
        clients.push(Client {
            key: format!("free-{i}"),
            if_match: None,
            token: if i % 2 == 0 { GW1 } else { VIL },
        });
    }
    for i in 0..2 {
        clients.push(Client {
            key: format!("auditor-{i}"),
            if_match: None,
            token: AUD,
        });
    }
    let n = clients.len();
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for c in clients {
        let h = h.clone();
        let a = a.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let uri = format!("/api/v1/cases/{a}/add_note");
            let body = json!({ "text": format!("并发备注 {}", c.key) }).to_string();
            let if_match = c.if_match.map(|v| format!("\"{v}\""));
            let mut headers = vec![("idempotency-key", c.key.as_str())];
            if let Some(m) = &if_match {
                headers.push(("if-match", m.as_str()));
            }
            barrier.wait().await;
            let r = h.post_raw(&uri, Some(c.token), &headers, body).await;
            (c.key, c.if_match, r)
        }));
    }
    let mut won: BTreeMap<String, u64> = BTreeMap::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for t in tasks {
        let (key, if_match, r) = t.await.unwrap();
        *statuses.entry(r.status.as_u16()).or_default() += 1;
        match r.status.as_u16() {
            200 => {
                let v = r.json();
                let version = v["version"].as_u64().unwrap();
                // A key's responses all report the same commit.
                if let Some(prev) = won.insert(key.clone(), version) {
                    assert_eq!(prev, version, "{key}: two commits for one key");
                }
            }
            409 => {
                let v = r.json();
                assert_eq!(v["code"], "conflict", "{v}");
                assert!(if_match.is_some() || key.starts_with("free-"), "{key}: {v}");
                if key.starts_with("stale-") {
                    assert_eq!(v["expected"], v0 - 1);
                }
            }
            422 => {
                assert!(key.starts_with("auditor-"), "{key}: {}", r.text());
                assert_eq!(r.json()["code"], "ReadOnlyRole");
            }
            s => panic!("{key}: unexpected {s}: {}", r.text()),
        }
    }
    eprintln!("statuses {statuses:?}, {} notes appended", won.len());
    assert!(!statuses.contains_key(&500), "{statuses:?}");
    assert!(
        won.keys().filter(|k| k.starts_with("pinned-")).count() <= 1,
        "{won:?}"
    );
    assert!(won.keys().all(|k| !k.starts_with("stale-")), "{won:?}");

    // Every winning version exactly once, contiguous after v0, each the winner's note.
    let tl = h.read(&format!("/api/v1/cases/{a}/timeline"), VIL).await;
    let events = tl["events"].as_array().unwrap();
    let versions: Vec<u64> = events
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, (1..=events.len() as u64).collect::<Vec<_>>());
    let notes: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "NoteAdded")
        .collect();
    assert_eq!(notes.len(), won.len(), "{statuses:?} {won:?}");
    assert_eq!(tl["version"], v0 + won.len() as u64);
    let mut by_version: BTreeMap<u64, String> = BTreeMap::new();
    for e in &notes {
        by_version.insert(
            e["version"].as_u64().unwrap(),
            e["command_id"].as_str().unwrap().to_owned(),
        );
    }
    for (key, version) in &won {
        assert_eq!(by_version.get(version), Some(key), "{key} at {version}");
    }
    assert_eq!(h.head().await, 2 + won.len() as u64);
}
