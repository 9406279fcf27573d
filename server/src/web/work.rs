//! 我的工作台: the viewer's work by their role's views (the API's `/api/v1/me/cases`: a
//! unit's queue and the cases assigned to the viewer, a mediator's mediations, the open cases
//! of a supervisor's region), soonest deadline first, with filters and paging — and live.
//!
//! **Live.** The page subscribes to `GET /work/events` (server-sent events) with the same
//! filters and the fingerprint of the page it shows. That stream watches the projection's
//! applied position ([`gridcase_projections::Projection::watch_applied`]); after a change it
//! waits [`DEBOUNCE`] (bursts of commits coalesce, and a list is re-checked at most about once
//! a second), runs the list's search again and sends a `change` event when the page's cases
//! or their versions differ. `live.js` then fetches `GET /work/list` (the table alone) with
//! htmx. At most [`MAX_LIVE`] streams are open at once (more answer 503 with `Retry-After`;
//! the page still works, reloaded by hand); each ends when its browser goes away or the
//! server stops. The stream is not compressed (it is outside the compression layer).

use std::convert::Infallible;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use gridcase_domain::{Actor, CaseKind, Category, Status, Timestamp};
use gridcase_projections::{SearchQuery, Visibility};
use serde::Deserialize;
use serde_json::json;

use super::i18n::Tr;
use super::rows::{query_string, CaseTable};
use super::session::Viewer;
use super::Opt;
use super::{render, require, Chrome, Page, Web, WebApp, WebError};
use crate::api::access::visibility;
use crate::api::shape::{CaseRow, Page as ListPage};
use crate::api::work::{run_search, views_of, MyCasesParams};
use crate::app::AppState;

/// Cases on one page of the list.
pub const PAGE_SIZE: usize = 25;
/// Most live lists open at once.
pub const MAX_LIVE: usize = 256;
/// How long a live list waits after a change before it looks (changes in between coalesce).
pub const DEBOUNCE: Duration = Duration::from_millis(800);

/// The query of `/work`, `/work/list` and `/work/events`.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct WorkForm {
    #[serde(default)]
    view: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    overdue: String,
    #[serde(default)]
    cursor: String,
    /// The fingerprint of the page the browser shows (`/work/events`).
    #[serde(default)]
    fp: String,
}

impl WorkForm {
    /// The view asked for, if the role has it; else the role's first.
    fn view(&self, actor: &Actor) -> &'static str {
        let views = views_of(actor.role());
        views
            .iter()
            .find(|v| **v == self.view)
            .or(views.first())
            .copied()
            .unwrap_or("")
    }

    /// The API's parameters of the list.
    fn params(&self, actor: &Actor) -> MyCasesParams {
        let some = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
        MyCasesParams {
            view: Some(self.view(actor).to_owned()),
            status: some(&self.status),
            kind: some(&self.kind),
            category: some(&self.category),
            overdue: match self.overdue.as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            limit: Some(PAGE_SIZE),
            cursor: some(&self.cursor),
            ..MyCasesParams::default()
        }
    }

    /// The query string of this list, at page `cursor`.
    fn qs(&self, actor: &Actor, cursor: Option<&str>) -> String {
        query_string([
            ("view", self.view(actor)),
            ("status", self.status.as_str()),
            ("kind", self.kind.as_str()),
            ("category", self.category.as_str()),
            ("overdue", self.overdue.as_str()),
            ("cursor", cursor.unwrap_or("")),
        ])
    }
}

/// A tab of the page: one view of the role.
pub struct Tab {
    /// Its link.
    pub href: String,
    /// Its name.
    pub label: &'static str,
    /// Whether shown.
    pub active: bool,
}

#[derive(Template)]
#[template(path = "views/work.html")]
struct WorkView {
    c: Chrome,
    t: Tr,
    view: &'static str,
    tabs: Vec<Tab>,
    statuses: Vec<Opt>,
    kinds: Vec<Opt>,
    categories: Vec<Opt>,
    overdue: Vec<Opt>,
    table: CaseTable,
    live: String,
    list: String,
}

/// The label of a view.
fn view_key(view: &str) -> &'static str {
    match view {
        "queue" => "work.queue",
        "assigned" => "work.assigned",
        "mediations" => "work.mediations",
        _ => "work.open",
    }
}

