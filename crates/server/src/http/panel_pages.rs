//! Control-panel pages of brief P: the profile, the change of primary email
//! and the change of password. Every text comes from `locales/*/panel.toml`.

use accounts::{FieldError, PendingEmailChange, ProfileInput, names};
use maud::{Markup, html};

use super::pages::{Who, field_error, input, layout, tr, tr_html};
use crate::i18n::Lang;

/// A general alert above a form, when some field was refused.
fn refused_banner(lang: Lang, errors: &[FieldError]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.alert role="alert" { (tr(lang, "page.panel.fix_fields")) }
        }
    }
}

/// A `<select>` with its label and error.
fn select(
    lang: Lang,
    errors: &[FieldError],
    name: &str,
    label: &str,
    options: &[(&str, &str)],
    chosen: &str,
) -> Markup {
    let err = field_error(lang, errors, name);
    let err_id = format!("{name}-error");
    html! {
        label for=(name) { (label) }
        select id=(name) name=(name)
            aria-invalid=[err.as_ref().map(|_| "true")]
            aria-describedby=[err.as_ref().map(|_| err_id.as_str())] {
            @for (value, text) in options {
                option value=(value) selected[*value == chosen] { (text) }
            }
        }
        @if let Some(e) = err { p.field-error id=(err_id) { (e) } }
    }
}

/// The profile form. `can_write` hides the save button of a read-only user.
pub fn profile(
    lang: Lang,
    who: Who<'_>,
    csrf: &str,
    v: &ProfileInput,
    errors: &[FieldError],
    saved: bool,
    can_write: bool,
) -> Markup {
    let t = |k: &str| tr(lang, k);
    let countries: Vec<(&str, &str)> = names::country_codes().map(|c| (c, c)).collect();
    let langs: Vec<(&str, &str)> = Lang::ALL
        .iter()
        .map(|l| (l.code(), tr(*l, &format!("page.common.lang_{}", l.code()))))
        .collect();
    let kind = if v.kind == "company" {
        "company"
    } else {
        "individual"
    };
    layout(
        lang,
        t("page.profile.title"),
        Some(who),
        html! {
            h1 { (t("page.profile.title")) }
            @if saved { div.notice role="status" { (t("page.profile.saved")) } }
            (refused_banner(lang, errors))
            form method="post" action="/account/profile" novalidate {
                input type="hidden" name="csrf" value=(csrf);
                fieldset {
                    legend { (t("page.profile.who")) }
                    (input(lang, errors, "first_name", t("page.signup.first_name"), "text", &v.first_name, "given-name"))
                    (input(lang, errors, "last_name", t("page.signup.last_name"), "text", &v.last_name, "family-name"))
                }
                fieldset {
                    legend { (t("page.signup.you_are")) }
                    input type="radio" id="kind-individual" name="kind" value="individual" checked[kind == "individual"];
                    label for="kind-individual" { (t("page.signup.individual")) }
                    input type="radio" id="kind-company" name="kind" value="company" checked[kind == "company"];
                    label for="kind-company" { (t("page.signup.company")) }
                    @if let Some(e) = field_error(lang, errors, "kind") { p.field-error { (e) } }
                    (input(lang, errors, "company_name", t("page.signup.company_name"), "text", &v.company_name, "organization"))
                }
                fieldset {
                    legend { (t("page.profile.address")) }
                    (input(lang, errors, "address_line1", t("page.profile.address_line1"), "text", &v.address_line1, "address-line1"))
                    (input(lang, errors, "address_line2", t("page.profile.address_line2"), "text", &v.address_line2, "address-line2"))
                    (input(lang, errors, "postcode", t("page.profile.postcode"), "text", &v.postcode, "postal-code"))
                    (input(lang, errors, "city", t("page.profile.city"), "text", &v.city, "address-level2"))
                    (input(lang, errors, "region", t("page.profile.region"), "text", &v.region, "address-level1"))
                    (select(lang, errors, "country", t("page.signup.country"), &countries, &v.country))
                }
                fieldset {
                    legend { (t("page.profile.contact")) }
                    (input(lang, errors, "phone", t("page.profile.phone"), "tel", &v.phone, "tel"))
                    p.hint { (t("page.profile.phone_hint")) }
                    (select(lang, errors, "language", t("page.signup.language"), &langs, &v.language))
                }
                @if can_write {
                    button type="submit" { (t("page.common.save")) }
                } @else {
                    p.hint { (t("page.error.need_write")) }
                }
            }
            p { a href="/account" { (t("page.common.back_account")) } }
        },
    )
}

