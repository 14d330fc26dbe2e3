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

use accounts::Account;
use mfa::OneTimeCode;

use super::cookies;
use super::csrf;
use super::error::AppError;
use super::extract::{ClientIp, current_lang, negotiate};
use super::recovery_pages;
use crate::config::EmailCodePolicy;
use crate::i18n::Lang;
use crate::session::throttle::Subject;
use crate::session::{SessionData, random_token};
use crate::state::AppState;

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
/// pass a mailed code, under the configured policy.
pub async fn is_due(
    state: &AppState,
    account: &Account,
    headers: &HeaderMap,
    had_failures: bool,
) -> Result<bool, AppError> {
    if account.primary_email.is_none() {
        return Ok(false);
    }
    Ok(match state.config.login.email_code {
        EmailCodePolicy::Never => false,
        EmailCodePolicy::Always => true,
        EmailCodePolicy::Risk => {
            let known = match cookies::read(headers, cookies::device_name(&state.config)) {
                Some(d) => state.accounts.is_known_device(account.id, d).await?,
                None => false,
            };
            !known || had_failures || !account.primary_email_verified
        }
    })
}

fn ttl() -> std::time::Duration {
    std::time::Duration::from_secs(CODE_TTL_SECS as u64)
}

/// Mails a fresh code for `p`, within the limits; false when a limit refuses.
async fn send(state: &AppState, account: &Account, p: &mut Pending) -> Result<bool, AppError> {
    if p.sends >= MAX_SENDS {
        return Ok(false);
    }
    let per_hour = state
        .store
        .incr(
            &format!("loginmail:sends:{}", account.id),
            std::time::Duration::from_secs(3600),
        )
        .await?;
    if per_hour > MAX_SENDS_PER_HOUR {
        tracing::info!(account = account.id, "login code mail limit reached");
        return Ok(false);
    }
    let now = chrono::Utc::now().timestamp();
    let (code, stored) = OneTimeCode::issue(now, CODE_TTL_SECS);
    // Queued before the pending login changes: a code that is not in the
    // queue is never announced, and the one before it still counts.
    if let Some(mail) = crate::notify::login_code(&state.config, account, &code, CODE_TTL_SECS / 60)
    {
        crate::notify::queue(state, mail).await?;
    }
    p.code = stored.encode();
    p.sends += 1;
    p.wrong = 0;
    Ok(true)
}

/// After a correct password: a pending login, a code on its way to the
/// primary address, and the page that asks for it. No session yet.
pub async fn begin(
    state: &AppState,
    account: &Account,
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
        email_lower: account.primary_email_lower.clone().unwrap_or_default(),
        code: String::new(),
        sends: 0,
        wrong: 0,
    };
    send(state, account, &mut p).await?;
    let token = random_token();
    save(state, &token, &p).await?;
    let mut resp = Redirect::to("/login/email-code").into_response();
    let cookie = cookies::set(&state.config, cookie_name(state), &token, "Lax");
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
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
        .filter(|a| a.status == "active");
    if let Some(a) = &account {
        negotiate(Some(Lang::parse(&a.language)));
    }
    Ok(account)
}

fn msg(key: &str) -> &'static str {
    super::pages::tr(current_lang(), key)
}

fn page(
    account: &Account,
    p: &Pending,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let view = recovery_pages::EmailCodeView {
        masked: mask(account.primary_email.as_deref().unwrap_or("")),
        csrf: &p.csrf,
        can_resend: p.sends < MAX_SENDS,
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
        return Ok(Redirect::to("/login").into_response());
    };
    let Some(account) = account_of(&state, &p).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    Ok(page(&account, &p, None, None, StatusCode::OK))
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
        return Ok(Redirect::to("/login").into_response());
    };
    csrf::matches(&p.csrf, &f.csrf)?;
    let Some(account) = account_of(&state, &p).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let subject = Subject::EmailCode(account.id);
    let now_ms = chrono::Utc::now().timestamp_millis();
    let wait = state.throttle.wait(&subject, ip, now_ms).await?;
    if !wait.is_zero() {
        let secs = wait.as_secs() + u64::from(wait.subsec_millis() > 0);
        let msg = crate::i18n::format(msg("page.email_code.too_many"), &[("n", &secs.to_string())]);
        let mut resp = page(
            &account,
            &p,
            None,
            Some(&msg),
            StatusCode::TOO_MANY_REQUESTS,
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return Ok(resp);
    }
    // Taken before it is compared: of two parallel right answers only one
    // finds the pending login.
    let Some(json) = state.store.take(&key(&token)).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    if let Ok(fresh) = serde_json::from_str::<Pending>(&json) {
        p = fresh;
    }
    let now = chrono::Utc::now().timestamp();
    let stored = OneTimeCode::decode(&p.code);
    if stored.as_ref().is_some_and(|c| c.matches(&f.code, now)) {
        state.throttle.succeeded(&subject).await?;
        if !account.primary_email_verified {
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
            user_id: None,
        };
        return super::login::finish(
            &state,
            &headers,
            &account,
            &data,
            &p.next,
            Some(cookie_name(&state)),
        )
        .await;
    }
    state.throttle.failed(&subject, ip, now_ms).await?;
    p.wrong += 1;
    tracing::info!(account = account.id, %ip, "login code refused");
    let left = stored.map(|c| c.seconds_left(now)).unwrap_or(0);
    if p.wrong >= MAX_WRONG || left == 0 {
        // This code is void; the pending login stays so a new one can be sent.
        p.code = String::new();
        save(&state, &token, &p).await?;
        return Ok(page(
            &account,
            &p,
            None,
            Some(msg("page.email_code.code_dead")),
            StatusCode::UNAUTHORIZED,
        ));
    }
    save(&state, &token, &p).await?;
    Ok(page(
        &account,
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
        return Ok(Redirect::to("/login").into_response());
    };
    csrf::matches(&p.csrf, &f.csrf)?;
    let Some(account) = account_of(&state, &p).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    if send(&state, &account, &mut p).await? {
        save(&state, &token, &p).await?;
        Ok(page(
            &account,
            &p,
            Some(msg("page.email_code.resent")),
            None,
            StatusCode::OK,
        ))
    } else {
        Ok(page(
            &account,
            &p,
            None,
            Some(msg("page.email_code.no_more")),
            StatusCode::TOO_MANY_REQUESTS,
        ))
    }
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
