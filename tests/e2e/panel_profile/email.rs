//! Changing the primary email with a code from each address.

use super::*;

#[tokio::test]
async fn the_primary_email_changes_only_after_a_code_from_each_address() {
    let app = spawn_app().await;
    let (web, p, handle) = signed_in(&app).await;
    let other = Person::new("Otto", "Other");
    app.signup(&other).await;

    // Refused addresses, each with its reason, and no mail.
    for (to, code) in [
        ("not an address", "invalid_email"),
        (p.email.as_str(), "same_as_current"),
        (other.email.as_str(), "email_taken"),
        ("", "required"),
    ] {
        let r = start_change(&app, &web, to).await;
        assert_eq!(r.status(), 422, "{to}");
        let html = r.text().await.unwrap();
        assert!(html.contains("id=\"new_email-error\""), "{to}: {code}");
    }

    let new = format!("new-{}", p.email);
    let r = start_change(&app, &web, &new).await;
    assert_eq!(r.status(), 303);
    let mail = app
        .mail_to_with(&p.email, "Approve the change of primary email")
        .await;
    let first = code_in(&mail);
    let page = web
        .get(app.url("/account/email"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("I have received my validation code"));
    assert_eq!(
        profile_email(&app, &web).await,
        p.email,
        "nothing changed yet"
    );

    // A wrong code counts and changes nothing.
    let r = enter_code(&app, &web, &wrong(&first)).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("This code is not right."));
    // The right one sends a second code to the new address.
    let r = enter_code(&app, &web, &first).await;
    assert_eq!(r.status(), 303);
    let mail = app
        .mail_to_with(&new, "Confirm your new primary email address")
        .await;
    let second = code_in(&mail);
    assert_ne!(second, first);
    assert_eq!(
        profile_email(&app, &web).await,
        p.email,
        "still nothing changed"
    );
    // The first code is spent.
    assert_eq!(enter_code(&app, &web, &first).await.status(), 422);
    let r = enter_code(&app, &web, &second).await;
    assert_eq!(r.status(), 303);
    let done = r.headers()["location"].to_str().unwrap().to_owned();
    let page = web
        .get(app.url(&done))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("your primary email is now"), "{page}");
    assert_eq!(profile_email(&app, &web).await, new);

    // The old address is told; the new one logs in, the old one no longer.
    app.mail_to_with(&p.email, "Security change").await;
    let b = browser();
    assert_eq!(app.login(&b, &new, &p.password).await.status(), 303);
    assert_eq!(
        app.login(&browser(), &p.email, &p.password).await.status(),
        401
    );
    let _ = handle;
}

#[tokio::test]
async fn five_wrong_codes_cancel_the_change_and_a_new_start_replaces_the_old() {
    let app = spawn_app().await;
    let (web, p, _) = signed_in(&app).await;
    let first_target = format!("a-{}", p.email);
    assert_eq!(start_change(&app, &web, &first_target).await.status(), 303);
    let old_code = take_code(&app, &p.email, "Approve the change").await;
    // Starting again cancels the first change: its code no longer works.
    let second_target = format!("b-{}", p.email);
    assert_eq!(start_change(&app, &web, &second_target).await.status(), 303);
    let code = take_code(&app, &p.email, "Approve the change").await;
    if code != old_code {
        assert_eq!(enter_code(&app, &web, &old_code).await.status(), 422);
    }
    // Five wrong codes (the first above may have been one) end it.
    for _ in 0..5 {
        let r = enter_code(&app, &web, &wrong(&code)).await;
        if r.status() == 303 {
            break;
        }
    }
    let r = enter_code(&app, &web, &code).await;
    assert_eq!(r.status(), 422);
    let v = email_state(&app, &web).await;
    assert_eq!(v["pending"], Value::Null, "{v}");
    assert_eq!(v["primary_email"], p.email.as_str());
}

#[tokio::test]
async fn the_json_twin_changes_the_email_with_both_codes() {
    let app = spawn_app().await;
    let (web, p, _) = signed_in(&app).await;
    let csrf = token(&app, &web, "/account/email").await;
    let new = format!("api-{}", p.email);
    let r = web
        .post(app.url("/api/v1/account/email"))
        .json(&json!({"new_email": new}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "the token header is required");
    let r = web
        .post(app.url("/api/v1/account/email"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"new_email": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        fields(&r.json().await.unwrap()),
        [("new_email".into(), "invalid_email".into())]
    );
    let r = web
        .post(app.url("/api/v1/account/email"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"new_email": new}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["pending"]["waiting_for"], "code_from_current_address");
    let first = code_in(&app.mail_to_with(&p.email, "Approve the change").await);
    let confirm = |code: String| {
        let web = web.clone();
        let url = app.url("/api/v1/account/email/confirm");
        let csrf = csrf.clone();
        async move {
            web.post(url)
                .header("x-csrf-token", csrf)
                .json(&json!({"code": code}))
                .send()
                .await
                .unwrap()
        }
    };
    let r = confirm(first).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["done"], false);
    let second = code_in(
        &app.mail_to_with(&new, "Confirm your new primary email address")
            .await,
    );
    let r = confirm(second).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["done"], true);
    assert_eq!(v["primary_email"], new.as_str());
}

#[tokio::test]
async fn a_code_past_its_ten_minutes_cancels_the_change_even_when_right() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let (web, p, _) = signed_in(&app).await;
    let target = format!("late-{}", p.email);
    assert_eq!(start_change(&app, &web, &target).await.status(), 303);
    let code = take_code(&app, &p.email, "Approve the change").await;
    // Eleven minutes later (moved in the database, not waited for).
    let db = guichet::app::connect_database(&app.settings, false)
        .await
        .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE email_changes SET code_expires_at = '{}'",
        (app.clock.now() - chrono::Duration::minutes(1)).format("%Y-%m-%d %H:%M:%S%:z")
    ))
    .await
    .unwrap();

    let r = enter_code(&app, &web, &code).await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("This code no longer works: the change was cancelled."),
    );
    let v = email_state(&app, &web).await;
    assert_eq!(v["pending"], Value::Null, "cancelled: {v}");
    assert_eq!(v["primary_email"], p.email.as_str(), "unchanged");
    // The same right code, tried again, is still refused.
    assert_eq!(enter_code(&app, &web, &code).await.status(), 422);
    // A new start works from scratch.
    assert_eq!(start_change(&app, &web, &target).await.status(), 303);
}
