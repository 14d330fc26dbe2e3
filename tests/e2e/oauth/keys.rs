//! Published keys and metadata, key rotation, private_key_jwt, CORS.

use super::*;

#[tokio::test]
async fn keys_and_metadata_are_published_truthfully() {
    let app = spawn_app().await;
    let c = bare_client();
    let r = c.get(app.url("/oauth2/jwks")).send().await.unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let jwks: Value = r.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let mut algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    algs.sort();
    assert_eq!(algs, ["ES256", "EdDSA", "RS256"]);
    for k in keys {
        assert_eq!(k["use"], "sig");
        assert!(k["kid"].as_str().is_some_and(|s| s.len() >= 16));
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                k.get(private).is_none(),
                "private member {private} published"
            );
        }
    }
    let meta: Value = c
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], app.base.as_str());
    assert_eq!(meta["token_endpoint"], app.url("/oauth2/token"));
    assert_eq!(
        meta["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        meta["response_types_supported"],
        serde_json::json!(["code"])
    );
    let oidc: Value = c
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oidc, meta, "one document at both well-known paths");
    // Each advertised endpoint exists.
    let jwks_uri = meta["jwks_uri"].as_str().unwrap();
    assert_eq!(c.get(jwks_uri).send().await.unwrap().status(), 200);
    let userinfo = meta["userinfo_endpoint"].as_str().unwrap();
    assert_eq!(c.get(userinfo).send().await.unwrap().status(), 401);
    let authorize = meta["authorization_endpoint"].as_str().unwrap();
    assert_eq!(c.get(authorize).send().await.unwrap().status(), 400);
    for key in [
        "token_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
    ] {
        let url = meta[key].as_str().unwrap();
        assert_eq!(
            c.post(url)
                .form(&[("x", "y")])
                .send()
                .await
                .unwrap()
                .status(),
            401,
            "{key}"
        );
    }
}

