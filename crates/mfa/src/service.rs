//! The `Mfa` service: its configuration, the ports it needs, and the queries
//! shared by every kind of method.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde::{Deserialize, Serialize};

use webauthn_rs::prelude::{Webauthn, WebauthnBuilder};

use crate::MfaError;
use crate::entity::method::MethodStatus;
use crate::entity::{method, recovery_code};
use crate::ephemeral::Ephemeral;
use crate::phone::PhoneNumber;
use crate::text::{check_identity, parse_label};
use crate::transport::SmsTransport;

pub use clock::Clock;

/// What the server tells the service about itself.
#[derive(Clone, Debug)]
pub struct MfaConfig {
    /// Shown in authenticator apps and SMS, e.g. "Guichet". No colon.
    pub issuer: String,
    /// WebAuthn relying-party id: the host of the public URL, or a parent domain.
    pub rp_id: String,
    /// The public URL's origin, e.g. `https://id.example.com`.
    pub rp_origin: url::Url,
    /// The relying-party name security keys may show.
    pub rp_name: String,
    /// How long an SMS code works (5 minutes).
    pub sms_code_ttl: Duration,
    /// How many SMS one method may receive per [`SMS_SEND_WINDOW`] (e.g. 3);
    /// also how many SMS enrolments one identity may start in that window.
    pub sms_sends_per_window: u32,
    /// How long a security-key ceremony may take (5 minutes).
    pub challenge_ttl: Duration,
}

/// The window the SMS send limit counts in. Fixed rather than configured: it
/// only has to be long compared with a code's lifetime.
pub const SMS_SEND_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Encrypts secrets at rest (TOTP seeds). The server implements it over its
/// AES-GCM key; `context` is bound as associated data (`totp:<method id>`), so
/// a sealed value copied onto another row does not open.
pub trait Sealer: Send + Sync + 'static {
    /// Encrypts `plaintext` and returns a printable string.
    fn seal(&self, context: &str, plaintext: &[u8]) -> Result<String, MfaError>;
    /// Decrypts what [`Sealer::seal`] returned under the same context.
    fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, MfaError>;
}

/// The kinds of second factor. Serialised as [`MethodKind::as_str`] gives
/// (`"totp"`, `"webauthn"`, `"sms"`), the same words as in the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MethodKind {
    /// Six-digit codes from an authenticator app (RFC 6238).
    Totp,
    /// A security key (WebAuthn / U2F).
    WebAuthn,
    /// Six-digit codes sent by text message.
    Sms,
}

impl MethodKind {
    /// The RFC 8176 `amr` value a login with this method earns.
    pub fn amr(self) -> &'static str {
        match self {
            Self::Totp => "otp",
            Self::WebAuthn => "hwk",
            Self::Sms => "sms",
        }
    }

    /// The value stored in `mfa_methods.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::WebAuthn => "webauthn",
            Self::Sms => "sms",
        }
    }

    /// Reads a stored kind.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "totp" => Some(Self::Totp),
            "webauthn" => Some(Self::WebAuthn),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }
}

/// An active method, as the holder's security page lists it. Carries no secret.
#[derive(Clone, Debug, Serialize)]
pub struct MethodInfo {
    /// The method id, for rename and remove.
    pub id: String,
    /// What it is.
    pub kind: MethodKind,
    /// The holder's name for it.
    pub label: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it last proved a login.
    pub last_used_at: Option<DateTime<Utc>>,
    /// For SMS, the number with its middle hidden: `+44 ••• ••• 1234`.
    pub phone_hint: Option<String>,
}

pub(crate) struct Inner {
    pub(crate) db: DatabaseConnection,
    pub(crate) cfg: MfaConfig,
    pub(crate) sealer: Arc<dyn Sealer>,
    pub(crate) ephemeral: Arc<dyn Ephemeral>,
    pub(crate) sms: Arc<dyn SmsTransport>,
    /// `None` when the public URL's host is an IP address: WebAuthn needs a
    /// domain name, and the other methods must keep working without one.
    pub(crate) webauthn: Option<webauthn_rs::Webauthn>,
}

/// The second-factor service: everything the server asks of second factors.
/// Cheap to clone.
#[derive(Clone)]
pub struct Mfa {
    pub(crate) inner: Arc<Inner>,
    pub(crate) clock: Clock,
}

impl std::fmt::Debug for Mfa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mfa")
            .field("issuer", &self.inner.cfg.issuer)
            .field("rp_id", &self.inner.cfg.rp_id)
            .finish_non_exhaustive()
    }
}

