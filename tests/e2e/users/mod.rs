//! Local users and groups, as the holder, the users themselves and relying
//! parties see them: logins as `<code>/<ID>` and `<handle>/<ID>`, the role ×
//! action matrix over the JSON API and the pages, cross-account attempts,
//! and the tokens a local user gets.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guichet_tests::{Person, TestApp, browser, hidden, problem, spawn_app};
use reqwest::{Client, Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::oidc::{authorize_url, follow_to_client, param, pkce, redeem, web_app};

pub(crate) const USER_PASSWORD: &str = "copper lantern over tide";

/// A signed-in holder: their browser, handle, customer code and the
/// session's anti-CSRF token.
pub(crate) struct Holder {
    pub(crate) web: Client,
    pub(crate) person: Person,
    pub(crate) handle: String,
    pub(crate) code: String,
    pub(crate) csrf: String,
}

pub(crate) async fn holder(app: &TestApp, first: &str) -> Holder {
    let person = Person::new(first, "Holder");
    let handle = app.signup(&person).await;
    let web = browser();
    assert_eq!(
        app.login(&web, &handle, &person.password).await.status(),
        303
    );
    let me: Value = get(app, &web, "/api/v1/account/users/me").await.1;
    assert_eq!(me["actor"], "holder");
    let code = me["customer_code"].as_str().unwrap().to_owned();
    let csrf = app.csrf(&web, "/account/users").await;
    Holder {
        web,
        person,
        handle,
        code,
        csrf,
    }
}

pub(crate) async fn call(
    app: &TestApp,
    web: &Client,
    method: Method,
    path: &str,
    csrf: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    app.client_on(web).api(method, path, csrf, body).await
}

pub(crate) async fn get(app: &TestApp, web: &Client, path: &str) -> (StatusCode, Value) {
    call(app, web, Method::GET, path, "", None).await
}

pub(crate) async fn create_user(app: &TestApp, h: &Holder, login: &str, group: &str) -> i64 {
    let (s, v) = call(
        app,
        &h.web,
        Method::POST,
        "/api/v1/account/users",
        &h.csrf,
        Some(json!({
            "login": login,
            "email": format!("{login}@example.org"),
            "password": USER_PASSWORD,
            "group": group,
            "description": format!("{login} of the team"),
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["login"], login);
    v["id"].as_i64().unwrap()
}

/// A local user's browser, signed in, with its anti-CSRF token.
pub(crate) async fn sign_in_as(app: &TestApp, identifier: &str) -> (Client, String) {
    let web = browser();
    let r = app.login(&web, identifier, USER_PASSWORD).await;
    assert_eq!(r.status(), 303, "{identifier}: {}", r.text().await.unwrap());
    // Scripts read the session's token from `me`, whatever their role.
    let (s, me) = get(app, &web, "/api/v1/account/users/me").await;
    assert_eq!(s, 200, "{me}");
    (web, me["csrf"].as_str().unwrap().to_owned())
}

fn login_body(html: &str) -> String {
    // The forms differ only by their fresh anti-CSRF token.
    match hidden(html, "csrf") {
        Some(t) => html.replace(&t, "TOKEN"),
        None => html.to_owned(),
    }
}

fn claims_of(jwt: &str) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

async fn user_count(app: &TestApp, h: &Holder) -> usize {
    let (s, v) = get(app, &h.web, "/api/v1/account/users").await;
    assert_eq!(s, 200);
    v["users"].as_array().unwrap().len()
}

mod login;
mod pages;
mod roles;
mod tokens;
