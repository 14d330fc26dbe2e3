//! The second login step, and the same step asked again of a signed-in user
//! (`step`: the page, a typed code, an SMS sent; `webauthn`: a security key).
//! The decisions live in [`app::second_factor`]; here the pending login is a
//! cookie of its own, which no page but these accepts.

mod step;
mod webauthn;

pub use step::{page, send_sms, submit};
pub use webauthn::{webauthn_begin, webauthn_finish};

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use accounts::Account;
use app::second_factor::{Checked, Step};
use serde::de::DeserializeOwned;

use super::cookies;
use super::csrf::{self, CsrfField};
use super::error::AppError;
use super::extract::{CurrentSession, FormInput, WithSession};
use super::locale::{current_lang, negotiate};
use super::principal::{ScriptCaller, script_error};
use crate::state::AppState;
use app::i18n::Lang;
use views::pages::mfa::{self as mfa_pages, StepView};
use views::routes;
use views::text::tr;

/// The pending-login cookie's name.
fn cookie_name(state: &AppState) -> &'static str {
    if state.config.is_https() {
        "__Host-guichet_2fa"
    } else {
        "guichet_2fa"
    }
}

/// The way to the second step after a correct password, with the cookie
/// naming the pending login `token` ([`app::second_factor::begin`]).
pub fn to_second_step(state: &AppState, token: &str) -> Response {
    let cookie = cookies::set(&state.config, cookie_name(state), token, "Lax");
    (cookie, Redirect::to(routes::LOGIN_2FA)).into_response()
}

/// Who is at the second step: the pending login of the cookie, else the
/// signed-in session's step-up.
async fn current(
    state: &AppState,
    headers: &HeaderMap,
    session: CurrentSession,
) -> Result<Option<Step>, AppError> {
    let token = cookies::read(headers, cookie_name(state));
    Ok(app::second_factor::Step::find(state, token, session.0).await?)
}

/// The way back to the login form, for a pending login that is gone.
fn to_login() -> Response {
    Redirect::to(routes::LOGIN).into_response()
}

/// Who is at the second step, their active account, and a form of the
/// step's page that repeated the step's anti-CSRF token. The form is read
/// first; no step or no active account sends the browser back to log in.
pub struct StepForm<T> {
    /// The pending login or step-up.
    pub step: Step,
    /// The account at stake.
    pub account: Account,
    /// What the form sent.
    pub form: T,
}

impl<T> FromRequest<AppState> for StepForm<T>
where
    T: CsrfField + DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let sent = WithSession::<FormInput<T>>::from_request(req, state).await;
        let WithSession {
            session,
            headers,
            body: FormInput(form),
        } = sent.map_err(refused)?;
        let step = verified_step(state, &headers, session, form.csrf()).await;
        let Some(step) = step.map_err(refused)? else {
            return Err(to_login());
        };
        let account = load_account(state, step.account_id()).await;
        let Some(account) = account.map_err(refused)? else {
            return Err(to_login());
        };
        Ok(Self {
            step,
            account,
            form,
        })
    }
}

/// The step page's script: no step answers it 401 with a message to start
/// again.
impl ScriptCaller for Step {
    async fn find(
        state: &AppState,
        session: CurrentSession,
        headers: &HeaderMap,
        token: &str,
    ) -> Result<Self, Response> {
        let step = verified_step(state, headers, session, token).await;
        let Some(step) = step.map_err(refused)? else {
            let start_again = msg("page.security.start_again");
            return Err(script_error(StatusCode::UNAUTHORIZED, start_again));
        };
        Ok(step)
    }
}

/// Who is at the second step, once `token`, the anti-CSRF token sent,
/// matched the step's; `None` when no one is.
async fn verified_step(
    state: &AppState,
    headers: &HeaderMap,
    session: CurrentSession,
    token: &str,
) -> Result<Option<Step>, AppError> {
    let Some(step) = current(state, headers, session).await? else {
        return Ok(None);
    };
    csrf::matches(step.csrf(), token)?;
    Ok(Some(step))
}

fn refused(e: AppError) -> Response {
    e.into_response()
}

/// The active account at stake; its profile language becomes the page's
/// (after the switcher's cookie), since the account is known here.
async fn load_account(state: &AppState, id: i32) -> Result<Option<Account>, AppError> {
    let account = app::second_factor::active_account(state, id).await?;
    if let Some(a) = &account {
        negotiate(Some(Lang::parse(&a.language)));
    }
    Ok(account)
}

fn msg(key: &str) -> &'static str {
    tr(current_lang(), key)
}

fn wait_message(secs: u64) -> String {
    app::i18n::format(
        msg("page.security.too_many_codes"),
        &[("n", &secs.to_string())],
    )
}

/// What the page of the second step shows besides its methods.
struct Shown<'a> {
    chosen: &'a str,
    next: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    status: StatusCode,
}

/// Builds the page of the second step for `shown.chosen` (a method id or
/// `recovery`).
async fn render(
    state: &AppState,
    step: &Step,
    account: &Account,
    shown: Shown<'_>,
) -> Result<Response, AppError> {
    let identity = step.identity();
    let methods = state.mfa.methods(&identity).await?;
    let remaining = state.mfa.recovery_remaining(&identity).await?;
    let method = if shown.chosen == "recovery" {
        None
    } else {
        let chosen = methods.iter().find(|m| m.id == shown.chosen);
        chosen.or_else(|| app::second_factor::preferred(&methods))
    };
    let view = StepView {
        lang: current_lang(),
        who: step
            .is_step_up()
            .then(|| views::components::Who::of(account)),
        method,
        methods: &methods,
        recovery_left: remaining,
        csrf: step.csrf(),
        next: shown.next,
        notice: shown.notice,
        error: shown.error,
        step_up: step.is_step_up(),
    };
    let page = mfa_pages::second_step(&view).into_string();
    Ok((shown.status, Html(page)).into_response())
}

/// Where a proof that held leads: a login ends like every other one (device,
/// notification, detours); a step-up goes back to `next` with its new
/// session. `None` for a proof that did not lead anywhere.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    checked: Checked,
    next: &str,
) -> Result<Option<Response>, AppError> {
    match checked {
        Checked::LoggedIn { account, data } => {
            let clear = Some(cookie_name(state));
            let resp = super::sign_in::finish(state, headers, &account, &data, next, clear);
            Ok(Some(resp.await?))
        }
        Checked::LoginGone => Ok(Some(Redirect::to(routes::LOGIN).into_response())),
        Checked::SteppedUp { session_id } => {
            let cfg = &state.config;
            let resp = (
                cookies::session(cfg, &session_id),
                cookies::clear(cfg, cookie_name(state)),
                csrf::rotate(cfg),
                Redirect::to(next),
            );
            Ok(Some(resp.into_response()))
        }
        Checked::Throttled(_) | Checked::Refused => Ok(None),
    }
}
