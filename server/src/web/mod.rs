//! The workbench (工作台): server-rendered pages for grid workers, unit staff, mediators,
//! analysts and auditors, on the same port as the API.
//!
//! Pages call the same command path ([`crate::app::App::path`]) and read models as the HTTP
//! API and ask [`crate::api::access`] who may read what: no business rule lives here. Pages
//! answer errors as the API does — 400 malformed, 403 forbidden, 404 unknown (a case outside
//! the viewer's scope too), 409 stale (with a reload), 422 the domain's reason in words.
//!
//! | route | page | who |
//! |---|---|---|
//! | `GET /` | home: the first page of the role | signed in |
//! | `GET, POST /signin`, `POST /signout` | [`signin`] | everyone |
//! | `GET, POST /report`, `GET /report/location`, `GET /report/categories` | [`report`] 上报 | grid workers, unit staff |
//! | `GET /stats`, `/stats/children.csv`, `/stats/print` | [`stats`] 统计分析 | unit staff, supervisors, admins, auditors, analysts |
//! | `GET /audit`, `/audit/cases/{id}`, `/audit/cases/{id}/history.json` | [`audit`] 审计 | auditors |
//! | `GET /work`, `/work/list`, `/work/events` (SSE) | [`work`] 我的工作台, live | grid workers, unit staff, mediators, supervisors, admins |
//! | `GET /search`, `/search/region` | [`search`] 检索 | everyone but analysts |
//! | `GET /cases/{id}`, `/cases/{id}/units`; `POST /cases/{id}/{action}` | [`case`] the case page and its action forms | everyone but analysts, within their view |
//! | `POST /cases/{id}/parties/{party}/reveal`, `GET …/other-cases`, `POST /parties/{party}/erase`, `POST /cases/{id}/text/erase`, `GET /audit/access-log` | [`parties`] 当事人: reveal, other cases, erasure, access log | the holding unit and active mediator; supervisors and admins erase; auditors read the log |
//! | `GET /assets/{fingerprint}/{*name}` | [`assets`] | everyone |
//!
//! Templates live in `server/templates/` (one `layout.html`, `views/`, `partials/`), checked
//! at compile time by askama. Every response carries a Content-Security-Policy without
//! inline script ([`CSP`]); JavaScript comes only from the embedded files.

pub mod assets;
pub mod audit;
pub mod case;
pub mod csrf;
pub mod i18n;
pub mod parties;
pub mod report;
pub mod rows;
pub mod search;
pub mod session;
pub mod signin;
pub mod stats;
pub mod work;

use std::sync::Arc;

use askama::Template;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use gridcase_domain::{Role, Status};
use tower_http::compression::CompressionLayer;

pub(crate) use crate::api::access;
use crate::app::AppState;
use crate::error::ApiError;
use i18n::{Clock, Lang, Tr};
use session::{Sessions, Viewer};

/// The Content-Security-Policy of every workbench response: scripts, styles and everything
/// else from this origin only — no inline script, no `eval`, no inline style attributes.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

/// The workbench's state: the application plus its sessions and clock.
pub struct WebApp {
    /// The application (command path, projection, regions, tokens).
    pub app: AppState,
    /// Signed-in sessions.
    pub sessions: Sessions,
    /// Times in the deployment's zone.
    pub clock: Clock,
    /// Permits of the live lists ([`work::MAX_LIVE`]).
    pub live: Arc<tokio::sync::Semaphore>,
}

impl WebApp {
    /// The workbench of `app`, with no one signed in.
    pub fn new(app: AppState) -> Web {
        Arc::new(WebApp {
            clock: Clock::new(app.calendar.name()),
            app,
            sessions: Sessions::default(),
            live: Arc::new(tokio::sync::Semaphore::new(work::MAX_LIVE)),
        })
    }
}

/// The shared handle pages receive.
pub type Web = Arc<WebApp>;

/// The workbench's routes, with their state, compression and security headers; merged into
/// [`crate::api::router`].
pub fn router(app: AppState) -> Router {
    router_of(WebApp::new(app))
}

