//! Authenticator apps and emergency codes.

use super::*;

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
    let security = app.client_on(&lost).get("/account/security").await;
    assert!(
        security.body.contains(r#"id="recovery-left">9<"#),
        "{}",
        security.body
    );

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
    let r = security
        .form("/account/security/recovery/regenerate")
        .send()
        .await;
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
