//! The profile form and its per-field refusals.

use super::*;

#[tokio::test]
async fn the_profile_refuses_each_wrong_field_and_saves_nothing_until_all_are_right() {
    let app = spawn_app().await;
    let (web, p, handle) = signed_in(&app).await;
    let before = profile(&app, &web).await;
    assert_eq!(before["handle"], handle.as_str());
    assert_eq!(before["first_name"], "Paula");
    let csrf = token(&app, &web, "/account/profile").await;

    let wrong = json!({
        "first_name": "",
        "last_name": "x".repeat(101),
        "kind": "company",
        "company_name": "",
        "city": "Lyon",
        "postcode": "69<001",
        "phone": "0612345678",
        "country": "ZZ",
        "language": "de",
    });
    let r = web
        .put(app.url("/api/v1/account/profile"))
        .header("x-csrf-token", &csrf)
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(problem(&v), "invalid-request");
    let got = fields(&v);
    let want = [
        ("first_name", "required"),
        ("last_name", "too_long"),
        ("company_name", "required"),
        ("address_line1", "required"),
        ("postcode", "bad_characters"),
        ("phone", "invalid_phone"),
        ("country", "unknown_country"),
        ("language", "unknown_language"),
    ];
    for (f, c) in want {
        assert!(
            got.contains(&(f.to_owned(), c.to_owned())),
            "{f}: {c} missing in {got:?}"
        );
    }
    assert!(v["errors"][0]["detail"].as_str().unwrap().len() > 5);
    assert_eq!(profile(&app, &web).await, before, "nothing saved");

    // One field wrong among right ones: still nothing saved.
    let almost = json!({
        "first_name": "Paulette", "last_name": "Profil", "kind": "individual",
        "phone": "+33 6 12", "country": "FR", "language": "fr",
    });
    let r = web
        .put(app.url("/api/v1/account/profile"))
        .header("x-csrf-token", &csrf)
        .json(&almost)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        fields(&r.json().await.unwrap()),
        [("phone".into(), "invalid_phone".into())]
    );
    assert_eq!(profile(&app, &web).await, before);

    // Without the token header: refused, nothing saved.
    let right = json!({
        "first_name": "Paulette", "last_name": "Profil", "kind": "company",
        "company_name": "Profil & Fils", "address_line1": "2 rue Kellermann",
        "postcode": "59100", "city": "Roubaix", "region": "Hauts-de-France",
        "phone": "+33 6 12 34 56 78", "country": "fr", "language": "it",
    });
    let r = web
        .put(app.url("/api/v1/account/profile"))
        .json(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(problem(&r.json::<Value>().await.unwrap()), "csrf-mismatch");
    assert_eq!(profile(&app, &web).await, before);
    // Without a session: 401 in JSON.
    let r = reqwest::Client::new()
        .put(app.url("/api/v1/account/profile"))
        .header("x-csrf-token", &csrf)
        .json(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let r = web
        .put(app.url("/api/v1/account/profile"))
        .header("x-csrf-token", &csrf)
        .json(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let after = profile(&app, &web).await;
    assert_eq!(after["first_name"], "Paulette");
    assert_eq!(after["company_name"], "Profil & Fils");
    assert_eq!(after["phone"], "+33612345678");
    assert_eq!(after["country"], "FR");
    assert_eq!(after["address"]["city"], "Roubaix");
    assert_eq!(after["language"], "it");

    // The form: an error shows the field's message tied to it, in the
    // profile's new language, and saves nothing.
    // The page's form, filled in by someone who becomes an individual again
    // and empties the company's fields.
    let form = app
        .client_on(&web)
        .get("/account/profile")
        .await
        .form("/account/profile")
        .fill(&[
            ("first_name", "Paola"),
            ("last_name", "Profil"),
            ("kind", "individual"),
            ("company_name", ""),
            ("address_line1", ""),
            ("address_line2", ""),
            ("postcode", ""),
            ("city", ""),
            ("region", ""),
            ("country", "IT"),
        ]);
    let r = form
        .clone()
        .fill(&[("phone", "+39 abc"), ("language", "it")])
        .send()
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"it\">"));
    assert!(html.contains("aria-describedby=\"phone-error\""), "{html}");
    assert!(html.contains("id=\"phone-error\""));
    assert!(html.contains("formato internazionale"));
    assert_eq!(profile(&app, &web).await, after);
    let r = form.fill(&[("phone", ""), ("language", "en")]).send().await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account/profile?saved=1");
    let html = web
        .get(app.url("/account/profile?saved=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Your profile is saved."));
    // The header at the top right: name, handle and customer code.
    assert!(html.contains("Paola Profil"));
    assert!(html.contains(&handle));
    let now = profile(&app, &web).await;
    assert_eq!(now["company_name"], Value::Null);
    assert_eq!(now["phone"], Value::Null);
    assert_eq!(now["address"], Value::Null);
    assert_eq!(now["customer_code"], before["customer_code"]);
    let log = web
        .get(app.url("/api/v1/account/security-log"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(log.contains("profile_changed"), "{log}");
    let _ = p;
}
