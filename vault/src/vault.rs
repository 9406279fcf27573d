//! The vault: keys, ciphertexts, blind index and access log over a [`Store`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use gridcase_domain::{ActorId, CaseId, Opened, PartyId, TextOpener};
use jiff::Timestamp;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_bytes::ByteBuf;
use zeroize::Zeroizing;

use crate::access::{AccessEntry, AccessFilter, Accessor, Action};
use crate::crypto::{self, SecretKey};
use crate::error::{Result, VaultError};
use crate::master::MasterKey;
use crate::personal::{Address, Field, IdNumber, PersonName, PersonalData, Phone};
use crate::store::{Expect, Op, Store};

/// Version tag in every associated-data string and in sealed case text.
const FORMAT: &str = "gridcase-vault/1";
const SEALED_VERSION: u8 = 1;
const META: &str = "meta";

/// The vault's header entry: which master key sealed it, and the wrapped blind-index key.
#[derive(Serialize, Deserialize)]
struct Meta {
    format: u32,
    kek_id: String,
    index_key: ByteBuf,
}

/// A data key wrapped under the master key.
#[derive(Serialize, Deserialize)]
struct Wrapped {
    kek_id: String,
    wrapped: ByteBuf,
}

/// A party's encrypted fields and the blind-index postings that point at it.
#[derive(Serialize, Deserialize, Default)]
struct Record {
    fields: BTreeMap<Field, ByteBuf>,
    postings: Vec<String>,
}

/// The tombstone of an erasure: when, by whom, on what basis. No personal data.
#[derive(Serialize, Deserialize)]
struct Erasure {
    at: Timestamp,
    actor: ActorId,
    basis: String,
}

/// Who owns a data key.
#[derive(Clone, Copy)]
enum Owner<'a> {
    Party(&'a PartyId),
    Case(&'a CaseId),
}

impl Owner<'_> {
    fn token(self) -> String {
        match self {
            Self::Party(p) => format!("p.{}", hex::encode(p.as_str())),
            Self::Case(c) => format!("c.{}", hex::encode(c.as_str())),
        }
    }
    fn key_entry(self) -> String {
        format!("key.{}", self.token())
    }
    fn erased_entry(self) -> String {
        format!("erased.{}", self.token())
    }
    fn wrap_aad(self) -> Vec<u8> {
        match self {
            Self::Party(p) => format!("{FORMAT}/wrap/party/{}", p.as_str()),
            Self::Case(c) => format!("{FORMAT}/wrap/case/{}", c.as_str()),
        }
        .into_bytes()
    }
    fn describe(self) -> String {
        match self {
            Self::Party(p) => format!("party {}", p.as_str()),
            Self::Case(c) => format!("case {}", c.as_str()),
        }
    }
}

fn record_entry(party: &PartyId) -> String {
    format!("rec.{}", hex::encode(party.as_str()))
}

fn field_aad(party: &PartyId, field: Field) -> Vec<u8> {
    format!("{FORMAT}/party/{}/{}", party.as_str(), field.as_str()).into_bytes()
}

fn case_text_aad(case: &CaseId, label: &str) -> Vec<u8> {
    format!("{FORMAT}/case/{}/{label}", case.as_str()).into_bytes()
}

const INDEX_AAD: &[u8] = b"gridcase-vault/1/wrap/index";

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    rmp_serde::to_vec_named(value).map_err(|err| VaultError::Corrupt(format!("encode: {err}")))
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T> {
    rmp_serde::from_slice(bytes).map_err(|err| VaultError::Corrupt(format!("{what}: {err}")))
}

/// A search by blind index: normalised, then matched by keyed hash.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Parties with this ID number.
    IdNumber(IdNumber),
    /// Parties with this phone number.
    Phone(Phone),
    /// Parties with this name (after normalisation).
    Name(PersonName),
}

impl Lookup {
    fn field(&self) -> Field {
        match self {
            Self::IdNumber(_) => Field::IdNumber,
            Self::Phone(_) => Field::Phone,
            Self::Name(_) => Field::Name,
        }
    }
}

/// What a reader of a party sees: name, phone and address in clear, the ID number masked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartyView {
    /// 姓名.
    pub name: Option<PersonName>,
    /// The ID number masked (`110***********1234`); [`Vault::reveal_id_number`] shows it whole.
    pub id_number_masked: Option<String>,
    /// 电话.
    pub phone: Option<Phone>,
    /// 地址.
    pub address: Option<Address>,
}

/// Whether a party has personal data in the vault. Reading it is not an access to personal
/// data and is not logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartyStatus {
    /// Nothing was ever stored.
    Unknown,
    /// Personal data is stored.
    Present,
    /// The data was erased (shown as 已删除).
    Erased {
        /// When.
        at: Timestamp,
    },
}

