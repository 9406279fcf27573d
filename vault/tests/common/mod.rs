//! Scenarios run against both backends, and a byte search of storage files.

#![allow(dead_code, missing_docs)]

use std::path::{Path, PathBuf};

use gridcase_domain::{ActorId, CaseId, PartyId, Role};
use gridcase_vault::{
    AccessFilter, Accessor, Action, Address, IdNumber, Lookup, MasterKey, PartyStatus, PersonName,
    PersonalData, Phone, Store, Vault, VaultError,
};

/// Opens fresh handles on one backend's storage.
pub trait Backend {
    /// A new handle on the same storage.
    fn store(&self) -> impl std::future::Future<Output = Store>;
    /// The directory whose every file must be free of erased data.
    fn root(&self) -> PathBuf;
    /// Makes sure everything written so far is in the files under `root` (a no-op where
    /// writes reach the files before they are acknowledged).
    fn settle(&self) -> impl std::future::Future<Output = ()> {
        async {}
    }
}

pub const NAME: &str = "王秀英";
pub const ID: &str = "11010519491231002X";
pub const PHONE: &str = "13812345678";
pub const ADDRESS: &str = "北京市东城区安定门内大街1号";
pub const OTHER_NAME: &str = "李建国";
pub const OTHER_ID: &str = "440524188001010014";

pub fn party(id: &str) -> PartyId {
    PartyId::new(id).unwrap()
}

pub fn case(id: &str) -> CaseId {
    CaseId::new(id).unwrap()
}

pub fn mediator() -> Accessor {
    Accessor::now(
        ActorId::new("mediator-1").unwrap(),
        Role::Mediator,
        "调解联系当事人",
    )
}

pub fn alice_data() -> PersonalData {
    PersonalData {
        name: Some(PersonName::new(NAME).unwrap()),
        id_number: Some(IdNumber::new(ID).unwrap()),
        phone: Some(Phone::new("+86 138-1234-5678").unwrap()),
        address: Some(Address::new(ADDRESS).unwrap()),
    }
}

pub fn bob_data() -> PersonalData {
    PersonalData {
        name: Some(PersonName::new(OTHER_NAME).unwrap()),
        id_number: Some(IdNumber::new(OTHER_ID).unwrap()),
        phone: Some(Phone::new("010-6552 9988").unwrap()),
        address: None,
    }
}

/// Every file under `root`, recursively.
pub fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// `(needle name, file)` for every needle found in any file under `root`. Each needle is
/// searched as raw bytes and, when it is binary, also as lowercase and uppercase hex.
pub fn search(root: &Path, needles: &[(&str, Vec<u8>)]) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for file in files(root) {
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        for (name, needle) in needles {
            let mut forms = vec![needle.clone()];
            if std::str::from_utf8(needle).is_err() {
                forms.push(hex::encode(needle).into_bytes());
                forms.push(hex::encode_upper(needle).into_bytes());
            }
            if forms
                .iter()
                .any(|form| bytes.windows(form.len()).any(|w| w == form.as_slice()))
            {
                found.push(((*name).to_owned(), file.clone()));
            }
        }
    }
    found
}

