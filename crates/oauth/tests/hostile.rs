//! Hostile input at the OAuth edge: authorization requests, client
//! assertions (`private_key_jwt`) and access tokens are generated, or made by
//! the real signer and then damaged, and every check answers an error,
//! never a panic. A plain `cargo test` runs proptest's default number of
//! cases; `scripts/bench-fuzz.sh` sets `PROPTEST_CASES` to a million.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use migration::{Migrator, MigratorTrait};
use oauth::authorize::{AuthorizeParams, validate};
use oauth::clients::{Client, ClientSpec, create};
use oauth::tokens::{ACCESS_TOKEN_ALG, ACCESS_TOKEN_TYP, verify_access_token};
use oauth::{KeyEncryptor, KeyRing, SigningAlg};
use proptest::prelude::*;
use serde_json::{Value, json};

const ISSUER: &str = "https://id.example.net";

/// A key ring with keys, a web client and a `private_key_jwt` client whose
/// registered JWKS is the ring's own public keys, and a genuine access token
/// and client assertion to damage.
struct World {
    rt: tokio::runtime::Runtime,
    keys: KeyRing,
    web: Client,
    jwt_client: Client,
    access_token: String,
    assertion: String,
    /// When the genuine token and assertion were signed: the cases' clock
    /// is set from it, not read from the wall, so that a run of a million
    /// cases that lasts half an hour judges the same instants as a short one.
    issued_at: chrono::DateTime<Utc>,
}

fn world() -> &'static World {
    static WORLD: std::sync::OnceLock<World> = std::sync::OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (keys, web, jwt_client, access_token, assertion, issued_at) = rt.block_on(async {
            let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
            Migrator::up(&db, None).await.unwrap();
            let keys = KeyRing::new(
                db.clone(),
                KeyEncryptor::from_base64(&KeyEncryptor::generate_base64()).unwrap(),
            );
            let now = Utc::now();
            keys.ensure(now).await.unwrap();
            let web_spec = ClientSpec {
                redirect_uris: vec![
                    "https://rp.example.com/cb".into(),
                    "http://127.0.0.1/cb".into(),
                ],
                grant_types: vec!["authorization_code".into()],
                scopes: ["openid", "email", "profile"].map(String::from).to_vec(),
                ..ClientSpec::named("Web")
            };
            let (web, _) = create(&db, &web_spec, now).await.unwrap();
            let jwks = serde_json::to_string(&keys.jwks(now).await.unwrap()).unwrap();
            let jwt_spec = ClientSpec {
                auth_method: Some("private_key_jwt".into()),
                jwks: Some(jwks),
                grant_types: vec!["client_credentials".into()],
                scopes: vec!["api".into()],
                ..ClientSpec::named("Signed")
            };
            let (jwt_client, _) = create(&db, &jwt_spec, now).await.unwrap();
            let t = now.timestamp();
            let access_token = keys
                .sign_jwt(
                    ACCESS_TOKEN_ALG,
                    ACCESS_TOKEN_TYP,
                    &json!({"iss": ISSUER, "sub": "s", "aud": ISSUER, "client_id": web.client_id,
                            "jti": "j1", "iat": t, "exp": t + 600, "scope": "openid"}),
                    now,
                )
                .await
                .unwrap();
            let assertion = keys
                .sign_jwt(
                    SigningAlg::Es256,
                    "JWT",
                    &json!({"iss": jwt_client.client_id, "sub": jwt_client.client_id,
                            "aud": ISSUER, "jti": "a1", "iat": t, "exp": t + 60}),
                    now,
                )
                .await
                .unwrap();
            (keys, web, jwt_client, access_token, assertion, now)
        });
        World {
            rt,
            keys,
            web,
            jwt_client,
            access_token,
            assertion,
            issued_at,
        }
    })
}

/// A compact JWS made of generated parts: a header with any `alg`, `kid`,
/// `typ` and key-pointing members, any claims, any signature bytes.
fn forged_jwt() -> impl Strategy<Value = String> {
    let alg = prop_oneof![
        Just(json!("none")),
        Just(json!("HS256")),
        Just(json!("RS256")),
        Just(json!("ES256")),
        Just(json!("EdDSA")),
        Just(json!(null)),
        any::<String>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
    ];
    let header = (
        alg,
        proptest::option::of(any::<String>()),
        proptest::option::of(prop_oneof![Just("at+jwt".to_owned()), any::<String>()]),
        proptest::option::of(prop_oneof![
            Just("jku"),
            Just("jwk"),
            Just("x5u"),
            Just("crit")
        ]),
    )
        .prop_map(|(alg, kid, typ, pointer)| {
            let mut h = json!({"alg": alg});
            if let Some(k) = kid {
                h["kid"] = k.into();
            }
            if let Some(t) = typ {
                h["typ"] = t.into();
            }
            if let Some(p) = pointer {
                h[p] = json!("https://evil.example/keys");
            }
            h
        });
    let claims = proptest::collection::vec(
        (
            prop_oneof![
                Just("iss"),
                Just("sub"),
                Just("aud"),
                Just("exp"),
                Just("nbf"),
                Just("iat"),
                Just("jti"),
                Just("client_id"),
                Just("scope"),
            ],
            prop_oneof![
                any::<i64>().prop_map(Value::from),
                any::<String>().prop_map(Value::from),
                Just(Value::from(ISSUER)),
                Just(json!([ISSUER, 1, null])),
                any::<f64>().prop_map(Value::from),
            ],
        ),
        0..9,
    )
    .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
    (
        header,
        claims,
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(h, c, sig)| {
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(h.to_string()),
                URL_SAFE_NO_PAD.encode(c.to_string()),
                URL_SAFE_NO_PAD.encode(sig)
            )
        })
}

