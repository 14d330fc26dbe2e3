//! The role by action matrix, bad input, and cross-account attempts.

use super::*;

#[tokio::test]
async fn every_role_gets_what_its_group_allows_and_nothing_more() {
    let app = spawn_app().await;
    let h = holder(&app, "Mara").await;
    let mut ids = std::collections::HashMap::new();
    let mut groups = std::collections::HashMap::new();
    for (login, group) in [
        ("nobody", "NONE"),
        ("reader", "UNPRIVILEGED"),
        ("deputy", "DEFAULT"),
        ("boss", "ADMIN"),
    ] {
        ids.insert(login, create_user(&app, &h, login, group).await);
        groups.insert(login, group);
    }
    // (login, reads users, reads /account, manages users)
    let matrix = [
        ("nobody", 403, 403, false),
        ("reader", 200, 200, false),
        ("deputy", 200, 200, false),
        ("boss", 200, 200, true),
    ];
    for (login, read_api, read_page, manages) in matrix {
        let (web, csrf) = sign_in_as(&app, &format!("{}/{login}", h.code)).await;
        let before = user_count(&app, &h).await;
        assert_eq!(
            get(&app, &web, "/api/v1/account/users").await.0.as_u16(),
            read_api,
            "{login} reads the users"
        );
        assert_eq!(
            get(&app, &web, "/api/v1/account/groups").await.0.as_u16(),
            read_api,
            "{login} reads the groups"
        );
        let page = web.get(app.url("/account")).send().await.unwrap();
        assert_eq!(page.status().as_u16(), read_page, "{login} reads /account");

        // Creating an UNPRIVILEGED user: only ADMIN may.
        let new_login = format!("new-{login}");
        let (s, v) = call(
            &app,
            &web,
            Method::POST,
            "/api/v1/account/users",
            &csrf,
            Some(json!({
                "login": new_login,
                "email": "new@example.org",
                "password": USER_PASSWORD,
                "group": "UNPRIVILEGED",
            })),
        )
        .await;
        if manages {
            assert_eq!(s, 201, "{login}: {v}");
        } else {
            assert_eq!(s, 403, "{login}: {v}");
            assert_eq!(problem(&v), "forbidden");
            assert_eq!(user_count(&app, &h).await, before, "nothing changed");
        }

        // Creating an ADMIN (escalation for everyone below ADMIN).
        let (s, v) = call(
            &app,
            &web,
            Method::POST,
            "/api/v1/account/users",
            &csrf,
            Some(json!({
                "login": format!("adm-{login}"),
                "email": "adm@example.org",
                "password": USER_PASSWORD,
                "group": "ADMIN",
            })),
        )
        .await;
        assert_eq!(s, if manages { 201 } else { 403 }, "{login}: {v}");

        // Changing one's own group (promotion, or the ADMIN's own
        // demotion), disabling or deleting oneself: never.
        let own = ids[login];
        let other_group = if login == "boss" { "DEFAULT" } else { "ADMIN" };
        let (s, v) = call(
            &app,
            &web,
            Method::PATCH,
            &format!("/api/v1/account/users/{own}"),
            &csrf,
            Some(json!({"group": other_group})),
        )
        .await;
        assert_eq!(s, 403, "{login} promotes themselves: {v}");
        for (method, body) in [
            (Method::PATCH, Some(json!({"status": "disabled"}))),
            (Method::DELETE, None),
        ] {
            let (s, _) = call(
                &app,
                &web,
                method,
                &format!("/api/v1/account/users/{own}"),
                &csrf,
                body,
            )
            .await;
            assert_eq!(s, 403, "{login} locks themselves out");
        }
        let (_, me) = get(&app, &h.web, &format!("/api/v1/account/users/{own}")).await;
        assert_eq!(me["status"], "active");
        assert_eq!(me["group"], groups[login], "unchanged");

        // Declaring a group: only ADMIN, and never above their own role.
        let (s, _) = call(
            &app,
            &web,
            Method::POST,
            "/api/v1/account/groups",
            &csrf,
            Some(json!({"name": format!("team-{login}"), "role": "read_only"})),
        )
        .await;
        assert_eq!(
            s,
            if manages { 201 } else { 403 },
            "{login} declares a group"
        );

        // Holder-only pages stay closed to every local user.
        let r = web
            .post(app.url("/account/notifications"))
            .form(&[("csrf", csrf.as_str()), ("on", "0")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            403,
            "{login} changes the holder's notifications"
        );

        // A write without this session's token is refused whatever the role.
        let (s, _) = call(
            &app,
            &web,
            Method::DELETE,
            &format!("/api/v1/account/users/{}", ids["nobody"]),
            "not-the-token",
            None,
        )
        .await;
        assert_eq!(s, 403);
    }

    // What the ADMIN may do to others: demote, disable, delete; and the
    // holder role is nobody's to grant.
    let (boss, csrf) = sign_in_as(&app, &format!("{}/boss", h.code)).await;
    let deputy = ids["deputy"];
    let (s, v) = call(
        &app,
        &boss,
        Method::PATCH,
        &format!("/api/v1/account/users/{deputy}"),
        &csrf,
        Some(json!({"group": "UNPRIVILEGED", "description": "now read-only"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["role"], "read_only");
    let (s, v) = call(
        &app,
        &boss,
        Method::POST,
        "/api/v1/account/groups",
        &csrf,
        Some(json!({"name": "owners", "role": "holder"})),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["errors"][0]["field"], "role");

    // The demotion holds at once for the deputy's open session.
    let (dep, dcsrf) = sign_in_as(&app, &format!("{}/deputy", h.code)).await;
    let (_, me) = get(&app, &dep, "/api/v1/account/users/me").await;
    assert_eq!(me["role"], "read_only");
    let (s, _) = call(
        &app,
        &dep,
        Method::DELETE,
        &format!("/api/v1/account/users/{}", ids["nobody"]),
        &dcsrf,
        None,
    )
    .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn bad_input_is_refused_per_field_and_changes_nothing() {
    let app = spawn_app().await;
    let h = holder(&app, "Vera").await;
    create_user(&app, &h, "john", "DEFAULT").await;
    let (s, v) = call(
        &app,
        &h.web,
        Method::POST,
        "/api/v1/account/users",
        &h.csrf,
        Some(json!({
            "login": "jo hn",
            "email": "not-an-email",
            "password": "short",
            "group": "NO_SUCH_GROUP",
            "description": "x".repeat(501),
        })),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for f in ["login", "email", "password", "group", "description"] {
        assert!(fields.contains(&f), "{f} in {v}");
    }
    assert!(
        v["errors"][0]["detail"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );

    // The same ID in another case is taken: 409.
    let (s, v) = call(
        &app,
        &h.web,
        Method::POST,
        "/api/v1/account/users",
        &h.csrf,
        Some(json!({
            "login": "John",
            "email": "john2@example.org",
            "password": USER_PASSWORD,
            "group": "DEFAULT",
        })),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["errors"][0]["code"], "login_taken");
    assert_eq!(user_count(&app, &h).await, 1);

    // Unknown JSON fields and malformed bodies are 400.
    let (s, v) = call(
        &app,
        &h.web,
        Method::POST,
        "/api/v1/account/users",
        &h.csrf,
        Some(json!({"login": "x", "role": "admin"})),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(guichet_tests::problem(&v), "invalid-body");

    // Groups: default ones cannot go, one with members cannot either.
    let (s, _) = call(
        &app,
        &h.web,
        Method::DELETE,
        "/api/v1/account/groups/ADMIN",
        &h.csrf,
        None,
    )
    .await;
    assert_eq!(s, 403);
    let (s, g) = call(
        &app,
        &h.web,
        Method::POST,
        "/api/v1/account/groups",
        &h.csrf,
        Some(json!({"name": "billing", "role": "read_only"})),
    )
    .await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(g["name"], "BILLING");
    let (s, _) = call(
        &app,
        &h.web,
        Method::POST,
        "/api/v1/account/groups",
        &h.csrf,
        Some(json!({"name": "Billing", "role": "admin"})),
    )
    .await;
    assert_eq!(s, 409);
    let ann = create_user(&app, &h, "ann", "billing").await;
    let (_, a) = get(&app, &h.web, &format!("/api/v1/account/users/{ann}")).await;
    assert_eq!(a["role"], "read_only");
    let (s, _) = call(
        &app,
        &h.web,
        Method::DELETE,
        "/api/v1/account/groups/BILLING",
        &h.csrf,
        None,
    )
    .await;
    assert_eq!(s, 409);
}

#[tokio::test]
async fn nobody_reaches_another_accounts_users() {
    let app = spawn_app().await;
    let a = holder(&app, "Alba").await;
    let b = holder(&app, "Bruno").await;
    create_user(&app, &a, "chief", "ADMIN").await;
    let victim = create_user(&app, &b, "victim", "DEFAULT").await;
    let (chief, csrf) = sign_in_as(&app, &format!("{}/chief", a.code)).await;

    for (web, token) in [(&chief, csrf.as_str()), (&a.web, a.csrf.as_str())] {
        let path = format!("/api/v1/account/users/{victim}");
        assert_eq!(get(&app, web, &path).await.0, 404);
        let (s, _) = call(
            &app,
            web,
            Method::PATCH,
            &path,
            token,
            Some(json!({"group": "NONE", "status": "disabled"})),
        )
        .await;
        assert_eq!(s, 404);
        assert_eq!(
            call(&app, web, Method::DELETE, &path, token, None).await.0,
            404
        );
        let r = web
            .post(app.url(&format!("/account/users/{victim}/delete")))
            .form(&[("csrf", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        // A's list never shows B's users.
        let (_, list) = get(&app, web, "/api/v1/account/users").await;
        assert!(!list.to_string().contains("victim"), "{list}");
    }
    // B's user is as it was, and B's user ID does not open A's account.
    let (_, v) = get(&app, &b.web, &format!("/api/v1/account/users/{victim}")).await;
    assert_eq!(v["status"], "active");
    assert_eq!(v["group"], "DEFAULT");
    let r = app
        .login(&browser(), &format!("{}/victim", a.code), USER_PASSWORD)
        .await;
    assert_eq!(r.status(), 401);
}
