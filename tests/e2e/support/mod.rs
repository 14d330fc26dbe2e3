//! Support flows for customers who cannot log in, through the operator API
//! (and through `guichet support`): what the customer and the operator each
//! observe, the support trail, the audit lines, and the refusals that change
//! nothing.

use std::process::Command;

use guichet_tests::{
    OPERATOR_NAME, OPERATOR_TOKEN, Person, TestApp, bare_client, browser, env_for, free_port,
    fresh_settings, problem, redis_url, spawn_app, spawn_with, unique, wait_ready,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::guichet_bin;
use crate::oidc::{authorize_url, follow_to_client, param, pkce, redeem, web_app};

/// A request to the operator API with the test operator's token.
fn op(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    bare_client()
        .request(method, app.operator_url(path))
        .bearer_auth(OPERATOR_TOKEN)
}

/// Runs a support flow; returns the status, the raw body and its JSON.
async fn support(app: &TestApp, account: &str, flow: &str, body: Value) -> (u16, String, Value) {
    let r = op(
        app,
        Method::POST,
        &format!("/admin/v1/accounts/{account}/{flow}"),
    )
    .json(&body)
    .send()
    .await
    .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, text, v)
}

/// The account summary and support trail the operator sees.
async fn trail(app: &TestApp, account: &str) -> Value {
    let r = op(
        app,
        Method::GET,
        &format!("/admin/v1/accounts/{account}/support-actions"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// No operator answer may hold a secret of any kind.
fn assert_no_secret(body: &str) {
    for word in [
        "password",
        "hash",
        "argon2",
        "token=",
        "\"token\"",
        "\"link\"",
        "\"code\"",
    ] {
        assert!(
            !body.contains(word),
            "{word:?} in an operator answer: {body}"
        );
    }
}

/// A body for `flow` with this case reference, and an address where the
/// flow takes one.
fn body_for(flow: &str, case_ref: Value) -> Value {
    if flow == "replace-primary-email" {
        json!({"case_ref": case_ref, "email": format!("{}@example.org", unique("x"))})
    } else {
        json!({"case_ref": case_ref})
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The code of a mailed code message: the line that is six digits alone.
fn mailed_code(mail: &str) -> String {
    mail.lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in {mail}"))
        .to_owned()
}

/// Signs up a person with a backup address; returns the handle and the backup.
async fn signup_with_backup(app: &TestApp, p: &Person) -> (String, String) {
    let backup = format!("{}@backup.example.org", unique("b"));
    let mut body = p.signup_json();
    body["backup_email"] = json!(backup);
    let handle = guichet_tests::signup_at(&app.base, &app.mailbox, &body).await;
    (handle, backup)
}

/// Logs in; when the login asks for the code mailed to `inbox`, enters it.
/// Returns the final response of the login.
async fn log_in(
    app: &TestApp,
    web: &reqwest::Client,
    identifier: &str,
    password: &str,
    inbox: &str,
) -> reqwest::Response {
    let r = app.login(web, identifier, password).await;
    if r.status() != 303 || location(&r) != "/login/email-code" {
        return r;
    }
    let mail = app.mail_to_with(inbox, "Sign-in code").await;
    let page = app.client_on(web).get("/login/email-code").await;
    page.form("/login/email-code")
        .set("code", &mailed_code(&mail))
        .send()
        .await
}

/// Where `GET /account` sends this browser: `None` for the page itself.
async fn account_page(app: &TestApp, web: &reqwest::Client) -> Option<String> {
    let r = web.get(app.url("/account")).send().await.unwrap();
    match r.status().as_u16() {
        200 => None,
        303 | 302 | 307 => Some(location(&r)),
        s => panic!("GET /account answered {s}"),
    }
}

/// A browser logged in with the password alone, on `/account`.
async fn open_session(app: &TestApp, identifier: &str, p: &Person) -> reqwest::Client {
    let web = browser();
    let r = log_in(app, &web, identifier, &p.password, &p.email).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account");
    assert_eq!(account_page(app, &web).await, None);
    web
}

/// A relying party with a refresh token for the signed-in browser `web`,
/// shown to work once (the answer is the rotated token): its id, secret and
/// refresh token.
async fn offline_client(app: &TestApp, web: &reqwest::Client) -> (String, String, String) {
    let spec = oauth::clients::ClientSpec {
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: ["openid", "email", "offline_access"]
            .map(String::from)
            .to_vec(),
        ..web_app(true)
    };
    let (id, secret) = app.create_client(&spec).await;
    let secret = secret.unwrap();
    let (verifier, challenge) = pkce();
    let url = authorize_url(app, &id, &challenge, &[])
        .replace("scope=openid+email", "scope=openid+email+offline_access");
    let code = param(&follow_to_client(app, web, url).await, "code").unwrap();
    let r = redeem(app, &id, &secret, &code, &verifier).await;
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    let r = bare_client()
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rotated: Value = r.json().await.unwrap();
    let refresh = rotated["refresh_token"].as_str().unwrap().to_owned();
    (id, secret, refresh)
}

/// The status of a refresh-token grant.
async fn refresh_status(app: &TestApp, id: &str, secret: &str, token: &str) -> u16 {
    bare_client()
        .post(app.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Runs `guichet support …` against the instance's database and session store.
fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(guichet_bin())
        .arg("support")
        .args(args)
        .envs(env_for(&app.settings))
        .env("GUICHET__SERVER__PUBLIC_URL", &app.base)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

mod emails;
mod sessions;
