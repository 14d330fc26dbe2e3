//! Six-digit codes sent by text message: enrolment of a phone, sending, and
//! checking, with a send limit and a limit on wrong tries.

use std::time::Duration;

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::MfaError;
use crate::entity::method;
use crate::entity::method::MethodStatus;
use crate::onetime::{OneTimeCode as StoredCode, normalise_code};
use crate::phone::PhoneNumber;
use crate::service::{MethodKind, Mfa, SMS_SEND_WINDOW};
use crate::text::{check_identity, identity_tag, parse_label};

/// Wrong tries after which a code is void, whatever its age.
const MAX_WRONG_TRIES: i64 = 5;

fn code_key(method_id: &str) -> String {
    format!("sms:code:{method_id}")
}

impl Mfa {
    /// Starts enrolling a phone: checks the number, stores a pending method
    /// and texts it a code. Returns the method id. An identity may start at
    /// most `sms_sends_per_window` enrolments per window, so that a signed-in
    /// attacker cannot text arbitrary numbers through new methods; an
    /// unfinished SMS enrolment of the same identity is replaced.
    #[tracing::instrument(skip_all)]
    pub async fn sms_begin(
        &self,
        identity: &str,
        label: &str,
        phone: &str,
    ) -> Result<String, MfaError> {
        let identity = check_identity(identity)?;
        let label = parse_label(label)?;
        let phone = PhoneNumber::parse(phone)?;
        let begins = self
            .inner
            .ephemeral
            .incr(
                &format!("sms:begins:{}", identity_tag(identity)),
                SMS_SEND_WINDOW,
            )
            .await?;
        if begins > i64::from(self.inner.cfg.sms_sends_per_window) {
            return Err(MfaError::TooManySends);
        }

        self.delete_pending(identity, MethodKind::Sms).await?;
        let method_id = uuid::Uuid::new_v4().to_string();
        method::ActiveModel {
            id: Set(method_id.clone()),
            identity: Set(identity.to_owned()),
            kind: Set(MethodKind::Sms.as_str().to_owned()),
            label: Set(label),
            status: Set(MethodStatus::Pending),
            secret: Set(None),
            phone: Set(Some(phone.as_str().to_owned())),
            credential: Set(None),
            credential_id: Set(None),
            last_step: Set(None),
            created_at: Set(self.now()),
            last_used_at: Set(None),
        }
        .insert(self.db())
        .await?;

        if let Err(e) = self.send_code(&method_id, &phone).await {
            // Nobody can confirm a phone that never got its code.
            method::Entity::delete_many()
                .filter(method::Column::Id.eq(&method_id))
                .exec(self.db())
                .await?;
            return Err(e);
        }
        Ok(method_id)
    }

    /// Texts a fresh code to an active or pending phone, replacing the
    /// previous one. `TooManySends` past `sms_sends_per_window` sends per
    /// method in the window.
    #[tracing::instrument(skip(self))]
    pub async fn sms_send(&self, identity: &str, method_id: &str) -> Result<(), MfaError> {
        let identity = check_identity(identity)?;
        let row = self
            .find_method(identity, method_id, MethodKind::Sms, None)
            .await?;
        let phone = row
            .phone
            .as_deref()
            .and_then(PhoneNumber::from_stored)
            .ok_or_else(|| MfaError::Internal("an SMS method has no valid phone".into()))?;
        self.send_code(&row.id, &phone).await
    }

    /// Activates a pending phone with the code it received. `WrongCode` when
    /// the code is wrong, expired, used or void.
    #[tracing::instrument(skip(self, code))]
    pub async fn sms_confirm(
        &self,
        identity: &str,
        method_id: &str,
        code: &str,
    ) -> Result<(), MfaError> {
        let identity = check_identity(identity)?;
        self.find_method(
            identity,
            method_id,
            MethodKind::Sms,
            Some(MethodStatus::Pending),
        )
        .await?;
        if !self.check_code(method_id, code).await? {
            return Err(MfaError::WrongCode);
        }
        if !self.activate(identity, method_id, None).await? {
            return Err(MfaError::NotFound);
        }
        tracing::info!("phone confirmed");
        Ok(())
    }

    /// Checks a login code sent to an active phone. A correct code is used
    /// up; a wrong one leaves it in place, but after five wrong tries it is
    /// void. Codes last `sms_code_ttl`.
    #[tracing::instrument(skip(self, code))]
    pub async fn sms_verify(
        &self,
        identity: &str,
        method_id: &str,
        code: &str,
    ) -> Result<bool, MfaError> {
        let identity = check_identity(identity)?;
        self.find_method(
            identity,
            method_id,
            MethodKind::Sms,
            Some(MethodStatus::Active),
        )
        .await?;
        if !self.check_code(method_id, code).await? {
            return Ok(false);
        }
        self.touch(method_id).await?;
        Ok(true)
    }

