//! The application: the command path, the projection and the tokens, shared by every handler.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::HeaderMap;
use gridcase_bus::{AnyLog, CommandPath, Fingerprint};
use gridcase_domain::{Actor, CaseId, RegionTree, Role};
use gridcase_projections::{Calendar, Projection};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::metrics::Metrics;

/// Shared state of the server.
pub struct App {
    /// Load, decide, append.
    pub path: CommandPath<AnyLog>,
    /// Case views, queues, statistics.
    pub projection: Projection,
    /// Parties' personal data (names, ID numbers, phones, addresses), encrypted.
    pub vault: Arc<gridcase_vault::Vault>,
    /// Known regions.
    pub regions: Arc<RegionTree>,
    /// The deployment's calendar.
    pub calendar: Calendar,
    /// SHA-256 of each token → its actor.
    pub tokens: HashMap<[u8; 32], Actor>,
    /// Auditors granted the parties' personal data (`[privacy] personal_data_auditors`).
    pub personal_data_auditors: std::collections::HashSet<gridcase_domain::ActorId>,
    /// `[privacy] case_text_retention_days`.
    pub case_text_retention_days: u32,
    /// Who works where, by name.
    pub directory: crate::directory::Directory,
    /// Metrics.
    pub metrics: Metrics,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// The key of request fingerprints ([`App::fingerprint`]).
    pub request_key: [u8; 32],
    /// Reads waiting for `?after=` to be applied (bounded, so waiting cannot be used to hold
    /// many connections open).
    pub waiters: tokio::sync::Semaphore,
    /// Set when the server stops: long-lived responses (the workbench's live lists) end, so
    /// that the graceful shutdown does not wait for them.
    pub stopping: tokio::sync::watch::Sender<bool>,
}

/// Most reads that may wait for `?after=` at once; more answer 503 at once.
pub const MAX_WAITERS: usize = 256;

/// SHA-256 of a bearer token (what the config stores).
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl App {
    /// The keyed fingerprint of a command request: HMAC-SHA256 over the action, the case and
    /// the body's canonical JSON (keys sorted).
    pub fn fingerprint(&self, action: &str, case: &CaseId, body: &[u8]) -> Fingerprint {
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&self.request_key)
            .expect("HMAC takes keys of any length");
        for part in [action.as_bytes(), case.as_str().as_bytes(), body] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        Fingerprint(mac.finalize().into_bytes().into())
    }

    /// The actor a token stands for (the API's bearer tokens; the workbench exchanges one for
    /// a session at sign-in).
    pub fn actor_for_token(&self, token: &str) -> Option<&Actor> {
        self.tokens.get(&token_hash(token.trim()))
    }

    /// The actor behind the request's bearer token.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<&Actor, ApiError> {
        // RFC 7235: the scheme is case-insensitive (`Bearer`, `bearer`, `BEARER`).
        let token = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token)
            .ok_or(ApiError::Unauthenticated)?;
        let actor = self
            .actor_for_token(token)
            .ok_or(ApiError::Unauthenticated)?;
        if actor.role() == Role::Auditor {
            // Every auditor request is itself logged.
            tracing::info!(target: "gridcase::audit", auditor = %actor.id(), "auditor access");
        }
        Ok(actor)
    }
}

/// The shared handle handlers receive.
pub type AppState = Arc<App>;
