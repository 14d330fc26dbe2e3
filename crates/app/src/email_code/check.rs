//! A mailed code typed back, and a new code asked for.

use std::net::IpAddr;

use accounts::Account;
use mfa::OneTimeCode;

use super::{MAX_WRONG, Pending, Sent, key, send, ttl, update};
use crate::error::AppError;
use crate::services::App;
use crate::session::SessionData;
use crate::session::throttle::{Subject, retry_after_secs};

/// What a typed code came to.
#[derive(Debug)]
pub enum CodeCheck {
    /// Too many wrong codes lately: wait this many seconds.
    Throttled(u64),
    /// A wrong code; the pending login as it is now.
    Wrong(Pending),
    /// A wrong code that made the code void (too many tries, or it expired);
    /// the pending login stays so that a new one can be sent.
    Dead(Pending),
    /// The pending login ended meanwhile (its code was entered, or it
    /// expired): start again.
    Gone,
    /// The code held: the session to open ([`crate::sign_in::complete`]).
    Right {
        /// The account, as it is after the address was proven.
        account: Box<Account>,
        /// The session to open.
        data: Box<SessionData>,
        /// Where to go once signed in.
        next: String,
    },
}

/// Checks `code` for the pending login `token` names (`p`, of the active
/// `account`).
///
/// Throttle invariant: the attempt is reserved with `Throttle::reserve`,
/// here, before the code is compared: of parallel guesses only as many as
/// the delays allow get that far.
pub async fn check(
    app: &App,
    token: &str,
    mut p: Pending,
    account: Account,
    code: &str,
    ip: IpAddr,
) -> Result<CodeCheck, AppError> {
    let subject = match p.user_id {
        None => Subject::EmailCode(account.id),
        Some(uid) => Subject::UserEmailCode(uid),
    };
    let reservation = match app
        .throttle
        .reserve(&subject, ip, app.clock.now_ms())
        .await?
    {
        Ok(r) => r,
        Err(wait) => return Ok(CodeCheck::Throttled(retry_after_secs(wait))),
    };
    let now = app.clock.now_secs();
    let stored = OneTimeCode::decode(&p.code);
    let right = |p: &Pending| OneTimeCode::decode(&p.code).is_some_and(|c| c.matches(code, now));
    if right(&p) {
        // Taken only now, and checked again as taken: of two parallel right
        // answers only one finds the pending login. It stays in place while
        // wrong answers are judged, so a parallel attempt never finds it
        // missing.
        let Some(json) = app.store.take(&key(token)).await? else {
            reservation.give_back().await?;
            return Ok(CodeCheck::Gone);
        };
        match serde_json::from_str::<Pending>(&json) {
            Ok(taken) if right(&taken) => p = taken,
            _ => {
                // A new code was sent meanwhile: this one is no longer the
                // right one; the pending login goes back as it was.
                app.store.set(&key(token), &json, ttl()).await?;
                reservation.failed();
                return Ok(CodeCheck::Wrong(p));
            }
        }
        reservation.succeeded().await?;
        if p.user_id.is_none() && !account.primary_email_verified {
            app.accounts
                .confirm_primary_email(account.id, &p.email_lower)
                .await?;
        }
        let account = super::super::second_factor::active_account(app, p.account_id)
            .await?
            .unwrap_or(account);
        tracing::info!(account = account.id, %ip, "login code accepted");
        let data = SessionData::opened(
            account.id,
            p.user_id,
            now,
            // The mailed code is a check, not a factor.
            vec!["pwd".into()],
            p.ip.clone(),
            p.user_agent.clone(),
        );
        return Ok(CodeCheck::Right {
            account: Box::new(account),
            data: Box::new(data),
            next: p.next,
        });
    }
    reservation.failed();
    p.wrong += 1;
    tracing::info!(account = account.id, %ip, "login code refused");
    let left = stored.map(|c| c.seconds_left(now)).unwrap_or(0);
    let dead = p.wrong >= MAX_WRONG || left == 0;
    if dead {
        // This code is void; the pending login stays so a new one can be sent.
        p.code = String::new();
    }
    if !update(app, token, &p).await? {
        return Ok(CodeCheck::Gone);
    }
    Ok(if dead {
        CodeCheck::Dead(p)
    } else {
        CodeCheck::Wrong(p)
    })
}

/// What asking for a new code came to.
#[derive(Debug)]
pub enum Resent {
    /// A fresh code is on its way.
    Sent(Pending),
    /// A limit refused; [`Pending::stuck`] says which. The earlier code, if
    /// still live, keeps working.
    Refused(Pending),
    /// The pending login ended meanwhile: start again.
    Gone,
}

/// Mails a new code for the pending login `token` names, within the limits.
pub async fn resend(
    app: &App,
    token: &str,
    mut p: Pending,
    account: &Account,
) -> Result<Resent, AppError> {
    let sent = send(app, account, &mut p).await?;
    if !update(app, token, &p).await? {
        // The login ended meanwhile (its code was entered, or it expired).
        return Ok(Resent::Gone);
    }
    Ok(if sent == Sent::Yes {
        Resent::Sent(p)
    } else {
        Resent::Refused(p)
    })
}
