//! The HTTP surface: routes, middleware, extractors, pages.
//!
//! Handlers stay thin: they extract, call one domain function, and render.

mod account;
mod contacts;
pub(crate) mod cookies;
pub(crate) mod csrf;
mod email_change;
mod email_code;
pub(crate) mod error;
pub(crate) mod extract;
mod gdpr_pages;
mod health;
#[cfg(test)]
mod hostile_tests;
pub(crate) mod language;
mod login;
mod mfa_pages;
pub(crate) mod middleware;
pub(crate) mod oauth;
pub(crate) mod outage;
pub mod pages;
pub(crate) mod panel;
pub(crate) mod panel_api;
mod panel_json;
mod panel_pages;
mod panel_security;
mod password;
pub(crate) mod problem;
mod profile;
pub(crate) mod recovery;
mod recovery_pages;
mod second_factor;
mod security;
mod sign_in;
mod signup;
mod users;
mod verify;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use tower_http::limit::RequestBodyLimitLayer;

pub use error::AppError;

use crate::state::AppState;
use extract::CurrentSession;

/// Builds the public router.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    let limits = state.config.limits.clone();
    Router::new()
        .route("/", get(home))
        .route("/signup", get(signup::page).post(signup::submit))
        .route("/signup/done", get(signup::done))
        .route("/api/v1/signup", post(signup::api))
        .route("/problems/{slug}", get(problem::describe))
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/account", get(account::page))
        .route("/account/profile", get(profile::show).post(profile::save))
        .route(
            "/api/v1/account/profile",
            get(profile::api_show).put(profile::api_save),
        )
        .route(
            "/account/email",
            get(email_change::show).post(email_change::submit),
        )
        .route("/account/email/confirm", post(email_change::confirm))
        .route("/account/email/cancel", post(email_change::cancel))
        .route(
            "/api/v1/account/email",
            get(email_change::api_show).post(email_change::api_start),
        )
        .route(
            "/api/v1/account/email/confirm",
            post(email_change::api_confirm),
        )
        .route(
            "/account/password",
            get(password::show).post(password::submit),
        )
        .route("/api/v1/account/password", put(password::api_change))
        .route("/account/users", get(users::page).post(users::create))
        .route(
            "/account/users/me/password",
            get(users::my_password_page).post(users::my_password),
        )
        .route("/account/users/{id}", get(users::edit).post(users::update))
        .route("/account/users/{id}/status", post(users::set_status))
        .route("/account/users/{id}/delete", post(users::delete))
        .route("/account/groups", post(users::create_group))
        .route("/account/groups/{name}/delete", post(users::delete_group))
        .route(
            "/api/v1/account/users",
            get(users::api_list).post(users::api_create),
        )
        .route("/api/v1/account/users/me", get(users::api_me))
        .route(
            "/api/v1/account/users/me/password",
            post(users::api_my_password),
        )
        .route(
            "/api/v1/account/users/{id}",
            get(users::api_get)
                .patch(users::api_update)
                .delete(users::api_delete),
        )
        .route(
            "/api/v1/account/groups",
            get(users::api_groups).post(users::api_create_group),
        )
        .route(
            "/api/v1/account/groups/{name}",
            axum::routing::delete(users::api_delete_group),
        )
        .route(
            "/login/2fa",
            get(second_factor::page).post(second_factor::submit),
        )
        .route("/login/2fa/sms", post(second_factor::send_sms))
        .route(
            "/login/2fa/webauthn/begin",
            post(second_factor::webauthn_begin),
        )
        .route(
            "/login/2fa/webauthn/finish",
            post(second_factor::webauthn_finish),
        )
        .route(
            "/account/reauth",
            get(security::reauth_page).post(security::reauth),
        )
        .route("/account/security", get(security::page))
        .route("/account/security/codes", get(security::show_codes))
        .route(
            "/account/security/totp",
            get(security::totp_page).post(security::totp_begin),
        )
        .route(
            "/account/security/totp/confirm",
            post(security::totp_confirm),
        )
        .route(
            "/account/security/sms",
            get(security::sms_page).post(security::sms_begin),
        )
        .route("/account/security/sms/confirm", post(security::sms_confirm))
        .route("/account/security/webauthn", get(security::webauthn_page))
        .route(
            "/account/security/webauthn/begin",
            post(security::webauthn_begin),
        )
        .route(
            "/account/security/webauthn/finish",
            post(security::webauthn_finish),
        )
        .route("/account/security/methods/rename", post(security::rename))
        .route("/account/security/methods/remove", post(security::remove))
        .route(
            "/account/security/recovery/regenerate",
            post(security::regenerate),
        )
        .route(
            "/account/security/recovery/delete",
            post(security::delete_codes),
        )
        .route("/account/security/disable", post(security::disable))
        .merge(panel_security_routes())
        .route("/verify-email", get(verify::page).post(verify::submit))
        .route(
            "/login/email-code",
            get(email_code::show).post(email_code::submit),
        )
        .route("/login/email-code/resend", post(email_code::resend))
        .route(
            "/forgot-handle",
            get(recovery::handle_page).post(recovery::handle_submit),
        )
        .route(
            "/forgot-password",
            get(recovery::password_page).post(recovery::password_submit),
        )
        .route(
            "/reset-password",
            get(recovery::reset_page).post(recovery::reset_submit),
        )
        .route("/reset-password/done", get(recovery::reset_done))
        .route(
            "/account/backup-email",
            get(recovery::backup_page).post(recovery::backup_submit),
        )
        .route(
            "/account/backup-email/confirm",
            post(recovery::backup_confirm),
        )
        .route("/account/notifications", post(recovery::notifications))
        .route("/lang/{code}", get(language::switch))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/static/guichet.css", get(stylesheet))
        .route("/static/webauthn.js", get(webauthn_script))
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
        .route("/oauth2/introspect", post(oauth::introspect))
        .route("/oauth2/revoke", post(oauth::revoke))
        .merge(for_browser_clients())
        .fallback(not_found)
        // One stack, so that the router boxes it once per route rather than
        // once per layer; outermost first.
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(
                    std::sync::Arc::new(middleware::Frame {
                        observe: middleware::Observe {
                            metrics: state.metrics.clone(),
                            listener: "public",
                        },
                        request_timeout: limits.request_timeout,
                        https: state.config.is_https(),
                        database: state.database.clone(),
                    }),
                    middleware::frame,
                ))
                .layer(middleware::catch_panics())
                .layer(RequestBodyLimitLayer::new(limit))
                .map_request(|r: axum::extract::Request<_>| r.map(axum::body::Body::new))
                .layer(DefaultBodyLimit::max(limit))
                .layer(axum::middleware::from_fn_with_state(
                    (state.clone(), limits.max_form_fields),
                    middleware::guard,
                )),
        )
        .with_state(state)
}

