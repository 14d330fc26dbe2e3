//! The users' JSON twins: `/api/v1/account/users` and its members.

use std::marker::PhantomData;
use std::ops::Deref;

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use accounts::{AccountError, FieldProblem, NewUser, Secret, UserChanges, UserStatus};

use super::{by, need_key, refusal_key, user_json};
use crate::http::error::AppError;
use crate::http::panel::{Actor, Panel};
use crate::http::principal::{Manage, OwnRead, Read, Refused, Requirement, json_caller};
use crate::http::problem::{ApiJson, Problem, ProblemType};
use crate::state::AppState;
use app::i18n::{Lang, t};
use app::seclog::Origin;
use views::pages::users::problem_text;

/// A refusal of the users API: a problem (RFC 9457) with its status.
pub struct ApiError(Problem);

impl ApiError {
    pub(super) fn new(status: StatusCode, kind: ProblemType, message: impl Into<String>) -> Self {
        Self(Problem::new(status, kind, message))
    }

    fn from_account(lang: Lang, e: AccountError) -> Self {
        match e {
            AccountError::Invalid(errors) => {
                let fields = errors
                    .iter()
                    .map(|e| crate::http::problem::FieldProblem {
                        field: e.field.to_owned(),
                        code: e.problem.code().to_owned(),
                        detail: problem_text(lang, &e.problem),
                    })
                    .collect();
                let status = super::invalid_status(&errors);
                let kind = if status == StatusCode::CONFLICT {
                    ProblemType::Conflict
                } else {
                    ProblemType::InvalidRequest
                };
                Self(
                    Problem::new(status, kind, t(lang, "page.users.errors_above"))
                        .with_errors(fields),
                )
            }
            AccountError::NotPermitted(r) => Self::new(
                StatusCode::FORBIDDEN,
                ProblemType::Forbidden,
                t(lang, refusal_key(r)),
            ),
            AccountError::NotFound => Self::new(
                StatusCode::NOT_FOUND,
                ProblemType::NotFound,
                t(lang, "page.users.refused.not_found"),
            ),
            other => Self::internal(AppError::from(other)),
        }
    }

    /// What the application layer refused, in `lang`.
    pub(super) fn from_app(lang: Lang, e: app::AppError) -> Self {
        match e {
            app::AppError::Account(a) => Self::from_account(lang, a),
            other => Self::internal(page_error(lang, other)),
        }
    }

    /// Store or database failures: the status the page error would have,
    /// logged once there, and a generic detail.
    fn internal(e: AppError) -> Self {
        if let AppError::BadRequest(status, message) = e {
            // Refused before anything was checked (too many attempts).
            return Self::new(status, ProblemType::of_status(status), message);
        }
        let status = e.into_response().status();
        Self::new(
            status,
            ProblemType::of_status(status),
            "Nothing was changed; please try again.",
        )
    }
}

pub(super) use crate::http::panel_json::password_error as page_error;

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

/// The caller of a users-API route: signed in (else 401 in JSON, never a
/// redirect), allowed what `R` needs, and for a write with the session's
/// token in `X-CSRF-Token`. Every refusal is one of this API's problems.
pub struct UsersCaller<R>(pub Panel, PhantomData<R>);

impl<R> Deref for UsersCaller<R> {
    type Target = Panel;

    fn deref(&self) -> &Panel {
        &self.0
    }
}

impl<R: Requirement> FromRequestParts<AppState> for UsersCaller<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (status, kind, message) = match json_caller::<R>(parts, state).await {
            Ok(p) => return Ok(Self(p, PhantomData)),
            Err(Refused::Failed(e)) => return Err(e.into()),
            Err(Refused::Unauthenticated) => (
                StatusCode::UNAUTHORIZED,
                ProblemType::Unauthenticated,
                t(Lang::En, "page.users.refused.not_signed_in"),
            ),
            Err(Refused::Forbidden(lang, _)) => (
                StatusCode::FORBIDDEN,
                ProblemType::Forbidden,
                t(lang, need_key(R::NEED)),
            ),
            Err(Refused::CsrfMismatch(lang, _)) => (
                StatusCode::FORBIDDEN,
                ProblemType::CsrfMismatch,
                t(lang, "page.users.refused.csrf"),
            ),
        };
        Err(ApiError::new(status, kind, message))
    }
}

