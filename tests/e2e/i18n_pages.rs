//! Every page in English, French and Italian: signed-out pages, signed-in
//! pages, the consent page, errors and refusals. Each must be in the language
//! asked for (its `lang` attribute and one of its own texts), and show no raw
//! key, no missing-key marker, no unfilled `{placeholder}` and no element
//! without text. The language comes from the switcher's cookie, the profile,
//! `ui_locales`, then `Accept-Language`, in that order.

use app::i18n::{Lang, t};
use guichet_tests::{Person, TestApp, browser, spawn_app};

use crate::oidc::{authorize_url, pkce, web_app};

/// Whatever is wrong with a page in `lang`, as a list (empty when fine).
fn problems(html: &str, lang: Lang) -> Vec<String> {
    let mut out = Vec::new();
    if !html.contains(&format!("<html lang=\"{}\">", lang.code())) {
        out.push(format!("html lang is not {}", lang.code()));
    }
    if html.contains('⟦') {
        out.push("a missing-key marker".into());
    }
    // A raw key: `page.` or `mail.` followed by two dotted lowercase names.
    for prefix in ["page.", "mail."] {
        let mut rest = html;
        while let Some(i) = rest.find(prefix) {
            let after = &rest[i + prefix.len()..];
            let word: String = after
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || *c == '.')
                .collect();
            if word.contains('.') && !word.ends_with('.') {
                out.push(format!("raw key {prefix}{word}"));
            }
            rest = after;
        }
    }
    // An unfilled placeholder: `{name}` with a lowercase name.
    let mut rest = html;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        if let Some(end) = after.find('}') {
            let name = &after[..end];
            if !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
            {
                out.push(format!("unfilled {{{name}}}"));
            }
        }
        rest = after;
    }
    // An element that should hold text and holds none (hidden ones aside:
    // the security-key script fills them).
    for tag in [
        "h1", "h2", "h3", "p", "label", "button", "a", "li", "dt", "legend", "summary", "th",
        "option", "strong",
    ] {
        let open = format!("<{tag}");
        let mut rest = html;
        while let Some(i) = rest.find(&open) {
            let after = &rest[i + open.len()..];
            rest = after;
            if !after.starts_with(['>', ' ']) {
                continue;
            }
            let Some(gt) = after.find('>') else { break };
            let attrs = &after[..gt];
            let inner = &after[gt + 1..];
            let close = format!("</{tag}>");
            if attrs.contains("hidden") {
                continue;
            }
            if inner.trim_start().starts_with(&close) {
                out.push(format!("empty <{tag}{attrs}>"));
            }
        }
    }
    if html.contains("<title> ·") {
        out.push("empty title".into());
    }
    out
}

/// Asserts the page is in `lang`: clean, and showing the text of `key`.
fn assert_page(what: &str, html: &str, lang: Lang, key: &str) {
    let p = problems(html, lang);
    assert!(p.is_empty(), "{what} in {lang:?}: {p:?}");
    let expected = t(lang, key);
    assert!(
        !expected.is_empty() && html.contains(&maud_escape(expected)),
        "{what} in {lang:?} lacks {key} ({expected:?})"
    );
    if lang != Lang::En {
        assert_ne!(
            expected,
            t(Lang::En, key),
            "{key} is not translated into {lang:?}"
        );
    }
}

/// How maud writes a text into a page.
fn maud_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A client whose browser asks for `lang`.
fn client_for(lang: Lang) -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::ACCEPT_LANGUAGE,
        format!("{};q=0.9, de;q=0.8", lang.code()).parse().unwrap(),
    );
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(h)
        .build()
        .unwrap()
}

