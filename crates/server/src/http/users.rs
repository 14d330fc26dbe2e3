//! Local users and groups: the `/account/users` pages and their JSON twins
//! under `/api/v1/account/users` and `/api/v1/account/groups`.
//!
//! Reading needs [`Need::Read`]; every write needs [`Need::ManageUsers`] and
//! the session's anti-CSRF token (a form field on pages, the `X-CSRF-Token`
//! header on the API). The finer rules (nobody grants or touches a role above
//! their own, nobody changes their own group or disables themselves) are the
//! domain's, in `accounts::users`.

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use accounts::events::EventKind;
use accounts::{
    AccountError, Acting, FieldError, FieldProblem, Group, LocalUser, NewUser, Refusal, Role,
    Secret, UserChanges, UserStatus,
};

use super::csrf;
use super::error::AppError;
use super::extract::CurrentSession;
use super::panel::{Actor, Need, Panel};
use super::problem::{Problem, ProblemType};
use crate::i18n::{self, Lang, t};
use crate::notify::{self, SecurityChange};
use crate::panel_or_return;
use crate::seclog::{self, Origin};
use crate::session::throttle::{Subject, retry_after_secs};
use crate::state::AppState;
use views::components::Who;
use views::pages::users::{self as vu, CreateValues, ListView, problem_text};
use views::routes;

/// Longest text accepted in any field of these forms, before the domain's
/// own limits: a bounded copy is all that is ever shown back.
const MAX_FIELD: usize = 2048;

fn acting(p: &Panel) -> Acting {
    Acting {
        role: p.role(),
        user_id: p.user_id(),
    }
}

fn refusal_key(r: Refusal) -> &'static str {
    match r {
        Refusal::ManageUsers => "page.users.refused.manage_users",
        Refusal::AboveOwnRole => "page.users.refused.above_own_role",
        Refusal::OwnUser => "page.users.refused.own_user",
        Refusal::DefaultGroup => "page.users.refused.default_group",
    }
}

/// The words for a missing right: the panel's own, except for managing
/// users, which the users page words with groups in mind.
fn need_key(need: Need) -> &'static str {
    match need {
        Need::Read => "page.error.need_read",
        Need::Write => "page.error.need_write",
        Need::ManageUsers => "page.users.refused.manage_users",
        Need::Holder | Need::Own => "page.error.need_holder",
    }
}

/// What every users page knows about the person acting.
fn frame(p: &Panel) -> vu::Frame<'_> {
    vu::Frame {
        lang: p.lang,
        who: Who::of(&p.account),
        csrf: &p.data.csrf,
        role: p.role(),
        own_login: match &p.actor {
            Actor::User { login, .. } => Some(login),
            _ => None,
        },
    }
}

/// A refusal on a page: the reason in the user's language, with `status`.
fn page_refusal(p: &Panel, status: StatusCode, key: &str) -> Response {
    (status, Html(vu::refusal(&frame(p), key).into_string())).into_response()
}

/// The 403 page when the person acting may not do what `need` says.
fn page_refused(p: &Panel, need: Need) -> Option<Response> {
    p.require(need)
        .err()
        .map(|_| page_refusal(p, StatusCode::FORBIDDEN, need_key(need)))
}

// ---------------------------------------------------------------- JSON API

/// A refusal of the users API: a problem (RFC 9457) with its status.
pub struct ApiError(Problem);

impl ApiError {
    fn new(status: StatusCode, kind: ProblemType, message: impl Into<String>) -> Self {
        Self(Problem::new(status, kind, message))
    }