/// A genuine token with damage: a byte replaced, bytes cut or added, parts
/// swapped or dropped.
fn damaged(genuine: String) -> impl Strategy<Value = String> {
    let len = genuine.len();
    (0..len, any::<u8>(), 0..4usize, any::<String>()).prop_map(move |(at, byte, how, extra)| {
        let mut b = genuine.clone().into_bytes();
        match how {
            0 => b[at] = byte,
            1 => b.truncate(at),
            2 => b.splice(at..at, extra.into_bytes()).for_each(drop),
            _ => {
                let s = String::from_utf8_lossy(&b).into_owned();
                let mut parts: Vec<&str> = s.split('.').collect();
                let n = parts.len().max(1);
                parts.rotate_left(at % n);
                return parts.join(".");
            }
        }
        String::from_utf8_lossy(&b).into_owned()
    })
}

fn jwt_input() -> impl Strategy<Value = String> {
    let w = world();
    prop_oneof![
        any::<String>(),
        forged_jwt(),
        damaged(w.access_token.clone()),
        damaged(w.assertion.clone()),
        "[A-Za-z0-9_\\-]{0,60}(\\.[A-Za-z0-9_\\-=+/]{0,80}){0,4}",
    ]
}

fn param() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        any::<String>(),
        Just("https://rp.example.com/cb".to_owned()),
        "http://127\\.0\\.0\\.1:[0-9]{0,6}/cb[/?#.%]{0,3}",
        "https://rp\\.example\\.com[@/\\\\.%]{0,4}[a-z.]{0,12}/cb",
        "(openid|email|profile|offline_access|[a-z:]{0,8})( (openid|email|x)){0,4}",
        "(none|login|consent|select_account|[a-z]{0,6})( [a-z_]{0,12}){0,3}",
        "-?[0-9]{0,20}",
        "[A-Za-z0-9_\\-]{0,130}",
    ])
}

fn authorize_params() -> impl Strategy<Value = AuthorizeParams> {
    (
        (param(), param(), param(), param(), param(), param()),
        (param(), param(), param(), param(), param(), param()),
        (param(), param(), param(), param()),
    )
        .prop_map(
            |((a, b, c, d, e, f), (g, h, i, j, k, l), (m, n, o, p))| AuthorizeParams {
                response_type: a.or(Some("code".into())),
                client_id: b,
                redirect_uri: c,
                scope: d,
                state: e,
                nonce: f,
                code_challenge: g,
                code_challenge_method: h,
                prompt: i,
                max_age: j,
                login_hint: k,
                ui_locales: l,
                acr_values: m,
                request: n,
                request_uri: o,
                response_mode: p,
            },
        )
}

proptest! {
    #[test]
    fn authorization_requests_are_validated_or_refused(p in authorize_params(), now in any::<i64>()) {
        let w = world();
        let _ = validate(Some(&w.web), &p, now);
        let _ = validate(Some(&w.jwt_client), &p, now);
        let _ = validate(None, &p, now);
    }

    #[test]
    fn client_assertions_are_verified_or_refused(jwt in jwt_input(), skew in -10_000i64..10_000) {
        let w = world();
        let now = w.issued_at.timestamp() + skew;
        let _ = oauth::assertion::verify(&w.jwt_client, &jwt, &[ISSUER], now);
        prop_assert!(oauth::assertion::verify(&w.web, &jwt, &[ISSUER], now).is_err());
    }

    #[test]
    fn access_tokens_are_verified_or_refused(jwt in jwt_input(), skew in -10_000i64..10_000) {
        let w = world();
        let now = w.issued_at + chrono::Duration::seconds(skew);
        let r = w.rt.block_on(verify_access_token(&w.keys, ISSUER, &jwt, now));
        // The genuine token verifies from (almost) the 60 s leeway before
        // its iat until well before its exp; earlier, an iat in the future
        // is refused, as it must be.
        if jwt == w.access_token && (-55..500).contains(&skew) {
            prop_assert!(r.is_ok());
        }
    }
}
