//! The page of the second step, a typed code, and an SMS sent on request.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use app::second_factor::{Checked, StepProof};

use super::{
    Shown, StepForm, current, load_account, msg, render, signed_in, to_login, wait_message,
};
use crate::http::csrf::csrf_field;
use crate::http::error::AppError;
use crate::http::extract::{ClientIp, CurrentSession};
use crate::http::sign_in::safe_next;
use crate::state::AppState;
use views::routes;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StepQuery {
    method: String,
    next: String,
    sent: String,
}

/// `GET /login/2fa`
pub async fn page(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    Query(q): Query<StepQuery>,
) -> Result<Response, AppError> {
    let Some(step) = current(&state, &headers, session).await? else {
        return Ok(to_login());
    };
    let Some(account) = load_account(&state, step.account_id()).await? else {
        return Ok(to_login());
    };
    let next = step.next(safe_next(&q.next));
    if !state.mfa.is_enabled(&step.identity()).await? {
        // Nothing to ask: a signed-in user is led to enrol a method first.
        return Ok(if step.is_step_up() {
            Redirect::to(&routes::then(routes::SECURITY, &next)).into_response()
        } else {
            to_login()
        });
    }
    let notice = (q.sent == "1").then_some(msg("page.security.sms_sent_login"));
    let (chosen, error, status) = (&q.method, None, StatusCode::OK);
    let shown = Shown {
        chosen,
        next: &next,
        notice,
        error,
        status,
    };
    render(&state, &step, &account, shown).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    method: String,
    code: String,
    next: String,
}

csrf_field!(CodeForm);

/// `POST /login/2fa`: a code from an app, an SMS or an emergency code,
/// checked by [`app::second_factor::check`] (where the attempt is reserved
/// before the code is looked at).
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    StepForm {
        step,
        account,
        form: f,
    }: StepForm<CodeForm>,
) -> Result<Response, AppError> {
    let next = step.next(safe_next(&f.next));
    let proof = StepProof::Code {
        method: f.method.clone(),
        code: f.code,
    };
    let checked = app::second_factor::check(&state, &*state.metrics, &step, ip, proof).await?;
    let (error, status, wait) = match refusal(&checked) {
        Some(refused) => refused,
        None => {
            let to = signed_in(&state, &headers, checked, &next).await?;
            return Ok(to.unwrap_or_else(to_login));
        }
    };
    let shown = Shown {
        chosen: &f.method,
        next: &next,
        notice: None,
        error: Some(&error),
        status,
    };
    let resp = render(&state, &step, &account, shown).await?;
    Ok(with_retry_after(resp, wait))
}

/// What the step page says when a code was not taken: the message, the
/// status and the wait, if any; `None` when the check let the person in.
fn refusal(checked: &Checked) -> Option<(String, StatusCode, Option<u64>)> {
    match checked {
        Checked::Throttled(secs) => Some((
            wait_message(*secs),
            StatusCode::TOO_MANY_REQUESTS,
            Some(*secs),
        )),
        Checked::Refused => Some((
            msg("page.security.code_used").to_owned(),
            StatusCode::UNAUTHORIZED,
            None,
        )),
        _ => None,
    }
}

/// `resp` with the wait, when there is one, in `Retry-After`.
fn with_retry_after(mut resp: Response, wait: Option<u64>) -> Response {
    if let Some(secs) = wait {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SendForm {
    csrf: String,
    method: String,
    next: String,
}

csrf_field!(SendForm);

/// `POST /login/2fa/sms`: sends a code to one registered phone.
pub async fn send_sms(
    State(state): State<AppState>,
    StepForm {
        step,
        account,
        form: f,
    }: StepForm<SendForm>,
) -> Result<Response, AppError> {
    let next = step.next(safe_next(&f.next));
    match app::second_factor::send_sms(&state, &step, &f.method).await? {
        Ok(()) => {
            let q = [
                ("method", f.method.as_str()),
                ("next", &next),
                ("sent", "1"),
            ];
            Ok(Redirect::to(&routes::with_query(routes::LOGIN_2FA, &q)).into_response())
        }
        Err(mfa::MfaError::TooManySends) => {
            let error = Some(msg("page.security.sms_limit"));
            let status = StatusCode::TOO_MANY_REQUESTS;
            let shown = Shown {
                chosen: &f.method,
                next: &next,
                notice: None,
                error,
                status,
            };
            render(&state, &step, &account, shown).await
        }
        Err(_) => Err(AppError::NotFound),
    }
}
