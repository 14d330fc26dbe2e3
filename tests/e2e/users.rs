//! Local users and groups, as the holder, the users themselves and relying
//! parties see them: logins as `<code>/<ID>` and `<handle>/<ID>`, the role ×
//! action matrix over the JSON API and the pages, cross-account attempts,
//! and the tokens a local user gets.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guichet_tests::{Person, TestApp, browser, hidden, problem, spawn_app};
use reqwest::{Client, Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::oidc::{authorize_url, follow_to_client, param, pkce, redeem, web_app};

pub(crate) const USER_PASSWORD: &str = "copper lantern over tide";

/// A signed-in holder: their browser, handle, customer code and the
/// session's anti-CSRF token.
pub(crate) struct Holder {
    pub(crate) web: Client,
    pub(crate) person: Person,
    pub(crate) handle: String,
    pub(crate) code: String,
    pub(crate) csrf: String,
}

async fn csrf_of(app: &TestApp, web: &Client) -> String {
    let html = web
        .get(app.url("/account/users"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    hidden(&html, "csrf").unwrap_or_else(|| panic!("csrf in {html}"))
}

pub(crate) async fn holder(app: &TestApp, first: &str) -> Holder {
    let person = Person::new(first, "Holder");
    let handle = app.signup(&person).await;
    let web = browser();
    assert_eq!(
        app.login(&web, &handle, &person.password).await.status(),
        303
    );
    let me: Value = get(app, &web, "/api/v1/account/users/me").await.1;
    assert_eq!(me["actor"], "holder");
    let code = me["customer_code"].as_str().unwrap().to_owned();
    let csrf = csrf_of(app, &web).await;
    Holder {
        web,
        person,
        handle,
        code,
        csrf,
    }
}

pub(crate) async fn call(
    app: &TestApp,
    web: &Client,
    method: Method,
    path: &str,
    csrf: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = web
        .request(method, app.url(path))
        .header("x-csrf-token", csrf);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub(crate) async fn get(app: &TestApp, web: &Client, path: &str) -> (StatusCode, Value) {
    call(app, web, Method::GET, path, "", None).await
}

pub(crate) async fn create_user(app: &TestApp, h: &Holder, login: &str, group: &str) -> i64 {
    let (s, v) = call(
        app,
        &h.web,
        Method::POST,
        "/api/v1/account/users",
        &h.csrf,
        Some(json!({
            "login": login,
            "email": format!("{login}@example.org"),
            "password": USER_PASSWORD,
            "group": group,
            "description": format!("{login} of the team"),
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["login"], login);
    v["id"].as_i64().unwrap()
}

/// A local user's browser, signed in, with its anti-CSRF token.
pub(crate) async fn sign_in_as(app: &TestApp, identifier: &str) -> (Client, String) {
    let web = browser();
    let r = app.login(&web, identifier, USER_PASSWORD).await;
    assert_eq!(r.status(), 303, "{identifier}: {}", r.text().await.unwrap());
    // Scripts read the session's token from `me`, whatever their role.
    let (s, me) = get(app, &web, "/api/v1/account/users/me").await;
    assert_eq!(s, 200, "{me}");
    (web, me["csrf"].as_str().unwrap().to_owned())
}

fn login_body(html: &str) -> String {
    // The forms differ only by their fresh anti-CSRF token.
    match hidden(html, "csrf") {
        Some(t) => html.replace(&t, "TOKEN"),
        None => html.to_owned(),
    }
}

fn claims_of(jwt: &str) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

async fn user_count(app: &TestApp, h: &Holder) -> usize {
    let (s, v) = get(app, &h.web, "/api/v1/account/users").await;
    assert_eq!(s, 200);
    v["users"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_user_logs_in_as_code_slash_id_and_as_handle_slash_id() {
    let app = spawn_app().await;
    let h = holder(&app, "Hana").await;
    create_user(&app, &h, "john", "UNPRIVILEGED").await;

    let (web, _) = sign_in_as(&app, &format!("{}/john", h.code)).await;
    let (s, me) = get(&app, &web, "/api/v1/account/users/me").await;
    assert_eq!(s, 200);
    assert_eq!(me["actor"], "user");
    assert_eq!(me["login"], "john");
    assert_eq!(me["role"], "read_only");
    assert_eq!(me["customer_handle"], h.handle.as_str());

    // The handle in any case and the ID in any case name the same user.
    let (web2, _) = sign_in_as(&app, &format!("{}/JOHN", h.handle.to_uppercase())).await;
    let (_, me2) = get(&app, &web2, "/api/v1/account/users/me").await;
    assert_eq!(me2["login"], "john");
}

#[tokio::test]
async fn wrong_password_unknown_user_and_unknown_account_give_one_answer() {
    let app = spawn_app().await;
    let h = holder(&app, "Ugo").await;
    create_user(&app, &h, "john", "DEFAULT").await;
    let mut answers = Vec::new();
    for (who, pw) in [
        (format!("{}/john", h.code), "wrong password entirely"),
        (format!("{}/nobody", h.code), USER_PASSWORD),
        ("9999-999-99/john".to_owned(), USER_PASSWORD),
        (format!("{}/john", h.handle), h.person.password.as_str()),
    ] {
        // Each failure of one user delays that user's next attempt by a
        // second: wait it out, so every answer is a plain refusal.
        app.clock.advance(std::time::Duration::from_millis(1100));
        let web = browser();
        let r = app.login(&web, &who, pw).await;
        let status = r.status();
        let cookies: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|c| c.to_str().unwrap().split('=').next().unwrap().to_owned())
            .collect();
        let body = login_body(&r.text().await.unwrap()).replace(&who, "WHO");
        answers.push((status, cookies, body));
    }
    assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);
    for a in &answers[1..] {
        assert_eq!(a, &answers[0]);
    }
}

#[tokio::test]
async fn a_disabled_user_is_refused_like_a_wrong_password_and_loses_open_sessions() {
    let app = spawn_app().await;
    let h = holder(&app, "Dora").await;
    let id = create_user(&app, &h, "john", "DEFAULT").await;
    let ident = format!("{}/john", h.code);
    let (web, _) = sign_in_as(&app, &ident).await;
    assert_eq!(get(&app, &web, "/api/v1/account/users").await.0, 200);

    let (s, v) = call(
        &app,
        &h.web,
        Method::PATCH,
        &format!("/api/v1/account/users/{id}"),
        &h.csrf,
        Some(json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "disabled");
    // The open session ends at its next request.
    assert_eq!(get(&app, &web, "/api/v1/account/users").await.0, 401);
    let wrong = app
        .login(&browser(), &ident, "not the password at all")
        .await;
    app.clock.advance(std::time::Duration::from_millis(1100));
    let disabled = app.login(&browser(), &ident, USER_PASSWORD).await;
    assert_eq!(disabled.status(), wrong.status());
    assert_eq!(
        login_body(&disabled.text().await.unwrap()),
        login_body(&wrong.text().await.unwrap())
    );

    // Enabled again, the user signs in again.
    let (s, _) = call(
        &app,
        &h.web,
        Method::PATCH,
        &format!("/api/v1/account/users/{id}"),
        &h.csrf,
        Some(json!({"status": "active"})),
    )
    .await;
    assert_eq!(s, 200);
    // Two failures on record: the next attempt waits three seconds.
    app.clock.advance(std::time::Duration::from_millis(3200));
    sign_in_as(&app, &ident).await;
}

#[tokio::test]
async fn every_role_gets_what_its_group_allows_and_nothing_more() {
    let app = spawn_app().await;
    let h = holder(&app, "Mara").await;
    let mut ids = std::collections::HashMap::new();
    let mut groups = std::collections::HashMap::new();
    for (login, group) in [
        ("nobody", "NONE"),
        ("reader", "UNPRIVILEGED"),
        ("deputy", "DEFAULT"),
        ("boss", "ADMIN"),
    ] {
        ids.insert(login, create_user(&app, &h, login, group).await);
        groups.insert(login, group);
    }
    // (login, reads users, reads /account, manages users)
    let matrix = [
        ("nobody", 403, 403, false),
        ("reader", 200, 200, false),
        ("deputy", 200, 200, false),
        ("boss", 200, 200, true),
    ];
    for (login, read_api, read_page, manages) in matrix {
        let (web, csrf) = sign_in_as(&app, &format!("{}/{login}", h.code)).await;
        let before = user_count(&app, &h).await;
        assert_eq!(
            get(&app, &web, "/api/v1/account/users").await.0.as_u16(),
            read_api,
            "{login} reads the users"
        );
        assert_eq!(
            get(&app, &web, "/api/v1/account/groups").await.0.as_u16(),
            read_api,
            "{login} reads the groups"
        );
        let page = web.get(app.url("/account")).send().await.unwrap();
        assert_eq!(page.status().as_u16(), read_page, "{login} reads /account");

        // Creating an UNPRIVILEGED user: only ADMIN may.
        let new_login = format!("new-{login}");
        let (s, v) = call(
            &app,
            &web,
            Method::POST,
            "/api/v1/account/users",
            &csrf,
            Some(json!({
                "login": new_login,
                "email": "new@example.org",
                "password": USER_PASSWORD,
                "group": "UNPRIVILEGED",
            })),
        )
        .await;
        if manages {
            assert_eq!(s, 201, "{login}: {v}");
        } else {
            assert_eq!(s, 403, "{login}: {v}");
            assert_eq!(problem(&v), "forbidden");
            assert_eq!(user_count(&app, &h).await, before, "nothing changed");
        }

        // Creating an ADMIN (escalation for everyone below ADMIN).
        let (s, v) = call(
            &app,
            &web,
            Method::POST,
            "/api/v1/account/users",
            &csrf,
            Some(json!({
                "login": format!("adm-{login}"),
                "email": "adm@example.org",
                "password": USER_PASSWORD,
                "group": "ADMIN",
            })),
        )
        .await;
        assert_eq!(s, if manages { 201 } else { 403 }, "{login}: {v}");

        // Changing one's own group (promotion, or the ADMIN's own
        // demotion), disabling or deleting oneself: never.
        let own = ids[login];
        let other_group = if login == "boss" { "DEFAULT" } else { "ADMIN" };
        let (s, v) = call(
            &app,
            &web,
            Method::PATCH,
            &format!("/api/v1/account/users/{own}"),
            &csrf,
            Some(json!({"group": other_group})),
        )
        .await;
        assert_eq!(s, 403, "{login} promotes themselves: {v}");
        for (method, body) in [
            (Method::PATCH, Some(json!({"status": "disabled"}))),
            (Method::DELETE, None),
        ] {
            let (s, _) = call(
                &app,
                &web,
                method,
                &format!("/api/v1/account/users/{own}"),
                &csrf,
                body,
            )
            .await;
            assert_eq!(s, 403, "{login} locks themselves out");
        }
        let (_, me) = get(&app, &h.web, &format!("/api/v1/account/users/{own}")).await;
        assert_eq!(me["status"], "active");
        assert_eq!(me["group"], groups[login], "unchanged");

        // Declaring a group: only ADMIN, and never above their own role.
        let (s, _) = call(
            &app,
            &web,
            Method::POST,
            "/api/v1/account/groups",
            &csrf,
            Some(json!({"name": format!("team-{login}"), "role": "read_only"})),
        )
        .await;
        assert_eq!(
            s,
            if manages { 201 } else { 403 },
            "{login} declares a group"
        );

        // Holder-only pages stay closed to every local user.
        let r = web
            .post(app.url("/account/notifications"))
            .form(&[("csrf", csrf.as_str()), ("on", "0")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            403,
            "{login} changes the holder's notifications"
        );

        // A write without this session's token is refused whatever the role.
        let (s, _) = call(
            &app,
            &web,
            Method::DELETE,
            &format!("/api/v1/account/users/{}", ids["nobody"]),
            "not-the-token",
            None,
        )
        .await;
        assert_eq!(s, 403);
    }

    // What the ADMIN may do to others: demote, disable, delete; and the
    // holder role is nobody's to grant.
    let (boss, csrf) = sign_in_as(&app, &format!("{}/boss", h.code)).await;
    let deputy = ids["deputy"];
    let (s, v) = call(
        &app,
        &boss,
        Method::PATCH,
        &format!("/api/v1/account/users/{deputy}"),
        &csrf,
        Some(json!({"group": "UNPRIVILEGED", "description": "now read-only"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["role"], "read_only");
    let (s, v) = call(
        &app,
        &boss,
        Method::POST,
        "/api/v1/account/groups",
        &csrf,
        Some(json!({"name": "owners", "role": "holder"})),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["errors"][0]["field"], "role");

    // The demotion holds at once for the deputy's open session.
    let (dep, dcsrf) = sign_in_as(&app, &format!("{}/deputy", h.code)).await;
    let (_, me) = get(&app, &dep, "/api/v1/account/users/me").await;
    assert_eq!(me["role"], "read_only");
    let (s, _) = call(
        &app,
        &dep,
        Method::DELETE,
        &format!("/api/v1/account/users/{}", ids["nobody"]),
        &dcsrf,
        None,
    )
    .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn bad_input_is_refused_per_field_and_changes_nothing() {
    let app = spawn_app().await;
    let h = holder(&app, "Vera").await;
    create_user(&app, &h, "john", "DEFAULT").await;
    let (s, v) = call(
        &app,
        &h.web,
        Method::POST,
        "/api/v1/account/users",
        &h.csrf,
        Some(json!({
            "login": "jo hn",
            "email": "not-an-email",
            "password": "short",
            "group": "NO_SUCH_GROUP",
            "description": "x".repeat(501),
        })),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for f in ["login", "email", "password", "group", "description"] {
        assert!(fields.contains(&f), "{f} in {v}");
    }
    assert!(
        v["errors"][0]["detail"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );

    // The same ID in another case is taken: 409.
    let (s, v) = call(
        &app,
        &h.web,
        Method::POST,
        "/api/v1/account/users",
        &h.csrf,
        Some(json!({
            "login": "John",
            "email": "john2@example.org",
            "password": USER_PASSWORD,
            "group": "DEFAULT",
        })),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["errors"][0]["code"], "login_taken");
    assert_eq!(user_count(&app, &h).await, 1);

    // Unknown JSON fields and malformed bodies are 400.
    let (s, _) = call(
        &app,
        &h.web,
        Method::POST,
        "/api/v1/account/users",
        &h.csrf,
        Some(json!({"login": "x", "role": "admin"})),
    )
    .await;
    assert_eq!(s, 400);

    // Groups: default ones cannot go, one with members cannot either.
    let (s, _) = call(
        &app,
        &h.web,
        Method::DELETE,
        "/api/v1/account/groups/ADMIN",
        &h.csrf,
        None,
    )
    .await;
    assert_eq!(s, 403);
    let (s, g) = call(
        &app,
        &h.web,
        Method::POST,
        "/api/v1/account/groups",
        &h.csrf,
        Some(json!({"name": "billing", "role": "read_only"})),
    )
    .await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(g["name"], "BILLING");
    let (s, _) = call(
        &app,
        &h.web,
        Method::POST,
        "/api/v1/account/groups",
        &h.csrf,
        Some(json!({"name": "Billing", "role": "admin"})),
    )
    .await;
    assert_eq!(s, 409);
    let ann = create_user(&app, &h, "ann", "billing").await;
    let (_, a) = get(&app, &h.web, &format!("/api/v1/account/users/{ann}")).await;
    assert_eq!(a["role"], "read_only");
    let (s, _) = call(
        &app,
        &h.web,
        Method::DELETE,
        "/api/v1/account/groups/BILLING",
        &h.csrf,
        None,
    )
    .await;
    assert_eq!(s, 409);
}

#[tokio::test]
async fn nobody_reaches_another_accounts_users() {
    let app = spawn_app().await;
    let a = holder(&app, "Alba").await;
    let b = holder(&app, "Bruno").await;
    create_user(&app, &a, "chief", "ADMIN").await;
    let victim = create_user(&app, &b, "victim", "DEFAULT").await;
    let (chief, csrf) = sign_in_as(&app, &format!("{}/chief", a.code)).await;

    for (web, token) in [(&chief, csrf.as_str()), (&a.web, a.csrf.as_str())] {
        let path = format!("/api/v1/account/users/{victim}");
        assert_eq!(get(&app, web, &path).await.0, 404);
        let (s, _) = call(
            &app,
            web,
            Method::PATCH,
            &path,
            token,
            Some(json!({"group": "NONE", "status": "disabled"})),
        )
        .await;
        assert_eq!(s, 404);
        assert_eq!(
            call(&app, web, Method::DELETE, &path, token, None).await.0,
            404
        );
        let r = web
            .post(app.url(&format!("/account/users/{victim}/delete")))
            .form(&[("csrf", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        // A's list never shows B's users.
        let (_, list) = get(&app, web, "/api/v1/account/users").await;
        assert!(!list.to_string().contains("victim"), "{list}");
    }
    // B's user is as it was, and B's user ID does not open A's account.
    let (_, v) = get(&app, &b.web, &format!("/api/v1/account/users/{victim}")).await;
    assert_eq!(v["status"], "active");
    assert_eq!(v["group"], "DEFAULT");
    let r = app
        .login(&browser(), &format!("{}/victim", a.code), USER_PASSWORD)
        .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_local_users_tokens_carry_their_own_sub_the_handle_and_their_role() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&web_app(true)).await;
    let secret = secret.unwrap();
    let h = holder(&app, "Tess").await;
    create_user(&app, &h, "john", "DEFAULT").await;

    let mut subs = Vec::new();
    let mut johns_token = String::new();
    for (web, role) in [
        (
            sign_in_as(&app, &format!("{}/john", h.code)).await.0,
            "restricted",
        ),
        (h.web.clone(), "holder"),
    ] {
        let (verifier, challenge) = pkce();
        let url = authorize_url(&app, &id, &challenge, &[])
            .replace("scope=openid+email", "scope=openid+email+customer");
        let loc = follow_to_client(&app, &web, url).await;
        let code = param(&loc, "code").unwrap();
        let r = redeem(&app, &id, &secret, &code, &verifier).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        let idt = claims_of(body["id_token"].as_str().unwrap());
        assert_eq!(idt["customer_handle"], h.handle.as_str());
        assert_eq!(idt["customer_code"], h.code.as_str());
        assert_eq!(idt["role"], role);
        let at = claims_of(body["access_token"].as_str().unwrap());
        assert_eq!(at["sub"], idt["sub"]);
        assert_eq!(at["role"], role);
        let info: Value = browser()
            .get(app.url("/oauth2/userinfo"))
            .bearer_auth(body["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["sub"], idt["sub"]);
        assert_eq!(info["role"], role);
        assert_eq!(info["customer_handle"], h.handle.as_str());
        if role == "restricted" {
            assert_eq!(info["email"], "john@example.org");
            assert!(info.get("given_name").is_none(), "not the holder's name");
            johns_token = body["access_token"].as_str().unwrap().to_owned();
        }
        subs.push(idt["sub"].as_str().unwrap().to_owned());
    }
    assert_ne!(subs[0], subs[1], "the user's sub is their own");

    // Moved to the read-only group, John's token (which says `restricted`)
    // stops working: no relying party goes on trusting the old role.
    let (_, list) = get(&app, &h.web, "/api/v1/account/users").await;
    let john = list["users"][0]["id"].as_i64().unwrap();
    let (s, v) = call(
        &app,
        &h.web,
        Method::PATCH,
        &format!("/api/v1/account/users/{john}"),
        &h.csrf,
        Some(json!({ "group": "UNPRIVILEGED" })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let r = crate::oauth::introspect(&app, &id, &secret, &johns_token).await;
    assert_eq!(r["active"], false);
    let r = browser()
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(&johns_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let meta: Value = browser()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        meta["claims_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "role")
    );
}

#[tokio::test]
async fn a_user_changes_their_own_password_and_their_other_sessions_end() {
    // No delays: a wrong current password then the right one at once; the
    // delays are tested in guesses.rs.
    let mut settings = guichet_tests::fresh_settings().await;
    settings.login.failure_delays_secs = vec![std::time::Duration::ZERO];
    let app = guichet_tests::spawn_with(settings).await;
    let h = holder(&app, "Olga").await;
    create_user(&app, &h, "john", "NONE").await;
    let ident = format!("{}/john", h.code);
    let (other, _) = sign_in_as(&app, &ident).await;
    let (web, csrf) = sign_in_as(&app, &ident).await;
    assert!(
        !csrf.is_empty(),
        "a NONE user still reaches their own security page"
    );

    let (s, v) = call(
        &app,
        &web,
        Method::POST,
        "/api/v1/account/users/me/password",
        &csrf,
        Some(json!({
            "current_password": "not the current one",
            "password": "short",
            "password_confirm": "different",
        })),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let r = web
        .post(app.url("/account/users/me/password"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current_password", USER_PASSWORD),
            ("password", "amber orchard at dusk"),
            ("password_confirm", "amber orchard at dusk"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // This browser goes on; the other session is over; the new password works.
    assert_eq!(get(&app, &web, "/api/v1/account/users/me").await.0, 200);
    assert_eq!(get(&app, &other, "/api/v1/account/users/me").await.0, 401);
    assert_eq!(
        app.login(&browser(), &ident, "amber orchard at dusk")
            .await
            .status(),
        303
    );
    // The holder is told.
    let mail = app
        .mail_to_with(&h.person.email, "john changed their password")
        .await;
    assert!(mail.contains(&h.handle), "{mail}");
}

#[tokio::test]
async fn the_users_page_creates_a_user_and_refuses_a_reader() {
    let app = spawn_app().await;
    let h = holder(&app, "Pia").await;
    let r = h
        .web
        .post(app.url("/account/users"))
        .form(&[
            ("csrf", h.csrf.as_str()),
            ("login", "reader"),
            ("email", "reader@example.org"),
            ("password", USER_PASSWORD),
            ("group", "UNPRIVILEGED"),
            ("description", "reads the bills"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = h
        .web
        .get(app.url(r.headers()["location"].to_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("reads the bills"), "{page}");
    assert!(page.contains(&format!("{}/reader", h.code)), "{page}");

    // A bad form comes back with the error tied to its field.
    let r = h
        .web
        .post(app.url("/account/users"))
        .form(&[
            ("csrf", h.csrf.as_str()),
            ("login", "bad id!"),
            ("email", "reader@example.org"),
            ("password", USER_PASSWORD),
            ("group", "UNPRIVILEGED"),
            ("description", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("aria-describedby=\"login-error\""), "{html}");
    assert!(html.contains("value=\"bad id!\""), "typed value kept");

    let (reader, csrf) = sign_in_as(&app, &format!("{}/reader", h.code)).await;
    let list = reader.get(app.url("/account/users")).send().await.unwrap();
    assert_eq!(list.status(), 200);
    let r = reader
        .post(app.url("/account/users"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "sneaky"),
            ("email", "s@example.org"),
            ("password", USER_PASSWORD),
            ("group", "ADMIN"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("administrator"));
    assert_eq!(user_count(&app, &h).await, 1);
}

#[tokio::test]
async fn the_log_names_who_acted_and_the_export_and_erasure_cover_the_users() {
    let app = spawn_app().await;
    let h = holder(&app, "Lola").await;
    create_user(&app, &h, "ann", "ADMIN").await;
    let (ann, ann_csrf) = sign_in_as(&app, &format!("{}/ann", h.code)).await;
    let (s, v) = call(
        &app,
        &ann,
        Method::POST,
        "/api/v1/account/users",
        &ann_csrf,
        Some(json!({
            "login": "bob", "email": "bob@example.org", "password": USER_PASSWORD,
            "group": "UNPRIVILEGED", "description": "",
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // The holder's log: each creation, and who made it.
    let html = h
        .web
        .get(app.url("/account/security/log"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows: Vec<&str> = html
        .split("<tr class=\"event\" data-kind=\"user_created\">")
        .skip(1)
        .collect();
    assert_eq!(rows.len(), 2, "{html}");
    // Newest first: ann made bob, the holder made ann.
    assert!(rows[0].contains(">bob<") && rows[0].contains("<td class=\"by\">ann</td>"));
    assert!(
        rows[1].contains(">ann<")
            && rows[1].contains(&format!("<td class=\"by\">{}</td>", h.handle))
    );
    let (_, log) = get(&app, &h.web, "/api/v1/account/security-log").await;
    let created: Vec<&Value> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "user_created")
        .collect();
    assert_eq!(created[0]["detail"], "bob");
    assert!(created[0]["user_id"].is_i64());
    assert!(created[1]["user_id"].is_null());

    // The export holds the users, their emails and the groups; no hash.
    let r = h
        .web
        .get(app.url("/api/v1/account/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let export: Value = serde_json::from_str(&text).unwrap();
    let users: Vec<(&str, &str)> = export["local_users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["login"].as_str().unwrap(), u["email"].as_str().unwrap()))
        .collect();
    assert_eq!(
        users,
        [("ann", "ann@example.org"), ("bob", "bob@example.org")]
    );
    assert!(
        export["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "ADMIN" && g["role"] == "admin")
    );
    assert!(export["profile"]["address"].is_object());
    assert!(!text.contains("$argon2") && !text.contains(USER_PASSWORD));

    // The holder's address and phone, then the erasure.
    let r = h
        .web
        .put(app.url("/api/v1/account/profile"))
        .header("x-csrf-token", &h.csrf)
        .json(&json!({
            "first_name": "Lola", "last_name": "Holder", "kind": "individual",
            "address_line1": "1 rue du Port", "postcode": "13002", "city": "Marseille",
            "phone": "+33 6 12 34 56 78", "country": "FR", "language": "fr",
        }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let (_, export) = get(&app, &h.web, "/api/v1/account/export").await;
    assert_eq!(export["profile"]["phone"], "+33612345678");
    assert_eq!(export["profile"]["address"]["city"], "Marseille");
    let (s, v) = call(
        &app,
        &h.web,
        Method::POST,
        "/api/v1/account/erase",
        &h.csrf,
        Some(json!({ "confirm": h.handle })),
    )
    .await;
    assert!(s.is_success(), "{s} {v}");

    // The users' logins and sessions are gone with the account.
    let r = app
        .login(&browser(), &format!("{}/bob", h.code), USER_PASSWORD)
        .await;
    assert_eq!(r.status(), 401);
    let (s, _) = get(&app, &ann, "/api/v1/account/users/me").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Nothing personal is left in the tombstone row or the users' table.
    let db = guichet::app::connect_database(&app.settings, false)
        .await
        .unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT COUNT(*) AS n FROM accounts WHERE handle = '{}' AND phone IS NULL \
                 AND city IS NULL AND address_line1 IS NULL AND postcode IS NULL",
                h.handle
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1);
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM local_users".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 0);
}

#[tokio::test]
async fn a_users_second_factor_is_logged_with_its_author_and_address() {
    let app = spawn_app().await;
    let h = holder(&app, "Mona").await;
    let id = create_user(&app, &h, "kim", "DEFAULT").await;
    let (kim, _) = sign_in_as(&app, &format!("{}/kim", h.code)).await;
    crate::twofactor::enrol_totp(&app, &kim).await;

    // Written off the request path: wait for the line.
    let mut line = Value::Null;
    for _ in 0..50 {
        let (_, log) = get(&app, &h.web, "/api/v1/account/security-log").await;
        if let Some(e) = log["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "two_factor_added")
        {
            line = e.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(line["user_id"], id, "{line}");
    assert_eq!(line["ip"], "127.0.0.1");
    assert!(line["detail"].as_str().unwrap().starts_with("totp"));
}
