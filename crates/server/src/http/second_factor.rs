//! The second login step, and the same step asked again of a signed-in user
//! (step-up for a client that wants two-factor, or re-authentication before a
//! security change).
//!
//! Between the password and the second factor there is no session at all: the
//! browser holds only a separate cookie naming a pending login, which no page
//! but these accepts. So a password alone reaches no account page, no consent
//! and no token.

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use accounts::Account;
use mfa::{MethodInfo, MethodKind};

use super::cookies;
use super::csrf;
use super::error::AppError;
use super::extract::{ClientIp, CurrentSession};
use super::extract::{current_lang, negotiate};
use super::sign_in::safe_next;
use crate::i18n::Lang;
use crate::session::throttle::{Reservation, Subject, retry_after_secs};
use crate::session::{SessionData, random_token};
use crate::state::AppState;
use crate::twofactor::{self, Proof};
use views::pages::mfa::{self as mfa_pages, StepView};
use views::routes;
use views::text::tr;

/// How long the second step may take.
const PENDING_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// What the server remembers between the password and the second factor.
#[derive(Serialize, Deserialize)]
struct PendingLogin {
    account_id: i32,
    /// The local user logging in, when not the holder.
    #[serde(default)]
    user_id: Option<i32>,
    next: String,
    csrf: String,
    ip: String,
    user_agent: String,
}

