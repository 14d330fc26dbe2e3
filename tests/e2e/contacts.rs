//! Service contacts: one customer hands a contact of a service to another,
//! who accepts or refuses; both see it; the requester cancels; billing and
//! service systems list them through the operator API.

use guichet_tests::{Form, OPERATOR_TOKEN, TestApp, bare_client};
use reqwest::Method;
use serde_json::{Value, json};

use crate::panel_security::{api_get, api_post, csrf_of, logged_in, page, signed_up};

/// The contacts page's form asking another account for a role, and its
/// anti-CSRF token for the JSON twin.
async fn request_form(app: &TestApp, web: &reqwest::Client) -> (Form, String) {
    let ask = app
        .client_on(web)
        .get("/account/contacts")
        .await
        .form("/account/contacts");
    let csrf = ask.get("csrf").expect("the form's token").to_owned();
    (ask, csrf)
}

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

async fn operator_list(app: &TestApp, query: &str) -> Value {
    let r = bare_client()
        .request(
            Method::GET,
            app.operator_url(&format!("/admin/v1/contacts?{query}")),
        )
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_contact_is_handed_over_accepted_listed_and_cancelled() {
    let app = guichet_tests::spawn_app().await;
    let (a, ah) = signed_up(&app, "Ada").await;
    let (b, bh) = signed_up(&app, "Bob").await;
    let (c, ch) = signed_up(&app, "Cid").await;
    let aw = logged_in(&app, &ah, &a, UA).await;
    let bw = logged_in(&app, &bh, &b, UA).await;
    let cw = logged_in(&app, &ch, &c, UA).await;

    // Refusals name each field, and store nothing.
    let (ask, csrf) = request_form(&app, &aw).await;
    let r = ask
        .clone()
        .fill(&[
            ("service", ""),
            ("role", "billing"),
            ("handle", "zz99999-ovh"),
        ])
        .send()
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("aria-describedby=\"service-error\""));
    // A handle nobody holds is no error: the form must not tell.
    assert!(!html.contains("aria-describedby=\"handle-error\""));
    let r = ask
        .clone()
        .fill(&[
            ("service", "Web hosting"),
            ("role", "billing"),
            ("handle", "not a handle"),
        ])
        .send()
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("aria-describedby=\"handle-error\""));
    assert!(html.contains("This is not a customer handle."));
    let (status, body) = api_post(
        &app,
        &aw,
        "/api/v1/account/contacts",
        &csrf,
        json!({ "service": "x".repeat(101), "role": "boss", "handle": ah }),
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["service", "role", "handle"]);
    assert!(
        operator_list(&app, "").await["delegations"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Ada hands the billing contact of her hosting to Bob.
    let r = ask
        .fill(&[
            ("service", "Web hosting"),
            ("role", "billing"),
            ("handle", bh.to_uppercase().as_str()),
        ])
        .send()
        .await;
    assert_eq!(r.status(), 303);
    let (_, v) = api_get(&app, &bw, "/api/v1/account/contacts").await;
    let d = &v["delegations"][0];
    assert_eq!(d["status"], "pending");
    assert_eq!(d["from_handle"], ah.as_str());
    assert_eq!(d["to_handle"], bh.as_str());
    let id = d["id"].as_i64().unwrap();
    let (_, html) = page(&app, &bw, "/account/contacts").await;
    assert!(html.contains("Web hosting") && html.contains("Waiting for an answer"));

    // Cid, a stranger, can neither accept nor cancel it.
    let ccsrf = csrf_of(&app, &cw).await;
    let (status, _) = api_post(
        &app,
        &cw,
        &format!("/api/v1/account/contacts/{id}/answer"),
        &ccsrf,
        json!({ "decision": "accept" }),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = api_post(
        &app,
        &cw,
        &format!("/api/v1/account/contacts/{id}/cancel"),
        &ccsrf,
        json!({}),
    )
    .await;
    assert_eq!(status, 404);
    // Ada cannot accept her own request.
    let (status, _) = api_post(
        &app,
        &aw,
        &format!("/api/v1/account/contacts/{id}/answer"),
        &csrf,
        json!({ "decision": "accept" }),
    )
    .await;
    assert_eq!(status, 404);

    // Bob accepts; both see it, and so do billing systems.
    let bcsrf = csrf_of(&app, &bw).await;
    let (status, body) = api_post(
        &app,
        &bw,
        &format!("/api/v1/account/contacts/{id}/answer"),
        &bcsrf,
        json!({ "decision": "accept" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = api_post(
        &app,
        &bw,
        &format!("/api/v1/account/contacts/{id}/answer"),
        &bcsrf,
        json!({ "decision": "refuse" }),
    )
    .await;
    assert_eq!(status, 409, "answered once");
    let (_, v) = api_get(&app, &aw, "/api/v1/account/contacts").await;
    assert_eq!(v["delegations"][0]["status"], "accepted");
    let listed = operator_list(&app, &format!("service=web%20HOSTING&handle={bh}")).await;
    assert_eq!(listed["delegations"].as_array().unwrap().len(), 1);
    assert_eq!(listed["delegations"][0]["role"], "billing");
    assert!(
        operator_list(&app, &format!("handle={ch}")).await["delegations"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Ada cancels from her page.
    let r = app
        .client_on(&aw)
        .get("/account/contacts")
        .await
        .form(&format!("/account/contacts/{id}/cancel"))
        .send()
        .await;
    assert_eq!(r.status(), 303);
    assert!(
        operator_list(&app, "service=Web%20hosting").await["delegations"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (_, v) = api_get(&app, &bw, "/api/v1/account/contacts").await;
    assert!(v["delegations"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn asking_a_handle_answers_the_same_whether_or_not_anyone_holds_it() {
    let app = guichet_tests::spawn_app().await;
    let (a, ah) = signed_up(&app, "Ada").await;
    let (b, bh) = signed_up(&app, "Bob").await;
    let aw = logged_in(&app, &ah, &a, UA).await;
    let bw = logged_in(&app, &bh, &b, UA).await;
    let ghost = if bh.starts_with("zz") {
        "yy99999-ovh"
    } else {
        "zz99999-ovh"
    };
    let (ask, csrf) = request_form(&app, &aw).await;

    // The form: the same redirect, then the same page, the handle aside.
    let mut seen = Vec::new();
    for handle in [bh.as_str(), ghost] {
        let r = ask
            .clone()
            .fill(&[
                ("service", "Mail server"),
                ("role", "technical"),
                ("handle", handle),
            ])
            .send()
            .await;
        let status = r.status().as_u16();
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        let (_, then) = page(&app, &aw, &to).await;
        seen.push((status, to, then.replace(handle, "HANDLE")));
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0].0, 303);
    assert!(
        seen[0]
            .2
            .contains("If that handle belongs to another customer")
    );

    // The JSON twin: the same status and body.
    let mut seen = Vec::new();
    for handle in [bh.as_str(), ghost] {
        let (status, body) = api_post(
            &app,
            &aw,
            "/api/v1/account/contacts",
            &csrf,
            json!({ "service": "DNS zone", "role": "administrative", "handle": handle }),
        )
        .await;
        seen.push((status, body.to_string().replace(handle, "HANDLE")));
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0].0, 202);

    // Only the real holder was asked: Bob sees both requests, nothing was
    // stored for the handle nobody holds, and Ada's list shows neither yet.
    let (_, v) = api_get(&app, &bw, "/api/v1/account/contacts").await;
    let services: Vec<&str> = v["delegations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, vec!["DNS zone", "Mail server"]);
    let all = operator_list(&app, "").await;
    let all = all["delegations"].as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|d| d["to_handle"] == bh.as_str()));
    let (_, v) = api_get(&app, &aw, "/api/v1/account/contacts").await;
    assert!(v["delegations"].as_array().unwrap().is_empty(), "{v}");
}
