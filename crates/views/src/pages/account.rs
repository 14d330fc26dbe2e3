//! The account's home page.

use accounts::Account;
use app::i18n::Lang;
use maud::{Markup, html};

use crate::components::{Button, Form, Who, layout};
use crate::routes;
use crate::text::tr;

/// The minimal account page.
pub fn account_page(lang: Lang, a: &Account, csrf: &str) -> Markup {
    let t = |k: &str| tr(lang, k);
    let backup = routes::then(routes::BACKUP_EMAIL, routes::ACCOUNT);
    let (on_text, switch_to, switch_label) = if a.login_notifications {
        (
            "page.account.notifications_on",
            "0",
            "page.account.notifications_stop",
        )
    } else {
        (
            "page.account.notifications_off",
            "1",
            "page.account.notifications_start",
        )
    };
    layout(
        lang,
        t("page.account.title"),
        Some(Who::of(a)),
        html! {
            h1 { (t("page.account.title")) }
            dl.facts {
                dt { (t("page.account.name")) } dd { (a.first_name) " " (a.last_name) }
                dt { (t("page.account.handle")) } dd.handle-small { (a.handle) }
                dt { (t("page.account.code")) } dd { (a.customer_code) }
                dt { (t("page.account.primary_email")) }
                dd {
                    (a.primary_email.as_deref().unwrap_or(""))
                    " "
                    @if a.primary_email_verified { (t("page.account.verified")) } @else { (t("page.account.not_verified")) }
                }
                dt { (t("page.account.backup_email")) }
                dd {
                    (a.backup_email.as_deref().unwrap_or(t("page.account.none")))
                    " · " a href=(backup) {
                        @if a.backup_email.is_some() { (t("page.account.change")) } @else { (t("page.account.add_one")) }
                    }
                }
            }
            ul.panel-links {
                li { a href=(routes::PROFILE) { (t("page.account.link_profile")) } }
                li { a href=(routes::EMAIL) { (t("page.account.link_email")) } }
                li { a href=(routes::PASSWORD) { (t("page.account.link_password")) } }
                li { a href=(routes::SECURITY) { (t("page.account.link_security")) } }
            }
            h2 { (t("page.account.notifications")) }
            (Form::post(routes::NOTIFICATIONS, csrf).with(html! {
                p { (t(on_text)) }
                (crate::components::hidden("on", switch_to))
                (Button::secondary(t(switch_label)))
            }))
            (Form::post(routes::LOGOUT, csrf).with(html! {
                (Button::primary(t("page.account.logout")))
            }))
        },
    )
}
