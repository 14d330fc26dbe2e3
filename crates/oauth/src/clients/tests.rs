//! Tests of client registration and the client cache.

use super::*;
use migration::{Migrator, MigratorTrait};
use sea_orm::Database;

async fn db() -> sea_orm::DatabaseConnection {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    db
}

fn web_app() -> ClientSpec {
    ClientSpec {
        redirect_uris: vec!["https://app.example.com/cb".into()],
        ..ClientSpec::named("Control panel")
    }
}

#[test]
fn redirect_uris_are_checked() {
    for ok in [
        "https://app.example.com/cb",
        "http://127.0.0.1:9999/cb",
        "http://[::1]/cb",
        "com.example.app:/oauth",
    ] {
        assert!(check_redirect_uri(ok).is_ok(), "{ok}");
    }
    for bad in [
        "http://app.example.com/cb",
        "https://app.example.com/cb#x",
        "https://*.example.com/cb",
        "https://user@app.example.com/cb",
        "/relative",
        "javascript:alert(1)",
        "cb",
    ] {
        assert!(check_redirect_uri(bad).is_err(), "{bad}");
    }
}

#[test]
fn matching_is_exact_except_the_loopback_port() {
    let reg = vec![
        "https://app.example.com/cb".to_owned(),
        "http://127.0.0.1/cb".to_owned(),
    ];
    assert!(redirect_uri_matches(&reg, "https://app.example.com/cb"));
    assert!(redirect_uri_matches(&reg, "http://127.0.0.1:51234/cb"));
    for bad in [
        "https://app.example.com/cb/",
        "https://app.example.com/cb?x=1",
        "https://APP.example.com/cb",
        "https://app.example.com/cb#f",
        "https://app.example.com.evil.com/cb",
        "https://app.example.com@evil.com/cb",
        "https://app.example.com/cb/..;/x",
        "https://app.example.com/%2e%2e/cb",
        "https:\\\\app.example.com\\cb",
        "http://127.0.0.1:51234/cb/other",
        "http://localhost:51234/cb",
    ] {
        assert!(!redirect_uri_matches(&reg, bad), "{bad}");
    }
}

#[test]
fn invalid_specs_list_every_problem() {
    let spec = ClientSpec {
        name: String::new(),
        kind: "public".into(),
        grant_types: vec!["password".into(), "client_credentials".into()],
        redirect_uris: vec!["http://evil.com/cb".into()],
        access_token_ttl_secs: 5,
        ..ClientSpec::named("x")
    };
    let Err(OAuthError::InvalidClientSpec(errs)) = spec.validate() else {
        panic!("accepted");
    };
    let fields: Vec<_> = errs.iter().map(|(f, _)| *f).collect();
    for f in [
        "name",
        "grant_types",
        "redirect_uris",
        "access_token_ttl_secs",
    ] {
        assert!(fields.contains(&f), "{f} not reported: {errs:?}");
    }
}

#[tokio::test]
async fn secrets_are_shown_once_and_stored_as_digests() {
    let db = db().await;
    let now = Utc::now();
    let (c, secret) = create(&db, &web_app(), now).await.unwrap();
    let secret = secret.unwrap();
    assert_eq!(URL_SAFE_NO_PAD.decode(&secret).unwrap().len(), 32);
    assert_ne!(c.secret_hash.as_deref(), Some(secret.as_str()));
    assert!(secret_matches(&c, &secret));
    assert!(!secret_matches(&c, "wrong"));
    let new = rotate_secret(&db, &c.client_id, now).await.unwrap();
    let c = find(&db, &c.client_id).await.unwrap().unwrap();
    assert!(secret_matches(&c, &new));
    assert!(!secret_matches(&c, &secret));
}

#[tokio::test]
async fn public_clients_have_no_secret_and_update_keeps_the_kind() {
    let db = db().await;
    let spec = ClientSpec {
        kind: "public".into(),
        ..web_app()
    };
    let (c, secret) = create(&db, &spec, Utc::now()).await.unwrap();
    assert!(secret.is_none());
    assert_eq!(c.auth_method, "none");
    let mut changed = spec_of(&c);
    changed.name = "CLI".into();
    let c2 = update(&db, &c.client_id, &changed, Utc::now())
        .await
        .unwrap();
    assert_eq!(c2.name, "CLI");
    changed.kind = "confidential".into();
    changed.auth_method = None;
    assert!(
        update(&db, &c.client_id, &changed, Utc::now())
            .await
            .is_err()
    );
    delete(&db, &c.client_id).await.unwrap();
    assert!(matches!(
        delete(&db, &c.client_id).await,
        Err(OAuthError::ClientNotFound)
    ));
}
