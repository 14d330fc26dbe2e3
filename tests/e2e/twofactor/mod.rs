//! Two-factor authentication as a customer and a relying party see it: enrolment
//! of each kind of method, the second login step, emergency codes, the
//! half-authenticated state, and `amr`/`acr` in ID tokens.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guichet_tests::{
    Person, TestApp, browser, free_port, fresh_settings, hidden, spawn_app, spawn_with,
};
use serde_json::{Value, json};
use totp_rs::Totp;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softtoken::SoftToken;

use crate::oidc::{REDIRECT, authorize_url, follow_to_client, param, pkce, redeem, web_app};

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// Moves the app's clock, if needed, so that the next few seconds stay
/// within one 30-second TOTP step: the tests below reason about "this step"
/// and "the next one".
pub(crate) async fn early_in_a_step(app: &TestApp) {
    let into = app.clock.now_secs() % 30;
    if into > 20 {
        app.clock
            .advance(Duration::from_secs((30 - into) as u64 + 1));
    }
}

/// The code `offset_steps` steps away from the app's current one.
pub(crate) fn code_at(app: &TestApp, totp: &Totp, offset_steps: i64) -> String {
    let t = app.clock.now_secs() + offset_steps * 30;
    totp.generate(t as u64).to_string()
}

/// A signed-up, logged-in person.
pub(crate) async fn signed_in(app: &TestApp) -> (reqwest::Client, Person, String) {
    let p = Person::new("Tess", "Factor");
    let handle = app.signup(&p).await;
    let web = browser();
    let r = app.login(&web, &handle, &p.password).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account");
    (web, p, handle)
}

pub(crate) async fn page(app: &TestApp, web: &reqwest::Client, path: &str) -> (u16, String) {
    let p = app.client_on(web).get(path).await;
    (p.status.as_u16(), p.body)
}

/// Adds an authenticator app; returns the generator and the emergency codes shown.
pub(crate) async fn enrol_totp(app: &TestApp, web: &reqwest::Client) -> (Totp, Vec<String>) {
    early_in_a_step(app).await;
    let start = app.client_on(web).get("/account/security/totp").await;
    assert_eq!(start.status, 200, "{}", start.body);
    let r = start
        .form("/account/security/totp")
        .fill(&[("label", "My phone"), ("next", "")])
        .submit()
        .await;
    assert_eq!(r.status, 200);
    let html = &r.body;
    assert!(
        html.contains("data:image/png;base64,"),
        "a QR code is shown"
    );
    let confirm = r.form("/account/security/totp/confirm");
    let uri = confirm.get("uri").unwrap().to_owned();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let totp = Totp::from_url(&uri).expect("a valid otpauth URI");
    let secret = confirm.get("secret").unwrap();
    assert!(
        html.contains(&secret[..4]),
        "the secret is shown for manual entry"
    );
    // A wrong code leaves the method off.
    let wrong = confirm.clone().set("code", "000000").submit().await;
    assert_eq!(wrong.status, 422);
    let (_, security) = page(app, web, "/account/security").await;
    assert!(security.contains("is <strong>off</strong>"), "{security}");

    let code = code_at(app, &totp, 0);
    let r = confirm.set("code", &code).send().await;
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.starts_with("/account/security/codes?show="), "{to}");
    let (_, shown) = page(app, web, &to).await;
    let codes = emergency_codes(&shown);
    assert_eq!(codes.len(), 10, "{shown}");
    // Shown once only.
    let (_, again) = page(app, web, &to).await;
    assert!(emergency_codes(&again).is_empty());
    (totp, codes)
}

fn emergency_codes(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .filter_map(|s| s.split("</code>").next())
        .map(str::to_owned)
        .collect()
}

/// Logs in with the password only; returns the browser at the second step.
pub(crate) async fn password_step(app: &TestApp, handle: &str, password: &str) -> reqwest::Client {
    let web = browser();
    let r = app.login(&web, handle, password).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login/2fa");
    assert!(
        guichet_tests::set_cookie(&r, "guichet_session").is_none(),
        "no session before the second factor"
    );
    web
}

/// Submits a code at the second step for `method` (a method id or `recovery`).
async fn second_step(
    app: &TestApp,
    web: &reqwest::Client,
    method: Option<&str>,
    code: &str,
) -> reqwest::Response {
    second_step_at(app, web, "/login/2fa", method, code).await
}

