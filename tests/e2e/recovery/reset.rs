//! Forgotten handles and password resets: the mails, the links, what a reset ends.

use super::*;

#[tokio::test]
async fn a_forgotten_handle_is_mailed_and_the_page_says_the_same_for_anyone() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "never").await;
    let p = Person::new("Hana", "Handle");
    let handle = app.signup(&p).await;

    let known = post_form(&app, &browser(), "/forgot-handle", &[("email", &p.email)]).await;
    let unknown = post_form(
        &app,
        &browser(),
        "/forgot-handle",
        &[("email", "nobody@example.com")],
    )
    .await;
    let (known, unknown) = (observed(known).await, observed(unknown).await);
    assert_eq!(known.0, 303);
    assert_eq!(known, unknown, "same status, location, cookies and body");

    let mail = sink.wait_for(&p.email, "handle").await;
    assert!(mail.contains(&handle), "{mail}");
    // The page it leads to says to look in the spam folder.
    let page = browser()
        .get(app.url("/forgot-handle?sent=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("spam"), "{page}");
    // A malformed address is refused clearly, and nothing is sent.
    let r = post_form(
        &app,
        &browser(),
        "/forgot-handle",
        &[("email", "not an address")],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("valid email"));
    app.mail_quiet().await;
    assert!(sink.messages_to("nobody@example.com", "").is_empty());
}

#[tokio::test]
async fn a_reset_link_works_once_ends_every_session_and_token_and_tells_both_addresses() {
    let sink = SmtpSink::start();
    // No delays: this test tries several refused forms in a row; the delays a
    // wrong handle earns are tested in guesses.rs.
    let mut s = fresh_settings().await;
    sink.configure(&mut s);
    s.login.email_code = guichet::settings::EmailCode::Never;
    s.login.failure_delays_secs = vec![std::time::Duration::ZERO];
    let mut app = spawn_with(s).await;
    app.mailbox = sink.dir().to_owned();
    let mut p = Person::new("Rosa", "Reset");
    let backup = format!("backup-{}", p.email);
    let mut body = p.signup_json();
    body["backup_email"] = backup.clone().into();
    let handle = guichet_tests::signup_at(&app.base, &app.mailbox, &body).await;

    // A browser signed in, and a relying party holding a refresh token.
    let before = browser();
    assert_eq!(app.login(&before, &handle, &p.password).await.status(), 303);
    let spec = oauth::clients::ClientSpec {
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: ["openid", "offline_access"].map(String::from).to_vec(),
        ..web_app(true)
    };
    let (client_id, secret) = app.create_client(&spec).await;
    let secret = secret.unwrap();
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &client_id, &challenge, &[])
        .replace("scope=openid+email", "scope=openid+offline_access");
    let loc = follow_to_client(&app, &before, url).await;
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let tokens: serde_json::Value = redeem(
        &app,
        &client_id,
        &secret,
        &param(&loc, "code").unwrap(),
        &verifier,
    )
    .await
    .json()
    .await
    .unwrap();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();

    // The request, sent with a hostile Host: the link still names the
    // configured public URL.
    let web = browser();
    let html = web
        .get(app.url("/forgot-password"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf").unwrap();
    let r = web
        .post(app.url("/forgot-password"))
        .header("x-forwarded-host", "evil.example")
        .form(&[
            ("csrf", csrf.as_str()),
            ("identifier", handle.to_uppercase().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let mail = sink.wait_for(&p.email, "reset-password").await;
    let link = link_in(&mail, "/reset-password?token=");
    assert!(
        link.starts_with(
            &app.settings
                .server
                .public_url
                .as_ref()
                .map_or("", |u| u.as_str())
                .trim_end_matches('/')
                .to_string()
        ) || link.starts_with(&app.base),
        "{link}"
    );
    assert!(!link.contains("evil.example"));
    let token = token_of(&link);
    assert!(token.len() >= 32, "at least 128 bits");
    assert!(
        sink.messages_to(&backup, "reset-password").is_empty(),
        "the link goes to the primary only"
    );

    let page = app
        .client_on(&web)
        .get(&format!("/reset-password?token={token}"))
        .await;
    assert_eq!(page.status, 200);
    // The form as the link's page gave it, sent again after each refusal
    // (and after the link is spent, as a browser's back button would).
    let form = page.form("/reset-password");
    assert_eq!(form.get("token"), Some(token.as_str()));
    let new_password = "amber lighthouse in fog";
    let reset = |handle: String, pw: &'static str, confirm: &'static str| {
        let form = form.clone().fill(&[
            ("handle", handle.as_str()),
            ("password", pw),
            ("password_confirm", confirm),
        ]);
        form.send()
    };
    // The wrong handle, a mismatched confirmation, the current password: each
    // refused with its reason, and the link still works afterwards.
    let r = reset("zz99999-ovh".into(), new_password, new_password).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("not the customer handle"));
    let r = reset(handle.clone(), new_password, "amber lighthouse in mist").await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("differ"));
    let r = reset(
        handle.clone(),
        "violet staircase under rain",
        "violet staircase under rain",
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("not used"));
    assert_eq!(
        app.login(&browser(), &handle, &p.password).await.status(),
        303,
        "unchanged so far"
    );

    let r = reset(handle.clone(), new_password, new_password).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/reset-password/done");
    assert!(
        set_cookie(&r, "guichet_session").is_none(),
        "no automatic login"
    );
    // Once only.
    let r = reset(
        handle.clone(),
        "another fine password",
        "another fine password",
    )
    .await;
    assert_eq!(r.status(), 410);
    let r = web
        .get(app.url(&format!("/reset-password?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);

    // The session from before is dead; so is the refresh token.
    let r = before.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
    let r = reqwest::Client::new()
        .post(app.url("/oauth2/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    // Both addresses are told; the old password is dead, the new one works.
    sink.wait_for(&p.email, &handle).await;
    let notice = sink.wait_for(&backup, &handle).await;
    assert!(
        !notice.contains(&token),
        "the notice holds no link to reuse"
    );
    assert_eq!(
        app.login(&browser(), &handle, &p.password).await.status(),
        401
    );
    p.password = new_password.into();
    // Past the one-second delay the old password earned.
    app.clock.advance(Duration::from_millis(1100));
    assert_eq!(
        app.login(&browser(), &handle, &p.password).await.status(),
        303
    );
}

#[tokio::test]
async fn an_expired_reset_link_fails_and_unknown_identifiers_look_the_same() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "never").await;
    let p = Person::new("Elio", "Expired");
    let handle = app.signup(&p).await;

    let known = observed(
        post_form(
            &app,
            &browser(),
            "/forgot-password",
            &[("identifier", &handle)],
        )
        .await,
    )
    .await;
    let unknown = observed(
        post_form(
            &app,
            &browser(),
            "/forgot-password",
            &[("identifier", "zz99999-ovh")],
        )
        .await,
    )
    .await;
    let not_an_id = observed(
        post_form(
            &app,
            &browser(),
            "/forgot-password",
            &[("identifier", "hello there")],
        )
        .await,
    )
    .await;
    assert_eq!(known.0, 303);
    assert_eq!(known, unknown);
    assert_eq!(known, not_an_id);

    let mail = sink.wait_for(&p.email, "reset-password").await;
    let token = token_of(&link_in(&mail, "/reset-password?token="));
    // The link lives an hour: on the app's clock, still live a few seconds
    // before (the mail took less than that to come), dead a few after.
    app.clock.advance(Duration::from_secs(3600 - 5));
    let r = browser()
        .get(app.url(&format!("/reset-password?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "live until its hour is up");
    app.clock.advance(Duration::from_secs(10));
    let r = browser()
        .get(app.url(&format!("/reset-password?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("Ask for a new"));
    // Hand-built on purpose: the dead link's page offers no form.
    let r = browser()
        .post(app.url("/reset-password"))
        .form(&[
            ("token", token.as_str()),
            ("handle", handle.as_str()),
            ("password", "amber lighthouse in fog"),
            ("password_confirm", "amber lighthouse in fog"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert_eq!(
        app.login(&browser(), &handle, &p.password).await.status(),
        303,
        "nothing changed"
    );
}

#[tokio::test]
async fn with_smtp_down_a_reset_answers_as_fast_and_the_mail_arrives_once_it_is_back() {
    let mut sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "never").await;
    let p = Person::new("Dora", "Down");
    let handle = app.signup(&p).await;
    sink.wait_for(&p.email, &handle).await;

    let web = browser();
    let t = Instant::now();
    let up = post_form(
        &app,
        &web,
        "/forgot-password",
        &[("identifier", "zz99999-ovh")],
    )
    .await;
    let quick = t.elapsed();
    assert_eq!(up.status(), 303);

    sink.stop();
    let t = Instant::now();
    let r = post_form(&app, &web, "/forgot-password", &[("identifier", &handle)]).await;
    let down = t.elapsed();
    assert_eq!(r.status(), 303);
    assert!(
        down < quick + Duration::from_millis(500),
        "SMTP down: {down:?}, up: {quick:?}"
    );
    app.mail_settled().await;
    assert!(sink.messages_to(&p.email, "reset-password").is_empty());
    sink.restart();
    // Straight to the first retry instead of waiting out its back-off.
    app.clock.advance(mail::backoff(1));
    let mail = sink
        .wait_for_within(&p.email, "reset-password", Duration::from_secs(60))
        .await;
    let token = token_of(&link_in(&mail, "/reset-password?token="));
    let r = browser()
        .get(app.url(&format!("/reset-password?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the queued link works");
}

#[tokio::test]
async fn two_factor_is_still_asked_after_a_reset() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "never").await;
    let p = Person::new("Tomas", "Twofa");
    let handle = app.signup(&p).await;
    let web = browser();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    enrol_totp(&app, &web).await;

    post_form(
        &app,
        &browser(),
        "/forgot-password",
        &[("identifier", &p.email)],
    )
    .await;
    let mail = sink.wait_for(&p.email, "reset-password").await;
    let token = token_of(&link_in(&mail, "/reset-password?token="));
    let pw = "amber lighthouse in fog";
    let r = app
        .client_on(&browser())
        .get(&format!("/reset-password?token={token}"))
        .await
        .form("/reset-password")
        .fill(&[
            ("handle", handle.as_str()),
            ("password", pw),
            ("password_confirm", pw),
        ])
        .send()
        .await;
    assert_eq!(r.status(), 303);
    // The enrolment's session is dead, and the new password alone is not enough.
    let r = web.get(app.url("/account")).send().await.unwrap();
    assert!(location(&r).starts_with("/login"));
    let again = browser();
    let r = app.login(&again, &handle, pw).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login/2fa");
    assert!(set_cookie(&r, "guichet_session").is_none());
}
