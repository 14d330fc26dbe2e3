//! The token endpoint's grants (`client_credentials`, `authorization_code`,
//! `refresh_token`): every check and every token issued. The adapter
//! authenticates the client, reads the form and writes the JSON answer.

use oauth::OAuthError;
use oauth::authorize::CodeGrant;
use oauth::clients::Client;
use oauth::id_token::{self, GuichetClaims, IdTokenRequest, Person};
use oauth::tokens::{self, AccessTokenRequest};
use oauth::{SigningAlg, pkce, refresh};
use openidconnect::core::{
    CoreGenderClaim, CoreIdTokenFields, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreTokenResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, EmptyExtraTokenFields, IdTokenFields, RefreshToken, Scope, StandardTokenResponse,
};
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::services::App;

/// The store key of a code: its SHA-256, so the store holds no usable code.
pub fn code_key(code: &str) -> String {
    format!("code:{}", hex::encode(Sha256::digest(code.as_bytes())))
}

/// The `client_credentials` grant: an access token for the client itself,
/// for the scopes it asks among those it is registered for.
pub async fn client_credentials(
    app: &App,
    client: &Client,
    scope: Option<&str>,
) -> Result<CoreTokenResponse, AppError> {
    tokens::check_grant(client, "client_credentials")?;
    let scopes = tokens::client_credentials_scopes(client, scope)?;
    let issued = tokens::issue_access_token(
        &app.oauth.keys,
        AccessTokenRequest {
            issuer: &app.oauth.issuer,
            audience: &app.oauth.audience,
            client,
            subject: &client.client_id,
            scopes,
            role: None,
        },
        app.clock.now(),
    )
    .await?;
    let mut body = CoreTokenResponse::new(
        AccessToken::new(issued.token),
        CoreTokenType::Bearer,
        CoreIdTokenFields::new(None, EmptyExtraTokenFields {}),
    );
    body.set_expires_in(Some(&std::time::Duration::from_secs(
        issued.expires_in.max(0) as u64,
    )));
    if !issued.scopes.is_empty() {
        body.set_scopes(Some(issued.scopes.into_iter().map(Scope::new).collect()));
    }
    Ok(body)
}

/// The token response of the code flow: with an ID token carrying Guichet's claims.
pub type CodeTokenResponse = StandardTokenResponse<
    IdTokenFields<
        GuichetClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

/// How long an ID token is valid.
const ID_TOKEN_TTL_SECS: i64 = 600;

/// The store key remembering a redeemed code and the token it produced, so a
/// replay can revoke it (RFC 9700 §4.2.4).
fn used_key(code_key: &str) -> String {
    format!("used:{code_key}")
}

/// What a code's key holds once it is redeemed.
const SPENT: &str = "spent";

/// The mark a replay leaves for a redemption still in flight.
fn replay_key(code_key: &str) -> String {
    format!("replayed:{code_key}")
}

/// A code came back after its first redemption: it leaked. Whatever that
/// redemption produced is revoked; if it is still issuing, the mark left
/// here makes it revoke its own tokens when it is done. The mark comes
/// before the look, and the redemption writes before it looks, so one of
/// the two always sees the other.
async fn replayed(app: &App, client: &Client, key: &str) -> Result<(), AppError> {
    app.store
        .set(&replay_key(key), "1", crate::revocation::kept_for())
        .await?;
    if let Some(used) = app.store.get(&used_key(key)).await? {
        let (jti, family) = used.split_once(' ').unwrap_or((used.as_str(), ""));
        crate::revocation::revoke_jti(&*app.store, jti, crate::revocation::kept_for()).await?;
        if !family.is_empty() {
            refresh::revoke_family(app.accounts.db(), family, app.clock.now())
                .await
                .map_err(AppError::from)?;
        }
    }
    tracing::warn!(client_id = %client.client_id, "authorization code replayed; its tokens are revoked");
    Ok(())
}

/// What a client presents to redeem a code.
pub struct CodeRedemption<'a> {
    /// The code.
    pub code: &'a str,
    /// The redirect URI the code was sent to.
    pub redirect_uri: &'a str,
    /// The PKCE verifier (empty when none was sent).
    pub code_verifier: &'a str,
}

