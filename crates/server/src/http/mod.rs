//! The HTTP surface: routes, middleware, extractors and handlers; the pages
//! they answer with are the `views` crate's.
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
mod locale;
mod login;
pub(crate) mod middleware;
pub(crate) mod oauth;
pub(crate) mod outage;
pub(crate) mod panel;
pub(crate) mod panel_api;
mod panel_json;
mod panel_security;
mod password;
mod principal;
pub(crate) mod problem;
mod profile;
pub(crate) mod recovery;
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
use views::routes;

pub use error::AppError;

use crate::state::AppState;
use extract::CurrentSession;

/// Builds the public router.
pub fn router(state: AppState) -> Router {
    // The language switcher of every page links back to the page itself.
    views::context::install_back_provider(locale::switcher_back);
    let limit = state.config.max_body_bytes;
    let limits = state.config.limits.clone();
    Router::new()
        .route(routes::HOME, get(home))
        .route(routes::SIGNUP, get(signup::page).post(signup::submit))
        .route(routes::SIGNUP_DONE, get(signup::done))
        .route(routes::API_SIGNUP, post(signup::api))
        .route(routes::PROBLEM, get(problem::describe))
        .route(routes::LOGIN, get(login::page).post(login::submit))
        .route(routes::LOGOUT, post(login::logout))
        .route(routes::ACCOUNT, get(account::page))
        .route(routes::PROFILE, get(profile::show).post(profile::save))
        .route(
            routes::API_PROFILE,
            get(profile::api_show).put(profile::api_save),
        )
        .route(
            routes::EMAIL,
            get(email_change::show).post(email_change::submit),
        )
        .route(routes::EMAIL_CONFIRM, post(email_change::confirm))
        .route(routes::EMAIL_CANCEL, post(email_change::cancel))
        .route(
            routes::API_EMAIL,
            get(email_change::api_show).post(email_change::api_start),
        )
        .route(routes::API_EMAIL_CONFIRM, post(email_change::api_confirm))
        .route(routes::PASSWORD, get(password::show).post(password::submit))
        .route(routes::API_PASSWORD, put(password::api_change))
        .route(routes::USERS, get(users::page).post(users::create))
        .route(
            routes::MY_PASSWORD,
            get(users::my_password_page).post(users::my_password),
        )
        .route(routes::USER, get(users::edit).post(users::update))
        .route(routes::USER_STATUS, post(users::set_status))
        .route(routes::USER_DELETE, post(users::delete))
        .route(routes::GROUPS, post(users::create_group))
        .route(routes::GROUP_DELETE, post(users::delete_group))
        .route(
            routes::API_USERS,
            get(users::api_list).post(users::api_create),
        )
        .route(routes::API_USERS_ME, get(users::api_me))
        .route(routes::API_MY_PASSWORD, post(users::api_my_password))
        .route(
            routes::API_USER,
            get(users::api_get)
                .patch(users::api_update)
                .delete(users::api_delete),
        )
        .route(
            routes::API_GROUPS,
            get(users::api_groups).post(users::api_create_group),
        )
        .route(
            routes::API_GROUP,
            axum::routing::delete(users::api_delete_group),
        )
        .route(
            routes::LOGIN_2FA,
            get(second_factor::page).post(second_factor::submit),
        )
        .route(routes::LOGIN_2FA_SMS, post(second_factor::send_sms))
        .route(
            routes::LOGIN_2FA_WEBAUTHN_BEGIN,
            post(second_factor::webauthn_begin),
        )
        .route(
            routes::LOGIN_2FA_WEBAUTHN_FINISH,
            post(second_factor::webauthn_finish),
        )
        .route(
            routes::REAUTH,
            get(security::reauth_page).post(security::reauth),
        )
        .route(routes::SECURITY, get(security::page))
        .route(routes::SECURITY_CODES, get(security::show_codes))
        .route(
            routes::SECURITY_TOTP,
            get(security::totp_page).post(security::totp_begin),
        )
        .route(routes::SECURITY_TOTP_CONFIRM, post(security::totp_confirm))
        .route(
            routes::SECURITY_SMS,
            get(security::sms_page).post(security::sms_begin),
        )
        .route(routes::SECURITY_SMS_CONFIRM, post(security::sms_confirm))
        .route(routes::SECURITY_WEBAUTHN, get(security::webauthn_page))
        .route(
            routes::SECURITY_WEBAUTHN_BEGIN,
            post(security::webauthn_begin),
        )
        .route(
            routes::SECURITY_WEBAUTHN_FINISH,
            post(security::webauthn_finish),
        )
        .route(routes::SECURITY_RENAME, post(security::rename))
        .route(routes::SECURITY_REMOVE, post(security::remove))
        .route(
            routes::SECURITY_CODES_REGENERATE,
            post(security::regenerate),
        )
        .route(routes::SECURITY_CODES_DELETE, post(security::delete_codes))
        .route(routes::SECURITY_DISABLE, post(security::disable))
        .merge(panel_security_routes())
        .route(routes::VERIFY_EMAIL, get(verify::page).post(verify::submit))
        .route(
            routes::LOGIN_EMAIL_CODE,
            get(email_code::show).post(email_code::submit),
        )
        .route(routes::LOGIN_EMAIL_CODE_RESEND, post(email_code::resend))
        .route(
            routes::FORGOT_HANDLE,
            get(recovery::handle_page).post(recovery::handle_submit),
        )
        .route(
            routes::FORGOT_PASSWORD,
            get(recovery::password_page).post(recovery::password_submit),
        )
        .route(
            routes::RESET_PASSWORD,
            get(recovery::reset_page).post(recovery::reset_submit),
        )
        .route(routes::RESET_PASSWORD_DONE, get(recovery::reset_done))
        .route(
            routes::BACKUP_EMAIL,
            get(recovery::backup_page).post(recovery::backup_submit),
        )
        .route(routes::BACKUP_EMAIL_CONFIRM, post(recovery::backup_confirm))
        .route(routes::NOTIFICATIONS, post(recovery::notifications))
        .route(routes::LANG, get(language::switch))
        .route(routes::HEALTHZ, get(health::healthz))
        .route(routes::READYZ, get(health::readyz))
        .route(routes::STYLESHEET, get(stylesheet))
        .route(routes::WEBAUTHN_JS, get(webauthn_script))
        .route(
            routes::AUTHORIZE,
            get(oauth::authorize_get).post(oauth::authorize_post),
        )
        .route(routes::AUTHORIZE_RESUME, get(oauth::resume))
        .route(routes::CONSENT, post(oauth::consent))
        .route(
            routes::OAUTH_LOGOUT,
            get(oauth::logout_get).post(oauth::logout_post),
        )
        .route(routes::INTROSPECT, post(oauth::introspect))
        .route(routes::REVOKE, post(oauth::revoke))
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
        .route(routes::SESSIONS, get(ps::sessions_page))
        .route(routes::SESSIONS_END, post(ps::end_session))
        .route(routes::SESSIONS_END_ALL, post(ps::end_all))
        .route(routes::API_SESSIONS, get(ps::sessions_api))
        .route(routes::API_SESSIONS_END, post(ps::end_session_api))
        .route(routes::API_SESSIONS_END_ALL, post(ps::end_all_api))
        .route(routes::APPS, get(ps::apps_page))
        .route(routes::APPS_WITHDRAW, post(ps::withdraw))
        .route(routes::API_APPS, get(ps::apps_api))
        .route(routes::API_APPS_WITHDRAW, post(ps::withdraw_api))
        .route(routes::SECURITY_LOG, get(ps::log_page))
        .route(routes::API_SECURITY_LOG, get(ps::log_api))
        .route(routes::DATA, get(gdpr_pages::data_page))
        .route(routes::DATA_EXPORT, get(gdpr_pages::export))
        .route(routes::API_EXPORT, get(gdpr_pages::export_api))
        .route(
            routes::ERASE,
            get(gdpr_pages::erase_page).post(gdpr_pages::erase),
        )
        .route(routes::API_ERASE, post(gdpr_pages::erase_api))
        .route(
            routes::CONTACTS,
            get(contacts::page).post(contacts::request),
        )
        .route(routes::CONTACT_ANSWER, post(contacts::answer))
        .route(routes::CONTACT_CANCEL, post(contacts::cancel))
        .route(
            routes::API_CONTACTS,
            get(contacts::list_api).post(contacts::request_api),
        )
        .route(routes::API_CONTACT_ANSWER, post(contacts::answer_api))
        .route(routes::API_CONTACT_CANCEL, post(contacts::cancel_api))
}

/// The endpoints a single-page application calls from its own origin: token,
/// userinfo, keys and discovery. They get CORS with `*` and never credentials:
/// they read no cookie (the client or its bearer token authenticates each
/// request), so no origin is ever reflected and no browser sends cookies along.
fn for_browser_clients() -> Router<AppState> {
    Router::new()
        .route(routes::USERINFO, get(oauth::userinfo).post(oauth::userinfo))
        .route(
            routes::OPENID_CONFIGURATION,
            get(oauth::openid_configuration),
        )
        .route(routes::TOKEN, post(oauth::token))
        .route(routes::JWKS, get(oauth::jwks))
        .route(
            routes::AUTHORIZATION_SERVER_METADATA,
            get(oauth::authorization_server_metadata),
        )
        .layer(tower::layer::layer_fn(middleware::BrowserCors))
}

async fn home(session: CurrentSession) -> Redirect {
    if session.0.is_some() {
        Redirect::to(routes::ACCOUNT)
    } else {
        Redirect::to(routes::LOGIN)
    }
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        views::assets::STYLESHEET,
    )
        .into_response()
}

async fn webauthn_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        views::assets::WEBAUTHN_JS,
    )
        .into_response()
}

async fn not_found() -> AppError {
    AppError::NotFound
}
