//! The access parts of the security page: active sessions, connected
//! applications and the security log, each a page and a JSON twin.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::csrf::csrf_form;
use super::error::AppError;
use super::panel::{Need, Panel};
use super::panel_api;
use super::principal::{ApiPanel, OwnRead, OwnWrite, PanelForm, Read};
use super::problem::{ApiJson, ProblemType};
use crate::state::AppState;
use app::access;
use app::i18n::{Lang, t};
use app::seclog::Origin;
use views::components::Who;
use views::pages::security_panel as sp;
use views::routes;

fn tr(lang: Lang, key: &str) -> &'static str {
    t(lang, &format!("page.security_panel.{key}"))
}

fn frame(p: &Panel) -> sp::Frame<'_> {
    sp::Frame {
        lang: p.lang,
        who: Who::of(&p.account),
        csrf: &p.data.csrf,
    }
}

fn page(markup: maud::Markup) -> Response {
    Html(markup.into_string()).into_response()
}

fn done(to: &str, what: &str) -> Response {
    Redirect::to(&routes::with_query(to, &[("done", what)])).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
}

// ---- sessions ----

/// `GET /account/security/sessions`
pub async fn sessions_page(
    State(state): State<AppState>,
    p: Panel,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let list = access::sessions(&state, p.whom(), &p.data.sid).await?;
    Ok(page(sp::sessions(&frame(&p), &q.done, &list)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EndInput {
    csrf: String,
    handle: String,
}

csrf_form!(EndInput => routes::SESSIONS);

/// `POST /account/security/sessions/end`: ending your own session logs you out.
pub async fn end_session(
    State(state): State<AppState>,
    origin: Origin,
    PanelForm { panel: p, form }: PanelForm<EndInput>,
) -> Result<Response, AppError> {
    let own = form.handle == p.data.sid;
    if !access::end_session(&state, p.whom(), &form.handle, &origin).await? {
        return Ok(done(routes::SESSIONS, "gone"));
    }
    if own {
        return Ok(to_login(&state));
    }
    Ok(done(routes::SESSIONS, "ended"))
}

fn to_login(state: &AppState) -> Response {
    let cookie = super::cookies::end_session(&state.config);
    (cookie, Redirect::to(routes::LOGIN)).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EndAllInput {
    csrf: String,
}

csrf_form!(EndAllInput => routes::SESSIONS);

/// `POST /account/security/sessions/end-all`: every session (this one
/// too) and every refresh token.
pub async fn end_all(
    State(state): State<AppState>,
    origin: Origin,
    PanelForm { panel: p, .. }: PanelForm<EndAllInput>,
) -> Result<Response, AppError> {
    access::sign_out_everywhere(&state, p.whom(), &origin).await?;
    Ok(to_login(&state))
}

/// `GET /api/v1/account/sessions`
pub async fn sessions_api(
    State(state): State<AppState>,
    p: ApiPanel<OwnRead>,
) -> Result<Response, AppError> {
    let list = access::sessions(&state, p.whom(), &p.data.sid).await?;
    Ok(Json(json!({ "sessions": list })).into_response())
}

/// The name a JSON call gives of one thing (a session, a client), or the
/// 422 for one that is missing or longer than `max`, with `key`'s words on
/// the field.
fn one_name(
    p: &Panel,
    name: &str,
    field: &'static str,
    max: usize,
    key: &str,
) -> Result<(), Box<Response>> {
    if name.is_empty() || name.len() > max {
        return Err(Box::new(panel_api::fields_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("{field} is missing or longer than {max} characters."),
            &[(field, "required", tr(p.lang, key).into())],
        )));
    }
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EndJson {
    handle: String,
}

/// `POST /api/v1/account/sessions/end` (`{"handle": "..."}`)
pub async fn end_session_api(
    State(state): State<AppState>,
    p: ApiPanel<OwnWrite>,
    origin: Origin,
    ApiJson(input): ApiJson<EndJson>,
) -> Result<Response, AppError> {
    if let Err(refused) = one_name(&p, &input.handle, "handle", 64, "handle_required") {
        return Ok(*refused);
    }
    let own = input.handle == p.data.sid;
    if !access::end_session(&state, p.whom(), &input.handle, &origin).await? {
        return Ok(panel_api::error(
            StatusCode::NOT_FOUND,
            ProblemType::NotFound,
            tr(p.lang, "done_gone"),
        ));
    }
    Ok(Json(json!({ "ended": true, "signed_out": own })).into_response())
}

/// `POST /api/v1/account/sessions/end-all`
pub async fn end_all_api(
    State(state): State<AppState>,
    p: ApiPanel<OwnWrite>,
    origin: Origin,
) -> Result<Response, AppError> {
    access::sign_out_everywhere(&state, p.whom(), &origin).await?;
    Ok(Json(json!({ "signed_out": true })).into_response())
}

// ---- connected applications ----

/// `GET /account/security/apps`
pub async fn apps_page(
    State(state): State<AppState>,
    p: Panel,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let apps = access::connected_apps(&state, p.whom()).await?;
    Ok(page(sp::apps(&frame(&p), &q.done, &apps)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WithdrawInput {
    csrf: String,
    client_id: String,
}

csrf_form!(WithdrawInput => routes::APPS);

/// `POST /account/security/apps/withdraw`
pub async fn withdraw(
    State(state): State<AppState>,
    origin: Origin,
    PanelForm { panel: p, form }: PanelForm<WithdrawInput>,
) -> Result<Response, AppError> {
    let gone = !access::withdraw(&state, p.whom(), &form.client_id, &origin).await?;
    Ok(done(routes::APPS, if gone { "gone" } else { "withdrawn" }))
}

/// `GET /api/v1/account/apps`
pub async fn apps_api(
    State(state): State<AppState>,
    p: ApiPanel<OwnRead>,
) -> Result<Response, AppError> {
    let apps = access::connected_apps(&state, p.whom()).await?;
    Ok(Json(json!({ "apps": apps })).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WithdrawJson {
    client_id: String,
}

/// `POST /api/v1/account/apps/withdraw` (`{"client_id": "..."}`)
pub async fn withdraw_api(
    State(state): State<AppState>,
    p: ApiPanel<OwnWrite>,
    origin: Origin,
    ApiJson(input): ApiJson<WithdrawJson>,
) -> Result<Response, AppError> {
    let name = &input.client_id;
    if let Err(refused) = one_name(&p, name, "client_id", 128, "client_required") {
        return Ok(*refused);
    }
    if !access::withdraw(&state, p.whom(), &input.client_id, &origin).await? {
        return Ok(panel_api::error(
            StatusCode::NOT_FOUND,
            ProblemType::NotFound,
            tr(p.lang, "done_gone"),
        ));
    }
    Ok(Json(json!({ "withdrawn": true })).into_response())
}

// ---- security log ----

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageQuery {
    page: Option<u64>,
}

/// `GET /account/security/log?page=N`
pub async fn log_page(
    State(state): State<AppState>,
    p: Panel,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    p.require(Need::Read)?;
    let history = app::seclog::history(&state, p.account.id, q.page.unwrap_or(1)).await?;
    let by = |user_id: Option<i32>| match history.actor(user_id) {
        None => p.account.handle.clone(),
        Some(Some(login)) => login.to_owned(),
        Some(None) => tr(p.lang, "by_deleted").to_owned(),
    };
    Ok(page(sp::log(&frame(&p), &history.page, by)))
}

/// `GET /api/v1/account/security-log?page=N`
pub async fn log_api(
    State(state): State<AppState>,
    p: ApiPanel<Read>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let history = app::seclog::history(&state, p.account.id, q.page.unwrap_or(1)).await?;
    let page_ = history.page;
    let events: Vec<_> = page_.events.iter().map(app::seclog::event_json).collect();
    Ok(Json(json!({
        "events": events,
        "page": page_.page,
        "has_more": page_.has_more,
    }))
    .into_response())
}
