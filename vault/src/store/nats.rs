//! The NATS backend: a JetStream key-value bucket for the entries and a stream for the access
//! log. Key material goes only into the bucket — never into the event stream.
//!
//! A KV bucket is a stream (`KV_<bucket>`, subjects `$KV.<bucket>.>`), and removing a value
//! the usual ways leaves its bytes in the stream's block files: a newer revision pushes the
//! old one out by the per-subject limit, and `kv.delete`/`kv.purge` only mark or drop messages
//! from the index. Only JetStream's *erase* (`STREAM.MSG.DELETE` without `no_erase`) overwrites
//! a message's bytes on disk with random data. So this backend creates the bucket's stream
//! itself with `deny_delete: false` (a bucket made by `create_key_value` denies message
//! deletion), keeps up to 64 revisions per key so that none is ever dropped by the limit, and
//! after every put and on every erasure erases each older revision by its sequence. The tests
//! in `vault/tests/nats.rs` check the block files byte by byte, and check the finding itself.

use async_nats::jetstream::{self, kv, stream};
use futures::TryStreamExt;
use serde::Deserialize;

use super::{Expect, Op};
use crate::access::AccessEntry;
use crate::error::{nats, Result, VaultError};

/// Names of the bucket and the access-log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsConfig {
    /// The key-value bucket (`[A-Za-z0-9_-]`); its stream is `KV_<bucket>`.
    pub bucket: String,
    /// The access-log stream.
    pub access_stream: String,
    /// The access-log subject.
    pub access_subject: String,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            bucket: "gridcase_vault".into(),
            access_stream: "GRIDCASE_VAULT_ACCESS".into(),
            access_subject: "gridcase.vault.access".into(),
        }
    }
}

/// Revisions kept per key. Superseded revisions are erased right after each put, so at most
/// two live at once; the headroom means the per-subject limit (which removes without erasing)
/// never drops one even after many interrupted erasures.
const HISTORY: i64 = 64;

/// JetStream's error code for "no message found".
const NO_MESSAGE_FOUND: u64 = 10037;

/// The NATS backend.
pub struct NatsStore {
    context: jetstream::Context,
    kv: kv::Store,
    stream: stream::Stream,
    access: stream::Stream,
    config: NatsConfig,
}

impl std::fmt::Debug for NatsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct DeleteStatus {
    success: bool,
}

impl NatsStore {
    pub(crate) async fn open(context: jetstream::Context, config: NatsConfig) -> Result<Self> {
        let stream_name = format!("KV_{}", config.bucket);
        let stream = context
            .get_or_create_stream(stream::Config {
                name: stream_name.clone(),
                subjects: vec![format!("$KV.{}.>", config.bucket)],
                max_messages_per_subject: HISTORY,
                discard: stream::DiscardPolicy::New,
                allow_rollup: true,
                deny_delete: false,
                deny_purge: false,
                allow_direct: true,
                storage: stream::StorageType::File,
                num_replicas: 1,
                ..Default::default()
            })
            .await
            .map_err(nats("create the vault bucket's stream"))?;
        let found = &stream.cached_info().config;
        if found.deny_delete || !found.allow_direct || found.max_messages_per_subject < HISTORY {
            return Err(VaultError::Nats(format!(
                "stream {stream_name} exists with deny_delete {}, allow_direct {}, history {}; \
                 the vault needs deny_delete false, allow_direct true and history {HISTORY} to \
                 erase data (was the bucket created by hand?)",
                found.deny_delete, found.allow_direct, found.max_messages_per_subject
            )));
        }
        let kv = context
            .get_key_value(config.bucket.clone())
            .await
            .map_err(nats("open the vault bucket"))?;
        let access = context
            .get_or_create_stream(stream::Config {
                name: config.access_stream.clone(),
                subjects: vec![config.access_subject.clone()],
                allow_direct: true,
                deny_delete: true,
                deny_purge: true,
                storage: stream::StorageType::File,
                num_replicas: 1,
                ..Default::default()
            })
            .await
            .map_err(nats("create the vault access-log stream"))?;
        Ok(Self {
            context,
            kv,
            stream,
            access,
            config,
        })
    }

