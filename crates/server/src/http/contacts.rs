//! Service contacts: handing the administrative, technical or billing
//! contact of a service to another customer, and answering such requests.
//!
//! Asking never tells whether a handle exists: a well-formed handle of no
//! other customer gets the answer a real one gets (and the same security-log
//! line), only a real holder is asked, and requests are limited per client
//! address and per handle asked ([`crate::limits`]) before any lookup.

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use accounts::contacts::{Asked, ContactRole, Delegation};
use accounts::{AccountError, DelegationStatus, EventKind, FieldError};

use super::csrf;
use super::error::AppError;
use super::extract::{ClientIp, CurrentSession, UserAgent};
use super::pages::{self, Who};
use super::panel::{Need, Panel};
use super::panel_api;
use super::problem::ProblemType;
use crate::i18n::{Lang, t};
use crate::limits::{self, Purpose};
use crate::seclog::{self, Origin};
use crate::state::AppState;
use crate::{api_panel_or_return, panel_or_return};

fn tr(lang: Lang, key: &str) -> &'static str {
    t(lang, &format!("page.contacts.{key}"))
}

fn problem_text(lang: Lang, e: &FieldError) -> &'static str {
    match e.problem.code() {
        c @ ("required" | "too_long" | "bad_characters" | "unknown_handle" | "handle_mismatch") => {
            tr(lang, &format!("problem_{c}"))
        }
        _ => tr(lang, "problem_unknown_kind"),
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct RequestInput {
    csrf: String,
    service: String,
    role: String,
    handle: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
}

fn render(
    p: &Panel,
    list: &[Delegation],
    input: &RequestInput,
    errors: &[FieldError],
    done: &str,
) -> String {
    let l = p.lang;
    let err = |f: &str| {
        errors
            .iter()
            .find(|e| e.field == f)
            .map(|e| problem_text(l, e))
    };
    let me = p.account.handle.as_str();
    let role_text = |r: &str| match ContactRole::parse(r) {
        Some(r) => tr(l, &format!("role_{}", r.as_str())),
        None => "",
    };
    pages::layout(
        l,
        tr(l, "title"),
        Some(Who::of(&p.account)),
        html! {
            h1 { (tr(l, "title")) }
            p.hint { (tr(l, "intro")) }
            @match done {
                "asked" => p.notice role="status" { (tr(l, "done_asked")) },
                "answered" => p.notice role="status" { (tr(l, "done_answered")) },
                "cancelled" => p.notice role="status" { (tr(l, "done_cancelled")) },
                _ => {},
            }
            @if list.is_empty() {
                p { (tr(l, "none")) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (tr(l, "col_service")) }
                        th scope="col" { (tr(l, "col_role")) }
                        th scope="col" { (tr(l, "col_from")) }
                        th scope="col" { (tr(l, "col_to")) }
                        th scope="col" { (tr(l, "col_status")) }
                        th scope="col" { (tr(l, "col_action")) }
                    } }
                    tbody { @for d in list {
                        tr.delegation {
                            td { (d.service) }
                            td { (role_text(&d.role)) }
                            td { (d.from_handle) }
                            td { (d.to_handle) }
                            td { (if d.status == DelegationStatus::Pending { tr(l, "status_pending") } else { tr(l, "status_accepted") }) }
                            td {
                                @if d.status == DelegationStatus::Pending && d.to_handle == me {
                                    form method="post" action={ "/account/contacts/" (d.id) "/answer" } {
                                        input type="hidden" name="csrf" value=(p.data.csrf);
                                        button type="submit" name="decision" value="accept" { (tr(l, "accept")) }
                                        " "
                                        button.link type="submit" name="decision" value="refuse" { (tr(l, "refuse")) }
                                    }
                                }
                                @if d.from_handle == me {
                                    form method="post" action={ "/account/contacts/" (d.id) "/cancel" } {
                                        input type="hidden" name="csrf" value=(p.data.csrf);
                                        button.link type="submit" { (tr(l, "cancel")) }
                                    }
                                }
                            }
                        }
                    } }
                }
            }
            h2 { (tr(l, "new_title")) }
            form method="post" action="/account/contacts" novalidate {
                input type="hidden" name="csrf" value=(p.data.csrf);
                label for="service" { (tr(l, "service_label")) }
                @if let Some(e) = err("service") {
                    input id="service" name="service" type="text" maxlength="100" value=(input.service) aria-invalid="true" aria-describedby="service-error";
                    p.field-error id="service-error" { (e) }
                } @else {
                    input id="service" name="service" type="text" maxlength="100" value=(input.service);
                }
                label for="role" { (tr(l, "role_label")) }
                select id="role" name="role" aria-describedby=[err("role").map(|_| "role-error")] {
                    @for r in ContactRole::ALL {
                        option value=(r.as_str()) selected[input.role == r.as_str()] { (tr(l, &format!("role_{}", r.as_str()))) }
                    }
                }
                @if let Some(e) = err("role") { p.field-error id="role-error" { (e) } }
                label for="handle" { (tr(l, "handle_label")) }
                @if let Some(e) = err("handle") {
                    input id="handle" name="handle" type="text" maxlength="32" value=(input.handle) aria-invalid="true" aria-describedby="handle-error";
                    p.field-error id="handle-error" { (e) }
                } @else {
                    input id="handle" name="handle" type="text" maxlength="32" value=(input.handle);
                }
                button type="submit" { (tr(l, "ask")) }
            }
        },
    )
    .into_string()
}

