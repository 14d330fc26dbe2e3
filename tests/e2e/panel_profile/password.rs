//! Changing the password, page and JSON twin.

use super::*;

#[tokio::test]
async fn a_password_change_closes_the_other_sessions_and_keeps_this_one() {
    let app = spawn_app().await;
    let (web, p, handle) = signed_in(&app).await;
    let other = browser();
    assert_eq!(app.login(&other, &handle, &p.password).await.status(), 303);
    assert_eq!(
        other
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The same password again, a short one, a mismatch: each refused by field.
    for (new, confirm, field) in [
        (p.password.as_str(), p.password.as_str(), "password-error"),
        ("short", "short", "password-error"),
        (
            "a brand new passphrase",
            "another one entirely",
            "password_confirm-error",
        ),
    ] {
        let r = change_password(&app, &web, &p.password, new, confirm).await;
        assert_eq!(r.status(), 422, "{new}");
        assert!(
            r.text().await.unwrap().contains(&format!("id=\"{field}\"")),
            "{new}"
        );
    }
    // A wrong current password is refused and counted like a login failure.
    let r = change_password(
        &app,
        &web,
        "not my password at all",
        "a brand new passphrase",
        "a brand new passphrase",
    )
    .await;
    assert_eq!(r.status(), 401);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("id=\"current_password-error\"")
    );
    let r = change_password(
        &app,
        &web,
        &p.password,
        "a brand new passphrase",
        "a brand new passphrase",
    )
    .await;
    assert_eq!(r.status(), 429, "throttled right after a failure");
    app.clock.advance(std::time::Duration::from_millis(1100));
    assert_eq!(
        other
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let new = "a brand new passphrase";
    let r = change_password(&app, &web, &p.password, new, new).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account/password?done=1");
    // This browser stays in; the other one is out.
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        200
    );
    let r = other.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
    // The new password works; the old one no longer does.
    assert_eq!(app.login(&browser(), &handle, new).await.status(), 303);
    assert_eq!(
        app.login(&browser(), &handle, &p.password).await.status(),
        401
    );
    app.mail_to_with(&p.email, "Security change").await;
    // The security log tells of it.
    let log: Value = web
        .get(app.url("/api/v1/account/security-log"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(log.to_string().contains("password_changed"), "{log}");
}

#[tokio::test]
async fn the_password_json_twin_needs_the_token_and_keeps_the_session() {
    let app = spawn_app().await;
    let (web, p, handle) = signed_in(&app).await;
    let csrf = token(&app, &web, "/account/password").await;
    let body = json!({
        "current_password": p.password,
        "password": "another quiet passphrase",
        "password_confirm": "another quiet passphrase",
    });
    let r = web
        .put(app.url("/api/v1/account/password"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = web
        .put(app.url("/api/v1/account/password"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"current_password": "wrong wrong wrong", "password": "x", "password_confirm": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        fields(&r.json().await.unwrap()),
        [("current_password".into(), "wrong_password".into())]
    );
    // The failure counts like a login failure: the next try waits a second.
    app.clock.advance(std::time::Duration::from_millis(1100));
    let r = web
        .put(app.url("/api/v1/account/password"))
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        app.login(&browser(), &handle, "another quiet passphrase")
            .await
            .status(),
        303
    );
}
