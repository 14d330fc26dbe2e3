//! Login and logout.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use accounts::Secret;
use app::login::{Attempt, PasswordStep};

use super::cookies;
use super::csrf::csrf_form;
use super::csrf::{self, FormToken, GuestForm};
use super::error::AppError;
use super::extract::{ClientIp, CurrentSession, FormInput, UserAgent};
use super::locale::current_lang;
use super::sign_in::{finish, safe_next};
use crate::metrics::LoginOutcome;
use crate::state::AppState;
use app::session::throttle::retry_after_secs;
use views::routes;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginQuery {
    next: String,
    login_hint: String,
    /// Set when an application asked a signed-in person to authenticate
    /// again: the form is shown even with a live session.
    reauth: String,
}

pub async fn page(
    session: CurrentSession,
    form: FormToken,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = safe_next(&q.next);
    let reauth = q.reauth == "1";
    if session.0.is_some() && !reauth {
        return Redirect::to(next).into_response();
    }
    let hint: String = q.login_hint.chars().take(254).collect();
    let page = if reauth {
        views::pages::login::reauth_form(current_lang(), &hint, next, &form.token)
    } else {
        views::pages::login::login_form(current_lang(), &hint, next, &form.token, None)
    };
    (form.cookie, Html(page.into_string())).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginInput {
    identifier: String,
    password: String,
    csrf: String,
    next: String,
}

csrf_form!(LoginInput => routes::LOGIN);

/// `POST /login`: the password step ([`app::login::password_step`], where
/// the attempt is reserved before the password is checked), then the second
/// step, the mailed code, or the session.
pub async fn submit(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    GuestForm { form: input, token }: GuestForm<LoginInput>,
) -> Result<Response, AppError> {
    let next = safe_next(&input.next).to_owned();
    let identifier: String = input.identifier.chars().take(254).collect();
    let attempt = Attempt {
        identifier: &identifier,
        password: Secret::new(input.password),
        next: &next,
        ip,
        user_agent: &ua,
        device: cookies::read(&headers, cookies::device_name(&state.config)),
        old_session: session.0.as_ref().map(|(id, _)| id.as_str()),
    };
    let step = app::login::password_step(&state, attempt).await?;
    state.metrics.login(outcome(&step));
    match step {
        PasswordStep::Ready { account, data } => {
            finish(&state, &headers, &account, &data, &next, None).await
        }
        PasswordStep::SecondFactorDue(token) => {
            Ok(super::second_factor::to_second_step(&state, &token))
        }
        PasswordStep::EmailCodeDue(token) => Ok(super::email_code::to_code_page(&state, &token)),
        PasswordStep::Throttled(wait) => Ok(throttled(&token.token, &identifier, &next, wait)),
        PasswordStep::Failed => Ok(failed(&token.token, &identifier, &next)),
    }
}

/// The form again. One message for every credential failure: unknown
/// identifier, wrong password and disabled account alike.
fn failed(token: &str, identifier: &str, next: &str) -> Response {
    let msg = Some(views::text::tr(current_lang(), "page.login.failed"));
    let page = views::pages::login::login_form(current_lang(), identifier, next, token, msg);
    (StatusCode::UNAUTHORIZED, Html(page.into_string())).into_response()
}

/// What the operator's login counter says of a password step.
fn outcome(step: &PasswordStep) -> LoginOutcome {
    match step {
        PasswordStep::Throttled(_) => LoginOutcome::Throttled,
        PasswordStep::Failed => LoginOutcome::Failure,
        PasswordStep::SecondFactorDue(_) => LoginOutcome::SecondFactorDue,
        PasswordStep::EmailCodeDue(_) => LoginOutcome::EmailCodeDue,
        PasswordStep::Ready { .. } => LoginOutcome::Success,
    }
}

/// The form again with the wait. The language never comes from the account
/// here: the answer must not tell whether the identifier exists.
fn throttled(token: &str, identifier: &str, next: &str, wait: std::time::Duration) -> Response {
    let secs = retry_after_secs(wait);
    let msg = app::i18n::format(
        views::text::tr(current_lang(), "page.error.throttled"),
        &[("n", &secs.to_string())],
    );
    let page = views::pages::login::login_form(current_lang(), identifier, next, token, Some(&msg));
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, Html(page.into_string())).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LogoutInput {
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    session: CurrentSession,
    FormInput(input): FormInput<LogoutInput>,
) -> Result<Response, AppError> {
    if let Some((id, data)) = session.0 {
        csrf::matches(&data.csrf, &input.csrf)?;
        app::backchannel::end_session(&state, &id, &data).await?;
    }
    let cookie = cookies::end_session(&state.config);
    Ok((cookie, Redirect::to(routes::LOGIN)).into_response())
}
