//! Finding and listing work: case search, my work, a unit's people, and the region tree for
//! pickers.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/api/v1/cases` | search within the reader's scope (not analysts): filters, text, sort, cursor |
//! | GET | `/api/v1/me` | who the token is: actor, role, scope, unit, name |
//! | GET | `/api/v1/me/cases` | my work: a mediator's mediations, a handler's cases, a unit's queue |
//! | GET | `/api/v1/units/{code}/staff` | a unit's handlers and mediators, to assign or mediate |
//! | GET | `/api/v1/regions/{code}` | a region: name, level, parent, children, path |
//!
//! Every list is a [`Page`] of [`CaseRow`]s with `total` and an opaque `next_cursor`; nothing
//! is capped silently.

use crate::error::BadRequestCode;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use gridcase_bus::Position;
use gridcase_domain::{
    Actor, ActorId, CaseKind, Category, Level, RegionCode, Role, Scope, Source, Status, Timestamp,
};
use gridcase_projections::{SearchQuery, SearchSort, Visibility};
use serde::{Deserialize, Serialize};

use super::access::{audit, visibility};
use super::params::parse_region;
use super::params::wait_after;
use super::shape::{region_ref, CaseRow, Page, RegionRef};
use crate::app::AppState;
use crate::directory::UnitStaff;
use crate::error::ApiError;

/// Most rows on one page.
pub const MAX_LIMIT: usize = 200;
/// Rows on a page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 50;

/// The query of `/api/v1/cases` (every field optional; all that are given must hold).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchParams {
    /// Cases located in this region's subtree (region code).
    pub(crate) region: Option<String>,
    /// Statuses, comma-separated, e.g. `registered,assigned`.
    pub(crate) status: Option<String>,
    /// `dispute`, `incident` or `request`.
    pub(crate) kind: Option<String>,
    /// A category (see the `Category` schema).
    pub(crate) category: Option<String>,
    /// A source (see the `Source` schema).
    pub(crate) source: Option<String>,
    /// The holding unit (region code).
    pub(crate) holder: Option<String>,
    /// The holding unit's level: `city`, `county`, `township`, `village` or `grid`.
    pub(crate) level: Option<String>,
    /// Only cases past (true) or within (false) their deadline.
    pub(crate) overdue: Option<bool>,
    /// The assigned handler (actor id).
    pub(crate) assignee: Option<String>,
    /// The mediator of an active or past mediation (actor id).
    pub(crate) mediator: Option<String>,
    /// Reported at or after this RFC 3339 time.
    pub(crate) reported_from: Option<String>,
    /// Reported before this RFC 3339 time.
    pub(crate) reported_to: Option<String>,
    /// Text in the summary (Chinese needs no spaces; one character or more, at most 100).
    pub(crate) q: Option<String>,
    /// A person: an ID number, a phone number or a full name, matched exactly by the personal
    /// data vault's keyed blind index (nothing is decrypted). Not for auditors, supervisors or
    /// analysts; needs `purpose`, and is recorded in the access log with the parties found.
    pub(crate) person: Option<String>,
    /// Why the person is looked up (recorded), e.g. `核查是否重复纠纷`.
    pub(crate) purpose: Option<String>,
    /// `newest` (reported, the default), `oldest`, `deadline` (soonest first, overdue first)
    /// or `updated` (most recently changed first).
    pub(crate) sort: Option<String>,
    /// Rows per page, 1–200 (default 50).
    pub(crate) limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub(crate) cursor: Option<String>,
    /// Wait until the projection has applied this log position (read-your-writes).
    #[param(value_type = Option<u64>)]
    pub(crate) after: Option<Position>,
}

fn bad(field: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::field(BadRequestCode::InvalidQuery, field, message)
}

fn vocab<T: std::str::FromStr>(
    field: &'static str,
    v: &Option<String>,
) -> Result<Option<T>, ApiError>
where
    T::Err: std::fmt::Display,
{
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| bad(field, format!("{field}: {e}")))
        })
        .transpose()
}

fn time(field: &'static str, v: &Option<String>) -> Result<Option<Timestamp>, ApiError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| Timestamp::parse(s).map_err(|e| bad(field, e.to_string())))
        .transpose()
}

