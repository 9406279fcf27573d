//! The vault on its embedded backend (files in the data directory).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use gridcase_vault::store::file::DB_FILE;
use gridcase_vault::{KeySource, MasterKey, Store, Vault, VaultError};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }
}

impl Backend for Dir {
    async fn store(&self) -> Store {
        Store::open_dir(self.0.path()).unwrap()
    }
    fn root(&self) -> PathBuf {
        self.0.path().to_owned()
    }
}

#[tokio::test]
async fn round_trip() {
    common::round_trip(&Dir::new()).await;
}

#[tokio::test]
async fn wrong_master_key_refused() {
    common::wrong_master_key_refused(&Dir::new()).await;
}

#[tokio::test]
async fn blind_index_after_normalisation() {
    common::blind_index_after_normalisation(&Dir::new()).await;
}

#[tokio::test]
async fn access_log_records_every_read() {
    common::access_log_records_every_read(&Dir::new()).await;
}

#[tokio::test]
async fn erasure_leaves_no_trace() {
    let dir = Dir::new();
    // The generated master key sits in the data dir too, as with `serve --demo`.
    let loaded = KeySource::Generated.load(dir.0.path()).unwrap();
    assert!(loaded.warning.is_some());
    common::erasure_leaves_no_trace(&dir, false).await;
}

#[tokio::test]
async fn erasure_after_rotation_leaves_no_trace() {
    common::erasure_leaves_no_trace(&Dir::new(), true).await;
}

#[tokio::test]
async fn case_key_erasure() {
    common::case_key_erasure(&Dir::new()).await;
}

#[tokio::test]
async fn rotation() {
    common::rotation(&Dir::new()).await;
}

/// The stored record of a party, mirrored here to tamper with it as an attacker with the data
/// directory could.
#[derive(Serialize, Deserialize)]
struct Record {
    fields: BTreeMap<String, ByteBuf>,
    postings: Vec<String>,
}

const MAGIC: &[u8] = b"gridcase-vault 1\n";

fn edit_entries(dir: &Path, edit: impl FnOnce(&mut BTreeMap<String, ByteBuf>)) {
    let path = dir.join(DB_FILE);
    let bytes = std::fs::read(&path).unwrap();
    let mut map: BTreeMap<String, ByteBuf> =
        rmp_serde::from_slice(bytes.strip_prefix(MAGIC).unwrap()).unwrap();
    edit(&mut map);
    let mut out = MAGIC.to_vec();
    rmp_serde::encode::write(&mut out, &map).unwrap();
    std::fs::write(&path, out).unwrap();
}

fn edit_record(dir: &Path, party: &str, edit: impl FnOnce(&mut Record)) {
    let name = format!("rec.{}", hex::encode(party));
    edit_entries(dir, |map| {
        let mut record: Record = rmp_serde::from_slice(&map[&name]).unwrap();
        edit(&mut record);
        map.insert(
            name,
            ByteBuf::from(rmp_serde::to_vec_named(&record).unwrap()),
        );
    });
}

async fn written(dir: &Dir) -> MasterKey {
    let master = MasterKey::generate().unwrap();
    let vault = Vault::open(dir.store().await, master.clone())
        .await
        .unwrap();
    vault
        .put_party(&party("p-alice"), &alice_data(), &mediator())
        .await
        .unwrap();
    vault
        .put_party(&party("p-bob"), &bob_data(), &mediator())
        .await
        .unwrap();
    master
}

async fn read_alice(dir: &Dir, master: MasterKey) -> Result<(), VaultError> {
    let vault = Vault::open(dir.store().await, master).await?;
    vault
        .read_party(&party("p-alice"), &mediator())
        .await
        .map(drop)
}

#[tokio::test]
async fn flipped_ciphertext_bit_refused() {
    let dir = Dir::new();
    let master = written(&dir).await;
    edit_record(dir.0.path(), "p-alice", |record| {
        let name = record.fields.get_mut("name").unwrap();
        let last = name.len() - 1;
        name[last] ^= 0x01;
    });
    let err = read_alice(&dir, master).await.unwrap_err();
    assert!(
        matches!(&err, VaultError::Tampered { what } if what == "name of party p-alice"),
        "{err:?}"
    );
}

#[tokio::test]
async fn ciphertext_moved_to_another_field_refused() {
    let dir = Dir::new();
    let master = written(&dir).await;
    // Same party, same key: only the associated data tells the fields apart.
    edit_record(dir.0.path(), "p-alice", |record| {
        let name = record.fields.remove("name").unwrap();
        let address = record.fields.remove("address").unwrap();
        record.fields.insert("name".into(), address);
        record.fields.insert("address".into(), name);
    });
    let err = read_alice(&dir, master).await.unwrap_err();
    assert!(matches!(err, VaultError::Tampered { .. }), "{err:?}");
}

