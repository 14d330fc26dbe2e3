//! Service contacts: the delegations of the account, answering and
//! cancelling them, and asking another customer to take one.

use accounts::DelegationStatus;
use accounts::FieldError;
use accounts::contacts::{ContactRole, Delegation};
use app::i18n::{Lang, t};
use maud::{Markup, html};

use crate::components::{Button, Field, Form, Role, Select, Who, layout};
use crate::routes;

fn tr(lang: Lang, key: &str) -> &'static str {
    t(lang, &format!("page.contacts.{key}"))
}

/// The words for a refused field of the request form.
pub fn problem_text(lang: Lang, e: &FieldError) -> &'static str {
    match e.problem.code() {
        c @ ("required" | "too_long" | "bad_characters" | "unknown_handle" | "handle_mismatch") => {
            tr(lang, &format!("problem_{c}"))
        }
        _ => tr(lang, "problem_unknown_kind"),
    }
}

/// What the contacts page shows.
pub struct ContactsView<'a> {
    /// The page's language.
    pub lang: Lang,
    /// The header identity.
    pub who: Who<'a>,
    /// The session's anti-CSRF token.
    pub csrf: &'a str,
    /// The account's own handle (which side of each delegation it is on).
    pub me: &'a str,
    /// The delegations from and to the account.
    pub list: &'a [Delegation],
    /// The request form's service, role and handle, shown back.
    pub typed: (&'a str, &'a str, &'a str),
    /// The request form's refused fields.
    pub errors: &'a [FieldError],
    /// What was just done (`asked`, `answered`, `cancelled`).
    pub done: &'a str,
}

/// The contacts page.
pub fn page(v: &ContactsView<'_>) -> Markup {
    let l = v.lang;
    let err = |f: &str| {
        v.errors
            .iter()
            .find(|e| e.field == f)
            .map(|e| problem_text(l, e).to_owned())
    };
    let roles: Vec<(&str, &str)> = ContactRole::ALL
        .iter()
        .map(|r| (r.as_str(), tr(l, &format!("role_{}", r.as_str()))))
        .collect();
    let (service, role, handle) = v.typed;
    layout(
        l,
        tr(l, "title"),
        Some(v.who.clone()),
        html! {
            h1 { (tr(l, "title")) }
            p.hint { (tr(l, "intro")) }
            @match v.done {
                "asked" => p.notice role="status" { (tr(l, "done_asked")) },
                "answered" => p.notice role="status" { (tr(l, "done_answered")) },
                "cancelled" => p.notice role="status" { (tr(l, "done_cancelled")) },
                _ => {},
            }
            @if v.list.is_empty() {
                p { (tr(l, "none")) }
            } @else {
                (table(v))
            }
            h2 { (tr(l, "new_title")) }
            (Form::post(routes::CONTACTS, v.csrf).novalidate().with(html! {
                (Field::new("service", tr(l, "service_label")).maxlength(100).value(service).error(err("service")))
                (Select::new("role", tr(l, "role_label"), &roles, role).error(err("role")))
                (Field::new("handle", tr(l, "handle_label")).maxlength(32).value(handle).error(err("handle")))
                (Button::primary(tr(l, "ask")))
            }))
        },
    )
}

fn table(v: &ContactsView<'_>) -> Markup {
    let l = v.lang;
    let role_text = |r: &str| match ContactRole::parse(r) {
        Some(r) => tr(l, &format!("role_{}", r.as_str())),
        None => "",
    };
    html! {
        table {
            thead { tr {
                th scope="col" { (tr(l, "col_service")) }
                th scope="col" { (tr(l, "col_role")) }
                th scope="col" { (tr(l, "col_from")) }
                th scope="col" { (tr(l, "col_to")) }
                th scope="col" { (tr(l, "col_status")) }
                th scope="col" { (tr(l, "col_action")) }
            } }
            tbody { @for d in v.list {
                @let id = d.id.to_string();
                tr.delegation {
                    td { (d.service) }
                    td { (role_text(&d.role)) }
                    td { (d.from_handle) }
                    td { (d.to_handle) }
                    td { (if d.status == DelegationStatus::Pending { tr(l, "status_pending") } else { tr(l, "status_accepted") }) }
                    td {
                        @if d.status == DelegationStatus::Pending && d.to_handle == v.me {
                            (Form::post(&routes::fill(routes::CONTACT_ANSWER, &[("id", &id)]), v.csrf).with(html! {
                                (Button::primary(tr(l, "accept")).submits("decision", "accept"))
                                " "
                                (Button::new(Role::Link, tr(l, "refuse")).submits("decision", "refuse"))
                            }))
                        }
                        @if d.from_handle == v.me {
                            (Form::post(&routes::fill(routes::CONTACT_CANCEL, &[("id", &id)]), v.csrf).with(html! {
                                (Button::new(Role::Link, tr(l, "cancel")))
                            }))
                        }
                    }
                }
            } }
        }
    }
}
