//! Security keys, recent authentication, and what the steps after the password show.

use super::*;

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
    // A window long enough for sign-up, login and enrolment on a busy
    // machine; the test then moves the clock past it.
    let recent = Duration::from_secs(60);
    s.login.recent_auth_secs = recent;
    let app = spawn_with(s).await;
    early_in_a_step(&app).await;
    let (web, p, _) = signed_in(&app).await;
    let (totp, _) = enrol_totp(&app, &web).await;
    app.clock.advance(recent + Duration::from_millis(1100));
    let security = app.client_on(&web).get("/account/security").await;
    let r = security.form("/account/security/disable").send().await;
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.starts_with("/account/reauth"), "{to}");
    // Still on: nothing changed.
    let (_, security) = page(&app, &web, "/account/security").await;
    assert!(security.contains("is <strong>on</strong>"));
    // Password, then the second factor, then the change goes through.
    let reauth = app.client_on(&web).get(&to).await.form("/account/reauth");
    assert_eq!(reauth.get("next"), Some("/account/security"));
    let r = reauth
        .clone()
        .set("password", "wrong password here")
        .send()
        .await;
    assert_eq!(r.status(), 401);
    // Past the one-second delay that the wrong password earned.
    app.clock.advance(Duration::from_millis(1100));
    let r = reauth.set("password", &p.password).send().await;
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.starts_with("/login/2fa?next="), "{to}");
    let r = second_step_at(&app, &web, &to, None, &code_at(&app, &totp, 1)).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account/security");
    let security = app.client_on(&web).get("/account/security").await;
    let r = security.form("/account/security/disable").send().await;
    assert_eq!(location(&r), "/account/security?done=disabled");
    let (_, security) = page(&app, &web, "/account/security").await;
    assert!(security.contains("is <strong>off</strong>"));
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
    let r = app
        .client_on(&web)
        .get("/login/email-code")
        .await
        .form("/login/email-code")
        .set("code", &mailed)
        .send()
        .await;
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
