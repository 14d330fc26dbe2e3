//! Security keys, with webauthn-authenticator-rs's software token standing in
//! for the browser and the key.

use mfa::{MethodKind, MfaError};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

use crate::common::{ORIGIN, World};

const A: &str = "account:1";
const B: &str = "account:2";

fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

fn token() -> SoftToken {
    // `true`: the soft token claims user verification, as a key with a PIN would.
    SoftToken::new(true).unwrap().0
}

/// What the browser sends back after `navigator.credentials.create()`.
fn create(token: &mut SoftToken, challenge: serde_json::Value) -> serde_json::Value {
    let challenge: CreationChallengeResponse = serde_json::from_value(challenge).unwrap();
    let response = token.do_registration(origin(), challenge).unwrap();
    serde_json::to_value(response).unwrap()
}

/// What the browser sends back after `navigator.credentials.get()`.
fn get(token: &mut SoftToken, challenge: serde_json::Value) -> serde_json::Value {
    let challenge: RequestChallengeResponse = serde_json::from_value(challenge).unwrap();
    let response = token.do_authentication(origin(), challenge).unwrap();
    serde_json::to_value(response).unwrap()
}

async fn registered(w: &World, identity: &str, token: &mut SoftToken) -> String {
    let (ceremony, challenge) = w
        .mfa
        .webauthn_register_begin(identity, "dom", "Dominique")
        .await
        .unwrap();
    let response = create(token, challenge);
    w.mfa
        .webauthn_register_finish(identity, &ceremony, "Blue key", &response)
        .await
        .unwrap()
}

async fn log_in(w: &World, identity: &str, token: &mut SoftToken) -> Result<String, MfaError> {
    let (ceremony, challenge) = w.mfa.webauthn_login_begin(identity).await?;
    let response = get(token, challenge);
    w.mfa
        .webauthn_login_finish(identity, &ceremony, &response)
        .await
}

#[tokio::test]
async fn register_then_log_in() {
    let w = World::new().await;
    let mut key = token();

    let r = w.mfa.webauthn_login_begin(A).await;
    assert!(matches!(r, Err(MfaError::NotFound)), "no key yet: {r:?}");

    let (ceremony, challenge) = w
        .mfa
        .webauthn_register_begin(A, "dom", "Dominique")
        .await
        .unwrap();
    assert_eq!(ceremony.len(), 32, "{ceremony}");
    assert_eq!(challenge["publicKey"]["rp"]["id"], "localhost");
    assert_eq!(challenge["publicKey"]["user"]["name"], "dom");
    let response = create(&mut key, challenge);
    let id = w
        .mfa
        .webauthn_register_finish(A, &ceremony, "Blue key", &response)
        .await
        .unwrap();

    let methods = w.mfa.methods(A).await.unwrap();
    assert_eq!(methods.len(), 1);
    assert_eq!(methods[0].id, id);
    assert_eq!(methods[0].kind, MethodKind::WebAuthn);
    assert_eq!(methods[0].label, "Blue key");
    assert!(w.mfa.is_enabled(A).await.unwrap());

    assert_eq!(log_in(&w, A, &mut key).await.unwrap(), id);
    assert!(w.mfa.methods(A).await.unwrap()[0].last_used_at.is_some());
    // And again: the counter grows.
    assert_eq!(log_in(&w, A, &mut key).await.unwrap(), id);
}

#[tokio::test]
async fn registered_keys_are_excluded_from_the_next_registration() {
    let w = World::new().await;
    let mut key = token();
    registered(&w, A, &mut key).await;
    let (_, challenge) = w
        .mfa
        .webauthn_register_begin(A, "dom", "Dominique")
        .await
        .unwrap();
    let excluded = challenge["publicKey"]["excludeCredentials"]
        .as_array()
        .expect("excludeCredentials");
    assert_eq!(excluded.len(), 1);
    // The same user handle every time, for one identity.
    let (_, again) = w
        .mfa
        .webauthn_register_begin(A, "dom", "Dominique")
        .await
        .unwrap();
    assert_eq!(
        challenge["publicKey"]["user"]["id"],
        again["publicKey"]["user"]["id"]
    );
    let (_, other) = w
        .mfa
        .webauthn_register_begin(B, "dom", "Dominique")
        .await
        .unwrap();
    assert_ne!(
        challenge["publicKey"]["user"]["id"],
        other["publicKey"]["user"]["id"]
    );
}

