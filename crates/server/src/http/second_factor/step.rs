//! The page of the second step, a typed code, and an SMS sent on request.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use accounts::Account;
use app::second_factor::{Checked, Step, StepProof};

use super::{Shown, current, load_account, msg, render, signed_in, wait_message};
use crate::http::csrf;
use crate::http::error::AppError;
use crate::http::extract::{ClientIp, CurrentSession};
use crate::http::sign_in::safe_next;
use crate::state::AppState;
use views::routes;

fn to_login() -> Response {
    Redirect::to(routes::LOGIN).into_response()
}

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

/// Who is at the second step, whose form repeated the step's anti-CSRF
/// token, and their active account; or the way back to the login form.
async fn step_form(
    state: &AppState,
    headers: &HeaderMap,
    session: CurrentSession,
    token: &str,
) -> Result<Result<(Step, Account), Response>, AppError> {
    let Some(step) = current(state, headers, session).await? else {
        return Ok(Err(to_login()));
    };
    csrf::matches(step.csrf(), token)?;
    let Some(account) = load_account(state, step.account_id()).await? else {
        return Ok(Err(to_login()));
    };
    Ok(Ok((step, account)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    method: String,
    code: String,
    next: String,
}

/// `POST /login/2fa`: a code from an app, an SMS or an emergency code,
/// checked by [`app::second_factor::check`] (where the attempt is reserved
/// before the code is looked at).
pub async fn submit(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(|r| AppError::unreadable(r.status()))?;
    let (step, account) = match step_form(&state, &headers, session, &f.csrf).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
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

/// `POST /login/2fa/sms`: sends a code to one registered phone.
pub async fn send_sms(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    form: Result<Form<SendForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(|r| AppError::unreadable(r.status()))?;
    let (step, account) = match step_form(&state, &headers, session, &f.csrf).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
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
