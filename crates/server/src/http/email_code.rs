//! The code mailed to the primary address on a risky login of an account
//! without two-factor. It is an extra check, never a factor (`amr` stays
//! `pwd`): 6 digits, 10 minutes, single use, bound to this one login attempt
//! (it lives in the pending-login record that only this browser's cookie
//! names), and throttled per account. Entering it also proves the primary
//! address, which is how an address set by support gets confirmed.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use accounts::{Account, LocalUser};
use mfa::OneTimeCode;

use super::cookies;
use super::csrf;
use super::error::AppError;
use super::extract::{ClientIp, current_lang, negotiate};
use crate::config::EmailCodePolicy;
use crate::i18n::Lang;
use crate::session::throttle::{Subject, retry_after_secs};
use crate::session::{SessionData, random_token};
use crate::state::AppState;
use views::pages::recovery as recovery_pages;
use views::routes;

/// How long the code (and the pending login) lives.
const CODE_TTL_SECS: i64 = 600;
/// Wrong tries before this login's code is void.
const MAX_WRONG: u32 = 5;
/// Mails per login attempt (the first and two resends).
const MAX_SENDS: u32 = 3;
/// Code mails per account per hour, whatever the attempts: no mail bombing.
const MAX_SENDS_PER_HOUR: i64 = 10;

/// The pending login between the password and the mailed code.
#[derive(Serialize, Deserialize)]
struct Pending {
    account_id: i32,
    next: String,
    csrf: String,
    ip: String,
    user_agent: String,
    /// The address the code went to (lowercase): entering it proves this one.
    email_lower: String,
    code: String,
    sends: u32,
    wrong: u32,
    /// Unix time until which no code mail may go to the account (the hourly
    /// limit was met); 0 when mails may go.
    #[serde(default)]
    blocked_until: i64,
    /// The local user signing in, `None` for the holder: the code went to
    /// the user's own address.
    #[serde(default)]
    user_id: Option<i32>,
}

impl Pending {
    /// Whose mailed codes these are: the holder's, or one local user's,
    /// counted and limited apart.
    fn who(&self) -> String {
        match self.user_id {
            None => self.account_id.to_string(),
            Some(uid) => format!("{}/user:{uid}", self.account_id),
        }
    }
}

fn key(token: &str) -> String {
    format!(
        "loginmail:{}",
        hex::encode(Sha256::digest(token.as_bytes()))
    )
}

fn cookie_name(state: &AppState) -> &'static str {
    if state.config.is_https() {
        "__Host-guichet_mailcode"
    } else {
        "guichet_mailcode"
    }
}

/// Whether this login (password just accepted, no two-factor) must also
/// pass a mailed code, under the configured policy. The same check for the
/// holder and for a local user (`user`), each with their own address and
/// their own known devices.
pub async fn is_due(
    state: &AppState,
    account: &Account,
    user: Option<&LocalUser>,
    headers: &HeaderMap,
    had_failures: bool,
) -> Result<bool, AppError> {
    let (address, unconfirmed) = match user {
        None => (
            account.primary_email.as_deref(),
            !account.primary_email_verified,
        ),
        // A local user's address is set by the holder; it has no
        // confirmation of its own.
        Some(u) => (Some(u.email.as_str()).filter(|e| !e.is_empty()), false),
    };
    if address.is_none() {
        return Ok(false);
    }
    Ok(match state.config.login.email_code {
        EmailCodePolicy::Never => false,
        EmailCodePolicy::Always => true,
        EmailCodePolicy::Risk => {
            let device = cookies::read(headers, cookies::device_name(&state.config));
            let known = match device {
                Some(d) => {
                    let key = app::sign_in::device_key(d, user.map(|u| u.id));
                    state.accounts.is_known_device(account.id, &key).await?
                }
                None => false,
            };
            !known || had_failures || unconfirmed
        }
    })
}

fn ttl() -> std::time::Duration {
    std::time::Duration::from_secs(CODE_TTL_SECS as u64)
}

/// Whether a code mail went out.
#[derive(PartialEq, Eq)]
enum Sent {
    /// A fresh code is on its way; only it works now.
    Yes,
    /// This login had all the mails it may have.
    LoginLimit,
    /// The account had all the code mails it may have this hour; the time
    /// until more may go is in `Pending::blocked_until`.
    HourLimit,
}

