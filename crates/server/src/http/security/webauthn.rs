//! Adding a security key: the page's script asks for the creation options,
//! then sends the key's attestation. Both answer JSON to that script.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use app::security::Confirmation;
use mfa::MfaError;

use super::methods::after_enrolment;
use super::{actor, next_of};
use crate::http::csrf::csrf_field;
use crate::http::error::AppError;
use crate::http::principal::{Recent, Script, script_error};
use crate::state::AppState;
use app::seclog::Origin;
use views::pages::mfa::mfa_message;
use views::text::tr;

#[derive(Deserialize)]
pub struct RegisterBegin {
    csrf: String,
}

/// `POST /account/security/webauthn/begin`: options for `navigator.credentials.create`.
pub async fn webauthn_begin(
    State(state): State<AppState>,
    Script { who: Recent(p), .. }: Script<Recent, RegisterBegin>,
) -> Result<Response, AppError> {
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

csrf_field!(RegisterBegin, RegisterFinish);

/// `POST /account/security/webauthn/finish`: the new key's attestation.
pub async fn webauthn_finish(
    State(state): State<AppState>,
    origin: Origin,
    Script {
        who: Recent(p),
        body: b,
    }: Script<Recent, RegisterFinish>,
) -> Result<Response, AppError> {
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
        Err(e @ MfaError::InvalidLabel) => Ok(script_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            mfa_message(p.lang, &e),
        )),
        Err(MfaError::ChallengeExpired | MfaError::WebAuthn(_)) => Ok(script_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            tr(p.lang, "page.security.key_failed"),
        )),
        Err(e) => Err(e.into()),
    }
}
