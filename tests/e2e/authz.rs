//! One authorization decision for every path to a code or a token: the
//! consent form, the resume after a login, `prompt=login` and `max_age`,
//! refresh; access cut off at once wherever it was granted; introspection
//! scoped to the client's own tokens; a code replayed while its first
//! redemption is in flight.

use guichet_tests::{Person, TestApp, bare_client, browser, hidden, spawn_app};
use oauth::clients::ClientSpec;
use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::oauth::introspect;
use crate::oidc::{
    REDIRECT, authorize_url, follow_to_client, offline_app, param, pkce, redeem, refresh, web_app,
};
use crate::users::{call, create_user, get, holder, sign_in_as};

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

async fn signed_in(app: &TestApp, first: &str) -> (Client, Person, String) {
    let p = Person::new(first, "Decision");
    let handle = app.signup(&p).await;
    let web = browser();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    (web, p, handle)
}

/// A third-party client (consent asked) with a secret.
async fn third_party(app: &TestApp, spec: ClientSpec) -> (String, String) {
    let (id, secret) = app.create_client(&spec).await;
    (id, secret.unwrap())
}

/// Opens the consent page of a fresh request: its request id and the
/// session's anti-CSRF token.
async fn consent_page(
    app: &TestApp,
    web: &Client,
    client_id: &str,
    challenge: &str,
) -> (String, String) {
    let r = web
        .get(authorize_url(app, client_id, challenge, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the consent page");
    let html = r.text().await.unwrap();
    (
        hidden(&html, "request_id").expect("request_id"),
        hidden(&html, "csrf").expect("csrf"),
    )
}

async fn answer(app: &TestApp, web: &Client, request_id: &str, csrf: &str) -> reqwest::Response {
    web.post(app.url("/oauth2/consent"))
        .form(&[
            ("csrf", csrf),
            ("request_id", request_id),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap()
}

fn claims_of(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

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
async fn the_consent_form_cannot_answer_a_request_that_waits_for_a_second_factor() {
    let app = spawn_app().await;
    // The client demands two-factor; this account has none, so the request
    // is saved while the browser is sent to enrol one.
    let (id, secret) = third_party(
        &app,
        ClientSpec {
            requires_2fa: true,
            ..web_app(false)
        },
    )
    .await;
    let (web, _, _) = signed_in(&app, "Stepup").await;
    let (verifier, challenge) = pkce();
    let r = web
        .get(authorize_url(&app, &id, &challenge, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.starts_with("/account/security?next="), "{to}");
    let next = url::form_urlencoded::parse(to.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "next")
        .unwrap()
        .1
        .into_owned();
    let request_id = next.split("request_id=").nth(1).unwrap().to_owned();
    let (_, me) = get(&app, &web, "/api/v1/account/users/me").await;
    let csrf = me["csrf"].as_str().unwrap().to_owned();

    // Posting "allow" for that request with the session's own token gives
    // no code: the request was never shown to this session for consent.
    let r = answer(&app, &web, &request_id, &csrf).await;
    assert_eq!(r.status(), 400, "{}", r.text().await.unwrap());
    // Nor does the resume: it sends the browser back to the second factor.
    let r = web.get(app.url(&next)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        location(&r).starts_with("/account/security?"),
        "{}",
        location(&r)
    );
    // And no code was made that the client could redeem.
    let r = redeem(&app, &id, &secret, "any-code", &verifier).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_consent_given_after_the_session_ended_gives_no_code() {
    let app = spawn_app().await;
    let (id, _) = third_party(&app, web_app(false)).await;
    let h = holder(&app, "Cora").await;
    let uid = create_user(&app, &h, "lea", "DEFAULT").await;
    let (web, _) = sign_in_as(&app, &format!("{}/lea", h.code)).await;
    let (_, challenge) = pkce();
    let (request_id, csrf) = consent_page(&app, &web, &id, &challenge).await;

    // The holder disables Léa while her consent page is open.
    let (s, v) = call(
        &app,
        &h.web,
        Method::PATCH,
        &format!("/api/v1/account/users/{uid}"),
        &h.csrf,
        Some(json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let r = answer(&app, &web, &request_id, &csrf).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login", "no code, back to the login");

    // The same for a holder who signed out everywhere from another browser.
    let (web, p, handle) = signed_in(&app, "Ines").await;
    let (request_id, csrf) = consent_page(&app, &web, &id, &challenge).await;
    let other = browser();
    assert_eq!(app.login(&other, &handle, &p.password).await.status(), 303);
    let (_, me) = get(&app, &other, "/api/v1/account/users/me").await;
    let other_csrf = me["csrf"].as_str().unwrap().to_owned();
    let (s, v) = call(
        &app,
        &other,
        Method::POST,
        "/api/v1/account/sessions/end-all",
        &other_csrf,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let r = answer(&app, &web, &request_id, &csrf).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login");
}

#[tokio::test]
async fn a_consent_page_answers_only_for_the_session_it_was_shown_to() {
    let app = spawn_app().await;
    let (id, _) = third_party(&app, web_app(false)).await;
    let (alice, _, _) = signed_in(&app, "Alice").await;
    let (mallory, _, _) = signed_in(&app, "Mallory").await;
    let (_, challenge) = pkce();
    let (request_id, _) = consent_page(&app, &alice, &id, &challenge).await;
    let (_, mallory_csrf) = consent_page(&app, &mallory, &id, &challenge).await;
    let r = answer(&app, &mallory, &request_id, &mallory_csrf).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
}

#[tokio::test]
async fn prompt_login_and_max_age_show_the_form_then_continue_with_a_fresh_auth_time() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&web_app(true)).await;
    let secret = secret.unwrap();
    let (web, p, handle) = signed_in(&app, "Fresh").await;
    for extra in [
        ("prompt", "login"),
        ("max_age", "0"),
        ("prompt", "select_account"),
    ] {
        let (verifier, challenge) = pkce();
        let asked_at = app.clock.now_secs();
        let r = web
            .get(authorize_url(&app, &id, &challenge, &[extra]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{extra:?}");
        let to = location(&r);
        assert!(to.starts_with("/login?"), "{extra:?}: {to}");
        // The form, not a bounce back: the account pre-filled, a way out.
        let r = web.get(app.url(&to)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{extra:?}: the login page shows");
        let html = r.text().await.unwrap();
        assert!(html.contains(&format!("value=\"{handle}\"")), "{html}");
        assert!(html.contains("id=\"other-account\""), "{html}");
        let csrf = hidden(&html, "csrf").unwrap();
        let next = hidden(&html, "next").unwrap();
        let r = web
            .post(app.url("/login"))
            .form(&[
                ("identifier", handle.as_str()),
                ("password", p.password.as_str()),
                ("csrf", csrf.as_str()),
                ("next", next.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let loc = follow_to_client(&app, &web, app.url(&location(&r))).await;
        assert!(loc.starts_with(REDIRECT), "{extra:?}: {loc}");
        let code = param(&loc, "code").expect("a code after signing in again");
        let body: Value = redeem(&app, &id, &secret, &code, &verifier)
            .await
            .json()
            .await
            .unwrap();
        let idt = claims_of(body["id_token"].as_str().unwrap());
        assert!(
            idt["auth_time"].as_i64().unwrap() >= asked_at,
            "{extra:?}: auth_time {} before the request {asked_at}",
            idt["auth_time"]
        );
    }
    // max_age larger than the session's age needs no new login.
    let (_, challenge) = pkce();
    let loc = follow_to_client(
        &app,
        &web,
        authorize_url(&app, &id, &challenge, &[("max_age", "3600")]),
    )
    .await;
    assert!(param(&loc, "code").is_some());
    // prompt=none still never shows a page.
    let r = web
        .get(authorize_url(
            &app,
            &id,
            &challenge,
            &[("prompt", "none"), ("max_age", "0")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn the_login_page_still_sends_an_ordinary_signed_in_visitor_on() {
    let app = spawn_app().await;
    let (web, _, _) = signed_in(&app, "Plain").await;
    let r = web
        .get(app.url("/login?next=%2Faccount%2Fsecurity"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account/security");
}

/// An access token and a refresh token for the signed-in browser.
async fn tokens(app: &TestApp, web: &Client, id: &str, secret: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let url = authorize_url(app, id, &challenge, &[])
        .replace("scope=openid+email", "scope=openid+email+offline_access");
    let loc = follow_to_client(app, web, url).await;
    let code = param(&loc, "code").unwrap();
    let r = redeem(app, id, secret, &code, &verifier).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn assert_cut_off(
    app: &TestApp,
    id: &str,
    secret: &str,
    access: &str,
    refresh_token: &str,
    why: &str,
) {
    assert_eq!(
        introspect(app, id, secret, access).await["active"],
        false,
        "{why}: introspection"
    );
    assert_eq!(userinfo_status(app, access).await, 401, "{why}: userinfo");
    let r = refresh(app, id, secret, refresh_token, None).await;
    assert_eq!(r.status(), 400, "{why}: refresh");
}

/// The browser's session is gone: account pages send it to the login.
async fn assert_signed_out(app: &TestApp, web: &Client) {
    let r = web.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 303, "the session is gone");
    assert!(location(&r).starts_with("/login"));
}

#[tokio::test]
async fn a_password_change_cuts_off_every_token_already_issued() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let (web, p, _) = signed_in(&app, "Pavel").await;
    let (access, refresh_token) = tokens(&app, &web, &id, &secret).await;
    assert_eq!(
        introspect(&app, &id, &secret, &access).await["active"],
        true
    );
    assert_eq!(userinfo_status(&app, &access).await, 200);

    let (_, me) = get(&app, &web, "/api/v1/account/users/me").await;
    let csrf = me["csrf"].as_str().unwrap().to_owned();
    let (s, v) = call(
        &app,
        &web,
        Method::PUT,
        "/api/v1/account/password",
        &csrf,
        Some(json!({
            "current_password": p.password,
            "password": "an entirely new passphrase 42",
            "password_confirm": "an entirely new passphrase 42",
        })),
    )
    .await;
    assert!(s.is_success(), "{s}: {v}");
    assert_cut_off(
        &app,
        &id,
        &secret,
        &access,
        &refresh_token,
        "password change",
    )
    .await;
    // This browser goes on.
    assert_eq!(get(&app, &web, "/api/v1/account/users/me").await.0, 200);
}

#[tokio::test]
async fn a_disabled_account_loses_its_sessions_and_tokens_at_once() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let (web, _, handle) = signed_in(&app, "Dino").await;
    let (access, refresh_token) = tokens(&app, &web, &id, &secret).await;
    let out = std::process::Command::new(crate::guichet_bin())
        .args(["account", "disable", &handle, "--json"])
        .envs(guichet_tests::env_for(&app.settings))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_cut_off(
        &app,
        &id,
        &secret,
        &access,
        &refresh_token,
        "account disabled",
    )
    .await;
    assert_signed_out(&app, &web).await;
}

#[tokio::test]
async fn sign_out_everywhere_and_support_removing_two_factor_cut_off_tokens() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();

    let (web, _, _) = signed_in(&app, "Everywhere").await;
    let (access, refresh_token) = tokens(&app, &web, &id, &secret).await;
    // A code on its way to the client when the cut-off comes is void too.
    let (code, verifier) = crate::oidc::code_for(&app, &web, &id).await;
    let (_, me) = get(&app, &web, "/api/v1/account/users/me").await;
    let csrf = me["csrf"].as_str().unwrap().to_owned();
    let (s, _) = call(
        &app,
        &web,
        Method::POST,
        "/api/v1/account/sessions/end-all",
        &csrf,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_cut_off(
        &app,
        &id,
        &secret,
        &access,
        &refresh_token,
        "signed out everywhere",
    )
    .await;
    let r = redeem(&app, &id, &secret, &code, &verifier).await;
    assert_eq!(r.status(), 400, "a code issued before the cut-off");

    let (web, _, handle) = signed_in(&app, "Support").await;
    let (access, refresh_token) = tokens(&app, &web, &id, &secret).await;
    let r = bare_client()
        .post(app.operator_url(&format!("/admin/v1/accounts/{handle}/disable-2fa")))
        .bearer_auth(guichet_tests::OPERATOR_TOKEN)
        .json(&json!({"case_ref": "PHONE-9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_cut_off(
        &app,
        &id,
        &secret,
        &access,
        &refresh_token,
        "support removed two-factor",
    )
    .await;
    assert_signed_out(&app, &web).await;
}

#[tokio::test]
async fn a_disabled_local_user_loses_sessions_and_tokens_and_the_holder_keeps_theirs() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let h = holder(&app, "Hana").await;
    let uid = create_user(&app, &h, "tom", "DEFAULT").await;
    let (tom, _) = sign_in_as(&app, &format!("{}/tom", h.code)).await;
    let (access, refresh_token) = tokens(&app, &tom, &id, &secret).await;
    let (holder_access, _) = tokens(&app, &h.web, &id, &secret).await;
    let (s, _) = call(
        &app,
        &h.web,
        Method::PATCH,
        &format!("/api/v1/account/users/{uid}"),
        &h.csrf,
        Some(json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(s, 200);
    assert_cut_off(
        &app,
        &id,
        &secret,
        &access,
        &refresh_token,
        "local user disabled",
    )
    .await;
    assert_eq!(
        userinfo_status(&app, &holder_access).await,
        200,
        "the holder's token lives"
    );
}

#[tokio::test]
async fn introspection_tells_a_client_about_its_own_tokens_only() {
    let app = spawn_app().await;
    let (issuer_id, issuer_secret) = app.create_client(&offline_app()).await;
    let issuer_secret = issuer_secret.unwrap();
    let other_spec = ClientSpec {
        grant_types: vec!["client_credentials".into()],
        scopes: vec!["api".into()],
        ..ClientSpec::named("Another service")
    };
    let (other_id, other_secret) = app.create_client(&other_spec).await;
    let other_secret = other_secret.unwrap();
    let (rs_id, rs_secret) = app
        .create_client(&ClientSpec {
            introspects_others: true,
            ..ClientSpec {
                name: "Resource server".into(),
                ..other_spec.clone()
            }
        })
        .await;
    let rs_secret = rs_secret.unwrap();

    let (web, _, _) = signed_in(&app, "Intro").await;
    let (access, refresh_token) = tokens(&app, &web, &issuer_id, &issuer_secret).await;
    for token in [&access, &refresh_token] {
        assert_eq!(
            introspect(&app, &issuer_id, &issuer_secret, token).await["active"],
            true
        );
        let v = introspect(&app, &other_id, &other_secret, token).await;
        assert_eq!(v, json!({"active": false}), "another client learns nothing");
    }
    let v = introspect(&app, &rs_id, &rs_secret, &access).await;
    assert_eq!(v["active"], true, "a resource server the operator allowed");
    assert_eq!(v["client_id"], issuer_id.as_str());
    let v = introspect(&app, &rs_id, &rs_secret, &refresh_token).await;
    assert_eq!(
        v,
        json!({"active": false}),
        "refresh tokens stay their client's"
    );
}

#[tokio::test]
async fn a_code_replayed_while_its_first_redemption_is_in_flight_revokes_its_tokens() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app, "Replay").await;
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &id, &challenge, &[])
        .replace("scope=openid+email", "scope=openid+email+offline_access");
    let loc = follow_to_client(&app, &web, url).await;
    let code = param(&loc, "code").unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (app_url, id, secret, code, verifier) = (
                app.url("/oauth2/token"),
                id.clone(),
                secret.clone(),
                code.clone(),
                verifier.clone(),
            );
            tokio::spawn(async move {
                let r = bare_client()
                    .post(app_url)
                    .basic_auth(&id, Some(&secret))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", REDIRECT),
                        ("code_verifier", verifier.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let issued: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    let refused = answers
        .iter()
        .filter(|(s, b)| *s == 400 && b["error"] == "invalid_grant")
        .count();
    // Exactly one redemption issued, and what it issued is revoked: the code
    // came back 99 times, most of them while that redemption was in flight.
    assert_eq!(issued.len(), 1);
    assert_eq!(refused, 99);
    for body in issued {
        let access = body["access_token"].as_str().unwrap();
        assert_eq!(
            introspect(&app, &id, &secret, access).await["active"],
            false
        );
        let rt = body["refresh_token"].as_str().unwrap();
        assert_eq!(refresh(&app, &id, &secret, rt, None).await.status(), 400);
    }
}

#[tokio::test]
async fn a_local_user_manages_only_their_own_sessions_and_grants() {
    let app = spawn_app().await;
    let (id, _) = third_party(&app, web_app(false)).await;
    let h = holder(&app, "Rhea").await;
    // The least privileged group still manages its own sessions.
    create_user(&app, &h, "ugo", "NONE").await;
    let (ugo, ugo_csrf) = sign_in_as(&app, &format!("{}/ugo", h.code)).await;

    // Both consent to the client.
    for web in [&h.web, &ugo] {
        let (_, challenge) = pkce();
        let (request_id, csrf) = consent_page(&app, web, &id, &challenge).await;
        let r = answer(&app, web, &request_id, &csrf).await;
        assert_eq!(r.status(), 303);
        assert!(location(&r).starts_with(REDIRECT));
    }

    let (s, mine) = get(&app, &ugo, "/api/v1/account/sessions").await;
    assert_eq!(s, 200, "{mine}");
    assert_eq!(mine["sessions"].as_array().unwrap().len(), 1, "{mine}");
    let (_, all) = get(&app, &h.web, "/api/v1/account/sessions").await;
    let holders: Vec<String> = all["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["handle"].as_str().unwrap().to_owned())
        .filter(|x| *x != mine["sessions"][0]["handle"].as_str().unwrap())
        .collect();
    assert_eq!(holders.len(), 1, "{all}");
    // Ugo cannot end the holder's session.
    let (s, _) = call(
        &app,
        &ugo,
        Method::POST,
        "/api/v1/account/sessions/end",
        &ugo_csrf,
        Some(json!({"handle": holders[0]})),
    )
    .await;
    assert_eq!(s, 404);
    // Ugo's grants are Ugo's: withdrawing leaves the holder's consent.
    let (_, apps) = get(&app, &ugo, "/api/v1/account/apps").await;
    assert_eq!(apps["apps"].as_array().unwrap().len(), 1, "{apps}");
    let (s, v) = call(
        &app,
        &ugo,
        Method::POST,
        "/api/v1/account/apps/withdraw",
        &ugo_csrf,
        Some(json!({"client_id": id})),
    )
    .await;
    assert!(s.is_success(), "{s} {v}");
    let (_, apps) = get(&app, &h.web, "/api/v1/account/apps").await;
    assert_eq!(
        apps["apps"].as_array().unwrap().len(),
        1,
        "the holder's consent stays: {apps}"
    );
    // Signing out everywhere, Ugo ends Ugo's sessions only.
    let (s, _) = call(
        &app,
        &ugo,
        Method::POST,
        "/api/v1/account/sessions/end-all",
        &ugo_csrf,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(get(&app, &ugo, "/api/v1/account/sessions").await.0, 401);
    assert_eq!(get(&app, &h.web, "/api/v1/account/sessions").await.0, 200);
}