/// The `authorization_code` grant: the code taken once (a replay revokes
/// what it produced), checked against the client, redirect URI and PKCE
/// verifier, the decision made again, then an access token, an ID token
/// when `openid` was granted, and a refresh token with `offline_access`.
pub async fn redeem_code(
    app: &App,
    client: &Client,
    req: CodeRedemption<'_>,
) -> Result<CodeTokenResponse, AppError> {
    let CodeRedemption {
        code,
        redirect_uri,
        code_verifier: verifier,
    } = req;
    let key = code_key(code);
    // Taking the code is one atomic step: of concurrent redemptions, one
    // wins, and the code's key then says "spent" for as long as the code
    // would have lived, so that a replay is known as one even while the
    // first redemption is still issuing.
    let json = match app.store.swap(&key, SPENT).await? {
        Some(json) if json != SPENT => json,
        spent => {
            if spent.is_some() || app.store.get(&used_key(&key)).await?.is_some() {
                replayed(app, client, &key).await?;
            }
            return Err(
                OAuthError::InvalidGrant("the code is invalid, expired or already used").into(),
            );
        }
    };
    let grant: CodeGrant = serde_json::from_str(&json)
        .map_err(|_| AppError::from(OAuthError::InvalidGrant("the code is invalid")))?;
    // The store's TTL lets go of the code in the end; the clock says when
    // it died, the same on every store.
    if app.clock.now_secs() > grant.issued_at + app.config.code_ttl.as_secs() as i64 {
        return Err(
            OAuthError::InvalidGrant("the code is invalid, expired or already used").into(),
        );
    }
    let bad = grant.client_id != client.client_id
        || grant.redirect_uri != redirect_uri
        || !pkce::verify(&grant.code_challenge, verifier);
    if bad {
        return Err(OAuthError::InvalidGrant(
            "the code was issued to another client or redirect URI, or the code_verifier does not match",
        )
        .into());
    }
    let who = principal(app, grant.account_id, grant.user_id)
        .await
        .map_err(|e| AppError::from(OAuthError::Internal(e.to_string())))?
        .ok_or_else(|| {
            AppError::from(OAuthError::InvalidGrant("the account is no longer active"))
        })?;
    // The decision again at redemption: the client's demand for a second
    // factor and the consent, and no cut-off (sign out everywhere, password
    // change) since the code was issued.
    crate::authz::later_grant(
        app,
        client,
        grant.account_id,
        grant.user_id,
        &grant.acr,
        &grant.scopes,
    )
    .await
    .map_err(|e| AppError::from(OAuthError::Internal(e.to_string())))?
    .map_err(|why| AppError::from(OAuthError::InvalidGrant(why)))?;
    let as_issued = serde_json::json!({
        "sub": who.person.subject,
        "client_id": grant.client_id,
        "iat": grant.issued_at,
    });
    if crate::revocation::is_revoked(&*app.store, &as_issued).await? {
        return Err(
            OAuthError::InvalidGrant("access was cut off since the code was issued").into(),
        );
    }
    let now = app.clock.now();
    let issued = tokens::issue_access_token(
        &app.oauth.keys,
        AccessTokenRequest {
            issuer: &app.oauth.issuer,
            audience: &app.oauth.audience,
            client,
            subject: &who.person.subject,
            scopes: grant.scopes.clone(),
            role: who.role_for(&grant.scopes),
        },
        now,
    )
    .await?;
    let offline = grant.scopes.iter().any(|s| s == "offline_access")
        && tokens::check_grant(client, "refresh_token").is_ok();
    let refresh_token = if offline {
        Some(
            refresh::issue(
                app.accounts.db(),
                client,
                refresh::Grant {
                    account_id: who.account.id,
                    user_id: who.user_id,
                    scopes: &grant.scopes,
                    auth_time: grant.auth_time,
                    amr: &grant.amr,
                    acr: &grant.acr,
                    sid: &grant.sid,
                },
                now,
            )
            .await?,
        )
    } else {
        None
    };
    let used = match &refresh_token {
        Some((_, row)) => format!("{} {}", issued.jti, row.family_id),
        None => issued.jti.clone(),
    };
    app.store
        .set(
            &used_key(&key),
            &used,
            std::time::Duration::from_secs(issued.expires_in.max(0) as u64 + 120),
        )
        .await?;
    // A replay that came while this redemption was issuing found nothing to
    // revoke yet and left its mark: what this redemption issued is revoked
    // now. It is still answered (one redemption of a code gets its 200),
    // but its tokens are dead on arrival.
    if app.store.get(&replay_key(&key)).await?.is_some() {
        replayed(app, client, &key).await?;
    }
    let id_token = user_id_token(
        app,
        client,
        &who.person,
        &grant.scopes,
        UserAuth {
            nonce: grant.nonce.as_deref(),
            auth_time: grant.auth_time,
            amr: &grant.amr,
            acr: &grant.acr,
            sid: &grant.sid,
        },
        &issued.token,
        now,
    )
    .await?;
    let scopes = issued.scopes.clone();
    let body = user_token_response(issued, id_token, scopes, refresh_token.map(|(t, _)| t));
    tracing::info!(client_id = %client.client_id, "authorization code redeemed");
    Ok(body)
}

