//! `app::authorize`: where a request goes, as the relying party and the
//! browser would find out.

use std::time::Duration;

use app::AppError;
use app::authorize::{self, Next};

use crate::support::{REDIRECT, fixture, param};

/// The code in a redirect to the client, after checking it is one.
fn code_of(next: &Next) -> String {
    let Next::ToClient(url) = next else {
        panic!("expected the way back to the client, got {next:?}");
    };
    assert!(url.starts_with(REDIRECT), "{url}");
    assert_eq!(param(url, "state").as_deref(), Some("st-1"));
    assert_eq!(param(url, "iss").as_deref(), Some("https://guichet.test"));
    param(url, "code").unwrap_or_else(|| panic!("no code in {url}"))
}

fn request_id(next: &Next) -> String {
    match next {
        Next::SignIn { request_id, .. }
        | Next::NewBackupAddress { request_id }
        | Next::SecondFactor { request_id, .. } => request_id.clone(),
        Next::Consent(ask) => ask.request_id.clone(),
        Next::ToClient(url) => panic!("no saved request: sent back to {url}"),
    }
}

#[tokio::test]
async fn a_request_waits_for_a_sign_in_then_gives_one_code_and_is_used_up() {
    let f = fixture().await;
    let client = f.client(true).await;
    let account = f.holder("Wendy").await;
    let pending = f
        .request(&client, &[("login_hint", "wendy@example.com")])
        .await;

    let next = authorize::arrive(&f.app, None, pending).await.unwrap();
    let Next::SignIn {
        login_hint, again, ..
    } = &next
    else {
        panic!("{next:?}");
    };
    assert_eq!(login_hint.as_deref(), Some("wendy@example.com"));
    assert!(!again);
    let id = request_id(&next);

    let session = f.session(&account).await;
    let next = authorize::resume(&f.app, Some(&session), &id)
        .await
        .unwrap();
    let code = code_of(&next);
    assert_eq!(code.len(), 43, "256 random bits, base64url");
    // The request is spent: a second resume finds nothing to continue.
    let again = authorize::resume(&f.app, Some(&session), &id).await;
    assert!(matches!(again, Err(AppError::RequestGone)), "{again:?}");
}

#[tokio::test]
async fn a_waiting_request_expires_after_ten_minutes() {
    let f = fixture().await;
    let client = f.client(true).await;
    let account = f.holder("Tess").await;
    let next = authorize::arrive(&f.app, None, f.request(&client, &[]).await)
        .await
        .unwrap();
    f.clock
        .advance(authorize::PENDING_TTL + Duration::from_secs(1));
    let session = f.session(&account).await;
    let r = authorize::resume(&f.app, Some(&session), &request_id(&next)).await;
    assert!(matches!(r, Err(AppError::RequestGone)), "{r:?}");
}

#[tokio::test]
async fn prompt_login_is_met_only_by_a_new_sign_in_however_long_the_way_back() {
    let f = fixture().await;
    let client = f.client(true).await;
    let account = f.holder("Lena").await;
    let old = f.session(&account).await;
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let pending = f.request(&client, &[extra]).await;
        let next = authorize::arrive(&f.app, Some(&old), pending)
            .await
            .unwrap();
        let Next::SignIn {
            login_hint, again, ..
        } = &next
        else {
            panic!("{extra:?}: {next:?}");
        };
        assert!(again, "{extra:?}");
        assert_eq!(login_hint.as_deref(), Some(account.handle.as_str()));
        let id = request_id(&next);
        // The session that was there does not count, even in the same second.
        let r = authorize::resume(&f.app, Some(&old), &id).await.unwrap();
        assert!(matches!(r, Next::SignIn { again: true, .. }), "{r:?}");
        // A new sign-in does, though the way back took several seconds.
        let new = f.session(&account).await;
        f.clock.advance(Duration::from_secs(5));
        let next = authorize::resume(&f.app, Some(&new), &id).await.unwrap();
        code_of(&next);
    }
}

