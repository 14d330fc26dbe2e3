//! What support does for a customer who cannot log in (lost address, stolen
//! phone, forgotten password): the [`SupportDesk`], shared by the operator
//! API (`server::admin::support`) and the `guichet support` commands.
//!
//! Every flow names a support case and lands in the account's support trail
//! with the operator's name. Operators never see or set a password, and no
//! answer holds a hash, a token, a link or a code: a reset link goes to the
//! customer's primary address only.

use std::sync::Arc;

use accounts::{
    Account, AccountError, Accounts, FieldProblem, Identifier, SupportAction, SupportCase,
};
use mail::{MailQueue, OutgoingMail};
use mfa::Mfa;
use serde_json::{Value, json};

use crate::config::ServerConfig;
use crate::error::AppError;
use crate::notify::{self, SecurityChange};
use crate::services::App;
use crate::session::Sessions;
use crate::twofactor;

/// The support flows over the services they touch. The server builds one from
/// its state; the command line builds one from the settings, and may have no
/// way to reach the server's sessions (then `sessions` is `None`).
#[derive(Clone)]
pub struct SupportDesk {
    accounts: Accounts,
    sessions: Option<Sessions>,
    mfa: Mfa,
    mail: MailQueue,
    config: Arc<ServerConfig>,
}

/// What a support flow did besides its main change.
#[derive(Debug)]
pub struct SupportOutcome {
    /// The account afterwards.
    pub account: Account,
    /// Whether every browser session was ended; `None` when the flow does not
    /// end sessions, `Some(false)` when the session store is out of reach
    /// (the command line with in-memory sessions).
    pub sessions_ended: Option<bool>,
    /// Whether every refresh token was revoked; `None` when the flow does not.
    pub refresh_tokens_revoked: Option<bool>,
    /// The addresses a mail was queued for (notices, the reset link).
    pub mailed: Vec<String>,
    /// Follow-up steps that failed after the change was stored (logged);
    /// empty when everything was done.
    pub incomplete: Vec<String>,
}

impl SupportDesk {
    /// A desk over these services; `sessions` is `None` when the caller cannot
    /// reach the sessions of the running servers.
    pub fn new(
        accounts: Accounts,
        sessions: Option<Sessions>,
        mfa: Mfa,
        mail: MailQueue,
        config: ServerConfig,
    ) -> Self {
        Self {
            accounts,
            sessions,
            mfa,
            mail,
            config: Arc::new(config),
        }
    }

    /// The desk of a running server, which reaches its own sessions.
    pub fn for_server(state: &App) -> Self {
        Self {
            accounts: state.accounts.clone(),
            sessions: Some(state.sessions.clone()),
            mfa: state.mfa.clone(),
            mail: state.mail.clone(),
            config: state.config.clone(),
        }
    }

    /// The customer called support and proved who they are: the backup
    /// address becomes the primary one, the old primary is dropped, and the
    /// account must name a new backup at its next login. Every session and
    /// refresh token ends, since whoever holds the old address may be an
    /// attacker; both addresses are told.
    pub async fn promote_backup_email(
        &self,
        id: &Identifier,
        case: &SupportCase,
    ) -> Result<SupportOutcome, AppError> {
        let (account, old) = self
            .accounts
            .promote_backup_email(id, case)
            .await
            .map_err(|e| match field_problem(&e, "backup_email") {
                Some(FieldProblem::Required | FieldProblem::InvalidEmail) => {
                    AppError::NoBackupEmail
                }
                Some(FieldProblem::EmailTaken) => AppError::BackupEmailTaken,
                _ => AppError::Account(e),
            })?;
        let mut out = self.end_everything(account).await;
        let change = SecurityChange::BackupPromotedBySupport {
            email: out.account.primary_email.clone().unwrap_or_default(),
        };
        let mut mails: Vec<OutgoingMail> =
            notify::security_notice(&self.config, &out.account, &change)
                .into_iter()
                .collect();
        if let Some(old) = old {
            mails.push(notify::security_notice_to(
                &self.config,
                &out.account,
                &old,
                &change,
            ));
        }
        self.queue(&mut out, mails).await;
        Ok(out)
    }

