//! The users page, the security log, export and erasure.

use super::*;

#[tokio::test]
async fn the_users_page_creates_a_user_and_refuses_a_reader() {
    let app = spawn_app().await;
    let h = holder(&app, "Pia").await;
    let create = app
        .client_on(&h.web)
        .get("/account/users")
        .await
        .form("/account/users");
    let r = create
        .clone()
        .fill(&[
            ("login", "reader"),
            ("email", "reader@example.org"),
            ("password", USER_PASSWORD),
            ("group", "UNPRIVILEGED"),
            ("description", "reads the bills"),
        ])
        .send()
        .await;
    assert_eq!(r.status(), 303);
    let page = h
        .web
        .get(app.url(r.headers()["location"].to_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("reads the bills"), "{page}");
    assert!(page.contains(&format!("{}/reader", h.code)), "{page}");

    // A bad form comes back with the error tied to its field.
    let r = create
        .fill(&[
            ("login", "bad id!"),
            ("email", "reader@example.org"),
            ("password", USER_PASSWORD),
            ("group", "UNPRIVILEGED"),
            ("description", ""),
        ])
        .send()
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("aria-describedby=\"login-error\""), "{html}");
    assert!(html.contains("value=\"bad id!\""), "typed value kept");

    let (reader, _) = sign_in_as(&app, &format!("{}/reader", h.code)).await;
    let list = app.client_on(&reader).get("/account/users").await;
    assert_eq!(list.status, 200);
    // The form is shown to a reader too; submitting it is refused.
    let r = list
        .form("/account/users")
        .fill(&[
            ("login", "sneaky"),
            ("email", "s@example.org"),
            ("password", USER_PASSWORD),
            ("group", "ADMIN"),
        ])
        .send()
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("administrator"));
    assert_eq!(user_count(&app, &h).await, 1);
}

#[tokio::test]
async fn the_log_names_who_acted_and_the_export_and_erasure_cover_the_users() {
    let app = spawn_app().await;
    let h = holder(&app, "Lola").await;
    create_user(&app, &h, "ann", "ADMIN").await;
    let (ann, ann_csrf) = sign_in_as(&app, &format!("{}/ann", h.code)).await;
    let (s, v) = call(
        &app,
        &ann,
        Method::POST,
        "/api/v1/account/users",
        &ann_csrf,
        Some(json!({
            "login": "bob", "email": "bob@example.org", "password": USER_PASSWORD,
            "group": "UNPRIVILEGED", "description": "",
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // The holder's log: each creation, and who made it.
    let html = h
        .web
        .get(app.url("/account/security/log"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows: Vec<&str> = html
        .split("<tr class=\"event\" data-kind=\"user_created\">")
        .skip(1)
        .collect();
    assert_eq!(rows.len(), 2, "{html}");
    // Newest first: ann made bob, the holder made ann.
    assert!(rows[0].contains(">bob<") && rows[0].contains("<td class=\"by\">ann</td>"));
    assert!(
        rows[1].contains(">ann<")
            && rows[1].contains(&format!("<td class=\"by\">{}</td>", h.handle))
    );
    let (_, log) = get(&app, &h.web, "/api/v1/account/security-log").await;
    let created: Vec<&Value> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "user_created")
        .collect();
    assert_eq!(created[0]["detail"], "bob");
    assert!(created[0]["user_id"].is_i64());
    assert!(created[1]["user_id"].is_null());

    // The export holds the users, their emails and the groups; no hash.
    let r = h
        .web
        .get(app.url("/api/v1/account/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let export: Value = serde_json::from_str(&text).unwrap();
    let users: Vec<(&str, &str)> = export["local_users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["login"].as_str().unwrap(), u["email"].as_str().unwrap()))
        .collect();
    assert_eq!(
        users,
        [("ann", "ann@example.org"), ("bob", "bob@example.org")]
    );
    assert!(
        export["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "ADMIN" && g["role"] == "admin")
    );
    assert!(export["profile"]["address"].is_object());
    assert!(!text.contains("$argon2") && !text.contains(USER_PASSWORD));

    // The holder's address and phone, then the erasure.
    let r = h
        .web
        .put(app.url("/api/v1/account/profile"))
        .header("x-csrf-token", &h.csrf)
        .json(&json!({
            "first_name": "Lola", "last_name": "Holder", "kind": "individual",
            "address_line1": "1 rue du Port", "postcode": "13002", "city": "Marseille",
            "phone": "+33 6 12 34 56 78", "country": "FR", "language": "fr",
        }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let (_, export) = get(&app, &h.web, "/api/v1/account/export").await;
    assert_eq!(export["profile"]["phone"], "+33612345678");
    assert_eq!(export["profile"]["address"]["city"], "Marseille");
    let (s, v) = call(
        &app,
        &h.web,
        Method::POST,
        "/api/v1/account/erase",
        &h.csrf,
        Some(json!({ "confirm": h.handle })),
    )
    .await;
    assert!(s.is_success(), "{s} {v}");

    // The users' logins and sessions are gone with the account.
    let r = app
        .login(&browser(), &format!("{}/bob", h.code), USER_PASSWORD)
        .await;
    assert_eq!(r.status(), 401);
    let (s, _) = get(&app, &ann, "/api/v1/account/users/me").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Nothing personal is left in the tombstone row or the users' table.
    let db = guichet::app::connect_database(&app.settings, false)
        .await
        .unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT COUNT(*) AS n FROM accounts WHERE handle = '{}' AND phone IS NULL \
                 AND city IS NULL AND address_line1 IS NULL AND postcode IS NULL",
                h.handle
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1);
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM local_users".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 0);
}

#[tokio::test]
async fn a_users_second_factor_is_logged_with_its_author_and_address() {
    let app = spawn_app().await;
    let h = holder(&app, "Mona").await;
    let id = create_user(&app, &h, "kim", "DEFAULT").await;
    let (kim, _) = sign_in_as(&app, &format!("{}/kim", h.code)).await;
    crate::twofactor::enrol_totp(&app, &kim).await;

    // Written off the request path: wait for the line.
    let mut line = Value::Null;
    for _ in 0..50 {
        let (_, log) = get(&app, &h.web, "/api/v1/account/security-log").await;
        if let Some(e) = log["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "two_factor_added")
        {
            line = e.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(line["user_id"], id, "{line}");
    assert_eq!(line["ip"], "127.0.0.1");
    assert!(line["detail"].as_str().unwrap().starts_with("totp"));
}
