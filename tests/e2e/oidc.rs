//! The authorization code flow as relying parties see it: driven once with the
//! `openidconnect` crate as the relying party, then request by request for
//! every rule of the security bar.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guichet_tests::{Person, TestApp, bare_client, browser, hidden, spawn_app};
use oauth::clients::ClientSpec;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub(crate) const REDIRECT: &str = "https://rp.example.com/callback";

pub(crate) fn web_app(first_party: bool) -> ClientSpec {
    ClientSpec {
        redirect_uris: vec![REDIRECT.into(), "http://127.0.0.1/cb".into()],
        grant_types: vec!["authorization_code".into()],
        scopes: ["openid", "profile", "email", "customer"]
            .map(String::from)
            .to_vec(),
        first_party,
        ..ClientSpec::named("Control panel")
    }
}

/// A PKCE pair made by hand, for the request-level tests.
pub(crate) fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand_bytes());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    for (i, x) in uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .chain(uuid::Uuid::new_v4().as_bytes())
        .enumerate()
    {
        b[i] = *x;
    }
    b
}

fn query_of(location: &str) -> Vec<(String, String)> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(crate) fn param(location: &str, name: &str) -> Option<String> {
    query_of(location)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

async fn signed_in(app: &TestApp) -> (reqwest::Client, Person, String) {
    let p = Person::new("Rita", "Party");
    let handle = app.signup(&p).await;
    let web = browser();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    (web, p, handle)
}

pub(crate) fn authorize_url(
    app: &TestApp,
    client_id: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut u = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", "openid email")
            .append_pair("state", "st-123")
            .append_pair("nonce", "n-456")
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    u.to_string()
}

/// Follows redirects inside Guichet until one leaves for the client.
pub(crate) async fn follow_to_client(
    app: &TestApp,
    web: &reqwest::Client,
    mut url: String,
) -> String {
    for _ in 0..5 {
        let r = web.get(&url).send().await.unwrap();
        assert_eq!(
            r.status(),
            303,
            "at {url}: {}",
            r.text().await.unwrap_or_default()
        );
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        if loc.starts_with('/') {
            url = app.url(&loc);
        } else {
            return loc;
        }
    }
    panic!("too many redirects");
}

pub(crate) async fn code_for(
    app: &TestApp,
    web: &reqwest::Client,
    client_id: &str,
) -> (String, String) {
    let (verifier, challenge) = pkce();
    let loc = follow_to_client(app, web, authorize_url(app, client_id, &challenge, &[])).await;
    assert!(loc.starts_with(REDIRECT), "{loc}");
    (param(&loc, "code").expect("code"), verifier)
}

pub(crate) async fn redeem(
    app: &TestApp,
    id: &str,
    secret: &str,
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    bare_client()
        .post(app.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

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
    let page = web
        .get(app.url(&to_login))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = web
        .post(app.url("/login"))
        .form(&[
            ("identifier", handle.as_str()),
            ("password", p.password.as_str()),
            ("csrf", &hidden(&page, "csrf").unwrap()),
            ("next", &hidden(&page, "next").unwrap()),
        ])
        .send()
        .await
        .unwrap();
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
    let r = web
        .get(authorize_url(&app, &id, &challenge, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("Allow Control panel to use your account?"));
    assert!(page.contains("See your primary email address"));
    let deny = web
        .post(app.url("/oauth2/consent"))
        .form(&[
            ("csrf", hidden(&page, "csrf").unwrap().as_str()),
            ("request_id", &hidden(&page, "request_id").unwrap()),
            ("decision", "deny"),
        ])
        .send()
        .await
        .unwrap();
    let loc = deny.headers()["location"].to_str().unwrap().to_owned();
    assert!(loc.starts_with(REDIRECT));
    assert_eq!(param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&loc, "state").as_deref(), Some("st-123"));

    let page = web
        .get(authorize_url(&app, &id, &challenge, &[]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // A forged consent (no or wrong token) is refused.
    let forged = web
        .post(app.url("/oauth2/consent"))
        .form(&[
            ("request_id", hidden(&page, "request_id").unwrap().as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let allow = web
        .post(app.url("/oauth2/consent"))
        .form(&[
            ("csrf", hidden(&page, "csrf").unwrap().as_str()),
            ("request_id", &hidden(&page, "request_id").unwrap()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
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

#[tokio::test]
async fn a_code_works_once_and_a_replay_revokes_what_it_gave() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&web_app(true)).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app).await;
    let (code, verifier) = code_for(&app, &web, &id).await;
    let r = redeem(&app, &id, &secret, &code, &verifier).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    let id_token = body["id_token"].as_str().unwrap().to_owned();
    let userinfo = |token: String| {
        let url = app.url("/oauth2/userinfo");
        async move {
            bare_client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(userinfo(access.clone()).await, 200);
    assert_eq!(
        userinfo(id_token).await,
        401,
        "an ID token is not an access token"
    );

    let again = redeem(&app, &id, &secret, &code, &verifier).await;
    assert_eq!(again.status(), 400);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_eq!(
        userinfo(access).await,
        401,
        "the replay revoked the first redemption's token"
    );
}

#[tokio::test]
async fn fifty_parallel_redemptions_of_one_code_give_exactly_one_token() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&web_app(true)).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app).await;
    let (code, verifier) = code_for(&app, &web, &id).await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (url, id, secret, code, verifier) = (
                app.url("/oauth2/token"),
                id.clone(),
                secret.clone(),
                code.clone(),
                verifier.clone(),
            );
            tokio::spawn(async move {
                bare_client()
                    .post(url)
                    .basic_auth(id, Some(secret))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", REDIRECT),
                        ("code_verifier", verifier.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            400 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn the_code_is_bound_to_client_redirect_uri_and_verifier() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&web_app(true)).await;
    let secret = secret.unwrap();
    let (other, other_secret) = app.create_client(&web_app(true)).await;
    let (web, _, _) = signed_in(&app).await;

    let (code, _) = code_for(&app, &web, &id).await;
    let (wrong_verifier, _) = pkce();
    let r = redeem(&app, &id, &secret, &code, &wrong_verifier).await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let (code, verifier) = code_for(&app, &web, &id).await;
    let r = redeem(&app, &other, &other_secret.unwrap(), &code, &verifier).await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "another client"
    );

    let (code, verifier) = code_for(&app, &web, &id).await;
    let r = bare_client()
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1/cb"),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "another redirect URI"
    );

    let (code, _) = code_for(&app, &web, &id).await;
    let r = redeem(&app, &id, &secret, &code, "").await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "no verifier"
    );
}

#[tokio::test]
async fn a_verifier_outside_43_to_128_characters_is_refused_even_when_it_matches() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&web_app(true)).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app).await;
    // RFC 7636 §4.1: a verifier has 43 to 128 unreserved characters. One that
    // hashes to its challenge but is shorter or longer must still not redeem:
    // a short one would be guessable.
    for (len, good) in [(42, false), (43, true), (128, true), (129, false)] {
        let verifier: String = "abcdefghijklmnopqrstuvwxyz0123456789-._~"
            .chars()
            .cycle()
            .take(len)
            .collect();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let loc = follow_to_client(&app, &web, authorize_url(&app, &id, &challenge, &[])).await;
        let code = param(&loc, "code").expect("code");
        let r = redeem(&app, &id, &secret, &code, &verifier).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        if good {
            assert_eq!(status, 200, "{len} characters: {body}");
            assert!(body["access_token"].is_string(), "{len} characters: {body}");
        } else {
            assert_eq!(status, 400, "{len} characters: {body}");
            assert_eq!(body["error"], "invalid_grant", "{len} characters");
            assert!(body.get("access_token").is_none(), "{len} characters");
        }
    }
}

#[tokio::test]
async fn a_code_past_its_lifetime_is_refused() {
    // The lifetime is shortened so that the test does not wait a minute; the
    // default of 60 s is the same setting (checked in the settings' tests).
    let mut settings = guichet_tests::fresh_settings().await;
    settings.oauth.code_ttl_secs = std::time::Duration::from_secs(1);
    let app = guichet_tests::spawn_with(settings).await;
    let (id, secret) = app.create_client(&web_app(true)).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app).await;

    let (code, verifier) = code_for(&app, &web, &id).await;
    app.clock.advance(std::time::Duration::from_millis(2100));
    let r = redeem(&app, &id, &secret, &code, &verifier).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert!(body.get("access_token").is_none());

    // A code redeemed within its lifetime still works on the same server.
    let (code, verifier) = code_for(&app, &web, &id).await;
    let r = redeem(&app, &id, &secret, &code, &verifier).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn prompt_login_and_max_age_zero_force_a_new_login() {
    let app = spawn_app().await;
    let (id, _) = app.create_client(&web_app(true)).await;
    let (web, _, _) = signed_in(&app).await;
    let (_, challenge) = pkce();
    // Even within the second of the login: the session that was there when
    // the request came cannot satisfy it.
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let r = web
            .get(authorize_url(&app, &id, &challenge, &[extra]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let loc = r.headers()["location"].to_str().unwrap();
        assert!(loc.starts_with("/login?"), "{extra:?}: {loc}");
    }
    // prompt=none with a live session gives a code without any page.
    let loc = follow_to_client(
        &app,
        &web,
        authorize_url(&app, &id, &challenge, &[("prompt", "none")]),
    )
    .await;
    assert!(param(&loc, "code").is_some());
}

#[tokio::test]
async fn the_customer_scope_discloses_the_handle_and_code() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&web_app(true)).await;
    let (web, _, handle) = signed_in(&app).await;
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &id, &challenge, &[])
        .replace("scope=openid+email", "scope=openid+customer");
    let loc = follow_to_client(&app, &web, url).await;
    let code = param(&loc, "code").unwrap();
    let body: Value = redeem(&app, &id, &secret.unwrap(), &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let info: Value = bare_client()
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["customer_handle"], handle.as_str());
    assert!(
        info["customer_code"]
            .as_str()
            .is_some_and(|c| c.len() == 11)
    );
    assert!(
        info.get("email").is_none(),
        "no email without the email scope"
    );
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(
                body["id_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .nth(1)
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["customer_handle"], handle.as_str());
    assert_eq!(claims["nonce"], "n-456");
    assert!(claims["sid"].as_str().is_some());
}

pub(crate) fn offline_app() -> ClientSpec {
    ClientSpec {
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: ["openid", "email", "offline_access"]
            .map(String::from)
            .to_vec(),
        ..web_app(true)
    }
}

pub(crate) async fn offline_tokens(
    app: &TestApp,
    web: &reqwest::Client,
    id: &str,
    secret: &str,
) -> (Value, String) {
    let (verifier, challenge) = pkce();
    let url = authorize_url(app, id, &challenge, &[])
        .replace("scope=openid+email", "scope=openid+email+offline_access");
    let loc = follow_to_client(app, web, url).await;
    let code = param(&loc, "code").unwrap();
    let r = redeem(app, id, secret, &code, &verifier).await;
    assert_eq!(r.status(), 200);
    (r.json().await.unwrap(), code)
}

pub(crate) async fn refresh(
    app: &TestApp,
    id: &str,
    secret: &str,
    token: &str,
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    bare_client()
        .post(app.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replay_revokes_the_family() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app).await;
    let (first, _) = offline_tokens(&app, &web, &id, &secret).await;
    let r1 = first["refresh_token"]
        .as_str()
        .expect("offline_access gives a refresh token")
        .to_owned();

    let r = refresh(&app, &id, &secret, &r1, None).await;
    assert_eq!(r.status(), 200);
    let second: Value = r.json().await.unwrap();
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2, "rotated");
    assert!(second["id_token"].as_str().is_some());
    assert!(second["access_token"].as_str().is_some());

    // Narrower scope is fine; wider is not, and burns nothing.
    let r = refresh(&app, &id, &secret, &r2, Some("openid profile")).await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");
    let r = refresh(&app, &id, &secret, &r2, Some("openid")).await;
    assert_eq!(r.status(), 200);
    let third: Value = r.json().await.unwrap();
    assert_eq!(third["scope"], "openid");
    let r3 = third["refresh_token"].as_str().unwrap().to_owned();

    // Replaying r1 fails and kills the family: r3 dies too.
    let r = refresh(&app, &id, &secret, &r1, None).await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let r = refresh(&app, &id, &secret, &r3, None).await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

#[tokio::test]
async fn fifty_parallel_refreshes_with_one_token_give_exactly_one_success() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app).await;
    let (first, _) = offline_tokens(&app, &web, &id, &secret).await;
    let token = first["refresh_token"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (url, id, secret, token) = (
                app.url("/oauth2/token"),
                id.clone(),
                secret.clone(),
                token.clone(),
            );
            tokio::spawn(async move {
                bare_client()
                    .post(url)
                    .basic_auth(id, Some(secret))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", token.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            400 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn revoking_a_refresh_token_and_replaying_its_code_both_end_the_family() {
    let app = spawn_app().await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let (web, _, _) = signed_in(&app).await;

    let (tokens, _) = offline_tokens(&app, &web, &id, &secret).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let info: Value = bare_client()
        .post(app.url("/oauth2/introspect"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", rt)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "refresh_token");
    let r = bare_client()
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", rt), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = refresh(&app, &id, &secret, rt, None).await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &id, &challenge, &[])
        .replace("scope=openid+email", "scope=openid+email+offline_access");
    let loc = follow_to_client(&app, &web, url).await;
    let code = param(&loc, "code").unwrap();
    let tokens: Value = redeem(&app, &id, &secret, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        redeem(&app, &id, &secret, &code, &verifier).await.status(),
        400
    );
    let r = refresh(&app, &id, &secret, &rt, None).await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "the replayed code's refresh token is revoked"
    );
}

/// A one-shot relying-party endpoint that records the first form POST it gets.
pub(crate) async fn backchannel_receiver() -> (String, tokio::sync::oneshot::Receiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/backchannel",
        listener.local_addr().unwrap().port()
    );
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = sock.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await
                        .unwrap();
                    let _ = tx.send(body.to_owned());
                    return;
                }
            }
            if n == 0 {
                return;
            }
        }
    });
    (url, rx)
}