    fn from_account(lang: Lang, e: AccountError) -> Self {
        match e {
            AccountError::Invalid(errors) => {
                // A duplicate or a group still in use is a conflict with
                // what exists, not a malformed value.
                let conflict = errors.iter().any(|e| {
                    matches!(
                        e.problem,
                        FieldProblem::LoginTaken
                            | FieldProblem::GroupTaken
                            | FieldProblem::GroupInUse
                    )
                });
                let (status, kind) = if conflict {
                    (StatusCode::CONFLICT, ProblemType::Conflict)
                } else {
                    (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        ProblemType::InvalidRequest,
                    )
                };
                let fields = errors
                    .iter()
                    .map(|e| super::problem::FieldProblem {
                        field: e.field.to_owned(),
                        code: e.problem.code().to_owned(),
                        detail: problem_text(lang, &e.problem),
                    })
                    .collect();
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

/// The signed-in panel for an API call: 401 in JSON instead of a redirect.
async fn api_panel(state: &AppState, session: CurrentSession) -> Result<Panel, ApiError> {
    match Panel::load(state, session, routes::USERS).await? {
        Ok(p) => Ok(p),
        Err(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ProblemType::Unauthenticated,
            t(Lang::En, "page.users.refused.not_signed_in"),
        )),
    }
}

fn api_require(p: &Panel, need: Need) -> Result<(), ApiError> {
    p.require(need).map_err(|_| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemType::Forbidden,
            t(p.lang, need_key(need)),
        )
    })
}

fn api_csrf(p: &Panel, headers: &HeaderMap) -> Result<(), ApiError> {
    let sent = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    csrf::matches(&p.data.csrf, sent).map_err(|_| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemType::CsrfMismatch,
            t(p.lang, "page.users.refused.csrf"),
        )
    })
}

fn json_body<T>(p: &Panel, body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|r| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ProblemType::InvalidBody,
            format!(
                "{} {}",
                t(p.lang, "page.users.refused.bad_request"),
                r.body_text()
            ),
        )
    })
}

fn user_json(u: &LocalUser, role: Role) -> Value {
    json!({
        "id": u.id,
        "login": u.login,
        "email": u.email,
        "group": u.group_name,
        "role": role.as_str(),
        "description": u.description,
        "status": u.status,
        "created_at": u.created_at.to_rfc3339(),
        "updated_at": u.updated_at.to_rfc3339(),
    })
}

fn group_json(g: &Group) -> Value {
    json!({
        "name": g.name,
        "role": g.role.as_str(),
        "default": g.is_default,
        "members": g.members,
    })
}

fn role_of(groups: &[Group], name: &str) -> Role {
    groups
        .iter()
        .find(|g| g.name == name)
        .map(|g| g.role)
        .unwrap_or(Role::None)
}

/// Tells the holder by mail and writes the security log's line for a change
/// to the account's users: who did it is the person acting, the user changed
/// is named in the line's detail. A user changed (perhaps to another group,
/// or disabled) or deleted loses the access tokens issued so far, so that no
/// relying party goes on trusting an old role.
async fn notice(state: &AppState, p: &Panel, origin: &Origin, kind: EventKind, user: &LocalUser) {
    let login = user.login.clone();
    let change = match kind {
        EventKind::UserCreated => SecurityChange::UserCreated { login },
        EventKind::UserDeleted => SecurityChange::UserDeleted { login },
        EventKind::PasswordChanged => SecurityChange::UserPasswordChanged { login },
        _ => SecurityChange::UserChanged { login },
    };
    if matches!(kind, EventKind::UserChanged | EventKind::UserDeleted) {
        // A changed role must not live on in access tokens; a removed
        // user's sessions and refresh tokens died with the row, its access
        // tokens must stop counting too.
        let cut = match kind {
            EventKind::UserChanged if user.status == UserStatus::Active => {
                crate::revocation::cut_off(&*state.store, &user.subject, None)
                    .await
                    .map_err(app::AppError::from)
            }
            EventKind::UserDeleted => {
                crate::revocation::cut_off(&*state.store, &user.subject, None)
                    .await
                    .map_err(app::AppError::from)
            }
            // Disabled: every session, refresh token and access token.
            _ => {
                let whom = crate::access::Whom {
                    account_id: p.account.id,
                    user_id: Some(user.id),
                };
                crate::access::cut_off(state, whom, None).await.map(|_| ())
            }
        };
        if let Err(e) = cut {
            tracing::error!(error = %e, user = user.id, "access of a changed user not cut off");
        }
    }
    seclog::record(state, p.account.id, p.user_id(), kind, &user.login, origin).await;
    if let Some(mail) = notify::security_notice(&state.config, &p.account, &change) {
        notify::send_later(state, mail);
    }
}

