//! "My data": the download of everything held about the account, and its
//! erasure, which holds from other systems stop and which asks for a recent
//! authentication and the handle typed again.

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use accounts::AccountError;

use super::csrf;
use super::error::AppError;
use super::extract::{ClientIp, CurrentSession, UserAgent};
use super::pages::{self, Who};
use super::panel::{Need, Panel};
use super::panel_api;
use super::problem::ProblemType;
use super::security::{is_recent, to_reauth};
use crate::i18n::{self, Lang, t};
use crate::seclog::Origin;
use crate::state::AppState;
use crate::{api_panel_or_return, panel_or_return};

fn tr(lang: Lang, key: &str) -> &'static str {
    t(lang, &format!("page.gdpr.{key}"))
}

fn form_error(r: FormRejection) -> AppError {
    AppError::unreadable(r.status())
}

fn hold_text(lang: Lang, kind: &str) -> String {
    match kind {
        "open_services" | "unpaid_invoices" => tr(lang, &format!("hold_{kind}")).to_owned(),
        other => i18n::format(tr(lang, "hold_other"), &[("kind", other)]),
    }
}

async fn data_page_markup(
    state: &AppState,
    p: &Panel,
    confirm_error: Option<&str>,
) -> Result<Markup, AppError> {
    let l = p.lang;
    let holds = state.accounts.holds(p.account.id).await?;
    Ok(pages::layout(
        l,
        tr(l, "title"),
        Some(Who::of(&p.account)),
        html! {
            h1 { (tr(l, "title")) }
            section {
                h2 { (tr(l, "export_title")) }
                p { (tr(l, "export_intro")) }
                p { a.button id="download-data" href="/account/data-export" download { (tr(l, "export_button")) } }
            }
            section {
                h2 { (tr(l, "erase_title")) }
                p { (tr(l, "erase_intro")) }
                @if !holds.is_empty() {
                    div.alert role="alert" id="holds" {
                        p { (tr(l, "erase_held")) }
                        ul { @for h in &holds {
                            li {
                                (hold_text(l, &h.kind))
                                @if !h.reference.is_empty() { " (" (h.reference) ")" }
                                @if !h.note.is_empty() { ": " (h.note) }
                            }
                        } }
                    }
                } @else if p.require(Need::Holder).is_ok() {
                    form method="post" action="/account/erase" {
                        input type="hidden" name="csrf" value=(p.data.csrf);
                        label for="confirm" { (i18n::format(tr(l, "erase_confirm_label"), &[("handle", &p.account.handle)])) }
                        @if let Some(e) = confirm_error {
                            input id="confirm" name="confirm" type="text" autocomplete="off" required aria-invalid="true" aria-describedby="confirm-error";
                            p.field-error id="confirm-error" { (e) }
                        } @else {
                            input id="confirm" name="confirm" type="text" autocomplete="off" required;
                        }
                        p.warning { (tr(l, "erase_warning")) }
                        button type="submit" { (tr(l, "erase_button")) }
                    }
                } @else {
                    p.hint { (tr(l, "erase_holder_only")) }
                }
            }
        },
    ))
}

/// `GET /account/data`
pub async fn data_page(
    State(state): State<AppState>,
    session: CurrentSession,
) -> Result<Response, AppError> {
    let p = panel_or_return!(state, session, "/account/data");
    p.require(Need::Read)?;
    Ok(Html(data_page_markup(&state, &p, None).await?.into_string()).into_response())
}

fn attachment(p: &Panel, body: serde_json::Value) -> Response {
    let name = format!("guichet-{}.json", p.account.handle);
    let text = serde_json::to_string_pretty(&body).unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        text,
    )
        .into_response()
}

/// `GET /account/data-export`: one JSON file, as an attachment.
pub async fn export(
    State(state): State<AppState>,
    session: CurrentSession,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
) -> Result<Response, AppError> {
    let p = panel_or_return!(state, session, "/account/data");
    p.require(Need::Holder)?;
    let body = crate::gdpr::export(&state, &p.account, &p.data.sid, &Origin::new(ip, &ua)).await?;
    Ok(attachment(&p, body))
}

/// `GET /api/v1/account/export`
pub async fn export_api(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
) -> Result<Response, AppError> {
    let p = api_panel_or_return!(state, session, headers, Need::Holder, false);
    let body = crate::gdpr::export(&state, &p.account, &p.data.sid, &Origin::new(ip, &ua)).await?;
    Ok(attachment(&p, body))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EraseInput {
    csrf: String,
    confirm: String,
}

/// `GET /account/erase`: the same page as "my data".
pub async fn erase_page(session: CurrentSession) -> Response {
    let _ = session;
    Redirect::to("/account/data").into_response()
}

fn erased_response(state: &AppState, lang: Lang) -> Response {
    let mut resp =
        Html(pages::message(lang, tr(lang, "erased_title"), tr(lang, "erased_text")).into_string())
            .into_response();
    let cfg = &state.config;
    if let Ok(v) = super::cookies::clear(cfg, super::cookies::session_name(cfg)).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `POST /account/erase`
pub async fn erase(
    State(state): State<AppState>,
    session: CurrentSession,
    form: Result<Form<EraseInput>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(input) = form.map_err(form_error)?;
    let p = panel_or_return!(state, session, "/account/data");
    p.require(Need::Holder)?;
    csrf::matches(&p.data.csrf, &input.csrf)?;
    if !is_recent(&state, &p.data, &p.identity()).await? {
        return Ok(to_reauth("/account/data"));
    }
    let l = p.lang;
    if !input.confirm.trim().eq_ignore_ascii_case(&p.account.handle) {
        let page = data_page_markup(&state, &p, Some(tr(l, "erase_confirm_wrong"))).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response());
    }
    match crate::gdpr::erase(&state, p.account.id).await {
        Ok(()) => Ok(erased_response(&state, l)),
        Err(app::AppError::Account(AccountError::Held(_))) => {
            let page = data_page_markup(&state, &p, None).await?;
            Ok((StatusCode::CONFLICT, Html(page.into_string())).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EraseJson {
    confirm: String,
}

/// `POST /api/v1/account/erase` (`{"confirm": "<handle>"}`)
pub async fn erase_api(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    body: Result<Json<EraseJson>, JsonRejection>,
) -> Result<Response, AppError> {
    let p = api_panel_or_return!(state, session, headers, Need::Holder, true);
    let l = p.lang;
    let Ok(Json(input)) = body else {
        return Ok(panel_api::error(
            StatusCode::BAD_REQUEST,
            ProblemType::InvalidBody,
            "Send a JSON object with confirm.",
        ));
    };
    if !is_recent(&state, &p.data, &p.identity()).await? {
        return Ok(panel_api::error(
            StatusCode::FORBIDDEN,
            ProblemType::ReauthenticationRequired,
            tr(l, "reauth_needed"),
        ));
    }
    if !input.confirm.trim().eq_ignore_ascii_case(&p.account.handle) {
        return Ok(panel_api::fields_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            tr(l, "erase_confirm_wrong"),
            &[(
                "confirm",
                "handle_mismatch",
                tr(l, "erase_confirm_wrong").into(),
            )],
        ));
    }
    match crate::gdpr::erase(&state, p.account.id).await {
        Ok(()) => Ok(Json(json!({ "erased": true })).into_response()),
        Err(app::AppError::Account(AccountError::Held(kinds))) => Ok(super::problem::Problem::new(
            StatusCode::CONFLICT,
            ProblemType::Held,
            tr(l, "erase_held"),
        )
        .with("holds", serde_json::json!(kinds))
        .into_response()),
        Err(e) => Err(e.into()),
    }
}
