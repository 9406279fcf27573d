//! The master key-encryption key (KEK) and where it comes from.
//!
//! The master key wraps every data key and the blind-index key. It is 32 random bytes written
//! as 64 hexadecimal digits, read from a file or an environment variable named in the
//! configuration ([`KeySource`]); it never enters the event log, the vault's storage or the
//! repository. With none configured (a demo), [`KeySource::load`] generates
//! `DATA/vault.key` (mode 0600) and says so with a [`KeyWarning`], because a key beside the
//! data protects nothing against whoever copies the data directory.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::crypto::{hmac_sha256, SecretKey, KEY_LEN};
use crate::error::{io, Result, VaultError};

/// Name of the generated key file inside the data directory.
pub const GENERATED_KEY_FILE: &str = "vault.key";

/// The master key-encryption key. `Debug` shows only its id.
#[derive(Clone)]
pub struct MasterKey {
    key: SecretKey,
    id: String,
}

impl MasterKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let key = SecretKey::from_bytes(bytes);
        let id = key_id(&key);
        Self { key, id }
    }

    /// A fresh random master key.
    ///
    /// # Errors
    ///
    /// When the operating system's random number generator fails.
    pub fn generate() -> Result<Self> {
        let key = SecretKey::generate()?;
        let id = key_id(&key);
        Ok(Self { key, id })
    }

    /// Parses 64 hexadecimal digits (surrounding whitespace ignored).
    ///
    /// # Errors
    ///
    /// [`VaultError::MasterKey`] when the text is not 64 hex digits. The message does not
    /// repeat the text.
    pub fn from_hex(text: &str) -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(text.trim(), bytes.as_mut_slice()).map_err(|_| {
            VaultError::MasterKey(format!(
                "expected {} hexadecimal digits (a 256-bit key)",
                2 * KEY_LEN
            ))
        })?;
        Ok(Self::from_bytes(*bytes))
    }

    /// The key as 64 lowercase hex digits, for writing a key file.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.key.expose()))
    }

    /// A public identifier of the key (the first 8 bytes of HMAC-SHA256 of a fixed label under
    /// the key, in hex): tells which key sealed a vault without revealing anything about it.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn secret(&self) -> &SecretKey {
        &self.key
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey(id {})", self.id)
    }
}

fn key_id(key: &SecretKey) -> String {
    hex::encode(&hmac_sha256(key, b"gridcase-vault master key id")[..8])
}

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A file holding 64 hex digits (e.g. a mounted secret).
    File(PathBuf),
    /// An environment variable, by name, holding 64 hex digits.
    Env(String),
    /// None configured: use `DATA/vault.key`, generating it on first use (demo only).
    Generated,
}

/// Why a loaded master key deserves a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyWarning {
    /// The key was just generated into the data directory.
    GeneratedBesideData(PathBuf),
    /// The key was read from the generated file in the data directory.
    BesideData(PathBuf),
    /// The key file can be read by users other than its owner.
    ReadableByOthers(PathBuf),
}

impl std::fmt::Display for KeyWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::GeneratedBesideData(path) => write!(
                f,
                "generated a master key at {} beside the data it protects: anyone who copies the \
                 data directory can read the personal data; configure a key file or environment \
                 variable outside it for real use",
                path.display()
            ),
            Self::BesideData(path) => write!(
                f,
                "the master key is {} beside the data it protects: configure a key file or \
                 environment variable outside the data directory for real use",
                path.display()
            ),
            Self::ReadableByOthers(path) => write!(
                f,
                "master key file {} is readable by group or others; chmod 600 it",
                path.display()
            ),
        }
    }
}

/// A master key and, when its source is weak, the warning to log.
#[derive(Debug)]
pub struct LoadedKey {
    /// The key.
    pub key: MasterKey,
    /// Set when the key sits beside the data or is readable by others.
    pub warning: Option<KeyWarning>,
}

