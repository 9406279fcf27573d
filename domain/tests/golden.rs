//! Old data keeps decoding (DESIGN.md invariant 6): golden files of every released schema
//! version of every event type, decoded by every build forever.
//!
//! `tests/golden/<EventType>/v<N>.msgpack` holds the bytes of one sealed [`EventRecord`]
//! ([`EventRecord::to_bytes`]) of the fixed example event of that type at schema version `N`,
//! with the fixed header [`header`] and previous hash [`prev_hash`]. Each type has its own
//! current version ([`Event::current_version`]), so one type can gain `v2.msgpack` while the
//! others stay at `v1.msgpack`.
//!
//! - A missing file for a type's current version fails the tests; write it with
//!   `GRIDCASE_BLESS=1 cargo test -p gridcase-domain --test golden`.
//! - An existing file is never overwritten: if today's encoding of the example differs from
//!   the file, the test fails even when blessing. That is a schema change: bump that type's
//!   version, register an upcaster for the old one, keep the old file, say what it decodes to
//!   in [`old_versions`] and bless the new version's file (the recipe is in
//!   `gridcase_domain::record`).
//!
//! Also here: the upcasting hook and the typed errors for records this build cannot read.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gridcase_domain::event::*;
use gridcase_domain::*;

const BLESS_VAR: &str = "GRIDCASE_BLESS";

fn golden_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
}

fn golden_file(type_name: &str, version: u16) -> PathBuf {
    golden_root()
        .join(type_name)
        .join(format!("v{version}.msgpack"))
}

fn current_version(type_name: &str) -> u16 {
    Event::current_version(type_name).unwrap_or_else(|| panic!("unknown event type {type_name}"))
}

fn blessing() -> bool {
    std::env::var_os(BLESS_VAR).is_some_and(|v| v == "1")
}

