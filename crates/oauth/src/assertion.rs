//! `private_key_jwt` client authentication (RFC 7523, OIDC Core §9): the
//! client signs a short JWT with a key whose public half it registered.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::JsonWebKey;
use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use serde_json::Value;

use crate::clients::Client;
use crate::error::OAuthError;

/// The only `client_assertion_type` there is.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Clock skew allowed on `exp`, `nbf` and `iat`.
const LEEWAY: i64 = 60;
/// Longest assertion lifetime accepted: they are meant for one request.
const MAX_LIFETIME: i64 = 600;
/// Largest assertion accepted, in bytes.
const MAX_LEN: usize = 8192;

/// A verified assertion: its `jti` (single use is the caller's job, with its
/// shared store) and its expiry.
#[derive(Debug)]
pub struct VerifiedAssertion {
    /// Unique identifier of the assertion.
    pub jti: String,
    /// Unix expiry.
    pub exp: i64,
}

fn decode(part: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// Verifies an assertion for `client`. `audiences` are the values `aud` may
/// hold (the issuer and the endpoint URL). Every failure is `InvalidClient`:
/// the client learns nothing about which check failed.
pub fn verify(
    client: &Client,
    assertion: &str,
    audiences: &[&str],
    now: i64,
) -> Result<VerifiedAssertion, OAuthError> {
    let fail = |why: &'static str| {
        tracing::info!(client_id = %client.client_id, why, "client assertion refused");
        OAuthError::InvalidClient
    };
    if client.auth_method != "private_key_jwt" {
        return Err(fail("client does not use private_key_jwt"));
    }
    if assertion.len() > MAX_LEN {
        return Err(fail("too long"));
    }
    let parts: Vec<&str> = assertion.split('.').collect();
    if parts.len() != 3 {
        return Err(fail("not a compact JWS"));
    }
    let header = decode(parts[0]).ok_or_else(|| fail("bad header"))?;
    for banned in ["jku", "x5u", "jwk", "x5c", "crit"] {
        if header.get(banned).is_some() {
            return Err(fail("key-pointing or critical header"));
        }
    }
    // An allow-list of asymmetric algorithms: `none` and HMAC (which would let
    // anyone holding the public key forge) never get here.
    let alg = match header["alg"].as_str() {
        Some("RS256") => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some("ES256") => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        Some("EdDSA") => CoreJwsSigningAlgorithm::EdDsa,
        _ => return Err(fail("algorithm not allowed")),
    };
    let jwks: CoreJsonWebKeySet = client
        .jwks
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(|| fail("no usable registered JWKS"))?;
    let kid = header["kid"].as_str();
    let candidates: Vec<&CoreJsonWebKey> = jwks
        .keys()
        .iter()
        .filter(|k| match kid {
            Some(kid) => k.key_id().is_some_and(|id| id.as_str() == kid),
            None => true,
        })
        .collect();
    let signature = URL_SAFE_NO_PAD
        .decode(parts[2])
        .map_err(|_| fail("bad signature encoding"))?;
    let message = format!("{}.{}", parts[0], parts[1]);
    let verified = candidates.iter().any(|k| {
        k.verify_signature(&alg, message.as_bytes(), &signature)
            .is_ok()
    });
    if !verified {
        return Err(fail("signature"));
    }
    let claims = decode(parts[1]).ok_or_else(|| fail("bad claims"))?;
    if claims["iss"] != client.client_id.as_str() || claims["sub"] != client.client_id.as_str() {
        return Err(fail("iss/sub must be the client_id"));
    }
    let aud_ok = match &claims["aud"] {
        Value::String(a) => audiences.contains(&a.as_str()),
        Value::Array(list) => list
            .iter()
            .any(|a| a.as_str().is_some_and(|a| audiences.contains(&a))),
        _ => false,
    };
    if !aud_ok {
        return Err(fail("audience"));
    }
    let exp = claims["exp"].as_i64().ok_or_else(|| fail("exp missing"))?;
    if exp + LEEWAY < now {
        return Err(fail("expired"));
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| nbf > now + LEEWAY) {
        return Err(fail("not yet valid"));
    }
    let iat = claims["iat"].as_i64().unwrap_or(now);
    if iat > now + LEEWAY || exp - iat > MAX_LIFETIME {
        return Err(fail("iat in the future or lifetime too long"));
    }
    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| fail("jti missing"))?;
    Ok(VerifiedAssertion {
        jti: jti.to_owned(),
        exp,
    })
}
