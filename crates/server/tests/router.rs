//! The router in process: requests go through every middleware and handler
//! with `tower::ServiceExt::oneshot`, no socket and no server task, on a
//! fresh SQLite file and the memory session store. For what a client
//! observes of one request or two; real flows over HTTP, a browser,
//! PostgreSQL and Redis stay in `tests/e2e`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use accounts::password::HashParams;
use accounts::service::{Accounts, Signup, SignupRequest};
use accounts::{HandleSuffix, PasswordHasher, PasswordPolicy, Secret};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use migration::{Migrator, MigratorTrait};
use server::{AppState, LoginConfig, ServerConfig, SessionConfig, Store};
use tower::ServiceExt;

/// The public URL the in-process instance believes it has.
const PUBLIC: &str = "http://guichet.test/";

/// A fresh state: its own SQLite file, memory sessions, cheap password
/// hashes (the tests here check routing, not hashing cost).
async fn state() -> AppState {
    let dir = std::env::temp_dir().join(format!("guichet-router-{}", uuid_like()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display());
    let db = sea_orm::Database::connect(&url).await.expect("SQLite");
    Migrator::up(&db, None).await.expect("migrations");
    let clock = clock::Clock::system();
    let hasher = PasswordHasher::new(
        HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        2,
    )
    .expect("hasher");
    let accounts = Accounts::new(
        db.clone(),
        hasher,
        PasswordPolicy { min_chars: 12 },
        HandleSuffix::default(),
    )
    .with_clock(clock.clone());
    let store = Store::memory().with_clock(clock.clone());
    let mail = mail::MailQueue::new(
        db.clone(),
        mail::QueueSettings::new(1, Duration::from_secs(5)),
    );
    let encryptor =
        oauth::KeyEncryptor::from_base64(&oauth::KeyEncryptor::generate_base64()).expect("key");
    let keys = oauth::KeyRing::new(db.clone(), encryptor.clone());
    keys.ensure(clock.now()).await.expect("signing keys");
    let public_url = url::Url::parse(PUBLIC).expect("URL");
    let mfa = mfa::Mfa::new(
        db,
        mfa::MfaConfig {
            issuer: "Guichet".into(),
            rp_id: "guichet.test".into(),
            rp_origin: url::Url::parse("http://guichet.test").expect("origin"),
            rp_name: "Guichet".into(),
            sms_code_ttl: Duration::from_secs(300),
            sms_sends_per_window: 3,
            challenge_ttl: Duration::from_secs(300),
        },
        Arc::new(app::twofactor::KeySealer(encryptor)),
        Arc::new(app::twofactor::StoreEphemeral(store.clone().into())),
        Arc::new(mfa::SmsOutbox::new(dir.join("sms-outbox"))),
    )
    .expect("two-factor");
    let config = ServerConfig {
        public_url,
        max_body_bytes: 64 * 1024,
        limits: Default::default(),
        session: SessionConfig {
            idle_timeout: Duration::from_secs(1800),
            absolute_timeout: Duration::from_secs(12 * 3600),
        },
        login: LoginConfig {
            email_code: app::config::EmailCodePolicy::Never,
            ..LoginConfig::default()
        },
        access_token_audience: None,
        code_ttl: Duration::from_secs(60),
        rates: Default::default(),
        database_timeout: Duration::from_secs(5),
    };
    AppState::new(accounts, store, mail, config, keys, mfa)
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// One request through the whole router, from a loopback peer.
async fn send(app: &Router, mut req: Request<Body>) -> Response<Body> {
    let peer: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    req.extensions_mut().insert(ConnectInfo(peer));
    app.clone().oneshot(req).await.expect("infallible")
}

async fn get(app: &Router, path: &str, cookie: &str) -> Response<Body> {
    let mut req = Request::get(path);
    if !cookie.is_empty() {
        req = req.header(header::COOKIE, cookie);
    }
    send(app, req.body(Body::empty()).expect("request")).await
}

async fn post_form(app: &Router, path: &str, cookie: &str, form: &str) -> Response<Body> {
    let req = Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "http://guichet.test")
        .body(Body::from(form.to_owned()))
        .expect("request");
    send(app, req).await
}

async fn text(resp: Response<Body>) -> String {
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

fn header_of<'a>(resp: &'a Response<Body>, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// The `name=value` pairs a response sets, as one `Cookie` header.
fn cookies_of(resp: &Response<Body>) -> String {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The value of the `csrf` field of a page.
fn csrf_in(html: &str) -> String {
    let needle = "name=\"csrf\" value=\"";
    let start = html.find(needle).expect("a csrf field") + needle.len();
    let end = html[start..].find('"').expect("end of value");
    html[start..start + end].to_owned()
}

/// Signs a fresh account up in the service and in through the login form;
/// returns the session's cookies.
async fn signed_in(state: &AppState, app: &Router) -> String {
    let password = "violet staircase under rain";
    let created = state
        .accounts
        .signup(SignupRequest {
            first_name: "Ada".into(),
            last_name: "Router".into(),
            primary_email: "ada.router@example.com".into(),
            password: Secret::new(password),
            password_confirm: Secret::new(password),
            country: "FR".into(),
            language: "en".into(),
            kind: "individual".into(),
            ..Default::default()
        })
        .await
        .expect("sign-up");
    let Signup::Created(outcome) = created else {
        panic!("the address was free");
    };
    let page = get(app, "/login", "").await;
    let cookie = cookies_of(&page);
    let csrf = csrf_in(&text(page).await);
    let form = format!(
        "identifier={}&password={}&csrf={csrf}&next=",
        outcome.account.handle,
        password.replace(' ', "+")
    );
    let resp = post_form(app, "/login", &cookie, &form).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "login refused");
    cookies_of(&resp)
}

#[tokio::test]
async fn an_unknown_page_is_a_404_page_and_an_unknown_api_path_a_404_problem() {
    let app = server::router(state().await);
    let page = get(&app, "/no-such-page", "").await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(header_of(&page, "content-type").starts_with("text/html"));
    let api = get(&app, "/api/v1/nothing-here", "").await;
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert_eq!(header_of(&api, "content-type"), "application/problem+json");
    let v: serde_json::Value = serde_json::from_str(&text(api).await).expect("JSON");
    assert_eq!(v["type"], "/problems/not-found");
    assert_eq!(v["status"], 404);
}

#[tokio::test]
async fn the_account_page_without_a_session_sends_to_login_and_back() {
    let app = server::router(state().await);
    let resp = get(&app, "/account", "").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(header_of(&resp, "location"), "/login?next=%2Faccount");
}

#[tokio::test]
async fn the_json_api_without_a_session_answers_an_unauthenticated_problem() {
    let app = server::router(state().await);
    let resp = get(&app, "/api/v1/account/sessions", "").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header_of(&resp, "content-type"), "application/problem+json");
    let v: serde_json::Value = serde_json::from_str(&text(resp).await).expect("JSON");
    assert_eq!(v["type"], "/problems/unauthenticated");
    assert_eq!(v["status"], 401);
    assert!(v["title"].is_string() && v["detail"].is_string(), "{v}");
}

#[tokio::test]
async fn a_panel_form_with_a_wrong_anti_csrf_token_is_refused() {
    let state = state().await;
    let app = server::router(state.clone());
    let cookie = signed_in(&state, &app).await;
    // The session is good: the page shows.
    assert_eq!(get(&app, "/account/profile", &cookie).await.status(), 200);
    let resp = post_form(
        &app,
        "/account/profile",
        &cookie,
        "csrf=not-the-token&first_name=Eve&last_name=Forger",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // And nothing changed.
    let after = text(get(&app, "/account/profile", &cookie).await).await;
    assert!(!after.contains("Forger"), "{after}");
}

#[tokio::test]
async fn error_responses_carry_the_security_headers() {
    let app = server::router(state().await);
    for path in ["/no-such-page", "/api/v1/account/sessions"] {
        let resp = get(&app, path, "").await;
        assert!(resp.status().is_client_error(), "{path}");
        assert!(
            header_of(&resp, "content-security-policy").contains("default-src"),
            "{path}"
        );
        assert_eq!(header_of(&resp, "x-content-type-options"), "nosniff");
        assert_eq!(header_of(&resp, "referrer-policy"), "no-referrer");
        assert_eq!(header_of(&resp, "x-frame-options"), "DENY");
    }
}

#[tokio::test]
async fn discovery_and_jwks_are_served() {
    let app = server::router(state().await);
    let resp = get(&app, "/.well-known/openid-configuration", "").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&text(resp).await).expect("JSON");
    assert_eq!(doc["issuer"], "http://guichet.test");
    let jwks_uri = doc["jwks_uri"].as_str().expect("jwks_uri");
    let path = jwks_uri
        .strip_prefix("http://guichet.test")
        .expect("on this instance");
    let resp = get(&app, path, "").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let jwks: serde_json::Value = serde_json::from_str(&text(resp).await).expect("JSON");
    let keys = jwks["keys"].as_array().expect("keys");
    assert!(!keys.is_empty(), "{jwks}");
    assert!(
        keys.iter()
            .all(|k| k["kid"].is_string() && k["kty"].is_string())
    );
}

#[tokio::test]
async fn a_problem_type_leads_to_its_description() {
    let app = server::router(state().await);
    let resp = get(&app, "/problems/unauthenticated", "").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(header_of(&resp, "content-type").starts_with("text/html"));
    let html = text(resp).await;
    assert!(html.contains("unauthenticated"), "{html}");
    let resp = get(&app, "/problems/no-such-problem", "").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}
