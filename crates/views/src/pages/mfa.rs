//! Pages of two-factor authentication: the second login step, the security
//! page and the enrolment of each kind of method.

use app::i18n::Lang;
use maud::{Markup, html};
use mfa::{MethodInfo, MethodKind};

use crate::components::{Button, Field, Form, Notice, Role, Who, layout, link_button, notice};
use crate::routes;
use crate::text::{tr, tr_fmt, urlencode};

/// Plain words for a kind of method.
pub fn kind_text(lang: Lang, k: MethodKind) -> &'static str {
    match k {
        MethodKind::Totp => tr(lang, "page.mfa.kind_totp"),
        MethodKind::Sms => tr(lang, "page.mfa.kind_sms"),
        MethodKind::WebAuthn => tr(lang, "page.mfa.kind_webauthn"),
    }
}

/// What the second step shows.
pub struct StepView<'a> {
    /// The language of the page.
    pub lang: Lang,
    /// The account, in the header, for a signed-in user's step-up only. A
    /// login shows no name, handle or customer code before its second factor:
    /// a password alone must not tell whose account it opened.
    pub who: Option<Who<'a>>,
    /// The method asked for; `None` means an emergency code.
    pub method: Option<&'a MethodInfo>,
    /// Every active method, for "try another method".
    pub methods: &'a [MethodInfo],
    /// Emergency codes left.
    pub recovery_left: usize,
    /// The form token.
    pub csrf: &'a str,
    /// Where to go once done (step-up only; a login keeps its own).
    pub next: &'a str,
    /// An information line.
    pub notice: Option<&'a str>,
    /// An error line.
    pub error: Option<&'a str>,
    /// A signed-in user asked again, rather than a login.
    pub step_up: bool,
}

fn alerts(notice: Option<&str>, error: Option<&str>) -> Markup {
    html! {
        @if let Some(n) = notice { (crate::components::notice(Notice::Success, None, html! { (n) })) }
        @if let Some(e) = error { (crate::components::notice(Notice::Error, Some("step-error"), html! { (e) })) }
    }
}

fn code_form(v: &StepView<'_>, method: &str, label: &str, hint: &str) -> Markup {
    let t = |k: &str| tr(v.lang, k);
    html! {
        (Form::post(routes::LOGIN_2FA, v.csrf).hidden("method", method).hidden("next", v.next).with(html! {
            (Field::new("code", label).inputmode("numeric").autocomplete("one-time-code").verbatim()
                .required().autofocus().described_by(v.error.map(|_| "step-error")).hint(hint))
            (Button::primary(t("page.common.continue")))
        }))
    }
}

/// The second step of a login (or a step-up).
pub fn second_step(v: &StepView<'_>) -> Markup {
    let lang = v.lang;
    let t = |k: &str| tr(lang, k);
    let title = if v.step_up {
        t("page.mfa.step_up_title")
    } else {
        t("page.mfa.step_title")
    };
    let current = v.method.map(|m| m.id.as_str()).unwrap_or("recovery");
    let left = v.recovery_left.to_string();
    layout(
        lang,
        title,
        v.who.as_ref().map(clone_who),
        html! {
            h1 { (title) }
            (alerts(v.notice, v.error))
            @match v.method {
                Some(m) if m.kind == MethodKind::Totp => {
                    p { (tr_fmt(lang, "page.mfa.totp_prompt", &[("label", &m.label)])) }
                    (code_form(v, &m.id, t("page.mfa.code_from_app"), t("page.mfa.totp_hint")))
                }
                Some(m) if m.kind == MethodKind::Sms => {
                    p { (tr_fmt(lang, "page.mfa.sms_prompt", &[("phone", m.phone_hint.as_deref().unwrap_or(t("page.mfa.your_phone"))), ("label", &m.label)])) }
                    (Form::post(routes::LOGIN_2FA_SMS, v.csrf).hidden("method", &m.id).hidden("next", v.next).with(html! {
                        (Button::secondary(t("page.mfa.send_code")))
                    }))
                    (code_form(v, &m.id, t("page.mfa.code_by_sms"), t("page.mfa.sms_hint")))
                }
                Some(m) => {
                    p { (tr_fmt(lang, "page.mfa.key_prompt", &[("label", &m.label)])) }
                    div #webauthn-login data-csrf=(v.csrf) data-next=(v.next) {
                        (Button::primary(t("page.mfa.use_key")).scripted().id("webauthn-login-button"))
                        p.alert role="alert" #webauthn-error hidden {}
                    }
                    script src=(routes::WEBAUTHN_JS) {}
                }
                None => {
                    p { (t("page.mfa.recovery_prompt")) }
                    (code_form(v, "recovery", t("page.mfa.recovery_code"), t("page.mfa.recovery_hint")))
                }
            }
            details.other-methods open[v.error.is_some()] {
                summary { (t("page.mfa.other_method")) }
                ul {
                    @for m in v.methods.iter().filter(|m| m.id != current) {
                        li { a href=(routes::with_query(routes::LOGIN_2FA, &[("method", &m.id.to_string()), ("next", v.next)])) {
                            (kind_text(lang, m.kind)) ": " (m.label)
                        } }
                    }
                    @if v.recovery_left > 0 && current != "recovery" {
                        li { a href=(routes::with_query(routes::LOGIN_2FA, &[("method", "recovery"), ("next", v.next)])) {
                            (tr_fmt(lang, "page.mfa.recovery_left", &[("n", &left)]))
                        } }
                    }
                }
                p.hint { (t("page.mfa.lost_everything")) }
            }
        },
    )
}