    /// After an identity check by mail, when no backup address works: a new
    /// primary address, unverified, which the next login confirms by a code.
    /// Every session and refresh token ends; the old and new addresses are told.
    pub async fn replace_primary_email(
        &self,
        id: &Identifier,
        new_email: &str,
        case: &SupportCase,
    ) -> Result<SupportOutcome, AppError> {
        let (account, old) = self
            .accounts
            .replace_primary_email(id, new_email, case)
            .await?;
        let mut out = self.end_everything(account).await;
        let change = SecurityChange::PrimaryEmailReplacedBySupport {
            email: out.account.primary_email.clone().unwrap_or_default(),
        };
        let mut mails: Vec<OutgoingMail> = old
            .iter()
            .map(|old| notify::security_notice_to(&self.config, &out.account, old, &change))
            .collect();
        mails.extend(notify::security_notice(&self.config, &out.account, &change));
        self.queue(&mut out, mails).await;
        Ok(out)
    }

    /// After an identity check, for a customer whose phone is gone and who has
    /// no emergency code: every second factor and emergency code is removed,
    /// so the next login asks for the password alone, and every session and
    /// token ends. The customer is told.
    pub async fn disable_two_factor(
        &self,
        id: &Identifier,
        case: &SupportCase,
    ) -> Result<SupportOutcome, AppError> {
        let account = self.find_live(id).await?;
        let identity = twofactor::identity(account.id);
        let had = self.mfa.is_enabled(&identity).await?;
        self.mfa.disable(&identity).await?;
        let detail = if had {
            "two-factor authentication turned off: every method and emergency code removed"
        } else {
            "two-factor authentication was already off"
        };
        let account = self
            .accounts
            .record_support_action(id, case, "disable_2fa", detail)
            .await?;
        // Whoever holds the customer's old phone may be signed in: every
        // session and token ends with the factors.
        let mut out = self.end_everything(account).await;
        let mails = notify::security_notice(
            &self.config,
            &out.account,
            &SecurityChange::TwoFactorDisabledBySupport,
        );
        self.queue(&mut out, mails.into_iter().collect()).await;
        Ok(out)
    }

    /// Mails a password-reset link to the primary address. The link is never
    /// returned: only the holder of that address sees it.
    pub async fn send_password_reset(
        &self,
        id: &Identifier,
        case: &SupportCase,
    ) -> Result<SupportOutcome, AppError> {
        self.find_live(id).await?;
        let link = self
            .accounts
            .request_password_reset(id)
            .await?
            .ok_or(AppError::CannotReset)?;
        let mail = notify::reset_link(&self.config, &link).ok_or(AppError::CannotReset)?;
        let to = mail.to.clone();
        // Unlike a notice, the mail is the whole point: failing to queue it
        // fails the request, before the trail says it was sent.
        self.mail.enqueue(mail).await?;
        let account = self
            .accounts
            .record_support_action(
                id,
                case,
                "send_password_reset",
                "password-reset link mailed to the primary email",
            )
            .await?;
        let mut out = SupportOutcome::of(account);
        out.mailed.push(to);
        Ok(out)
    }

    /// Ends every browser session and revokes every refresh token of the
    /// account. Without a reachable session store only the tokens go, and the
    /// trail says so.
    pub async fn end_sessions(
        &self,
        id: &Identifier,
        case: &SupportCase,
    ) -> Result<SupportOutcome, AppError> {
        let account = self.find_live(id).await?;
        let sessions_ended = match &self.sessions {
            Some(s) => {
                s.end_all(account.id).await?;
                true
            }
            None => false,
        };
        oauth::refresh::revoke_account(self.accounts.db(), account.id, self.accounts.clock().now())
            .await?;
        if sessions_ended {
            self.cut_access_tokens(account.id).await?;
        }
        let detail = if sessions_ended {
            "every browser session and refresh token ended"
        } else {
            "refresh tokens revoked; browser sessions not ended (session store out of reach)"
        };
        let account = self
            .accounts
            .record_support_action(id, case, "end_sessions", detail)
            .await?;
        let mut out = SupportOutcome::of(account);
        out.sessions_ended = Some(sessions_ended);
        out.refresh_tokens_revoked = Some(true);
        Ok(out)
    }

    /// The account and its support trail, newest first.
    pub async fn actions(
        &self,
        id: &Identifier,
    ) -> Result<(Account, Vec<SupportAction>), AppError> {
        let account = self.find_live(id).await?;
        let trail = self.accounts.support_actions(account.id).await?;
        Ok((account, trail))
    }

