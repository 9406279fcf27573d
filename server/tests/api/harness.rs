//! The app over a log, with its runner, and the request helpers every concern uses.

#![allow(dead_code)]

pub(crate) use std::collections::{BTreeMap, BTreeSet};
pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
pub(crate) use std::sync::{Arc, Mutex};

use super::common::*;
pub(crate) use axum::body::{Body, Bytes};
pub(crate) use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
pub(crate) use gridcase_bus::{AnyLog, EventLog, SledLog};
pub(crate) use gridcase_domain::{Action, RegionTree, Timestamp};
use gridcase_projections::{Calendar, Projection};
pub(crate) use gridcase_server::api;
pub(crate) use gridcase_server::app::AppState;
pub(crate) use gridcase_server::config::Config;
pub(crate) use gridcase_server::serve;
use http_body_util::BodyExt;
pub(crate) use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tower::ServiceExt;

pub(crate) const CSV: &str = "code,name,level,parent\n\
330800,衢州市,city,33\n\
330802,柯城区,county,330800\n\
330802005,新新街道,township,330802\n\
330802005001,金桂社区,village,330802005\n\
330802005002,荷花社区,village,330802005\n\
330802006,荷花街道,township,330802\n\
330802006001,双港社区,village,330802006\n";

pub(crate) fn regions() -> Arc<RegionTree> {
    let mut t = gridcase_regions::read_divisions(CSV.as_bytes()).unwrap();
    for g in [G1, G2, G3, G4] {
        t.add_grid(code(g), None).unwrap();
    }
    Arc::new(t)
}

/// A response, body read.
pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Resp {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// The app over a log, its projection runner, and bookkeeping for the assertions.
pub(crate) struct Harness {
    pub(crate) app: AppState,
    pub(crate) router: Router,
    pub(crate) runner: Option<JoinHandle<()>>,
    /// Minutes after 2025-06-02T00:00Z: each command happens one minute after the previous.
    pub(crate) minutes: AtomicU64,
    pub(crate) keys: AtomicU64,
    /// The position of the last successful, non-duplicate command: the log head must stay
    /// there after every refused request.
    pub(crate) last: AtomicU64,
    /// Actions that succeeded at least once.
    pub(crate) used: Mutex<BTreeSet<String>>,
    /// Every free text sent (non-ASCII string fields), for the analyst's no-free-text check.
    pub(crate) texts: Mutex<BTreeSet<String>>,
    /// The `occurred_at` given to a request without one, per (token, idempotency key): a
    /// retry resends the very same body, as a client must.
    pub(crate) retry_times: Mutex<BTreeMap<(String, String), String>>,
    pub(crate) _dir: Option<tempfile::TempDir>,
    /// Where the vault keeps its file and access log.
    pub(crate) vault_dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(r) = self.runner.take() {
            r.abort();
        }
    }
}

impl Harness {
    pub(crate) fn new() -> Harness {
        Harness::with_config(Config::default())
    }

