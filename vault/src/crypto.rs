//! The two primitives the vault is built on, both from RustCrypto: XChaCha20-Poly1305 (an
//! AEAD with 192-bit random nonces, so nonces can be drawn at random without a counter) and
//! HMAC-SHA256 for the blind index. Nothing here is hand-written cryptography: this module only
//! frames nonce and ciphertext and keeps key bytes in zeroizing containers.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Result, VaultError};

/// Length of every key in the vault (master, data and index keys): 256 bits.
pub const KEY_LEN: usize = 32;
/// Length of an XChaCha20-Poly1305 nonce.
pub const NONCE_LEN: usize = 24;
/// Length of the Poly1305 tag.
pub const TAG_LEN: usize = 16;

/// 256 bits of key material, wiped from memory when dropped. `Debug` prints no byte of it.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretKey([u8; KEY_LEN]);

impl SecretKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; KEY_LEN];
        fill_random(&mut bytes)?;
        let key = Self(bytes);
        bytes.zeroize();
        Ok(key)
    }

    /// Takes ownership of raw key bytes.
    pub fn from_bytes(mut bytes: [u8; KEY_LEN]) -> Self {
        let key = Self(bytes);
        bytes.zeroize();
        key
    }

    /// The raw bytes, for wrapping and for tests that search storage for them.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

pub(crate) fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|err| VaultError::Random(err.to_string()))
}

/// Encrypts `plaintext` under `key`, binding `aad`. Returns `nonce ‖ ciphertext ‖ tag`.
pub(crate) fn seal(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let sealed = key
        .cipher()
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| VaultError::Corrupt("encryption failed".into()))?;
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Decrypts what [`seal`] produced. `None` when authentication fails: wrong key, wrong `aad`,
/// or altered bytes (the AEAD cannot tell these apart, and callers say which they suspect).
pub(crate) fn open(key: &SecretKey, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    key.cipher()
        .decrypt(&XNonce::from(nonce), Payload { msg: body, aad })
        .ok()
        .map(Zeroizing::new)
}

/// Wraps (encrypts) a data key under a key-encryption key.
pub(crate) fn wrap(kek: &SecretKey, aad: &[u8], key: &SecretKey) -> Result<Vec<u8>> {
    seal(kek, aad, key.expose())
}

/// Unwraps a data key; `None` when authentication fails.
pub(crate) fn unwrap_key(kek: &SecretKey, aad: &[u8], wrapped: &[u8]) -> Option<SecretKey> {
    let bytes = open(kek, aad, wrapped)?;
    let array: [u8; KEY_LEN] = bytes.as_slice().try_into().ok()?;
    Some(SecretKey::from_bytes(array))
}

/// HMAC-SHA256 of `message` under `key`.
pub(crate) fn hmac_sha256(key: &SecretKey, message: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key.expose())
        .expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let key = SecretKey::generate().unwrap();
        let sealed = seal(&key, b"a", b"hello").unwrap();
        assert_eq!(open(&key, b"a", &sealed).unwrap().as_slice(), b"hello");
        assert!(open(&key, b"b", &sealed).is_none());
        let other = SecretKey::generate().unwrap();
        assert!(open(&other, b"a", &sealed).is_none());
        let mut bent = sealed.clone();
        *bent.last_mut().unwrap() ^= 1;
        assert!(open(&key, b"a", &bent).is_none());
        assert!(open(&key, b"a", &sealed[..10]).is_none());
    }

    #[test]
    fn debug_hides_key_bytes() {
        let key = SecretKey::from_bytes([0xab; KEY_LEN]);
        assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
    }
}