impl Mfa {
    /// Builds the service. Fails on an unusable configuration: an issuer that
    /// is empty or holds a colon, or an `rp_id` that is not the origin's host
    /// or a parent domain of it. An origin whose host is an IP address is
    /// accepted, with security keys unavailable (browsers refuse WebAuthn
    /// there too).
    pub fn new(
        db: DatabaseConnection,
        cfg: MfaConfig,
        sealer: Arc<dyn Sealer>,
        ephemeral: Arc<dyn Ephemeral>,
        sms: Arc<dyn SmsTransport>,
    ) -> Result<Self, MfaError> {
        let issuer = cfg.issuer.trim();
        if issuer.is_empty() || issuer.contains(':') || issuer != cfg.issuer {
            return Err(MfaError::InvalidConfig(
                "the issuer must be non-empty, without a colon or surrounding spaces".into(),
            ));
        }
        if cfg.sms_sends_per_window == 0 {
            return Err(MfaError::InvalidConfig(
                "sms_sends_per_window must be at least 1".into(),
            ));
        }
        let webauthn = build_webauthn(&cfg)?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                cfg,
                sealer,
                ephemeral,
                sms,
                webauthn,
            }),
            clock: Clock::system(),
        })
    }

    /// Replaces the clock (for tests that move time forward).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The clock the service reads: callers that pass the time in (TOTP
    /// checks) take it from here, so that both agree.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// The active methods of an identity, oldest first.
    pub async fn methods(&self, identity: &str) -> Result<Vec<MethodInfo>, MfaError> {
        let identity = check_identity(identity)?;
        let rows = method::Entity::find()
            .filter(method::Column::Identity.eq(identity))
            .filter(method::Column::Status.eq(MethodStatus::Active))
            .order_by_asc(method::Column::CreatedAt)
            .order_by_asc(method::Column::Id)
            .all(self.db())
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                // A kind this version does not know is skipped rather than
                // failing the whole page.
                let kind = MethodKind::parse(&row.kind)?;
                let phone_hint = row
                    .phone
                    .as_deref()
                    .and_then(PhoneNumber::from_stored)
                    .map(|p| p.hint());
                Some(MethodInfo {
                    id: row.id,
                    kind,
                    label: row.label,
                    created_at: row.created_at,
                    last_used_at: row.last_used_at,
                    phone_hint,
                })
            })
            .collect())
    }

    /// Whether the identity has at least one active method, i.e. whether
    /// login must ask for a second factor.
    pub async fn is_enabled(&self, identity: &str) -> Result<bool, MfaError> {
        let identity = check_identity(identity)?;
        Ok(count_active(self.db(), identity).await? > 0)
    }

    /// Renames a method (active or pending).
    pub async fn rename(
        &self,
        identity: &str,
        method_id: &str,
        label: &str,
    ) -> Result<(), MfaError> {
        let identity = check_identity(identity)?;
        let label = parse_label(label)?;
        let res = method::Entity::update_many()
            .col_expr(method::Column::Label, Expr::value(label))
            .filter(method::Column::Id.eq(method_id))
            .filter(method::Column::Identity.eq(identity))
            .exec(self.db())
            .await?;
        if res.rows_affected == 0 {
            return Err(MfaError::NotFound);
        }
        Ok(())
    }

    /// Removes a method. Removing the last active method also deletes the
    /// emergency codes: two-factor login is then off, and codes left behind
    /// would silently come back to life the day a new method is added.
    pub async fn remove(&self, identity: &str, method_id: &str) -> Result<(), MfaError> {
        let identity = check_identity(identity)?;
        let res = method::Entity::delete_many()
            .filter(method::Column::Id.eq(method_id))
            .filter(method::Column::Identity.eq(identity))
            .exec(self.db())
            .await?;
        if res.rows_affected == 0 {
            return Err(MfaError::NotFound);
        }
        // Counted after the delete is committed, not inside one transaction:
        // two parallel removals of the last two methods would each still see
        // the other's method under read-committed isolation, and both keep
        // the codes. Counting afterwards, the later of the two sees none.
        if count_active(self.db(), identity).await? == 0 {
            delete_recovery_codes(self.db(), identity).await?;
        }
        tracing::info!(method = %method_id, "second-factor method removed");
        Ok(())
    }

    /// Turns two-factor login off: every method, pending ones too, and every
    /// emergency code.
    pub async fn disable(&self, identity: &str) -> Result<(), MfaError> {
        let identity = check_identity(identity)?;
        let txn = dbtx::write(self.db()).await?;
        method::Entity::delete_many()
            .filter(method::Column::Identity.eq(identity))
            .exec(&txn)
            .await?;
        delete_recovery_codes(&txn, identity).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Finds one method of an identity by id, kind and status.
    pub(crate) async fn find_method(
        &self,
        identity: &str,
        method_id: &str,
        kind: MethodKind,
        status: Option<MethodStatus>,
    ) -> Result<method::Model, MfaError> {
        let mut q = method::Entity::find()
            .filter(method::Column::Id.eq(method_id))
            .filter(method::Column::Identity.eq(identity))
            .filter(method::Column::Kind.eq(kind.as_str()));
        if let Some(status) = status {
            q = q.filter(method::Column::Status.eq(status));
        }
        q.one(self.db()).await?.ok_or(MfaError::NotFound)
    }

    /// Every method of a kind and status, oldest first.
    pub(crate) async fn find_methods(
        &self,
        identity: &str,
        kind: MethodKind,
        status: MethodStatus,
    ) -> Result<Vec<method::Model>, MfaError> {
        Ok(method::Entity::find()
            .filter(method::Column::Identity.eq(identity))
            .filter(method::Column::Kind.eq(kind.as_str()))
            .filter(method::Column::Status.eq(status))
            .order_by_asc(method::Column::CreatedAt)
            .order_by_asc(method::Column::Id)
            .all(self.db())
            .await?)
    }

    /// Deletes the unfinished enrolments of one kind, so that abandoned
    /// attempts do not pile up: starting again replaces them.
    pub(crate) async fn delete_pending(
        &self,
        identity: &str,
        kind: MethodKind,
    ) -> Result<(), MfaError> {
        method::Entity::delete_many()
            .filter(method::Column::Identity.eq(identity))
            .filter(method::Column::Kind.eq(kind.as_str()))
            .filter(method::Column::Status.eq(MethodStatus::Pending))
            .exec(self.db())
            .await?;
        Ok(())
    }

    /// Turns a pending method active. Returns false when it was not pending
    /// (already confirmed by a parallel request, or removed).
    pub(crate) async fn activate(
        &self,
        identity: &str,
        method_id: &str,
        last_step: Option<i64>,
    ) -> Result<bool, MfaError> {
        let mut q = method::Entity::update_many()
            .col_expr(method::Column::Status, Expr::value(MethodStatus::Active));
        if let Some(step) = last_step {
            q = q.col_expr(method::Column::LastStep, Expr::value(step));
        }
        let res = q
            .filter(method::Column::Id.eq(method_id))
            .filter(method::Column::Identity.eq(identity))
            .filter(method::Column::Status.eq(MethodStatus::Pending))
            .exec(self.db())
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Records a successful login with a method.
    pub(crate) async fn touch(&self, method_id: &str) -> Result<(), MfaError> {
        method::Entity::update_many()
            .col_expr(method::Column::LastUsedAt, Expr::value(Some(self.now())))
            .filter(method::Column::Id.eq(method_id))
            .exec(self.db())
            .await?;
        Ok(())
    }
}

async fn count_active(db: &impl ConnectionTrait, identity: &str) -> Result<u64, MfaError> {
    Ok(method::Entity::find()
        .filter(method::Column::Identity.eq(identity))
        .filter(method::Column::Status.eq(MethodStatus::Active))
        .count(db)
        .await?)
}

pub(crate) async fn delete_recovery_codes(
    db: &impl ConnectionTrait,
    identity: &str,
) -> Result<(), MfaError> {
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::Identity.eq(identity))
        .exec(db)
        .await?;
    Ok(())
}

