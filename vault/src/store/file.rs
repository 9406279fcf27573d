//! The embedded backend: `DATA/vault.db` and `DATA/vault-access.jsonl`.
//!
//! `vault.db` holds the whole entry map (a magic line and MessagePack) and is never changed in
//! place: every change writes a complete new file `vault.db.tmp`, fsyncs it, renames it over
//! `vault.db` and fsyncs the directory. So after an erasure no file holds the erased entries;
//! the old file's blocks are freed by the file system (see docs/personal-data.md for what that
//! does and does not promise). The map is small — wrapped keys and ciphertexts of a mediation
//! center's parties — so rewriting it whole is cheap and needs no compaction.
//!
//! The access log holds no personal data and is only appended to (one JSON object a line,
//! each fsynced before the clear text it records is returned).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_bytes::ByteBuf;

use super::{Expect, Op};
use crate::access::AccessEntry;
use crate::error::{io, Result, VaultError};

/// The vault's entry file.
pub const DB_FILE: &str = "vault.db";
/// The access log.
pub const ACCESS_FILE: &str = "vault-access.jsonl";
const TMP_SUFFIX: &str = ".tmp";
const MAGIC: &[u8] = b"gridcase-vault 1\n";

/// The entries, and revisions for compare-and-set. Revisions live only in memory: one process
/// owns the data directory (sled locks it), so they need not survive a restart.
#[derive(Debug, Default)]
struct State {
    entries: BTreeMap<String, (Vec<u8>, u64)>,
    last_revision: u64,
}

/// The embedded backend.
#[derive(Debug)]
pub struct FileStore {
    db: PathBuf,
    access: PathBuf,
    dir: PathBuf,
    state: Mutex<State>,
    access_lock: Mutex<()>,
}

impl FileStore {
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(io(format!("create {}", dir.display())))?;
        let db = dir.join(DB_FILE);
        // A leftover from a crash between writing and renaming: the rename did not happen,
        // so `vault.db` is the state; the stale copy must not linger with old entries.
        let tmp = tmp_path(&db);
        if tmp.exists() {
            fs::remove_file(&tmp).map_err(io(format!("remove {}", tmp.display())))?;
            sync_dir(dir)?;
        }
        let entries = match fs::read(&db) {
            Ok(bytes) => decode(&bytes)?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(err) => return Err(io(format!("read {}", db.display()))(err)),
        };
        let mut state = State::default();
        for (key, value) in entries {
            state.last_revision += 1;
            state.entries.insert(key, (value, state.last_revision));
        }
        Ok(Self {
            access: dir.join(ACCESS_FILE),
            dir: dir.to_owned(),
            db,
            state: Mutex::new(state),
            access_lock: Mutex::new(()),
        })
    }

    pub(crate) fn get(&self, key: &str) -> Result<Option<(Vec<u8>, u64)>> {
        Ok(self.lock().entries.get(key).cloned())
    }

    pub(crate) fn keys_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.lock()
            .entries
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Applies all changes or none: the expectations are checked first, then the new map is
    /// written.
    pub(crate) fn apply(&self, ops: Vec<Op>) -> Result<()> {
        let mut state = self.lock();
        let mut entries = state.entries.clone();
        let mut revision = state.last_revision;
        for op in ops {
            match op {
                Op::Put(key, value, expect) => {
                    let found = entries.get(&key).map(|(_, rev)| *rev);
                    if Expect::from_read(found) != expect {
                        return Err(VaultError::Conflict(key));
                    }
                    revision += 1;
                    entries.insert(key, (value, revision));
                }
                Op::Erase(key) => {
                    entries.remove(&key);
                }
            }
        }
        self.write(&entries)?;
        state.entries = entries;
        state.last_revision = revision;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes `entries` as the new `vault.db`: temp file, fsync, rename, directory fsync.
    fn write(&self, entries: &BTreeMap<String, (Vec<u8>, u64)>) -> Result<()> {
        let tmp = tmp_path(&self.db);
        let what = || format!("write {}", tmp.display());
        let map: BTreeMap<&str, &serde_bytes::Bytes> = entries
            .iter()
            .map(|(k, (v, _))| (k.as_str(), serde_bytes::Bytes::new(v)))
            .collect();
        let mut bytes = MAGIC.to_vec();
        rmp_serde::encode::write(&mut bytes, &map)
            .map_err(|err| VaultError::Corrupt(format!("encode: {err}")))?;
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(io(what()))?;
        file.write_all(&bytes).map_err(io(what()))?;
        file.sync_all().map_err(io(what()))?;
        drop(file);
        fs::rename(&tmp, &self.db).map_err(io(format!("rename to {}", self.db.display())))?;
        sync_dir(&self.dir)
    }

    pub(crate) fn append_access(&self, entry: &AccessEntry) -> Result<()> {
        let _guard = self
            .access_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let what = || format!("append to {}", self.access.display());
        let mut line = serde_json::to_vec(entry)
            .map_err(|err| VaultError::Corrupt(format!("encode access entry: {err}")))?;
        line.push(b'\n');
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        // Who looked at whom is itself sensitive: readable by the server's user only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&self.access).map_err(io(what()))?;
        file.write_all(&line).map_err(io(what()))?;
        file.sync_data().map_err(io(what()))?;
        Ok(())
    }

    pub(crate) fn access_entries(&self) -> Result<Vec<AccessEntry>> {
        let file = match File::open(&self.access) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(io(format!("read {}", self.access.display()))(err)),
        };
        let mut out = Vec::new();
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(io(format!("read {}", self.access.display())))?;
            if line.trim().is_empty() {
                continue;
            }
            out.push(serde_json::from_str(&line).map_err(|err| {
                VaultError::Corrupt(format!("{} line {}: {err}", self.access.display(), n + 1))
            })?);
        }
        Ok(out)
    }
}

