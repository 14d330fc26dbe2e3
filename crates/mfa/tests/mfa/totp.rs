//! Authenticator-app codes.

use std::collections::HashSet;

use base64::Engine;
use mfa::{MethodKind, MfaError, Sealer};
use sea_orm::EntityTrait;
use totp_rs::{Builder, Secret};

use crate::common::{SEALED_PREFIX, TestSealer, World};

const ID: &str = "account:1";

/// Computes a code the way an authenticator app would, from the base32
/// secret shown at enrolment.
fn code_at(secret_base32: &str, unix: u64) -> String {
    let secret = Secret::try_from_base32(secret_base32).unwrap();
    Builder::new()
        .with_secret(secret)
        .build()
        .unwrap()
        .generate(unix)
        .to_string()
}

/// A code that is not the right one at `unix` (nor, but for a one in a
/// million chance, at the steps either side).
fn other_code(secret_base32: &str, unix: u64) -> String {
    let right = code_at(secret_base32, unix);
    let first = (right.as_bytes()[0] - b'0' + 1) % 10;
    format!("{first}{}", &right[1..])
}

async fn enrolled(w: &World, identity: &str) -> (String, String) {
    let e = w
        .mfa
        .totp_begin(identity, "Phone app", "dom@example.com")
        .await
        .unwrap();
    w.mfa
        .totp_confirm(
            identity,
            &e.method_id,
            &code_at(&e.secret_base32, w.now()),
            w.now(),
        )
        .await
        .unwrap();
    (e.method_id, e.secret_base32)
}

#[tokio::test]
async fn enrol_confirm_then_log_in() {
    let w = World::new().await;
    let e = w
        .mfa
        .totp_begin(ID, "  Phone app ", "dom@example.com")
        .await
        .unwrap();
    assert_eq!(Secret::try_from_base32(&e.secret_base32).unwrap().len(), 20);
    assert!(
        e.otpauth_uri
            .starts_with("otpauth://totp/Guichet:dom%40example.com?"),
        "{}",
        e.otpauth_uri
    );
    assert!(
        e.otpauth_uri
            .contains(&format!("secret={}", e.secret_base32))
    );
    assert!(e.otpauth_uri.contains("issuer=Guichet"));
    let png = base64::engine::general_purpose::STANDARD
        .decode(&e.qr_png_base64)
        .unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(
        !format!("{e:?}").contains(&e.secret_base32),
        "Debug hides the secret"
    );

    // Pending: not listed, and two-factor login stays off.
    assert!(w.mfa.methods(ID).await.unwrap().is_empty());
    assert!(!w.mfa.is_enabled(ID).await.unwrap());

    let wrong = w
        .mfa
        .totp_confirm(
            ID,
            &e.method_id,
            &other_code(&e.secret_base32, w.now()),
            w.now(),
        )
        .await;
    assert!(matches!(wrong, Err(MfaError::WrongCode)), "{wrong:?}");
    w.mfa
        .totp_confirm(
            ID,
            &e.method_id,
            &code_at(&e.secret_base32, w.now()),
            w.now(),
        )
        .await
        .unwrap();

    let methods = w.mfa.methods(ID).await.unwrap();
    assert_eq!(methods.len(), 1);
    assert_eq!(methods[0].id, e.method_id);
    assert_eq!(methods[0].kind, MethodKind::Totp);
    assert_eq!(methods[0].label, "Phone app");
    assert_eq!(methods[0].last_used_at, None);
    assert!(w.mfa.is_enabled(ID).await.unwrap());

    w.advance(30);
    let code = code_at(&e.secret_base32, w.now());
    // Spaces inside the code are fine.
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    assert_eq!(
        w.mfa.totp_verify(ID, &spaced, w.now()).await.unwrap(),
        Some(e.method_id.clone())
    );
    assert!(w.mfa.methods(ID).await.unwrap()[0].last_used_at.is_some());
}

#[tokio::test]
async fn the_confirmation_code_cannot_log_in() {
    let w = World::new().await;
    let e = w.mfa.totp_begin(ID, "App", "dom").await.unwrap();
    let code = code_at(&e.secret_base32, w.now());
    w.mfa
        .totp_confirm(ID, &e.method_id, &code, w.now())
        .await
        .unwrap();
    assert_eq!(w.mfa.totp_verify(ID, &code, w.now()).await.unwrap(), None);
}

#[tokio::test]
async fn a_code_is_accepted_once() {
    let w = World::new().await;
    let (id, secret) = enrolled(&w, ID).await;
    w.advance(60);
    let code = code_at(&secret, w.now());
    assert_eq!(
        w.mfa.totp_verify(ID, &code, w.now()).await.unwrap(),
        Some(id)
    );
    assert_eq!(w.mfa.totp_verify(ID, &code, w.now()).await.unwrap(), None);
    // Still refused a step later, while it is within the drift window.
    assert_eq!(
        w.mfa.totp_verify(ID, &code, w.now() + 30).await.unwrap(),
        None
    );
}

/// The clock decides the window: a step's code holds through the last
/// second of the next step, and not a second longer.
#[tokio::test]
async fn a_code_holds_until_the_clock_leaves_the_next_step() {
    let w = World::new().await;
    let (id, secret) = enrolled(&w, ID).await;
    w.advance(300);
    let step = (w.now() - w.now() % 30) as i64;
    let code = code_at(&secret, step as u64);
    w.set(step + 60);
    assert_eq!(
        w.mfa.totp_verify(ID, &code, w.now()).await.unwrap(),
        None,
        "two steps on"
    );
    w.set(step + 59);
    assert_eq!(
        w.mfa.totp_verify(ID, &code, w.now()).await.unwrap(),
        Some(id),
        "the last second of the next step"
    );
}

