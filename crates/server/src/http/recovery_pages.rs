//! Pages of the ways back in: the mailed login code, the forgotten handle,
//! the lost password and its reset, and naming a backup address.

use maud::{Markup, html};

use accounts::FieldError;

use super::pages::{Who, layout};

/// What the mailed-code page shows.
pub struct EmailCodeView<'a> {
    /// The primary address, masked.
    pub masked: String,
    /// The pending login's anti-CSRF token.
    pub csrf: &'a str,
    /// Whether another code may still be sent.
    pub can_resend: bool,
    /// A notice (a new code was sent).
    pub notice: Option<&'a str>,
    /// What went wrong.
    pub error: Option<&'a str>,
}

fn field_error(errors: &[FieldError], name: &str) -> Option<String> {
    errors
        .iter()
        .find(|e| e.field == name)
        .map(|e| e.problem.to_string())
}

/// One labelled input with its error tied to it.
fn input(
    errors: &[FieldError],
    name: &str,
    label: &str,
    kind: &str,
    value: &str,
    auto: &str,
) -> Markup {
    let err = field_error(errors, name);
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
pub fn email_code(v: &EmailCodeView<'_>) -> Markup {
    layout(
        "Check your email",
        None,
        html! {
            h1 { "Check your email" }
            p { "You are logging in from a device we do not know yet. We sent a 6-digit code to "
                strong { (v.masked) } ". It is valid for 10 minutes and works for this login only." }
            p.hint { "No mail after a minute or two? Look in your spam or junk folder." }
            @if let Some(n) = v.notice { div.notice role="status" { (n) } }
            @if let Some(e) = v.error { div.alert role="alert" id="code-error" { (e) } }
            form method="post" action="/login/email-code" {
                input type="hidden" name="csrf" value=(v.csrf);
                label for="code" { "Code" }
                input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code"
                    maxlength="16" required autofocus aria-describedby=[v.error.map(|_| "code-error")];
                button type="submit" { "Continue" }
            }
            @if v.can_resend {
                form method="post" action="/login/email-code/resend" {
                    input type="hidden" name="csrf" value=(v.csrf);
                    button.secondary type="submit" { "Send me a new code" }
                }
            }
            p { a href="/login" { "Log in again" } }
        },
    )
}

/// "I don't know my customer handle": asks for an email address.
pub fn forgot_handle(csrf: &str, sent: bool, error: Option<&str>) -> Markup {
    layout(
        "Find your customer handle",
        None,
        html! {
            h1 { "Find your customer handle" }
            @if sent {
                div.notice role="status" {
                    "If an account uses this address as its primary email, we have sent its customer handle there. "
                    "Look in your spam folder if it does not arrive."
                }
            }
            p { "Your customer handle looks like " code { "xx11111-ovh" } ". It is in the mail confirming your account, "
                "in every login notification, and at the top right of your account pages. You can also log in with your primary email instead." }
            @if let Some(e) = error { div.alert role="alert" { (e) } }
            form method="post" action="/forgot-handle" {
                input type="hidden" name="csrf" value=(csrf);
                label for="email" { "Primary email" }
                input type="email" id="email" name="email" autocomplete="email" maxlength="254" required;
                button type="submit" { "Send me my customer handle" }
            }
            p { a href="/login" { "Back to login" } }
        },
    )
}

/// "Forgot password": asks for the handle or primary email.
pub fn forgot_password(csrf: &str, sent: bool, error: Option<&str>) -> Markup {
    layout(
        "Reset your password",
        None,
        html! {
            h1 { "Reset your password" }
            @if sent {
                div.notice role="status" {
                    "If an account matches, we have sent a link to reset its password to its primary email. "
                    "The link works once, for one hour. Look in your spam folder if it does not arrive."
                }
            }
            @if let Some(e) = error { div.alert role="alert" { (e) } }
            form method="post" action="/forgot-password" {
                input type="hidden" name="csrf" value=(csrf);
                label for="identifier" { "Customer handle or primary email" }
                input type="text" id="identifier" name="identifier" autocomplete="username"
                    autocapitalize="none" spellcheck="false" maxlength="254" required;
                button type="submit" { "Send me a reset link" }
            }
            p { a href="/forgot-handle" { "I don't know my customer handle" } }
            p { a href="/login" { "Back to login" } }
        },
    )
}

/// The reset form a mailed link opens: the handle, then the new password twice.
pub fn reset_form(token: &str, handle: &str, errors: &[FieldError], min_chars: usize) -> Markup {
    layout(
        "Choose a new password",
        None,
        html! {
            h1 { "Choose a new password" }
            form method="post" action="/reset-password" {
                input type="hidden" name="token" value=(token);
                (input(errors, "handle", "Customer handle", "text", handle, "username"))
                p.hint { "The customer handle of the account, for example xx11111-ovh." }
                (input(errors, "password", "New password", "password", "", "new-password"))
                p.hint { "At least " (min_chars) " characters. Not one you used before for this account." }
                (input(errors, "password_confirm", "New password again", "password", "", "new-password"))
                button type="submit" { "Change my password" }
            }
        },
    )
}

/// A reset link that is unknown, used or expired.
pub fn reset_link_dead() -> Markup {
    layout(
        "This link no longer works",
        None,
        html! {
            h1 { "This link no longer works" }
            p { "A reset link works once, for one hour. Ask for a new one." }
            p { a.button href="/forgot-password" { "Ask for a new link" } }
        },
    )
}

/// After a reset: the password is changed, every session was closed, and the
/// person logs in again (no automatic login).
pub fn reset_done() -> Markup {
    layout(
        "Your password is changed",
        None,
        html! {
            h1 { "Your password is changed" }
            p { "For your safety we closed every session of your account, on every device. "
                "Log in with your new password; if your account uses two-factor authentication, "
                "it will still ask for your code." }
            p { a.button href="/login" { "Log in" } }
        },
    )
}

/// Naming a backup address (or the forced step after support promoted the
/// old one).
pub fn backup_email_form(
    who: Who<'_>,
    csrf: &str,
    next: &str,
    forced: bool,
    value: &str,
    errors: &[FieldError],
) -> Markup {
    layout(
        "Backup email",
        Some(who),
        html! {
            h1 { "Backup email" }
            @if forced {
                div.alert role="alert" {
                    "Our support team made your former backup address your primary email. "
                    "Name a new backup address before you continue: it is how you get back in if you lose access to your primary email."
                }
            }
            p { "We send a code to the new address; it becomes your backup email once you enter the code. "
                "It must differ from your primary email." }
            form method="post" action="/account/backup-email" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                (input(errors, "backup_email", "New backup email", "email", value, "email"))
                button type="submit" { "Send a code to this address" }
            }
        },
    )
}

/// Entering the code sent to the new backup address.
pub fn backup_email_confirm(
    who: Who<'_>,
    csrf: &str,
    next: &str,
    email: &str,
    error: Option<&str>,
) -> Markup {
    layout(
        "Confirm your backup email",
        Some(who),
        html! {
            h1 { "Confirm your backup email" }
            p { "We sent a 6-digit code to " strong { (email) } ". It is valid for 10 minutes. "
                "Look in your spam folder if it does not arrive." }
            @if let Some(e) = error { div.alert role="alert" id="code-error" { (e) } }
            form method="post" action="/account/backup-email/confirm" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                label for="code" { "Code" }
                input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code"
                    maxlength="16" required autofocus aria-describedby=[error.map(|_| "code-error")];
                button type="submit" { "Confirm" }
            }
        },
    )
}
