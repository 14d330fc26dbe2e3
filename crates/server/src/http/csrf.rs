//! Anti-CSRF tokens for forms shown before login (sign-up, login, email
//! verification): a random value in a `SameSite=Strict` cookie that the form
//! must repeat. After login, forms carry the session's own token instead.

use axum::http::HeaderMap;
use subtle::ConstantTimeEq;

use super::cookies;
use super::error::AppError;
use app::config::ServerConfig;
use app::session::random_token;

/// The token to embed in a form, and the cookie to set when the browser has none.
pub fn issue(headers: &HeaderMap, cfg: &ServerConfig) -> (String, Option<String>) {
    let name = cookies::csrf_name(cfg);
    match cookies::read(headers, name).filter(|v| v.len() == 43) {
        Some(existing) => (existing.to_owned(), None),
        None => {
            let t = random_token();
            let cookie = cookies::set(cfg, name, &t, "Strict");
            (t, Some(cookie))
        }
    }
}

/// A fresh token and its cookie, replacing the old one (after login).
pub fn rotate(cfg: &ServerConfig) -> String {
    cookies::set(cfg, cookies::csrf_name(cfg), &random_token(), "Strict")
}

/// Checks that the form repeats the cookie's token, in constant time.
pub fn check(headers: &HeaderMap, cfg: &ServerConfig, submitted: &str) -> Result<(), AppError> {
    let cookie = cookies::read(headers, cookies::csrf_name(cfg)).unwrap_or("");
    matches(cookie, submitted)
}

/// Compares an expected token with a submitted one in constant time.
pub fn matches(expected: &str, submitted: &str) -> Result<(), AppError> {
    let ok = !expected.is_empty()
        && expected.len() == submitted.len()
        && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()));
    if ok {
        Ok(())
    } else {
        Err(AppError::Forbidden("page.error.csrf"))
    }
}

/// A form or a script's body that repeats an anti-CSRF token: the one of a
/// pending login, or the session's. (A form of a panel page is a
/// [`super::principal::CsrfForm`], which also names its page.)
pub trait CsrfField {
    /// The token the body repeated.
    fn csrf(&self) -> &str;
}

/// Implements [`CsrfField`] for bodies whose token is their `csrf` field.
macro_rules! csrf_field {
    ($($body:ty),+ $(,)?) => {
        $(impl $crate::http::csrf::CsrfField for $body {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}
pub(crate) use csrf_field;
