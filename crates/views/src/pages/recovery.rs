//! Pages of the ways back in: the mailed login code, the forgotten handle,
//! the lost password and its reset, and naming a backup address.

use accounts::FieldError;
use app::i18n::Lang;
use maud::{Markup, html};

use crate::components::{Button, Field, Form, Notice, Role, Who, layout, link_button, notice};
use crate::routes;
use crate::text::{tr, tr_html};

use super::input;

/// What the mailed-code page shows.
pub struct EmailCodeView<'a> {
    /// The primary address, masked.
    pub masked: String,
    /// The pending login's anti-CSRF token.
    pub csrf: &'a str,
    /// Whether a code is live (sent, not void): only then is one asked for.
    pub code_live: bool,
    /// Whether another code may still be sent.
    pub can_resend: bool,
    /// A notice (a new code was sent).
    pub notice: Option<&'a str>,
    /// What went wrong.
    pub error: Option<&'a str>,
}

/// The field for a mailed code, described by the error above the form.
fn code_field<'a>(label: &'a str, error: Option<&str>) -> Field<'a> {
    Field::new("code", label)
        .inputmode("numeric")
        .autocomplete("one-time-code")
        .maxlength(16)
        .required()
        .autofocus()
        .described_by(error.map(|_| "code-error"))
}

/// The page asking for the code mailed on a risky login.
pub fn email_code(lang: Lang, v: &EmailCodeView<'_>) -> Markup {
    let t = |k: &str| tr(lang, k);
    layout(
        lang,
        t("page.email_code.title"),
        None,
        html! {
            h1 { (t("page.email_code.title")) }
            @if v.code_live {
                p { (tr_html(lang, "page.email_code.sent", &[("email", &v.masked)])) }
                p.hint { (t("page.email_code.spam")) }
            }
            @if let Some(n) = v.notice { (notice(Notice::Success, None, html! { (n) })) }
            @if let Some(e) = v.error { (notice(Notice::Error, Some("code-error"), html! { (e) })) }
            @if v.code_live {
                (Form::post(routes::LOGIN_EMAIL_CODE, v.csrf).with(html! {
                    (code_field(t("page.common.code"), v.error))
                    (Button::primary(t("page.common.continue")))
                }))
            }
            @if v.can_resend {
                (Form::post(routes::LOGIN_EMAIL_CODE_RESEND, v.csrf).with(html! {
                    (Button::secondary(t("page.email_code.resend")))
                }))
            }
            p { a href=(routes::LOGIN) { (t("page.email_code.login_again")) } }
            @if !v.can_resend {
                p { a href=(routes::FORGOT_PASSWORD) { (t("page.email_code.forgot_password")) } }
            }
        },
    )
}

/// "I don't know my customer handle": asks for an email address.
pub fn forgot_handle(lang: Lang, csrf: &str, sent: bool, error: Option<&str>) -> Markup {
    let t = |k: &str| tr(lang, k);
    layout(
        lang,
        t("page.forgot_handle.title"),
        None,
        html! {
            h1 { (t("page.forgot_handle.title")) }
            @if sent {
                (notice(Notice::Success, None, html! { (t("page.forgot_handle.sent")) }))
            }
            p { (tr_html(lang, "page.forgot_handle.explain", &[])) }
            @if let Some(e) = error { (notice(Notice::Error, None, html! { (e) })) }
            (Form::post(routes::FORGOT_HANDLE, csrf).with(html! {
                (Field::new("email", t("page.forgot_handle.email")).kind("email").autocomplete("email").maxlength(254).required())
                (Button::primary(t("page.forgot_handle.submit")))
            }))
            p { a href=(routes::LOGIN) { (t("page.recovery.back_login")) } }
        },
    )
}

/// "Forgot password": asks for the handle or primary email.
pub fn forgot_password(lang: Lang, csrf: &str, sent: bool, error: Option<&str>) -> Markup {
    let t = |k: &str| tr(lang, k);
    layout(
        lang,
        t("page.forgot_password.title"),
        None,
        html! {
            h1 { (t("page.forgot_password.title")) }
            @if sent {
                (notice(Notice::Success, None, html! { (t("page.forgot_password.sent")) }))
            }
            @if let Some(e) = error { (notice(Notice::Error, None, html! { (e) })) }
            (Form::post(routes::FORGOT_PASSWORD, csrf).with(html! {
                (Field::new("identifier", t("page.login.identifier")).autocomplete("username").verbatim().maxlength(254).required())
                (Button::primary(t("page.forgot_password.submit")))
            }))
            p { a href=(routes::FORGOT_HANDLE) { (t("page.login.forgot_handle")) } }
            p { a href=(routes::LOGIN) { (t("page.recovery.back_login")) } }
        },
    )
}

