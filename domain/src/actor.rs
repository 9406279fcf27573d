//! Actors, roles and scopes.
//!
//! Every command carries an [`Actor`]: who acts, in which [`Role`], within which [`Scope`].
//! The decider checks the scope, so no front end can bypass it (DESIGN.md invariant 8).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::ActorId;
use crate::region::{Level, RegionCode};

/// What an actor is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 网格员: reports, handles small matters on the spot, escalates; acts only in one grid.
    GridWorker,
    /// Staff of a handling unit (village, township, county or city): register, assign,
    /// escalate, delegate, refer, verify, close. Acts only on cases the unit holds.
    UnitStaff,
    /// 调解员: runs the mediations they are assigned to.
    Mediator,
    /// Presses and approves from above (督办, 延期 approval) within a region subtree.
    Supervisor,
    /// Reads full history in scope; issues no commands.
    Auditor,
    /// Reads statistics only; issues no commands and never sees personal data or free text.
    Analyst,
    /// Makes audited corrections within a region subtree.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 7] = [
        Role::GridWorker,
        Role::UnitStaff,
        Role::Mediator,
        Role::Supervisor,
        Role::Auditor,
        Role::Analyst,
        Role::Admin,
    ];

    /// The role's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::GridWorker => "grid_worker",
            Role::UnitStaff => "unit_staff",
            Role::Mediator => "mediator",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    /// Whether the role may issue commands at all.
    pub fn can_command(self) -> bool {
        !matches!(self, Role::Auditor | Role::Analyst)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an actor may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// A region subtree rooted at this code. For grid workers and unit staff the root is also
    /// their own unit: they act only on cases that unit holds.
    Subtree(RegionCode),
    /// Mediators: the cases whose active mediation names them, for a mediation organization
    /// (人民调解委员会 or center) at this region.
    Assignment {
        /// The region of the mediator's organization.
        organization: RegionCode,
    },
}

impl Scope {
    /// The region the scope is anchored at.
    pub fn region(&self) -> RegionCode {
        match *self {
            Scope::Subtree(r) => r,
            Scope::Assignment { organization } => organization,
        }
    }

    /// Whether `region` lies in a subtree scope. Assignment scopes cover no region by themselves.
    pub fn covers(&self, region: RegionCode) -> bool {
        match self {
            Scope::Subtree(root) => root.contains(region),
            Scope::Assignment { .. } => false,
        }
    }
}

/// An actor whose role and scope fit together; see [`Actor::new`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "RawActor")]
pub struct Actor {
    id: ActorId,
    role: Role,
    scope: Scope,
}

#[derive(Deserialize)]
struct RawActor {
    id: ActorId,
    role: Role,
    scope: Scope,
}

impl TryFrom<RawActor> for Actor {
    type Error = ActorError;
    fn try_from(r: RawActor) -> Result<Self, ActorError> {
        Actor::new(r.id, r.role, r.scope)
    }
}

/// A role and scope that do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActorError {
    /// Grid workers are scoped to exactly one grid.
    #[error("a grid worker's scope must be one grid (15-digit code), got {0}")]
    GridWorkerNotOnGrid(RegionCode),
    /// Mediators are scoped by assignment, everyone else by a region subtree.
    #[error("role {role} needs a {expected} scope")]
    ScopeKind {
        /// The role.
        role: Role,
        /// The scope kind it needs.
        expected: &'static str,
    },
}

impl Actor {
    /// Validates that the scope fits the role: grid workers on one grid, mediators by
    /// assignment, everyone else a region subtree.
    pub fn new(id: ActorId, role: Role, scope: Scope) -> Result<Actor, ActorError> {
        match (role, scope) {
            (Role::Mediator, Scope::Assignment { .. }) => {}
            (Role::Mediator, _) => {
                return Err(ActorError::ScopeKind {
                    role,
                    expected: "assignment",
                })
            }
            (_, Scope::Assignment { .. }) => {
                return Err(ActorError::ScopeKind {
                    role,
                    expected: "region subtree",
                })
            }
            (Role::GridWorker, Scope::Subtree(r)) if r.level() != Level::Grid => {
                return Err(ActorError::GridWorkerNotOnGrid(r))
            }
            _ => {}
        }
        Ok(Actor { id, role, scope })
    }

    /// The actor's id.
    pub fn id(&self) -> &ActorId {
        &self.id
    }

    /// The actor's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The actor's scope.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The unit the actor works for: the root of a subtree scope, or a mediator's organization.
    pub fn unit(&self) -> RegionCode {
        self.scope.region()
    }
}
