//! One error shape for the whole API: `application/problem+json` with a stable `code`.
//!
//! | status | code | when |
//! |---|---|---|
//! | 400 | `malformed_json`, `invalid_field`, `invalid_query` | the body or query does not parse; the message names the field |
//! | 401 | `unauthenticated` | no or unknown bearer token |
//! | 403 | `forbidden` | the role may not read this, or it is outside the actor's scope |
//! | 404 | `not_found` | unknown case (read or command), region, command name or route |
//! | 409 | `conflict`, `idempotency_key_reused` | stale `If-Match` version (with `expected` and `actual`) |
//! | 413 | `payload_too_large` | body over the limit |
//! | 422 | the rejection's name, e.g. `EscalationNotToAncestor` | the domain refused the command |
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
        code: &'static str,
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
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409.
    #[error("version conflict: expected version {expected}, the case is at version {actual}; re-read the case and retry")]
    Conflict {
        /// Expected version.
        expected: u64,
        /// Actual version.
        actual: u64,
    },
    /// 409: an idempotency key reused for another case.
    #[error("{0}")]
    KeyReused(String),
    /// 413.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// 422.
    #[error("{0}")]
    Rejected(Rejection),
    /// 503.
    #[error("the event log is unavailable: {0}")]
    Unavailable(String),
    /// 500.
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual: Option<u64>,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } | ApiError::KeyReused(_) => StatusCode::CONFLICT,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { .. } => "conflict",
            ApiError::KeyReused(_) => "idempotency_key_reused",
            ApiError::TooLarge { .. } => "payload_too_large",
            ApiError::Rejected(r) => r.code(),
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// A 400 naming a field.
    pub fn field(
        code: &'static str,
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
            code: "invalid_query",
            message: message.into(),
            field: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
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
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        resp
    }
}

impl From<LogError> for ApiError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::Unavailable(m) => ApiError::Unavailable(m),
            LogError::Closed => ApiError::Unavailable("the log is shutting down".into()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match e {
            // A command addressed to a case that was never reported names an unknown
            // resource: 404, like reading it.
            CommandError::Rejected(Rejection::CaseNotFound) => {
                ApiError::NotFound("no such case: report it first".into())
            }
            CommandError::Rejected(r) => ApiError::Rejected(r),
            CommandError::Conflict(c) => ApiError::Conflict {
                expected: c.expected,
                actual: c.actual,
            },
            CommandError::CommandIdReused {
                command_id,
                case_id,
            } => ApiError::KeyReused(format!(
                "Idempotency-Key {command_id} was already used for case {case_id}; use a fresh key"
            )),
            CommandError::Log(l) => l.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<ProjectionError> for ApiError {
    fn from(e: ProjectionError) -> Self {
        match e {
            ProjectionError::Log(l) => l.into(),
            ProjectionError::Lagging { .. } => ApiError::Unavailable(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}