    pub(crate) fn with_config(cfg: Config) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let log = SledLog::open(dir.path().join("log")).unwrap();
        Harness::over(cfg, log.into(), Some(dir))
    }

    pub(crate) fn over(mut cfg: Config, log: AnyLog, dir: Option<tempfile::TempDir>) -> Harness {
        // The scripts are dated June 2025 and run on the wall clock: lift the back-dating
        // window (a deployment migrating old records would do the same).
        cfg.policy.times.max_backdate_days = 0;
        let projection = Projection::in_memory(Calendar::default());
        // The vault beside a log in a directory of its own, under a fresh master key.
        let vault_dir = tempfile::tempdir().unwrap();
        let vault = futures::executor::block_on(gridcase_vault::Vault::open(
            gridcase_vault::Store::open_dir(vault_dir.path()).unwrap(),
            gridcase_vault::MasterKey::generate().unwrap(),
        ))
        .unwrap();
        let app =
            serve::build_app(&cfg, log, Arc::new(vault), regions(), projection, &tokens()).unwrap();
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
            retry_times: Mutex::default(),
            _dir: dir,
            vault_dir,
        }
    }

    /// Stops the projection runner: what is appended from now on is never applied.
    pub(crate) async fn stop_runner(&mut self) {
        if let Some(r) = self.runner.take() {
            r.abort();
            let _ = r.await;
        }
    }

    /// Stops the runner and lets go of the log (and with it the store's lock).
    pub(crate) async fn close(mut self) {
        if let Some(r) = self.runner.take() {
            r.abort();
            let _ = r.await;
        }
    }

    pub(crate) async fn head(&self) -> u64 {
        self.app.path.log().head().await.unwrap().get()
    }

    pub(crate) fn last(&self) -> u64 {
        self.last.load(Ordering::SeqCst)
    }

    pub(crate) fn next_key(&self) -> String {
        format!("key-{}", self.keys.fetch_add(1, Ordering::SeqCst))
    }

    pub(crate) fn tick(&self) -> String {
        let m = self.minutes.fetch_add(1, Ordering::SeqCst) as i64;
        Timestamp::parse("2025-06-02T00:00:00Z")
            .unwrap()
            .plus_millis(m * 60_000)
            .to_string()
    }

    pub(crate) async fn request(
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

    pub(crate) async fn get(&self, uri: &str, token: &str) -> Resp {
        self.request(Method::GET, uri, Some(token), &[], Body::empty())
            .await
    }

    /// A DELETE with a JSON body (the erasures).
    pub(crate) async fn delete(&self, uri: &str, token: &str, body: &Value) -> Resp {
        self.request(
            Method::DELETE,
            uri,
            Some(token),
            &[("content-type", "application/json")],
            Body::from(body.to_string()),
        )
        .await
    }

    /// A GET that must succeed.
    pub(crate) async fn read(&self, uri: &str, token: &str) -> Value {
        let r = self.get(uri, token).await;
        assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.text());
        r.json()
    }

    pub(crate) async fn post_raw(
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
    pub(crate) async fn send(
        &self,
        token: &str,
        case: &str,
        action: &str,
        mut body: Value,
        headers: &[(&str, &str)],
    ) -> Resp {
        let key = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("idempotency-key"))
            .map(|(_, v)| ((*token).to_owned(), (*v).to_owned()));
        if let Value::Object(m) = &mut body {
            m.entry("occurred_at").or_insert_with(|| {
                let tick = match &key {
                    Some(k) => self
                        .retry_times
                        .lock()
                        .unwrap()
                        .entry(k.clone())
                        .or_insert_with(|| self.tick())
                        .clone(),
                    None => self.tick(),
                };
                Value::String(tick)
            });
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
    pub(crate) async fn command(&self, token: &str, case: &str, action: &str, body: Value) -> Resp {
        let key = self.next_key();
        self.send(token, case, action, body, &[("idempotency-key", &key)])
            .await
    }

    /// A command that must succeed with 200.
    pub(crate) async fn ok(&self, token: &str, case: &str, action: &str, body: Value) -> Value {
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
    pub(crate) async fn report(&self, token: &str, grid: &str) -> String {
        let r = self.command(token, "", "report", report_body(grid)).await;
        assert_eq!(r.status, StatusCode::CREATED, "report: {}", r.text());
        r.json()["case_id"].as_str().unwrap().to_owned()
    }

    /// Asserts a problem+json error and that the log did not move.
    pub(crate) async fn refused(&self, r: Resp, status: u16, code: &str) -> Value {
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

    pub(crate) fn after(&self) -> String {
        format!("after={}", self.last())
    }
}

pub(crate) fn note(text: &str) -> Value {
    json!({ "text": text })
}

/// Every string and key of a JSON document.
pub(crate) fn strings(v: &Value, out: &mut Vec<String>) {
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
pub(crate) fn assert_no_free_text(v: &Value, texts: &BTreeSet<String>) {
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

/// A body with one `note` field.
pub(crate) fn note_field(text: &str) -> Value {
    json!({ "note": text })
}
