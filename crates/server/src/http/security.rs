//! The security page: adding, renaming and removing two-factor methods,
//! emergency codes, turning two-factor off, and the re-authentication that
//! every change asks for first.

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use accounts::{Account, AccountError, Secret};
use mfa::{MethodKind, MfaError};

use super::cookies;
use super::csrf;
use super::error::AppError;
use super::extract::current_lang;
use super::extract::{ClientIp, CurrentSession};
use super::panel::Panel;
use super::sign_in::safe_next;
use crate::i18n::Lang;
use crate::notify;
use crate::seclog::Origin;
use crate::session::throttle::{Subject, retry_after_secs};
use crate::session::{SessionData, random_token};
use crate::state::AppState;
use views::components::Who;
use views::pages::mfa::{self as mfa_pages, SecurityView, TotpView, mfa_message};
use views::routes;
use views::text::tr;

/// How long freshly made emergency codes wait to be shown.
const CODES_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// A signed-in, active account and its session.
struct Signed {
    id: String,
    lang: Lang,
    data: SessionData,
    account: Account,
    /// The two-factor identity of the person acting: the holder's or the
    /// local user's own, so that a user manages only their own methods.
    identity: String,
    /// The local user acting, when not the holder.
    user_id: Option<i32>,
}

/// The signed-in account, or the response that sends the browser to log in.
/// Goes through [`Panel::load`], so a disabled or deleted local user's
/// session ends here too.
async fn signed(
    state: &AppState,
    session: CurrentSession,
    back: &str,
) -> Result<Result<Signed, Response>, AppError> {
    Ok(Panel::load(state, session, back).await?.map(|p| Signed {
        identity: p.identity(),
        lang: p.lang,
        user_id: p.user_id(),
        id: p.session_id,
        data: p.data,
        account: p.account,
    }))
}

macro_rules! signed_or_return {
    ($state:expr, $session:expr, $back:expr) => {
        match signed(&$state, $session, $back).await? {
            Ok(s) => s,
            Err(r) => return Ok(r),
        }
    };
}

/// Whether the session authenticated recently enough for a security change:
/// a password within five minutes, and a second factor as well when the
/// account has two-factor.
async fn recent(state: &AppState, s: &Signed) -> Result<bool, AppError> {
    is_recent(state, &s.data, &s.identity).await
}

/// [`recent`] for any session: every change of security or recovery data
/// (here and the backup address) asks the same of it.
pub(super) async fn is_recent(
    state: &AppState,
    data: &SessionData,
    identity: &str,
) -> Result<bool, AppError> {
    Ok(app::authz::is_recent(state, data, identity).await?)
}

pub(super) fn to_reauth(back: &str) -> Response {
    Redirect::to(&routes::then(routes::REAUTH, back)).into_response()
}

macro_rules! recent_or_reauth {
    ($state:expr, $s:expr, $back:expr) => {
        if !recent(&$state, &$s).await? {
            return Ok(to_reauth($back));
        }
    };
}

fn form_error(r: FormRejection) -> AppError {
    AppError::unreadable(r.status())
}

