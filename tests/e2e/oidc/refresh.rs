//! Refresh tokens: rotation, replays, revocation.

use super::*;

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replay_revokes_the_family() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app).await;
    let (first, _) = offline_tokens(&app, &web, &id, &secret).await;
    let r1 = first["refresh_token"]
        .as_str()
        .expect("offline_access gives a refresh token")
        .to_owned();

    let r = refresh(&app, &id, &secret, &r1, None).await;
    assert_eq!(r.status(), 200);
    let second: Value = r.json().await.unwrap();
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2, "rotated");
    assert!(second["id_token"].as_str().is_some());
    assert!(second["access_token"].as_str().is_some());

    // Narrower scope is fine; wider is not, and burns nothing.
    let r = refresh(&app, &id, &secret, &r2, Some("openid profile")).await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");
    let r = refresh(&app, &id, &secret, &r2, Some("openid")).await;
    assert_eq!(r.status(), 200);
    let third: Value = r.json().await.unwrap();
    assert_eq!(third["scope"], "openid");
    let r3 = third["refresh_token"].as_str().unwrap().to_owned();

    // Replaying r1 fails and kills the family: r3 dies too.
    let r = refresh(&app, &id, &secret, &r1, None).await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let r = refresh(&app, &id, &secret, &r3, None).await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

#[tokio::test]
async fn fifty_parallel_refreshes_with_one_token_give_exactly_one_success() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app).await;
    let (first, _) = offline_tokens(&app, &web, &id, &secret).await;
    let token = first["refresh_token"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (url, id, secret, token) = (
                app.url("/oauth2/token"),
                id.clone(),
                secret.clone(),
                token.clone(),
            );
            tokio::spawn(async move {
                bare_client()
                    .post(url)
                    .basic_auth(id, Some(secret))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", token.as_str()),
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
async fn revoking_a_refresh_token_and_replaying_its_code_both_end_the_family() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app).await;

    let (tokens, _) = offline_tokens(&app, &web, &id, &secret).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let info: Value = bare_client()
        .post(app.url("/oauth2/introspect"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", rt)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "refresh_token");
    let r = bare_client()
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", rt), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = refresh(&app, &id, &secret, rt, None).await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &id, &challenge, &[])
        .replace("scope=openid+email", "scope=openid+email+offline_access");
    let loc = follow_to_client(&app, &web, url).await;
    let code = param(&loc, "code").unwrap();
    let tokens: Value = redeem(&app, &id, &secret, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        redeem(&app, &id, &secret, &code, &verifier).await.status(),
        400
    );
    let r = refresh(&app, &id, &secret, &rt, None).await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "the replayed code's refresh token is revoked"
    );
}
