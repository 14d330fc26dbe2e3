//! Naming a backup address ([`app::recovery::request_backup_code`],
//! [`app::recovery::confirm_backup`]) and the login-notification switch:
//! the holder's own recovery data.

use axum::extract::{FromRequest, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use accounts::{Account, FieldError};
use app::recovery::{BackupCode, BackupConfirm};

use super::{msg, too_many, with_status};
use crate::http::csrf;
use crate::http::csrf::{CsrfForm, csrf_form};
use crate::http::error::AppError;
use crate::http::extract::{CurrentSession, FormInput, WithSession};
use crate::http::locale::{current_lang, negotiate};
use crate::http::security::{is_recent, to_reauth};
use crate::http::sign_in::safe_next;
use crate::state::AppState;
use app::i18n::Lang;
use app::session::SessionData;
use views::components::Who;
use views::pages::recovery as rp;
use views::routes;

/// The signed-in active holder, or the redirect to log in. Not a
/// [`crate::http::panel::Panel`]: this page is where the panel's forced
/// detour for a missing backup address leads, so it must not detour itself.
fn signed(
    session: CurrentSession,
    back: &str,
) -> Result<Result<(SessionData, Account), Response>, AppError> {
    let Some((_, data, who)) = session.signed_in() else {
        let to = routes::then(routes::LOGIN, back);
        return Ok(Err(Redirect::to(&to).into_response()));
    };
    if who.user.is_some() {
        // The backup address and login notifications are the holder's own
        // recovery data: local users, whatever their role, leave them alone.
        return Err(AppError::Forbidden("page.error.need_holder"));
    }
    // Active: the session extractor has just read it so.
    negotiate(Some(Lang::parse(&who.account.language)));
    Ok(Ok((data, who.account)))
}

/// The signed-in holder ([`signed`]) and a form posted from their page whose
/// anti-CSRF field matched the session's token. The form is read first, as
/// these pages always did.
pub struct HolderForm<T> {
    data: SessionData,
    account: Account,
    form: T,
}

impl<T: CsrfForm> FromRequest<AppState> for HolderForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let sent = WithSession::<FormInput<T>>::from_request(req, state).await;
        let WithSession {
            session,
            body: FormInput(form),
            ..
        } = sent.map_err(IntoResponse::into_response)?;
        let (data, account) = match signed(session, T::PAGE) {
            Ok(Ok(s)) => s,
            Ok(Err(r)) => return Err(r),
            Err(e) => return Err(e.into_response()),
        };
        csrf::matches(&data.csrf, form.csrf()).map_err(IntoResponse::into_response)?;
        Ok(Self {
            data,
            account,
            form,
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NextQuery {
    next: String,
}

/// The form naming a backup address, with `value` typed and its `errors`.
fn backup_form(
    data: &SessionData,
    account: &Account,
    next: &str,
    value: &str,
    errors: &[FieldError],
) -> maud::Markup {
    let who = Who::of(account);
    let must = account.must_set_backup;
    rp::backup_email_form(current_lang(), who, &data.csrf, next, must, value, errors)
}

/// The form taking the code mailed to `email`.
fn confirm_form(
    data: &SessionData,
    a: &Account,
    next: &str,
    email: &str,
    error: Option<&str>,
) -> maud::Markup {
    rp::backup_email_confirm(current_lang(), Who::of(a), &data.csrf, next, email, error)
}

/// `GET /account/backup-email`
pub async fn backup_page(
    session: CurrentSession,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let (data, account) = match signed(session, routes::BACKUP_EMAIL)? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let page = backup_form(&data, &account, safe_next(&q.next), "", &[]);
    Ok(Html(page.into_string()).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BackupForm {
    csrf: String,
    next: String,
    backup_email: String,
}

csrf_form!(BackupForm => routes::BACKUP_EMAIL);

/// `POST /account/backup-email`: checks the address and mails it a code.
pub async fn backup_submit(
    State(state): State<AppState>,
    HolderForm {
        data,
        account,
        form: f,
    }: HolderForm<BackupForm>,
) -> Result<Response, AppError> {
    let next = safe_next(&f.next).to_owned();
    if !is_recent(&state, &data, &app::twofactor::identity(account.id)).await? {
        return Ok(to_reauth(routes::BACKUP_EMAIL));
    }
    match app::recovery::request_backup_code(&state, &account, &f.backup_email).await? {
        BackupCode::Refused(errors) => {
            let value: String = f.backup_email.chars().take(254).collect();
            let page = backup_form(&data, &account, &next, &value, &errors);
            Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        BackupCode::TooMany(email) => Ok(too_many(backup_form(
            &data,
            &account,
            &next,
            email.as_str(),
            &[],
        ))),
        BackupCode::Sent(email) => {
            let page = confirm_form(&data, &account, &next, email.as_str(), None);
            Ok(Html(page.into_string()).into_response())
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BackupCodeForm {
    csrf: String,
    next: String,
    code: String,
}

csrf_form!(BackupCodeForm => routes::BACKUP_EMAIL);

/// `POST /account/backup-email/confirm`: the code from the new address.
pub async fn backup_confirm(
    State(state): State<AppState>,
    HolderForm {
        data,
        account,
        form: f,
    }: HolderForm<BackupCodeForm>,
) -> Result<Response, AppError> {
    let next = safe_next(&f.next).to_owned();
    match app::recovery::confirm_backup(&state, &account, &f.code).await? {
        BackupConfirm::Done => Ok(Redirect::to(&next).into_response()),
        BackupConfirm::NothingPending => Ok(Redirect::to(routes::BACKUP_EMAIL).into_response()),
        BackupConfirm::Wrong { email, dead } => {
            let key = if dead {
                "page.recovery.backup_code_dead"
            } else {
                "page.recovery.wrong_code"
            };
            let page = confirm_form(&data, &account, &next, &email, Some(msg(key)));
            Ok(with_status(StatusCode::UNAUTHORIZED, page))
        }
        BackupConfirm::Refused { email, errors } => {
            let page = backup_form(&data, &account, &next, &email, &errors);
            Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NotificationsForm {
    csrf: String,
    on: String,
}

csrf_form!(NotificationsForm => routes::ACCOUNT);

/// `POST /account/notifications`: login notifications on or off.
pub async fn notifications(
    State(state): State<AppState>,
    HolderForm {
        account, form: f, ..
    }: HolderForm<NotificationsForm>,
) -> Result<Response, AppError> {
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