/// `GET /api/v1/account/users`
pub async fn api_list(
    State(state): State<AppState>,
    session: CurrentSession,
) -> Result<Response, ApiError> {
    let p = api_panel(&state, session).await?;
    api_require(&p, Need::Read)?;
    let users = state
        .accounts
        .list_users(p.account.id)
        .await
        .map_err(AppError::from)?;
    let groups = state
        .accounts
        .list_groups(p.account.id)
        .await
        .map_err(AppError::from)?;
    let list: Vec<Value> = users
        .iter()
        .map(|u| user_json(u, role_of(&groups, &u.group_name)))
        .collect();
    Ok(Json(json!({ "users": list })).into_response())
}

/// `GET /api/v1/account/users/me`: who is acting, and with what role.
pub async fn api_me(
    State(state): State<AppState>,
    session: CurrentSession,
) -> Result<Response, ApiError> {
    let p = api_panel(&state, session).await?;
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
    session: CurrentSession,
    Path(id): Path<i32>,
) -> Result<Response, ApiError> {
    let p = api_panel(&state, session).await?;
    api_require(&p, Need::Read)?;
    let Some(u) = state
        .accounts
        .find_user(p.account.id, id)
        .await
        .map_err(AppError::from)?
    else {
        return Err(ApiError::from_account(p.lang, AccountError::NotFound));
    };
    let role = state.accounts.user_role(&u).await.map_err(AppError::from)?;
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
    session: CurrentSession,
    origin: Origin,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let p = api_panel(&state, session).await?;
    api_require(&p, Need::ManageUsers)?;
    api_csrf(&p, &headers)?;
    let b = json_body(&p, body)?;
    let u = state
        .accounts
        .create_user(
            acting(&p),
            &p.account,
            NewUser {
                login: b.login,
                email: b.email,
                password: Secret::new(b.password),
                group: b.group,
                description: b.description,
            },
        )
        .await
        .map_err(|e| ApiError::from_account(p.lang, e))?;
    notice(&state, &p, &origin, EventKind::UserCreated, &u).await;
    let role = state.accounts.user_role(&u).await.map_err(AppError::from)?;
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
    session: CurrentSession,
    origin: Origin,
    headers: HeaderMap,
    Path(id): Path<i32>,
    body: Result<Json<UpdateBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let p = api_panel(&state, session).await?;
    api_require(&p, Need::ManageUsers)?;
    api_csrf(&p, &headers)?;
    let b = json_body(&p, body)?;
    let status = match b.status.as_deref() {
        None => None,
        Some(s) if UserStatus::parse(s).is_some() => UserStatus::parse(s),
        Some(_) => {
            return Err(ApiError::from_account(
                p.lang,
                AccountError::field("status", FieldProblem::UnknownKind),
            ));
        }
    };
    let u = state
        .accounts
        .update_user(
            acting(&p),
            p.account.id,
            id,
            UserChanges {
                email: b.email,
                group: b.group,
                description: b.description,
                status,
            },
        )
        .await
        .map_err(|e| ApiError::from_account(p.lang, e))?;
    notice(&state, &p, &origin, EventKind::UserChanged, &u).await;
    let role = state.accounts.user_role(&u).await.map_err(AppError::from)?;
    Ok(Json(user_json(&u, role)).into_response())
}