pub async fn round_trip(backend: &impl Backend) {
    let master = MasterKey::generate().unwrap();
    let vault = Vault::open(backend.store().await, master.clone())
        .await
        .unwrap();
    let alice = party("p-alice");
    let who = mediator();
    vault.put_party(&alice, &alice_data(), &who).await.unwrap();
    drop(vault);

    let vault = Vault::open(backend.store().await, master).await.unwrap();
    let view = vault.read_party(&alice, &who).await.unwrap();
    assert_eq!(view.name.as_ref().unwrap().expose(), NAME);
    assert_eq!(view.phone.as_ref().unwrap().expose(), PHONE);
    assert_eq!(view.address.as_ref().unwrap().expose(), ADDRESS);
    assert_eq!(view.id_number_masked.as_deref(), Some("110***********002X"));
    assert_eq!(
        vault.reveal_id_number(&alice, &who).await.unwrap().expose(),
        ID
    );
    assert_eq!(
        vault.party_status(&alice).await.unwrap(),
        PartyStatus::Present
    );
    assert_eq!(
        vault.party_status(&party("p-nobody")).await.unwrap(),
        PartyStatus::Unknown
    );
    assert!(matches!(
        vault.read_party(&party("p-nobody"), &who).await,
        Err(VaultError::UnknownParty(_))
    ));

    // Case free text: sealed, opened only under the same case and label.
    let c = case("C-2026-1");
    let sealed = vault
        .seal_case_text(&c, "summary", "王秀英与邻居因漏水纠纷")
        .await
        .unwrap();
    assert!(!sealed
        .as_bytes()
        .windows(3)
        .any(|w| w == &"王".as_bytes()[..3]));
    assert_eq!(
        &*vault
            .open_case_text(&c, "summary", &sealed, &who)
            .await
            .unwrap(),
        "王秀英与邻居因漏水纠纷"
    );
    assert!(matches!(
        vault.open_case_text(&c, "note", &sealed, &who).await,
        Err(VaultError::Tampered { .. })
    ));
    assert!(matches!(
        vault
            .open_case_text(&case("C-2026-2"), "summary", &sealed, &who)
            .await,
        Err(VaultError::UnknownCase(_))
    ));

    // Analysts never get personal data or free text, whatever they state.
    let analyst = Accessor::now(ActorId::new("analyst-1").unwrap(), Role::Analyst, "统计");
    assert!(matches!(
        vault.read_party(&alice, &analyst).await,
        Err(VaultError::Forbidden(Role::Analyst))
    ));
    assert!(matches!(
        vault.reveal_id_number(&alice, &analyst).await,
        Err(VaultError::Forbidden(Role::Analyst))
    ));
    assert!(matches!(
        vault
            .find_parties(&Lookup::IdNumber(IdNumber::new(ID).unwrap()), &analyst)
            .await,
        Err(VaultError::Forbidden(Role::Analyst))
    ));
    assert!(matches!(
        vault.open_case_text(&c, "summary", &sealed, &analyst).await,
        Err(VaultError::Forbidden(Role::Analyst))
    ));

    // A purpose is required.
    let mut nobody_knows_why = who.clone();
    nobody_knows_why.purpose = " ".into();
    assert!(matches!(
        vault.read_party(&alice, &nobody_knows_why).await,
        Err(VaultError::PurposeRequired)
    ));
}

pub async fn wrong_master_key_refused(backend: &impl Backend) {
    let master = MasterKey::generate().unwrap();
    let vault = Vault::open(backend.store().await, master.clone())
        .await
        .unwrap();
    vault
        .put_party(&party("p-alice"), &alice_data(), &mediator())
        .await
        .unwrap();
    drop(vault);
    let wrong = MasterKey::generate().unwrap();
    let err = Vault::open(backend.store().await, wrong.clone())
        .await
        .unwrap_err();
    match &err {
        VaultError::WrongMasterKey {
            expected,
            configured,
        } => {
            assert_eq!(expected, master.id());
            assert_eq!(configured, wrong.id());
        }
        other => panic!("expected WrongMasterKey, got {other:?}"),
    }
    assert!(err.to_string().contains("wrong master key"), "{err}");
    // The right key still opens it.
    let vault = Vault::open(backend.store().await, master).await.unwrap();
    vault
        .read_party(&party("p-alice"), &mediator())
        .await
        .unwrap();
}