#[tokio::test]
async fn a_rotated_key_is_published_before_use_and_old_tokens_still_verify() {
    let app = spawn_app().await;
    let (id, secret) = service(&app).await;
    let old_token = client_credentials(&app, &id, &secret, None)
        .await
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let old_kid = jwt_part(&old_token, 0)["kid"].as_str().unwrap().to_owned();
    let out = std::process::Command::new(crate::guichet_bin())
        .args([
            "keys",
            "rotate",
            "--alg",
            "ES256",
            "--publish-ahead-secs",
            "3600",
            "--json",
        ])
        .envs(guichet_tests::env_for(&app.settings))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotated: Value = serde_json::from_slice(&out.stdout).unwrap();
    let new_kid = rotated[0]["kid"].as_str().unwrap().to_owned();
    // The running server sees the new key within its refresh interval (30 s)
    // or at once on a miss; the JWKS is read fresh here after a short wait.
    let mut published = false;
    for _ in 0..400 {
        let jwks: Value = bare_client()
            .get(app.url("/oauth2/jwks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k["kid"].as_str())
            .collect();
        if kids.contains(&new_kid.as_str()) {
            assert!(
                kids.contains(&old_kid.as_str()),
                "the old key stays published"
            );
            published = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(published, "the new key is published");
    // Not used yet (it activates in an hour): new tokens still use the old key.
    let fresh = client_credentials(&app, &id, &secret, None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        jwt_part(fresh["access_token"].as_str().unwrap(), 0)["kid"],
        old_kid.as_str()
    );
    assert_eq!(
        introspect(&app, &id, &secret, &old_token).await["active"],
        true
    );
}

#[tokio::test]
async fn private_key_jwt_works_once_per_assertion_and_refuses_forged_headers() {
    let app = spawn_app().await;
    let (id, key) = key_client(&app).await;
    let header = serde_json::json!({"alg": "EdDSA", "kid": "k1", "typ": "JWT"});
    let good = assertion(&key, header.clone(), claims_for(&app, &id));
    let r = with_assertion(&app, &good).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(
        body.get("id_token").is_none(),
        "no null members in token responses"
    );
    assert_eq!(
        with_assertion(&app, &good).await.status(),
        401,
        "an assertion works once"
    );

    let now = app.clock.now_secs();
    let mut expired = claims_for(&app, &id);
    expired["iat"] = (now - 300).into();
    expired["exp"] = (now - 61).into();
    // 60 s of clock skew at most: a token not valid for another two minutes,
    // or issued two minutes from now, is refused.
    let mut not_yet = claims_for(&app, &id);
    not_yet["nbf"] = (now + 120).into();
    let mut from_the_future = claims_for(&app, &id);
    from_the_future["iat"] = (now + 120).into();
    from_the_future["exp"] = (now + 180).into();
    let mut wrong_aud = claims_for(&app, &id);
    wrong_aud["aud"] = "https://elsewhere.example.com/token".into();
    let other_key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(claims_for(&app, &id).to_string())
    );
    let cases = [
        ("expired", assertion(&key, header.clone(), expired)),
        (
            "nbf in two minutes",
            assertion(&key, header.clone(), not_yet),
        ),
        (
            "iat in two minutes",
            assertion(&key, header.clone(), from_the_future),
        ),
        ("audience", assertion(&key, header.clone(), wrong_aud)),
        (
            "other key",
            assertion(&other_key, header.clone(), claims_for(&app, &id)),
        ),
        (
            "HS256",
            assertion(
                &key,
                serde_json::json!({"alg": "HS256", "kid": "k1"}),
                claims_for(&app, &id),
            ),
        ),
        (
            "jwk header",
            assertion(
                &key,
                serde_json::json!({"alg": "EdDSA", "jwk": {"kty": "OKP"}}),
                claims_for(&app, &id),
            ),
        ),
        (
            "jku header",
            assertion(
                &key,
                serde_json::json!({"alg": "EdDSA", "jku": "https://evil.example/jwks"}),
                claims_for(&app, &id),
            ),
        ),
        (
            "x5u header",
            assertion(
                &key,
                serde_json::json!({"alg": "EdDSA", "kid": "k1", "x5u": "https://evil.example/cert"}),
                claims_for(&app, &id),
            ),
        ),
        ("alg none", unsigned),
        ("garbage", "a.b.c".to_owned()),
    ];
    for (name, jwt) in cases {
        let r = with_assertion(&app, &jwt).await;
        assert!(
            r.status() == 401 || r.status() == 400,
            "{name}: {}",
            r.status()
        );
        assert_ne!(r.status(), 500, "{name}");
        let v: Value = r.json().await.unwrap();
        assert!(
            v["error"] == "invalid_client" || v["error"] == "invalid_request",
            "{name}: {v}"
        );
    }
    // A secret-based client cannot switch to assertions, nor the reverse.
    let (sid, _) = service(&app).await;
    let r = with_assertion(&app, &assertion(&key, header, claims_for(&app, &sid))).await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn browser_clients_get_cors_without_credentials_on_their_endpoints_only() {
    let app = spawn_app().await;
    let http = bare_client();
    let origin = "https://spa.example.net";
    // Preflight of a token request from a single-page application.
    let pre = http
        .request(reqwest::Method::OPTIONS, app.url("/oauth2/token"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success(), "{}", pre.status());
    let h = pre.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(h.get("access-control-allow-credentials").is_none());
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    // A client authenticating with Basic sends `Authorization`, a form post
    // `Content-Type`: both may be sent, and the browser may keep the answer.
    let allowed = h["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    assert_eq!(h["access-control-max-age"], "3600");
    // The preflight goes through the same frame as every answer.
    assert!(h.get("x-request-id").is_some());
    assert_eq!(h["x-content-type-options"], "nosniff");
    for path in [
        "/oauth2/jwks",
        "/.well-known/openid-configuration",
        "/oauth2/userinfo",
    ] {
        let r = http
            .get(app.url(path))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["access-control-allow-origin"], "*", "{path}");
        assert!(
            r.headers()
                .get("access-control-allow-credentials")
                .is_none()
        );
    }
    // Cookie-bearing pages and the confidential-client endpoints get none.
    for path in ["/login", "/account", "/oauth2/authorize"] {
        let r = http
            .get(app.url(path))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{path}"
        );
    }
    let r = http
        .post(app.url("/oauth2/introspect"))
        .header("origin", origin)
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
