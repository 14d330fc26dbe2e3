//! Login: identical failures, throttling, CSRF, cross-site refusal, headers.

use std::time::{Duration, Instant};

use guichet_tests::{Client, Person, bare_client, browser, set_cookie, spawn_app};

/// The body with the echoed identifier blanked: the only part of a failure page
/// that depends on the request rather than on the account.
fn normalised(body: &str, identifier: &str) -> String {
    body.replace(identifier, "IDENTIFIER")
}

#[tokio::test]
async fn unknown_identifier_wrong_password_and_disabled_account_look_identical() {
    let app = spawn_app().await;
    let alive = Person::new("Alice", "Martin");
    let alive_handle = app.signup(&alive).await;
    let disabled = Person::new("Bob", "Martin");
    let disabled_handle = app.signup(&disabled).await;
    let out = std::process::Command::new(crate::guichet_bin())
        .args(["account", "disable", &disabled_handle, "--json"])
        .envs(guichet_tests::env_for(&app.settings))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["status"], "disabled");

    // One cookie jar for all three, so the anti-CSRF token is the same.
    let web = browser();
    let attempts = [
        (
            "zz99999-ovh".to_owned(),
            "violet staircase under rain".to_owned(),
        ),
        (alive_handle.clone(), "wrong password, clearly".to_owned()),
        (disabled_handle.clone(), disabled.password.clone()),
    ];
    let mut seen = Vec::new();
    for (identifier, password) in &attempts {
        let r = app.login(&web, identifier, password).await;
        let status = r.status();
        let cookies: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let body = normalised(&r.text().await.unwrap(), identifier);
        seen.push((status, cookies, body));
    }
    assert_eq!(seen[0].0, 401);
    assert!(
        seen[0]
            .2
            .contains("The customer handle, email or password is incorrect.")
    );
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[1], seen[2]);
}

#[tokio::test]
async fn unknown_identifiers_cost_a_full_password_hash() {
    let app = spawn_app().await;
    let mut known = Vec::new();
    for i in 0..4 {
        let p = Person::new("Timing", &format!("Person{i}"));
        known.push(app.signup(&p).await);
    }
    let time = |identifier: String| {
        let app = &app;
        async move {
            let login = Client::new(app).get("/login").await.form("/login");
            let login = login.fill(&[
                ("identifier", identifier.as_str()),
                ("password", "not the password"),
            ]);
            let t = Instant::now();
            let r = login.submit().await;
            assert_eq!(r.status, 401);
            t.elapsed()
        }
    };
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for (i, h) in known.into_iter().enumerate() {
        wrong.push(time(h).await);
        unknown.push(time(format!("zz{}-ovh", 10_000 + i)).await);
    }
    wrong.sort();
    unknown.sort();
    let (w, u) = (wrong[2].as_secs_f64(), unknown[2].as_secs_f64());
    // Same work on both paths: medians within a factor of three of each other,
    // loose enough for a shared machine, far tighter than "hash vs no hash".
    assert!(
        u > w / 3.0 && u < w * 3.0,
        "wrong password {w:.4}s vs unknown {u:.4}s"
    );
}

#[tokio::test]
async fn failures_slow_the_account_across_fresh_login_attempts() {
    let app = spawn_app().await;
    let p = Person::new("Slow", "Down");
    let handle = app.signup(&p).await;

    let r = app
        .login(&browser(), &handle, "wrong password, clearly")
        .await;
    assert_eq!(r.status(), 401);
    // A brand-new client (new cookies, as an attacker would use) is held back too,
    // even with the right password, and whether it names the account by handle or email.
    for identifier in [handle.as_str(), p.email.as_str()] {
        let r = app.login(&browser(), identifier, &p.password).await;
        assert_eq!(r.status(), 429);
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=1).contains(&wait), "{wait}");
        assert!(r.text().await.unwrap().contains("Too many failed attempts"));
    }
    app.clock.advance(Duration::from_millis(1100));
    let r = app.login(&browser(), &handle, &p.password).await;
    assert_eq!(r.status(), 303);
}

/// Counting comes before checking: of fifty parallel wrong guesses (each
/// from a fresh browser) exactly one is checked, the others are refused
/// unchecked and count nothing, so the next right password waits out only
/// the first delay of the shipped schedule (1 s), not the cap.
#[tokio::test]
async fn of_fifty_parallel_wrong_guesses_one_is_checked_and_the_right_password_waits_one_second() {
    let app = spawn_app().await;
    let p = Person::new("Many", "Guesses");
    let handle = app.signup(&p).await;
    // Every browser has its anti-CSRF token before the guesses go, at once.
    let mut ready = Vec::new();
    for i in 0..50 {
        let login = Client::new(&app).get("/login").await.form("/login");
        let guess = format!("guess number {i}");
        ready.push(login.fill(&[("identifier", &handle), ("password", &guess)]));
    }
    let tasks: Vec<_> = ready
        .into_iter()
        .map(|login| tokio::spawn(async move { login.submit().await.status.as_u16() }))
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (1, 49), "{statuses:?}");
    let r = app.login(&browser(), &handle, &p.password).await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(wait, 1, "one failure counted: the first delay");
}

