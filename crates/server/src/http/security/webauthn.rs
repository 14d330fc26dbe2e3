//! Adding a security key: the page's script asks for the creation options,
//! then sends the key's attestation. Both answer JSON to that script.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use app::security::Confirmation;
use mfa::MfaError;

use super::methods::after_enrolment;
use super::{actor, is_recent, next_of};
use crate::http::csrf;
use crate::http::error::AppError;
use crate::http::extract::{CurrentSession, current_lang};
use crate::http::panel::Panel;
use crate::seclog::Origin;
use crate::state::AppState;
use views::pages::mfa::mfa_message;
use views::routes;
use views::text::tr;

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// The signed-in panel whose login is recent and whose script repeated the
/// session's anti-CSRF token, or the JSON answer the script shows instead.
async fn recent_script(
    state: &AppState,
    session: CurrentSession,
    token: &str,
) -> Result<Result<Panel, Response>, AppError> {
    let Ok(p) = Panel::load(state, session, routes::SECURITY).await? else {
        let msg = tr(current_lang(), "page.error.log_in_again");
        return Ok(Err(json_error(StatusCode::UNAUTHORIZED, msg)));
    };
    csrf::matches(&p.data.csrf, token)?;
    if !is_recent(state, &p.data, &p.identity()).await? {
        let msg = tr(p.lang, "page.security.reauth_first");
        return Ok(Err(json_error(StatusCode::FORBIDDEN, msg)));
    }
    Ok(Ok(p))
}

#[derive(Deserialize)]
pub struct RegisterBegin {
    csrf: String,
}

/// `POST /account/security/webauthn/begin`: options for `navigator.credentials.create`.
pub async fn webauthn_begin(
    State(state): State<AppState>,
    session: CurrentSession,
    body: Result<Json<RegisterBegin>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(b) = body.map_err(|r| AppError::unreadable(r.status()))?;
    let p = match recent_script(&state, session, &b.csrf).await? {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let display = format!("{} {}", p.account.first_name, p.account.last_name);
    let (ceremony, options) = state
        .mfa
        .webauthn_register_begin(&p.identity(), &p.account.handle, &display)
        .await?;
    Ok(Json(json!({"ceremony": ceremony, "options": options})).into_response())
}

#[derive(Deserialize)]
pub struct RegisterFinish {
    csrf: String,
    ceremony: String,
    label: String,
    credential: Value,
    #[serde(default)]
    next: String,
}

/// `POST /account/security/webauthn/finish`: the new key's attestation.
pub async fn webauthn_finish(
    State(state): State<AppState>,
    session: CurrentSession,
    origin: Origin,
    body: Result<Json<RegisterFinish>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(b) = body.map_err(|r| AppError::unreadable(r.status()))?;
    let p = match recent_script(&state, session, &b.csrf).await? {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let next = next_of(&b.next);
    let proof = Confirmation::WebAuthn {
        ceremony: b.ceremony,
        label: b.label,
        credential: b.credential,
    };
    match app::security::confirm(&state, &actor(&p, origin), proof).await? {
        Ok(e) => {
            let (target, redirect) = after_enrolment(&state, &e, &next);
            let mut resp = Json(json!({"redirect": target})).into_response();
            for v in redirect.headers().get_all(header::SET_COOKIE) {
                resp.headers_mut().append(header::SET_COOKIE, v.clone());
            }
            Ok(resp)
        }
        Err(e @ MfaError::InvalidLabel) => Ok(json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            mfa_message(p.lang, &e),
        )),
        Err(MfaError::ChallengeExpired | MfaError::WebAuthn(_)) => Ok(json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            tr(p.lang, "page.security.key_failed"),
        )),
        Err(e) => Err(e.into()),
    }
}
