//! Cross-site request forgery: every form carries a token, and every POST is refused (403)
//! unless the token it carries is the one expected.
//!
//! - Signed in: the session's own token (synchronizer token), in a hidden field `csrf` (or
//!   the `X-CSRF-Token` header, which the layout hands htmx through `hx-headers`).
//! - Signing in (no session yet): double submit — the sign-in page sets a random
//!   `gc_presession` cookie (HttpOnly, SameSite=Strict) and puts the same value in the form.
//!
//! Session cookies are also `SameSite=Strict`, so a cross-site POST carries no session at all;
//! the token is the second lock, and the one that also holds for same-site attackers.

use axum::http::HeaderMap;

/// The form field.
pub const FIELD: &str = "csrf";
/// The header htmx sends.
pub const HEADER: &str = "x-csrf-token";
/// The cookie of the sign-in form's token.
pub const PRESESSION_COOKIE: &str = "gc_presession";

/// A fresh random token: 32 bytes from the OS, hex.
pub fn token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Whether `given` (the form field, else the header) equals `expected`, compared in constant
/// time. An empty expected token never matches.
pub fn verify(expected: &str, form: Option<&str>, headers: &HeaderMap) -> bool {
    let given = form.filter(|s| !s.is_empty()).or_else(|| {
        headers
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|s| !s.is_empty())
    });
    match given {
        Some(g) if !expected.is_empty() && g.len() == expected.len() => {
            g.bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_the_expected_token_passes() {
        let t = token();
        assert_eq!(t.len(), 64);
        assert_ne!(t, token());
        let none = HeaderMap::new();
        assert!(verify(&t, Some(&t), &none));
        assert!(!verify(&t, None, &none));
        assert!(!verify(&t, Some(""), &none));
        assert!(!verify(&t, Some(&token()), &none));
        assert!(!verify("", Some(""), &none));
        assert!(!verify(&t, Some(&t[..63]), &none));
        let mut h = HeaderMap::new();
        h.insert(HEADER, HeaderValue::from_str(&t).unwrap());
        assert!(verify(&t, None, &h));
    }
}