#[tokio::test]
async fn rp_initiated_logout_ends_the_session_and_tells_every_client_back_channel() {
    let app = spawn_app().await;
    let (receiver_url, received) = backchannel_receiver().await;
    let spec = ClientSpec {
        post_logout_redirect_uris: vec!["https://rp.example.com/bye".into()],
        backchannel_logout_uri: Some(receiver_url),
        ..web_app(true)
    };
    let (id, secret) = app.create_client(&spec).await;
    let (web, _, _) = signed_in(&app).await;
    let (code, verifier) = code_for(&app, &web, &id).await;
    let tokens: Value = redeem(&app, &id, &secret.unwrap(), &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let sid = serde_json::from_slice::<Value>(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()["sid"]
        .clone();

    // An unregistered destination is refused on a page, never followed.
    let mut bad = url::Url::parse(&app.url("/oauth2/logout")).unwrap();
    bad.query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", "https://evil.example.com/");
    let r = web.get(bad.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        200,
        "still logged in"
    );

    let mut good = url::Url::parse(&app.url("/oauth2/logout")).unwrap();
    good.query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", "https://rp.example.com/bye")
        .append_pair("state", "bye-1");
    let r = web.get(good.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "https://rp.example.com/bye?state=bye-1"
    );
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        303,
        "the session is over"
    );

    let body = tokio::time::timeout(std::time::Duration::from_secs(10), received)
        .await
        .expect("a logout token arrives")
        .unwrap();
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .expect("logout_token field");
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(header["typ"], "logout+jwt");
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["aud"], id.as_str());
    assert_eq!(claims["sid"], sid);
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none());
    // The signature verifies with the published key.
    use openidconnect::JsonWebKey;
    let jwks: openidconnect::core::CoreJsonWebKeySet = bare_client()
        .get(app.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = jwks
        .keys()
        .iter()
        .find(|k| k.key_id().map(|k| k.as_str()) == header["kid"].as_str())
        .unwrap();
    key.verify_signature(
        &openidconnect::core::CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
        &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
    )
    .expect("logout token signature");
}

#[tokio::test]
async fn logout_without_a_hint_asks_the_user_first() {
    let app = spawn_app().await;
    let (web, _, _) = signed_in(&app).await;
    let r = web.get(app.url("/oauth2/logout")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("Log out of Guichet?"));
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        200,
        "nothing ended yet"
    );
    // A forged confirmation without the session's token changes nothing.
    let r = web
        .post(app.url("/oauth2/logout"))
        .form(&[("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        200
    );
    let r = web
        .post(app.url("/oauth2/logout"))
        .form(&[
            ("confirm", "yes"),
            ("csrf", hidden(&page, "csrf").unwrap().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        web.get(app.url("/account")).send().await.unwrap().status(),
        303
    );
}
