//! One error shape for the whole API: `application/problem+json` with a stable `code`.
//!
//! | status | code | when |
//! |---|---|---|
//! | 400 | `malformed_json`, `invalid_field`, `invalid_query` | the body or query does not parse; the message names the field |
//! | 401 | `unauthenticated` | no or unknown bearer token |
//! | 403 | `forbidden`, or the rule's name (e.g. `NotHoldingUnit`, `ResolverCannotVerify`) | the role may not do or read this; a unit's queue or a report outside the actor's scope; the domain refused because of who asked |
//! | 404 | `not_found` | unknown case (read or command) — or one outside the actor's scope, answered exactly alike so existence is not revealed —, region, command name or route |
//! | 405 | `method_not_allowed` | a known route with another method |
//! | 409 | `conflict` | stale `If-Match` version (with `expected` and `actual`) |
//! | 413 | `payload_too_large` | body over the limit |
//! | 422 | the rejection's name, e.g. `EscalationNotToAncestor`; `idempotency_key_mismatch` | the domain refused the command; an `Idempotency-Key` used again with another request |
//! | 503 | `unavailable` | the log cannot be reached; `Retry-After` says when to retry |
//!
//! Nothing is appended for any of them. Internal details are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gridcase_bus::{CommandError, LogError};
use gridcase_domain::Rejection;
use gridcase_projections::ProjectionError;
use serde::Serialize;

/// An API error; see the module table for statuses and codes.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON or does not have the right shape.
    #[error("{message}")]
    BadRequest {
        /// Machine code.
        code: BadRequestCode,
        /// What is wrong, naming the field.
        message: String,
        /// The offending field, when known.
        field: Option<String>,
    },
    /// 401.
    #[error("a valid bearer token is required (Authorization: Bearer <token>)")]
    Unauthenticated,
    /// 403.
    #[error("{0}")]
    Forbidden(String),
    /// 403: the domain refused because of who asked (role, scope, holding unit, assignment,
    /// separation of duties); the code is the rule's name.
    #[error("{0}")]
    Denied(Rejection),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, not with this method.
    #[error("this route does not take that method; see /api/v1/openapi.json")]
    MethodNotAllowed,
    /// 409.
    #[error("version conflict: expected version {expected}, the case is at version {actual}; re-read the case and retry")]
    Conflict {
        /// Expected version.
        expected: u64,
        /// Actual version.
        actual: u64,
    },
    /// 422: an idempotency key used again for another request (another body, or another
    /// case); nothing was appended.
    #[error("{0}")]
    KeyMismatch(String),
    /// 413.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// 422.
    #[error("{0}")]
    Rejected(Rejection),
    /// 422: refused for a reason outside the case's rules (e.g. personal data already erased).
    #[error("{message}")]
    Refused {
        /// Machine code.
        code: RefusalCode,
        /// Why, for people.
        message: String,
    },
    /// 503: the log cannot be reached, the projection has not caught up in time, or what was
    /// asked touches damaged storage. `internal` is logged, never sent; `Retry-After` says
    /// when to try again.
    #[error("{public}")]
    Unavailable {
        /// What the client is told.
        public: &'static str,
        /// What is logged (the cause chain).
        internal: String,
        /// Seconds for `Retry-After`.
        retry_after: u32,
        /// Whether the cause is damage in the stored log (logged as an error, with a pointer
        /// to `gridcase-replay verify`).
        damage: bool,
    },
    /// 500.
    #[error("internal error")]
    Internal(String),
}

/// The codes of a 400 answer (the body or query is malformed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum BadRequestCode {
    /// The body is not a JSON object.
    MalformedJson,
    /// A field of the body or a header is invalid; `field` names it.
    InvalidField,
    /// A query parameter is invalid.
    InvalidQuery,
    /// `?after=` names a position beyond the log's head.
    AfterBeyondHead,
}

/// The codes of a 422 answer for a reason outside the case's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum RefusalCode {
    /// The party's personal data was erased.
    PersonalDataErased,
    /// The case's text is erased only once the case is closed, rejected or merged.
    CaseNotFinished,
    /// The case's text is erased only after every party's personal data.
    PartiesNotErased,
    /// The retention period since the case's last activity has not passed.
    RetentionNotPassed,
}

impl ApiError {
    /// Every code an answer of `status` can carry (the domain's rule names under 403 and 422
    /// are [`Rejection::CODES`]), for the OpenAPI document.
    pub fn codes(status: u16) -> Vec<&'static str> {
        use strum::VariantNames;
        match status {
            400 => BadRequestCode::VARIANTS.to_vec(),
            401 => vec!["unauthenticated"],
            403 => vec!["forbidden"],
            404 => vec!["not_found"],
            405 => vec!["method_not_allowed"],
            409 => vec!["conflict"],
            413 => vec!["payload_too_large"],
            422 => [&["idempotency_key_mismatch"][..], RefusalCode::VARIANTS].concat(),
            500 => vec!["internal"],
            503 => vec!["unavailable"],
            _ => vec![],
        }
    }
}