/// `GET /account/contacts`
pub async fn page(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let p = panel_or_return!(state, session, "/account/contacts");
    p.require(Need::Read)?;
    let list = state.accounts.contacts_of(p.account.id).await?;
    Ok(Html(render(&p, &list, &RequestInput::default(), &[], &q.done)).into_response())
}

/// `POST /account/contacts`
pub async fn request(
    State(state): State<AppState>,
    session: CurrentSession,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    form: Result<Form<RequestInput>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(input) = form.map_err(|r| AppError::unreadable(r.status()))?;
    let p = panel_or_return!(state, session, "/account/contacts");
    p.require(Need::Write)?;
    csrf::matches(&p.data.csrf, &input.csrf)?;
    limits::admit(
        &*state.store,
        &state.config.rates,
        Purpose::ContactRequest,
        ip,
        &input.handle,
    )
    .await?;
    match state
        .accounts
        .request_delegation(p.account.id, &input.service, &input.role, &input.handle)
        .await
    {
        Ok(asked) => {
            logged_ask(&state, &p, &asked, &Origin::new(ip, &ua)).await;
            Ok(Redirect::to("/account/contacts?done=asked").into_response())
        }
        Err(AccountError::Invalid(errors)) => {
            let list = state.accounts.contacts_of(p.account.id).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Html(render(&p, &list, &input, &errors, "")),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The security-log line of a request, from what the requester typed: the
/// same whether or not the handle has a holder.
async fn logged_ask(state: &AppState, p: &Panel, asked: &Asked, origin: &Origin) {
    let detail = format!(
        "asked: {} {} {} -> {}",
        asked.service,
        asked.role.as_str(),
        p.account.handle,
        asked.to_handle.as_str()
    );
    seclog::record(
        state,
        p.account.id,
        None,
        EventKind::ContactChanged,
        &detail,
        origin,
    )
    .await;
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AnswerInput {
    csrf: String,
    decision: String,
}

/// `POST /account/contacts/{id}/answer` (`decision=accept|refuse`)
pub async fn answer(
    State(state): State<AppState>,
    session: CurrentSession,
    Path(id): Path<i32>,
    form: Result<Form<AnswerInput>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(input) = form.map_err(|r| AppError::unreadable(r.status()))?;
    let p = panel_or_return!(state, session, "/account/contacts");
    p.require(Need::Write)?;
    csrf::matches(&p.data.csrf, &input.csrf)?;
    let accept = match input.decision.as_str() {
        "accept" => true,
        "refuse" => false,
        _ => {
            return Err(AppError::BadRequest(
                StatusCode::UNPROCESSABLE_ENTITY,
                tr(p.lang, "bad_decision").into(),
            ));
        }
    };
    state
        .accounts
        .answer_delegation(p.account.id, id, accept)
        .await?;
    Ok(Redirect::to("/account/contacts?done=answered").into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CsrfOnly {
    csrf: String,
}

/// `POST /account/contacts/{id}/cancel`
pub async fn cancel(
    State(state): State<AppState>,
    session: CurrentSession,
    Path(id): Path<i32>,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(input) = form.map_err(|r| AppError::unreadable(r.status()))?;
    let p = panel_or_return!(state, session, "/account/contacts");
    p.require(Need::Write)?;
    csrf::matches(&p.data.csrf, &input.csrf)?;
    state.accounts.cancel_delegation(p.account.id, id).await?;
    Ok(Redirect::to("/account/contacts?done=cancelled").into_response())
}

/// `GET /api/v1/account/contacts`
pub async fn list_api(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let p = api_panel_or_return!(state, session, headers, Need::Read, false);
    let list = state.accounts.contacts_of(p.account.id).await?;
    Ok(Json(json!({ "delegations": list })).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RequestJson {
    service: String,
    role: String,
    handle: String,
}

fn account_error_json(lang: Lang, e: AccountError) -> Result<Response, AppError> {
    match e {
        AccountError::Invalid(errors) => {
            let fields: Vec<(&str, &str, String)> = errors
                .iter()
                .map(|e| (e.field, e.problem.code(), problem_text(lang, e).to_owned()))
                .collect();
            Ok(panel_api::fields_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                tr(lang, "invalid"),
                &fields,
            ))
        }
        AccountError::NotFound => Ok(panel_api::error(
            StatusCode::NOT_FOUND,
            ProblemType::NotFound,
            tr(lang, "not_found"),
        )),
        AccountError::Conflict(m) => Ok(panel_api::error(
            StatusCode::CONFLICT,
            ProblemType::Conflict,
            m,
        )),
        other => Err(other.into()),
    }
}

/// `POST /api/v1/account/contacts` (`{"service", "role", "handle"}`)
pub async fn request_api(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    body: Result<Json<RequestJson>, JsonRejection>,
) -> Result<Response, AppError> {
    let p = api_panel_or_return!(state, session, headers, Need::Write, true);
    let Ok(Json(input)) = body else {
        return Ok(panel_api::error(
            StatusCode::BAD_REQUEST,
            ProblemType::InvalidBody,
            "Send a JSON object with service, role and handle.",
        ));
    };
    if let Err(e) = limits::admit(
        &*state.store,
        &state.config.rates,
        Purpose::ContactRequest,
        ip,
        &input.handle,
    )
    .await
    {
        return Ok(super::panel_json::from_app(p.lang, e.into()));
    }
    match state
        .accounts
        .request_delegation(p.account.id, &input.service, &input.role, &input.handle)
        .await
    {
        Ok(asked) => {
            logged_ask(&state, &p, &asked, &Origin::new(ip, &ua)).await;
            // 202 and no delegation: the same answer whether or not the
            // handle has a holder to ask.
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({ "status": "asked", "message": tr(p.lang, "done_asked") })),
            )
                .into_response())
        }
        Err(e) => account_error_json(p.lang, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AnswerJson {
    decision: String,
}

/// `POST /api/v1/account/contacts/{id}/answer` (`{"decision": "accept"|"refuse"}`)
pub async fn answer_api(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    Path(id): Path<i32>,
    body: Result<Json<AnswerJson>, JsonRejection>,
) -> Result<Response, AppError> {
    let p = api_panel_or_return!(state, session, headers, Need::Write, true);
    let accept = match body.map(|Json(b)| b.decision).unwrap_or_default().as_str() {
        "accept" => true,
        "refuse" => false,
        _ => {
            return Ok(panel_api::fields_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                tr(p.lang, "bad_decision"),
                &[("decision", "required", tr(p.lang, "bad_decision").into())],
            ));
        }
    };
    match state
        .accounts
        .answer_delegation(p.account.id, id, accept)
        .await
    {
        Ok(()) => Ok(
            Json(json!({ "status": if accept { "accepted" } else { "refused" } })).into_response(),
        ),
        Err(e) => account_error_json(p.lang, e),
    }
}

/// `POST /api/v1/account/contacts/{id}/cancel`
pub async fn cancel_api(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    Path(id): Path<i32>,
) -> Result<Response, AppError> {
    let p = api_panel_or_return!(state, session, headers, Need::Write, true);
    match state.accounts.cancel_delegation(p.account.id, id).await {
        Ok(()) => Ok(Json(json!({ "status": "cancelled" })).into_response()),
        Err(e) => account_error_json(p.lang, e),
    }
}
