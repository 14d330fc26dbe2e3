//! Pages of the ways back in: the mailed login code, the forgotten handle,
//! the lost password and its reset, and naming a backup address.

use maud::{Markup, html};

use accounts::FieldError;

use super::pages::{Who, field_error, layout, tr, tr_html};
use crate::i18n::Lang;

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

/// One labelled, required input with its error tied to it.
fn input(
    lang: Lang,
    errors: &[FieldError],
    name: &str,
    label: &str,
    kind: &str,
    value: &str,
    auto: &str,
) -> Markup {
    let err = field_error(lang, errors, name);
    let err_id = format!("{name}-error");
    html! {
        label for=(name) { (label) }
        input type=(kind) id=(name) name=(name) value=(value) autocomplete=(auto) required
            aria-invalid=[err.as_ref().map(|_| "true")]
            aria-describedby=[err.as_ref().map(|_| err_id.as_str())];
        @if let Some(e) = err {
            p.field-error id=(err_id) { (e) }
        }
    }
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
            @if let Some(n) = v.notice { div.notice role="status" { (n) } }
            @if let Some(e) = v.error { div.alert role="alert" id="code-error" { (e) } }
            @if v.code_live {
                form method="post" action="/login/email-code" {
                    input type="hidden" name="csrf" value=(v.csrf);
                    label for="code" { (t("page.common.code")) }
                    input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code"
                        maxlength="16" required autofocus aria-describedby=[v.error.map(|_| "code-error")];
                    button type="submit" { (t("page.common.continue")) }
                }
            }
            @if v.can_resend {
                form method="post" action="/login/email-code/resend" {
                    input type="hidden" name="csrf" value=(v.csrf);
                    button.secondary type="submit" { (t("page.email_code.resend")) }
                }
            }
            p { a href="/login" { (t("page.email_code.login_again")) } }
            @if !v.can_resend {
                p { a href="/forgot-password" { (t("page.email_code.forgot_password")) } }
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
                div.notice role="status" { (t("page.forgot_handle.sent")) }
            }
            p { (tr_html(lang, "page.forgot_handle.explain", &[])) }
            @if let Some(e) = error { div.alert role="alert" { (e) } }
            form method="post" action="/forgot-handle" {
                input type="hidden" name="csrf" value=(csrf);
                label for="email" { (t("page.forgot_handle.email")) }
                input type="email" id="email" name="email" autocomplete="email" maxlength="254" required;
                button type="submit" { (t("page.forgot_handle.submit")) }
            }
            p { a href="/login" { (t("page.recovery.back_login")) } }
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
                div.notice role="status" { (t("page.forgot_password.sent")) }
            }
            @if let Some(e) = error { div.alert role="alert" { (e) } }
            form method="post" action="/forgot-password" {
                input type="hidden" name="csrf" value=(csrf);
                label for="identifier" { (t("page.login.identifier")) }
                input type="text" id="identifier" name="identifier" autocomplete="username"
                    autocapitalize="none" spellcheck="false" maxlength="254" required;
                button type="submit" { (t("page.forgot_password.submit")) }
            }
            p { a href="/forgot-handle" { (t("page.login.forgot_handle")) } }
            p { a href="/login" { (t("page.recovery.back_login")) } }
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
    let min = min_chars.to_string();
    layout(
        lang,
        t("page.reset.title"),
        None,
        html! {
            h1 { (t("page.reset.title")) }
            @if let Some(a) = alert { div.alert role="alert" { (a) } }
            form method="post" action="/reset-password" {
                input type="hidden" name="token" value=(token);
                (input(lang, errors, "handle", t("page.account.handle"), "text", handle, "username"))
                p.hint { (t("page.reset.handle_hint")) }
                (input(lang, errors, "password", t("page.reset.new_password"), "password", "", "new-password"))
                p.hint { (crate::i18n::format(t("page.reset.password_hint"), &[("n", &min)])) }
                (input(lang, errors, "password_confirm", t("page.reset.new_password_again"), "password", "", "new-password"))
                button type="submit" { (t("page.reset.submit")) }
            }
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
            p { a.button href="/forgot-password" { (t("page.reset.ask_new")) } }
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
            p { a.button href="/login" { (t("page.login.submit")) } }
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
                div.alert role="alert" { (t("page.backup.forced")) }
            }
            p { (t("page.backup.explain")) }
            form method="post" action="/account/backup-email" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                (input(lang, errors, "backup_email", t("page.backup.new"), "email", value, "email"))
                button type="submit" { (t("page.backup.submit")) }
            }
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
            @if let Some(e) = error { div.alert role="alert" id="code-error" { (e) } }
            form method="post" action="/account/backup-email/confirm" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                label for="code" { (t("page.common.code")) }
                input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code"
                    maxlength="16" required autofocus aria-describedby=[error.map(|_| "code-error")];
                button type="submit" { (t("page.common.confirm")) }
            }
        },
    )
}
