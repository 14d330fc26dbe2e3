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
/// the page first, for its anti-CSRF token.
async fn post_form(
    app: &TestApp,
    web: &reqwest::Client,
    page: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let html = web
        .get(app.url(page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf").expect("a csrf field");
    let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    web.post(app.url(page)).form(&form).send().await.unwrap()
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
    let html = web
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf").expect("the account page's form");
    let r = web
        .post(app.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
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

#[tokio::test]
async fn a_forgotten_handle_is_mailed_and_the_page_says_the_same_for_anyone() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "never").await;
    let p = Person::new("Hana", "Handle");
    let handle = app.signup(&p).await;

    let known = post_form(&app, &browser(), "/forgot-handle", &[("email", &p.email)]).await;
    let unknown = post_form(
        &app,
        &browser(),
        "/forgot-handle",
        &[("email", "nobody@example.com")],
    )
    .await;
    let (known, unknown) = (observed(known).await, observed(unknown).await);
    assert_eq!(known.0, 303);
    assert_eq!(known, unknown, "same status, location, cookies and body");

    let mail = sink.wait_for(&p.email, "handle").await;
    assert!(mail.contains(&handle), "{mail}");
    // The page it leads to says to look in the spam folder.
    let page = browser()
        .get(app.url("/forgot-handle?sent=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("spam"), "{page}");
    // A malformed address is refused clearly, and nothing is sent.
    let r = post_form(
        &app,
        &browser(),
        "/forgot-handle",
        &[("email", "not an address")],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("valid email"));
    app.mail_quiet().await;
    assert!(sink.messages_to("nobody@example.com", "").is_empty());
}

#[tokio::test]
async fn a_reset_link_works_once_ends_every_session_and_token_and_tells_both_addresses() {
    let sink = SmtpSink::start();
    // No delays: this test tries several refused forms in a row; the delays a
    // wrong handle earns are tested in guesses.rs.
    let mut s = fresh_settings().await;
    sink.configure(&mut s);
    s.login.email_code = guichet::settings::EmailCode::Never;
    s.login.failure_delays_secs = vec![std::time::Duration::ZERO];
    let mut app = spawn_with(s).await;
    app.mailbox = sink.dir().to_owned();
    let mut p = Person::new("Rosa", "Reset");
    let backup = format!("backup-{}", p.email);
    let mut body = p.signup_json();
    body["backup_email"] = backup.clone().into();
    let handle = guichet_tests::signup_at(&app.base, &app.mailbox, &body).await;

    // A browser signed in, and a relying party holding a refresh token.
    let before = browser();
    assert_eq!(app.login(&before, &handle, &p.password).await.status(), 303);
    let spec = oauth::clients::ClientSpec {
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: ["openid", "offline_access"].map(String::from).to_vec(),
        ..web_app(true)
    };
    let (client_id, secret) = app.create_client(&spec).await;
    let secret = secret.unwrap();
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &client_id, &challenge, &[])
        .replace("scope=openid+email", "scope=openid+offline_access");
    let loc = follow_to_client(&app, &before, url).await;
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let tokens: serde_json::Value = redeem(
        &app,
        &client_id,
        &secret,
        &param(&loc, "code").unwrap(),
        &verifier,
    )
    .await
    .json()
    .await
    .unwrap();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();

    // The request, sent with a hostile Host: the link still names the
    // configured public URL.
    let web = browser();
    let html = web
        .get(app.url("/forgot-password"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf").unwrap();
    let r = web
        .post(app.url("/forgot-password"))
        .header("x-forwarded-host", "evil.example")
        .form(&[
            ("csrf", csrf.as_str()),
            ("identifier", handle.to_uppercase().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let mail = sink.wait_for(&p.email, "reset-password").await;
    let link = link_in(&mail, "/reset-password?token=");
    assert!(
        link.starts_with(
            &app.settings
                .server
                .public_url
                .as_ref()
                .map_or("", |u| u.as_str())
                .trim_end_matches('/')
                .to_string()
        ) || link.starts_with(&app.base),
        "{link}"
    );
    assert!(!link.contains("evil.example"));
    let token = token_of(&link);
    assert!(token.len() >= 32, "at least 128 bits");
    assert!(
        sink.messages_to(&backup, "reset-password").is_empty(),
        "the link goes to the primary only"
    );

    let page = web
        .get(app.url(&format!("/reset-password?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let new_password = "amber lighthouse in fog";
    let reset = |handle: String, pw: &'static str, confirm: &'static str| {
        let web = web.clone();
        let url = app.url("/reset-password");
        let token = token.clone();
        async move {
            web.post(url)
                .form(&[
                    ("token", token.as_str()),
                    ("handle", handle.as_str()),
                    ("password", pw),
                    ("password_confirm", confirm),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // The wrong handle, a mismatched confirmation, the current password: each
    // refused with its reason, and the link still works afterwards.
    let r = reset("zz99999-ovh".into(), new_password, new_password).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("not the customer handle"));
    let r = reset(handle.clone(), new_password, "amber lighthouse in mist").await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("differ"));
    let r = reset(
        handle.clone(),
        "violet staircase under rain",
        "violet staircase under rain",
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("not used"));
    assert_eq!(
        app.login(&browser(), &handle, &p.password).await.status(),
        303,
        "unchanged so far"
    );

    let r = reset(handle.clone(), new_password, new_password).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/reset-password/done");
    assert!(
        set_cookie(&r, "guichet_session").is_none(),
        "no automatic login"
    );
    // Once only.
    let r = reset(
        handle.clone(),
        "another fine password",
        "another fine password",
    )
    .await;
    assert_eq!(r.status(), 410);
    let r = web
        .get(app.url(&format!("/reset-password?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);

    // The session from before is dead; so is the refresh token.
    let r = before.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
    let r = reqwest::Client::new()
        .post(app.url("/oauth2/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    // Both addresses are told; the old password is dead, the new one works.
    sink.wait_for(&p.email, &handle).await;
    let notice = sink.wait_for(&backup, &handle).await;
    assert!(
        !notice.contains(&token),
        "the notice holds no link to reuse"
    );
    assert_eq!(
        app.login(&browser(), &handle, &p.password).await.status(),
        401
    );
    p.password = new_password.into();
    // Past the one-second delay the old password earned.
    app.clock.advance(Duration::from_millis(1100));
    assert_eq!(
        app.login(&browser(), &handle, &p.password).await.status(),
        303
    );
}

#[tokio::test]
async fn an_expired_reset_link_fails_and_unknown_identifiers_look_the_same() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "never").await;
    let p = Person::new("Elio", "Expired");
    let handle = app.signup(&p).await;

    let known = observed(
        post_form(
            &app,
            &browser(),
            "/forgot-password",
            &[("identifier", &handle)],
        )
        .await,
    )
    .await;
    let unknown = observed(
        post_form(
            &app,
            &browser(),
            "/forgot-password",
            &[("identifier", "zz99999-ovh")],
        )
        .await,
    )
    .await;
    let not_an_id = observed(
        post_form(
            &app,
            &browser(),
            "/forgot-password",
            &[("identifier", "hello there")],
        )
        .await,
    )
    .await;
    assert_eq!(known.0, 303);
    assert_eq!(known, unknown);
    assert_eq!(known, not_an_id);

    let mail = sink.wait_for(&p.email, "reset-password").await;
    let token = token_of(&link_in(&mail, "/reset-password?token="));
    // The link lives an hour: on the app's clock, still live a few seconds
    // before (the mail took less than that to come), dead a few after.
    app.clock.advance(Duration::from_secs(3600 - 5));
    let r = browser()
        .get(app.url(&format!("/reset-password?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "live until its hour is up");
    app.clock.advance(Duration::from_secs(10));
    let r = browser()
        .get(app.url(&format!("/reset-password?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("Ask for a new"));
    let r = browser()
        .post(app.url("/reset-password"))
        .form(&[
            ("token", token.as_str()),
            ("handle", handle.as_str()),
            ("password", "amber lighthouse in fog"),
            ("password_confirm", "amber lighthouse in fog"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert_eq!(
        app.login(&browser(), &handle, &p.password).await.status(),
        303,
        "nothing changed"
    );
}

#[tokio::test]
async fn with_smtp_down_a_reset_answers_as_fast_and_the_mail_arrives_once_it_is_back() {
    let mut sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "never").await;
    let p = Person::new("Dora", "Down");
    let handle = app.signup(&p).await;
    sink.wait_for(&p.email, &handle).await;

    let web = browser();
    let t = Instant::now();
    let up = post_form(
        &app,
        &web,
        "/forgot-password",
        &[("identifier", "zz99999-ovh")],
    )
    .await;
    let quick = t.elapsed();
    assert_eq!(up.status(), 303);

    sink.stop();
    let t = Instant::now();
    let r = post_form(&app, &web, "/forgot-password", &[("identifier", &handle)]).await;
    let down = t.elapsed();
    assert_eq!(r.status(), 303);
    assert!(
        down < quick + Duration::from_millis(500),
        "SMTP down: {down:?}, up: {quick:?}"
    );
    app.mail_settled().await;
    assert!(sink.messages_to(&p.email, "reset-password").is_empty());
    sink.restart();
    // Straight to the first retry instead of waiting out its back-off.
    app.clock.advance(mail::backoff(1));
    let mail = sink
        .wait_for_within(&p.email, "reset-password", Duration::from_secs(60))
        .await;
    let token = token_of(&link_in(&mail, "/reset-password?token="));
    let r = browser()
        .get(app.url(&format!("/reset-password?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the queued link works");
}

#[tokio::test]
async fn two_factor_is_still_asked_after_a_reset() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "never").await;
    let p = Person::new("Tomas", "Twofa");
    let handle = app.signup(&p).await;
    let web = browser();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    enrol_totp(&app, &web).await;

    post_form(
        &app,
        &browser(),
        "/forgot-password",
        &[("identifier", &p.email)],
    )
    .await;
    let mail = sink.wait_for(&p.email, "reset-password").await;
    let token = token_of(&link_in(&mail, "/reset-password?token="));
    let pw = "amber lighthouse in fog";
    let r = browser()
        .post(app.url("/reset-password"))
        .form(&[
            ("token", token.as_str()),
            ("handle", handle.as_str()),
            ("password", pw),
            ("password_confirm", pw),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // The enrolment's session is dead, and the new password alone is not enough.
    let r = web.get(app.url("/account")).send().await.unwrap();
    assert!(location(&r).starts_with("/login"));
    let again = browser();
    let r = app.login(&again, &handle, pw).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login/2fa");
    assert!(set_cookie(&r, "guichet_session").is_none());
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
    let r = web.get(app.url("/login/email-code")).send().await.unwrap();
    let html = r.text().await.unwrap();
    let Some(csrf) = hidden(&html, "csrf") else {
        // No pending login any more: the form is gone; post without one.
        return web
            .post(app.url("/login/email-code"))
            .form(&[("csrf", "x"), ("code", code)])
            .send()
            .await
            .unwrap();
    };
    web.post(app.url("/login/email-code"))
        .form(&[("csrf", csrf.as_str()), ("code", code)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_risky_login_code_works_once_and_only_for_its_attempt() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "risk").await;
    let p = Person::new("Rick", "Risky");
    let handle = app.signup(&p).await;

    // Two logins from two new devices: two codes, each bound to its attempt.
    let a = to_code_step(&app, &handle, &p.password).await;
    let page = a
        .get(app.url("/login/email-code"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("spam"), "{page}");
    assert!(!page.contains(&p.email), "the address is masked");
    let mail_a = sink.wait_for(&p.email, "Sign-in code").await;
    let code_a = six_digits(
        &mail_a
            .split("\r\n\r\n")
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let b = to_code_step(&app, &handle, &p.password).await;
    let r = a.get(app.url("/account")).send().await.unwrap();
    assert!(
        location(&r).starts_with("/login"),
        "no account page before the code"
    );

    let r = enter_code(&app, &b, &code_a).await;
    assert_eq!(r.status(), 401, "A's code does not open B's login");
    // Wrong codes count per account: past the one-second delay B earned.
    app.clock.advance(Duration::from_millis(1100));
    let r = enter_code(&app, &a, &code_a).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    assert_eq!(location(&r), "/account");
    assert!(set_cookie(&r, "guichet_session").is_some());
    assert!(set_cookie(&r, "guichet_device").is_some());
    let r = a.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // The same code again, even at once: the pending login is gone.
    let r = enter_code(&app, &a, &code_a).await;
    assert_eq!(location(&r), "/login", "nothing to enter a code for");
    assert!(set_cookie(&r, "guichet_session").is_none());

    // From the device that passed, the next login needs no code...
    log_out(&app, &a).await;
    let r = app.login(&a, &handle, &p.password).await;
    assert_eq!(location(&r), "/account");
    // ...unless failures came first.
    log_out(&app, &a).await;
    let r = app.login(&a, &handle, "wrong password, surely").await;
    assert_eq!(r.status(), 401);
    app.clock.advance(Duration::from_millis(1100));
    let r = app.login(&a, &handle, &p.password).await;
    assert_eq!(location(&r), "/login/email-code");
}

#[tokio::test]
async fn wrong_login_codes_are_slowed_and_void_the_code_after_five() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "always").await;
    let p = Person::new("Wanda", "Wrong");
    let handle = app.signup(&p).await;
    let web = to_code_step(&app, &handle, &p.password).await;
    let mail = sink.wait_for(&p.email, "Sign-in code").await;
    let code = six_digits(
        &mail
            .split("\r\n\r\n")
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let r = enter_code(&app, &web, &wrong).await;
    assert_eq!(r.status(), 401);
    let r = enter_code(&app, &web, &code).await;
    assert_eq!(r.status(), 429, "a delay after a wrong code");
    assert!(r.headers().contains_key("retry-after"));
    app.clock.advance(Duration::from_millis(1100));
    let r = enter_code(&app, &web, &code).await;
    assert_eq!(r.status(), 303);
}

/// Posts the resend button of the mailed-code page.
async fn resend_code(app: &TestApp, web: &reqwest::Client) -> (u16, String) {
    let html = web
        .get(app.url("/login/email-code"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf").unwrap();
    let r = web
        .post(app.url("/login/email-code/resend"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
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

#[tokio::test]
async fn when_no_more_login_codes_can_come_the_page_says_so_and_what_to_do() {
    let mut s = fresh_settings().await;
    s.login.email_code = guichet::settings::EmailCode::Always;
    // No delays between wrong codes: this test is about the mail limits.
    s.login.failure_delays_secs = vec![std::time::Duration::ZERO];
    let app = spawn_with(s).await;
    let p = Person::new("Lim", "Ited");
    let handle = app.signup(&p).await;

    // One login may have three mails: the first and two resends.
    let web = to_code_step(&app, &handle, &p.password).await;
    for _ in 0..2 {
        let (status, html) = resend_code(&app, &web).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("We sent a new code"), "{html}");
    }
    let (status, html) = resend_code(&app, &web).await;
    assert_eq!(status, 429);
    assert!(
        html.contains("We cannot send another code for this login. Enter the last code we sent"),
        "{html}"
    );
    assert_eq!(
        offers(&html),
        (true, false, true),
        "the last code still works"
    );
    // Five wrong codes void it: no code field, no resend button, the way out.
    let mut last = String::new();
    for _ in 0..5 {
        let r = enter_code(&app, &web, "000000").await;
        assert_eq!(r.status(), 401);
        last = r.text().await.unwrap();
    }
    assert!(
        last.contains("This code no longer works, and this login cannot get another one. Log in again to get a new code."),
        "{last}"
    );
    assert_eq!(offers(&last), (false, false, true));
    assert!(
        !last.contains("We sent a 6-digit code"),
        "no code is announced"
    );

    // Ten code mails an hour per account: two more logins of three mails and
    // one of one reach it; the next login is told no code is coming.
    for mails in [3, 3, 1] {
        let web = to_code_step(&app, &handle, &p.password).await;
        for _ in 1..mails {
            assert_eq!(resend_code(&app, &web).await.0, 200);
        }
    }
    let web = to_code_step(&app, &handle, &p.password).await;
    let html = web
        .get(app.url("/login/email-code"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("No code is on its way") && html.contains("Log in again in 60 minutes"),
        "{html}"
    );
    assert_eq!(offers(&html), (false, false, true));
    assert!(!html.contains("We sent a 6-digit code"), "{html}");

    // The same in French and Italian.
    for (lang, text) in [
        ("fr", "Aucun code n&#39;est en route"),
        ("it", "Nessun codice è in arrivo"),
    ] {
        web.get(app.url(&format!("/lang/{lang}")))
            .send()
            .await
            .unwrap();
        let html = web
            .get(app.url("/login/email-code"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains(text) || html.contains(&text.replace("&#39;", "'")),
            "{lang}: {html}"
        );
    }
}

#[tokio::test]
async fn a_login_from_a_new_device_is_notified_once_and_can_be_switched_off() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "never").await;
    let p = Person::new("Nina", "Notice");
    let handle = app.signup(&p).await;
    let web = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("TestBrowser/1.0 (Notification check)")
        .build()
        .unwrap();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    let mail = sink.wait_for(&p.email, "TestBrowser/1.0").await;
    assert!(mail.contains(&handle), "{mail}");
    assert!(mail.contains("127.0.0.1"), "{mail}");
    assert!(
        mail.contains("/account/security"),
        "what to do if it was not them"
    );
    let count = || sink.messages_to(&p.email, "TestBrowser/1.0").len();
    assert_eq!(count(), 1);

    // The same device again: no new notice.
    log_out(&app, &web).await;
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    app.mail_quiet().await;
    assert_eq!(count(), 1);

    // Switched off on the account page: a new device sends nothing.
    let html = web
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf").unwrap();
    let r = web
        .post(app.url("/account/notifications"))
        .form(&[("csrf", csrf.as_str()), ("on", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("OtherBrowser/2.0")
        .build()
        .unwrap();
    assert_eq!(app.login(&other, &handle, &p.password).await.status(), 303);
    app.mail_quiet().await;
    assert!(sink.messages_to(&p.email, "OtherBrowser/2.0").is_empty());
    // Bad input changes nothing.
    let r = web
        .post(app.url("/account/notifications"))
        .form(&[("csrf", csrf.as_str()), ("on", "maybe")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn a_backup_email_becomes_active_only_with_its_code_and_must_differ() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "never").await;
    let p = Person::new("Bea", "Backup");
    let handle = app.signup(&p).await;
    let web = browser();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    let form = web
        .get(app.url("/account/backup-email"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&form, "csrf").unwrap();
    let post = |email: String| {
        let web = web.clone();
        let url = app.url("/account/backup-email");
        let csrf = csrf.clone();
        async move {
            web.post(url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("backup_email", email.as_str()),
                    ("next", "/account"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let r = post(p.email.to_uppercase()).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("must differ"));
    let r = post("not-an-address".into()).await;
    assert_eq!(r.status(), 422);

    let backup = format!("spare-{}", p.email);
    let r = post(backup.clone()).await;
    assert_eq!(r.status(), 200);
    let account = web
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!account.contains(&backup), "not active before the code");
    let mail = sink.wait_for(&backup, "Confirm your backup").await;
    let code = six_digits(
        &mail
            .split("\r\n\r\n")
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let confirm = |code: String| {
        let web = web.clone();
        let url = app.url("/account/backup-email/confirm");
        let csrf = csrf.clone();
        async move {
            web.post(url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("code", code.as_str()),
                    ("next", "/account"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 7) % 1_000_000);
    assert_eq!(confirm(wrong).await.status(), 401);
    let r = confirm(code.clone()).await;
    assert_eq!(r.status(), 303);
    let account = web
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(account.contains(&backup), "{account}");
    // The primary address is told; the code is spent.
    sink.wait_for(&p.email, &backup).await;
    let r = confirm(code).await;
    assert_eq!(
        location(&r),
        "/account/backup-email",
        "nothing pending any more"
    );
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

#[tokio::test]
async fn x_forwarded_for_is_believed_only_from_a_trusted_proxy_range() {
    let sink = SmtpSink::start();
    // Not trusted: the header is the client's own claim and is ignored.
    let app = spawn_mailing(&sink, "never").await;
    let p = Person::new("Ivo", "Forwarded");
    let handle = app.signup(&p).await;
    let web = forwarding_browser("198.51.100.7", "Claimant/1.0");
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    let mail = sink.wait_for(&p.email, "Claimant/1.0").await;
    assert!(mail.contains("127.0.0.1"), "{mail}");
    assert!(!mail.contains("198.51.100.7"), "a claimed address: {mail}");

    // The loopback range trusted, as a proxy's pod range would be: the last
    // address that is not a proxy is the client's.
    let mut s = fresh_settings().await;
    sink.configure(&mut s);
    s.login.email_code = guichet::settings::EmailCode::Never;
    s.login.trusted_proxies = vec![server::config::IpNet::parse("127.0.0.0/8").unwrap()];
    let mut app = spawn_with(s).await;
    app.mailbox = sink.dir().to_owned();
    let p = Person::new("Ida", "Forwarded");
    let handle = app.signup(&p).await;
    let web = forwarding_browser("203.0.113.50, 198.51.100.9, 127.0.0.5", "Proxied/1.0");
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    let mail = sink.wait_for(&p.email, "Proxied/1.0").await;
    assert!(mail.contains("198.51.100.9"), "{mail}");
    assert!(
        !mail.contains("203.0.113.50"),
        "an address before the last untrusted hop can be forged: {mail}"
    );
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

#[tokio::test]
async fn a_local_users_risky_login_is_checked_at_their_own_address_and_leaves_the_holders_devices_alone()
 {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "risk").await;
    let p = Person::new("Holly", "Holder");
    let handle = app.signup(&p).await;
    let holder = to_code_step(&app, &handle, &p.password).await;
    let code = code_mailed_to(&sink, &p.email).await;
    assert_eq!(
        location(&enter_code(&app, &holder, &code).await),
        "/account"
    );
    let (status, me) = crate::users::get(&app, &holder, "/api/v1/account/users/me").await;
    assert_eq!(status, 200, "{me}");
    let h = crate::users::Holder {
        web: holder,
        person: p.clone(),
        handle: handle.clone(),
        code: me["customer_code"].as_str().unwrap().to_owned(),
        csrf: me["csrf"].as_str().unwrap().to_owned(),
    };
    crate::users::create_user(&app, &h, "amy", "DEFAULT").await;

    // Amy signs in on a device new to her: the code goes to her, not to
    // the holder, and the page shows her address masked.
    let device = to_code_step(&app, &format!("{handle}/amy"), crate::users::USER_PASSWORD).await;
    let page = device
        .get(app.url("/login/email-code"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("a•••@example.org"), "{page}");
    let code = code_mailed_to(&sink, "amy@example.org").await;
    let r = enter_code(&app, &device, &code).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account");
    let (_, me) = crate::users::get(&app, &device, "/api/v1/account/users/me").await;
    assert_eq!(me["actor"], "user", "signed in as Amy: {me}");
    // Only the holder's own code ever reached the holder.
    assert_eq!(sink.messages_to(&p.email, "Sign-in code").len(), 1);

    // Amy's device is now known to Amy: her next login there needs no code.
    log_out(&app, &device).await;
    let r = app
        .login(
            &device,
            &format!("{handle}/amy"),
            crate::users::USER_PASSWORD,
        )
        .await;
    assert_eq!(location(&r), "/account");
    // The holder on Amy's device is still on a new device: a code is due.
    log_out(&app, &device).await;
    let r = app.login(&device, &handle, &p.password).await;
    assert_eq!(location(&r), "/login/email-code");
}