/// The routes of a workbench (the bench renders pages through it with its own sessions).
pub fn router_of(web: Web) -> Router {
    let limit = web.app.max_body_bytes;
    let pages = Router::new()
        .route("/", get(home))
        .route("/signin", get(signin::page).post(signin::submit))
        .route("/signout", axum::routing::post(signin::signout))
        .route("/report", get(report::page).post(report::submit))
        .route("/report/location", get(report::location))
        .route("/report/categories", get(report::categories))
        .route("/stats", get(stats::page))
        .route("/stats/children.csv", get(stats::csv))
        .route("/stats/print", get(stats::print))
        .route("/audit", get(audit::index))
        .route("/audit/cases/{id}", get(audit::case))
        .route("/audit/cases/{id}/history.json", get(audit::download))
        .route("/audit/access-log", get(parties::access_log))
        .route("/work", get(work::page))
        .route("/work/list", get(work::list_partial))
        .route("/search", get(search::page))
        .route("/search/region", get(search::region))
        .route("/cases/{id}", get(case::show))
        .route("/cases/{id}/units", get(case::units))
        .route("/cases/{id}/{action}", post(case::act))
        .route("/cases/{id}/parties/{party}/reveal", post(case::reveal))
        .route(
            "/cases/{id}/parties/{party}/other-cases",
            get(parties::other_cases),
        )
        .route("/parties/{party}/erase", post(parties::erase))
        .route("/cases/{id}/text/erase", post(parties::erase_text))
        .route("/assets/{fingerprint}/{*name}", get(assets::serve))
        .layer(CompressionLayer::new());
    // The live list's event stream is never compressed: a compressor would hold events back.
    let live = Router::new().route("/work/events", get(work::events));
    pages
        .merge(live)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(remember_lang))
        .layer(middleware::map_response(security_headers))
        .with_state(web)
}

/// One `<option>`.
#[derive(Debug, Clone)]
pub struct Opt {
    /// The value sent.
    pub value: String,
    /// What the person reads.
    pub label: String,
    /// Whether it is chosen.
    pub selected: bool,
}

/// The pages of the navigation, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// 我的工作台.
    Work,
    /// 上报.
    Report,
    /// 检索.
    Search,
    /// 统计分析.
    Stats,
    /// 审计.
    Audit,
}

impl Page {
    const ALL: [Page; 5] = [
        Page::Work,
        Page::Report,
        Page::Search,
        Page::Stats,
        Page::Audit,
    ];

    fn href(self) -> &'static str {
        match self {
            Page::Work => "/work",
            Page::Report => "/report",
            Page::Search => "/search",
            Page::Stats => "/stats",
            Page::Audit => "/audit",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Page::Work => "nav.work",
            Page::Report => "nav.report",
            Page::Search => "nav.search",
            Page::Stats => "nav.stats",
            Page::Audit => "nav.audit",
        }
    }

    /// Whether `role` may use the page (the navigation shows only these). Reporting follows
    /// the decider (grid workers and unit staff report); statistics follow the API (everyone
    /// in scope) except mediators and grid workers, whose work is cases; analysts see
    /// statistics only; auditors replay history.
    pub fn allows(self, role: Role) -> bool {
        use Role::*;
        match self {
            Page::Work => matches!(role, GridWorker | UnitStaff | Mediator | Supervisor | Admin),
            Page::Report => matches!(role, GridWorker | UnitStaff),
            Page::Search => role != Analyst,
            Page::Stats => matches!(role, UnitStaff | Supervisor | Admin | Auditor | Analyst),
            Page::Audit => role == Auditor,
        }
    }
}

/// One entry of the navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Where it goes.
    pub href: &'static str,
    /// Its label.
    pub label: &'static str,
    /// Whether it is the current page.
    pub active: bool,
}

/// What the layout shows around every page.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// Translations.
    pub t: Tr,
    /// The page title.
    pub title: String,
    /// The signed-in user's line (`王芳 · 网格员 · 第1网格`), if signed in.
    pub user: Option<String>,
    /// The navigation.
    pub nav: Vec<NavItem>,
    /// The CSRF token for forms (sign-out too).
    pub csrf: String,
    /// Asset URLs.
    pub assets: &'static assets::Urls,
    /// The current page in the other language.
    pub lang_href: String,
    /// Whether the page needs ECharts.
    pub charts: bool,
    /// Whether the page has a live list (`live.js`).
    pub live: bool,
}

