//! Service contacts: the `/account/contacts` page and its JSON twin. What a
//! request does (its limits, the security log, never telling whether a
//! handle exists) is the application's, in `app::contacts`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use accounts::contacts::Delegation;
use accounts::{AccountError, FieldError};

use super::csrf::csrf_form;
use super::error::AppError;
use super::extract::{ClientIp, UserAgent};
use super::panel::{Need, Panel};
use super::panel_api;
use super::principal::{ApiPanel, PanelForm, Read, Write};
use super::problem::{ApiJson, ProblemType};
use crate::state::AppState;
use app::i18n::{Lang, t};
use app::seclog::Origin;
use views::components::Who;
use views::pages::contacts::problem_text;
use views::routes;

fn tr(lang: Lang, key: &str) -> &'static str {
    t(lang, &format!("page.contacts.{key}"))
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct RequestInput {
    csrf: String,
    #[serde(flatten)]
    fields: RequestFields,
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
    views::pages::contacts::page(&views::pages::contacts::ContactsView {
        lang: p.lang,
        who: Who::of(&p.account),
        csrf: &p.data.csrf,
        me: &p.account.handle,
        list,
        typed: (
            &input.fields.service,
            &input.fields.role,
            &input.fields.handle,
        ),
        errors,
        done,
    })
    .into_string()
}

/// `GET /account/contacts`
pub async fn page(
    State(state): State<AppState>,
    p: Panel,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    p.require(Need::Read)?;
    let list = app::contacts::list(&state.app, p.account.id).await?;
    Ok(Html(render(&p, &list, &RequestInput::default(), &[], &q.done)).into_response())
}

/// `POST /account/contacts`
pub async fn request(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    PanelForm {
        panel: p,
        form: input,
    }: PanelForm<RequestInput>,
) -> Result<Response, AppError> {
    p.require(Need::Write)?;
    match ask(&state, &p, ip, &ua, input.fields.asked()).await {
        Ok(_) => Ok(
            Redirect::to(&routes::with_query(routes::CONTACTS, &[("done", "asked")]))
                .into_response(),
        ),
        Err(app::AppError::Account(AccountError::Invalid(errors))) => {
            let list = app::contacts::list(&state.app, p.account.id).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Html(render(&p, &list, &input, &errors, "")),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// A request for a service contact, from a page or its JSON twin.
async fn ask(
    state: &AppState,
    p: &Panel,
    ip: std::net::IpAddr,
    ua: &str,
    r: app::contacts::Request<'_>,
) -> Result<accounts::contacts::Asked, app::AppError> {
    app::contacts::request(&state.app, &p.account, ip, &Origin::new(ip, ua), r).await
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
    Path(id): Path<i32>,
    PanelForm {
        panel: p,
        form: input,
    }: PanelForm<AnswerInput>,
) -> Result<Response, AppError> {
    p.require(Need::Write)?;
    let Some(accept) = app::contacts::decision(&input.decision) else {
        return Err(AppError::BadRequest(
            StatusCode::UNPROCESSABLE_ENTITY,
            tr(p.lang, "bad_decision").into(),
        ));
    };
    app::contacts::answer(&state.app, p.account.id, id, accept).await?;
    Ok(Redirect::to(&routes::with_query(
        routes::CONTACTS,
        &[("done", "answered")],
    ))
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CsrfOnly {
    csrf: String,
}

/// `POST /account/contacts/{id}/cancel`
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<i32>,
    PanelForm { panel: p, .. }: PanelForm<CsrfOnly>,
) -> Result<Response, AppError> {
    p.require(Need::Write)?;
    app::contacts::cancel(&state.app, p.account.id, id).await?;
    Ok(Redirect::to(&routes::with_query(
        routes::CONTACTS,
        &[("done", "cancelled")],
    ))
    .into_response())
}

/// `GET /api/v1/account/contacts`
pub async fn list_api(
    State(state): State<AppState>,
    p: ApiPanel<Read>,
) -> Result<Response, AppError> {
    let list = app::contacts::list(&state.app, p.account.id).await?;
    Ok(Json(json!({ "delegations": list })).into_response())
}

/// A contact request's fields: the JSON twin's body, and the page's form
/// beside its anti-CSRF field.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct RequestFields {
    service: String,
    role: String,
    handle: String,
}

impl RequestFields {
    fn asked(&self) -> app::contacts::Request<'_> {
        app::contacts::Request {
            service: &self.service,
            role: &self.role,
            handle: &self.handle,
        }
    }
}

/// A refused call of a JSON twin: the domain's refusals as problems, a
/// request limit as the page's problem, anything else as the error page.
fn error_json(lang: Lang, e: app::AppError) -> Result<Response, AppError> {
    let e = match e {
        app::AppError::Account(a) => a,
        other => return Ok(super::panel_json::from_app(lang, other.into())),
    };
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
    p: ApiPanel<Write>,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    ApiJson(input): ApiJson<RequestFields>,
) -> Result<Response, AppError> {
    match ask(&state, &p, ip, &ua, input.asked()).await {
        Ok(_) => {
            // 202 and no delegation: the same answer whether or not the
            // handle has a holder to ask.
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({ "status": "asked", "message": tr(p.lang, "done_asked") })),
            )
                .into_response())
        }
        Err(e) => error_json(p.lang, e),
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
    p: ApiPanel<Write>,
    Path(id): Path<i32>,
    ApiJson(body): ApiJson<AnswerJson>,
) -> Result<Response, AppError> {
    let Some(accept) = app::contacts::decision(&body.decision) else {
        return Ok(panel_api::fields_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            tr(p.lang, "bad_decision"),
            &[("decision", "required", tr(p.lang, "bad_decision").into())],
        ));
    };
    match app::contacts::answer(&state.app, p.account.id, id, accept).await {
        Ok(()) => Ok(
            Json(json!({ "status": if accept { "accepted" } else { "refused" } })).into_response(),
        ),
        Err(e) => error_json(p.lang, e),
    }
}

/// `POST /api/v1/account/contacts/{id}/cancel`
pub async fn cancel_api(
    State(state): State<AppState>,
    p: ApiPanel<Write>,
    Path(id): Path<i32>,
) -> Result<Response, AppError> {
    match app::contacts::cancel(&state.app, p.account.id, id).await {
        Ok(()) => Ok(Json(json!({ "status": "cancelled" })).into_response()),
        Err(e) => error_json(p.lang, e),
    }
}

csrf_form!(RequestInput => routes::CONTACTS);

csrf_form!(AnswerInput => routes::CONTACTS);

csrf_form!(CsrfOnly => routes::CONTACTS);
