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
    let r = web.get(app.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// Adds an authenticator app; returns the generator and the emergency codes shown.
pub(crate) async fn enrol_totp(app: &TestApp, web: &reqwest::Client) -> (Totp, Vec<String>) {
    early_in_a_step(app).await;
    let (status, form) = page(app, web, "/account/security/totp").await;
    assert_eq!(status, 200, "{form}");
    let csrf = hidden(&form, "csrf").unwrap();
    let r = web
        .post(app.url("/account/security/totp"))
        .form(&[("csrf", csrf.as_str()), ("label", "My phone"), ("next", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("data:image/png;base64,"),
        "a QR code is shown"
    );
    let uri = hidden(&html, "uri").unwrap().replace("&amp;", "&");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let totp = Totp::from_url(&uri).expect("a valid otpauth URI");
    let secret = hidden(&html, "secret").unwrap();
    assert!(
        html.contains(&secret[..4]),
        "the secret is shown for manual entry"
    );
    let method = hidden(&html, "method").unwrap();
    // A wrong code leaves the method off.
    let r = web
        .post(app.url("/account/security/totp/confirm"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("method", method.as_str()),
            ("code", "000000"),
            ("secret", secret.as_str()),
            ("uri", uri.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let (_, security) = page(app, web, "/account/security").await;
    assert!(security.contains("is <strong>off</strong>"), "{security}");

    let code = code_at(app, &totp, 0);
    let r = web
        .post(app.url("/account/security/totp/confirm"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("method", method.as_str()),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
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
    let (status, html) = page(app, web, path).await;
    assert_eq!(status, 200, "{html}");
    let csrf = hidden(&html, "csrf").unwrap();
    let next = hidden(&html, "next")
        .unwrap_or_default()
        .replace("&amp;", "&");
    let method = method
        .map(str::to_owned)
        .unwrap_or_else(|| hidden(&html, "method").unwrap());
    web.post(app.url("/login/2fa"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("method", method.as_str()),
            ("code", code),
            ("next", next.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_authenticator_app_code_logs_in_once_and_never_two_steps_off() {
    let app = spawn_app().await;
    let (web, p, handle) = signed_in(&app).await;
    let (totp, _) = enrol_totp(&app, &web).await;
    let (_, security) = page(&app, &web, "/account/security").await;
    assert!(security.contains("is <strong>on</strong>"));
    assert!(security.contains("My phone"));
    // The notice mail tells the customer.
    let mail = app.mail_to_with(&p.email, "Security change").await;
    assert!(mail.contains("Security change"), "{mail}");

    // A code two steps away is refused.
    let web = password_step(&app, &handle, &p.password).await;
    let r = second_step(&app, &web, None, &code_at(&app, &totp, 2)).await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("not right"));
    // The next step's code (within the ±1 window) works: the enrolment used
    // this step's code, which is spent.
    app.clock.advance(Duration::from_millis(1100)); // past the 1 s delay
    let code = code_at(&app, &totp, 1);
    let r = second_step(&app, &web, None, &code).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account");
    assert!(guichet_tests::set_cookie(&r, "guichet_session").is_some());
    let (status, account) = page(&app, &web, "/account").await;
    assert_eq!(status, 200);
    assert!(account.contains(&handle));

    // The same code again, in a fresh login: refused.
    app.clock.advance(Duration::from_millis(3100));
    let again = password_step(&app, &handle, &p.password).await;
    let r = second_step(&app, &again, None, &code).await;
    assert_eq!(r.status(), 401, "a TOTP code works once per account");
}

#[tokio::test]
async fn the_password_alone_reaches_no_page_consent_or_code() {
    let app = spawn_app().await;
    let (web, p, handle) = signed_in(&app).await;
    enrol_totp(&app, &web).await;
    let (client_id, _) = app.create_client(&web_app(true)).await;

    let half = password_step(&app, &handle, &p.password).await;
    for path in ["/account", "/account/security", "/account/security/totp"] {
        let r = half.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        assert!(location(&r).starts_with("/login"), "{path}");
    }
    let (_, challenge) = pkce();
    let r = half
        .get(authorize_url(&app, &client_id, &challenge, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/login?"), "{}", location(&r));
    let r = half
        .get(authorize_url(
            &app,
            &client_id,
            &challenge,
            &[("prompt", "none")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("login_required")
    );
    // A forged pending-login cookie is nothing.
    let forged = browser();
    let r = forged
        .get(app.url("/login/2fa"))
        .header(
            "cookie",
            "guichet_2fa=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login");
}

#[tokio::test]
async fn wrong_codes_are_slowed_per_account_across_fresh_logins() {
    let app = spawn_app().await;
    let (web, p, handle) = signed_in(&app).await;
    enrol_totp(&app, &web).await;

    let first = password_step(&app, &handle, &p.password).await;
    assert_eq!(
        second_step(&app, &first, None, "111111").await.status(),
        401
    );
    // A brand-new login (new browser, correct password) does not reset the
    // count: the very next code is delayed.
    let second = password_step(&app, &handle, &p.password).await;
    let r = second_step(&app, &second, None, "222222").await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    assert!(r.text().await.unwrap().contains("Too many wrong codes"));
}

#[tokio::test]
async fn emergency_codes_work_once_and_a_new_set_voids_the_old() {
    let app = spawn_app().await;
    let (web, p, handle) = signed_in(&app).await;
    let (_, codes) = enrol_totp(&app, &web).await;

    // Lost phone: log in with an emergency code, offered under "another method".
    let lost = password_step(&app, &handle, &p.password).await;
    let (_, step) = page(&app, &lost, "/login/2fa").await;
    assert!(step.contains("An emergency code (10 left)"), "{step}");
    let r = second_step(&app, &lost, Some("recovery"), &codes[0].to_uppercase()).await;
    assert_eq!(r.status(), 303, "codes are case-insensitive");
    let (_, security) = page(&app, &lost, "/account/security").await;
    assert!(security.contains(r#"id="recovery-left">9<"#), "{security}");

    // The used code is spent.
    app.clock.advance(Duration::from_millis(1100));
    let again = password_step(&app, &handle, &p.password).await;
    assert_eq!(
        second_step(&app, &again, Some("recovery"), &codes[0])
            .await
            .status(),
        401
    );

    // A new set (the session is fresh, with both factors): old codes die.
    let csrf = hidden(&security, "csrf").unwrap();
    let r = lost
        .post(app.url("/account/security/recovery/regenerate"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, shown) = page(&app, &lost, &location(&r)).await;
    let fresh = emergency_codes(&shown);
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !codes.contains(c)));
    app.clock.advance(Duration::from_millis(3100));
    let old = password_step(&app, &handle, &p.password).await;
    assert_eq!(
        second_step(&app, &old, Some("recovery"), &codes[1])
            .await
            .status(),
        401
    );
    app.clock.advance(Duration::from_millis(3_100));
    let new = password_step(&app, &handle, &p.password).await;
    assert_eq!(
        second_step(&app, &new, Some("recovery"), &fresh[0])
            .await
            .status(),
        303
    );
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

#[tokio::test]
async fn an_sms_phone_is_confirmed_then_receives_login_codes_once() {
    let app = spawn_app().await;
    let (web, p, handle) = signed_in(&app).await;
    let (_, form) = page(&app, &web, "/account/security/sms").await;
    let csrf = hidden(&form, "csrf").unwrap();
    // Not international: refused, nothing stored.
    let r = web
        .post(app.url("/account/security/sms"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("label", "Work"),
            ("phone", "07700 900123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let phone = "+44 7700 900123";
    let r = web
        .post(app.url("/account/security/sms"))
        .form(&[("csrf", csrf.as_str()), ("label", "Work"), ("phone", phone)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let method = hidden(&html, "method").unwrap();
    let code = sms_code(&app, "+447700900123", None).await;
    let r = web
        .post(app.url("/account/security/sms/confirm"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("method", method.as_str()),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);

    let half = password_step(&app, &handle, &p.password).await;
    let (_, step) = page(&app, &half, "/login/2fa").await;
    assert!(step.contains("Send me a code"), "{step}");
    let csrf2 = hidden(&step, "csrf").unwrap();
    let r = half
        .post(app.url("/login/2fa/sms"))
        .form(&[
            ("csrf", csrf2.as_str()),
            ("method", method.as_str()),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let login_code = sms_code(&app, "+447700900123", Some(&code)).await;
    let r = second_step(&app, &half, Some(&method), &login_code).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account");
    // Single use.
    app.clock.advance(Duration::from_millis(1100));
    let again = password_step(&app, &handle, &p.password).await;
    assert_eq!(
        second_step(&app, &again, Some(&method), &login_code)
            .await
            .status(),
        401
    );
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

#[tokio::test]
async fn amr_and_acr_tell_the_factors_used_and_acr_values_steps_up() {
    let app = spawn_app().await;
    let client = app.create_client(&web_app(true)).await;
    let (web, p, handle) = signed_in(&app).await;

    // Password only.
    let c = id_token_after(&app, &web, &client, &[]).await;
    assert_eq!(c["amr"], json!(["pwd"]));
    assert_eq!(c["acr"], "pwd");

    // The client asks for two-factor: prompt=none cannot do it silently...
    let (_, challenge) = pkce();
    let r = web
        .get(authorize_url(
            &app,
            &client.0,
            &challenge,
            &[("acr_values", "mfa"), ("prompt", "none")],
        ))
        .send()
        .await
        .unwrap();
    let loc = location(&r);
    assert!(loc.starts_with(REDIRECT));
    assert_eq!(
        param(&loc, "error").as_deref(),
        Some("interaction_required")
    );
    // ...and interactively an account without two-factor is led to enrol first.
    let r = web
        .get(authorize_url(
            &app,
            &client.0,
            &challenge,
            &[("acr_values", "mfa")],
        ))
        .send()
        .await
        .unwrap();
    let to = location(&r);
    assert!(to.starts_with("/account/security?next="), "{to}");
    let next = param(&app.url(&to), "next").unwrap();
    assert!(next.starts_with("/oauth2/authorize/resume"), "{next}");
    let (totp, _) = enrol_totp_then(&app, &web, &next).await;

    // Now a fresh login goes through both steps; the ID token says so.
    app.clock.advance(Duration::from_millis(500));
    let half = password_step(&app, &handle, &p.password).await;
    let r = second_step(&app, &half, None, &code_at(&app, &totp, 1)).await;
    assert_eq!(r.status(), 303);
    let c = id_token_after(&app, &half, &client, &[("acr_values", "mfa")]).await;
    assert_eq!(c["acr"], "mfa");
    let amr: Vec<String> = serde_json::from_value(c["amr"].clone()).unwrap();
    for f in ["pwd", "otp", "mfa"] {
        assert!(amr.iter().any(|a| a == f), "{amr:?}");
    }
    let discovery: Value = reqwest::get(app.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        discovery["acr_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("mfa"))
    );
}

/// Enrolment reached from an authorization request: after the codes page, the
/// request resumes and the client gets its code, with `acr` = `mfa`.
async fn enrol_totp_then(app: &TestApp, web: &reqwest::Client, next: &str) -> (Totp, String) {
    early_in_a_step(app).await;
    let path = format!("/account/security/totp?next={}", urlencode(next));
    let (status, form) = page(app, web, &path).await;
    assert_eq!(status, 200, "{form}");
    let csrf = hidden(&form, "csrf").unwrap();
    let html = web
        .post(app.url("/account/security/totp"))
        .form(&[("csrf", csrf.as_str()), ("label", "Phone"), ("next", next)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let uri = hidden(&html, "uri").unwrap().replace("&amp;", "&");
    let totp = Totp::from_url(&uri).unwrap();
    let method = hidden(&html, "method").unwrap();
    let r = web
        .post(app.url("/account/security/totp/confirm"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("method", method.as_str()),
            ("code", code_at(app, &totp, 0).as_str()),
            ("next", next),
        ])
        .send()
        .await
        .unwrap();
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

#[tokio::test]
async fn a_security_key_registers_and_logs_in_and_its_challenge_works_once() {
    let app = spawn_on_localhost().await;
    let origin = url::Url::parse(&format!(
        "http://localhost:{}",
        url::Url::parse(&app.base).unwrap().port().unwrap()
    ))
    .unwrap();
    let (web, p, handle) = signed_in(&app).await;
    let (_, form) = page(&app, &web, "/account/security/webauthn").await;
    assert!(form.contains("/static/webauthn.js"));
    let csrf = hidden(&form, "csrf").unwrap_or_else(|| {
        form.split("data-csrf=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    });
    let mut key = SoftToken::new(true).unwrap().0;

    let (status, begun) = post_json(
        &app,
        &web,
        "/account/security/webauthn/begin",
        json!({"csrf": csrf}),
    )
    .await;
    assert_eq!(status, 200, "{begun}");
    let options: webauthn_rs_proto::CreationChallengeResponse =
        serde_json::from_value(begun["options"].clone()).unwrap();
    let credential = key.do_registration(origin.clone(), options).unwrap();
    let (status, done) = post_json(
        &app,
        &web,
        "/account/security/webauthn/finish",
        json!({"csrf": csrf, "ceremony": begun["ceremony"], "label": "Blue key", "credential": credential}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    let to = done["redirect"].as_str().unwrap();
    assert!(to.starts_with("/account/security/codes"), "{to}");
    let (_, security) = page(&app, &web, "/account/security").await;
    assert!(security.contains("Blue key") && security.contains("Security key"));

    // Login: password, then the key.
    let half = password_step(&app, &handle, &p.password).await;
    let (_, step) = page(&app, &half, "/login/2fa").await;
    assert!(step.contains("webauthn-login"), "{step}");
    let csrf = step
        .split("data-csrf=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, begun) = post_json(
        &app,
        &half,
        "/login/2fa/webauthn/begin",
        json!({"csrf": csrf}),
    )
    .await;
    assert_eq!(status, 200, "{begun}");
    let options: webauthn_rs_proto::RequestChallengeResponse =
        serde_json::from_value(begun["options"].clone()).unwrap();
    let assertion = key.do_authentication(origin.clone(), options).unwrap();
    let finish = json!({"csrf": csrf, "ceremony": begun["ceremony"], "credential": assertion});
    let (status, done) = post_json(&app, &half, "/login/2fa/webauthn/finish", finish.clone()).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["redirect"], "/account");
    let (status, _) = page(&app, &half, "/account").await;
    assert_eq!(status, 200);

    // The same answer replayed in another login: the challenge is spent.
    app.clock.advance(Duration::from_millis(1100));
    let other = password_step(&app, &handle, &p.password).await;
    let (_, step) = page(&app, &other, "/login/2fa").await;
    let csrf = step
        .split("data-csrf=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let mut replay = finish;
    replay["csrf"] = json!(csrf);
    let (status, _) = post_json(&app, &other, "/login/2fa/webauthn/finish", replay).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn security_changes_ask_for_recent_authentication() {
    let mut s = fresh_settings().await;
    s.login.recent_auth_secs = std::time::Duration::from_secs(5);
    let app = spawn_with(s).await;
    // Early in a TOTP step, so that sign-up, login and enrolment all fit in
    // the 5 s during which the login counts as recent.
    early_in_a_step(&app).await;
    let (web, p, _) = signed_in(&app).await;
    let (totp, _) = enrol_totp(&app, &web).await;
    app.clock.advance(Duration::from_millis(6100));
    let (_, security) = page(&app, &web, "/account/security").await;
    let csrf = hidden(&security, "csrf").unwrap();
    let r = web
        .post(app.url("/account/security/disable"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.starts_with("/account/reauth"), "{to}");
    // Still on: nothing changed.
    let (_, security) = page(&app, &web, "/account/security").await;
    assert!(security.contains("is <strong>on</strong>"));
    // Password, then the second factor, then the change goes through.
    let (_, form) = page(&app, &web, &to).await;
    let csrf = hidden(&form, "csrf").unwrap();
    let r = web
        .post(app.url("/account/reauth"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("password", "wrong password here"),
            ("next", "/account/security"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Past the one-second delay that the wrong password earned.
    app.clock.advance(Duration::from_millis(1100));
    let r = web
        .post(app.url("/account/reauth"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("password", p.password.as_str()),
            ("next", "/account/security"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.starts_with("/login/2fa?next="), "{to}");
    let r = second_step_at(&app, &web, &to, None, &code_at(&app, &totp, 1)).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account/security");
    let (_, security) = page(&app, &web, "/account/security").await;
    let csrf = hidden(&security, "csrf").unwrap();
    let r = web
        .post(app.url("/account/security/disable"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/account/security?done=disabled");
    let (_, security) = page(&app, &web, "/account/security").await;
    assert!(security.contains("is <strong>off</strong>"));
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

#[tokio::test]
async fn the_steps_after_the_password_show_no_name_handle_or_customer_code() {
    let mut s = fresh_settings().await;
    s.login.email_code = guichet::settings::EmailCode::Always;
    let app = spawn_with(s).await;
    let p = Person::new("Quirina", "Zabrowski");
    let handle = app.signup(&p).await;
    let (_, code) = guichet_tests::welcome_account(&app.mailbox, &p.email).await;
    let upper = handle.to_uppercase();
    let who = [
        p.first.as_str(),
        p.last.as_str(),
        handle.as_str(),
        upper.as_str(),
        code.as_str(),
    ];

    // Without two-factor, the code mailed on this login is asked first.
    let web = browser();
    let r = app.login(&web, &p.email, &p.password).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login/email-code");
    identity_on(&app, &web, "/login/email-code", &who).await;
    let mail = app.mail_to_with(&p.email, "Sign-in code").await;
    let mailed = mail
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .unwrap()
        .to_owned();
    let r = web
        .post(app.url("/login/email-code"))
        .form(&[
            (
                "csrf",
                hidden(&page(&app, &web, "/login/email-code").await.1, "csrf").unwrap(),
            ),
            ("code", mailed),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, account) = page(&app, &web, "/account").await;
    assert!(
        account.contains(&handle),
        "signed in, the account page names it"
    );
    enrol_totp(&app, &web).await;

    // With two-factor: the second step, by handle or by email, before and
    // after a wrong code, and for an emergency code.
    for identifier in [handle.as_str(), p.email.as_str()] {
        let web = password_step(&app, identifier, &p.password).await;
        identity_on(&app, &web, "/login/2fa", &who).await;
        identity_on(&app, &web, "/login/2fa?method=recovery", &who).await;
        if identifier == handle {
            // Once only: a wrong code slows the next one of this account.
            let r = second_step(&app, &web, Some("recovery"), "not-a-code").await;
            assert_eq!(r.status(), 401);
            let html = r.text().await.unwrap();
            for shown in who {
                assert!(
                    !html.contains(shown),
                    "a refused code shows {shown:?}: {html}"
                );
            }
        }
    }
}