/// The reset form a mailed link opens: the handle, then the new password twice.
pub fn reset_form(
    lang: Lang,
    token: &str,
    handle: &str,
    errors: &[FieldError],
    min_chars: usize,
    alert: Option<&str>,
) -> Markup {
    let t = |k: &str| tr(lang, k);
    let hint = app::i18n::format(
        t("page.reset.password_hint"),
        &[("n", &min_chars.to_string())],
    );
    layout(
        lang,
        t("page.reset.title"),
        None,
        html! {
            h1 { (t("page.reset.title")) }
            @if let Some(a) = alert { (notice(Notice::Error, None, html! { (a) })) }
            (Form::post_sessionless(routes::RESET_PASSWORD).hidden("token", token).with(html! {
                (input(lang, errors, "handle", t("page.account.handle"), "text", handle, "username").required().hint(t("page.reset.handle_hint")))
                (input(lang, errors, "password", t("page.reset.new_password"), "password", "", "new-password").required().hint(&hint))
                (input(lang, errors, "password_confirm", t("page.reset.new_password_again"), "password", "", "new-password").required())
                (Button::primary(t("page.reset.submit")))
            }))
        },
    )
}

/// A reset link that is unknown, used or expired.
pub fn reset_link_dead(lang: Lang) -> Markup {
    let t = |k: &str| tr(lang, k);
    layout(
        lang,
        t("page.reset.dead_title"),
        None,
        html! {
            h1 { (t("page.reset.dead_title")) }
            p { (t("page.reset.dead")) }
            p { (link_button(Role::Primary, routes::FORGOT_PASSWORD, t("page.reset.ask_new"))) }
        },
    )
}

/// After a reset: the password is changed, every session was closed, and the
/// person logs in again (no automatic login).
pub fn reset_done(lang: Lang) -> Markup {
    let t = |k: &str| tr(lang, k);
    layout(
        lang,
        t("page.reset.done_title"),
        None,
        html! {
            h1 { (t("page.reset.done_title")) }
            p { (t("page.reset.done")) }
            p { (link_button(Role::Primary, routes::LOGIN, t("page.login.submit"))) }
        },
    )
}

/// Naming a backup address (or the forced step after support promoted the
/// old one).
pub fn backup_email_form(
    lang: Lang,
    who: Who<'_>,
    csrf: &str,
    next: &str,
    forced: bool,
    value: &str,
    errors: &[FieldError],
) -> Markup {
    let t = |k: &str| tr(lang, k);
    layout(
        lang,
        t("page.backup.title"),
        Some(who),
        html! {
            h1 { (t("page.backup.title")) }
            @if forced {
                (notice(Notice::Error, None, html! { (t("page.backup.forced")) }))
            }
            p { (t("page.backup.explain")) }
            (Form::post(routes::BACKUP_EMAIL, csrf).hidden("next", next).with(html! {
                (input(lang, errors, "backup_email", t("page.backup.new"), "email", value, "email").required())
                (Button::primary(t("page.backup.submit")))
            }))
        },
    )
}

/// Entering the code sent to the new backup address.
pub fn backup_email_confirm(
    lang: Lang,
    who: Who<'_>,
    csrf: &str,
    next: &str,
    email: &str,
    error: Option<&str>,
) -> Markup {
    let t = |k: &str| tr(lang, k);
    layout(
        lang,
        t("page.backup.confirm_title"),
        Some(who),
        html! {
            h1 { (t("page.backup.confirm_title")) }
            p { (tr_html(lang, "page.backup.sent", &[("email", email)])) }
            @if let Some(e) = error { (notice(Notice::Error, Some("code-error"), html! { (e) })) }
            (Form::post(routes::BACKUP_EMAIL_CONFIRM, csrf).hidden("next", next).with(html! {
                (code_field(t("page.common.code"), error))
                (Button::primary(t("page.common.confirm")))
            }))
        },
    )
}