fn tmp_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(TMP_SUFFIX);
    PathBuf::from(name)
}

fn decode(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>> {
    let body = bytes.strip_prefix(MAGIC).ok_or_else(|| {
        VaultError::Corrupt(format!("{DB_FILE} does not start with its magic line"))
    })?;
    let map: BTreeMap<String, ByteBuf> = rmp_serde::from_slice(body)
        .map_err(|err| VaultError::Corrupt(format!("{DB_FILE}: {err}")))?;
    Ok(map.into_iter().map(|(k, v)| (k, v.into_vec())).collect())
}

/// Fsyncs a directory so that a rename or creation in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(format!("fsync directory {}", dir.display())))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puts_check_their_expectation_and_apply_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        store
            .apply(vec![Op::Put("a".into(), b"1".to_vec(), Expect::Absent)])
            .unwrap();
        let (_, revision) = store.get("a").unwrap().unwrap();
        let err = store
            .apply(vec![
                Op::Put("b".into(), b"2".to_vec(), Expect::Absent),
                Op::Put("a".into(), b"3".to_vec(), Expect::Absent),
            ])
            .unwrap_err();
        assert!(matches!(err, VaultError::Conflict(key) if key == "a"));
        assert!(
            store.get("b").unwrap().is_none(),
            "nothing of a failed batch"
        );
        store
            .apply(vec![Op::Put(
                "a".into(),
                b"3".to_vec(),
                Expect::Revision(revision),
            )])
            .unwrap();
        let stale = store.apply(vec![Op::Put(
            "a".into(),
            b"4".to_vec(),
            Expect::Revision(revision),
        )]);
        assert!(matches!(stale, Err(VaultError::Conflict(_))));
        // Reopened: the same entries.
        drop(store);
        let store = FileStore::open(dir.path()).unwrap();
        assert_eq!(store.get("a").unwrap().unwrap().0, b"3");
        assert!(store.get("b").unwrap().is_none());
    }
}
