//! Pages of two-factor authentication: the second login step, the security
//! page and the enrolment of each kind of method.

use maud::{Markup, html};
use mfa::{MethodInfo, MethodKind};

use super::pages::{Who, layout};

/// Plain words for a kind of method.
pub fn kind_text(k: MethodKind) -> &'static str {
    match k {
        MethodKind::Totp => "Authenticator app",
        MethodKind::Sms => "SMS",
        MethodKind::WebAuthn => "Security key",
    }
}

/// What the second step shows.
pub struct StepView<'a> {
    /// The account, in the header: the user sees whose login this is.
    pub who: Who<'a>,
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
        @if let Some(n) = notice { div.notice role="status" { (n) } }
        @if let Some(e) = error { div.alert role="alert" id="step-error" { (e) } }
    }
}

fn code_form(v: &StepView<'_>, method: &str, label: &str, hint: &str) -> Markup {
    html! {
        form method="post" action="/login/2fa" {
            input type="hidden" name="csrf" value=(v.csrf);
            input type="hidden" name="method" value=(method);
            input type="hidden" name="next" value=(v.next);
            label for="code" { (label) }
            input type="text" id="code" name="code" inputmode="numeric"
                autocomplete="one-time-code" autocapitalize="none" spellcheck="false"
                required autofocus aria-describedby=[v.error.map(|_| "step-error")];
            p.hint { (hint) }
            button type="submit" { "Continue" }
        }
    }
}

/// The second step of a login (or a step-up).
pub fn second_step(v: &StepView<'_>) -> Markup {
    let title = if v.step_up {
        "Confirm it is you"
    } else {
        "Two-factor authentication"
    };
    let current = v.method.map(|m| m.id.as_str()).unwrap_or("recovery");
    layout(
        title,
        Some(clone_who(&v.who)),
        html! {
            h1 { (title) }
            (alerts(v.notice, v.error))
            @match v.method {
                Some(m) if m.kind == MethodKind::Totp => {
                    p { "Open your authenticator app (" (m.label) ") and enter the 6-digit code it shows." }
                    (code_form(v, &m.id, "Code from the app", "The code changes every 30 seconds."))
                }
                Some(m) if m.kind == MethodKind::Sms => {
                    p { "We can send a code by SMS to " (m.phone_hint.as_deref().unwrap_or("your phone")) " (" (m.label) ")." }
                    form method="post" action="/login/2fa/sms" {
                        input type="hidden" name="csrf" value=(v.csrf);
                        input type="hidden" name="method" value=(m.id);
                        input type="hidden" name="next" value=(v.next);
                        button.secondary type="submit" { "Send me a code" }
                    }
                    (code_form(v, &m.id, "Code received by SMS", "6 digits, valid for 5 minutes."))
                }
                Some(m) => {
                    p { "Insert or touch your security key (" (m.label) "), then press the button." }
                    div #webauthn-login data-csrf=(v.csrf) data-next=(v.next) {
                        button type="button" #webauthn-login-button { "Use my security key" }
                        p.alert role="alert" #webauthn-error hidden {}
                    }
                    script src="/static/webauthn.js" {}
                }
                None => {
                    p { "Enter one of the emergency codes you saved when you turned two-factor on. Each code works once." }
                    (code_form(v, "recovery", "Emergency code", "For example: ab3k-9xq2-mf7p-2hzt."))
                }
            }
            details.other-methods open[v.error.is_some()] {
                summary { "Try another method" }
                ul {
                    @for m in v.methods.iter().filter(|m| m.id != current) {
                        li { a href=(format!("/login/2fa?method={}&next={}", m.id, urlencode(v.next))) {
                            (kind_text(m.kind)) ": " (m.label)
                        } }
                    }
                    @if v.recovery_left > 0 && current != "recovery" {
                        li { a href=(format!("/login/2fa?method=recovery&next={}", urlencode(v.next))) {
                            "An emergency code (" (v.recovery_left) " left)"
                        } }
                    }
                }
                p.hint { "Lost your phone and your emergency codes? Contact support: after checking your identity they can turn two-factor off." }
            }
        },
    )
}

fn clone_who<'a>(w: &Who<'a>) -> Who<'a> {
    Who {
        name: w.name.clone(),
        handle: w.handle,
        code: w.code,
    }
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// What the security page shows.
pub struct SecurityView<'a> {
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

fn fmt_time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".into())
}

