//! Emergency codes (shown once, made anew, deleted) and turning two-factor
//! off.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{TokenForm, actor, done, next_of, security_page};
use crate::http::error::AppError;
use crate::http::panel::Panel;
use crate::http::principal::RecentForm;
use crate::state::AppState;
use app::seclog::Origin;
use views::components::Who;
use views::pages::mfa as mfa_pages;
use views::routes;
use views::text::tr;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ShowQuery {
    show: String,
    next: String,
}

/// `GET /account/security/codes?show=…`: the emergency codes, once.
pub async fn show_codes(
    State(state): State<AppState>,
    p: Panel,
    Query(q): Query<ShowQuery>,
) -> Result<Response, AppError> {
    let Some(codes) = app::security::take_codes(&state, &q.show, &p.data.sid).await? else {
        return Ok(Redirect::to(routes::SECURITY).into_response());
    };
    let next = next_of(&q.next);
    let page = mfa_pages::recovery_codes(p.lang, Who::of(&p.account), &codes, &next);
    Ok(Html(page.into_string()).into_response())
}

/// The page that shows codes kept under `key`, then goes to `next`.
pub(super) fn to_codes(key: &str, next: &str) -> String {
    routes::with_query(routes::SECURITY_CODES, &[("show", key), ("next", next)])
}

/// `POST /account/security/recovery/regenerate`: a new set, the old one void.
pub async fn regenerate(
    State(state): State<AppState>,
    origin: Origin,
    RecentForm { panel: p, .. }: RecentForm<TokenForm>,
) -> Result<Response, AppError> {
    match app::security::regenerate_codes(&state, &actor(&p, origin)).await? {
        Some(key) => Ok(Redirect::to(&to_codes(&key, "")).into_response()),
        None => {
            let msg = tr(p.lang, "page.security.codes_need_2fa");
            security_page(&state, &p, "", None, Some(msg), StatusCode::CONFLICT).await
        }
    }
}

/// `POST /account/security/recovery/delete`
pub async fn delete_codes(
    State(state): State<AppState>,
    origin: Origin,
    RecentForm { panel: p, .. }: RecentForm<TokenForm>,
) -> Result<Response, AppError> {
    app::security::delete_codes(&state, &actor(&p, origin)).await?;
    Ok(done("codes-deleted"))
}

/// `POST /account/security/disable`: every method and code goes.
pub async fn disable(
    State(state): State<AppState>,
    origin: Origin,
    RecentForm { panel: p, .. }: RecentForm<TokenForm>,
) -> Result<Response, AppError> {
    app::security::disable(&state, &actor(&p, origin)).await?;
    Ok(done("disabled"))
}
