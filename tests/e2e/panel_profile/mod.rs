//! The profile, the primary-email change and the password change, as a
//! customer and a script see them.

use guichet_tests::{Person, TestApp, browser, problem, spawn_app};
use serde_json::{Value, json};

/// A signed-up, signed-in person and their browser.
async fn signed_in(app: &TestApp) -> (reqwest::Client, Person, String) {
    let p = Person::new("Paula", "Profil");
    let handle = app.signup(&p).await;
    let web = browser();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    (web, p, handle)
}

/// The session's form token, read from a page.
async fn token(app: &TestApp, web: &reqwest::Client, path: &str) -> String {
    let page = app.client_on(web).get(path).await;
    page.field("csrf")
        .unwrap_or_else(|| panic!("no token on {path}: {}", page.body))
}

async fn profile(app: &TestApp, web: &reqwest::Client) -> Value {
    let (status, v) = app.client_on(web).api_get("/api/v1/account/profile").await;
    assert_eq!(status, 200);
    v
}

/// The code of the mail to `to` about `needle`; the outbox is emptied
/// afterwards, so that the next mail of the same kind is told apart.
async fn take_code(app: &TestApp, to: &str, needle: &str) -> String {
    let code = code_in(&app.mail_to_with(to, needle).await);
    for e in std::fs::read_dir(app.outbox()).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "eml") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    code
}

/// The code of a mail: the line that is six digits and nothing else.
fn code_in(mail: &str) -> String {
    mail.lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in {mail}"))
        .to_owned()
}

fn fields(v: &Value) -> Vec<(String, String)> {
    v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_owned(),
                f["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn start_change(app: &TestApp, web: &reqwest::Client, to: &str) -> reqwest::Response {
    let page = app.client_on(web).get("/account/email").await;
    match page.try_form("/account/email") {
        Some(form) => form.set("new_email", to).send().await,
        // A change is pending: the page offers its code form instead; start
        // again as a browser still showing the earlier page would.
        None => web
            .post(app.url("/account/email"))
            .form(&[
                ("csrf", page.field("csrf").expect("csrf").as_str()),
                ("new_email", to),
            ])
            .send()
            .await
            .unwrap(),
    }
}

async fn enter_code(app: &TestApp, web: &reqwest::Client, code: &str) -> reqwest::Response {
    let page = app.client_on(web).get("/account/email").await;
    match page.try_form("/account/email/confirm") {
        Some(form) => form.set("code", code).send().await,
        // No change pending any more: the page no longer offers the form;
        // post it as a browser still showing the old page would.
        None => web
            .post(app.url("/account/email/confirm"))
            .form(&[
                ("csrf", page.field("csrf").expect("csrf").as_str()),
                ("code", code),
            ])
            .send()
            .await
            .unwrap(),
    }
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// The email page's JSON twin: the primary address and any pending change.
async fn email_state(app: &TestApp, web: &reqwest::Client) -> Value {
    let (status, v) = app.client_on(web).api_get("/api/v1/account/email").await;
    assert_eq!(status, 200);
    v
}

async fn profile_email(app: &TestApp, web: &reqwest::Client) -> String {
    email_state(app, web).await["primary_email"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn change_password(
    app: &TestApp,
    web: &reqwest::Client,
    current: &str,
    new: &str,
    confirm: &str,
) -> reqwest::Response {
    let page = app.client_on(web).get("/account/password").await;
    page.form("/account/password")
        .fill(&[
            ("current_password", current),
            ("password", new),
            ("password_confirm", confirm),
        ])
        .send()
        .await
}

mod email;
mod fields;
mod password;
