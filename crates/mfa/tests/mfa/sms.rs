//! Codes by text message, through the outbox.

use mfa::{MethodKind, MfaError};

use crate::common::World;

const ID: &str = "account:1";
const PHONE: &str = "+44 7700 900123";
const E164: &str = "+447700900123";

/// A six-digit code that differs from `code`.
fn wrong(code: &str) -> String {
    let first = (code.as_bytes()[0] - b'0' + 1) % 10;
    format!("{first}{}", &code[1..])
}

async fn enrolled(w: &World) -> String {
    let id = w.mfa.sms_begin(ID, "Mobile", PHONE).await.unwrap();
    w.mfa
        .sms_confirm(ID, &id, &w.last_sms_code())
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn enrol_confirm_then_log_in() {
    let w = World::new().await;
    let id = w.mfa.sms_begin(ID, "Mobile", PHONE).await.unwrap();

    let sent = w.sms();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, E164);
    assert!(sent[0].1.contains("Guichet"), "{}", sent[0].1);
    assert!(sent[0].1.contains("5 minutes"), "{}", sent[0].1);
    let code = w.last_sms_code();
    assert!(
        sent[0]
            .1
            .trim_end()
            .ends_with(&format!("@localhost #{code}")),
        "WebOTP line: {}",
        sent[0].1
    );

    // Pending: not listed, not usable for login.
    assert!(w.mfa.methods(ID).await.unwrap().is_empty());
    let r = w.mfa.sms_verify(ID, &id, &code).await;
    assert!(matches!(r, Err(MfaError::NotFound)), "{r:?}");

    let r = w.mfa.sms_confirm(ID, &id, &wrong(&code)).await;
    assert!(matches!(r, Err(MfaError::WrongCode)), "{r:?}");
    w.mfa.sms_confirm(ID, &id, &code).await.unwrap();

    let methods = w.mfa.methods(ID).await.unwrap();
    assert_eq!(methods.len(), 1);
    assert_eq!(methods[0].kind, MethodKind::Sms);
    assert_eq!(methods[0].phone_hint.as_deref(), Some("+44 ••• ••• 0123"));
    assert!(w.mfa.is_enabled(ID).await.unwrap());

    w.mfa.sms_send(ID, &id).await.unwrap();
    let code = w.last_sms_code();
    assert!(w.mfa.sms_verify(ID, &id, &code).await.unwrap());
    assert!(w.mfa.methods(ID).await.unwrap()[0].last_used_at.is_some());
}

#[tokio::test]
async fn a_code_is_single_use() {
    let w = World::new().await;
    let id = enrolled(&w).await;
    // The confirmation code is spent too.
    let confirm_code = w.last_sms_code();
    assert!(!w.mfa.sms_verify(ID, &id, &confirm_code).await.unwrap());

    w.mfa.sms_send(ID, &id).await.unwrap();
    let code = w.last_sms_code();
    assert!(w.mfa.sms_verify(ID, &id, &code).await.unwrap());
    assert!(!w.mfa.sms_verify(ID, &id, &code).await.unwrap());
}

#[tokio::test]
async fn a_wrong_code_leaves_the_right_one_until_five_tries() {
    let w = World::new().await;
    let id = enrolled(&w).await;

    w.mfa.sms_send(ID, &id).await.unwrap();
    let code = w.last_sms_code();
    for _ in 0..4 {
        assert!(!w.mfa.sms_verify(ID, &id, &wrong(&code)).await.unwrap());
    }
    assert!(
        w.mfa.sms_verify(ID, &id, &code).await.unwrap(),
        "4 wrong tries"
    );

    w.mfa.sms_send(ID, &id).await.unwrap();
    let code = w.last_sms_code();
    for _ in 0..5 {
        assert!(!w.mfa.sms_verify(ID, &id, &wrong(&code)).await.unwrap());
    }
    assert!(
        !w.mfa.sms_verify(ID, &id, &code).await.unwrap(),
        "void after 5 wrong tries"
    );
}

#[tokio::test]
async fn a_resent_code_replaces_the_previous_one() {
    let w = World::new().await;
    let id = enrolled(&w).await;
    w.mfa.sms_send(ID, &id).await.unwrap();
    let old = w.last_sms_code();
    w.mfa.sms_send(ID, &id).await.unwrap();
    let new = w.last_sms_code();
    if old != new {
        assert!(!w.mfa.sms_verify(ID, &id, &old).await.unwrap());
    }
    assert!(w.mfa.sms_verify(ID, &id, &new).await.unwrap());
}

#[tokio::test]
async fn codes_expire() {
    let w = World::new().await;
    let id = enrolled(&w).await;
    w.mfa.sms_send(ID, &id).await.unwrap();
    let code = w.last_sms_code();
    w.advance(301);
    assert!(!w.mfa.sms_verify(ID, &id, &code).await.unwrap());
}

#[tokio::test]
async fn sends_are_limited_per_method() {
    let w = World::new().await;
    // The enrolment's own message is the first of three.
    let id = w.mfa.sms_begin(ID, "Mobile", PHONE).await.unwrap();
    w.mfa.sms_send(ID, &id).await.unwrap();
    w.mfa.sms_send(ID, &id).await.unwrap();
    let r = w.mfa.sms_send(ID, &id).await;
    assert!(matches!(r, Err(MfaError::TooManySends)), "{r:?}");
    assert_eq!(w.sms().len(), 3, "nothing sent past the limit");
    // The last code sent still works.
    w.mfa
        .sms_confirm(ID, &id, &w.last_sms_code())
        .await
        .unwrap();
}

#[tokio::test]
async fn enrolments_are_limited_per_identity() {
    let w = World::new().await;
    for _ in 0..3 {
        w.mfa.sms_begin(ID, "Mobile", PHONE).await.unwrap();
    }
    let r = w.mfa.sms_begin(ID, "Mobile", PHONE).await;
    assert!(matches!(r, Err(MfaError::TooManySends)), "{r:?}");
    assert_eq!(w.sms().len(), 3);
    // Another identity is not affected.
    w.mfa.sms_begin("account:2", "Mobile", PHONE).await.unwrap();
}

#[tokio::test]
async fn invalid_phone_numbers_are_refused() {
    let w = World::new().await;
    for bad in [
        "",
        "07700 900123",
        "0044 7700 900123",
        "+44 7700",
        "+44 7700 900123 4567",
        "+44 (0)7700 900123",
        "+44 7700 9OO123",
        "call me",
    ] {
        let r = w.mfa.sms_begin(ID, "Mobile", bad).await;
        assert!(matches!(r, Err(MfaError::InvalidPhone)), "{bad:?}: {r:?}");
    }
    assert!(w.sms().is_empty());
    let count = {
        use sea_orm::{EntityTrait, PaginatorTrait};
        mfa::entity::method::Entity::find()
            .count(&w.db)
            .await
            .unwrap()
    };
    assert_eq!(count, 0);
}

#[tokio::test]
async fn formatted_numbers_are_stored_in_e164() {
    let w = World::new().await;
    let id = w
        .mfa
        .sms_begin(ID, "Mobile", "+33 6.12-34 56 78")
        .await
        .unwrap();
    assert_eq!(w.sms()[0].0, "+33612345678");
    w.mfa
        .sms_confirm(ID, &id, &w.last_sms_code())
        .await
        .unwrap();
    assert_eq!(
        w.mfa.methods(ID).await.unwrap()[0].phone_hint.as_deref(),
        Some("+33 ••• ••• 5678")
    );
}