/// Whether a case's free text is sealed under a key of its own. Reading it is not an access
/// to personal data and is not logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseTextStatus {
    /// The case has no key: none of its text was sealed.
    Unknown,
    /// Its text is sealed under its key.
    Sealed,
    /// The key was destroyed: the text reads ［已删除］.
    Erased {
        /// When.
        at: Timestamp,
    },
}

/// Free text sealed under a case's key: version byte, nonce, ciphertext and tag. This is what
/// events will carry; it stays verifiable (hashable) after the case key is destroyed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(#[serde(with = "serde_bytes")] Vec<u8>);

impl Sealed {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Takes bytes produced by [`Sealed::as_bytes`]; they are checked when opened.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

/// The personal data vault.
pub struct Vault {
    store: Store,
    master: MasterKey,
    index_key: SecretKey,
    /// Serialises changes (read-modify-write of records and postings) within this process.
    writes: tokio::sync::Mutex<()>,
    /// Case keys unwrapped in this process (`None`: erased), so that case text is sealed and
    /// opened without a store round trip ([`Vault::warm_case_key`], [`Vault::load_case_keys`];
    /// the [`TextOpener`] reads only these).
    case_keys: std::sync::RwLock<HashMap<CaseId, Option<Arc<SecretKey>>>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("store", &self.store)
            .field("master", &self.master)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Opens the vault in `store` with `master`, initialising an empty store.
    ///
    /// # Errors
    ///
    /// [`VaultError::WrongMasterKey`] when the store was sealed with another master key;
    /// [`VaultError::Tampered`] when the wrapped index key fails authentication; storage
    /// errors.
    pub async fn open(store: Store, master: MasterKey) -> Result<Self> {
        // A second attempt only if another process initialised the store meanwhile.
        let index_key = match Self::index_key(&store, &master).await {
            Err(VaultError::Conflict(_)) => Self::index_key(&store, &master).await?,
            other => other?,
        };
        Ok(Self {
            store,
            master,
            index_key,
            writes: tokio::sync::Mutex::new(()),
            case_keys: std::sync::RwLock::default(),
        })
    }

    /// Unwraps the blind-index key from the header, creating both in an empty store.
    async fn index_key(store: &Store, master: &MasterKey) -> Result<SecretKey> {
        Ok(match store.get(META).await? {
            Some(bytes) => {
                let meta: Meta = decode("vault header", &bytes)?;
                if meta.kek_id != master.id() {
                    return Err(VaultError::WrongMasterKey {
                        expected: meta.kek_id,
                        configured: master.id().to_owned(),
                    });
                }
                crypto::unwrap_key(master.secret(), INDEX_AAD, &meta.index_key).ok_or_else(
                    || VaultError::Tampered {
                        what: "the blind-index key".into(),
                    },
                )?
            }
            None => {
                let index_key = SecretKey::generate()?;
                let meta = Meta {
                    format: 1,
                    kek_id: master.id().to_owned(),
                    index_key: ByteBuf::from(crypto::wrap(master.secret(), INDEX_AAD, &index_key)?),
                };
                store
                    .apply(vec![Op::Put(META.into(), encode(&meta)?, Expect::Absent)])
                    .await?;
                index_key
            }
        })
    }

    /// The id of the master key in use.
    pub fn master_key_id(&self) -> &str {
        self.master.id()
    }

    /// The store, e.g. to hand it back after closing.
    pub fn store(&self) -> &Store {
        &self.store
    }

    async fn log(&self, entry: AccessEntry) -> Result<()> {
        self.store.append_access(&entry).await
    }

    /// Every access to personal data states a purpose, and no analyst gets one.
    fn check_purpose(who: &Accessor) -> Result<()> {
        if who.role == gridcase_domain::Role::Analyst {
            return Err(VaultError::Forbidden(who.role));
        }
        if who.purpose.trim().is_empty() {
            return Err(VaultError::PurposeRequired);
        }
        Ok(())
    }

    async fn erasure(&self, owner: Owner<'_>) -> Result<Option<Erasure>> {
        match self.store.get(&owner.erased_entry()).await? {
            Some(bytes) => Ok(Some(decode("erasure record", &bytes)?)),
            None => Ok(None),
        }
    }

    async fn data_key(&self, owner: Owner<'_>) -> Result<Option<SecretKey>> {
        let Some(bytes) = self.store.get(&owner.key_entry()).await? else {
            return Ok(None);
        };
        let wrapped: Wrapped = decode("wrapped key", &bytes)?;
        self.unwrap_entry(owner, &wrapped).map(Some)
    }

    fn unwrap_entry(&self, owner: Owner<'_>, wrapped: &Wrapped) -> Result<SecretKey> {
        if wrapped.kek_id != self.master.id() {
            return Err(VaultError::WrappedUnderOtherMaster {
                owner: owner.describe(),
                found: wrapped.kek_id.clone(),
                current: self.master.id().to_owned(),
            });
        }
        crypto::unwrap_key(self.master.secret(), &owner.wrap_aad(), &wrapped.wrapped).ok_or_else(
            || VaultError::Tampered {
                what: format!("the data key of {}", owner.describe()),
            },
        )
    }