/// The security page's sessions, applications and log, the data export and
/// erasure, and service contacts, with their JSON twins.
fn panel_security_routes() -> Router<AppState> {
    use panel_security as ps;
    Router::new()
        .route("/account/security/sessions", get(ps::sessions_page))
        .route("/account/security/sessions/end", post(ps::end_session))
        .route("/account/security/sessions/end-all", post(ps::end_all))
        .route("/api/v1/account/sessions", get(ps::sessions_api))
        .route("/api/v1/account/sessions/end", post(ps::end_session_api))
        .route("/api/v1/account/sessions/end-all", post(ps::end_all_api))
        .route("/account/security/apps", get(ps::apps_page))
        .route("/account/security/apps/withdraw", post(ps::withdraw))
        .route("/api/v1/account/apps", get(ps::apps_api))
        .route("/api/v1/account/apps/withdraw", post(ps::withdraw_api))
        .route("/account/security/log", get(ps::log_page))
        .route("/api/v1/account/security-log", get(ps::log_api))
        .route("/account/data", get(gdpr_pages::data_page))
        .route("/account/data-export", get(gdpr_pages::export))
        .route("/api/v1/account/export", get(gdpr_pages::export_api))
        .route(
            "/account/erase",
            get(gdpr_pages::erase_page).post(gdpr_pages::erase),
        )
        .route("/api/v1/account/erase", post(gdpr_pages::erase_api))
        .route(
            "/account/contacts",
            get(contacts::page).post(contacts::request),
        )
        .route("/account/contacts/{id}/answer", post(contacts::answer))
        .route("/account/contacts/{id}/cancel", post(contacts::cancel))
        .route(
            "/api/v1/account/contacts",
            get(contacts::list_api).post(contacts::request_api),
        )
        .route(
            "/api/v1/account/contacts/{id}/answer",
            post(contacts::answer_api),
        )
        .route(
            "/api/v1/account/contacts/{id}/cancel",
            post(contacts::cancel_api),
        )
}

/// The endpoints a single-page application calls from its own origin: token,
/// userinfo, keys and discovery. They get CORS with `*` and never credentials:
/// they read no cookie (the client or its bearer token authenticates each
/// request), so no origin is ever reflected and no browser sends cookies along.
fn for_browser_clients() -> Router<AppState> {
    Router::new()
        .route(
            "/oauth2/userinfo",
            get(oauth::userinfo).post(oauth::userinfo),
        )
        .route(
            "/.well-known/openid-configuration",
            get(oauth::openid_configuration),
        )
        .route("/oauth2/token", post(oauth::token))
        .route("/oauth2/jwks", get(oauth::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth::authorization_server_metadata),
        )
        .layer(tower::layer::layer_fn(middleware::BrowserCors))
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

async fn webauthn_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("webauthn.js"),
    )
        .into_response()
}

async fn not_found() -> AppError {
    AppError::NotFound
}
