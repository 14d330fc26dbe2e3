//! Control-panel pages of brief P: the profile, the change of primary email
//! and the change of password. Every text comes from `locales/*/panel.toml`.

use accounts::{FieldError, PendingEmailChange, ProfileInput, names};
use maud::{Markup, html};

use app::i18n::Lang;

use super::input;
use crate::components::{Button, Field, Form, Notice, Radio, Select, Who, layout, notice};
use crate::routes;
use crate::text::{field_error, tr, tr_html};

/// A general alert above a form, when some field was refused.
fn refused_banner(lang: Lang, errors: &[FieldError]) -> Markup {
    html! {
        @if !errors.is_empty() {
            (notice(Notice::Error, None, html! { (tr(lang, "page.panel.fix_fields")) }))
        }
    }
}

/// A choice whose error comes from `errors`.
fn select<'a>(
    lang: Lang,
    errors: &[FieldError],
    name: &'a str,
    label: &'a str,
    options: &'a [(&'a str, &'a str)],
    chosen: &'a str,
) -> Select<'a> {
    Select::new(name, label, options, chosen).error(field_error(lang, errors, name))
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
            @if saved { (notice(Notice::Success, None, html! { (t("page.profile.saved")) })) }
            (refused_banner(lang, errors))
            (Form::post(routes::PROFILE, csrf).novalidate().with(html! {
                fieldset {
                    legend { (t("page.profile.who")) }
                    (input(lang, errors, "first_name", t("page.signup.first_name"), "text", &v.first_name, "given-name"))
                    (input(lang, errors, "last_name", t("page.signup.last_name"), "text", &v.last_name, "family-name"))
                }
                fieldset {
                    legend { (t("page.signup.you_are")) }
                    (Radio { id: "kind-individual", name: "kind", value: "individual", label: t("page.signup.individual"), checked: kind == "individual" })
                    (Radio { id: "kind-company", name: "kind", value: "company", label: t("page.signup.company"), checked: kind == "company" })
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
                    (input(lang, errors, "phone", t("page.profile.phone"), "tel", &v.phone, "tel").hint(t("page.profile.phone_hint")))
                    (select(lang, errors, "language", t("page.signup.language"), &langs, &v.language))
                }
                @if can_write {
                    (Button::primary(t("page.common.save")))
                } @else {
                    p.hint { (t("page.error.need_write")) }
                }
            }))
            p { a href=(routes::ACCOUNT) { (t("page.common.back_account")) } }
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
                (notice(Notice::Success, None, html! { (tr_html(lang, "page.email_change.done", &[("email", d)])) }))
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
                    (Form::post(routes::EMAIL_CONFIRM, v.csrf).with(html! {
                        (Field::new("code", if step_current { t("page.email_change.code_current") } else { t("page.email_change.code_new") })
                            .inputmode("numeric").autocomplete("one-time-code").maxlength(16)
                            .required().autofocus().error(code_err.clone()))
                        (Button::primary(t("page.common.confirm")))
                    }))
                    (Form::post(routes::EMAIL_CANCEL, v.csrf).with(html! {
                        (Button::secondary(t("page.email_change.cancel")))
                    }))
                }
                None => {
                    @if let Some(e) = &code_err { (notice(Notice::Error, None, html! { (e) })) }
                    p { (t("page.email_change.explain")) }
                    (Form::post(routes::EMAIL, v.csrf).novalidate().with(html! {
                        (input(lang, v.errors, "new_email", t("page.email_change.new"), "email", v.typed, "email"))
                        (Button::primary(t("page.email_change.submit")))
                    }))
                }
            }
            p { a href=(routes::ACCOUNT) { (t("page.common.back_account")) } }
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
    let hint = app::i18n::format(
        t("page.reset.password_hint"),
        &[("n", &min_chars.to_string())],
    );
    layout(
        lang,
        t("page.password_change.title"),
        Some(who),
        html! {
            h1 { (t("page.password_change.title")) }
            @if done { (notice(Notice::Success, None, html! { (t("page.password_change.done")) })) }
            (refused_banner(lang, errors))
            p { (t("page.password_change.explain")) }
            (Form::post(routes::PASSWORD, csrf).novalidate().with(html! {
                (input(lang, errors, "current_password", t("page.password_change.current"), "password", "", "current-password"))
                (input(lang, errors, "password", t("page.reset.new_password"), "password", "", "new-password").hint(&hint))
                (input(lang, errors, "password_confirm", t("page.reset.new_password_again"), "password", "", "new-password"))
                (Button::primary(t("page.reset.submit")))
            }))
            p { a href=(routes::ACCOUNT) { (t("page.common.back_account")) } }
        },
    )
}
