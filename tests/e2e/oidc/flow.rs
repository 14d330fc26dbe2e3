//! The authorization-code flow end to end: consent, client and redirect checks, protocol errors.

use super::*;

#[tokio::test]
async fn the_openidconnect_crate_signs_in_end_to_end() {
    let app = spawn_app().await;
    let spec = ClientSpec {
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: ["openid", "profile", "email", "offline_access"]
            .map(String::from)
            .to_vec(),
        ..web_app(true)
    };
    let (id, secret) = app.create_client(&spec).await;
    let p = Person::new("Rita", "Party");
    let handle = app.signup(&p).await;

    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(id.clone()),
        Some(ClientSecret::new(secret.unwrap())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf_state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The browser: no session yet, so Guichet shows its login page, then comes back.
    let web = browser();
    let r = web.get(auth_url.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let to_login = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to_login.starts_with("/login?next="), "{to_login}");
    let r = app
        .client_on(&web)
        .get(&to_login)
        .await
        .form("/login")
        .fill(&[("identifier", &handle), ("password", &p.password)])
        .send()
        .await;
    let back = app.url(r.headers()["location"].to_str().unwrap());
    let loc = follow_to_client(&app, &web, back).await;
    assert_eq!(
        param(&loc, "state").as_deref(),
        Some(csrf_state.secret().as_str())
    );
    assert_eq!(
        param(&loc, "iss").as_deref(),
        Some(app.base.as_str()),
        "RFC 9207"
    );
    let code = param(&loc, "code").unwrap();

    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = token.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("the ID token verifies");
    assert_eq!(claims.issuer().as_str(), app.base);
    assert_eq!(claims.audiences()[0].as_str(), id);
    assert_ne!(
        claims.subject().as_str(),
        handle,
        "sub is opaque, never the handle"
    );
    assert!(claims.auth_time().is_some());
    let amr: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(amr, ["pwd"]);
    assert_eq!(claims.email().unwrap().as_str(), p.email);
    let at_hash = AccessTokenHash::from_token(
        token.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));

    let info: CoreUserInfoClaims = client
        .user_info(token.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.email().unwrap().as_str(), p.email);
    assert_eq!(
        info.given_name().unwrap().get(None).unwrap().as_str(),
        "Rita"
    );

    // Refresh through the library: rotated, and the new ID token verifies.
    let refresh = token
        .refresh_token()
        .expect("offline_access gives a refresh token");
    let refreshed = client
        .exchange_refresh_token(refresh)
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        refresh.secret()
    );
    let again = refreshed.id_token().expect("an ID token on refresh");
    let again = again
        .claims(&client.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
        .expect("the refreshed ID token verifies");
    assert_eq!(again.subject(), claims.subject());

    // Single sign-on: a second authorization needs no login page.
    let (verifier2, challenge2) = pkce();
    let loc = follow_to_client(&app, &web, authorize_url(&app, &id, &challenge2, &[])).await;
    assert!(param(&loc, "code").is_some());
    drop(verifier2);
}