fn code(s: &str) -> RegionCode {
    s.parse().unwrap()
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn aid(s: &str) -> ActorId {
    ActorId::new(s).unwrap()
}

/// The header of every golden record. Literal values only: nothing derived by code that
/// might change.
fn header() -> EventHeader {
    EventHeader {
        event_id: EventId::from_hex("00112233445566778899aabbccddeeff").unwrap(),
        case_id: CaseId::new("330802-2026-000042").unwrap(),
        case_version: 7,
        occurred_at: ts("2026-03-02T02:00:00Z"),
        recorded_at: ts("2026-03-02T02:00:01.500Z"),
        actor: Actor::new(
            aid("staff-42"),
            Role::UnitStaff,
            Scope::Subtree(code("330802005")),
        )
        .unwrap(),
        command_id: CommandId::new("cmd:golden-1").unwrap(),
        correlation_id: Some(CorrelationId::new("corr-1").unwrap()),
        causation_id: Some(CorrelationId::new("cause-1").unwrap()),
    }
}

fn prev_hash() -> Hash {
    Hash::of(b"gridcase golden: the previous event")
}

/// One fully populated example of every event type at its current schema version: every
/// `Option` is `Some`, every list non-empty, every text non-ASCII, so every field is on the
/// wire.
fn examples() -> Vec<Event> {
    let grid = code("330802005001007");
    let village = code("330802005001");
    let town = code("330802005");
    let due = ts("2026-03-17T02:00:00Z");
    vec![
        CaseReported {
            kind: CaseKind::Dispute,
            category: Category::HousingHomestead,
            source: Source::GridPatrol,
            severity: Severity::Urgent,
            location: grid,
            received_by: grid,
            parties: vec![
                Party {
                    id: PartyId::new("p-1").unwrap(),
                    role: PartyRole::Applicant,
                },
                Party {
                    id: PartyId::new("p-2").unwrap(),
                    role: PartyRole::Respondent,
                },
                Party {
                    id: PartyId::new("p-3").unwrap(),
                    role: PartyRole::ThirdParty,
                },
                Party {
                    id: PartyId::new("p-4").unwrap(),
                    role: PartyRole::Reporter,
                },
            ],
            summary: "宅基地界址纠纷，双方争执不下".into(),
            happened_at: ts("2026-03-01T23:30:00Z"),
        }
        .into(),
        CaseRegistered {
            unit: village,
            level: Level::Village,
            deadline: Some(due),
        }
        .into(),
        CaseRejected {
            reason: RejectReason::Duplicate,
            note: "与第41号案件重复".into(),
        }
        .into(),
        CaseAssigned {
            unit: village,
            handler: aid("handler-7"),
            deadline: due,
        }
        .into(),
        CaseEscalated {
            from: grid,
            to: town,
            to_level: Level::Township,
            reason: "涉及多方，需乡镇协调".into(),
            deadline: due,
        }
        .into(),
        CaseDelegated {
            from: town,
            to: village,
            to_level: Level::Village,
            reason: "属地处置".into(),
            deadline: due,
        }
        .into(),
        CaseReferred {
            target: ReferralTarget::Court,
            body: "柯城区人民法院".into(),
            reason: "当事人坚持诉讼".into(),
        }
        .into(),
        ReferralReturned {
            unit: village,
            reason: "诉前调解".into(),
            deadline: due,
        }
        .into(),
        MediationStarted {
            mediation_type: MediationType::People,
            mediator: aid("med-9"),
            organization: town,
            deadline: due,
        }
        .into(),
        MediationSessionHeld {
            session: 2,
            summary: "第二次调解，双方让步".into(),
        }
        .into(),
        MediationConcluded {
            outcome: MediationOutcome::Agreement,
            note: "签订调解协议书".into(),
        }
        .into(),
        CaseResolved {
            method: ResolutionMethod::MediatedAgreement,
            level: Level::Township,
            unit: town,
            by: aid("handler-7"),
            on_time: true,
            summary: "调解成功".into(),
        }
        .into(),
        ResolutionVerified {
            note: "回访核实".into(),
        }
        .into(),
        ResolutionRejected {
            reason: "协议条款不明确".into(),
            deadline: due,
        }
        .into(),
        CaseClosed { on_the_spot: true }.into(),
        FeedbackRecorded {
            satisfaction: Satisfaction::BasicallySatisfied,
            comment: "基本满意".into(),
        }
        .into(),
        CaseReopened {
            reason: ReopenReason::AgreementNotHonoured,
            note: "一方未履行协议".into(),
            unit: town,
            deadline: due,
        }
        .into(),
        DeadlineExtended {
            previous: due,
            deadline: ts("2026-03-24T02:00:00Z"),
            reason: "需鉴定".into(),
        }
        .into(),
        SupervisionIssued {
            by_unit: code("330802"),
            overdue: true,
            note: "限期办结".into(),
        }
        .into(),
        NoteAdded {
            text: "已电话联系双方".into(),
        }
        .into(),
        EvidenceAttached {
            content_hash: Hash::of(b"photo of the boundary stone"),
            media_type: "image/jpeg".into(),
            description: "界桩照片".into(),
        }
        .into(),
        CaseMerged {
            into: CaseId::new("330802-2026-000041").unwrap(),
            reason: "重复上报".into(),
        }
        .into(),
        CaseDetailsCorrected {
            kind: Some(CaseKind::Incident),
            category: Some(Category::ForestLand),
            source: Some(Source::Hotline),
            severity: Some(Severity::Critical),
            location: Some(code("330802005001008")),
            summary: Some("山林权属纠纷".into()),
            reason: "录入错误".into(),
        }
        .into(),
        CaseTakenOver {
            from: village,
            to: town,
            to_level: Level::Township,
            reason: "群众多次反映未果，乡镇提级领办".into(),
            deadline: due,
        }
        .into(),
        PartyAdded {
            party: Party {
                id: PartyId::new("p-0003").unwrap(),
                role: PartyRole::ThirdParty,
            },
        }
        .into(),
    ]
}

fn example(type_name: &str) -> Event {
    examples()
        .into_iter()
        .find(|e| e.type_name() == type_name)
        .unwrap_or_else(|| panic!("no example for {type_name}: add one to examples()"))
}

/// What the golden files of old versions decode to today, upcast to their type's current
/// version: (type, old version, event). Every old version of every type has an entry: when a
/// type's schema changes, the example of its old file moves here in its upcast form.
fn old_versions() -> Vec<(&'static str, u16, Event)> {
    vec![
        // v1 had no deadline: its clock started at assignment.
        (
            "CaseRegistered",
            1,
            CaseRegistered {
                unit: code("330802005001"),
                level: Level::Village,
                deadline: None,
            }
            .into(),
        ),
    ]
}

/// What the golden file of `type_name` at `version` decodes to.
fn expected_decoding(type_name: &str, version: u16) -> Event {
    if version == current_version(type_name) {
        return example(type_name);
    }
    old_versions()
        .into_iter()
        .find(|(t, v, _)| (*t, *v) == (type_name, version))
        .map(|(_, _, event)| event)
        .unwrap_or_else(|| {
            panic!("{type_name} v{version}: say what it decodes to in old_versions()")
        })
}

fn sealed_example(type_name: &str) -> EventRecord {
    EventRecord::seal(header(), &example(type_name), prev_hash()).unwrap()
}

/// The golden bytes of `type_name` at `version`. When blessing, a missing file of the type's
/// current version is written first; an existing file is never touched.
fn golden_bytes(type_name: &str, version: u16) -> Vec<u8> {
    static WRITE: Mutex<()> = Mutex::new(());
    let path = golden_file(type_name, version);
    let _guard = WRITE.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() && blessing() && version == current_version(type_name) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, sealed_example(type_name).to_bytes().unwrap()).unwrap();
        eprintln!("blessed new golden file {}", path.display());
    }
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read golden file {}: {e}\nwrite missing files with `{BLESS_VAR}=1 cargo test -p gridcase-domain --test golden`",
            path.display()
        )
    })
}

