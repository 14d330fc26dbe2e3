//! The users' pages: the list with the create form, one user's edit page,
//! and the status and delete buttons.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use accounts::{AccountError, FieldError, NewUser, Secret, UserChanges, UserStatus};

use super::{by, clip, frame, invalid_status, need_key, page_refusal, refusal_key};
use crate::http::csrf::csrf_form;
use crate::http::error::AppError;
use crate::http::panel::{Need, Panel};
use crate::http::principal::PanelForm;
use crate::state::AppState;
use app::i18n::{self, Lang, t};
use app::seclog::Origin;
use views::pages::users::{self as vu, CreateValues, ListView};
use views::routes;

/// The 403 page when the person acting may not do what `need` says.
pub(super) fn page_refused(p: &Panel, need: Need) -> Option<Response> {
    p.require(need)
        .err()
        .map(|_| page_refusal(p, StatusCode::FORBIDDEN, need_key(need)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
    login: String,
    name: String,
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

/// What the list page shows besides the account's users and groups.
#[derive(Default)]
pub(super) struct ListForms {
    pub notice: Option<String>,
    pub values: CreateValues,
    pub errors: Vec<FieldError>,
    pub group_errors: Vec<FieldError>,
    pub group_values: (String, String),
}

pub(super) async fn render_list(
    state: &AppState,
    p: &Panel,
    status: StatusCode,
    forms: ListForms,
) -> Result<Response, AppError> {
    let users = state.accounts.list_users(p.account.id).await?;
    let groups = state.accounts.list_groups(p.account.id).await?;
    let page = vu::list(
        &frame(p),
        &ListView {
            users: &users,
            groups: &groups,
            notice: forms.notice,
            values: forms.values,
            errors: &forms.errors,
            group_errors: &forms.group_errors,
            group_values: forms.group_values,
        },
    );
    Ok((status, Html(page.into_string())).into_response())
}

/// `GET /account/users`
pub async fn page(
    State(state): State<AppState>,
    p: Panel,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    if let Some(r) = page_refused(&p, Need::Read) {
        return Ok(r);
    }
    let notice = done_text(p.lang, &q, &p.account.customer_code);
    let forms = ListForms {
        notice,
        ..Default::default()
    };
    render_list(&state, &p, StatusCode::OK, forms).await
}

/// A refused application call on a page: the form again with the errors
/// (422 or 409), or the 403/404 refusal.
pub(super) fn refused_page(
    p: &Panel,
    e: app::AppError,
) -> Result<Result<Vec<FieldError>, Response>, AppError> {
    match e {
        app::AppError::Account(AccountError::Invalid(errors)) => Ok(Ok(errors)),
        app::AppError::Account(AccountError::NotPermitted(r)) => {
            Ok(Err(page_refusal(p, StatusCode::FORBIDDEN, refusal_key(r))))
        }
        app::AppError::Account(AccountError::NotFound) => Ok(Err(not_found(p))),
        other => Err(crate::http::panel_json::password_error(p.lang, other)),
    }
}

fn not_found(p: &Panel) -> Response {
    page_refusal(p, StatusCode::NOT_FOUND, "page.users.refused.not_found")
}

/// A refusal with no form to show again: invalid fields become a 422.
pub(super) fn refused_plainly(p: &Panel, e: app::AppError) -> Result<Response, AppError> {
    Ok(match refused_page(p, e)? {
        Ok(_) => page_refusal(
            p,
            StatusCode::UNPROCESSABLE_ENTITY,
            "page.users.refused.bad_request",
        ),
        Err(r) => r,
    })
}

/// The refusal a page gives before a change to the account's users (the
/// form's anti-CSRF token already matched): to someone who may not even read
/// them, or who may not manage them. `None` when the change may go on.
pub(super) fn manage_refused(p: &Panel) -> Option<Response> {
    page_refused(p, Need::Read).or_else(|| page_refused(p, Need::ManageUsers))
}

/// The answer of a page to a change of one user that has no form of its
/// own to show again (status, deletion): back to the list saying `done`, or
/// the refusal.
fn answered(
    p: &Panel,
    result: Result<accounts::LocalUser, app::AppError>,
    done: &str,
) -> Result<Response, AppError> {
    match result {
        Ok(u) => Ok(back_to(done, &u.login, "")),
        Err(e) => refused_plainly(p, e),
    }
}

pub(super) fn back_to(done: &str, login: &str, name: &str) -> Response {
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
    origin: Origin,
    PanelForm { panel: p, form: f }: PanelForm<CreateForm>,
) -> Result<Response, AppError> {
    if let Some(r) = manage_refused(&p) {
        return Ok(r);
    }
    let values = CreateValues {
        login: clip(&f.login),
        email: clip(&f.email),
        group: clip(&f.group),
        description: clip(&f.description),
    };
    let new = NewUser {
        login: f.login,
        email: f.email,
        password: Secret::new(f.password),
        group: f.group,
        description: f.description,
    };
    match app::users::create(&state.app, by(&p), &origin, new).await {
        Ok(u) => Ok(back_to("created", &u.login, "")),
        Err(e) => match refused_page(&p, e)? {
            Ok(errors) => {
                let status = invalid_status(&errors);
                let forms = ListForms {
                    values,
                    errors,
                    ..Default::default()
                };
                render_list(&state, &p, status, forms).await
            }
            Err(r) => Ok(r),
        },
    }
}

/// `GET /account/users/{id}`
pub async fn edit(
    State(state): State<AppState>,
    p: Panel,
    Path(id): Path<i32>,
) -> Result<Response, AppError> {
    if let Some(r) = page_refused(&p, Need::Read) {
        return Ok(r);
    }
    let Some(u) = state.accounts.find_user(p.account.id, id).await? else {
        return Ok(not_found(&p));
    };
    let groups = state.accounts.list_groups(p.account.id).await?;
    let values = (&*u.email, &*u.group_name, &*u.description);
    let page = vu::edit(&frame(&p), &u, &groups, &[], values);
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
    origin: Origin,
    Path(id): Path<i32>,
    PanelForm { panel: p, form: f }: PanelForm<EditForm>,
) -> Result<Response, AppError> {
    if let Some(r) = manage_refused(&p) {
        return Ok(r);
    }
    let changes = UserChanges {
        email: Some(f.email.clone()),
        group: Some(f.group.clone()),
        description: Some(f.description.clone()),
        status: None,
    };
    match app::users::update(&state.app, by(&p), &origin, id, changes).await {
        Ok(u) => Ok(back_to("changed", &u.login, "")),
        Err(e) => match refused_page(&p, e)? {
            Ok(errors) => edit_again(&state, &p, id, &f, &errors).await,
            Err(r) => Ok(r),
        },
    }
}

/// The edit page again with what was sent and why it was refused.
async fn edit_again(
    state: &AppState,
    p: &Panel,
    id: i32,
    f: &EditForm,
    errors: &[FieldError],
) -> Result<Response, AppError> {
    let Some(u) = state.accounts.find_user(p.account.id, id).await? else {
        return Ok(not_found(p));
    };
    let groups = state.accounts.list_groups(p.account.id).await?;
    let (email, group, description) = (clip(&f.email), clip(&f.group), clip(&f.description));
    let page = vu::edit(
        &frame(p),
        &u,
        &groups,
        errors,
        (&email, &group, &description),
    );
    Ok((invalid_status(errors), Html(page.into_string())).into_response())
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
    origin: Origin,
    Path(id): Path<i32>,
    PanelForm { panel: p, form: f }: PanelForm<StatusForm>,
) -> Result<Response, AppError> {
    if let Some(r) = manage_refused(&p) {
        return Ok(r);
    }
    let Some(status) = UserStatus::parse(&f.status) else {
        return Ok(page_refusal(
            &p,
            StatusCode::UNPROCESSABLE_ENTITY,
            "page.users.refused.bad_request",
        ));
    };
    let done = app::users::set_status(&state.app, by(&p), &origin, id, status).await;
    answered(&p, done, "changed")
}

/// A form with only the anti-CSRF token.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenForm {
    pub(super) csrf: String,
}

/// `POST /account/users/{id}/delete`
pub async fn delete(
    State(state): State<AppState>,
    origin: Origin,
    Path(id): Path<i32>,
    PanelForm { panel: p, .. }: PanelForm<TokenForm>,
) -> Result<Response, AppError> {
    if let Some(r) = manage_refused(&p) {
        return Ok(r);
    }
    let done = app::users::delete(&state.app, by(&p), &origin, id).await;
    answered(&p, done, "deleted")
}

csrf_form!(CreateForm => routes::USERS);

csrf_form!(EditForm => routes::USERS);

csrf_form!(StatusForm => routes::USERS);

csrf_form!(TokenForm => routes::USERS);
