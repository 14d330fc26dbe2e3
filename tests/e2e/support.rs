//! Support flows for customers who cannot log in, through the operator API
//! (and through `guichet support`): what the customer and the operator each
//! observe, the support trail, the audit lines, and the refusals that change
//! nothing.

use std::process::Command;

use guichet_tests::{
    OPERATOR_NAME, OPERATOR_TOKEN, Person, TestApp, bare_client, browser, env_for, free_port,
    fresh_settings, hidden, problem, redis_url, spawn_app, spawn_with, unique, wait_ready,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use totp_rs::Totp;

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
    let page = web
        .get(app.url("/login/email-code"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf").unwrap();
    web.post(app.url("/login/email-code"))
        .form(&[("csrf", csrf.as_str()), ("code", &mailed_code(&mail))])
        .send()
        .await
        .unwrap()
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

#[tokio::test]
async fn promoting_the_backup_email_drops_the_old_primary_and_asks_for_a_new_backup() {
    let app = spawn_app().await;
    let p = Person::new("Bruna", "Backup");
    let (handle, backup) = signup_with_backup(&app, &p).await;
    let earlier = open_session(&app, &handle, &p).await;

    let (status, text, body) = support(
        &app,
        &handle,
        "promote-backup-email",
        json!({"case_ref": "CASE-1001"}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_no_secret(&text);
    assert_eq!(body["account"]["handle"], handle.as_str());
    assert_eq!(body["account"]["primary_email"], backup.as_str());
    assert_eq!(body["account"]["primary_email_verified"], true);
    assert_eq!(body["account"]["backup_email"], Value::Null);
    assert_eq!(body["account"]["must_set_backup"], true);
    assert_eq!(body["sessions_ended"], true);
    assert_eq!(body["refresh_tokens_revoked"], true);
    assert_eq!(body["incomplete"], json!([]));

    // Both addresses hear of it: the new primary, and the old one, dropped.
    let notice = "made the backup address";
    assert!(app.mail_to_with(&backup, notice).await.contains(&handle));
    assert!(app.mail_to_with(&p.email, notice).await.contains(&handle));

    // Whoever holds the old address lost every session, and that address no
    // longer logs in.
    assert_eq!(
        account_page(&app, &earlier).await.as_deref(),
        Some("/login?next=%2Faccount")
    );
    let r = app.login(&browser(), &p.email, &p.password).await;
    assert_eq!(r.status(), 401);

    // The former backup logs in, and lands on the page that asks for a new
    // backup address before anything else.
    let web = browser();
    let r = log_in(&app, &web, &backup, &p.password, &backup).await;
    assert_eq!(r.status(), 303);
    assert!(
        location(&r).starts_with("/account/backup-email"),
        "{}",
        location(&r)
    );
    let detour = account_page(&app, &web).await.expect("no account page yet");
    assert!(detour.starts_with("/account/backup-email"), "{detour}");

    // There is nothing left to promote.
    let (status, text, body) = support(
        &app,
        &handle,
        "promote-backup-email",
        json!({"case_ref": "CASE-1001"}),
    )
    .await;
    assert_eq!(status, 409, "{text}");
    assert!(
        body["detail"].as_str().unwrap().contains("backup"),
        "{text}"
    );

    // Naming and confirming a new backup opens the account page.
    let form = web
        .get(app.url("/account/backup-email?next=/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&form, "csrf").unwrap();
    let new_backup = format!("{}@elsewhere.example.net", unique("n"));
    let r = web
        .post(app.url("/account/backup-email"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("next", "/account"),
            ("backup_email", new_backup.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let code = mailed_code(&app.mail_to(&new_backup).await);
    let r = web
        .post(app.url("/account/backup-email/confirm"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("next", "/account"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(account_page(&app, &web).await, None);

    // The operator sees who did it, for which case; the trail names the
    // account by its customer code as well as by its handle.
    let seen = trail(&app, &handle).await;
    assert_eq!(seen["account"]["backup_email"], new_backup.as_str());
    assert_eq!(seen["account"]["must_set_backup"], false);
    let actions = seen["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{seen}");
    assert_eq!(actions[0]["operator"], OPERATOR_NAME);
    assert_eq!(actions[0]["action"], "promote_backup_email");
    assert_eq!(actions[0]["case_ref"], "CASE-1001");
    assert!(actions[0]["at"].as_str().is_some());
    let code = seen["account"]["customer_code"].as_str().unwrap();
    assert_eq!(trail(&app, code).await["actions"], seen["actions"]);
}

#[tokio::test]
async fn a_replaced_primary_email_is_confirmed_by_a_code_at_the_next_login() {
    let mut settings = fresh_settings().await;
    // The shipped policy: a code for a new device or an unconfirmed address.
    settings.login.email_code = guichet::settings::EmailCode::Risk;
    let app = spawn_with(settings).await;
    let p = Person::new("Remo", "Replace");
    let handle = app.signup(&p).await;
    let earlier = open_session(&app, &handle, &p).await;
    let new_email = format!("{}@new.example.org", unique("r"));

    // By the primary address this time.
    let (status, text, body) = support(
        &app,
        &p.email,
        "replace-primary-email",
        json!({"case_ref": "ID-CHECK-77", "email": new_email}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_no_secret(&text);
    assert_eq!(body["account"]["handle"], handle.as_str());
    assert_eq!(body["account"]["primary_email"], new_email.as_str());
    assert_eq!(body["account"]["primary_email_verified"], false);
    assert_eq!(body["sessions_ended"], true);
    assert_eq!(body["refresh_tokens_revoked"], true);

    // The old address is told, and no longer logs in; its sessions are gone.
    let notice = "replaced the primary email address";
    assert!(
        app.mail_to_with(&p.email, notice)
            .await
            .contains(&new_email)
    );
    assert!(account_page(&app, &earlier).await.is_some());
    let r = app.login(&browser(), &p.email, &p.password).await;
    assert_eq!(r.status(), 401);

    // The new address logs in only through the code mailed to it.
    let web = browser();
    let r = app.login(&web, &new_email, &p.password).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login/email-code");
    assert!(account_page(&app, &web).await.is_some());
    let code = mailed_code(&app.mail_to_with(&new_email, "Sign-in code").await);
    let page = web
        .get(app.url("/login/email-code"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf").unwrap();
    let r = web
        .post(app.url("/login/email-code"))
        .form(&[("csrf", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account");
    assert_eq!(account_page(&app, &web).await, None);

    let seen = trail(&app, &handle).await;
    assert_eq!(seen["account"]["primary_email"], new_email.as_str());
    assert_eq!(seen["account"]["primary_email_verified"], true);
    let actions = seen["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{seen}");
    assert_eq!(actions[0]["operator"], OPERATOR_NAME);
    assert_eq!(actions[0]["action"], "replace_primary_email");
    assert_eq!(actions[0]["case_ref"], "ID-CHECK-77");
    assert!(
        actions[0]["detail"]
            .as_str()
            .unwrap()
            .contains(new_email.as_str())
    );
}

/// Adds an authenticator app through the security pages; returns its generator.
async fn enrol_totp(app: &TestApp, web: &reqwest::Client) -> Totp {
    // Far enough from the end of a 30-second step for the code to stay valid.
    let into = app.clock.now_secs() % 30;
    if into > 25 {
        app.clock
            .advance(std::time::Duration::from_secs((31 - into) as u64));
    }
    let form = web
        .get(app.url("/account/security/totp"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&form, "csrf").unwrap();
    let html = web
        .post(app.url("/account/security/totp"))
        .form(&[("csrf", csrf.as_str()), ("label", "Phone"), ("next", "")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let uri = hidden(&html, "uri").unwrap().replace("&amp;", "&");
    let totp = Totp::from_url(&uri).unwrap();
    let method = hidden(&html, "method").unwrap();
    let code = totp.generate(app.clock.now_secs() as u64).to_string();
    let r = web
        .post(app.url("/account/security/totp/confirm"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("method", method.as_str()),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    totp
}

#[tokio::test]
async fn after_two_factor_is_disabled_the_password_alone_logs_in() {
    let app = spawn_app().await;
    let p = Person::new("Tomas", "Stolen");
    let handle = app.signup(&p).await;
    let web = open_session(&app, &handle, &p).await;
    enrol_totp(&app, &web).await;
    let r = app.login(&browser(), &handle, &p.password).await;
    assert_eq!(location(&r), "/login/2fa", "two-factor is on");

    let (status, text, body) =
        support(&app, &handle, "disable-2fa", json!({"case_ref": "PHONE-5"})).await;
    assert_eq!(status, 200, "{text}");
    assert_no_secret(&text);
    assert_eq!(body["account"]["handle"], handle.as_str());
    assert_eq!(body["mailed"], json!([p.email]));

    let next = browser();
    let r = app.login(&next, &handle, &p.password).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account");
    assert_eq!(account_page(&app, &next).await, None);
    let mail = app
        .mail_to_with(&p.email, "turned off two-factor authentication")
        .await;
    assert!(mail.contains(&handle));

    let seen = trail(&app, &handle).await;
    let actions = seen["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{seen}");
    assert_eq!(actions[0]["operator"], OPERATOR_NAME);
    assert_eq!(actions[0]["action"], "disable_2fa");
    assert_eq!(actions[0]["case_ref"], "PHONE-5");
    assert!(
        actions[0]["detail"]
            .as_str()
            .unwrap()
            .contains("turned off")
    );
}

#[tokio::test]
async fn a_reset_link_goes_to_the_primary_address_and_never_to_the_operator() {
    let app = spawn_app().await;
    let p = Person::new("Rita", "Reset");
    let handle = app.signup(&p).await;

    let (status, text, body) = support(
        &app,
        &handle,
        "send-password-reset",
        json!({"case_ref": "PW-12"}),
    )
    .await;
    assert_eq!(status, 202, "{text}");
    assert_no_secret(&text);
    assert!(!text.contains("reset-password"), "{text}");
    assert_eq!(body["mailed"], json!([p.email]));

    let mail = app.mail_to_with(&p.email, "/reset-password?token=").await;
    let start = mail.find("/reset-password?token=").unwrap();
    let link: String = mail[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect();
    let token = link.trim_start_matches("/reset-password?token=");
    assert!(token.len() >= 22, "{link}");
    assert!(!text.contains(token));
    // The link works for the customer.
    let r = browser().get(app.url(&link)).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let seen = trail(&app, &handle).await;
    assert!(!seen.to_string().contains(token));
    let actions = seen["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{seen}");
    assert_eq!(actions[0]["operator"], OPERATOR_NAME);
    assert_eq!(actions[0]["action"], "send_password_reset");
    assert_eq!(actions[0]["case_ref"], "PW-12");
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

#[tokio::test]
async fn ending_sessions_logs_every_browser_out() {
    let app = spawn_app().await;
    let p = Person::new("Enzo", "Ending");
    let handle = app.signup(&p).await;
    let first = open_session(&app, &handle, &p).await;
    let second = open_session(&app, &p.email, &p).await;
    let (client, secret, refresh) = offline_client(&app, &first).await;

    let (status, text, body) =
        support(&app, &handle, "end-sessions", json!({"case_ref": "SEC-3"})).await;
    assert_eq!(status, 200, "{text}");
    assert_no_secret(&text);
    assert_eq!(body["sessions_ended"], true);
    assert_eq!(body["refresh_tokens_revoked"], true);
    for web in [&first, &second] {
        assert_eq!(
            account_page(&app, web).await.as_deref(),
            Some("/login?next=%2Faccount")
        );
    }
    // The relying party's refresh token is dead too.
    assert_eq!(refresh_status(&app, &client, &secret, &refresh).await, 400);
    // The customer can log in again.
    open_session(&app, &handle, &p).await;

    let actions = trail(&app, &handle).await["actions"].clone();
    assert_eq!(actions[0]["operator"], OPERATOR_NAME);
    assert_eq!(actions[0]["action"], "end_sessions");
    assert_eq!(actions[0]["case_ref"], "SEC-3");
}

#[tokio::test]
async fn refusals_change_nothing() {
    let app = spawn_app().await;
    let p = Person::new("Nora", "Nothing");
    let (handle, backup) = signup_with_backup(&app, &p).await;
    let web = open_session(&app, &handle, &p).await;
    let flows = [
        "promote-backup-email",
        "replace-primary-email",
        "disable-2fa",
        "send-password-reset",
        "end-sessions",
    ];

    // Without a case reference (missing, blank or too long): 422 naming it.
    for flow in flows {
        for case_ref in [Value::Null, json!("  "), json!("x".repeat(65))] {
            let body = match body_for(flow, case_ref) {
                mut b if b["case_ref"].is_null() => {
                    b.as_object_mut().unwrap().remove("case_ref");
                    b
                }
                b => b,
            };
            let (status, text, v) = support(&app, &handle, flow, body).await;
            assert_eq!(status, 422, "{flow}: {text}");
            assert_eq!(problem(&v), "invalid-request");
            let fields: Vec<&str> = v["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["field"].as_str().unwrap())
                .collect();
            assert!(fields.contains(&"case_ref"), "{flow}: {text}");
        }
    }
    // A replacement needs a valid address.
    let (status, text, v) = support(
        &app,
        &handle,
        "replace-primary-email",
        json!({"case_ref": "C-1"}),
    )
    .await;
    assert_eq!(status, 422, "{text}");
    assert_eq!(v["errors"][0]["field"], "email");
    let (status, text, v) = support(
        &app,
        &handle,
        "replace-primary-email",
        json!({"case_ref": "C-1", "email": "not an address"}),
    )
    .await;
    assert_eq!(status, 422, "{text}");
    assert_eq!(v["errors"][0]["field"], "email");

    // Unknown accounts, named any way: 404.
    for account in ["zz99999-xx", "nobody@example.org", "9999-999-99", "%20"] {
        for flow in flows {
            let (status, text, v) =
                support(&app, account, flow, body_for(flow, json!("C-2"))).await;
            assert_eq!(status, 404, "{account} {flow}: {text}");
            assert_eq!(problem(&v), "not-found", "{v}");
        }
        let r = op(
            &app,
            Method::GET,
            &format!("/admin/v1/accounts/{account}/support-actions"),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 404);
    }

    // Without an operator token: 401, whatever the body.
    for flow in flows {
        let r = bare_client()
            .post(app.operator_url(&format!("/admin/v1/accounts/{handle}/{flow}")))
            .json(&body_for(flow, json!("C-3")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{flow}");
    }
    let r = bare_client()
        .get(app.operator_url(&format!("/admin/v1/accounts/{handle}/support-actions")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Nor on the public listener.
    let r = bare_client()
        .post(app.url(&format!("/admin/v1/accounts/{handle}/end-sessions")))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({"case_ref": "C-4"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Nothing changed: same addresses, the session alive, an empty trail.
    let seen = trail(&app, &handle).await;
    assert_eq!(seen["account"]["primary_email"], p.email.as_str());
    assert_eq!(seen["account"]["backup_email"], backup.as_str());
    assert_eq!(seen["account"]["must_set_backup"], false);
    assert_eq!(seen["actions"], json!([]));
    assert_eq!(account_page(&app, &web).await, None);
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

#[tokio::test]
async fn the_cli_runs_the_same_flows_and_says_when_sessions_are_out_of_reach() {
    let app = spawn_app().await;
    let p = Person::new("Carla", "Command");
    let handle = app.signup(&p).await;
    let web = open_session(&app, &handle, &p).await;

    // The reset mail is queued in the database; the server's worker sends it.
    let (ok, out, err) = cli(
        &app,
        &[
            "send-password-reset",
            &handle,
            "--operator",
            "alice",
            "--case",
            "CLI-1",
            "--json",
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(!out.contains("token"), "{out}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["mailed"], json!([p.email]));
    let mail = app.mail_to_with(&p.email, "/reset-password?token=").await;
    assert!(mail.contains(&format!("{}/reset-password?token=", app.base)));

    // Ending sessions reaches the browser only through a shared store.
    let (ok, out, err) = cli(
        &app,
        &[
            "end-sessions",
            &handle,
            "--operator",
            "alice",
            "--case",
            "CLI-2",
        ],
    );
    if redis_url().is_some() {
        assert!(ok, "{out}{err}");
        assert!(out.contains("sessions:        ended"), "{out}");
        assert!(account_page(&app, &web).await.is_some());
    } else {
        assert!(
            !ok,
            "sessions in memory cannot be ended from outside: {out}"
        );
        assert!(
            out.contains("NOT ended") && err.contains("NOT ended"),
            "{out}{err}"
        );
        assert!(out.contains("refresh tokens:  revoked"), "{out}");
        assert_eq!(account_page(&app, &web).await, None);
    }

    // Refused before anything is done.
    let (ok, _, err) = cli(
        &app,
        &[
            "disable-2fa",
            &handle,
            "--operator",
            "al ice",
            "--case",
            "CLI-3",
        ],
    );
    assert!(!ok);
    assert!(err.contains("--operator"), "{err}");
    let (ok, _, err) = cli(
        &app,
        &["disable-2fa", &handle, "--operator", "alice", "--case", ""],
    );
    assert!(!ok);
    assert!(err.contains("case_ref"), "{err}");

    // The trail, from the CLI and from the API, names the CLI's operator.
    let (ok, out, err) = cli(&app, &["actions", &handle, "--json"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let actions = v["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2, "{v}");
    assert_eq!(actions[0]["action"], "end_sessions");
    assert_eq!(actions[1]["action"], "send_password_reset");
    assert!(actions.iter().all(|a| a["operator"] == "alice"));
    assert_eq!(trail(&app, &handle).await["actions"], v["actions"]);
}

#[tokio::test]
async fn every_support_request_writes_an_audit_line_with_the_operator_and_the_case() {
    let settings = fresh_settings().await;
    let (port, op_port) = (free_port(), free_port());
    let base = format!("http://127.0.0.1:{port}");
    let admin = format!("http://127.0.0.1:{op_port}");
    let child = Command::new(guichet_bin())
        .args(["serve", "--log-format", "json"])
        .envs(env_for(&settings))
        .env("GUICHET__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("GUICHET__OPERATOR__BIND", format!("127.0.0.1:{op_port}"))
        .env("GUICHET__LOG__LEVEL", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(&format!("{base}/healthz")).await;
    let p = Person::new("Aude", "Audit");
    let handle = guichet_tests::signup_at(
        &base,
        &settings.server.data_dir.join("outbox"),
        &p.signup_json(),
    )
    .await;

    let c = bare_client();
    let url = |account: &str, flow: &str| format!("{admin}/admin/v1/accounts/{account}/{flow}");
    let r = c
        .post(url(&handle, "send-password-reset"))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({"case_ref": "AUDIT-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = c
        .post(url("nobody@example.org", "end-sessions"))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({"case_ref": "AUDIT-2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .post(url(&handle, "disable-2fa"))
        .json(&json!({"case_ref": "AUDIT-3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(url(&handle, "support-actions"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    let audit: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "audit")
        .collect();
    assert_eq!(audit.len(), 4, "one line per request: {logs}");
    let find = |action: &str| {
        audit
            .iter()
            .find(|v| v["action"] == action)
            .unwrap_or_else(|| panic!("no {action} line: {logs}"))
    };
    let reset = find("account.send_password_reset");
    assert_eq!(reset["operator"], OPERATOR_NAME);
    assert_eq!(reset["account"], handle.as_str());
    assert_eq!(reset["outcome"], "success");
    assert!(
        reset["detail"].as_str().unwrap().contains("case=AUDIT-1"),
        "{reset}"
    );
    let unknown = find("account.end_sessions");
    assert_eq!(unknown["operator"], OPERATOR_NAME);
    assert_eq!(unknown["account"], "nobody@example.org");
    assert_eq!(unknown["outcome"], "not_found");
    let refused = find("account.disable_2fa");
    assert_eq!(refused["operator"], "-");
    assert_eq!(refused["outcome"], "unauthorized");
    assert_eq!(find("account.support_actions")["outcome"], "success");
    assert!(
        !logs.contains("reset-password?token="),
        "a link reached the logs"
    );
    assert!(!logs.contains(OPERATOR_TOKEN));
}
