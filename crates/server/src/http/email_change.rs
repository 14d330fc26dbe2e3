//! `/account/email`: the holder changes the primary address. A code goes to
//! the current address first, then a second code to the new one; the
//! address changes only when both were entered, and the old address is told.
//! JSON twin under `/api/v1/account/email`.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use accounts::{AccountError, EmailChangeStage, EmailChangeStep, FieldError};

use super::csrf::csrf_form;
use super::error::AppError;
use super::extract::{ClientIp, UserAgent};
use super::panel::{Need, Panel};
use super::panel_json;
use super::principal::{ApiPanel, HolderRead, HolderWrite, PanelForm};
use super::problem::ApiJson;
use super::security::{is_recent, to_reauth};
use crate::state::AppState;
use app::seclog::Origin;
use views::components::Who;
use views::pages::panel::{self as panel_pages, EmailView};
use views::routes;

const BACK: &str = routes::EMAIL;

/// `?done=<address>` after a completed change.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
}

async fn render(
    state: &AppState,
    p: &Panel,
    typed: &str,
    errors: &[FieldError],
    done: Option<&str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let pending = app::email_change::pending(&state.app, p.account.id).await?;
    let view = EmailView {
        lang: p.lang,
        who: Who::of(&p.account),
        csrf: &p.data.csrf,
        current: p.account.primary_email.as_deref().unwrap_or(""),
        pending: pending.as_ref(),
        typed,
        errors,
        done,
    };
    Ok((status, Html(panel_pages::email(&view).into_string())).into_response())
}

/// Holder only, and a recent authentication: `Err` is the response.
async fn guard(state: &AppState, p: &Panel) -> Result<Option<Response>, AppError> {
    p.require(Need::Holder)?;
    if !is_recent(state, &p.data, &p.identity()).await? {
        return Ok(Some(to_reauth(BACK)));
    }
    Ok(None)
}

/// `GET /account/email`
pub async fn show(
    State(state): State<AppState>,
    p: Panel,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    if let Some(r) = guard(&state, &p).await? {
        return Ok(r);
    }
    // Only the address the account now has is echoed, never arbitrary text.
    let done = (!q.done.is_empty() && p.account.primary_email.as_deref() == Some(q.done.as_str()))
        .then_some(q.done.as_str());
    render(&state, &p, "", &[], done, StatusCode::OK).await
}

/// The first form: the new address.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StartForm {
    csrf: String,
    new_email: String,
}

/// Starts the change and mails the first code to the current address.
async fn start(state: &AppState, p: &Panel, new_email: &str) -> Result<(), AppError> {
    Ok(app::email_change::start(&state.app, &p.account, new_email).await?)
}

/// `POST /account/email`
pub async fn submit(
    State(state): State<AppState>,
    PanelForm { panel: p, form: f }: PanelForm<StartForm>,
) -> Result<Response, AppError> {
    if let Some(r) = guard(&state, &p).await? {
        return Ok(r);
    }
    match start(&state, &p, &f.new_email).await {
        Ok(()) => Ok(Redirect::to(BACK).into_response()),
        Err(AppError::Account(AccountError::Invalid(errors))) => {
            let typed: String = f.new_email.chars().take(254).collect();
            render(
                &state,
                &p,
                &typed,
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

/// The code form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

/// `POST /account/email/confirm`
pub async fn confirm(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    PanelForm { panel: p, form: f }: PanelForm<CodeForm>,
) -> Result<Response, AppError> {
    if let Some(r) = guard(&state, &p).await? {
        return Ok(r);
    }
    let origin = Origin::new(ip, &ua);
    match app::email_change::confirm(&state.app, &p.account, &f.code, origin).await {
        Ok(step) => Ok(match step {
            EmailChangeStep::SendToNew { .. } => Redirect::to(BACK).into_response(),
            EmailChangeStep::Done { account, .. } => {
                let to = account.primary_email.unwrap_or_default();
                let q: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("done", &to)
                    .finish();
                Redirect::to(&format!("{BACK}?{q}")).into_response()
            }
        }),
        Err(app::AppError::Account(AccountError::Invalid(errors))) => {
            render(
                &state,
                &p,
                "",
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// The token alone.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CancelForm {
    csrf: String,
}

/// `POST /account/email/cancel`
pub async fn cancel(
    State(state): State<AppState>,
    PanelForm { panel: p, .. }: PanelForm<CancelForm>,
) -> Result<Response, AppError> {
    p.require(Need::Holder)?;
    app::email_change::cancel(&state.app, p.account.id).await?;
    Ok(Redirect::to(BACK).into_response())
}

/// The pending change as JSON.
async fn status_json(state: &AppState, p: &Panel) -> Result<serde_json::Value, AppError> {
    let pending = app::email_change::pending(&state.app, p.account.id).await?;
    Ok(json!({
        "primary_email": p.account.primary_email,
        "pending": pending.map(|c| json!({
            "new_email": c.new_email,
            "waiting_for": match c.stage {
                EmailChangeStage::Current => "code_from_current_address",
                EmailChangeStage::New => "code_from_new_address",
            },
            "expires_at": c.expires_at.to_rfc3339(),
        })),
    }))
}

/// A JSON write by the holder (the extractors checked the role, the
/// anti-CSRF header and the body) needs a recent login.
async fn api_ready(state: &AppState, p: &Panel) -> Result<(), AppError> {
    if !is_recent(state, &p.data, &p.identity()).await? {
        return Err(AppError::Forbidden("page.email_change.reauth"));
    }
    Ok(())
}

/// `GET /api/v1/account/email`
pub async fn api_show(State(state): State<AppState>, p: ApiPanel<HolderRead>) -> Response {
    let run = async { Ok::<_, AppError>(Json(status_json(&state, &p).await?).into_response()) };
    panel_json::answer(p.lang, run.await)
}

/// `{"new_email": …}` or `{"code": …}`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ApiBody {
    new_email: String,
    code: String,
}

/// `POST /api/v1/account/email` with `{"new_email"}` starts a change;
/// `POST /api/v1/account/email/confirm` with `{"code"}` enters a code.
pub async fn api_start(
    State(state): State<AppState>,
    p: ApiPanel<HolderWrite>,
    ApiJson(b): ApiJson<ApiBody>,
) -> Response {
    let run = async {
        api_ready(&state, &p).await?;
        start(&state, &p, &b.new_email).await?;
        Ok::<_, AppError>(
            (StatusCode::ACCEPTED, Json(status_json(&state, &p).await?)).into_response(),
        )
    };
    panel_json::answer(p.lang, run.await)
}

/// `POST /api/v1/account/email/confirm`
pub async fn api_confirm(
    State(state): State<AppState>,
    p: ApiPanel<HolderWrite>,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    ApiJson(b): ApiJson<ApiBody>,
) -> Response {
    let run = async {
        api_ready(&state, &p).await?;
        let origin = Origin::new(ip, &ua);
        let step = app::email_change::confirm(&state.app, &p.account, &b.code, origin).await?;
        let answer = match step {
            EmailChangeStep::SendToNew { new_email, .. } => {
                json!({"done": false, "code_sent_to": new_email.as_str()})
            }
            EmailChangeStep::Done { account, .. } => {
                json!({"done": true, "primary_email": account.primary_email})
            }
        };
        Ok::<_, AppError>(Json(answer).into_response())
    };
    panel_json::answer(p.lang, run.await)
}

csrf_form!(StartForm => BACK);

csrf_form!(CodeForm => BACK);

csrf_form!(CancelForm => BACK);