fn tr_html_(lang: Lang, key: &str) -> maud::PreEscaped<String> {
    crate::text::tr_html(lang, key, &[])
}

fn clone_who<'a>(w: &Who<'a>) -> Who<'a> {
    Who {
        name: w.name.clone(),
        handle: w.handle,
        code: w.code,
    }
}

/// What the security page shows.
pub struct SecurityView<'a> {
    /// The language of the page.
    pub lang: Lang,
    /// The account.
    pub who: Who<'a>,
    /// Active methods.
    pub methods: &'a [MethodInfo],
    /// Emergency codes left.
    pub recovery_left: usize,
    /// The session's form token.
    pub csrf: &'a str,
    /// Where an enrolment asked by a client returns.
    pub next: &'a str,
    /// An information line.
    pub notice: Option<&'a str>,
    /// An error line.
    pub error: Option<&'a str>,
}

fn fmt_time(lang: Lang, t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| tr(lang, "page.common.never").into())
}

/// The security page: two-factor methods and emergency codes.
pub fn security(v: &SecurityView<'_>) -> Markup {
    let on = !v.methods.is_empty();
    let lang = v.lang;
    let t = |k: &str| tr(lang, k);
    layout(
        lang,
        t("page.mfa.security_title"),
        Some(clone_who(&v.who)),
        html! {
            h1 { (t("page.mfa.security_title")) }
            // Sessions, applications, log, data and contacts (their own pages).
            (crate::components::security_nav(lang))
            (alerts(v.notice, v.error))
            @if !v.next.is_empty() && !on {
                (notice(Notice::Success, None, html! { (t("page.mfa.client_asks")) }))
            }
            h2 { (t("page.mfa.step_title")) }
            @if on {
                p { (tr_html_(lang, "page.mfa.is_on")) }
                table.methods {
                    thead { tr { th { (t("page.mfa.col_method")) } th { (t("page.mfa.col_label")) } th { (t("page.mfa.col_added")) } th { (t("page.mfa.col_last_used")) } th { (t("page.mfa.col_actions")) } } }
                    tbody {
                        @for m in v.methods {
                            tr {
                                td { (kind_text(lang, m.kind)) @if let Some(p) = &m.phone_hint { br; small { (p) } } }
                                td { (m.label) }
                                td { (fmt_time(lang, Some(m.created_at))) }
                                td { (fmt_time(lang, m.last_used_at)) }
                                td {
                                    @let label_id = format!("label-{}", m.id);
                                    (Form::post(routes::SECURITY_RENAME, v.csrf).class("inline").hidden("method", &m.id).with(html! {
                                        (Field::new("label", t("page.mfa.new_label")).id(&label_id).hide_label().value(&m.label).maxlength(64).required())
                                        (Button::secondary(t("page.mfa.rename")))
                                    }))
                                    (Form::post(routes::SECURITY_REMOVE, v.csrf).class("inline").hidden("method", &m.id).with(html! {
                                        (Button::danger(t("page.mfa.remove")))
                                    }))
                                }
                            }
                        }
                    }
                }
            } @else {
                p { (tr_html_(lang, "page.mfa.is_off")) }
            }
            h3 { (t("page.mfa.add_method")) }
            ul.add-methods {
                li { a href=(routes::then(routes::SECURITY_TOTP, v.next)) { (t("page.mfa.add_totp")) } }
                li { a href=(routes::then(routes::SECURITY_SMS, v.next)) { (t("page.mfa.add_sms")) } }
                li { a href=(routes::then(routes::SECURITY_WEBAUTHN, v.next)) { (t("page.mfa.add_webauthn")) } }
            }
            @if on {
                h2 { (t("page.mfa.codes_title")) }
                p { (t("page.mfa.codes_left")) " " strong #recovery-left { (v.recovery_left) } " " (t("page.mfa.codes_explain")) }
                (Form::post(routes::SECURITY_CODES_REGENERATE, v.csrf).class("inline").with(html! {
                    (Button::secondary(t("page.mfa.regenerate")))
                }))
                (Form::post(routes::SECURITY_CODES_DELETE, v.csrf).class("inline").with(html! {
                    (Button::danger(t("page.mfa.delete_codes")))
                }))
                h2 { (t("page.mfa.off_title")) }
                (Form::post(routes::SECURITY_DISABLE, v.csrf).with(html! {
                    p.hint { (t("page.mfa.off_explain")) }
                    (Button::danger(t("page.mfa.off_submit")))
                }))
            }
            p { a href=(routes::ACCOUNT) { (t("page.common.back_account")) } }
        },
    )
}

/// The emergency codes, shown once.
pub fn recovery_codes(lang: Lang, who: Who<'_>, codes: &[String], next: &str) -> Markup {
    let t = |k: &str| tr(lang, k);
    let text = codes.join("\n");
    let heading = tr_fmt(
        lang,
        "page.mfa.codes_file_heading",
        &[("handle", who.handle)],
    );
    let download = format!(
        "data:text/plain;charset=utf-8,{}",
        urlencode(&format!("{heading}\n\n{text}\n")).replace('+', "%20")
    );
    let go_on = if next.is_empty() {
        routes::SECURITY
    } else {
        next
    };
    layout(
        lang,
        t("page.mfa.your_codes"),
        Some(who),
        html! {
            h1 { (t("page.mfa.your_codes")) }
            p { (t("page.mfa.keep_codes")) }
            ol.codes #recovery-codes {
                @for c in codes { li { code { (c) } } }
            }
            p { a download="guichet-emergency-codes.txt" href=(download) { (t("page.mfa.download")) } }
            p { (link_button(Role::Primary, go_on, t("page.mfa.saved"))) }
        },
    )
}

