//! The page that asks for the code mailed on a risky login
//! ([`app::email_code`], where the decisions and the throttle reservation
//! live). The pending login is a cookie of its own.

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use accounts::Account;
use app::email_code::{CodeCheck, Pending, Resent, Stuck};

use super::cookies;
use super::csrf::{self, CsrfField, csrf_field};
use super::error::AppError;
use super::extract::{ClientIp, FormInput};
use super::locale::{current_lang, negotiate};
use crate::state::AppState;
use app::i18n::Lang;
use views::pages::recovery as recovery_pages;
use views::routes;

fn cookie_name(state: &AppState) -> &'static str {
    if state.config.is_https() {
        "__Host-guichet_mailcode"
    } else {
        "guichet_mailcode"
    }
}

/// The way to the code page, with the cookie naming the pending login
/// `token` ([`app::email_code::begin`]).
pub fn to_code_page(state: &AppState, token: &str) -> Response {
    let cookie = cookies::set(&state.config, cookie_name(state), token, "Lax");
    (cookie, Redirect::to(routes::LOGIN_EMAIL_CODE)).into_response()
}

fn to_login() -> Response {
    Redirect::to(routes::LOGIN).into_response()
}

/// The pending login this browser's cookie names, with its token, and its
/// active account (whose profile language becomes the page's, after the
/// switcher's cookie). `Err` is the way back to the login form.
async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Result<(String, Pending, Account), Response>, AppError> {
    let token = cookies::read(headers, cookie_name(state));
    let Some(p) = app::email_code::find(state, token).await? else {
        return Ok(Err(to_login()));
    };
    // An account gone since the password step has no code to ask for.
    let Some(a) = app::second_factor::active_account(state, p.account_id()).await? else {
        return Ok(Err(to_login()));
    };
    negotiate(Some(Lang::parse(&a.language)));
    Ok(Ok((token.unwrap_or_default().to_owned(), p, a)))
}

/// The pending login this browser's cookie names and a form of the code
/// page that repeated its anti-CSRF token. The form is read first; a pending
/// login gone sends the browser back to log in.
pub struct MailedCodeForm<T> {
    /// The pending login's token (its cookie).
    pub token: String,
    /// The pending login.
    pub pending: Pending,
    /// Its active account.
    pub account: Account,
    /// What the form sent.
    pub form: T,
}

impl<T> FromRequest<AppState> for MailedCodeForm<T>
where
    T: CsrfField + DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let FormInput(form) = FormInput::<T>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let found = current(state, &headers).await;
        let (token, pending, account) = found.map_err(IntoResponse::into_response)??;
        csrf::matches(pending.csrf(), form.csrf()).map_err(IntoResponse::into_response)?;
        Ok(Self {
            token,
            pending,
            account,
            form,
        })
    }
}

fn msg(key: &str) -> &'static str {
    views::text::tr(current_lang(), key)
}

/// Why no code can come for this login any more, and what to do.
fn stuck_text(p: &Pending, stuck: &Stuck) -> String {
    let live = p.code_live();
    match stuck {
        Stuck::HourLimit(minutes) => {
            let key = if live {
                "page.email_code.hour_limit_live"
            } else {
                "page.email_code.hour_limit"
            };
            app::i18n::format(msg(key), &[("n", &minutes.to_string())])
        }
        Stuck::LoginLimit => msg(if live {
            "page.email_code.login_limit_live"
        } else {
            "page.email_code.login_limit"
        })
        .to_owned(),
    }
}

/// The page. When the code is void and no other can come, the page says
/// why and what to do instead of asking for a code that will not arrive.
fn page(
    state: &AppState,
    p: &Pending,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let stuck = p.stuck(state.clock.now_secs()).map(|s| stuck_text(p, &s));
    let code_live = p.code_live();
    // A dead end replaces a message that would send the person to a resend
    // button that is not there.
    let error = match (&stuck, code_live) {
        (Some(s), false) => Some(s.as_str()),
        _ => error,
    };
    let view = recovery_pages::EmailCodeView {
        masked: mask(p.email()),
        csrf: p.csrf(),
        code_live,
        can_resend: stuck.is_none(),
        notice,
        error,
    };
    let html = recovery_pages::email_code(current_lang(), &view).into_string();
    (status, Html(html)).into_response()
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
    Ok(match current(&state, &headers).await? {
        Ok((_, p, _)) => page(&state, &p, None, None, StatusCode::OK),
        Err(r) => r,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

csrf_field!(CodeForm);

/// `POST /login/email-code`
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    MailedCodeForm {
        token,
        pending: p,
        account,
        form: f,
    }: MailedCodeForm<CodeForm>,
) -> Result<Response, AppError> {
    let unauthorized = StatusCode::UNAUTHORIZED;
    match app::email_code::check(&state, &token, p.clone(), account, &f.code, ip).await? {
        CodeCheck::Right {
            account,
            data,
            next,
        } => {
            let clear = Some(cookie_name(&state));
            super::sign_in::finish(&state, &headers, &account, &data, &next, clear).await
        }
        CodeCheck::Throttled(secs) => Ok(throttled(&state, &p, secs)),
        CodeCheck::Wrong(p) => Ok(page(
            &state,
            &p,
            None,
            Some(msg("page.email_code.wrong")),
            unauthorized,
        )),
        CodeCheck::Dead(p) => Ok(page(
            &state,
            &p,
            None,
            Some(msg("page.email_code.code_dead")),
            unauthorized,
        )),
        CodeCheck::Gone => Ok(to_login()),
    }
}

/// The page again with the wait, in the text and in `Retry-After`.
fn throttled(state: &AppState, p: &Pending, secs: u64) -> Response {
    let n = secs.to_string();
    let msg = app::i18n::format(msg("page.email_code.too_many"), &[("n", &n)]);
    let mut resp = page(state, p, None, Some(&msg), StatusCode::TOO_MANY_REQUESTS);
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResendForm {
    csrf: String,
}

csrf_field!(ResendForm);

/// `POST /login/email-code/resend`
pub async fn resend(
    State(state): State<AppState>,
    MailedCodeForm {
        token,
        pending: p,
        account,
        ..
    }: MailedCodeForm<ResendForm>,
) -> Result<Response, AppError> {
    match app::email_code::resend(&state, &token, p, &account).await? {
        Resent::Sent(p) => Ok(page(
            &state,
            &p,
            Some(msg("page.email_code.resent")),
            None,
            StatusCode::OK,
        )),
        Resent::Refused(p) => {
            let now = state.clock.now_secs();
            let why = p.stuck(now).map(|s| stuck_text(&p, &s)).unwrap_or_default();
            Ok(page(
                &state,
                &p,
                None,
                Some(&why),
                StatusCode::TOO_MANY_REQUESTS,
            ))
        }
        Resent::Gone => Ok(to_login()),
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
