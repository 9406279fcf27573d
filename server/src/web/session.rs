//! Sessions: a bearer token (the same as the API's) is exchanged once, at sign-in, for a
//! random session id in an `HttpOnly; SameSite=Strict` cookie. The server keeps the id's
//! actor and CSRF token in memory; sessions end at sign-out, after [`IDLE`] without a
//! request, or when the server restarts (sign in again).
//!
//! [`Viewer`] is the extractor of every signed-in page: without a valid session a page
//! redirects to the sign-in page (which brings the visitor back afterwards).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use gridcase_domain::Actor;

use super::i18n::{Lang, Tr};
use super::Web;

/// The session cookie.
pub const COOKIE: &str = "gc_session";
/// The language cookie.
pub const LANG_COOKIE: &str = "gc_lang";
/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(8 * 3600);
/// Most sessions kept; beyond it the stalest go first.
const MAX_SESSIONS: usize = 10_000;

struct Entry {
    actor: Actor,
    csrf: String,
    seen: Instant,
}

/// The signed-in sessions.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Entry>>,
}

impl Sessions {
    /// Opens a session for `actor`: its id (for the cookie).
    pub fn create(&self, actor: Actor) -> String {
        let id = super::csrf::token();
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, e| now.duration_since(e.seen) < IDLE);
        if map.len() >= MAX_SESSIONS {
            if let Some(stalest) = map
                .iter()
                .min_by_key(|(_, e)| e.seen)
                .map(|(k, _)| k.clone())
            {
                map.remove(&stalest);
            }
        }
        map.insert(
            id.clone(),
            Entry {
                actor,
                csrf: super::csrf::token(),
                seen: now,
            },
        );
        id
    }

    /// The actor and CSRF token of a live session, marking it used.
    pub fn get(&self, id: &str) -> Option<(Actor, String)> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let e = map.get_mut(id)?;
        if now.duration_since(e.seen) >= IDLE {
            map.remove(id);
            return None;
        }
        e.seen = now;
        Some((e.actor.clone(), e.csrf.clone()))
    }

    /// Ends a session.
    pub fn remove(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Strict; Path=/`, for `max_age` seconds (0
/// deletes it; `None` lasts as long as the browser session).
pub fn set_cookie(name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
    let mut s = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        s.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The page language: `?lang=` (which the router also stores in a cookie),
/// else the cookie, else Chinese.
pub fn lang(parts: &Parts) -> Lang {
    let from_query = parts.uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::parse(v))
    });
    from_query
        .or_else(|| cookie(&parts.headers, LANG_COOKIE).and_then(Lang::parse))
        .unwrap_or_default()
}

/// The signed-in visitor of a page.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Who they are.
    pub actor: Actor,
    /// The session's CSRF token, for the forms.
    pub csrf: String,
    /// The session id.
    pub session: String,
    /// Their language.
    pub lang: Lang,
    /// The path and query of the request (for the language switch).
    pub here: String,
}

impl Viewer {
    /// Translations in the viewer's language.
    pub fn tr(&self) -> Tr {
        Tr { lang: self.lang }
    }
}

impl FromRequestParts<Web> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Response> {
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        let found = cookie(&parts.headers, COOKIE).and_then(|id| {
            web.sessions
                .get(id)
                .map(|(actor, csrf)| (id.to_owned(), actor, csrf))
        });
        match found {
            Some((session, actor, csrf)) => {
                super::access::audit(&actor, &here);
                Ok(Viewer {
                    actor,
                    csrf,
                    session,
                    lang: lang(parts),
                    here,
                })
            }
            None => {
                // After signing in, back to this page; for a form sent without a session (it
                // expired meanwhile), to the page the form was on: its address only takes posts.
                let back = if parts.method == Method::GET || parts.method == Method::HEAD {
                    here
                } else {
                    referring_page(&parts.headers).unwrap_or_else(|| "/".into())
                };
                let to = format!("/signin?next={}", encode(&back));
                if parts.headers.contains_key("hx-request") {
                    // htmx follows this header with a full page load.
                    let mut r = StatusCode::UNAUTHORIZED.into_response();
                    if let Ok(v) = HeaderValue::from_str(&to) {
                        r.headers_mut().insert("hx-redirect", v);
                    }
                    Err(r)
                } else {
                    Err(Redirect::to(&to).into_response())
                }
            }
        }
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The path (and query) of the page a request came from, from its `Referer`.
fn referring_page(headers: &HeaderMap) -> Option<String> {
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let uri: axum::http::Uri = referer.parse().ok()?;
    let page = uri.path_and_query()?.as_str();
    (page.starts_with('/') && !page.starts_with("//")).then(|| page.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridcase_domain::{ActorId, Role, Scope};

    fn actor() -> Actor {
        Actor::new(
            ActorId::new("ana-1").unwrap(),
            Role::Analyst,
            Scope::Subtree("330800".parse().unwrap()),
        )
        .unwrap()
    }

    #[test]
    fn sessions_open_and_close() {
        let s = Sessions::default();
        let id = s.create(actor());
        let (a, csrf) = s.get(&id).unwrap();
        assert_eq!(a, actor());
        assert_eq!(csrf.len(), 64);
        assert!(s.get("nope").is_none());
        s.remove(&id);
        assert!(s.get(&id).is_none());
    }

    #[test]
    fn cookies_are_read_and_written_strictly() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; gc_session=abc; gc_lang=en"),
        );
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, LANG_COOKIE), Some("en"));
        assert_eq!(cookie(&h, "b"), None);
        let v = set_cookie(COOKIE, "x", None);
        let v = v.to_str().unwrap();
        assert!(
            v.contains("HttpOnly") && v.contains("SameSite=Strict"),
            "{v}"
        );
        assert_eq!(encode("/stats?a=1&b=中"), "/stats%3Fa%3D1%26b%3D%E4%B8%AD");
    }
}
