//! Consent forms bound to their session and step, forced logins.

use super::*;

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
        let page = app.client_on(&web).get(&to).await;
        assert_eq!(page.status, 200, "{extra:?}: the login page shows");
        let html = &page.body;
        assert!(html.contains(&format!("value=\"{handle}\"")), "{html}");
        assert!(html.contains("id=\"other-account\""), "{html}");
        let r = page
            .form("/login")
            .fill(&[("identifier", &handle), ("password", &p.password)])
            .send()
            .await;
        assert_eq!(r.status(), 303);
        // The way back may cross a second boundary (a slow network, a busy
        // server): the sign-in made for this request still meets it.
        app.clock.advance(std::time::Duration::from_secs(5));
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
