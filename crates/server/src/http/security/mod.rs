//! The security page: adding, renaming and removing two-factor methods
//! (`methods`, `webauthn`), emergency codes and turning two-factor off
//! (`codes`), and the re-authentication every change asks for first
//! (`reauth`). The decisions live in [`app::security`]; these handlers read
//! the request, make one call and render.

mod codes;
mod methods;
mod reauth;
mod webauthn;

pub use codes::{delete_codes, disable, regenerate, show_codes};
pub use methods::{
    remove, rename, sms_begin, sms_confirm, sms_page, totp_begin, totp_confirm, totp_page,
    webauthn_page,
};
pub use reauth::{reauth, reauth_page};
pub use webauthn::{webauthn_begin, webauthn_finish};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use app::security::Actor;

use super::cookies;
use super::csrf::csrf_form;
use super::error::AppError;
use super::panel::Panel;
use super::sign_in::safe_next;
use crate::state::AppState;
use app::i18n::Lang;
use app::seclog::Origin;
use app::session::SessionData;
use views::components::Who;
use views::pages::mfa::{self as mfa_pages, SecurityView};
use views::routes;
use views::text::tr;

pub use super::principal::to_reauth;

/// Whether a session authenticated recently enough for a change of security
/// or recovery data ([`app::authz::is_recent`]), for the pages elsewhere
/// that check it after reading their form.
pub(super) async fn is_recent(
    state: &AppState,
    data: &SessionData,
    identity: &str,
) -> Result<bool, AppError> {
    Ok(app::authz::is_recent(state, data, identity).await?)
}

/// The re-authentication redirect coming back to `back` when the panel's
/// login is not recent enough; `None` when it is.
async fn unless_recent(
    state: &AppState,
    p: &Panel,
    back: &str,
) -> Result<Option<Response>, AppError> {
    if is_recent(state, &p.data, &p.identity()).await? {
        Ok(None)
    } else {
        Ok(Some(to_reauth(back)))
    }
}

/// The person acting, as the application layer knows them.
fn actor(p: &Panel, origin: Origin) -> Actor<'_> {
    Actor {
        account: &p.account,
        user_id: p.user_id(),
        identity: p.identity(),
        session_id: &p.session_id,
        data: &p.data,
        origin,
    }
}

/// A redirect to `target` that also sets the session cookie to `session_id`
/// (after an authentication step replaced the session).
fn redirect_with_session(state: &AppState, target: &str, session_id: &str) -> Response {
    let cookie = cookies::session(&state.config, session_id);
    (cookie, Redirect::to(target)).into_response()
}

/// The security page with a notice of what was done.
fn done(what: &str) -> Response {
    Redirect::to(&routes::with_query(routes::SECURITY, &[("done", what)])).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NextQuery {
    next: String,
    done: String,
}

/// Only local paths, and none at all when absent.
fn next_of(raw: &str) -> String {
    if raw.is_empty() {
        String::new()
    } else {
        safe_next(raw).to_owned()
    }
}

fn done_text(lang: Lang, code: &str) -> Option<&'static str> {
    let key = match code {
        "added" => "page.security.added",
        "renamed" => "page.security.renamed",
        "removed" => "page.security.removed",
        "codes-deleted" => "page.security.codes_deleted",
        "disabled" => "page.security.disabled",
        _ => return None,
    };
    Some(tr(lang, key))
}

async fn security_page(
    state: &AppState,
    p: &Panel,
    next: &str,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let identity = p.identity();
    let methods = state.mfa.methods(&identity).await?;
    let recovery_left = state.mfa.recovery_remaining(&identity).await?;
    let view = SecurityView {
        lang: p.lang,
        who: Who::of(&p.account),
        methods: &methods,
        recovery_left,
        csrf: &p.data.csrf,
        next,
        notice,
        error,
    };
    Ok((status, Html(mfa_pages::security(&view).into_string())).into_response())
}

/// `GET /account/security`
pub async fn page(
    State(state): State<AppState>,
    p: Panel,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let next = next_of(&q.next);
    let notice = done_text(p.lang, &q.done);
    security_page(&state, &p, &next, notice, None, StatusCode::OK).await
}

/// A form that carries only its anti-CSRF field.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenForm {
    csrf: String,
}

csrf_form!(TokenForm => routes::SECURITY);