impl Chrome {
    /// The chrome of a page a signed-in viewer sees.
    pub fn new(web: &WebApp, v: &Viewer, page: Option<Page>, title: impl Into<String>) -> Chrome {
        let t = v.tr();
        let unit = web
            .app
            .regions
            .name(v.actor.unit())
            .unwrap_or_default()
            .to_owned();
        Chrome {
            t,
            title: title.into(),
            user: Some(format!(
                "{} · {} · {unit}",
                web.app.directory.name_of(v.actor.id()),
                t.role(&v.actor.role())
            )),
            nav: Page::ALL
                .iter()
                .filter(|p| p.allows(v.actor.role()))
                .map(|p| NavItem {
                    href: p.href(),
                    label: t.s(p.key()),
                    active: Some(*p) == page,
                })
                .collect(),
            csrf: v.csrf.clone(),
            assets: assets::urls(),
            lang_href: lang_href(&v.here, v.lang.other()),
            charts: false,
            live: false,
        }
    }

    /// The same chrome, loading the live list's script.
    pub fn live(mut self) -> Chrome {
        self.live = true;
        self
    }

    /// The chrome of a page for a visitor who is not signed in.
    pub fn anonymous(lang: Lang, here: &str, title: impl Into<String>) -> Chrome {
        Chrome {
            t: Tr { lang },
            title: title.into(),
            user: None,
            nav: Vec::new(),
            csrf: String::new(),
            assets: assets::urls(),
            lang_href: lang_href(here, lang.other()),
            charts: false,
            live: false,
        }
    }
}

/// `here` with `lang=` set to `to` (other query parameters kept).
fn lang_href(here: &str, to: Lang) -> String {
    let (path, query) = here.split_once('?').unwrap_or((here, ""));
    let mut parts: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("lang="))
        .collect();
    let l = format!("lang={}", to.code());
    parts.push(&l);
    format!("{path}?{}", parts.join("&"))
}

/// Renders a template as an HTML response.
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "views/error.html")]
struct ErrorView {
    c: Chrome,
    t: Tr,
    status: u16,
    heading: &'static str,
    detail: String,
    reload: Option<String>,
    back: String,
}

/// An error answered as a page: the API's status with words a person reads.
#[derive(Debug)]
pub struct WebError {
    // Boxed: handlers return it in every `Result`, which should stay small.
    chrome: Box<Chrome>,
    status: StatusCode,
    detail: String,
    /// Where "reload" leads (the page the form came from); the current URL when unset.
    reload_to: Option<String>,
}

impl WebError {
    /// An error with its status and words.
    pub fn with_detail(web: &WebApp, v: &Viewer, status: StatusCode, detail: String) -> WebError {
        let t = v.tr();
        WebError {
            chrome: Box::new(Chrome::new(web, v, None, t.s("error.title"))),
            status,
            detail,
            reload_to: None,
        }
    }

    /// The same error, offering to reload `page` (after a form posted elsewhere).
    pub fn reload_at(mut self, page: String) -> WebError {
        self.reload_to = Some(page);
        self
    }

    /// An error for a signed-in viewer.
    pub fn new(web: &WebApp, v: &Viewer, e: impl Into<ApiError>) -> WebError {
        let e = e.into();
        // The page says none of a 500's or 503's cause: the log keeps it.
        e.log_cause();
        let t = v.tr();
        let detail = match &e {
            ApiError::Rejected(r) | ApiError::Denied(r) => {
                t.rejection(r, &web.app.regions, &web.clock)
            }
            // The API's messages are English; the Chinese page says it with the heading.
            ApiError::Forbidden(m) | ApiError::NotFound(m) if !t.zh() => m.clone(),
            ApiError::BadRequest { message, .. } if !t.zh() => message.clone(),
            ApiError::BadRequest {
                field: Some(f),
                message,
                ..
            } => t.bad_query(f, message),
            ApiError::Forbidden(m) => t
                .s(if m.starts_with("analysts") {
                    "error.forbidden_case"
                } else if m.contains("outside your scope") {
                    "error.forbidden_scope"
                } else {
                    "error.forbidden_page"
                })
                .to_owned(),
            ApiError::NotFound(_) => t.s("error.not_found").to_owned(),
            ApiError::Refused { message, .. } if !t.zh() => message.clone(),
            ApiError::Refused { code, .. } => t
                .s(match code {
                    crate::error::RefusalCode::PersonalDataErased => "parties.erased_already",
                    crate::error::RefusalCode::CaseNotFinished => "parties.text_open",
                    crate::error::RefusalCode::PartiesNotErased => "parties.text_party_held",
                    crate::error::RefusalCode::RetentionNotPassed => "parties.text_kept_refused",
                })
                .to_owned(),
            _ => String::new(),
        };
        WebError {
            chrome: Box::new(Chrome::new(web, v, None, t.s("error.title"))),
            status: e.status(),
            detail,
            reload_to: None,
        }
    }

