//! 上报: report a case. Kind, category for the kind, source, severity, a cascading location
//! picker limited to the reporter's scope, summary and when it happened.
//!
//! The form carries its own Idempotency-Key (a hidden field made when the form is rendered)
//! and the case id is derived from it as the API derives it, so a double click or a
//! resubmitted form finds the first case instead of opening a second one.

use crate::error::BadRequestCode;
use std::collections::BTreeMap;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use gridcase_domain::{
    Action, Actor, CaseKind, Category, CommandId, RegionCode, RegionTree, Severity, Source,
    Timestamp,
};
use serde::Deserialize;

use super::i18n::Tr;
use super::session::{self, Viewer};
use super::{csrf, render, require, Chrome, Opt, Page, Web, WebApp, WebError};
use crate::error::ApiError;

/// The categories a report of `kind` may take, in the vocabulary's order.
pub fn categories_for(kind: CaseKind) -> Vec<Category> {
    Category::for_kind(kind).collect()
}

/// One level of the location picker.
#[derive(Debug, Clone)]
pub struct LevelSelect {
    /// The field: `l4` (county) … `l1` (grid), by level rank.
    pub name: String,
    /// The level's name.
    pub label: &'static str,
    /// The regions to choose from (children of the level above).
    pub options: Vec<Opt>,
}

/// The location picker: the reporter's own unit (fixed) and a select per level below it,
/// down to the first level not chosen yet.
#[derive(Template, Debug, Clone)]
#[template(path = "partials/location.html")]
pub struct LocationPicker {
    t: Tr,
    /// The reporter's unit and its ancestors, city first.
    pub fixed: String,
    /// The selects.
    pub levels: Vec<LevelSelect>,
    /// The region the report will name: the deepest chosen, else the unit.
    pub location: RegionCode,
    /// Where the picker asks for itself again when a level changes.
    pub endpoint: String,
    /// The label of the fixed unit.
    pub unit_key: &'static str,
    /// The first choice of the first level (nothing finer).
    pub whole_key: &'static str,
}

/// The levels a form's location picker has chosen (`l4` … `l1`, rank → code), the deepest first.
pub fn chosen_levels(l4: &str, l3: &str, l2: &str, l1: &str) -> BTreeMap<u8, String> {
    [(4, l4), (3, l3), (2, l2), (1, l1)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.to_owned()))
        .collect()
}

impl LocationPicker {
    /// The picker for `unit` with the choices in `chosen` (rank → code); choices that do not
    /// continue the chain below `unit` are dropped, so changing a level clears those below.
    pub fn new(
        t: Tr,
        regions: &RegionTree,
        unit: RegionCode,
        chosen: &BTreeMap<u8, String>,
    ) -> Self {
        let fixed = unit
            .self_and_ancestors()
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .filter_map(|c| regions.name(c))
            .collect::<Vec<_>>()
            .join(" › ");
        let mut levels = Vec::new();
        let mut parent = unit;
        while let Some(level) = parent.level().child_level() {
            let children = regions.children(parent);
            if children.is_empty() {
                break;
            }
            let pick = chosen
                .get(&level.rank())
                .and_then(|s| s.parse::<RegionCode>().ok())
                .filter(|c| children.contains(c));
            levels.push(LevelSelect {
                name: format!("l{}", level.rank()),
                label: t.level(&level),
                options: children
                    .iter()
                    .map(|c| Opt {
                        value: c.to_string(),
                        label: regions.name(*c).unwrap_or_default().to_owned(),
                        selected: Some(*c) == pick,
                    })
                    .collect(),
            });
            match pick {
                Some(c) => parent = c,
                None => break,
            }
        }
        LocationPicker {
            t,
            fixed,
            levels,
            location: parent,
            endpoint: "/report/location".into(),
            unit_key: "report.unit",
            whole_key: "report.whole_unit",
        }
    }

    /// The same picker, asking `endpoint` for itself when a level changes (检索's region, the
    /// case page's delegation), with its own words for the fixed unit and the first choice.
    pub fn at(
        mut self,
        endpoint: impl Into<String>,
        unit_key: &'static str,
        whole_key: &'static str,
    ) -> Self {
        self.endpoint = endpoint.into();
        self.unit_key = unit_key;
        self.whole_key = whole_key;
        self
    }