fn actor_id(field: &'static str, v: &Option<String>) -> Result<Option<ActorId>, ApiError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| ActorId::new(s).map_err(|e| bad(field, e.to_string())))
        .transpose()
}

fn statuses(v: &Option<String>) -> Result<Vec<Status>, ApiError> {
    let Some(v) = v.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    v.split(',')
        .map(|s| {
            Status::ALL
                .iter()
                .find(|st| st.as_str() == s.trim())
                .copied()
                .ok_or_else(|| {
                    bad(
                        "status",
                        format!(
                            "status {s:?}: use {}",
                            Status::ALL.map(Status::as_str).join(", ")
                        ),
                    )
                })
        })
        .collect()
}

fn sort(v: &Option<String>) -> Result<SearchSort, ApiError> {
    match v.as_deref().filter(|s| !s.is_empty()) {
        None => Ok(SearchSort::default()),
        Some(s) => SearchSort::ALL
            .iter()
            .find(|x| x.as_str() == s)
            .copied()
            .ok_or_else(|| {
                bad(
                    "sort",
                    format!(
                        "sort {s:?}: use {}",
                        SearchSort::ALL.map(SearchSort::as_str).join(", ")
                    ),
                )
            }),
    }
}

/// A page's `limit`: [`DEFAULT_LIMIT`] when absent, 400 outside 1 to [`MAX_LIMIT`].
pub(crate) fn limit(v: Option<usize>) -> Result<usize, ApiError> {
    match v {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(bad("limit", format!("limit {n}: use 1 to {MAX_LIMIT}"))),
    }
}

impl SearchParams {
    /// The search these parameters ask for (400 naming the field that is wrong).
    pub(crate) fn query(&self, app: &AppState) -> Result<SearchQuery, ApiError> {
        let region = |field, v: &Option<String>| {
            v.as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| parse_region(field, s, app))
                .transpose()
        };
        let text = self.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
        if text.is_some_and(|t| t.chars().count() > 100) {
            return Err(bad("q", "q: at most 100 characters"));
        }
        Ok(SearchQuery {
            region: region("region", &self.region)?,
            status: statuses(&self.status)?,
            kind: vocab::<CaseKind>("kind", &self.kind)?,
            category: vocab::<Category>("category", &self.category)?,
            source: vocab::<Source>("source", &self.source)?,
            holder: region("holder", &self.holder)?,
            held_in: None,
            level: vocab::<Level>("level", &self.level)?,
            overdue: self.overdue,
            assignee: actor_id("assignee", &self.assignee)?,
            mediator: actor_id("mediator", &self.mediator)?,
            mediation_active: false,
            reported_from: time("reported_from", &self.reported_from)?,
            reported_to: time("reported_to", &self.reported_to)?,
            text: text.map(str::to_owned),
            parties: Vec::new(),
            sort: sort(&self.sort)?,
            limit: limit(self.limit)?,
            cursor: self.cursor.clone().filter(|c| !c.is_empty()),
        })
    }
}

/// Runs a search for `actor` over what `visible` lets them see, and shapes the page.
pub(crate) fn run_search(
    app: &AppState,
    actor: &Actor,
    visible: &Visibility,
    q: &SearchQuery,
) -> Result<Page<CaseRow>, ApiError> {
    let now = Timestamp::now();
    let view = app.projection.read();
    let page = view
        .search(q, visible, now)
        .map_err(|e| bad("cursor", e.to_string()))?;
    Ok(Page {
        items: page
            .items
            .iter()
            .map(|e| CaseRow::of(e, app, actor, now))
            .collect(),
        total: page.total,
        next_cursor: page.next,
    })
}

