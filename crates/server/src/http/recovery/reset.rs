//! The reset link: opened, then used to set a new password
//! ([`app::recovery::reset_password`], where its attempts are counted).

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use accounts::Secret;
use app::recovery::{LinkState, Reset};

use super::{msg, with_status};
use crate::http::error::AppError;
use crate::http::extract::{ClientIp, FormInput};
use crate::http::locale::current_lang;
use crate::state::AppState;
use app::session::throttle::retry_after_secs;
use views::pages::recovery as rp;
use views::routes;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenQuery {
    token: String,
}

fn dead_link() -> Response {
    with_status(StatusCode::GONE, rp::reset_link_dead(current_lang()))
}

/// The link as typed, never longer than any link is.
fn link_token(raw: &str) -> Secret {
    Secret::new(raw.chars().take(128).collect::<String>())
}

/// `GET /reset-password?token=…`
pub async fn reset_page(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let token = link_token(&q.token);
    let min = state.accounts.policy().min_chars;
    match app::recovery::open_reset_link(&state, ip, &token).await? {
        LinkState::Live => {
            let page = rp::reset_form(current_lang(), token.expose(), "", &[], min, None);
            Ok(Html(page.into_string()).into_response())
        }
        LinkState::Dead => Ok(dead_link()),
        LinkState::Throttled(wait) => Ok(reset_throttled(&token, "", min, wait)),
    }
}

/// The answer to a throttled reset attempt: the form again with the wait,
/// the same for any link, live or not.
fn reset_throttled(
    token: &Secret,
    handle: &str,
    min: usize,
    wait: std::time::Duration,
) -> Response {
    let secs = retry_after_secs(wait);
    let msg = app::i18n::format(msg("page.error.throttled"), &[("n", &secs.to_string())]);
    let page = rp::reset_form(current_lang(), token.expose(), handle, &[], min, Some(&msg));
    let mut resp = with_status(StatusCode::TOO_MANY_REQUESTS, page);
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResetForm {
    token: String,
    handle: String,
    password: String,
    password_confirm: String,
}

/// `POST /reset-password`: the handle and the new password twice. The link
/// itself is the proof (no session, so no CSRF token: a forged post would
/// need the secret link).
pub async fn reset_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    FormInput(f): FormInput<ResetForm>,
) -> Result<Response, AppError> {
    let token = link_token(&f.token);
    let handle: String = f.handle.chars().take(64).collect();
    let (password, confirm) = (Secret::new(f.password), Secret::new(f.password_confirm));
    let min = state.accounts.policy().min_chars;
    let reset = app::recovery::reset_password(&state, ip, &token, &handle, password, confirm);
    match reset.await? {
        Reset::Done => Ok(Redirect::to(routes::RESET_PASSWORD_DONE).into_response()),
        Reset::Throttled(wait) => Ok(reset_throttled(&token, &handle, min, wait)),
        Reset::DeadLink => Ok(dead_link()),
        Reset::Refused(errors) => {
            let lang = current_lang();
            let page = rp::reset_form(lang, token.expose(), &handle, &errors, min, None);
            Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
    }
}

/// `GET /reset-password/done`
pub async fn reset_done() -> Html<String> {
    Html(rp::reset_done(current_lang()).into_string())
}