impl KeySource {
    /// Reads (or, for [`KeySource::Generated`], creates) the master key. `data_dir` is where
    /// the generated key lives.
    ///
    /// # Errors
    ///
    /// [`VaultError::MasterKey`] when the variable is unset or the key malformed,
    /// [`VaultError::Io`] when the file cannot be read or written.
    pub fn load(&self, data_dir: &Path) -> Result<LoadedKey> {
        match self {
            Self::File(path) => {
                let key = read_key_file(path)?;
                Ok(LoadedKey {
                    key,
                    warning: readable_by_others(path)
                        .then(|| KeyWarning::ReadableByOthers(path.clone())),
                })
            }
            Self::Env(name) => {
                let text = Zeroizing::new(std::env::var(name).map_err(|_| {
                    VaultError::MasterKey(format!("environment variable {name} is not set"))
                })?);
                Ok(LoadedKey {
                    key: MasterKey::from_hex(&text)?,
                    warning: None,
                })
            }
            Self::Generated => {
                let path = data_dir.join(GENERATED_KEY_FILE);
                if path.exists() {
                    return Ok(LoadedKey {
                        key: read_key_file(&path)?,
                        warning: Some(KeyWarning::BesideData(path)),
                    });
                }
                let key = MasterKey::generate()?;
                write_key_file(&path, &key)?;
                Ok(LoadedKey {
                    key,
                    warning: Some(KeyWarning::GeneratedBesideData(path)),
                })
            }
        }
    }
}

fn read_key_file(path: &Path) -> Result<MasterKey> {
    let text = Zeroizing::new(
        fs::read_to_string(path).map_err(io(format!("read master key {}", path.display())))?,
    );
    MasterKey::from_hex(&text)
        .map_err(|err| VaultError::MasterKey(format!("{}: {err}", path.display())))
}

/// Writes a new key file with mode 0600, refusing to overwrite one, and makes it durable.
pub fn write_key_file(path: &Path, key: &MasterKey) -> Result<()> {
    let what = || format!("create master key {}", path.display());
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io(what()))?;
    }
    let mut file = options.open(path).map_err(io(what()))?;
    let mut line = key.to_hex();
    line.push('\n');
    file.write_all(line.as_bytes()).map_err(io(what()))?;
    file.sync_all().map_err(io(what()))?;
    if let Some(parent) = path.parent() {
        crate::store::file::sync_dir(parent)?;
    }
    Ok(())
}

#[cfg(unix)]
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o077 != 0)
}

#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_is_0600_reused_and_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let first = KeySource::Generated.load(dir.path()).unwrap();
        let path = dir.path().join(GENERATED_KEY_FILE);
        assert_eq!(
            first.warning,
            Some(KeyWarning::GeneratedBesideData(path.clone()))
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let second = KeySource::Generated.load(dir.path()).unwrap();
        assert_eq!(second.key.id(), first.key.id());
        assert_eq!(second.warning, Some(KeyWarning::BesideData(path)));
    }

    #[test]
    fn file_and_env_sources() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::generate().unwrap();
        let path = dir.path().join("kek");
        write_key_file(&path, &key).unwrap();
        let loaded = KeySource::File(path).load(dir.path()).unwrap();
        assert_eq!(loaded.key.id(), key.id());
        assert_eq!(loaded.warning, None);

        let err = KeySource::Env("GRIDCASE_VAULT_TEST_UNSET_VARIABLE".into())
            .load(dir.path())
            .unwrap_err();
        assert!(matches!(err, VaultError::MasterKey(_)), "{err}");
        let bad = dir.path().join("bad");
        fs::write(&bad, "not hex").unwrap();
        let err = KeySource::File(bad).load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("64 hexadecimal digits"), "{err}");
    }

    #[test]
    fn debug_shows_only_the_id() {
        let key = MasterKey::from_bytes([7; KEY_LEN]);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&*key.to_hex()));
        assert!(shown.contains(key.id()));
    }
}
