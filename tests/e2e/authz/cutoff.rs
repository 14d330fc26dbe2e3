//! What cuts tokens off: password changes, disabled accounts and users, sign-out everywhere, replays.

use super::*;

#[tokio::test]
async fn a_password_change_cuts_off_every_token_already_issued() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let (web, p, _) = signed_in(&app, "Pavel").await;
    let (access, refresh_token) = tokens(&app, &web, &id, &secret).await;
    assert_eq!(
        introspect(&app, &id, &secret, &access).await["active"],
        true
    );
    assert_eq!(userinfo_status(&app, &access).await, 200);

    let (_, me) = get(&app, &web, "/api/v1/account/users/me").await;
    let csrf = me["csrf"].as_str().unwrap().to_owned();
    let (s, v) = call(
        &app,
        &web,
        Method::PUT,
        "/api/v1/account/password",
        &csrf,
        Some(json!({
            "current_password": p.password,
            "password": "an entirely new passphrase 42",
            "password_confirm": "an entirely new passphrase 42",
        })),
    )
    .await;
    assert!(s.is_success(), "{s}: {v}");
    assert_cut_off(
        &app,
        &id,
        &secret,
        &access,
        &refresh_token,
        "password change",
    )
    .await;
    // This browser goes on.
    assert_eq!(get(&app, &web, "/api/v1/account/users/me").await.0, 200);
}

#[tokio::test]
async fn a_disabled_account_loses_its_sessions_and_tokens_at_once() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let (web, _, handle) = signed_in(&app, "Dino").await;
    let (access, refresh_token) = tokens(&app, &web, &id, &secret).await;
    let out = std::process::Command::new(crate::guichet_bin())
        .args(["account", "disable", &handle, "--json"])
        .envs(guichet_tests::env_for(&app.settings))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_cut_off(
        &app,
        &id,
        &secret,
        &access,
        &refresh_token,
        "account disabled",
    )
    .await;
    assert_signed_out(&app, &web).await;
}

