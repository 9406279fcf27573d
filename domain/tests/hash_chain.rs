//! Tamper evidence (DESIGN.md invariant 5): a record's hash covers every field but itself, so
//! changing any of them is noticed; records chain through `prev_hash`.

mod support;

use gridcase_domain::event::*;
use gridcase_domain::*;
use support::*;

/// A named change to apply to a copy of something.
type Mutation<T> = (&'static str, fn(&mut T));

fn full_header() -> EventHeader {
    EventHeader {
        event_id: EventId::derive(&case_id(), &CommandId::new("cmd-1").unwrap(), 0),
        case_id: case_id(),
        case_version: 3,
        occurred_at: t0(),
        recorded_at: t0().plus_millis(250),
        actor: grid_worker(grid1()),
        command_id: CommandId::new("cmd-1").unwrap(),
        correlation_id: Some(CorrelationId::new("corr-1").unwrap()),
        causation_id: Some(CorrelationId::new("cause-1").unwrap()),
    }
}

fn event() -> Event {
    report(grid1()).event(grid1())
}

fn sealed() -> EventRecord {
    EventRecord::seal(full_header(), &event(), Hash::of(b"previous")).unwrap()
}

#[test]
fn a_sealed_record_verifies_and_sealing_is_deterministic() {
    let r = sealed();
    assert!(r.verify_hash());
    assert_eq!(r.compute_hash().unwrap(), r.hash);
    assert_eq!(sealed(), r);
    assert_ne!(r.hash, Hash::ZERO);
    let round = EventRecord::from_bytes(&r.to_bytes().unwrap()).unwrap();
    assert_eq!(round, r);
    assert!(round.verify_hash());
}

#[test]
fn changing_any_header_field_breaks_the_hash() {
    let mutations: Vec<Mutation<EventHeader>> = vec![
        ("event_id", |h| h.event_id.0[15] ^= 1),
        ("case_id", |h| h.case_id = CaseId::new("c2").unwrap()),
        ("case_version", |h| h.case_version += 1),
        ("occurred_at", |h| {
            h.occurred_at = h.occurred_at.plus_millis(1)
        }),
        ("recorded_at", |h| {
            h.recorded_at = h.recorded_at.plus_millis(-1)
        }),
        ("actor id", |h| h.actor = grid_worker(grid2())),
        ("actor role", |h| {
            let scope = *h.actor.scope();
            h.actor = Actor::new(h.actor.id().clone(), Role::UnitStaff, scope).unwrap();
        }),
        ("actor scope", |h| {
            let id = h.actor.id().clone();
            h.actor = Actor::new(id, Role::GridWorker, Scope::Subtree(grid2())).unwrap();
        }),
        ("command_id", |h| {
            h.command_id = CommandId::new("cmd-2").unwrap()
        }),
        ("correlation_id removed", |h| h.correlation_id = None),
        ("correlation_id changed", |h| {
            h.correlation_id = Some(CorrelationId::new("corr-2").unwrap())
        }),
        ("causation_id removed", |h| h.causation_id = None),
        ("causation_id changed", |h| {
            h.causation_id = Some(CorrelationId::new("cause-2").unwrap())
        }),
    ];
    for (field, mutate) in mutations {
        let mut r = sealed();
        mutate(&mut r.header);
        assert_ne!(
            r.header,
            full_header(),
            "{field}: the mutation changed nothing"
        );
        assert!(
            !r.verify_hash(),
            "{field}: changed but the hash still verifies"
        );
    }
}

#[test]
fn changing_the_type_version_or_previous_hash_breaks_the_hash() {
    let mut r = sealed();
    r.event_type = "CaseRegistered".into();
    assert!(!r.verify_hash(), "event_type");

    let mut r = sealed();
    r.schema_version += 1;
    assert!(!r.verify_hash(), "schema_version");

    for i in 0..32 {
        let mut r = sealed();
        r.prev_hash.0[i] ^= 0x80;
        assert!(!r.verify_hash(), "prev_hash byte {i}");
    }
    let mut r = sealed();
    r.prev_hash = Hash::ZERO;
    assert!(!r.verify_hash(), "prev_hash zeroed");

    for i in 0..32 {
        let mut r = sealed();
        r.hash.0[i] ^= 1;
        assert!(!r.verify_hash(), "hash byte {i}");
    }
}

#[test]
fn changing_any_body_byte_breaks_the_hash() {
    let original = sealed();
    assert!(original.body.len() > 50);
    for i in 0..original.body.len() {
        for bit in [0x01u8, 0x80] {
            let mut r = original.clone();
            r.body[i] ^= bit;
            assert!(!r.verify_hash(), "body byte {i} ^ {bit:#x}");
        }
    }
    let mut r = original.clone();
    r.body.push(0);
    assert!(!r.verify_hash(), "a byte appended to the body");
    let mut r = original;
    r.body.pop();
    assert!(!r.verify_hash(), "a byte removed from the body");
}

#[test]
fn resealing_a_changed_event_gives_a_different_hash() {
    let base = match event() {
        Event::CaseReported(e) => e,
        _ => unreachable!(),
    };
    let original = sealed().hash;
    let changes: Vec<Mutation<CaseReported>> = vec![
        ("kind", |e| e.kind = CaseKind::Incident),
        ("category", |e| e.category = Category::Labour),
        ("source", |e| e.source = Source::Hotline),
        ("severity", |e| e.severity = Severity::Urgent),
        ("location", |e| e.location = grid2()),
        ("received_by", |e| e.received_by = village1()),
        ("parties", |e| {
            e.parties.pop();
        }),
        ("party role", |e| e.parties[0].role = PartyRole::Reporter),
        ("summary", |e| {
            e.summary = format!("{}。", e.summary.to_clear_or_mark()).into()
        }),
        ("happened_at", |e| {
            e.happened_at = e.happened_at.plus_millis(1)
        }),
    ];
    for (field, change) in changes {
        let mut changed = base.clone();
        change(&mut changed);
        assert_ne!(changed, base, "{field}: the change changed nothing");
        let r = EventRecord::seal(full_header(), &changed.into(), Hash::of(b"previous")).unwrap();
        assert!(r.verify_hash());
        assert_ne!(r.hash, original, "{field}: same hash for a different event");
    }
    // The same event chained to another predecessor is another record.
    let r = EventRecord::seal(full_header(), &event(), Hash::of(b"another")).unwrap();
    assert_ne!(r.hash, original);
}

#[test]
fn a_history_is_a_chain_and_a_rewritten_link_shows() {
    let mut h = History::default();
    for event in h_closed(grid1()) {
        h.append(&history_actor(), t0(), &[event]);
    }
    assert_eq!(h.records[0].prev_hash, Hash::ZERO);
    for (i, pair) in h.records.windows(2).enumerate() {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "link {}→{}", i + 1, i + 2);
        assert_eq!(pair[1].header.case_version, pair[0].header.case_version + 1);
    }
    assert!(h.records.iter().all(EventRecord::verify_hash));
    assert_eq!(h.state.last_hash, h.records.last().unwrap().hash);

    // Rewriting a middle event and resealing it keeps that record self-consistent, but its
    // successor no longer links to it.
    let mut forged = h.records.clone();
    let forged_event: Event = registered(grid2());
    forged[1] =
        EventRecord::seal(forged[1].header.clone(), &forged_event, forged[1].prev_hash).unwrap();
    assert!(forged[1].verify_hash());
    assert_ne!(forged[2].prev_hash, forged[1].hash);
}
