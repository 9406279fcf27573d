//! Static assets, embedded in the binary: the workbench's own CSS and JavaScript and the
//! vendored libraries (`server/assets/vendor/<lib>/`, pinned versions and licences in its
//! README).
//!
//! URLs carry a fingerprint of the content — `/assets/<first 10 hex of SHA-256>/<name>` — so
//! a response may be cached for a year (`immutable`); a new build changes the URL. A request
//! with an old fingerprint still gets the current file, revalidated every time. Every
//! response has an `ETag`, and `If-None-Match` answers 304.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
struct Asset {
    name: &'static str,
    bytes: &'static [u8],
    mime: &'static str,
}

macro_rules! asset {
    ($name:literal, $mime:expr) => {
        Asset {
            name: $name,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $name)),
            mime: $mime,
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("charts.js", JS),
    asset!("live.js", JS),
    asset!("vendor/htmx/htmx.min.js", JS),
    asset!("vendor/echarts/echarts.common.min.js", JS),
];

/// Each asset's fingerprint, computed once.
fn fingerprints() -> &'static [String] {
    static F: OnceLock<Vec<String>> = OnceLock::new();
    F.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| hex::encode(&Sha256::digest(a.bytes)[..5]))
            .collect()
    })
}

/// The fingerprinted URL of an embedded asset, e.g. `/assets/1a2b3c4d5e/app.css`.
///
/// # Panics
/// When `name` is not embedded (a template naming a missing file: the template tests catch
/// it).
pub fn url(name: &str) -> String {
    let i = ASSETS
        .iter()
        .position(|a| a.name == name)
        .unwrap_or_else(|| panic!("no embedded asset {name}"));
    format!("/assets/{}/{}", fingerprints()[i], name)
}

/// The URLs a page's `<head>` and scripts use.
#[derive(Debug, Clone)]
pub struct Urls {
    /// The stylesheet.
    pub css: String,
    /// The workbench's script (forms, tables, language).
    pub app_js: String,
    /// htmx.
    pub htmx: String,
    /// ECharts.
    pub echarts: String,
    /// The dashboard's charts.
    pub charts_js: String,
    /// The live list of 我的工作台.
    pub live_js: String,
}

/// The asset URLs, computed once.
pub fn urls() -> &'static Urls {
    static U: OnceLock<Urls> = OnceLock::new();
    U.get_or_init(|| Urls {
        css: url("app.css"),
        app_js: url("app.js"),
        htmx: url("vendor/htmx/htmx.min.js"),
        echarts: url("vendor/echarts/echarts.common.min.js"),
        charts_js: url("charts.js"),
        live_js: url("live.js"),
    })
}

/// `GET /assets/{fingerprint}/{*name}`.
pub async fn serve(Path((fp, name)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let (asset, current) = (&ASSETS[i], &fingerprints()[i]);
    let etag = format!("\"{current}\"");
    let cache = if &fp == current {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.mime)], asset.bytes).into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_fingerprinted_and_stable() {
        let u = url("app.css");
        assert!(u.starts_with("/assets/") && u.ends_with("/app.css"), "{u}");
        assert_eq!(u.len(), "/assets/".len() + 10 + "/app.css".len());
        assert_eq!(u, url("app.css"));
        assert_ne!(url("app.js"), url("charts.js").replace("charts", "app"));
    }

    #[test]
    fn vendored_libraries_keep_their_licences() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/vendor");
        for lib in ["echarts", "htmx"] {
            assert!(
                dir.join(lib).join("LICENSE").is_file(),
                "{lib} has no LICENSE"
            );
        }
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        assert!(readme.contains("6.1.0") && readme.contains("2.0.11"));
    }
}