/// The body of every error: RFC 9457 problem details with a stable `code`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem<'a> {
    /// A URI naming the problem, `https://gridcase.dev/problems/<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status's reason phrase.
    pub title: &'a str,
    /// The HTTP status.
    pub status: u16,
    /// The stable machine code: `invalid_field`, `not_found`, `conflict`,
    /// `idempotency_key_mismatch`, or the domain rule's name (e.g. `NotHoldingUnit`).
    pub code: &'a str,
    /// What went wrong, for people.
    pub detail: String,
    /// The offending field (400).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
    /// The expected version (409).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<u64>,
    /// The case's actual version (409).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<u64>,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::KeyMismatch(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Denied(_) => StatusCode::FORBIDDEN,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Rejected(_) | ApiError::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code.into(),
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict { .. } => "conflict",
            ApiError::KeyMismatch(_) => "idempotency_key_mismatch",
            ApiError::Denied(r) => r.code(),
            ApiError::TooLarge { .. } => "payload_too_large",
            ApiError::Rejected(r) => r.code(),
            ApiError::Refused { code, .. } => code.into(),
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// A 400 naming a field.
    pub fn field(
        code: BadRequestCode,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// A 400 about the query string.
    pub fn query(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code: BadRequestCode::InvalidQuery,
            message: message.into(),
            field: None,
        }
    }
}

/// The cause chain of an error on one line, for logs.
pub use gridcase_domain::error_chain as chain;

impl ApiError {
    /// A 503 because the log cannot be reached (the cause is logged).
    pub fn unavailable(internal: impl Into<String>) -> ApiError {
        ApiError::Unavailable {
            public: "the event log is unavailable; retry shortly",
            internal: internal.into(),
            retry_after: 5,
            damage: false,
        }
    }

    /// Logs the internal cause of a 500 or 503 (the client is told none of it); a no-op for
    /// the others. Every answer made from an `ApiError`, as a problem or as a page, calls it.
    pub(crate) fn log_cause(&self) {
        match self {
            ApiError::Internal(detail) => tracing::error!(%detail, "internal error"),
            ApiError::Unavailable {
                internal,
                damage: true,
                ..
            } => tracing::error!(
                cause = %internal,
                "a request touched damaged storage; run `gridcase-replay verify` on the data \
                 directory (or stream) for a full report"
            ),
            ApiError::Unavailable { internal, .. } => {
                tracing::warn!(cause = %internal, "answering 503")
            }
            _ => {}
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log_cause();
        let status = self.status();
        let (expected, actual) = match &self {
            ApiError::Conflict { expected, actual } => (Some(*expected), Some(*actual)),
            _ => (None, None),
        };
        let field = match &self {
            ApiError::BadRequest { field, .. } => field.as_deref(),
            _ => None,
        };
        let code = self.code();
        let body = Problem {
            kind: format!("https://gridcase.dev/problems/{code}"),
            title: status.canonical_reason().unwrap_or("error"),
            status: status.as_u16(),
            code,
            detail: self.to_string(),
            field,
            expected,
            actual,
        };
        let mut resp = (status, serde_json::to_vec(&body).unwrap_or_default()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::Unavailable { retry_after, .. } = &self {
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

impl From<LogError> for ApiError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::Unavailable(_) => ApiError::unavailable(chain(&e)),
            LogError::Closed => ApiError::unavailable("the log is shutting down"),
            LogError::Corrupt { .. } | LogError::Damaged { .. } => ApiError::Unavailable {
                public: "part of the event log cannot be read; the operators have been told",
                internal: chain(&e),
                retry_after: 60,
                damage: true,
            },
            other => ApiError::Internal(chain(&other)),
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match e {
            // A command addressed to a case that was never reported names an unknown
            // resource: 404, like reading it.
            CommandError::Rejected(Rejection::CaseNotFound) => {
                ApiError::NotFound("no such case".into())
            }
            CommandError::Rejected(r) => ApiError::Rejected(r),
            CommandError::Conflict(c) => ApiError::Conflict {
                expected: c.expected,
                actual: c.actual,
            },
            CommandError::CommandIdReused { case_id, .. } => ApiError::KeyMismatch(format!(
                "this Idempotency-Key was already used for case {case_id}; use a fresh key for \
                 a new request"
            )),
            CommandError::KeyMismatch { .. } => ApiError::KeyMismatch(
                "this Idempotency-Key was already used for a different request; use a fresh \
                 key for a new request (nothing was appended)"
                    .into(),
            ),
            CommandError::Log(l) => l.into(),
            other => ApiError::Internal(chain(&other)),
        }
    }
}

impl From<ProjectionError> for ApiError {
    fn from(e: ProjectionError) -> Self {
        match e {
            ProjectionError::Log(l) => l.into(),
            ProjectionError::Lagging { .. } => ApiError::Unavailable {
                public: "the read model has not caught up with that position yet; retry shortly",
                internal: e.to_string(),
                retry_after: 1,
                damage: false,
            },
            other => ApiError::Internal(chain(&other)),
        }
    }
}
