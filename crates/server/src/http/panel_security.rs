//! The access parts of the security page: active sessions, connected
//! applications and the security log, each a page and a JSON twin.

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use accounts::{EventKind, Events};

use super::csrf;
use super::error::AppError;
use super::extract::{ClientIp, CurrentSession, UserAgent};
use super::pages::{self, Who};
use super::panel::{Need, Panel};
use super::panel_api;
use super::problem::ProblemType;
use crate::access;
use crate::i18n::{self, Lang, t};
use crate::seclog::Origin;
use crate::state::AppState;
use crate::{api_panel_or_return, panel_or_return};

fn tr(lang: Lang, key: &str) -> &'static str {
    t(lang, &format!("page.security_panel.{key}"))
}

/// A Unix time in the page's language.
fn when_unix(lang: Lang, secs: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0)
        .map(|d| when(lang, d))
        .unwrap_or_default()
}

fn when(lang: Lang, d: chrono::DateTime<chrono::Utc>) -> String {
    d.format(tr(lang, "when")).to_string()
}

fn form_error(r: FormRejection) -> AppError {
    AppError::unreadable(r.status())
}

fn page(p: &Panel, title: &str, body: Markup) -> Response {
    Html(pages::layout(p.lang, title, Some(Who::of(&p.account)), body).into_string())
        .into_response()
}

