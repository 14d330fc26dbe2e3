//! The customer API's writes and the session's anti-CSRF token: every write
//! under `/api/v1/account` refuses a call without the token, or with another,
//! the same way (403, `csrf-mismatch`), and changes nothing.

use guichet_tests::{Person, TestApp, browser, problem, spawn_app};
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

/// A holder signed in on a browser, what the API shows of them before any
/// write, and how to tell afterwards that nothing was written.
struct Holder {
    app: TestApp,
    person: Person,
    handle: String,
    web: reqwest::Client,
    profile: Value,
}

impl Holder {
    async fn signed_in(first: &str, last: &str) -> Self {
        let app = spawn_app().await;
        let person = Person::new(first, last);
        let handle = app.signup(&person).await;
        let web = browser();
        assert_eq!(
            app.login(&web, &handle, &person.password).await.status(),
            303
        );
        let profile = app
            .client_on(&web)
            .api_get("/api/v1/account/profile")
            .await
            .1;
        Self {
            app,
            person,
            handle,
            web,
            profile,
        }
    }

    /// The same profile, no change of address under way, no user, no new
    /// group, the session alive and the password unchanged.
    async fn assert_nothing_written(&self) {
        let api = self.app.client_on(&self.web);
        let (status, me) = api.api_get("/api/v1/account/users/me").await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(api.api_get("/api/v1/account/profile").await.1, self.profile);
        assert_eq!(
            api.api_get("/api/v1/account/email").await.1["pending"],
            Value::Null
        );
        assert_eq!(
            api.api_get("/api/v1/account/users").await.1["users"],
            json!([])
        );
        let groups = api.api_get("/api/v1/account/groups").await.1;
        let names: Vec<&Value> = groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| &g["name"])
            .collect();
        assert!(!names.contains(&&json!("MALLORY")), "{groups}");
        let again = self
            .app
            .login(&browser(), &self.handle, &self.person.password)
            .await;
        assert_eq!(again.status(), 303);
    }
}

#[tokio::test]
async fn every_customer_api_write_refuses_a_missing_or_foreign_token_alike_and_changes_nothing() {
    let h = Holder::signed_in("Tokia", "Checked").await;
    let api = h.app.client_on(&h.web);
    for (method, path, body) in writes(&h.handle) {
        for sent in ["", "a-token-from-another-site-aaaaaaaaaaaaaaaaa"] {
            let (status, v) = api.api(method.clone(), path, sent, body.clone()).await;
            let what = format!("{method} {path} with {sent:?}: {v}");
            assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
            assert_eq!(problem(&v), "csrf-mismatch", "{what}");
        }
    }
    h.assert_nothing_written().await;
}

/// The writes that read no body: they act on their address alone.
const BODILESS: [&str; 2] = [
    "/api/v1/account/sessions/end-all",
    "/api/v1/account/contacts/1/cancel",
];

#[tokio::test]
async fn every_customer_api_write_refuses_an_unreadable_body_as_invalid_body_and_changes_nothing() {
    let h = Holder::signed_in("Bodil", "Unread").await;
    // The token, from where the description of its refusal says to take it.
    let described = h
        .web
        .get(h.app.url("/problems/csrf-mismatch"))
        .send()
        .await
        .unwrap();
    assert!(
        described
            .text()
            .await
            .unwrap()
            .contains("GET /api/v1/account/users/me")
    );
    let me = h
        .app
        .client_on(&h.web)
        .api_get("/api/v1/account/users/me")
        .await
        .1;
    let csrf = me["csrf"].as_str().unwrap().to_owned();
    let mut routes = writes(&h.handle);
    routes.push((Method::POST, "/api/v1/signup", Some(json!({}))));
    for (method, path, body) in routes {
        if body.is_none() || BODILESS.contains(&path) {
            continue;
        }
        for (content_type, bytes, status) in [
            ("application/json", "{ this is not JSON", 400),
            ("text/plain", "{}", 415),
            ("application/json", "[1, 2, 3]", 400),
        ] {
            let r = h
                .web
                .request(method.clone(), h.app.url(path))
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
    h.assert_nothing_written().await;
}
