//! Server-rendered pages. Maud escapes every interpolated value, so text that a
//! customer typed cannot become markup.

use accounts::{Account, FieldError, names};
use maud::{DOCTYPE, Markup, html};

/// The name, handle and customer code shown at the top right, as customers
/// expect from the provider's guides.
pub struct Who<'a> {
    /// Full name.
    pub name: String,
    /// Customer handle.
    pub handle: &'a str,
    /// Customer code.
    pub code: &'a str,
}

impl<'a> Who<'a> {
    /// The header identity of an account.
    pub fn of(a: &'a Account) -> Self {
        Self {
            name: format!("{} {}", a.first_name, a.last_name),
            handle: &a.handle,
            code: &a.customer_code,
        }
    }
}

/// The frame of every page.
pub fn layout(title: &str, who: Option<Who<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Guichet" }
                link rel="stylesheet" href="/static/guichet.css";
            }
            body {
                header.top {
                    a.brand href="/" { "Guichet" }
                    @if let Some(w) = who {
                        div.who {
                            strong { (w.name) }
                            span { (w.handle) " · " (w.code) }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page with a title and one message.
pub fn message(title: &str, text: &str) -> Markup {
    layout(
        title,
        None,
        html! {
            h1 { (title) }
            p { (text) }
            p { a href="/" { "Back to Guichet" } }
        },
    )
}

/// What the sign-up form shows back after an error (never the passwords).
#[derive(Default)]
pub struct SignupValues {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Primary email.
    pub primary_email: String,
    /// Backup email.
    pub backup_email: String,
    /// Country code.
    pub country: String,
    /// Language code.
    pub language: String,
    /// `individual` or `company`.
    pub kind: String,
    /// Company name.
    pub company_name: String,
}

fn field_error(errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.problem.to_string())
}

/// One labelled input with its error tied to it by `aria-describedby`.
fn input(
    errors: &[FieldError],
    name: &str,
    label: &str,
    kind: &str,
    value: &str,
    extra: &str,
) -> Markup {
    let err = field_error(errors, name);
    let err_id = format!("{name}-error");
    html! {
        label for=(name) { (label) }
        input type=(kind) id=(name) name=(name) value=(value)
            autocomplete=(extra)
            aria-invalid=[err.as_ref().map(|_| "true")]
            aria-describedby=[err.as_ref().map(|_| err_id.as_str())];
        @if let Some(e) = err {
            p.field-error id=(err_id) { (e) }
        }
    }
}

/// The sign-up form.
pub fn signup_form(
    v: &SignupValues,
    errors: &[FieldError],
    csrf: &str,
    min_password: usize,
) -> Markup {
    let lang = if v.language.is_empty() {
        "en"
    } else {
        v.language.as_str()
    };
    let kind = if v.kind.is_empty() {
        "individual"
    } else {
        v.kind.as_str()
    };
    let country = if v.country.is_empty() {
        "FR"
    } else {
        v.country.as_str()
    };
    layout(
        "Create your account",
        None,
        html! {
            h1 { "Create your account" }
            @if !errors.is_empty() {
                div.alert role="alert" { "Please correct the fields marked below. Nothing was created." }
            }
            form method="post" action="/signup" novalidate {
                input type="hidden" name="csrf" value=(csrf);
                (input(errors, "first_name", "First name", "text", &v.first_name, "given-name"))
                (input(errors, "last_name", "Last name", "text", &v.last_name, "family-name"))
                (input(errors, "primary_email", "Primary email", "email", &v.primary_email, "email"))
                (input(errors, "backup_email", "Backup email (optional, must differ from the primary)", "email", &v.backup_email, "email"))
                (input(errors, "password", "Password", "password", "", "new-password"))
                p.hint { "At least " (min_password) " characters. Long passphrases are welcome; no need for symbols." }
                (input(errors, "password_confirm", "Password again", "password", "", "new-password"))
                label for="country" { "Country" }
                select id="country" name="country" autocomplete="country" {
                    @for c in names::country_codes() {
                        option value=(c) selected[c == country] { (c) }
                    }
                }
                @if let Some(e) = field_error(errors, "country") { p.field-error { (e) } }
                label for="language" { "Preferred language" }
                select id="language" name="language" {
                    option value="en" selected[lang == "en"] { "English" }
                    option value="fr" selected[lang == "fr"] { "Français" }
                    option value="it" selected[lang == "it"] { "Italiano" }
                }
                @if let Some(e) = field_error(errors, "language") { p.field-error { (e) } }
                fieldset {
                    legend { "You are" }
                    input type="radio" id="kind-individual" name="kind" value="individual" checked[kind == "individual"];
                    label for="kind-individual" { "an individual" }
                    input type="radio" id="kind-company" name="kind" value="company" checked[kind == "company"];
                    label for="kind-company" { "a company" }
                    @if let Some(e) = field_error(errors, "kind") { p.field-error { (e) } }
                }
                (input(errors, "company_name", "Company name (companies only)", "text", &v.company_name, "organization"))
                button type="submit" { "Create my account" }
            }
            div.links { a href="/login" { "I already have an account" } }
        },
    )
}

/// The page after a successful sign-up: the handle, big.
pub fn signup_done(handle: &str, same_domain_warning: bool) -> Markup {
    let login = format!("/login?login_hint={handle}");
    layout(
        "Account created",
        None,
        html! {
            h1 { "Your account is ready" }
            p { "Your customer handle is:" }
            p.handle { (handle) }
            p { "Keep it: you can log in with it or with your primary email, and support will ask for it. We also sent it to your primary email, with a link to confirm that address." }
            @if same_domain_warning {
                p.warning { "Your backup email uses the same provider as your primary email. If you lose access to that provider you lose both; consider a backup address elsewhere." }
            }
            p { a href=(login) { "Log in" } }
        },
    )
}

/// The login form. `error` is the one message shown for every failure.
pub fn login_form(identifier: &str, next: &str, csrf: &str, error: Option<&str>) -> Markup {
    layout(
        "Log in",
        None,
        html! {
            h1 { "Log in" }
            @if let Some(e) = error {
                div.alert role="alert" id="login-error" { (e) }
            }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                label for="identifier" { "Customer handle or primary email" }
                input type="text" id="identifier" name="identifier" value=(identifier)
                    autocomplete="username" autocapitalize="none" spellcheck="false" required
                    aria-describedby=[error.map(|_| "login-error")];
                p.hint { "For example xx11111-ovh, or the email address you signed up with." }
                label for="password" { "Password" }
                input type="password" id="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Log in" }
            }
            div.links {
                a href="/forgot-handle" { "I don't know my customer handle" }
                a href="/forgot-password" { "Forgot password" }
                a href="/signup" { "Create an account" }
            }
        },
    )
}

/// The minimal account page.
pub fn account_page(a: &Account, csrf: &str) -> Markup {
    layout(
        "Your account",
        Some(Who::of(a)),
        html! {
            h1 { "Your account" }
            dl.facts {
                dt { "Name" } dd { (a.first_name) " " (a.last_name) }
                dt { "Customer handle" } dd.handle-small { (a.handle) }
                dt { "Customer code" } dd { (a.customer_code) }
                dt { "Primary email" }
                dd {
                    (a.primary_email.as_deref().unwrap_or(""))
                    @if a.primary_email_verified { " (verified)" } @else { " (not verified yet: use the link we emailed you)" }
                }
                dt { "Backup email" }
                dd {
                    (a.backup_email.as_deref().unwrap_or("none"))
                    " · " a href="/account/backup-email?next=/account" {
                        @if a.backup_email.is_some() { "change" } @else { "add one" }
                    }
                }
            }
            p { a href="/account/security" { "Security: two-factor authentication and emergency codes" } }
            h2 { "Login notifications" }
            form method="post" action="/account/notifications" {
                input type="hidden" name="csrf" value=(csrf);
                @if a.login_notifications {
                    p { "We email you after each login from a new device." }
                    input type="hidden" name="on" value="0";
                    button.secondary type="submit" { "Stop these emails" }
                } @else {
                    p { "Login notifications are off." }
                    input type="hidden" name="on" value="1";
                    button.secondary type="submit" { "Email me after each login from a new device" }
                }
            }
            form method="post" action="/logout" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Log out" }
            }
        },
    )
}