#[tokio::test]
async fn third_party_clients_ask_for_consent_once_and_deny_goes_back_as_access_denied() {
    let app = spawn_app().await;
    let (id, _) = app.create_client(&web_app(false)).await;
    let (web, _, _) = signed_in(&app).await;
    let (_, challenge) = pkce();
    let consent = app
        .client_on(&web)
        .get(&authorize_url(&app, &id, &challenge, &[]))
        .await;
    assert_eq!(consent.status, 200);
    let page = &consent.body;
    assert!(page.contains("Allow Control panel to use your account?"));
    assert!(page.contains("See your primary email address"));
    let deny = consent
        .form("/oauth2/consent")
        .set("decision", "deny")
        .send()
        .await;
    let loc = deny.headers()["location"].to_str().unwrap().to_owned();
    assert!(loc.starts_with(REDIRECT));
    assert_eq!(param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&loc, "state").as_deref(), Some("st-123"));

    let consent = app
        .client_on(&web)
        .get(&authorize_url(&app, &id, &challenge, &[]))
        .await;
    let page = &consent.body;
    // A forged consent (no or wrong token) is refused.
    let forged = web
        .post(app.url("/oauth2/consent"))
        .form(&[
            ("request_id", hidden(page, "request_id").unwrap().as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let allow = consent
        .form("/oauth2/consent")
        .set("decision", "allow")
        .send()
        .await;
    let loc = allow.headers()["location"].to_str().unwrap().to_owned();
    assert!(param(&loc, "code").is_some(), "{loc}");
    // Remembered: the next request goes straight back with a code...
    let loc = follow_to_client(&app, &web, authorize_url(&app, &id, &challenge, &[])).await;
    assert!(param(&loc, "code").is_some());
    // Another user who never consented, asked with prompt=none: an error, no page.
    let (other_web, _, _) = signed_in(&app).await;
    let r = other_web
        .get(authorize_url(&app, &id, &challenge, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(param(&loc, "error").as_deref(), Some("consent_required"));
    // ...unless the client insists with prompt=consent.
    let r = web
        .get(authorize_url(
            &app,
            &id,
            &challenge,
            &[("prompt", "consent")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn bad_client_or_redirect_uri_never_redirects() {
    let app = spawn_app().await;
    let (id, _) = app.create_client(&web_app(true)).await;
    let (web, _, _) = signed_in(&app).await;
    let (_, challenge) = pkce();
    let variants = [
        "https://rp.example.com/callback/",
        "https://rp.example.com/callback?x=1",
        "https://RP.example.com/callback",
        "https://rp.example.com/callback#frag",
        "https://rp.example.com.evil.com/callback",
        "https://rp.example.com@evil.com/callback",
        "https://a@b@evil.com/callback",
        "https://rp.example.com/callback/..;/x",
        "https://rp.example.com/%2e%2e/callback",
        "https:\\\\rp.example.com\\callback",
        "https://rp.exаmple.com/callback",
        "http://127.0.0.1.evil.com/cb",
        "",
    ];
    for v in variants {
        let url = authorize_url(&app, &id, &challenge, &[]).replace(
            &format!(
                "redirect_uri={}",
                url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
            ),
            &format!(
                "redirect_uri={}",
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            ),
        );
        for prompt in ["", "&prompt=none"] {
            let r = web.get(format!("{url}{prompt}")).send().await.unwrap();
            assert_eq!(r.status(), 400, "{v:?}{prompt}");
            assert!(r.headers().get("location").is_none(), "{v:?} redirected");
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html")
            );
        }
    }
    // Unknown client: a page, never a redirect, even with prompt=none.
    let url = authorize_url(&app, "no-such-client", &challenge, &[("prompt", "none")]);
    let r = web.get(url).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    // A loopback redirect URI may change its port only.
    let loop_url = authorize_url(&app, &id, &challenge, &[]).replace(
        &url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        &url::form_urlencoded::byte_serialize(b"http://127.0.0.1:49152/cb").collect::<String>(),
    );
    let r = web.get(loop_url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("http://127.0.0.1:49152/cb?code=")
    );
}

#[tokio::test]
async fn protocol_errors_go_back_to_the_client_with_iss() {
    let app = spawn_app().await;
    let (id, _) = app.create_client(&web_app(true)).await;
    let (_, challenge) = pkce();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("prompt", "none")], "login_required"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (vec![("max_age", "-1")], "invalid_request"),
        (vec![("request", "eyJ.x.y")], "request_not_supported"),
    ];
    for (extra, error) in cases {
        let mut url = authorize_url(&app, &id, &challenge, &[]);
        for (k, v) in &extra {
            let mut u = url::Url::parse(&url).unwrap();
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .filter(|(pk, _)| pk != k)
                .map(|(a, b)| (a.into_owned(), b.into_owned()))
                .collect();
            u.query_pairs_mut()
                .clear()
                .extend_pairs(pairs)
                .append_pair(k, v);
            url = u.to_string();
        }
        let r = bare_client().get(&url).send().await.unwrap();
        assert_eq!(r.status(), 303, "{extra:?}");
        let loc = r.headers()["location"].to_str().unwrap();
        assert!(loc.starts_with(REDIRECT), "{loc}");
        assert_eq!(param(loc, "error").as_deref(), Some(error), "{extra:?}");
        assert_eq!(param(loc, "iss").as_deref(), Some(app.base.as_str()));
        assert_eq!(param(loc, "state").as_deref(), Some("st-123"));
    }
    // No PKCE at all.
    let url = authorize_url(&app, &id, &challenge, &[]).replace(
        &format!("&code_challenge={challenge}&code_challenge_method=S256"),
        "",
    );
    let r = bare_client().get(url).send().await.unwrap();
    assert_eq!(
        param(r.headers()["location"].to_str().unwrap(), "error").as_deref(),
        Some("invalid_request")
    );
}