/// Mails a fresh code for `p`, within the limits.
async fn send(state: &AppState, account: &Account, p: &mut Pending) -> Result<Sent, AppError> {
    if p.sends >= MAX_SENDS {
        return Ok(Sent::LoginLimit);
    }
    let counter = format!("loginmail:sends:{}", p.who());
    let per_hour = state
        .store
        .incr(&counter, std::time::Duration::from_secs(3600))
        .await?;
    let now = state.clock.now_secs();
    if per_hour > MAX_SENDS_PER_HOUR {
        tracing::info!(account = account.id, "login code mail limit reached");
        let left = state
            .store
            .time_left(&counter)
            .await?
            .map_or(3600, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
        p.blocked_until = now + left as i64;
        return Ok(Sent::HourLimit);
    }
    let (code, stored) = OneTimeCode::issue(now, CODE_TTL_SECS);
    // Queued before the pending login changes: a code that is not in the
    // queue is never announced, and the one before it still counts.
    if let Some(mail) = crate::notify::login_code(
        &state.config,
        account,
        &p.email_lower,
        &code,
        CODE_TTL_SECS / 60,
    ) {
        crate::notify::queue(state, mail).await?;
    }
    p.code = stored.encode();
    p.sends += 1;
    p.wrong = 0;
    p.blocked_until = 0;
    Ok(Sent::Yes)
}

/// After a correct password: a pending login, a code on its way to the
/// primary address, and the page that asks for it. No session yet.
pub async fn begin(
    state: &AppState,
    account: &Account,
    user: Option<&LocalUser>,
    next: &str,
    ip: String,
    user_agent: String,
) -> Result<Response, AppError> {
    let mut p = Pending {
        account_id: account.id,
        next: next.to_owned(),
        csrf: random_token(),
        ip,
        user_agent,
        email_lower: match user {
            None => account.primary_email_lower.clone().unwrap_or_default(),
            Some(u) => u.email.to_lowercase(),
        },
        code: String::new(),
        sends: 0,
        wrong: 0,
        blocked_until: 0,
        user_id: user.map(|u| u.id),
    };
    // When the hourly limit refuses, the page says so (no code is coming)
    // rather than ask for one.
    send(state, account, &mut p).await?;
    let token = random_token();
    save(state, &token, &p).await?;
    let mut resp = Redirect::to(routes::LOGIN_EMAIL_CODE).into_response();
    let cookie = cookies::set(&state.config, cookie_name(state), &token, "Lax");
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// Writes back a pending login that is still there, never one a right
/// answer took meanwhile (which would make its code work twice); false when
/// it is gone.
async fn update(state: &AppState, token: &str, p: &Pending) -> Result<bool, AppError> {
    let json = serde_json::to_string(p).unwrap_or_default();
    Ok(state.store.replace(&key(token), &json, ttl()).await?)
}

async fn save(state: &AppState, token: &str, p: &Pending) -> Result<(), AppError> {
    let json = serde_json::to_string(p).unwrap_or_default();
    state.store.set(&key(token), &json, ttl()).await?;
    Ok(())
}

/// The pending login this browser's cookie names, with its token.
async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(String, Pending)>, AppError> {
    let Some(token) = cookies::read(headers, cookie_name(state)).filter(|t| t.len() == 43) else {
        return Ok(None);
    };
    let Some(json) = state.store.get(&key(token)).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_str(&json)
        .ok()
        .map(|p| (token.to_owned(), p)))
}

/// The pending login's active account; its profile language becomes the
/// page's (after the switcher's cookie).
async fn account_of(state: &AppState, p: &Pending) -> Result<Option<Account>, AppError> {
    let account = state
        .accounts
        .find_by_id(p.account_id)
        .await?
        .filter(|a| a.status == accounts::AccountStatus::Active);
    if let Some(a) = &account {
        negotiate(Some(Lang::parse(&a.language)));
    }
    Ok(account)
}

fn msg(key: &str) -> &'static str {
    views::text::tr(current_lang(), key)
}

/// Why no code can come for this login any more, and what to do: wait for
/// the hourly limit, or start the login again. `None` while a code may still
/// be sent.
fn no_more_codes(p: &Pending, now: i64) -> Option<String> {
    let live = !p.code.is_empty();
    if p.blocked_until > now {
        let minutes = ((p.blocked_until - now) as u64).div_ceil(60).max(1);
        let key = if live {
            "page.email_code.hour_limit_live"
        } else {
            "page.email_code.hour_limit"
        };
        return Some(crate::i18n::format(
            msg(key),
            &[("n", &minutes.to_string())],
        ));
    }
    let key = if live {
        "page.email_code.login_limit_live"
    } else {
        "page.email_code.login_limit"
    };
    (p.sends >= MAX_SENDS).then(|| msg(key).to_owned())
}

/// The page. When the code is void and no other can come, the page says
/// why and what to do instead of asking for a code that will not arrive.
fn page(p: &Pending, notice: Option<&str>, error: Option<&str>, status: StatusCode) -> Response {
    let now = chrono::Utc::now().timestamp();
    let stuck = no_more_codes(p, now);
    let code_live = !p.code.is_empty();
    // A dead end replaces a message that would send the person to a resend
    // button that is not there.
    let error = match (&stuck, code_live) {
        (Some(s), false) => Some(s.as_str()),
        _ => error,
    };
    let view = recovery_pages::EmailCodeView {
        masked: mask(&p.email_lower),
        csrf: &p.csrf,
        code_live,
        can_resend: stuck.is_none(),
        notice,
        error,
    };
    (
        status,
        Html(recovery_pages::email_code(current_lang(), &view).into_string()),
    )
        .into_response()
}

/// `j•••@example.com`: enough to recognise one's own address, not to learn
/// someone else's.
fn mask(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => String::new(),
    }
}

