//! The ways back in: "I don't know my customer handle", "forgot password"
//! and its reset link, naming a backup address, and the login-notification
//! switch.
//!
//! The two request forms answer the same, at the same speed, whatever was
//! typed: the lookup and the mail happen in a background task after the
//! answer is decided, so neither the page nor its timing tells whether an
//! account exists.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use accounts::{Account, AccountError, EmailAddress, FieldProblem, Identifier, Secret};
use mfa::OneTimeCode;

use super::csrf;
use super::error::AppError;
use super::extract::{ClientIp, CurrentSession, current_lang, negotiate};
use super::sign_in::safe_next;
use views::components::Who;

use super::security::{is_recent, to_reauth};
use crate::i18n::Lang;
use crate::limits::{self, Purpose};
use crate::notify::{self, EmailCodePurpose, SecurityChange};
use crate::session::throttle::{Subject, retry_after_secs};
use crate::state::AppState;
use app::support::SupportDesk;
use views::pages::recovery as rp;
use views::routes;

/// The text `key` in the request's language.
fn msg(key: &str) -> &'static str {
    views::text::tr(current_lang(), key)
}

/// Password-reset requests per client IP per window (the forgotten-handle
/// form has its own limits, in [`crate::limits`]).
const REQUESTS_PER_IP: i64 = 20;
/// Recovery mails per account per hour: asking again and again sends no more.
const MAILS_PER_ACCOUNT: i64 = 5;
const WINDOW: std::time::Duration = std::time::Duration::from_secs(900);
/// The backup-address code's lifetime.
const BACKUP_CODE_TTL_SECS: i64 = 600;

fn with_cookie(mut resp: Response, cookie: Option<String>) -> Response {
    if let Some(v) = cookie.and_then(|c| c.parse().ok()) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// Whether this IP may make another recovery request now.
async fn ip_allows(state: &AppState, ip: std::net::IpAddr) -> Result<bool, AppError> {
    let n = state
        .store
        .incr(&format!("recover:ip:{ip}"), WINDOW)
        .await?;
    Ok(n <= REQUESTS_PER_IP)
}

/// Whether another recovery mail may go to this account this hour.
async fn account_allows(state: &AppState, account_id: i32) -> bool {
    match state
        .store
        .incr(
            &format!("recover:acct:{account_id}"),
            std::time::Duration::from_secs(3600),
        )
        .await
    {
        Ok(n) => n <= MAILS_PER_ACCOUNT,
        Err(e) => {
            tracing::error!(error = %e, "recovery mail counter unavailable");
            false
        }
    }
}

/// Before a recovery form answers "sent": one round trip to the database,
/// the same whatever the identifier (so neither the answer nor its timing
/// tells whether an account exists), so that a database that is down gives
/// the honest 503 instead of a "sent" for a mail that cannot be queued.
async fn database_answers(state: &AppState) -> Result<(), AppError> {
    if state.database.check().await {
        Ok(())
    } else {
        Err(AppError::DatabaseDown)
    }
}

/// Waits before each new try of a recovery request's background work while
/// the database cannot be reached: the form checked it answered a moment
/// ago, so an outage starting just then delays the mail rather than losing it.
const BACKGROUND_PATIENCE: [std::time::Duration; 4] = [
    std::time::Duration::from_millis(500),
    std::time::Duration::from_secs(2),
    std::time::Duration::from_secs(5),
    std::time::Duration::from_secs(15),
];

/// Runs `work`, again while the database cannot be reached (see
/// [`BACKGROUND_PATIENCE`]); `None`, logged, when it fails for good.
async fn patiently<T, F, Fut>(what: &str, mut work: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AccountError>>,
{
    let mut waits = BACKGROUND_PATIENCE.iter();
    loop {
        match work().await {
            Ok(v) => return Some(v),
            Err(AccountError::Database(e)) if crate::http::error::database_unavailable(&e) => {
                let Some(wait) = waits.next() else {
                    tracing::error!(error = %e, what, "given up: database unreachable");
                    return None;
                };
                tokio::time::sleep(*wait).await;
            }
            Err(e) => {
                tracing::error!(error = %e, what, "failed");
                return None;
            }
        }
    }
}

fn too_many(page: maud::Markup) -> Response {
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, Html(page.into_string())).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(WINDOW.as_secs()));
    resp
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SentQuery {
    sent: String,
}

/// `GET /forgot-handle`
pub async fn handle_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SentQuery>,
) -> Response {
    let (token, cookie) = csrf::issue(&headers, &state.config);
    let page = rp::forgot_handle(current_lang(), &token, q.sent == "1", None);
    with_cookie(Html(page.into_string()).into_response(), cookie)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct HandleForm {
    csrf: String,
    email: String,
}

/// `POST /forgot-handle`: mails the handle to the account whose primary
/// address this is, if any.
pub async fn handle_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    form: Result<Form<HandleForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(|r| AppError::unreadable(r.status()))?;
    csrf::check(&headers, &state.config, &f.csrf)?;
    let Some(email) = EmailAddress::parse(&f.email).filter(|_| f.email.len() <= 254) else {
        let (token, _) = csrf::issue(&headers, &state.config);
        let page = rp::forgot_handle(
            current_lang(),
            &token,
            false,
            Some(msg("page.recovery.enter_email")),
        );
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response());
    };
    // Counted per address and per email typed, whether or not an account
    // has it, before the lookup: the refusal tells nothing either.
    limits::admit(
        &*state.store,
        &state.config.rates,
        Purpose::ForgotHandle,
        ip,
        email.as_str(),
    )
    .await?;
    database_answers(&state).await?;
    let bg = state.clone();
    tokio::spawn(async move {
        let id = Identifier::Email(email);
        let found = patiently("handle reminder lookup", || bg.accounts.find(&id)).await;
        if let Some(Some(a)) = found
            && a.status == accounts::AccountStatus::Active
            && account_allows(&bg, a.id).await
            && let Some(mail) = notify::handle_reminder(&bg.config, &a)
        {
            notify::send_later(&bg, mail);
        }
    });
    Ok(Redirect::to(&routes::with_query(routes::FORGOT_HANDLE, &[("sent", "1")])).into_response())
}

