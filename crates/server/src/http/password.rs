//! `/account/password`: the current password, then the new one twice. On
//! success every other session of the account ends and its refresh tokens
//! are revoked; this browser stays signed in under a new session id, and a
//! notice goes to the primary address. JSON twin `PUT /api/v1/account/password`.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use accounts::{AccountError, FieldError, FieldProblem};
use app::password::{Caller, PasswordChange};

use super::csrf::csrf_form;
use super::error::AppError;
use super::extract::{ClientIp, UserAgent};
use super::panel::{Need, Panel};
use super::panel_json::{self, with_session};
use super::principal::{ApiPanel, HolderWrite, PanelForm};
use super::problem::ApiJson;
use crate::state::AppState;
use app::seclog::Origin;
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
    p: Panel,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
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

impl PasswordForm {
    /// The three passwords, for the application to check.
    pub(super) fn into_change(self) -> PasswordChange {
        PasswordChange::new(self.current_password, self.password, self.password_confirm)
    }
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
    let fields = f.into_change();
    app::password::change(&state.app, &p.account, caller, Origin::new(ip, ua), fields)
        .await
        .map_err(|e| panel_json::password_error(p.lang, e))
}

/// `POST /account/password`
pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    PanelForm { panel: p, form: f }: PanelForm<PasswordForm>,
) -> Result<Response, AppError> {
    p.require(Need::Holder)?;
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
    p: ApiPanel<HolderWrite>,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    ApiJson(b): ApiJson<PasswordForm>,
) -> Response {
    let run = async {
        let id = change(&state, &p, ip, &ua, b).await?;
        Ok::<_, AppError>(with_session(
            &state,
            Json(json!({"changed": true, "other_sessions_ended": true})).into_response(),
            &id,
        ))
    };
    panel_json::answer(p.lang, run.await)
}

csrf_form!(PasswordForm => BACK);
