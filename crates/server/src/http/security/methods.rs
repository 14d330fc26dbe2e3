//! Adding a second factor by app (TOTP) or by SMS, and renaming or removing
//! a method.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use app::security::{Confirmation, Enrolled};
use mfa::{MethodKind, MfaError};

use super::{NextQuery, actor, done, next_of, redirect_with_session, security_page, unless_recent};
use crate::http::csrf::csrf_form;
use crate::http::error::AppError;
use crate::http::panel::Panel;
use crate::http::principal::{PanelForm, Recent, RecentForm};
use crate::state::AppState;
use app::seclog::Origin;
use views::components::Who;
use views::pages::mfa::{self as mfa_pages, TotpView, mfa_message};
use views::routes;
use views::text::tr;

/// Where an enrolment goes once the method is on: the codes made for a first
/// method, else `next`, else the security page saying it was added.
pub(super) fn after_enrolment(state: &AppState, e: &Enrolled, next: &str) -> (String, Response) {
    let target = match &e.codes {
        Some(key) => super::codes::to_codes(key, next),
        None if next.is_empty() => routes::with_query(routes::SECURITY, &[("done", "added")]),
        None => next.to_owned(),
    };
    let resp = redirect_with_session(state, &target, &e.session_id);
    (target, resp)
}

/// `GET /account/security/{totp,sms,webauthn}`: the first form of an enrolment.
fn new_method(p: &Panel, q: &NextQuery, kind: MethodKind) -> Response {
    let next = next_of(&q.next);
    let who = Who::of(&p.account);
    let page = mfa_pages::new_method_form(p.lang, who, kind, &p.data.csrf, &next, None);
    Html(page.into_string()).into_response()
}

pub async fn totp_page(p: Recent, Query(q): Query<NextQuery>) -> Response {
    new_method(&p, &q, MethodKind::Totp)
}

pub async fn sms_page(p: Recent, Query(q): Query<NextQuery>) -> Response {
    new_method(&p, &q, MethodKind::Sms)
}

