//! Seams for the pages that come once the search, my-work and allowed-actions API lands:
//! 我的工作台 (`/work`, the viewer's queue, live over SSE), 检索 (`/search`) and the case page
//! (`/cases/{id}`, with its action forms). Each route, its navigation entry and its access
//! rule are in place; the page says it is coming. The case page already answers as it will:
//! analysts 403, unknown or out-of-scope cases 404.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use gridcase_domain::{CaseId, Role};

use super::i18n::Tr;
use super::session::Viewer;
use super::{access, render, require, Chrome, Page, Web, WebApp, WebError};
use crate::error::ApiError;

#[derive(Template)]
#[template(path = "views/later.html")]
struct LaterView {
    c: Chrome,
    t: Tr,
    heading: String,
    links: Vec<(&'static str, &'static str)>,
}

fn later(web: &WebApp, v: &Viewer, page: Option<Page>, heading: String) -> Response {
    let t = v.tr();
    let links = [
        (Page::Report, "/report", "nav.report"),
        (Page::Stats, "/stats", "nav.stats"),
        (Page::Audit, "/audit", "nav.audit"),
    ]
    .into_iter()
    .filter(|(p, _, _)| p.allows(v.actor.role()) && Some(*p) != page)
    .map(|(_, href, key)| (href, t.s(key)))
    .collect();
    render(&LaterView {
        c: Chrome::new(web, v, page, heading.clone()),
        t,
        heading,
        links,
    })
}

/// `GET /work`: 我的工作台 (later: the viewer's queue, live).
pub async fn work(State(web): State<Web>, v: Viewer) -> Result<Response, WebError> {
    require(&web, &v, Page::Work)?;
    Ok(later(
        &web,
        &v,
        Some(Page::Work),
        v.tr().s("nav.work").into(),
    ))
}

/// `GET /search`: 检索 (later).
pub async fn search(State(web): State<Web>, v: Viewer) -> Result<Response, WebError> {
    require(&web, &v, Page::Search)?;
    Ok(later(
        &web,
        &v,
        Some(Page::Search),
        v.tr().s("nav.search").into(),
    ))
}

/// `GET /cases/{id}`: the case page (later). Analysts never open cases (403); an unknown case
/// and one outside the viewer's scope are both 404.
pub async fn case(
    State(web): State<Web>,
    v: Viewer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    if v.actor.role() == Role::Analyst {
        return Err(WebError::new(
            &web,
            &v,
            ApiError::Forbidden("analysts read statistics only".into()),
        ));
    }
    let not_found = || WebError::new(&web, &v, ApiError::NotFound(format!("no case {id}")));
    let case = CaseId::new(id.as_str()).map_err(|_| not_found())?;
    let readable = web
        .app
        .projection
        .read()
        .case(&case)
        .is_some_and(|e| access::may_read_case(&v.actor, &e.state));
    if !readable {
        return Err(not_found());
    }
    access::audit(&v.actor, &format!("case {case}"));
    Ok(later(
        &web,
        &v,
        None,
        format!("{} {case}", v.tr().s("case.title")),
    ))
}