    /// Whether a level below the unit was chosen.
    pub fn narrowed(&self) -> bool {
        self.levels
            .iter()
            .any(|l| l.options.iter().any(|o| o.selected))
    }
}

/// The category select, for a kind.
#[derive(Template)]
#[template(path = "partials/categories.html")]
struct CategorySelect {
    options: Vec<Opt>,
}

impl CategorySelect {
    fn new(t: Tr, kind: CaseKind, chosen: Option<Category>) -> Self {
        let cats = categories_for(kind);
        let chosen = chosen
            .filter(|c| cats.contains(c))
            .or(cats.first().copied());
        CategorySelect {
            options: cats
                .iter()
                .map(|c| Opt {
                    value: c.as_str().into(),
                    label: t.category(c),
                    selected: Some(*c) == chosen,
                })
                .collect(),
        }
    }
}

/// What the form holds (also what it is filled with again after an error).
#[derive(Deserialize, Debug, Default, Clone)]
pub struct ReportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    l4: String,
    #[serde(default)]
    l3: String,
    #[serde(default)]
    l2: String,
    #[serde(default)]
    l1: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    happened_at: String,
    /// The parties (当事人, optional): `p1_role`, `p1_name`, `p1_id_number`, `p1_phone`,
    /// `p1_address`, and the same for `p2_`.
    #[serde(flatten)]
    people: BTreeMap<String, String>,
}

/// Parties the report form offers.
const FORM_PARTIES: usize = 2;

impl ReportForm {
    fn chosen(&self) -> BTreeMap<u8, String> {
        chosen_levels(&self.l4, &self.l3, &self.l2, &self.l1)
    }

    fn person(&self, i: usize, field: &str) -> String {
        self.people
            .get(&format!("p{}_{field}", i + 1))
            .cloned()
            .unwrap_or_default()
    }

    /// The parties given (those with any personal field), with their personal data lifted
    /// out for the vault; 400 naming the party and field when one fails its check.
    fn parties(
        &self,
    ) -> Result<(Vec<gridcase_domain::Party>, crate::api::parties::Lifted), (usize, ApiError)> {
        let mut parties = Vec::new();
        let mut lifted = crate::api::parties::Lifted::default();
        for i in 0..FORM_PARTIES {
            let data = super::parties::personal_of_form(&self.people, &format!("p{}_", i + 1))
                .map_err(|e| (i, e))?;
            let Some(data) = data else { continue };
            let role = self
                .person(i, "role")
                .parse()
                .unwrap_or(gridcase_domain::PartyRole::Applicant);
            lifted.parties.push((parties.len(), Some(data)));
            parties.push(gridcase_domain::Party {
                id: gridcase_domain::PartyId::new("pending").expect("a valid party id"),
                role,
            });
        }
        Ok((parties, lifted))
    }
}

/// One party's inputs on the report form.
struct PersonInputs {
    /// 1 or 2.
    n: usize,
    roles: Vec<Opt>,
    name: String,
    id_number: String,
    phone: String,
    address: String,
}

/// A case just reported.
struct Done {
    case_id: String,
    duplicate: bool,
}

#[derive(Template)]
#[template(path = "views/report.html")]
struct ReportView {
    c: Chrome,
    t: Tr,
    key: String,
    kinds: Vec<Opt>,
    categories: CategorySelect,
    sources: Vec<Opt>,
    severities: Vec<Opt>,
    location: LocationPicker,
    summary: String,
    happened_at: String,
    max_happened_at: String,
    error: Option<String>,
    done: Option<Done>,
    people: Vec<PersonInputs>,
    people_open: bool,
}

fn options<T: Copy + PartialEq>(
    all: &[T],
    chosen: T,
    value: impl Fn(T) -> &'static str,
    label: impl Fn(&T) -> String,
) -> Vec<Opt> {
    all.iter()
        .map(|v| Opt {
            value: value(*v).into(),
            label: label(v),
            selected: *v == chosen,
        })
        .collect()
}

