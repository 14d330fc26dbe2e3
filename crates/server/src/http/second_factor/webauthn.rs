//! A security key at the second step: the page's script asks for a
//! challenge, then sends the key's answer. Both answer JSON to that script.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use app::second_factor::{Checked, Step, StepProof};

use super::{msg, signed_in, wait_message};
use crate::http::csrf::csrf_field;
use crate::http::error::AppError;
use crate::http::extract::ClientIp;
use crate::http::principal::{Script, script_error};
use crate::http::sign_in::safe_next;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct BeginBody {
    csrf: String,
}

/// `POST /login/2fa/webauthn/begin`: a challenge for the registered keys.
pub async fn webauthn_begin(
    State(state): State<AppState>,
    Script { who: step, .. }: Script<Step, BeginBody>,
) -> Result<Response, AppError> {
    match state.mfa.webauthn_login_begin(&step.identity()).await {
        Ok((ceremony, options)) => {
            Ok(Json(json!({"ceremony": ceremony, "options": options})).into_response())
        }
        Err(mfa::MfaError::NotFound) => Ok(script_error(
            StatusCode::NOT_FOUND,
            msg("page.security.no_key"),
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct FinishBody {
    csrf: String,
    ceremony: String,
    credential: Value,
    #[serde(default)]
    next: String,
}

csrf_field!(BeginBody, FinishBody);

/// `POST /login/2fa/webauthn/finish`: the key's answer, checked by
/// [`app::second_factor::check`] (where the attempt is reserved first).
/// Answers JSON with the page to go to, since the browser script, not a
/// form, made the request.
pub async fn webauthn_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Script { who: step, body: b }: Script<Step, FinishBody>,
) -> Result<Response, AppError> {
    let next = step.next(safe_next(&b.next));
    let proof = StepProof::WebAuthn {
        ceremony: b.ceremony,
        response: b.credential,
    };
    match app::second_factor::check(&state, &*state.metrics, &step, ip, proof).await? {
        Checked::Throttled(secs) => {
            let mut resp = script_error(StatusCode::TOO_MANY_REQUESTS, &wait_message(secs));
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            Ok(resp)
        }
        Checked::Refused => Ok(script_error(
            StatusCode::UNAUTHORIZED,
            msg("page.security.key_refused"),
        )),
        done => {
            let redirect = signed_in(&state, &headers, done, &next).await?;
            Ok(as_script_answer(redirect, &next))
        }
    }
}

/// The same cookies and target as the redirect `redirect`, for the script to
/// follow.
fn as_script_answer(redirect: Option<Response>, next: &str) -> Response {
    let Some(redirect) = redirect else {
        return Json(json!({"redirect": next})).into_response();
    };
    let to = redirect
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(next)
        .to_owned();
    let mut resp = Json(json!({"redirect": to})).into_response();
    for v in redirect.headers().get_all(header::SET_COOKIE) {
        resp.headers_mut().append(header::SET_COOKIE, v.clone());
    }
    resp
}
