//! Signing in: the login form, its re-authentication variant and the page a
//! verification link opens.

use app::i18n::Lang;
use maud::{Markup, html};

use crate::components::{Button, Field, Form, Notice, layout, notice};
use crate::routes;
use crate::text::tr;

/// The login form. `error` is the one message shown for every failure.
pub fn login_form(
    lang: Lang,
    identifier: &str,
    next: &str,
    csrf: &str,
    error: Option<&str>,
) -> Markup {
    login_page(lang, identifier, next, csrf, error, false)
}

/// The login form for a signed-in person whom an application asked to
/// authenticate again (`prompt=login`, `max_age`): their identifier
/// pre-filled, and a way to sign in with another account instead.
pub fn reauth_form(lang: Lang, identifier: &str, next: &str, csrf: &str) -> Markup {
    login_page(lang, identifier, next, csrf, None, true)
}

fn login_page(
    lang: Lang,
    identifier: &str,
    next: &str,
    csrf: &str,
    error: Option<&str>,
    reauth: bool,
) -> Markup {
    let t = |k: &str| tr(lang, k);
    let other_account = routes::with_query(routes::LOGIN, &[("reauth", "1"), ("next", next)]);
    layout(
        lang,
        t("page.login.title"),
        None,
        html! {
            h1 { (t("page.login.title")) }
            @if reauth {
                p.notice role="status" id="reauth" { (t("page.login.reauth")) }
            }
            @if let Some(e) = error {
                (notice(Notice::Error, Some("login-error"), html! { (e) }))
            }
            (Form::post(routes::LOGIN, csrf).hidden("next", next).with(html! {
                (Field::new("identifier", t("page.login.identifier")).value(identifier)
                    .autocomplete("username").verbatim().required()
                    .described_by(error.map(|_| "login-error"))
                    .hint(t("page.login.identifier_hint")))
                (Field::new("password", t("page.login.password")).kind("password")
                    .autocomplete("current-password").required())
                (Button::primary(t("page.login.submit")))
            }))
            div.links {
                @if reauth {
                    a href=(other_account) id="other-account" { (t("page.login.other_account")) }
                }
                a href=(routes::FORGOT_HANDLE) { (t("page.login.forgot_handle")) }
                a href=(routes::FORGOT_PASSWORD) { (t("page.login.forgot_password")) }
                a href=(routes::SIGNUP) { (t("page.login.signup")) }
            }
        },
    )
}

/// The page a verification link opens: a button, because mail scanners follow
/// links and must not verify an address on the customer's behalf.
pub fn verify_form(lang: Lang, token: &str, csrf: &str) -> Markup {
    let t = |k: &str| tr(lang, k);
    layout(
        lang,
        t("page.verify.title"),
        None,
        html! {
            h1 { (t("page.verify.heading")) }
            (Form::post(routes::VERIFY_EMAIL, csrf).hidden("token", token).with(html! {
                (Button::primary(t("page.verify.submit")))
            }))
        },
    )
}