fn view(
    web: &WebApp,
    v: &Viewer,
    f: &ReportForm,
    error: Option<String>,
    done: Option<Done>,
) -> ReportView {
    let t = v.tr();
    let kind = f.kind.parse().unwrap_or(CaseKind::Dispute);
    let source =
        f.source
            .parse()
            .unwrap_or(if v.actor.role() == gridcase_domain::Role::GridWorker {
                Source::GridPatrol
            } else {
                Source::Hotline
            });
    let severity = f.severity.parse().unwrap_or(Severity::Normal);
    let now = Timestamp::now();
    ReportView {
        c: Chrome::new(web, v, Some(Page::Report), t.s("report.title")),
        t,
        // A fresh key for every form shown: one form, one case.
        key: format!("web-{}", &csrf::token()[..32]),
        kinds: options(CaseKind::ALL, kind, CaseKind::as_str, |k| t.kind(k)),
        categories: CategorySelect::new(t, kind, f.category.parse().ok()),
        sources: options(Source::ALL, source, Source::as_str, |s| t.source(s)),
        severities: options(Severity::ALL, severity, Severity::as_str, |s| t.severity(s)),
        location: LocationPicker::new(t, &web.app.regions, v.actor.unit(), &f.chosen()),
        summary: f.summary.clone(),
        happened_at: if f.happened_at.is_empty() {
            web.clock.input(now)
        } else {
            f.happened_at.clone()
        },
        max_happened_at: web.clock.input(now),
        error,
        done,
        people: (0..FORM_PARTIES)
            .map(|i| PersonInputs {
                n: i + 1,
                roles: options(
                    gridcase_domain::PartyRole::ALL,
                    f.person(i, "role").parse().unwrap_or(if i == 0 {
                        gridcase_domain::PartyRole::Applicant
                    } else {
                        gridcase_domain::PartyRole::Respondent
                    }),
                    gridcase_domain::PartyRole::as_str,
                    |r| {
                        if t.zh() {
                            r.zh().to_owned()
                        } else {
                            r.as_str().replace('_', " ")
                        }
                    },
                ),
                name: f.person(i, "name"),
                id_number: f.person(i, "id_number"),
                phone: f.person(i, "phone"),
                address: f.person(i, "address"),
            })
            .collect(),
        people_open: f
            .people
            .iter()
            .any(|(k, v)| !k.ends_with("_role") && !v.trim().is_empty()),
    }
}

/// The query of `GET /report`: the case just reported, after the redirect.
#[derive(Deserialize, Default)]
pub struct DoneQuery {
    done: Option<String>,
    dup: Option<String>,
}

/// `GET /report`.
pub async fn page(
    State(web): State<Web>,
    v: Viewer,
    Query(q): Query<DoneQuery>,
) -> Result<Response, WebError> {
    require(&web, &v, Page::Report)?;
    let done = q
        .done
        .filter(|id| gridcase_domain::CaseId::new(id.as_str()).is_ok())
        .map(|case_id| Done {
            case_id,
            duplicate: q.dup.is_some(),
        });
    Ok(render(&view(&web, &v, &ReportForm::default(), None, done)))
}

/// `GET /report/location` (htmx): the picker again after a level changed.
pub async fn location(
    State(web): State<Web>,
    v: Viewer,
    Query(f): Query<ReportForm>,
) -> Result<Response, WebError> {
    require(&web, &v, Page::Report)?;
    Ok(render(&LocationPicker::new(
        v.tr(),
        &web.app.regions,
        v.actor.unit(),
        &f.chosen(),
    )))
}

/// The query of `GET /report/categories`.
#[derive(Deserialize)]
pub struct KindQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    category: String,
}

/// `GET /report/categories` (htmx): the categories of the chosen kind.
pub async fn categories(
    State(web): State<Web>,
    v: Viewer,
    Query(q): Query<KindQuery>,
) -> Result<Response, WebError> {
    require(&web, &v, Page::Report)?;
    let kind = q.kind.parse().map_err(|e: gridcase_domain::UnknownValue| {
        WebError::new(
            &web,
            &v,
            ApiError::field(BadRequestCode::InvalidField, "kind", e.to_string()),
        )
    })?;
    Ok(render(&CategorySelect::new(
        v.tr(),
        kind,
        q.category.parse().ok(),
    )))
}

