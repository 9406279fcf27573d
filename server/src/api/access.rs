//! Who may read what: a case (its identity and history), a unit's queue, statistics; and the
//! audit log of auditors' reads. The API and the workbench both ask here.

use gridcase_domain::{Actor, CaseState, RegionCode, Role, Scope};
use gridcase_projections::Visibility;

use crate::error::ApiError;

/// Whether `actor` may read this case (its identity and history): see
/// [`CaseState::readable_by`].
pub fn may_read_case(actor: &Actor, s: &CaseState) -> bool {
    s.readable_by(actor)
}

/// What a reader may see in lists: analysts see no cases at all.
pub fn visibility(actor: &Actor) -> Result<Visibility, ApiError> {
    match (actor.role(), actor.scope()) {
        (Role::Analyst, _) => Err(ApiError::Forbidden(
            "analysts read statistics only, not cases".into(),
        )),
        (Role::Mediator, _) => Ok(Visibility::Mediator(actor.id().clone())),
        (_, Scope::Subtree(root)) => Ok(Visibility::Subtree(*root)),
        (_, Scope::Assignment { .. }) => Ok(Visibility::Mediator(actor.id().clone())),
    }
}

/// Whether `actor` may read the queue or open cases of `unit`: 403 with the reason if not.
pub fn may_read_unit(actor: &Actor, unit: RegionCode) -> Result<(), ApiError> {
    match actor.role() {
        Role::Analyst => Err(ApiError::Forbidden("analysts read statistics only".into())),
        Role::Mediator => Err(ApiError::Forbidden(
            "mediators read the cases assigned to them".into(),
        )),
        _ if actor.scope().covers(unit) => Ok(()),
        _ => Err(ApiError::Forbidden(format!("{unit} is outside your scope"))),
    }
}

/// Whether `actor` may read the statistics of `region`: 403 with the reason if not. Everyone
/// reads the statistics of their own subtree (mediators: of their organization's region).
pub fn may_read_stats(actor: &Actor, region: RegionCode) -> Result<(), ApiError> {
    if actor.scope().covers(region) || actor.scope().region() == region {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "{region} is outside your scope"
        )))
    }
}

/// Records an auditor's read in the audit log (`gridcase::audit`).
pub fn audit(actor: &Actor, what: &str) {
    if actor.role() == Role::Auditor {
        tracing::info!(target: "gridcase::audit", auditor = %actor.id(), read = what, "auditor read");
    }
}