    /// Every access token of the account issued so far stops counting at
    /// introspection and userinfo (see [`crate::revocation`]).
    async fn cut_access_tokens(&self, account_id: i32) -> Result<(), AppError> {
        let Some(s) = &self.sessions else {
            return Ok(());
        };
        for sub in crate::revocation::subjects_of(&self.accounts, account_id).await? {
            crate::revocation::cut_off(&**s.store(), &sub, None).await?;
        }
        Ok(())
    }

    async fn find_live(&self, id: &Identifier) -> Result<Account, AppError> {
        match self.accounts.find(id).await? {
            Some(a) if a.status != accounts::AccountStatus::Erased => Ok(a),
            _ => Err(AccountError::NotFound.into()),
        }
    }

    /// Ends sessions and refresh tokens after a change already stored. A
    /// failure here must not hide that the change was made, so it is logged
    /// and named in the outcome instead of failing the flow. The password
    /// reset page uses it too.
    pub async fn end_everything(&self, account: Account) -> SupportOutcome {
        let mut out = SupportOutcome::of(account);
        let id = out.account.id;
        out.sessions_ended = Some(match &self.sessions {
            Some(s) => match s.end_all(id).await {
                Ok(()) => match self.cut_access_tokens(id).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(account = id, error = %e, "support: access tokens not cut off");
                        out.incomplete.push("cut_off_access_tokens".into());
                        false
                    }
                },
                Err(e) => {
                    tracing::error!(account = id, error = %e, "support: sessions not ended");
                    out.incomplete.push("end_sessions".into());
                    false
                }
            },
            None => false,
        });
        let revoked =
            oauth::refresh::revoke_account(self.accounts.db(), id, self.accounts.clock().now())
                .await;
        out.refresh_tokens_revoked = Some(match revoked {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(account = id, error = %e, "support: refresh tokens not revoked");
                out.incomplete.push("revoke_refresh_tokens".into());
                false
            }
        });
        out
    }

    /// Queues notices. The queue is the database, so this is quick; a failure
    /// is logged (never with the body) and named in the outcome.
    async fn queue(&self, out: &mut SupportOutcome, mails: Vec<OutgoingMail>) {
        for mail in mails {
            let to = mail.to.clone();
            match self.mail.enqueue(mail).await {
                Ok(_) => out.mailed.push(to),
                Err(e) => {
                    tracing::error!(account = out.account.id, error = %e, "support: notice not queued");
                    out.incomplete.push(format!("notice to {to}"));
                }
            }
        }
    }
}

impl SupportOutcome {
    fn of(account: Account) -> Self {
        Self {
            account,
            sessions_ended: None,
            refresh_tokens_revoked: None,
            mailed: Vec::new(),
            incomplete: Vec::new(),
        }
    }

    /// The outcome as operators see it, in the API and the CLI's `--json`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "account": account_summary(&self.account),
            "mailed": self.mailed,
            "incomplete": self.incomplete,
        });
        if let Some(ended) = self.sessions_ended {
            v["sessions_ended"] = json!(ended);
        }
        if let Some(revoked) = self.refresh_tokens_revoked {
            v["refresh_tokens_revoked"] = json!(revoked);
        }
        v
    }
}

/// The problem with `field`, when `e` refused that one field.
fn field_problem<'a>(e: &'a AccountError, field: &str) -> Option<&'a FieldProblem> {
    match e {
        AccountError::Invalid(errs) => errs.iter().find(|f| f.field == field).map(|f| &f.problem),
        _ => None,
    }
}

/// An account as support sees it: who it is and how it is reached, never a
/// password hash.
pub fn account_summary(a: &Account) -> Value {
    json!({
        "handle": a.handle,
        "customer_code": a.customer_code,
        "first_name": a.first_name,
        "last_name": a.last_name,
        "primary_email": a.primary_email,
        "primary_email_verified": a.primary_email_verified,
        "backup_email": a.backup_email,
        "must_set_backup": a.must_set_backup,
        "status": a.status,
    })
}

/// One line of the support trail.
pub fn action_json(a: &SupportAction) -> Value {
    json!({
        "operator": a.operator,
        "action": a.action,
        "case_ref": a.case_ref,
        "detail": a.detail,
        "at": a.at.to_rfc3339(),
    })
}
