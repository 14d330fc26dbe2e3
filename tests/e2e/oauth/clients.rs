//! Client credentials, client authentication, grants and scopes, revocation.

use super::*;

#[tokio::test]
async fn client_credentials_gives_an_rfc9068_token_that_introspects_until_revoked() {
    let app = spawn_app().await;
    let (id, secret) = service(&app).await;
    let r = client_credentials(&app, &id, &secret, Some("api")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["token_type"].as_str().unwrap().to_ascii_lowercase(),
        "bearer"
    );
    assert_eq!(body["scope"], "api");
    assert_eq!(body["expires_in"], 300);
    let token = body["access_token"].as_str().unwrap().to_owned();
    let header = jwt_part(&token, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let claims = jwt_part(&token, 1);
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["sub"], id.as_str());

    // The signing key is published.
    let jwks: Value = bare_client()
        .get(app.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == header["kid"])
    );

    let info = introspect(&app, &id, &secret, &token).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["scope"], "api");
    assert_eq!(info["client_id"], id.as_str());

    let r = bare_client()
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        introspect(&app, &id, &secret, &token).await["active"],
        false
    );

    // A tampered token is inactive too, and so is garbage.
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    let mut c = jwt_part(&token, 1);
    c["scope"] = "api billing:read".into();
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
    assert_eq!(
        introspect(&app, &id, &secret, &parts.join(".")).await["active"],
        false
    );
    assert_eq!(
        introspect(&app, &id, &secret, "not.a.jwt").await["active"],
        false
    );
    let none_alg = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#),
        parts[1]
    );
    assert_eq!(
        introspect(&app, &id, &secret, &none_alg).await["active"],
        false
    );
}

#[tokio::test]
async fn client_secret_post_works_and_two_methods_at_once_do_not() {
    let app = spawn_app().await;
    let (id, secret) = service(&app).await;
    let c = bare_client();
    let r = c
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["scope"], "api billing:read",
        "no scope asked: every client scope"
    );

    let r = c
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
}

#[tokio::test]
async fn client_authentication_failures_are_401_with_www_authenticate_and_look_alike() {
    let app = spawn_app().await;
    let (id, secret) = service(&app).await;
    let c = bare_client();
    let mut bodies = Vec::new();
    for (who, pw) in [
        (id.as_str(), "wrong-secret"),
        ("no-such-client", secret.as_str()),
    ] {
        let r = client_credentials(&app, who, pw, None).await;
        assert_eq!(r.status(), 401);
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        assert!(
            r.headers().contains_key("retry-after"),
            "failures are throttled"
        );
        bodies.push(r.json::<Value>().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[0]["error"], "invalid_client");
    let r = c
        .post(app.url("/oauth2/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no credentials at all");
    // Introspection and revocation demand the same authentication.
    for path in ["/oauth2/introspect", "/oauth2/revoke"] {
        let r = c
            .post(app.url(path))
            .form(&[("token", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    }
    // The right secret still works right after the failures.
    assert_eq!(
        client_credentials(&app, &id, &secret, None).await.status(),
        200
    );
}

#[tokio::test]
async fn grants_and_scopes_are_limited_to_what_the_client_registered() {
    let app = spawn_app().await;
    let (id, secret) = service(&app).await;
    let r = client_credentials(&app, &id, &secret, Some("api admin")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");
    let r = client_credentials(&app, &id, &secret, Some("openid")).await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");

    for (grant, error) in [
        ("password", "unsupported_grant_type"),
        ("", "unsupported_grant_type"),
    ] {
        let r = bare_client()
            .post(app.url("/oauth2/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", grant), ("username", "u"), ("password", "p")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"],
            error,
            "{grant:?}"
        );
    }
    let r = bare_client()
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("scope", "api")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");

    // A web application registered for the code flow only may not use client_credentials.
    let web = ClientSpec {
        redirect_uris: vec!["https://app.example.com/cb".into()],
        scopes: vec!["openid".into(), "api".into()],
        ..ClientSpec::named("Web app")
    };
    let (web_id, web_secret) = app.create_client(&web).await;
    let r = client_credentials(&app, &web_id, &web_secret.unwrap(), Some("api")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_token() {
    let app = spawn_app().await;
    let (a, a_secret) = service(&app).await;
    let (b, b_secret) = service(&app).await;
    let token = client_credentials(&app, &a, &a_secret, None)
        .await
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = bare_client()
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&b, Some(&b_secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Still active for its own client; the other learns nothing about it.
    assert_eq!(
        introspect(&app, &a, &a_secret, &token).await["active"],
        true
    );
    assert_eq!(
        introspect(&app, &b, &b_secret, &token).await,
        serde_json::json!({"active": false})
    );
}