/// Builds the relying party, or `None` when the public URL's host is an IP
/// address: WebAuthn requires a domain name (browsers refuse IP addresses as
/// relying-party ids), and the other methods must work on such a host too.
fn build_webauthn(cfg: &MfaConfig) -> Result<Option<Webauthn>, MfaError> {
    if cfg.rp_origin.domain().is_none() {
        tracing::warn!(
            origin = %cfg.rp_origin,
            "the public URL has no domain name; security keys are unavailable"
        );
        return Ok(None);
    }
    let webauthn = WebauthnBuilder::new(&cfg.rp_id, &cfg.rp_origin)
        .map_err(|_| {
            MfaError::InvalidConfig(
                "rp_id must be the host of rp_origin or one of its parent domains".into(),
            )
        })?
        .rp_name(&cfg.rp_name)
        .timeout(cfg.challenge_ttl)
        .build()
        .map_err(|e| MfaError::InvalidConfig(format!("WebAuthn: {e}")))?;
    Ok(Some(webauthn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialise_as_stored() {
        for kind in [MethodKind::Totp, MethodKind::WebAuthn, MethodKind::Sms] {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.as_str());
            assert_eq!(MethodKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::from_value::<MethodKind>(json).unwrap(), kind);
        }
        assert_eq!(MethodKind::Totp.amr(), "otp");
        assert_eq!(MethodKind::WebAuthn.amr(), "hwk");
        assert_eq!(MethodKind::Sms.amr(), "sms");
    }
}