/// What the primary-email page shows.
pub struct EmailView<'a> {
    /// The page's language.
    pub lang: Lang,
    /// The header.
    pub who: Who<'a>,
    /// The session's form token.
    pub csrf: &'a str,
    /// The current primary address.
    pub current: &'a str,
    /// The pending change, if any.
    pub pending: Option<&'a PendingEmailChange>,
    /// The address typed, shown back after an error.
    pub typed: &'a str,
    /// Refused fields.
    pub errors: &'a [FieldError],
    /// The address the change just completed to.
    pub done: Option<&'a str>,
}

/// The primary-email change: the new address, then the code mailed to the
/// current address ("I have received my validation code"), then the code
/// mailed to the new one.
pub fn email(v: &EmailView<'_>) -> Markup {
    let lang = v.lang;
    let t = |k: &str| tr(lang, k);
    let code_err = field_error(lang, v.errors, "code");
    layout(
        lang,
        t("page.email_change.title"),
        Some(Who {
            name: v.who.name.clone(),
            handle: v.who.handle,
            code: v.who.code,
        }),
        html! {
            h1 { (t("page.email_change.title")) }
            @if let Some(d) = v.done {
                div.notice role="status" { (tr_html(lang, "page.email_change.done", &[("email", d)])) }
            }
            p { (tr_html(lang, "page.email_change.current", &[("email", v.current)])) }
            @match v.pending {
                Some(p) => {
                    @let step_current = p.stage == accounts::EmailChangeStage::Current;
                    h2 { (t("page.email_change.received")) }
                    @if step_current {
                        p { (tr_html(lang, "page.email_change.sent_current", &[("email", v.current), ("new", &p.new_email)])) }
                    } @else {
                        p { (tr_html(lang, "page.email_change.sent_new", &[("new", &p.new_email)])) }
                    }
                    p.hint { (t("page.email_change.nothing_yet")) }
                    form method="post" action="/account/email/confirm" {
                        input type="hidden" name="csrf" value=(v.csrf);
                        label for="code" { (if step_current { t("page.email_change.code_current") } else { t("page.email_change.code_new") }) }
                        input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code"
                            maxlength="16" required autofocus
                            aria-invalid=[code_err.as_ref().map(|_| "true")]
                            aria-describedby=[code_err.as_ref().map(|_| "code-error")];
                        @if let Some(e) = &code_err { p.field-error id="code-error" { (e) } }
                        button type="submit" { (t("page.common.confirm")) }
                    }
                    form method="post" action="/account/email/cancel" {
                        input type="hidden" name="csrf" value=(v.csrf);
                        button.secondary type="submit" { (t("page.email_change.cancel")) }
                    }
                }
                None => {
                    @if let Some(e) = &code_err { div.alert role="alert" { (e) } }
                    p { (t("page.email_change.explain")) }
                    form method="post" action="/account/email" novalidate {
                        input type="hidden" name="csrf" value=(v.csrf);
                        (input(lang, v.errors, "new_email", t("page.email_change.new"), "email", v.typed, "email"))
                        button type="submit" { (t("page.email_change.submit")) }
                    }
                }
            }
            p { a href="/account" { (t("page.common.back_account")) } }
        },
    )
}

/// The password change form.
pub fn password(
    lang: Lang,
    who: Who<'_>,
    csrf: &str,
    errors: &[FieldError],
    min_chars: usize,
    done: bool,
) -> Markup {
    let t = |k: &str| tr(lang, k);
    let min = min_chars.to_string();
    layout(
        lang,
        t("page.password_change.title"),
        Some(who),
        html! {
            h1 { (t("page.password_change.title")) }
            @if done { div.notice role="status" { (t("page.password_change.done")) } }
            (refused_banner(lang, errors))
            p { (t("page.password_change.explain")) }
            form method="post" action="/account/password" novalidate {
                input type="hidden" name="csrf" value=(csrf);
                (input(lang, errors, "current_password", t("page.password_change.current"), "password", "", "current-password"))
                (input(lang, errors, "password", t("page.reset.new_password"), "password", "", "new-password"))
                p.hint { (crate::i18n::format(t("page.reset.password_hint"), &[("n", &min)])) }
                (input(lang, errors, "password_confirm", t("page.reset.new_password_again"), "password", "", "new-password"))
                button type="submit" { (t("page.reset.submit")) }
            }
            p { a href="/account" { (t("page.common.back_account")) } }
        },
    )
}
