//! Free text (summaries, notes, reasons) sealed under each case's key in the personal data
//! vault, and opened for the people who read the case.
//!
//! - **Writing**: [`VaultSealer`] is the command path's [`TextSealer`]: every clear text of
//!   the decided events is sealed (`Vault::seal_case_text`) before the events are chained, so
//!   the log, its hash chain and every export hold ciphertext (docs/personal-data.md).
//! - **Reading a case** (page, timeline, case view, the auditors' state at a time):
//!   [`open_history`] / [`open_texts`] record one read of the case's text in the access log
//!   (who, role, purpose) and open every sealed text in place; text whose key was destroyed
//!   reads [`ERASED`]. Auditors without the personal-data grant get the stored ciphertext, as
//!   the export and the history download carry it ([`may_open`]).
//! - **Lists** show summaries through [`summary`] (the vault's keys in memory, unlogged: a
//!   work list is the unit's own work, not a read of one person's case).
//! - The projection's text index opens summaries itself (the vault is its `TextOpener`).

use std::sync::Arc;

use futures::future::BoxFuture;
use gridcase_bus::{SealError, TextSealer};
use gridcase_domain::{Actor, CaseId, Event, Opened, Role, Text, SEALED_MARK, SUMMARY_LABEL};
use gridcase_vault::{Accessor, Vault, VaultError};

use crate::app::App;
use crate::error::ApiError;

/// What stands where free text was after its case key was destroyed.
pub const ERASED: &str = "［已删除］";

/// Seals events' free text with the vault.
#[derive(Debug, Clone)]
pub struct VaultSealer(pub Arc<Vault>);

impl TextSealer for VaultSealer {
    fn seal<'a>(
        &'a self,
        case: &'a CaseId,
        events: &'a mut [Event],
    ) -> BoxFuture<'a, Result<(), SealError>> {
        Box::pin(async move {
            for event in events.iter_mut() {
                for (label, text) in event.texts_mut() {
                    let Text::Clear(clear) = &*text else {
                        continue;
                    };
                    let sealed = self
                        .0
                        .seal_case_text(case, label, clear)
                        .await
                        .map_err(|e| match e {
                            VaultError::CaseErased(_) => SealError::Erased,
                            other => SealError::Unavailable(Box::new(other)),
                        })?;
                    *text = Text::Sealed(sealed.as_bytes().to_vec());
                }
            }
            Ok(())
        })
    }
}

/// Text as a reader sees it, with the vault's keys in memory.
fn shown(vault: &Vault, case: &CaseId, label: &str, text: &Text) -> String {
    match text.open(case, label, Some(vault as &dyn gridcase_domain::TextOpener)) {
        Opened::Clear(s) => s,
        Opened::Erased => ERASED.to_owned(),
        Opened::Unavailable => SEALED_MARK.to_owned(),
    }
}

/// A case's summary for `reader`'s list row (unlogged; see the module documentation).
pub fn summary(app: &App, reader: &Actor, case: &CaseId, text: &Text) -> String {
    if text.is_sealed() && !may_open(app, reader) {
        return SEALED_MARK.to_owned();
    }
    shown(&app.vault, case, SUMMARY_LABEL, text)
}

/// Opens the sealed ones of `texts` (labelled, as [`Event::texts_mut`] gives them) of `case`
/// in place for `actor`, after recording one read of the case's text with `purpose` (nothing
/// is recorded when none is sealed). Text whose key was destroyed reads [`ERASED`]. For an
/// auditor without the personal-data grant nothing is opened ([`may_open`]).
///
/// # Errors
///
/// 503 when the vault cannot be read or the read cannot be recorded: nothing is opened then.
pub async fn open_texts(
    app: &App,
    actor: &Actor,
    case: &CaseId,
    texts: Vec<(&str, &mut Text)>,
    purpose: &str,
) -> Result<(), ApiError> {
    if !texts.iter().any(|(_, t)| t.is_sealed()) || !may_open(app, actor) {
        return Ok(());
    }
    let vault_error = |e: VaultError| ApiError::unavailable(format!("the vault: {e}"));
    app.vault.warm_case_key(case).await.map_err(vault_error)?;
    let who = Accessor::now(actor.id().clone(), actor.role(), purpose);
    app.vault
        .record_case_text_read(case, &who)
        .await
        .map_err(vault_error)?;
    for (label, text) in texts {
        if text.is_sealed() {
            *text = Text::Clear(shown(&app.vault, case, label, text));
        }
    }
    Ok(())
}

/// Whether `actor` reads a case's free text opened: everyone who may read the case, except
/// auditors without the personal-data grant (`[privacy] personal_data_auditors`), who see it
/// as the log stores it — free text can name people, so for them it is redacted like the
/// parties' fields.
pub fn may_open(app: &App, actor: &Actor) -> bool {
    actor.role() != Role::Auditor || app.personal_data_auditors.contains(actor.id())
}

/// [`open_texts`] over every event of a case's history.
///
/// # Errors
///
/// As [`open_texts`].
pub async fn open_history<'a>(
    app: &App,
    actor: &Actor,
    case: &CaseId,
    events: impl IntoIterator<Item = &'a mut Event>,
    purpose: &str,
) -> Result<(), ApiError> {
    let texts = events.into_iter().flat_map(Event::texts_mut).collect();
    open_texts(app, actor, case, texts, purpose).await
}
