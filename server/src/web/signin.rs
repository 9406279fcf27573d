//! Sign-in and sign-out: a bearer token (the API's) is exchanged for a session cookie.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::i18n::{Lang, Tr};
use super::session::{self, Viewer};
use super::{csrf, render, Chrome, Web, WebError};

#[derive(Template)]
#[template(path = "views/signin.html")]
struct SigninView {
    c: Chrome,
    t: Tr,
    csrf: String,
    next: String,
    error: Option<&'static str>,
    notice: Option<&'static str>,
}

/// The query of the sign-in page.
#[derive(Deserialize, Default)]
pub struct SigninQuery {
    next: Option<String>,
    out: Option<String>,
    lang: Option<String>,
}

/// Only paths of this site: `/x`, never `//host` or `https://…`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn page_lang(headers: &HeaderMap, q: Option<&str>) -> Lang {
    q.and_then(Lang::parse)
        .or_else(|| session::cookie(headers, session::LANG_COOKIE).and_then(Lang::parse))
        .unwrap_or_default()
}

fn form_page(
    lang: Lang,
    next: String,
    error: Option<&'static str>,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let t = Tr { lang };
    let token = csrf::token();
    let here = format!("/signin?next={}", session::encode(&next));
    let view = SigninView {
        c: Chrome::anonymous(lang, &here, t.s("signin.title")),
        t,
        csrf: token.clone(),
        next,
        error,
        notice,
    };
    let mut r = render(&view);
    *r.status_mut() = status;
    r.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(csrf::PRESESSION_COOKIE, &token, Some(3600)),
    );
    r
}

/// `GET /signin`.
pub async fn page(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<SigninQuery>,
) -> Response {
    let signed_in = session::cookie(&headers, session::COOKIE)
        .and_then(|id| web.sessions.get(id))
        .is_some();
    let next = safe_next(q.next.as_deref());
    if signed_in {
        return Redirect::to(&next).into_response();
    }
    let lang = page_lang(&headers, q.lang.as_deref());
    let notice = q.out.is_some().then_some("signin.signed_out");
    form_page(lang, next, None, notice, StatusCode::OK)
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct SigninForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

/// `POST /signin`.
pub async fn submit(
    State(web): State<Web>,
    headers: HeaderMap,
    form: Result<Form<SigninForm>, FormRejection>,
) -> Response {
    let lang = page_lang(&headers, None);
    let Ok(Form(f)) = form else {
        return form_page(
            lang,
            "/".into(),
            Some("error.400"),
            None,
            StatusCode::BAD_REQUEST,
        );
    };
    let expected = session::cookie(&headers, csrf::PRESESSION_COOKIE).unwrap_or("");
    if !csrf::verify(expected, Some(&f.csrf), &HeaderMap::new()) {
        let chrome = Chrome::anonymous(lang, "/signin", Tr { lang }.s("signin.title"));
        return WebError::csrf(chrome).into_response();
    }
    let next = safe_next(Some(&f.next));
    let Some(actor) = web.app.actor_for_token(&f.token) else {
        return form_page(
            lang,
            next,
            Some("signin.bad_token"),
            None,
            StatusCode::UNAUTHORIZED,
        );
    };
    tracing::info!(target: "gridcase::web", actor = %actor.id(), role = %actor.role(), "signed in");
    let id = web.sessions.create(actor.clone());
    let mut r = Redirect::to(&next).into_response();
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        session::set_cookie(session::COOKIE, &id, None),
    );
    h.append(
        header::SET_COOKIE,
        session::set_cookie(csrf::PRESESSION_COOKIE, "", Some(0)),
    );
    r
}

/// The sign-out form.
#[derive(Deserialize)]
pub struct SignoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /signout`.
pub async fn signout(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    form: Result<Form<SignoutForm>, FormRejection>,
) -> Response {
    let given = form.ok().map(|Form(f)| f.csrf);
    if !csrf::verify(&v.csrf, given.as_deref(), &headers) {
        return WebError::csrf(Chrome::new(&web, &v, None, "")).into_response();
    }
    web.sessions.remove(&v.session);
    let mut r = Redirect::to("/signin?out=1").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(session::COOKIE, "", Some(0)),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/stats?x=1")), "/stats?x=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn the_sign_in_page_renders_in_both_languages() {
        for (lang, word) in [(Lang::Zh, "访问令牌"), (Lang::En, "Access token")] {
            let t = Tr { lang };
            let v = SigninView {
                c: Chrome::anonymous(lang, "/signin", t.s("signin.title")),
                t,
                csrf: "c".repeat(64),
                next: "/stats".into(),
                error: Some("signin.bad_token"),
                notice: None,
            };
            let html = v.render().unwrap();
            assert!(html.contains(word), "{html}");
            assert!(html.contains(&format!("lang=\"{}\"", lang.html())));
            assert!(html.contains(&format!("name=\"csrf\" value=\"{}\"", "c".repeat(64))));
            assert!(!html.contains("<script>"), "no inline script");
            assert!(!html.contains(" onclick="), "no inline handlers");
        }
    }
}