#[tokio::test]
async fn one_step_of_drift_is_accepted_two_are_not() {
    let w = World::new().await;
    let (id, secret) = enrolled(&w, ID).await;
    w.advance(300);
    let now = w.now();
    assert_eq!(
        w.mfa
            .totp_verify(ID, &code_at(&secret, now - 60), now)
            .await
            .unwrap(),
        None,
        "two steps behind"
    );
    assert_eq!(
        w.mfa
            .totp_verify(ID, &code_at(&secret, now + 60), now)
            .await
            .unwrap(),
        None,
        "two steps ahead"
    );
    assert_eq!(
        w.mfa
            .totp_verify(ID, &code_at(&secret, now - 30), now)
            .await
            .unwrap(),
        Some(id.clone()),
        "one step behind"
    );
    assert_eq!(
        w.mfa
            .totp_verify(ID, &code_at(&secret, now + 30), now)
            .await
            .unwrap(),
        Some(id.clone()),
        "one step ahead"
    );
    // The current step is now behind the last accepted one: refused.
    assert_eq!(
        w.mfa
            .totp_verify(ID, &code_at(&secret, now), now)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn parallel_verifications_of_one_code_pass_once() {
    let w = World::new().await;
    let (id, secret) = enrolled(&w, ID).await;
    w.advance(30);
    let code = code_at(&secret, w.now());
    let now = w.now();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let mfa = w.mfa.clone();
            let code = code.clone();
            tokio::spawn(async move { mfa.totp_verify(ID, &code, now).await.unwrap() })
        })
        .collect();
    let mut passed = Vec::new();
    for t in tasks {
        if let Some(m) = t.await.unwrap() {
            passed.push(m);
        }
    }
    assert_eq!(passed, vec![id]);
}

#[tokio::test]
async fn a_pending_app_does_not_log_in() {
    let w = World::new().await;
    let e = w.mfa.totp_begin(ID, "App", "dom").await.unwrap();
    w.advance(30);
    let code = code_at(&e.secret_base32, w.now());
    assert_eq!(w.mfa.totp_verify(ID, &code, w.now()).await.unwrap(), None);
    assert!(!w.mfa.is_enabled(ID).await.unwrap());
}

#[tokio::test]
async fn a_new_enrolment_replaces_an_unfinished_one() {
    let w = World::new().await;
    let first = w.mfa.totp_begin(ID, "App", "dom").await.unwrap();
    let second = w.mfa.totp_begin(ID, "App", "dom").await.unwrap();
    let r = w
        .mfa
        .totp_confirm(
            ID,
            &first.method_id,
            &code_at(&first.secret_base32, w.now()),
            w.now(),
        )
        .await;
    assert!(matches!(r, Err(MfaError::NotFound)), "{r:?}");
    w.mfa
        .totp_confirm(
            ID,
            &second.method_id,
            &code_at(&second.secret_base32, w.now()),
            w.now(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn every_active_app_is_tried() {
    let w = World::new().await;
    let (first, s1) = enrolled(&w, ID).await;
    let (second, s2) = enrolled(&w, ID).await;
    assert_ne!(first, second);
    w.advance(30);
    assert_eq!(
        w.mfa
            .totp_verify(ID, &code_at(&s2, w.now()), w.now())
            .await
            .unwrap(),
        Some(second)
    );
    assert_eq!(
        w.mfa
            .totp_verify(ID, &code_at(&s1, w.now()), w.now())
            .await
            .unwrap(),
        Some(first)
    );
}

#[tokio::test]
async fn the_seed_is_sealed_in_the_database() {
    let w = World::new().await;
    let e = w.mfa.totp_begin(ID, "App", "dom").await.unwrap();
    let row = mfa::entity::method::Entity::find_by_id(e.method_id.clone())
        .one(&w.db)
        .await
        .unwrap()
        .unwrap();
    let stored = row.secret.expect("a sealed secret");
    let raw = Secret::try_from_base32(&e.secret_base32).unwrap().to_vec();
    assert!(stored.starts_with(SEALED_PREFIX), "{stored}");
    assert!(!stored.contains(&e.secret_base32));
    assert!(
        !stored
            .to_lowercase()
            .contains(&e.secret_base32.to_lowercase())
    );
    assert!(!stored.contains(&hex::encode(&raw)));
    // Sealed under the method's own context, and only that one.
    let context = format!("totp:{}", e.method_id);
    assert_eq!(TestSealer.open(&context, &stored).unwrap(), raw);
    assert!(TestSealer.open("totp:another", &stored).is_err());
    // No other column holds it either.
    assert_eq!(row.phone, None);
    assert_eq!(row.credential, None);
}

#[tokio::test]
async fn seeds_differ_between_enrolments() {
    let w = World::new().await;
    let mut seen = HashSet::new();
    for i in 0..5 {
        let identity = format!("account:{i}");
        let e = w.mfa.totp_begin(&identity, "App", "dom").await.unwrap();
        assert!(seen.insert(e.secret_base32));
    }
}
