//! Local users and groups: the list with its create forms, a user's edit
//! form, a local user's own password, and the refusals of these pages.

use accounts::UserStatus;
use accounts::users::DEFAULT_GROUPS;
use accounts::{FieldError, FieldProblem, Group, LocalUser, Role};
use app::i18n::{self, Lang, t};
use maud::{Markup, html};

use crate::components::{Button, Field, Form, Select, Who, hidden, layout};
use crate::routes;

/// What every users page knows about the person looking at it.
pub struct Frame<'a> {
    /// The page's language.
    pub lang: Lang,
    /// The header identity (the account's name, handle and code).
    pub who: Who<'a>,
    /// The session's anti-CSRF token.
    pub csrf: &'a str,
    /// The role of the person acting.
    pub role: Role,
    /// Their login when a local user (not the holder) is acting.
    pub own_login: Option<&'a str>,
}

/// The words for a role.
pub fn role_text(lang: Lang, role: Role) -> &'static str {
    t(lang, &format!("page.users.role.{}", role.as_str()))
}

/// The text of one refused field, in `lang`.
pub fn problem_text(lang: Lang, p: &FieldProblem) -> String {
    const KNOWN: [&str; 18] = [
        "required",
        "too_long",
        "bad_characters",
        "invalid_email",
        "password_too_short",
        "password_too_long",
        "password_common",
        "password_personal",
        "password_mismatch",
        "password_reused",
        "invalid_login",
        "login_taken",
        "invalid_group_name",
        "group_taken",
        "unknown_group",
        "unknown_role",
        "group_in_use",
        "wrong_password",
    ];
    let code = if KNOWN.contains(&p.code()) {
        p.code()
    } else {
        "invalid"
    };
    let (max, min, max_bytes) = match p {
        FieldProblem::TooLong { max } => (max.to_string(), String::new(), String::new()),
        FieldProblem::PasswordTooShort { min } => (String::new(), min.to_string(), String::new()),
        FieldProblem::PasswordTooLong { max_bytes } => {
            (String::new(), String::new(), max_bytes.to_string())
        }
        _ => Default::default(),
    };
    i18n::format(
        t(lang, &format!("page.users.problem.{code}")),
        &[("max", &max), ("min", &min), ("max_bytes", &max_bytes)],
    )
}

fn err_of(lang: Lang, errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| problem_text(lang, &e.problem))
}

/// One labelled field whose error comes from `errors`.
fn field<'a>(
    lang: Lang,
    errors: &[FieldError],
    (id, name): (&'a str, &'a str),
    label: &'a str,
    kind: &'a str,
    value: &'a str,
    autocomplete: &'a str,
) -> Field<'a> {
    Field::new(name, label)
        .id(id)
        .kind(kind)
        .value(value)
        .autocomplete(autocomplete)
        .error(err_of(lang, errors, name))
}

fn group_select(
    lang: Lang,
    errors: &[FieldError],
    groups: &[Group],
    chosen: &str,
    max: Role,
) -> Markup {
    let texts: Vec<(&str, String)> = groups
        .iter()
        .filter(|g| g.role <= max)
        .map(|g| {
            (
                g.name.as_str(),
                format!("{} — {}", g.name, role_text(lang, g.role)),
            )
        })
        .collect();
    let options: Vec<(&str, &str)> = texts.iter().map(|(v, x)| (*v, x.as_str())).collect();
    html! {
        (Select::new("group", t(lang, "page.users.field_group"), &options, chosen).error(err_of(lang, errors, "group")))
    }
}

fn errors_above(lang: Lang, errors: &[FieldError]) -> Markup {
    html! {
        @if !errors.is_empty() {
            p.error role="alert" { (t(lang, "page.users.errors_above")) }
        }
    }
}

fn back(lang: Lang) -> Markup {
    html! { p { a href=(routes::USERS) { (t(lang, "page.users.back")) } } }
}

/// A refusal: the reason (translation `key`) in the users frame.
pub fn refusal(f: &Frame<'_>, key: &str) -> Markup {
    let title = t(f.lang, "page.users.title");
    let body = html! {
        h1 { (title) }
        p.error role="alert" { (t(f.lang, key)) }
        (back(f.lang))
    };
    layout(f.lang, title, Some(f.who.clone()), body)
}

/// What a refused create form shows back (never the password).
#[derive(Default)]
pub struct CreateValues {
    /// Login.
    pub login: String,
    /// Email.
    pub email: String,
    /// Group name.
    pub group: String,
    /// Description.
    pub description: String,
}

