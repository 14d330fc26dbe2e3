//! Primary-email verification links.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use accounts::{AccountError, Secret};

use super::csrf;
use super::error::AppError;
use super::extract::FormInput;
use super::locale::current_lang;
use crate::state::AppState;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenInput {
    token: String,
    csrf: String,
}

fn token_ok(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenInput>,
) -> Result<Response, AppError> {
    if !token_ok(&q.token) {
        return Err(invalid());
    }
    let (csrf_token, cookie) = csrf::issue(&headers, &state.config);
    let mut resp =
        Html(views::pages::login::verify_form(current_lang(), &q.token, &csrf_token).into_string())
            .into_response();
    if let Some(c) = cookie.and_then(|c| c.parse().ok()) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}

fn invalid() -> AppError {
    AppError::Refused(StatusCode::BAD_REQUEST, "page.verify.link_dead")
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    FormInput(input): FormInput<TokenInput>,
) -> Result<Response, AppError> {
    csrf::check(&headers, &state.config, &input.csrf)?;
    if !token_ok(&input.token) {
        return Err(invalid());
    }
    match state.accounts.verify_email(&Secret::new(input.token)).await {
        Ok(a) => {
            let email = a.primary_email.unwrap_or_default();
            let lang = current_lang();
            let text = views::text::tr_fmt(
                lang,
                "page.verify.done",
                &[("email", &email), ("handle", &a.handle)],
            );
            let title = views::text::tr(lang, "page.verify.done_title");
            Ok(Html(views::components::message(lang, title, &text).into_string()).into_response())
        }
        Err(AccountError::InvalidLink) => Err(invalid()),
        Err(e) => Err(e.into()),
    }
}