/// The same, from the second-step page at `path` (which may carry a `next`),
/// submitting the form as that page renders it.
async fn second_step_at(
    app: &TestApp,
    web: &reqwest::Client,
    path: &str,
    method: Option<&str>,
    code: &str,
) -> reqwest::Response {
    let step = app.client_on(web).get(path).await;
    assert_eq!(step.status, 200, "{}", step.body);
    let form = step.form("/login/2fa").set("code", code);
    match method {
        Some(m) => form.set("method", m),
        None => form,
    }
    .send()
    .await
}

/// The newest SMS to `to` in this instance's SMS outbox, waiting for it.
pub(crate) async fn sms_code(app: &TestApp, to: &str, not: Option<&str>) -> String {
    let dir = app.settings.server.data_dir.join("sms-outbox");
    for _ in 0..100 {
        let mut found: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| {
                        let text = std::fs::read_to_string(e.path()).ok()?;
                        let at = e.metadata().ok()?.modified().ok()?;
                        text.contains(to).then_some((at, text))
                    })
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        if let Some((_, text)) = found.last() {
            let code: String = text
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .unwrap_or_default()
                .to_owned();
            if !code.is_empty() && Some(code.as_str()) != not {
                return code;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no SMS to {to}");
}

fn claims(id_token: &str) -> Value {
    let payload = id_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn id_token_after(
    app: &TestApp,
    web: &reqwest::Client,
    client: &(String, Option<String>),
    extra: &[(&str, &str)],
) -> Value {
    let (verifier, challenge) = pkce();
    let loc = follow_to_client(app, web, authorize_url(app, &client.0, &challenge, extra)).await;
    let code = param(&loc, "code").unwrap_or_else(|| panic!("no code: {loc}"));
    let r = redeem(
        app,
        &client.0,
        client.1.as_deref().unwrap(),
        &code,
        &verifier,
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    claims(body["id_token"].as_str().unwrap())
}

/// Enrolment reached from an authorization request: after the codes page, the
/// request resumes and the client gets its code, with `acr` = `mfa`.
async fn enrol_totp_then(app: &TestApp, web: &reqwest::Client, next: &str) -> (Totp, String) {
    early_in_a_step(app).await;
    let path = format!("/account/security/totp?next={}", urlencode(next));
    let start = app.client_on(web).get(&path).await;
    assert_eq!(start.status, 200, "{}", start.body);
    let shown = start
        .form("/account/security/totp")
        .set("label", "Phone")
        .submit()
        .await;
    let confirm = shown.form("/account/security/totp/confirm");
    let totp = Totp::from_url(confirm.get("uri").unwrap()).unwrap();
    let r = confirm.set("code", &code_at(app, &totp, 0)).send().await;
    assert_eq!(r.status(), 303);
    let (_, shown) = page(app, web, &location(&r)).await;
    assert_eq!(emergency_codes(&shown).len(), 10);
    assert!(
        shown.contains("/oauth2/authorize/resume"),
        "continue link leads back"
    );
    let loc = follow_to_client(app, web, app.url(&next.replace("&amp;", "&"))).await;
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert!(param(&loc, "code").is_some(), "{loc}");
    (totp, loc)
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// An instance whose public URL is `http://localhost:<port>`: WebAuthn needs
/// a domain, not an IP address, as its relying-party id.
async fn spawn_on_localhost() -> TestApp {
    let mut s = fresh_settings().await;
    let port = free_port();
    s.server.bind = format!("127.0.0.1:{port}").parse().unwrap();
    s.server.public_url = Some(format!("http://localhost:{port}/").parse().unwrap());
    spawn_with(s).await
}

async fn post_json(app: &TestApp, web: &reqwest::Client, path: &str, body: Value) -> (u16, Value) {
    let r = web.post(app.url(path)).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The page a login stands at between the password and the next step, with
/// everything that would tell whose account the password opened.
async fn identity_on(app: &TestApp, web: &reqwest::Client, path: &str, who: &[&str]) {
    let (status, html) = page(app, web, path).await;
    assert_eq!(status, 200, "{html}");
    for shown in who {
        assert!(!html.contains(shown), "{path} shows {shown:?}: {html}");
    }
}

mod keys;
mod sms;
mod totp;
