//! Authorization server metadata (RFC 8414), listing exactly what this server
//! implements today. OpenID Connect discovery joins it once the authorization
//! endpoint exists; until then advertising it would be untrue.

use serde::Serialize;

use crate::tokens::ACCESS_TOKEN_ALG;

/// The metadata document.
#[derive(Debug, Serialize)]
pub struct AuthorizationServerMetadata {
    /// The issuer, exactly as configured.
    pub issuer: String,
    /// Token endpoint.
    pub token_endpoint: String,
    /// Key set.
    pub jwks_uri: String,
    /// Introspection endpoint (RFC 7662).
    pub introspection_endpoint: String,
    /// Revocation endpoint (RFC 7009).
    pub revocation_endpoint: String,
    /// Grant types.
    pub grant_types_supported: Vec<&'static str>,
    /// Token endpoint client authentication.
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    /// Introspection client authentication.
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    /// Revocation client authentication.
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    /// No response types yet: there is no authorization endpoint.
    pub response_types_supported: Vec<&'static str>,
    /// Access token signing algorithm (RFC 9068 tokens).
    pub access_token_signing_alg_values_supported: Vec<&'static str>,
}

impl AuthorizationServerMetadata {
    /// The document for an issuer URL (no trailing slash).
    pub fn for_issuer(issuer: &str) -> Self {
        let secret_methods = vec!["client_secret_basic", "client_secret_post"];
        Self {
            issuer: issuer.to_owned(),
            token_endpoint: format!("{issuer}/oauth2/token"),
            jwks_uri: format!("{issuer}/oauth2/jwks"),
            introspection_endpoint: format!("{issuer}/oauth2/introspect"),
            revocation_endpoint: format!("{issuer}/oauth2/revoke"),
            grant_types_supported: vec!["client_credentials"],
            token_endpoint_auth_methods_supported: secret_methods.clone(),
            introspection_endpoint_auth_methods_supported: secret_methods.clone(),
            revocation_endpoint_auth_methods_supported: secret_methods,
            response_types_supported: Vec::new(),
            access_token_signing_alg_values_supported: vec![ACCESS_TOKEN_ALG.as_str()],
        }
    }
}