fn hidden(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// The security page: two-factor methods and emergency codes.
pub fn security(v: &SecurityView<'_>) -> Markup {
    let on = !v.methods.is_empty();
    layout(
        "Security",
        Some(clone_who(&v.who)),
        html! {
            h1 { "Security" }
            // Sessions, applications, log, data and contacts (their own pages).
            // The integrator passes the page's language once this page has one.
            (super::panel_security::nav(crate::i18n::Lang::En))
            (alerts(v.notice, v.error))
            @if !v.next.is_empty() && !on {
                div.notice role="status" { "The application you are signing in to asks for two-factor authentication. Add a method below to continue." }
            }
            h2 { "Two-factor authentication" }
            @if on {
                p { "Two-factor authentication is " strong { "on" } ". After your password, we ask for one of these:" }
                table.methods {
                    thead { tr { th { "Method" } th { "Description" } th { "Added" } th { "Last used" } th { "Actions" } } }
                    tbody {
                        @for m in v.methods {
                            tr {
                                td { (kind_text(m.kind)) @if let Some(p) = &m.phone_hint { br; small { (p) } } }
                                td { (m.label) }
                                td { (fmt_time(Some(m.created_at))) }
                                td { (fmt_time(m.last_used_at)) }
                                td {
                                    form.inline method="post" action="/account/security/methods/rename" {
                                        (hidden(v.csrf))
                                        input type="hidden" name="method" value=(m.id);
                                        label.visually-hidden for=(format!("label-{}", m.id)) { "New description" }
                                        input type="text" id=(format!("label-{}", m.id)) name="label" value=(m.label) maxlength="64" required;
                                        button.secondary type="submit" { "Rename" }
                                    }
                                    form.inline method="post" action="/account/security/methods/remove" {
                                        (hidden(v.csrf))
                                        input type="hidden" name="method" value=(m.id);
                                        button.danger type="submit" { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            } @else {
                p { "Two-factor authentication is " strong { "off" } ". Add a method so that a stolen password is not enough to enter your account." }
            }
            h3 { "Add a method" }
            ul.add-methods {
                li { a href=(format!("/account/security/totp?next={}", urlencode(v.next))) { "Authenticator app (phone or tablet)" } }
                li { a href=(format!("/account/security/sms?next={}", urlencode(v.next))) { "SMS to a mobile phone" } }
                li { a href=(format!("/account/security/webauthn?next={}", urlencode(v.next))) { "Security key (U2F / FIDO2)" } }
            }
            @if on {
                h2 { "Emergency codes" }
                p { "Codes left: " strong #recovery-left { (v.recovery_left) } ". Each code lets you in once if you lose your phone or key." }
                form.inline method="post" action="/account/security/recovery/regenerate" {
                    (hidden(v.csrf))
                    button.secondary type="submit" { "Make new codes (the old ones stop working)" }
                }
                form.inline method="post" action="/account/security/recovery/delete" {
                    (hidden(v.csrf))
                    button.danger type="submit" { "Delete my emergency codes" }
                }
                h2 { "Turn two-factor off" }
                form method="post" action="/account/security/disable" {
                    (hidden(v.csrf))
                    p.hint { "Removes every method and emergency code. Your account is then protected by your password alone." }
                    button.danger type="submit" { "Turn two-factor authentication off" }
                }
            }
            p { a href="/account" { "Back to your account" } }
        },
    )
}

/// The emergency codes, shown once.
pub fn recovery_codes(who: Who<'_>, codes: &[String], next: &str) -> Markup {
    let text = codes.join("\n");
    let download = format!(
        "data:text/plain;charset=utf-8,{}",
        urlencode(&format!(
            "Guichet emergency codes for {}\n\n{text}\n",
            who.handle
        ))
        .replace('+', "%20")
    );
    let go_on = if next.is_empty() {
        "/account/security"
    } else {
        next
    };
    layout(
        "Your emergency codes",
        Some(who),
        html! {
            h1 { "Your emergency codes" }
            p { "Keep these codes somewhere safe, away from your phone. Each one lets you log in once if you lose your phone or security key. We will not show them again." }
            ol.codes #recovery-codes {
                @for c in codes { li { code { (c) } } }
            }
            p { a download="guichet-emergency-codes.txt" href=(download) { "Download as a text file" } }
            p { a.button href=(go_on) { "I have saved my codes" } }
        },
    )
}

/// The authenticator-app enrolment: QR code, URI and secret, then a code.
pub struct TotpView<'a> {
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
    layout(
        "Add an authenticator app",
        Some(clone_who(&v.who)),
        html! {
            h1 { "Add an authenticator app" }
            (alerts(None, v.error))
            ol {
                li { "Scan this QR code with your authenticator app:" br;
                    img #totp-qr src=(format!("data:image/png;base64,{}", v.qr_png_base64)) alt="QR code to scan with the authenticator app" width="200" height="200";
                }
                li { "Or enter this key by hand: " code #totp-secret { (grouped.join(" ")) }
                    details { summary { "Show the link" } code #totp-uri { (v.uri) } }
                }
                li { "Enter the 6-digit code the app shows:" }
            }
            form method="post" action="/account/security/totp/confirm" {
                (hidden(v.csrf))
                input type="hidden" name="method" value=(v.method_id);
                input type="hidden" name="next" value=(v.next);
                // Shown again if the code is wrong; never trusted for checking,
                // which uses the sealed copy on the server.
                input type="hidden" name="secret" value=(v.secret);
                input type="hidden" name="uri" value=(v.uri);
                input type="hidden" name="qr" value=(v.qr_png_base64);
                label for="code" { "Code from the app" }
                input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required
                    aria-describedby=[v.error.map(|_| "step-error")];
                button type="submit" { "Turn on" }
            }
        },
    )
}

/// A form with a description field, for a new method.
pub fn new_method_form(
    who: Who<'_>,
    kind: MethodKind,
    csrf: &str,
    next: &str,
    error: Option<&str>,
) -> Markup {
    let (title, action) = match kind {
        MethodKind::Totp => ("Add an authenticator app", "/account/security/totp"),
        MethodKind::Sms => ("Add a phone for SMS codes", "/account/security/sms"),
        MethodKind::WebAuthn => ("Add a security key", "/account/security/webauthn"),
    };
    layout(
        title,
        Some(who),
        html! {
            h1 { (title) }
            (alerts(None, error))
            @if kind == MethodKind::WebAuthn {
                div #webauthn-register data-csrf=(csrf) data-next=(next) {
                    label for="label" { "Description" }
                    input type="text" id="label" name="label" maxlength="64" required placeholder="For example: blue key";
                    button type="button" #webauthn-register-button { "Register my key" }
                    p.alert role="alert" #webauthn-error hidden {}
                }
                p.hint { "Your browser will ask you to insert or touch the key." }
                script src="/static/webauthn.js" {}
            } @else {
                form method="post" action=(action) {
                    (hidden(csrf))
                    input type="hidden" name="next" value=(next);
                    label for="label" { "Description" }
                    input type="text" id="label" name="label" maxlength="64" required
                        placeholder=(if kind == MethodKind::Sms { "For example: work phone" } else { "For example: my phone" })
                        aria-describedby=[error.map(|_| "step-error")];
                    @if kind == MethodKind::Sms {
                        label for="phone" { "Mobile number, in international format" }
                        input type="tel" id="phone" name="phone" autocomplete="tel" required placeholder="+44 7700 900123";
                        p.hint { "Start with + and the country code." }
                    }
                    button type="submit" { "Continue" }
                }
            }
        },
    )
}

/// Step two of adding an SMS phone: the code sent to it.
pub fn sms_confirm(
    who: Who<'_>,
    method_id: &str,
    csrf: &str,
    next: &str,
    error: Option<&str>,
) -> Markup {
    layout(
        "Confirm your phone",
        Some(who),
        html! {
            h1 { "Confirm your phone" }
            (alerts(Some("We sent a 6-digit code by SMS. It is valid for 5 minutes."), error))
            form method="post" action="/account/security/sms/confirm" {
                (hidden(csrf))
                input type="hidden" name="method" value=(method_id);
                input type="hidden" name="next" value=(next);
                label for="code" { "Code received by SMS" }
                input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required
                    aria-describedby=[error.map(|_| "step-error")];
                button type="submit" { "Turn on" }
            }
        },
    )
}

/// Asks for the password again before a security change.
pub fn reauth(who: Who<'_>, csrf: &str, next: &str, error: Option<&str>) -> Markup {
    layout(
        "Confirm your password",
        Some(who),
        html! {
            h1 { "Confirm your password" }
            p { "For your security, enter your password again before changing how you log in." }
            (alerts(None, error))
            form method="post" action="/account/reauth" {
                (hidden(csrf))
                input type="hidden" name="next" value=(next);
                label for="password" { "Password" }
                input type="password" id="password" name="password" autocomplete="current-password" required autofocus
                    aria-describedby=[error.map(|_| "step-error")];
                button type="submit" { "Confirm" }
            }
        },
    )
}