/// `GET /login/email-code`
pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let Some((_, p)) = current(&state, &headers).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    // An account gone since the password step has no code to ask for.
    if account_of(&state, &p).await?.is_none() {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    }
    Ok(page(&p, None, None, StatusCode::OK))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

/// `POST /login/email-code`
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(|r| AppError::unreadable(r.status()))?;
    let Some((token, mut p)) = current(&state, &headers).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    csrf::matches(&p.csrf, &f.csrf)?;
    let Some(account) = account_of(&state, &p).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    let subject = match p.user_id {
        None => Subject::EmailCode(account.id),
        Some(uid) => Subject::UserEmailCode(uid),
    };
    let now_ms = state.clock.now_ms();
    // Counted before the code is compared: of parallel guesses only as many
    // as the delays allow get that far.
    let reservation = match state.throttle.reserve(&subject, ip, now_ms).await? {
        Ok(r) => r,
        Err(wait) => {
            let secs = retry_after_secs(wait);
            let msg =
                crate::i18n::format(msg("page.email_code.too_many"), &[("n", &secs.to_string())]);
            let mut resp = page(&p, None, Some(&msg), StatusCode::TOO_MANY_REQUESTS);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return Ok(resp);
        }
    };
    let now = state.clock.now_secs();
    let stored = OneTimeCode::decode(&p.code);
    let right = |p: &Pending| OneTimeCode::decode(&p.code).is_some_and(|c| c.matches(&f.code, now));
    if right(&p) {
        // Taken only now, and checked again as taken: of two parallel right
        // answers only one finds the pending login. It stays in place while
        // wrong answers are judged, so a parallel attempt never finds it
        // missing.
        let Some(json) = state.store.take(&key(&token)).await? else {
            reservation.give_back().await?;
            return Ok(Redirect::to(routes::LOGIN).into_response());
        };
        match serde_json::from_str::<Pending>(&json) {
            Ok(taken) if right(&taken) => p = taken,
            _ => {
                // A new code was sent meanwhile: this one is no longer the
                // right one; the pending login goes back as it was.
                state.store.set(&key(&token), &json, ttl()).await?;
                reservation.failed();
                return Ok(page(
                    &p,
                    None,
                    Some(msg("page.email_code.wrong")),
                    StatusCode::UNAUTHORIZED,
                ));
            }
        }
        reservation.succeeded().await?;
        if p.user_id.is_none() && !account.primary_email_verified {
            state
                .accounts
                .confirm_primary_email(account.id, &p.email_lower)
                .await?;
        }
        let account = account_of(&state, &p).await?.unwrap_or(account);
        tracing::info!(account = account.id, %ip, "login code accepted");
        let data = SessionData {
            account_id: account.id,
            created_at: now,
            last_seen: now,
            auth_time: now,
            // The mailed code is a check, not a factor.
            amr: vec!["pwd".into()],
            csrf: random_token(),
            ip: p.ip.clone(),
            user_agent: p.user_agent.clone(),
            sid: random_token(),
            opened_ms: 0,
            user_id: p.user_id,
        };
        return super::sign_in::finish(
            &state,
            &headers,
            &account,
            &data,
            &p.next,
            Some(cookie_name(&state)),
        )
        .await;
    }
    reservation.failed();
    p.wrong += 1;
    tracing::info!(account = account.id, %ip, "login code refused");
    let left = stored.map(|c| c.seconds_left(now)).unwrap_or(0);
    if p.wrong >= MAX_WRONG || left == 0 {
        // This code is void; the pending login stays so a new one can be sent.
        p.code = String::new();
        if !update(&state, &token, &p).await? {
            return Ok(Redirect::to(routes::LOGIN).into_response());
        }
        return Ok(page(
            &p,
            None,
            Some(msg("page.email_code.code_dead")),
            StatusCode::UNAUTHORIZED,
        ));
    }
    if !update(&state, &token, &p).await? {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    }
    Ok(page(
        &p,
        None,
        Some(msg("page.email_code.wrong")),
        StatusCode::UNAUTHORIZED,
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResendForm {
    csrf: String,
}

/// `POST /login/email-code/resend`
pub async fn resend(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<ResendForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(|r| AppError::unreadable(r.status()))?;
    let Some((token, mut p)) = current(&state, &headers).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    csrf::matches(&p.csrf, &f.csrf)?;
    let Some(account) = account_of(&state, &p).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    let sent = send(&state, &account, &mut p).await?;
    if !update(&state, &token, &p).await? {
        // The login ended meanwhile (its code was entered, or it expired).
        return Ok(Redirect::to(routes::LOGIN).into_response());
    }
    if sent == Sent::Yes {
        return Ok(page(
            &p,
            Some(msg("page.email_code.resent")),
            None,
            StatusCode::OK,
        ));
    }
    // Say which limit, and what to do instead: the earlier code, if still
    // live, keeps working.
    let now = state.clock.now_secs();
    let why = no_more_codes(&p, now).unwrap_or_default();
    Ok(page(&p, None, Some(&why), StatusCode::TOO_MANY_REQUESTS))
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn the_address_is_masked() {
        assert_eq!(mask("jane.doe@example.com"), "j•••@example.com");
        assert_eq!(mask("nonsense"), "");
    }
}
