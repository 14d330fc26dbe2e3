//! A local user's tokens and own password.

use super::*;

#[tokio::test]
async fn a_local_users_tokens_carry_their_own_sub_the_handle_and_their_role() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&web_app(true)).await;
    let secret = secret.unwrap();
    let h = holder(&app, "Tess").await;
    create_user(&app, &h, "john", "DEFAULT").await;

    let mut subs = Vec::new();
    let mut johns_token = String::new();
    for (web, role) in [
        (
            sign_in_as(&app, &format!("{}/john", h.code)).await.0,
            "restricted",
        ),
        (h.web.clone(), "holder"),
    ] {
        let (verifier, challenge) = pkce();
        let url = authorize_url(&app, &id, &challenge, &[])
            .replace("scope=openid+email", "scope=openid+email+customer");
        let loc = follow_to_client(&app, &web, url).await;
        let code = param(&loc, "code").unwrap();
        let r = redeem(&app, &id, &secret, &code, &verifier).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        let idt = claims_of(body["id_token"].as_str().unwrap());
        assert_eq!(idt["customer_handle"], h.handle.as_str());
        assert_eq!(idt["customer_code"], h.code.as_str());
        assert_eq!(idt["role"], role);
        let at = claims_of(body["access_token"].as_str().unwrap());
        assert_eq!(at["sub"], idt["sub"]);
        assert_eq!(at["role"], role);
        let info: Value = browser()
            .get(app.url("/oauth2/userinfo"))
            .bearer_auth(body["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["sub"], idt["sub"]);
        assert_eq!(info["role"], role);
        assert_eq!(info["customer_handle"], h.handle.as_str());
        if role == "restricted" {
            assert_eq!(info["email"], "john@example.org");
            assert!(info.get("given_name").is_none(), "not the holder's name");
            johns_token = body["access_token"].as_str().unwrap().to_owned();
        }
        subs.push(idt["sub"].as_str().unwrap().to_owned());
    }
    assert_ne!(subs[0], subs[1], "the user's sub is their own");

    // Moved to the read-only group, John's token (which says `restricted`)
    // stops working: no relying party goes on trusting the old role.
    let (_, list) = get(&app, &h.web, "/api/v1/account/users").await;
    let john = list["users"][0]["id"].as_i64().unwrap();
    let (s, v) = call(
        &app,
        &h.web,
        Method::PATCH,
        &format!("/api/v1/account/users/{john}"),
        &h.csrf,
        Some(json!({ "group": "UNPRIVILEGED" })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let r = crate::oauth::introspect(&app, &id, &secret, &johns_token).await;
    assert_eq!(r["active"], false);
    let r = browser()
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(&johns_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let meta: Value = browser()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        meta["claims_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "role")
    );
}

#[tokio::test]
async fn a_user_changes_their_own_password_and_their_other_sessions_end() {
    // No delays: a wrong current password then the right one at once; the
    // delays are tested in guesses.rs.
    let mut settings = guichet_tests::fresh_settings().await;
    settings.login.failure_delays_secs = vec![std::time::Duration::ZERO];
    let app = guichet_tests::spawn_with(settings).await;
    let h = holder(&app, "Olga").await;
    create_user(&app, &h, "john", "NONE").await;
    let ident = format!("{}/john", h.code);
    let (other, _) = sign_in_as(&app, &ident).await;
    let (web, csrf) = sign_in_as(&app, &ident).await;
    assert!(
        !csrf.is_empty(),
        "a NONE user still reaches their own security page"
    );

    let (s, v) = call(
        &app,
        &web,
        Method::POST,
        "/api/v1/account/users/me/password",
        &csrf,
        Some(json!({
            "current_password": "not the current one",
            "password": "short",
            "password_confirm": "different",
        })),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let r = app
        .client_on(&web)
        .get("/account/users/me/password")
        .await
        .form("/account/users/me/password")
        .fill(&[
            ("current_password", USER_PASSWORD),
            ("password", "amber orchard at dusk"),
            ("password_confirm", "amber orchard at dusk"),
        ])
        .send()
        .await;
    assert_eq!(r.status(), 303);
    // This browser goes on; the other session is over; the new password works.
    assert_eq!(get(&app, &web, "/api/v1/account/users/me").await.0, 200);
    assert_eq!(get(&app, &other, "/api/v1/account/users/me").await.0, 401);
    assert_eq!(
        app.login(&browser(), &ident, "amber orchard at dusk")
            .await
            .status(),
        303
    );
    // The holder is told.
    let mail = app
        .mail_to_with(&h.person.email, "john changed their password")
        .await;
    assert!(mail.contains(&h.handle), "{mail}");
}
