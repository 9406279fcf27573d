//! The HTTP API (`/api/v1`, JSON) and the operational endpoints.
//!
//! | method | path | who |
//! |---|---|---|
//! | POST | `/api/v1/cases` | report a case (grid workers, unit staff) |
//! | POST | `/api/v1/cases/{id}/{action}` | any other command, e.g. `escalate`, `resolve` |
//! | GET | `/api/v1/cases/{id}` | the case view (not analysts; mediators only their cases) |
//! | GET | `/api/v1/cases/{id}/timeline` | every event of the case |
//! | GET | `/api/v1/cases/{id}/parties` | the parties; personal fields for the holding unit and the active mediator ([`parties`]) |
//! | POST | `/api/v1/cases/{id}/parties/{party}/reveal` | a party's whole ID number, with a purpose |
//! | GET | `/api/v1/cases/{id}/parties/{party}/other-cases` | cases of the same person (blind index) |
//! | DELETE | `/api/v1/parties/{party}/personal-data` | erase a party's personal data (supervisors, admins) |
//! | DELETE | `/api/v1/cases/{id}/text` | erase a finished case's free text (supervisors, admins) |
//! | GET | `/api/v1/access-log` | who read, revealed, looked up or erased personal data (auditors, admins) |
//! | GET | `/api/v1/cases` | case search within the reader's scope (not analysts) |
//! | GET | `/api/v1/me`, `/api/v1/me/cases` | who I am; my work |
//! | GET | `/api/v1/units/{code}/queue` | open cases a unit holds, soonest deadline first |
//! | GET | `/api/v1/units/{code}/staff` | a unit's handlers and mediators |
//! | GET | `/api/v1/regions/{code}` | a region: name, level, parent, children, path |
//! | GET | `/api/v1/regions/{code}/open` | open cases held in a subtree, by level |
//! | GET | `/api/v1/stats` | statistics (everyone, within scope) |
//! | GET | `/api/v1/stats/series` | statistics of consecutive periods, for trend charts |
//! | GET | `/api/v1/openapi.json` | the OpenAPI document |
//! | GET | `/api/v1/docs` | the same, as a page for people |
//! | GET | `/healthz`, `/readyz`, `/metrics` | operations |
//! | GET, POST | `/`, `/signin`, `/report`, `/stats`, `/audit`, … | the workbench ([`crate::web`]) |
//!
//! Commands take an `Idempotency-Key` header (the command id) and an optional `If-Match`
//! expected version; responses carry the case version (also as `ETag`) and global position.
//! Reads take `?after=<position>` to wait until the projection has caught up (read-your-writes).
//!
//! One file per job: this one routes; [`commands`] turns requests into commands for the
//! command path; [`reads`] answers reads from the projection and the log; [`work`] finds and
//! lists work (search, my work, rosters, regions); [`access`] says who may read what;
//! [`shape`] turns read models into response bodies; [`params`] parses what requests carry.

pub mod access;
pub mod commands;
pub mod params;
pub mod parties;
pub mod reads;
pub mod shape;
pub mod work;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, MethodRouter};
use axum::{Json, Router};
use gridcase_bus::EventLog;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::ApiError;

pub use commands::{derived_case_id, scoped_command_id};

/// The router: the API, and the workbench merged in ([`crate::web::router`]).
///
/// The API's routes are the documented ones ([`crate::openapi::endpoints`]): each is mapped to
/// its handler by `handler`, so a route cannot be served without being documented, and a
/// documented route without a handler fails every test that builds the router.
pub fn router(state: AppState) -> Router {
    let limit = state.max_body_bytes;
    let mut api = Router::new();
    let mut served = std::collections::BTreeSet::new();
    for e in crate::openapi::endpoints().0 {
        // Every case command is served by one route that reads the action from the path.
        let is_command = e.method == "post"
            && e.path
                .strip_prefix("/api/v1/cases/{id}/")
                .is_some_and(|action| !action.contains('/'));
        let path = if is_command {
            "/api/v1/cases/{id}/{action}".to_owned()
        } else {
            e.path.clone()
        };
        if served.insert((e.method, path.clone())) {
            api = api.route(&path, handler(e.method, &path));
        }
    }
    api.method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .fallback(|| async {
            ApiError::NotFound("no such endpoint; see /api/v1/openapi.json".into())
        })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state.clone())
        .merge(crate::web::router(state))
}

/// The handler of a documented route.
///
/// # Panics
/// On a documented route without a handler: the document and the server disagree.
fn handler(method: &str, path: &str) -> MethodRouter<AppState> {
    match (method, path) {
        ("post", "/api/v1/cases") => post(commands::report),
        ("post", "/api/v1/cases/{id}/{action}") => post(commands::command),
        ("get", "/api/v1/cases") => get(work::search),
        ("get", "/api/v1/me") => get(work::me),
        ("get", "/api/v1/me/cases") => get(work::my_cases),
        ("get", "/api/v1/units/{code}/staff") => get(work::unit_staff),
        ("get", "/api/v1/regions/{code}") => get(work::region),
        ("get", "/api/v1/cases/{id}") => get(reads::case_view),
        ("get", "/api/v1/cases/{id}/timeline") => get(reads::timeline),
        ("get", "/api/v1/cases/{id}/parties") => get(parties::list),
        ("post", "/api/v1/cases/{id}/parties/{party}/reveal") => post(parties::reveal),
        ("get", "/api/v1/cases/{id}/parties/{party}/other-cases") => get(parties::other_cases),
        ("delete", "/api/v1/parties/{party}/personal-data") => delete(parties::erase),
        ("delete", "/api/v1/cases/{id}/text") => delete(parties::erase_text),
        ("get", "/api/v1/access-log") => get(parties::access_log),
        ("get", "/api/v1/units/{code}/queue") => get(reads::queue),
        ("get", "/api/v1/regions/{code}/open") => get(reads::open_cases),
        ("get", "/api/v1/stats") => get(reads::stats),
        ("get", "/api/v1/stats/series") => get(reads::stats_series),
        ("get", "/api/v1/openapi.json") => get(openapi),
        ("get", "/api/v1/docs") => get(docs),
        ("get", "/healthz") => get(|| async { "ok" }),
        ("get", "/readyz") => get(readyz),
        ("get", "/metrics") => get(metrics),
        (method, path) => panic!("{method} {path} is documented but has no handler"),
    }
}

async fn docs() -> axum::response::Response {
    crate::web::render(&crate::openapi::page::build(
        crate::web::assets::urls().css.clone(),
    ))
}

async fn openapi() -> Json<&'static Value> {
    Json(crate::openapi::document())
}

async fn readyz(State(app): State<AppState>) -> Response {
    match app.path.log().head().await {
        Ok(head) => {
            let applied = app.projection.checkpoint();
            Json(json!({ "status": "ready", "log": "ok", "head": head, "applied": applied, "lag": head.since(applied) })).into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn metrics(State(app): State<AppState>) -> Response {
    let head = app.path.log().head().await.unwrap_or_default();
    let text = app.metrics.render(head, app.projection.checkpoint());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
