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
//!
//! ```
//! use gridcase_domain::{ActorId, PartyId, Role};
//! use gridcase_vault::{
//!     Accessor, IdNumber, KeySource, Lookup, PersonName, PersonalData, Phone, Store, Vault,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let data_dir = dir.path();
//! // No key configured: DATA/vault.key is generated, with a warning to log.
//! let loaded = KeySource::Generated.load(data_dir)?;
//! assert!(loaded.warning.is_some());
//! let vault = Vault::open(Store::open_dir(data_dir)?, loaded.key).await?;
//!
//! let who = Accessor::now(ActorId::new("mediator-1")?, Role::Mediator, "调解联系当事人");
//! let party = PartyId::new("p-1")?;
//! let data = PersonalData {
//!     name: Some(PersonName::new("王秀英")?),
//!     id_number: Some(IdNumber::new("11010519491231002X")?),
//!     phone: Some(Phone::new("+86 138 1234 5678")?),
//!     address: None,
//! };
//! vault.put_party(&party, &data, &who).await?;
//!
//! let view = vault.read_party(&party, &who).await?; // logged
//! assert_eq!(view.id_number_masked.as_deref(), Some("110***********002X"));
//! let same_phone = Lookup::Phone(Phone::new("138-1234-5678")?);
//! assert_eq!(vault.find_parties(&same_phone, &who).await?, vec![party.clone()]);
//!
//! vault.erase_party(&party, &Accessor::now(ActorId::new("head-1")?, Role::Supervisor, "PIPL art. 47")).await?;
//! assert!(vault.read_party(&party, &who).await.is_err());
//! # Ok(())
//! # }
//! ```

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
pub use vault::{CaseTextStatus, Lookup, PartyStatus, PartyView, Sealed, Vault};
