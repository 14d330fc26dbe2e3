//! The last step of every sign-in over HTTP: the application opens the
//! session ([`app::sign_in::complete`]); this sets the cookies and sends the
//! browser on.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use accounts::Account;

use super::cookies;
use super::csrf;
use super::error::AppError;
use crate::state::AppState;
use app::session::SessionData;
use views::routes;

/// Where to go after login: only a path on this site, never another origin.
pub(crate) fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !matches!(next.as_bytes().get(1), Some(b'/' | b'\\'))
        && next.len() <= 2048
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if ok { next } else { routes::ACCOUNT }
}

/// Completes a sign-in whose every step is done (password, then a second
/// factor or a mailed code when due): a new session, a rotated anti-CSRF
/// token, the device cookie, and the detour to naming a new backup address
/// when support promoted the old one. `clear` names a pending-step cookie to
/// delete.
pub(crate) async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    account: &Account,
    data: &SessionData,
    next: &str,
    clear: Option<&str>,
) -> Result<Response, AppError> {
    let cfg = &state.config;
    let device = cookies::read(headers, cookies::device_name(cfg));
    let done = app::sign_in::complete(state, account, data, device).await?;
    let target = if done.must_set_backup {
        routes::then(routes::BACKUP_EMAIL, next)
    } else {
        next.to_owned()
    };
    Ok((
        cookies::session(cfg, &done.session_id),
        csrf::rotate(cfg),
        cookies::set_device(cfg, &done.device),
        clear.map(|name| cookies::clear(cfg, name)),
        Redirect::to(&target),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_never_leaves_the_site() {
        assert_eq!(safe_next("/account"), "/account");
        assert_eq!(safe_next("/account?x=1"), "/account?x=1");
        for bad in [
            "https://evil.com",
            "//evil.com",
            "/\\evil.com",
            "evil.com",
            "",
            "/a\r\nSet-Cookie: x",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(bad), "/account", "{bad:?}");
        }
    }
}
