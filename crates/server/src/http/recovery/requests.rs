//! The two request forms. They answer the same, at the same speed, whatever
//! was typed ([`app::recovery::forgot_handle`]).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use app::recovery::Request;

use super::{msg, too_many, with_status};
use crate::http::csrf;
use crate::http::error::AppError;
use crate::http::extract::{ClientIp, FormInput};
use crate::http::locale::current_lang;
use crate::state::AppState;
use views::pages::recovery as rp;
use views::routes;

fn with_cookie(mut resp: Response, cookie: Option<String>) -> Response {
    if let Some(v) = cookie.and_then(|c| c.parse().ok()) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SentQuery {
    sent: String,
}

/// `GET /forgot-handle`
pub async fn handle_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SentQuery>,
) -> Response {
    let (token, cookie) = csrf::issue(&headers, &state.config);
    let page = rp::forgot_handle(current_lang(), &token, q.sent == "1", None);
    with_cookie(Html(page.into_string()).into_response(), cookie)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct HandleForm {
    csrf: String,
    email: String,
}

/// `POST /forgot-handle`: mails the handle to the account whose primary
/// address this is, if any.
pub async fn handle_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    FormInput(f): FormInput<HandleForm>,
) -> Result<Response, AppError> {
    csrf::check(&headers, &state.config, &f.csrf)?;
    let up = state.database.check();
    match app::recovery::forgot_handle(&state, ip, &f.email, up).await? {
        Request::Accepted => Ok(Redirect::to(&routes::with_query(
            routes::FORGOT_HANDLE,
            &[("sent", "1")],
        ))
        .into_response()),
        Request::DatabaseDown => Err(AppError::DatabaseDown),
        Request::Unreadable | Request::TooMany => {
            let (token, _) = csrf::issue(&headers, &state.config);
            let error = Some(msg("page.recovery.enter_email"));
            let page = rp::forgot_handle(current_lang(), &token, false, error);
            Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
    }
}

/// `GET /forgot-password`
pub async fn password_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SentQuery>,
) -> Response {
    let (token, cookie) = csrf::issue(&headers, &state.config);
    let page = rp::forgot_password(current_lang(), &token, q.sent == "1", None);
    with_cookie(Html(page.into_string()).into_response(), cookie)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    csrf: String,
    identifier: String,
}

/// `POST /forgot-password`
pub async fn password_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    FormInput(f): FormInput<PasswordForm>,
) -> Result<Response, AppError> {
    csrf::check(&headers, &state.config, &f.csrf)?;
    let up = state.database.check();
    let form_again = |key: &str| {
        let (token, _) = csrf::issue(&headers, &state.config);
        rp::forgot_password(current_lang(), &token, false, Some(msg(key)))
    };
    match app::recovery::forgot_password(&state, ip, f.identifier, up).await? {
        Request::Accepted => Ok(Redirect::to(&routes::with_query(
            routes::FORGOT_PASSWORD,
            &[("sent", "1")],
        ))
        .into_response()),
        Request::DatabaseDown => Err(AppError::DatabaseDown),
        Request::Unreadable => Ok(with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            form_again("page.recovery.enter_identifier"),
        )),
        Request::TooMany => Ok(too_many(form_again("page.error.throttled_requests"))),
    }
}