/// Turns the form into the report action, or says which field is wrong (400).
fn action(web: &WebApp, actor: &Actor, f: &ReportForm) -> Result<Action, ApiError> {
    let word = |field: &'static str, s: &'static str| {
        move |e: gridcase_domain::UnknownValue| {
            ApiError::field(BadRequestCode::InvalidField, field, format!("{s}: {e}"))
        }
    };
    let kind: CaseKind = f.kind.parse().map_err(word("kind", "kind"))?;
    let category: Category = f.category.parse().map_err(word("category", "category"))?;
    if !categories_for(kind).contains(&category) {
        return Err(ApiError::field(
            BadRequestCode::InvalidField,
            "category",
            format!("category {category} does not fit kind {kind}"),
        ));
    }
    let source: Source = f.source.parse().map_err(word("source", "source"))?;
    let severity: Severity = f.severity.parse().map_err(word("severity", "severity"))?;
    let picker = LocationPicker::new(Tr::default(), &web.app.regions, actor.unit(), &f.chosen());
    // A choice the picker dropped (outside the unit, or not below the level above) is an
    // error, not a silent move to the unit.
    let deepest = f.chosen().into_iter().next().map(|(_, c)| c);
    if let Some(code) = deepest {
        if code != picker.location.to_string() {
            return Err(ApiError::field(
                BadRequestCode::InvalidField,
                "location",
                format!("location {code} is not a region of your unit"),
            ));
        }
    }
    let happened_at = match f.happened_at.trim() {
        "" => Timestamp::now(),
        s => web.clock.parse_input(s).ok_or_else(|| {
            ApiError::field(
                BadRequestCode::InvalidField,
                "happened_at",
                format!("happened_at {s:?} is not a date and time"),
            )
        })?,
    };
    Ok(Action::Report {
        kind,
        category,
        source,
        severity,
        location: picker.location,
        parties: Vec::new(),
        summary: f.summary.trim().to_owned(),
        happened_at,
    })
}

