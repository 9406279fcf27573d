//! 检索: find cases within the viewer's scope with the API's filters (`/api/v1/cases`) — a
//! region of the scope (a cascading picker), status, kind, category, source, holding unit,
//! level, overdue, handler, mediator, reported between two dates — and words of the summary;
//! sorted, paged with the API's cursor. Rows link to the case page. A case number typed into
//! the words box opens that case, when the viewer may read it.

use crate::error::BadRequestCode;
use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use gridcase_domain::{CaseId, CaseKind, Category, Level, RegionCode, Source, Status};
use gridcase_projections::SearchSort;
use serde::Deserialize;

use super::i18n::Tr;
use super::report::LocationPicker;
use super::rows::{query_string, CaseTable};
use super::session::Viewer;
use super::work::{choices, overdue_choices};
use super::Opt;
use super::{render, require, Chrome, Page, Web, WebApp, WebError};
use crate::api::access::{may_read_case, visibility};
use crate::api::work::{run_search, SearchParams};
use crate::error::ApiError;

/// Cases on one page of results.
pub const PAGE_SIZE: usize = 25;

/// The query of `/search`.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    l4: String,
    #[serde(default)]
    l3: String,
    #[serde(default)]
    l2: String,
    #[serde(default)]
    l1: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    holder: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    overdue: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    mediator: String,
    /// A person: ID number, phone or full name (blind index).
    #[serde(default)]
    person: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    cursor: String,
}

impl SearchForm {
    fn chosen(&self) -> BTreeMap<u8, String> {
        super::report::chosen_levels(&self.l4, &self.l3, &self.l2, &self.l1)
    }

    fn qs(&self, cursor: Option<&str>) -> String {
        query_string([
            ("q", self.q.as_str()),
            ("l4", self.l4.as_str()),
            ("l3", self.l3.as_str()),
            ("l2", self.l2.as_str()),
            ("l1", self.l1.as_str()),
            ("status", self.status.as_str()),
            ("kind", self.kind.as_str()),
            ("category", self.category.as_str()),
            ("source", self.source.as_str()),
            ("holder", self.holder.as_str()),
            ("level", self.level.as_str()),
            ("overdue", self.overdue.as_str()),
            ("assignee", self.assignee.as_str()),
            ("mediator", self.mediator.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
            ("sort", self.sort.as_str()),
            ("cursor", cursor.unwrap_or("")),
        ])
    }
}

#[derive(Template)]
#[template(path = "views/search.html")]
struct SearchView {
    c: Chrome,
    t: Tr,
    q: String,
    location: LocationPicker,
    statuses: Vec<Opt>,
    kinds: Vec<Opt>,
    categories: Vec<Opt>,
    sources: Vec<Opt>,
    holders: Vec<Opt>,
    levels: Vec<Opt>,
    overdue: Vec<Opt>,
    assignees: Vec<Opt>,
    mediators: Vec<Opt>,
    from: String,
    to: String,
    sorts: Vec<Opt>,
    /// More than the words and the region were asked for: the filters start open.
    filtered: bool,
    /// The person looked up, and whether this reader may look people up.
    person: String,
    lookup: bool,
    table: CaseTable,
}

fn sort_key(s: SearchSort) -> &'static str {
    match s {
        SearchSort::Newest => "search.sort_newest",
        SearchSort::Oldest => "search.sort_oldest",
        SearchSort::Deadline => "search.sort_deadline",
        SearchSort::Updated => "search.sort_updated",
    }
}

/// People to pick, with the empty choice first.
fn people(t: Tr, people: &[crate::directory::Person], chosen: &str) -> Vec<Opt> {
    std::iter::once(Opt {
        value: String::new(),
        label: t.s("filter.all").into(),
        selected: chosen.is_empty(),
    })
    .chain(people.iter().map(|p| Opt {
        value: p.id.to_string(),
        label: p.name.clone(),
        selected: p.id.as_str() == chosen,
    }))
    .collect()
}

fn picker(web: &WebApp, v: &Viewer, f: &SearchForm) -> LocationPicker {
    LocationPicker::new(v.tr(), &web.app.regions, v.actor.unit(), &f.chosen()).at(
        "/search/region",
        "search.scope",
        "search.whole_scope",
    )
}

/// The purpose recorded when the search page looks a person up.
const PURPOSE_PERSON: &str = "检索当事人的案件（工作台检索）";

