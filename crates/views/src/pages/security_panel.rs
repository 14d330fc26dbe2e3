//! The security area beside the second factors: open sessions, connected
//! applications and the security log.

use accounts::EventKind;
use accounts::events::EventPage;
use app::access::{AppView, SessionView, device_of};
use app::i18n::{self, Lang, t};
use maud::{Markup, html};

use crate::components::{Button, Form, Role, Who, layout, security_nav};
use crate::routes;

fn tr(lang: Lang, key: &str) -> &'static str {
    t(lang, &format!("page.security_panel.{key}"))
}

/// A Unix time in the page's language.
fn when_unix(lang: Lang, secs: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0)
        .map(|d| when(lang, d))
        .unwrap_or_default()
}

fn when(lang: Lang, d: chrono::DateTime<chrono::Utc>) -> String {
    d.format(tr(lang, "when")).to_string()
}

fn done_notice(lang: Lang, done: &str) -> Markup {
    let text = match done {
        "ended" => tr(lang, "done_ended"),
        "withdrawn" => tr(lang, "done_withdrawn"),
        "gone" => tr(lang, "done_gone"),
        _ => return html! {},
    };
    html! { p.notice role="status" { (text) } }
}

/// What every page of the area knows.
pub struct Frame<'a> {
    /// The page's language.
    pub lang: Lang,
    /// The header identity.
    pub who: Who<'a>,
    /// The session's anti-CSRF token.
    pub csrf: &'a str,
}

fn page(f: &Frame<'_>, title_key: &str, body: Markup) -> Markup {
    layout(f.lang, tr(f.lang, title_key), Some(f.who.clone()), body)
}

/// The open sessions, each with a way to end it; `done` says what was just
/// done.
pub fn sessions(f: &Frame<'_>, done: &str, list: &[SessionView]) -> Markup {
    let l = f.lang;
    let body = html! {
        h1 { (tr(l, "sessions_title")) }
        (security_nav(l))
        (done_notice(l, done))
        p.hint { (tr(l, "sessions_intro")) }
        table {
            caption.hint { (tr(l, "sessions_caption")) }
            thead { tr {
                th scope="col" { (tr(l, "col_device")) }
                th scope="col" { (tr(l, "col_ip")) }
                th scope="col" { (tr(l, "col_opened")) }
                th scope="col" { (tr(l, "col_last_seen")) }
                th scope="col" { span.visually-hidden { (tr(l, "col_action")) } }
            } }
            tbody {
                @for s in list {
                    tr {
                        td {
                            span title=(s.user_agent) { (s.device) }
                            @if s.current { " " strong.current { (tr(l, "this_session")) } }
                        }
                        td { (s.ip) }
                        td { (when_unix(l, s.opened)) }
                        td { (when_unix(l, s.last_seen)) }
                        td {
                            (Form::post(routes::SESSIONS_END, f.csrf).hidden("handle", &s.handle).with(html! {
                                (Button::new(Role::Link, tr(l, "end_session")))
                            }))
                        }
                    }
                }
            }
        }
        (Form::post(routes::SESSIONS_END_ALL, f.csrf).with(html! {
            p.hint { (tr(l, "end_all_hint")) }
            (Button::primary(tr(l, "end_all")))
        }))
    };
    page(f, "sessions_title", body)
}

/// Plain words for a scope, in the page's language.
pub fn scope_words(lang: Lang, scope: &str) -> String {
    match scope {
        "openid" | "profile" | "email" | "offline_access" | "customer" => {
            tr(lang, &format!("scope_{scope}")).to_owned()
        }
        other => i18n::format(tr(lang, "scope_other"), &[("scope", other)]),
    }
}

/// The applications the account let in, each with a way to withdraw.
pub fn apps(f: &Frame<'_>, done: &str, apps: &[AppView]) -> Markup {
    let l = f.lang;
    let body = html! {
        h1 { (tr(l, "apps_title")) }
        (security_nav(l))
        (done_notice(l, done))
        @if apps.is_empty() {
            p { (tr(l, "apps_none")) }
        } @else {
            p.hint { (tr(l, "apps_intro")) }
            @for a in apps {
                section.app {
                    h2 { (a.name) }
                    p.hint { (i18n::format(tr(l, "granted_at"), &[("when", &when(l, a.granted_at))])) }
                    ul { @for s in &a.scopes { li { (scope_words(l, s)) } } }
                    (Form::post(routes::APPS_WITHDRAW, f.csrf).hidden("client_id", &a.client_id).with(html! {
                        (Button::primary(tr(l, "withdraw")))
                    }))
                }
            }
        }
    };
    page(f, "apps_title", body)
}

fn kind_text(lang: Lang, kind: &str) -> String {
    match EventKind::parse(kind) {
        Some(k) => tr(lang, &format!("event_{}", k.as_str())).to_owned(),
        None => kind.to_owned(),
    }
}

/// One page of the security log; `by` names who acted on each line.
pub fn log(f: &Frame<'_>, page_: &EventPage, by: impl Fn(Option<i32>) -> String) -> Markup {
    let l = f.lang;
    let body = html! {
        h1 { (tr(l, "log_title")) }
        (security_nav(l))
        p.hint { (tr(l, "log_intro")) }
        @if page_.events.is_empty() {
            p { (tr(l, "log_none")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (tr(l, "col_when")) }
                    th scope="col" { (tr(l, "col_event")) }
                    th scope="col" { (tr(l, "col_detail")) }
                    th scope="col" { (tr(l, "col_by")) }
                    th scope="col" { (tr(l, "col_ip")) }
                    th scope="col" { (tr(l, "col_device")) }
                } }
                tbody {
                    @for e in &page_.events {
                        tr.event data-kind=(e.kind) {
                            td { (when(l, e.at)) }
                            td { (kind_text(l, &e.kind)) }
                            td { (e.detail) }
                            td.by { (by(e.user_id)) }
                            td { (e.ip) }
                            td { @if !e.user_agent.is_empty() { (device_of(&e.user_agent)) } }
                        }
                    }
                }
            }
        }
        // Pagination only when there is somewhere to go: an empty paragraph
        // is noise to a screen reader.
        @if page_.page > 1 || page_.has_more {
            p.links {
                @if page_.page > 1 {
                    a rel="prev" href=(routes::with_query(routes::SECURITY_LOG, &[("page", &(page_.page - 1).to_string())])) { (tr(l, "newer")) }
                    " "
                }
                @if page_.has_more {
                    a rel="next" href=(routes::with_query(routes::SECURITY_LOG, &[("page", &(page_.page + 1).to_string())])) { (tr(l, "older")) }
                }
            }
        }
    };
    page(f, "log_title", body)
}