/// A select's options: the empty choice ("all") first.
pub fn choices<T: Copy>(
    t: Tr,
    all: &[T],
    chosen: &str,
    value: impl Fn(T) -> &'static str,
    label: impl Fn(&T) -> String,
) -> Vec<Opt> {
    std::iter::once(Opt {
        value: String::new(),
        label: t.s("filter.all").into(),
        selected: chosen.is_empty(),
    })
    .chain(all.iter().map(|v| Opt {
        value: value(*v).into(),
        label: label(v),
        selected: value(*v) == chosen,
    }))
    .collect()
}

/// The yes/no/any options of the overdue filter.
pub fn overdue_choices(t: Tr, chosen: &str) -> Vec<Opt> {
    [
        ("", "filter.all"),
        ("true", "filter.overdue_only"),
        ("false", "filter.not_overdue"),
    ]
    .into_iter()
    .map(|(v, k)| Opt {
        value: v.into(),
        label: t.s(k).into(),
        selected: v == chosen,
    })
    .collect()
}

/// The list for `v`: its search, and the page of rows.
fn list(
    web: &WebApp,
    v: &Viewer,
    f: &WorkForm,
) -> Result<(SearchQuery, Visibility, ListPage<CaseRow>), WebError> {
    let err = |e| WebError::new(web, v, e);
    let query = f.params(&v.actor).query(&v.actor).map_err(err)?;
    let visible = visibility(&v.actor).map_err(err)?;
    let page = run_search(&web.app, &v.actor, &visible, &query).map_err(err)?;
    Ok((query, visible, page))
}

fn table(web: &WebApp, v: &Viewer, f: &WorkForm, page: &ListPage<CaseRow>) -> CaseTable {
    CaseTable::new(
        v.tr(),
        &web.clock,
        "work-list",
        page,
        !f.cursor.is_empty(),
        |c| format!("/work?{}", f.qs(&v.actor, c)),
        "work.empty",
    )
}

