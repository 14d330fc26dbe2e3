//! The ways back in: the two request forms (`requests`: "I don't know my
//! customer handle", "forgot password"), the reset link (`reset`), naming a
//! backup address and the login-notification switch (`backup`). The
//! decisions live in [`app::recovery`].

mod backup;
mod requests;
mod reset;

pub use backup::{backup_confirm, backup_page, backup_submit, notifications};
pub use requests::{handle_page, handle_submit, password_page, password_submit};
pub use reset::{reset_done, reset_page, reset_submit};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::locale::current_lang;

/// The text `key` in the request's language.
fn msg(key: &str) -> &'static str {
    views::text::tr(current_lang(), key)
}

/// `page`, answered as "too many requests, come back after the window".
fn too_many(page: maud::Markup) -> Response {
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, Html(page.into_string())).into_response();
    let secs = app::recovery::WINDOW.as_secs();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// `page`, answered with `status`.
fn with_status(status: StatusCode, page: maud::Markup) -> Response {
    (status, Html(page.into_string())).into_response()
}