/// `GET /api/v1/cases`: search within the reader's scope.
pub(crate) async fn search(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Json<Page<CaseRow>>, ApiError> {
    let actor = app.authenticate(&headers)?;
    let visible = visibility(actor)?;
    let Query(params) = q.map_err(|e| ApiError::query(e.body_text()))?;
    let mut query = params.query(&app)?;
    if let Some(person) = params
        .person
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        query.parties =
            super::parties::find_person(&app, actor, person, params.purpose.as_deref()).await?;
        if query.parties.is_empty() {
            return Ok(Json(Page {
                items: Vec::new(),
                total: 0,
                next_cursor: None,
            }));
        }
    }
    wait_after(&app, params.after).await?;
    audit(actor, "case search");
    Ok(Json(run_search(&app, actor, &visible, &query)?))
}

/// Who a token is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// The actor id.
    pub id: ActorId,
    /// The name people know them by (the id when none is configured).
    pub name: String,
    /// The role.
    pub role: Role,
    /// The scope: a region subtree, or a mediator's organization.
    pub scope: Scope,
    /// The unit they work for.
    pub unit: RegionRef,
    /// The lists `/api/v1/me/cases` offers this role (`view=`), the default first.
    pub views: Vec<&'static str>,
}

/// The views of "my work" a role has, the default first.
pub(crate) fn views_of(role: Role) -> Vec<&'static str> {
    match role {
        Role::Mediator => vec!["mediations"],
        Role::GridWorker | Role::UnitStaff => vec!["queue", "assigned"],
        Role::Supervisor | Role::Admin | Role::Auditor => vec!["open"],
        Role::Analyst => Vec::new(),
    }
}

/// `GET /api/v1/me`.
pub(crate) async fn me(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Me>, ApiError> {
    let actor = app.authenticate(&headers)?;
    Ok(Json(Me {
        id: actor.id().clone(),
        name: app.directory.name_of(actor.id()),
        role: actor.role(),
        scope: *actor.scope(),
        unit: region_ref(&app, actor.unit()),
        views: views_of(actor.role()),
    }))
}

/// The query of `/api/v1/me/cases`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct MyCasesParams {
    /// Which work: `queue` (the cases my unit has in hand: reported to verified; referred-out
    /// ones with `status=referred`) or `assigned` (assigned to me) for unit staff and grid
    /// workers, `mediations` for a mediator, `open` (in hand in my subtree) for a
    /// supervisor, admin or auditor. Default: the first of the role's views (`/api/v1/me`
    /// lists them).
    pub(crate) view: Option<String>,
    /// Statuses, comma-separated.
    pub(crate) status: Option<String>,
    /// `dispute`, `incident` or `request`.
    pub(crate) kind: Option<String>,
    /// A category.
    pub(crate) category: Option<String>,
    /// Only cases past (true) or within (false) their deadline.
    pub(crate) overdue: Option<bool>,
    /// Text in the summary.
    pub(crate) q: Option<String>,
    /// `deadline` (the default), `newest`, `oldest` or `updated`.
    pub(crate) sort: Option<String>,
    /// Rows per page, 1–200 (default 50).
    pub(crate) limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub(crate) cursor: Option<String>,
    /// Wait until the projection has applied this log position.
    #[param(value_type = Option<u64>)]
    pub(crate) after: Option<Position>,
}

/// The search behind a view of "my work".
pub(crate) fn my_work_query(actor: &Actor, view: &str) -> Result<SearchQuery, ApiError> {
    let open = Status::IN_HAND.to_vec();
    let base = SearchQuery {
        sort: SearchSort::Deadline,
        limit: DEFAULT_LIMIT,
        ..SearchQuery::default()
    };
    Ok(match (actor.role(), view) {
        (Role::Mediator, "mediations") => SearchQuery {
            mediator: Some(actor.id().clone()),
            mediation_active: true,
            ..base
        },
        (Role::GridWorker | Role::UnitStaff, "queue") => SearchQuery {
            holder: Some(actor.unit()),
            status: open,
            ..base
        },
        (Role::GridWorker | Role::UnitStaff, "assigned") => SearchQuery {
            assignee: Some(actor.id().clone()),
            status: vec![Status::Assigned],
            ..base
        },
        (Role::Supervisor | Role::Admin | Role::Auditor, "open") => SearchQuery {
            held_in: Some(actor.unit()),
            status: open,
            ..base
        },
        (Role::Analyst, _) => {
            return Err(ApiError::Forbidden(
                "analysts read statistics only, not cases".into(),
            ))
        }
        (role, view) => {
            return Err(bad(
                "view",
                format!("view {view:?}: a {role} has {}", views_of(role).join(", ")),
            ))
        }
    })
}

