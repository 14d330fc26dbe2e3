//! Opening an account.

use accounts::{FieldError, names};
use app::i18n::Lang;
use maud::{Markup, html};

use crate::components::{Button, Field, Form, Notice, Radio, Select, layout, notice};
use crate::routes;
use crate::text::{field_error, tr, tr_fmt};

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

fn or<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.is_empty() { default } else { value }
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
    let err = |f: &str| field_error(lang, errors, f);
    let chosen = or(&v.language, lang.code());
    let kind = or(&v.kind, "individual");
    let country = or(&v.country, "FR");
    let hint = tr_fmt(
        lang,
        "page.signup.password_hint",
        &[("n", &min_password.to_string())],
    );
    let countries: Vec<(&str, &str)> = names::country_codes().map(|c| (c, c)).collect();
    let names: Vec<(&str, String)> = Lang::ALL
        .iter()
        .map(|l| {
            (
                l.code(),
                tr(*l, &format!("page.common.lang_{}", l.code())).to_owned(),
            )
        })
        .collect();
    let langs: Vec<(&str, &str)> = names.iter().map(|(c, n)| (*c, n.as_str())).collect();
    layout(
        lang,
        t("page.signup.title"),
        None,
        html! {
            h1 { (t("page.signup.title")) }
            @if !errors.is_empty() {
                (notice(Notice::Error, None, html! { (t("page.signup.fix_fields")) }))
            }
            (Form::post(routes::SIGNUP, csrf).novalidate().with(html! {
                (Field::new("first_name", t("page.signup.first_name")).value(&v.first_name).autocomplete("given-name").error(err("first_name")))
                (Field::new("last_name", t("page.signup.last_name")).value(&v.last_name).autocomplete("family-name").error(err("last_name")))
                (Field::new("primary_email", t("page.signup.primary_email")).kind("email").value(&v.primary_email).autocomplete("email").error(err("primary_email")))
                (Field::new("backup_email", t("page.signup.backup_email")).kind("email").value(&v.backup_email).autocomplete("email").error(err("backup_email")))
                (Field::new("password", t("page.signup.password")).kind("password").value("").autocomplete("new-password").error(err("password")).hint(&hint))
                (Field::new("password_confirm", t("page.signup.password_again")).kind("password").value("").autocomplete("new-password").error(err("password_confirm")))
                (Select::new("country", t("page.signup.country"), &countries, country).autocomplete("country").error(err("country")))
                (Select::new("language", t("page.signup.language"), &langs, chosen).error(err("language")))
                fieldset {
                    legend { (t("page.signup.you_are")) }
                    (Radio { id: "kind-individual", name: "kind", value: "individual", label: t("page.signup.individual"), checked: kind == "individual" })
                    (Radio { id: "kind-company", name: "kind", value: "company", label: t("page.signup.company"), checked: kind == "company" })
                    @if let Some(e) = err("kind") { p.field-error { (e) } }
                }
                (Field::new("company_name", t("page.signup.company_name")).value(&v.company_name).autocomplete("organization").error(err("company_name")))
                (Button::primary(t("page.signup.submit")))
            }))
            div.links { a href=(routes::LOGIN) { (t("page.signup.have_account")) } }
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
                (notice(Notice::Warning, None, html! { (t("page.signup_done.same_domain")) }))
            }
            p { a href=(routes::LOGIN) { (t("page.login.submit")) } }
        },
    )
}
