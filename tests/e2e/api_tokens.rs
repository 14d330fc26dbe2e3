//! The customer API's writes and the session's anti-CSRF token: every write
//! under `/api/v1/account` refuses a call without the token, or with another,
//! the same way (403, `csrf-mismatch`), and changes nothing.

use guichet_tests::{Person, browser, problem, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Every write of the customer API, with a body it would otherwise accept
/// or refuse for what it says (never for how it is sent).
fn writes(handle: &str) -> Vec<(Method, &'static str, Option<Value>)> {
    let profile = json!({"first_name": "Mallory", "last_name": "Intruder"});
    let password = json!({
        "current_password": "whatever it is",
        "password": "a passphrase chosen by another site",
        "password_confirm": "a passphrase chosen by another site",
    });
    let user = json!({
        "login": "mallory", "email": "mallory@example.org",
        "password": "a passphrase chosen by another site", "group": "admin",
        "description": "",
    });
    vec![
        (Method::PUT, "/api/v1/account/profile", Some(profile)),
        (
            Method::POST,
            "/api/v1/account/email",
            Some(json!({"new_email": "mallory@example.org"})),
        ),
        (
            Method::POST,
            "/api/v1/account/email/confirm",
            Some(json!({"code": "123456"})),
        ),
        (
            Method::PUT,
            "/api/v1/account/password",
            Some(password.clone()),
        ),
        (Method::POST, "/api/v1/account/users", Some(user)),
        (
            Method::PATCH,
            "/api/v1/account/users/1",
            Some(json!({"status": "disabled"})),
        ),
        (Method::DELETE, "/api/v1/account/users/1", None),
        (
            Method::POST,
            "/api/v1/account/users/me/password",
            Some(password),
        ),
        (
            Method::POST,
            "/api/v1/account/groups",
            Some(json!({"name": "MALLORY", "role": "admin"})),
        ),
        (Method::DELETE, "/api/v1/account/groups/ADMIN", None),
        (
            Method::POST,
            "/api/v1/account/sessions/end",
            Some(json!({"handle": handle})),
        ),
        (
            Method::POST,
            "/api/v1/account/sessions/end-all",
            Some(json!({})),
        ),
        (
            Method::POST,
            "/api/v1/account/apps/withdraw",
            Some(json!({"client_id": "any"})),
        ),
        (
            Method::POST,
            "/api/v1/account/erase",
            Some(json!({"confirm": handle})),
        ),
        (
            Method::POST,
            "/api/v1/account/contacts",
            Some(json!({"service": "vps-1", "role": "technical", "handle": "zz99999-ovh"})),
        ),
        (
            Method::POST,
            "/api/v1/account/contacts/1/answer",
            Some(json!({"decision": "accept"})),
        ),
        (
            Method::POST,
            "/api/v1/account/contacts/1/cancel",
            Some(json!({})),
        ),
    ]
}

#[tokio::test]
async fn every_customer_api_write_refuses_a_missing_or_foreign_token_alike_and_changes_nothing() {
    let app = spawn_app().await;
    let p = Person::new("Tokia", "Checked");
    let handle = app.signup(&p).await;
    let web = browser();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    let api = app.client_on(&web);
    let profile_before = api.api_get("/api/v1/account/profile").await.1;

    for (method, path, body) in writes(&handle) {
        for sent in ["", "a-token-from-another-site-aaaaaaaaaaaaaaaaa"] {
            let (status, v) = api.api(method.clone(), path, sent, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{method} {path} with {sent:?}: {v}"
            );
            assert_eq!(
                problem(&v),
                "csrf-mismatch",
                "{method} {path} with {sent:?}: {v}"
            );
        }
    }

    // Nothing was written: the same profile, no change of address under
    // way, no user, the groups as they were, and this session still alive.
    let (status, me) = api.api_get("/api/v1/account/users/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        api.api_get("/api/v1/account/profile").await.1,
        profile_before
    );
    assert_eq!(
        api.api_get("/api/v1/account/email").await.1["pending"],
        Value::Null
    );
    assert_eq!(
        api.api_get("/api/v1/account/users").await.1["users"],
        json!([])
    );
    let groups = api.api_get("/api/v1/account/groups").await.1;
    assert!(
        groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["name"] != "MALLORY"),
        "{groups}"
    );
    assert_eq!(
        app.login(&browser(), &handle, &p.password).await.status(),
        303
    );
}

/// The writes that read no body: they act on their address alone.
const BODILESS: [&str; 2] = [
    "/api/v1/account/sessions/end-all",
    "/api/v1/account/contacts/1/cancel",
];

#[tokio::test]
async fn every_customer_api_write_refuses_an_unreadable_body_as_invalid_body_and_changes_nothing() {
    let app = spawn_app().await;
    let p = Person::new("Bodil", "Unread");
    let handle = app.signup(&p).await;
    let web = browser();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    let api = app.client_on(&web);
    let csrf = api.api_get("/api/v1/account/users/me").await.1["csrf"]
        .as_str()
        .unwrap()
        .to_owned();
    let profile_before = api.api_get("/api/v1/account/profile").await.1;
    let mut routes = writes(&handle);
    routes.push((Method::POST, "/api/v1/signup", Some(json!({}))));
    for (method, path, body) in routes {
        if body.is_none() || BODILESS.contains(&path) {
            continue;
        }
        for (content_type, bytes, status) in [
            ("application/json", "{ this is not JSON", 400),
            ("text/plain", "{}", 415),
            ("application/json", "[1, 2, 3]", 422),
        ] {
            let r = web
                .request(method.clone(), app.url(path))
                .header("x-csrf-token", &csrf)
                .header("content-type", content_type)
                .body(bytes)
                .send()
                .await
                .unwrap();
            let seen = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            let what = format!("{method} {path} {content_type} {bytes}: {v}");
            assert_eq!(seen, status, "{what}");
            assert_eq!(problem(&v), "invalid-body", "{what}");
            assert!(
                v["detail"].as_str().unwrap().contains("JSON object"),
                "{what}"
            );
        }
    }
    // Nothing was written, and this session is alive.
    assert_eq!(
        api.api_get("/api/v1/account/users/me").await.0,
        StatusCode::OK
    );
    assert_eq!(
        api.api_get("/api/v1/account/profile").await.1,
        profile_before
    );
    assert_eq!(
        api.api_get("/api/v1/account/email").await.1["pending"],
        Value::Null
    );
    assert_eq!(
        api.api_get("/api/v1/account/users").await.1["users"],
        json!([])
    );
    assert_eq!(
        app.login(&browser(), &handle, &p.password).await.status(),
        303
    );
}
