//! The HTTP surface: routes, middleware, extractors, pages.
//!
//! Handlers stay thin: they extract, call one domain function, and render.

mod account;
pub(crate) mod cookies;
pub(crate) mod csrf;
pub(crate) mod error;
pub(crate) mod extract;
mod health;
mod login;
mod middleware;
pub(crate) mod oauth;
pub mod pages;
mod signup;
mod verify;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;

pub use error::AppError;

use crate::state::AppState;
use extract::CurrentSession;

/// Builds the public router.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/", get(home))
        .route("/signup", get(signup::page).post(signup::submit))
        .route("/signup/done", get(signup::done))
        .route("/api/v1/signup", post(signup::api))
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/account", get(account::page))
        .route("/verify-email", get(verify::page).post(verify::submit))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/static/guichet.css", get(stylesheet))
        .route(
            "/oauth2/authorize",
            get(oauth::authorize_get).post(oauth::authorize_post),
        )
        .route("/oauth2/authorize/resume", get(oauth::resume))
        .route("/oauth2/consent", post(oauth::consent))
        .route(
            "/oauth2/logout",
            get(oauth::logout_get).post(oauth::logout_post),
        )
        .route(
            "/oauth2/userinfo",
            get(oauth::userinfo).post(oauth::userinfo),
        )
        .route(
            "/.well-known/openid-configuration",
            get(oauth::openid_configuration),
        )
        .route("/oauth2/token", post(oauth::token))
        .route("/oauth2/introspect", post(oauth::introspect))
        .route("/oauth2/revoke", post(oauth::revoke))
        .route("/oauth2/jwks", get(oauth::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth::authorization_server_metadata),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::refuse_cross_site_writes,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
        .with_state(state)
}

async fn home(session: CurrentSession) -> Redirect {
    if session.0.is_some() {
        Redirect::to("/account")
    } else {
        Redirect::to("/login")
    }
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("guichet.css"),
    )
        .into_response()
}

async fn not_found() -> AppError {
    AppError::NotFound
}
