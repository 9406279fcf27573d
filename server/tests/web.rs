//! The workbench in a real browser: Debian's headless Chromium, driven through chromedriver
//! (WebDriver) with fantoccini, against `Server::start` on `127.0.0.1:0` over the `tiny`
//! fixture (one township of 柯城区, March–May 2025) and the demo sign-ins.
//!
//! Without chromium or chromedriver the browser tests print a hint and pass, unless
//! `GRIDCASE_REQUIRE_BROWSER` is set (as `scripts/test` does), when they fail. The HTTP-level
//! checks (headers, CSRF, sessions) run with `reqwest` everywhere.
//!
//! `GRIDCASE_SCREENSHOTS=<dir> cargo test -p gridcase-server --test web screenshots` saves a
//! PNG of every page (the README's pictures: `docs/screenshots`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::{Client, ClientBuilder, Locator};
use gridcase_bus::EventLog;
use gridcase_domain::{Actor, CaseId, Role};
use gridcase_server::config::Config;
use gridcase_server::serve::{self, Server};
use reqwest::header;
use serde_json::{json, Value};

const REQUIRE_ENV: &str = "GRIDCASE_REQUIRE_BROWSER";
const HINT: &str = "install Debian's chromium and chromium-driver (apt-get install -y chromium \
    chromium-driver fonts-noto-cjk), or point CHROMIUM and CHROMEDRIVER at them";

/// The month of the `tiny` fixture the figures are compared on.
const MONTH: &str = "2025-03";
const CITY: &str = "330800";
const COUNTY: &str = "330802";
const TOWNSHIP: &str = "330802005";
const GRID: &str = "330802005001001";

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

struct App {
    server: Option<Server>,
    base: String,
    _dir: tempfile::TempDir,
}

impl App {
    /// A server over a fresh store holding `fixture`, with the demo tokens.
    async fn start(fixture: &str) -> App {
        Self::start_with(fixture, |_| {}).await
    }

    /// [`App::start`] with the configuration changed by `change`.
    async fn start_with(fixture: &str, change: impl FnOnce(&mut Config)) -> App {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_owned(),
            // The fixture's people have names, and demo-privacy-auditor its grant, as with
            // `serve --demo`.
            demo_roster: true,
            demo_grids: true,
            privacy: gridcase_server::config::PrivacyConfig {
                personal_data_auditors: gridcase_server::load::demo_personal_data_auditors(),
                ..Default::default()
            },
            ..Config::default()
        };
        change(&mut cfg);
        let regions = Arc::new(serve::load_regions(&cfg).unwrap());
        let log = serve::open_log(&cfg).await.unwrap();
        gridcase_server::load::load(&log, fixture, 1, false)
            .await
            .unwrap();
        let server = Server::start(&cfg, log, regions, &gridcase_server::load::demo_tokens())
            .await
            .unwrap();
        let base = format!("http://{}", server.addr);
        App {
            server: Some(server),
            base,
            _dir: dir,
        }
    }

    fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits until the projection has applied everything in the log.
    async fn settle(&self) {
        let app = &self.server().app;
        let head = app.path.log().head().await.unwrap();
        app.projection
            .wait_for(head, Duration::from_secs(10))
            .await
            .unwrap();
    }

    /// The cases whose summary is `summary`.
    fn cases_with_summary(&self, summary: &str) -> Vec<CaseId> {
        let app = &self.server().app;
        let opener: &dyn gridcase_domain::TextOpener = &*app.vault;
        let view = app.projection.read();
        view.cases()
            .filter(|e| {
                // The summary is sealed: open it with the server's keys.
                e.state.details.as_ref().is_some_and(|d| {
                    let id = e.state.id.as_ref().expect("a projected case has an id");
                    d.summary
                        .open(id, gridcase_domain::SUMMARY_LABEL, Some(opener))
                        .text()
                        == Some(summary)
                })
            })
            .filter_map(|e| e.state.id.clone())
            .collect()
    }

    async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await.unwrap();
        }
    }
}

