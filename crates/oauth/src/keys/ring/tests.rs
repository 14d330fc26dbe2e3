use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use migration::{Migrator, MigratorTrait};
use openidconnect::JsonWebKey as _;
use sea_orm::{Database, PaginatorTrait};
use serde_json::json;

use super::*;

const HOUR: Duration = Duration::from_secs(3600);
const TEN_MINUTES: Duration = Duration::from_secs(600);

async fn database() -> DatabaseConnection {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    db
}

fn encryptor() -> KeyEncryptor {
    KeyEncryptor::from_base64(&STANDARD.encode([7u8; 32])).unwrap()
}

async fn ring() -> KeyRing {
    KeyRing::new(database().await, encryptor())
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).unwrap()
}

fn at(offset: Duration) -> DateTime<Utc> {
    t0() + TimeDelta::from_std(offset).unwrap()
}

fn claims(issued: DateTime<Utc>, lifetime: Duration) -> Value {
    json!({
        "iss": "https://id.example",
        "sub": "s-1",
        "iat": issued.timestamp(),
        "exp": issued.timestamp() + i64::try_from(lifetime.as_secs()).unwrap(),
    })
}

fn segments(token: &str) -> (Value, Value, Vec<u8>) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let json = |s: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    (
        json(parts[0]),
        json(parts[1]),
        URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
    )
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// A token with any header and claims, signed by a real key of the ring.
fn forge(key: &SigningKey, header: Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(&header), b64(claims));
    let sig = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn refusal(result: Result<Value, OAuthError>) -> &'static str {
    match result {
        Err(OAuthError::InvalidToken(why)) => why,
        other => panic!("expected InvalidToken, got {other:?}"),
    }
}

async fn row_count(ring: &KeyRing) -> u64 {
    signing_key::Entity::find().count(&ring.db).await.unwrap()
}

#[tokio::test]
async fn ensure_creates_one_key_per_alg_once() {
    let ring = ring().await;
    assert_eq!(ring.ensure(t0()).await.unwrap().len(), 3);
    assert!(ring.ensure(t0()).await.unwrap().is_empty());
    assert!(ring.ensure(at(HOUR * 24 * 365)).await.unwrap().is_empty());
    assert_eq!(row_count(&ring).await, 3);
    for alg in SigningAlg::ALL {
        assert_eq!(ring.signing_key(alg, t0()).await.unwrap().alg(), alg);
    }
}

#[tokio::test]
async fn signing_without_keys_is_a_distinct_error() {
    let ring = ring().await;
    let err = ring
        .sign_jwt(SigningAlg::Es256, "JWT", &json!({}), t0())
        .await
        .unwrap_err();
    assert!(
        matches!(err, OAuthError::NoSigningKey(SigningAlg::Es256)),
        "{err:?}"
    );
}

#[tokio::test]
async fn jwks_has_kid_alg_use_and_no_private_members() {
    let ring = ring().await;
    ring.ensure(t0()).await.unwrap();
    let doc: Value = serde_json::from_slice(&ring.jwks_json(t0()).await.unwrap()).unwrap();
    let keys = doc["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    let mut seen = Vec::new();
    for key in keys {
        let members = key.as_object().unwrap();
        let alg = SigningAlg::parse(key["alg"].as_str().unwrap()).unwrap();
        let expected_kty = match alg {
            SigningAlg::Rs256 => "RSA",
            SigningAlg::Es256 => "EC",
            SigningAlg::EdDsa => "OKP",
        };
        assert_eq!(key["kty"], expected_kty);
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kid"].as_str().unwrap().len(), 22);
        for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
            assert!(!members.contains_key(private), "{private} in {key}");
        }
        seen.push(alg);
    }
    assert_eq!(seen, SigningAlg::ALL);
    // The typed form agrees.
    let set = ring.jwks(t0()).await.unwrap();
    assert!(set.keys().iter().all(|k| k.key_id().is_some()));
}

