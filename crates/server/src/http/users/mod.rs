//! Local users and groups: the `/account/users` pages and their JSON twins
//! under `/api/v1/account/users` and `/api/v1/account/groups`.
//!
//! Reading needs [`Need::Read`]; every write needs [`Need::ManageUsers`] and
//! the session's anti-CSRF token (a form field on pages, the `X-CSRF-Token`
//! header on the API). The finer rules (nobody grants or touches a role above
//! their own, nobody changes their own group or disables themselves) are the
//! domain's, in `accounts::users`; what follows a change (access cut off,
//! security log, notice) is the application's, in `app::users`, which both
//! a page and its JSON twin call.
//!
//! `pages` and `api` hold the users' handlers, `groups` the groups' (both
//! surfaces), `own_password` a local user's own password (both surfaces).

mod api;
mod groups;
mod own_password;
mod pages;

pub use api::{api_create, api_delete, api_get, api_list, api_me, api_update};
pub use groups::{api_create_group, api_delete_group, api_groups, create_group, delete_group};
pub use own_password::{api_my_password, my_password, my_password_page};
pub use pages::{create, delete, edit, page, set_status, update};

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use accounts::{FieldError, FieldProblem, Group, LocalUser, Refusal, Role};

use super::panel::{Actor, Need, Panel};
use views::components::Who;
use views::pages::users as vu;

/// Longest text accepted in any field of these forms, before the domain's
/// own limits: a bounded copy is all that is ever shown back.
const MAX_FIELD: usize = 2048;

fn clip(s: &str) -> String {
    s.chars().take(MAX_FIELD).collect()
}

/// The person acting, as the application layer knows them.
fn by(p: &Panel) -> app::users::By<'_> {
    app::users::By {
        account: &p.account,
        user_id: p.user_id(),
        role: p.role(),
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

/// The status of a refused form: 409 when a name is taken or in use, 422
/// for any other refused field; the same for a page and its JSON twin.
pub(super) fn invalid_status(errors: &[FieldError]) -> StatusCode {
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
