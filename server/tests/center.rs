//! A mediation center's day over real sockets (`Server::start` on `127.0.0.1:0`, driven with
//! `reqwest`): what a unit's staff, a mediator and the county rely on when the flow matters —
//! a report found by search, a mediator finding their case in their work, the resolver refused
//! the verification of their own resolution, a take-over moving a case up, idempotency keys
//! that belong to their sender and their request, and authorization that never answers 422.

mod common;

use std::sync::Arc;

use common::*;
use gridcase_domain::{RegionTree, Timestamp};
use gridcase_server::config::Config;
use gridcase_server::serve::{self, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn regions() -> Arc<RegionTree> {
    let mut t = gridcase_regions::bundled_divisions().clone();
    for g in [G1, G2] {
        t.add_grid(code(g), None).unwrap();
    }
    Arc::new(t)
}

/// A client of one server.
struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, token, path, None, None)
            .await
    }

    async fn post(&self, token: &str, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, token, path, Some(key), Some(&body))
            .await
    }

    /// A command that must succeed; returns its position.
    async fn ok(&self, token: &str, case: &str, action: &str, body: Value) -> u64 {
        let key = format!("{action}-{case}-{}", Timestamp::now().as_millis());
        let (status, v) = self
            .post(token, &format!("/api/v1/cases/{case}/{action}"), &key, body)
            .await;
        assert_eq!(status, StatusCode::OK, "{action}: {v}");
        v["position"].as_u64().unwrap()
    }

    async fn head(&self) -> u64 {
        let (_, v) = self.get(AUD, "/readyz").await;
        v["head"].as_u64().unwrap()
    }
}

fn report(grid: &str, summary: &str) -> Value {
    json!({
        "kind": "dispute", "category": "neighbours", "source": "grid_patrol",
        "severity": "normal", "location": grid, "summary": summary,
        "happened_at": Timestamp::now().plus_millis(-3_600_000).to_string(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mediation_centers_day_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let log = serve::open_log(&cfg).await.unwrap();
    let server = Server::start(&cfg, log, regions(), &tokens())
        .await
        .unwrap();
    let c = Client {
        http: reqwest::Client::new(),
        base: format!("http://{}", server.addr),
    };

    // A report is found by search as soon as its position is applied.
    let (status, v) = c
        .post(
            GW1,
            "/api/v1/cases",
            "day-1",
            report(G1, "楼上漏水引发邻里纠纷"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let a = v["case_id"].as_str().unwrap().to_owned();
    let after = v["position"].as_u64().unwrap();
    let (status, found) = c
        .get(VIL, &format!("/api/v1/cases?q=漏水&after={after}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["items"][0]["case_id"], a.as_str());

    // Escalated to the village, mediated by a mediator picked from the village's roster.
    c.ok(GW1, &a, "register", json!({})).await;
    c.ok(
        GW1,
        &a,
        "escalate",
        json!({ "to": VILLAGE, "reason": "需村调委会调解" }),
    )
    .await;
    c.ok(VIL, &a, "assign", json!({ "handler": "staff-v1" }))
        .await;
    let (_, staff) = c.get(VIL, &format!("/api/v1/units/{VILLAGE}/staff")).await;
    let mediator = staff["mediators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "med-1")
        .unwrap_or_else(|| panic!("med-1 in the roster: {staff}"))["id"]
        .clone();
    let p = c
        .ok(
            VIL,
            &a,
            "start_mediation",
            json!({ "mediation_type": "people", "mediator": mediator, "organization": VILLAGE }),
        )
        .await;
    // The mediator finds it in their work, and nobody else's mediations.
    let (_, mine) = c.get(MED1, &format!("/api/v1/me/cases?after={p}")).await;
    assert_eq!(mine["total"], 1, "{mine}");
    assert_eq!(mine["items"][0]["case_id"], a.as_str());
    let (_, theirs) = c.get(MED2, &format!("/api/v1/me/cases?after={p}")).await;
    assert_eq!(theirs["total"], 0);
    c.ok(
        MED1,
        &a,
        "conclude_mediation",
        json!({ "outcome": "agreement", "note": "双方签订协议" }),
    )
    .await;
    c.ok(
        VIL,
        &a,
        "resolve",
        json!({ "method": "mediated_agreement", "summary": "调解成功" }),
    )
    .await;
    // The resolver may not verify their own resolution: forbidden, naming the rule.
    let head = c.head().await;
    let (status, v) = c
        .post(
            VIL,
            &format!("/api/v1/cases/{a}/verify_resolution"),
            "day-verify-self",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["code"], "ResolverCannotVerify");
    assert_eq!(c.head().await, head, "nothing appended");
    // Someone else does: the township above.
    c.ok(TWN, &a, "verify_resolution", json!({ "note": "核查属实" }))
        .await;
    c.ok(VIL, &a, "close", json!({})).await;

    // A take-over (提级领办) moves a case up to the taking unit's queue.
    let (_, v) = c
        .post(GW1, "/api/v1/cases", "day-2", report(G1, "土地边界纠纷"))
        .await;
    let b = v["case_id"].as_str().unwrap().to_owned();
    c.ok(GW1, &b, "register", json!({})).await;
    let p = c
        .ok(
            TWN,
            &b,
            "take_over",
            json!({ "reason": "涉及多个村，街道提级领办" }),
        )
        .await;
    let (_, q) = c
        .get(TWN, &format!("/api/v1/units/{TOWNSHIP}/queue?after={p}"))
        .await;
    let held: Vec<&str> = q["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["case_id"].as_str().unwrap())
        .collect();
    assert!(held.contains(&b.as_str()), "{q}");
    let (_, view) = c.get(TWN, &format!("/api/v1/cases/{b}?after={p}")).await;
    assert_eq!(view["case"]["holder"], TOWNSHIP);

    // Another worker's key is theirs: the same key from GW2 opens a case of its own.
    let (status, v1) = c
        .post(GW2, "/api/v1/cases", "day-1", report(G2, "楼道堆放杂物"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v1}");
    assert_ne!(v1["case_id"], a.as_str());
    // The same sender and key with another body: 422, nothing appended.
    let head = c.head().await;
    let (status, v) = c
        .post(GW1, "/api/v1/cases", "day-1", report(G1, "另一件事"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["code"], "idempotency_key_mismatch");
    assert_eq!(c.head().await, head);

    // A command on a case outside the actor's scope: answered as an unknown case.
    let (status, v) = c
        .post(
            GW2,
            &format!("/api/v1/cases/{b}/add_note"),
            "day-x",
            json!({ "text": "越界" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    let (status, unknown) = c
        .post(
            GW2,
            "/api/v1/cases/330802-nosuchcase/add_note",
            "day-y",
            json!({ "text": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["code"], unknown["code"]);
    assert_eq!(
        v["detail"], unknown["detail"],
        "indistinguishable from an unknown case"
    );
    // An analyst issues no commands: 403, not 422.
    let (status, v) = c
        .post(
            ANA,
            &format!("/api/v1/cases/{b}/add_note"),
            "day-z",
            json!({ "text": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["code"], "ReadOnlyRole", "{v}");
    assert_eq!(c.head().await, head);

    server.stop().await.unwrap();
}
