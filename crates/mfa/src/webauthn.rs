//! Security keys (WebAuthn, and U2F keys through it), with webauthn-rs's
//! security-key ceremony: a second factor next to a password, not a passkey.
//!
//! Ceremony state lives in the short-lived store under a random 128-bit
//! ceremony id, bound to the identity that started it, and is taken (single
//! use) when the ceremony finishes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, Set, SqlErr};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    PublicKeyCredential, RegisterPublicKeyCredential, SecurityKey, SecurityKeyAuthentication,
    SecurityKeyRegistration, Uuid, Webauthn, WebauthnError,
};

use crate::MfaError;
use crate::entity::method;
use crate::entity::method::MethodStatus;
use crate::service::{MethodKind, Mfa};
use crate::text::{check_identity, identity_tag, parse_label};

/// What is stored for a ceremony: the identity it belongs to and
/// webauthn-rs's state (challenge, allowed credentials).
#[derive(Serialize, Deserialize)]
struct Ceremony<S> {
    identity: String,
    state: S,
}

const REGISTER: &str = "register";
const LOGIN: &str = "login";

/// The store key of a ceremony. The identity's tag is part of the key, so a
/// ceremony id presented with another identity finds nothing and does not
/// spend the real owner's ceremony.
fn ceremony_key(purpose: &str, ceremony_id: &str, identity: &str) -> String {
    format!(
        "webauthn:{purpose}:{ceremony_id}:{}",
        identity_tag(identity)
    )
}