/// The page a verification link opens: a button, because mail scanners follow
/// links and must not verify an address on the customer's behalf.
pub fn verify_form(token: &str, csrf: &str) -> Markup {
    layout(
        "Confirm your email",
        None,
        html! {
            h1 { "Confirm your email address" }
            form method="post" action="/verify-email" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="token" value=(token);
                button type="submit" { "Confirm my email address" }
            }
        },
    )
}

/// Plain words for a scope on the consent page.
fn scope_text(scope: &str) -> String {
    match scope {
        "openid" => "Know who you are (an identifier unique to this application)".into(),
        "profile" => "See your name and language".into(),
        "email" => "See your primary email address".into(),
        "offline_access" => "Stay connected when you are away".into(),
        "customer" => "See your customer handle and customer code".into(),
        other => format!("Access: {other}"),
    }
}

/// The consent page for a third-party client.
pub fn consent(
    who: Who<'_>,
    client_name: &str,
    scopes: &[String],
    request_id: &str,
    csrf: &str,
) -> Markup {
    layout(
        "Allow access",
        Some(who),
        html! {
            h1 { "Allow " (client_name) " to use your account?" }
            p { (client_name) " asks to:" }
            ul {
                @for s in scopes { li { (scope_text(s)) } }
            }
            p.hint { "You can withdraw this access at any time." }
            form method="post" action="/oauth2/consent" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="request_id" value=(request_id);
                button type="submit" name="decision" value="allow" { "Allow" }
                " "
                button.link type="submit" name="decision" value="deny" { "Deny" }
            }
        },
    )
}
