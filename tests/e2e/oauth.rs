//! The machine-to-machine slice of OAuth 2: client credentials, introspection,
//! revocation, keys and metadata, as a relying party or resource server sees them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guichet_tests::{TestApp, bare_client, spawn_app};
use oauth::clients::ClientSpec;
use serde_json::Value;

fn service_spec() -> ClientSpec {
    ClientSpec {
        grant_types: vec!["client_credentials".into()],
        scopes: vec!["api".into(), "billing:read".into()],
        ..ClientSpec::named("Billing service")
    }
}

pub(crate) async fn service(app: &TestApp) -> (String, String) {
    let (id, secret) = app.create_client(&service_spec()).await;
    (id, secret.expect("confidential clients get a secret"))
}

async fn client_credentials(
    app: &TestApp,
    id: &str,
    secret: &str,
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    bare_client()
        .post(app.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .unwrap()
}

fn jwt_part(token: &str, i: usize) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(i).unwrap())
            .unwrap(),
    )
    .unwrap()
}

pub(crate) async fn introspect(app: &TestApp, id: &str, secret: &str, token: &str) -> Value {
    let r = bare_client()
        .post(app.url("/oauth2/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

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

/// A client that authenticates with an Ed25519 key, and a signer for its assertions.
async fn key_client(app: &TestApp) -> (String, ed25519_dalek::SigningKey) {
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let jwks = serde_json::json!({"keys": [{
        "kty": "OKP", "crv": "Ed25519", "kid": "k1", "use": "sig", "alg": "EdDSA",
        "x": URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
    }]});
    let spec = ClientSpec {
        auth_method: Some("private_key_jwt".into()),
        jwks: Some(jwks.to_string()),
        ..service_spec()
    };
    let (id, secret) = app.create_client(&spec).await;
    assert!(secret.is_none(), "key-based clients have no secret");
    (id, key)
}

fn assertion(key: &ed25519_dalek::SigningKey, header: Value, claims: Value) -> String {
    use ed25519_dalek::Signer;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

fn claims_for(app: &TestApp, id: &str) -> Value {
    let now = app.clock.now_secs();
    serde_json::json!({
        "iss": id, "sub": id, "aud": app.url("/oauth2/token"),
        "iat": now, "exp": now + 60, "jti": uuid::Uuid::new_v4().to_string(),
    })
}

async fn with_assertion(app: &TestApp, jwt: &str) -> reqwest::Response {
    bare_client()
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", jwt),
        ])
        .send()
        .await
        .unwrap()
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
