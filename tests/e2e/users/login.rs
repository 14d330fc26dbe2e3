//! How local users log in, and how a wrong or disabled login is answered.

use super::*;

#[tokio::test]
async fn a_user_logs_in_as_code_slash_id_and_as_handle_slash_id() {
    let app = spawn_app().await;
    let h = holder(&app, "Hana").await;
    create_user(&app, &h, "john", "UNPRIVILEGED").await;

    let (web, _) = sign_in_as(&app, &format!("{}/john", h.code)).await;
    let (s, me) = get(&app, &web, "/api/v1/account/users/me").await;
    assert_eq!(s, 200);
    assert_eq!(me["actor"], "user");
    assert_eq!(me["login"], "john");
    assert_eq!(me["role"], "read_only");
    assert_eq!(me["customer_handle"], h.handle.as_str());

    // The handle in any case and the ID in any case name the same user.
    let (web2, _) = sign_in_as(&app, &format!("{}/JOHN", h.handle.to_uppercase())).await;
    let (_, me2) = get(&app, &web2, "/api/v1/account/users/me").await;
    assert_eq!(me2["login"], "john");
}

#[tokio::test]
async fn wrong_password_unknown_user_and_unknown_account_give_one_answer() {
    let app = spawn_app().await;
    let h = holder(&app, "Ugo").await;
    create_user(&app, &h, "john", "DEFAULT").await;
    let mut answers = Vec::new();
    for (who, pw) in [
        (format!("{}/john", h.code), "wrong password entirely"),
        (format!("{}/nobody", h.code), USER_PASSWORD),
        ("9999-999-99/john".to_owned(), USER_PASSWORD),
        (format!("{}/john", h.handle), h.person.password.as_str()),
    ] {
        // Each failure of one user delays that user's next attempt by a
        // second: wait it out, so every answer is a plain refusal.
        app.clock.advance(std::time::Duration::from_millis(1100));
        let web = browser();
        let r = app.login(&web, &who, pw).await;
        let status = r.status();
        let cookies: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|c| c.to_str().unwrap().split('=').next().unwrap().to_owned())
            .collect();
        let body = login_body(&r.text().await.unwrap()).replace(&who, "WHO");
        answers.push((status, cookies, body));
    }
    assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);
    for a in &answers[1..] {
        assert_eq!(a, &answers[0]);
    }
}

#[tokio::test]
async fn a_disabled_user_is_refused_like_a_wrong_password_and_loses_open_sessions() {
    let app = spawn_app().await;
    let h = holder(&app, "Dora").await;
    let id = create_user(&app, &h, "john", "DEFAULT").await;
    let ident = format!("{}/john", h.code);
    let (web, _) = sign_in_as(&app, &ident).await;
    assert_eq!(get(&app, &web, "/api/v1/account/users").await.0, 200);

    let (s, v) = call(
        &app,
        &h.web,
        Method::PATCH,
        &format!("/api/v1/account/users/{id}"),
        &h.csrf,
        Some(json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "disabled");
    // The open session ends at its next request.
    assert_eq!(get(&app, &web, "/api/v1/account/users").await.0, 401);
    let wrong = app
        .login(&browser(), &ident, "not the password at all")
        .await;
    app.clock.advance(std::time::Duration::from_millis(1100));
    let disabled = app.login(&browser(), &ident, USER_PASSWORD).await;
    assert_eq!(disabled.status(), wrong.status());
    assert_eq!(
        login_body(&disabled.text().await.unwrap()),
        login_body(&wrong.text().await.unwrap())
    );

    // Enabled again, the user signs in again.
    let (s, _) = call(
        &app,
        &h.web,
        Method::PATCH,
        &format!("/api/v1/account/users/{id}"),
        &h.csrf,
        Some(json!({"status": "active"})),
    )
    .await;
    assert_eq!(s, 200);
    // Two failures on record: the next attempt waits three seconds.
    app.clock.advance(std::time::Duration::from_millis(3200));
    sign_in_as(&app, &ident).await;
}