    /// A 403 for a missing or wrong CSRF token.
    pub fn csrf(chrome: Chrome) -> WebError {
        let detail = chrome.t.s("error.csrf").to_owned();
        WebError {
            chrome: Box::new(chrome),
            status: StatusCode::FORBIDDEN,
            detail,
            reload_to: None,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let t = self.chrome.t;
        let code = self.status.as_u16();
        let heading = match code {
            400 | 401 | 403 | 404 | 409 | 413 | 422 | 503 => t.s(&format!("error.{code}")),
            _ => t.s("error.500"),
        };
        let reload = (code == 409 || code == 503 || self.reload_to.is_some())
            .then(|| self.reload_to.clone().unwrap_or_default());
        let view = ErrorView {
            back: self.reload_to.unwrap_or_else(|| "/".into()),
            c: *self.chrome,
            t,
            status: code,
            heading,
            detail: self.detail,
            reload: reload.filter(|_| code == 409 || code == 503),
        };
        let mut r = render(&view);
        *r.status_mut() = self.status;
        r
    }
}

/// Requires that the viewer's role may use `page`: 403 otherwise.
pub fn require(web: &WebApp, v: &Viewer, page: Page) -> Result<(), WebError> {
    if page.allows(v.actor.role()) {
        Ok(())
    } else {
        Err(WebError::new(
            web,
            v,
            ApiError::Forbidden(format!(
                "role {} may not use this page",
                v.actor.role().as_str()
            )),
        ))
    }
}

/// `GET /`: the first page of the viewer's role.
async fn home(v: Viewer) -> Redirect {
    Redirect::to(match v.actor.role() {
        Role::Analyst => "/stats",
        Role::Auditor => "/audit",
        _ => "/work",
    })
}

/// Stores `?lang=` in a cookie, so the choice sticks.
async fn remember_lang(req: Request, next: Next) -> Response {
    let chosen = req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::parse(v))
    });
    let mut resp = next.run(req).await;
    if let Some(l) = chosen {
        resp.headers_mut().append(
            header::SET_COOKIE,
            session::set_cookie(session::LANG_COOKIE, l.code(), Some(365 * 24 * 3600)),
        );
    }
    resp
}

/// The security headers of every workbench response.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        // Pages show personal work and scoped figures: never from a shared cache.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// A status's CSS class (colour of its badge).
pub fn status_class(s: &Status) -> &'static str {
    match s {
        Status::Closed | Status::Verified => "ok",
        Status::Rejected | Status::Merged => "muted",
        Status::Resolved => "info",
        _ => "warn",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_no_inline_script_or_eval() {
        let script = CSP
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap();
        assert_eq!(script.trim(), "script-src 'self'");
        assert!(!CSP.contains("unsafe"));
        assert!(CSP.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn the_language_switch_keeps_the_query() {
        assert_eq!(
            lang_href("/stats?region=330800&lang=zh", Lang::En),
            "/stats?region=330800&lang=en"
        );
        assert_eq!(lang_href("/report", Lang::Zh), "/report?lang=zh");
    }

    #[test]
    fn the_navigation_follows_the_role() {
        let pages = |r| {
            Page::ALL
                .iter()
                .filter(|p| p.allows(r))
                .copied()
                .collect::<Vec<_>>()
        };
        assert_eq!(pages(Role::Analyst), vec![Page::Stats]);
        assert_eq!(
            pages(Role::GridWorker),
            vec![Page::Work, Page::Report, Page::Search]
        );
        assert_eq!(
            pages(Role::Auditor),
            vec![Page::Search, Page::Stats, Page::Audit]
        );
    }
}
