//! New-device notices, the backup email and its code, trusted proxies, local users' risky logins.

use super::*;

#[tokio::test]
async fn a_login_from_a_new_device_is_notified_once_and_can_be_switched_off() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "never").await;
    let p = Person::new("Nina", "Notice");
    let handle = app.signup(&p).await;
    let web = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("TestBrowser/1.0 (Notification check)")
        .build()
        .unwrap();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    let mail = sink.wait_for(&p.email, "TestBrowser/1.0").await;
    assert!(mail.contains(&handle), "{mail}");
    assert!(mail.contains("127.0.0.1"), "{mail}");
    assert!(
        mail.contains("/account/security"),
        "what to do if it was not them"
    );
    let count = || sink.messages_to(&p.email, "TestBrowser/1.0").len();
    assert_eq!(count(), 1);

    // The same device again: no new notice.
    log_out(&app, &web).await;
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    app.mail_quiet().await;
    assert_eq!(count(), 1);

    // Switched off on the account page: a new device sends nothing.
    let account = app.client_on(&web).get("/account").await;
    let switch = account.form("/account/notifications");
    let r = switch.clone().set("on", "0").submit().await;
    assert_eq!(r.status, 303);
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("OtherBrowser/2.0")
        .build()
        .unwrap();
    assert_eq!(app.login(&other, &handle, &p.password).await.status(), 303);
    app.mail_quiet().await;
    assert!(sink.messages_to(&p.email, "OtherBrowser/2.0").is_empty());
    // Bad input changes nothing.
    let r = switch.set("on", "maybe").submit().await;
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn a_backup_email_becomes_active_only_with_its_code_and_must_differ() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "never").await;
    let p = Person::new("Bea", "Backup");
    let handle = app.signup(&p).await;
    let web = browser();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    let form = app
        .client_on(&web)
        .get("/account/backup-email")
        .await
        .form("/account/backup-email");
    let post = |email: String| {
        let form = form
            .clone()
            .fill(&[("backup_email", &email), ("next", "/account")]);
        form.send()
    };
    let r = post(p.email.to_uppercase()).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("must differ"));
    let r = post("not-an-address".into()).await;
    assert_eq!(r.status(), 422);

    let backup = format!("spare-{}", p.email);
    let shown = form
        .clone()
        .fill(&[("backup_email", &backup), ("next", "/account")])
        .submit()
        .await;
    assert_eq!(shown.status, 200);
    let account = web
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!account.contains(&backup), "not active before the code");
    let mail = sink.wait_for(&backup, "Confirm your backup").await;
    let code = six_digits(
        &mail
            .split("\r\n\r\n")
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let confirm_form = shown.form("/account/backup-email/confirm");
    assert_eq!(confirm_form.get("next"), Some("/account"));
    let confirm = |code: String| confirm_form.clone().set("code", &code).send();
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 7) % 1_000_000);
    assert_eq!(confirm(wrong).await.status(), 401);
    let r = confirm(code.clone()).await;
    assert_eq!(r.status(), 303);
    let account = web
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(account.contains(&backup), "{account}");
    // The primary address is told; the code is spent.
    sink.wait_for(&p.email, &backup).await;
    let r = confirm(code).await;
    assert_eq!(
        location(&r),
        "/account/backup-email",
        "nothing pending any more"
    );
}

#[tokio::test]
async fn x_forwarded_for_is_believed_only_from_a_trusted_proxy_range() {
    let sink = SmtpSink::start();
    // Not trusted: the header is the client's own claim and is ignored.
    let app = spawn_mailing(&sink, "never").await;
    let p = Person::new("Ivo", "Forwarded");
    let handle = app.signup(&p).await;
    let web = forwarding_browser("198.51.100.7", "Claimant/1.0");
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    let mail = sink.wait_for(&p.email, "Claimant/1.0").await;
    assert!(mail.contains("127.0.0.1"), "{mail}");
    assert!(!mail.contains("198.51.100.7"), "a claimed address: {mail}");

    // The loopback range trusted, as a proxy's pod range would be: the last
    // address that is not a proxy is the client's.
    let mut s = fresh_settings().await;
    sink.configure(&mut s);
    s.login.email_code = guichet::settings::EmailCode::Never;
    s.login.trusted_proxies = vec![app::config::IpNet::parse("127.0.0.0/8").unwrap()];
    let mut app = spawn_with(s).await;
    app.mailbox = sink.dir().to_owned();
    let p = Person::new("Ida", "Forwarded");
    let handle = app.signup(&p).await;
    let web = forwarding_browser("203.0.113.50, 198.51.100.9, 127.0.0.5", "Proxied/1.0");
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    let mail = sink.wait_for(&p.email, "Proxied/1.0").await;
    assert!(mail.contains("198.51.100.9"), "{mail}");
    assert!(
        !mail.contains("203.0.113.50"),
        "an address before the last untrusted hop can be forged: {mail}"
    );
}

#[tokio::test]
async fn a_local_users_risky_login_is_checked_at_their_own_address_and_leaves_the_holders_devices_alone()
 {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "risk").await;
    let p = Person::new("Holly", "Holder");
    let handle = app.signup(&p).await;
    let holder = to_code_step(&app, &handle, &p.password).await;
    let code = code_mailed_to(&sink, &p.email).await;
    assert_eq!(
        location(&enter_code(&app, &holder, &code).await),
        "/account"
    );
    let (status, me) = crate::users::get(&app, &holder, "/api/v1/account/users/me").await;
    assert_eq!(status, 200, "{me}");
    let h = crate::users::Holder {
        web: holder,
        person: p.clone(),
        handle: handle.clone(),
        code: me["customer_code"].as_str().unwrap().to_owned(),
        csrf: me["csrf"].as_str().unwrap().to_owned(),
    };
    crate::users::create_user(&app, &h, "amy", "DEFAULT").await;

    // Amy signs in on a device new to her: the code goes to her, not to
    // the holder, and the page shows her address masked.
    let device = to_code_step(&app, &format!("{handle}/amy"), crate::users::USER_PASSWORD).await;
    let page = device
        .get(app.url("/login/email-code"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("a•••@example.org"), "{page}");
    let code = code_mailed_to(&sink, "amy@example.org").await;
    let r = enter_code(&app, &device, &code).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account");
    let (_, me) = crate::users::get(&app, &device, "/api/v1/account/users/me").await;
    assert_eq!(me["actor"], "user", "signed in as Amy: {me}");
    // Only the holder's own code ever reached the holder.
    assert_eq!(sink.messages_to(&p.email, "Sign-in code").len(), 1);

    // Amy's device is now known to Amy: her next login there needs no code.
    log_out(&app, &device).await;
    let r = app
        .login(
            &device,
            &format!("{handle}/amy"),
            crate::users::USER_PASSWORD,
        )
        .await;
    assert_eq!(location(&r), "/account");
    // The holder on Amy's device is still on a new device: a code is due.
    log_out(&app, &device).await;
    let r = app.login(&device, &handle, &p.password).await;
    assert_eq!(location(&r), "/login/email-code");
}
