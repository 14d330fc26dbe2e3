//! Server-rendered pages. Maud escapes every interpolated value, so text that a
//! customer typed cannot become markup. Every word comes from the translation
//! files (`locales/<lang>/pages.toml` and the other areas) through [`tr`],
//! [`tr_fmt`] and [`tr_html`].

use accounts::{Account, FieldError, FieldProblem, names};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::extract::switcher_back;
use super::mfa_pages::urlencode;
use crate::i18n::{self, Lang};

/// The text `key` in `lang`.
pub fn tr(lang: Lang, key: &str) -> &'static str {
    i18n::t(lang, key)
}

/// The text `key` in `lang` with its `{placeholders}` filled, as plain text
/// (maud escapes it when it is interpolated).
pub fn tr_fmt(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    i18n::format(i18n::t(lang, key), args)
}

/// The text `key` in `lang`, which may hold trusted markup (`<strong>`,
/// `<code>`), with its placeholders filled and escaped.
pub fn tr_html(lang: Lang, key: &str, args: &[(&str, &str)]) -> PreEscaped<String> {
    PreEscaped(i18n::format_html(i18n::t(lang, key), args))
}

/// A refused field's message in `lang`.
pub fn field_message(lang: Lang, p: &FieldProblem) -> String {
    let n = match p {
        FieldProblem::TooLong { max } => max.to_string(),
        FieldProblem::PasswordTooShort { min } => min.to_string(),
        FieldProblem::PasswordTooLong { max_bytes } => max_bytes.to_string(),
        FieldProblem::PasswordReused { count } => count.to_string(),
        _ => String::new(),
    };
    tr_fmt(lang, &format!("page.field.{}", p.code()), &[("n", &n)])
}

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

/// The language switcher: plain links, so it works without JavaScript, each
/// coming back to the page it was clicked on.
fn switcher(lang: Lang) -> Markup {
    let back = urlencode(&switcher_back());
    html! {
        nav.lang aria-label=(tr(lang, "page.common.language")) {
            @for l in Lang::ALL {
                @let name = tr(l, &format!("page.common.lang_{}", l.code()));
                @if l == lang {
                    span aria-current="true" lang=(l.code()) { (name) }
                } @else {
                    a href=(format!("/lang/{}?back={back}", l.code())) hreflang=(l.code()) lang=(l.code()) { (name) }
                }
            }
        }
    }
}

