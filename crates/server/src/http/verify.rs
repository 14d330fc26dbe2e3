//! Primary-email verification links.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use accounts::{AccountError, Secret};

use super::csrf::csrf_form;
use super::csrf::{FormToken, GuestForm};
use super::error::AppError;
use super::locale::current_lang;
use crate::state::AppState;
use views::routes;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenInput {
    token: String,
    csrf: String,
}

csrf_form!(TokenInput => routes::VERIFY_EMAIL);

fn token_ok(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

pub async fn page(form: FormToken, Query(q): Query<TokenInput>) -> Result<Response, AppError> {
    if !token_ok(&q.token) {
        return Err(invalid());
    }
    let page = views::pages::login::verify_form(current_lang(), &q.token, &form.token);
    Ok((form.cookie, Html(page.into_string())).into_response())
}

fn invalid() -> AppError {
    AppError::Refused(StatusCode::BAD_REQUEST, "page.verify.link_dead")
}

pub async fn submit(
    State(state): State<AppState>,
    GuestForm { form: input, .. }: GuestForm<TokenInput>,
) -> Result<Response, AppError> {
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