async fn get(c: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let r = c.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Signs a person up with `language` in the profile and logs them in with `c`.
async fn signed_in(app: &TestApp, c: &reqwest::Client, language: Lang) -> (Person, String) {
    let p = Person::new("Lina", "Langues");
    let mut body = p.signup_json();
    body["language"] = language.code().into();
    let handle = guichet_tests::signup_at(&app.base, &app.mailbox, &body).await;
    assert_eq!(app.login(c, &handle, &p.password).await.status(), 303);
    (p, handle)
}

#[tokio::test]
async fn every_page_renders_in_each_language() {
    let app = spawn_app().await;
    let (client_id, _) = app.create_client(&web_app(false)).await;
    for lang in Lang::ALL {
        let c = client_for(lang);
        // Signed out.
        for (path, status, key) in [
            ("/login", 200, "page.login.identifier"),
            ("/signup", 200, "page.signup.first_name"),
            ("/forgot-handle", 200, "page.forgot_handle.submit"),
            ("/forgot-password", 200, "page.forgot_password.submit"),
            ("/reset-password?token=nope", 410, "page.reset.dead"),
            (
                "/verify-email?token=00000000000000000000000000000000000000000000000000000000000000aa",
                200,
                "page.verify.submit",
            ),
            ("/verify-email?token=short", 400, "page.verify.link_dead"),
            ("/no-such-page", 404, "page.error.not_found"),
            (
                "/oauth2/authorize?client_id=nope",
                400,
                "page.error.refused_title",
            ),
        ] {
            let (s, html) = get(&c, &app, path).await;
            assert_eq!(s, status, "{path} in {lang:?}");
            assert_page(path, &html, lang, key);
        }
        // A sign-up with every field wrong shows every field message.
        let r = app
            .client_on(&c)
            .get("/signup")
            .await
            .form("/signup")
            .fill(&[
                ("primary_email", "not-an-address"),
                ("password", "short"),
                ("password_confirm", "other"),
                ("country", "ZZ"),
                ("language", "de"),
                ("kind", "robot"),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        assert_page("signup errors", &html, lang, "page.field.invalid_email");
        assert!(html.contains(&maud_escape(t(lang, "page.field.unknown_country"))));
        // A form without its token is refused in the same language.
        let r = c
            .post(app.url("/login"))
            .form(&[("identifier", "x"), ("password", "y"), ("csrf", "forged")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert_page(
            "csrf refusal",
            &r.text().await.unwrap(),
            lang,
            "page.error.csrf",
        );
        // A wrong password.
        let r = app
            .login(
                &c,
                &format!("nobody-{}", lang.code()),
                "wrong password here",
            )
            .await;
        assert_eq!(r.status(), 401);
        assert_page(
            "login failure",
            &r.text().await.unwrap(),
            lang,
            "page.login.failed",
        );

        // Signed in, with the profile in the same language.
        let c = client_for(lang);
        let (_, handle) = signed_in(&app, &c, lang).await;
        for (path, key) in [
            ("/account", "page.account.notifications"),
            ("/account/profile", "page.profile.address"),
            ("/account/email", "page.email_change.explain"),
            ("/account/password", "page.password_change.current"),
            ("/account/security", "page.mfa.add_method"),
            ("/account/security/totp", "page.mfa.add_totp_title"),
            ("/account/security/sms", "page.mfa.phone"),
            ("/account/security/webauthn", "page.mfa.register_key"),
            ("/account/reauth?next=/account", "page.mfa.reauth_explain"),
            ("/account/backup-email", "page.backup.explain"),
            (
                "/account/security/sessions",
                "page.security_panel.sessions_title",
            ),
            ("/account/security/apps", "page.security_panel.apps_title"),
            ("/account/security/log", "page.security_panel.log_title"),
            ("/account/data", "page.gdpr.export_title"),
            ("/account/contacts", "page.contacts.intro"),
            ("/account/users", "page.users.create_heading"),
        ] {
            let (s, html) = get(&c, &app, path).await;
            assert_eq!(s, 200, "{path} in {lang:?}");
            assert_page(path, &html, lang, key);
            assert!(
                html.contains(&handle),
                "{path}: the handle at the top right"
            );
        }
        let (s, html) = get(&c, &app, "/oauth2/logout").await;
        assert_eq!(s, 200);
        assert_page("logout", &html, lang, "page.logout.confirm_text");
        // The consent page of a third-party client.
        let (_, challenge) = pkce();
        let r = c
            .get(authorize_url(&app, &client_id, &challenge, &[]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert_page("consent", &html, lang, "page.consent.scope_email");
        // A profile with every field wrong.
        let r = app
            .client_on(&c)
            .get("/account/profile")
            .await
            .form("/account/profile")
            .fill(&[
                ("first_name", ""),
                ("kind", "company"),
                ("city", "Lyon"),
                ("phone", "12"),
                ("country", "ZZ"),
                ("language", "de"),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        assert_page("profile errors", &html, lang, "page.field.invalid_phone");
    }
}

#[tokio::test]
async fn the_switcher_sets_a_cookie_that_wins_and_comes_back_to_the_page() {
    let app = spawn_app().await;
    let c = client_for(Lang::Fr);
    let (s, html) = get(&c, &app, "/forgot-password").await;
    assert_eq!(s, 200);
    assert!(html.contains("<html lang=\"fr\">"));
    // The switcher links to the other languages, back to this page.
    assert!(
        html.contains("href=\"/lang/it?back=%2Fforgot-password\""),
        "{html}"
    );
    assert!(html.contains("href=\"/lang/en?back=%2Fforgot-password\""));
    let r = c
        .get(app.url("/lang/it?back=%2Fforgot-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/forgot-password");
    let (_, html) = get(&c, &app, "/forgot-password").await;
    assert_page(
        "after the switch",
        &html,
        Lang::It,
        "page.forgot_password.title",
    );
    // The cookie wins over the profile too.
    let (_, _) = signed_in(&app, &c, Lang::En).await;
    let (_, html) = get(&c, &app, "/account").await;
    assert_page("switched account", &html, Lang::It, "page.account.title");
    // No open redirect, and unknown languages do not exist.
    let r = c
        .get(app.url("/lang/fr?back=https://evil.example/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account");
    let r = c.get(app.url("/lang/de?back=/login")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_profile_language_beats_accept_language_and_ui_locales_carries_through_login() {
    let app = spawn_app().await;
    // Profile (Italian) over Accept-Language (French).
    let c = client_for(Lang::Fr);
    signed_in(&app, &c, Lang::It).await;
    let (_, html) = get(&c, &app, "/account").await;
    assert_page("profile language", &html, Lang::It, "page.account.title");

    // ui_locales over Accept-Language, on the login page of the detour.
    let (client_id, _) = app.create_client(&web_app(false)).await;
    let web = browser();
    let (_, challenge) = pkce();
    let r = web
        .get(authorize_url(
            &app,
            &client_id,
            &challenge,
            &[("ui_locales", "de-DE fr-CA")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let login = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(login.starts_with("/login?"), "{login}");
    let (_, html) = get(&web, &app, &login).await;
    assert_page(
        "login after ui_locales",
        &html,
        Lang::Fr,
        "page.login.title",
    );
    // A later request without ui_locales forgets it.
    let r = web
        .get(authorize_url(&app, &client_id, &challenge, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, html) = get(&web, &app, "/login").await;
    assert_page(
        "login without ui_locales",
        &html,
        Lang::En,
        "page.login.title",
    );
}
