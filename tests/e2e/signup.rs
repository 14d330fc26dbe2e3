//! Sign-up through the form and the JSON API, and the mail it sends.

use std::collections::HashSet;

use guichet_tests::{Client, Person, bare_client, browser, problem, spawn_app};

fn handle_shape(h: &str) -> bool {
    let Some(left) = h.strip_suffix("-ovh") else {
        return false;
    };
    left.len() >= 7
        && left[..2].bytes().all(|b| b.is_ascii_lowercase())
        && left[2..].bytes().all(|b| b.is_ascii_digit())
}

/// The sign-up form's fields for `p`; the anti-CSRF token comes with the
/// form the client reads.
fn form_fields(p: &Person) -> Vec<(&'static str, &str)> {
    vec![
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
    let web = Client::new(&app);
    let p = Person::new("Dominique", "Martin");

    let signup = web.get("/signup").await.form("/signup");
    let r = signup.fill(&form_fields(&p)).submit().await;
    assert_eq!(r.status, 303);
    let page = r.follow().await.body;

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
    let (_, code) = guichet_tests::welcome_lines(&mail);
    assert_eq!(code.len(), 11, "{code}");
    // The page sends the customer to the mailbox and shows neither: it must
    // read the same for an address that already has an account.
    assert!(page.contains("Check your mailbox"), "{page}");
    assert!(!page.contains(&handle) && !page.contains(&code), "{page}");
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
    let account = app.client_on(&c).get("/account").await;
    let r = account.form("/logout").submit().await;
    assert_eq!(r.status, 303);
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

    let web = Client::new(&app);
    // Opening the link changes nothing by itself (mail scanners open links).
    let page = web.get(&format!("/verify-email?token={token}")).await;
    let confirm = page.form("/verify-email");
    assert_eq!(confirm.get("token"), Some(token.as_str()));
    let r = confirm.clone().submit().await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains(&handle));
    let again = confirm.submit().await;
    assert_eq!(again.status, 400);

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
        // A taken address with an invalid field: the field's error, and
        // not a word about the address.
        (
            serde_json::json!({"primary_email": taken.email.to_uppercase(), "password": "short", "password_confirm": "short"}),
            "password",
            "password_too_short",
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
        let fields = v["errors"].as_array().unwrap();
        assert!(
            fields.iter().all(|f| f["code"] != "email_taken"),
            "{field}/{code}: {v}"
        );
        assert!(
            fields.iter().any(|f| f["field"] == field
                && f["code"] == code
                && f["detail"].as_str().is_some_and(|m| !m.is_empty())),
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
    let web = Client::new(&app);
    let signup = web.get("/signup").await.form("/signup");
    let r = signup
        .fill(&[
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
        .submit()
        .await;
    assert_eq!(r.status, 422);
    let html = r.body;
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
    assert_eq!(r.status(), 202);
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
    assert_eq!(problem(&v), "invalid-body");

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
            let mailbox = app.mailbox.clone();
            tokio::spawn(async move {
                let r = bare_client()
                    .post(url)
                    .json(&p.signup_json())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 202);
                guichet_tests::welcome_account(&mailbox, &p.email).await
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

/// Posts the sign-up form for `p` with a fresh anti-CSRF token; the status,
/// the `Location`, and the page it leads to.
async fn form_signup(app: &guichet_tests::TestApp, p: &Person) -> (u16, String, String) {
    let web = Client::new(app);
    let signup = web.get("/signup").await.form("/signup");
    let r = signup.fill(&form_fields(p)).submit().await;
    let page = r.follow().await.body;
    (r.status.as_u16(), r.location().to_owned(), page)
}

/// The mails to `to` in the outbox whose text holds `needle`, once there
/// are `n` of them (waiting up to 10 s).
async fn mails_with(app: &guichet_tests::TestApp, to: &str, needle: &str, n: usize) -> Vec<String> {
    let mut found = Vec::new();
    for _ in 0..200 {
        found = std::fs::read_dir(app.outbox())
            .map(|d| {
                d.flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .map(|raw| raw.replace("=\r\n", "").replace("=3D", "="))
                    .filter(|m| m.contains(&format!("To: {to}")) && m.contains(needle))
                    .collect()
            })
            .unwrap_or_default();
        if found.len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    found
}

#[tokio::test]
async fn a_taken_address_gets_the_answer_a_new_one_gets_and_only_its_holder_hears_of_it() {
    let app = spawn_app().await;
    let owner = Person::new("Olga", "Owner");
    let handle = app.signup(&owner).await;
    let other_password = "another long phrase nobody uses";
    let intruder = Person {
        email: owner.email.to_uppercase(),
        password: other_password.into(),
        ..Person::new("Ivan", "Intrus")
    };
    let newcomer = Person {
        password: other_password.into(),
        ..Person::new("Ivan", "Intrus")
    };

    // The JSON API: same status, same body but for the address typed.
    let post = |p: &Person| {
        bare_client()
            .post(app.url("/api/v1/signup"))
            .json(&p.signup_json())
            .send()
    };
    let taken = post(&intruder).await.unwrap();
    let fresh = post(&newcomer).await.unwrap();
    assert_eq!(taken.status(), 202);
    assert_eq!(fresh.status(), 202);
    let taken = taken.text().await.unwrap();
    let fresh = fresh.text().await.unwrap();
    assert_eq!(
        taken.replace(&intruder.email, "EMAIL"),
        fresh.replace(&newcomer.email, "EMAIL")
    );
    assert!(!taken.contains(&handle), "{taken}");

    // The form: same redirect, same page.
    let second = Person::new("Ivan", "Intrus");
    let (taken_status, taken_to, taken_page) = form_signup(&app, &intruder).await;
    let (fresh_status, fresh_to, fresh_page) = form_signup(&app, &second).await;
    assert_eq!((taken_status, &taken_to), (fresh_status, &fresh_to));
    assert_eq!(taken_status, 303);
    assert_eq!(taken_page, fresh_page);
    assert!(!taken_page.contains(&handle));

    // The holder hears of both attempts, in their mailbox only, and is told
    // how to get in; the newcomers get their welcome mail.
    let notices = mails_with(
        &app,
        &owner.email,
        "Someone tried to create a new account",
        2,
    )
    .await;
    assert_eq!(notices.len(), 2);
    for n in &notices {
        assert!(n.contains("Subject: Someone tried to create an account with your address"));
        assert!(n.contains(&handle));
        assert!(n.contains(&format!("{}/forgot-password", app.base)));
        assert!(n.contains(&format!("{}/forgot-handle", app.base)));
    }
    app.mail_to_with(&newcomer.email, "Customer handle: ").await;
    app.mail_to_with(&second.email, "Identifiant client : ")
        .await;
    // The address got no second welcome: exactly one account has it.
    assert_eq!(
        mails_with(&app, &owner.email, "Customer handle: ", 1)
            .await
            .len(),
        1
    );

    // Nothing changed on the account: the owner's password opens it, it is
    // still Olga's, and the other password opens nothing (tried last: a
    // failure delays the next login).
    let c = browser();
    let r = app.login(&c, &owner.email, &owner.password).await;
    assert_eq!(r.status(), 303);
    let html = c
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&handle) && html.contains("Olga") && !html.contains("Ivan"));
    let r = app.login(&browser(), &owner.email, other_password).await;
    assert_ne!(r.status(), 303, "the second password opens nothing");
    assert!(!r.text().await.unwrap().contains(&handle));
}
