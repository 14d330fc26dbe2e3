//! The security page's access parts as a customer sees them: active
//! sessions (listed, ended one by one or everywhere), connected applications
//! (withdrawn, which kills the application's refresh token) and the security
//! log; and the refusals across accounts.

use guichet_tests::{Person, TestApp, bare_client, problem, spawn_app};
use oauth::clients::ClientSpec;
use serde_json::{Value, json};

use crate::oauth::introspect;
use crate::oidc::{authorize_url, offline_app, param, pkce, redeem, refresh};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

/// A browser-like client announcing `ua`.
pub(crate) fn browser_as(ua: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(ua)
        .pool_idle_timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap()
}

pub(crate) async fn signed_up(app: &TestApp, first: &str) -> (Person, String) {
    let p = Person::new(first, "Tester");
    let handle = app.signup(&p).await;
    (p, handle)
}

pub(crate) async fn logged_in(
    app: &TestApp,
    handle: &str,
    p: &Person,
    ua: &str,
) -> reqwest::Client {
    let web = browser_as(ua);
    assert_eq!(app.login(&web, handle, &p.password).await.status(), 303);
    web
}

pub(crate) async fn page(app: &TestApp, web: &reqwest::Client, path: &str) -> (u16, String) {
    let r = web.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The session's form token, read from a panel page.
pub(crate) async fn csrf_of(app: &TestApp, web: &reqwest::Client) -> String {
    app.csrf(web, "/account/security/sessions").await
}

pub(crate) async fn api_get(app: &TestApp, web: &reqwest::Client, path: &str) -> (u16, Value) {
    let r = web.get(app.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn api_post(
    app: &TestApp,
    web: &reqwest::Client,
    path: &str,
    csrf: &str,
    body: Value,
) -> (u16, Value) {
    let r = web
        .post(app.url(path))
        .header("x-csrf-token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn is_signed_in(app: &TestApp, web: &reqwest::Client) -> bool {
    web.get(app.url("/account")).send().await.unwrap().status() == 200
}

/// The kinds in the account's security log, newest first (waiting a little
/// for lines written off the request path).
pub(crate) async fn log_kinds(app: &TestApp, web: &reqwest::Client, want: &str) -> Vec<String> {
    for _ in 0..50 {
        let (status, v) = api_get(app, web, "/api/v1/account/security-log").await;
        assert_eq!(status, 200, "{v}");
        let kinds: Vec<String> = v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect();
        if kinds.iter().any(|k| k == want) {
            return kinds;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no {want} line in the security log");
}

/// What userinfo answers to a bearer token.
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

#[tokio::test]
async fn sessions_are_listed_ended_one_by_one_and_everywhere() {
    let app = spawn_app().await;
    let (p, handle) = signed_up(&app, "Sessa").await;
    let laptop = logged_in(&app, &handle, &p, FIREFOX).await;
    let office = logged_in(&app, &handle, &p, CHROME_WIN).await;

    // Both browsers are listed, this one marked, with device and IP.
    let (status, v) = api_get(&app, &laptop, "/api/v1/account/sessions").await;
    assert_eq!(status, 200);
    let list = v["sessions"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{v}");
    let mine: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["device"], "Firefox / Linux");
    assert_eq!(mine[0]["ip"], "127.0.0.1");
    let other = list.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["device"], "Chrome / Windows");
    let other_handle = other["handle"].as_str().unwrap().to_owned();

    let sessions = app
        .client_on(&laptop)
        .get("/account/security/sessions")
        .await;
    let (status, html) = (sessions.status, sessions.body.as_str());
    assert_eq!(status, 200);
    assert!(html.contains("Firefox / Linux") && html.contains("Chrome / Windows"));
    assert!(html.contains("(this session)"));

    // Another account can neither see nor end these sessions.
    let (q, qh) = signed_up(&app, "Quentin").await;
    let intruder = logged_in(&app, &qh, &q, FIREFOX).await;
    let (_, theirs) = api_get(&app, &intruder, "/api/v1/account/sessions").await;
    assert_eq!(theirs["sessions"].as_array().unwrap().len(), 1);
    let icsrf = csrf_of(&app, &intruder).await;
    let (status, body) = api_post(
        &app,
        &intruder,
        "/api/v1/account/sessions/end",
        &icsrf,
        json!({ "handle": other_handle }),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        is_signed_in(&app, &office).await,
        "untouched by another account"
    );
    // Without the token, the write is refused.
    let (status, body) = api_post(
        &app,
        &laptop,
        "/api/v1/account/sessions/end",
        "wrong",
        json!({ "handle": other_handle }),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(problem(&body), "csrf-mismatch");
    assert!(is_signed_in(&app, &office).await);

    // "End this session" on the office browser, from the laptop's page.
    let r = sessions
        .form_with("/account/security/sessions/end", "handle", &other_handle)
        .send()
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "/account/security/sessions?done=ended"
    );
    assert!(
        !is_signed_in(&app, &office).await,
        "the office browser is signed out"
    );
    assert!(is_signed_in(&app, &laptop).await);
    let (_, v) = api_get(&app, &laptop, "/api/v1/account/sessions").await;
    assert_eq!(v["sessions"].as_array().unwrap().len(), 1);

    // An application that stays signed in holds a refresh token.
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let (tokens, _) = crate::oidc::offline_tokens(&app, &laptop, &id, &secret).await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&app, &id, &secret, &at).await["active"], true);

    // Sign out everywhere: this browser too, and the refresh token dies.
    let office = logged_in(&app, &handle, &p, CHROME_WIN).await;
    let r = app
        .client_on(&laptop)
        .get("/account/security/sessions")
        .await
        .form("/account/security/sessions/end-all")
        .send()
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    assert!(!is_signed_in(&app, &laptop).await);
    assert!(!is_signed_in(&app, &office).await);
    let r = refresh(&app, &id, &secret, &rt, None).await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    // So does the access token, although it has not expired.
    assert_eq!(introspect(&app, &id, &secret, &at).await["active"], false);
    assert_eq!(userinfo_status(&app, &at).await, 401);

    // The log tells the story.
    let again = logged_in(&app, &handle, &p, FIREFOX).await;
    let kinds = log_kinds(&app, &again, "signed_out_everywhere").await;
    assert!(kinds.contains(&"session_ended".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"login".to_owned()));
    let (status, html) = page(&app, &again, "/account/security/log").await;
    assert_eq!(status, 200);
    assert!(html.contains("Signed out everywhere"));
    assert!(html.contains("Session ended"));
}

#[tokio::test]
async fn ending_your_own_session_signs_you_out() {
    let app = spawn_app().await;
    let (p, handle) = signed_up(&app, "Selma").await;
    let web = logged_in(&app, &handle, &p, FIREFOX).await;
    let (_, v) = api_get(&app, &web, "/api/v1/account/sessions").await;
    let mine = v["sessions"][0]["handle"].as_str().unwrap().to_owned();
    let csrf = csrf_of(&app, &web).await;
    let (status, body) = api_post(
        &app,
        &web,
        "/api/v1/account/sessions/end",
        &csrf,
        json!({ "handle": mine }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["signed_out"], true);
    assert!(!is_signed_in(&app, &web).await);
    // Not signed in, the API answers 401 in JSON, not a login page.
    let (status, body) = api_get(&app, &web, "/api/v1/account/sessions").await;
    assert_eq!(status, 401);
    assert_eq!(problem(&body), "unauthenticated");
}

#[tokio::test]
async fn withdrawing_an_application_revokes_its_refresh_token() {
    let app = spawn_app().await;
    let spec = ClientSpec {
        first_party: false,
        ..offline_app()
    };
    let (id, secret) = app.create_client(&spec).await;
    let secret = secret.unwrap();
    let (p, handle) = signed_up(&app, "Consuela").await;
    let web = logged_in(&app, &handle, &p, FIREFOX).await;

    // Consent once, then a refresh token.
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &id, &challenge, &[])
        .replace("scope=openid+email", "scope=openid+email+offline_access");
    let r = app
        .client_on(&web)
        .get(&url)
        .await
        .form("/oauth2/consent")
        .set("decision", "allow")
        .send()
        .await;
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let code = param(&loc, "code").expect("code");
    let tokens: Value = redeem(&app, &id, &secret, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo_status(&app, &at).await, 200);

    // The application is listed, its scopes in plain words.
    let apps = app.client_on(&web).get("/account/security/apps").await;
    let (status, html) = (apps.status, apps.body.as_str());
    assert_eq!(status, 200);
    assert!(html.contains("Control panel"));
    assert!(html.contains("See your primary email address"));
    assert!(html.contains("Stay connected when you are away"));
    let (_, v) = api_get(&app, &web, "/api/v1/account/apps").await;
    assert_eq!(v["apps"][0]["client_id"], id.as_str());

    // Another account cannot withdraw it.
    let (q, qh) = signed_up(&app, "Quirin").await;
    let other = logged_in(&app, &qh, &q, FIREFOX).await;
    let ocsrf = csrf_of(&app, &other).await;
    let (status, _) = api_post(
        &app,
        &other,
        "/api/v1/account/apps/withdraw",
        &ocsrf,
        json!({ "client_id": id }),
    )
    .await;
    assert_eq!(status, 404);
    let r = refresh(&app, &id, &secret, &rt, None).await;
    assert_eq!(r.status(), 200, "still valid");
    let rt: String = r.json::<Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Withdraw from the page.
    let r = apps
        .form_with("/account/security/apps/withdraw", "client_id", &id)
        .send()
        .await;
    assert_eq!(r.status(), 303);
    let r = refresh(&app, &id, &secret, &rt, None).await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    // The access token it holds dies with the consent.
    assert_eq!(introspect(&app, &id, &secret, &at).await["active"], false);
    assert_eq!(userinfo_status(&app, &at).await, 401);
    let (_, html) = page(&app, &web, "/account/security/apps").await;
    assert!(html.contains("No application has access to your account."));
    // The next authorization asks for consent again.
    let (_, challenge) = pkce();
    let r = web
        .get(authorize_url(&app, &id, &challenge, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(log_kinds(&app, &web, "consent_withdrawn").await.len() >= 2);
}

#[tokio::test]
async fn failed_logins_appear_in_the_log_of_that_account_only() {
    let app = spawn_app().await;
    let (p, handle) = signed_up(&app, "Fay").await;
    let web = browser_as(FIREFOX);
    let r = app.login(&web, &handle, "not the password at all").await;
    assert_eq!(r.status(), 401);
    // One failure delays the next attempt by a second.
    app.clock.advance(std::time::Duration::from_millis(1100));
    let web = logged_in(&app, &handle, &p, FIREFOX).await;
    let kinds = log_kinds(&app, &web, "login_failed").await;
    assert_eq!(kinds[0], "login", "newest first: {kinds:?}");
    let (_, html) = page(&app, &web, "/account/security/log").await;
    assert!(html.contains("Failed sign-in"));

    let (q, qh) = signed_up(&app, "Gil").await;
    let other = logged_in(&app, &qh, &q, FIREFOX).await;
    let (_, v) = api_get(&app, &other, "/api/v1/account/security-log").await;
    let kinds: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["login"]);
    // Nothing is shown without a session.
    let r = bare_client()
        .get(app.url("/api/v1/account/security-log"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn lines_past_retention_are_swept_even_from_accounts_that_no_longer_write() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let (p, handle) = signed_up(&app, "Vieille").await;
    let web = logged_in(&app, &handle, &p, FIREFOX).await;
    log_kinds(&app, &web, "login").await;
    let db = guichet::app::connect_database(&app.settings, false)
        .await
        .unwrap();
    let count = |detail: &'static str| {
        let db = db.clone();
        async move {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    format!("SELECT COUNT(*) AS n FROM security_events WHERE detail = '{detail}'"),
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap()
        }
    };
    // Two lines written straight into the table, as if long ago: one past
    // the 90 days, one just inside them. The account writes nothing after.
    for (detail, days) in [("past-retention", 91), ("inside-retention", 89)] {
        db.execute_unprepared(&format!(
            "INSERT INTO security_events (account_id, user_id, kind, detail, ip, user_agent, at) \
             SELECT account_id, user_id, kind, '{detail}', ip, user_agent, '{}' \
             FROM security_events LIMIT 1",
            (app.clock.now() - chrono::Duration::days(days)).format("%Y-%m-%d %H:%M:%S%:z")
        ))
        .await
        .unwrap();
    }
    assert_eq!(count("past-retention").await, 1);

    // Another replica starts on the same database: its first sweep runs at once.
    let _replica = guichet_tests::spawn_with(app.settings.clone()).await;
    let mut left = 1;
    for _ in 0..50 {
        left = count("past-retention").await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "the old line is swept");
    assert_eq!(count("inside-retention").await, 1, "a recent one stays");
    let (_, v) = api_get(&app, &web, "/api/v1/account/security-log").await;
    assert!(
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["detail"] == "inside-retention")
    );
}
