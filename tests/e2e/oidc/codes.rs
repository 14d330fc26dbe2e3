//! Authorization codes: once, bound to client, redirect URI and verifier, within their lifetime; forced logins; the customer scope.

use super::*;

#[tokio::test]
async fn a_code_works_once_and_a_replay_revokes_what_it_gave() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&web_app(true)).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app).await;
    let (code, verifier) = code_for(&app, &web, &id).await;
    let r = redeem(&app, &id, &secret, &code, &verifier).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    let id_token = body["id_token"].as_str().unwrap().to_owned();
    let userinfo = |token: String| {
        let url = app.url("/oauth2/userinfo");
        async move {
            bare_client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(userinfo(access.clone()).await, 200);
    assert_eq!(
        userinfo(id_token).await,
        401,
        "an ID token is not an access token"
    );

    let again = redeem(&app, &id, &secret, &code, &verifier).await;
    assert_eq!(again.status(), 400);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_eq!(
        userinfo(access).await,
        401,
        "the replay revoked the first redemption's token"
    );
}

#[tokio::test]
async fn fifty_parallel_redemptions_of_one_code_give_exactly_one_token() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&web_app(true)).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app).await;
    let (code, verifier) = code_for(&app, &web, &id).await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (url, id, secret, code, verifier) = (
                app.url("/oauth2/token"),
                id.clone(),
                secret.clone(),
                code.clone(),
                verifier.clone(),
            );
            tokio::spawn(async move {
                bare_client()
                    .post(url)
                    .basic_auth(id, Some(secret))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", REDIRECT),
                        ("code_verifier", verifier.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            400 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn the_code_is_bound_to_client_redirect_uri_and_verifier() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&web_app(true)).await;
    let secret = secret.unwrap();
    let (other, other_secret) = app.create_client(&web_app(true)).await;
    let (web, _, _) = signed_in(&app).await;

    let (code, _) = code_for(&app, &web, &id).await;
    let (wrong_verifier, _) = pkce();
    let r = redeem(&app, &id, &secret, &code, &wrong_verifier).await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let (code, verifier) = code_for(&app, &web, &id).await;
    let r = redeem(&app, &other, &other_secret.unwrap(), &code, &verifier).await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "another client"
    );

    let (code, verifier) = code_for(&app, &web, &id).await;
    let r = bare_client()
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1/cb"),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "another redirect URI"
    );

    let (code, _) = code_for(&app, &web, &id).await;
    let r = redeem(&app, &id, &secret, &code, "").await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "no verifier"
    );
}

#[tokio::test]
async fn a_verifier_outside_43_to_128_characters_is_refused_even_when_it_matches() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&web_app(true)).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app).await;
    // RFC 7636 §4.1: a verifier has 43 to 128 unreserved characters. One that
    // hashes to its challenge but is shorter or longer must still not redeem:
    // a short one would be guessable.
    for (len, good) in [(42, false), (43, true), (128, true), (129, false)] {
        let verifier: String = "abcdefghijklmnopqrstuvwxyz0123456789-._~"
            .chars()
            .cycle()
            .take(len)
            .collect();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let loc = follow_to_client(&app, &web, authorize_url(&app, &id, &challenge, &[])).await;
        let code = param(&loc, "code").expect("code");
        let r = redeem(&app, &id, &secret, &code, &verifier).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        if good {
            assert_eq!(status, 200, "{len} characters: {body}");
            assert!(body["access_token"].is_string(), "{len} characters: {body}");
        } else {
            assert_eq!(status, 400, "{len} characters: {body}");
            assert_eq!(body["error"], "invalid_grant", "{len} characters");
            assert!(body.get("access_token").is_none(), "{len} characters");
        }
    }
}

#[tokio::test]
async fn a_code_past_its_lifetime_is_refused() {
    // The lifetime is shortened so that the test does not wait a minute; the
    // default of 60 s is the same setting (checked in the settings' tests).
    let mut settings = guichet_tests::fresh_settings().await;
    settings.oauth.code_ttl_secs = std::time::Duration::from_secs(1);
    let app = guichet_tests::spawn_with(settings).await;
    let (id, secret) = app.create_client(&web_app(true)).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app).await;

    let (code, verifier) = code_for(&app, &web, &id).await;
    app.clock.advance(std::time::Duration::from_millis(2100));
    let r = redeem(&app, &id, &secret, &code, &verifier).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert!(body.get("access_token").is_none());

    // A code redeemed within its lifetime still works on the same server.
    let (code, verifier) = code_for(&app, &web, &id).await;
    let r = redeem(&app, &id, &secret, &code, &verifier).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn prompt_login_and_max_age_zero_force_a_new_login() {
    let app = spawn_app().await;
    let (id, _) = app.create_client(&web_app(true)).await;
    let (web, _, _) = signed_in(&app).await;
    let (_, challenge) = pkce();
    // Even within the second of the login: the session that was there when
    // the request came cannot satisfy it.
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let r = web
            .get(authorize_url(&app, &id, &challenge, &[extra]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let loc = r.headers()["location"].to_str().unwrap();
        assert!(loc.starts_with("/login?"), "{extra:?}: {loc}");
    }
    // prompt=none with a live session gives a code without any page.
    let loc = follow_to_client(
        &app,
        &web,
        authorize_url(&app, &id, &challenge, &[("prompt", "none")]),
    )
    .await;
    assert!(param(&loc, "code").is_some());
}

#[tokio::test]
async fn the_customer_scope_discloses_the_handle_and_code() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&web_app(true)).await;
    let (web, _, handle) = signed_in(&app).await;
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &id, &challenge, &[])
        .replace("scope=openid+email", "scope=openid+customer");
    let loc = follow_to_client(&app, &web, url).await;
    let code = param(&loc, "code").unwrap();
    let body: Value = redeem(&app, &id, &secret.unwrap(), &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let info: Value = bare_client()
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["customer_handle"], handle.as_str());
    assert!(
        info["customer_code"]
            .as_str()
            .is_some_and(|c| c.len() == 11)
    );
    assert!(
        info.get("email").is_none(),
        "no email without the email scope"
    );
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(
                body["id_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .nth(1)
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["customer_handle"], handle.as_str());
    assert_eq!(claims["nonce"], "n-456");
    assert!(claims["sid"].as_str().is_some());
}
