//! "My data": the export holds everything about the account and no secret;
//! erasure is refused while another system holds the account, and once
//! allowed leaves a tombstone whose handle never works again, ends every
//! session and token, and tells the relying parties back-channel.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guichet_tests::{OPERATOR_TOKEN, Person, TestApp, bare_client, hidden, spawn_app};
use oauth::clients::ClientSpec;
use reqwest::Method;
use serde_json::{Value, json};

use crate::oidc::{backchannel_receiver, code_for, redeem, web_app};
use crate::panel_security::{api_get, api_post, csrf_of, logged_in, page, signed_up};

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn op(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    bare_client()
        .request(method, app.operator_url(path))
        .bearer_auth(OPERATOR_TOKEN)
}

#[tokio::test]
async fn the_export_is_one_json_file_with_everything_and_no_secret() {
    let app = spawn_app().await;
    let (p, handle) = signed_up(&app, "Dana").await;
    let web = logged_in(&app, &handle, &p, UA).await;
    let (status, html) = page(&app, &web, "/account/data").await;
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/account/data-export\""));
    let csrf = hidden(&html, "csrf").unwrap();

    let r = web
        .get(app.url("/account/data-export"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains(&format!("guichet-{handle}.json")));
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let text = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["profile"]["handle"], handle.as_str());
    assert_eq!(v["profile"]["first_name"], "Dana");
    assert_eq!(v["emails"]["primary"], p.email.as_str());
    assert_eq!(v["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(v["sessions"][0]["current"], true);
    let kinds: Vec<&str> = v["security_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"login") && kinds.contains(&"data_exported"),
        "{kinds:?}"
    );
    for key in [
        "two_factor_methods",
        "connected_applications",
        "contacts",
        "holds",
    ] {
        assert!(v[key].is_array(), "{key}");
    }
    // No secret of any kind.
    for secret in [
        p.password.as_str(),
        "password_hash",
        "$argon2",
        csrf.as_str(),
        "csrf",
        "token",
    ] {
        assert!(!text.contains(secret), "{secret:?} in the export");
    }
    for c in cookies {
        let value = c.split(';').next().unwrap().split('=').nth(1).unwrap_or("");
        assert!(value.is_empty() || !text.contains(value));
    }
    // The JSON twin gives the same document.
    let (status, v) = api_get(&app, &web, "/api/v1/account/export").await;
    assert_eq!(status, 200);
    assert_eq!(v["profile"]["customer_code"].as_str().unwrap().len(), 11);
}

#[tokio::test]
async fn erasure_waits_for_holds_then_leaves_a_tombstone_and_tells_relying_parties() {
    let app = spawn_app().await;
    let (receiver_url, received) = backchannel_receiver().await;
    let spec = ClientSpec {
        backchannel_logout_uri: Some(receiver_url),
        ..web_app(true)
    };
    let (client_id, secret) = app.create_client(&spec).await;
    let (p, handle) = signed_up(&app, "Erin").await;
    let web = logged_in(&app, &handle, &p, UA).await;
    let (code, verifier) = code_for(&app, &web, &client_id).await;
    let tokens: Value = redeem(&app, &client_id, &secret.unwrap(), &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let sid = serde_json::from_slice::<Value>(
        &URL_SAFE_NO_PAD
            .decode(
                tokens["id_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .nth(1)
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap()["sid"]
        .clone();

    // Billing holds the account.
    let r = op(
        &app,
        Method::PUT,
        &format!("/admin/v1/accounts/{handle}/holds/unpaid_invoices"),
    )
    .json(&json!({ "reference": "INV-2026-001", "note": "December invoice" }))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = op(
        &app,
        Method::PUT,
        &format!("/admin/v1/accounts/{handle}/holds/Bad%20Kind"),
    )
    .json(&json!({}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 422, "hold kinds are short codes");
    let holds: Value = op(
        &app,
        Method::GET,
        &format!("/admin/v1/accounts/{handle}/holds"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(holds["holds"][0]["kind"], "unpaid_invoices");

    // The page says why; the form is not offered; a forced post is refused.
    let (_, html) = page(&app, &web, "/account/data").await;
    assert!(html.contains("you have unpaid invoices"), "{html}");
    assert!(html.contains("INV-2026-001"));
    let csrf = csrf_of(&app, &web).await;
    let r = web
        .post(app.url("/account/erase"))
        .form(&[("csrf", csrf.as_str()), ("confirm", handle.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let (status, body) = api_post(
        &app,
        &web,
        "/api/v1/account/erase",
        &csrf,
        json!({ "confirm": handle }),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["holds"][0], "unpaid_invoices");
    assert!(web.get(app.url("/account")).send().await.unwrap().status() == 200);

    // Lifted: a wrong confirmation is refused with a message on the field.
    let r = op(
        &app,
        Method::DELETE,
        &format!("/admin/v1/accounts/{handle}/holds/unpaid_invoices"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    let erase = app
        .client_on(&web)
        .get("/account/data")
        .await
        .form("/account/erase");
    let r = erase.clone().set("confirm", "someone-else").send().await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("aria-describedby=\"confirm-error\""));
    assert!(web.get(app.url("/account")).send().await.unwrap().status() == 200);

    let r = erase.set("confirm", &handle).send().await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Account erased"));
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        303
    );

    // The relying party of the session hears of it.
    let body = tokio::time::timeout(std::time::Duration::from_secs(10), received)
        .await
        .expect("a logout token arrives")
        .unwrap();
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sid"], sid);
    assert_eq!(claims["aud"], client_id.as_str());

    // The handle fails like an unknown account; the operator sees no account.
    let fresh = crate::panel_security::browser_as(UA);
    let erased = app.login(&fresh, &handle, &p.password).await;
    let unknown = app.login(&fresh, "zz99999-ovh", &p.password).await;
    assert_eq!(erased.status(), 401);
    assert_eq!(unknown.status(), 401);
    let (e, u) = (erased.text().await.unwrap(), unknown.text().await.unwrap());
    assert!(e.contains("incorrect") && u.contains("incorrect"));
    let r = op(
        &app,
        Method::GET,
        &format!("/admin/v1/accounts/{handle}/holds"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);

    // The address is free again, the handle is not: a new sign-up with the
    // same name and email gets another handle.
    let again = Person {
        email: p.email.clone(),
        ..Person::new("Erin", "Tester")
    };
    let new_handle = app.signup(&again).await;
    assert_ne!(new_handle, handle);
}

#[tokio::test]
async fn only_the_holder_with_a_session_reaches_erasure() {
    let app = spawn_app().await;
    let r = bare_client()
        .post(app.url("/api/v1/account/erase"))
        .json(&json!({ "confirm": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (p, handle) = signed_up(&app, "Hal").await;
    let web = logged_in(&app, &handle, &p, UA).await;
    // A cross-site style post without the session's token changes nothing.
    let r = web
        .post(app.url("/account/erase"))
        .form(&[("csrf", "forged"), ("confirm", handle.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        200
    );
    // Holds of an unknown account: 404.
    let r = op(
        &app,
        Method::PUT,
        "/admin/v1/accounts/zz99999-ovh/holds/open_services",
    )
    .json(&json!({ "reference": "x" }))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
}