#[tokio::test]
async fn sign_out_everywhere_and_support_removing_two_factor_cut_off_tokens() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();

    let (web, _, _) = signed_in(&app, "Everywhere").await;
    let (access, refresh_token) = tokens(&app, &web, &id, &secret).await;
    // A code on its way to the client when the cut-off comes is void too.
    let (code, verifier) = crate::oidc::code_for(&app, &web, &id).await;
    let (_, me) = get(&app, &web, "/api/v1/account/users/me").await;
    let csrf = me["csrf"].as_str().unwrap().to_owned();
    let (s, _) = call(
        &app,
        &web,
        Method::POST,
        "/api/v1/account/sessions/end-all",
        &csrf,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_cut_off(
        &app,
        &id,
        &secret,
        &access,
        &refresh_token,
        "signed out everywhere",
    )
    .await;
    let r = redeem(&app, &id, &secret, &code, &verifier).await;
    assert_eq!(r.status(), 400, "a code issued before the cut-off");

    let (web, _, handle) = signed_in(&app, "Support").await;
    let (access, refresh_token) = tokens(&app, &web, &id, &secret).await;
    let r = bare_client()
        .post(app.operator_url(&format!("/admin/v1/accounts/{handle}/disable-2fa")))
        .bearer_auth(guichet_tests::OPERATOR_TOKEN)
        .json(&json!({"case_ref": "PHONE-9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_cut_off(
        &app,
        &id,
        &secret,
        &access,
        &refresh_token,
        "support removed two-factor",
    )
    .await;
    assert_signed_out(&app, &web).await;
}

#[tokio::test]
async fn a_disabled_local_user_loses_sessions_and_tokens_and_the_holder_keeps_theirs() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let h = holder(&app, "Hana").await;
    let uid = create_user(&app, &h, "tom", "DEFAULT").await;
    let (tom, _) = sign_in_as(&app, &format!("{}/tom", h.code)).await;
    let (access, refresh_token) = tokens(&app, &tom, &id, &secret).await;
    let (holder_access, _) = tokens(&app, &h.web, &id, &secret).await;
    let (s, _) = call(
        &app,
        &h.web,
        Method::PATCH,
        &format!("/api/v1/account/users/{uid}"),
        &h.csrf,
        Some(json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(s, 200);
    assert_cut_off(
        &app,
        &id,
        &secret,
        &access,
        &refresh_token,
        "local user disabled",
    )
    .await;
    assert_eq!(
        userinfo_status(&app, &holder_access).await,
        200,
        "the holder's token lives"
    );
}

#[tokio::test]
async fn introspection_tells_a_client_about_its_own_tokens_only() {
    let app = spawn_app().await;
    let (issuer_id, issuer_secret) = app.create_client(&offline_app()).await;
    let issuer_secret = issuer_secret.unwrap();
    let other_spec = ClientSpec {
        grant_types: vec!["client_credentials".into()],
        scopes: vec!["api".into()],
        ..ClientSpec::named("Another service")
    };
    let (other_id, other_secret) = app.create_client(&other_spec).await;
    let other_secret = other_secret.unwrap();
    let (rs_id, rs_secret) = app
        .create_client(&ClientSpec {
            introspects_others: true,
            ..ClientSpec {
                name: "Resource server".into(),
                ..other_spec.clone()
            }
        })
        .await;
    let rs_secret = rs_secret.unwrap();

    let (web, _, _) = signed_in(&app, "Intro").await;
    let (access, refresh_token) = tokens(&app, &web, &issuer_id, &issuer_secret).await;
    for token in [&access, &refresh_token] {
        assert_eq!(
            introspect(&app, &issuer_id, &issuer_secret, token).await["active"],
            true
        );
        let v = introspect(&app, &other_id, &other_secret, token).await;
        assert_eq!(v, json!({"active": false}), "another client learns nothing");
    }
    let v = introspect(&app, &rs_id, &rs_secret, &access).await;
    assert_eq!(v["active"], true, "a resource server the operator allowed");
    assert_eq!(v["client_id"], issuer_id.as_str());
    let v = introspect(&app, &rs_id, &rs_secret, &refresh_token).await;
    assert_eq!(
        v,
        json!({"active": false}),
        "refresh tokens stay their client's"
    );
}

#[tokio::test]
async fn a_code_replayed_while_its_first_redemption_is_in_flight_revokes_its_tokens() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app, "Replay").await;
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &id, &challenge, &[])
        .replace("scope=openid+email", "scope=openid+email+offline_access");
    let loc = follow_to_client(&app, &web, url).await;
    let code = param(&loc, "code").unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (app_url, id, secret, code, verifier) = (
                app.url("/oauth2/token"),
                id.clone(),
                secret.clone(),
                code.clone(),
                verifier.clone(),
            );
            tokio::spawn(async move {
                let r = bare_client()
                    .post(app_url)
                    .basic_auth(&id, Some(&secret))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", REDIRECT),
                        ("code_verifier", verifier.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let issued: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    let refused = answers
        .iter()
        .filter(|(s, b)| *s == 400 && b["error"] == "invalid_grant")
        .count();
    // Exactly one redemption issued, and what it issued is revoked: the code
    // came back 99 times, most of them while that redemption was in flight.
    assert_eq!(issued.len(), 1);
    assert_eq!(refused, 99);
    for body in issued {
        let access = body["access_token"].as_str().unwrap();
        assert_eq!(
            introspect(&app, &id, &secret, access).await["active"],
            false
        );
        let rt = body["refresh_token"].as_str().unwrap();
        assert_eq!(refresh(&app, &id, &secret, rt, None).await.status(), 400);
    }
}

#[tokio::test]
async fn a_local_user_manages_only_their_own_sessions_and_grants() {
    let app = spawn_app().await;
    let (id, _) = third_party(&app, web_app(false)).await;
    let h = holder(&app, "Rhea").await;
    // The least privileged group still manages its own sessions.
    create_user(&app, &h, "ugo", "NONE").await;
    let (ugo, ugo_csrf) = sign_in_as(&app, &format!("{}/ugo", h.code)).await;

    // Both consent to the client.
    for web in [&h.web, &ugo] {
        let (_, challenge) = pkce();
        let (request_id, csrf) = consent_page(&app, web, &id, &challenge).await;
        let r = answer(&app, web, &request_id, &csrf).await;
        assert_eq!(r.status(), 303);
        assert!(location(&r).starts_with(REDIRECT));
    }

    let (s, mine) = get(&app, &ugo, "/api/v1/account/sessions").await;
    assert_eq!(s, 200, "{mine}");
    assert_eq!(mine["sessions"].as_array().unwrap().len(), 1, "{mine}");
    let (_, all) = get(&app, &h.web, "/api/v1/account/sessions").await;
    let holders: Vec<String> = all["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["handle"].as_str().unwrap().to_owned())
        .filter(|x| *x != mine["sessions"][0]["handle"].as_str().unwrap())
        .collect();
    assert_eq!(holders.len(), 1, "{all}");
    // Ugo cannot end the holder's session.
    let (s, _) = call(
        &app,
        &ugo,
        Method::POST,
        "/api/v1/account/sessions/end",
        &ugo_csrf,
        Some(json!({"handle": holders[0]})),
    )
    .await;
    assert_eq!(s, 404);
    // Ugo's grants are Ugo's: withdrawing leaves the holder's consent.
    let (_, apps) = get(&app, &ugo, "/api/v1/account/apps").await;
    assert_eq!(apps["apps"].as_array().unwrap().len(), 1, "{apps}");
    let (s, v) = call(
        &app,
        &ugo,
        Method::POST,
        "/api/v1/account/apps/withdraw",
        &ugo_csrf,
        Some(json!({"client_id": id})),
    )
    .await;
    assert!(s.is_success(), "{s} {v}");
    let (_, apps) = get(&app, &h.web, "/api/v1/account/apps").await;
    assert_eq!(
        apps["apps"].as_array().unwrap().len(),
        1,
        "the holder's consent stays: {apps}"
    );
    // Signing out everywhere, Ugo ends Ugo's sessions only.
    let (s, _) = call(
        &app,
        &ugo,
        Method::POST,
        "/api/v1/account/sessions/end-all",
        &ugo_csrf,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(get(&app, &ugo, "/api/v1/account/sessions").await.0, 401);
    assert_eq!(get(&app, &h.web, "/api/v1/account/sessions").await.0, 200);
}