fn pending_key(token: &str) -> String {
    format!("login2fa:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// The pending-login cookie's name.
fn cookie_name(state: &AppState) -> &'static str {
    if state.config.is_https() {
        "__Host-guichet_2fa"
    } else {
        "guichet_2fa"
    }
}

/// Called by the login form after a correct password, for an account with
/// two-factor: no session yet, only a pending login and the way to the second
/// step.
pub async fn begin(
    state: &AppState,
    account: &Account,
    user_id: Option<i32>,
    next: &str,
    ip: String,
    user_agent: String,
) -> Result<Response, AppError> {
    let token = random_token();
    let p = PendingLogin {
        account_id: account.id,
        user_id,
        next: next.to_owned(),
        csrf: random_token(),
        ip,
        user_agent,
    };
    let json = serde_json::to_string(&p).unwrap_or_default();
    state
        .store
        .set(&pending_key(&token), &json, PENDING_TTL)
        .await?;
    let mut resp = Redirect::to(routes::LOGIN_2FA).into_response();
    let cookie = cookies::set(&state.config, cookie_name(state), &token, "Lax");
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// Who is at the second step, and why.
enum Step {
    /// After the password, before any session.
    Login { token: String, p: PendingLogin },
    /// A signed-in user asked for a second factor again.
    StepUp { id: String, data: SessionData },
}

impl Step {
    fn account_id(&self) -> i32 {
        match self {
            Self::Login { p, .. } => p.account_id,
            Self::StepUp { data, .. } => data.account_id,
        }
    }

    fn user_id(&self) -> Option<i32> {
        match self {
            Self::Login { p, .. } => p.user_id,
            Self::StepUp { data, .. } => data.user_id,
        }
    }

    /// The two-factor identity at stake: the holder's or the local user's.
    fn identity(&self) -> String {
        twofactor::identity_of(self.account_id(), self.user_id())
    }

    /// Whose wrong codes are counted.
    fn subject(&self) -> Subject {
        match self.user_id() {
            None => Subject::SecondFactor(self.account_id()),
            Some(u) => Subject::UserSecondFactor(u),
        }
    }

    fn csrf(&self) -> &str {
        match self {
            Self::Login { p, .. } => &p.csrf,
            Self::StepUp { data, .. } => &data.csrf,
        }
    }

    /// Where to go once done: the pending login's target, or the page that
    /// asked for the step-up.
    fn next(&self, asked: &str) -> String {
        match self {
            Self::Login { p, .. } => p.next.clone(),
            Self::StepUp { .. } => safe_next(asked).to_owned(),
        }
    }
}

async fn current(
    state: &AppState,
    headers: &HeaderMap,
    session: CurrentSession,
) -> Result<Option<Step>, AppError> {
    if let Some(token) = cookies::read(headers, cookie_name(state)).filter(|t| t.len() == 43)
        && let Some(json) = state.store.get(&pending_key(token)).await?
        && let Ok(p) = serde_json::from_str::<PendingLogin>(&json)
    {
        return Ok(Some(Step::Login {
            token: token.to_owned(),
            p,
        }));
    }
    Ok(session.0.map(|(id, data)| Step::StepUp { id, data }))
}

/// The method offered first: the one used last, else the oldest.
fn preferred(methods: &[MethodInfo]) -> Option<&MethodInfo> {
    methods
        .iter()
        .filter(|m| m.last_used_at.is_some())
        .max_by_key(|m| m.last_used_at)
        .or_else(|| methods.first())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StepQuery {
    method: String,
    next: String,
    sent: String,
}

/// The active account of the pending login; its profile language becomes the
/// page's (after the switcher's cookie), since the account is known here.
async fn load_account(state: &AppState, id: i32) -> Result<Option<Account>, AppError> {
    let account = state
        .accounts
        .find_by_id(id)
        .await?
        .filter(|a| a.status == accounts::AccountStatus::Active);
    if let Some(a) = &account {
        negotiate(Some(Lang::parse(&a.language)));
    }
    Ok(account)
}

fn msg(key: &str) -> &'static str {
    tr(current_lang(), key)
}

/// Builds the page of the second step for `chosen` (a method id or `recovery`).
#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    step: &Step,
    account: &Account,
    chosen: &str,
    next: &str,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let identity = step.identity();
    let methods = state.mfa.methods(&identity).await?;
    let remaining = state.mfa.recovery_remaining(&identity).await?;
    let method = if chosen == "recovery" {
        None
    } else {
        methods
            .iter()
            .find(|m| m.id == chosen)
            .or_else(|| preferred(&methods))
    };
    let view = StepView {
        lang: current_lang(),
        who: matches!(step, Step::StepUp { .. }).then(|| views::components::Who::of(account)),
        method,
        methods: &methods,
        recovery_left: remaining,
        csrf: step.csrf(),
        next,
        notice,
        error,
        step_up: matches!(step, Step::StepUp { .. }),
    };
    Ok((status, Html(mfa_pages::second_step(&view).into_string())).into_response())
}

/// `GET /login/2fa`
pub async fn page(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    Query(q): Query<StepQuery>,
) -> Result<Response, AppError> {
    let Some(step) = current(&state, &headers, session).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    let Some(account) = load_account(&state, step.account_id()).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    let next = step.next(&q.next);
    if !state.mfa.is_enabled(&step.identity()).await? {
        // Nothing to ask: a signed-in user is led to enrol a method first.
        return Ok(match step {
            Step::StepUp { .. } => {
                Redirect::to(&routes::then(routes::SECURITY, &next)).into_response()
            }
            Step::Login { .. } => Redirect::to(routes::LOGIN).into_response(),
        });
    }
    let notice = (q.sent == "1").then_some(msg("page.security.sms_sent_login"));
    render(
        &state,
        &step,
        &account,
        &q.method,
        &next,
        notice,
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    method: String,
    code: String,
    next: String,
}

/// Counts a second-factor attempt before its code is checked, or says how
/// many seconds to wait: of parallel guesses, only as many as the delays
/// allow are ever checked.
async fn reserve(
    state: &AppState,
    subject: &Subject,
    ip: std::net::IpAddr,
) -> Result<Result<Reservation, u64>, AppError> {
    let now_ms = state.clock.now_ms();
    Ok(state
        .throttle
        .reserve(subject, ip, now_ms)
        .await?
        .map_err(retry_after_secs))
}

fn wait_message(secs: u64) -> String {
    crate::i18n::format(
        msg("page.security.too_many_codes"),
        &[("n", &secs.to_string())],
    )
}

/// `POST /login/2fa`: a code from an app, an SMS or an emergency code.
pub async fn submit(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(|r| AppError::unreadable(r.status()))?;
    let Some(step) = current(&state, &headers, session).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    csrf::matches(step.csrf(), &f.csrf)?;
    let Some(account) = load_account(&state, step.account_id()).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    let next = step.next(&f.next);
    let reservation = match reserve(&state, &step.subject(), ip).await? {
        Ok(r) => r,
        Err(wait) => {
            let mut resp = render(
                &state,
                &step,
                &account,
                &f.method,
                &next,
                None,
                Some(&wait_message(wait)),
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await?;
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait));
            return Ok(resp);
        }
    };
    let identity = step.identity();
    let code: String = f
        .code
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(64)
        .collect();
    let proof = if f.method == "recovery" {
        Some(Proof::Recovery(code))
    } else {
        let methods = state.mfa.methods(&identity).await?;
        methods
            .iter()
            .find(|m| m.id == f.method)
            .and_then(|m| match m.kind {
                MethodKind::Totp => Some(Proof::Totp(code.clone())),
                MethodKind::Sms => Some(Proof::Sms {
                    method: m.id.clone(),
                    code: code.clone(),
                }),
                MethodKind::WebAuthn => None,
            })
    };
    let factor = match proof {
        Some(p) => twofactor::check(&state.mfa, &state.metrics, &identity, p).await?,
        None => None,
    };
    match factor {
        Some(factor) => complete(&state, &headers, step, factor, &next, reservation).await,
        None => {
            failed(
                &state,
                reservation,
                &step.subject(),
                (step.account_id(), step.user_id()),
                ip,
            );
            render(
                &state,
                &step,
                &account,
                &f.method,
                &next,
                None,
                Some(msg("page.security.code_used")),
                StatusCode::UNAUTHORIZED,
            )
            .await
        }
    }
}

/// A wrong code: it stays counted, and the security log hears of it.
fn failed(
    state: &AppState,
    reservation: Reservation,
    subject: &Subject,
    (account_id, user_id): (i32, Option<i32>),
    ip: std::net::IpAddr,
) {
    reservation.failed();
    tracing::info!(%ip, ?subject, "second factor refused");
    crate::seclog::record_later(
        state,
        account_id,
        user_id,
        accounts::EventKind::SecondFactorFailed,
        String::new(),
        crate::seclog::Origin::new(ip, ""),
    );
}

/// The second factor held: a new session (new id, as after every
/// authentication step) that records both factors.
async fn complete(
    state: &AppState,
    headers: &HeaderMap,
    step: Step,
    factor: &str,
    next: &str,
    reservation: Reservation,
) -> Result<Response, AppError> {
    let now = state.clock.now_secs();
    let account_id = step.account_id();
    let is_login = matches!(step, Step::Login { .. });
    let data = match &step {
        Step::Login { token, p } => {
            state.store.delete(&pending_key(token)).await?;
            SessionData {
                account_id,
                created_at: now,
                last_seen: now,
                auth_time: now,
                amr: vec!["pwd".into(), factor.into(), "mfa".into()],
                csrf: random_token(),
                ip: p.ip.clone(),
                user_agent: p.user_agent.clone(),
                sid: random_token(),
                opened_ms: 0,
                user_id: p.user_id,
            }
        }
        Step::StepUp { id, data } => {
            state.sessions.destroy(id).await?;
            let mut amr = data.amr.clone();
            for a in [factor, "mfa"] {
                if !amr.iter().any(|x| x == a) {
                    amr.push(a.into());
                }
            }
            SessionData {
                auth_time: now,
                last_seen: now,
                amr,
                csrf: random_token(),
                // The relying parties' view of the session is unchanged.
                ..data.clone()
            }
        }
    };
    reservation.succeeded().await?;
    tracing::info!(account_id, factor, "second factor accepted");
    if is_login {
        // A login ends like every other one: device, notification, detours.
        let Some(account) = load_account(state, account_id).await? else {
            return Ok(Redirect::to(routes::LOGIN).into_response());
        };
        return super::sign_in::finish(
            state,
            headers,
            &account,
            &data,
            next,
            Some(cookie_name(state)),
        )
        .await;
    }
    let id = state.sessions.create(&data).await?;
    let mut resp = Redirect::to(next).into_response();
    set_session_cookies(state, &mut resp, &id);
    Ok(resp)
}

fn set_session_cookies(state: &AppState, resp: &mut Response, id: &str) {
    let cfg = &state.config;
    let h = resp.headers_mut();
    for c in [
        cookies::set(cfg, cookies::session_name(cfg), id, "Lax"),
        cookies::clear(cfg, cookie_name(state)),
        csrf::rotate(cfg),
    ] {
        if let Ok(v) = c.parse() {
            h.append(header::SET_COOKIE, v);
        }
    }
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
    let Some(step) = current(&state, &headers, session).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    csrf::matches(step.csrf(), &f.csrf)?;
    let Some(account) = load_account(&state, step.account_id()).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    let next = step.next(&f.next);
    let identity = step.identity();
    match state.mfa.sms_send(&identity, &f.method).await {
        Ok(()) => {
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("method", &f.method)
                .append_pair("next", &next)
                .append_pair("sent", "1")
                .finish();
            Ok(Redirect::to(&format!("{}?{q}", routes::LOGIN_2FA)).into_response())
        }
        Err(mfa::MfaError::TooManySends) => {
            render(
                &state,
                &step,
                &account,
                &f.method,
                &next,
                None,
                Some(msg("page.security.sms_limit")),
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await
        }
        Err(mfa::MfaError::NotFound) => Err(AppError::NotFound),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct BeginBody {
    csrf: String,
}

/// `POST /login/2fa/webauthn/begin`: a challenge for the registered keys.
pub async fn webauthn_begin(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    body: Result<Json<BeginBody>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(b) = body.map_err(|r| AppError::unreadable(r.status()))?;
    let Some(step) = current(&state, &headers, session).await? else {
        return Ok(json_error(
            StatusCode::UNAUTHORIZED,
            msg("page.security.start_again"),
        ));
    };
    csrf::matches(step.csrf(), &b.csrf)?;
    let identity = step.identity();
    match state.mfa.webauthn_login_begin(&identity).await {
        Ok((ceremony, options)) => {
            Ok(Json(json!({"ceremony": ceremony, "options": options})).into_response())
        }
        Err(mfa::MfaError::NotFound) => Ok(json_error(
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

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// `POST /login/2fa/webauthn/finish`: the key's answer. Answers JSON with the
/// page to go to, since the browser script, not a form, made the request.
pub async fn webauthn_finish(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    body: Result<Json<FinishBody>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(b) = body.map_err(|r| AppError::unreadable(r.status()))?;
    let Some(step) = current(&state, &headers, session).await? else {
        return Ok(json_error(
            StatusCode::UNAUTHORIZED,
            msg("page.security.start_again"),
        ));
    };
    csrf::matches(step.csrf(), &b.csrf)?;
    let subject = step.subject();
    let who = (step.account_id(), step.user_id());
    let reservation = match reserve(&state, &subject, ip).await? {
        Ok(r) => r,
        Err(wait) => {
            let mut resp = json_error(StatusCode::TOO_MANY_REQUESTS, &wait_message(wait));
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait));
            return Ok(resp);
        }
    };
    let next = step.next(&b.next);
    let identity = step.identity();
    let proof = Proof::WebAuthn {
        ceremony: b.ceremony,
        response: b.credential,
    };
    match twofactor::check(&state.mfa, &state.metrics, &identity, proof).await? {
        Some(factor) => {
            let redirect = complete(&state, &headers, step, factor, &next, reservation).await?;
            // Same cookies and target as the redirect, but the script follows
            // the link.
            let to = redirect
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(&next)
                .to_owned();
            let mut resp = Json(json!({"redirect": to})).into_response();
            for v in redirect.headers().get_all(header::SET_COOKIE) {
                resp.headers_mut().append(header::SET_COOKIE, v.clone());
            }
            Ok(resp)
        }
        None => {
            failed(&state, reservation, &subject, who, ip);
            Ok(json_error(
                StatusCode::UNAUTHORIZED,
                msg("page.security.key_refused"),
            ))
        }
    }
}