    /// A fresh data key, after checking that the store's header still names this vault's
    /// master key: another process may have rotated it, and a key wrapped under the old one
    /// now would be unreadable after a restart.
    async fn new_data_key(&self) -> Result<SecretKey> {
        if let Some(bytes) = self.store.get(META).await? {
            let meta: Meta = decode("vault header", &bytes)?;
            if meta.kek_id != self.master.id() {
                return Err(VaultError::WrongMasterKey {
                    expected: meta.kek_id,
                    configured: self.master.id().to_owned(),
                });
            }
        }
        SecretKey::generate()
    }

    fn wrap_entry(&self, owner: Owner<'_>, key: &SecretKey) -> Result<Vec<u8>> {
        encode(&Wrapped {
            kek_id: self.master.id().to_owned(),
            wrapped: ByteBuf::from(crypto::wrap(self.master.secret(), &owner.wrap_aad(), key)?),
        })
    }

    /// The blind-index entry name for a field value: `idx.<field>.<hex HMAC>`. The HMAC input
    /// is the field name and the normalised value, so equal strings in different fields do not
    /// collide.
    fn posting(&self, field: Field, normalized: &str) -> String {
        let mut message = Zeroizing::new(Vec::with_capacity(normalized.len() + 16));
        message.extend_from_slice(field.as_str().as_bytes());
        message.push(0);
        message.extend_from_slice(normalized.as_bytes());
        let mac = crypto::hmac_sha256(&self.index_key, &message);
        format!("idx.{}.{}", field.as_str(), hex::encode(mac))
    }

    fn postings_of(&self, data: &PersonalData) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(id) = &data.id_number {
            out.push(self.posting(Field::IdNumber, id.expose()));
        }
        if let Some(phone) = &data.phone {
            out.push(self.posting(Field::Phone, phone.expose()));
        }
        if let Some(name) = &data.name {
            out.push(self.posting(Field::Name, &name.normalized()));
        }
        out
    }

    async fn posting_parties(&self, posting: &str) -> Result<(Vec<PartyId>, Option<u64>)> {
        match self.store.get_versioned(posting).await? {
            Some((bytes, revision)) => Ok((decode("blind-index posting", &bytes)?, Some(revision))),
            None => Ok((Vec::new(), None)),
        }
    }

    /// Ops that add (`add`) or remove (`!add`) `party` in `posting`.
    async fn posting_op(&self, posting: &str, party: &PartyId, add: bool) -> Result<Option<Op>> {
        let (mut parties, revision) = self.posting_parties(posting).await?;
        let had = parties.contains(party);
        if add == had {
            return Ok(None);
        }
        if add {
            parties.push(party.clone());
            parties.sort();
        } else {
            parties.retain(|p| p != party);
        }
        Ok(Some(if parties.is_empty() {
            Op::Erase(posting.to_owned())
        } else {
            Op::Put(
                posting.to_owned(),
                encode(&parties)?,
                Expect::from_read(revision),
            )
        }))
    }

    async fn record(&self, party: &PartyId) -> Result<Option<Record>> {
        Ok(self
            .record_versioned(party)
            .await?
            .map(|(record, _)| record))
    }

    async fn record_versioned(&self, party: &PartyId) -> Result<Option<(Record, u64)>> {
        match self.store.get_versioned(&record_entry(party)).await? {
            Some((bytes, revision)) => Ok(Some((decode("party record", &bytes)?, revision))),
            None => Ok(None),
        }
    }

