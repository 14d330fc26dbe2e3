//! The ways back in, as the seeds' "What do I do if I can't log in?" lists
//! them, with mail read from a real SMTP server on loopback: the forgotten
//! handle, the lost password and its reset link, the code mailed on a risky
//! login, login notifications, and the backup address.

use std::time::{Duration, Instant};

use guichet_tests::smtp::SmtpSink;
use guichet_tests::{Person, TestApp, browser, fresh_settings, hidden, set_cookie, spawn_with};

use crate::oidc::{REDIRECT, authorize_url, follow_to_client, param, pkce, redeem, web_app};
use crate::twofactor::enrol_totp;

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// An instance mailing through `sink`, with the given login-code policy.
async fn spawn_mailing(sink: &SmtpSink, email_code: &str) -> TestApp {
    let mut s = fresh_settings().await;
    sink.configure(&mut s);
    s.login.email_code = email_code.parse().expect("email_code");
    let mut app = spawn_with(s).await;
    app.mailbox = sink.dir().to_owned();
    app
}

/// Posts a pre-login form (forgot handle / password) the way a browser does:
/// the page first, its form filled in and sent with its anti-CSRF token.
async fn post_form(
    app: &TestApp,
    web: &reqwest::Client,
    page: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let form = app.client_on(web).get(page).await.form(page);
    form.fill(fields).send().await
}

/// What a response shows a client: status, location, body and cookie names
/// (values differ per request by design: fresh anti-CSRF tokens).
async fn observed(r: reqwest::Response) -> (u16, Option<String>, Vec<String>, String) {
    let status = r.status().as_u16();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let cookies = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_owned())
        .collect();
    (status, loc, cookies, r.text().await.unwrap())
}

/// Logs out through the account page's form; the device cookie stays.
async fn log_out(app: &TestApp, web: &reqwest::Client) {
    let account = app.client_on(web).get("/account").await;
    let r = account.form("/logout").submit().await;
    assert_eq!(r.status, 303);
}

fn link_in(mail: &str, path: &str) -> String {
    let start = mail
        .find(path)
        .unwrap_or_else(|| panic!("no {path} in {mail}"));
    let before = &mail[..start];
    let from = before.rfind("http").expect("an absolute link");
    mail[from..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .next()
        .unwrap()
        .replace("&amp;", "&")
}

fn token_of(link: &str) -> String {
    url::Url::parse(link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .expect("a token")
}

fn six_digits(mail: &str) -> String {
    let bytes = mail.as_bytes();
    for i in 0..bytes.len().saturating_sub(6) {
        let w = &bytes[i..i + 6];
        let edge_before = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let edge_after = i + 6 == bytes.len() || !bytes[i + 6].is_ascii_alphanumeric();
        if edge_before && edge_after && w.iter().all(u8::is_ascii_digit) {
            return String::from_utf8(w.to_vec()).unwrap();
        }
    }
    panic!("no 6-digit code in {mail}");
}

/// Logs in with the password; returns the browser, which must now be at the
/// mailed-code step.
async fn to_code_step(app: &TestApp, handle: &str, password: &str) -> reqwest::Client {
    let web = browser();
    let r = app.login(&web, handle, password).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login/email-code");
    assert!(
        set_cookie(&r, "guichet_session").is_none(),
        "no session before the code"
    );
    web
}

async fn enter_code(app: &TestApp, web: &reqwest::Client, code: &str) -> reqwest::Response {
    let page = app.client_on(web).get("/login/email-code").await;
    if page.field("csrf").is_none() {
        // No pending login any more: the form is gone; post without one
        // (hand-built on purpose, there is no form to follow).
        return web
            .post(app.url("/login/email-code"))
            .form(&[("csrf", "x"), ("code", code)])
            .send()
            .await
            .unwrap();
    }
    page.form("/login/email-code")
        .set("code", code)
        .send()
        .await
}

/// Posts the resend button of the mailed-code page.
async fn resend_code(app: &TestApp, web: &reqwest::Client) -> (u16, String) {
    let page = app.client_on(web).get("/login/email-code").await;
    let r = match page.try_form("/login/email-code/resend") {
        Some(form) => form.send().await,
        // No more resends: the page no longer offers the button; post it as
        // a browser still showing the previous page would.
        None => web
            .post(app.url("/login/email-code/resend"))
            .form(&[("csrf", page.field("csrf").expect("csrf").as_str())])
            .send()
            .await
            .unwrap(),
    };
    (r.status().as_u16(), r.text().await.unwrap())
}

/// What the page offers: a code field, a resend button, a way out.
fn offers(html: &str) -> (bool, bool, bool) {
    (
        html.contains(r#"name="code""#),
        html.contains(r#"action="/login/email-code/resend""#),
        html.contains(r#"href="/forgot-password""#) && html.contains(r#"href="/login""#),
    )
}

/// A client that claims an address with `X-Forwarded-For`, with a user agent
/// of its own so that its notice mail can be told apart.
fn forwarding_browser(claimed: &str, agent: &str) -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("x-forwarded-for", claimed.parse().unwrap());
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(agent)
        .default_headers(h)
        .build()
        .unwrap()
}

/// The code a login attempt of `web` waits for, mailed to `to`.
async fn code_mailed_to(sink: &SmtpSink, to: &str) -> String {
    let mail = sink.wait_for(to, "Sign-in code").await;
    six_digits(
        &mail
            .split("\r\n\r\n")
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

mod devices;
mod login_code;
mod reset;