/// What the list page shows.
pub struct ListView<'a> {
    /// The account's local users.
    pub users: &'a [LocalUser],
    /// The account's groups.
    pub groups: &'a [Group],
    /// What was just done.
    pub notice: Option<String>,
    /// The create form's values after a refusal.
    pub values: CreateValues,
    /// The create form's refused fields.
    pub errors: &'a [FieldError],
    /// The group form's refused fields.
    pub group_errors: &'a [FieldError],
    /// The group form's name and role after a refusal.
    pub group_values: (String, String),
}

/// The list of users and groups, with the forms that add them.
pub fn list(f: &Frame<'_>, v: &ListView<'_>) -> Markup {
    let lang = f.lang;
    let can_manage = f.role.can_manage_users();
    let title = t(lang, "page.users.title");
    let body = html! {
        h1 { (title) }
        @if let Some(n) = &v.notice {
            p.notice role="status" { (n) }
        }
        p { (i18n::format(t(lang, "page.users.intro"), &[("code", f.who.code), ("handle", f.who.handle)])) }
        @if let Some(login) = f.own_login {
            p { (i18n::format(t(lang, "page.users.you_are"), &[("login", login), ("role", role_text(lang, f.role))])) }
            p { a href=(routes::MY_PASSWORD) { (t(lang, "page.users.my_password_link")) } }
        }
        @if !can_manage {
            p.note { (t(lang, "page.users.read_only_note")) }
        }
        h2 { (t(lang, "page.users.list_heading")) }
        @if v.users.is_empty() {
            p { (t(lang, "page.users.none_yet")) }
        } @else {
            (users_table(f, v.users))
        }
        // The forms are shown to everyone who may read the page: a
        // read-only user who submits one gets the 403 refusal, never a
        // silent change.
        h2 { (t(lang, "page.users.create_heading")) }
        (errors_above(lang, v.errors))
        (Form::post(routes::USERS, f.csrf).novalidate().with(html! {
            (field(lang, v.errors, ("login", "login"), t(lang, "page.users.field_login"), "text", &v.values.login, "off"))
            (field(lang, v.errors, ("email", "email"), t(lang, "page.users.field_email"), "email", &v.values.email, "off"))
            (field(lang, v.errors, ("password", "password"), t(lang, "page.users.field_password"), "password", "", "new-password"))
            (group_select(lang, v.errors, v.groups, if v.values.group.is_empty() { "UNPRIVILEGED" } else { &v.values.group }, f.role))
            (field(lang, v.errors, ("description", "description"), t(lang, "page.users.field_description"), "text", &v.values.description, "off"))
            (Button::primary(t(lang, "page.users.create_button")))
        }))
        h2 { (t(lang, "page.users.groups_heading")) }
        (groups_table(f, v.groups))
        h3 { (t(lang, "page.users.group_create_heading")) }
        (group_form(f, v))
    };
    layout(lang, title, Some(f.who.clone()), body)
}