/// The versions that have a golden file for `type_name`, in order.
fn golden_versions(type_name: &str) -> Vec<u16> {
    let dir = golden_root().join(type_name);
    let mut versions: Vec<u16> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_prefix('v')
                .and_then(|n| n.strip_suffix(".msgpack"))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{type_name}/{name}: not a v<N>.msgpack golden file"))
        })
        .collect();
    versions.sort_unstable();
    versions
}

#[test]
fn there_is_one_example_per_event_type() {
    let names: Vec<&str> = examples().iter().map(Event::type_name).collect();
    assert_eq!(names, Event::TYPE_NAMES);
    for e in examples() {
        assert_eq!(e.schema_version(), current_version(e.type_name()));
    }
}

#[test]
fn every_event_type_has_a_golden_file_at_its_current_version() {
    for name in Event::TYPE_NAMES {
        golden_bytes(name, current_version(name));
    }
}

/// One directory per event type, holding `v1.msgpack` up to the type's current version
/// without gaps: every released version keeps its file.
#[test]
fn the_golden_files_are_every_released_version_of_every_type() {
    for name in Event::TYPE_NAMES {
        golden_bytes(name, current_version(name));
    }
    let mut dirs: Vec<String> = std::fs::read_dir(golden_root())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    dirs.sort();
    let mut types: Vec<String> = Event::TYPE_NAMES.iter().map(|n| n.to_string()).collect();
    types.sort();
    assert_eq!(dirs, types, "exactly one golden directory per event type");
    for name in Event::TYPE_NAMES {
        let released: Vec<u16> = (1..=current_version(name)).collect();
        assert_eq!(golden_versions(name), released, "{name}");
    }
    for (name, version, _) in old_versions() {
        assert!(
            version < current_version(name),
            "old_versions() lists {name} v{version}, its current version"
        );
    }
}

/// Every golden file of every type and version decodes, old versions through this build's
/// upcasters, to the expected event; the hash still verifies over the bytes as stored.
#[test]
fn every_golden_file_decodes_forever() {
    let mut files = 0;
    for name in Event::TYPE_NAMES {
        for version in golden_versions(name) {
            let at = format!("{name} v{version}");
            let bytes = golden_bytes(name, version);
            let record = EventRecord::from_bytes(&bytes).unwrap_or_else(|e| panic!("{at}: {e}"));
            assert!(
                record.verify_hash(),
                "{at}: the stored hash no longer matches"
            );
            assert_eq!(record.event_type, *name);
            assert_eq!(record.schema_version, version, "{at}: schema version");
            assert_eq!(record.header, header(), "{at}: header");
            assert_eq!(record.prev_hash, prev_hash(), "{at}: prev_hash");
            assert_eq!(
                record.decode().unwrap_or_else(|e| panic!("{at}: {e}")),
                expected_decoding(name, version),
                "{at}"
            );
            let envelope = Envelope::try_from(&record).unwrap();
            assert_eq!(envelope.hash, record.hash);
            files += 1;
        }
    }
    assert!(files >= Event::TYPE_NAMES.len());
}