    /// Stores (replacing) a party's personal data: each field sealed under the party's key,
    /// blind-index postings for ID number, phone and name. Recorded as a write.
    ///
    /// # Errors
    ///
    /// [`VaultError::PartyErased`] for an erased party (a returning person gets a new party
    /// id), [`VaultError::PurposeRequired`], storage errors.
    pub async fn put_party(
        &self,
        party: &PartyId,
        data: &PersonalData,
        who: &Accessor,
    ) -> Result<()> {
        Self::check_purpose(who)?;
        let _guard = self.writes.lock().await;
        let owner = Owner::Party(party);
        if self.erasure(owner).await?.is_some() {
            return Err(VaultError::PartyErased(party.clone()));
        }
        let mut ops = Vec::new();
        let key = match self.data_key(owner).await? {
            Some(key) => key,
            None => {
                let key = self.new_data_key().await?;
                ops.push(Op::Put(
                    owner.key_entry(),
                    self.wrap_entry(owner, &key)?,
                    Expect::Absent,
                ));
                key
            }
        };
        let (old, old_revision) = match self.record_versioned(party).await? {
            Some((record, revision)) => (record, Some(revision)),
            None => (Record::default(), None),
        };
        let mut record = Record {
            postings: self.postings_of(data),
            ..Record::default()
        };
        for (field, clear) in data.fields() {
            let sealed = crypto::seal(&key, &field_aad(party, field), clear.as_bytes())?;
            record.fields.insert(field, ByteBuf::from(sealed));
        }
        ops.push(Op::Put(
            record_entry(party),
            encode(&record)?,
            Expect::from_read(old_revision),
        ));
        for posting in &old.postings {
            if !record.postings.contains(posting) {
                ops.extend(self.posting_op(posting, party, false).await?);
            }
        }
        // Every posting of the new record, not only the new ones: after an interrupted write
        // on NATS the record may already list a posting that does not yet list the party.
        for posting in &record.postings {
            ops.extend(self.posting_op(posting, party, true).await?);
        }
        let mut entry = AccessEntry::new(who, Action::Write);
        entry.party = Some(party.clone());
        entry.fields = data.fields().into_iter().map(|(f, _)| f).collect();
        self.store.apply(ops).await?;
        self.log(entry).await
    }

    /// Decrypts all stored fields of a party (no logging: callers log).
    async fn decrypt_party(&self, party: &PartyId) -> Result<PersonalData> {
        let owner = Owner::Party(party);
        if self.erasure(owner).await?.is_some() {
            return Err(VaultError::PartyErased(party.clone()));
        }
        let record = self
            .record(party)
            .await?
            .ok_or_else(|| VaultError::UnknownParty(party.clone()))?;
        let key = self
            .data_key(owner)
            .await?
            .ok_or_else(|| VaultError::UnknownParty(party.clone()))?;
        let mut data = PersonalData::default();
        for (&field, sealed) in &record.fields {
            let clear = crypto::open(&key, &field_aad(party, field), sealed).ok_or_else(|| {
                VaultError::Tampered {
                    what: format!("{} of party {}", field.as_str(), party.as_str()),
                }
            })?;
            let text = std::str::from_utf8(&clear).map_err(|_| VaultError::Tampered {
                what: format!("{} of party {}", field.as_str(), party.as_str()),
            })?;
            match field {
                Field::Name => data.name = Some(PersonName::new(text)?),
                Field::IdNumber => data.id_number = Some(IdNumber::new(text)?),
                Field::Phone => data.phone = Some(Phone::new(text)?),
                Field::Address => data.address = Some(Address::new(text)?),
            }
        }
        Ok(data)
    }

    /// A party's personal data with the ID number masked. Recorded (before it is returned) as
    /// a read of the fields present.
    ///
    /// # Errors
    ///
    /// [`VaultError::UnknownParty`], [`VaultError::PartyErased`], [`VaultError::Tampered`],
    /// [`VaultError::PurposeRequired`], storage errors (including a failure to log, in which
    /// case nothing is returned).
    pub async fn read_party(&self, party: &PartyId, who: &Accessor) -> Result<PartyView> {
        Self::check_purpose(who)?;
        let data = self.decrypt_party(party).await?;
        let mut entry = AccessEntry::new(who, Action::Read);
        entry.party = Some(party.clone());
        entry.fields = data.fields().into_iter().map(|(f, _)| f).collect();
        self.log(entry).await?;
        Ok(PartyView {
            id_number_masked: data.id_number.as_ref().map(IdNumber::masked),
            name: data.name,
            phone: data.phone,
            address: data.address,
        })
    }

    /// The full ID number of a party. Recorded (before it is returned) as a reveal.
    ///
    /// # Errors
    ///
    /// As [`Vault::read_party`]; [`VaultError::UnknownParty`] also when no ID number is stored.
    pub async fn reveal_id_number(&self, party: &PartyId, who: &Accessor) -> Result<IdNumber> {
        Self::check_purpose(who)?;
        let data = self.decrypt_party(party).await?;
        let id = data
            .id_number
            .ok_or_else(|| VaultError::UnknownParty(party.clone()))?;
        let mut entry = AccessEntry::new(who, Action::RevealIdNumber);
        entry.party = Some(party.clone());
        entry.fields = vec![Field::IdNumber];
        self.log(entry).await?;
        Ok(id)
    }

