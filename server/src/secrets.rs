//! Server secrets kept beside the data: the key of request fingerprints.
//!
//! A fingerprint must be keyed (an HMAC), because request bodies can carry personal data
//! that a plain hash would let anyone with the log confirm by guessing. Servers that share one
//! NATS log must share the key: name the same file in each one's configuration
//! (`request_key_file`). Without one, the key is generated once into `DATA/request.key`
//! (mode 0600).

use std::io::Write;
use std::path::Path;

/// Bytes in a key.
pub const KEY_BYTES: usize = 32;

/// Why a key could not be read or made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The file could not be read or written.
    #[error("{what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold a key.
    #[error("{path} does not hold a key: expected {KEY_BYTES} bytes, found {len}")]
    Malformed {
        /// The file.
        path: String,
        /// Its length.
        len: usize,
    },
}

/// Reads the key in `path`, or makes one there (readable by the owner only) if there is none.
///
/// # Errors
///
/// [`SecretError`] when the file cannot be read or created, or holds no key.
pub fn load_or_create(path: &Path) -> Result<[u8; KEY_BYTES], SecretError> {
    let shown = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => bytes
            .as_slice()
            .try_into()
            .map_err(|_| SecretError::Malformed {
                path: shown,
                len: bytes.len(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; KEY_BYTES];
            getrandom::fill(&mut key).map_err(|e| SecretError::Io {
                what: "drawing a random key for",
                path: shown.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(path).map_err(|source| SecretError::Io {
                what: "creating",
                path: shown.clone(),
                source,
            })?;
            file.write_all(&key)
                .and_then(|()| file.sync_all())
                .map_err(|source| SecretError::Io {
                    what: "writing",
                    path: shown,
                    source,
                })?;
            Ok(key)
        }
        Err(source) => Err(SecretError::Io {
            what: "reading",
            path: shown,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("request.key");
        let made = load_or_create(&path).unwrap();
        assert_eq!(load_or_create(&path).unwrap(), made);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            load_or_create(&path),
            Err(SecretError::Malformed { len: 5, .. })
        ));
    }
}