/// `DELETE /api/v1/account/users/{id}`: 204.
pub async fn api_delete(
    State(state): State<AppState>,
    session: CurrentSession,
    origin: Origin,
    headers: HeaderMap,
    Path(id): Path<i32>,
) -> Result<Response, ApiError> {
    let p = api_panel(&state, session).await?;
    api_require(&p, Need::ManageUsers)?;
    api_csrf(&p, &headers)?;
    let u = state
        .accounts
        .delete_user(acting(&p), p.account.id, id)
        .await
        .map_err(|e| ApiError::from_account(p.lang, e))?;
    notice(&state, &p, &origin, EventKind::UserDeleted, &u).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/account/groups`
pub async fn api_groups(
    State(state): State<AppState>,
    session: CurrentSession,
) -> Result<Response, ApiError> {
    let p = api_panel(&state, session).await?;
    api_require(&p, Need::Read)?;
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
    session: CurrentSession,
    headers: HeaderMap,
    body: Result<Json<GroupBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let p = api_panel(&state, session).await?;
    api_require(&p, Need::ManageUsers)?;
    api_csrf(&p, &headers)?;
    let b = json_body(&p, body)?;
    let g = state
        .accounts
        .create_group(acting(&p), p.account.id, &b.name, &b.role)
        .await
        .map_err(|e| ApiError::from_account(p.lang, e))?;
    Ok((StatusCode::CREATED, Json(group_json(&g))).into_response())
}

/// `DELETE /api/v1/account/groups/{name}`: 204.
pub async fn api_delete_group(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let p = api_panel(&state, session).await?;
    api_require(&p, Need::ManageUsers)?;
    api_csrf(&p, &headers)?;
    state
        .accounts
        .delete_group(acting(&p), p.account.id, &name)
        .await
        .map_err(|e| ApiError::from_account(p.lang, e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The body of `POST /api/v1/account/users/me/password`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordBody {
    current_password: String,
    password: String,
    password_confirm: String,
}

/// `POST /api/v1/account/users/me/password`: a local user's own password.
/// 204; the calling session stays, every other one of the user ends.
pub async fn api_my_password(
    State(state): State<AppState>,
    session: CurrentSession,
    origin: Origin,
    headers: HeaderMap,
    body: Result<Json<PasswordBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let p = api_panel(&state, session).await?;
    api_csrf(&p, &headers)?;
    let b = json_body(&p, body)?;
    let Actor::User { id, .. } = p.actor else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemType::Forbidden,
            t(p.lang, "page.users.refused.local_only"),
        ));
    };
    let new_id = change_my_password(
        &state,
        &p,
        &origin,
        id,
        Secret::new(b.current_password),
        Secret::new(b.password),
        Secret::new(b.password_confirm),
    )
    .await
    .map_err(|e| match e {
        Ok(e) => ApiError::from_account(p.lang, e),
        Err(e) => ApiError::internal(e),
    })?;
    Ok(with_session(
        &state,
        StatusCode::NO_CONTENT.into_response(),
        new_id,
    ))
}

/// Changes a local user's own password and keeps the calling session alive
/// under the new epoch (its id is re-issued with the same data).
async fn change_my_password(
    state: &AppState,
    p: &Panel,
    origin: &Origin,
    user_id: i32,
    current: Secret,
    new: Secret,
    confirm: Secret,
) -> Result<Option<String>, Result<AccountError, AppError>> {
    let user = state
        .accounts
        .find_user(p.account.id, user_id)
        .await
        .map_err(|e| Err(e.into()))?
        .ok_or(Ok(AccountError::NotFound))?;
    // The current password is a secret like at login: counted before it is
    // checked, under the user's own count.
    let ip = origin
        .ip
        .parse()
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let now_ms = state.clock.now_ms();
    let reservation = match state
        .throttle
        .reserve(&Subject::User(user.id), ip, now_ms)
        .await
        .map_err(|e| Err(e.into()))?
    {
        Ok(r) => r,
        Err(wait) => {
            let secs = retry_after_secs(wait).to_string();
            return Err(Err(AppError::BadRequest(
                StatusCode::TOO_MANY_REQUESTS,
                crate::i18n::format(t(p.lang, "page.error.throttled"), &[("n", &secs)]),
            )));
        }
    };
    match state
        .accounts
        .change_user_password(&user, &p.account, &current, &new, &confirm)
        .await
    {
        Ok(_) => reservation.succeeded().await.map_err(|e| Err(e.into()))?,
        Err(AccountError::Invalid(errors)) => {
            if errors
                .iter()
                .any(|e| e.problem == FieldProblem::WrongPassword)
            {
                reservation.failed();
            } else {
                // The current password was right; the new one was refused.
                reservation.succeeded().await.map_err(|e| Err(e.into()))?;
            }
            return Err(Ok(AccountError::Invalid(errors)));
        }
        Err(other) => return Err(Err(other.into())),
    }
    notice(state, p, origin, EventKind::PasswordChanged, &user).await;
    // Every session and token of the user issued until now is dead; this
    // session goes on under a new id, issued after the epoch.
    let whom = crate::access::Whom {
        account_id: p.account.id,
        user_id: Some(user.id),
    };
    let id = crate::access::cut_off(state, whom, Some(&p.data))
        .await
        .map_err(|e| Err(e.into()))?
        .unwrap_or_default();
    state
        .sessions
        .destroy(&p.session_id)
        .await
        .map_err(|e| Err(e.into()))?;
    Ok(Some(id))
}

/// Adds the cookie of a re-issued session to a response.
fn with_session(state: &AppState, mut resp: Response, id: Option<String>) -> Response {
    if let Some(id) = id {
        let cfg = &state.config;
        let cookie = super::cookies::set(cfg, super::cookies::session_name(cfg), &id, "Lax");
        if let Ok(v) = cookie.parse() {
            resp.headers_mut().append(axum::http::header::SET_COOKIE, v);
        }
    }
    resp
}

// ---------------------------------------------------------------- pages

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
    login: String,
    name: String,
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_FIELD).collect()
}

fn done_text(lang: Lang, q: &DoneQuery, code: &str) -> Option<String> {
    let key = match q.done.as_str() {
        "created" => "page.users.created",
        "changed" => "page.users.changed",
        "deleted" => "page.users.deleted",
        "group-created" => "page.users.group_created",
        "group-deleted" => "page.users.group_deleted",
        "password" => "page.users.my_password_done",
        _ => return None,
    };
    let login: String = q.login.chars().take(32).collect();
    let name: String = q.name.chars().take(32).collect();
    Some(i18n::format(
        t(lang, key),
        &[("login", &login), ("name", &name), ("code", code)],
    ))
}

#[allow(clippy::too_many_arguments)]
async fn render_list(
    state: &AppState,
    p: &Panel,
    status: StatusCode,
    notice: Option<String>,
    values: CreateValues,
    errors: &[FieldError],
    group_errors: &[FieldError],
    group_values: (String, String),
) -> Result<Response, AppError> {
    let users = state.accounts.list_users(p.account.id).await?;
    let groups = state.accounts.list_groups(p.account.id).await?;
    let page = vu::list(
        &frame(p),
        &ListView {
            users: &users,
            groups: &groups,
            notice,
            values,
            errors,
            group_errors,
            group_values,
        },
    );
    Ok((status, Html(page.into_string())).into_response())
}

/// `GET /account/users`
pub async fn page(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let p = panel_or_return!(state, session, routes::USERS);
    if let Some(r) = page_refused(&p, Need::Read) {
        return Ok(r);
    }
    let notice = done_text(p.lang, &q, &p.account.customer_code);
    render_list(
        &state,
        &p,
        StatusCode::OK,
        notice,
        CreateValues::default(),
        &[],
        &[],
        Default::default(),
    )
    .await
}

/// A refused domain call on a page: the form again with the errors (422 or
/// 409), or the 403/404 refusal.
fn refused_page(p: &Panel, e: AccountError) -> Result<Result<Vec<FieldError>, Response>, AppError> {
    match e {
        AccountError::Invalid(errors) => Ok(Ok(errors)),
        AccountError::NotPermitted(r) => {
            Ok(Err(page_refusal(p, StatusCode::FORBIDDEN, refusal_key(r))))
        }
        AccountError::NotFound => Ok(Err(page_refusal(
            p,
            StatusCode::NOT_FOUND,
            "page.users.refused.not_found",
        ))),
        other => Err(other.into()),
    }
}

/// The refusal a page gives before a change to the account's users: to
/// someone who may not even read them, a wrong anti-CSRF token (an error),
/// or to someone who may not manage them. `None` when the change may go on.
fn manage_refused(p: &Panel, csrf_token: &str) -> Result<Option<Response>, AppError> {
    if let Some(r) = page_refused(p, Need::Read) {
        return Ok(Some(r));
    }
    csrf::matches(&p.data.csrf, csrf_token)?;
    Ok(page_refused(p, Need::ManageUsers))
}

/// The answer of a page to a change of one user that has no form of its
/// own to show again (status, deletion): back to the list saying `done`, or
/// the refusal.
async fn answered(
    state: &AppState,
    p: &Panel,
    origin: &Origin,
    result: Result<LocalUser, AccountError>,
    kind: EventKind,
    done: &str,
) -> Result<Response, AppError> {
    match result {
        Ok(u) => {
            notice(state, p, origin, kind, &u).await;
            Ok(back_to(done, &u.login, ""))
        }
        Err(e) => match refused_page(p, e)? {
            Ok(_) => Ok(page_refusal(
                p,
                StatusCode::UNPROCESSABLE_ENTITY,
                "page.users.refused.bad_request",
            )),
            Err(r) => Ok(r),
        },
    }
}

fn invalid_status(errors: &[FieldError]) -> StatusCode {
    let conflict = errors.iter().any(|e| {
        matches!(
            e.problem,
            FieldProblem::LoginTaken | FieldProblem::GroupTaken | FieldProblem::GroupInUse
        )
    });
    if conflict {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

fn form_error(r: FormRejection) -> AppError {
    AppError::BadRequest(r.status(), r.body_text())
}

fn back_to(done: &str, login: &str, name: &str) -> Response {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("done", done)
        .append_pair("login", login)
        .append_pair("name", name)
        .finish();
    Redirect::to(&format!("{}?{q}", routes::USERS)).into_response()
}

/// The create form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CreateForm {
    csrf: String,
    login: String,
    email: String,
    password: String,
    group: String,
    description: String,
}

/// `POST /account/users`
pub async fn create(
    State(state): State<AppState>,
    session: CurrentSession,
    origin: Origin,
    form: Result<Form<CreateForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let p = panel_or_return!(state, session, routes::USERS);
    if let Some(r) = manage_refused(&p, &f.csrf)? {
        return Ok(r);
    }
    let values = CreateValues {
        login: clip(&f.login),
        email: clip(&f.email),
        group: clip(&f.group),
        description: clip(&f.description),
    };
    let req = NewUser {
        login: f.login,
        email: f.email,
        password: Secret::new(f.password),
        group: f.group,
        description: f.description,
    };
    match state
        .accounts
        .create_user(acting(&p), &p.account, req)
        .await
    {
        Ok(u) => {
            notice(&state, &p, &origin, EventKind::UserCreated, &u).await;
            Ok(back_to("created", &u.login, ""))
        }
        Err(e) => match refused_page(&p, e)? {
            Ok(errors) => {
                render_list(
                    &state,
                    &p,
                    invalid_status(&errors),
                    None,
                    values,
                    &errors,
                    &[],
                    Default::default(),
                )
                .await
            }
            Err(r) => Ok(r),
        },
    }
}

/// `GET /account/users/{id}`
pub async fn edit(
    State(state): State<AppState>,
    session: CurrentSession,
    Path(id): Path<i32>,
) -> Result<Response, AppError> {
    let p = panel_or_return!(state, session, routes::USERS);
    if let Some(r) = page_refused(&p, Need::Read) {
        return Ok(r);
    }
    let Some(u) = state.accounts.find_user(p.account.id, id).await? else {
        return Ok(page_refusal(
            &p,
            StatusCode::NOT_FOUND,
            "page.users.refused.not_found",
        ));
    };
    let groups = state.accounts.list_groups(p.account.id).await?;
    let page = vu::edit(
        &frame(&p),
        &u,
        &groups,
        &[],
        (&u.email, &u.group_name, &u.description),
    );
    Ok(Html(page.into_string()).into_response())
}

/// The edit form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EditForm {
    csrf: String,
    email: String,
    group: String,
    description: String,
}

/// `POST /account/users/{id}`
pub async fn update(
    State(state): State<AppState>,
    session: CurrentSession,
    origin: Origin,
    Path(id): Path<i32>,
    form: Result<Form<EditForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let p = panel_or_return!(state, session, routes::USERS);
    if let Some(r) = manage_refused(&p, &f.csrf)? {
        return Ok(r);
    }
    let changes = UserChanges {
        email: Some(f.email.clone()),
        group: Some(f.group.clone()),
        description: Some(f.description.clone()),
        status: None,
    };
    match state
        .accounts
        .update_user(acting(&p), p.account.id, id, changes)
        .await
    {
        Ok(u) => {
            notice(&state, &p, &origin, EventKind::UserChanged, &u).await;
            Ok(back_to("changed", &u.login, ""))
        }
        Err(e) => match refused_page(&p, e)? {
            Ok(errors) => {
                let Some(u) = state.accounts.find_user(p.account.id, id).await? else {
                    return Ok(page_refusal(
                        &p,
                        StatusCode::NOT_FOUND,
                        "page.users.refused.not_found",
                    ));
                };
                let groups = state.accounts.list_groups(p.account.id).await?;
                let page = vu::edit(
                    &frame(&p),
                    &u,
                    &groups,
                    &errors,
                    (&clip(&f.email), &clip(&f.group), &clip(&f.description)),
                );
                Ok((invalid_status(&errors), Html(page.into_string())).into_response())
            }
            Err(r) => Ok(r),
        },
    }
}

/// The disable/enable form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StatusForm {
    csrf: String,
    status: String,
}

/// `POST /account/users/{id}/status`
pub async fn set_status(
    State(state): State<AppState>,
    session: CurrentSession,
    origin: Origin,
    Path(id): Path<i32>,
    form: Result<Form<StatusForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let p = panel_or_return!(state, session, routes::USERS);
    if let Some(r) = manage_refused(&p, &f.csrf)? {
        return Ok(r);
    }
    let status = match UserStatus::parse(&f.status) {
        Some(s) => s,
        None => {
            return Ok(page_refusal(
                &p,
                StatusCode::UNPROCESSABLE_ENTITY,
                "page.users.refused.bad_request",
            ));
        }
    };
    let done = state
        .accounts
        .set_user_status(acting(&p), p.account.id, id, status)
        .await;
    answered(&state, &p, &origin, done, EventKind::UserChanged, "changed").await
}

/// A form with only the anti-CSRF token.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenForm {
    csrf: String,
}

/// `POST /account/users/{id}/delete`
pub async fn delete(
    State(state): State<AppState>,
    session: CurrentSession,
    origin: Origin,
    Path(id): Path<i32>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let p = panel_or_return!(state, session, routes::USERS);
    if let Some(r) = manage_refused(&p, &f.csrf)? {
        return Ok(r);
    }
    let done = state
        .accounts
        .delete_user(acting(&p), p.account.id, id)
        .await;
    answered(&state, &p, &origin, done, EventKind::UserDeleted, "deleted").await
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
    session: CurrentSession,
    form: Result<Form<GroupForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let p = panel_or_return!(state, session, routes::USERS);
    if let Some(r) = manage_refused(&p, &f.csrf)? {
        return Ok(r);
    }
    match state
        .accounts
        .create_group(acting(&p), p.account.id, &f.name, &f.role)
        .await
    {
        Ok(g) => Ok(back_to("group-created", "", &g.name)),
        Err(e) => match refused_page(&p, e)? {
            Ok(errors) => {
                render_list(
                    &state,
                    &p,
                    invalid_status(&errors),
                    None,
                    CreateValues::default(),
                    &[],
                    &errors,
                    (clip(&f.name), clip(&f.role)),
                )
                .await
            }
            Err(r) => Ok(r),
        },
    }
}

/// `POST /account/groups/{name}/delete`
pub async fn delete_group(
    State(state): State<AppState>,
    session: CurrentSession,
    Path(name): Path<String>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let p = panel_or_return!(state, session, routes::USERS);
    if let Some(r) = manage_refused(&p, &f.csrf)? {
        return Ok(r);
    }
    match state
        .accounts
        .delete_group(acting(&p), p.account.id, &name)
        .await
    {
        Ok(()) => Ok(back_to(
            "group-deleted",
            "",
            &clip(&name).to_ascii_uppercase(),
        )),
        Err(e) => match refused_page(&p, e)? {
            Ok(errors) => {
                render_list(
                    &state,
                    &p,
                    invalid_status(&errors),
                    None,
                    CreateValues::default(),
                    &[],
                    &errors,
                    Default::default(),
                )
                .await
            }
            Err(r) => Ok(r),
        },
    }
}

/// `GET /account/users/me/password`: a local user's own password. The
/// holder has the account's password page instead.
pub async fn my_password_page(
    State(state): State<AppState>,
    session: CurrentSession,
) -> Result<Response, AppError> {
    let p = panel_or_return!(state, session, routes::MY_PASSWORD);
    let Actor::User { login, .. } = &p.actor else {
        return Ok(page_refusal(
            &p,
            StatusCode::NOT_FOUND,
            "page.users.refused.local_only",
        ));
    };
    Ok(Html(vu::my_password(&frame(&p), login, &[]).into_string()).into_response())
}

/// The password form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    csrf: String,
    current_password: String,
    password: String,
    password_confirm: String,
}

/// `POST /account/users/me/password`
pub async fn my_password(
    State(state): State<AppState>,
    session: CurrentSession,
    origin: Origin,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(f) = form.map_err(form_error)?;
    let p = panel_or_return!(state, session, routes::MY_PASSWORD);
    csrf::matches(&p.data.csrf, &f.csrf)?;
    let Actor::User { id, login, .. } = &p.actor else {
        return Ok(page_refusal(
            &p,
            StatusCode::NOT_FOUND,
            "page.users.refused.local_only",
        ));
    };
    let result = change_my_password(
        &state,
        &p,
        &origin,
        *id,
        Secret::new(f.current_password),
        Secret::new(f.password),
        Secret::new(f.password_confirm),
    )
    .await;
    match result {
        Ok(new_id) => Ok(with_session(&state, back_to("password", login, ""), new_id)),
        Err(Ok(AccountError::Invalid(errors))) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(vu::my_password(&frame(&p), login, &errors).into_string()),
        )
            .into_response()),
        Err(Ok(e)) => match refused_page(&p, e)? {
            Ok(_) => Ok(page_refusal(
                &p,
                StatusCode::UNPROCESSABLE_ENTITY,
                "page.users.refused.bad_request",
            )),
            Err(r) => Ok(r),
        },
        Err(Err(e)) => Err(e),
    }
}
