//! Response bodies shaped from the read models: typed, so that the OpenAPI document and the
//! workbench's pages describe and show exactly what is sent.

use gridcase_domain::{
    Actor, ActorId, CaseId, CaseKind, Category, Level, RegionCode, Role, Severity, Source, Status,
    Timestamp,
};
use gridcase_projections::CaseEntry;
use serde::Serialize;

use crate::app::AppState;

/// A region as lists show it: code, name and level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RegionRef {
    /// The division code.
    pub code: RegionCode,
    /// Its name (the code when the region tree does not know it).
    pub name: String,
    /// Its level.
    pub level: Level,
}

/// The [`RegionRef`] of `code`.
pub fn region_ref(app: &AppState, code: RegionCode) -> RegionRef {
    RegionRef {
        code,
        name: app
            .regions
            .name(code)
            .map_or_else(|| code.to_string(), str::to_owned),
        level: code.level(),
    }
}

/// The names along a location's path below the city, e.g. `柯城区 新新街道 金桂社区 第1网格`.
pub fn place_name(app: &AppState, code: RegionCode) -> String {
    let mut names: Vec<&str> = code
        .self_and_ancestors()
        .filter(|c| c.level() != Level::City)
        .filter_map(|c| app.regions.name(c))
        .collect();
    names.reverse();
    names.join(" ")
}

/// A person as lists show them: id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PersonRef {
    /// The actor id.
    pub id: ActorId,
    /// The name (the id when none is known).
    pub name: String,
}

/// The [`PersonRef`] of an actor id.
pub fn person_ref(app: &AppState, id: &ActorId) -> PersonRef {
    PersonRef {
        id: id.clone(),
        name: app.directory.name_of(id),
    }
}

/// One case in a list (search, my work, a queue, open cases).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseRow {
    /// The case.
    pub case_id: CaseId,
    /// Its version (for `If-Match`).
    pub version: u64,
    /// Where it is in its life.
    pub status: Status,
    /// Dispute, incident or request.
    pub kind: CaseKind,
    /// Its category.
    pub category: Category,
    /// Where the report came from.
    pub source: Source,
    /// How serious.
    pub severity: Severity,
    /// The summary, for readers who may see free text (never analysts).
    pub summary: Option<String>,
    /// Where it happened.
    pub location: RegionRef,
    /// The names along the location's path below the city.
    pub place: String,
    /// The unit holding it.
    pub holder: Option<RegionRef>,
    /// The handler it is assigned to.
    pub assignee: Option<PersonRef>,
    /// The mediator of its running mediation.
    pub mediator: Option<PersonRef>,
    /// When it was reported.
    pub reported_at: Option<Timestamp>,
    /// When it was registered (立案).
    pub registered_at: Option<Timestamp>,
    /// The deadline in force.
    pub deadline: Option<Timestamp>,
    /// Open and past its deadline now.
    pub overdue: bool,
    /// Pressed from above (督办) at least once.
    pub supervised: bool,
    /// When its last event was recorded.
    pub updated_at: Timestamp,
}

impl CaseRow {
    /// The row of a case for `reader` at `now`. Only cases the reader may see are shaped.
    pub fn of(e: &CaseEntry, app: &AppState, reader: &Actor, now: Timestamp) -> CaseRow {
        let s = &e.state;
        let d = s.details.as_ref();
        let location = d.map_or(s.holder.unwrap_or_else(|| reader.unit()), |d| d.location);
        CaseRow {
            case_id: s.id.clone().expect("a projected case has an id"),
            version: s.version,
            status: s.status,
            kind: d.map_or(CaseKind::Dispute, |d| d.kind),
            category: d.map_or(Category::Other, |d| d.category),
            source: d.map_or(Source::GridPatrol, |d| d.source),
            severity: d.map_or(Severity::Normal, |d| d.severity),
            summary: (reader.role() != Role::Analyst)
                .then(|| {
                    d.map(|d| {
                        crate::text::summary(
                            app,
                            reader,
                            s.id.as_ref().expect("projected"),
                            &d.summary,
                        )
                    })
                })
                .flatten(),
            location: region_ref(app, location),
            place: place_name(app, location),
            holder: s.holder.map(|h| region_ref(app, h)),
            assignee: s.handler.as_ref().map(|h| person_ref(app, h)),
            mediator: s.mediation.as_ref().map(|m| person_ref(app, &m.mediator)),
            reported_at: s.reported_at,
            registered_at: s.registered_at,
            deadline: s.deadline,
            overdue: s.is_overdue(now),
            supervised: s.supervisions > 0,
            updated_at: e.updated_at,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many match in all.
    pub total: usize,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