/// The frame of every page, in `lang`: the header (with the account's name,
/// handle and code when someone is signed in) and the language switcher.
pub fn layout(lang: Lang, title: &str, who: Option<Who<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Guichet" }
                link rel="stylesheet" href="/static/guichet.css";
            }
            body {
                header.top {
                    a.brand href="/" { "Guichet" }
                    (switcher(lang))
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
pub fn message(lang: Lang, title: &str, text: &str) -> Markup {
    layout(
        lang,
        title,
        None,
        html! {
            h1 { (title) }
            p { (text) }
            p { a href="/" { (tr(lang, "page.common.back_home")) } }
        },
    )
}

/// The description of an API problem type (`GET /problems/{slug}`): for
/// developers, in English like the `title` it explains.
pub fn problem_type(title: &str, uri: &str, advice: &str) -> Markup {
    layout(
        Lang::En,
        title,
        None,
        html! {
            h1 { (title) }
            p { "Problem type " code { (uri) } ", answered as " code { "application/problem+json" } " (RFC 9457)." }
            p { (advice) }
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

/// The message for `field` among `errors`, in `lang`.
pub fn field_error(lang: Lang, errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| field_message(lang, &e.problem))
}

/// One labelled input with its error tied to it by `aria-describedby`.
pub fn input(
    lang: Lang,
    errors: &[FieldError],
    name: &str,
    label: &str,
    kind: &str,
    value: &str,
    extra: &str,
) -> Markup {
    let err = field_error(lang, errors, name);
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
    lang: Lang,
    v: &SignupValues,
    errors: &[FieldError],
    csrf: &str,
    min_password: usize,
) -> Markup {
    let t = |k: &str| tr(lang, k);
    let chosen = if v.language.is_empty() {
        lang.code()
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
    let min = min_password.to_string();
    layout(
        lang,
        t("page.signup.title"),
        None,
        html! {
            h1 { (t("page.signup.title")) }
            @if !errors.is_empty() {
                div.alert role="alert" { (t("page.signup.fix_fields")) }
            }
            form method="post" action="/signup" novalidate {
                input type="hidden" name="csrf" value=(csrf);
                (input(lang, errors, "first_name", t("page.signup.first_name"), "text", &v.first_name, "given-name"))
                (input(lang, errors, "last_name", t("page.signup.last_name"), "text", &v.last_name, "family-name"))
                (input(lang, errors, "primary_email", t("page.signup.primary_email"), "email", &v.primary_email, "email"))
                (input(lang, errors, "backup_email", t("page.signup.backup_email"), "email", &v.backup_email, "email"))
                (input(lang, errors, "password", t("page.signup.password"), "password", "", "new-password"))
                p.hint { (tr_fmt(lang, "page.signup.password_hint", &[("n", &min)])) }
                (input(lang, errors, "password_confirm", t("page.signup.password_again"), "password", "", "new-password"))
                label for="country" { (t("page.signup.country")) }
                select id="country" name="country" autocomplete="country" {
                    @for c in names::country_codes() {
                        option value=(c) selected[c == country] { (c) }
                    }
                }
                @if let Some(e) = field_error(lang, errors, "country") { p.field-error { (e) } }
                label for="language" { (t("page.signup.language")) }
                select id="language" name="language" {
                    @for l in Lang::ALL {
                        option value=(l.code()) selected[chosen == l.code()] { (tr(l, &format!("page.common.lang_{}", l.code()))) }
                    }
                }
                @if let Some(e) = field_error(lang, errors, "language") { p.field-error { (e) } }
                fieldset {
                    legend { (t("page.signup.you_are")) }
                    input type="radio" id="kind-individual" name="kind" value="individual" checked[kind == "individual"];
                    label for="kind-individual" { (t("page.signup.individual")) }
                    input type="radio" id="kind-company" name="kind" value="company" checked[kind == "company"];
                    label for="kind-company" { (t("page.signup.company")) }
                    @if let Some(e) = field_error(lang, errors, "kind") { p.field-error { (e) } }
                }
                (input(lang, errors, "company_name", t("page.signup.company_name"), "text", &v.company_name, "organization"))
                button type="submit" { (t("page.signup.submit")) }
            }
            div.links { a href="/login" { (t("page.signup.have_account")) } }
        },
    )
}

/// The page after a valid sign-up: the mailbox has the rest. It shows no
/// handle, since it must read the same whether or not the address already
/// had an account.
pub fn signup_done(lang: Lang, same_domain_warning: bool) -> Markup {
    let t = |k: &str| tr(lang, k);
    layout(
        lang,
        t("page.signup_done.title"),
        None,
        html! {
            h1 { (t("page.signup_done.heading")) }
            p { (t("page.signup_done.check_mail")) }
            p { (t("page.signup_done.keep_it")) }
            @if same_domain_warning {
                p.warning { (t("page.signup_done.same_domain")) }
            }
            p { a href="/login" { (t("page.login.submit")) } }
        },
    )
}

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
    let other_account = format!("/login?reauth=1&next={}", super::mfa_pages::urlencode(next));
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
                div.alert role="alert" id="login-error" { (e) }
            }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                label for="identifier" { (t("page.login.identifier")) }
                input type="text" id="identifier" name="identifier" value=(identifier)
                    autocomplete="username" autocapitalize="none" spellcheck="false" required
                    aria-describedby=[error.map(|_| "login-error")];
                p.hint { (t("page.login.identifier_hint")) }
                label for="password" { (t("page.login.password")) }
                input type="password" id="password" name="password" autocomplete="current-password" required;
                button type="submit" { (t("page.login.submit")) }
            }
            div.links {
                @if reauth {
                    a href=(other_account) id="other-account" { (t("page.login.other_account")) }
                }
                a href="/forgot-handle" { (t("page.login.forgot_handle")) }
                a href="/forgot-password" { (t("page.login.forgot_password")) }
                a href="/signup" { (t("page.login.signup")) }
            }
        },
    )
}

/// The minimal account page.
pub fn account_page(lang: Lang, a: &Account, csrf: &str) -> Markup {
    let t = |k: &str| tr(lang, k);
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
                    " · " a href="/account/backup-email?next=/account" {
                        @if a.backup_email.is_some() { (t("page.account.change")) } @else { (t("page.account.add_one")) }
                    }
                }
            }
            ul.panel-links {
                li { a href="/account/profile" { (t("page.account.link_profile")) } }
                li { a href="/account/email" { (t("page.account.link_email")) } }
                li { a href="/account/password" { (t("page.account.link_password")) } }
                li { a href="/account/security" { (t("page.account.link_security")) } }
            }
            h2 { (t("page.account.notifications")) }
            form method="post" action="/account/notifications" {
                input type="hidden" name="csrf" value=(csrf);
                @if a.login_notifications {
                    p { (t("page.account.notifications_on")) }
                    input type="hidden" name="on" value="0";
                    button.secondary type="submit" { (t("page.account.notifications_stop")) }
                } @else {
                    p { (t("page.account.notifications_off")) }
                    input type="hidden" name="on" value="1";
                    button.secondary type="submit" { (t("page.account.notifications_start")) }
                }
            }
            form method="post" action="/logout" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { (t("page.account.logout")) }
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
            form method="post" action="/verify-email" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="token" value=(token);
                button type="submit" { (t("page.verify.submit")) }
            }
        },
    )
}

/// Plain words for a scope on the consent page.
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
            form method="post" action="/oauth2/consent" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="request_id" value=(request_id);
                button type="submit" name="decision" value="allow" { (t("page.consent.allow")) }
                " "
                button.link type="submit" name="decision" value="deny" { (t("page.consent.deny")) }
            }
        },
    )
}
