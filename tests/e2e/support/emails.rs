//! Support on email addresses and second factors.

use super::*;

#[tokio::test]
async fn promoting_the_backup_email_drops_the_old_primary_and_asks_for_a_new_backup() {
    let app = spawn_app().await;
    let p = Person::new("Bruna", "Backup");
    let (handle, backup) = signup_with_backup(&app, &p).await;
    let earlier = open_session(&app, &handle, &p).await;

    let (status, text, body) = support(
        &app,
        &handle,
        "promote-backup-email",
        json!({"case_ref": "CASE-1001"}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_no_secret(&text);
    assert_eq!(body["account"]["handle"], handle.as_str());
    assert_eq!(body["account"]["primary_email"], backup.as_str());
    assert_eq!(body["account"]["primary_email_verified"], true);
    assert_eq!(body["account"]["backup_email"], Value::Null);
    assert_eq!(body["account"]["must_set_backup"], true);
    assert_eq!(body["sessions_ended"], true);
    assert_eq!(body["refresh_tokens_revoked"], true);
    assert_eq!(body["incomplete"], json!([]));

    // Both addresses hear of it: the new primary, and the old one, dropped.
    let notice = "made the backup address";
    assert!(app.mail_to_with(&backup, notice).await.contains(&handle));
    assert!(app.mail_to_with(&p.email, notice).await.contains(&handle));

    // Whoever holds the old address lost every session, and that address no
    // longer logs in.
    assert_eq!(
        account_page(&app, &earlier).await.as_deref(),
        Some("/login?next=%2Faccount")
    );
    let r = app.login(&browser(), &p.email, &p.password).await;
    assert_eq!(r.status(), 401);

    // The former backup logs in, and lands on the page that asks for a new
    // backup address before anything else.
    let web = browser();
    let r = log_in(&app, &web, &backup, &p.password, &backup).await;
    assert_eq!(r.status(), 303);
    assert!(
        location(&r).starts_with("/account/backup-email"),
        "{}",
        location(&r)
    );
    let detour = account_page(&app, &web).await.expect("no account page yet");
    assert!(detour.starts_with("/account/backup-email"), "{detour}");

    // There is nothing left to promote.
    let (status, text, body) = support(
        &app,
        &handle,
        "promote-backup-email",
        json!({"case_ref": "CASE-1001"}),
    )
    .await;
    assert_eq!(status, 409, "{text}");
    assert!(
        body["detail"].as_str().unwrap().contains("backup"),
        "{text}"
    );

    // Naming and confirming a new backup opens the account page.
    let form = app
        .client_on(&web)
        .get("/account/backup-email?next=/account")
        .await
        .form("/account/backup-email");
    assert_eq!(form.get("next"), Some("/account"));
    let new_backup = format!("{}@elsewhere.example.net", unique("n"));
    let shown = form.set("backup_email", &new_backup).submit().await;
    assert_eq!(shown.status, 200);
    let code = mailed_code(&app.mail_to(&new_backup).await);
    let confirm = shown.form("/account/backup-email/confirm");
    assert_eq!(confirm.get("next"), Some("/account"));
    let r = confirm.set("code", &code).send().await;
    assert_eq!(r.status(), 303);
    assert_eq!(account_page(&app, &web).await, None);

    // The operator sees who did it, for which case; the trail names the
    // account by its customer code as well as by its handle.
    let seen = trail(&app, &handle).await;
    assert_eq!(seen["account"]["backup_email"], new_backup.as_str());
    assert_eq!(seen["account"]["must_set_backup"], false);
    let actions = seen["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{seen}");
    assert_eq!(actions[0]["operator"], OPERATOR_NAME);
    assert_eq!(actions[0]["action"], "promote_backup_email");
    assert_eq!(actions[0]["case_ref"], "CASE-1001");
    assert!(actions[0]["at"].as_str().is_some());
    let code = seen["account"]["customer_code"].as_str().unwrap();
    assert_eq!(trail(&app, code).await["actions"], seen["actions"]);
}

#[tokio::test]
async fn a_replaced_primary_email_is_confirmed_by_a_code_at_the_next_login() {
    let mut settings = fresh_settings().await;
    // The shipped policy: a code for a new device or an unconfirmed address.
    settings.login.email_code = guichet::settings::EmailCode::Risk;
    let app = spawn_with(settings).await;
    let p = Person::new("Remo", "Replace");
    let handle = app.signup(&p).await;
    let earlier = open_session(&app, &handle, &p).await;
    let new_email = format!("{}@new.example.org", unique("r"));

    // By the primary address this time.
    let (status, text, body) = support(
        &app,
        &p.email,
        "replace-primary-email",
        json!({"case_ref": "ID-CHECK-77", "email": new_email}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_no_secret(&text);
    assert_eq!(body["account"]["handle"], handle.as_str());
    assert_eq!(body["account"]["primary_email"], new_email.as_str());
    assert_eq!(body["account"]["primary_email_verified"], false);
    assert_eq!(body["sessions_ended"], true);
    assert_eq!(body["refresh_tokens_revoked"], true);

    // The old address is told, and no longer logs in; its sessions are gone.
    let notice = "replaced the primary email address";
    assert!(
        app.mail_to_with(&p.email, notice)
            .await
            .contains(&new_email)
    );
    assert!(account_page(&app, &earlier).await.is_some());
    let r = app.login(&browser(), &p.email, &p.password).await;
    assert_eq!(r.status(), 401);

    // The new address logs in only through the code mailed to it.
    let web = browser();
    let r = app.login(&web, &new_email, &p.password).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login/email-code");
    assert!(account_page(&app, &web).await.is_some());
    let code = mailed_code(&app.mail_to_with(&new_email, "Sign-in code").await);
    let r = app
        .client_on(&web)
        .get("/login/email-code")
        .await
        .form("/login/email-code")
        .set("code", &code)
        .send()
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account");
    assert_eq!(account_page(&app, &web).await, None);

    let seen = trail(&app, &handle).await;
    assert_eq!(seen["account"]["primary_email"], new_email.as_str());
    assert_eq!(seen["account"]["primary_email_verified"], true);
    let actions = seen["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{seen}");
    assert_eq!(actions[0]["operator"], OPERATOR_NAME);
    assert_eq!(actions[0]["action"], "replace_primary_email");
    assert_eq!(actions[0]["case_ref"], "ID-CHECK-77");
    assert!(
        actions[0]["detail"]
            .as_str()
            .unwrap()
            .contains(new_email.as_str())
    );
}

#[tokio::test]
async fn after_two_factor_is_disabled_the_password_alone_logs_in() {
    let app = spawn_app().await;
    let p = Person::new("Tomas", "Stolen");
    let handle = app.signup(&p).await;
    let web = open_session(&app, &handle, &p).await;
    crate::twofactor::enrol_totp(&app, &web).await;
    let r = app.login(&browser(), &handle, &p.password).await;
    assert_eq!(location(&r), "/login/2fa", "two-factor is on");

    let (status, text, body) =
        support(&app, &handle, "disable-2fa", json!({"case_ref": "PHONE-5"})).await;
    assert_eq!(status, 200, "{text}");
    assert_no_secret(&text);
    assert_eq!(body["account"]["handle"], handle.as_str());
    assert_eq!(body["mailed"], json!([p.email]));

    let next = browser();
    let r = app.login(&next, &handle, &p.password).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account");
    assert_eq!(account_page(&app, &next).await, None);
    let mail = app
        .mail_to_with(&p.email, "turned off two-factor authentication")
        .await;
    assert!(mail.contains(&handle));

    let seen = trail(&app, &handle).await;
    let actions = seen["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{seen}");
    assert_eq!(actions[0]["operator"], OPERATOR_NAME);
    assert_eq!(actions[0]["action"], "disable_2fa");
    assert_eq!(actions[0]["case_ref"], "PHONE-5");
    assert!(
        actions[0]["detail"]
            .as_str()
            .unwrap()
            .contains("turned off")
    );
}

#[tokio::test]
async fn a_reset_link_goes_to_the_primary_address_and_never_to_the_operator() {
    let app = spawn_app().await;
    let p = Person::new("Rita", "Reset");
    let handle = app.signup(&p).await;

    let (status, text, body) = support(
        &app,
        &handle,
        "send-password-reset",
        json!({"case_ref": "PW-12"}),
    )
    .await;
    assert_eq!(status, 202, "{text}");
    assert_no_secret(&text);
    assert!(!text.contains("reset-password"), "{text}");
    assert_eq!(body["mailed"], json!([p.email]));

    let mail = app.mail_to_with(&p.email, "/reset-password?token=").await;
    let start = mail.find("/reset-password?token=").unwrap();
    let link: String = mail[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect();
    let token = link.trim_start_matches("/reset-password?token=");
    assert!(token.len() >= 22, "{link}");
    assert!(!text.contains(token));
    // The link works for the customer.
    let r = browser().get(app.url(&link)).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let seen = trail(&app, &handle).await;
    assert!(!seen.to_string().contains(token));
    let actions = seen["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{seen}");
    assert_eq!(actions[0]["operator"], OPERATOR_NAME);
    assert_eq!(actions[0]["action"], "send_password_reset");
    assert_eq!(actions[0]["case_ref"], "PW-12");
}
