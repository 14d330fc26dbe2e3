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

mod clients;
mod keys;
