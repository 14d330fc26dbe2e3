//! Validation of authorization requests (RFC 6749 §4.1, OIDC Core §3.1.2).
//!
//! The order matters: until the client and its redirect URI are known good,
//! an error is shown on a page and never sent anywhere (RFC 6749 §4.1.2.1).

use serde::{Deserialize, Serialize};

use crate::clients::{Client, list, redirect_uri_matches};
use crate::pkce;

/// The request parameters, as received.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuthorizeParams {
    /// Must be `code`.
    pub response_type: Option<String>,
    /// The client.
    pub client_id: Option<String>,
    /// Must match a registered URI exactly.
    pub redirect_uri: Option<String>,
    /// Requested scopes.
    pub scope: Option<String>,
    /// Echoed back.
    pub state: Option<String>,
    /// Echoed in the ID token.
    pub nonce: Option<String>,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// PKCE method; only `S256`.
    pub code_challenge_method: Option<String>,
    /// `none`, `login`, `consent`, `select_account`.
    pub prompt: Option<String>,
    /// Maximum authentication age in seconds.
    pub max_age: Option<String>,
    /// Pre-fills the identifier.
    pub login_hint: Option<String>,
    /// Preferred UI languages.
    pub ui_locales: Option<String>,
    /// Requested authentication context classes.
    pub acr_values: Option<String>,
    /// Request objects are not supported.
    pub request: Option<String>,
    /// Request URIs are not supported.
    pub request_uri: Option<String>,
    /// Only `query` is supported.
    pub response_mode: Option<String>,
}

/// Why an authorization request failed.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or redirect URI cannot be trusted: show this on a page.
    NoRedirect(&'static str),
    /// Send the client this error at its (verified) redirect URI.
    Redirect {
        /// Where.
        redirect_uri: String,
        /// Echoed state.
        state: Option<String>,
        /// RFC 6749 error code.
        error: &'static str,
        /// Human description.
        description: String,
    },
}

/// The `acr` of a login with the password alone.
pub const ACR_PASSWORD: &str = "pwd";
/// The `acr` of a login with a password and a second factor.
pub const ACR_MFA: &str = "mfa";
/// The OpenID PAPE multi-factor policy, which some relying parties send as
/// `acr_values`; taken to mean [`ACR_MFA`].
pub const ACR_PAPE_MFA: &str = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";

/// The `acr` values this server can satisfy, as discovery lists them.
pub const ACR_VALUES: [&str; 3] = [ACR_PASSWORD, ACR_MFA, ACR_PAPE_MFA];

/// The `acr` a session with these `amr` values has reached.
pub fn acr_of(amr: &[String]) -> &'static str {
    if amr.iter().any(|a| a == "mfa") {
        ACR_MFA
    } else {
        ACR_PASSWORD
    }
}

/// A validated request, kept across the login and consent pages.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingAuthorization {
    /// The client.
    pub client_id: String,
    /// The verified redirect URI.
    pub redirect_uri: String,
    /// Granted-to-be scopes.
    pub scopes: Vec<String>,
    /// Echoed state.
    pub state: Option<String>,
    /// Echoed nonce.
    pub nonce: Option<String>,
    /// PKCE challenge (S256).
    pub code_challenge: String,
    /// `prompt` values.
    pub prompt: Vec<String>,
    /// `max_age`, seconds.
    pub max_age: Option<i64>,
    /// Login hint.
    pub login_hint: Option<String>,
    /// UI locales.
    pub ui_locales: Option<String>,
    /// Requested ACR values.
    pub acr_values: Vec<String>,
    /// Unix time the request arrived; a forced login must happen after it.
    pub created_at: i64,
    /// Sessions (by `sid`) that were live when a forced sign-in was asked
    /// for, and so cannot satisfy it (see [`crate::decision`]).
    #[serde(default)]
    pub spent_sids: Vec<String>,
    /// The session whose consent page this request is waiting on: only that
    /// session's answer counts.
    #[serde(default)]
    pub bound_sid: Option<String>,
}

impl PendingAuthorization {
    /// Whether the client asked for a second factor through `acr_values`.
    /// Every value listed is acceptable to the client (OIDC Core §3.1.2.1), so a
    /// second factor is needed only when the password alone is not among them.
    pub fn asks_for_mfa(&self) -> bool {
        let known: Vec<&String> = self
            .acr_values
            .iter()
            .filter(|v| ACR_VALUES.contains(&v.as_str()))
            .collect();
        // Values we do not know are preferences we cannot honour; they are
        // ignored rather than refused, as `acr_values` is a voluntary claim.
        !known.is_empty() && known.iter().all(|v| *v != ACR_PASSWORD)
    }
}

