//! The personal data vault of gridcase (issue 16; DOMAIN.md, "Personal information").
//!
//! Parties' names, ID numbers (身份证), phone numbers and addresses live here, never in the
//! event log. Each party's fields are encrypted with that party's own data key
//! (XChaCha20-Poly1305, with associated data binding each ciphertext to its party and field);
//! each case has a data key for its free text, whose ciphertext the events will carry. Data
//! keys are wrapped by a master key-encryption key ([`MasterKey`], from a [`KeySource`]).
//!
//! - **Matching without clear text**: ID numbers, phones and names get a keyed HMAC-SHA256
//!   blind index over their normalised form, under an index key of its own
//!   ([`Vault::find_parties`]).
//! - **Accountability**: every write, read, reveal, lookup and erasure is recorded in the
//!   access log (who, when, which party or case, why) before any clear text is returned
//!   ([`Vault::access_log`]).
//! - **Erasure by crypto-shredding**: [`Vault::erase_party`] destroys the party's key and
//!   ciphertexts, and the storage keeps no copy of them ([`store`]).
//! - **Rotation**: [`Vault::rotate_master_key`] re-wraps every live key.
//!
//! See docs/personal-data.md for the threat model and the integration plan.

pub mod access;
mod crypto;
pub mod error;
pub mod master;
pub mod personal;
pub mod store;
mod vault;

pub use access::{AccessEntry, AccessFilter, Accessor, Action};
pub use crypto::SecretKey;
pub use error::{Result, VaultError};
pub use master::{KeySource, KeyWarning, LoadedKey, MasterKey};
pub use personal::{Address, Field, IdNumber, InvalidField, PersonName, PersonalData, Phone};
pub use store::{nats::NatsConfig, Store};
pub use vault::{Lookup, PartyStatus, PartyView, Sealed, Vault};