/// `GET /api/v1/account/users`
pub async fn api_list(
    State(state): State<AppState>,
    p: UsersCaller<Read>,
) -> Result<Response, ApiError> {
    let users = app::users::list(&state.app, p.account.id)
        .await
        .map_err(|e| ApiError::from_app(p.lang, e))?;
    let list: Vec<Value> = users.iter().map(|(u, r)| user_json(u, *r)).collect();
    Ok(Json(json!({ "users": list })).into_response())
}

/// `GET /api/v1/account/users/me`: who is acting, and with what role.
pub async fn api_me(p: UsersCaller<OwnRead>) -> Result<Response, ApiError> {
    let (kind, login, id) = match &p.actor {
        Actor::Holder => ("holder", None, None),
        Actor::User { id, login, .. } => ("user", Some(login.clone()), Some(*id)),
    };
    Ok(Json(json!({
        "actor": kind,
        "id": id,
        "login": login,
        "role": p.role().as_str(),
        "customer_handle": p.account.handle,
        "customer_code": p.account.customer_code,
        // Same-origin scripts need the token for writes; no CORS here, so
        // another site cannot read it.
        "csrf": p.data.csrf,
    }))
    .into_response())
}

/// `GET /api/v1/account/users/{id}`
pub async fn api_get(
    State(state): State<AppState>,
    Path(id): Path<i32>,
    p: UsersCaller<Read>,
) -> Result<Response, ApiError> {
    let (u, role) = app::users::get(&state.app, p.account.id, id)
        .await
        .map_err(|e| ApiError::from_app(p.lang, e))?;
    Ok(Json(user_json(&u, role)).into_response())
}

/// The body of `POST /api/v1/account/users`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CreateBody {
    login: String,
    email: String,
    password: String,
    group: String,
    description: String,
}

/// `POST /api/v1/account/users`: 201 with the user.
pub async fn api_create(
    State(state): State<AppState>,
    origin: Origin,
    p: UsersCaller<Manage>,
    ApiJson(b): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    let new = NewUser {
        login: b.login,
        email: b.email,
        password: Secret::new(b.password),
        group: b.group,
        description: b.description,
    };
    let u = app::users::create(&state.app, by(&p), &origin, new)
        .await
        .map_err(|e| ApiError::from_app(p.lang, e))?;
    let role = app::users::role(&state.app, &u)
        .await
        .map_err(|e| ApiError::from_app(p.lang, e))?;
    Ok((StatusCode::CREATED, Json(user_json(&u, role))).into_response())
}

/// The body of `PATCH /api/v1/account/users/{id}`; absent fields stay.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateBody {
    email: Option<String>,
    group: Option<String>,
    description: Option<String>,
    status: Option<String>,
}

/// `PATCH /api/v1/account/users/{id}`: email, group, description, status.
pub async fn api_update(
    State(state): State<AppState>,
    origin: Origin,
    Path(id): Path<i32>,
    p: UsersCaller<Manage>,
    ApiJson(b): ApiJson<UpdateBody>,
) -> Result<Response, ApiError> {
    let status = match b.status.as_deref().map(UserStatus::parse) {
        None => None,
        Some(Some(s)) => Some(s),
        Some(None) => {
            let e = AccountError::field("status", FieldProblem::UnknownKind);
            return Err(ApiError::from_account(p.lang, e));
        }
    };
    let changes = UserChanges {
        email: b.email,
        group: b.group,
        description: b.description,
        status,
    };
    let u = app::users::update(&state.app, by(&p), &origin, id, changes)
        .await
        .map_err(|e| ApiError::from_app(p.lang, e))?;
    let role = app::users::role(&state.app, &u)
        .await
        .map_err(|e| ApiError::from_app(p.lang, e))?;
    Ok(Json(user_json(&u, role)).into_response())
}

/// `DELETE /api/v1/account/users/{id}`: 204.
pub async fn api_delete(
    State(state): State<AppState>,
    origin: Origin,
    Path(id): Path<i32>,
    p: UsersCaller<Manage>,
) -> Result<Response, ApiError> {
    app::users::delete(&state.app, by(&p), &origin, id)
        .await
        .map_err(|e| ApiError::from_app(p.lang, e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
