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

mod codes;
mod flow;
mod logout;
mod refresh;