/// `GET /api/v1/me/cases`: my work, soonest deadline first.
pub(crate) async fn my_cases(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<MyCasesParams>, QueryRejection>,
) -> Result<Json<Page<CaseRow>>, ApiError> {
    let actor = app.authenticate(&headers)?;
    let Query(p) = q.map_err(|e| ApiError::query(e.body_text()))?;
    let query = p.query(actor)?;
    wait_after(&app, p.after).await?;
    Ok(Json(run_search(&app, actor, &visibility(actor)?, &query)?))
}

impl MyCasesParams {
    /// The view these parameters name (the role's first when none), narrowed by their
    /// filters: the search behind "my work" (400 naming the field that is wrong).
    pub(crate) fn query(&self, actor: &Actor) -> Result<SearchQuery, ApiError> {
        let p = self;
        let views = views_of(actor.role());
        let view = p.view.as_deref().or(views.first().copied()).unwrap_or("");
        let mut query = my_work_query(actor, view)?;
        if p.status.as_deref().is_some_and(|s| !s.is_empty()) {
            query.status = statuses(&p.status)?;
        }
        query.kind = vocab::<CaseKind>("kind", &p.kind)?;
        query.category = vocab::<Category>("category", &p.category)?;
        query.overdue = p.overdue;
        query.text = p.q.clone().filter(|t| !t.trim().is_empty());
        if p.sort.as_deref().is_some_and(|s| !s.is_empty()) {
            query.sort = sort(&p.sort)?;
        }
        query.limit = limit(p.limit)?;
        query.cursor = p.cursor.clone().filter(|c| !c.is_empty());
        Ok(query)
    }
}

/// A unit's people.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffList {
    /// The unit.
    pub unit: RegionRef,
    /// Its handlers and mediators.
    #[serde(flatten)]
    pub staff: UnitStaff,
}

/// Whether `actor` works along `unit`'s path (its scope covers the unit, or the unit is above
/// the actor's own): who may pick people of that unit.
fn related(actor: &Actor, unit: RegionCode) -> bool {
    actor.scope().covers(unit) || unit.contains(actor.unit())
}

/// `GET /api/v1/units/{code}/staff`.
pub(crate) async fn unit_staff(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Json<StaffList>, ApiError> {
    let actor = app.authenticate(&headers)?;
    let unit = parse_region("unit", &code, &app)?;
    if actor.role() == Role::Analyst {
        return Err(ApiError::Forbidden("analysts read statistics only".into()));
    }
    if !related(actor, unit) {
        return Err(ApiError::Forbidden(format!(
            "{unit} is neither in your scope nor above your unit"
        )));
    }
    Ok(Json(StaffList {
        unit: region_ref(&app, unit),
        staff: app.directory.staff_of(unit),
    }))
}

/// A region for pickers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegionInfo {
    /// The region.
    #[serde(flatten)]
    pub region: RegionRef,
    /// Its parent (none for a city).
    pub parent: Option<RegionRef>,
    /// Its children, in code order.
    pub children: Vec<RegionRef>,
    /// From the city down to it.
    pub path: Vec<RegionRef>,
}

/// `GET /api/v1/regions/{code}`: anyone signed in (region names are public).
pub(crate) async fn region(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Json<RegionInfo>, ApiError> {
    app.authenticate(&headers)?;
    let code = parse_region("region", &code, &app)?;
    let mut path: Vec<RegionRef> = code
        .self_and_ancestors()
        .filter(|c| app.regions.contains_code(*c))
        .map(|c| region_ref(&app, c))
        .collect();
    path.reverse();
    Ok(Json(RegionInfo {
        region: region_ref(&app, code),
        parent: code
            .parent()
            .filter(|p| app.regions.contains_code(*p))
            .map(|p| region_ref(&app, p)),
        children: app
            .regions
            .children(code)
            .iter()
            .map(|c| region_ref(&app, *c))
            .collect(),
        path,
    }))
}