    /// The parties whose ID number, phone or name matches, by blind index (nothing is
    /// decrypted). Recorded as a lookup, with the parties found.
    ///
    /// # Errors
    ///
    /// [`VaultError::PurposeRequired`], storage errors.
    pub async fn find_parties(&self, query: &Lookup, who: &Accessor) -> Result<Vec<PartyId>> {
        Self::check_purpose(who)?;
        let posting = match query {
            Lookup::IdNumber(id) => self.posting(Field::IdNumber, id.expose()),
            Lookup::Phone(phone) => self.posting(Field::Phone, phone.expose()),
            Lookup::Name(name) => self.posting(Field::Name, &name.normalized()),
        };
        let mut parties = Vec::new();
        for party in self.posting_parties(&posting).await?.0 {
            // A posting is a hint; the party's own record decides. After an interrupted
            // change on NATS a posting can still name a party whose data moved on or was
            // erased.
            if self.erasure(Owner::Party(&party)).await?.is_none()
                && self
                    .record(&party)
                    .await?
                    .is_some_and(|record| record.postings.contains(&posting))
            {
                parties.push(party);
            }
        }
        let mut entry = AccessEntry::new(who, Action::Lookup);
        entry.fields = vec![query.field()];
        entry.matched.clone_from(&parties);
        self.log(entry).await?;
        Ok(parties)
    }

    /// The other parties that share an ID number, phone or name with `party` ("has this
    /// person been a party before?"), each with the fields that matched, by the party's own
    /// blind-index postings: nothing is decrypted. Recorded as a lookup about `party`, with
    /// the parties found.
    ///
    /// # Errors
    ///
    /// [`VaultError::UnknownParty`], [`VaultError::PartyErased`],
    /// [`VaultError::PurposeRequired`], storage errors.
    pub async fn same_person(
        &self,
        party: &PartyId,
        who: &Accessor,
    ) -> Result<Vec<(PartyId, Vec<Field>)>> {
        Self::check_purpose(who)?;
        if self.erasure(Owner::Party(party)).await?.is_some() {
            return Err(VaultError::PartyErased(party.clone()));
        }
        let record = self
            .record(party)
            .await?
            .ok_or_else(|| VaultError::UnknownParty(party.clone()))?;
        let mut found: BTreeMap<PartyId, Vec<Field>> = BTreeMap::new();
        let mut fields = Vec::new();
        for posting in &record.postings {
            let Some(field) = Field::ALL
                .into_iter()
                .find(|f| posting.starts_with(&format!("idx.{}.", f.as_str())))
            else {
                continue;
            };
            fields.push(field);
            for other in self.posting_parties(posting).await?.0 {
                if &other == party || self.erasure(Owner::Party(&other)).await?.is_some() {
                    continue;
                }
                // A posting is a hint; the other party's own record decides.
                if self
                    .record(&other)
                    .await?
                    .is_some_and(|r| r.postings.contains(posting))
                {
                    found.entry(other).or_default().push(field);
                }
            }
        }
        let mut entry = AccessEntry::new(who, Action::Lookup);
        entry.party = Some(party.clone());
        entry.fields = fields;
        entry.matched = found.keys().cloned().collect();
        self.log(entry).await?;
        Ok(found.into_iter().collect())
    }

