//! The consent page a third-party application's request opens.

use app::i18n::Lang;
use maud::{Markup, html};

use crate::components::{Button, Form, Role, Who, layout};
use crate::routes;
use crate::text::{tr, tr_fmt};

/// Plain words for a scope.
fn scope_text(lang: Lang, scope: &str) -> String {
    match scope {
        "openid" | "profile" | "email" | "offline_access" | "customer" => {
            tr(lang, &format!("page.consent.scope_{scope}")).to_owned()
        }
        other => tr_fmt(lang, "page.consent.scope_other", &[("scope", other)]),
    }
}

/// The consent page for a third-party client.
pub fn consent(
    lang: Lang,
    who: Who<'_>,
    client_name: &str,
    scopes: &[String],
    request_id: &str,
    csrf: &str,
) -> Markup {
    let t = |k: &str| tr(lang, k);
    layout(
        lang,
        t("page.consent.title"),
        Some(who),
        html! {
            h1 { (tr_fmt(lang, "page.consent.heading", &[("client", client_name)])) }
            p { (tr_fmt(lang, "page.consent.asks", &[("client", client_name)])) }
            ul {
                @for s in scopes { li { (scope_text(lang, s)) } }
            }
            p.hint { (t("page.consent.withdraw")) }
            (Form::post(routes::CONSENT, csrf).hidden("request_id", request_id).with(html! {
                (Button::primary(t("page.consent.allow")).submits("decision", "allow"))
                " "
                (Button::new(Role::Link, t("page.consent.deny")).submits("decision", "deny"))
            }))
        },
    )
}