    async fn send_code(&self, method_id: &str, phone: &PhoneNumber) -> Result<(), MfaError> {
        let cfg = &self.inner.cfg;
        let sends = self
            .inner
            .ephemeral
            .incr(&format!("sms:sends:{method_id}"), SMS_SEND_WINDOW)
            .await?;
        if sends > i64::from(cfg.sms_sends_per_window) {
            tracing::info!(method = %method_id, "SMS send limit reached");
            return Err(MfaError::TooManySends);
        }

        let ttl_secs = i64::try_from(cfg.sms_code_ttl.as_secs()).unwrap_or(i64::MAX);
        let (code, stored) = StoredCode::issue(self.now().timestamp(), ttl_secs);
        self.inner
            .ephemeral
            .put(&code_key(method_id), &stored.encode(), cfg.sms_code_ttl)
            .await?;

        let minutes = cfg.sms_code_ttl.as_secs().div_ceil(60).max(1);
        let mut text = format!(
            "{code} is your {} verification code. It expires in {minutes} minutes. Never share it.",
            cfg.issuer
        );
        // The WebOTP line lets browsers fill the code in, for this site only.
        if cfg.rp_origin.domain().is_some() {
            text.push_str(&format!("\n\n@{} #{code}", cfg.rp_id));
        }
        self.inner.sms.send(phone.as_str(), &text).await?;
        tracing::info!(method = %method_id, phone = %phone.hint(), "SMS code sent");
        Ok(())
    }

    /// Takes the stored code (so no parallel request can use it meanwhile),
    /// compares, and puts it back when wrong, until the fifth wrong try. A
    /// code that was resent while a wrong try held it may be put back over
    /// the new one; the holder then still has a valid code, the older one.
    async fn check_code(&self, method_id: &str, code: &str) -> Result<bool, MfaError> {
        let Some(code) = normalise_code(code) else {
            return Ok(false);
        };
        let store = &self.inner.ephemeral;
        let key = code_key(method_id);
        let Some(stored) = store
            .take(&key)
            .await?
            .as_deref()
            .and_then(StoredCode::decode)
        else {
            return Ok(false);
        };
        let now = self.now().timestamp();
        if stored.expires_unix <= now {
            return Ok(false);
        }
        if stored.matches(&code, now) {
            return Ok(true);
        }
        let left = Duration::from_secs(u64::try_from(stored.expires_unix - now).unwrap_or(0));
        let tries = store
            .incr(&format!("sms:tries:{}", stored.nonce), left)
            .await?;
        if tries < MAX_WRONG_TRIES {
            store.put(&key, &stored.encode(), left).await?;
        } else {
            tracing::info!(method = %method_id, "SMS code void after too many wrong tries");
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn international_numbers_parse() {
        for (input, e164) in [
            ("+44 7700 900123", "+447700900123"),
            ("+33.6.12.34.56.78", "+33612345678"),
            ("+1-202-555-0143", "+12025550143"),
            (" +41791234567 ", "+41791234567"),
            ("+12345678", "+12345678"),
            ("+123456789012345", "+123456789012345"),
        ] {
            assert_eq!(PhoneNumber::parse(input).unwrap().as_str(), e164, "{input}");
        }
    }

    #[test]
    fn other_numbers_are_refused() {
        for bad in [
            "",
            "07700 900123",
            "0044 7700 900123",
            "+",
            "+1234567",
            "+1234567890123456",
            "+44 (0)20 7946 0000",
            "+44 7700 9OO123",
            "+0 123 456 789",
            "++447700900123",
            "+44/7700900123",
        ] {
            assert!(
                matches!(PhoneNumber::parse(bad), Err(MfaError::InvalidPhone)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn hints_keep_country_code_and_last_four() {
        let hint = |s| PhoneNumber::parse(s).unwrap().hint();
        assert_eq!(hint("+447700900123"), "+44 ••• ••• 0123");
        assert_eq!(hint("+12025550143"), "+1 ••• ••• 0143");
        assert_eq!(hint("+352621123456"), "+352 ••• ••• 3456");
        let debug = format!("{:?}", PhoneNumber::parse("+447700900123").unwrap());
        assert!(!debug.contains("7700900"), "{debug}");
    }

    #[test]
    fn codes_are_six_digits() {
        assert_eq!(normalise_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(normalise_code("12345"), None);
        assert_eq!(normalise_code("12345a"), None);
    }
}
