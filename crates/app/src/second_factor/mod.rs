//! The second login step, and the same step asked again of a signed-in user
//! (step-up for a client that wants two-factor, or re-authentication before a
//! security change).
//!
//! Between the password and the second factor there is no session at all:
//! only a pending login kept under a random token ([`begin`]), which the
//! adapter hands the browser in a cookie no other page accepts. So a password
//! alone reaches no account page, no consent and no token.

mod check;

pub use check::{Checked, StepProof, check, send_sms};

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::services::App;
use crate::session::throttle::Subject;
use crate::session::{SessionData, random_token};

/// How long the second step may take.
const PENDING_TTL: Duration = Duration::from_secs(600);

/// Length of a pending-login token (32 random bytes, base64url).
const TOKEN_LEN: usize = 43;

/// What is remembered between the password and the second factor.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct PendingLogin {
    /// The account logging in.
    pub account_id: i32,
    /// The local user logging in, when not the holder.
    #[serde(default)]
    pub user_id: Option<i32>,
    /// Where to go once signed in.
    pub next: String,
    /// The second step's anti-CSRF token (there is no session to hold one).
    pub csrf: String,
    /// Where the login came from, for the session.
    pub ip: String,
    /// The browser, for the session.
    pub user_agent: String,
}

fn pending_key(token: &str) -> String {
    format!("login2fa:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// After a correct password, for an account with two-factor: no session yet,
/// only a pending login; returns the token that names it.
pub async fn begin(
    app: &App,
    account_id: i32,
    user_id: Option<i32>,
    next: &str,
    ip: String,
    user_agent: String,
) -> Result<String, AppError> {
    let token = random_token();
    let p = PendingLogin {
        account_id,
        user_id,
        next: next.to_owned(),
        csrf: random_token(),
        ip,
        user_agent,
    };
    let json = serde_json::to_string(&p).unwrap_or_default();
    app.store
        .set(&pending_key(&token), &json, PENDING_TTL)
        .await?;
    Ok(token)
}

/// Who is at the second step, and why.
pub enum Step {
    /// After the password, before any session.
    Login {
        /// The pending login's token.
        token: String,
        /// The pending login.
        pending: PendingLogin,
    },
    /// A signed-in user asked for a second factor again.
    StepUp {
        /// The session's id.
        session_id: String,
        /// The session.
        data: SessionData,
    },
}

impl Step {
    /// The pending login named by `token` when there is one, else the
    /// session's step-up, else nobody.
    pub async fn find(
        app: &App,
        token: Option<&str>,
        session: Option<(String, SessionData)>,
    ) -> Result<Option<Step>, AppError> {
        if let Some(token) = token.filter(|t| t.len() == TOKEN_LEN)
            && let Some(json) = app.store.get(&pending_key(token)).await?
            && let Ok(pending) = serde_json::from_str::<PendingLogin>(&json)
        {
            let token = token.to_owned();
            return Ok(Some(Step::Login { token, pending }));
        }
        Ok(session.map(|(session_id, data)| Step::StepUp { session_id, data }))
    }

    /// The account at stake.
    pub fn account_id(&self) -> i32 {
        match self {
            Self::Login { pending, .. } => pending.account_id,
            Self::StepUp { data, .. } => data.account_id,
        }
    }

    /// The local user at stake, when not the holder.
    pub fn user_id(&self) -> Option<i32> {
        match self {
            Self::Login { pending, .. } => pending.user_id,
            Self::StepUp { data, .. } => data.user_id,
        }
    }

    /// The two-factor identity at stake: the holder's or the local user's.
    pub fn identity(&self) -> String {
        crate::twofactor::identity_of(self.account_id(), self.user_id())
    }

    /// Whose wrong codes are counted.
    fn subject(&self) -> Subject {
        match self.user_id() {
            None => Subject::SecondFactor(self.account_id()),
            Some(u) => Subject::UserSecondFactor(u),
        }
    }

    /// The anti-CSRF token the step's forms must repeat.
    pub fn csrf(&self) -> &str {
        match self {
            Self::Login { pending, .. } => &pending.csrf,
            Self::StepUp { data, .. } => &data.csrf,
        }
    }

    /// Whether a signed-in user is asked again (rather than a login).
    pub fn is_step_up(&self) -> bool {
        matches!(self, Self::StepUp { .. })
    }

    /// Where to go once done: the pending login's target, or `asked` (already
    /// checked to be a local path) for a step-up.
    pub fn next(&self, asked: &str) -> String {
        match self {
            Self::Login { pending, .. } => pending.next.clone(),
            Self::StepUp { .. } => asked.to_owned(),
        }
    }
}

/// The active account at stake, if it still is.
pub async fn active_account(app: &App, id: i32) -> Result<Option<accounts::Account>, AppError> {
    Ok(app
        .accounts
        .find_by_id(id)
        .await?
        .filter(|a| a.status == accounts::AccountStatus::Active))
}

/// The method offered first: the one used last, else the oldest.
pub fn preferred(methods: &[mfa::MethodInfo]) -> Option<&mfa::MethodInfo> {
    methods
        .iter()
        .filter(|m| m.last_used_at.is_some())
        .max_by_key(|m| m.last_used_at)
        .or_else(|| methods.first())
}
