//! ID tokens, built and signed with openidconnect's types.

use chrono::{DateTime, Duration, Utc};
use openidconnect::core::{
    CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AccessToken, AdditionalClaims, Audience, AuthenticationContextClass,
    AuthenticationMethodReference, EndUserEmail, EndUserFamilyName, EndUserGivenName, EndUserName,
    IdToken, IdTokenClaims, IssuerUrl, LanguageTag, LocalizedClaim, Nonce, StandardClaims,
    SubjectIdentifier,
};
use serde::{Deserialize, Serialize};

use crate::error::OAuthError;
use crate::keys::{KeyRing, SigningAlg};

/// Claims Guichet adds to the standard ones.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GuichetClaims {
    /// The browser session, for logout (OIDC Front/Back-Channel Logout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The customer handle, with the `customer` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_handle: Option<String>,
    /// The customer code, with the `customer` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_code: Option<String>,
    /// The role of the person on the account (`holder`, `admin`,
    /// `restricted`, `read_only`, `none`), with the `customer` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl AdditionalClaims for GuichetClaims {}

/// Guichet's ID token type.
pub type GuichetIdToken = IdToken<
    GuichetClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// What the holder of the account discloses, by scope.
#[derive(Clone, Debug, Default)]
pub struct Person {
    /// Stable opaque subject.
    pub subject: String,
    /// Given name (`profile`).
    pub given_name: Option<String>,
    /// Family name (`profile`).
    pub family_name: Option<String>,
    /// Locale (`profile`).
    pub locale: Option<String>,
    /// Email (`email`).
    pub email: Option<String>,
    /// Whether it is verified (`email`).
    pub email_verified: Option<bool>,
    /// Customer handle (`customer`).
    pub customer_handle: Option<String>,
    /// Customer code (`customer`).
    pub customer_code: Option<String>,
    /// Role on the account (`customer`).
    pub role: Option<String>,
}

impl Person {
    /// Keeps only what the granted scopes disclose.
    pub fn limited_to(&self, scopes: &[String]) -> Self {
        let has = |s: &str| scopes.iter().any(|g| g == s);
        Self {
            subject: self.subject.clone(),
            given_name: self.given_name.clone().filter(|_| has("profile")),
            family_name: self.family_name.clone().filter(|_| has("profile")),
            locale: self.locale.clone().filter(|_| has("profile")),
            email: self.email.clone().filter(|_| has("email")),
            email_verified: self.email_verified.filter(|_| has("email")),
            customer_handle: self.customer_handle.clone().filter(|_| has("customer")),
            customer_code: self.customer_code.clone().filter(|_| has("customer")),
            role: self.role.clone().filter(|_| has("customer")),
        }
    }

    /// The standard claims for this person.
    pub fn standard_claims(&self) -> StandardClaims<CoreGenderClaim> {
        let name = match (&self.given_name, &self.family_name) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            _ => None,
        };
        StandardClaims::new(SubjectIdentifier::new(self.subject.clone()))
            .set_name(name.map(|n| LocalizedClaim::from(EndUserName::new(n))))
            .set_given_name(
                self.given_name
                    .clone()
                    .map(|n| LocalizedClaim::from(EndUserGivenName::new(n))),
            )
            .set_family_name(
                self.family_name
                    .clone()
                    .map(|n| LocalizedClaim::from(EndUserFamilyName::new(n))),
            )
            .set_locale(self.locale.clone().map(LanguageTag::new))
            .set_email(self.email.clone().map(EndUserEmail::new))
            .set_email_verified(self.email_verified)
    }
}

/// Everything an ID token states.
pub struct IdTokenRequest<'a> {
    /// Issuer.
    pub issuer: &'a str,
    /// The client (audience).
    pub client_id: &'a str,
    /// Signing algorithm registered for the client.
    pub alg: SigningAlg,
    /// The person, already limited to the granted scopes.
    pub person: &'a Person,
    /// Echoed nonce.
    pub nonce: Option<&'a str>,
    /// Unix time of the authentication.
    pub auth_time: i64,
    /// Methods used.
    pub amr: &'a [String],
    /// Context class reached.
    pub acr: &'a str,
    /// Session id.
    pub sid: &'a str,
    /// Lifetime.
    pub lifetime: Duration,
    /// The access token issued with it, for `at_hash`.
    pub access_token: Option<&'a str>,
}

/// Builds and signs an ID token.
pub async fn issue(
    keys: &KeyRing,
    req: IdTokenRequest<'_>,
    now: DateTime<Utc>,
) -> Result<GuichetIdToken, OAuthError> {
    let issuer = IssuerUrl::new(req.issuer.to_owned())
        .map_err(|e| OAuthError::Internal(format!("issuer URL: {e}")))?;
    let extra = GuichetClaims {
        sid: Some(req.sid.to_owned()),
        customer_handle: req.person.customer_handle.clone(),
        customer_code: req.person.customer_code.clone(),
        role: req.person.role.clone(),
    };
    let auth_time = DateTime::<Utc>::from_timestamp(req.auth_time, 0).unwrap_or(now);
    let claims = IdTokenClaims::new(
        issuer,
        vec![Audience::new(req.client_id.to_owned())],
        now + req.lifetime,
        now,
        req.person.standard_claims(),
        extra,
    )
    .set_nonce(req.nonce.map(|n| Nonce::new(n.to_owned())))
    .set_auth_time(Some(auth_time))
    .set_auth_context_ref(Some(AuthenticationContextClass::new(req.acr.to_owned())))
    .set_auth_method_refs(Some(
        req.amr
            .iter()
            .map(|m| AuthenticationMethodReference::new(m.clone()))
            .collect(),
    ));
    let key = keys.signing_key(req.alg, now).await?;
    let access = req.access_token.map(|t| AccessToken::new(t.to_owned()));
    GuichetIdToken::new(claims, &key, req.alg.to_core(), access.as_ref(), None)
        .map_err(|e| OAuthError::Internal(format!("ID token: {e}")))
}
