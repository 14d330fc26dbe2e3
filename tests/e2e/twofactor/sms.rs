//! SMS phones, and the factors that tokens tell (amr, acr).

use super::*;

#[tokio::test]
async fn an_sms_phone_is_confirmed_then_receives_login_codes_once() {
    let app = spawn_app().await;
    let (web, p, handle) = signed_in(&app).await;
    let (_, form) = page(&app, &web, "/account/security/sms").await;
    let csrf = hidden(&form, "csrf").unwrap();
    // Not international: refused, nothing stored.
    let r = web
        .post(app.url("/account/security/sms"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("label", "Work"),
            ("phone", "07700 900123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let phone = "+44 7700 900123";
    let r = web
        .post(app.url("/account/security/sms"))
        .form(&[("csrf", csrf.as_str()), ("label", "Work"), ("phone", phone)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let method = hidden(&html, "method").unwrap();
    let code = sms_code(&app, "+447700900123", None).await;
    let r = web
        .post(app.url("/account/security/sms/confirm"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("method", method.as_str()),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);

    let half = password_step(&app, &handle, &p.password).await;
    let (_, step) = page(&app, &half, "/login/2fa").await;
    assert!(step.contains("Send me a code"), "{step}");
    let csrf2 = hidden(&step, "csrf").unwrap();
    let r = half
        .post(app.url("/login/2fa/sms"))
        .form(&[
            ("csrf", csrf2.as_str()),
            ("method", method.as_str()),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
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