/// `GET /forgot-password`
pub async fn password_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SentQuery>,
) -> Response {
    let (token, cookie) = csrf::issue(&headers, &state.config);
    let page = rp::forgot_password(current_lang(), &token, q.sent == "1", None);
    with_cookie(Html(page.into_string()).into_response(), cookie)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    csrf: String,
    identifier: String,
}

/// Starts a reset for whatever account `identifier` names and mails the
/// link; does nothing for an unknown one.
async fn send_reset_link(state: &AppState, id: &Identifier) -> Result<bool, AccountError> {
    let Some(link) = state.accounts.request_password_reset(id).await? else {
        return Ok(false);
    };
    if let Some(mail) = notify::reset_link(&state.config, &link) {
        notify::send_later(state, mail);
    }
    Ok(true)
}

/// `POST /forgot-password`
pub async fn password_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(|r| AppError::unreadable(r.status()))?;
    csrf::check(&headers, &state.config, &f.csrf)?;
    if f.identifier.trim().is_empty() || f.identifier.len() > 254 {
        let (token, _) = csrf::issue(&headers, &state.config);
        let page = rp::forgot_password(
            current_lang(),
            &token,
            false,
            Some(msg("page.recovery.enter_identifier")),
        );
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response());
    }
    if !ip_allows(&state, ip).await? {
        let (token, _) = csrf::issue(&headers, &state.config);
        return Ok(too_many(rp::forgot_password(
            current_lang(),
            &token,
            false,
            Some(msg("page.error.throttled_requests")),
        )));
    }
    database_answers(&state).await?;
    let identifier = f.identifier;
    let bg = state.clone();
    tokio::spawn(async move {
        let Some(id) = Identifier::parse(&identifier) else {
            return;
        };
        let Some(Some(account)) = patiently("reset lookup", || bg.accounts.find(&id)).await else {
            return;
        };
        if !account_allows(&bg, account.id).await {
            tracing::info!(account = account.id, "reset mail limit reached");
            return;
        }
        patiently("reset link", || send_reset_link(&bg, &id)).await;
    });
    Ok(Redirect::to(&routes::with_query(
        routes::FORGOT_PASSWORD,
        &[("sent", "1")],
    ))
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenQuery {
    token: String,
}

fn dead_link() -> Response {
    (
        StatusCode::GONE,
        Html(rp::reset_link_dead(current_lang()).into_string()),
    )
        .into_response()
}

/// `GET /reset-password?token=…`
///
/// Whether a link is live is itself worth guessing at, so opening one is
/// counted per client IP before the lookup, like the form: a dead link keeps
/// its count, a live one gives it back.
pub async fn reset_page(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let token = Secret::new(q.token.chars().take(128).collect::<String>());
    let min = state.accounts.policy().min_chars;
    let now_ms = state.clock.now_ms();
    let reservation = match state.throttle.reserve_ip(ip, now_ms).await? {
        Ok(r) => r,
        Err(wait) => return Ok(reset_throttled(&token, "", min, wait)),
    };
    if !state.accounts.reset_link_is_live(&token).await? {
        reservation.failed();
        return Ok(dead_link());
    }
    reservation.give_back().await?;
    Ok(
        Html(rp::reset_form(current_lang(), token.expose(), "", &[], min, None).into_string())
            .into_response(),
    )
}

/// The answer to a throttled reset attempt: the form again with the wait,
/// the same for any link, live or not.
fn reset_throttled(
    token: &Secret,
    handle: &str,
    min: usize,
    wait: std::time::Duration,
) -> Response {
    let secs = retry_after_secs(wait);
    let msg = crate::i18n::format(msg("page.error.throttled"), &[("n", &secs.to_string())]);
    let page = rp::reset_form(current_lang(), token.expose(), handle, &[], min, Some(&msg));
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, Html(page.into_string())).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResetForm {
    token: String,
    handle: String,
    password: String,
    password_confirm: String,
}

/// `POST /reset-password`: the handle and the new password twice. The link
/// itself is the proof (no session, so no CSRF token: a forged post would
/// need the secret link). Afterwards every session and refresh token of the
/// account is dead, both addresses get a notice, and the person logs in
/// again (two-factor included).
///
/// Attempts are counted per link and per client IP before anything is
/// checked, like logins: a wrong handle or a dead link keeps its count, so
/// of parallel tries only as many as the delays allow are checked, and a
/// guesser of links or handles meets the same growing delays.
pub async fn reset_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form: Result<Form<ResetForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(|r| AppError::unreadable(r.status()))?;
    let token = Secret::new(f.token.chars().take(128).collect::<String>());
    let handle: String = f.handle.chars().take(64).collect();
    let subject = Subject::ResetLink(token.expose().to_owned());
    let now_ms = state.clock.now_ms();
    let reservation = match state.throttle.reserve(&subject, ip, now_ms).await? {
        Ok(r) => r,
        Err(wait) => {
            let min = state.accounts.policy().min_chars;
            return Ok(reset_throttled(&token, &handle, min, wait));
        }
    };
    let result = state
        .accounts
        .reset_password(
            &token,
            &handle,
            &Secret::new(f.password),
            &Secret::new(f.password_confirm),
        )
        .await;
    match result {
        Ok(account) => {
            reservation.succeeded().await?;
            let out = SupportDesk::for_server(&state)
                .end_everything(account.clone())
                .await;
            tell_both(&state, &account, &SecurityChange::PasswordReset);
            if !out.incomplete.is_empty() {
                // The password did change; say so rather than hide that old
                // sessions may live on (the failure is logged).
                return Err(AccountError::Internal(
                    "the password changed, but not every session could be ended".into(),
                )
                .into());
            }
            Ok(Redirect::to(routes::RESET_PASSWORD_DONE).into_response())
        }
        Err(AccountError::InvalidLink) => {
            reservation.failed();
            Ok(dead_link())
        }
        Err(AccountError::Invalid(errors)) => {
            if errors
                .iter()
                .any(|e| e.problem == FieldProblem::HandleMismatch)
            {
                // A wrong handle for a live link: a guess.
                reservation.failed();
            } else {
                // The link and the handle held (or the handle was left
                // empty); only the new password was refused.
                reservation.give_back().await?;
            }
            let min = state.accounts.policy().min_chars;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Html(
                    rp::reset_form(current_lang(), token.expose(), &handle, &errors, min, None)
                        .into_string(),
                ),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// A security notice to the primary and, when there is one, the backup address.
fn tell_both(state: &AppState, account: &Account, change: &SecurityChange) {
    crate::seclog::change_later(state, account.id, change, Default::default());
    if let Some(mail) = notify::security_notice(&state.config, account, change) {
        notify::send_later(state, mail);
    }
    if let Some(b) = &account.backup_email {
        notify::send_later(
            state,
            notify::security_notice_to(&state.config, account, b, change),
        );
    }
}

/// `GET /reset-password/done`
pub async fn reset_done() -> Html<String> {
    Html(rp::reset_done(current_lang()).into_string())
}

// --- backup email --------------------------------------------------------------------

/// A backup address waiting for its code.
#[derive(Serialize, Deserialize)]
struct PendingBackup {
    email: String,
    code: String,
    wrong: u32,
}

fn backup_key(account_id: i32) -> String {
    format!("backupcode:{account_id}")
}

/// The signed-in active account, or the redirect to log in.
async fn signed(
    state: &AppState,
    session: CurrentSession,
    back: &str,
) -> Result<Result<(crate::session::SessionData, Account), Response>, AppError> {
    let Some((id, data)) = session.0 else {
        let to = routes::then(routes::LOGIN, back);
        return Ok(Err(Redirect::to(&to).into_response()));
    };
    if data.user_id.is_some() {
        // The backup address and login notifications are the holder's own
        // recovery data: local users, whatever their role, leave them alone.
        return Err(AppError::Forbidden("page.error.need_holder"));
    }
    match state.accounts.find_by_id(data.account_id).await? {
        Some(a) if a.status == accounts::AccountStatus::Active => {
            negotiate(Some(Lang::parse(&a.language)));
            Ok(Ok((data, a)))
        }
        _ => {
            state.sessions.destroy(&id).await?;
            Ok(Err(Redirect::to(routes::LOGIN).into_response()))
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NextQuery {
    next: String,
}

/// `GET /account/backup-email`
pub async fn backup_page(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let (data, account) = match signed(&state, session, routes::BACKUP_EMAIL).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let next = safe_next(&q.next);
    let page = rp::backup_email_form(
        current_lang(),
        Who::of(&account),
        &data.csrf,
        next,
        account.must_set_backup,
        "",
        &[],
    );
    Ok(Html(page.into_string()).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BackupForm {
    csrf: String,
    next: String,
    backup_email: String,
}

/// `POST /account/backup-email`: checks the address and mails it a code.
pub async fn backup_submit(
    State(state): State<AppState>,
    session: CurrentSession,
    form: Result<Form<BackupForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(|r| AppError::unreadable(r.status()))?;
    let (data, account) = match signed(&state, session, routes::BACKUP_EMAIL).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    csrf::matches(&data.csrf, &f.csrf)?;
    let next = safe_next(&f.next).to_owned();
    if !is_recent(&state, &data, &crate::twofactor::identity(account.id)).await? {
        return Ok(to_reauth(routes::BACKUP_EMAIL));
    }
    let email = match state.accounts.check_backup_email(&account, &f.backup_email) {
        Ok(e) => e,
        Err(AccountError::Invalid(errors)) => {
            let value: String = f.backup_email.chars().take(254).collect();
            let page = rp::backup_email_form(
                current_lang(),
                Who::of(&account),
                &data.csrf,
                &next,
                account.must_set_backup,
                &value,
                &errors,
            );
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let sends = state
        .store
        .incr(
            &format!("backupcode:sends:{}", account.id),
            std::time::Duration::from_secs(3600),
        )
        .await?;
    if sends > MAILS_PER_ACCOUNT {
        return Ok(too_many(rp::backup_email_form(
            current_lang(),
            Who::of(&account),
            &data.csrf,
            &next,
            account.must_set_backup,
            email.as_str(),
            &[],
        )));
    }
    let (code, stored) = OneTimeCode::issue(state.clock.now_secs(), BACKUP_CODE_TTL_SECS);
    let pending = PendingBackup {
        email: email.as_str().to_owned(),
        code: stored.encode(),
        wrong: 0,
    };
    state
        .store
        .set(
            &backup_key(account.id),
            &serde_json::to_string(&pending).unwrap_or_default(),
            std::time::Duration::from_secs(BACKUP_CODE_TTL_SECS as u64),
        )
        .await?;
    notify::queue(
        &state,
        notify::email_code(
            &state.config,
            &account,
            email.as_str(),
            EmailCodePurpose::BackupEmail,
            &code,
            BACKUP_CODE_TTL_SECS / 60,
        ),
    )
    .await?;
    let page = rp::backup_email_confirm(
        current_lang(),
        Who::of(&account),
        &data.csrf,
        &next,
        email.as_str(),
        None,
    );
    Ok(Html(page.into_string()).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BackupCodeForm {
    csrf: String,
    next: String,
    code: String,
}

/// `POST /account/backup-email/confirm`: the code from the new address.
pub async fn backup_confirm(
    State(state): State<AppState>,
    session: CurrentSession,
    form: Result<Form<BackupCodeForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(|r| AppError::unreadable(r.status()))?;
    let (data, account) = match signed(&state, session, routes::BACKUP_EMAIL).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    csrf::matches(&data.csrf, &f.csrf)?;
    let next = safe_next(&f.next).to_owned();
    // Taken, so two parallel submissions cannot both use it.
    let Some(json) = state.store.take(&backup_key(account.id)).await? else {
        return Ok(Redirect::to(routes::BACKUP_EMAIL).into_response());
    };
    let Ok(mut pending) = serde_json::from_str::<PendingBackup>(&json) else {
        return Ok(Redirect::to(routes::BACKUP_EMAIL).into_response());
    };
    let now = state.clock.now_secs();
    let stored = OneTimeCode::decode(&pending.code);
    if !stored.as_ref().is_some_and(|c| c.matches(&f.code, now)) {
        pending.wrong += 1;
        let left = stored.map(|c| c.seconds_left(now)).unwrap_or(0);
        let msg = if pending.wrong >= 5 || left == 0 {
            msg("page.recovery.backup_code_dead")
        } else {
            state
                .store
                .set(
                    &backup_key(account.id),
                    &serde_json::to_string(&pending).unwrap_or_default(),
                    std::time::Duration::from_secs(left),
                )
                .await?;
            msg("page.recovery.wrong_code")
        };
        let page = rp::backup_email_confirm(
            current_lang(),
            Who::of(&account),
            &data.csrf,
            &next,
            &pending.email,
            Some(msg),
        );
        return Ok((StatusCode::UNAUTHORIZED, Html(page.into_string())).into_response());
    }
    let email = EmailAddress::parse(&pending.email)
        .ok_or_else(|| AccountError::Internal("stored backup address unreadable".into()))?;
    let updated = match state.accounts.set_backup_email(account.id, &email).await {
        Ok(a) => a,
        Err(AccountError::Invalid(errors)) => {
            let page = rp::backup_email_form(
                current_lang(),
                Who::of(&account),
                &data.csrf,
                &next,
                account.must_set_backup,
                email.as_str(),
                &errors,
            );
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let change = SecurityChange::BackupEmailSet {
        email: email.as_str().to_owned(),
    };
    crate::seclog::change_later(&state, updated.id, &change, Default::default());
    if let Some(mail) = notify::security_notice(&state.config, &updated, &change) {
        notify::send_later(&state, mail);
    }
    // The former backup, if any, hears of its replacement too.
    if let Some(old) = account
        .backup_email
        .as_deref()
        .filter(|o| !o.eq_ignore_ascii_case(email.as_str()))
    {
        notify::send_later(
            &state,
            notify::security_notice_to(&state.config, &updated, old, &change),
        );
    }
    Ok(Redirect::to(&next).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NotificationsForm {
    csrf: String,
    on: String,
}

/// `POST /account/notifications`: login notifications on or off.
pub async fn notifications(
    State(state): State<AppState>,
    session: CurrentSession,
    form: Result<Form<NotificationsForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(|r| AppError::unreadable(r.status()))?;
    let (data, account) = match signed(&state, session, routes::ACCOUNT).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    csrf::matches(&data.csrf, &f.csrf)?;
    let on = match f.on.as_str() {
        "1" | "on" | "true" => true,
        "0" | "off" | "false" => false,
        _ => {
            return Err(AppError::BadRequest(
                StatusCode::UNPROCESSABLE_ENTITY,
                "on: 1 or 0".into(),
            ));
        }
    };
    state
        .accounts
        .set_login_notifications(account.id, on)
        .await?;
    Ok(Redirect::to(routes::ACCOUNT).into_response())
}