#[tokio::test]
async fn sign_then_verify_for_each_alg_and_independently() {
    let ring = ring().await;
    ring.ensure(t0()).await.unwrap();
    let jwks = ring.jwks(t0()).await.unwrap();
    for alg in SigningAlg::ALL {
        let sent = claims(t0(), TEN_MINUTES);
        let token = ring.sign_jwt(alg, "at+jwt", &sent, t0()).await.unwrap();
        let (header, payload, signature) = segments(&token);
        let kid = ring.signing_key(alg, t0()).await.unwrap().kid().to_owned();
        assert_eq!(
            header,
            json!({"alg": alg.as_str(), "typ": "at+jwt", "kid": kid})
        );
        assert_eq!(payload, sent);
        assert_eq!(ring.verify_jwt(&token, &[alg], t0()).await.unwrap(), sent);

        // openidconnect, given only the published JWK, accepts the signature.
        let jwk = jwks
            .keys()
            .iter()
            .find(|k| k.key_id().map(|id| id.as_str()) == Some(kid.as_str()))
            .unwrap();
        let input = token.rsplit_once('.').unwrap().0;
        jwk.verify_signature(&alg.to_core(), input.as_bytes(), &signature)
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));

        // A ring built on another connection's view, public data only, agrees.
        let other = KeyRing::new(ring.db.clone(), encryptor());
        assert_eq!(
            other
                .verify_jwt(&token, &SigningAlg::ALL, t0())
                .await
                .unwrap(),
            sent
        );
    }
}

#[tokio::test]
async fn refuses_what_it_did_not_sign() {
    let ring = ring().await;
    ring.ensure(t0()).await.unwrap();
    let sent = claims(t0(), TEN_MINUTES);
    let es = ring.signing_key(SigningAlg::Es256, t0()).await.unwrap();
    let ed = ring.signing_key(SigningAlg::EdDsa, t0()).await.unwrap();
    let good = ring
        .sign_jwt(SigningAlg::Es256, "JWT", &sent, t0())
        .await
        .unwrap();
    let all = &SigningAlg::ALL;
    let check = |token: String| {
        let ring = ring.clone();
        async move { ring.verify_jwt(&token, all, t0()).await }
    };

    // Tampered payload, signature kept.
    let parts: Vec<&str> = good.split('.').collect();
    let mut other_claims = sent.clone();
    other_claims["sub"] = json!("someone-else");
    let tampered = format!("{}.{}.{}", parts[0], b64(&other_claims), parts[2]);
    assert_eq!(refusal(check(tampered).await), "bad signature");

    // Unsigned, with or without a signature segment.
    let none = json!({"alg": "none", "typ": "JWT", "kid": es.kid()});
    let unsigned = format!("{}.{}.", b64(&none), b64(&sent));
    assert_eq!(refusal(check(unsigned).await), "unsigned token");
    assert_eq!(
        refusal(check(forge(&es, none, &sent)).await),
        "unsigned token"
    );

    // HS256 with our kid: the public key must never become an HMAC secret.
    let hs = json!({"alg": "HS256", "typ": "JWT", "kid": es.kid()});
    assert_eq!(
        refusal(check(forge(&es, hs, &sent)).await),
        "unsupported alg"
    );

    // Headers that point at another key.
    for member in ["jku", "x5u", "jwk", "crit"] {
        let mut header = json!({"alg": "ES256", "typ": "JWT", "kid": es.kid()});
        header[member] = json!("https://attacker.example/keys");
        assert_eq!(
            refusal(check(forge(&es, header, &sent)).await),
            "forbidden header member"
        );
    }

    // A kid we never issued, even with a signature from a real key.
    let stranger = json!({"alg": "ES256", "typ": "JWT", "kid": "AAAAAAAAAAAAAAAAAAAAAA"});
    assert_eq!(
        refusal(check(forge(&es, stranger, &sent)).await),
        "unknown kid"
    );

    // An EdDSA kid claimed for ES256.
    let confused = json!({"alg": "ES256", "typ": "JWT", "kid": ed.kid()});
    assert_eq!(
        refusal(check(forge(&es, confused, &sent)).await),
        "alg does not match the key"
    );

    // An algorithm the caller does not accept here.
    assert_eq!(
        refusal(ring.verify_jwt(&good, &[SigningAlg::Rs256], t0()).await),
        "alg not allowed here"
    );

    // Expiry with 60 s of leeway.
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": es.kid()});
    let expired = json!({"sub": "s", "exp": t0().timestamp() - 61});
    assert_eq!(
        refusal(check(forge(&es, header.clone(), &expired)).await),
        "expired"
    );
    let just = json!({"sub": "s", "exp": t0().timestamp() - 60});
    assert!(check(forge(&es, header.clone(), &just)).await.is_ok());
    let future = json!({"sub": "s", "exp": t0().timestamp() + 900, "nbf": t0().timestamp() + 120});
    assert_eq!(
        refusal(check(forge(&es, header.clone(), &future)).await),
        "not yet valid"
    );
    let eternal = json!({"sub": "s"});
    assert_eq!(refusal(check(forge(&es, header, &eternal)).await), "no exp");
}