/// Today's encoding of each example is byte-for-byte its golden file at the type's current
/// version: a body or header change without a schema bump fails here.
#[test]
fn the_current_encoding_matches_the_golden_files() {
    for name in Event::TYPE_NAMES {
        let version = current_version(name);
        let stored = golden_bytes(name, version);
        let fresh = sealed_example(name).to_bytes().unwrap();
        assert!(
            stored == fresh,
            "the encoding of {name} v{version} changed: the golden file is not overwritten.\n\
             If the change is intended, bump {name}'s version in the events! list, add an \
             upcaster for the old version and bless the new version's file."
        );
    }
}

// --- upcasting ---------------------------------------------------------------------------------

/// A hand-made schema version 0 of `CaseResolved`: no `on_time`, no `by`, the summary called
/// `note`.
#[derive(serde::Serialize, serde::Deserialize)]
struct CaseResolvedV0 {
    method: ResolutionMethod,
    level: Level,
    unit: RegionCode,
    note: String,
}

/// Upcasts `CaseResolved` v0 to v1: unknown timeliness counts as on time, the resolver is
/// the legacy system.
fn resolved_v0_to_v1(body: &[u8]) -> Result<Vec<u8>, String> {
    let v0: CaseResolvedV0 = rmp_serde::from_slice(body).map_err(|e| e.to_string())?;
    let v1 = CaseResolved {
        method: v0.method,
        level: v0.level,
        unit: v0.unit,
        by: ActorId::new("legacy").unwrap(),
        on_time: true,
        summary: v0.note.into(),
    };
    rmp_serde::to_vec_named(&v1).map_err(|e| e.to_string())
}

const RESOLVED_V0_TO_V1: Upcaster = Upcaster {
    event_type: CaseResolved::TYPE,
    from: 0,
    upcast: resolved_v0_to_v1,
};

/// Refuses the body it is given.
const FAILING: Upcaster = Upcaster {
    event_type: CaseResolved::TYPE,
    from: 0,
    upcast: |_| Err("corrupt legacy body".into()),
};

/// A record as an old build would have written it: the hash covers the stored v0 bytes.
fn v0_record() -> EventRecord {
    let body = rmp_serde::to_vec_named(&CaseResolvedV0 {
        method: ResolutionMethod::OnTheSpot,
        level: Level::Grid,
        unit: code("330802005001007"),
        note: "现场化解".into(),
    })
    .unwrap();
    let mut record = EventRecord {
        header: header(),
        event_type: "CaseResolved".into(),
        schema_version: 0,
        body,
        prev_hash: prev_hash(),
        hash: Hash::ZERO,
    };
    record.hash = record.compute_hash().unwrap();
    record
}

#[test]
fn an_old_body_is_upcast_on_decode_and_its_hash_still_verifies() {
    let record = EventRecord::from_bytes(&v0_record().to_bytes().unwrap()).unwrap();
    assert!(
        record.verify_hash(),
        "the hash covers the bytes as stored, not the upcast"
    );
    let event = record.decode_with(&[RESOLVED_V0_TO_V1]).unwrap();
    assert_eq!(
        event,
        CaseResolved {
            method: ResolutionMethod::OnTheSpot,
            level: Level::Grid,
            unit: code("330802005001007"),
            by: ActorId::new("legacy").unwrap(),
            on_time: true,
            summary: "现场化解".into(),
        }
        .into()
    );
    // Decoding changed nothing stored.
    assert_eq!(record, v0_record());
}

