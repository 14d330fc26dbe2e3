//! The access parts of the security page: active sessions, connected
//! applications and the security log, each a page and a JSON twin.

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use accounts::Events;

use super::csrf;
use super::error::AppError;
use super::extract::{ClientIp, CurrentSession, UserAgent};
use super::panel::{Need, Panel};
use super::panel_api;
use super::problem::ProblemType;
use crate::access;
use crate::i18n::{Lang, t};
use crate::seclog::Origin;
use crate::state::AppState;
use crate::{api_panel_or_return, panel_or_return};
use views::components::Who;
use views::pages::security_panel as sp;
use views::routes;

fn tr(lang: Lang, key: &str) -> &'static str {
    t(lang, &format!("page.security_panel.{key}"))
}

fn form_error(r: FormRejection) -> AppError {
    AppError::unreadable(r.status())
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

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
}

// ---- sessions ----

/// `GET /account/security/sessions`
pub async fn sessions_page(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let p = panel_or_return!(state, session, routes::SESSIONS);
    p.require(Need::Own)?;
    let list = access::sessions(&state, p.whom(), &p.data.sid).await?;
    Ok(page(sp::sessions(&frame(&p), &q.done, &list)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EndInput {
    csrf: String,
    handle: String,
}

/// `POST /account/security/sessions/end`: ending your own session logs you out.
pub async fn end_session(
    State(state): State<AppState>,
    session: CurrentSession,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    form: Result<Form<EndInput>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(input) = form.map_err(form_error)?;
    let p = panel_or_return!(state, session, routes::SESSIONS);
    p.require(Need::Own)?;
    csrf::matches(&p.data.csrf, &input.csrf)?;
    let origin = Origin::new(ip, &ua);
    let own = input.handle == p.data.sid;
    if !access::end_session(&state, p.whom(), &input.handle, &origin).await? {
        return Ok(
            Redirect::to(&routes::with_query(routes::SESSIONS, &[("done", "gone")]))
                .into_response(),
        );
    }
    if own {
        return Ok(to_login(&state));
    }
    Ok(Redirect::to(&routes::with_query(routes::SESSIONS, &[("done", "ended")])).into_response())
}

fn to_login(state: &AppState) -> Response {
    let mut resp = Redirect::to(routes::LOGIN).into_response();
    let cfg = &state.config;
    if let Ok(v) = super::cookies::clear(cfg, super::cookies::session_name(cfg)).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CsrfOnly {
    csrf: String,
}

/// `POST /account/security/sessions/end-all`: every session (this one
/// too) and every refresh token.
pub async fn end_all(
    State(state): State<AppState>,
    session: CurrentSession,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(input) = form.map_err(form_error)?;
    let p = panel_or_return!(state, session, routes::SESSIONS);
    p.require(Need::Own)?;
    csrf::matches(&p.data.csrf, &input.csrf)?;
    access::sign_out_everywhere(&state, p.whom(), &Origin::new(ip, &ua)).await?;
    Ok(to_login(&state))
}

/// `GET /api/v1/account/sessions`
pub async fn sessions_api(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let p = api_panel_or_return!(state, session, headers, Need::Own, false);
    let list = access::sessions(&state, p.whom(), &p.data.sid).await?;
    Ok(Json(json!({ "sessions": list })).into_response())
}

/// The body of a JSON call that names one thing (a session, a client): the
/// object, or the 400 for unreadable JSON, or the 422 for a name that is
/// missing or longer than `max`, with `key`'s words on the field.
fn one_name<T>(
    p: &Panel,
    body: Result<Json<T>, JsonRejection>,
    field: &'static str,
    max: usize,
    key: &str,
    name: impl Fn(&T) -> &str,
) -> Result<T, Box<Response>> {
    let Ok(Json(input)) = body else {
        return Err(Box::new(panel_api::error(
            StatusCode::BAD_REQUEST,
            ProblemType::InvalidBody,
            &format!("Send a JSON object with a {field}."),
        )));
    };
    let n = name(&input);
    if n.is_empty() || n.len() > max {
        return Err(Box::new(panel_api::fields_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("{field} is missing or longer than {max} characters."),
            &[(field, "required", tr(p.lang, key).into())],
        )));
    }
    Ok(input)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EndJson {
    handle: String,
}

/// `POST /api/v1/account/sessions/end` (`{"handle": "..."}`)
pub async fn end_session_api(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    body: Result<Json<EndJson>, JsonRejection>,
) -> Result<Response, AppError> {
    let p = api_panel_or_return!(state, session, headers, Need::Own, true);
    let input = match one_name(&p, body, "handle", 64, "handle_required", |i: &EndJson| {
        &i.handle
    }) {
        Ok(input) => input,
        Err(refused) => return Ok(*refused),
    };
    let own = input.handle == p.data.sid;
    if !access::end_session(&state, p.whom(), &input.handle, &Origin::new(ip, &ua)).await? {
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
    session: CurrentSession,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
) -> Result<Response, AppError> {
    let p = api_panel_or_return!(state, session, headers, Need::Own, true);
    access::sign_out_everywhere(&state, p.whom(), &Origin::new(ip, &ua)).await?;
    Ok(Json(json!({ "signed_out": true })).into_response())
}

// ---- connected applications ----

/// `GET /account/security/apps`
pub async fn apps_page(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let p = panel_or_return!(state, session, routes::APPS);
    p.require(Need::Own)?;
    let apps = access::connected_apps(&state, p.whom()).await?;
    Ok(page(sp::apps(&frame(&p), &q.done, &apps)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WithdrawInput {
    csrf: String,
    client_id: String,
}

/// `POST /account/security/apps/withdraw`
pub async fn withdraw(
    State(state): State<AppState>,
    session: CurrentSession,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    form: Result<Form<WithdrawInput>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(input) = form.map_err(form_error)?;
    let p = panel_or_return!(state, session, routes::APPS);
    p.require(Need::Own)?;
    csrf::matches(&p.data.csrf, &input.csrf)?;
    let done =
        if access::withdraw(&state, p.whom(), &input.client_id, &Origin::new(ip, &ua)).await? {
            "withdrawn"
        } else {
            "gone"
        };
    Ok(Redirect::to(&routes::with_query(routes::APPS, &[("done", done)])).into_response())
}

/// `GET /api/v1/account/apps`
pub async fn apps_api(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let p = api_panel_or_return!(state, session, headers, Need::Own, false);
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
    session: CurrentSession,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    body: Result<Json<WithdrawJson>, JsonRejection>,
) -> Result<Response, AppError> {
    let p = api_panel_or_return!(state, session, headers, Need::Own, true);
    let input = match one_name(
        &p,
        body,
        "client_id",
        128,
        "client_required",
        |i: &WithdrawJson| &i.client_id,
    ) {
        Ok(input) => input,
        Err(refused) => return Ok(*refused),
    };
    if !access::withdraw(&state, p.whom(), &input.client_id, &Origin::new(ip, &ua)).await? {
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
    session: CurrentSession,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let p = panel_or_return!(state, session, routes::SECURITY_LOG);
    p.require(Need::Read)?;
    let l = p.lang;
    let n = q.page.unwrap_or(1).clamp(1, 10_000);
    let page_ = Events::page(state.accounts.db(), p.account.id, n, state.clock.now()).await?;
    // Who acted: the holder, or a local user named by their ID; a user since
    // deleted is still shown as such rather than passed off as the holder.
    let users = state.accounts.list_users(p.account.id).await?;
    let by = |user_id: Option<i32>| match user_id {
        None => p.account.handle.clone(),
        Some(id) => users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.login.clone())
            .unwrap_or_else(|| tr(l, "by_deleted").to_owned()),
    };
    Ok(page(sp::log(&frame(&p), &page_, by)))
}

/// `GET /api/v1/account/security-log?page=N`
pub async fn log_api(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let p = api_panel_or_return!(state, session, headers, Need::Read, false);
    let n = q.page.unwrap_or(1).clamp(1, 10_000);
    let page_ = Events::page(state.accounts.db(), p.account.id, n, state.clock.now()).await?;
    let events: Vec<_> = page_
        .events
        .iter()
        .map(|e| {
            json!({
                "kind": e.kind,
                "detail": e.detail,
                "ip": e.ip,
                "user_agent": e.user_agent,
                "user_id": e.user_id,
                "at": e.at,
            })
        })
        .collect();
    Ok(Json(json!({
        "events": events,
        "page": page_.page,
        "has_more": page_.has_more,
    }))
    .into_response())
}