#[tokio::test]
async fn prompt_none_is_answered_at_once_and_never_waits() {
    let f = fixture().await;
    let client = f.client(false).await;
    let pending = f.request(&client, &[("prompt", "none")]).await;
    let next = authorize::arrive(&f.app, None, pending).await.unwrap();
    let Next::ToClient(url) = &next else {
        panic!("{next:?}");
    };
    assert_eq!(param(url, "error").as_deref(), Some("login_required"));
    assert_eq!(param(url, "code"), None);

    let account = f.holder("Nina").await;
    let session = f.session(&account).await;
    let pending = f.request(&client, &[("prompt", "none")]).await;
    let next = authorize::arrive(&f.app, Some(&session), pending)
        .await
        .unwrap();
    let Next::ToClient(url) = &next else {
        panic!("{next:?}");
    };
    assert_eq!(param(url, "error").as_deref(), Some("consent_required"));
}

#[tokio::test]
async fn consent_counts_only_from_the_session_it_was_shown_to_and_is_remembered() {
    let f = fixture().await;
    let client = f.client(false).await;
    let alice = f.holder("Alice").await;
    let mallory = f.holder("Mallory").await;
    let a = f.session(&alice).await;
    let m = f.session(&mallory).await;

    let next = authorize::arrive(&f.app, Some(&a), f.request(&client, &[]).await)
        .await
        .unwrap();
    let Next::Consent(ask) = &next else {
        panic!("{next:?}");
    };
    assert_eq!(ask.who.account.id, alice.id);
    assert_eq!(ask.scopes, ["openid", "email"]);
    let id = request_id(&next);
    // Another session's "allow" gives nothing and leaves the request be.
    let r = authorize::answer(&f.app, &m, &id, true).await;
    assert!(matches!(r, Err(AppError::RequestGone)), "{r:?}");
    code_of(&authorize::answer(&f.app, &a, &id, true).await.unwrap());

    // Recorded: the next request of the same scopes goes straight through.
    let next = authorize::arrive(&f.app, Some(&a), f.request(&client, &[]).await)
        .await
        .unwrap();
    code_of(&next);
    // Unless the client insists.
    let pending = f.request(&client, &[("prompt", "consent")]).await;
    let next = authorize::arrive(&f.app, Some(&a), pending).await.unwrap();
    assert!(matches!(next, Next::Consent(_)), "{next:?}");
}

#[tokio::test]
async fn a_refusal_goes_back_as_access_denied_and_uses_the_request_up() {
    let f = fixture().await;
    let client = f.client(false).await;
    let account = f.holder("Rosa").await;
    let s = f.session(&account).await;
    let next = authorize::arrive(&f.app, Some(&s), f.request(&client, &[]).await)
        .await
        .unwrap();
    let id = request_id(&next);
    let Next::ToClient(url) = authorize::answer(&f.app, &s, &id, false).await.unwrap() else {
        panic!("a refusal goes back to the client");
    };
    assert_eq!(param(&url, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&url, "state").as_deref(), Some("st-1"));
    let r = authorize::answer(&f.app, &s, &id, true).await;
    assert!(matches!(r, Err(AppError::RequestGone)), "{r:?}");
}

#[tokio::test]
async fn a_client_removed_while_its_request_waits_gets_nothing() {
    let f = fixture().await;
    let client = f.client(true).await;
    let account = f.holder("Cleo").await;
    let next = authorize::arrive(&f.app, None, f.request(&client, &[]).await)
        .await
        .unwrap();
    oauth::clients::delete(f.app.accounts.db(), &client)
        .await
        .expect("removed");
    f.app.oauth.clients.forget(&client);
    let s = f.session(&account).await;
    let r = authorize::resume(&f.app, Some(&s), &request_id(&next)).await;
    assert!(matches!(r, Err(AppError::ClientGone)), "{r:?}");
}