    /// Whether a party has data, or had it erased. Not an access to personal data.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn party_status(&self, party: &PartyId) -> Result<PartyStatus> {
        if let Some(erasure) = self.erasure(Owner::Party(party)).await? {
            return Ok(PartyStatus::Erased { at: erasure.at });
        }
        Ok(if self.record(party).await?.is_some() {
            PartyStatus::Present
        } else {
            PartyStatus::Unknown
        })
    }

    /// Whether a case's free text is sealed, or its key was destroyed. Not an access to
    /// personal data.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn case_text_status(&self, case: &CaseId) -> Result<CaseTextStatus> {
        let owner = Owner::Case(case);
        if let Some(erasure) = self.erasure(owner).await? {
            return Ok(CaseTextStatus::Erased { at: erasure.at });
        }
        Ok(if self.store.get(&owner.key_entry()).await?.is_some() {
            CaseTextStatus::Sealed
        } else {
            CaseTextStatus::Unknown
        })
    }

    /// Erases a party's personal data by destroying its key, then its ciphertexts and its
    /// blind-index postings; `who.purpose` is the legal basis. Leaves a tombstone (when, who,
    /// basis) and an access-log entry. Safe to repeat: a repeated or interrupted erasure
    /// finishes what is left.
    ///
    /// # Errors
    ///
    /// [`VaultError::UnknownParty`] when nothing was ever stored, [`VaultError::PurposeRequired`],
    /// storage errors.
    pub async fn erase_party(&self, party: &PartyId, who: &Accessor) -> Result<()> {
        Self::check_purpose(who)?;
        let _guard = self.writes.lock().await;
        let owner = Owner::Party(party);
        let record = self.record(party).await?;
        let key_present = self.store.get(&owner.key_entry()).await?.is_some();
        let mut ops = Vec::new();
        if self.erasure(owner).await?.is_none() {
            if record.is_none() && !key_present {
                return Err(VaultError::UnknownParty(party.clone()));
            }
            ops.push(Op::Put(
                owner.erased_entry(),
                encode(&Erasure {
                    at: who.at,
                    actor: who.actor.clone(),
                    basis: who.purpose.clone(),
                })?,
                Expect::Absent,
            ));
        }
        // The key first: from then on the ciphertexts are noise, whatever happens next.
        ops.push(Op::Erase(owner.key_entry()));
        if let Some(record) = &record {
            for posting in &record.postings {
                ops.extend(self.posting_op(posting, party, false).await?);
            }
        }
        ops.push(Op::Erase(record_entry(party)));
        self.store.apply(ops).await?;
        let mut entry = AccessEntry::new(who, Action::ErasePartyData);
        entry.party = Some(party.clone());
        self.log(entry).await
    }

    /// Seals free text of a case (a summary, a note, a mediation record) under the case's key,
    /// created on first use; `label` names the field (and is bound as associated data, so the
    /// ciphertext opens only under the same case and label). Not logged: nothing is revealed.
    ///
    /// # Errors
    ///
    /// [`VaultError::CaseErased`], storage errors.
    pub async fn seal_case_text(&self, case: &CaseId, label: &str, text: &str) -> Result<Sealed> {
        let key = self.case_key_for_sealing(case).await?;
        let mut out = vec![SEALED_VERSION];
        out.extend(crypto::seal(
            &key,
            &case_text_aad(case, label),
            text.as_bytes(),
        )?);
        Ok(Sealed(out))
    }

    /// The case's key from this process's cache, else from the store, else a new one.
    async fn case_key_for_sealing(&self, case: &CaseId) -> Result<Arc<SecretKey>> {
        match self.cached_case_key(case) {
            Some(Some(key)) => return Ok(key),
            Some(None) => return Err(VaultError::CaseErased(case.clone())),
            None => {}
        }
        let owner = Owner::Case(case);
        let key = match self.data_key(owner).await? {
            Some(key) => key,
            None => {
                let _guard = self.writes.lock().await;
                if self.erasure(owner).await?.is_some() {
                    return Err(VaultError::CaseErased(case.clone()));
                }
                match self.data_key(owner).await? {
                    Some(key) => key,
                    None => {
                        let key = self.new_data_key().await?;
                        let put = Op::Put(
                            owner.key_entry(),
                            self.wrap_entry(owner, &key)?,
                            Expect::Absent,
                        );
                        match self.store.apply(vec![put]).await {
                            Ok(()) => key,
                            // Another process created it first: use theirs.
                            Err(VaultError::Conflict(_)) => self
                                .data_key(owner)
                                .await?
                                .ok_or_else(|| VaultError::CaseErased(case.clone()))?,
                            Err(err) => return Err(err),
                        }
                    }
                }
            }
        };
        let key = Arc::new(key);
        self.remember_case_key(case, Some(key.clone()));
        Ok(key)
    }

    /// `Some(None)`: erased; `None`: not in this process's cache.
    fn cached_case_key(&self, case: &CaseId) -> Option<Option<Arc<SecretKey>>> {
        self.case_keys
            .read()
            .expect("case key cache")
            .get(case)
            .cloned()
    }

    fn remember_case_key(&self, case: &CaseId, key: Option<Arc<SecretKey>>) {
        self.case_keys
            .write()
            .expect("case key cache")
            .insert(case.clone(), key);
    }

    /// Makes sure this process holds the case's key (or knows it erased), so that the
    /// [`TextOpener`] can open its text; a case without sealed text has no key and stays
    /// unknown. Call before showing a case whose key another process may have made.
    ///
    /// # Errors
    ///
    /// [`VaultError::Tampered`] and the like for a key that does not unwrap; storage errors.
    pub async fn warm_case_key(&self, case: &CaseId) -> Result<()> {
        if self.cached_case_key(case).is_some() {
            return Ok(());
        }
        let owner = Owner::Case(case);
        if self.erasure(owner).await?.is_some() {
            self.remember_case_key(case, None);
        } else if let Some(key) = self.data_key(owner).await? {
            self.remember_case_key(case, Some(Arc::new(key)));
        }
        Ok(())
    }

    /// Unwraps every case key of the store into this process's cache (and notes the erased
    /// ones), e.g. at start before the projection indexes the cases' text. Returns how many
    /// keys it holds.
    ///
    /// # Errors
    ///
    /// As [`Vault::warm_case_key`].
    pub async fn load_case_keys(&self) -> Result<usize> {
        let case_of = |name: &str, prefix: &str| -> Option<CaseId> {
            let token = name.strip_prefix(prefix)?;
            String::from_utf8(hex::decode(token).ok()?)
                .ok()?
                .parse()
                .ok()
        };
        for name in self.store.keys_with_prefix("erased.c.").await? {
            if let Some(case) = case_of(&name, "erased.c.") {
                self.remember_case_key(&case, None);
            }
        }
        let mut held = 0;
        for name in self.store.keys_with_prefix("key.c.").await? {
            let Some(case) = case_of(&name, "key.c.") else {
                continue;
            };
            if let Some(key) = self.data_key(Owner::Case(&case)).await? {
                self.remember_case_key(&case, Some(Arc::new(key)));
                held += 1;
            }
        }
        Ok(held)
    }

    /// Records that `who` read the free text of `case` (a case page or a timeline: once per
    /// view, not per field), before the caller opens it with the [`TextOpener`].
    ///
    /// # Errors
    ///
    /// [`VaultError::PurposeRequired`], [`VaultError::Forbidden`] for analysts, storage
    /// errors (then nothing may be shown).
    pub async fn record_case_text_read(&self, case: &CaseId, who: &Accessor) -> Result<()> {
        Self::check_purpose(who)?;
        let mut entry = AccessEntry::new(who, Action::ReadCaseText);
        entry.case = Some(case.clone());
        self.log(entry).await
    }

    /// Opens free text sealed by [`Vault::seal_case_text`]. Recorded (before it is returned)
    /// as a read of the case's text.
    ///
    /// # Errors
    ///
    /// [`VaultError::CaseErased`] after the case key was destroyed, [`VaultError::UnknownCase`],
    /// [`VaultError::Tampered`], [`VaultError::PurposeRequired`], storage errors.
    pub async fn open_case_text(
        &self,
        case: &CaseId,
        label: &str,
        sealed: &Sealed,
        who: &Accessor,
    ) -> Result<Zeroizing<String>> {
        Self::check_purpose(who)?;
        let owner = Owner::Case(case);
        if self.erasure(owner).await?.is_some() {
            return Err(VaultError::CaseErased(case.clone()));
        }
        let key = self
            .data_key(owner)
            .await?
            .ok_or_else(|| VaultError::UnknownCase(case.clone()))?;
        let text = open_sealed(&key, case, label, &sealed.0)
            .map(Zeroizing::new)
            .ok_or_else(|| VaultError::Tampered {
                what: format!("text {label} of case {}", case.as_str()),
            })?;
        let mut entry = AccessEntry::new(who, Action::ReadCaseText);
        entry.case = Some(case.clone());
        self.log(entry).await?;
        Ok(text)
    }

    /// Destroys a case's key (once all its parties are erased and retention has passed — the
    /// caller's rule), so its sealed free text can never be opened again; `who.purpose` is the
    /// legal basis. Safe to repeat.
    ///
    /// # Errors
    ///
    /// [`VaultError::UnknownCase`] when the case never had a key, [`VaultError::PurposeRequired`],
    /// storage errors.
    pub async fn erase_case_key(&self, case: &CaseId, who: &Accessor) -> Result<()> {
        Self::check_purpose(who)?;
        let _guard = self.writes.lock().await;
        let owner = Owner::Case(case);
        let mut ops = Vec::new();
        if self.erasure(owner).await?.is_none() {
            if self.store.get(&owner.key_entry()).await?.is_none() {
                return Err(VaultError::UnknownCase(case.clone()));
            }
            ops.push(Op::Put(
                owner.erased_entry(),
                encode(&Erasure {
                    at: who.at,
                    actor: who.actor.clone(),
                    basis: who.purpose.clone(),
                })?,
                Expect::Absent,
            ));
        }
        ops.push(Op::Erase(owner.key_entry()));
        self.store.apply(ops).await?;
        self.remember_case_key(case, None);
        let mut entry = AccessEntry::new(who, Action::EraseCaseKey);
        entry.case = Some(case.clone());
        self.log(entry).await
    }

    /// Re-wraps every live data key and the blind-index key under `new`, then switches to it.
    /// Returns the number of data keys re-wrapped. On the file backend this is one atomic
    /// rewrite; on NATS the header moves last, so an interrupted rotation leaves the vault
    /// openable with the old key, and running the rotation again finishes it (keys already
    /// under `new` are skipped).
    ///
    /// # Errors
    ///
    /// [`VaultError::Tampered`] when a wrapped key fails authentication, storage errors.
    pub async fn rotate_master_key(&mut self, new: MasterKey) -> Result<usize> {
        // `&mut self`: no other call on this vault runs meanwhile.
        let mut ops = Vec::new();
        for name in self.store.keys_with_prefix("key.").await? {
            let Some((bytes, revision)) = self.store.get_versioned(&name).await? else {
                continue;
            };
            let wrapped: Wrapped = decode("wrapped key", &bytes)?;
            if wrapped.kek_id == new.id() {
                continue;
            }
            let (owner_aad, describe) = owner_of_entry(&name)?;
            if wrapped.kek_id != self.master.id() {
                return Err(VaultError::WrappedUnderOtherMaster {
                    owner: describe,
                    found: wrapped.kek_id,
                    current: self.master.id().to_owned(),
                });
            }
            let key = crypto::unwrap_key(self.master.secret(), &owner_aad, &wrapped.wrapped)
                .ok_or(VaultError::Tampered {
                    what: format!("the data key of {describe}"),
                })?;
            let rewrapped = Wrapped {
                kek_id: new.id().to_owned(),
                wrapped: ByteBuf::from(crypto::wrap(new.secret(), &owner_aad, &key)?),
            };
            ops.push(Op::Put(
                name,
                encode(&rewrapped)?,
                Expect::Revision(revision),
            ));
        }
        let count = ops.len();
        let meta = Meta {
            format: 1,
            kek_id: new.id().to_owned(),
            index_key: ByteBuf::from(crypto::wrap(new.secret(), INDEX_AAD, &self.index_key)?),
        };
        let meta_revision = self
            .store
            .get_versioned(META)
            .await?
            .map(|(_, revision)| revision);
        ops.push(Op::Put(
            META.into(),
            encode(&meta)?,
            Expect::from_read(meta_revision),
        ));
        self.store.apply(ops).await?;
        self.master = new;
        Ok(count)
    }

    /// The access-log entries passing `filter`, oldest first.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn access_log(&self, filter: &AccessFilter) -> Result<Vec<AccessEntry>> {
        let mut entries = self.store.access_entries().await?;
        entries.retain(|e| filter.matches(e));
        Ok(entries)
    }

    /// The raw and the stored (wrapped) form of a party's data key, for tests that search
    /// storage for them after erasure. `None` when the party has no key.
    ///
    /// # Errors
    ///
    /// As [`Vault::read_party`].
    #[cfg(feature = "test-support")]
    pub async fn party_key_material(
        &self,
        party: &PartyId,
    ) -> Result<Option<(SecretKey, Vec<u8>)>> {
        self.key_material(Owner::Party(party)).await
    }

    /// As [`Vault::party_key_material`], for a case's text key.
    ///
    /// # Errors
    ///
    /// As [`Vault::party_key_material`].
    #[cfg(feature = "test-support")]
    pub async fn case_key_material(&self, case: &CaseId) -> Result<Option<(SecretKey, Vec<u8>)>> {
        self.key_material(Owner::Case(case)).await
    }

    #[cfg(feature = "test-support")]
    async fn key_material(&self, owner: Owner<'_>) -> Result<Option<(SecretKey, Vec<u8>)>> {
        let Some(bytes) = self.store.get(&owner.key_entry()).await? else {
            return Ok(None);
        };
        let wrapped: Wrapped = decode("wrapped key", &bytes)?;
        let key = self.unwrap_entry(owner, &wrapped)?;
        Ok(Some((key, wrapped.wrapped.into_vec())))
    }
}

