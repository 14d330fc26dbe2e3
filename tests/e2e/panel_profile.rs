//! The profile, the primary-email change and the password change, as a
//! customer and a script see them.

use guichet_tests::{Person, TestApp, browser, hidden, problem, spawn_app};
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
    let html = web
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    hidden(&html, "csrf").unwrap_or_else(|| panic!("no token on {path}: {html}"))
}

async fn profile(app: &TestApp, web: &reqwest::Client) -> Value {
    let r = web
        .get(app.url("/api/v1/account/profile"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
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

#[tokio::test]
async fn the_profile_refuses_each_wrong_field_and_saves_nothing_until_all_are_right() {
    let app = spawn_app().await;
    let (web, p, handle) = signed_in(&app).await;
    let before = profile(&app, &web).await;
    assert_eq!(before["handle"], handle.as_str());
    assert_eq!(before["first_name"], "Paula");
    let csrf = token(&app, &web, "/account/profile").await;

    let wrong = json!({
        "first_name": "",
        "last_name": "x".repeat(101),
        "kind": "company",
        "company_name": "",
        "city": "Lyon",
        "postcode": "69<001",
        "phone": "0612345678",
        "country": "ZZ",
        "language": "de",
    });
    let r = web
        .put(app.url("/api/v1/account/profile"))
        .header("x-csrf-token", &csrf)
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(problem(&v), "invalid-request");
    let got = fields(&v);
    let want = [
        ("first_name", "required"),
        ("last_name", "too_long"),
        ("company_name", "required"),
        ("address_line1", "required"),
        ("postcode", "bad_characters"),
        ("phone", "invalid_phone"),
        ("country", "unknown_country"),
        ("language", "unknown_language"),
    ];
    for (f, c) in want {
        assert!(
            got.contains(&(f.to_owned(), c.to_owned())),
            "{f}: {c} missing in {got:?}"
        );
    }
    assert!(v["errors"][0]["detail"].as_str().unwrap().len() > 5);
    assert_eq!(profile(&app, &web).await, before, "nothing saved");

    // One field wrong among right ones: still nothing saved.
    let almost = json!({
        "first_name": "Paulette", "last_name": "Profil", "kind": "individual",
        "phone": "+33 6 12", "country": "FR", "language": "fr",
    });
    let r = web
        .put(app.url("/api/v1/account/profile"))
        .header("x-csrf-token", &csrf)
        .json(&almost)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        fields(&r.json().await.unwrap()),
        [("phone".into(), "invalid_phone".into())]
    );
    assert_eq!(profile(&app, &web).await, before);

    // Without the token header: refused, nothing saved.
    let right = json!({
        "first_name": "Paulette", "last_name": "Profil", "kind": "company",
        "company_name": "Profil & Fils", "address_line1": "2 rue Kellermann",
        "postcode": "59100", "city": "Roubaix", "region": "Hauts-de-France",
        "phone": "+33 6 12 34 56 78", "country": "fr", "language": "it",
    });
    let r = web
        .put(app.url("/api/v1/account/profile"))
        .json(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(problem(&r.json::<Value>().await.unwrap()), "forbidden");
    assert_eq!(profile(&app, &web).await, before);
    // Without a session: 401 in JSON.
    let r = reqwest::Client::new()
        .put(app.url("/api/v1/account/profile"))
        .header("x-csrf-token", &csrf)
        .json(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let r = web
        .put(app.url("/api/v1/account/profile"))
        .header("x-csrf-token", &csrf)
        .json(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let after = profile(&app, &web).await;
    assert_eq!(after["first_name"], "Paulette");
    assert_eq!(after["company_name"], "Profil & Fils");
    assert_eq!(after["phone"], "+33612345678");
    assert_eq!(after["country"], "FR");
    assert_eq!(after["address"]["city"], "Roubaix");
    assert_eq!(after["language"], "it");

    // The form: an error shows the field's message tied to it, in the
    // profile's new language, and saves nothing.
    let r = web
        .post(app.url("/account/profile"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("first_name", "Paola"),
            ("last_name", "Profil"),
            ("kind", "individual"),
            ("phone", "+39 abc"),
            ("country", "IT"),
            ("language", "it"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"it\">"));
    assert!(html.contains("aria-describedby=\"phone-error\""), "{html}");
    assert!(html.contains("id=\"phone-error\""));
    assert!(html.contains("formato internazionale"));
    assert_eq!(profile(&app, &web).await, after);
    let r = web
        .post(app.url("/account/profile"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("first_name", "Paola"),
            ("last_name", "Profil"),
            ("kind", "individual"),
            ("phone", ""),
            ("country", "IT"),
            ("language", "en"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account/profile?saved=1");
    let html = web
        .get(app.url("/account/profile?saved=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Your profile is saved."));
    // The header at the top right: name, handle and customer code.
    assert!(html.contains("Paola Profil"));
    assert!(html.contains(&handle));
    let now = profile(&app, &web).await;
    assert_eq!(now["company_name"], Value::Null);
    assert_eq!(now["phone"], Value::Null);
    assert_eq!(now["address"], Value::Null);
    assert_eq!(now["customer_code"], before["customer_code"]);
    let log = web
        .get(app.url("/api/v1/account/security-log"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(log.contains("profile_changed"), "{log}");
    let _ = p;
}

async fn start_change(app: &TestApp, web: &reqwest::Client, to: &str) -> reqwest::Response {
    let csrf = token(app, web, "/account/email").await;
    web.post(app.url("/account/email"))
        .form(&[("csrf", csrf.as_str()), ("new_email", to)])
        .send()
        .await
        .unwrap()
}

async fn enter_code(app: &TestApp, web: &reqwest::Client, code: &str) -> reqwest::Response {
    let csrf = token(app, web, "/account/email").await;
    web.post(app.url("/account/email/confirm"))
        .form(&[("csrf", csrf.as_str()), ("code", code)])
        .send()
        .await
        .unwrap()
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn the_primary_email_changes_only_after_a_code_from_each_address() {
    let app = spawn_app().await;
    let (web, p, handle) = signed_in(&app).await;
    let other = Person::new("Otto", "Other");
    app.signup(&other).await;

    // Refused addresses, each with its reason, and no mail.
    for (to, code) in [
        ("not an address", "invalid_email"),
        (p.email.as_str(), "same_as_current"),
        (other.email.as_str(), "email_taken"),
        ("", "required"),
    ] {
        let r = start_change(&app, &web, to).await;
        assert_eq!(r.status(), 422, "{to}");
        let html = r.text().await.unwrap();
        assert!(html.contains("id=\"new_email-error\""), "{to}: {code}");
    }

    let new = format!("new-{}", p.email);
    let r = start_change(&app, &web, &new).await;
    assert_eq!(r.status(), 303);
    let mail = app
        .mail_to_with(&p.email, "Approve the change of primary email")
        .await;
    let first = code_in(&mail);
    let page = web
        .get(app.url("/account/email"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("I have received my validation code"));
    assert_eq!(
        profile_email(&app, &web).await,
        p.email,
        "nothing changed yet"
    );

    // A wrong code counts and changes nothing.
    let r = enter_code(&app, &web, &wrong(&first)).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("This code is not right."));
    // The right one sends a second code to the new address.
    let r = enter_code(&app, &web, &first).await;
    assert_eq!(r.status(), 303);
    let mail = app
        .mail_to_with(&new, "Confirm your new primary email address")
        .await;
    let second = code_in(&mail);
    assert_ne!(second, first);
    assert_eq!(
        profile_email(&app, &web).await,
        p.email,
        "still nothing changed"
    );
    // The first code is spent.
    assert_eq!(enter_code(&app, &web, &first).await.status(), 422);
    let r = enter_code(&app, &web, &second).await;
    assert_eq!(r.status(), 303);
    let done = r.headers()["location"].to_str().unwrap().to_owned();
    let page = web
        .get(app.url(&done))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("your primary email is now"), "{page}");
    assert_eq!(profile_email(&app, &web).await, new);

    // The old address is told; the new one logs in, the old one no longer.
    app.mail_to_with(&p.email, "Security change").await;
    let b = browser();
    assert_eq!(app.login(&b, &new, &p.password).await.status(), 303);
    assert_eq!(
        app.login(&browser(), &p.email, &p.password).await.status(),
        401
    );
    let _ = handle;
}

/// The email page's JSON twin: the primary address and any pending change.
async fn email_state(app: &TestApp, web: &reqwest::Client) -> Value {
    let r = web
        .get(app.url("/api/v1/account/email"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn profile_email(app: &TestApp, web: &reqwest::Client) -> String {
    email_state(app, web).await["primary_email"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn five_wrong_codes_cancel_the_change_and_a_new_start_replaces_the_old() {
    let app = spawn_app().await;
    let (web, p, _) = signed_in(&app).await;
    let first_target = format!("a-{}", p.email);
    assert_eq!(start_change(&app, &web, &first_target).await.status(), 303);
    let old_code = take_code(&app, &p.email, "Approve the change").await;
    // Starting again cancels the first change: its code no longer works.
    let second_target = format!("b-{}", p.email);
    assert_eq!(start_change(&app, &web, &second_target).await.status(), 303);
    let code = take_code(&app, &p.email, "Approve the change").await;
    if code != old_code {
        assert_eq!(enter_code(&app, &web, &old_code).await.status(), 422);
    }
    // Five wrong codes (the first above may have been one) end it.
    for _ in 0..5 {
        let r = enter_code(&app, &web, &wrong(&code)).await;
        if r.status() == 303 {
            break;
        }
    }
    let r = enter_code(&app, &web, &code).await;
    assert_eq!(r.status(), 422);
    let v = email_state(&app, &web).await;
    assert_eq!(v["pending"], Value::Null, "{v}");
    assert_eq!(v["primary_email"], p.email.as_str());
}

#[tokio::test]
async fn the_json_twin_changes_the_email_with_both_codes() {
    let app = spawn_app().await;
    let (web, p, _) = signed_in(&app).await;
    let csrf = token(&app, &web, "/account/email").await;
    let new = format!("api-{}", p.email);
    let r = web
        .post(app.url("/api/v1/account/email"))
        .json(&json!({"new_email": new}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "the token header is required");
    let r = web
        .post(app.url("/api/v1/account/email"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"new_email": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        fields(&r.json().await.unwrap()),
        [("new_email".into(), "invalid_email".into())]
    );
    let r = web
        .post(app.url("/api/v1/account/email"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"new_email": new}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["pending"]["waiting_for"], "code_from_current_address");
    let first = code_in(&app.mail_to_with(&p.email, "Approve the change").await);
    let confirm = |code: String| {
        let web = web.clone();
        let url = app.url("/api/v1/account/email/confirm");
        let csrf = csrf.clone();
        async move {
            web.post(url)
                .header("x-csrf-token", csrf)
                .json(&json!({"code": code}))
                .send()
                .await
                .unwrap()
        }
    };
    let r = confirm(first).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["done"], false);
    let second = code_in(
        &app.mail_to_with(&new, "Confirm your new primary email address")
            .await,
    );
    let r = confirm(second).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["done"], true);
    assert_eq!(v["primary_email"], new.as_str());
}

async fn change_password(
    app: &TestApp,
    web: &reqwest::Client,
    current: &str,
    new: &str,
    confirm: &str,
) -> reqwest::Response {
    let csrf = token(app, web, "/account/password").await;
    web.post(app.url("/account/password"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current_password", current),
            ("password", new),
            ("password_confirm", confirm),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_password_change_closes_the_other_sessions_and_keeps_this_one() {
    let app = spawn_app().await;
    let (web, p, handle) = signed_in(&app).await;
    let other = browser();
    assert_eq!(app.login(&other, &handle, &p.password).await.status(), 303);
    assert_eq!(
        other
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The same password again, a short one, a mismatch: each refused by field.
    for (new, confirm, field) in [
        (p.password.as_str(), p.password.as_str(), "password-error"),
        ("short", "short", "password-error"),
        (
            "a brand new passphrase",
            "another one entirely",
            "password_confirm-error",
        ),
    ] {
        let r = change_password(&app, &web, &p.password, new, confirm).await;
        assert_eq!(r.status(), 422, "{new}");
        assert!(
            r.text().await.unwrap().contains(&format!("id=\"{field}\"")),
            "{new}"
        );
    }
    // A wrong current password is refused and counted like a login failure.
    let r = change_password(
        &app,
        &web,
        "not my password at all",
        "a brand new passphrase",
        "a brand new passphrase",
    )
    .await;
    assert_eq!(r.status(), 401);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("id=\"current_password-error\"")
    );
    let r = change_password(
        &app,
        &web,
        &p.password,
        "a brand new passphrase",
        "a brand new passphrase",
    )
    .await;
    assert_eq!(r.status(), 429, "throttled right after a failure");
    app.clock.advance(std::time::Duration::from_millis(1100));
    assert_eq!(
        other
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let new = "a brand new passphrase";
    let r = change_password(&app, &web, &p.password, new, new).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account/password?done=1");
    // This browser stays in; the other one is out.
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        200
    );
    let r = other.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
    // The new password works; the old one no longer does.
    assert_eq!(app.login(&browser(), &handle, new).await.status(), 303);
    assert_eq!(
        app.login(&browser(), &handle, &p.password).await.status(),
        401
    );
    app.mail_to_with(&p.email, "Security change").await;
    // The security log tells of it.
    let log: Value = web
        .get(app.url("/api/v1/account/security-log"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(log.to_string().contains("password_changed"), "{log}");
}

#[tokio::test]
async fn the_password_json_twin_needs_the_token_and_keeps_the_session() {
    let app = spawn_app().await;
    let (web, p, handle) = signed_in(&app).await;
    let csrf = token(&app, &web, "/account/password").await;
    let body = json!({
        "current_password": p.password,
        "password": "another quiet passphrase",
        "password_confirm": "another quiet passphrase",
    });
    let r = web
        .put(app.url("/api/v1/account/password"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = web
        .put(app.url("/api/v1/account/password"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"current_password": "wrong wrong wrong", "password": "x", "password_confirm": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        fields(&r.json().await.unwrap()),
        [("current_password".into(), "wrong_password".into())]
    );
    // The failure counts like a login failure: the next try waits a second.
    app.clock.advance(std::time::Duration::from_millis(1100));
    let r = web
        .put(app.url("/api/v1/account/password"))
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        app.login(&browser(), &handle, "another quiet passphrase")
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn a_code_past_its_ten_minutes_cancels_the_change_even_when_right() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let (web, p, _) = signed_in(&app).await;
    let target = format!("late-{}", p.email);
    assert_eq!(start_change(&app, &web, &target).await.status(), 303);
    let code = take_code(&app, &p.email, "Approve the change").await;
    // Eleven minutes later (moved in the database, not waited for).
    let db = guichet::app::connect_database(&app.settings, false)
        .await
        .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE email_changes SET code_expires_at = '{}'",
        (app.clock.now() - chrono::Duration::minutes(1)).format("%Y-%m-%d %H:%M:%S%:z")
    ))
    .await
    .unwrap();

    let r = enter_code(&app, &web, &code).await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("This code no longer works: the change was cancelled."),
    );
    let v = email_state(&app, &web).await;
    assert_eq!(v["pending"], Value::Null, "cancelled: {v}");
    assert_eq!(v["primary_email"], p.email.as_str(), "unchanged");
    // The same right code, tried again, is still refused.
    assert_eq!(enter_code(&app, &web, &code).await.status(), 422);
    // A new start works from scratch.
    assert_eq!(start_change(&app, &web, &target).await.status(), 303);
}