pub async fn blind_index_after_normalisation(backend: &impl Backend) {
    let vault = Vault::open(backend.store().await, MasterKey::generate().unwrap())
        .await
        .unwrap();
    let who = mediator();
    let (alice, bob) = (party("p-alice"), party("p-bob"));
    let alice_again = party("p-alice-2");
    vault.put_party(&alice, &alice_data(), &who).await.unwrap();
    vault.put_party(&bob, &bob_data(), &who).await.unwrap();
    // The same person in a second dispute, entered differently.
    let second = PersonalData {
        name: Some(PersonName::new(" 王 秀英 ").unwrap()),
        id_number: Some(IdNumber::new("11010519491231002x").unwrap()),
        phone: Some(Phone::new("138 1234 5678").unwrap()),
        address: None,
    };
    vault.put_party(&alice_again, &second, &who).await.unwrap();

    let by_id = Lookup::IdNumber(IdNumber::new(" １１０１０５１９４９１２３１００２Ｘ").unwrap());
    assert_eq!(
        vault.find_parties(&by_id, &who).await.unwrap(),
        vec![alice.clone(), alice_again.clone()]
    );
    let by_phone = Lookup::Phone(Phone::new("0086 13812345678").unwrap());
    assert_eq!(
        vault.find_parties(&by_phone, &who).await.unwrap(),
        vec![alice.clone(), alice_again.clone()]
    );
    let by_name = Lookup::Name(PersonName::new("王秀英").unwrap());
    assert_eq!(
        vault.find_parties(&by_name, &who).await.unwrap(),
        vec![alice.clone(), alice_again.clone()]
    );
    let bob_by_phone = Lookup::Phone(Phone::new("01065529988").unwrap());
    assert_eq!(
        vault.find_parties(&bob_by_phone, &who).await.unwrap(),
        vec![bob.clone()]
    );
    // A phone number equal to nothing, and the ID digits searched as a phone: no match (the
    // field is part of the keyed hash).
    let nothing = Lookup::Phone(Phone::new("13900000000").unwrap());
    assert!(vault.find_parties(&nothing, &who).await.unwrap().is_empty());

    // Replacing a party's data moves its postings.
    let moved = PersonalData {
        phone: Some(Phone::new("13900000000").unwrap()),
        ..second
    };
    vault.put_party(&alice_again, &moved, &who).await.unwrap();
    assert_eq!(
        vault.find_parties(&by_phone, &who).await.unwrap(),
        vec![alice.clone()]
    );
    assert_eq!(
        vault.find_parties(&nothing, &who).await.unwrap(),
        vec![alice_again.clone()]
    );

    // Lookups are in the access log with what they found.
    let lookups = vault
        .access_log(&AccessFilter {
            action: Some(Action::Lookup),
            party: Some(alice_again.clone()),
            ..AccessFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(lookups.len(), 4, "{lookups:?}");
    assert!(lookups.iter().all(|e| e.matched.contains(&alice_again)));
}

pub async fn access_log_records_every_read(backend: &impl Backend) {
    let vault = Vault::open(backend.store().await, MasterKey::generate().unwrap())
        .await
        .unwrap();
    let alice = party("p-alice");
    let writer = mediator();
    vault
        .put_party(&alice, &alice_data(), &writer)
        .await
        .unwrap();
    let reader = Accessor::now(
        ActorId::new("mediator-2").unwrap(),
        Role::Mediator,
        "安排调解时间",
    );
    vault.read_party(&alice, &reader).await.unwrap();
    let revealer = Accessor::now(ActorId::new("head-1").unwrap(), Role::UnitStaff, "核实身份");
    vault.reveal_id_number(&alice, &revealer).await.unwrap();
    let c = case("C-1");
    let sealed = vault.seal_case_text(&c, "summary", "text").await.unwrap();
    vault
        .open_case_text(&c, "summary", &sealed, &reader)
        .await
        .unwrap();

    let about_alice = vault
        .access_log(&AccessFilter {
            party: Some(alice.clone()),
            ..AccessFilter::default()
        })
        .await
        .unwrap();
    let summary: Vec<(Action, &str, Role, &str)> = about_alice
        .iter()
        .map(|e| (e.action, e.actor.as_str(), e.role, e.purpose.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                Action::Write,
                "mediator-1",
                Role::Mediator,
                "调解联系当事人"
            ),
            (Action::Read, "mediator-2", Role::Mediator, "安排调解时间"),
            (
                Action::RevealIdNumber,
                "head-1",
                Role::UnitStaff,
                "核实身份"
            ),
        ]
    );
    assert_eq!(about_alice[2].at, revealer.at);
    let reveals = vault
        .access_log(&AccessFilter {
            action: Some(Action::RevealIdNumber),
            ..AccessFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(reveals.len(), 1);
    let case_reads = vault
        .access_log(&AccessFilter {
            case: Some(c.clone()),
            ..AccessFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(case_reads.len(), 1);
    assert_eq!(case_reads[0].action, Action::ReadCaseText);
    let by_head = vault
        .access_log(&AccessFilter {
            actor: Some(ActorId::new("head-1").unwrap()),
            since: Some(revealer.at),
            ..AccessFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(by_head.len(), 1);

    // The log itself holds no personal data.
    backend.settle().await;
    let leaks = search(
        &backend.root(),
        &[
            ("name", NAME.as_bytes().to_vec()),
            ("id", ID.as_bytes().to_vec()),
            ("phone", PHONE.as_bytes().to_vec()),
            ("address", ADDRESS.as_bytes().to_vec()),
        ],
    );
    assert!(leaks.is_empty(), "clear text in storage: {leaks:?}");
}

/// Writes two parties, erases one, and checks that no file under the backend's root holds the
/// erased party's name, ID number, phone, address, raw data key or wrapped data key — with a
/// positive control that the wrapped key was in the files before.
pub async fn erasure_leaves_no_trace(backend: &impl Backend, rotate_first: bool) {
    let master = MasterKey::generate().unwrap();
    let mut vault = Vault::open(backend.store().await, master).await.unwrap();
    let who = mediator();
    let (alice, bob) = (party("p-alice"), party("p-bob"));
    vault.put_party(&alice, &alice_data(), &who).await.unwrap();
    vault.put_party(&bob, &bob_data(), &who).await.unwrap();
    // Rewrite Alice's record a few times: superseded revisions must not linger either.
    for phone in ["13800000001", "13800000002", PHONE] {
        let data = PersonalData {
            phone: Some(Phone::new(phone).unwrap()),
            ..alice_data()
        };
        vault.put_party(&alice, &data, &who).await.unwrap();
    }
    let (raw_before, wrapped_before) = vault.party_key_material(&alice).await.unwrap().unwrap();
    let mut needles = vec![
        ("name", NAME.as_bytes().to_vec()),
        ("id", ID.as_bytes().to_vec()),
        ("phone", PHONE.as_bytes().to_vec()),
        ("address", ADDRESS.as_bytes().to_vec()),
        ("raw key", raw_before.expose().to_vec()),
        ("wrapped key", wrapped_before.clone()),
    ];
    if rotate_first {
        let rewrapped = vault
            .rotate_master_key(MasterKey::generate().unwrap())
            .await
            .unwrap();
        assert_eq!(rewrapped, 2);
        let (raw, wrapped) = vault.party_key_material(&alice).await.unwrap().unwrap();
        assert_eq!(
            raw.expose(),
            raw_before.expose(),
            "rotation keeps the data key"
        );
        assert_ne!(wrapped, wrapped_before);
        needles.push(("wrapped key after rotation", wrapped));
    }

    backend.settle().await;
    let before = search(&backend.root(), &needles);
    let wrapped_found = |found: &[(String, PathBuf)]| {
        found
            .iter()
            .any(|(name, _)| name.starts_with("wrapped key"))
    };
    assert!(
        wrapped_found(&before),
        "positive control: the wrapped key should be in storage before erasure: {before:?}"
    );
    assert!(
        before
            .iter()
            .all(|(name, _)| name.starts_with("wrapped key")),
        "only the wrapped key may be in storage, never clear text or the raw key: {before:?}"
    );
    if rotate_first {
        assert!(
            !before.iter().any(|(name, _)| name == "wrapped key"),
            "the form wrapped under the old master key must be gone after rotation: {before:?}"
        );
    }

    let erase = Accessor::now(
        ActorId::new("head-1").unwrap(),
        Role::Supervisor,
        "PIPL art. 47: request of the data subject",
    );
    vault.erase_party(&alice, &erase).await.unwrap();
    // Repeating is harmless.
    vault.erase_party(&alice, &erase).await.unwrap();
    backend.settle().await;

    let after = search(&backend.root(), &needles);
    assert!(after.is_empty(), "erased data still in storage: {after:?}");

    assert!(matches!(
        vault.read_party(&alice, &who).await,
        Err(VaultError::PartyErased(_))
    ));
    assert!(matches!(
        vault.party_status(&alice).await.unwrap(),
        PartyStatus::Erased { .. }
    ));
    assert!(vault.party_key_material(&alice).await.unwrap().is_none());
    let by_id = Lookup::IdNumber(IdNumber::new(ID).unwrap());
    assert!(vault.find_parties(&by_id, &who).await.unwrap().is_empty());
    assert!(matches!(
        vault.put_party(&alice, &alice_data(), &who).await,
        Err(VaultError::PartyErased(_))
    ));
    // Bob is untouched.
    let view = vault.read_party(&bob, &who).await.unwrap();
    assert_eq!(view.name.unwrap().expose(), OTHER_NAME);
    let erasures = vault
        .access_log(&AccessFilter {
            party: Some(alice.clone()),
            action: Some(gridcase_vault::Action::ErasePartyData),
            ..AccessFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(erasures.len(), 2);
    assert_eq!(
        erasures[0].purpose,
        "PIPL art. 47: request of the data subject"
    );
}

pub async fn case_key_erasure(backend: &impl Backend) {
    let vault = Vault::open(backend.store().await, MasterKey::generate().unwrap())
        .await
        .unwrap();
    let who = mediator();
    let c = case("C-9");
    let sealed = vault
        .seal_case_text(&c, "note:1", "当事人电话13812345678")
        .await
        .unwrap();
    vault.erase_case_key(&c, &who).await.unwrap();
    assert!(matches!(
        vault.open_case_text(&c, "note:1", &sealed, &who).await,
        Err(VaultError::CaseErased(_))
    ));
    assert!(matches!(
        vault.seal_case_text(&c, "note:2", "x").await,
        Err(VaultError::CaseErased(_))
    ));
    vault.erase_case_key(&c, &who).await.unwrap();
}

pub async fn rotation(backend: &impl Backend) {
    let old = MasterKey::generate().unwrap();
    let mut vault = Vault::open(backend.store().await, old.clone())
        .await
        .unwrap();
    let who = mediator();
    let alice = party("p-alice");
    vault.put_party(&alice, &alice_data(), &who).await.unwrap();
    vault
        .put_party(&party("p-bob"), &bob_data(), &who)
        .await
        .unwrap();
    let c = case("C-7");
    let sealed = vault.seal_case_text(&c, "summary", "摘要").await.unwrap();
    let new = MasterKey::generate().unwrap();
    assert_eq!(vault.rotate_master_key(new.clone()).await.unwrap(), 3);
    assert_eq!(vault.master_key_id(), new.id());
    // Usable at once, and after reopening with the new key.
    assert_eq!(
        vault.reveal_id_number(&alice, &who).await.unwrap().expose(),
        ID
    );
    drop(vault);
    assert!(matches!(
        Vault::open(backend.store().await, old).await,
        Err(VaultError::WrongMasterKey { .. })
    ));
    let vault = Vault::open(backend.store().await, new).await.unwrap();
    assert_eq!(
        vault
            .read_party(&alice, &who)
            .await
            .unwrap()
            .name
            .unwrap()
            .expose(),
        NAME
    );
    assert_eq!(
        &*vault
            .open_case_text(&c, "summary", &sealed, &who)
            .await
            .unwrap(),
        "摘要"
    );
    // The blind index survives rotation (its key is re-wrapped, not replaced).
    let by_id = Lookup::IdNumber(IdNumber::new(ID).unwrap());
    assert_eq!(vault.find_parties(&by_id, &who).await.unwrap(), vec![alice]);
}
