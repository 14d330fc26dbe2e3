//! The code mailed on a risky login of an account without two-factor. It is
//! an extra check, never a factor (`amr` stays `pwd`): 6 digits, 10 minutes,
//! single use, bound to this one login attempt (it lives in the pending-login
//! record that only this browser's cookie names), and throttled per account.
//! Entering it also proves the primary address, which is how an address set
//! by support gets confirmed.

mod check;

pub use check::{CodeCheck, Resent, check, resend};

use std::time::Duration;

use accounts::{Account, LocalUser};
use mfa::OneTimeCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::EmailCodePolicy;
use crate::error::AppError;
use crate::services::App;
use crate::session::random_token;

/// How long the code (and the pending login) lives.
const CODE_TTL_SECS: i64 = 600;
/// Wrong tries before this login's code is void.
const MAX_WRONG: u32 = 5;
/// Mails per login attempt (the first and two resends).
const MAX_SENDS: u32 = 3;
/// Code mails per account per hour, whatever the attempts: no mail bombing.
const MAX_SENDS_PER_HOUR: i64 = 10;
/// Length of a pending-login token (32 random bytes, base64url).
const TOKEN_LEN: usize = 43;

/// The pending login between the password and the mailed code.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Pending {
    account_id: i32,
    next: String,
    csrf: String,
    ip: String,
    user_agent: String,
    /// The address the code went to (lowercase): entering it proves this one.
    email_lower: String,
    code: String,
    sends: u32,
    wrong: u32,
    /// Unix time until which no code mail may go to the account (the hourly
    /// limit was met); 0 when mails may go.
    #[serde(default)]
    blocked_until: i64,
    /// The local user signing in, `None` for the holder: the code went to
    /// the user's own address.
    #[serde(default)]
    user_id: Option<i32>,
}

/// Why no code can come for a login any more.
#[derive(Debug, PartialEq, Eq)]
pub enum Stuck {
    /// The account had all the code mails it may have this hour: wait this
    /// many minutes.
    HourLimit(u64),
    /// This login had all the mails it may have: start it again.
    LoginLimit,
}

impl Pending {
    /// Whose mailed codes these are: the holder's, or one local user's,
    /// counted and limited apart.
    fn who(&self) -> String {
        match self.user_id {
            None => self.account_id.to_string(),
            Some(uid) => format!("{}/user:{uid}", self.account_id),
        }
    }

    /// The account logging in.
    pub fn account_id(&self) -> i32 {
        self.account_id
    }

    /// The anti-CSRF token the page's forms must repeat (there is no session
    /// to hold one).
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// The address the code went to.
    pub fn email(&self) -> &str {
        &self.email_lower
    }

    /// Whether a code that may still work was sent.
    pub fn code_live(&self) -> bool {
        !self.code.is_empty()
    }

    /// Why no code can come any more at `now`; `None` while one may still
    /// be sent.
    pub fn stuck(&self, now: i64) -> Option<Stuck> {
        if self.blocked_until > now {
            let minutes = ((self.blocked_until - now) as u64).div_ceil(60).max(1);
            return Some(Stuck::HourLimit(minutes));
        }
        (self.sends >= MAX_SENDS).then_some(Stuck::LoginLimit)
    }
}

fn key(token: &str) -> String {
    format!(
        "loginmail:{}",
        hex::encode(Sha256::digest(token.as_bytes()))
    )
}

fn ttl() -> Duration {
    Duration::from_secs(CODE_TTL_SECS as u64)
}

