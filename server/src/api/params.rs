//! Parsing what requests carry: ids, region codes, headers; and what `?after=` means.

use crate::error::BadRequestCode;
use std::time::Duration;

use axum::http::HeaderMap;
use gridcase_bus::{EventLog, Position};
use gridcase_domain::{CaseId, RegionCode};

use crate::app::AppState;
use crate::error::ApiError;

pub(crate) fn parse_case_id(id: &str) -> Result<CaseId, ApiError> {
    CaseId::new(id).map_err(|e| ApiError::NotFound(format!("no case {id:?}: {e}")))
}

pub(crate) fn parse_region(
    field: &'static str,
    s: &str,
    app: &AppState,
) -> Result<RegionCode, ApiError> {
    let code: RegionCode = s.parse().map_err(|e| {
        ApiError::field(BadRequestCode::InvalidField, field, format!("{field}: {e}"))
    })?;
    if !app.regions.contains_code(code) {
        return Err(ApiError::NotFound(format!("unknown region {code}")));
    }
    Ok(code)
}

pub(crate) fn header_str<'a>(
    h: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a str>, ApiError> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.trim())).map_err(|_| {
            ApiError::field(
                BadRequestCode::InvalidField,
                name,
                format!("header {name} is not ASCII"),
            )
        }),
    }
}

/// How long a read waits for `after` (a position at or below the log's head) to be applied.
pub(crate) const READ_YOUR_WRITES: Duration = Duration::from_secs(2);

/// Read-your-writes: waits until the projection has applied position `after`.
///
/// A position beyond the log's head cannot be reached by waiting — it is a client error (400
/// `after_beyond_head`), answered at once. One at or below the head that is not applied
/// within [`READ_YOUR_WRITES`] answers 503 with `Retry-After`, as does a wait when
/// [`crate::app::MAX_WAITERS`] reads are already waiting.
pub(crate) async fn wait_after(app: &AppState, after: Option<Position>) -> Result<(), ApiError> {
    let Some(p) = after else { return Ok(()) };
    if app.projection.checkpoint() >= p {
        return Ok(());
    }
    let head = app.path.log().head().await?;
    if p > head {
        return Err(ApiError::BadRequest {
            code: BadRequestCode::AfterBeyondHead,
            message: format!(
                "after={p} is beyond the log's head ({head}): pass a position that one of your \
                 commands returned"
            ),
            field: Some("after".into()),
        });
    }
    let Ok(_permit) = app.waiters.try_acquire() else {
        return Err(ApiError::Unavailable {
            public: "too many reads are waiting for their writes; retry shortly",
            internal: format!("{} reads already wait for ?after=", crate::app::MAX_WAITERS),
            retry_after: 1,
            damage: false,
        });
    };
    app.projection.wait_for(p, READ_YOUR_WRITES).await?;
    Ok(())
}