/// Mails the notice of a change and writes its security-log line, naming
/// where the request came from and which local user, if any, made it.
fn notice(state: &AppState, s: &Signed, origin: &Origin, change: notify::SecurityChange) {
    let (kind, detail) = crate::seclog::of_change(&change);
    crate::seclog::record_later(state, s.account.id, s.user_id, kind, detail, origin.clone());
    if let Some(mail) = notify::security_notice(&state.config, &s.account, &change) {
        notify::send_later(state, mail);
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NextQuery {
    next: String,
    done: String,
}

/// Only local paths, and none at all when absent.
fn next_of(raw: &str) -> String {
    if raw.is_empty() {
        String::new()
    } else {
        safe_next(raw).to_owned()
    }
}

fn done_text(lang: Lang, code: &str) -> Option<&'static str> {
    let key = match code {
        "added" => "page.security.added",
        "renamed" => "page.security.renamed",
        "removed" => "page.security.removed",
        "codes-deleted" => "page.security.codes_deleted",
        "disabled" => "page.security.disabled",
        _ => return None,
    };
    Some(tr(lang, key))
}

async fn security_page(
    state: &AppState,
    s: &Signed,
    next: &str,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let methods = state.mfa.methods(&s.identity).await?;
    let recovery_left = state.mfa.recovery_remaining(&s.identity).await?;
    let view = SecurityView {
        lang: s.lang,
        who: Who::of(&s.account),
        methods: &methods,
        recovery_left,
        csrf: &s.data.csrf,
        next,
        notice,
        error,
    };
    Ok((status, Html(mfa_pages::security(&view).into_string())).into_response())
}

/// `GET /account/security`
pub async fn page(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let s = signed_or_return!(state, session, routes::SECURITY);
    let next = next_of(&q.next);
    security_page(
        &state,
        &s,
        &next,
        done_text(s.lang, &q.done),
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReauthForm {
    csrf: String,
    password: String,
    next: String,
}

/// `GET /account/reauth`
pub async fn reauth_page(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let s = signed_or_return!(state, session, routes::SECURITY);
    let next = safe_next(&q.next);
    Ok(
        Html(
            mfa_pages::reauth(s.lang, Who::of(&s.account), &s.data.csrf, next, None).into_string(),
        )
        .into_response(),
    )
}

/// `POST /account/reauth`: the password again, then the second factor when the
/// account has one.
pub async fn reauth(
    State(state): State<AppState>,
    session: CurrentSession,
    ClientIp(ip): ClientIp,
    form: Result<Form<ReauthForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let s = signed_or_return!(state, session, routes::SECURITY);
    csrf::matches(&s.data.csrf, &f.csrf)?;
    let next = safe_next(&f.next).to_owned();
    let subject = match s.user_id {
        None => Subject::Account(s.account.id),
        Some(u) => Subject::User(u),
    };
    let now_ms = state.clock.now_ms();
    let reservation = match state.throttle.reserve(&subject, ip, now_ms).await? {
        Ok(r) => r,
        Err(wait) => {
            let secs = retry_after_secs(wait);
            let msg = crate::i18n::format(
                tr(s.lang, "page.error.throttled"),
                &[("n", &secs.to_string())],
            );
            let mut resp = (
                StatusCode::TOO_MANY_REQUESTS,
                Html(
                    mfa_pages::reauth(s.lang, Who::of(&s.account), &s.data.csrf, &next, Some(&msg))
                        .into_string(),
                ),
            )
                .into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return Ok(resp);
        }
    };
    let password = Secret::new(f.password);
    let checked = match s.user_id {
        None => state
            .accounts
            .authenticate(Some(s.account.clone()), &password)
            .await
            .map(|_| ()),
        Some(uid) => {
            let user = state.accounts.find_user(s.account.id, uid).await?;
            state
                .accounts
                .authenticate_user(Some(s.account.clone()), user, &password)
                .await
                .map(|_| ())
        }
    };
    match checked {
        Ok(_) => {
            reservation.succeeded().await?;
            let now = state.clock.now_secs();
            let on = state.mfa.is_enabled(&s.identity).await?;
            // The password is fresh; the second factor, if any, is asked next
            // and adds itself back to the session.
            let data = SessionData {
                auth_time: now,
                last_seen: now,
                amr: vec!["pwd".into()],
                csrf: random_token(),
                ..s.data.clone()
            };
            let target = if on {
                routes::then(routes::LOGIN_2FA, &next)
            } else {
                next
            };
            replace_session(&state, &s.id, &data, &target).await
        }
        Err(AccountError::InvalidCredentials) => {
            reservation.failed();
            Ok((
                StatusCode::UNAUTHORIZED,
                Html(
                    mfa_pages::reauth(
                        s.lang,
                        Who::of(&s.account),
                        &s.data.csrf,
                        &next,
                        Some(tr(s.lang, "page.field.wrong_password")),
                    )
                    .into_string(),
                ),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Swaps the session for one with new data under a new id (after every
/// authentication step), and goes to `target`.
async fn replace_session(
    state: &AppState,
    old: &str,
    data: &SessionData,
    target: &str,
) -> Result<Response, AppError> {
    let id = state.sessions.create(data).await?;
    state.sessions.destroy(old).await?;
    let mut resp = Redirect::to(target).into_response();
    let cfg = &state.config;
    if let Ok(v) = cookies::set(cfg, cookies::session_name(cfg), &id, "Lax").parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// After a method was proven at enrolment: the session now counts that factor
/// too (the user just used it), emergency codes are made for a first method,
/// and a notice goes out.
async fn enrolled(
    state: &AppState,
    s: &Signed,
    origin: &Origin,
    kind: MethodKind,
    next: &str,
) -> Result<Enrolled, AppError> {
    // The label is not known here; the notice names the kind alone.
    notice(
        state,
        s,
        origin,
        notify::SecurityChange::MethodAdded {
            kind,
            label: String::new(),
        },
    );
    let mut amr = s.data.amr.clone();
    for a in [kind.amr(), "mfa"] {
        if !amr.iter().any(|x| x == a) {
            amr.push(a.into());
        }
    }
    let data = SessionData {
        amr,
        csrf: random_token(),
        ..s.data.clone()
    };
    let new_id = state.sessions.create(&data).await?;
    state.sessions.destroy(&s.id).await?;
    let target = if state.mfa.recovery_remaining(&s.identity).await? == 0 {
        let codes = state.mfa.recovery_generate(&s.identity).await?;
        stash_codes(state, &data, &codes, next).await?
    } else if next.is_empty() {
        routes::with_query(routes::SECURITY, &[("done", "added")])
    } else {
        next.to_owned()
    };
    Ok(Enrolled {
        session_id: new_id,
        target,
    })
}

/// The new session after an enrolment, and where to go.
struct Enrolled {
    session_id: String,
    target: String,
}

/// Keeps new codes for one viewing, so that a redirect (or a script) can lead
/// to the page that shows them without putting them in a URL.
async fn stash_codes(
    state: &AppState,
    data: &SessionData,
    codes: &[String],
    next: &str,
) -> Result<String, AppError> {
    let key = random_token();
    let json = serde_json::to_string(&json!({"sid": data.sid, "codes": codes})).unwrap_or_default();
    state
        .store
        .set(&format!("codes:{key}"), &json, CODES_TTL)
        .await?;
    Ok(routes::with_query(
        routes::SECURITY_CODES,
        &[("show", &key), ("next", next)],
    ))
}

/// Turns [`enrolled`]'s answer into a redirect with the new session cookie.
fn enrolled_redirect(state: &AppState, e: &Enrolled) -> Response {
    let mut resp = Redirect::to(&e.target).into_response();
    let cfg = &state.config;
    if let Ok(v) = cookies::set(cfg, cookies::session_name(cfg), &e.session_id, "Lax").parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ShowQuery {
    show: String,
    next: String,
}

/// `GET /account/security/codes?show=…`: the emergency codes, once.
pub async fn show_codes(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<ShowQuery>,
) -> Result<Response, AppError> {
    let s = signed_or_return!(state, session, routes::SECURITY);
    let stored = if q.show.len() == 43 {
        state.store.take(&format!("codes:{}", q.show)).await?
    } else {
        None
    };
    let codes: Option<Vec<String>> = stored
        .and_then(|j| serde_json::from_str::<Value>(&j).ok())
        .filter(|v| v["sid"] == s.data.sid.as_str())
        .and_then(|v| serde_json::from_value(v["codes"].clone()).ok());
    let Some(codes) = codes else {
        return Ok(Redirect::to(routes::SECURITY).into_response());
    };
    let next = next_of(&q.next);
    Ok(
        Html(mfa_pages::recovery_codes(s.lang, Who::of(&s.account), &codes, &next).into_string())
            .into_response(),
    )
}

/// `GET /account/security/{totp,sms,webauthn}`: the first form of an enrolment.
async fn new_method(
    state: AppState,
    session: CurrentSession,
    q: NextQuery,
    kind: MethodKind,
) -> Result<Response, AppError> {
    let back = routes::then(&format!("{}/{}", routes::SECURITY, kind.as_str()), &q.next);
    let s = signed_or_return!(state, session, &back);
    recent_or_reauth!(state, s, &back);
    let next = next_of(&q.next);
    Ok(Html(
        mfa_pages::new_method_form(s.lang, Who::of(&s.account), kind, &s.data.csrf, &next, None)
            .into_string(),
    )
    .into_response())
}

pub async fn totp_page(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    new_method(state, session, q, MethodKind::Totp).await
}

pub async fn sms_page(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    new_method(state, session, q, MethodKind::Sms).await
}

pub async fn webauthn_page(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    new_method(state, session, q, MethodKind::WebAuthn).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewForm {
    csrf: String,
    label: String,
    phone: String,
    next: String,
}

fn refused(s: &Signed, kind: MethodKind, next: &str, msg: &str) -> Response {
    let page = mfa_pages::new_method_form(
        s.lang,
        Who::of(&s.account),
        kind,
        &s.data.csrf,
        next,
        Some(msg),
    );
    (StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response()
}

/// `POST /account/security/totp`: a pending app method, and its QR code.
pub async fn totp_begin(
    State(state): State<AppState>,
    session: CurrentSession,
    form: Result<Form<NewForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let s = signed_or_return!(state, session, routes::SECURITY);
    csrf::matches(&s.data.csrf, &f.csrf)?;
    recent_or_reauth!(state, s, routes::SECURITY_TOTP);
    let next = next_of(&f.next);
    match state
        .mfa
        .totp_begin(&s.identity, &f.label, &s.account.handle)
        .await
    {
        Ok(e) => {
            let view = TotpView {
                lang: s.lang,
                who: Who::of(&s.account),
                method_id: &e.method_id,
                secret: &e.secret_base32,
                uri: &e.otpauth_uri,
                qr_png_base64: &e.qr_png_base64,
                csrf: &s.data.csrf,
                next: &next,
                error: None,
            };
            Ok(Html(mfa_pages::totp_confirm(&view).into_string()).into_response())
        }
        Err(e @ MfaError::InvalidLabel) => Ok(refused(
            &s,
            MethodKind::Totp,
            &next,
            mfa_message(s.lang, &e),
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ConfirmForm {
    csrf: String,
    method: String,
    code: String,
    next: String,
    secret: String,
    uri: String,
    qr: String,
}

/// `POST /account/security/totp/confirm`: the method is on after a right code.
pub async fn totp_confirm(
    State(state): State<AppState>,
    session: CurrentSession,
    origin: Origin,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let s = signed_or_return!(state, session, routes::SECURITY);
    csrf::matches(&s.data.csrf, &f.csrf)?;
    recent_or_reauth!(state, s, routes::SECURITY_TOTP);
    let next = next_of(&f.next);
    let now = state.clock.now_secs().max(0) as u64;
    let code: String = f
        .code
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(16)
        .collect();
    match state
        .mfa
        .totp_confirm(&s.identity, &f.method, &code, now)
        .await
    {
        Ok(()) => {
            let answer = enrolled(&state, &s, &origin, MethodKind::Totp, &next).await?;
            Ok(enrolled_redirect(&state, &answer))
        }
        Err(MfaError::WrongCode) => {
            let view = TotpView {
                lang: s.lang,
                who: Who::of(&s.account),
                method_id: &f.method,
                secret: &f.secret,
                uri: &f.uri,
                qr_png_base64: &f.qr,
                csrf: &s.data.csrf,
                next: &next,
                error: Some(tr(s.lang, "page.security.totp_wrong")),
            };
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Html(mfa_pages::totp_confirm(&view).into_string()),
            )
                .into_response())
        }
        Err(MfaError::NotFound) => Ok(Redirect::to(routes::SECURITY_TOTP).into_response()),
        Err(e) => Err(e.into()),
    }
}

/// `POST /account/security/sms`: a pending phone, and a code sent to it.
pub async fn sms_begin(
    State(state): State<AppState>,
    session: CurrentSession,
    form: Result<Form<NewForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let s = signed_or_return!(state, session, routes::SECURITY);
    csrf::matches(&s.data.csrf, &f.csrf)?;
    recent_or_reauth!(state, s, routes::SECURITY_SMS);
    let next = next_of(&f.next);
    match state.mfa.sms_begin(&s.identity, &f.label, &f.phone).await {
        Ok(method_id) => Ok(Html(
            mfa_pages::sms_confirm(
                s.lang,
                Who::of(&s.account),
                &method_id,
                &s.data.csrf,
                &next,
                None,
            )
            .into_string(),
        )
        .into_response()),
        Err(e @ (MfaError::InvalidLabel | MfaError::InvalidPhone | MfaError::TooManySends)) => {
            Ok(refused(&s, MethodKind::Sms, &next, mfa_message(s.lang, &e)))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /account/security/sms/confirm`
pub async fn sms_confirm(
    State(state): State<AppState>,
    session: CurrentSession,
    origin: Origin,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let s = signed_or_return!(state, session, routes::SECURITY);
    csrf::matches(&s.data.csrf, &f.csrf)?;
    recent_or_reauth!(state, s, routes::SECURITY_SMS);
    let next = next_of(&f.next);
    let code: String = f
        .code
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(16)
        .collect();
    match state.mfa.sms_confirm(&s.identity, &f.method, &code).await {
        Ok(()) => {
            let answer = enrolled(&state, &s, &origin, MethodKind::Sms, &next).await?;
            Ok(enrolled_redirect(&state, &answer))
        }
        Err(MfaError::WrongCode) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(
                mfa_pages::sms_confirm(
                    s.lang,
                    Who::of(&s.account),
                    &f.method,
                    &s.data.csrf,
                    &next,
                    Some(tr(s.lang, "page.security.code_wrong")),
                )
                .into_string(),
            ),
        )
            .into_response()),
        Err(MfaError::NotFound) => Ok(Redirect::to(routes::SECURITY_SMS).into_response()),
        Err(e) => Err(e.into()),
    }
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

#[derive(Deserialize)]
pub struct RegisterBegin {
    csrf: String,
}

/// `POST /account/security/webauthn/begin`: options for `navigator.credentials.create`.
pub async fn webauthn_begin(
    State(state): State<AppState>,
    session: CurrentSession,
    body: Result<Json<RegisterBegin>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(b) = body.map_err(|r| AppError::unreadable(r.status()))?;
    let Some(s) = signed(&state, session, routes::SECURITY).await?.ok() else {
        return Ok(json_error(
            StatusCode::UNAUTHORIZED,
            tr(current_lang(), "page.error.log_in_again"),
        ));
    };
    csrf::matches(&s.data.csrf, &b.csrf)?;
    if !recent(&state, &s).await? {
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            tr(s.lang, "page.security.reauth_first"),
        ));
    }
    let display = format!("{} {}", s.account.first_name, s.account.last_name);
    let (ceremony, options) = state
        .mfa
        .webauthn_register_begin(&s.identity, &s.account.handle, &display)
        .await?;
    Ok(Json(json!({"ceremony": ceremony, "options": options})).into_response())
}

#[derive(Deserialize)]
pub struct RegisterFinish {
    csrf: String,
    ceremony: String,
    label: String,
    credential: Value,
    #[serde(default)]
    next: String,
}

/// `POST /account/security/webauthn/finish`: the new key's attestation.
pub async fn webauthn_finish(
    State(state): State<AppState>,
    session: CurrentSession,
    origin: Origin,
    body: Result<Json<RegisterFinish>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(b) = body.map_err(|r| AppError::unreadable(r.status()))?;
    let Some(s) = signed(&state, session, routes::SECURITY).await?.ok() else {
        return Ok(json_error(
            StatusCode::UNAUTHORIZED,
            tr(current_lang(), "page.error.log_in_again"),
        ));
    };
    csrf::matches(&s.data.csrf, &b.csrf)?;
    if !recent(&state, &s).await? {
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            tr(s.lang, "page.security.reauth_first"),
        ));
    }
    let next = next_of(&b.next);
    match state
        .mfa
        .webauthn_register_finish(&s.identity, &b.ceremony, &b.label, &b.credential)
        .await
    {
        Ok(_) => {
            let answer = enrolled(&state, &s, &origin, MethodKind::WebAuthn, &next).await?;
            let redirect = enrolled_redirect(&state, &answer);
            let mut resp = Json(json!({"redirect": answer.target})).into_response();
            for v in redirect.headers().get_all(header::SET_COOKIE) {
                resp.headers_mut().append(header::SET_COOKIE, v.clone());
            }
            Ok(resp)
        }
        Err(e @ MfaError::InvalidLabel) => Ok(json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            mfa_message(s.lang, &e),
        )),
        Err(MfaError::ChallengeExpired | MfaError::WebAuthn(_)) => Ok(json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            tr(s.lang, "page.security.key_failed"),
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MethodForm {
    csrf: String,
    method: String,
    label: String,
}

/// `POST /account/security/methods/rename`
pub async fn rename(
    State(state): State<AppState>,
    session: CurrentSession,
    form: Result<Form<MethodForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let s = signed_or_return!(state, session, routes::SECURITY);
    csrf::matches(&s.data.csrf, &f.csrf)?;
    match state.mfa.rename(&s.identity, &f.method, &f.label).await {
        Ok(()) => Ok(Redirect::to(&routes::with_query(
            routes::SECURITY,
            &[("done", "renamed")],
        ))
        .into_response()),
        Err(e @ MfaError::InvalidLabel) => {
            security_page(
                &state,
                &s,
                "",
                None,
                Some(mfa_message(s.lang, &e)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(MfaError::NotFound) => Err(AppError::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// `POST /account/security/methods/remove`
pub async fn remove(
    State(state): State<AppState>,
    session: CurrentSession,
    origin: Origin,
    form: Result<Form<MethodForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let s = signed_or_return!(state, session, routes::SECURITY);
    csrf::matches(&s.data.csrf, &f.csrf)?;
    recent_or_reauth!(state, s, routes::SECURITY);
    let methods = state.mfa.methods(&s.identity).await?;
    let Some(m) = methods.iter().find(|m| m.id == f.method) else {
        return Err(AppError::NotFound);
    };
    state.mfa.remove(&s.identity, &m.id).await?;
    let change = notify::SecurityChange::MethodRemoved {
        kind: m.kind,
        label: m.label.clone(),
    };
    notice(&state, &s, &origin, change);
    Ok(Redirect::to(&routes::with_query(
        routes::SECURITY,
        &[("done", "removed")],
    ))
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /account/security/recovery/regenerate`: a new set, the old one void.
pub async fn regenerate(
    State(state): State<AppState>,
    session: CurrentSession,
    origin: Origin,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let s = signed_or_return!(state, session, routes::SECURITY);
    csrf::matches(&s.data.csrf, &f.csrf)?;
    recent_or_reauth!(state, s, routes::SECURITY);
    if !state.mfa.is_enabled(&s.identity).await? {
        return security_page(
            &state,
            &s,
            "",
            None,
            Some(tr(s.lang, "page.security.codes_need_2fa")),
            StatusCode::CONFLICT,
        )
        .await;
    }
    let codes = state.mfa.recovery_generate(&s.identity).await?;
    notice(
        &state,
        &s,
        &origin,
        notify::SecurityChange::RecoveryCodesRegenerated,
    );
    let target = stash_codes(&state, &s.data, &codes, "").await?;
    Ok(Redirect::to(&target).into_response())
}

/// `POST /account/security/recovery/delete`
pub async fn delete_codes(
    State(state): State<AppState>,
    session: CurrentSession,
    origin: Origin,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let s = signed_or_return!(state, session, routes::SECURITY);
    csrf::matches(&s.data.csrf, &f.csrf)?;
    recent_or_reauth!(state, s, routes::SECURITY);
    state.mfa.recovery_delete(&s.identity).await?;
    notice(
        &state,
        &s,
        &origin,
        notify::SecurityChange::RecoveryCodesDeleted,
    );
    Ok(Redirect::to(&routes::with_query(
        routes::SECURITY,
        &[("done", "codes-deleted")],
    ))
    .into_response())
}

/// `POST /account/security/disable`: every method and code goes.
pub async fn disable(
    State(state): State<AppState>,
    session: CurrentSession,
    origin: Origin,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let s = signed_or_return!(state, session, routes::SECURITY);
    csrf::matches(&s.data.csrf, &f.csrf)?;
    recent_or_reauth!(state, s, routes::SECURITY);
    state.mfa.disable(&s.identity).await?;
    notice(
        &state,
        &s,
        &origin,
        notify::SecurityChange::TwoFactorDisabled,
    );
    Ok(Redirect::to(&routes::with_query(
        routes::SECURITY,
        &[("done", "disabled")],
    ))
    .into_response())
}
