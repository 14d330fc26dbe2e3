//! Sign-up through the form and the JSON API, and the mail it sends.

use std::collections::HashSet;

use guichet_tests::{Person, bare_client, browser, hidden, spawn_app};

fn handle_shape(h: &str) -> bool {
    let Some(left) = h.strip_suffix("-ovh") else {
        return false;
    };
    left.len() >= 7
        && left[..2].bytes().all(|b| b.is_ascii_lowercase())
        && left[2..].bytes().all(|b| b.is_ascii_digit())
}

fn form_fields<'a>(p: &'a Person, csrf: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("first_name", &p.first),
        ("last_name", &p.last),
        ("primary_email", &p.email),
        ("backup_email", ""),
        ("password", &p.password),
        ("password_confirm", &p.password),
        ("country", "FR"),
        ("language", "fr"),
        ("kind", "individual"),
        ("company_name", ""),
    ]
}

#[tokio::test]
async fn form_signup_mails_the_handle_and_every_identifier_logs_in_until_logout() {
    let app = spawn_app().await;
    let web = browser();
    let p = Person::new("Dominique", "Martin");

    let csrf = app.csrf(&web, "/signup").await;
    let r = web
        .post(app.url("/signup"))
        .form(&form_fields(&p, &csrf))
        .send()
        .await
        .unwrap();
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

    // The welcome mail carries the handle, the customer code and a verification
    // link, in the language chosen at sign-up (French here).
    let mail = app.mail_to(&p.email).await;
    let handle = mail
        .lines()
        .find_map(|l| l.strip_prefix("Identifiant client : "))
        .expect("handle in mail")
        .trim()
        .to_owned();
    assert!(handle_shape(&handle), "{handle}");
    assert!(handle.starts_with("dm"), "{handle}");
    assert!(page.contains(&handle), "the page shows the new handle");
    assert!(mail.contains("Code client : "));
    assert!(mail.contains(&format!("{}/verify-email?token=", app.base)));

    for identifier in [
        handle.clone(),
        handle.to_uppercase(),
        p.email.to_uppercase(),
    ] {
        let c = browser();
        let r = app.login(&c, &identifier, &p.password).await;
        assert_eq!(r.status(), 303, "login as {identifier}");
        assert_eq!(r.headers()["location"], "/account");
        let account = c.get(app.url("/account")).send().await.unwrap();
        assert_eq!(account.status(), 200);
        let html = account.text().await.unwrap();
        assert!(html.contains(&handle) && html.contains("Dominique") && html.contains(&p.email));
    }

    // Log out, then replay the old session cookie: dead.
    let c = browser();
    let r = app.login(&c, &handle, &p.password).await;
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("guichet_session="))
        .unwrap();
    let session_pair = cookie.split(';').next().unwrap().to_owned();
    let html = c
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf").unwrap();
    let r = c
        .post(app.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let replay = bare_client()
        .get(app.url("/account"))
        .header("cookie", &session_pair)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 303);
    assert_eq!(replay.headers()["location"], "/login?next=%2Faccount");
}