/// What an account discloses, before scopes limit it.
pub fn person_of(a: &accounts::Account) -> Person {
    Person {
        subject: a.subject.clone(),
        given_name: Some(a.first_name.clone()),
        family_name: Some(a.last_name.clone()),
        locale: Some(a.language.clone()),
        email: a.primary_email.clone(),
        email_verified: Some(a.primary_email_verified),
        customer_handle: Some(a.handle.clone()),
        customer_code: Some(a.customer_code.clone()),
        role: Some(accounts::Role::Holder.as_str().to_owned()),
    }
}

/// What a local user discloses: their own subject and email, the account's
/// handle and code, their role. Never the holder's names.
pub fn person_of_user(
    a: &accounts::Account,
    u: &accounts::LocalUser,
    role: accounts::Role,
) -> Person {
    Person {
        subject: u.subject.clone(),
        given_name: None,
        family_name: None,
        locale: Some(a.language.clone()),
        email: Some(u.email.clone()),
        email_verified: Some(false),
        customer_handle: Some(a.handle.clone()),
        customer_code: Some(a.customer_code.clone()),
        role: Some(role.as_str().to_owned()),
    }
}

/// Whom a user grant is for: the account's holder or one of its local users.
pub struct Principal {
    /// The account.
    pub account: accounts::Account,
    /// The local user, when not the holder.
    pub user_id: Option<i32>,
    /// What they disclose, before scopes limit it.
    pub person: Person,
}

impl Principal {
    /// The `role` claim of an access token: with the `customer` scope only.
    pub fn role_for(&self, scopes: &[String]) -> Option<&str> {
        if scopes.iter().any(|s| s == "customer") {
            self.person.role.as_deref()
        } else {
            None
        }
    }
}

/// The active holder or local user a grant names; `None` when the account
/// or the user is gone, disabled or erased.
pub async fn principal(
    app: &App,
    account_id: i32,
    user_id: Option<i32>,
) -> Result<Option<Principal>, accounts::AccountError> {
    let Some(account) = app
        .accounts
        .find_by_id(account_id)
        .await?
        .filter(|a| a.status == accounts::AccountStatus::Active)
    else {
        return Ok(None);
    };
    let person = match user_id {
        None => person_of(&account),
        Some(uid) => {
            let Some(u) = app
                .accounts
                .find_user(account.id, uid)
                .await?
                .filter(|u| u.status == accounts::UserStatus::Active)
            else {
                return Ok(None);
            };
            let role = app.accounts.user_role(&u).await?;
            person_of_user(&account, &u, role)
        }
    };
    Ok(Some(Principal {
        account,
        user_id,
        person,
    }))
}