/// Whether this login (password just accepted, no two-factor) must also
/// pass a mailed code, under the configured policy. The same check for the
/// holder and for a local user (`user`), each with their own address and
/// their own known devices (`device` is the browser's device cookie).
pub async fn is_due(
    app: &App,
    account: &Account,
    user: Option<&LocalUser>,
    device: Option<&str>,
    had_failures: bool,
) -> Result<bool, AppError> {
    let (address, unconfirmed) = match user {
        None => (
            account.primary_email.as_deref(),
            !account.primary_email_verified,
        ),
        // A local user's address is set by the holder; it has no
        // confirmation of its own.
        Some(u) => (Some(u.email.as_str()).filter(|e| !e.is_empty()), false),
    };
    if address.is_none() {
        return Ok(false);
    }
    Ok(match app.config.login.email_code {
        EmailCodePolicy::Never => false,
        EmailCodePolicy::Always => true,
        EmailCodePolicy::Risk => {
            let known = match device {
                Some(d) => {
                    let key = crate::sign_in::device_key(d, user.map(|u| u.id));
                    app.accounts.is_known_device(account.id, &key).await?
                }
                None => false,
            };
            !known || had_failures || unconfirmed
        }
    })
}

/// Whether a code mail went out.
#[derive(PartialEq, Eq, Debug)]
enum Sent {
    /// A fresh code is on its way; only it works now.
    Yes,
    /// This login had all the mails it may have.
    LoginLimit,
    /// The account had all the code mails it may have this hour; the time
    /// until more may go is in `Pending::blocked_until`.
    HourLimit,
}

/// Mails a fresh code for `p`, within the limits.
async fn send(app: &App, account: &Account, p: &mut Pending) -> Result<Sent, AppError> {
    if p.sends >= MAX_SENDS {
        return Ok(Sent::LoginLimit);
    }
    let counter = format!("loginmail:sends:{}", p.who());
    let per_hour = app.store.incr(&counter, Duration::from_secs(3600)).await?;
    let now = app.clock.now_secs();
    if per_hour > MAX_SENDS_PER_HOUR {
        tracing::info!(account = account.id, "login code mail limit reached");
        let left = app
            .store
            .time_left(&counter)
            .await?
            .map_or(3600, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
        p.blocked_until = now + left as i64;
        return Ok(Sent::HourLimit);
    }
    let (code, stored) = OneTimeCode::issue(now, CODE_TTL_SECS);
    // Queued before the pending login changes: a code that is not in the
    // queue is never announced, and the one before it still counts.
    let minutes = CODE_TTL_SECS / 60;
    if let Some(mail) =
        crate::notify::login_code(&app.config, account, &p.email_lower, &code, minutes)
    {
        crate::notify::queue(app, mail).await?;
    }
    p.code = stored.encode();
    p.sends += 1;
    p.wrong = 0;
    p.blocked_until = 0;
    Ok(Sent::Yes)
}

/// After a correct password: a pending login and a code on its way to the
/// address of the person signing in. No session yet; returns the token that
/// names the pending login. When the hourly limit refuses, the page says so
/// (no code is coming) rather than ask for one.
pub async fn begin(
    app: &App,
    account: &Account,
    user: Option<&LocalUser>,
    next: &str,
    ip: String,
    user_agent: String,
) -> Result<String, AppError> {
    let mut p = Pending {
        account_id: account.id,
        next: next.to_owned(),
        csrf: random_token(),
        ip,
        user_agent,
        email_lower: match user {
            None => account.primary_email_lower.clone().unwrap_or_default(),
            Some(u) => u.email.to_lowercase(),
        },
        code: String::new(),
        sends: 0,
        wrong: 0,
        blocked_until: 0,
        user_id: user.map(|u| u.id),
    };
    send(app, account, &mut p).await?;
    let token = random_token();
    let json = serde_json::to_string(&p).unwrap_or_default();
    app.store.set(&key(&token), &json, ttl()).await?;
    Ok(token)
}

/// Writes back a pending login that is still there, never one a right
/// answer took meanwhile (which would make its code work twice); false when
/// it is gone.
async fn update(app: &App, token: &str, p: &Pending) -> Result<bool, AppError> {
    let json = serde_json::to_string(p).unwrap_or_default();
    Ok(app.store.replace(&key(token), &json, ttl()).await?)
}

/// The pending login `token` names.
pub async fn find(app: &App, token: Option<&str>) -> Result<Option<Pending>, AppError> {
    let Some(token) = token.filter(|t| t.len() == TOKEN_LEN) else {
        return Ok(None);
    };
    let Some(json) = app.store.get(&key(token)).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_str(&json).ok())
}