/// The wrap associated data and description of a `key.…` entry, from its name.
fn owner_of_entry(name: &str) -> Result<(Vec<u8>, String)> {
    let corrupt = || VaultError::Corrupt(format!("unexpected key entry {name}"));
    let rest = name.strip_prefix("key.").ok_or_else(corrupt)?;
    let (kind, id_hex) = rest.split_once('.').ok_or_else(corrupt)?;
    let id =
        String::from_utf8(hex::decode(id_hex).map_err(|_| corrupt())?).map_err(|_| corrupt())?;
    match kind {
        "p" => {
            let party = PartyId::new(id).map_err(|_| corrupt())?;
            Ok((
                Owner::Party(&party).wrap_aad(),
                Owner::Party(&party).describe(),
            ))
        }
        "c" => {
            let case = CaseId::new(id).map_err(|_| corrupt())?;
            Ok((Owner::Case(&case).wrap_aad(), Owner::Case(&case).describe()))
        }
        _ => Err(corrupt()),
    }
}

/// Opens case text with the keys this process holds ([`Vault::warm_case_key`],
/// [`Vault::load_case_keys`]), unlogged: for the system's own text index, and for views
/// whose read the caller recorded ([`Vault::record_case_text_read`]).
impl TextOpener for Vault {
    fn open(&self, case: &CaseId, label: &str, sealed: &[u8]) -> Opened {
        let key = match self.cached_case_key(case) {
            Some(Some(key)) => key,
            Some(None) => return Opened::Erased,
            None => return Opened::Unavailable,
        };
        open_sealed(&key, case, label, sealed).map_or(Opened::Unavailable, Opened::Clear)
    }
}

/// Opens case text sealed under `key` (version byte, then the AEAD of the text bound to the
/// case and the field's label); `None` when it does not open (another key, version, case or
/// label, altered bytes) or is not UTF-8.
fn open_sealed(key: &SecretKey, case: &CaseId, label: &str, sealed: &[u8]) -> Option<String> {
    let (&SEALED_VERSION, body) = sealed.split_first()? else {
        return None;
    };
    let clear = crypto::open(key, &case_text_aad(case, label), body)?;
    String::from_utf8(clear.to_vec()).ok()
}
