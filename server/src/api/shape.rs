//! Response bodies shaped from the read models.

use gridcase_domain::Timestamp;
use gridcase_projections::CaseEntry;
use serde_json::{json, Value};

/// The case view: the folded state with its position and overdue flag.
pub fn case_json(e: &CaseEntry, now: Timestamp) -> Value {
    json!({
        "case_id": e.state.id,
        "version": e.state.version,
        "position": e.position,
        "updated_at": e.updated_at,
        "status": e.state.status,
        "overdue": e.state.is_overdue(now),
        "holder_level": e.state.holder_level(),
        "case": e.state,
    })
}

/// One row of a queue or an open-cases list.
pub fn queue_item(e: &CaseEntry, now: Timestamp) -> Value {
    let d = e.state.details.as_ref();
    json!({
        "case_id": e.state.id,
        "status": e.state.status,
        "holder": e.state.holder,
        "holder_level": e.state.holder_level(),
        "handler": e.state.handler,
        "deadline": e.state.deadline,
        "overdue": e.state.is_overdue(now),
        "supervised": e.state.supervisions > 0,
        "kind": d.map(|d| d.kind),
        "category": d.map(|d| d.category),
        "severity": d.map(|d| d.severity),
        "version": e.state.version,
    })
}
