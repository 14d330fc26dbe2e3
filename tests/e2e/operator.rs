//! The operator API on its own listener: clients and keys as JSON, bearer
//! tokens, audit lines, and nothing of it on the public listener.

use std::process::Command;

use guichet_tests::{
    OPERATOR_NAME, OPERATOR_TOKEN, TestApp, bare_client, env_for, free_port, fresh_settings,
    problem, spawn_app, spawn_with, wait_ready,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::guichet_bin;

/// A request to the operator API with the test operator's token.
fn op(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    bare_client()
        .request(method, app.operator_url(path))
        .bearer_auth(OPERATOR_TOKEN)
}

async fn client_credentials(app: &TestApp, id: &str, secret: &str, scope: &str) -> StatusCode {
    bare_client()
        .post(app.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap()
        .status()
}

fn service_spec(name: &str) -> Value {
    json!({
        "name": name,
        "grant_types": ["client_credentials"],
        "scopes": ["api", "billing:read"],
    })
}

#[tokio::test]
async fn a_client_lives_and_dies_through_the_operator_api() {
    let app = spawn_app().await;

    // Create: 201, the secret once, a Location.
    let r = op(&app, Method::POST, "/admin/v1/clients")
        .json(&service_spec("Billing service"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = r.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/admin/v1/clients/{id}"));
    assert_eq!(created["name"], "Billing service");
    assert_eq!(created["kind"], "confidential");
    assert_eq!(created["auth_method"], "client_secret_basic");

    // The client works at once.
    assert_eq!(client_credentials(&app, &id, &secret, "api").await, 200);

    // List and show never hold the secret.
    let r = op(&app, Method::GET, "/admin/v1/clients")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains(&secret) && !text.contains("\"client_secret\""));
    let listed: Value = serde_json::from_str(&text).unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_id"] == id.as_str())
    );
    let r = op(&app, Method::GET, &location).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains(&secret) && !text.contains("\"client_secret\""));
    let shown: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(shown["scopes"], json!(["api", "billing:read"]));

    // Update: the full spec replaces the old one, and the token endpoint of
    // this replica follows at once.
    let r = op(&app, Method::PUT, &location)
        .json(&json!({
            "name": "Billing service v2",
            "grant_types": ["client_credentials"],
            "scopes": ["billing:read"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["name"], "Billing service v2");
    assert_eq!(updated["scopes"], json!(["billing:read"]));
    assert!(updated.get("client_secret").is_none());
    assert_eq!(client_credentials(&app, &id, &secret, "api").await, 400);
    assert_eq!(
        client_credentials(&app, &id, &secret, "billing:read").await,
        200
    );

    // Rotate the secret: the old one fails at once, the new one works.
    let r = op(
        &app,
        Method::POST,
        &format!("/admin/v1/clients/{id}/rotate-secret"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let rotated: Value = r.json().await.unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert_eq!(rotated["client_id"], id.as_str());
    assert_eq!(
        client_credentials(&app, &id, &secret, "billing:read").await,
        401
    );
    assert_eq!(
        client_credentials(&app, &id, &new_secret, "billing:read").await,
        200
    );

    // Delete: 204, then the client is gone everywhere.
    let r = op(&app, Method::DELETE, &location).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        client_credentials(&app, &id, &new_secret, "billing:read").await,
        401
    );
    let r = op(&app, Method::GET, &location).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = op(&app, Method::DELETE, &location).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn refusals_are_json_and_say_what_is_wrong() {
    let app = spawn_app().await;

    // An invalid spec: 422 naming every field, nothing created.
    let r = op(&app, Method::POST, "/admin/v1/clients")
        .json(&json!({
            "name": "",
            "grant_types": ["password"],
            "redirect_uris": ["http://evil.example/cb"],
            "access_token_ttl_secs": 5,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(problem(&body), "invalid-request");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert!(f["detail"].as_str().is_some_and(|m| !m.is_empty()));
            f["field"].as_str().unwrap()
        })
        .collect();
    for f in [
        "name",
        "grant_types",
        "redirect_uris",
        "access_token_ttl_secs",
    ] {
        assert!(fields.contains(&f), "{f} not named: {body}");
    }
    let listed: Value = op(&app, Method::GET, "/admin/v1/clients")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));

    // Malformed JSON and unknown fields: 400 with the reason.
    let r = op(&app, Method::POST, "/admin/v1/clients")
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(problem(&body), "invalid-body");
    assert!(body["detail"].as_str().unwrap().contains("JSON"), "{body}");
    let r = op(&app, Method::POST, "/admin/v1/clients")
        .json(&json!({"name": "x", "nmae": "typo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("nmae"), "{body}");

    // A body over the limit is refused before it is read.
    let huge = "x".repeat(app.settings.server.max_body_bytes + 1);
    let r = op(&app, Method::POST, "/admin/v1/clients")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    // Unknown clients: 404 on every verb.
    for (method, path) in [
        (Method::GET, "/admin/v1/clients/nosuchclient"),
        (Method::PUT, "/admin/v1/clients/nosuchclient"),
        (Method::DELETE, "/admin/v1/clients/nosuchclient"),
        (Method::POST, "/admin/v1/clients/nosuchclient/rotate-secret"),
    ] {
        let r = op(&app, method.clone(), path)
            .json(&service_spec("Ghost"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(problem(&body), "not-found");
    }
    let r = op(&app, Method::GET, "/admin/v1/nothing-here")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // A key rotation with an unknown algorithm names the field.
    let r = op(&app, Method::POST, "/admin/v1/keys/rotate")
        .json(&json!({"alg": "HS256"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "alg");
}

#[tokio::test]
async fn requests_without_a_valid_operator_token_are_refused_alike() {
    let app = spawn_app().await;
    let c = bare_client();
    let url = app.operator_url("/admin/v1/clients");
    let wrong = format!("{OPERATOR_TOKEN}x");
    let attempts = [
        c.get(&url),
        c.get(&url).bearer_auth(&wrong),
        c.get(&url).bearer_auth(&OPERATOR_TOKEN[1..]),
        c.get(&url).basic_auth(OPERATOR_NAME, Some(OPERATOR_TOKEN)),
        c.get(&url).header("authorization", OPERATOR_TOKEN),
        c.post(&url)
            .bearer_auth(&wrong)
            .json(&service_spec("Sneaky")),
        c.get(app.operator_url("/admin/v1/clients/whatever"))
            .bearer_auth(&wrong),
        c.get(app.operator_url("/no/such/route")),
    ];
    let mut bodies = Vec::new();
    for req in attempts {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["cache-control"], "no-store");
        bodies.push(r.text().await.unwrap());
    }
    assert!(bodies.iter().all(|b| b == &bodies[0]), "{bodies:?}");
    assert_eq!(
        problem(&serde_json::from_str::<Value>(&bodies[0]).unwrap()),
        "unauthenticated"
    );
    // The refused creation created nothing.
    let listed: Value = op(&app, Method::GET, "/admin/v1/clients")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn without_tokens_the_listener_refuses_everything_and_empty_bind_turns_it_off() {
    let mut settings = fresh_settings().await;
    settings.operator.tokens.clear();
    let app = spawn_with(settings).await;
    let r = op(&app, Method::GET, "/admin/v1/clients")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let mut settings = fresh_settings().await;
    settings.operator.bind = None;
    let app = spawn_with(settings).await;
    assert!(app.operator_base.is_none());
    let r = bare_client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_public_listener_has_no_operator_routes() {
    let app = spawn_app().await;
    let c = bare_client();
    for (method, path) in [
        (Method::GET, "/admin/v1/clients"),
        (Method::POST, "/admin/v1/clients"),
        (Method::POST, "/admin/v1/keys/rotate"),
        (Method::GET, "/admin/v1/clients/anything"),
    ] {
        let r = c
            .request(method.clone(), app.url(path))
            .bearer_auth(OPERATOR_TOKEN)
            .json(&service_spec("Through the front door"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
    }
    // And the public routes are not on the operator listener.
    let r = op(&app, Method::GET, "/oauth2/jwks").send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_key_rotation_is_published_at_the_public_jwks() {
    let app = spawn_app().await;
    let r = op(&app, Method::POST, "/admin/v1/keys/rotate")
        .json(&json!({"alg": "ES256", "publish_ahead_secs": 3600}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["alg"], "ES256");
    let kid = keys[0]["kid"].as_str().unwrap().to_owned();

    let jwks: Value = bare_client()
        .get(app.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(kids.contains(&kid.as_str()), "{jwks}");
    // The current ES256 key stays published beside the next one.
    assert_eq!(kids.len(), 4, "{jwks}");

    // "all" (the default) rotates every algorithm.
    let r = op(&app, Method::POST, "/admin/v1/keys/rotate")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let algs: Vec<&str> = body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["RS256", "ES256", "EdDSA"]);
}

#[tokio::test]
async fn audit_lines_name_the_operator_and_never_a_secret() {
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

    let c = bare_client();
    let r = c
        .post(format!("{admin}/admin/v1/clients"))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&service_spec("Audited"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let r = c
        .post(format!("{admin}/admin/v1/clients/{id}/rotate-secret"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    let new_secret = r.json::<Value>().await.unwrap()["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = "an-attacker-guess-that-is-long-enough-to-look-real";
    let r = c
        .delete(format!("{admin}/admin/v1/clients/{id}"))
        .bearer_auth(wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "both listeners stop on SIGTERM");
    let logs = String::from_utf8_lossy(&out.stderr);
    let audit: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "audit")
        .collect();
    assert_eq!(audit.len(), 3, "one line per request: {logs}");
    let find = |action: &str| {
        audit
            .iter()
            .find(|v| v["action"] == action)
            .unwrap_or_else(|| panic!("no {action} line: {logs}"))
    };
    let create = find("client.create");
    assert_eq!(create["operator"], OPERATOR_NAME);
    assert_eq!(create["client_id"], id.as_str());
    assert_eq!(create["outcome"], "success");
    let rotate = find("client.rotate_secret");
    assert_eq!(rotate["operator"], OPERATOR_NAME);
    assert_eq!(rotate["client_id"], id.as_str());
    let refused = find("client.delete");
    assert_eq!(refused["operator"], "-");
    assert_eq!(refused["outcome"], "unauthorized");
    assert_eq!(refused["client_id"], id.as_str());
    for s in [OPERATOR_TOKEN, wrong, secret.as_str(), new_secret.as_str()] {
        assert!(!logs.contains(s), "a secret reached the logs");
    }
}