#[tokio::test]
async fn any_single_character_change_is_refused_without_panic() {
    let ring = ring().await;
    ring.ensure(t0()).await.unwrap();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=";
    for alg in SigningAlg::ALL {
        let token = ring
            .sign_jwt(alg, "JWT", &claims(t0(), TEN_MINUTES), t0())
            .await
            .unwrap();
        let bytes = token.as_bytes();
        for i in 0..bytes.len() {
            let mut changed = bytes.to_vec();
            changed[i] =
                alphabet[(alphabet.iter().position(|c| *c == bytes[i]).unwrap_or(0) + 1 + i % 7)
                    % alphabet.len()];
            if changed == bytes {
                continue;
            }
            let changed = String::from_utf8(changed).unwrap();
            assert!(
                ring.verify_jwt(&changed, &SigningAlg::ALL, t0())
                    .await
                    .is_err(),
                "{alg:?} position {i}"
            );
        }
    }
    // Garbage of every shape.
    let huge = "A".repeat(1 << 20);
    let many = ".".repeat(1 << 16);
    for garbage in [
        "", ".", "..", "a.b", "a.b.c", "a.b.c.d", "\u{0}", "é.é.é", &huge, &many,
    ] {
        assert!(matches!(
            ring.verify_jwt(garbage, &SigningAlg::ALL, t0()).await,
            Err(OAuthError::InvalidToken(_))
        ));
    }
}

