//! Anti-CSRF tokens. Forms shown before login (sign-up, login, email
//! verification, recovery) repeat a random value kept in a `SameSite=Strict`
//! cookie; after login, forms repeat the session's own token. Every form
//! says here which token field it carries ([`CsrfForm`], [`CsrfField`]).

use std::convert::Infallible;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::cookies::{self, SetCookie};
use super::error::AppError;
use super::extract::FormInput;
use crate::state::AppState;
use app::config::ServerConfig;
use app::session::random_token;

/// A form that carries the anti-CSRF token of the session, and the page it
/// belongs to (where a browser whose session ended comes back to).
pub trait CsrfForm: DeserializeOwned + Send {
    /// The page the form is on.
    const PAGE: &'static str;
    /// The token the form repeated.
    fn csrf(&self) -> &str;
}

/// Declares forms that carry their token in a `csrf` field:
/// `csrf_form!(ProfileForm => routes::PROFILE);`.
macro_rules! csrf_form {
    ($form:ty => $page:expr) => {
        impl $crate::http::csrf::CsrfForm for $form {
            const PAGE: &'static str = $page;
            fn csrf(&self) -> &str {
                &self.csrf
            }
        }
    };
}
pub(crate) use csrf_form;

/// The anti-CSRF token a page shown before login puts in its form: the
/// browser's own, or a new one with the cookie that carries it. A page
/// answers `(t.cookie, page)`, which sets the cookie only when it is new.
pub struct FormToken {
    /// The token the form repeats.
    pub token: String,
    /// The cookie that carries it, when the browser had none.
    pub cookie: Option<SetCookie>,
}

impl FromRequestParts<AppState> for FormToken {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let (token, cookie) = issue(&parts.headers, &state.config);
        Ok(Self { token, cookie })
    }
}

/// A form posted from a page shown before login whose anti-CSRF field
/// repeated the browser's cookie, and the token to show again should the
/// page come back with an error. The body is read first: an unreadable one
/// is refused before a token that does not match.
pub struct GuestForm<T> {
    /// What was sent.
    pub form: T,
    /// The token for the page shown again.
    pub token: FormToken,
}

impl<T: CsrfForm> FromRequest<AppState> for GuestForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let (mut parts, body) = req.into_parts();
        let expected = cookie_token(&parts.headers, &state.config).to_owned();
        let Ok(token) = FormToken::from_request_parts(&mut parts, state).await;
        let FormInput(form) =
            FormInput::<T>::from_request(Request::from_parts(parts, body), state).await?;
        matches(&expected, form.csrf())?;
        Ok(Self { form, token })
    }
}

/// The token to embed in a form, and the cookie to set when the browser has none.
pub fn issue(headers: &HeaderMap, cfg: &ServerConfig) -> (String, Option<SetCookie>) {
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

/// The token of the browser's anti-CSRF cookie, empty when it has none
/// (which no form matches).
pub fn cookie_token<'a>(headers: &'a HeaderMap, cfg: &ServerConfig) -> &'a str {
    cookies::read(headers, cookies::csrf_name(cfg)).unwrap_or("")
}

/// A fresh token and its cookie, replacing the old one (after login).
pub fn rotate(cfg: &ServerConfig) -> SetCookie {
    cookies::set(cfg, cookies::csrf_name(cfg), &random_token(), "Strict")
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
/// [`CsrfForm`], which also names its page.)
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