#[tokio::test]
async fn login_forms_need_their_anti_csrf_token_and_refuse_cross_site_posts() {
    let app = spawn_app().await;
    let p = Person::new("Csrf", "Check");
    let handle = app.signup(&p).await;
    let client = Client::new(&app);
    let web = client.http().clone();
    let login = client.get("/login").await.form("/login");
    let csrf = login
        .get("csrf")
        .expect("the login form's token")
        .to_owned();
    let filled = login.fill(&[("identifier", &handle), ("password", &p.password)]);

    let no_token = filled.clone().remove("csrf").submit().await;
    assert_eq!(no_token.status, 403);
    let other_token = filled.clone().set("csrf", &"A".repeat(43)).submit().await;
    assert_eq!(other_token.status, 403);
    let cross_site = web
        .post(app.url("/login"))
        .header("origin", "https://evil.example")
        .form(&[
            ("identifier", handle.as_str()),
            ("password", &p.password),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let fetch_meta = web
        .post(app.url("/login"))
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("identifier", handle.as_str()),
            ("password", &p.password),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(fetch_meta.status(), 403);
    // A sibling subdomain (a customer's site on the same registrable domain),
    // and an opaque origin the browser does not vouch for: refused as well.
    for (origin, site) in [
        (None, "same-site"),
        (Some("null"), "cross-site"),
        (Some("null"), "same-site"),
    ] {
        let mut req = web.post(app.url("/login")).header("sec-fetch-site", site);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let r = req
            .form(&[
                ("identifier", handle.as_str()),
                ("password", &p.password),
                ("csrf", &csrf),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{origin:?} {site}");
    }

    // Same origin with the token, as a browser sends it from our page (whose
    // no-referrer policy makes its Origin `null`): accepted, and the pre-login
    // token is replaced.
    let ok = web
        .post(app.url("/login"))
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("identifier", handle.as_str()),
            ("password", &p.password),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    let rotated = set_cookie(&ok, "guichet_csrf").expect("csrf cookie rotated");
    assert!(!rotated.contains(&csrf));
    let session = set_cookie(&ok, "guichet_session").unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attr), "{session}");
    }
    // The old pre-login token is dead.
    let stale = bare_client()
        .post(app.url("/login"))
        .header("cookie", rotated.split(';').next().unwrap())
        .form(&[
            ("identifier", handle.as_str()),
            ("password", &p.password),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 403);
}

#[tokio::test]
async fn every_login_gets_a_new_session_id_and_next_stays_on_site() {
    let app = spawn_app().await;
    let p = Person::new("Fix", "Ation");
    let handle = app.signup(&p).await;
    let web = browser();
    let first = app.login(&web, &handle, &p.password).await;
    let first_id = set_cookie(&first, "guichet_session").unwrap().to_owned();
    // Logging in again from the same browser replaces the id and kills the old one.
    let csrf = app.csrf(&bare_client(), "/login").await;
    let jar_cookie = format!(
        "{}; guichet_csrf={csrf}",
        first_id.split(';').next().unwrap()
    );
    let second = bare_client()
        .post(app.url("/login"))
        .header("cookie", &jar_cookie)
        .form(&[
            ("identifier", handle.as_str()),
            ("password", &p.password),
            ("csrf", &csrf),
            ("next", "//evil.example/x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 303);
    assert_eq!(
        second.headers()["location"],
        "/account",
        "next= must not leave the site"
    );
    let second_id = set_cookie(&second, "guichet_session").unwrap().to_owned();
    assert_ne!(first_id, second_id);
    let old = bare_client()
        .get(app.url("/account"))
        .header("cookie", first_id.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 303, "the session replaced at login is dead");
}

#[tokio::test]
async fn pages_carry_security_headers_and_prefill_the_login_hint() {
    let app = spawn_app().await;
    let c = bare_client();
    for path in ["/login?login_hint=ab12345-ovh", "/signup", "/no-such-page"] {
        let r = c.get(app.url(path)).send().await.unwrap();
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'none'",
            "default-src 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-store");
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS over plain HTTP"
        );
        let body = r.text().await.unwrap();
        // No third-party resources: every stylesheet, script and image is ours.
        for attr in ["src=\"http", "href=\"//", "stylesheet\" href=\"http"] {
            assert!(!body.contains(attr), "{path} loads a foreign resource");
        }
        if path.starts_with("/login") {
            assert!(body.contains("value=\"ab12345-ovh\""));
            assert!(
                body.contains("I don't know my customer handle")
                    && body.contains("Forgot password")
            );
        }
    }
    let r = c.get(app.url("/no-such-page")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}