/// The authenticator-app enrolment: QR code, URI and secret, then a code.
pub struct TotpView<'a> {
    /// The language of the page.
    pub lang: Lang,
    /// The account.
    pub who: Who<'a>,
    /// The pending method.
    pub method_id: &'a str,
    /// The secret, for manual entry.
    pub secret: &'a str,
    /// The `otpauth://` URI.
    pub uri: &'a str,
    /// The QR code, PNG in base64.
    pub qr_png_base64: &'a str,
    /// The form token.
    pub csrf: &'a str,
    /// Where to go afterwards.
    pub next: &'a str,
    /// An error line.
    pub error: Option<&'a str>,
}

/// Step two of adding an authenticator app.
pub fn totp_confirm(v: &TotpView<'_>) -> Markup {
    // Groups of four are easier to type into an app by hand.
    let grouped: Vec<String> = v
        .secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let lang = v.lang;
    let t = |k: &str| tr(lang, k);
    layout(
        lang,
        t("page.mfa.add_totp_title"),
        Some(clone_who(&v.who)),
        html! {
            h1 { (t("page.mfa.add_totp_title")) }
            (alerts(None, v.error))
            ol {
                li { (t("page.mfa.scan")) br;
                    img #totp-qr src=(format!("data:image/png;base64,{}", v.qr_png_base64)) alt=(t("page.mfa.qr_alt")) width="200" height="200";
                }
                li { (t("page.mfa.by_hand")) " " code #totp-secret { (grouped.join(" ")) }
                    details { summary { (t("page.mfa.show_link")) } code #totp-uri { (v.uri) } }
                }
                li { (t("page.mfa.enter_code")) }
            }
            // The secret, URI and QR code come back to show again if the code
            // is wrong; never trusted for checking, which uses the sealed copy
            // on the server.
            (Form::post(routes::SECURITY_TOTP_CONFIRM, v.csrf)
                .hidden("method", v.method_id).hidden("next", v.next)
                .hidden("secret", v.secret).hidden("uri", v.uri).hidden("qr", v.qr_png_base64)
                .with(html! {
                    (Field::new("code", t("page.mfa.code_from_app")).inputmode("numeric").autocomplete("one-time-code")
                        .required().described_by(v.error.map(|_| "step-error")))
                    (Button::primary(t("page.mfa.turn_on")))
                }))
        },
    )
}

/// A form with a description field, for a new method.
pub fn new_method_form(
    lang: Lang,
    who: Who<'_>,
    kind: MethodKind,
    csrf: &str,
    next: &str,
    error: Option<&str>,
) -> Markup {
    let t = |k: &str| tr(lang, k);
    let (title, action) = match kind {
        MethodKind::Totp => (t("page.mfa.add_totp_title"), routes::SECURITY_TOTP),
        MethodKind::Sms => (t("page.mfa.add_sms_title"), routes::SECURITY_SMS),
        MethodKind::WebAuthn => (t("page.mfa.add_key_title"), routes::SECURITY_WEBAUTHN),
    };
    layout(
        lang,
        title,
        Some(who),
        html! {
            h1 { (title) }
            (alerts(None, error))
            @if kind == MethodKind::WebAuthn {
                div #webauthn-register data-csrf=(csrf) data-next=(next) {
                    (Field::new("label", t("page.mfa.col_label")).maxlength(64).required().placeholder(t("page.mfa.key_placeholder")))
                    (Button::primary(t("page.mfa.register_key")).scripted().id("webauthn-register-button"))
                    p.alert role="alert" #webauthn-error hidden {}
                }
                p.hint { (t("page.mfa.key_hint")) }
                script src=(routes::WEBAUTHN_JS) {}
            } @else {
                (Form::post(action, csrf).hidden("next", next).with(html! {
                    (Field::new("label", t("page.mfa.col_label")).maxlength(64).required()
                        .placeholder(if kind == MethodKind::Sms { t("page.mfa.sms_placeholder") } else { t("page.mfa.totp_placeholder") })
                        .described_by(error.map(|_| "step-error")))
                    @if kind == MethodKind::Sms {
                        (Field::new("phone", t("page.mfa.phone")).kind("tel").autocomplete("tel").required()
                            .placeholder("+44 7700 900123").hint(t("page.mfa.phone_hint")))
                    }
                    (Button::primary(t("page.common.continue")))
                }))
            }
        },
    )
}

