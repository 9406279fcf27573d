//! Redaction for analysts' exports: no personal data, no free text (DESIGN.md invariant 8).
//!
//! Every event type is decided explicitly — an allow-list per type, so a field added to an
//! event later is withheld until someone decides otherwise, and a new event type does not
//! compile until it is handled here. Withheld, per type ([`WITHHELD`]):
//!
//! | event | withheld | why |
//! |---|---|---|
//! | CaseReported | `parties` (ids; their roles and count are kept), `summary` | party ids link to personal data; free text |
//! | CaseRejected | `note` | free text |
//! | CaseAssigned | `handler` | a staff member's identity |
//! | CaseEscalated, CaseDelegated, CaseTakenOver | `reason` | free text |
//! | CaseReferred | `body`, `reason` | the outside body's name is free text; free text |
//! | ReferralReturned | `reason` | free text |
//! | MediationStarted | `mediator` | a person's identity |
//! | MediationSessionHeld | `summary` | free text |
//! | MediationConcluded | `note` | free text (the terms of an agreement) |
//! | CaseResolved | `by`, `summary` | a person's identity; free text |
//! | ResolutionVerified | `note` | free text |
//! | ResolutionRejected | `reason` | free text |
//! | FeedbackRecorded | `comment` | free text |
//! | CaseReopened | `note` | free text (the structured `reason` is kept) |
//! | DeadlineExtended | `reason` | free text |
//! | SupervisionIssued | `note` | free text |
//! | NoteAdded | `text` | free text |
//! | EvidenceAttached | `content_hash`, `description` | identifies the content (photos of people); free text |
//! | CaseMerged | `reason` | free text |
//! | CaseDetailsCorrected | `summary` (whether it was corrected is kept), `reason` | free text |
//! | PartyAdded | `party.id` (its role is kept) | a party id links to personal data |
//! | CaseRegistered, CaseClosed | nothing | codes, levels and flags only |
//!
//! In the header, the actor's id, the command id and the correlation and causation ids are
//! withheld (people and client-chosen strings); the actor's role and unit are kept.

use gridcase_domain::Event;
use serde_json::{json, Value};

/// The fields of each event type's body that a redacted export withholds.
pub const WITHHELD: &[(&str, &[&str])] = &[
    ("CaseReported", &["parties", "summary"]),
    ("CaseRegistered", &[]),
    ("CaseRejected", &["note"]),
    ("CaseAssigned", &["handler"]),
    ("CaseEscalated", &["reason"]),
    ("CaseDelegated", &["reason"]),
    ("CaseReferred", &["body", "reason"]),
    ("ReferralReturned", &["reason"]),
    ("MediationStarted", &["mediator"]),
    ("MediationSessionHeld", &["summary"]),
    ("MediationConcluded", &["note"]),
    ("CaseResolved", &["by", "summary"]),
    ("ResolutionVerified", &["note"]),
    ("ResolutionRejected", &["reason"]),
    ("CaseClosed", &[]),
    ("FeedbackRecorded", &["comment"]),
    ("CaseReopened", &["note"]),
    ("DeadlineExtended", &["reason"]),
    ("SupervisionIssued", &["note"]),
    ("NoteAdded", &["text"]),
    ("EvidenceAttached", &["content_hash", "description"]),
    ("CaseMerged", &["reason"]),
    ("CaseDetailsCorrected", &["summary", "reason"]),
    ("CaseTakenOver", &["reason"]),
    ("PartyAdded", &["party"]),
];

/// Fields a redacted body adds in place of withheld ones.
pub const DERIVED: &[&str] = &[
    "party_count",
    "party_roles",
    "party_role",
    "summary_corrected",
];