/// The WebAuthn user handle of an identity: a UUID (version 8) made from a
/// hash of the relying-party id and the identity. Stable, so a key sees the
/// same user at every registration, and opaque, so the authenticator does not
/// store the identity itself.
pub(crate) fn user_handle(rp_id: &str, identity: &str) -> Uuid {
    let mut h = Sha256::new();
    h.update(b"guichet/mfa/webauthn-user\0");
    h.update(rp_id.as_bytes());
    h.update(b"\0");
    h.update(identity.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn unavailable() -> MfaError {
    MfaError::WebAuthn("Security keys cannot be used on this site.".into())
}

fn malformed() -> MfaError {
    MfaError::WebAuthn("The answer from the security key is malformed.".into())
}

fn internal(e: impl std::fmt::Display) -> MfaError {
    MfaError::Internal(e.to_string())
}

/// A credential id as stored: base64url without padding.
fn encode_cred_id(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

fn parse_key(row: &method::Model) -> Result<SecurityKey, MfaError> {
    let json = row
        .credential
        .as_deref()
        .ok_or_else(|| internal("a security-key method has no credential"))?;
    serde_json::from_str(json).map_err(internal)
}

impl Mfa {
    fn webauthn(&self) -> Result<&Webauthn, MfaError> {
        self.inner.webauthn.as_ref().ok_or_else(unavailable)
    }

    async fn put_ceremony<S: Serialize>(
        &self,
        purpose: &str,
        identity: &str,
        state: S,
    ) -> Result<String, MfaError> {
        let mut id = [0u8; 16];
        OsRng.fill_bytes(&mut id);
        let ceremony_id = hex::encode(id);
        let value = serde_json::to_string(&Ceremony {
            identity: identity.to_owned(),
            state,
        })
        .map_err(internal)?;
        self.inner
            .ephemeral
            .put(
                &ceremony_key(purpose, &ceremony_id, identity),
                &value,
                self.inner.cfg.challenge_ttl,
            )
            .await?;
        Ok(ceremony_id)
    }

    async fn take_ceremony<S: DeserializeOwned>(
        &self,
        purpose: &str,
        identity: &str,
        ceremony_id: &str,
    ) -> Result<S, MfaError> {
        // Only ids this service could have made reach the store.
        if ceremony_id.len() != 32 || !ceremony_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(MfaError::ChallengeExpired);
        }
        let key = ceremony_key(purpose, &ceremony_id.to_ascii_lowercase(), identity);
        let value = self
            .inner
            .ephemeral
            .take(&key)
            .await?
            .ok_or(MfaError::ChallengeExpired)?;
        let ceremony: Ceremony<S> = serde_json::from_str(&value).map_err(internal)?;
        if ceremony.identity != identity {
            return Err(MfaError::ChallengeExpired);
        }
        Ok(ceremony.state)
    }

    /// Starts registering a security key. Returns the ceremony id and the
    /// `CreationChallengeResponse` for `navigator.credentials.create()`. Keys
    /// the identity already registered are excluded, so the browser says so
    /// instead of registering one twice.
    #[tracing::instrument(skip(self, user_name, display_name))]
    pub async fn webauthn_register_begin(
        &self,
        identity: &str,
        user_name: &str,
        display_name: &str,
    ) -> Result<(String, serde_json::Value), MfaError> {
        let identity = check_identity(identity)?;
        let webauthn = self.webauthn()?;
        let user_name = match user_name.trim() {
            "" => identity,
            name => name,
        };
        let display_name = match display_name.trim() {
            "" => user_name,
            name => name,
        };
        let exclude: Vec<_> = self
            .find_methods(identity, MethodKind::WebAuthn, MethodStatus::Active)
            .await?
            .iter()
            .map(|row| parse_key(row).map(|k| k.cred_id().clone()))
            .collect::<Result<_, _>>()?;
        let (mut challenge, state) = webauthn
            .start_securitykey_registration(
                user_handle(&self.inner.cfg.rp_id, identity),
                user_name,
                display_name,
                (!exclude.is_empty()).then_some(exclude),
                None,
                None,
            )
            .map_err(|e| internal(format!("WebAuthn registration could not start: {e}")))?;
        // webauthn-rs asks for credProtect "user verification required" while
        // leaving user verification "preferred"; Chromium refuses that pair
        // outright ("protection policy is inconsistent", kanidm/webauthn-rs
        // #490), so no key could register there. Our keys are not
        // discoverable, which is what credProtect guards, and the finish step
        // accepts a response without the extension (it is then "ignored").
        if let Some(ext) = challenge.public_key.extensions.as_mut() {
            ext.cred_protect = None;
        }
        let ceremony_id = self.put_ceremony(REGISTER, identity, state).await?;
        let challenge = serde_json::to_value(challenge).map_err(internal)?;
        Ok((ceremony_id, challenge))
    }

    /// Finishes registering a security key with the browser's
    /// `RegisterPublicKeyCredential`. The key is active at once: the ceremony
    /// proved possession. A key already registered (to anyone) is refused.
    #[tracing::instrument(skip(self, ceremony_id, response))]
    pub async fn webauthn_register_finish(
        &self,
        identity: &str,
        ceremony_id: &str,
        label: &str,
        response: &serde_json::Value,
    ) -> Result<String, MfaError> {
        let identity = check_identity(identity)?;
        // Checked before the ceremony is spent, so a bad label can be fixed
        // and the same answer sent again.
        let label = parse_label(label)?;
        let webauthn = self.webauthn()?;
        let state: SecurityKeyRegistration =
            self.take_ceremony(REGISTER, identity, ceremony_id).await?;
        let response: RegisterPublicKeyCredential =
            serde_json::from_value(response.clone()).map_err(|_| malformed())?;
        let key = webauthn
            .finish_securitykey_registration(&response, &state)
            .map_err(|e| {
                tracing::info!(error = %e, "security key registration refused");
                MfaError::WebAuthn("The security key could not be registered.".into())
            })?;
        let cred_id = encode_cred_id(key.cred_id());
        let taken = || MfaError::WebAuthn("This security key is already registered.".into());
        let exists = method::Entity::find()
            .filter(method::Column::CredentialId.eq(&cred_id))
            .one(self.db())
            .await?
            .is_some();
        if exists {
            return Err(taken());
        }
        let method_id = uuid::Uuid::new_v4().to_string();
        let inserted = method::ActiveModel {
            id: Set(method_id.clone()),
            identity: Set(identity.to_owned()),
            kind: Set(MethodKind::WebAuthn.as_str().to_owned()),
            label: Set(label),
            status: Set(MethodStatus::Active),
            secret: Set(None),
            phone: Set(None),
            credential: Set(Some(serde_json::to_string(&key).map_err(internal)?)),
            credential_id: Set(Some(cred_id)),
            last_step: Set(None),
            created_at: Set(self.now()),
            last_used_at: Set(None),
        }
        .insert(self.db())
        .await;
        match inserted {
            Ok(_) => {}
            // A parallel registration of the same key won the unique index.
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                return Err(taken());
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(method = %method_id, "security key registered");
        Ok(method_id)
    }

    /// Starts a login with a security key. Returns the ceremony id and the
    /// `RequestChallengeResponse` for `navigator.credentials.get()`.
    /// `NotFound` when the identity has no key.
    #[tracing::instrument(skip(self))]
    pub async fn webauthn_login_begin(
        &self,
        identity: &str,
    ) -> Result<(String, serde_json::Value), MfaError> {
        let identity = check_identity(identity)?;
        let webauthn = self.webauthn()?;
        let keys: Vec<SecurityKey> = self
            .find_methods(identity, MethodKind::WebAuthn, MethodStatus::Active)
            .await?
            .iter()
            .map(parse_key)
            .collect::<Result<_, _>>()?;
        if keys.is_empty() {
            return Err(MfaError::NotFound);
        }
        let (challenge, state) = webauthn
            .start_securitykey_authentication(&keys)
            .map_err(|e| internal(format!("WebAuthn authentication could not start: {e}")))?;
        let ceremony_id = self.put_ceremony(LOGIN, identity, state).await?;
        let challenge = serde_json::to_value(challenge).map_err(internal)?;
        Ok((ceremony_id, challenge))
    }

    /// Finishes a login with the browser's `PublicKeyCredential`. Returns the
    /// method that signed. The key's signature counter must grow: one that
    /// goes backwards (or stalls above zero) suggests a cloned key, is logged
    /// as a warning and refused with `CounterRegression`. The new counter is
    /// stored by a conditional UPDATE, so two parallel logins cannot both
    /// claim one counter value.
    #[tracing::instrument(skip(self, ceremony_id, response))]
    pub async fn webauthn_login_finish(
        &self,
        identity: &str,
        ceremony_id: &str,
        response: &serde_json::Value,
    ) -> Result<String, MfaError> {
        let identity = check_identity(identity)?;
        let webauthn = self.webauthn()?;
        let state: SecurityKeyAuthentication =
            self.take_ceremony(LOGIN, identity, ceremony_id).await?;
        let response: PublicKeyCredential =
            serde_json::from_value(response.clone()).map_err(|_| malformed())?;
        let row = method::Entity::find()
            .filter(method::Column::Identity.eq(identity))
            .filter(method::Column::Kind.eq(MethodKind::WebAuthn.as_str()))
            .filter(method::Column::Status.eq(MethodStatus::Active))
            .filter(method::Column::CredentialId.eq(encode_cred_id(&response.raw_id)))
            .one(self.db())
            .await?
            .ok_or(MfaError::NotFound)?;

        let result = match webauthn.finish_securitykey_authentication(&response, &state) {
            Ok(result) => result,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                return Err(counter_regression(&row.id));
            }
            Err(e) => {
                tracing::info!(method = %row.id, error = %e, "security key answer refused");
                return Err(MfaError::WebAuthn(
                    "The security key's answer could not be verified.".into(),
                ));
            }
        };

        let mut key = parse_key(&row)?;
        key.update_credential(&result);
        let credential = serde_json::to_string(&key).map_err(internal)?;
        let counter = i64::from(result.counter());
        let mut update = method::Entity::update_many()
            .col_expr(method::Column::Credential, Expr::value(Some(credential)))
            .col_expr(method::Column::LastUsedAt, Expr::value(Some(self.now())))
            .filter(method::Column::Id.eq(&row.id))
            .filter(method::Column::Status.eq(MethodStatus::Active));
        // Keys without a counter always say zero; there is nothing to compare.
        let counted = counter > 0 || row.last_step.unwrap_or(0) > 0;
        if counted {
            update = update
                .col_expr(method::Column::LastStep, Expr::value(counter))
                .filter(
                    Condition::any()
                        .add(method::Column::LastStep.is_null())
                        .add(method::Column::LastStep.lt(counter)),
                );
        }
        if update.exec(self.db()).await?.rows_affected != 1 {
            // Either a parallel login stored this counter value or a higher
            // one first, or the key was removed meanwhile.
            return Err(if counted {
                counter_regression(&row.id)
            } else {
                MfaError::NotFound
            });
        }
        Ok(row.id)
    }
}

fn counter_regression(method_id: &str) -> MfaError {
    tracing::warn!(
        method = %method_id,
        "security key signature counter did not grow; the key may be cloned; login refused"
    );
    MfaError::CounterRegression
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_handles_are_stable_and_distinct() {
        let a = user_handle("id.example.com", "account:1");
        assert_eq!(a, user_handle("id.example.com", "account:1"));
        assert_ne!(a, user_handle("id.example.com", "account:2"));
        assert_ne!(a, user_handle("example.com", "account:1"));
        assert_eq!(a.get_version_num(), 8);
    }
}