/// `POST /report`.
pub async fn submit(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    form: Result<Form<ReportForm>, FormRejection>,
) -> Result<Response, WebError> {
    let f = match form {
        Ok(Form(f)) => f,
        Err(e) => {
            return Err(WebError::new(
                &web,
                &v,
                ApiError::BadRequest {
                    code: BadRequestCode::InvalidField,
                    message: e.body_text(),
                    field: None,
                },
            ))
        }
    };
    if !csrf::verify(&v.csrf, Some(&f.csrf), &headers) {
        return Err(WebError::csrf(Chrome::new(
            &web,
            &v,
            Some(Page::Report),
            "",
        )));
    }
    require(&web, &v, Page::Report)?;
    let t = v.tr();
    let again = |status: StatusCode, message: String| {
        let mut r = render(&view(&web, &v, &f, Some(message), None));
        *r.status_mut() = status;
        Ok(r)
    };
    let mut action = match action(&web, &v.actor, &f) {
        Ok(a) => a,
        Err(e) => {
            let status = e.status();
            let msg = match &e {
                ApiError::BadRequest {
                    field: Some(field), ..
                } if t.zh() => format!("{}：{}", t.s("error.400"), super::i18n::field_label(field)),
                other => other.to_string(),
            };
            return again(status, msg);
        }
    };
    let lifted = match f.parties() {
        Ok((people, lifted)) => {
            if let Action::Report { parties, .. } = &mut action {
                *parties = people;
            }
            lifted
        }
        Err((i, e)) => {
            let (field, message) = match &e {
                ApiError::BadRequest {
                    field: Some(field),
                    message,
                    ..
                } => (field.clone(), message.clone()),
                _ => (String::new(), e.to_string()),
            };
            let msg = if t.zh() {
                // What is wrong with it, as the case page says it (the field is filled in).
                let label = super::i18n::field_label(&field);
                format!(
                    "{}：当事人{}的{}",
                    t.s("error.400"),
                    i + 1,
                    t.bad_field(label, &field, "filled in", &message)
                )
            } else {
                format!("party {}: {e}", i + 1)
            };
            return again(e.status(), msg);
        }
    };
    let key = f.key.trim();
    CommandId::new(key).map_err(|e| {
        WebError::new(
            &web,
            &v,
            ApiError::field(BadRequestCode::InvalidField, "key", e.to_string()),
        )
    })?;
    // The form's fields, canonically, are the request its key is bound to.
    let body = serde_json::to_vec(&action).unwrap_or_default();
    let mut sub = crate::api::commands::submission(
        &web.app,
        &v.actor,
        None,
        Some(key),
        action,
        Timestamp::now(),
        &body,
    );
    let personal =
        crate::api::parties::assign_party_ids(&mut sub.command.action, &sub.command_id, lifted);
    let result = crate::api::commands::run(&web.app, sub).await;
    match result {
        Ok(done) => {
            crate::api::parties::store_personal(&web.app, &v.actor, &personal)
                .await
                .map_err(|e| WebError::new(&web, &v, e))?;
            let mut to = format!("/report?done={}", session::encode(done.case_id.as_str()));
            if done.duplicate {
                to.push_str("&dup=1");
            }
            Ok(Redirect::to(&to).into_response())
        }
        Err(e) => match &e {
            ApiError::Rejected(r) => again(
                StatusCode::UNPROCESSABLE_ENTITY,
                t.rejection(r, &web.app.regions, &web.clock),
            ),
            _ => Err(WebError::new(&web, &v, e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_offers_its_own_categories() {
        assert_eq!(categories_for(CaseKind::Dispute).len(), 15);
        let incident = categories_for(CaseKind::Incident);
        assert!(incident.contains(&Category::SafetyHazard));
        assert!(!incident.contains(&Category::Neighbours));
        assert!(incident.contains(&Category::Other));
        let request = categories_for(CaseKind::Request);
        assert!(request.contains(&Category::SocialServices));
        assert!(!request.contains(&Category::FireSafety));
    }

    #[test]
    fn the_picker_stays_inside_the_unit_and_drops_stale_choices() {
        let mut regions = gridcase_regions::bundled_divisions().clone();
        for g in ["330802005001001", "330802005001002", "330802005002001"] {
            regions.add_grid(g.parse().unwrap(), None).unwrap();
        }
        let t = Tr::default();
        let township: RegionCode = "330802005".parse().unwrap();
        let none = BTreeMap::new();
        let p = LocationPicker::new(t, &regions, township, &none);
        assert_eq!(p.levels.len(), 1);
        assert!(p.levels[0]
            .options
            .iter()
            .all(|o| o.value.starts_with("330802005")));
        assert_eq!(p.location, township);
        assert!(p.fixed.ends_with("新新街道"), "{}", p.fixed);

        let chosen = BTreeMap::from([
            (2, "330802005001".to_owned()),
            (1, "330802005001002".to_owned()),
        ]);
        let p = LocationPicker::new(t, &regions, township, &chosen);
        assert_eq!(p.levels.len(), 2);
        assert_eq!(p.location.to_string(), "330802005001002");

        // The village changed: the grid chosen under the old one is dropped.
        let chosen = BTreeMap::from([
            (2, "330802005002".to_owned()),
            (1, "330802005001002".to_owned()),
        ]);
        let p = LocationPicker::new(t, &regions, township, &chosen);
        assert_eq!(p.location.to_string(), "330802005002");
        assert!(p.levels[1].options.iter().all(|o| !o.selected));

        // Outside the unit: ignored.
        let chosen = BTreeMap::from([(2, "330802006001".to_owned())]);
        assert_eq!(
            LocationPicker::new(t, &regions, township, &chosen).location,
            township
        );

        // A grid worker's grid has nothing below.
        let grid: RegionCode = "330802005001001".parse().unwrap();
        let p = LocationPicker::new(t, &regions, grid, &none);
        assert!(p.levels.is_empty());
        assert_eq!(p.location, grid);
    }
}