/// The facts of an event with personal data and free text left out.
pub fn facts(event: &Event) -> Value {
    match event {
        Event::CaseReported(e) => json!({
            "kind": e.kind,
            "category": e.category,
            "source": e.source,
            "severity": e.severity,
            "location": e.location,
            "received_by": e.received_by,
            "happened_at": e.happened_at,
            "party_count": e.parties.len(),
            "party_roles": e.parties.iter().map(|p| p.role).collect::<Vec<_>>(),
        }),
        Event::CaseRegistered(e) => json!({
            "unit": e.unit, "level": e.level, "deadline": e.deadline,
        }),
        Event::CaseRejected(e) => json!({ "reason": e.reason }),
        Event::CaseAssigned(e) => json!({ "unit": e.unit, "deadline": e.deadline }),
        Event::CaseEscalated(e) => json!({
            "from": e.from, "to": e.to, "to_level": e.to_level, "deadline": e.deadline,
        }),
        Event::CaseDelegated(e) => json!({
            "from": e.from, "to": e.to, "to_level": e.to_level, "deadline": e.deadline,
        }),
        Event::CaseReferred(e) => json!({ "target": e.target }),
        Event::ReferralReturned(e) => json!({ "unit": e.unit, "deadline": e.deadline }),
        Event::MediationStarted(e) => json!({
            "mediation_type": e.mediation_type,
            "organization": e.organization,
            "deadline": e.deadline,
        }),
        Event::MediationSessionHeld(e) => json!({ "session": e.session }),
        Event::MediationConcluded(e) => json!({ "outcome": e.outcome }),
        Event::CaseResolved(e) => json!({
            "method": e.method, "level": e.level, "unit": e.unit, "on_time": e.on_time,
        }),
        Event::ResolutionVerified(_) => json!({}),
        Event::ResolutionRejected(e) => json!({ "deadline": e.deadline }),
        Event::CaseClosed(e) => json!({ "on_the_spot": e.on_the_spot }),
        Event::FeedbackRecorded(e) => json!({ "satisfaction": e.satisfaction }),
        Event::CaseReopened(e) => json!({
            "reason": e.reason, "unit": e.unit, "deadline": e.deadline,
        }),
        Event::DeadlineExtended(e) => json!({ "previous": e.previous, "deadline": e.deadline }),
        Event::SupervisionIssued(e) => json!({ "by_unit": e.by_unit, "overdue": e.overdue }),
        Event::NoteAdded(_) => json!({}),
        Event::EvidenceAttached(e) => json!({ "media_type": e.media_type }),
        Event::CaseMerged(e) => json!({ "into": e.into }),
        Event::CaseDetailsCorrected(e) => json!({
            "kind": e.kind,
            "category": e.category,
            "source": e.source,
            "severity": e.severity,
            "location": e.location,
            "summary_corrected": e.summary.is_some(),
        }),
        Event::CaseTakenOver(e) => json!({
            "from": e.from, "to": e.to, "to_level": e.to_level, "deadline": e.deadline,
        }),
        Event::PartyAdded(e) => json!({ "party_role": e.party.role }),
    }
}

/// The withheld fields of an event type.
pub fn withheld(event_type: &str) -> Option<&'static [&'static str]> {
    WITHHELD
        .iter()
        .find(|(t, _)| *t == event_type)
        .map(|(_, f)| *f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridcase_fixtures::Scale;

    #[test]
    fn every_event_type_is_decided() {
        let types: Vec<&str> = WITHHELD.iter().map(|(t, _)| *t).collect();
        assert_eq!(types, Event::TYPE_NAMES);
    }

    /// Every field of every body is either kept or withheld, never both, never neither.
    #[test]
    fn every_field_is_kept_or_withheld() {
        let mut seen = std::collections::BTreeSet::new();
        for g in Scale::Tiny.generator(1) {
            for r in &g.events {
                let ev = r.decode().unwrap();
                let full = serde_json::to_value(&ev).unwrap();
                let red = facts(&ev);
                let full = full.as_object().unwrap();
                let red = red.as_object().unwrap();
                let out = withheld(&r.event_type).unwrap();
                for k in full.keys() {
                    assert!(
                        red.contains_key(k) != out.contains(&k.as_str()),
                        "{} field {k}: kept and withheld must be exclusive",
                        r.event_type
                    );
                }
                for k in red.keys() {
                    assert!(
                        full.contains_key(k) || DERIVED.contains(&k.as_str()),
                        "{} field {k} is invented",
                        r.event_type
                    );
                }
                seen.insert(r.event_type.clone());
            }
        }
        assert!(
            seen.len() >= 10,
            "the tiny fixture exercises most types: {seen:?}"
        );
    }
}
