//! Listing, renaming, removing, turning off; identities kept apart.

use mfa::{Mfa, MfaError};

use crate::common::{World, config};

const A: &str = "account:1";
const B: &str = "account:1/user:2";

async fn totp_method(w: &World, identity: &str, label: &str) -> (String, String) {
    let e = w.mfa.totp_begin(identity, label, "dom").await.unwrap();
    let code = code_at(&e.secret_base32, w.now());
    w.mfa
        .totp_confirm(identity, &e.method_id, &code, w.now())
        .await
        .unwrap();
    (e.method_id, e.secret_base32)
}

fn code_at(secret_base32: &str, unix: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).unwrap();
    totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .unwrap()
        .generate(unix)
        .to_string()
}

async fn sms_method(w: &World, identity: &str) -> String {
    let id = w
        .mfa
        .sms_begin(identity, "Mobile", "+447700900123")
        .await
        .unwrap();
    w.mfa
        .sms_confirm(identity, &id, &w.last_sms_code())
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn methods_are_listed_oldest_first_and_renamed() {
    let w = World::new().await;
    let (first, _) = totp_method(&w, A, "First").await;
    w.advance(10);
    let second = sms_method(&w, A).await;
    let listed: Vec<_> = w
        .mfa
        .methods(A)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(listed, vec![first.clone(), second]);

    w.mfa.rename(A, &first, "  Work phone ").await.unwrap();
    assert_eq!(w.mfa.methods(A).await.unwrap()[0].label, "Work phone");
    for bad in ["", "   ", "tab\there", &"x".repeat(65)] {
        let r = w.mfa.rename(A, &first, bad).await;
        assert!(matches!(r, Err(MfaError::InvalidLabel)), "{bad:?}: {r:?}");
    }
    let r = w.mfa.rename(A, "no-such-method", "Name").await;
    assert!(matches!(r, Err(MfaError::NotFound)), "{r:?}");
    // A label is checked at enrolment too.
    let r = w.mfa.totp_begin(A, "", "dom").await;
    assert!(matches!(r, Err(MfaError::InvalidLabel)), "{r:?}");
}

#[tokio::test]
async fn removing_the_last_method_deletes_the_emergency_codes() {
    let w = World::new().await;
    let (totp, _) = totp_method(&w, A, "App").await;
    let sms = sms_method(&w, A).await;
    let codes = w.mfa.recovery_generate(A).await.unwrap();

    w.mfa.remove(A, &totp).await.unwrap();
    assert_eq!(
        w.mfa.recovery_remaining(A).await.unwrap(),
        10,
        "one method left"
    );
    assert!(w.mfa.is_enabled(A).await.unwrap());

    w.mfa.remove(A, &sms).await.unwrap();
    assert!(!w.mfa.is_enabled(A).await.unwrap());
    assert_eq!(w.mfa.recovery_remaining(A).await.unwrap(), 0);
    assert!(!w.mfa.recovery_consume(A, &codes[0]).await.unwrap());

    let r = w.mfa.remove(A, &sms).await;
    assert!(matches!(r, Err(MfaError::NotFound)), "{r:?}");
}

#[tokio::test]
async fn disable_removes_everything_pending_included() {
    let w = World::new().await;
    totp_method(&w, A, "App").await;
    let pending = w.mfa.totp_begin(A, "Unfinished", "dom").await.unwrap();
    w.mfa.recovery_generate(A).await.unwrap();

    w.mfa.disable(A).await.unwrap();
    assert!(!w.mfa.is_enabled(A).await.unwrap());
    assert!(w.mfa.methods(A).await.unwrap().is_empty());
    assert_eq!(w.mfa.recovery_remaining(A).await.unwrap(), 0);
    let r = w
        .mfa
        .totp_confirm(
            A,
            &pending.method_id,
            &code_at(&pending.secret_base32, w.now()),
            w.now(),
        )
        .await;
    assert!(matches!(r, Err(MfaError::NotFound)), "{r:?}");
}

#[tokio::test]
async fn identities_are_kept_apart() {
    let w = World::new().await;
    let (totp, secret) = totp_method(&w, A, "App").await;
    w.advance(10);
    let sms = sms_method(&w, A).await;
    let codes = w.mfa.recovery_generate(A).await.unwrap();

    assert!(w.mfa.methods(B).await.unwrap().is_empty());
    assert!(!w.mfa.is_enabled(B).await.unwrap());
    assert_eq!(w.mfa.recovery_remaining(B).await.unwrap(), 0);

    w.advance(30);
    let code = code_at(&secret, w.now());
    assert_eq!(w.mfa.totp_verify(B, &code, w.now()).await.unwrap(), None);
    assert!(!w.mfa.recovery_consume(B, &codes[0]).await.unwrap());

    let r = w.mfa.sms_send(B, &sms).await;
    assert!(matches!(r, Err(MfaError::NotFound)), "{r:?}");
    w.mfa.sms_send(A, &sms).await.unwrap();
    let r = w.mfa.sms_verify(B, &sms, &w.last_sms_code()).await;
    assert!(matches!(r, Err(MfaError::NotFound)), "{r:?}");

    for r in [
        w.mfa.rename(B, &totp, "Mine now").await,
        w.mfa.remove(B, &totp).await,
    ] {
        assert!(matches!(r, Err(MfaError::NotFound)), "{r:?}");
    }
    w.mfa.disable(B).await.unwrap();
    w.mfa.recovery_delete(B).await.unwrap();

    // A is untouched by all of that.
    assert_eq!(w.mfa.methods(A).await.unwrap().len(), 2);
    assert_eq!(w.mfa.methods(A).await.unwrap()[0].label, "App");
    assert_eq!(w.mfa.recovery_remaining(A).await.unwrap(), 10);
    assert_eq!(
        w.mfa.totp_verify(A, &code, w.now()).await.unwrap(),
        Some(totp)
    );
    assert!(w.mfa.sms_verify(A, &sms, &w.last_sms_code()).await.unwrap());
    assert!(w.mfa.recovery_consume(A, &codes[0]).await.unwrap());
}

#[tokio::test]
async fn malformed_identities_are_refused() {
    let w = World::new().await;
    for bad in ["", " account:1", "account:\n1", &"a".repeat(65)] {
        let r = w.mfa.methods(bad).await;
        assert!(
            matches!(r, Err(MfaError::InvalidIdentity)),
            "{bad:?}: {r:?}"
        );
        let r = w.mfa.recovery_generate(bad).await;
        assert!(
            matches!(r, Err(MfaError::InvalidIdentity)),
            "{bad:?}: {r:?}"
        );
    }
}

#[tokio::test]
async fn an_ip_origin_works_without_security_keys() {
    let w = World::with_config(config("http://127.0.0.1:43123", "127.0.0.1")).await;
    totp_method(&w, A, "App").await;
    sms_method(&w, A).await;
    // No WebOTP line for a host without a domain name.
    assert!(!w.sms()[0].1.contains('@'), "{}", w.sms()[0].1);
    let r = w.mfa.webauthn_register_begin(A, "dom", "Dom").await;
    assert!(matches!(r, Err(MfaError::WebAuthn(_))), "{r:?}");
}

#[tokio::test]
async fn bad_configurations_are_refused() {
    let w = World::new().await;
    let build = |cfg| {
        Mfa::new(
            w.db.clone(),
            cfg,
            std::sync::Arc::new(crate::common::TestSealer),
            std::sync::Arc::new(mfa::MemoryEphemeral::new()),
            std::sync::Arc::new(mfa::SmsOutbox::new(w.outbox.0.clone())),
        )
    };
    let r = build(config("https://id.example.com", "other.example.com"));
    assert!(matches!(r, Err(MfaError::InvalidConfig(_))), "{r:?}");
    let mut cfg = config("https://id.example.com", "example.com");
    cfg.issuer = "Gui:chet".into();
    assert!(matches!(build(cfg), Err(MfaError::InvalidConfig(_))));
    assert!(build(config("https://id.example.com", "example.com")).is_ok());
}
