//! Who works where: the people of each unit, with their names, so that a unit can pick whom to
//! assign and which mediator to start with.
//!
//! A deployment lists its people in the configuration (`[[staff]]`, each an actor with a
//! name; every actor that has a token is a person too). The demo (`serve --demo`) adds the
//! generated roster of the fixtures: every unit's staff, grid workers and mediators, with
//! stable ids and made-up names — a demo convenience, never production data.

use std::collections::BTreeMap;

use gridcase_domain::{Actor, ActorId, Level, RegionCode, Role};
use gridcase_fixtures::Roster;
use serde::Serialize;

/// One person: an actor and the name people know them by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Person {
    /// The actor id (what commands name, e.g. a handler or a mediator).
    pub id: ActorId,
    /// Their name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// The unit they work for (a mediator's organization).
    pub unit: RegionCode,
}

impl Person {
    /// A person for `actor`, named `name`.
    pub fn new(actor: &Actor, name: impl Into<String>) -> Person {
        Person {
            id: actor.id().clone(),
            name: name.into(),
            role: actor.role(),
            unit: actor.unit(),
        }
    }
}

/// The people of a unit who can be picked for its cases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UnitStaff {
    /// Who may be assigned a case the unit holds (its staff and, at a grid, its grid workers).
    pub handlers: Vec<Person>,
    /// The mediators of the unit's mediation organization.
    pub mediators: Vec<Person>,
}

/// Everyone the server knows by name.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    people: BTreeMap<ActorId, Person>,
    /// The demo's generated roster, when on.
    generated: Option<Roster>,
}

impl Directory {
    /// A directory of `people` (later entries with the same id replace earlier ones).
    pub fn new(people: impl IntoIterator<Item = Person>) -> Directory {
        Directory {
            people: people.into_iter().map(|p| (p.id.clone(), p)).collect(),
            generated: None,
        }
    }

    /// Adds the demo's generated roster: every unit's people, named by [`Roster::name_of`].
    pub fn with_generated_roster(mut self) -> Directory {
        self.generated = Some(Roster::default());
        self
    }

    /// The person with this id, if known.
    pub fn person(&self, id: &ActorId) -> Option<Person> {
        if let Some(p) = self.people.get(id) {
            return Some(p.clone());
        }
        let roster = self.generated.as_ref()?;
        let actor = roster.actor_of(id)?;
        Some(Person::new(&actor, Roster::name_of(id)))
    }

    /// The name to show for an actor id: the person's name, else the id itself.
    pub fn name_of(&self, id: &ActorId) -> String {
        self.person(id).map_or_else(|| id.to_string(), |p| p.name)
    }

    /// The people of `unit`: configured ones first, then (demo) the generated roster.
    pub fn staff_of(&self, unit: RegionCode) -> UnitStaff {
        let mut staff = UnitStaff::default();
        for p in self.people.values().filter(|p| p.unit == unit) {
            match p.role {
                Role::UnitStaff | Role::GridWorker => staff.handlers.push(p.clone()),
                Role::Mediator => staff.mediators.push(p.clone()),
                _ => {}
            }
        }
        if let Some(roster) = &self.generated {
            let add = |actor: Actor, into: &mut Vec<Person>| {
                if !self.people.contains_key(actor.id()) {
                    into.push(Person::new(&actor, Roster::name_of(actor.id())));
                }
            };
            if unit.level() == Level::Grid {
                for n in 1..=roster.grid_workers_per_grid {
                    add(roster.grid_worker(unit, n), &mut staff.handlers);
                }
            } else {
                for n in 1..=roster.staff_count(unit.level()) {
                    add(roster.staff(unit, n), &mut staff.handlers);
                }
            }
            for n in 1..=roster.mediator_count(unit.level()) {
                add(roster.mediator(unit, n), &mut staff.mediators);
            }
        }
        staff
    }
}

/// The command path asks the directory whether a handler or mediator works for a unit. A person
/// it knows does when they work for that unit in that role (a grid worker is no mediator; a
/// mediator of one village is not another's); a person it does not know does not, where it
/// lists the unit's people, and is taken where it lists none (a deployment without a roster).
impl gridcase_bus::People for Directory {
    fn works_for(&self, person: &ActorId, unit: RegionCode, mediator: bool) -> Option<bool> {
        let in_role = |role: Role| {
            if mediator {
                role == Role::Mediator
            } else {
                matches!(role, Role::UnitStaff | Role::GridWorker)
            }
        };
        if let Some(p) = self.person(person) {
            return Some(p.unit == unit && in_role(p.role));
        }
        let staff = self.staff_of(unit);
        let listed = if mediator {
            staff.mediators
        } else {
            staff.handlers
        };
        (!listed.is_empty()).then_some(false)
    }
}
