//! The language switcher's target: remembers the choice in a cookie and goes
//! back to the page it was clicked on.

use super::cookies::{self, SetCookie};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::error::AppError;
use super::locale::{LANG_COOKIE, UI_LOCALES_COOKIE, supported};
use super::sign_in::safe_next;
use crate::state::AppState;
use app::i18n::Lang;
use views::routes;

/// `?back=` of the switcher's links.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Back {
    back: String,
}

/// `GET /lang/{code}`: sets the `lang` cookie for a year and returns to
/// `back`, a local path only (no open redirect).
pub async fn switch(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<Back>,
) -> Result<Response, AppError> {
    let lang = supported(&code)
        .filter(|l| l.code() == code)
        .ok_or(AppError::NotFound)?;
    // Lax, so that a relying party's link to a page keeps the language.
    let cookie = cookies::lasting(&state.config, LANG_COOKIE, lang.code(), 31_536_000);
    let back = if q.back.is_empty() {
        routes::HOME
    } else {
        safe_next(&q.back)
    };
    Ok((cookie, Redirect::to(back)).into_response())
}

/// The cookie that carries an authorization request's `ui_locales` through
/// the login detour, for the request's lifetime (ten minutes); `None` clears it.
pub fn ui_locales_cookie(cfg: &app::config::ServerConfig, lang: Option<Lang>) -> SetCookie {
    let (value, age) = match lang {
        Some(l) => (l.code(), 600),
        None => ("", 0),
    };
    cookies::lasting(cfg, UI_LOCALES_COOKIE, value, age)
}
