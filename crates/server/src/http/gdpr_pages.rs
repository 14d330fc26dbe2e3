//! "My data": the download of everything held about the account, and its
//! erasure, which holds from other systems stop and which asks for a recent
//! authentication and the handle typed again.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use accounts::AccountError;

use super::csrf::csrf_form;
use super::error::AppError;
use super::panel::{Need, Panel};
use super::panel_api;
use super::principal::{ApiPanel, HolderRead, HolderWrite, RecentForm};
use super::problem::{ApiJson, ProblemType};
use crate::state::AppState;
use app::i18n::{Lang, t};
use app::seclog::Origin;
use views::components::Who;
use views::routes;

fn tr(lang: Lang, key: &str) -> &'static str {
    t(lang, &format!("page.gdpr.{key}"))
}

async fn data_page_markup(
    state: &AppState,
    p: &Panel,
    confirm_error: Option<&str>,
) -> Result<maud::Markup, AppError> {
    let holds = state.accounts.holds(p.account.id).await?;
    Ok(views::pages::gdpr::data_page(
        &views::pages::gdpr::DataView {
            lang: p.lang,
            who: Who::of(&p.account),
            csrf: &p.data.csrf,
            handle: &p.account.handle,
            holds: &holds,
            may_erase: p.require(Need::Holder).is_ok(),
            confirm_error,
        },
    ))
}

/// `GET /account/data`
pub async fn data_page(State(state): State<AppState>, p: Panel) -> Result<Response, AppError> {
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
    p: Panel,
    origin: Origin,
) -> Result<Response, AppError> {
    p.require(Need::Holder)?;
    let body = app::gdpr::export(&state, &p.account, &p.data.sid, &origin).await?;
    Ok(attachment(&p, body))
}

/// `GET /api/v1/account/export`
pub async fn export_api(
    State(state): State<AppState>,
    p: ApiPanel<HolderRead>,
    origin: Origin,
) -> Result<Response, AppError> {
    let body = app::gdpr::export(&state, &p.account, &p.data.sid, &origin).await?;
    Ok(attachment(&p, body))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EraseInput {
    csrf: String,
    confirm: String,
}

csrf_form!(EraseInput => routes::DATA);

/// `GET /account/erase`: the same page as "my data".
pub async fn erase_page() -> Redirect {
    Redirect::to(routes::DATA)
}

fn erased_response(state: &AppState, lang: Lang) -> Response {
    let page = views::components::message(lang, tr(lang, "erased_title"), tr(lang, "erased_text"));
    (
        super::cookies::end_session(&state.config),
        Html(page.into_string()),
    )
        .into_response()
}

/// `POST /account/erase`
pub async fn erase(
    State(state): State<AppState>,
    RecentForm { panel: p, form }: RecentForm<EraseInput>,
) -> Result<Response, AppError> {
    p.require(Need::Holder)?;
    let l = p.lang;
    match app::gdpr::erase_confirmed(&state, &p.account, &form.confirm).await {
        Ok(()) => Ok(erased_response(&state, l)),
        Err(app::AppError::NotConfirmed) => {
            let page = data_page_markup(&state, &p, Some(tr(l, "erase_confirm_wrong"))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response())
        }
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
    p: ApiPanel<HolderWrite>,
    ApiJson(input): ApiJson<EraseJson>,
) -> Result<Response, AppError> {
    let l = p.lang;
    if !app::authz::is_recent(&state, &p.data, &p.identity()).await? {
        return Ok(panel_api::error(
            StatusCode::FORBIDDEN,
            ProblemType::ReauthenticationRequired,
            tr(l, "reauth_needed"),
        ));
    }
    match app::gdpr::erase_confirmed(&state, &p.account, &input.confirm).await {
        Ok(()) => Ok(Json(json!({ "erased": true })).into_response()),
        Err(e) => erase_refused(l, e),
    }
}

/// Why an erasure asked through the API did not happen, as a problem.
fn erase_refused(l: Lang, e: app::AppError) -> Result<Response, AppError> {
    match e {
        app::AppError::NotConfirmed => Ok(panel_api::fields_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            tr(l, "erase_confirm_wrong"),
            &[(
                "confirm",
                "handle_mismatch",
                tr(l, "erase_confirm_wrong").into(),
            )],
        )),
        app::AppError::Account(AccountError::Held(kinds)) => Ok(super::problem::Problem::new(
            StatusCode::CONFLICT,
            ProblemType::Held,
            tr(l, "erase_held"),
        )
        .with("holds", serde_json::json!(kinds))
        .into_response()),
        e => Err(e.into()),
    }
}
