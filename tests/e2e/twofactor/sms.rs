//! SMS phones, and the factors that tokens tell (amr, acr).

use super::*;

#[tokio::test]
async fn an_sms_phone_is_confirmed_then_receives_login_codes_once() {
    let app = spawn_app().await;
    let (web, p, handle) = signed_in(&app).await;
    let form = app
        .client_on(&web)
        .get("/account/security/sms")
        .await
        .form("/account/security/sms")
        .set("label", "Work");
    // Not international: refused, nothing stored.
    let r = form.clone().set("phone", "07700 900123").send().await;
    assert_eq!(r.status(), 422);
    let phone = "+44 7700 900123";
    let r = form.set("phone", phone).submit().await;
    assert_eq!(r.status, 200);
    let method = r.field("method").unwrap();
    let code = sms_code(&app, "+447700900123", None).await;
    let done = r
        .form("/account/security/sms/confirm")
        .set("code", &code)
        .send()
        .await;
    assert_eq!(done.status(), 303);

    let half = password_step(&app, &handle, &p.password).await;
    let step = app.client_on(&half).get("/login/2fa").await;
    assert!(step.body.contains("Send me a code"), "{}", step.body);
    let send = step.form("/login/2fa/sms");
    assert_eq!(send.get("method"), Some(method.as_str()));
    let r = send.send().await;
    assert_eq!(r.status(), 303);
    let login_code = sms_code(&app, "+447700900123", Some(&code)).await;
    let r = second_step(&app, &half, Some(&method), &login_code).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account");
    // Single use.
    app.clock.advance(Duration::from_millis(1100));
    let again = password_step(&app, &handle, &p.password).await;
    assert_eq!(
        second_step(&app, &again, Some(&method), &login_code)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn amr_and_acr_tell_the_factors_used_and_acr_values_steps_up() {
    let app = spawn_app().await;
    let client = app.create_client(&web_app(true)).await;
    let (web, p, handle) = signed_in(&app).await;

    // Password only.
    let c = id_token_after(&app, &web, &client, &[]).await;
    assert_eq!(c["amr"], json!(["pwd"]));
    assert_eq!(c["acr"], "pwd");

    // The client asks for two-factor: prompt=none cannot do it silently...
    let (_, challenge) = pkce();
    let r = web
        .get(authorize_url(
            &app,
            &client.0,
            &challenge,
            &[("acr_values", "mfa"), ("prompt", "none")],
        ))
        .send()
        .await
        .unwrap();
    let loc = location(&r);
    assert!(loc.starts_with(REDIRECT));
    assert_eq!(
        param(&loc, "error").as_deref(),
        Some("interaction_required")
    );
    // ...and interactively an account without two-factor is led to enrol first.
    let r = web
        .get(authorize_url(
            &app,
            &client.0,
            &challenge,
            &[("acr_values", "mfa")],
        ))
        .send()
        .await
        .unwrap();
    let to = location(&r);
    assert!(to.starts_with("/account/security?next="), "{to}");
    let next = param(&app.url(&to), "next").unwrap();
    assert!(next.starts_with("/oauth2/authorize/resume"), "{next}");
    let (totp, _) = enrol_totp_then(&app, &web, &next).await;

    // Now a fresh login goes through both steps; the ID token says so.
    app.clock.advance(Duration::from_millis(500));
    let half = password_step(&app, &handle, &p.password).await;
    let r = second_step(&app, &half, None, &code_at(&app, &totp, 1)).await;
    assert_eq!(r.status(), 303);
    let c = id_token_after(&app, &half, &client, &[("acr_values", "mfa")]).await;
    assert_eq!(c["acr"], "mfa");
    let amr: Vec<String> = serde_json::from_value(c["amr"].clone()).unwrap();
    for f in ["pwd", "otp", "mfa"] {
        assert!(amr.iter().any(|a| a == f), "{amr:?}");
    }
    let discovery: Value = reqwest::get(app.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        discovery["acr_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("mfa"))
    );
}
