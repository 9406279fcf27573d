//! Parsing what requests carry: ids, region codes, headers.

use axum::http::HeaderMap;
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
    let code: RegionCode = s
        .parse()
        .map_err(|e| ApiError::field("invalid_field", field, format!("{field}: {e}")))?;
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
            ApiError::field("invalid_field", name, format!("header {name} is not ASCII"))
        }),
    }
}