#[tokio::test]
async fn a_registration_ceremony_is_single_use() {
    let w = World::new().await;
    let mut key = token();
    let (ceremony, challenge) = w
        .mfa
        .webauthn_register_begin(A, "dom", "Dominique")
        .await
        .unwrap();
    let response = create(&mut key, challenge);
    w.mfa
        .webauthn_register_finish(A, &ceremony, "Key", &response)
        .await
        .unwrap();
    let r = w
        .mfa
        .webauthn_register_finish(A, &ceremony, "Key", &response)
        .await;
    assert!(matches!(r, Err(MfaError::ChallengeExpired)), "{r:?}");
    assert_eq!(w.mfa.methods(A).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_login_ceremony_is_single_use() {
    let w = World::new().await;
    let mut key = token();
    registered(&w, A, &mut key).await;
    let (ceremony, challenge) = w.mfa.webauthn_login_begin(A).await.unwrap();
    let response = get(&mut key, challenge);
    w.mfa
        .webauthn_login_finish(A, &ceremony, &response)
        .await
        .unwrap();
    let r = w.mfa.webauthn_login_finish(A, &ceremony, &response).await;
    assert!(matches!(r, Err(MfaError::ChallengeExpired)), "{r:?}");
    let r = w
        .mfa
        .webauthn_login_finish(A, "not-a-ceremony", &response)
        .await;
    assert!(matches!(r, Err(MfaError::ChallengeExpired)), "{r:?}");
}

#[tokio::test]
async fn another_identity_cannot_finish_a_ceremony() {
    let w = World::new().await;
    let mut key = token();

    // Registration: B cannot finish A's ceremony, and trying does not spend it.
    let (ceremony, challenge) = w
        .mfa
        .webauthn_register_begin(A, "dom", "Dominique")
        .await
        .unwrap();
    let response = create(&mut key, challenge);
    let r = w
        .mfa
        .webauthn_register_finish(B, &ceremony, "Key", &response)
        .await;
    assert!(matches!(r, Err(MfaError::ChallengeExpired)), "{r:?}");
    assert!(w.mfa.methods(B).await.unwrap().is_empty());
    let id = w
        .mfa
        .webauthn_register_finish(A, &ceremony, "Key", &response)
        .await
        .unwrap();

    // Login: the same.
    let (ceremony, challenge) = w.mfa.webauthn_login_begin(A).await.unwrap();
    let response = get(&mut key, challenge);
    let r = w.mfa.webauthn_login_finish(B, &ceremony, &response).await;
    assert!(matches!(r, Err(MfaError::ChallengeExpired)), "{r:?}");
    assert_eq!(
        w.mfa
            .webauthn_login_finish(A, &ceremony, &response)
            .await
            .unwrap(),
        id
    );
}

#[tokio::test]
async fn a_key_of_one_identity_does_not_log_in_another() {
    let w = World::new().await;
    let mut key_a = token();
    let mut key_b = token();
    registered(&w, A, &mut key_a).await;
    registered(&w, B, &mut key_b).await;
    // B's ceremony only allows B's key; A's key has no credential for it.
    let (ceremony, challenge) = w.mfa.webauthn_login_begin(B).await.unwrap();
    let challenge: RequestChallengeResponse = serde_json::from_value(challenge).unwrap();
    assert!(key_a.do_authentication(origin(), challenge).is_err());
    // A's answer to A's challenge, presented in B's ceremony, is refused.
    let (_, challenge_a) = w.mfa.webauthn_login_begin(A).await.unwrap();
    let response_a = get(&mut key_a, challenge_a);
    let r = w.mfa.webauthn_login_finish(B, &ceremony, &response_a).await;
    assert!(
        matches!(r, Err(MfaError::NotFound | MfaError::WebAuthn(_))),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_removed_key_no_longer_logs_in() {
    let w = World::new().await;
    let mut key = token();
    let id = registered(&w, A, &mut key).await;
    let (ceremony, challenge) = w.mfa.webauthn_login_begin(A).await.unwrap();
    let response = get(&mut key, challenge);
    w.mfa.remove(A, &id).await.unwrap();
    let r = w.mfa.webauthn_login_finish(A, &ceremony, &response).await;
    assert!(matches!(r, Err(MfaError::NotFound)), "{r:?}");
    let r = w.mfa.webauthn_login_begin(A).await;
    assert!(matches!(r, Err(MfaError::NotFound)), "{r:?}");
}

#[tokio::test]
async fn a_counter_that_goes_backwards_is_refused() {
    let w = World::new().await;
    let mut key = token();
    let id = registered(&w, A, &mut key).await;
    // A copy of the key as it is now, before it signs anything.
    let clone = key.to_cbor().unwrap();

    assert_eq!(log_in(&w, A, &mut key).await.unwrap(), id);
    assert_eq!(log_in(&w, A, &mut key).await.unwrap(), id);

    // The copy's counter is behind the original's.
    let mut copy = SoftToken::from_cbor(&clone).unwrap();
    let r = log_in(&w, A, &mut copy).await;
    assert!(matches!(r, Err(MfaError::CounterRegression)), "{r:?}");

    // The original still works.
    assert_eq!(log_in(&w, A, &mut key).await.unwrap(), id);
}

#[tokio::test]
async fn a_malformed_answer_is_refused() {
    let w = World::new().await;
    let (ceremony, _) = w
        .mfa
        .webauthn_register_begin(A, "dom", "Dominique")
        .await
        .unwrap();
    let r = w
        .mfa
        .webauthn_register_finish(A, &ceremony, "Key", &serde_json::json!({"id": 1}))
        .await;
    assert!(matches!(r, Err(MfaError::WebAuthn(_))), "{r:?}");
}
