//! One authorization decision for every path to a code or a token: the
//! consent form, the resume after a login, `prompt=login` and `max_age`,
//! refresh; access cut off at once wherever it was granted; introspection
//! scoped to the client's own tokens; a code replayed while its first
//! redemption is in flight.

use guichet_tests::{Person, TestApp, bare_client, browser, spawn_app};
use oauth::clients::ClientSpec;
use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::oauth::introspect;
use crate::oidc::{
    REDIRECT, authorize_url, follow_to_client, offline_app, param, pkce, redeem, refresh, web_app,
};
use crate::users::{call, create_user, get, holder, sign_in_as};

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

async fn signed_in(app: &TestApp, first: &str) -> (Client, Person, String) {
    let p = Person::new(first, "Decision");
    let handle = app.signup(&p).await;
    let web = browser();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    (web, p, handle)
}

/// A third-party client (consent asked) with a secret.
async fn third_party(app: &TestApp, spec: ClientSpec) -> (String, String) {
    let (id, secret) = app.create_client(&spec).await;
    (id, secret.unwrap())
}

/// Opens the consent page of a fresh request: its request id and the
/// session's anti-CSRF token.
async fn consent_page(
    app: &TestApp,
    web: &Client,
    client_id: &str,
    challenge: &str,
) -> (String, String) {
    let page = app
        .client_on(web)
        .get(&authorize_url(app, client_id, challenge, &[]))
        .await;
    assert_eq!(page.status, 200, "the consent page");
    (
        page.field("request_id").expect("request_id"),
        page.field("csrf").expect("csrf"),
    )
}

/// Allows a request. Hand-built on purpose: consent.rs also sends another
/// person's request id with one's own token, which no page offers.
async fn answer(app: &TestApp, web: &Client, request_id: &str, csrf: &str) -> reqwest::Response {
    web.post(app.url("/oauth2/consent"))
        .form(&[
            ("csrf", csrf),
            ("request_id", request_id),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap()
}

fn claims_of(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

async fn userinfo_status(app: &TestApp, token: &str) -> u16 {
    bare_client()
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// An access token and a refresh token for the signed-in browser.
async fn tokens(app: &TestApp, web: &Client, id: &str, secret: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let url = authorize_url(app, id, &challenge, &[])
        .replace("scope=openid+email", "scope=openid+email+offline_access");
    let loc = follow_to_client(app, web, url).await;
    let code = param(&loc, "code").unwrap();
    let r = redeem(app, id, secret, &code, &verifier).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn assert_cut_off(
    app: &TestApp,
    id: &str,
    secret: &str,
    access: &str,
    refresh_token: &str,
    why: &str,
) {
    assert_eq!(
        introspect(app, id, secret, access).await["active"],
        false,
        "{why}: introspection"
    );
    assert_eq!(userinfo_status(app, access).await, 401, "{why}: userinfo");
    let r = refresh(app, id, secret, refresh_token, None).await;
    assert_eq!(r.status(), 400, "{why}: refresh");
}

/// The browser's session is gone: account pages send it to the login.
async fn assert_signed_out(app: &TestApp, web: &Client) {
    let r = web.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 303, "the session is gone");
    assert!(location(&r).starts_with("/login"));
}

mod consent;
mod cutoff;
