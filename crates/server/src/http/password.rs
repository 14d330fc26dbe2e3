//! `/account/password`: the current password, then the new one twice. On
//! success every other session of the account ends and its refresh tokens
//! are revoked; this browser stays signed in under a new session id, and a
//! notice goes to the primary address. JSON twin `PUT /api/v1/account/password`.

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use accounts::{AccountError, FieldError, FieldProblem, Secret};
use app::password::{Caller, PasswordChange};

use super::cookies;
use super::csrf;
use super::error::AppError;
use super::extract::{ClientIp, CurrentSession, UserAgent};
use super::panel::{Need, Panel};
use super::panel_json;
use crate::panel_or_return;
use crate::seclog::Origin;
use crate::state::AppState;
use views::components::Who;
use views::pages::panel as panel_pages;
use views::routes;

const BACK: &str = routes::PASSWORD;

/// `?done=1` after a change.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
}

fn page(state: &AppState, p: &Panel, errors: &[FieldError], done: bool) -> String {
    panel_pages::password(
        p.lang,
        Who::of(&p.account),
        &p.data.csrf,
        errors,
        state.accounts.policy().min_chars,
        done,
    )
    .into_string()
}

/// `GET /account/password`
pub async fn show(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let p = panel_or_return!(state, session, BACK);
    p.require(Need::Holder)?;
    Ok(Html(page(&state, &p, &[], q.done == "1")).into_response())
}

/// The three passwords.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    csrf: String,
    current_password: String,
    password: String,
    password_confirm: String,
}

/// The change itself, for the page and the API; returns the new session id
/// of this browser.
async fn change(
    state: &AppState,
    p: &Panel,
    ip: std::net::IpAddr,
    ua: &str,
    f: PasswordForm,
) -> Result<String, AppError> {
    let caller = Caller {
        session_id: &p.session_id,
        data: &p.data,
    };
    let fields = PasswordChange {
        current: Secret::new(f.current_password),
        new: Secret::new(f.password),
        confirm: Secret::new(f.password_confirm),
    };
    app::password::change(&state.app, &p.account, caller, Origin::new(ip, ua), fields)
        .await
        .map_err(|e| panel_json::password_error(p.lang, e))
}

fn with_session(state: &AppState, mut resp: Response, id: &str) -> Response {
    let cfg = &state.config;
    if let Ok(v) = cookies::set(cfg, cookies::session_name(cfg), id, "Lax").parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `POST /account/password`
pub async fn submit(
    State(state): State<AppState>,
    session: CurrentSession,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(|r| AppError::unreadable(r.status()))?;
    let p = panel_or_return!(state, session, BACK);
    p.require(Need::Holder)?;
    csrf::matches(&p.data.csrf, &f.csrf)?;
    match change(&state, &p, ip, &ua, f).await {
        Ok(id) => Ok(with_session(
            &state,
            Redirect::to(&format!("{BACK}?done=1")).into_response(),
            &id,
        )),
        Err(AppError::Account(AccountError::Invalid(errors))) => {
            let status = if errors
                .iter()
                .any(|e| e.problem == FieldProblem::WrongPassword)
            {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            Ok((status, Html(page(&state, &p, &errors, false))).into_response())
        }
        Err(e) => Err(e),
    }
}

/// `PUT /api/v1/account/password` with `{"current_password", "password",
/// "password_confirm"}` and `X-CSRF-Token`; the new session cookie comes back.
pub async fn api_change(
    State(state): State<AppState>,
    session: CurrentSession,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    headers: HeaderMap,
    body: Result<Json<PasswordForm>, JsonRejection>,
) -> Response {
    let p = match panel_json::panel(&state, session, BACK).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let run = async {
        p.require(Need::Holder)?;
        panel_json::check_csrf(&p, &headers)?;
        let Json(b) = body.map_err(|r| AppError::unreadable(r.status()))?;
        let id = change(&state, &p, ip, &ua, b).await?;
        Ok::<_, AppError>(with_session(
            &state,
            Json(json!({"changed": true, "other_sessions_ended": true})).into_response(),
            &id,
        ))
    };
    run.await
        .unwrap_or_else(|e| panel_json::from_app(p.lang, e))
}
