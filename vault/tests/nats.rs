//! The vault on its NATS backend, against a real nats-server (`scripts/nats-server`; skipped
//! when none is installed unless GRIDCASE_REQUIRE_NATS is set), with byte searches of the
//! server's JetStream store directory.

mod common;

use std::path::PathBuf;

use async_nats::jetstream;
use common::*;
use gridcase_bus::testing::NatsServer;
use gridcase_vault::{NatsConfig, Store};

struct Nats {
    server: NatsServer,
    context: jetstream::Context,
}

impl Nats {
    async fn start() -> Option<Self> {
        let server = NatsServer::start_or_skip()?;
        let client = async_nats::connect(server.url()).await.unwrap();
        Some(Self {
            context: jetstream::new(client),
            server,
        })
    }
}

impl Backend for Nats {
    async fn store(&self) -> Store {
        Store::nats(self.context.clone(), NatsConfig::default())
            .await
            .unwrap()
    }
    fn root(&self) -> PathBuf {
        self.server.store_dir()
    }
}

#[tokio::test]
async fn round_trip() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    common::round_trip(&nats).await;
}

#[tokio::test]
async fn wrong_master_key_refused() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    common::wrong_master_key_refused(&nats).await;
}

#[tokio::test]
async fn blind_index_after_normalisation() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    common::blind_index_after_normalisation(&nats).await;
}

#[tokio::test]
async fn access_log_records_every_read() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    common::access_log_records_every_read(&nats).await;
}

#[tokio::test]
async fn erasure_leaves_no_trace() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    common::erasure_leaves_no_trace(&nats, false).await;
}

#[tokio::test]
async fn erasure_after_rotation_leaves_no_trace() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    common::erasure_leaves_no_trace(&nats, true).await;
}

#[tokio::test]
async fn case_key_erasure() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    common::case_key_erasure(&nats).await;
}

#[tokio::test]
async fn rotation() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    common::rotation(&nats).await;
}

/// Two processes opening an empty bucket at once: one creates the header, the other finds it
/// (its create conflicts and it reads again), and both use the same blind-index key.
#[tokio::test]
async fn concurrent_first_opens_agree() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let master = gridcase_vault::MasterKey::generate().unwrap();
    let (a, b) = tokio::join!(
        async { gridcase_vault::Vault::open(nats.store().await, master.clone()).await },
        async { gridcase_vault::Vault::open(nats.store().await, master.clone()).await },
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let who = mediator();
    a.put_party(&party("p-alice"), &alice_data(), &who)
        .await
        .unwrap();
    let by_id = gridcase_vault::Lookup::IdNumber(gridcase_vault::IdNumber::new(ID).unwrap());
    assert_eq!(
        b.find_parties(&by_id, &who).await.unwrap(),
        vec![party("p-alice")]
    );
}

/// A process still on the old master key after another rotated it refuses to wrap new keys
/// under the old one (they would be unreadable after a restart with the new key).
#[tokio::test]
async fn a_process_left_behind_by_a_rotation_stops_creating_keys() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let old = gridcase_vault::MasterKey::generate().unwrap();
    let new = gridcase_vault::MasterKey::generate().unwrap();
    let mut a = gridcase_vault::Vault::open(nats.store().await, old.clone())
        .await
        .unwrap();
    let b = gridcase_vault::Vault::open(nats.store().await, old.clone())
        .await
        .unwrap();
    let who = mediator();
    a.put_party(&party("p-alice"), &alice_data(), &who)
        .await
        .unwrap();
    a.rotate_master_key(new.clone()).await.unwrap();
    let err = b
        .put_party(&party("p-bob"), &bob_data(), &who)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, gridcase_vault::VaultError::WrongMasterKey { expected, configured }
            if expected == new.id() && configured == old.id()),
        "{err:?}"
    );
    // And it cannot read keys re-wrapped under the new one either: a typed error, not garbage.
    let err = b.read_party(&party("p-alice"), &who).await.unwrap_err();
    assert!(
        matches!(
            err,
            gridcase_vault::VaultError::WrappedUnderOtherMaster { .. }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn bucket_made_by_create_key_value_is_refused() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    nats.context
        .create_key_value(jetstream::kv::Config {
            bucket: "plain".into(),
            history: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    let err = Store::nats(
        nats.context.clone(),
        NatsConfig {
            bucket: "plain".into(),
            ..NatsConfig::default()
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("deny_delete"), "{err}");
}

/// What JetStream does with the bytes of removed messages, the finding the backend's design
/// rests on: a value superseded under a per-subject limit, a `kv.purge`d value and a
/// `kv.delete`d value all stay in the block files; a message erased with `STREAM.MSG.DELETE`
/// (no `no_erase`) does not.
#[tokio::test]
async fn only_message_erase_removes_bytes_from_the_store() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let kv = nats
        .context
        .create_key_value(jetstream::kv::Config {
            bucket: "probe".into(),
            history: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let superseded = b"probe-superseded-4f1c".to_vec();
    let purged = b"probe-purged-9a2e".to_vec();
    let deleted = b"probe-deleted-77d0".to_vec();
    kv.put("a", superseded.clone().into()).await.unwrap();
    kv.put("a", "newer".into()).await.unwrap();
    kv.put("b", purged.clone().into()).await.unwrap();
    kv.purge("b").await.unwrap();
    kv.put("c", deleted.clone().into()).await.unwrap();
    kv.delete("c").await.unwrap();
    assert_eq!(kv.get("a").await.unwrap().as_deref(), Some(&b"newer"[..]));
    assert!(kv.get("b").await.unwrap().is_none());
    assert!(kv.get("c").await.unwrap().is_none());

    let stream = nats
        .context
        .create_stream(jetstream::stream::Config {
            name: "ERASE_PROBE".into(),
            subjects: vec!["probe.erase".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let erased = b"probe-erased-3b8c".to_vec();
    let seq = nats
        .context
        .publish("probe.erase", erased.clone().into())
        .await
        .unwrap()
        .await
        .unwrap()
        .sequence;
    let root = nats.server.store_dir();
    let before = search(&root, &[("erased", erased.clone())]);
    assert_eq!(before.len(), 1, "positive control: {before:?}");
    // async-nats's delete_message sends no `no_erase`, so the server erases.
    assert!(stream.delete_message(seq).await.unwrap());

    let found: std::collections::BTreeSet<String> = search(
        &root,
        &[
            ("superseded", superseded),
            ("purged", purged),
            ("deleted", deleted),
            ("erased", erased),
        ],
    )
    .into_iter()
    .map(|(name, _)| name)
    .collect();
    let expected: std::collections::BTreeSet<String> = ["superseded", "purged", "deleted"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(found, expected);
}