#[tokio::test]
async fn rotation_publishes_first_then_signs_then_retires() {
    let ring = ring().await;
    ring.ensure(t0()).await.unwrap();
    let alg = SigningAlg::Es256;
    let old = ring.signing_key(alg, t0()).await.unwrap().kid().to_owned();
    let kids = |set: CoreJsonWebKeySet| -> Vec<String> {
        set.keys()
            .iter()
            .map(|k| k.key_id().unwrap().as_str().to_owned())
            .collect()
    };

    // The served document, encoded and kept, must follow each step too.
    let served = |json: bytes::Bytes| -> Vec<String> {
        let v: Value = serde_json::from_slice(&json).unwrap();
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(served(ring.jwks_json(t0()).await.unwrap()).contains(&old));

    let new = ring.rotate(alg, t0(), HOUR, TEN_MINUTES).await.unwrap();
    assert_ne!(new, old);
    assert!(served(ring.jwks_json(t0()).await.unwrap()).contains(&new));
    // Published at once, but the old key still signs until activation.
    let published = kids(ring.jwks(t0()).await.unwrap());
    assert_eq!(published.len(), 4);
    assert!(published.contains(&new) && published.contains(&old));
    let before = at(HOUR - Duration::from_secs(1));
    assert_eq!(ring.signing_key(alg, before).await.unwrap().kid(), old);
    let late_old = ring
        .sign_jwt(alg, "JWT", &claims(before, TEN_MINUTES), before)
        .await
        .unwrap();
    // A token the old key signed with a lifetime it should not have had.
    let old_key = ring.signing_key(alg, before).await.unwrap();
    let long_lived = forge(
        &old_key,
        json!({"alg": "ES256", "typ": "JWT", "kid": old}),
        &claims(before, HOUR * 24),
    );

    // From activation the new key signs; the old one still verifies.
    assert_eq!(ring.signing_key(alg, at(HOUR)).await.unwrap().kid(), new);
    let during = at(HOUR + TEN_MINUTES - Duration::from_secs(2));
    assert!(ring.verify_jwt(&late_old, &[alg], during).await.is_ok());
    assert!(kids(ring.jwks(during).await.unwrap()).contains(&old));
    assert!(served(ring.jwks_json(during).await.unwrap()).contains(&old));

    // After expiry the old key is gone from the JWKS and verifies nothing.
    let after = at(HOUR + TEN_MINUTES);
    let published = kids(ring.jwks(after).await.unwrap());
    assert_eq!(published.len(), 3);
    assert!(!published.contains(&old) && published.contains(&new));
    assert_eq!(served(ring.jwks_json(after).await.unwrap()), published);
    assert_eq!(
        refusal(ring.verify_jwt(&long_lived, &[alg], after).await),
        "key expired"
    );

    // The stored dates follow the rule.
    let rows = signing_key::Entity::find()
        .filter(signing_key::Column::Alg.eq("ES256"))
        .all(&ring.db)
        .await
        .unwrap();
    let old_row = rows.iter().find(|r| r.kid == old).unwrap();
    let new_row = rows.iter().find(|r| r.kid == new).unwrap();
    assert_eq!(new_row.activates_at, at(HOUR));
    assert_eq!(old_row.retires_at, Some(at(HOUR)));
    assert_eq!(old_row.expires_at, Some(at(HOUR + TEN_MINUTES)));
    assert_eq!(new_row.retires_at, None);
    // Other algorithms are untouched.
    assert_eq!(row_count(&ring).await, 4);
}

#[tokio::test]
async fn another_process_sees_a_rotation_within_its_refresh_interval() {
    let db = database().await;
    let (clock, hand) = clock::Clock::manual(t0());
    let a = KeyRing::new(db.clone(), encryptor())
        .with_refresh_interval(Duration::from_secs(3))
        .with_clock(clock);
    let b = KeyRing::new(db, encryptor());
    a.ensure(t0()).await.unwrap();
    let alg = SigningAlg::EdDsa;
    let old = a.signing_key(alg, t0()).await.unwrap().kid().to_owned();

    let new = b
        .rotate(alg, t0(), Duration::ZERO, TEN_MINUTES)
        .await
        .unwrap();
    let token = b
        .sign_jwt(alg, "JWT", &claims(t0(), TEN_MINUTES), t0())
        .await
        .unwrap();
    // `a` trusts its cache for a while, then follows.
    assert_eq!(a.signing_key(alg, t0()).await.unwrap().kid(), old);
    hand.advance(Duration::from_millis(2999));
    assert_eq!(a.signing_key(alg, t0()).await.unwrap().kid(), old);
    hand.advance(Duration::from_millis(1));
    assert_eq!(a.signing_key(alg, t0()).await.unwrap().kid(), new);
    assert!(a.verify_jwt(&token, &[alg], t0()).await.is_ok());
}

#[tokio::test]
async fn an_unknown_kid_triggers_a_reload() {
    let db = database().await;
    let (clock, hand) = clock::Clock::manual(t0());
    let a = KeyRing::new(db.clone(), encryptor()).with_clock(clock);
    let b = KeyRing::new(db, encryptor());
    a.ensure(t0()).await.unwrap();
    b.rotate(SigningAlg::Rs256, t0(), Duration::ZERO, TEN_MINUTES)
        .await
        .unwrap();
    let token = b
        .sign_jwt(SigningAlg::Rs256, "JWT", &claims(t0(), TEN_MINUTES), t0())
        .await
        .unwrap();
    // Past the miss gap, `a` reloads on the unknown kid despite its 30 s interval.
    hand.advance(MISS_REFRESH_GAP);
    assert!(
        a.verify_jwt(&token, &[SigningAlg::Rs256], t0())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn racing_starts_agree_on_one_signing_key() {
    let db = database().await;
    let a = KeyRing::new(db.clone(), encryptor());
    let b = KeyRing::new(db.clone(), encryptor());
    let (ra, rb) = tokio::join!(a.ensure(t0()), b.ensure(t0()));
    ra.unwrap();
    rb.unwrap();

    // Whatever the interleaving, simulate the worst one: a loser's duplicate
    // for every algorithm, written after the winner's.
    let loser = KeyRing::new(db, encryptor());
    for alg in SigningAlg::ALL {
        let key = PrivateKey::generate(alg).unwrap();
        let (_, row) = loser.new_row(&key, t0(), t0()).unwrap();
        row.insert(&loser.db).await.unwrap();
    }
    let (a, b) = (
        a.with_refresh_interval(Duration::ZERO),
        b.with_refresh_interval(Duration::ZERO),
    );
    for alg in SigningAlg::ALL {
        let ka = a.signing_key(alg, t0()).await.unwrap();
        let kb = b.signing_key(alg, t0()).await.unwrap();
        assert_eq!(ka.kid(), kb.kid());
        let token = a
            .sign_jwt(alg, "JWT", &claims(t0(), TEN_MINUTES), t0())
            .await
            .unwrap();
        assert!(b.verify_jwt(&token, &[alg], t0()).await.is_ok());
    }
    // Nothing new is created once every algorithm can sign.
    assert!(a.ensure(t0()).await.unwrap().is_empty());
    // A later rotation retires every duplicate.
    let new = a
        .rotate(SigningAlg::Es256, t0(), HOUR, TEN_MINUTES)
        .await
        .unwrap();
    assert_eq!(
        b.signing_key(SigningAlg::Es256, at(HOUR))
            .await
            .unwrap()
            .kid(),
        new
    );
    let es_rows = signing_key::Entity::find()
        .filter(signing_key::Column::Alg.eq("ES256"))
        .all(&a.db)
        .await
        .unwrap();
    assert!(
        es_rows
            .iter()
            .filter(|r| r.kid != new)
            .all(|r| r.retires_at == Some(at(HOUR)))
    );
}

#[tokio::test]
async fn private_keys_are_encrypted_and_bound_to_their_row() {
    let ring = ring().await;
    ring.ensure(t0()).await.unwrap();
    let rows = signing_key::Entity::find().all(&ring.db).await.unwrap();
    for row in &rows {
        assert!(!row.private_key.contains("BEGIN"));
        let der = encryptor().decrypt(&row.kid, &row.private_key).unwrap();
        let stored = STANDARD.decode(&row.private_key).unwrap();
        assert!(!stored.windows(der.len()).any(|w| w == der.as_slice()));
        assert!(!row.private_key.contains(&STANDARD.encode(der.as_slice())));
        assert!(!row.public_jwk.contains("\"d\""));
    }

    // A different encryption key cannot sign, but can still publish.
    let wrong = KeyEncryptor::from_base64(&KeyEncryptor::generate_base64()).unwrap();
    let stranger = KeyRing::new(ring.db.clone(), wrong);
    assert!(matches!(
        stranger.signing_key(SigningAlg::EdDsa, t0()).await,
        Err(OAuthError::Internal(_))
    ));
    assert_eq!(stranger.jwks(t0()).await.unwrap().keys().len(), 3);

    // Swapping two rows' ciphertexts makes both unusable.
    let (first, second) = (&rows[0], &rows[1]);
    for (row, sealed) in [(first, &second.private_key), (second, &first.private_key)] {
        let mut active = row.clone().into_active_model();
        active.private_key = Set(sealed.clone());
        active.update(&ring.db).await.unwrap();
    }
    let fresh = KeyRing::new(ring.db.clone(), encryptor());
    for row in [first, second] {
        let alg = SigningAlg::parse(&row.alg).unwrap();
        assert!(matches!(
            fresh.signing_key(alg, t0()).await,
            Err(OAuthError::Internal(_))
        ));
    }
}