/// Links between the security and data pages.
pub(super) fn nav(lang: Lang) -> Markup {
    html! {
        nav.links aria-label=(tr(lang, "nav_label")) {
            a href="/account/security" { (tr(lang, "nav_security")) } " · "
            a href="/account/security/sessions" { (tr(lang, "nav_sessions")) } " · "
            a href="/account/security/apps" { (tr(lang, "nav_apps")) } " · "
            a href="/account/security/log" { (tr(lang, "nav_log")) } " · "
            a href="/account/data" { (tr(lang, "nav_data")) } " · "
            a href="/account/contacts" { (tr(lang, "nav_contacts")) }
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
}

fn done_notice(lang: Lang, done: &str) -> Option<&'static str> {
    match done {
        "ended" => Some(tr(lang, "done_ended")),
        "withdrawn" => Some(tr(lang, "done_withdrawn")),
        "gone" => Some(tr(lang, "done_gone")),
        _ => None,
    }
}

// ---- sessions ----

/// `GET /account/security/sessions`
pub async fn sessions_page(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let p = panel_or_return!(state, session, "/account/security/sessions");
    p.require(Need::Own)?;
    let l = p.lang;
    let list = access::sessions(&state, p.whom(), &p.data.sid).await?;
    let body = html! {
        h1 { (tr(l, "sessions_title")) }
        (nav(l))
        @if let Some(n) = done_notice(l, &q.done) { p.notice role="status" { (n) } }
        p.hint { (tr(l, "sessions_intro")) }
        table {
            caption.hint { (tr(l, "sessions_caption")) }
            thead { tr {
                th scope="col" { (tr(l, "col_device")) }
                th scope="col" { (tr(l, "col_ip")) }
                th scope="col" { (tr(l, "col_opened")) }
                th scope="col" { (tr(l, "col_last_seen")) }
                th scope="col" { span.visually-hidden { (tr(l, "col_action")) } }
            } }
            tbody {
                @for s in &list {
                    tr {
                        td {
                            span title=(s.user_agent) { (s.device) }
                            @if s.current { " " strong.current { (tr(l, "this_session")) } }
                        }
                        td { (s.ip) }
                        td { (when_unix(l, s.opened)) }
                        td { (when_unix(l, s.last_seen)) }
                        td {
                            form method="post" action="/account/security/sessions/end" {
                                input type="hidden" name="csrf" value=(p.data.csrf);
                                input type="hidden" name="handle" value=(s.handle);
                                button.link type="submit" { (tr(l, "end_session")) }
                            }
                        }
                    }
                }
            }
        }
        form method="post" action="/account/security/sessions/end-all" {
            input type="hidden" name="csrf" value=(p.data.csrf);
            p.hint { (tr(l, "end_all_hint")) }
            button type="submit" { (tr(l, "end_all")) }
        }
    };
    Ok(page(&p, tr(l, "sessions_title"), body))
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
    let p = panel_or_return!(state, session, "/account/security/sessions");
    p.require(Need::Own)?;
    csrf::matches(&p.data.csrf, &input.csrf)?;
    let origin = Origin::new(ip, &ua);
    let own = input.handle == p.data.sid;
    if !access::end_session(&state, p.whom(), &input.handle, &origin).await? {
        return Ok(Redirect::to("/account/security/sessions?done=gone").into_response());
    }
    if own {
        return Ok(to_login(&state));
    }
    Ok(Redirect::to("/account/security/sessions?done=ended").into_response())
}

fn to_login(state: &AppState) -> Response {
    let mut resp = Redirect::to("/login").into_response();
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
    let p = panel_or_return!(state, session, "/account/security/sessions");
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

/// Plain words for a scope, in the page's language.
pub fn scope_words(lang: Lang, scope: &str) -> String {
    match scope {
        "openid" | "profile" | "email" | "offline_access" | "customer" => {
            tr(lang, &format!("scope_{scope}")).to_owned()
        }
        other => i18n::format(tr(lang, "scope_other"), &[("scope", other)]),
    }
}

/// `GET /account/security/apps`
pub async fn apps_page(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let p = panel_or_return!(state, session, "/account/security/apps");
    p.require(Need::Own)?;
    let l = p.lang;
    let apps = access::connected_apps(&state, p.whom()).await?;
    let body = html! {
        h1 { (tr(l, "apps_title")) }
        (nav(l))
        @if let Some(n) = done_notice(l, &q.done) { p.notice role="status" { (n) } }
        @if apps.is_empty() {
            p { (tr(l, "apps_none")) }
        } @else {
            p.hint { (tr(l, "apps_intro")) }
            @for a in &apps {
                section.app {
                    h2 { (a.name) }
                    p.hint { (i18n::format(tr(l, "granted_at"), &[("when", &when(l, a.granted_at))])) }
                    ul { @for s in &a.scopes { li { (scope_words(l, s)) } } }
                    form method="post" action="/account/security/apps/withdraw" {
                        input type="hidden" name="csrf" value=(p.data.csrf);
                        input type="hidden" name="client_id" value=(a.client_id);
                        button type="submit" { (tr(l, "withdraw")) }
                    }
                }
            }
        }
    };
    Ok(page(&p, tr(l, "apps_title"), body))
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
    let p = panel_or_return!(state, session, "/account/security/apps");
    p.require(Need::Own)?;
    csrf::matches(&p.data.csrf, &input.csrf)?;
    let done =
        if access::withdraw(&state, p.whom(), &input.client_id, &Origin::new(ip, &ua)).await? {
            "withdrawn"
        } else {
            "gone"
        };
    Ok(Redirect::to(&format!("/account/security/apps?done={done}")).into_response())
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

fn kind_text(lang: Lang, kind: &str) -> String {
    match EventKind::parse(kind) {
        Some(k) => tr(lang, &format!("event_{}", k.as_str())).to_owned(),
        None => kind.to_owned(),
    }
}

/// `GET /account/security/log?page=N`
pub async fn log_page(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let p = panel_or_return!(state, session, "/account/security/log");
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
    let body = html! {
        h1 { (tr(l, "log_title")) }
        (nav(l))
        p.hint { (tr(l, "log_intro")) }
        @if page_.events.is_empty() {
            p { (tr(l, "log_none")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (tr(l, "col_when")) }
                    th scope="col" { (tr(l, "col_event")) }
                    th scope="col" { (tr(l, "col_detail")) }
                    th scope="col" { (tr(l, "col_by")) }
                    th scope="col" { (tr(l, "col_ip")) }
                    th scope="col" { (tr(l, "col_device")) }
                } }
                tbody {
                    @for e in &page_.events {
                        tr.event data-kind=(e.kind) {
                            td { (when(l, e.at)) }
                            td { (kind_text(l, &e.kind)) }
                            td { (e.detail) }
                            td.by { (by(e.user_id)) }
                            td { (e.ip) }
                            td { @if !e.user_agent.is_empty() { (access::device_of(&e.user_agent)) } }
                        }
                    }
                }
            }
        }
        // Pagination only when there is somewhere to go: an empty paragraph
        // is noise to a screen reader.
        @if page_.page > 1 || page_.has_more {
            p.links {
                @if page_.page > 1 {
                    a rel="prev" href={ "/account/security/log?page=" (page_.page - 1) } { (tr(l, "newer")) }
                    " "
                }
                @if page_.has_more {
                    a rel="next" href={ "/account/security/log?page=" (page_.page + 1) } { (tr(l, "older")) }
                }
            }
        }
    };
    Ok(page(&p, tr(l, "log_title"), body))
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
