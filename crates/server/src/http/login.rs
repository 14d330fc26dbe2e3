//! Login and logout.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use accounts::{AccountError, Identifier, Secret};

use super::cookies;
use super::csrf;
use super::error::AppError;
use super::extract::{ClientIp, CurrentSession, UserAgent, current_lang};
use super::sign_in::{finish, safe_next};
use crate::metrics::LoginOutcome;
use crate::session::throttle::{Subject, retry_after_secs};
use crate::session::{SessionData, random_token};
use crate::state::AppState;
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
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = safe_next(&q.next);
    let reauth = q.reauth == "1";
    if session.0.is_some() && !reauth {
        return Redirect::to(next).into_response();
    }
    let (token, cookie) = csrf::issue(&headers, &state.config);
    let hint: String = q.login_hint.chars().take(254).collect();
    let page = if reauth {
        views::pages::login::reauth_form(current_lang(), &hint, next, &token)
    } else {
        views::pages::login::login_form(current_lang(), &hint, next, &token, None)
    };
    let mut resp = Html(page.into_string()).into_response();
    if let Some(c) = cookie.and_then(|c| c.parse().ok()) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginInput {
    identifier: String,
    password: String,
    csrf: String,
    next: String,
}

pub async fn submit(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    form: Result<Form<LoginInput>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(input) = form.map_err(|r| AppError::unreadable(r.status()))?;
    csrf::check(&headers, &state.config, &input.csrf)?;
    let next = safe_next(&input.next).to_owned();
    let identifier: String = input.identifier.chars().take(254).collect();
    let password = Secret::new(input.password);

    let parsed = Identifier::parse(&identifier);
    let account = match &parsed {
        Some(id) => state.accounts.find(id).await?,
        None => None,
    };
    // `<code>/<ID>` and `<handle>/<ID>` name a local user of the account.
    let user_login = match &parsed {
        Some(Identifier::User { login, .. }) => Some(login),
        _ => None,
    };
    let user = match (user_login, &account) {
        (Some(login), Some(a)) => state.accounts.find_user_by_login(a.id, login).await?,
        _ => None,
    };
    let subject = match (&account, &user) {
        (_, Some(u)) => Subject::User(u.id),
        (Some(a), None) if user_login.is_none() => Subject::Account(a.id),
        _ => Subject::Unknown(identifier.clone()),
    };
    let now_ms = state.clock.now_ms();
    // Counted before the password is checked: of parallel guesses only as
    // many as the delays allow get that far.
    let reservation = match state.throttle.reserve(&subject, ip, now_ms).await? {
        Ok(r) => r,
        Err(wait) => {
            let secs = retry_after_secs(wait);
            tracing::info!(%ip, "login refused: throttled");
            state.metrics.login(LoginOutcome::Throttled);
            // The language never comes from the account here: the answer must
            // not tell whether the identifier exists.
            let msg = crate::i18n::format(
                views::text::tr(current_lang(), "page.error.throttled"),
                &[("n", &secs.to_string())],
            );
            let token = csrf_token(&headers, &state);
            let mut resp = (
                StatusCode::TOO_MANY_REQUESTS,
                Html(
                    views::pages::login::login_form(
                        current_lang(),
                        &identifier,
                        &next,
                        &token,
                        Some(&msg),
                    )
                    .into_string(),
                ),
            )
                .into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return Ok(resp);
        }
    };

    // Failures go to the account's security log, except for erased
    // accounts, which keep nothing personal (an IP is personal).
    let logged_account = account
        .as_ref()
        .filter(|a| a.status != accounts::AccountStatus::Erased)
        .map(|a| a.id);
    let logged_user = user.as_ref().map(|u| u.id);
    let checked = if user_login.is_some() {
        // Same work and same answer as the holder's login: one full hash
        // whether or not the account and the user exist.
        state
            .accounts
            .authenticate_user(account, user, &password)
            .await
            .map(|(a, u)| (a, Some(u)))
    } else {
        state
            .accounts
            .authenticate(account, &password)
            .await
            .map(|a| (a, None))
    };
    match checked {
        Ok((account, user)) => {
            let user_id = user.as_ref().map(|u| u.id);
            let had_failures = reservation.prior_failures() > 0;
            reservation.succeeded().await?;
            if state
                .mfa
                .is_enabled(&crate::twofactor::identity_of(account.id, user_id))
                .await?
            {
                // The password alone opens nothing: a pending login, then the
                // second step. Any earlier session of this browser ends now.
                if let Some((old, _)) = session.0 {
                    state.sessions.destroy(&old).await?;
                }
                tracing::info!(handle = %account.handle, %ip, "password accepted, second factor due");
                state.metrics.login(LoginOutcome::SecondFactorDue);
                return super::second_factor::begin(
                    &state,
                    &account,
                    user_id,
                    &next,
                    ip.to_string(),
                    ua,
                )
                .await;
            }
            // A risky login gets a code mailed to the person signing in:
            // the holder at the primary address, a local user at their own.
            if super::email_code::is_due(&state, &account, user.as_ref(), &headers, had_failures)
                .await?
            {
                if let Some((old, _)) = session.0 {
                    state.sessions.destroy(&old).await?;
                }
                tracing::info!(handle = %account.handle, %ip, "password accepted, email code due");
                state.metrics.login(LoginOutcome::EmailCodeDue);
                return super::email_code::begin(
                    &state,
                    &account,
                    user.as_ref(),
                    &next,
                    ip.to_string(),
                    ua,
                )
                .await;
            }
            let now = state.clock.now_secs();
            let data = SessionData {
                account_id: account.id,
                created_at: now,
                last_seen: now,
                auth_time: now,
                amr: vec!["pwd".into()],
                csrf: random_token(),
                ip: ip.to_string(),
                user_agent: ua,
                sid: random_token(),
                opened_ms: 0,
                user_id,
            };
            if let Some((old, _)) = session.0 {
                state.sessions.destroy(&old).await?;
            }
            tracing::info!(handle = %account.handle, %ip, "login succeeded");
            state.metrics.login(LoginOutcome::Success);
            finish(&state, &headers, &account, &data, &next, None).await
        }
        Err(AccountError::InvalidCredentials) => {
            reservation.failed();
            if let Some(id) = logged_account {
                // Off the request path: an unknown account must cost the same.
                crate::seclog::record_later(
                    &state,
                    id,
                    logged_user,
                    accounts::EventKind::LoginFailed,
                    String::new(),
                    crate::seclog::Origin::new(ip, &ua),
                );
            }
            tracing::info!(%ip, "login failed");
            state.metrics.login(LoginOutcome::Failure);
            let token = csrf_token(&headers, &state);
            Ok((
                StatusCode::UNAUTHORIZED,
                Html(
                    views::pages::login::login_form(
                        current_lang(),
                        &identifier,
                        &next,
                        &token,
                        // One message for every credential failure: unknown
                        // identifier, wrong password and disabled account alike.
                        Some(views::text::tr(current_lang(), "page.login.failed")),
                    )
                    .into_string(),
                ),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

fn csrf_token(headers: &HeaderMap, state: &AppState) -> String {
    csrf::issue(headers, &state.config).0
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LogoutInput {
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    session: CurrentSession,
    form: Result<Form<LogoutInput>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(input) = form.map_err(|r| AppError::unreadable(r.status()))?;
    if let Some((id, data)) = session.0 {
        csrf::matches(&data.csrf, &input.csrf)?;
        app::backchannel::end_session(&state, &id, &data).await?;
    }
    let mut resp = Redirect::to(routes::LOGIN).into_response();
    let cfg = &state.config;
    if let Ok(v) = cookies::clear(cfg, cookies::session_name(cfg)).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}
