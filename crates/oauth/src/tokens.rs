//! Access tokens (RFC 9068 JWTs) and the grant rules that decide what a client
//! may receive.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde_json::{Value, json};

use crate::clients::{Client, list};
use crate::error::OAuthError;
use crate::keys::{KeyRing, SigningAlg};

/// Access tokens are signed with ES256: small, fast to sign and verify.
pub const ACCESS_TOKEN_ALG: SigningAlg = SigningAlg::Es256;
/// The `typ` header of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// Scopes that only make sense with a user; never granted to a client alone.
const USER_SCOPES: [&str; 5] = ["openid", "profile", "email", "offline_access", "customer"];

/// A random 128-bit identifier, base64url: `jti` values.
pub fn new_jti() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Refuses a grant type the client was not registered for.
pub fn check_grant(client: &Client, grant: &str) -> Result<(), OAuthError> {
    if list(&client.grant_types).iter().any(|g| g == grant) {
        Ok(())
    } else {
        Err(OAuthError::UnauthorizedClient)
    }
}

/// The scopes a `client_credentials` request gets: what it asked for, each of
/// which must be registered for the client and not a user scope; or, when it
/// asked for nothing, every non-user scope it has.
pub fn client_credentials_scopes(
    client: &Client,
    requested: Option<&str>,
) -> Result<Vec<String>, OAuthError> {
    let allowed: Vec<String> = list(&client.scopes)
        .into_iter()
        .filter(|s| !USER_SCOPES.contains(&s.as_str()))
        .collect();
    let Some(req) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(allowed);
    };
    let mut out: Vec<String> = Vec::new();
    for s in req.split(' ').filter(|s| !s.is_empty()) {
        if !allowed.iter().any(|a| a == s) {
            return Err(OAuthError::InvalidScope(s.to_owned()));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    Ok(out)
}

/// A signed access token and what the response must say about it.
#[derive(Debug)]
pub struct IssuedAccessToken {
    /// The JWT.
    pub token: String,
    /// Its identifier.
    pub jti: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// Granted scopes.
    pub scopes: Vec<String>,
}

/// What an access token is about.
pub struct AccessTokenRequest<'a> {
    /// The issuer URL.
    pub issuer: &'a str,
    /// The audience (the resource servers' identifier).
    pub audience: &'a str,
    /// The client the token is issued to.
    pub client: &'a Client,
    /// The subject: the account's `sub`, or the client id for `client_credentials`.
    pub subject: &'a str,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The person's role on the account (`holder`, `admin`, …), for user
    /// grants with the `customer` scope; `None` for clients.
    pub role: Option<&'a str>,
}

/// Signs an access token (RFC 9068): `iss`, `sub`, `aud`, `client_id`, `scope`,
/// `iat`, `exp`, `jti`.
pub async fn issue_access_token(
    keys: &KeyRing,
    req: AccessTokenRequest<'_>,
    now: DateTime<Utc>,
) -> Result<IssuedAccessToken, OAuthError> {
    let ttl = i64::from(req.client.access_token_ttl_secs);
    let jti = new_jti();
    let iat = now.timestamp();
    let mut claims = json!({
        "iss": req.issuer,
        "sub": req.subject,
        "aud": req.audience,
        "client_id": req.client.client_id,
        "scope": req.scopes.join(" "),
        "iat": iat,
        "exp": iat + ttl,
        "jti": jti,
    });
    if let Some(role) = req.role {
        claims["role"] = json!(role);
    }
    let token = keys
        .sign_jwt(ACCESS_TOKEN_ALG, ACCESS_TOKEN_TYP, &claims, now)
        .await?;
    Ok(IssuedAccessToken {
        token,
        jti,
        expires_in: ttl,
        scopes: req.scopes,
    })
}

