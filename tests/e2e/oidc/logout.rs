//! RP-initiated and back-channel logout.

use super::*;

#[tokio::test]
async fn rp_initiated_logout_ends_the_session_and_tells_every_client_back_channel() {
    let app = spawn_app().await;
    let (receiver_url, received) = backchannel_receiver().await;
    let spec = ClientSpec {
        post_logout_redirect_uris: vec!["https://rp.example.com/bye".into()],
        backchannel_logout_uri: Some(receiver_url),
        ..web_app(true)
    };
    let (id, secret) = app.create_client(&spec).await;
    let (web, _, _) = signed_in(&app).await;
    let (code, verifier) = code_for(&app, &web, &id).await;
    let tokens: Value = redeem(&app, &id, &secret.unwrap(), &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let sid = serde_json::from_slice::<Value>(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()["sid"]
        .clone();

    // An unregistered destination is refused on a page, never followed.
    let mut bad = url::Url::parse(&app.url("/oauth2/logout")).unwrap();
    bad.query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", "https://evil.example.com/");
    let r = web.get(bad.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        200,
        "still logged in"
    );

    let mut good = url::Url::parse(&app.url("/oauth2/logout")).unwrap();
    good.query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", "https://rp.example.com/bye")
        .append_pair("state", "bye-1");
    let r = web.get(good.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "https://rp.example.com/bye?state=bye-1"
    );
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        303,
        "the session is over"
    );

    let body = tokio::time::timeout(std::time::Duration::from_secs(10), received)
        .await
        .expect("a logout token arrives")
        .unwrap();
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .expect("logout_token field");
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(header["typ"], "logout+jwt");
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["aud"], id.as_str());
    assert_eq!(claims["sid"], sid);
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none());
    // The signature verifies with the published key.
    use openidconnect::JsonWebKey;
    let jwks: openidconnect::core::CoreJsonWebKeySet = bare_client()
        .get(app.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = jwks
        .keys()
        .iter()
        .find(|k| k.key_id().map(|k| k.as_str()) == header["kid"].as_str())
        .unwrap();
    key.verify_signature(
        &openidconnect::core::CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
        &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
    )
    .expect("logout token signature");
}

#[tokio::test]
async fn logout_without_a_hint_asks_the_user_first() {
    let app = spawn_app().await;
    let (web, _, _) = signed_in(&app).await;
    let page = app.client_on(&web).get("/oauth2/logout").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Log out of Guichet?"));
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        200,
        "nothing ended yet"
    );
    // A forged confirmation without the session's token changes nothing.
    let r = web
        .post(app.url("/oauth2/logout"))
        .form(&[("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        200
    );
    let confirm = page.form("/oauth2/logout");
    assert_eq!(confirm.get("confirm"), Some("yes"));
    let r = confirm.send().await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        303
    );
}