#[tokio::test]
async fn verification_link_works_once() {
    let app = spawn_app().await;
    let p = Person::new("Ada", "Lovelace");
    let handle = app.signup(&p).await;
    let mail = app.mail_to(&p.email).await;
    let start = mail.find("/verify-email?token=").unwrap() + "/verify-email?token=".len();
    let token: String = mail[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    assert_eq!(token.len(), 64);

    let web = browser();
    // Opening the link changes nothing by itself (mail scanners open links).
    let page = web
        .get(app.url(&format!("/verify-email?token={token}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf").unwrap();
    let confirm = || {
        web.post(app.url("/verify-email"))
            .form(&[("csrf", csrf.as_str()), ("token", token.as_str())])
            .send()
    };
    let r = confirm().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains(&handle));
    let again = confirm().await.unwrap();
    assert_eq!(again.status(), 400);

    let c = browser();
    app.login(&c, &handle, &p.password).await;
    let html = c
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("(verified)"));
}

#[tokio::test]
async fn bad_sign_ups_say_what_is_wrong_and_create_nothing() {
    let app = spawn_app().await;
    let api = bare_client();
    let taken = Person::new("Taken", "Person");
    app.signup(&taken).await;

    let cases: Vec<(serde_json::Value, &str, &str)> = vec![
        (
            serde_json::json!({"primary_email": taken.email.to_uppercase()}),
            "primary_email",
            "email_taken",
        ),
        (
            serde_json::json!({"backup_email": "FRESH@example.com", "primary_email": "fresh@example.com"}),
            "backup_email",
            "backup_same_as_primary",
        ),
        (
            serde_json::json!({"password": "short", "password_confirm": "short"}),
            "password",
            "password_too_short",
        ),
        (
            serde_json::json!({"password": "password1234", "password_confirm": "password1234"}),
            "password",
            "password_common",
        ),
        (
            serde_json::json!({"password": "i am Dominique ok", "password_confirm": "i am Dominique ok"}),
            "password",
            "password_personal",
        ),
        (
            serde_json::json!({"password_confirm": "something else entirely"}),
            "password_confirm",
            "password_mismatch",
        ),
        (
            serde_json::json!({"password": "x".repeat(1025), "password_confirm": "x".repeat(1025)}),
            "password",
            "password_too_long",
        ),
        (
            serde_json::json!({"primary_email": "not an email"}),
            "primary_email",
            "invalid_email",
        ),
        (
            serde_json::json!({"country": "ZZ"}),
            "country",
            "unknown_country",
        ),
        (
            serde_json::json!({"language": "de"}),
            "language",
            "unknown_language",
        ),
        (
            serde_json::json!({"kind": "company"}),
            "company_name",
            "required",
        ),
        (
            serde_json::json!({"first_name": ""}),
            "first_name",
            "required",
        ),
    ];
    for (patch, field, code) in cases {
        let mut body = Person::new("Dominique", "Martin").signup_json();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = api
            .post(app.url("/api/v1/signup"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{field}/{code}");
        let v: serde_json::Value = r.json().await.unwrap();
        let fields = v["fields"].as_array().unwrap();
        assert!(
            fields.iter().any(|f| f["field"] == field
                && f["code"] == code
                && f["message"].as_str().is_some_and(|m| !m.is_empty())),
            "{field}/{code}: {v}"
        );
    }

    // Nothing was created: the address refused above for a bad password is still free.
    let fresh = Person {
        email: "fresh@example.com".into(),
        ..Person::new("Fresh", "Person")
    };
    app.signup(&fresh).await;
    app.mail_to(&taken.email).await;
    app.mail_to(&fresh.email).await;
    // And only the two successful sign-ups sent mail.
    let sent = std::fs::read_dir(app.outbox()).unwrap().count();
    assert_eq!(sent, 2);
}

#[tokio::test]
async fn the_form_rerenders_with_a_message_per_field() {
    let app = spawn_app().await;
    let web = browser();
    let csrf = app.csrf(&web, "/signup").await;
    let r = web
        .post(app.url("/signup"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("first_name", "Jo"),
            ("last_name", "Doe"),
            ("primary_email", "jo@example.com"),
            ("backup_email", "JO@example.com"),
            ("password", "short"),
            ("password_confirm", "short"),
            ("country", "FR"),
            ("language", "en"),
            ("kind", "individual"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("The backup email must differ from the primary email."));
    assert!(html.contains("The password needs at least 12 characters."));
    assert!(html.contains("id=\"backup_email-error\""));
    // What was typed comes back, except the passwords.
    assert!(html.contains("value=\"jo@example.com\""));
    assert!(!html.contains("value=\"short\""));
    assert!(!app.outbox().exists() || std::fs::read_dir(app.outbox()).unwrap().count() == 0);
}

#[tokio::test]
async fn backup_on_the_same_domain_is_accepted_with_a_warning() {
    let app = spawn_app().await;
    let p = Person::new("Jo", "Doe");
    let mut body = p.signup_json();
    body["backup_email"] = serde_json::json!("jo.other@example.com");
    let r = bare_client()
        .post(app.url("/api/v1/signup"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["warnings"][0]["code"], "backup_same_domain");
}

#[tokio::test]
async fn malformed_and_oversized_requests_get_clear_errors() {
    let app = spawn_app().await;
    let api = bare_client();
    let r = api
        .post(app.url("/api/v1/signup"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_body");

    let r = api
        .post(app.url("/api/v1/signup"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);

    let big = "a".repeat(1024 * 1024 + 1);
    let r = api
        .post(app.url("/signup"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("first_name={big}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");

    // A form with thousands of fields is refused before it is parsed
    // (`server.max_form_fields`), with a clear message.
    let many: String = (0..10_000).map(|i| format!("f{i}=x&")).collect();
    let web = browser();
    let csrf = app.csrf(&web, "/signup").await;
    let r = web
        .post(app.url("/signup"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("{many}csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("Too many form fields"));
}

#[tokio::test]
async fn a_hundred_concurrent_sign_ups_with_the_same_initials_get_distinct_handles() {
    let app = spawn_app().await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let p = Person::new("Zoé", "Zhang");
            let url = app.url("/api/v1/signup");
            tokio::spawn(async move {
                let r = bare_client()
                    .post(url)
                    .json(&p.signup_json())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                let v: serde_json::Value = r.json().await.unwrap();
                (
                    v["handle"].as_str().unwrap().to_owned(),
                    v["customer_code"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect();
    let mut handles = HashSet::new();
    let mut codes = HashSet::new();
    for t in tasks {
        let (h, c) = t.await.unwrap();
        assert!(h.starts_with("zz") && handle_shape(&h), "{h}");
        handles.insert(h);
        codes.insert(c);
    }
    assert_eq!(handles.len(), 100);
    assert_eq!(codes.len(), 100);
}
