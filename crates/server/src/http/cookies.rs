//! Cookie names, parsing and `Set-Cookie` headers.

use std::convert::Infallible;

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponseParts, ResponseParts};

use app::config::ServerConfig;

/// One `Set-Cookie` header. As a part of a response it is added beside the
/// cookies the response already sets, never in their place, so a handler
/// answers `(cookie, page)` or `(a, b, Option<c>, redirect)`.
#[must_use]
pub struct SetCookie(String);

impl IntoResponseParts for SetCookie {
    type Error = Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Infallible> {
        // Every name is ours and every value a token or a language code, so
        // the header is always valid; a bad one would be dropped, not sent.
        if let Ok(v) = HeaderValue::try_from(self.0) {
            res.headers_mut().append(SET_COOKIE, v);
        }
        Ok(res)
    }
}

/// The session cookie's name: `__Host-` prefixed over TLS, which binds it to this
/// exact host, path `/` and `Secure`. Plain HTTP (local development) cannot use
/// the prefix, browsers would drop the cookie.
pub fn session_name(cfg: &ServerConfig) -> &'static str {
    if cfg.is_https() {
        "__Host-guichet_session"
    } else {
        "guichet_session"
    }
}

/// The pre-login anti-CSRF cookie's name.
pub fn csrf_name(cfg: &ServerConfig) -> &'static str {
    if cfg.is_https() {
        "__Host-guichet_csrf"
    } else {
        "guichet_csrf"
    }
}

/// Reads one cookie from the request.
pub fn read<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, path `/`, `Secure` over TLS. No `Max-Age`: the
/// server decides when a session dies, and the browser forgets it on exit.
pub fn set(cfg: &ServerConfig, name: &str, value: &str, same_site: &str) -> SetCookie {
    SetCookie(attributes(cfg, name, value, same_site))
}

fn attributes(cfg: &ServerConfig, name: &str, value: &str, same_site: &str) -> String {
    let secure = if cfg.is_https() { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}{secure}")
}

/// The session cookie naming session `id`.
pub fn session(cfg: &ServerConfig, id: &str) -> SetCookie {
    set(cfg, session_name(cfg), id, "Lax")
}

/// Deletes the session cookie (logout, erasure, a session ended).
pub fn end_session(cfg: &ServerConfig) -> SetCookie {
    clear(cfg, session_name(cfg))
}

/// The long-lived device cookie's name: it tells a browser that completed a
/// login before from a new one (login notifications, risky-login codes).
pub fn device_name(cfg: &ServerConfig) -> &'static str {
    if cfg.is_https() {
        "__Host-guichet_device"
    } else {
        "guichet_device"
    }
}

/// The device cookie: the one cookie that outlives the browser session, for
/// 400 days (the longest browsers keep one).
pub fn set_device(cfg: &ServerConfig, value: &str) -> SetCookie {
    lasting(cfg, device_name(cfg), value, 34_560_000)
}

/// A `SameSite=Lax` cookie the browser keeps for `max_age_secs` (0 deletes
/// it), across restarts: the device, the language, an authorization
/// request's `ui_locales`.
pub fn lasting(cfg: &ServerConfig, name: &str, value: &str, max_age_secs: u32) -> SetCookie {
    SetCookie(format!(
        "{}; Max-Age={max_age_secs}",
        attributes(cfg, name, value, "Lax")
    ))
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear(cfg: &ServerConfig, name: &str) -> SetCookie {
    let secure = if cfg.is_https() { "; Secure" } else { "" };
    SetCookie(format!(
        "{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_one_cookie_among_many() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; guichet_session=xyz"));
        h.append(COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(read(&h, "guichet_session"), Some("xyz"));
        assert_eq!(read(&h, "b"), Some("2"));
        assert_eq!(read(&h, "c"), None);
    }
}