/// `GET /search`.
pub async fn page(
    State(web): State<Web>,
    v: Viewer,
    Query(f): Query<SearchForm>,
) -> Result<Response, WebError> {
    require(&web, &v, Page::Search)?;
    // A case number (as people read it out or paste it) opens that case.
    if let Ok(id) = CaseId::new(f.q.trim()) {
        let readable = web
            .app
            .projection
            .read()
            .case(&id)
            .is_some_and(|c| may_read_case(&v.actor, &c.state));
        if readable {
            let to = format!("/cases/{}", super::session::encode(id.as_str()));
            return Ok(Redirect::to(&to).into_response());
        }
    }
    let t = v.tr();
    let err = |e| WebError::new(&web, &v, e);
    let location = picker(&web, &v, &f);
    let some = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
    let params = SearchParams {
        region: location.narrowed().then(|| location.location.to_string()),
        status: some(&f.status),
        kind: some(&f.kind),
        category: some(&f.category),
        source: some(&f.source),
        holder: some(&f.holder),
        level: some(&f.level),
        overdue: match f.overdue.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        assignee: some(&f.assignee),
        mediator: some(&f.mediator),
        q: some(&f.q),
        sort: some(&f.sort),
        limit: Some(PAGE_SIZE),
        cursor: some(&f.cursor),
        ..SearchParams::default()
    };
    let mut query = params.query(&web.app).map_err(err)?;
    let date = |field: &'static str, s: &str, next_day: bool| -> Result<_, WebError> {
        if s.trim().is_empty() {
            return Ok(None);
        }
        let at = if next_day {
            web.clock
                .end_of_date(s)
                .map(|t| gridcase_domain::Timestamp::from_millis(t.as_millis() + 1))
        } else {
            web.clock.start_of_date(s)
        };
        at.map(Some).ok_or_else(|| {
            WebError::new(
                &web,
                &v,
                ApiError::field(
                    BadRequestCode::InvalidQuery,
                    field,
                    format!("{field} {s:?} is not a date"),
                ),
            )
        })
    };
    query.reported_from = date("from", &f.from, false)?;
    query.reported_to = date("to", &f.to, true)?;
    let visible = visibility(&v.actor).map_err(err)?;
    let person = f.person.trim();
    let page = if person.is_empty() {
        run_search(&web.app, &v.actor, &visible, &query).map_err(err)?
    } else {
        query.parties =
            crate::api::parties::find_person(&web.app, &v.actor, person, Some(PURPOSE_PERSON))
                .await
                .map_err(err)?;
        if query.parties.is_empty() {
            crate::api::shape::Page {
                items: Vec::new(),
                total: 0,
                next_cursor: None,
            }
        } else {
            run_search(&web.app, &v.actor, &visible, &query).map_err(err)?
        }
    };
    let unit = v.actor.unit();
    let regions = &web.app.regions;
    let holders = std::iter::once(unit)
        .chain(regions.children(unit).iter().copied())
        .collect::<Vec<RegionCode>>();
    let staff = web.app.directory.staff_of(unit);
    let filtered = [
        &f.status,
        &f.kind,
        &f.category,
        &f.source,
        &f.holder,
        &f.level,
        &f.overdue,
        &f.assignee,
        &f.mediator,
        &f.person,
        &f.from,
        &f.to,
    ]
    .iter()
    .any(|s| !s.is_empty());
    let sort = query.sort;
    Ok(render(&SearchView {
        c: Chrome::new(&web, &v, Some(Page::Search), t.s("nav.search")),
        t,
        q: f.q.clone(),
        person: f.person.clone(),
        lookup: matches!(
            v.actor.role(),
            gridcase_domain::Role::GridWorker
                | gridcase_domain::Role::UnitStaff
                | gridcase_domain::Role::Mediator
        ),
        statuses: choices(t, &Status::ALL[1..], &f.status, Status::as_str, |s| {
            t.status(s)
        }),
        kinds: choices(t, CaseKind::ALL, &f.kind, CaseKind::as_str, |k| t.kind(k)),
        categories: choices(t, Category::ALL, &f.category, Category::as_str, |c| {
            t.category(c)
        }),
        sources: choices(t, Source::ALL, &f.source, Source::as_str, |s| t.source(s)),
        holders: std::iter::once(Opt {
            value: String::new(),
            label: t.s("filter.all").into(),
            selected: f.holder.is_empty(),
        })
        .chain(holders.iter().map(|c| Opt {
            value: c.to_string(),
            label: regions.name(*c).unwrap_or_default().to_owned(),
            selected: c.to_string() == f.holder,
        }))
        .collect(),
        levels: choices(t, &Level::ALL, &f.level, Level::as_str, |l| {
            t.level(l).to_owned()
        }),
        overdue: overdue_choices(t, &f.overdue),
        assignees: people(t, &staff.handlers, &f.assignee),
        mediators: people(t, &staff.mediators, &f.mediator),
        from: f.from.clone(),
        to: f.to.clone(),
        sorts: SearchSort::ALL
            .iter()
            .map(|s| Opt {
                value: s.as_str().into(),
                label: t.s(sort_key(*s)).into(),
                selected: *s == sort,
            })
            .collect(),
        filtered,
        table: CaseTable::new(
            t,
            &web.clock,
            "search-results",
            &page,
            !f.cursor.is_empty(),
            |c| format!("/search?{}", f.qs(c)),
            "search.empty",
        ),
        location,
    }))
}

/// `GET /search/region` (htmx): the region picker again after a level changed.
pub async fn region(
    State(web): State<Web>,
    v: Viewer,
    Query(f): Query<SearchForm>,
) -> Result<Response, WebError> {
    require(&web, &v, Page::Search)?;
    Ok(render(&picker(&web, &v, &f)))
}