#[tokio::test]
async fn record_moved_to_another_party_refused() {
    let dir = Dir::new();
    let master = written(&dir).await;
    // Bob's ciphertexts and Bob's wrapped key under Alice's id.
    edit_entries(dir.0.path(), |map| {
        for kind in ["rec.", "key.p."] {
            let bob = map[&format!("{kind}{}", hex::encode("p-bob"))].clone();
            map.insert(format!("{kind}{}", hex::encode("p-alice")), bob);
        }
    });
    let err = read_alice(&dir, master).await.unwrap_err();
    assert!(
        matches!(&err, VaultError::Tampered { what } if what == "the data key of party p-alice"),
        "{err:?}"
    );
}

#[tokio::test]
async fn tampered_case_text_refused() {
    let dir = Dir::new();
    let vault = Vault::open(dir.store().await, MasterKey::generate().unwrap())
        .await
        .unwrap();
    let c = case("C-1");
    let sealed = vault.seal_case_text(&c, "summary", "摘要").await.unwrap();
    let mut bytes = sealed.as_bytes().to_vec();
    bytes[30] ^= 0x80;
    let bent = gridcase_vault::Sealed::from_bytes(bytes);
    assert!(matches!(
        vault
            .open_case_text(&c, "summary", &bent, &mediator())
            .await,
        Err(VaultError::Tampered { .. })
    ));
    assert!(matches!(
        vault
            .open_case_text(
                &c,
                "summary",
                &gridcase_vault::Sealed::from_bytes(vec![1, 2]),
                &mediator()
            )
            .await,
        Err(VaultError::Tampered { .. })
    ));
}

#[tokio::test]
async fn corrupt_file_is_a_typed_error() {
    let dir = Dir::new();
    written(&dir).await;
    std::fs::write(dir.0.path().join(DB_FILE), b"not a vault").unwrap();
    assert!(matches!(
        Store::open_dir(dir.0.path()),
        Err(VaultError::Corrupt(_))
    ));
}

#[tokio::test]
async fn files_are_private() {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = Dir::new();
        written(&dir).await;
        let mode = std::fs::metadata(dir.0.path().join(DB_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}

/// A posting is a hint, the record decides: postings left stale by an interrupted change (as
/// can happen on NATS, where a change is several writes) neither find the wrong party nor
/// survive the party's next write.
#[tokio::test]
async fn stale_postings_are_ignored_and_repaired() {
    let dir = Dir::new();
    let master = written(&dir).await;
    edit_entries(dir.0.path(), |map| {
        for (name, value) in map.iter_mut() {
            let mut parties: Vec<String> = if name.starts_with("idx.") {
                rmp_serde::from_slice(value).unwrap()
            } else {
                continue;
            };
            if name.starts_with("idx.id_number.") && parties == ["p-alice"] {
                // Bob listed under Alice's ID number.
                parties.push("p-bob".into());
            } else if name.starts_with("idx.phone.") && parties == ["p-alice"] {
                // Alice missing from her phone's posting.
                parties.clear();
            }
            *value = ByteBuf::from(rmp_serde::to_vec(&parties).unwrap());
        }
    });
    let vault = Vault::open(dir.store().await, master).await.unwrap();
    let who = mediator();
    let alice = party("p-alice");
    let by_id = gridcase_vault::Lookup::IdNumber(gridcase_vault::IdNumber::new(ID).unwrap());
    assert_eq!(
        vault.find_parties(&by_id, &who).await.unwrap(),
        vec![alice.clone()]
    );
    let by_phone = gridcase_vault::Lookup::Phone(gridcase_vault::Phone::new(PHONE).unwrap());
    assert!(vault
        .find_parties(&by_phone, &who)
        .await
        .unwrap()
        .is_empty());
    vault.put_party(&alice, &alice_data(), &who).await.unwrap();
    assert_eq!(
        vault.find_parties(&by_phone, &who).await.unwrap(),
        vec![alice]
    );
}

/// A crash between writing `vault.db.tmp` and renaming it leaves the old `vault.db` as the
/// state; opening removes the stale copy so that its bytes do not linger.
#[tokio::test]
async fn leftover_temp_file_is_removed_on_open() {
    let dir = Dir::new();
    let master = written(&dir).await;
    let tmp = dir.0.path().join(format!("{DB_FILE}.tmp"));
    std::fs::write(&tmp, "stale copy").unwrap();
    let vault = Vault::open(dir.store().await, master).await.unwrap();
    assert!(!tmp.exists());
    vault
        .read_party(&party("p-alice"), &mediator())
        .await
        .unwrap();
}
