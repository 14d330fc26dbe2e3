//! Navigation between the pages of a signed-in area.

use app::i18n::{Lang, t};
use maud::{Markup, html};

use crate::routes;

/// The links between the security area's pages: second factors, sessions,
/// applications, log, personal data and service contacts.
pub fn security_nav(lang: Lang) -> Markup {
    let tr = |key: &str| t(lang, &format!("page.security_panel.{key}"));
    html! {
        nav.links aria-label=(tr("nav_label")) {
            a href=(routes::SECURITY) { (tr("nav_security")) } " · "
            a href=(routes::SESSIONS) { (tr("nav_sessions")) } " · "
            a href=(routes::APPS) { (tr("nav_apps")) } " · "
            a href=(routes::SECURITY_LOG) { (tr("nav_log")) } " · "
            a href=(routes::DATA) { (tr("nav_data")) } " · "
            a href=(routes::CONTACTS) { (tr("nav_contacts")) }
        }
    }
}