    fn subject(&self, key: &str) -> String {
        format!("$KV.{}.{key}", self.config.bucket)
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, u64)>> {
        let entry = self
            .kv
            .entry(key)
            .await
            .map_err(nats("read a vault entry"))?;
        Ok(entry
            .filter(|e| e.operation == kv::Operation::Put)
            .map(|e| (e.value.to_vec(), e.revision)))
    }

    pub(crate) async fn apply(&self, ops: Vec<Op>) -> Result<()> {
        for op in ops {
            match op {
                Op::Put(key, value, expect) => {
                    let older = self.sequences(&self.subject(&key)).await?;
                    // The expected last sequence of the subject: 0 means "no message".
                    let expected = match expect {
                        Expect::Absent => 0,
                        Expect::Revision(revision) => revision,
                    };
                    match self.kv.update(&key, value.into(), expected).await {
                        Ok(_) => {}
                        Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                            return Err(VaultError::Conflict(key));
                        }
                        Err(err) => return Err(nats("write a vault entry")(err)),
                    }
                    for seq in older {
                        self.erase_message(seq).await?;
                    }
                }
                Op::Erase(key) => {
                    for seq in self.sequences(&self.subject(&key)).await? {
                        self.erase_message(seq).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Stream sequences of every message stored on `subject`, oldest first.
    async fn sequences(&self, subject: &str) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        let mut next = 1;
        loop {
            match self
                .stream
                .direct_get_next_for_subject(subject, Some(next))
                .await
            {
                Ok(message) => {
                    out.push(message.sequence);
                    next = message.sequence + 1;
                }
                Err(err) if err.kind() == stream::DirectGetErrorKind::NotFound => return Ok(out),
                Err(err) => return Err(nats("list revisions of a vault entry")(err)),
            }
        }
    }

    /// Erases one message: JetStream overwrites its bytes in the block file with random data
    /// (`no_erase: false`, stated explicitly rather than relying on the default).
    async fn erase_message(&self, seq: u64) -> Result<()> {
        let response: jetstream::response::Response<DeleteStatus> = self
            .context
            .request(
                format!(
                    "STREAM.MSG.DELETE.{}",
                    self.stream.cached_info().config.name
                ),
                &serde_json::json!({ "seq": seq, "no_erase": false }),
            )
            .await
            .map_err(nats("erase a vault message"))?;
        match response {
            jetstream::response::Response::Ok(DeleteStatus { success: true }) => Ok(()),
            jetstream::response::Response::Ok(DeleteStatus { success: false }) => Err(
                VaultError::Nats(format!("erasing message {seq} did not succeed")),
            ),
            jetstream::response::Response::Err { error }
                if error.error_code().0 == NO_MESSAGE_FOUND =>
            {
                Ok(())
            }
            jetstream::response::Response::Err { error } => {
                Err(VaultError::Nats(format!("erasing message {seq}: {error}")))
            }
        }
    }

    pub(crate) async fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let keys: Vec<String> = self
            .kv
            .keys()
            .await
            .map_err(nats("list vault keys"))?
            .try_collect()
            .await
            .map_err(nats("list vault keys"))?;
        let mut keys: Vec<String> = keys.into_iter().filter(|k| k.starts_with(prefix)).collect();
        keys.sort();
        Ok(keys)
    }

    pub(crate) async fn append_access(&self, entry: &AccessEntry) -> Result<()> {
        let line = serde_json::to_vec(entry)
            .map_err(|err| VaultError::Corrupt(format!("encode access entry: {err}")))?;
        self.context
            .publish(self.config.access_subject.clone(), line.into())
            .await
            .map_err(nats("append to the access log"))?
            .await
            .map_err(nats("append to the access log"))?;
        Ok(())
    }

    pub(crate) async fn access_entries(&self) -> Result<Vec<AccessEntry>> {
        let mut out = Vec::new();
        let mut next = 1;
        loop {
            match self
                .access
                .direct_get_next_for_subject(self.config.access_subject.clone(), Some(next))
                .await
            {
                Ok(message) => {
                    out.push(serde_json::from_slice(&message.payload).map_err(|err| {
                        VaultError::Corrupt(format!(
                            "access log message {}: {err}",
                            message.sequence
                        ))
                    })?);
                    next = message.sequence + 1;
                }
                Err(err) if err.kind() == stream::DirectGetErrorKind::NotFound => return Ok(out),
                Err(err) => return Err(nats("read the access log")(err)),
            }
        }
    }
}