/// Verifies an access token this server issued: signature, algorithm, `typ`
/// claim set and time window. Revocation is checked by the caller, which owns
/// the short-lived store.
pub async fn verify_access_token(
    keys: &KeyRing,
    issuer: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Value, OAuthError> {
    // The `typ` header tells access tokens from ID tokens (RFC 9068 §4): an ID
    // token must never work as an access token.
    let typ_ok = token
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .is_some_and(|h| h["typ"] == ACCESS_TOKEN_TYP);
    if !typ_ok {
        return Err(OAuthError::InvalidToken("not an access token (typ)"));
    }
    let claims = keys.verify_jwt(token, &[ACCESS_TOKEN_ALG], now).await?;
    let ours = claims["iss"] == issuer
        && claims["jti"].is_string()
        && claims["client_id"].is_string()
        && claims["exp"].is_i64();
    if ours {
        Ok(claims)
    } else {
        Err(OAuthError::InvalidToken(
            "not an access token of this issuer",
        ))
    }
}

/// Access tokens already verified, remembered until they expire, so that a
/// resource server introspecting the same token many times (or a client calling
/// userinfo) costs one signature check, not one per request. Safe because a
/// verdict cannot change before `exp`: the signature and claims are immutable, and
/// revocation is checked by the caller on every request, outside this cache.
pub struct VerifiedTokens {
    entries: std::sync::Mutex<std::collections::HashMap<String, (i64, Value)>>,
    capacity: usize,
}

impl VerifiedTokens {
    /// A cache holding at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: std::sync::Mutex::new(std::collections::HashMap::new()),
            capacity,
        }
    }

    /// [`verify_access_token`], answered from the cache while the token has
    /// not expired. A hit is only taken strictly before `exp`; past it the full
    /// check runs again, with its clock-skew leeway.
    pub async fn verify(
        &self,
        keys: &KeyRing,
        issuer: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Value, OAuthError> {
        let t = now.timestamp();
        if let Some((exp, claims)) = self.lock().get(token)
            && t < *exp
            && claims["iss"] == issuer
        {
            return Ok(claims.clone());
        }
        let claims = verify_access_token(keys, issuer, token, now).await?;
        let exp = claims["exp"].as_i64().unwrap_or(0);
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.retain(|_, (e, _)| t < *e);
            if entries.len() >= self.capacity {
                // Full of live tokens: start over rather than grow; the cost is
                // one verification per token on its next use.
                entries.clear();
            }
        }
        entries.insert(token.to_owned(), (exp, claims.clone()));
        Ok(claims)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (i64, Value)>> {
        // A panic while holding the lock cannot leave a half-written entry, so a
        // poisoned lock is still consistent.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::{ClientSpec, create};
    use crate::keys::KeyEncryptor;
    use migration::{Migrator, MigratorTrait};
    use sea_orm::Database;

    async fn setup() -> (KeyRing, Client) {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        let keys = KeyRing::new(
            db.clone(),
            KeyEncryptor::from_base64(&KeyEncryptor::generate_base64()).unwrap(),
        );
        keys.ensure(Utc::now()).await.unwrap();
        let spec = ClientSpec {
            grant_types: vec!["client_credentials".into()],
            scopes: vec!["api".into(), "billing:read".into(), "openid".into()],
            ..ClientSpec::named("Billing")
        };
        let (client, _) = create(&db, &spec, Utc::now()).await.unwrap();
        (keys, client)
    }

    #[tokio::test]
    async fn scopes_are_limited_to_the_client_and_never_user_scopes() {
        let (_, c) = setup().await;
        assert_eq!(
            client_credentials_scopes(&c, None).unwrap(),
            ["api", "billing:read"]
        );
        assert_eq!(
            client_credentials_scopes(&c, Some("api api")).unwrap(),
            ["api"]
        );
        assert!(matches!(
            client_credentials_scopes(&c, Some("api admin")),
            Err(OAuthError::InvalidScope(s)) if s == "admin"
        ));
        assert!(client_credentials_scopes(&c, Some("openid")).is_err());
        assert!(check_grant(&c, "client_credentials").is_ok());
        assert!(matches!(
            check_grant(&c, "authorization_code"),
            Err(OAuthError::UnauthorizedClient)
        ));
    }

    #[tokio::test]
    async fn the_verified_cache_answers_like_a_full_check_and_forgets_expired_tokens() {
        let (keys, c) = setup().await;
        let now = Utc::now();
        let iss = "https://id.example.com";
        let t = issue_access_token(
            &keys,
            AccessTokenRequest {
                issuer: iss,
                audience: iss,
                client: &c,
                subject: &c.client_id,
                role: None,
                scopes: vec!["api".into()],
            },
            now,
        )
        .await
        .unwrap();
        let cache = VerifiedTokens::new(2);
        let first = cache.verify(&keys, iss, &t.token, now).await.unwrap();
        let again = cache.verify(&keys, iss, &t.token, now).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(first["jti"], t.jti.as_str());
        // Another issuer's check is not answered from the cache.
        assert!(
            cache
                .verify(&keys, "https://other.example", &t.token, now)
                .await
                .is_err()
        );
        // A tampered copy is checked in full and refused.
        let mut forged = t.token.clone();
        forged.pop();
        forged.push(if t.token.ends_with('A') { 'B' } else { 'A' });
        assert!(cache.verify(&keys, iss, &forged, now).await.is_err());
        // Past exp (and the leeway) the cached verdict is not reused.
        let later = now + chrono::Duration::seconds(t.expires_in + 61);
        assert!(cache.verify(&keys, iss, &t.token, later).await.is_err());
        // Filling the cache beyond its capacity keeps it bounded and correct.
        for _ in 0..5 {
            let t = issue_access_token(
                &keys,
                AccessTokenRequest {
                    issuer: iss,
                    audience: iss,
                    client: &c,
                    subject: &c.client_id,
                    role: None,
                    scopes: vec!["api".into()],
                },
                now,
            )
            .await
            .unwrap();
            assert_eq!(
                cache.verify(&keys, iss, &t.token, now).await.unwrap()["jti"],
                t.jti.as_str()
            );
            assert!(cache.lock().len() <= 2);
        }
    }

    #[tokio::test]
    async fn access_tokens_verify_and_carry_rfc9068_claims() {
        let (keys, c) = setup().await;
        let now = Utc::now();
        let t = issue_access_token(
            &keys,
            AccessTokenRequest {
                issuer: "https://id.example.com",
                audience: "https://id.example.com",
                client: &c,
                subject: &c.client_id,
                role: None,
                scopes: vec!["api".into()],
            },
            now,
        )
        .await
        .unwrap();
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(t.token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["alg"], "ES256");
        let claims = verify_access_token(&keys, "https://id.example.com", &t.token, now)
            .await
            .unwrap();
        assert_eq!(claims["client_id"], c.client_id.as_str());
        assert_eq!(claims["scope"], "api");
        assert_eq!(claims["jti"], t.jti.as_str());
        assert!(
            verify_access_token(&keys, "https://other.example", &t.token, now)
                .await
                .is_err()
        );
        let later = now + chrono::Duration::seconds(t.expires_in + 61);
        assert!(
            verify_access_token(&keys, "https://id.example.com", &t.token, later)
                .await
                .is_err()
        );
    }
}