fn demo(role: Role) -> (String, Actor) {
    gridcase_server::load::demo_tokens()
        .into_iter()
        .find(|(_, a)| {
            a.role() == role && (role != Role::UnitStaff || a.unit().to_string() == TOWNSHIP)
        })
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------------------------

fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn find_binary(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver and the Chromium it starts: the session is ended and chromedriver killed on
/// drop.
struct Browser {
    client: Option<Client>,
    /// The WebDriver session, until closed.
    session: Option<String>,
    port: u16,
    driver: Child,
    /// Chromium's profile directory, removed after the browser.
    _profile: Option<tempfile::TempDir>,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium at 1366×768, or `None` (after a hint) when
    /// they are not installed and the browser is not required.
    async fn start() -> Option<Browser> {
        let chromium = find_binary(
            "CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let driver_bin = find_binary("CHROMEDRIVER", &["chromedriver"]);
        let (Some(chromium), Some(driver_bin)) = (chromium, driver_bin) else {
            if required() {
                panic!("{REQUIRE_ENV} is set but chromium or chromedriver is missing: {HINT}");
            }
            eprintln!("skipping the browser test: no chromium or chromedriver ({HINT}; set {REQUIRE_ENV}=1 to make this a failure)");
            return None;
        };
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--window-size=1366,768",
            "--lang=zh-CN",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        // The port is free when chosen, but another process may take it before chromedriver
        // binds it (then chromedriver exits, or the session cannot connect): up to three
        // drivers on fresh ports, each error reported if all fail.
        let mut errors = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(&driver_bin);
            // Chromium's own words (date pickers) in Chinese, as on the users' machines.
            cmd.env("LANG", "zh_CN.UTF-8")
                .env("LANGUAGE", "zh_CN:zh")
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let driver = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_bin.display()));
            let mut browser = Browser {
                client: None,
                session: None,
                port,
                driver,
                _profile: None,
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut listening = true;
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if Instant::now() > deadline || browser.driver.try_wait().ok().flatten().is_some() {
                    listening = false;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if !listening {
                errors.push(format!("chromedriver did not listen on {port}"));
                continue;
            }
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => {
                    browser.session = client.session_id().await.ok().flatten();
                    browser.client = Some(client);
                    browser._profile = Some(profile);
                    return Some(browser);
                }
                Err(e) => errors.push(format!("port {port}: {e}")),
            }
        }
        panic!("cannot start a Chromium session: {}", errors.join("; "));
    }

    fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    async fn close(mut self) {
        if let Some(c) = self.client.take() {
            if c.close().await.is_ok() {
                self.session = None;
            }
        }
    }

    async fn goto(&self, url: &str) {
        self.c().goto(url).await.unwrap();
    }

    async fn text(&self, css: &str) -> String {
        match self.c().find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap(),
            Err(e) => panic!("{css}: {e}\n{}", self.whereabouts().await),
        }
    }

    /// Where the browser is and what the page says, for a failure message.
    async fn whereabouts(&self) -> String {
        let url = self.c().current_url().await.map(|u| u.to_string());
        let body: String = self
            .js("return document.body ? document.body.innerText : document.documentElement.outerHTML")
            .await
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(1500)
            .collect();
        format!("at {url:?}, the page says:\n{body}")
    }

    async fn exists(&self, css: &str) -> bool {
        !self
            .c()
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    async fn js(&self, script: &str) -> Value {
        self.c()
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// The non-empty option values of a select.
    async fn option_values(&self, css: &str) -> Vec<String> {
        let v = self
            .js(&format!("return Array.from(document.querySelectorAll('{css} option')).map(o => o.value).filter(v => v)"))
            .await;
        serde_json::from_value(v).unwrap()
    }

    async fn wait_for(&self, css: &str) {
        if let Err(e) = self
            .c()
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
        {
            panic!("waiting for {css}: {e}\n{}", self.whereabouts().await);
        }
    }

    async fn path(&self) -> String {
        let u = self.c().current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        }
    }

    async fn sign_in(&self, app: &App, token: &str) {
        self.goto(&app.url("/signin")).await;
        self.submit_token(token).await;
        self.wait_for("form.signout").await;
    }

    /// Types `token` into the open sign-in form and sends it.
    async fn submit_token(&self, token: &str) {
        let input = self.c().find(Locator::Id("token")).await.unwrap();
        input.send_keys(token).await.unwrap();
        self.c()
            .find(Locator::Css("form[action='/signin'] button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    async fn sign_out(&self) {
        self.c()
            .find(Locator::Css("form.signout button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait_for("#token").await;
    }

    async fn screenshot(&self, dir: &Path, name: &str) {
        // Let fonts and charts settle.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let png = self.c().screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that failed did not close its session: end it (which quits Chromium) with a
        // plain WebDriver DELETE, then stop chromedriver.
        if let Some(id) = &self.session {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let _ = write!(
                    s,
                    "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                );
                let _ = s.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Browser tests
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_and_out() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = App::start("tiny").await;
    // A signed-out visitor is sent to sign in, and comes back after.
    b.goto(&app.url("/stats?region=330800")).await;
    b.wait_for("#token").await;
    assert!(
        b.path().await.starts_with("/signin?next="),
        "{}",
        b.path().await
    );
    // A wrong token is refused in words.
    b.submit_token("not-a-token").await;
    b.wait_for(".flash.error").await;
    assert!(b.text(".flash.error").await.contains("令牌无效"));
    let (token, _) = demo(Role::Analyst);
    b.submit_token(&token).await;
    b.wait_for("form.signout").await;
    assert!(
        b.path().await.starts_with("/stats?region=330800"),
        "{}",
        b.path().await
    );
    // The analyst's navigation holds statistics only.
    let nav = b.text("nav.nav").await;
    assert!(
        nav.contains("统计分析") && !nav.contains("上报") && !nav.contains("审计"),
        "{nav}"
    );
    // The session cookie is HttpOnly: scripts do not see it.
    assert_eq!(
        b.js("return document.cookie.includes('gc_session')").await,
        json!(false)
    );
    // English, and the choice sticks.
    b.goto(&app.url("/stats?lang=en")).await;
    assert!(b.text("nav.nav").await.contains("Statistics"));
    b.goto(&app.url("/stats")).await;
    assert_eq!(
        b.js("return document.documentElement.lang").await,
        json!("en")
    );
    b.goto(&app.url("/stats?lang=zh")).await;
    b.sign_out().await;
    assert!(b.text(".flash.ok").await.contains("已退出"));
    b.goto(&app.url("/stats")).await;
    b.wait_for("#token").await;
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_worker_reports_once_however_often_the_form_is_sent() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = App::start("tiny").await;
    let (token, _) = demo(Role::GridWorker);
    b.sign_in(&app, &token).await;
    b.goto(&app.url("/report")).await;
    // The grid worker's location is their grid: nothing else to choose.
    assert!(!b.exists("#location select").await);
    assert_eq!(
        b.js("return document.querySelector('[data-location]').value")
            .await,
        json!(GRID)
    );
    // Kind changes the categories (htmx): an incident offers its own, not the disputes'.
    b.c()
        .find(Locator::Id("kind"))
        .await
        .unwrap()
        .select_by_value("incident")
        .await
        .unwrap();
    b.c()
        .wait()
        .for_element(Locator::Css("#category option[value=safety_hazard]"))
        .await
        .unwrap();
    b.c()
        .find(Locator::Id("kind"))
        .await
        .unwrap()
        .select_by_value("dispute")
        .await
        .unwrap();
    b.c()
        .wait()
        .for_element(Locator::Css("#category option[value=neighbours]"))
        .await
        .unwrap();
    b.c()
        .find(Locator::Id("category"))
        .await
        .unwrap()
        .select_by_value("neighbours")
        .await
        .unwrap();
    let summary = "楼上漏水引发邻里纠纷（浏览器测试）";
    b.c()
        .find(Locator::Id("summary"))
        .await
        .unwrap()
        .send_keys(summary)
        .await
        .unwrap();
    // The same form sent three times: twice in the background, then by its button.
    let sent = b
        .js("const f = document.querySelector('form.report-form');
             const body = () => new URLSearchParams(new FormData(f));
             return Promise.all([fetch('/report', {method: 'POST', body: body()}),
                                 fetch('/report', {method: 'POST', body: body()})])
               .then(rs => rs.map(r => r.status + ' ' + r.url));")
        .await;
    let sent: Vec<String> = serde_json::from_value(sent).unwrap();
    assert!(
        sent.iter()
            .all(|s| s.starts_with("200 ") && s.contains("/report?done=")),
        "{sent:?}"
    );
    b.c()
        .find(Locator::Css("form.report-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for("#reported").await;
    let shown = b.text("#reported .case-id").await;
    assert!(b.text("#reported").await.contains("已上报"));
    app.settle().await;
    let cases = app.cases_with_summary(summary);
    assert_eq!(cases.len(), 1, "exactly one case: {cases:?}");
    assert_eq!(cases[0].as_str(), shown);
    // ... and the log holds one report for it.
    let commits = app
        .server()
        .app
        .path
        .log()
        .read_case(&cases[0])
        .await
        .unwrap();
    assert_eq!(commits.len(), 1);
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_location_picker_offers_only_the_reporters_scope() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = App::start("tiny").await;
    let (token, _) = demo(Role::UnitStaff);
    b.sign_in(&app, &token).await;
    b.goto(&app.url("/report")).await;
    let villages = b.option_values("#l2").await;
    assert!(!villages.is_empty());
    assert!(
        villages
            .iter()
            .all(|v| v.starts_with(TOWNSHIP) && v.len() == 12),
        "{villages:?}"
    );
    assert!(
        !b.exists("#l3").await,
        "no township choice: the unit is the township"
    );
    // Choosing a village brings its grids (htmx), inside it.
    let village = villages[0].clone();
    b.c()
        .find(Locator::Id("l2"))
        .await
        .unwrap()
        .select_by_value(&village)
        .await
        .unwrap();
    b.wait_for("#l1").await;
    let grids = b.option_values("#l1").await;
    assert!(!grids.is_empty());
    assert!(
        grids
            .iter()
            .all(|g| g.starts_with(&village) && g.len() == 15),
        "{grids:?}"
    );
    b.c()
        .find(Locator::Id("l1"))
        .await
        .unwrap()
        .select_by_value(&grids[0])
        .await
        .unwrap();
    b.c()
        .wait()
        .for_element(Locator::Css(&format!(
            "[data-location][value='{}']",
            grids[0]
        )))
        .await
        .unwrap();
    // A location outside the unit, posted by hand, is refused and nothing is written.
    let head = app.server().app.path.log().head().await.unwrap();
    let status = b
        .js(&format!(
            "const f = document.querySelector('form.report-form');
             const d = new URLSearchParams(new FormData(f));
             d.set('summary', 'x'); d.set('l2', '{COUNTY}006001'); d.delete('l1');
             return fetch('/report', {{method: 'POST', body: d}}).then(r => r.status);"
        ))
        .await;
    assert_eq!(status, json!(400));
    assert_eq!(app.server().app.path.log().head().await.unwrap(), head);
    b.close().await;
    app.stop().await;
}

/// The API's figure formatted as the page shows it.
fn pct(v: &Value) -> String {
    match v.as_f64() {
        Some(r) => format!("{:.1}%", r * 100.0),
        None => "—".into(),
    }
}

fn thousands(n: i64) -> String {
    let s = n.to_string();
    let groups: Vec<&str> = s
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).unwrap())
        .collect();
    groups.join(",")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_apis_figures_draws_its_charts_and_drills_down() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = App::start("tiny").await;
    let (token, _) = demo(Role::Analyst);
    b.sign_in(&app, &token).await;
    for region in [CITY, COUNTY, "330802100"] {
        let api: Value = reqwest::Client::new()
            .get(app.url(&format!("/api/v1/stats?region={region}&period={MONTH}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let cohort = &api["figures"]["cohort"];
        assert!(cohort["registered"].as_i64().unwrap() > 0, "{api}");
        b.goto(&app.url(&format!("/stats?region={region}&period={MONTH}")))
            .await;
        b.wait_for("#kpi-grid_rate .kpi-value").await;
        for (id, value) in [
            ("grid_rate", pct(&cohort["grid_rate"])),
            ("village_rate", pct(&cohort["village_rate"])),
            ("township_rate", pct(&cohort["township_rate"])),
            ("resolution_rate", pct(&cohort["resolution_rate"])),
            (
                "registered",
                thousands(cohort["registered"].as_i64().unwrap()),
            ),
            ("resolved", thousands(cohort["resolved"].as_i64().unwrap())),
            ("open", thousands(cohort["open"].as_i64().unwrap())),
            ("on_time", pct(&api["figures"]["rates"]["on_time"])),
            (
                "satisfaction",
                pct(&api["figures"]["rates"]["satisfaction"]),
            ),
            (
                "mediation_success",
                pct(&api["figures"]["rates"]["mediation_success"]),
            ),
        ] {
            assert_eq!(
                b.text(&format!("#kpi-{id} .kpi-value")).await,
                value,
                "{id} of {region}"
            );
        }
    }
    // The charts drew: ECharts holds their series and the canvases are not blank.
    b.goto(&app.url(&format!("/stats?region={COUNTY}&period={MONTH}")))
        .await;
    b.wait_for("#chart-trend[data-drawn]").await;
    for (id, series) in [("chart-levels", 7), ("chart-trend", 4)] {
        let n = b
            .js(&format!("return echarts.getInstanceByDom(document.getElementById('{id}')).getOption().series.length"))
            .await;
        assert!(n.as_u64().unwrap() >= series - 2, "{id}: {n}");
        let png = b
            .js(&format!(
                "return document.querySelector('#{id} canvas').toDataURL().length"
            ))
            .await;
        assert!(png.as_u64().unwrap() > 5_000, "{id} looks blank: {png}");
    }
    // Hovering a chart shows its tooltip without breaking the Content-Security-Policy
    // (`style-src 'self'` refuses style attributes in HTML a script writes): the listener is
    // in place before the pointer moves, and hears nothing.
    b.js("window.__csp = [];
          document.addEventListener('securitypolicyviolation', e =>
              window.__csp.push(e.violatedDirective + ' ' + (e.sample || e.blockedURI)));
          window.__tips = {};
          ['chart-levels', 'chart-trend'].forEach(id =>
              echarts.getInstanceByDom(document.getElementById(id))
                  .on('showTip', () => { window.__tips[id] = (window.__tips[id] || 0) + 1; }));")
        .await;
    for id in ["chart-levels", "chart-trend"] {
        let canvas = b
            .c()
            .find(Locator::Css(&format!("#{id} canvas")))
            .await
            .unwrap();
        let moves =
            [(-40.0, 10.0), (0.0, 20.0), (40.0, 30.0)].map(|(x, y)| PointerAction::MoveToElement {
                element: canvas.clone(),
                duration: Some(Duration::from_millis(50)),
                x,
                y,
            });
        let mouse = moves
            .into_iter()
            .fold(MouseActions::new(format!("mouse-{id}")), |m, a| m.then(a));
        b.c().perform_actions(mouse).await.unwrap();
        let mut tips = Value::Null;
        for _ in 0..30 {
            tips = b.js(&format!("return window.__tips['{id}'] || 0")).await;
            if tips.as_u64() > Some(0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(tips.as_u64() > Some(0), "no tooltip on {id}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let violations = b
        .js("return [window.__csp.length, window.__csp.slice(0, 3)]")
        .await;
    assert_eq!(
        violations[0],
        json!(0),
        "the tooltips broke the Content-Security-Policy: {violations}"
    );
    // Drill down from the city to a county, then to the fixture's township.
    b.goto(&app.url(&format!("/stats?region={CITY}&period={MONTH}")))
        .await;
    b.c()
        .find(Locator::Css(&format!(
            "#children tr[data-region='{COUNTY}'] a.drill"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for("#children tr[data-region='330802100']").await;
    assert!(b.path().await.contains(&format!("region={COUNTY}")));
    b.c()
        .find(Locator::Css(
            "#children tr[data-region='330802100'] a.drill",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for("#chart-levels[data-drawn]").await;
    assert!(
        b.path().await.contains("region=330802100"),
        "{}",
        b.path().await
    );
    let name = app
        .server()
        .app
        .regions
        .name("330802100".parse().unwrap())
        .unwrap()
        .to_owned();
    let h1 = b.text("h1").await;
    assert!(h1.contains(&name), "{h1}");
    // ... whose table lists its villages.
    let rows = b
        .js("return Array.from(document.querySelectorAll('#children tbody tr')).map(r => r.dataset.region)")
        .await;
    let rows: Vec<String> = serde_json::from_value(rows).unwrap();
    assert!(
        !rows.is_empty()
            && rows
                .iter()
                .all(|r| r.len() == 12 && r.starts_with("330802100")),
        "{rows:?}"
    );
    // Sorting the table by a column reorders it, in the browser.
    let first = b
        .js("return document.querySelector('#children tbody tr').dataset.region")
        .await;
    b.c()
        .find(Locator::Css("#children button[data-col='2']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.c()
        .find(Locator::Css("#children button[data-col='2']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let sorted = b
        .js("return Array.from(document.querySelectorAll('#children tbody tr td:nth-child(3)')).map(td => parseFloat(td.dataset.sort))")
        .await;
    let sorted: Vec<f64> = serde_json::from_value(sorted).unwrap();
    assert!(
        sorted.windows(2).all(|w| w[0] <= w[1]),
        "{sorted:?} (first was {first})"
    );
    // The analyst cannot open a case.
    let case = app
        .server()
        .app
        .projection
        .read()
        .cases()
        .next()
        .unwrap()
        .state
        .id
        .clone()
        .unwrap();
    b.goto(&app.url(&format!("/cases/{case}"))).await;
    assert_eq!(
        b.js("return document.querySelector('.error-page').dataset.status")
            .await,
        json!("403")
    );
    b.goto(&app.url(&format!("/audit/cases/{case}"))).await;
    assert_eq!(
        b.js("return document.querySelector('.error-page').dataset.status")
            .await,
        json!("403")
    );
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_dashboard_load_stays_under_one_and_a_half_megabytes() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = App::start("tiny").await;
    let (token, _) = demo(Role::Analyst);
    // Signing in lands on the dashboard: its first load, with an empty cache.
    b.goto(&app.url(&format!(
        "/signin?next=/stats%3Fregion%3D{COUNTY}%26period%3D{MONTH}"
    )))
    .await;
    b.submit_token(&token).await;
    b.wait_for("#chart-trend[data-drawn]").await;
    assert!(
        b.path().await.starts_with("/stats?region="),
        "{}",
        b.path().await
    );
    let bytes = b
        .js("const nav = performance.getEntriesByType('navigation')[0];
             return performance.getEntriesByType('resource').reduce((s, r) => s + r.transferSize, nav.transferSize);")
        .await
        .as_f64()
        .unwrap();
    let echarts = b
        .js("return performance.getEntriesByType('resource').filter(r => r.name.includes('echarts')).map(r => [r.transferSize, r.decodedBodySize])[0]")
        .await;
    assert!(
        bytes > 100_000.0,
        "ECharts was loaded: {bytes} bytes ({echarts})"
    );
    assert!(bytes < 1_500_000.0, "{bytes} bytes transferred ({echarts})");
    let ratio = echarts[0].as_f64().unwrap() / echarts[1].as_f64().unwrap();
    assert!(ratio < 0.5, "ECharts came compressed: {echarts}");
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auditor_sees_the_chain_intact_and_then_broken() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = App::start("tiny").await;
    let (token, _) = demo(Role::Auditor);
    b.sign_in(&app, &token).await;
    // A case of the fixture with a few events.
    let (case, first) = {
        let view = app.server().app.projection.read();
        let e = view.cases().find(|e| e.state.version >= 4).unwrap();
        (e.state.id.clone().unwrap(), e.state.version)
    };
    b.goto(&app.url("/audit")).await;
    b.c()
        .find(Locator::Id("case"))
        .await
        .unwrap()
        .send_keys(case.as_str())
        .await
        .unwrap();
    b.c()
        .find(Locator::Css("form.inline button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for("#chain-status").await;
    assert_eq!(
        b.js("return document.getElementById('chain-status').dataset.intact")
            .await,
        json!("true")
    );
    let rows = b.js("return Array.from(document.querySelectorAll('#chain tbody tr')).map(r => r.dataset.ok)").await;
    let rows: Vec<String> = serde_json::from_value(rows).unwrap();
    assert_eq!(rows.len() as u64, first);
    assert!(rows.iter().all(|r| r == "true"), "{rows:?}");
    // As of a moment before the second event was recorded: version 1 only.
    let commits = app.server().app.path.log().read_case(&case).await.unwrap();
    let second = commits
        .iter()
        .flat_map(|c| &c.events)
        .nth(1)
        .unwrap()
        .header
        .recorded_at;
    let before = gridcase_domain::Timestamp::from_millis(second.as_millis() - 1000);
    let local = before
        .to_jiff()
        .to_zoned_datetime(jiff::tz::db().get("Asia/Shanghai").unwrap());
    let at = local.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    b.goto(&app.url(&format!("/audit/cases/{case}?at={at}")))
        .await;
    let version: u64 = b.text("#state-version").await.parse().unwrap();
    assert!(
        version >= 1 && version < first,
        "state as of {at}: version {version}"
    );
    // The download is the history with its checks.
    let got = b
        .js(&format!(
            "return fetch('/audit/cases/{case}/history.json').then(r => r.json())"
        ))
        .await;
    assert_eq!(got["intact"], json!(true));
    assert_eq!(got["events"].as_array().unwrap().len() as u64, first);
    tamper_with_the_report(&app, &case).await;
    b.goto(&app.url(&format!("/audit/cases/{case}"))).await;
    assert_eq!(
        b.js("return document.getElementById('chain-status').dataset.intact")
            .await,
        json!("false")
    );
    let broken = b.text("#chain tr[data-version='1']").await;
    assert!(broken.contains("篡改"), "{broken}");
    b.close().await;
    app.stop().await;
}

/// Alters one byte of the summary in the stored report of `case` (version 1), re-framed so
/// that only the hash chain can tell, as an attacker with file access would.
async fn tamper_with_the_report(app: &App, case: &CaseId) {
    let commits = app.server().app.path.log().read_case(case).await.unwrap();
    let position = commits[0].position;
    let report = commits[0].events[0].decode().unwrap();
    let gridcase_domain::Event::CaseReported(report) = report else {
        panic!("version 1 is the report")
    };
    let log = app.server().app.path.log();
    let gridcase_bus::AnyLog::File(file) = log else {
        panic!("the test server writes the file log")
    };
    let mut v = file.raw_case(case).unwrap().remove(0).value;
    // A byte of the sealed summary; in clear text, the last byte of a CJK character (it stays
    // valid UTF-8, so only the chain can tell).
    let (needle, i) = match &report.summary {
        gridcase_domain::Text::Sealed(b) => (b.clone(), b.len() / 2),
        gridcase_domain::Text::Clear(t) => {
            let (i, _) = t
                .char_indices()
                .find(|(_, c)| c.len_utf8() == 3)
                .expect("a CJK character in the summary");
            (t.as_bytes().to_vec(), i + 2)
        }
    };
    let at = v
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the summary is stored as is");
    v[at + i] ^= 1;
    file.replace_stored(position, &gridcase_bus::raw::frame(&v[4..]))
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// HTTP-level checks (no browser needed)
// ---------------------------------------------------------------------------------------------

fn plain() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_value(set: &str) -> String {
    set.split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Signs in over HTTP: the session cookie.
async fn http_sign_in(app: &App, token: &str) -> String {
    let c = plain();
    let page = c.get(app.url("/signin")).send().await.unwrap();
    let pre = cookie_value(&set_cookie(&page, "gc_presession").unwrap());
    let html = page.text().await.unwrap();
    let r = c
        .post(app.url("/signin"))
        .header(header::COOKIE, format!("gc_presession={pre}"))
        .form(&[
            ("token", token),
            ("csrf", &hidden(&html, "csrf")),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = set_cookie(&r, "gc_session").unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    cookie_value(&session)
}

#[tokio::test]
async fn every_post_needs_its_csrf_token() {
    let app = App::start("tiny").await;
    let c = plain();
    // Sign-in without the token: 403.
    let page = c.get(app.url("/signin")).send().await.unwrap();
    let pre = cookie_value(&set_cookie(&page, "gc_presession").unwrap());
    let (token, _) = demo(Role::GridWorker);
    let r = c
        .post(app.url("/signin"))
        .header(header::COOKIE, format!("gc_presession={pre}"))
        .form(&[("token", token.as_str()), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(set_cookie(&r, "gc_session").is_none());
    // A report without (or with a wrong) token: 403, nothing written.
    let session = http_sign_in(&app, &token).await;
    let html = c
        .get(app.url("/report"))
        .header(header::COOKIE, format!("gc_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = hidden(&html, "key");
    let head = app.server().app.path.log().head().await.unwrap();
    for csrf in [
        "",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let r = c
            .post(app.url("/report"))
            .header(header::COOKIE, format!("gc_session={session}"))
            .form(&[
                ("csrf", csrf),
                ("key", key.as_str()),
                ("kind", "dispute"),
                ("category", "neighbours"),
                ("source", "grid_patrol"),
                ("severity", "normal"),
                ("summary", "无校验码的表单"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "csrf {csrf:?}");
        assert!(r.text().await.unwrap().contains("表单已失效"));
    }
    assert_eq!(app.server().app.path.log().head().await.unwrap(), head);
    // With it: reported, and redirected to the confirmation.
    let r = c
        .post(app.url("/report"))
        .header(header::COOKIE, format!("gc_session={session}"))
        .form(&[
            ("csrf", hidden(&html, "csrf").as_str()),
            ("key", key.as_str()),
            ("kind", "dispute"),
            ("category", "neighbours"),
            ("source", "grid_patrol"),
            ("severity", "normal"),
            ("summary", "有校验码的表单"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/report?done="));
    // Sign-out needs it too.
    let r = c
        .post(app.url("/signout"))
        .header(header::COOKIE, format!("gc_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn pages_answer_errors_as_the_api_does() {
    let app = App::start("tiny").await;
    let c = plain();
    let get = |session: String, path: &str| {
        let c = c.clone();
        let url = app.url(path);
        async move {
            let r = c
                .get(url)
                .header(header::COOKIE, format!("gc_session={session}"))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    // Signed out: sent to sign in.
    let r = c.get(app.url("/report")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[header::LOCATION], "/signin?next=/report");
    let gw = http_sign_in(&app, &demo(Role::GridWorker).0).await;
    let analyst = http_sign_in(&app, &demo(Role::Analyst).0).await;
    // A case of the fixture (another township): outside the grid worker's scope, 404 like an
    // unknown one.
    let case = app
        .server()
        .app
        .projection
        .read()
        .cases()
        .next()
        .unwrap()
        .state
        .id
        .clone()
        .unwrap();
    assert_eq!(get(gw.clone(), &format!("/cases/{case}")).await.0, 404);
    assert_eq!(
        get(gw.clone(), "/cases/330802-0000000000000000").await.0,
        404
    );
    // A page the role may not use: 403.
    assert_eq!(get(gw.clone(), "/stats").await.0, 403);
    assert_eq!(get(analyst.clone(), "/report").await.0, 403);
    assert_eq!(get(analyst.clone(), &format!("/cases/{case}")).await.0, 403);
    // Statistics of a region outside the scope: 403; malformed: 400; unknown: 404.
    let township = http_sign_in(&app, &demo(Role::UnitStaff).0).await;
    assert_eq!(
        get(township.clone(), "/stats?region=330802006").await.0,
        403
    );
    assert_eq!(get(analyst.clone(), "/stats?period=2025-13").await.0, 400);
    // … saying why, in words.
    let (status, text) = get(analyst.clone(), "/stats?period=2025-W53").await;
    assert_eq!(status, 400);
    assert!(text.contains("统计期间有误：该年只有52周"), "{text}");
    let (status, text) = get(
        analyst.clone(),
        "/stats?ptype=custom&from=2025-01-20&to=2025-01-10",
    )
    .await;
    assert_eq!(status, 400);
    assert!(text.contains("结束日不能早于开始日"), "{text}");
    // The audit view's time: as its form sends it, or as the export writes it; else in words.
    let auditor = http_sign_in(&app, &demo(Role::Auditor).0).await;
    for at in ["2025-01-15T12:00", "2025-01-15T04:00:00Z", "2025-01-15"] {
        let (status, _) = get(auditor.clone(), &format!("/audit/cases/{case}?at={at}")).await;
        assert_eq!(status, 200, "{at}");
    }
    // A closed case's state: how it was resolved, no deadline still "running".
    let closed = app
        .server()
        .app
        .projection
        .read()
        .cases()
        .find(|e| e.state.status == gridcase_domain::Status::Closed && e.state.resolution.is_some())
        .and_then(|e| e.state.id.clone())
        .expect("the fixture closes cases");
    let (status, text) = get(auditor.clone(), &format!("/audit/cases/{closed}")).await;
    assert_eq!(status, 200);
    assert!(text.contains("<dt>化解</dt>"), "{text}");
    assert!(!text.contains("<dt>办理期限</dt>"), "{text}");
    // A merged duplicate names (and links) the case it went into, and why.
    let merged = app
        .server()
        .app
        .projection
        .read()
        .cases()
        .find(|e| e.state.status == gridcase_domain::Status::Merged)
        .map(|e| {
            (
                e.state.id.clone().unwrap(),
                e.state.merged_into.clone().unwrap(),
            )
        })
        .expect("the fixture merges duplicates");
    let (status, text) = get(auditor.clone(), &format!("/cases/{}", merged.0)).await;
    assert_eq!(status, 200);
    assert!(
        text.contains(&format!("<a href=\"/cases/{}\">", merged.1)),
        "{text}"
    );
    let (status, text) = get(auditor.clone(), &format!("/audit/cases/{case}?at=garbage")).await;
    assert_eq!(status, 400);
    assert!(text.contains("查看时间有误"), "{text}");
    assert_eq!(get(analyst.clone(), "/stats?region=339999").await.0, 404);
    // A domain refusal is 422 in plain words: a report from the future.
    let html = get(gw.clone(), "/report").await.1;
    let r = c
        .post(app.url("/report"))
        .header(header::COOKIE, format!("gc_session={gw}"))
        .form(&[
            ("csrf", hidden(&html, "csrf").as_str()),
            ("key", hidden(&html, "key").as_str()),
            ("kind", "dispute"),
            ("category", "neighbours"),
            ("source", "grid_patrol"),
            ("severity", "normal"),
            ("summary", "明天的事"),
            ("happened_at", "2999-01-01T08:00"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(text.contains("发生时间不能晚于当前时间"), "{text}");
    assert!(text.contains("明天的事"), "the form keeps what was typed");
    app.stop().await;
}

#[tokio::test]
async fn headers_policy_compression_and_caching() {
    let app = App::start("tiny").await;
    let c = plain();
    let r = c.get(app.url("/signin")).send().await.unwrap();
    let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    let script = csp
        .split(';')
        .find(|d| d.trim().starts_with("script-src"))
        .unwrap();
    assert!(
        !script.contains("unsafe-inline") && !script.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
    let html = r.text().await.unwrap();
    // No inline script: every <script> has a src.
    for tag in html.split("<script").skip(1) {
        let open = &tag[..tag.find('>').unwrap()];
        assert!(
            open.contains("src=\"/assets/"),
            "inline script: <script{open}>"
        );
    }
    assert!(
        !html.contains(" onclick=") && !html.contains(" style=\""),
        "{html}"
    );
    // Assets: fingerprinted, compressed, cached for a year, revalidated by ETag.
    let session = http_sign_in(&app, &demo(Role::Analyst).0).await;
    let page = c
        .get(app.url(&format!("/stats?region={COUNTY}&period={MONTH}")))
        .header(header::COOKIE, format!("gc_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let src = page
        .split("src=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .find(|s| s.contains("echarts"))
        .unwrap()
        .to_owned();
    let r = c
        .get(app.url(&src))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(
        r.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let etag = r.headers()[header::ETAG].clone();
    let gz = r.bytes().await.unwrap().len();
    assert!(gz < 400_000, "{gz} bytes gzipped");
    let r = c
        .get(app.url(&src))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    // Pages are compressed too, and never cached by shared caches.
    let r = c
        .get(app.url(&format!("/stats?region={COUNTY}&period={MONTH}")))
        .header(header::COOKIE, format!("gc_session={session}"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    // The API is untouched: JSON problems, bearer tokens.
    let r = c.get(app.url("/api/v1/stats")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_csv_and_the_printed_report_hold_the_same_table() {
    let app = App::start("tiny").await;
    let c = plain();
    let session = http_sign_in(&app, &demo(Role::Analyst).0).await;
    let r = c
        .get(app.url(&format!(
            "/stats/children.csv?region={COUNTY}&period={MONTH}"
        )))
        .header(header::COOKIE, format!("gc_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let body = r.text().await.unwrap();
    let body = body.trim_start_matches('\u{feff}');
    let mut lines = body.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("排名,区划代码,名称,立案数"));
    let first = lines.next().unwrap();
    assert!(first.starts_with("1,330802"), "{first}");
    let r = c
        .get(app.url(&format!("/stats/print?region={COUNTY}&period={MONTH}")))
        .header(header::COOKIE, format!("gc_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        r.contains("矛盾纠纷和事件诉求办理情况月报") && r.contains("2025年3月"),
        "{r}"
    );
    assert!(!r.contains("chart-levels"), "no charts on paper");
    assert!(
        !r.contains("较上期 </td>"),
        "较上期 only beside a change: {r}"
    );
    let quarter = c
        .get(app.url(&format!("/stats/print?region={COUNTY}&period=2025-Q1")))
        .header(header::COOKIE, format!("gc_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        quarter.contains("矛盾纠纷和事件诉求办理情况季报") && !quarter.contains("月报"),
        "a quarter's report is a 季报: {quarter}"
    );
    app.stop().await;
}

/// The text of the headline figure `id` in a rendered dashboard.
fn kpi(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"kpi-{id}\""))
        .unwrap_or_else(|| panic!("no {id}"));
    let rest = &html[at..];
    let v = &rest[rest.find("kpi-value\">").unwrap() + "kpi-value\">".len()..];
    v[..v.find('<').unwrap()].to_owned()
}

#[tokio::test]
async fn as_known_on_a_date_is_the_apis_as_of_at_the_end_of_that_day() {
    let app = App::start("tiny").await;
    let c = plain();
    let (token, _) = demo(Role::Analyst);
    let session = http_sign_in(&app, &token).await;
    // The end of 15 March 2025 in Shanghai: the middle of the fixture's first month.
    let api: Value = c
        .get(app.url(&format!(
            "/api/v1/stats?region={COUNTY}&period={MONTH}&as_of=2025-03-15T15:59:59.999Z"
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let now: Value = c
        .get(app.url(&format!("/api/v1/stats?region={COUNTY}&period={MONTH}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cohort = &api["figures"]["cohort"];
    assert_ne!(
        cohort, &now["figures"]["cohort"],
        "the date makes a difference"
    );
    let html = c
        .get(app.url(&format!(
            "/stats?region={COUNTY}&period={MONTH}&as_of=2025-03-15"
        )))
        .header(header::COOKIE, format!("gc_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        kpi(&html, "registered"),
        thousands(cohort["registered"].as_i64().unwrap())
    );
    assert_eq!(
        kpi(&html, "resolved"),
        thousands(cohort["resolved"].as_i64().unwrap())
    );
    assert_eq!(
        kpi(&html, "resolution_rate"),
        pct(&cohort["resolution_rate"])
    );
    assert_eq!(kpi(&html, "township_rate"), pct(&cohort["township_rate"]));
    assert!(html.contains("数据截至 2025-03-15"));
    // The counts after 立案 add up to it: merged duplicates shown too.
    assert_eq!(
        kpi(&html, "merged"),
        thousands(cohort["merged"].as_i64().unwrap())
    );
    // The overdue open cases now (督办's figure; the fixture's deadlines passed long ago), as
    // the API counts them, and the unit holding the most.
    let html = c
        .get(app.url(&format!("/stats?region={COUNTY}&period={MONTH}")))
        .header(header::COOKIE, format!("gc_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The category table gives each category's 小事不出格 beside its resolution rate, as the
    // API's breakdown has them: 邻里 (neighbours), for one.
    let by_category: Value = c
        .get(app.url(&format!(
            "/api/v1/stats?region={COUNTY}&period={MONTH}&breakdown=category"
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let neighbours = by_category["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e[0]["value"] == "neighbours")
        .unwrap();
    let cohort_of = &neighbours[1]["cohort"];
    let table = &html[html
        .find("<th scope=\"col\" class=\"num\">小事不出格</th>")
        .unwrap()..];
    let row = &table[table.find("<th scope=\"row\">邻里</th>").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains(&format!(
            "<td class=\"num\">{}</td><td class=\"num\">{}</td>",
            pct(&cohort_of["grid_rate"]),
            pct(&cohort_of["resolution_rate"])
        )),
        "{row} / {neighbours}"
    );
    let overdue = &now["overdue"];
    let count = &html[html
        .find("id=\"overdue-count\"")
        .expect("the overdue section")..];
    let count = &count[count.find('>').unwrap() + 1..];
    assert_eq!(
        &count[..count.find('<').unwrap()],
        thousands(overdue["open"].as_i64().unwrap())
    );
    assert!(
        overdue["open"].as_i64().unwrap() > 0,
        "the fixture has some: {overdue}"
    );
    let top = &overdue["by_holder"][0];
    let table = &html[html.find("id=\"overdue-by-holder\"").unwrap()..];
    let body = &table[table.find("<tbody>").unwrap()..];
    let first_row = &body[..body.find("</tr>").unwrap()];
    assert!(
        first_row.contains(top["name"].as_str().unwrap())
            && first_row.contains(&thousands(top["count"].as_i64().unwrap())),
        "{first_row} / {top}"
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Screenshots (on demand)
// ---------------------------------------------------------------------------------------------

/// `GRIDCASE_SCREENSHOTS=docs/screenshots cargo test -p gridcase-server --test web screenshots`
/// (relative to the repository): one PNG per page, in Chinese, at 1366×768, the report form
/// also at phone width, over the quzhou-month demo data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots() {
    let Some(dir) = std::env::var_os("GRIDCASE_SCREENSHOTS") else {
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = App::start("quzhou-month").await;
    b.goto(&app.url("/signin")).await;
    b.screenshot(&dir, "signin").await;
    let (token, _) = demo(Role::UnitStaff);
    b.sign_in(&app, &token).await;
    b.goto(&app.url("/report")).await;
    let village = b
        .js("return document.querySelector('#l2 option:nth-child(2)').value")
        .await;
    b.c()
        .find(Locator::Id("l2"))
        .await
        .unwrap()
        .select_by_value(village.as_str().unwrap())
        .await
        .unwrap();
    b.wait_for("#l1").await;
    b.c()
        .find(Locator::Id("summary"))
        .await
        .unwrap()
        .send_keys("两户村民因宅基地边界发生争执，已到场劝解，需村调委会调解。")
        .await
        .unwrap();
    b.screenshot(&dir, "report").await;
    b.c().set_window_size(390, 844).await.unwrap();
    b.goto(&app.url("/report")).await;
    b.screenshot(&dir, "report-phone").await;
    b.c().set_window_size(1366, 768).await.unwrap();
    // 检索 and a case page, as the township's staff see them.
    b.goto(&app.url("/search?q=%E7%BA%A0%E7%BA%B7")).await;
    b.wait_for("#search-results").await;
    b.screenshot(&dir, "search").await;
    // A case the township holds, handled and with a story to tell.
    let case = {
        let view = app.server().app.projection.read();
        let township: gridcase_domain::RegionCode = TOWNSHIP.parse().unwrap();
        let e = view
            .cases()
            .filter(|e| e.state.holder == Some(township) && e.state.status.is_open())
            .max_by_key(|e| e.state.version)
            .unwrap();
        e.state.id.clone().unwrap()
    };
    b.goto(&app.url(&format!("/cases/{case}"))).await;
    b.wait_for("#case-status").await;
    b.screenshot(&dir, "case").await;
    b.js("window.scrollTo(0, document.querySelector('.case-timeline').getBoundingClientRect().top + window.scrollY - 16)").await;
    b.screenshot(&dir, "case-timeline").await;
    b.sign_out().await;
    // 我的工作台 of the village, after a grid worker sent it three fresh cases.
    for (i, summary) in [
        "两户村民因宅基地边界发生争执，需村调委会调解",
        "楼上住户装修噪音扰民，邻居多次协商未果",
        "村民反映承包地流转租金未按期支付",
    ]
    .into_iter()
    .enumerate()
    {
        let v = api(&app, "demo-grid-worker", "/api/v1/cases", &format!("shot-{i}"), json!({
            "kind": "dispute", "category": "neighbours", "source": "grid_patrol",
            "severity": if i == 0 { "urgent" } else { "normal" }, "location": GRID,
            "summary": summary,
            "happened_at": gridcase_domain::Timestamp::now().plus_millis(-3_600_000).to_string(),
        }))
        .await;
        let id = v["case_id"].as_str().unwrap().to_owned();
        api(
            &app,
            "demo-grid-worker",
            &format!("/api/v1/cases/{id}/register"),
            &format!("shot-r{i}"),
            json!({}),
        )
        .await;
        api(
            &app,
            "demo-grid-worker",
            &format!("/api/v1/cases/{id}/escalate"),
            &format!("shot-e{i}"),
            json!({ "to": VILLAGE, "reason": "需村调委会调解" }),
        )
        .await;
    }
    b.sign_in(&app, "demo-village").await;
    b.goto(&app.url("/work")).await;
    b.wait_for("#work-list").await;
    b.screenshot(&dir, "work").await;
    b.sign_out().await;
    let (token, _) = demo(Role::Analyst);
    b.sign_in(&app, &token).await;
    b.goto(&app.url("/stats?region=330800&period=2025-01"))
        .await;
    b.wait_for("#chart-trend[data-drawn]").await;
    b.screenshot(&dir, "stats").await;
    b.js("window.scrollTo(0, document.querySelector('.charts').getBoundingClientRect().top + window.scrollY - 16)").await;
    b.screenshot(&dir, "stats-charts").await;
    b.js("window.scrollTo(0, document.querySelector('#children').getBoundingClientRect().top + window.scrollY - 80)").await;
    b.screenshot(&dir, "stats-table").await;
    b.goto(&app.url("/stats?region=330802&period=2025-01"))
        .await;
    b.wait_for("#chart-trend[data-drawn]").await;
    b.screenshot(&dir, "stats-county").await;
    b.goto(&app.url("/stats/print?region=330802&period=2025-01"))
        .await;
    b.screenshot(&dir, "stats-print").await;
    b.goto(&app.url("/cases/330802-0000000000000000")).await;
    b.screenshot(&dir, "error-403").await;
    b.sign_out().await;
    let (token, _) = demo(Role::Auditor);
    b.sign_in(&app, &token).await;
    let case = {
        let view = app.server().app.projection.read();
        let e = view.cases().find(|e| e.state.version >= 7).unwrap();
        e.state.id.clone().unwrap()
    };
    b.goto(&app.url("/audit")).await;
    b.screenshot(&dir, "audit").await;
    b.goto(&app.url(&format!("/audit/cases/{case}"))).await;
    b.screenshot(&dir, "audit-case").await;
    let chain_top = "window.scrollTo(0, document.querySelector('#chain').getBoundingClientRect().top + window.scrollY - 70)";
    b.js(chain_top).await;
    b.screenshot(&dir, "audit-chain").await;
    tamper_with_the_report(&app, &case).await;
    b.goto(&app.url(&format!("/audit/cases/{case}"))).await;
    b.js(chain_top).await;
    b.screenshot(&dir, "audit-chain-broken").await;
    b.close().await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// A case from report to close, in two browsers
// ---------------------------------------------------------------------------------------------

const VILLAGE: &str = "330802005001";

impl Browser {
    async fn click(&self, css: &str) {
        self.c()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    async fn fill(&self, css: &str, text: &str) {
        let el = self
            .c()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    async fn choose(&self, css: &str, value: &str) {
        self.c()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choosing {value} in {css}: {e}"));
    }

    /// Opens the report form on a neighbours' dispute (the category picked after the kind's
    /// categories arrived) with `summary`.
    async fn start_report(&self, app: &App, summary: &str) {
        self.goto(&app.url("/report")).await;
        self.choose("#kind", "dispute").await;
        self.wait_for("#category option[value=neighbours]").await;
        self.choose("#category", "neighbours").await;
        self.fill("#summary", summary).await;
    }

    /// Opens the form of `action` on the case page (a click on its summary unless open).
    async fn open_action(&self, action: &str) {
        let sel = format!("details[data-action={action}]");
        self.wait_for(&sel).await;
        if self
            .js(&format!("return document.querySelector('{sel}').open"))
            .await
            != json!(true)
        {
            self.click(&format!("{sel} > summary")).await;
        }
    }

    /// Sends the form of `action` and waits for the page saying it was done.
    async fn act(&self, action: &str) {
        let before = self
            .js("return document.querySelector('.case-grid').dataset.version")
            .await;
        let before = before.as_str().unwrap().to_owned();
        self.click(&format!(
            "details[data-action={action}] button[type=submit]"
        ))
        .await;
        // The page after the action: it says so, and shows a newer version of the case.
        self.wait_for(&format!(
            "#done ~ .case-grid:not([data-version='{before}'])"
        ))
        .await;
        let done = self.text("#done").await;
        assert!(done.starts_with("已办理"), "{action}: {done}");
    }

    /// The actions the case page offers.
    async fn actions(&self) -> Vec<String> {
        serde_json::from_value(
            self.js("return Array.from(document.querySelectorAll('details[data-action]')).map(d => d.dataset.action)")
                .await,
        )
        .unwrap()
    }
}

/// Reports a case with `summary`, the form sent three times (twice in the background, once by
/// its button); returns the case id the page shows.
async fn report_three_times(b: &Browser, app: &App, summary: &str) -> String {
    b.start_report(app, summary).await;
    let sent = b
        .js("const f = document.querySelector('form.report-form');
             const body = () => new URLSearchParams(new FormData(f));
             return Promise.all([fetch('/report', {method: 'POST', body: body()}),
                                 fetch('/report', {method: 'POST', body: body()})])
               .then(rs => rs.map(r => r.status));")
        .await;
    assert_eq!(sent, json!([200, 200]));
    b.click("form.report-form button[type=submit]").await;
    b.wait_for("#reported").await;
    b.text("#reported .case-id").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_from_report_to_close_across_the_workbench() {
    let Some(grid) = Browser::start().await else {
        return;
    };
    let Some(village) = Browser::start().await else {
        return;
    };
    let app = App::start("tiny").await;
    let tokens = gridcase_server::load::demo_tokens();
    let token = |name: &str| tokens.iter().find(|(t, _)| t == name).unwrap().clone();
    let (village_token, village_staff) = token("demo-village");
    let (_, mediator) = token("demo-mediator");

    // The village's queue is open in a second session before anything happens.
    village.sign_in(&app, &village_token).await;
    village.goto(&app.url("/work")).await;
    village.wait_for("#work-list").await;
    // A mark that a reload would wipe.
    village.js("window.__stayed = true").await;

    // A grid worker reports (the form sent three times: one case) and registers it.
    grid.sign_in(&app, &token("demo-grid-worker").0).await;
    let summary = "两户村民因宅基地边界争执（工作台流程测试）";
    let id = report_three_times(&grid, &app, summary).await;
    app.settle().await;
    assert_eq!(app.cases_with_summary(summary).len(), 1);
    grid.goto(&app.url(&format!("/cases/{id}"))).await;
    assert_eq!(grid.text("#case-summary").await, summary);
    // Names along the path, not codes.
    let path = grid.text("#case-path").await;
    assert!(path.contains("柯城区") && !path.contains(VILLAGE), "{path}");
    assert!(!village.exists(&format!("tr[data-case='{id}']")).await);
    grid.open_action("register").await;
    grid.act("register").await;
    // ... and escalates it to the village, picked from the tree above the grid.
    grid.open_action("escalate").await;
    let targets = grid.option_values("#escalate-to").await;
    assert_eq!(
        targets.first().map(String::as_str),
        Some(VILLAGE),
        "{targets:?}"
    );
    grid.choose("#escalate-to", VILLAGE).await;
    grid.fill("#escalate-reason", "需村调委会调解").await;
    grid.act("escalate").await;
    let holder = grid.text("#case-holder").await;
    assert!(holder.contains("村") || holder.contains("社区"), "{holder}");

    // The village's queue shows it without a reload (server-sent events).
    let row = format!("#work-list tr[data-case='{id}']");
    village
        .c()
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(&row))
        .await
        .unwrap_or_else(|e| panic!("the case did not arrive in the open queue: {e}"));
    assert_eq!(
        village.js("return window.__stayed === true").await,
        json!(true)
    );
    assert!(village.text(&row).await.contains(summary));
    // The status line is the server's: the page's language, the deployment's zone (Shanghai),
    // not the browser's clock (UTC here) or a hard-coded locale.
    let mut status = String::new();
    for _ in 0..50 {
        status = village.text(".live-status").await;
        if status.starts_with("列表已更新 ") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shanghai =
        jiff::Timestamp::now().to_zoned_datetime(jiff::tz::db().get("Asia/Shanghai").unwrap());
    let time = status
        .strip_prefix("列表已更新 ")
        .unwrap_or_else(|| panic!("the live status: {status:?}"));
    assert!(
        time.len() == 8
            && time[..2].parse::<i8>().is_ok_and(
                |h| (h - shanghai.hour()).abs() <= 1 || (h - shanghai.hour()).abs() == 23
            ),
        "{status:?} is not the time in Shanghai ({shanghai})"
    );

    // Village staff assign it (to themselves) and start mediation with the roster's mediator.
    village.click(&format!("{row} a.case-link")).await;
    village.wait_for("#case-status").await;
    village.open_action("assign").await;
    let handlers = village.option_values("#assign-handler").await;
    assert!(
        handlers.contains(&village_staff.id().to_string()),
        "{handlers:?}"
    );
    village
        .choose("#assign-handler", village_staff.id().as_str())
        .await;
    village.act("assign").await;
    village.open_action("start_mediation").await;
    let mediators = village.option_values("#start_mediation-mediator").await;
    assert!(
        mediators.contains(&mediator.id().to_string()),
        "{mediators:?}"
    );
    // People see names in the picker, not ids.
    let label = village
        .js(&format!(
            "return document.querySelector('#start_mediation-mediator option[value=\"{}\"]').textContent",
            mediator.id()
        ))
        .await;
    assert!(
        !label.as_str().unwrap().contains(mediator.id().as_str()),
        "{label}"
    );
    village
        .choose("#start_mediation-mediator", mediator.id().as_str())
        .await;
    village
        .choose("#start_mediation-mediation_type", "people")
        .await;
    village.act("start_mediation").await;
    assert!(village.exists("#story-mediations").await);

    // The mediator signs in, finds it in their work and concludes with an agreement.
    grid.sign_out().await;
    grid.sign_in(&app, &token("demo-mediator").0).await;
    grid.goto(&app.url("/work")).await;
    grid.wait_for(&row).await;
    grid.click(&format!("{row} a.case-link")).await;
    grid.open_action("conclude_mediation").await;
    grid.choose("#conclude_mediation-outcome", "agreement")
        .await;
    grid.fill("#conclude_mediation-note", "双方签订调解协议")
        .await;
    grid.act("conclude_mediation").await;

    // The village staff member resolves it by the agreement ...
    village.goto(&app.url(&format!("/cases/{id}"))).await;
    village.open_action("resolve").await;
    village
        .choose("#resolve-method", "mediated_agreement")
        .await;
    village
        .fill("#resolve-summary", "调解成功，双方履行协议")
        .await;
    village.act("resolve").await;
    // ... and may not verify their own work: not offered, and said why; sent anyway, refused.
    assert!(!village
        .actions()
        .await
        .contains(&"verify_resolution".to_owned()));
    assert!(village
        .text("[data-blocked]")
        .await
        .contains("化解人不能核查"));
    let refused = village
        .js(&format!(
            "const f = document.querySelector('form.action-form');
             const body = new URLSearchParams({{csrf: f.csrf.value, version: f.version.value,
                 key: 'web-self-verify-0000000000000001', note: ''}});
             return fetch('/cases/{id}/verify_resolution', {{method: 'POST', body}})
               .then(r => r.text().then(t => [r.status, t.includes('化解人不能核查')]));"
        ))
        .await;
    assert_eq!(refused, json!([403, true]));

    // Another staff member of the village verifies, and closes.
    grid.sign_out().await;
    grid.sign_in(&app, &token("demo-village-2").0).await;
    grid.goto(&app.url(&format!("/cases/{id}"))).await;
    grid.open_action("verify_resolution").await;
    grid.act("verify_resolution").await;
    grid.open_action("close").await;
    grid.act("close").await;
    assert_eq!(grid.text("#case-status").await, "已结案");
    // The timeline names the people, not their ids.
    let timeline = grid.text("#timeline").await;
    assert!(
        !timeline.contains(village_staff.id().as_str()),
        "{timeline}"
    );
    assert!(!timeline.contains(mediator.id().as_str()), "{timeline}");

    // The case has left the village's open queue.
    village.goto(&app.url("/work")).await;
    village.wait_for("#work-list").await;
    assert!(!village.exists(&row).await);

    // The analyst reads statistics only.
    grid.sign_out().await;
    grid.sign_in(&app, &token("demo-analyst").0).await;
    grid.goto(&app.url(&format!("/cases/{id}"))).await;
    grid.wait_for("h1").await;
    assert!(grid.text("main").await.contains("无权访问"));
    assert!(!grid.exists("#case-status").await);

    grid.close().await;
    village.close().await;
    app.stop().await;
}

/// An API command that must succeed: its answer.
async fn api(app: &App, token: &str, path: &str, key: &str, body: Value) -> Value {
    let r = plain()
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

/// A neighbour dispute reported an hour ago in the demo grid by its grid worker, through the
/// API under `key`; its case id.
async fn grid_report(app: &App, key: &str, summary: &str) -> String {
    let v = api(
        app,
        "demo-grid-worker",
        "/api/v1/cases",
        key,
        json!({
            "kind": "dispute", "category": "neighbours", "source": "grid_patrol",
            "severity": "normal", "location": GRID, "summary": summary,
            "happened_at": gridcase_domain::Timestamp::now().plus_millis(-3_600_000).to_string(),
        }),
    )
    .await;
    v["case_id"].as_str().unwrap().to_owned()
}

/// A case page's form sent twice acts once; sent on a stale version, with its key again and
/// other words, or without what the domain needs, it is refused with the case as it stands
/// and the form as it was filled in; sent without its CSRF token it is refused; nothing is
/// written by a refusal.
#[tokio::test]
async fn case_forms_act_once_and_refuse_stale_versions() {
    let app = App::start("tiny").await;
    let id = grid_report(&app, "stale-1", "邻里纠纷（表单测试）").await;
    let session = http_sign_in(&app, "demo-grid-worker").await;
    let c = plain();
    let cookie = format!("gc_session={session}");
    let page = |c: reqwest::Client, cookie: String, url: String| async move {
        c.get(url)
            .header(header::COOKIE, cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let html = page(c.clone(), cookie.clone(), app.url(&format!("/cases/{id}"))).await;
    assert!(html.contains("data-action=\"register\""), "{html}");
    let (csrf, key, version) = (
        hidden(&html, "csrf"),
        hidden(&html, "key"),
        hidden(&html, "version"),
    );
    let send = |csrf: String, key: String, version: String| {
        c.post(app.url(&format!("/cases/{id}/register")))
            .header(header::COOKIE, cookie.clone())
            .form(&[("csrf", csrf), ("key", key), ("version", version)])
            .send()
    };
    // Without the CSRF token: refused, nothing written.
    let head = app.server().app.path.log().head().await.unwrap();
    let r = send(String::new(), key.clone(), version.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.server().app.path.log().head().await.unwrap(), head);
    // Twice: one registration, the second answered as done.
    let r = send(csrf.clone(), key.clone(), version.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = send(csrf.clone(), key.clone(), version.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(to.contains("done=register") && to.contains("dup=1"), "{to}");
    let commits = app
        .server()
        .app
        .path
        .log()
        .read_case(&CaseId::new(&id).unwrap())
        .await
        .unwrap();
    assert_eq!(commits.len(), 2, "one report, one registration");
    // A new form on the version the page showed (someone acted since): 409, the case as it
    // stands now with the reason above it.
    let head = app.server().app.path.log().head().await.unwrap();
    let r = send(
        csrf.clone(),
        "web-stale-form-00000000000000001".into(),
        version.clone(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 409);
    let body = r.text().await.unwrap();
    assert!(body.contains("提交前案件已有新的办理记录"), "{body}");
    assert_eq!(app.server().app.path.log().head().await.unwrap(), head);

    // Refused forms keep what was typed: the form comes back open, filled in as sent.
    // `post` sends the case's form `action` with `fields` (the session's cookie and CSRF token
    // added), checks the answer's status and gives its page.
    let post = |action: &str, fields: &[(&str, &str)], status: u16| {
        let mut form = vec![("csrf".to_owned(), csrf.clone())];
        form.extend(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let request = c
            .post(app.url(&format!("/cases/{id}/{action}")))
            .header(header::COOKIE, cookie.clone())
            .form(&form);
        let action = action.to_owned();
        async move {
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), status, "{action}");
            r.text().await.unwrap()
        }
    };
    let note = |key: &str, version: &str, text: &str, status: u16| {
        post(
            "add_note",
            &[("key", key), ("version", version), ("text", text)],
            status,
        )
    };
    let kept = |body: &str, action: &str, typed: &str| {
        assert!(
            body.contains(&format!("data-action=\"{action}\" open>")),
            "the {action} form is open: {body}"
        );
        assert!(body.contains(typed), "what was typed is kept: {body}");
    };
    // On a stale version: 409.
    let body = note(
        "web-note-stale-0000000000000001",
        &version,
        "双方同意周末再谈",
        409,
    )
    .await;
    kept(&body, "add_note", "双方同意周末再谈");
    // Sent, then its key sent again with other words (the browser's back button): 422 in
    // words, the new words kept, and the first note written once.
    let current = hidden(&body, "version");
    note(
        "web-note-twice-0000000000000001",
        &current,
        "第一次的备注",
        303,
    )
    .await;
    let body = note(
        "web-note-twice-0000000000000001",
        &current,
        "改过的备注",
        422,
    )
    .await;
    assert!(body.contains("这份表单已经提交过"), "{body}");
    kept(&body, "add_note", "改过的备注");
    // Empty where the domain needs words: 422 naming the field as the form labels it.
    let current = hidden(&body, "version");
    let body = note("web-note-empty-0000000000000001", &current, "  ", 422).await;
    assert!(body.contains("备注内容不能为空"), "{body}");
    // A version that is not a number is malformed, not silently unchecked.
    let head = app.server().app.path.log().head().await.unwrap();
    note("web-note-badver-00000000000001", "v7", "版本号不对", 400).await;
    assert_eq!(app.server().app.path.log().head().await.unwrap(), head);
    // A new party with nothing filled in: 400, nothing written.
    let party = |key: &str, personal: &[(&str, &str)]| {
        let mut fields = vec![
            ("key", key),
            ("version", current.as_str()),
            ("role", "applicant"),
        ];
        fields.extend_from_slice(personal);
        post("add_party", &fields, 400)
    };
    let body = party("web-party-empty-000000000000001", &[]).await;
    assert!(body.contains("请至少填写当事人的姓名"), "{body}");
    // An ID number whose check digit is wrong: said so (it was filled in), the name kept.
    let body = party(
        "web-party-badid-000000000000001",
        &[("name", "赵立新"), ("id_number", "330802199001011234")],
    )
    .await;
    assert!(body.contains("身份证号码有误"), "{body}");
    assert!(body.contains("赵立新"), "the name is kept: {body}");
    assert_eq!(app.server().app.path.log().head().await.unwrap(), head);
    // A form the case has moved past (escalated meanwhile, from elsewhere): 409, and since the
    // form is not offered any more, what was typed comes back in the message.
    let html = page(c.clone(), cookie.clone(), app.url(&format!("/cases/{id}"))).await;
    let stale = hidden(&html, "version");
    api(
        &app,
        "demo-grid-worker",
        &format!("/api/v1/cases/{id}/escalate"),
        "web-escalate-elsewhere-1",
        json!({ "reason": "需村里协调（另一处上报）" }),
    )
    .await;
    let body = post(
        "escalate",
        &[
            ("key", "web-escalate-stale-00000000001"),
            ("version", &stale),
            ("reason", "双方分歧大，请村调委会调解"),
        ],
        409,
    )
    .await;
    assert!(
        body.contains("此项操作现已不可办理") && body.contains("双方分歧大，请村调委会调解"),
        "{body}"
    );
    // A form sent after the session ended: sign in again, then back to the page it was on
    // (its own address only takes posts).
    let r = plain()
        .post(app.url(&format!("/cases/{id}/add_note")))
        .header(header::REFERER, app.url(&format!("/cases/{id}")))
        .form(&[("text", "过期后提交")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(to.ends_with(&format!("next=/cases/{id}")), "{to}");
    app.stop().await;
}

/// A case number typed into the search box opens the case — for a reader who may read it; for
/// another the search runs as words (and finds nothing), as for a case that does not exist.
#[tokio::test]
async fn a_case_number_in_the_search_box_opens_the_case() {
    let app = App::start("tiny").await;
    let id = grid_report(&app, "search-by-id-1", "邻里纠纷（按编号检索）").await;
    let search = |token: &'static str, q: String| {
        let app = &app;
        async move {
            let session = http_sign_in(app, token).await;
            plain()
                .get(app.url(&format!("/search?q={q}")))
                .header(header::COOKIE, format!("gc_session={session}"))
                .send()
                .await
                .unwrap()
        }
    };
    // Pasted with spaces around it, as from a message.
    let r = search("demo-grid-worker", format!("%20{id}%20")).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()[header::LOCATION],
        format!("/cases/{id}").as_str()
    );
    // A reader who may not read it (a mediator not mediating it): no redirect, nothing found.
    let r = search("demo-mediator", id.clone()).await;
    assert_eq!(r.status(), 200);
    assert!(!r.text().await.unwrap().contains(&format!("/cases/{id}")));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 当事人: personal data on the workbench
// ---------------------------------------------------------------------------------------------

/// Screenshots go here when `GRIDCASE_SCREENSHOTS` is set.
fn screenshot_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("GRIDCASE_SCREENSHOTS")?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    Some(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parties_on_the_workbench_from_report_to_erasure() {
    let Some(grid) = Browser::start().await else {
        return;
    };
    let Some(other) = Browser::start().await else {
        return;
    };
    let app = App::start("tiny").await;
    let shots = screenshot_dir();
    let name = "孙丽华";
    let id_number = "330802198503124427";
    // The grid worker reports a dispute with a party's name, ID number and phone.
    grid.sign_in(&app, "demo-grid-worker").await;
    grid.start_report(&app, "邻里因排水沟堵塞发生争执（当事人测试）")
        .await;
    grid.click("#report-parties > summary").await;
    grid.fill("#p1_name", name).await;
    grid.fill("#p1_id_number", id_number).await;
    grid.fill("#p1_phone", "137 1234 5678").await;
    grid.fill("#p2_name", "周建新").await;
    if let Some(dir) = &shots {
        grid.screenshot(dir, "report-parties").await;
    }
    // A bad ID number is refused in words, the form kept.
    grid.fill("#p1_id_number", "330802198503124428").await;
    grid.click("form.report-form button[type=submit]").await;
    grid.wait_for("#report-error").await;
    assert!(
        grid.text("#report-error")
            .await
            .contains("当事人1的身份证号码有误：应为18位，末位校验码须与前17位相符"),
        "{}",
        grid.text("#report-error").await
    );
    assert_eq!(
        grid.js("return document.querySelector('#p1_name').value")
            .await,
        json!(name)
    );
    grid.fill("#summary", "邻里因排水沟堵塞发生争执（当事人测试）")
        .await;
    grid.fill("#p1_id_number", id_number).await;
    grid.click("form.report-form button[type=submit]").await;
    grid.wait_for("#reported").await;
    let case = grid.text("#reported .case-id").await;
    // The case page: names for the holding unit, the ID number masked.
    grid.goto(&app.url(&format!("/cases/{case}"))).await;
    grid.wait_for("#parties").await;
    assert_eq!(grid.text("#parties [data-field=name]").await, name);
    assert_eq!(
        grid.text("#parties [data-field=id_number]").await,
        "330***********4427"
    );
    let source = grid.js("return document.documentElement.outerHTML").await;
    assert!(!source.as_str().unwrap().contains(id_number));
    // The whole number, with a purpose, once.
    grid.click("#parties details[data-reveal] > summary").await;
    grid.fill(
        "#parties details[data-reveal] input[name=purpose]",
        "出具调解协议书",
    )
    .await;
    grid.click("#parties details[data-reveal] button[type=submit]")
        .await;
    grid.wait_for("#revealed-number").await;
    assert_eq!(grid.text("#revealed-number").await, id_number);
    if let Some(dir) = &shots {
        grid.js("window.scrollTo(0, document.querySelector('#parties').getBoundingClientRect().top + window.scrollY - 16)").await;
        grid.screenshot(dir, "case-parties").await;
    }
    // A party learned later.
    grid.open_action("add_party").await;
    grid.choose("#add_party-role", "third_party").await;
    grid.fill("#add_party-name", "吴晓东").await;
    grid.act("add_party").await;
    assert_eq!(
        grid.js("return document.querySelectorAll('#parties li.party').length")
            .await,
        json!(3)
    );
    // A phone number typed into a note is refused in words: it belongs in the party's fields.
    grid.open_action("add_note").await;
    grid.fill("#add_note-text", "已联系当事人，电话13812345678")
        .await;
    grid.click("details[data-action=add_note] button[type=submit]")
        .await;
    grid.wait_for("#action-error").await;
    let refusal = grid.text("#action-error").await;
    assert!(refusal.contains("手机号码"), "{refusal}");
    // The same person in another case is found by the blind index.
    let again = api(
        &app,
        "demo-grid-worker",
        "/api/v1/cases",
        "parties-again",
        json!({
            "kind": "dispute", "category": "neighbours", "source": "grid_patrol",
            "severity": "normal", "location": GRID,
            "parties": [{ "role": "respondent", "personal": { "name": name, "id_number": id_number } }],
            "summary": "同一当事人的另一起纠纷",
            "happened_at": gridcase_domain::Timestamp::now().plus_millis(-3_600_000).to_string(),
        }),
    )
    .await;
    app.settle().await;
    grid.goto(&app.url(&format!("/cases/{case}"))).await;
    grid.click("#parties li.party:first-child a[data-other-cases]")
        .await;
    grid.wait_for("#other-cases").await;
    let again_id = again["case_id"].as_str().unwrap();
    assert!(
        grid.exists(&format!("#other-cases tr[data-case='{again_id}']"))
            .await
    );
    if let Some(dir) = &shots {
        grid.screenshot(dir, "other-cases").await;
    }
    // 检索 by the person's ID number finds both cases (the blind index, not the text).
    grid.goto(&app.url(&format!("/search?person={id_number}")))
        .await;
    grid.wait_for("#search-results").await;
    for c in [case.as_str(), again_id] {
        assert!(
            grid.exists(&format!("#search-results tr[data-case='{c}']"))
                .await,
            "{c} not found by person"
        );
    }
    assert_eq!(
        grid.js("return document.querySelectorAll('#search-results tr[data-case]').length")
            .await,
        json!(2)
    );
    // The county's supervisor erases the first party's data with a legal basis.
    other.sign_in(&app, "demo-supervisor").await;
    other.goto(&app.url(&format!("/cases/{case}"))).await;
    other.wait_for("#parties").await;
    assert!(!other.exists("#parties [data-field=name]").await);
    other
        .click("#parties li.party:first-child details[data-erase] > summary")
        .await;
    other
        .choose(
            "#parties li.party:first-child select[name=legal_basis]",
            "data_subject_request",
        )
        .await;
    other
        .fill(
            "#parties li.party:first-child input[name=remark]",
            "申请编号 2026-117",
        )
        .await;
    if let Some(dir) = &shots {
        other.js("window.scrollTo(0, document.querySelector('#parties').getBoundingClientRect().top + window.scrollY - 16)").await;
        other.screenshot(dir, "case-parties-erase").await;
    }
    other
        .click("#parties li.party:first-child details[data-erase] button[type=submit]")
        .await;
    other.wait_for("#done").await;
    assert!(other.text("#done").await.contains("已删除"));
    // The holding unit now sees 已删除 where the data was.
    grid.goto(&app.url(&format!("/cases/{case}"))).await;
    grid.wait_for("#parties li.party:first-child [data-erased]")
        .await;
    assert_eq!(
        grid.text("#parties li.party:first-child [data-erased]")
            .await,
        "已删除"
    );
    assert!(!grid.text("#parties").await.contains(name));
    other.sign_out().await;
    // The auditor reads who saw what, and why — and sees parties only by id and role.
    other.sign_in(&app, "demo-auditor").await;
    other.goto(&app.url(&format!("/cases/{case}"))).await;
    other.wait_for("#parties").await;
    let card = other.text("#parties").await;
    for secret in ["周建新", "吴晓东", "330***"] {
        assert!(!card.contains(secret), "the auditor sees {secret}: {card}");
    }
    other.goto(&app.url("/audit/access-log")).await;
    other.wait_for("#access-log").await;
    let log = other.text("#access-log").await;
    for words in [
        "显示完整身份证号",
        "出具调解协议书",
        "删除个人信息",
        "比对查找",
    ] {
        assert!(log.contains(words), "{words} not in {log}");
    }
    if let Some(dir) = &shots {
        other.screenshot(dir, "access-log").await;
    }
    other.sign_out().await;
    // An auditor granted personal data sees the party still held (the read recorded as an
    // audit), the erased one as 已删除, and no lookup of other cases.
    other.sign_in(&app, "demo-privacy-auditor").await;
    other.goto(&app.url(&format!("/cases/{case}"))).await;
    other.wait_for("#parties").await;
    assert_eq!(
        other
            .text("#parties li.party:nth-child(2) [data-field=name]")
            .await,
        "周建新"
    );
    assert!(
        other
            .exists("#parties li.party:first-child [data-erased]")
            .await
    );
    assert!(!other.exists("#parties a[data-other-cases]").await);
    if let Some(dir) = &shots {
        other.js("window.scrollTo(0, document.querySelector('#parties').getBoundingClientRect().top + window.scrollY - 16)").await;
        other.screenshot(dir, "case-parties-auditor").await;
    }
    other.goto(&app.url("/audit/access-log")).await;
    other.wait_for("#access-log").await;
    let log = other.text("#access-log").await;
    assert!(log.contains("审计（查看案件页面）"), "{log}");
    grid.close().await;
    other.close().await;
    app.stop().await;
}

/// A grid worker's report of a dispute with one party, an hour old; its case id.
async fn report_with_party(app: &App, key: &str, summary: &str) -> String {
    let v = api(
        app,
        "demo-grid-worker",
        "/api/v1/cases",
        key,
        json!({
            "kind": "dispute", "category": "neighbours", "source": "grid_patrol",
            "severity": "normal", "location": GRID, "summary": summary,
            "parties": [{ "role": "applicant", "personal": { "name": "钱美玲" } }],
            "happened_at": gridcase_domain::Timestamp::now().plus_millis(-3_600_000).to_string(),
        }),
    )
    .await;
    v["case_id"].as_str().unwrap().to_owned()
}

/// Rejects (so finishes) a reported case, as its grid worker.
async fn reject_report(app: &App, id: &str, key: &str) {
    api(
        app,
        "demo-grid-worker",
        &format!("/api/v1/cases/{id}/reject"),
        key,
        json!({ "reason": "duplicate", "note": "重复上报" }),
    )
    .await;
    app.settle().await;
}

/// Erases the personal data of a case's (only) party, as a supervisor, through the API.
async fn erase_the_party(app: &App, id: &str) {
    let parties: Value = plain()
        .get(app.url(&format!("/api/v1/cases/{id}/parties")))
        .bearer_auth("demo-supervisor")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let party = parties["parties"][0]["id"].as_str().unwrap().to_owned();
    let erased = plain()
        .delete(app.url(&format!("/api/v1/parties/{party}/personal-data")))
        .bearer_auth("demo-supervisor")
        .json(&json!({ "legal_basis": "data_subject_request" }))
        .send()
        .await
        .unwrap();
    assert!(erased.status().is_success(), "{}", erased.status());
}

/// Sends the text-erasure form of case `id` from the page shown, whatever the page offers (a
/// page left open while the case changed), and returns the refusal's words.
async fn send_text_erasure_anyway(b: &Browser, id: &str) -> String {
    b.js(&format!(
        "const f = document.createElement('form'); f.method = 'post'; \
         f.action = '/cases/{id}/text/erase'; \
         f.appendChild(document.querySelector('input[name=csrf]').cloneNode()); \
         const b = document.createElement('input'); b.name = 'legal_basis'; \
         b.value = 'retention_expired'; f.appendChild(b); \
         document.body.appendChild(f); f.submit();"
    ))
    .await;
    b.wait_for(".error-page[data-status='422'] .detail").await;
    b.text(".error-page .detail").await
}

/// The text card of case `id`'s page once it shows `state`: its note.
async fn text_note(b: &Browser, app: &App, id: &str, state: &str) -> String {
    b.goto(&app.url(&format!("/cases/{id}"))).await;
    b.wait_for(&format!("#case-text[data-state={state}]")).await;
    b.text("#case-text-note").await
}

/// A finished case's free text erased from its page by a supervisor: the page says why not
/// while the case is open and while a party's data is held, then offers the form; afterwards
/// the text reads ［已删除］ and the page says when it was erased.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_cases_text_is_erased_from_its_page() {
    let Some(sup) = Browser::start().await else {
        return;
    };
    // Retention 0 days: the text may go as soon as the case is finished and its parties erased.
    let app = App::start_with("tiny", |cfg| cfg.privacy.case_text_retention_days = 0).await;
    let shots = screenshot_dir();
    let summary = "两户因晾晒衣物占道发生口角（文字删除测试）";
    let id = report_with_party(&app, "text-erase-1", summary).await;
    app.settle().await;
    sup.sign_in(&app, "demo-supervisor").await;
    // Open: kept until it is finished.
    assert!(text_note(&sup, &app, &id, "open").await.contains("办结"));
    // The form sent anyway (a page left open while the case changed) is refused in words.
    assert!(send_text_erasure_anyway(&sup, &id).await.contains("办结"));
    // Not registered, so finished — but its party's data is still held.
    reject_report(&app, &id, "text-erase-2").await;
    assert!(text_note(&sup, &app, &id, "party_held")
        .await
        .contains("当事人"));
    erase_the_party(&app, &id).await;
    // Now the form: basis, remark, and a button that says what it does.
    sup.goto(&app.url(&format!("/cases/{id}"))).await;
    sup.wait_for("#case-text[data-state=allowed]").await;
    assert!(sup.text("body").await.contains(summary));
    sup.click("#case-text details[data-erase-text] > summary")
        .await;
    sup.choose("#text-basis", "retention_expired").await;
    sup.fill("#text-remark", "归档期满 2026-12").await;
    if let Some(dir) = &shots {
        sup.js("window.scrollTo(0, document.querySelector('#parties').getBoundingClientRect().top + window.scrollY - 16)").await;
        sup.screenshot(dir, "case-text-erase").await;
    }
    sup.click("#case-text details[data-erase-text] button[type=submit]")
        .await;
    sup.wait_for("#done").await;
    assert!(sup.text("#done").await.contains("已删除案件文字"));
    sup.wait_for("#case-text[data-state=erased]").await;
    assert!(sup.text("#case-text-note").await.contains("案件文字已删除"));
    let page = sup.text("body").await;
    assert!(!page.contains(summary), "the summary is still shown");
    assert!(page.contains("［已删除］"), "{page}");
    if let Some(dir) = &shots {
        sup.screenshot(dir, "case-text-erased").await;
    }
    sup.close().await;
    app.stop().await;
}

/// Under the deployment's retention period (30 days here) a finished case whose parties'
/// data is erased keeps its text: the page says until when and offers no form; the form sent
/// anyway is refused in words, and the text stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_cases_text_is_kept_until_its_retention_ends() {
    let Some(sup) = Browser::start().await else {
        return;
    };
    let app = App::start_with("tiny", |cfg| cfg.privacy.case_text_retention_days = 30).await;
    let summary = "楼上漏水殃及楼下引发纠纷（保留期测试）";
    let id = report_with_party(&app, "text-kept-1", summary).await;
    reject_report(&app, &id, "text-kept-2").await;
    erase_the_party(&app, &id).await;
    sup.sign_in(&app, "demo-supervisor").await;
    let note = text_note(&sup, &app, &id, "kept").await;
    // Kept until 30 days after its last activity (the rejection, moments ago): that day is
    // named (either side of a midnight passed since).
    let day = |ms_ago: i64| {
        gridcase_domain::Timestamp::now()
            .plus_millis(-ms_ago)
            .plus_days(30)
            .to_jiff()
            .in_tz("Asia/Shanghai")
            .unwrap()
            .date()
            .to_string()
    };
    assert!(
        note.contains("案件文字保留期至")
            && (note.contains(&day(0)) || note.contains(&day(600_000))),
        "{note}"
    );
    assert!(
        !sup.exists("#case-text details[data-erase-text]").await,
        "a form is offered for text that is kept"
    );
    if let Some(dir) = screenshot_dir() {
        sup.js("window.scrollTo(0, document.querySelector('#parties').getBoundingClientRect().top + window.scrollY - 16)").await;
        sup.screenshot(&dir, "case-text-kept").await;
    }
    assert!(sup.text("body").await.contains(summary));
    let refused = send_text_erasure_anyway(&sup, &id).await;
    assert!(refused.contains("保留期尚未届满"), "{refused}");
    assert!(text_note(&sup, &app, &id, "kept")
        .await
        .contains("案件文字保留期至"));
    assert!(sup.text("body").await.contains(summary));
    sup.close().await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 我的工作台: paging, filters, and a case leaving the queue live
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_pages_filters_and_loses_a_case_without_a_reload() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = App::start("tiny").await;
    // Thirty new cases reach the village: twenty disputes and ten incidents.
    let an_hour_ago = gridcase_domain::Timestamp::now()
        .plus_millis(-3_600_000)
        .to_string();
    let mut mine = Vec::new();
    for i in 0..30 {
        let (kind, category) = if i % 3 == 0 {
            ("incident", "safety_hazard")
        } else {
            ("dispute", "neighbours")
        };
        let v = api(
            &app,
            "demo-grid-worker",
            "/api/v1/cases",
            &format!("q-{i}"),
            json!({
                "kind": kind, "category": category, "source": "grid_patrol", "severity": "normal",
                "location": GRID, "summary": format!("队列测试案件{i}"), "happened_at": an_hour_ago,
            }),
        )
        .await;
        let id = v["case_id"].as_str().unwrap().to_owned();
        for (action, body) in [
            ("register", json!({})),
            (
                "escalate",
                json!({ "to": VILLAGE, "reason": "需村调委会调解" }),
            ),
        ] {
            api(
                &app,
                "demo-grid-worker",
                &format!("/api/v1/cases/{id}/{action}"),
                &format!("q-{i}-{action}"),
                body,
            )
            .await;
        }
        mine.push(id);
    }
    app.settle().await;
    b.sign_in(&app, "demo-village").await;
    b.goto(&app.url("/work")).await;
    b.wait_for("#work-list").await;
    let total: usize = b
        .js("return document.querySelector('#work-list').dataset.total")
        .await
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(total >= 30, "{total}");
    let rows = "return document.querySelectorAll('#work-list tr[data-case]').length";
    assert_eq!(b.js(rows).await, json!(25));
    // The next page holds the rest.
    b.click("#work-list a[rel=next]").await;
    b.wait_for("#work-list a.button:not([rel=next])").await;
    assert_eq!(b.js(rows).await, json!((total - 25).min(25)));
    // Incidents only: every row says so, and there are fewer.
    b.goto(&app.url("/work")).await;
    b.choose("#f-kind", "incident").await;
    b.click("form.filters button[type=submit]").await;
    // The list is swapped in place and the filter pushed into the address: wait for the
    // address (the list's element is there before and after).
    let mut filtered = b.c().current_url().await.unwrap();
    filtered.set_query(Some("view=queue&status=&kind=incident&category=&overdue="));
    if let Err(e) = b
        .c()
        .wait()
        .at_most(Duration::from_secs(10))
        .for_url(&filtered)
        .await
    {
        panic!("waiting for {filtered}: {e}; at {}", b.path().await);
    }
    b.wait_for("#work-list").await;
    let kinds: Vec<String> = serde_json::from_value(
        b.js("return Array.from(document.querySelectorAll('#work-list td.case-cell .small:first-of-type')).map(d => d.textContent)")
            .await,
    )
    .unwrap();
    assert!(!kinds.is_empty());
    let incident = gridcase_domain::CaseKind::Incident.zh();
    assert!(kinds.iter().all(|k| k.contains(incident)), "{kinds:?}");
    let incidents: usize = b
        .js("return document.querySelector('#work-list').dataset.total")
        .await
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((10..total).contains(&incidents), "{incidents} of {total}");
    // A case the village sends up to the township leaves the list as it happens.
    b.goto(&app.url("/work")).await;
    b.wait_for("#work-list").await;
    b.js("window.__stayed = true").await;
    let gone = &mine[1];
    api(
        &app,
        "demo-village",
        &format!("/api/v1/cases/{gone}/escalate"),
        "q-up",
        json!({ "reason": "涉及两个村，需乡镇协调" }),
    )
    .await;
    b.wait_for(&format!("#work-list[data-total='{}']", total - 1))
        .await;
    assert!(
        !b.exists(&format!("#work-list tr[data-case='{gone}']"))
            .await
    );
    assert_eq!(b.js("return window.__stayed === true").await, json!(true));
    b.close().await;
    app.stop().await;
}
