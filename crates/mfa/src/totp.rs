//! Codes from an authenticator app (RFC 6238: HMAC-SHA1, six digits, 30-second
//! steps), the parameters every app understands.

use rand::RngCore;
use rand::rngs::OsRng;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, Set};
use totp_rs::{Algorithm, Builder, Totp};

use crate::MfaError;
use crate::entity::method;
use crate::entity::method::MethodStatus;
use crate::service::{MethodKind, Mfa};
use crate::text::{check_identity, parse_label};

/// Seed length: 160 bits, as RFC 4226 recommends for HMAC-SHA1.
const SECRET_BYTES: usize = 20;
/// Steps accepted either side of now, for clock drift and typing time.
const SKEW_STEPS: u16 = 1;
/// Seconds per step.
const STEP_SECONDS: u64 = 30;

/// What an authenticator app needs to start producing codes. Shown once, at
/// enrolment; `Debug` hides the secret.
pub struct TotpEnrolment {
    /// The pending method, to confirm with a first code.
    pub method_id: String,
    /// The seed in base32, for typing into an app by hand.
    pub secret_base32: String,
    /// The `otpauth://totp/...` URI the QR code holds.
    pub otpauth_uri: String,
    /// A PNG of the QR code, base64 (no `data:` prefix).
    pub qr_png_base64: String,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolment")
            .field("method_id", &self.method_id)
            .finish_non_exhaustive()
    }
}

/// The sealing context of a method's seed: a seed moved to another row does
/// not open.
fn context(method_id: &str) -> String {
    format!("totp:{method_id}")
}

fn build(secret: Vec<u8>) -> Builder {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(SKEW_STEPS)
        .with_step_duration(STEP_SECONDS)
        .with_secret(secret)
}

fn internal(e: totp_rs::TotpError) -> MfaError {
    MfaError::Internal(format!("TOTP: {e}"))
}

/// Removes the spaces people type or paste inside codes ("123 456").
fn normalise_code(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Makes a name fit in an `otpauth` label: no colon (it separates issuer and
/// account), no control characters.
fn otpauth_name(name: &str) -> String {
    name.chars()
        .map(|c| if c == ':' { ' ' } else { c })
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned()
}

impl Mfa {
    fn open_totp(&self, row: &method::Model) -> Result<Totp, MfaError> {
        let sealed = row
            .secret
            .as_deref()
            .ok_or_else(|| MfaError::Internal("a TOTP method has no secret".into()))?;
        let secret = self.inner.sealer.open(&context(&row.id), sealed)?;
        build(secret).build().map_err(internal)
    }

    /// Starts enrolling an authenticator app: stores a pending method with a
    /// fresh 160-bit seed from the operating system and returns what the app
    /// needs. `account_name` is what the app shows under the issuer (a handle
    /// or an email address). An unfinished TOTP enrolment of the same
    /// identity is replaced.
    #[tracing::instrument(skip_all)]
    pub async fn totp_begin(
        &self,
        identity: &str,
        label: &str,
        account_name: &str,
    ) -> Result<TotpEnrolment, MfaError> {
        let identity = check_identity(identity)?;
        let label = parse_label(label)?;
        let mut account = otpauth_name(account_name);
        if account.is_empty() {
            account = otpauth_name(&label);
        }

        let mut secret = vec![0u8; SECRET_BYTES];
        OsRng.fill_bytes(&mut secret);
        let method_id = uuid::Uuid::new_v4().to_string();
        let sealed = self.inner.sealer.seal(&context(&method_id), &secret)?;

        let totp = build(secret)
            .with_issuer(Some(self.inner.cfg.issuer.as_str()))
            .with_account_name(account)
            .build()
            .map_err(internal)?;
        let otpauth_uri = totp.to_url().map_err(internal)?;
        let qr_png_base64 = totp.to_qr_base64().map_err(internal)?;
        let secret_base32 = totp.secret().to_base32();

        self.delete_pending(identity, MethodKind::Totp).await?;
        method::ActiveModel {
            id: Set(method_id.clone()),
            identity: Set(identity.to_owned()),
            kind: Set(MethodKind::Totp.as_str().to_owned()),
            label: Set(label),
            status: Set(MethodStatus::Pending),
            secret: Set(Some(sealed)),
            phone: Set(None),
            credential: Set(None),
            credential_id: Set(None),
            last_step: Set(None),
            created_at: Set(self.now()),
            last_used_at: Set(None),
        }
        .insert(self.db())
        .await?;

        Ok(TotpEnrolment {
            method_id,
            secret_base32,
            otpauth_uri,
            qr_png_base64,
        })
    }

    /// Activates a pending authenticator app on a correct code (one step of
    /// drift either way). The step of that code is recorded, so it cannot
    /// also serve for a login. `WrongCode` otherwise; `NotFound` when there
    /// is no such pending method.
    #[tracing::instrument(skip(self, code, now_unix))]
    pub async fn totp_confirm(
        &self,
        identity: &str,
        method_id: &str,
        code: &str,
        now_unix: u64,
    ) -> Result<(), MfaError> {
        let identity = check_identity(identity)?;
        let row = self
            .find_method(
                identity,
                method_id,
                MethodKind::Totp,
                Some(MethodStatus::Pending),
            )
            .await?;
        let totp = self.open_totp(&row)?;
        let step = totp
            .check(&normalise_code(code), now_unix)
            .ok_or(MfaError::WrongCode)?;
        let step = i64::try_from(step).map_err(|_| MfaError::WrongCode)?;
        if !self.activate(identity, method_id, Some(step)).await? {
            return Err(MfaError::NotFound);
        }
        tracing::info!("authenticator app confirmed");
        Ok(())
    }

    /// Checks a login code against every active authenticator app of the
    /// identity. Returns the method that accepted it. A code is accepted once:
    /// each method remembers its last accepted step and refuses that step and
    /// earlier ones, in one conditional UPDATE, so two parallel requests with
    /// the same code cannot both pass.
    #[tracing::instrument(skip(self, code, now_unix))]
    pub async fn totp_verify(
        &self,
        identity: &str,
        code: &str,
        now_unix: u64,
    ) -> Result<Option<String>, MfaError> {
        let identity = check_identity(identity)?;
        let code = normalise_code(code);
        for row in self
            .find_methods(identity, MethodKind::Totp, MethodStatus::Active)
            .await?
        {
            let totp = self.open_totp(&row)?;
            let Some(step) = totp.check(&code, now_unix) else {
                continue;
            };
            let Ok(step) = i64::try_from(step) else {
                continue;
            };
            let res = method::Entity::update_many()
                .col_expr(method::Column::LastStep, Expr::value(step))
                .col_expr(method::Column::LastUsedAt, Expr::value(Some(self.now())))
                .filter(method::Column::Id.eq(&row.id))
                .filter(method::Column::Status.eq(MethodStatus::Active))
                .filter(
                    Condition::any()
                        .add(method::Column::LastStep.is_null())
                        .add(method::Column::LastStep.lt(step)),
                )
                .exec(self.db())
                .await?;
            if res.rows_affected == 1 {
                return Ok(Some(row.id));
            }
            tracing::info!(method = %row.id, "authenticator code replayed; refused");
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otpauth_names_lose_colons_and_controls() {
        assert_eq!(otpauth_name("ab:cd\n"), "ab cd");
        assert_eq!(otpauth_name(" : "), "");
    }

    #[test]
    fn codes_lose_spaces() {
        assert_eq!(normalise_code(" 123 456\t"), "123456");
    }
}