/// The fingerprint of a list page: its cases and their versions, the total and the next
/// cursor. Equal fingerprints: nothing to show anew.
fn fingerprint<'a>(
    total: usize,
    next: Option<&str>,
    items: impl Iterator<Item = (&'a str, u64)>,
) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    total.hash(&mut h);
    next.hash(&mut h);
    for (id, version) in items {
        id.hash(&mut h);
        version.hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

fn page_fingerprint(page: &ListPage<CaseRow>) -> String {
    fingerprint(
        page.total,
        page.next_cursor.as_deref(),
        page.items.iter().map(|r| (r.case_id.as_str(), r.version)),
    )
}

/// The fingerprint of the list now, straight from the projection (no shaping).
fn current_fingerprint(app: &AppState, visible: &Visibility, q: &SearchQuery) -> Option<String> {
    let view = app.projection.read();
    let page = view.search(q, visible, Timestamp::now()).ok()?;
    Some(fingerprint(
        page.total,
        page.next.as_deref(),
        page.items.iter().filter_map(|e| {
            let id = e.state.id.as_ref()?;
            Some((id.as_str(), e.state.version))
        }),
    ))
}

/// `GET /work`.
pub async fn page(
    State(web): State<Web>,
    v: Viewer,
    Query(f): Query<WorkForm>,
) -> Result<Response, WebError> {
    require(&web, &v, Page::Work)?;
    let t = v.tr();
    let (_, _, page) = list(&web, &v, &f)?;
    let view = f.view(&v.actor);
    let tabs = views_of(v.actor.role())
        .into_iter()
        .map(|name| Tab {
            href: format!("/work?view={name}"),
            label: t.s(view_key(name)),
            active: name == view,
        })
        .collect();
    // What the queue holds, and the referred-out cases on asking.
    let open: Vec<Status> = Status::IN_HAND
        .into_iter()
        .chain([Status::Referred])
        .collect();
    let qs = f.qs(&v.actor, Some(&f.cursor));
    Ok(render(&WorkView {
        c: Chrome::new(&web, &v, Some(Page::Work), t.s("nav.work")).live(),
        t,
        view,
        tabs,
        statuses: choices(t, &open, &f.status, Status::as_str, |s| t.status(s)),
        kinds: choices(t, CaseKind::ALL, &f.kind, CaseKind::as_str, |k| t.kind(k)),
        categories: choices(t, Category::ALL, &f.category, Category::as_str, |c| {
            t.category(c)
        }),
        overdue: overdue_choices(t, &f.overdue),
        live: format!("/work/events?{qs}&fp={}", page_fingerprint(&page)),
        list: format!("/work/list?{qs}"),
        table: table(&web, &v, &f, &page),
    }))
}

/// `GET /work/list` (htmx): the table alone, as it stands now.
pub async fn list_partial(
    State(web): State<Web>,
    v: Viewer,
    Query(f): Query<WorkForm>,
) -> Result<Response, WebError> {
    require(&web, &v, Page::Work)?;
    let (_, _, page) = list(&web, &v, &f)?;
    Ok(render(&table(&web, &v, &f, &page)))
}

/// What a live list carries from one look to the next.
struct Live {
    app: AppState,
    query: SearchQuery,
    visible: Visibility,
    shown: String,
    applied: tokio::sync::watch::Receiver<gridcase_bus::Position>,
    stopping: tokio::sync::watch::Receiver<bool>,
    first: bool,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Live {
    /// Waits until the list differs from what the browser shows: its new fingerprint, or
    /// `None` when the server stops or the projection goes away.
    async fn next_change(&mut self) -> Option<String> {
        loop {
            if !self.first {
                tokio::select! {
                    changed = self.applied.changed() => changed.ok()?,
                    _ = self.stopping.wait_for(|s| *s) => return None,
                }
                tokio::select! {
                    _ = tokio::time::sleep(DEBOUNCE) => {}
                    _ = self.stopping.wait_for(|s| *s) => return None,
                }
                self.applied.borrow_and_update();
            }
            self.first = false;
            if *self.stopping.borrow() {
                return None;
            }
            let now = current_fingerprint(&self.app, &self.visible, &self.query);
            if let Some(fp) = now.filter(|fp| *fp != self.shown) {
                self.shown = fp.clone();
                return Some(fp);
            }
        }
    }
}

/// `GET /work/events`: server-sent `change` events when the list differs from the page the
/// browser shows (see the module documentation).
pub async fn events(
    State(web): State<Web>,
    v: Viewer,
    Query(f): Query<WorkForm>,
) -> Result<Response, WebError> {
    require(&web, &v, Page::Work)?;
    let err = |e| WebError::new(&web, &v, e);
    let query = f.params(&v.actor).query(&v.actor).map_err(err)?;
    let visible = visibility(&v.actor).map_err(err)?;
    let Ok(permit) = Arc::clone(&web.live).try_acquire_owned() else {
        tracing::warn!(target: "gridcase::web", max = MAX_LIVE, "live lists: all taken");
        return Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "30")],
            "too many live lists are open; reload the page by hand",
        )
            .into_response());
    };
    let live = Live {
        app: web.app.clone(),
        query,
        visible,
        shown: f.fp.clone(),
        applied: web.app.projection.watch_applied(),
        stopping: web.app.stopping.subscribe(),
        first: true,
        _permit: permit,
    };
    // The event carries the page's new fingerprint and the status line to show, in the
    // page's language and the deployment's time zone (not the browser's clock).
    let (clock, updated) = (web.clock.clone(), v.tr().s("work.updated"));
    let stream = futures::stream::unfold(live, move |mut live| {
        let clock = clock.clone();
        async move {
            let fp = live.next_change().await?;
            let status = format!("{updated} {}", clock.time_of_day(Timestamp::now()));
            let data = json!({ "fingerprint": fp, "status": status }).to_string();
            Some((
                Ok::<Event, Infallible>(Event::default().event("change").data(data)),
                live,
            ))
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_change_with_cases_and_versions() {
        let a = fingerprint(2, None, [("c1", 3), ("c2", 1)].into_iter());
        assert_eq!(a, fingerprint(2, None, [("c1", 3), ("c2", 1)].into_iter()));
        assert_ne!(a, fingerprint(2, None, [("c1", 4), ("c2", 1)].into_iter()));
        assert_ne!(a, fingerprint(3, None, [("c1", 3), ("c2", 1)].into_iter()));
        assert_ne!(
            a,
            fingerprint(2, Some("x"), [("c1", 3), ("c2", 1)].into_iter())
        );
    }
}
