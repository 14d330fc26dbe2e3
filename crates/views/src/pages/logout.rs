//! The question an application's logout request asks when nothing proves
//! the application speaks for the signed-in person.

use app::i18n::Lang;
use maud::{Markup, html};

use crate::components::{Button, Form, layout};
use crate::routes;
use crate::text::tr;

/// What the logout request carried, sent back with the confirmation.
pub struct LogoutRequest<'a> {
    /// The relying party.
    pub client_id: Option<&'a str>,
    /// Where to go afterwards.
    pub post_logout_redirect_uri: Option<&'a str>,
    /// The relying party's state.
    pub state: Option<&'a str>,
}

/// "Sign out?" with a button that confirms and a link that stays.
pub fn confirm(lang: Lang, csrf: &str, r: &LogoutRequest<'_>) -> Markup {
    let t = |k: &str| tr(lang, k);
    let mut form = Form::post(routes::OAUTH_LOGOUT, csrf).hidden("confirm", "yes");
    let carried = [
        ("client_id", r.client_id),
        ("post_logout_redirect_uri", r.post_logout_redirect_uri),
        ("state", r.state),
    ];
    for (name, value) in carried {
        if let Some(v) = value {
            form = form.hidden(name, v);
        }
    }
    let body = html! {
        h1 { (t("page.logout.confirm_heading")) }
        p { (t("page.logout.confirm_text")) }
        (form.with(html! { (Button::primary(t("page.logout.submit"))) }))
        p { a href=(routes::ACCOUNT) { (t("page.logout.stay")) } }
    };
    layout(lang, t("page.logout.title"), None, body)
}
