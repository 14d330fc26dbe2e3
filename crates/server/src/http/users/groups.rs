//! The account's groups: the forms on the users page and their JSON twins
//! under `/api/v1/account/groups`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{ApiError, UsersCaller};
use super::invalid_status;
use super::pages::{ListForms, TokenForm, back_to, manage_refused, refused_page, render_list};
use super::{by, clip, group_json};
use crate::http::csrf::csrf_form;
use crate::http::error::AppError;
use crate::http::panel::Panel;
use crate::http::principal::{Manage, PanelForm, Read};
use crate::http::problem::ApiJson;
use crate::state::AppState;
use views::routes;

/// The list page again after a refused group change, or the refusal.
async fn refused(
    state: &AppState,
    p: &Panel,
    e: app::AppError,
    group_values: (String, String),
) -> Result<Response, AppError> {
    match refused_page(p, e)? {
        Ok(group_errors) => {
            let status = invalid_status(&group_errors);
            let forms = ListForms {
                group_errors,
                group_values,
                ..Default::default()
            };
            render_list(state, p, status, forms).await
        }
        Err(r) => Ok(r),
    }
}

/// The group form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct GroupForm {
    csrf: String,
    name: String,
    role: String,
}

/// `POST /account/groups`
pub async fn create_group(
    State(state): State<AppState>,
    PanelForm { panel: p, form: f }: PanelForm<GroupForm>,
) -> Result<Response, AppError> {
    if let Some(r) = manage_refused(&p) {
        return Ok(r);
    }
    match app::users::create_group(&state.app, by(&p), &f.name, &f.role).await {
        Ok(g) => Ok(back_to("group-created", "", &g.name)),
        Err(e) => refused(&state, &p, e, (clip(&f.name), clip(&f.role))).await,
    }
}

/// `POST /account/groups/{name}/delete`
pub async fn delete_group(
    State(state): State<AppState>,
    Path(name): Path<String>,
    PanelForm { panel: p, .. }: PanelForm<TokenForm>,
) -> Result<Response, AppError> {
    if let Some(r) = manage_refused(&p) {
        return Ok(r);
    }
    match app::users::delete_group(&state.app, by(&p), &name).await {
        Ok(()) => Ok(back_to(
            "group-deleted",
            "",
            &clip(&name).to_ascii_uppercase(),
        )),
        Err(e) => refused(&state, &p, e, Default::default()).await,
    }
}

/// `GET /api/v1/account/groups`
pub async fn api_groups(
    State(state): State<AppState>,
    p: UsersCaller<Read>,
) -> Result<Response, ApiError> {
    let groups = state
        .accounts
        .list_groups(p.account.id)
        .await
        .map_err(AppError::from)?;
    let list: Vec<Value> = groups.iter().map(group_json).collect();
    Ok(Json(json!({ "groups": list })).into_response())
}

/// The body of `POST /api/v1/account/groups`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct GroupBody {
    name: String,
    role: String,
}

/// `POST /api/v1/account/groups`: 201 with the group.
pub async fn api_create_group(
    State(state): State<AppState>,
    p: UsersCaller<Manage>,
    ApiJson(b): ApiJson<GroupBody>,
) -> Result<Response, ApiError> {
    let g = app::users::create_group(&state.app, by(&p), &b.name, &b.role)
        .await
        .map_err(|e| ApiError::from_app(p.lang, e))?;
    Ok((StatusCode::CREATED, Json(group_json(&g))).into_response())
}

/// `DELETE /api/v1/account/groups/{name}`: 204.
pub async fn api_delete_group(
    State(state): State<AppState>,
    Path(name): Path<String>,
    p: UsersCaller<Manage>,
) -> Result<Response, ApiError> {
    app::users::delete_group(&state.app, by(&p), &name)
        .await
        .map_err(|e| ApiError::from_app(p.lang, e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

csrf_form!(GroupForm => routes::USERS);
