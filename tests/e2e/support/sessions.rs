//! Support ending sessions, its refusals, the CLI and the audit trail.

use super::*;

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
