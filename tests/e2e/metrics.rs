//! Request ids and the operator listener's `/metrics`.

use guichet_tests::{OPERATOR_TOKEN, Person, TestApp, bare_client, browser, spawn_app};
use oauth::clients::ClientSpec;

async fn scrape(app: &TestApp) -> String {
    let r = bare_client()
        .get(app.operator_url("/metrics"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    r.text().await.unwrap()
}

#[tokio::test]
async fn logins_and_tokens_are_counted_on_the_operator_listener_only() {
    let app = spawn_app().await;
    let p = Person::new("Mia", "Metric");
    let handle = app.signup(&p).await;
    let b = browser();
    let r = app.login(&b, &handle, "not the password at all").await;
    assert_eq!(r.status(), 401);
    // Within the one-second delay after a failure: throttled.
    let r = app.login(&b, &handle, &p.password).await;
    assert_eq!(r.status(), 429);
    app.clock.advance(std::time::Duration::from_millis(1100));
    let r = app.login(&b, &handle, &p.password).await;
    assert!(r.status().is_redirection(), "{}", r.status());

    let (id, secret) = app
        .create_client(&ClientSpec {
            grant_types: vec!["client_credentials".into()],
            scopes: vec!["api".into()],
            ..ClientSpec::named("Metered service")
        })
        .await;
    let r = bare_client()
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let text = scrape(&app).await;
    for line in [
        r#"guichet_logins_total{outcome="success"} 1"#,
        r#"guichet_logins_total{outcome="failure"} 1"#,
        r#"guichet_logins_total{outcome="throttled"} 1"#,
        r#"guichet_tokens_issued_total{grant_type="client_credentials"} 1"#,
        r#"guichet_http_requests_total{listener="public",route="/oauth2/token",status="2xx"} 1"#,
        r#"guichet_http_requests_total{listener="public",route="/login",status="4xx"} 2"#,
        r#"guichet_http_request_duration_seconds_count{listener="public",route="/oauth2/token"} 1"#,
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    // Read when scraped: the sign-up queued a verification message.
    assert!(
        text.contains("guichet_mail_queue_messages{state="),
        "{text}"
    );
    assert!(
        text.contains(r#"guichet_db_pool_connections{state="in_use"}"#),
        "{text}"
    );
    // No raw path ever becomes a label.
    assert!(!text.contains(&handle));

    // Operators only, and never on the public listener.
    let r = bare_client()
        .get(app.operator_url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = bare_client()
        .get(app.url("/metrics"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_hostile_one_is_replaced() {
    let app = spawn_app().await;
    let id_of = |r: &reqwest::Response| {
        r.headers()
            .get("x-request-id")
            .expect("x-request-id")
            .to_str()
            .unwrap()
            .to_owned()
    };
    // Generated when none is sent, different each time.
    let a = bare_client().get(app.url("/healthz")).send().await.unwrap();
    let b = bare_client().get(app.url("/login")).send().await.unwrap();
    let (a, b) = (id_of(&a), id_of(&b));
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);

    // A trustworthy one (a proxy's) is kept, on errors too.
    let r = bare_client()
        .get(app.url("/no/such/page"))
        .header("x-request-id", "edge-01.7f3a_9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(id_of(&r), "edge-01.7f3a_9");

    // Anything else is replaced: too long, or characters that could forge a log line.
    for hostile in ["a".repeat(65), "x y".to_owned(), "a\"b{c}".to_owned()] {
        let r = bare_client()
            .get(app.url("/healthz"))
            .header("x-request-id", &hostile)
            .send()
            .await
            .unwrap();
        let id = id_of(&r);
        assert_ne!(id, hostile);
        assert_eq!(id.len(), 32);
    }

    // The operator listener does the same.
    let r = bare_client()
        .get(app.operator_url("/metrics"))
        .header("x-request-id", "scrape-1")
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&r), "scrape-1");
}
