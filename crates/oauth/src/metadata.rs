//! The discovery document (OpenID Connect Discovery 1.0, RFC 8414), built with
//! openidconnect's types. It lists exactly what this server implements; fields
//! the crate lacks are added through its `AdditionalProviderMetadata` hook.

use openidconnect::AuthenticationContextClass;
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthUrl, IssuerUrl, JsonWebKeySetUrl, ProviderMetadata,
    ResponseTypes, Scope, TokenUrl, UserInfoUrl,
};
use serde::{Deserialize, Serialize};

use crate::error::OAuthError;
use crate::keys::SigningAlg;

/// Discovery fields openidconnect's core types do not carry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GuichetProviderMetadata {
    /// PKCE methods: S256 only.
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 7662.
    pub introspection_endpoint: String,
    /// Client authentication at introspection.
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 7009.
    pub revocation_endpoint: String,
    /// Client authentication at revocation.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 9207: `iss` in every authorization response.
    pub authorization_response_iss_parameter_supported: bool,
    /// RP-Initiated Logout.
    pub end_session_endpoint: String,
    /// Back-Channel Logout.
    pub backchannel_logout_supported: bool,
    /// Logout tokens carry `sid`.
    pub backchannel_logout_session_supported: bool,
}

impl AdditionalProviderMetadata for GuichetProviderMetadata {}

/// Guichet's discovery document type.
pub type GuichetDiscovery = ProviderMetadata<
    GuichetProviderMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

fn url_err(e: impl std::fmt::Display) -> OAuthError {
    OAuthError::Internal(format!("discovery URL: {e}"))
}

/// The document for an issuer (no trailing slash).
pub fn discovery(issuer: &str) -> Result<GuichetDiscovery, OAuthError> {
    let secret_methods = vec![
        "client_secret_basic".to_owned(),
        "client_secret_post".to_owned(),
    ];
    let extra = GuichetProviderMetadata {
        code_challenge_methods_supported: vec!["S256".into()],
        introspection_endpoint: format!("{issuer}/oauth2/introspect"),
        introspection_endpoint_auth_methods_supported: secret_methods.clone(),
        revocation_endpoint: format!("{issuer}/oauth2/revoke"),
        revocation_endpoint_auth_methods_supported: secret_methods,
        authorization_response_iss_parameter_supported: true,
        end_session_endpoint: format!("{issuer}/oauth2/logout"),
        backchannel_logout_supported: true,
        backchannel_logout_session_supported: true,
    };
    let claims = [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "sid",
        "at_hash",
        "name",
        "given_name",
        "family_name",
        "locale",
        "email",
        "email_verified",
        "customer_handle",
        "customer_code",
        "role",
    ];
    let doc = GuichetDiscovery::new(
        IssuerUrl::new(issuer.to_owned()).map_err(url_err)?,
        AuthUrl::new(format!("{issuer}/oauth2/authorize")).map_err(url_err)?,
        JsonWebKeySetUrl::new(format!("{issuer}/oauth2/jwks")).map_err(url_err)?,
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        SigningAlg::ALL.iter().map(|a| a.to_core()).collect(),
        extra,
    )
    .set_token_endpoint(Some(
        TokenUrl::new(format!("{issuer}/oauth2/token")).map_err(url_err)?,
    ))
    .set_userinfo_endpoint(Some(
        UserInfoUrl::new(format!("{issuer}/oauth2/userinfo")).map_err(url_err)?,
    ))
    .set_scopes_supported(Some(
        ["openid", "profile", "email", "customer", "offline_access"]
            .into_iter()
            .map(|s| Scope::new(s.into()))
            .collect(),
    ))
    .set_grant_types_supported(Some(vec![
        CoreGrantType::AuthorizationCode,
        CoreGrantType::RefreshToken,
        CoreGrantType::ClientCredentials,
    ]))
    .set_response_modes_supported(Some(vec![CoreResponseMode::Query]))
    .set_token_endpoint_auth_methods_supported(Some(vec![
        CoreClientAuthMethod::ClientSecretBasic,
        CoreClientAuthMethod::ClientSecretPost,
        CoreClientAuthMethod::PrivateKeyJwt,
        CoreClientAuthMethod::None,
    ]))
    .set_token_endpoint_auth_signing_alg_values_supported(Some(
        SigningAlg::ALL.iter().map(|a| a.to_core()).collect(),
    ))
    .set_claims_supported(Some(
        claims
            .into_iter()
            .map(|c| CoreClaimName::new(c.into()))
            .collect(),
    ))
    .set_acr_values_supported(Some(
        crate::authorize::ACR_VALUES
            .iter()
            .map(|v| AuthenticationContextClass::new((*v).to_owned()))
            .collect(),
    ))
    .set_claims_parameter_supported(Some(false))
    .set_request_parameter_supported(Some(false))
    .set_request_uri_parameter_supported(Some(false));
    Ok(doc)
}