/// Step two of adding an SMS phone: the code sent to it.
pub fn sms_confirm(
    lang: Lang,
    who: Who<'_>,
    method_id: &str,
    csrf: &str,
    next: &str,
    error: Option<&str>,
) -> Markup {
    let t = |k: &str| tr(lang, k);
    layout(
        lang,
        t("page.mfa.confirm_phone"),
        Some(who),
        html! {
            h1 { (t("page.mfa.confirm_phone")) }
            (alerts(Some(t("page.mfa.sms_sent")), error))
            (Form::post(routes::SECURITY_SMS_CONFIRM, csrf).hidden("method", method_id).hidden("next", next).with(html! {
                (Field::new("code", t("page.mfa.code_by_sms")).inputmode("numeric").autocomplete("one-time-code")
                    .required().described_by(error.map(|_| "step-error")))
                (Button::primary(t("page.mfa.turn_on")))
            }))
        },
    )
}

/// Asks for the password again before a security change.
pub fn reauth(lang: Lang, who: Who<'_>, csrf: &str, next: &str, error: Option<&str>) -> Markup {
    let t = |k: &str| tr(lang, k);
    layout(
        lang,
        t("page.mfa.reauth_title"),
        Some(who),
        html! {
            h1 { (t("page.mfa.reauth_title")) }
            p { (t("page.mfa.reauth_explain")) }
            (alerts(None, error))
            (Form::post(routes::REAUTH, csrf).hidden("next", next).with(html! {
                (Field::new("password", t("page.login.password")).kind("password").autocomplete("current-password")
                    .required().autofocus().described_by(error.map(|_| "step-error")))
                (Button::primary(t("page.common.confirm")))
            }))
        },
    )
}

/// What a customer is told about a two-factor failure, in `lang`.
pub fn mfa_message(lang: Lang, e: &mfa::MfaError) -> &'static str {
    use mfa::MfaError as E;
    let key = match e {
        E::WrongCode => "page.mfa_error.wrong_code",
        E::InvalidPhone => "page.mfa_error.invalid_phone",
        E::InvalidLabel => "page.mfa_error.invalid_label",
        E::TooManySends => "page.mfa_error.too_many_sends",
        E::ChallengeExpired => "page.mfa_error.challenge_expired",
        E::CounterRegression => "page.mfa_error.counter_regression",
        _ => "page.error.internal",
    };
    tr(lang, key)
}