fn users_table(f: &Frame<'_>, users: &[LocalUser]) -> Markup {
    let lang = f.lang;
    let can_manage = f.role.can_manage_users();
    html! {
        div.table-scroll {
            table.users {
                thead { tr {
                    th scope="col" { (t(lang, "page.users.col_login")) }
                    th scope="col" { (t(lang, "page.users.col_email")) }
                    th scope="col" { (t(lang, "page.users.col_group")) }
                    th scope="col" { (t(lang, "page.users.col_description")) }
                    th scope="col" { (t(lang, "page.users.col_status")) }
                    @if can_manage { th scope="col" { (t(lang, "page.users.col_actions")) } }
                } }
                tbody {
                    @for u in users {
                        @let id = u.id.to_string();
                        @let active = u.status == UserStatus::Active;
                        tr {
                            td.login { (u.login) }
                            td { (u.email) }
                            td { (u.group_name) }
                            td { (u.description) }
                            td { @if active { (t(lang, "page.users.status_active")) } @else { (t(lang, "page.users.status_disabled")) } }
                            @if can_manage {
                                td.actions {
                                    a href=(routes::user(&id)) { (t(lang, "page.users.edit")) }
                                    (Form::post(&routes::fill(routes::USER_STATUS, &[("id", &id)]), f.csrf).with(html! {
                                        @if active {
                                            (hidden("status", UserStatus::Disabled.as_str()))
                                            (Button::secondary(t(lang, "page.users.disable")))
                                        } @else {
                                            (hidden("status", UserStatus::Active.as_str()))
                                            (Button::secondary(t(lang, "page.users.enable")))
                                        }
                                    }))
                                    (Form::post(&routes::fill(routes::USER_DELETE, &[("id", &id)]), f.csrf).with(html! {
                                        (Button::danger(t(lang, "page.users.delete")))
                                    }))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn groups_table(f: &Frame<'_>, groups: &[Group]) -> Markup {
    let lang = f.lang;
    let can_manage = f.role.can_manage_users();
    html! {
        div.table-scroll {
            table.groups {
                thead { tr {
                    th scope="col" { (t(lang, "page.users.col_name")) }
                    th scope="col" { (t(lang, "page.users.col_role")) }
                    th scope="col" { (t(lang, "page.users.col_members")) }
                    @if can_manage { th scope="col" { (t(lang, "page.users.col_actions")) } }
                } }
                tbody {
                    @for g in groups {
                        tr {
                            td { (g.name) @if g.is_default { " (" (t(lang, "page.users.default_group")) ")" } }
                            td { (role_text(lang, g.role)) }
                            td { (g.members) }
                            @if can_manage {
                                td {
                                    @if !g.is_default {
                                        (Form::post(&routes::fill(routes::GROUP_DELETE, &[("name", &g.name)]), f.csrf).with(html! {
                                            (Button::danger(t(lang, "page.users.delete")))
                                        }))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn group_form(f: &Frame<'_>, v: &ListView<'_>) -> Markup {
    let lang = f.lang;
    let roles: Vec<(&str, &str)> = DEFAULT_GROUPS
        .iter()
        .filter(|(_, r)| *r <= f.role)
        .map(|(_, r)| (r.as_str(), role_text(lang, *r)))
        .collect();
    let role_err = err_of(lang, v.group_errors, "role");
    html! {
        (Form::post(routes::GROUPS, f.csrf).novalidate().with(html! {
            (field(lang, v.group_errors, ("group-name", "name"), t(lang, "page.users.field_group_name"), "text", &v.group_values.0, "off"))
            (Select::new("role", t(lang, "page.users.field_group_role"), &roles, &v.group_values.1).id("group-role").error(role_err))
            (Button::primary(t(lang, "page.users.group_create_button")))
        }))
    }
}

/// A user's edit form; `values` are the email, group and description shown.
pub fn edit(
    f: &Frame<'_>,
    u: &LocalUser,
    groups: &[Group],
    errors: &[FieldError],
    values: (&str, &str, &str),
) -> Markup {
    let lang = f.lang;
    let title = i18n::format(t(lang, "page.users.edit_heading"), &[("login", &u.login)]);
    let action = routes::user(&u.id.to_string());
    let body = html! {
        h1 { (title) }
        (errors_above(lang, errors))
        (Form::post(&action, f.csrf).novalidate().with(html! {
            (field(lang, errors, ("email", "email"), t(lang, "page.users.field_email"), "email", values.0, "off"))
            (group_select(lang, errors, groups, values.1, f.role))
            (field(lang, errors, ("description", "description"), t(lang, "page.users.field_description"), "text", values.2, "off"))
            (Button::primary(t(lang, "page.users.save_button")))
        }))
        (back(lang))
    };
    layout(lang, &title, Some(f.who.clone()), body)
}

/// A local user's own password change.
pub fn my_password(f: &Frame<'_>, login: &str, errors: &[FieldError]) -> Markup {
    let lang = f.lang;
    let title = t(lang, "page.users.my_password_title");
    let body = html! {
        h1 { (title) }
        p { (i18n::format(t(lang, "page.users.my_password_intro"), &[("login", login)])) }
        (errors_above(lang, errors))
        (Form::post(routes::MY_PASSWORD, f.csrf).novalidate().with(html! {
            (field(lang, errors, ("current_password", "current_password"), t(lang, "page.users.field_current_password"), "password", "", "current-password"))
            (field(lang, errors, ("password", "password"), t(lang, "page.users.field_new_password"), "password", "", "new-password"))
            (field(lang, errors, ("password_confirm", "password_confirm"), t(lang, "page.users.field_new_password_confirm"), "password", "", "new-password"))
            (Button::primary(t(lang, "page.users.my_password_button")))
        }))
        (back(lang))
    };
    layout(lang, title, Some(f.who.clone()), body)
}
