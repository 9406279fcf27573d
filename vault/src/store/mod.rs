//! Where the vault keeps its entries: a small key-value map of opaque bytes (wrapped keys,
//! ciphertexts, blind-index postings) plus the append-only access log.
//!
//! Two backends behave the same to the vault:
//! - [`Store::open_dir`]: one file in the data directory, rewritten whole and atomically on
//!   every change, so erased bytes never outlive the change in any file ([`mod@file`]);
//! - [`Store::nats`]: a JetStream key-value bucket whose superseded and erased revisions are
//!   removed with JetStream's secure message erase ([`nats`]).
//!
//! Keys are ASCII tokens valid as NATS KV keys (`[-_=.a-zA-Z0-9]`); ids are hex-encoded.

pub mod file;
pub mod nats;

use std::path::Path;

use crate::access::AccessEntry;
use crate::error::Result;

/// What a put expects to find, so that concurrent read-modify-writes do not lose updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// The entry does not exist.
    Absent,
    /// The entry is at this revision (from [`Store::get_versioned`]).
    Revision(u64),
}

impl Expect {
    /// `Revision` of what was read, or `Absent` if nothing was.
    pub(crate) fn from_read(revision: Option<u64>) -> Self {
        revision.map_or(Self::Absent, Self::Revision)
    }
}

/// A change to the entry map.
#[derive(Debug)]
pub(crate) enum Op {
    /// Set an entry, if it is as expected ([`crate::VaultError::Conflict`] if not).
    Put(String, Vec<u8>, Expect),
    /// Remove an entry so that its bytes are gone from storage.
    Erase(String),
}

/// A vault backend.
#[derive(Debug)]
pub struct Store(Inner);

#[derive(Debug)]
enum Inner {
    File(file::FileStore),
    Nats(Box<nats::NatsStore>),
}

impl Store {
    /// The embedded backend in `dir` (the server's data directory).
    ///
    /// # Errors
    ///
    /// I/O errors, or [`crate::VaultError::Corrupt`] when the file cannot be decoded.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        Ok(Self(Inner::File(file::FileStore::open(dir)?)))
    }

    /// The NATS backend: a JetStream key-value bucket and an access-log stream.
    ///
    /// # Errors
    ///
    /// [`crate::VaultError::Nats`] when the bucket or stream cannot be created or has an
    /// unsuitable configuration.
    pub async fn nats(
        context: async_nats::jetstream::Context,
        config: nats::NatsConfig,
    ) -> Result<Self> {
        Ok(Self(Inner::Nats(Box::new(
            nats::NatsStore::open(context, config).await?,
        ))))
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get_versioned(key).await?.map(|(value, _)| value))
    }

    /// An entry and its revision (for [`Expect::Revision`]).
    pub(crate) async fn get_versioned(&self, key: &str) -> Result<Option<(Vec<u8>, u64)>> {
        match &self.0 {
            Inner::File(s) => s.get(key),
            Inner::Nats(s) => s.get(key).await,
        }
    }

    /// Applies the changes in order. The file backend applies them all or none; the NATS
    /// backend one by one (the vault orders them so that a partial application is safe and a
    /// retry completes it).
    pub(crate) async fn apply(&self, ops: Vec<Op>) -> Result<()> {
        match &self.0 {
            Inner::File(s) => s.apply(ops),
            Inner::Nats(s) => s.apply(ops).await,
        }
    }

    pub(crate) async fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        match &self.0 {
            Inner::File(s) => Ok(s.keys_with_prefix(prefix)),
            Inner::Nats(s) => s.keys_with_prefix(prefix).await,
        }
    }

    pub(crate) async fn append_access(&self, entry: &AccessEntry) -> Result<()> {
        match &self.0 {
            Inner::File(s) => s.append_access(entry),
            Inner::Nats(s) => s.append_access(entry).await,
        }
    }

    pub(crate) async fn access_entries(&self) -> Result<Vec<AccessEntry>> {
        match &self.0 {
            Inner::File(s) => s.access_entries(),
            Inner::Nats(s) => s.access_entries().await,
        }
    }
}