impl PendingAuthorization {
    /// Whether `prompt` holds a value.
    pub fn prompts(&self, value: &str) -> bool {
        self.prompt.iter().any(|p| p == value)
    }
}

const MAX_PARAM: usize = 2048;

/// Validates a request against its client (`None` when the client id is unknown).
pub fn validate(
    client: Option<&Client>,
    p: &AuthorizeParams,
    now: i64,
) -> Result<PendingAuthorization, AuthorizeError> {
    let Some(client) = client else {
        return Err(AuthorizeError::NoRedirect("unknown client_id"));
    };
    let registered = list(&client.redirect_uris);
    let redirect_uri = match p.redirect_uri.as_deref() {
        Some(u) if redirect_uri_matches(&registered, u) => u.to_owned(),
        Some(_) => {
            return Err(AuthorizeError::NoRedirect(
                "redirect_uri is not registered for this client",
            ));
        }
        None => return Err(AuthorizeError::NoRedirect("redirect_uri is required")),
    };
    let state = p.state.clone();
    let fail = |error: &'static str, description: &str| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error,
        description: description.to_owned(),
    };
    let too_long = [
        &p.state,
        &p.nonce,
        &p.scope,
        &p.login_hint,
        &p.ui_locales,
        &p.acr_values,
    ]
    .iter()
    .any(|v| v.as_ref().is_some_and(|s| s.len() > MAX_PARAM));
    if too_long {
        return Err(fail("invalid_request", "a parameter is too long"));
    }
    if p.request.is_some() {
        return Err(fail(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if p.request_uri.is_some() {
        return Err(fail(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    match p.response_type.as_deref() {
        Some("code") => {}
        None => return Err(fail("invalid_request", "response_type is required")),
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    if p.response_mode.as_deref().is_some_and(|m| m != "query") {
        return Err(fail(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    if !list(&client.grant_types)
        .iter()
        .any(|g| g == "authorization_code")
    {
        return Err(fail(
            "unauthorized_client",
            "this client may not use the authorization code flow",
        ));
    }
    match (
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
    ) {
        (Some(c), Some("S256")) if pkce::is_s256_challenge(c) => {}
        (None, _) => {
            return Err(fail(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            ));
        }
        (Some(_), Some("S256")) => {
            return Err(fail(
                "invalid_request",
                "code_challenge is not a valid S256 challenge",
            ));
        }
        (Some(_), _) => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
    }
    let allowed = list(&client.scopes);
    let mut scopes: Vec<String> = Vec::new();
    for s in p
        .scope
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        if !allowed.iter().any(|a| a == s) {
            return Err(fail(
                "invalid_scope",
                &format!("scope {s:?} is not allowed for this client"),
            ));
        }
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err(fail("invalid_scope", "at least one scope is required"));
    }
    let prompt: Vec<String> = p
        .prompt
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if prompt
        .iter()
        .any(|v| !matches!(v.as_str(), "none" | "login" | "consent" | "select_account"))
    {
        return Err(fail("invalid_request", "unknown prompt value"));
    }
    if prompt.iter().any(|v| v == "none") && prompt.len() > 1 {
        return Err(fail(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age =
        match p.max_age.as_deref() {
            None | Some("") => None,
            Some(m) => Some(m.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
                fail("invalid_request", "max_age must be a non-negative integer")
            })?),
        };
    Ok(PendingAuthorization {
        client_id: client.client_id.clone(),
        redirect_uri,
        scopes,
        state,
        nonce: p.nonce.clone(),
        code_challenge: p.code_challenge.clone().unwrap_or_default(),
        prompt,
        max_age,
        login_hint: p.login_hint.clone(),
        ui_locales: p.ui_locales.clone(),
        acr_values: p
            .acr_values
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        created_at: now,
        spent_sids: Vec::new(),
        bound_sid: None,
    })
}

/// The authorization code's payload, stored server-side under the code's hash.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CodeGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI it was sent to.
    pub redirect_uri: String,
    /// The account.
    pub account_id: i32,
    /// The local user who signed in, when not the holder.
    #[serde(default)]
    pub user_id: Option<i32>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Nonce to echo.
    pub nonce: Option<String>,
    /// PKCE challenge to check.
    pub code_challenge: String,
    /// Unix time of the authentication.
    pub auth_time: i64,
    /// Methods used.
    pub amr: Vec<String>,
    /// Context class reached.
    pub acr: String,
    /// Session id for the ID token.
    pub sid: String,
    /// Unix time the code was issued: a cut-off after it (password change,
    /// sign out everywhere) voids the code too.
    #[serde(default)]
    pub issued_at: i64,
}
