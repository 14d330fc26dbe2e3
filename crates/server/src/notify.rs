//! The mail Guichet sends, and sending it without holding up the request.

use accounts::service::SignupOutcome;
use mail::OutgoingMail;

use crate::config::ServerConfig;
use crate::state::AppState;

/// Escapes text for the HTML part of a mail.
fn esc(s: &str) -> String {
    maud::html! { (s) }.into_string()
}

/// The welcome mail: the handle (customers look for it in this mail, as the
/// guides tell them), the customer code and the link that verifies the address.
pub fn welcome(cfg: &ServerConfig, outcome: &SignupOutcome) -> OutgoingMail {
    let a = &outcome.account;
    let link = cfg.url(&format!(
        "/verify-email?token={}",
        outcome.verification_token.expose()
    ));
    let to = a.primary_email.clone().unwrap_or_default();
    let subject = format!("Your account {} is ready", a.handle);
    let text = format!(
        "Hello {first},\n\n\
         Your account has been created.\n\n\
         Customer handle: {handle}\n\
         Customer code: {code}\n\n\
         Log in with your customer handle or with this email address.\n\n\
         Please confirm this email address by opening this link within 7 days:\n{link}\n\n\
         If you did not create this account, ignore this message.\n",
        first = a.first_name,
        handle = a.handle,
        code = a.customer_code,
    );
    let html = format!(
        "<p>Hello {first},</p><p>Your account has been created.</p>\
         <p>Customer handle: <strong>{handle}</strong><br>Customer code: {code}</p>\
         <p>Log in with your customer handle or with this email address.</p>\
         <p><a href=\"{link}\">Confirm this email address</a> (valid 7 days).</p>\
         <p>If you did not create this account, ignore this message.</p>",
        first = esc(&a.first_name),
        handle = esc(&a.handle),
        code = esc(&a.customer_code),
        link = esc(&link),
    );
    OutgoingMail {
        to,
        subject,
        text,
        html,
    }
}

/// A notice that something changed on the account's security: the customer
/// learns of it even when someone else did it, and is told what to do then.
pub fn security_notice(
    cfg: &ServerConfig,
    a: &accounts::Account,
    what: &str,
) -> Option<OutgoingMail> {
    let to = a.primary_email.clone()?;
    let link = cfg.url("/account/security");
    let subject = format!("Security change on your account {}", a.handle);
    let when = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let text = format!(
        "Hello {first},\n\n\
         On {when}, this change was made to your account {handle}:\n\n  {what}\n\n\
         If it was you, there is nothing to do.\n\
         If it was not you, change your password at once and review your \
         two-factor methods here:\n{link}\n",
        first = a.first_name,
        handle = a.handle,
    );
    let html = format!(
        "<p>Hello {first},</p><p>On {when}, this change was made to your account \
         <strong>{handle}</strong>:</p><p><strong>{what}</strong></p>\
         <p>If it was you, there is nothing to do.</p>\
         <p>If it was not you, change your password at once and \
         <a href=\"{link}\">review your two-factor methods</a>.</p>",
        first = esc(&a.first_name),
        handle = esc(&a.handle),
        what = esc(what),
        link = esc(&link),
    );
    Some(OutgoingMail {
        to,
        subject,
        text,
        html,
    })
}

/// Sends a mail in the background: a slow or failing mail server must not slow
/// the customer's request. Failures are logged without the body, which may hold
/// a link or a code.
pub fn send_later(state: &AppState, mail: OutgoingMail) {
    let mailer = state.mailer.clone();
    tokio::spawn(async move {
        let subject = mail.subject.clone();
        if let Err(e) = mailer.send(mail).await {
            tracing::error!(error = %e, %subject, "mail not sent");
        }
    });
}