#[test]
fn an_old_body_without_an_upcaster_is_a_typed_error() {
    match v0_record().decode() {
        Err(CodecError::UnsupportedVersion {
            event_type,
            schema_version,
            current,
        }) => {
            assert_eq!(
                (event_type.as_str(), schema_version, current),
                ("CaseResolved", 0, CaseResolved::VERSION)
            );
        }
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
    // An upcaster for another type, or for another version of this one, does not apply.
    for other in [
        Upcaster {
            event_type: NoteAdded::TYPE,
            ..RESOLVED_V0_TO_V1
        },
        Upcaster {
            from: 1,
            ..RESOLVED_V0_TO_V1
        },
    ] {
        assert!(matches!(
            v0_record().decode_with(&[other]),
            Err(CodecError::UnsupportedVersion { .. })
        ));
    }
}

#[test]
fn a_failing_upcaster_is_a_typed_error() {
    match v0_record().decode_with(&[FAILING]) {
        Err(CodecError::Upcast {
            event_type,
            from,
            reason,
        }) => {
            assert_eq!(
                (event_type.as_str(), from, reason.as_str()),
                ("CaseResolved", 0, "corrupt legacy body")
            );
        }
        other => panic!("expected Upcast, got {other:?}"),
    }
}

#[test]
fn a_too_new_schema_version_is_a_typed_error() {
    let mut record = sealed_example("NoteAdded");
    record.schema_version = NoteAdded::VERSION + 1;
    let for_every_version: Vec<Upcaster> = (0..=record.schema_version)
        .map(|from| Upcaster {
            event_type: NoteAdded::TYPE,
            from,
            upcast: |_| Err("not asked".into()),
        })
        .collect();
    match record.decode_with(&for_every_version) {
        Err(CodecError::UnsupportedVersion {
            event_type,
            schema_version,
            current,
        }) => {
            assert_eq!(event_type, "NoteAdded");
            assert_eq!(
                (schema_version, current),
                (NoteAdded::VERSION + 1, NoteAdded::VERSION)
            );
        }
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
}

#[test]
fn an_unknown_event_type_is_a_typed_error() {
    let mut record = sealed_example("NoteAdded");
    record.event_type = "CaseTeleported".into();
    match record.decode() {
        Err(CodecError::UnknownType(name)) => assert_eq!(name, "CaseTeleported"),
        other => panic!("expected UnknownType, got {other:?}"),
    }
}

#[test]
fn a_body_that_does_not_fit_its_type_is_a_typed_error() {
    // A NoteAdded body declared as a CaseClosed.
    let mut record = sealed_example("NoteAdded");
    record.event_type = "CaseClosed".into();
    match record.decode() {
        Err(CodecError::Body {
            event_type,
            schema_version,
            ..
        }) => {
            assert_eq!((event_type.as_str(), schema_version), ("CaseClosed", 1));
        }
        other => panic!("expected Body, got {other:?}"),
    }
    let mut record = sealed_example("CaseReported");
    record.body.truncate(record.body.len() / 2);
    assert!(matches!(record.decode(), Err(CodecError::Body { .. })));
}

#[test]
fn a_truncated_or_garbled_record_is_a_record_error_not_a_panic() {
    let bytes = golden_bytes("CaseReported", 1);
    for len in 0..bytes.len() {
        match EventRecord::from_bytes(&bytes[..len]) {
            Err(CodecError::Record(_)) => {}
            other => panic!("prefix of {len} bytes: expected CodecError::Record, got {other:?}"),
        }
    }
    for garbage in [
        &b"\xff\xff\xff"[..],
        b"not msgpack at all",
        &[0x80],
        &[0x93, 0x01, 0x02, 0x03],
    ] {
        assert!(
            matches!(EventRecord::from_bytes(garbage), Err(CodecError::Record(_))),
            "{garbage:?}"
        );
    }
}

#[test]
fn trailing_bytes_after_a_record_are_refused() {
    let mut bytes = golden_bytes("NoteAdded", 1);
    assert!(EventRecord::from_bytes(&bytes).is_ok());
    bytes.push(0xc0);
    assert!(matches!(
        EventRecord::from_bytes(&bytes),
        Err(CodecError::Record(_))
    ));
}

/// `CaseRegistered` v1 (before the clock started at registration) still decodes, upcast to the
/// current version with no deadline: the old meaning, a clock that starts at assignment.
#[test]
fn case_registered_v1_decodes_without_a_deadline() {
    let record = EventRecord::from_bytes(&golden_bytes("CaseRegistered", 1)).unwrap();
    assert_eq!(record.schema_version, 1);
    assert!(record.verify_hash());
    match record.decode().unwrap() {
        Event::CaseRegistered(e) => {
            assert_eq!(e.deadline, None);
            assert_eq!((e.unit, e.level), (code("330802005001"), Level::Village));
        }
        other => panic!("expected CaseRegistered, got {other:?}"),
    }
    const { assert!(CaseRegistered::VERSION >= 2) };
}
