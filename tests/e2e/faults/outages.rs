//! Database and Redis outages, and the JSON shape of every error.

use super::*;

#[tokio::test]
async fn a_database_outage_is_answered_503_at_once_in_each_callers_shape_and_heals() {
    let pg = PrivatePostgres::create();
    let mut settings = fresh_settings().await;
    guichet_tests::use_postgres(&mut settings, &pg.admin_url()).await;
    // The shipped bound, which use_postgres raises for loaded test runs.
    settings.database.acquire_timeout_ms = std::time::Duration::from_millis(400);
    let app = spawn_with(settings).await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let p = Person::new("Panne", "Longue");
    let handle = app.signup(&p).await;
    let web = browser();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    let (tokens, _) = offline_tokens(&app, &web, &id, &secret).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    // A visitor who opened the forgotten-password form before the outage.
    let visitor = browser();
    let form = visitor
        .get(app.url("/forgot-password"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = guichet_tests::hidden(&form, "csrf").unwrap();

    pg.stop();
    let c = bare_client();
    let (_, challenge) = crate::oidc::pkce();
    let authorize = crate::oidc::authorize_url(&app, &id, &challenge, &[]);
    // The authorization endpoint tells the client, at its registered
    // redirect URI (RFC 6749 §4.1.2.1), once the client is known; the first
    // request meets the outage itself and is the slowest of all.
    for attempt in ["first", "second"] {
        let started = std::time::Instant::now();
        let r = web.get(&authorize).send().await.unwrap();
        let took = started.elapsed();
        assert_eq!(r.status(), 303, "{attempt} authorize");
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with(crate::oidc::REDIRECT), "{attempt}: {to}");
        assert_eq!(
            crate::oidc::param(&to, "error").as_deref(),
            Some("temporarily_unavailable")
        );
        assert_eq!(crate::oidc::param(&to, "state").as_deref(), Some("st-123"));
        assert!(crate::oidc::param(&to, "iss").is_some());
        assert!(took < Duration::from_secs(1), "{attempt} took {took:?}");
    }
    // A client this replica never read cannot be told: a page.
    let unknown = timed(web.get(crate::oidc::authorize_url(
        &app,
        "never-seen",
        &challenge,
        &[],
    )))
    .await;
    assert_eq!(unknown.status, 503);
    assert!(unknown.content_type.contains("html"));
    let seen = vec![
        (
            "GET /login (fr)",
            timed(c.get(app.url("/login")).header("accept-language", "fr")).await,
        ),
        ("GET /account", timed(web.get(app.url("/account"))).await),
        (
            "GET /api/v1/account/profile",
            timed(web.get(app.url("/api/v1/account/profile"))).await,
        ),
        (
            "POST /api/v1/signup",
            timed(
                c.post(app.url("/api/v1/signup"))
                    .json(&Person::new("Neuf", "Client").signup_json()),
            )
            .await,
        ),
        (
            "POST /oauth2/token",
            timed(
                c.post(app.url("/oauth2/token"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                    ]),
            )
            .await,
        ),
        (
            "GET /oauth2/userinfo",
            timed(c.get(app.url("/oauth2/userinfo")).bearer_auth(&access)).await,
        ),
        (
            "POST /oauth2/introspect",
            timed(
                c.post(app.url("/oauth2/introspect"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[("token", access.as_str())]),
            )
            .await,
        ),
        (
            "POST /forgot-password",
            timed(
                visitor
                    .post(app.url("/forgot-password"))
                    .form(&[("csrf", csrf.as_str()), ("identifier", handle.as_str())]),
            )
            .await,
        ),
        ("GET /readyz", timed(c.get(app.url("/readyz"))).await),
    ];
    for (what, s) in &seen {
        eprintln!("outage: {what}: {} in {:?}", s.status, s.took);
        assert_eq!(s.status, 503, "{what}: {}", s.body);
        assert!(s.took < Duration::from_secs(1), "{what} took {:?}", s.took);
        if *what != "GET /readyz" {
            assert!(s.retry_after, "{what}: Retry-After");
        }
        let json = what.contains("/api/") || what.contains("/oauth2/");
        if json || *what == "GET /readyz" {
            assert!(
                s.content_type.contains("json"),
                "{what}: {}",
                s.content_type
            );
            let v: Value = serde_json::from_str(&s.body).unwrap();
            if what.contains("/api/") {
                assert_eq!(problem(&v), "temporarily-unavailable", "{what}: {v}");
            } else if json {
                assert_eq!(v["error"], "temporarily_unavailable", "{what}: {v}");
            }
        } else {
            assert!(
                s.content_type.contains("html"),
                "{what}: {}",
                s.content_type
            );
        }
    }
    assert!(
        seen[0].1.body.contains("Temporairement indisponible"),
        "the page speaks the visitor's language: {}",
        seen[0].1.body
    );
    assert!(
        seen[7].1.body.contains("try again"),
        "no \"sent\" for a mail that cannot be queued: {}",
        seen[7].1.body
    );

    // What is held in memory is still served.
    for path in ["/oauth2/jwks", "/.well-known/openid-configuration"] {
        let s = timed(c.get(app.url(path))).await;
        assert_eq!(s.status, 200, "{path} during the outage");
        assert!(s.took < Duration::from_secs(1), "{path} took {:?}", s.took);
    }

    // Back: ready again within 5 s of PostgreSQL's return, by itself.
    pg.start();
    let back = std::time::Instant::now();
    loop {
        if c.get(app.url("/readyz")).send().await.unwrap().status() == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not ready 5 s after"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("outage: ready again {:?} after PostgreSQL", back.elapsed());
    let r = web.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the session outlived the outage");
    let r = visitor
        .post(app.url("/forgot-password"))
        .form(&[("csrf", csrf.as_str()), ("identifier", handle.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the same request, honestly sent now");
    app.mail_to_with(&p.email, "reset-password").await;
}

#[tokio::test]
async fn the_first_request_after_a_redis_restart_succeeds() {
    let port = free_port();
    let redis = || {
        Killed(
            std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("redis-server is installed (CI installs it)"),
        )
    };
    let wait_open = || async {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis never opened its port");
    };
    let mut server = redis();
    wait_open().await;
    let mut settings = fresh_settings().await;
    settings.sessions.redis_url = format!("redis://127.0.0.1:{port}");
    settings.sessions.redis_timeout_secs = std::time::Duration::from_secs(1);
    let app = spawn_with(settings).await;
    let p = Person::new("Rouge", "Redemarre");
    let handle = app.signup(&p).await;
    assert_eq!(
        app.login(&browser(), &handle, &p.password).await.status(),
        303
    );

    // Restarted between two requests: the connection Guichet holds is dead,
    // and the first request afterwards still succeeds.
    server.kill();
    let mut server = redis();
    wait_open().await;
    let web = browser();
    let r = app.login(&web, &handle, &p.password).await;
    assert_eq!(r.status(), 303, "first login after a quiet restart");
    let r = web.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // Down for a while, with a request meeting the outage: that one fails
    // honestly, and the first one after it is back succeeds.
    let (id, secret) = app.create_client(&offline_app()).await;
    let (tokens, _) = offline_tokens(&app, &web, &id, &secret.unwrap()).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    server.kill();
    let down = app.login(&browser(), &handle, &p.password).await;
    assert_eq!(down.status(), 503, "no login without the store");
    // JSON callers get JSON, never an HTML page, while the store is down.
    for r in [
        bare_client()
            .get(app.url("/oauth2/userinfo"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
        web.get(app.url("/api/v1/account/profile"))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(r.status(), 503);
        assert!(r.headers().contains_key("retry-after"));
        let api = r.url().path().starts_with("/api/");
        let v: Value = r.json().await.expect("a JSON body");
        if api {
            assert_eq!(problem(&v), "temporarily-unavailable", "{v}");
        } else {
            assert_eq!(v["error"], "temporarily_unavailable", "{v}");
        }
    }
    let _server = redis();
    wait_open().await;
    let web = browser();
    let r = app.login(&web, &handle, &p.password).await;
    assert_eq!(r.status(), 303, "first login after the outage");
    let r = web.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn userinfo_and_the_json_apis_answer_every_error_in_json() {
    let app = guichet_tests::spawn_app().await;
    let c = bare_client();
    // RFC 6750 §3: a challenge in WWW-Authenticate, and the error in JSON.
    for (token, error) in [
        (None, "invalid_request"),
        (Some("not.a.jwt"), "invalid_token"),
    ] {
        let mut req = c.get(app.url("/oauth2/userinfo"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401);
        let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains(error),
            "{challenge}"
        );
        let v: Value = r.json().await.expect("a JSON body");
        assert_eq!(v["error"], error);
    }
    // A refusal by a layer (a cross-site write) on a JSON API is JSON too.
    let r = c
        .put(app.url("/api/v1/account/password"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let v: Value = r.json().await.expect("a JSON body");
    assert_eq!(problem(&v), "forbidden");
    assert_eq!(v["status"], 403);
    assert!(v["detail"].as_str().is_some_and(|m| !m.is_empty()));
    // The type leads to its description on the same instance.
    let doc = c
        .get(app.url(v["type"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(doc.status(), 200);
    let text = doc.text().await.unwrap();
    assert!(text.contains(v["title"].as_str().unwrap()), "{text}");
    let r = c
        .get(app.url("/problems/no-such-problem"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // And an unknown API path.
    let r = c.get(app.url("/api/v1/nothing-here")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.expect("a JSON body");
    assert_eq!(problem(&v), "not-found");
}