/// The `refresh_token` grant: rotate, then issue a new access token (and an ID
/// token when `openid` was granted) for the same or fewer scopes.
pub async fn refresh(
    app: &App,
    client: &Client,
    presented: &str,
    scope: Option<&str>,
) -> Result<CodeTokenResponse, AppError> {
    let now = app.clock.now();
    // Check the narrowed scopes before rotating, so a bad request burns nothing.
    if let Some(asked) = scope
        && let Some(live) = refresh::find_live(app.accounts.db(), presented, now).await?
    {
        let granted: Vec<String> = serde_json::from_str(&live.scopes).unwrap_or_default();
        if let Some(s) = asked
            .split(' ')
            .find(|s| !s.is_empty() && !granted.iter().any(|g| g == s))
        {
            return Err(OAuthError::InvalidScope(s.to_owned()).into());
        }
    }
    // The decision again, as at the first grant: the person still active,
    // the client's demand for a second factor, the consent still on record.
    // Refused before rotating, so the token is not spent.
    if let Some(live) = refresh::find_live(app.accounts.db(), presented, now).await?
        && live.client_id == client.client_id
    {
        let user_id = (live.user_id != 0).then_some(live.user_id);
        let scopes: Vec<String> = serde_json::from_str(&live.scopes).unwrap_or_default();
        crate::authz::later_grant(app, client, live.account_id, user_id, &live.acr, &scopes)
            .await
            .map_err(|e| AppError::from(OAuthError::Internal(e.to_string())))?
            .map_err(|why| AppError::from(OAuthError::InvalidGrant(why)))?;
    }
    let (new_token, row) = refresh::rotate(app.accounts.db(), client, presented, now).await?;
    let granted: Vec<String> = serde_json::from_str(&row.scopes).unwrap_or_default();
    let scopes: Vec<String> = match scope.map(str::trim).filter(|s| !s.is_empty()) {
        Some(asked) => asked
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => granted.clone(),
    };
    let user_id = (row.user_id != 0).then_some(row.user_id);
    let who = principal(app, row.account_id, user_id)
        .await
        .map_err(|e| AppError::from(OAuthError::Internal(e.to_string())))?
        .ok_or_else(|| {
            AppError::from(OAuthError::InvalidGrant("the account is no longer active"))
        })?;
    let issued = tokens::issue_access_token(
        &app.oauth.keys,
        AccessTokenRequest {
            issuer: &app.oauth.issuer,
            audience: &app.oauth.audience,
            client,
            subject: &who.person.subject,
            scopes: scopes.clone(),
            role: who.role_for(&scopes),
        },
        now,
    )
    .await?;
    let amr: Vec<String> = serde_json::from_str(&row.amr).unwrap_or_default();
    let id_token = user_id_token(
        app,
        client,
        &who.person,
        &scopes,
        UserAuth {
            nonce: None,
            auth_time: row.auth_time,
            amr: &amr,
            acr: &row.acr,
            sid: &row.sid,
        },
        &issued.token,
        now,
    )
    .await?;
    Ok(user_token_response(
        issued,
        id_token,
        scopes,
        Some(new_token),
    ))
}

/// How the user authenticated, for the ID token.
struct UserAuth<'a> {
    nonce: Option<&'a str>,
    auth_time: i64,
    amr: &'a [String],
    acr: &'a str,
    sid: &'a str,
}

/// The ID token for a user grant, when `openid` is among the scopes.
#[allow(clippy::too_many_arguments)]
async fn user_id_token(
    app: &App,
    client: &Client,
    person: &Person,
    scopes: &[String],
    auth: UserAuth<'_>,
    access_token: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<oauth::id_token::GuichetIdToken>, OAuthError> {
    if !scopes.iter().any(|s| s == "openid") {
        return Ok(None);
    }
    let person = person.limited_to(scopes);
    let alg = SigningAlg::parse(&client.id_token_alg).unwrap_or(SigningAlg::Rs256);
    let token = id_token::issue(
        &app.oauth.keys,
        IdTokenRequest {
            issuer: &app.oauth.issuer,
            client_id: &client.client_id,
            alg,
            person: &person,
            nonce: auth.nonce,
            auth_time: auth.auth_time,
            amr: auth.amr,
            acr: auth.acr,
            sid: auth.sid,
            lifetime: chrono::Duration::seconds(ID_TOKEN_TTL_SECS),
            access_token: Some(access_token),
        },
        now,
    )
    .await?;
    Ok(Some(token))
}

/// The token response of a user grant.
fn user_token_response(
    issued: tokens::IssuedAccessToken,
    id_token: Option<oauth::id_token::GuichetIdToken>,
    scopes: Vec<String>,
    refresh_token: Option<String>,
) -> CodeTokenResponse {
    let mut body = CodeTokenResponse::new(
        AccessToken::new(issued.token),
        CoreTokenType::Bearer,
        IdTokenFields::new(id_token, EmptyExtraTokenFields {}),
    );
    body.set_expires_in(Some(&std::time::Duration::from_secs(
        issued.expires_in.max(0) as u64,
    )));
    body.set_scopes(Some(scopes.into_iter().map(Scope::new).collect()));
    body.set_refresh_token(refresh_token.map(RefreshToken::new));
    body
}