pub async fn webauthn_page(p: Recent, Query(q): Query<NextQuery>) -> Response {
    new_method(&p, &q, MethodKind::WebAuthn)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewForm {
    csrf: String,
    label: String,
    phone: String,
    next: String,
}

csrf_form!(NewForm => routes::SECURITY);

fn refused(p: &Panel, kind: MethodKind, next: &str, msg: &str) -> Response {
    let who = Who::of(&p.account);
    let page = mfa_pages::new_method_form(p.lang, who, kind, &p.data.csrf, next, Some(msg));
    (StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response()
}

/// `POST /account/security/totp`: a pending app method, and its QR code.
pub async fn totp_begin(
    State(state): State<AppState>,
    PanelForm { panel: p, form: f }: PanelForm<NewForm>,
) -> Result<Response, AppError> {
    if let Some(r) = unless_recent(&state, &p, routes::SECURITY_TOTP).await? {
        return Ok(r);
    }
    let next = next_of(&f.next);
    let identity = p.identity();
    match state
        .mfa
        .totp_begin(&identity, &f.label, &p.account.handle)
        .await
    {
        Ok(e) => {
            let view = TotpView {
                lang: p.lang,
                who: Who::of(&p.account),
                method_id: &e.method_id,
                secret: &e.secret_base32,
                uri: &e.otpauth_uri,
                qr_png_base64: &e.qr_png_base64,
                csrf: &p.data.csrf,
                next: &next,
                error: None,
            };
            Ok(Html(mfa_pages::totp_confirm(&view).into_string()).into_response())
        }
        Err(e @ MfaError::InvalidLabel) => Ok(refused(
            &p,
            MethodKind::Totp,
            &next,
            mfa_message(p.lang, &e),
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

csrf_form!(ConfirmForm => routes::SECURITY);

/// `POST /account/security/totp/confirm`: the method is on after a right code.
pub async fn totp_confirm(
    State(state): State<AppState>,
    origin: Origin,
    PanelForm { panel: p, form: f }: PanelForm<ConfirmForm>,
) -> Result<Response, AppError> {
    if let Some(r) = unless_recent(&state, &p, routes::SECURITY_TOTP).await? {
        return Ok(r);
    }
    let next = next_of(&f.next);
    let proof = Confirmation::Totp {
        method: f.method.clone(),
        code: f.code,
    };
    match app::security::confirm(&state, &actor(&p, origin), proof).await? {
        Ok(e) => Ok(after_enrolment(&state, &e, &next).1),
        Err(MfaError::WrongCode) => {
            let view = TotpView {
                lang: p.lang,
                who: Who::of(&p.account),
                method_id: &f.method,
                secret: &f.secret,
                uri: &f.uri,
                qr_png_base64: &f.qr,
                csrf: &p.data.csrf,
                next: &next,
                error: Some(tr(p.lang, "page.security.totp_wrong")),
            };
            let page = mfa_pages::totp_confirm(&view).into_string();
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response())
        }
        Err(MfaError::NotFound) => Ok(Redirect::to(routes::SECURITY_TOTP).into_response()),
        Err(e) => Err(e.into()),
    }
}

/// `POST /account/security/sms`: a pending phone, and a code sent to it.
pub async fn sms_begin(
    State(state): State<AppState>,
    PanelForm { panel: p, form: f }: PanelForm<NewForm>,
) -> Result<Response, AppError> {
    if let Some(r) = unless_recent(&state, &p, routes::SECURITY_SMS).await? {
        return Ok(r);
    }
    let next = next_of(&f.next);
    match state.mfa.sms_begin(&p.identity(), &f.label, &f.phone).await {
        Ok(method_id) => Ok(sms_confirm_page(&p, &method_id, &next, None)),
        Err(e @ (MfaError::InvalidLabel | MfaError::InvalidPhone | MfaError::TooManySends)) => {
            Ok(refused(&p, MethodKind::Sms, &next, mfa_message(p.lang, &e)))
        }
        Err(e) => Err(e.into()),
    }
}

/// The form that takes the code sent to a new phone.
fn sms_confirm_page(p: &Panel, method_id: &str, next: &str, error: Option<&str>) -> Response {
    let who = Who::of(&p.account);
    let page = mfa_pages::sms_confirm(p.lang, who, method_id, &p.data.csrf, next, error);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (status, Html(page.into_string())).into_response()
}

/// `POST /account/security/sms/confirm`
pub async fn sms_confirm(
    State(state): State<AppState>,
    origin: Origin,
    PanelForm { panel: p, form: f }: PanelForm<ConfirmForm>,
) -> Result<Response, AppError> {
    if let Some(r) = unless_recent(&state, &p, routes::SECURITY_SMS).await? {
        return Ok(r);
    }
    let next = next_of(&f.next);
    let proof = Confirmation::Sms {
        method: f.method.clone(),
        code: f.code,
    };
    match app::security::confirm(&state, &actor(&p, origin), proof).await? {
        Ok(e) => Ok(after_enrolment(&state, &e, &next).1),
        Err(MfaError::WrongCode) => {
            let msg = tr(p.lang, "page.security.code_wrong");
            Ok(sms_confirm_page(&p, &f.method, &next, Some(msg)))
        }
        Err(MfaError::NotFound) => Ok(Redirect::to(routes::SECURITY_SMS).into_response()),
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

csrf_form!(MethodForm => routes::SECURITY);

/// `POST /account/security/methods/rename`
pub async fn rename(
    State(state): State<AppState>,
    PanelForm { panel: p, form: f }: PanelForm<MethodForm>,
) -> Result<Response, AppError> {
    match state.mfa.rename(&p.identity(), &f.method, &f.label).await {
        Ok(()) => Ok(done("renamed")),
        Err(e @ MfaError::InvalidLabel) => {
            let msg = mfa_message(p.lang, &e);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            security_page(&state, &p, "", None, Some(msg), status).await
        }
        Err(MfaError::NotFound) => Err(AppError::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// `POST /account/security/methods/remove`
pub async fn remove(
    State(state): State<AppState>,
    origin: Origin,
    RecentForm { panel: p, form: f }: RecentForm<MethodForm>,
) -> Result<Response, AppError> {
    if !app::security::remove_method(&state, &actor(&p, origin), &f.method).await? {
        return Err(AppError::NotFound);
    }
    Ok(done("removed"))
}
