//! The mail Guichet sends, in the customer's language, and sending it without
//! holding up the request.
//!
//! Every text comes from the catalogue in [`crate::i18n`]; this module only
//! picks the message, fills it in and wraps the HTML. Every mail names the
//! customer handle (customers are told to look for it in our mail), and every
//! link is absolute, built from the configured public URL and never from a
//! request's `Host` header, which an attacker chooses.

use std::fmt::Write as _;

use accounts::service::SignupOutcome;
use chrono::{DateTime, Utc};
use mail::OutgoingMail;
use mfa::MethodKind;

use crate::config::ServerConfig;
use crate::i18n::{self, Lang};
use crate::services::App;

/// A change to an account's security that its holder must hear of, whoever
/// made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecurityChange {
    /// A second factor was enrolled. An empty `label` is left out of the text.
    MethodAdded {
        /// What kind of method.
        kind: MethodKind,
        /// The name the customer gave it, or empty when the caller lacks it.
        label: String,
    },
    /// A second factor was removed. An empty `label` is left out of the text.
    MethodRemoved {
        /// What kind of method.
        kind: MethodKind,
        /// The name the customer gave it, or empty.
        label: String,
    },
    /// A new set of emergency codes replaced the old one.
    RecoveryCodesRegenerated,
    /// The emergency codes were deleted.
    RecoveryCodesDeleted,
    /// The customer turned two-factor authentication off.
    TwoFactorDisabled,
    /// The password was changed by the signed-in customer.
    PasswordChanged,
    /// The password was reset through a mailed link.
    PasswordReset,
    /// A backup address was set or replaced.
    BackupEmailSet {
        /// The new backup address.
        email: String,
    },
    /// The backup address was removed.
    BackupEmailRemoved,
    /// The customer changed the primary address.
    PrimaryEmailChanged {
        /// The new primary address.
        email: String,
    },
    /// Support replaced the primary address after checking the holder's identity.
    PrimaryEmailReplacedBySupport {
        /// The new primary address.
        email: String,
    },
    /// Support made the backup address the primary one.
    BackupPromotedBySupport {
        /// The address that is now primary.
        email: String,
    },
    /// Support turned two-factor authentication off.
    TwoFactorDisabledBySupport,
    /// A local user was created.
    UserCreated {
        /// The user's ID.
        login: String,
    },
    /// A local user's email, group, description or status was changed.
    UserChanged {
        /// The user's ID.
        login: String,
    },
    /// A local user was deleted.
    UserDeleted {
        /// The user's ID.
        login: String,
    },
    /// A local user changed their own password.
    UserPasswordChanged {
        /// The user's ID.
        login: String,
    },
}

/// What a code mailed by [`email_code`] confirms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailCodePurpose {
    /// Sent to a new backup address, to prove it is read.
    BackupEmail,
    /// Sent to a new primary address, to prove it is read.
    PrimaryEmail,
    /// Sent to the current primary address, to approve replacing it.
    CurrentPrimaryForChange,
}

/// The language of `a`'s mail.
fn lang_of(a: &accounts::Account) -> Lang {
    Lang::parse(&a.language)
}

/// "15 minutes" in `lang`. French uses the singular for 0 as well as 1.
fn validity(lang: Lang, minutes: i64) -> String {
    let singular = minutes == 1 || (lang == Lang::Fr && minutes == 0);
    if singular {
        i18n::t(lang, "mail.format.minute_one").to_owned()
    } else {
        i18n::format(
            i18n::t(lang, "mail.format.minutes"),
            &[("n", &minutes.to_string())],
        )
    }
}

/// A date and time in `lang`'s pattern, always UTC. The pattern comes from a
/// translation file, so a broken one falls back to ISO rather than panicking.
fn when_text(lang: Lang, when: DateTime<Utc>) -> String {
    let mut s = String::new();
    if write!(s, "{}", when.format(i18n::t(lang, "mail.format.when"))).is_err() {
        tracing::error!(lang = lang.code(), "bad mail.format.when pattern");
        s = when.format("%Y-%m-%d %H:%M UTC").to_string();
    }
    s
}

/// A value from a request (browser string, address) made fit for one line of
/// a mail: control characters become spaces and the length is capped, so a
/// crafted `User-Agent` cannot lay out paragraphs of its own.
fn one_line(s: &str, max_chars: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect()
}

/// An absolute link: a path goes under the public URL; anything else is taken
/// to be already absolute (built by the caller with [`ServerConfig::url`]).
fn absolute(cfg: &ServerConfig, link: &str) -> String {
    if link.starts_with('/') {
        cfg.url(link)
    } else {
        link.to_owned()
    }
}

/// Builds the mail `key` (`mail.<name>`) to `to` in `a`'s language. Besides
/// `extra`, every text may use the account's `first_name`, `handle` and
/// `customer_code`, and the `forgot_link`, `security_link`, `account_link` and
/// `login_link` pages.
fn compose(
    cfg: &ServerConfig,
    a: &accounts::Account,
    to: String,
    key: &str,
    extra: &[(&str, &str)],
) -> OutgoingMail {
    let lang = lang_of(a);
    let forgot = cfg.url("/forgot-password");
    let security = cfg.url("/account/security");
    let account = cfg.url("/account");
    let login = cfg.url("/login");
    let mut args: Vec<(&str, &str)> = extra.to_vec();
    args.extend_from_slice(&[
        ("first_name", &a.first_name),
        ("handle", &a.handle),
        ("customer_code", &a.customer_code),
        ("forgot_link", &forgot),
        ("security_link", &security),
        ("account_link", &account),
        ("login_link", &login),
    ]);
    let part = |p: &str| i18n::t(lang, &format!("{key}.{p}"));
    let subject = i18n::format(part("subject"), &args);
    let text = i18n::format(part("text"), &args);
    let body = i18n::format_html(part("html"), &args);
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head><meta charset=\"utf-8\">\
         <title>{title}</title></head>\n<body>\n{body}</body>\n</html>\n",
        lang = lang.code(),
        title = i18n::escape_html(&subject),
    );
    OutgoingMail {
        to,
        subject,
        text,
        html,
    }
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
    compose(cfg, a, to, "mail.welcome", &[("link", &link)])
}

/// The sentence that says what changed, in `lang`, as plain text: the HTML
/// body escapes it like any other value.
fn change_text(lang: Lang, change: &SecurityChange) -> String {
    let kind_text = |k: MethodKind| i18n::t(lang, &format!("mail.method_kind.{}", k.as_str()));
    let (key, kind, label, email) = match change {
        SecurityChange::MethodAdded { kind, label } if label.trim().is_empty() => {
            ("method_added", kind_text(*kind), "", "")
        }
        SecurityChange::MethodAdded { kind, label } => {
            ("method_added_named", kind_text(*kind), label.as_str(), "")
        }
        SecurityChange::MethodRemoved { kind, label } if label.trim().is_empty() => {
            ("method_removed", kind_text(*kind), "", "")
        }
        SecurityChange::MethodRemoved { kind, label } => {
            ("method_removed_named", kind_text(*kind), label.as_str(), "")
        }
        SecurityChange::RecoveryCodesRegenerated => ("recovery_codes_regenerated", "", "", ""),
        SecurityChange::RecoveryCodesDeleted => ("recovery_codes_deleted", "", "", ""),
        SecurityChange::TwoFactorDisabled => ("two_factor_disabled", "", "", ""),
        SecurityChange::PasswordChanged => ("password_changed", "", "", ""),
        SecurityChange::PasswordReset => ("password_reset", "", "", ""),
        SecurityChange::BackupEmailSet { email } => ("backup_email_set", "", "", email.as_str()),
        SecurityChange::BackupEmailRemoved => ("backup_email_removed", "", "", ""),
        SecurityChange::PrimaryEmailChanged { email } => {
            ("primary_email_changed", "", "", email.as_str())
        }
        SecurityChange::PrimaryEmailReplacedBySupport { email } => {
            ("primary_email_replaced_by_support", "", "", email.as_str())
        }
        SecurityChange::BackupPromotedBySupport { email } => {
            ("backup_promoted_by_support", "", "", email.as_str())
        }
        SecurityChange::TwoFactorDisabledBySupport => {
            ("two_factor_disabled_by_support", "", "", "")
        }
        SecurityChange::UserCreated { login } => ("user_created", "", login.as_str(), ""),
        SecurityChange::UserChanged { login } => ("user_changed", "", login.as_str(), ""),
        SecurityChange::UserDeleted { login } => ("user_deleted", "", login.as_str(), ""),
        SecurityChange::UserPasswordChanged { login } => {
            ("user_password_changed", "", login.as_str(), "")
        }
    };
    i18n::format(
        i18n::t(lang, &format!("mail.security_change.{key}")),
        &[("kind", kind), ("label", label), ("email", email)],
    )
}

/// The security notice at a given time, to any address.
fn security_notice_at(
    cfg: &ServerConfig,
    a: &accounts::Account,
    to: String,
    change: &SecurityChange,
    when: DateTime<Utc>,
) -> OutgoingMail {
    let lang = lang_of(a);
    let when = when_text(lang, when);
    let change = change_text(lang, change);
    compose(
        cfg,
        a,
        to,
        "mail.security_notice",
        &[("when", &when), ("change", &change)],
    )
}

/// A notice to the primary address that something changed on the account's
/// security: the customer learns of it even when someone else did it, and is
/// told what to do then. `None` when the account has no primary address.
pub fn security_notice(
    cfg: &ServerConfig,
    account: &accounts::Account,
    change: &SecurityChange,
) -> Option<OutgoingMail> {
    let to = account.primary_email.clone()?;
    Some(security_notice_at(cfg, account, to, change, Utc::now()))
}

/// The same notice to another address, such as the backup address when the
/// primary one is the thing that changed.
pub fn security_notice_to(
    cfg: &ServerConfig,
    account: &accounts::Account,
    to: &str,
    change: &SecurityChange,
) -> OutgoingMail {
    security_notice_at(cfg, account, to.to_owned(), change, Utc::now())
}

/// The password-reset mail: the single-use `link` (a path under the public
/// URL, or an absolute URL built with [`ServerConfig::url`]), how long it
/// works, and that ignoring the mail leaves the password as it is.
pub fn password_reset(
    cfg: &ServerConfig,
    account: &accounts::Account,
    link: &str,
    valid_minutes: i64,
) -> Option<OutgoingMail> {
    let to = account.primary_email.clone()?;
    let link = absolute(cfg, link);
    let validity = validity(lang_of(account), valid_minutes);
    Some(compose(
        cfg,
        account,
        to,
        "mail.password_reset",
        &[("link", &link), ("validity", &validity)],
    ))
}

/// [`password_reset`] for a link just made: the one place that knows the
/// reset page's path and the link's lifetime, for the form and for support.
pub fn reset_link(cfg: &ServerConfig, link: &accounts::ResetLink) -> Option<OutgoingMail> {
    password_reset(
        cfg,
        &link.account,
        &format!("/reset-password?token={}", link.token.expose()),
        accounts::recovery::RESET_LIFETIME.num_minutes(),
    )
}

/// The customer handle and customer code, for a customer who forgot them, with
/// a link to the login page.
pub fn handle_reminder(cfg: &ServerConfig, account: &accounts::Account) -> Option<OutgoingMail> {
    let to = account.primary_email.clone()?;
    Some(compose(cfg, account, to, "mail.handle_reminder", &[]))
}

/// To the holder of an address someone just tried to sign up with: nothing
/// was created, and how to get in if it was them (log in, or the forgotten
/// password and handle pages). The sign-up itself answered as if accepted, so
/// this mail is the only place the difference shows.
pub fn signup_attempt(cfg: &ServerConfig, account: &accounts::Account) -> Option<OutgoingMail> {
    let to = account.primary_email.clone()?;
    let forgot_handle = cfg.url("/forgot-handle");
    Some(compose(
        cfg,
        account,
        to,
        "mail.signup_attempt",
        &[("forgot_handle_link", &forgot_handle)],
    ))
}

/// The one-time code that finishes a sign-in from a new device, never to be
/// given to anyone, and what to do when the sign-in is not the customer's.
/// `to` is the address of whoever signs in: the holder's primary address or
/// a local user's own.
pub fn login_code(
    cfg: &ServerConfig,
    account: &accounts::Account,
    to: &str,
    code: &str,
    valid_minutes: i64,
) -> Option<OutgoingMail> {
    let to = Some(to.to_owned()).filter(|t| !t.is_empty())?;
    let validity = validity(lang_of(account), valid_minutes);
    Some(compose(
        cfg,
        account,
        to,
        "mail.login_code",
        &[("code", code), ("validity", &validity)],
    ))
}

/// Longest browser description put in a mail.
const BROWSER_MAX_CHARS: usize = 200;

/// A sign-in from a new device happened: when (UTC), from which IP address and
/// browser, what to do if it was not the customer, and where to turn these
/// notices off. Whether the account wants them is the caller's decision.
pub fn new_device_login(
    cfg: &ServerConfig,
    account: &accounts::Account,
    when: DateTime<Utc>,
    ip: &str,
    browser: &str,
) -> Option<OutgoingMail> {
    let to = account.primary_email.clone()?;
    let when = when_text(lang_of(account), when);
    let ip = one_line(ip, 64);
    let browser = one_line(browser, BROWSER_MAX_CHARS);
    Some(compose(
        cfg,
        account,
        to,
        "mail.new_device_login",
        &[("when", &when), ("ip", &ip), ("browser", &browser)],
    ))
}

/// A code that proves `to` is read (a new backup or primary address) or that
/// the holder of the current primary address approves replacing it.
pub fn email_code(
    cfg: &ServerConfig,
    account: &accounts::Account,
    to: &str,
    purpose: EmailCodePurpose,
    code: &str,
    valid_minutes: i64,
) -> OutgoingMail {
    let key = match purpose {
        EmailCodePurpose::BackupEmail => "mail.email_code.backup_email",
        EmailCodePurpose::PrimaryEmail => "mail.email_code.primary_email",
        EmailCodePurpose::CurrentPrimaryForChange => "mail.email_code.current_primary_for_change",
    };
    let validity = validity(lang_of(account), valid_minutes);
    compose(
        cfg,
        account,
        to.to_owned(),
        key,
        &[("email", to), ("code", code), ("validity", &validity)],
    )
}

/// Queues a mail now, for a request that tells the customer it was sent
/// (a code, a link): one INSERT, so that an answer "sent" is never given for
/// a mail that is not in the queue. A database that cannot be reached gives
/// the 503 that tells the customer to try again.
pub async fn queue(state: &App, mail: OutgoingMail) -> Result<(), accounts::AccountError> {
    let subject = mail.subject.clone();
    match state.mail.enqueue(mail).await {
        Ok(_) => Ok(()),
        Err(mail::MailError::Database(e)) => {
            tracing::error!(error = %e, %subject, "mail not queued");
            Err(accounts::AccountError::Database(e))
        }
        Err(e) => {
            tracing::error!(error = %e, %subject, "mail not queued");
            Err(accounts::AccountError::Internal(e.to_string()))
        }
    }
}

/// How long a notice waits for the database to come back before it is given
/// up (and logged): the change it tells of is already done.
const NOTICE_PATIENCE: [std::time::Duration; 5] = [
    std::time::Duration::from_millis(500),
    std::time::Duration::from_secs(2),
    std::time::Duration::from_secs(5),
    std::time::Duration::from_secs(15),
    std::time::Duration::from_secs(30),
];

/// Queues a notice of something already done (a changed password, a new
/// device), for the mail worker, which sends it and retries while the mail
/// server is down: a slow or failing mail server must not slow the
/// customer's request, and failing the request now would hide that the
/// change was made. The INSERT runs in a task of its own, tried again while
/// the database cannot be reached; a failure is logged without the body,
/// which may hold a link or a code.
pub fn send_later(state: &App, mail: OutgoingMail) {
    let queue = state.mail.clone();
    tokio::spawn(async move {
        let subject = mail.subject.clone();
        let mut waits = NOTICE_PATIENCE.iter();
        loop {
            match queue.enqueue(mail.clone()).await {
                Ok(_) => return,
                Err(mail::MailError::Database(e)) if crate::error::database_unavailable(&e) => {
                    let Some(wait) = waits.next() else {
                        tracing::error!(error = %e, %subject, "mail not queued: database unreachable");
                        return;
                    };
                    tokio::time::sleep(*wait).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, %subject, "mail not queued");
                    return;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use accounts::Secret;
    use chrono::TimeZone;

    use super::*;
    use crate::config::{LoginConfig, SessionConfig};

    const HOSTILE: &str = "<script>alert(1)</script>";

    fn cfg() -> ServerConfig {
        ServerConfig {
            public_url: url::Url::parse("https://id.example.net/").unwrap(),
            max_body_bytes: 65_536,
            limits: crate::config::RequestLimits::default(),
            session: SessionConfig {
                idle_timeout: Duration::from_secs(3600),
                absolute_timeout: Duration::from_secs(86_400),
            },
            login: LoginConfig::default(),
            access_token_audience: None,
            code_ttl: Duration::from_secs(60),
            rates: Default::default(),
            database_timeout: Duration::from_millis(500),
        }
    }

    fn account(language: &str) -> accounts::Account {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap();
        accounts::Account {
            id: 7,
            subject: "sub-7".into(),
            handle: "dm42817-gu".into(),
            customer_code: "1234-567-89".into(),
            first_name: HOSTILE.into(),
            last_name: "Martin & Fils".into(),
            primary_email: Some("dominique@example.org".into()),
            primary_email_lower: Some("dominique@example.org".into()),
            primary_email_verified: true,
            backup_email: Some("backup@example.org".into()),
            password_hash: Some("$argon2id$…".into()),
            country: "FR".into(),
            language: language.into(),
            kind: "individual".into(),
            company_name: None,
            status: accounts::AccountStatus::Active,
            login_notifications: true,
            must_set_backup: false,
            address_line1: None,
            address_line2: None,
            postcode: None,
            city: None,
            region: None,
            phone: None,
            created_at: at,
            updated_at: at,
        }
    }

    fn when() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 14, 5, 0).unwrap()
    }

    fn changes() -> Vec<SecurityChange> {
        let email = "new@example.org".to_owned();
        vec![
            SecurityChange::MethodAdded {
                kind: MethodKind::Totp,
                label: String::new(),
            },
            SecurityChange::MethodAdded {
                kind: MethodKind::WebAuthn,
                label: "Blue <key>".into(),
            },
            SecurityChange::MethodRemoved {
                kind: MethodKind::Sms,
                label: "My phone".into(),
            },
            SecurityChange::MethodRemoved {
                kind: MethodKind::Totp,
                label: String::new(),
            },
            SecurityChange::RecoveryCodesRegenerated,
            SecurityChange::RecoveryCodesDeleted,
            SecurityChange::TwoFactorDisabled,
            SecurityChange::PasswordChanged,
            SecurityChange::PasswordReset,
            SecurityChange::BackupEmailSet {
                email: email.clone(),
            },
            SecurityChange::BackupEmailRemoved,
            SecurityChange::PrimaryEmailChanged {
                email: email.clone(),
            },
            SecurityChange::PrimaryEmailReplacedBySupport {
                email: email.clone(),
            },
            SecurityChange::BackupPromotedBySupport { email },
            SecurityChange::TwoFactorDisabledBySupport,
        ]
    }

    /// Every mail every builder makes for an account in `language`, named.
    fn every_mail(language: &str) -> Vec<(String, OutgoingMail)> {
        let c = cfg();
        let a = account(language);
        let outcome = SignupOutcome {
            account: a.clone(),
            warnings: Vec::new(),
            verification_token: Secret::new("tok-123"),
        };
        let mut all = vec![
            ("welcome".to_owned(), welcome(&c, &outcome)),
            (
                "password_reset".into(),
                password_reset(&c, &a, "/reset-password?token=abc", 30).unwrap(),
            ),
            ("handle_reminder".into(), handle_reminder(&c, &a).unwrap()),
            ("signup_attempt".into(), signup_attempt(&c, &a).unwrap()),
            (
                "login_code".into(),
                login_code(&c, &a, "jean@example.org", "482913", 10).unwrap(),
            ),
            (
                "new_device_login".into(),
                new_device_login(&c, &a, when(), "203.0.113.9", "Firefox <b>128</b>").unwrap(),
            ),
        ];
        for p in [
            EmailCodePurpose::BackupEmail,
            EmailCodePurpose::PrimaryEmail,
            EmailCodePurpose::CurrentPrimaryForChange,
        ] {
            let m = email_code(&c, &a, "other@example.org", p, "551204", 15);
            all.push((format!("email_code {p:?}"), m));
        }
        for ch in changes() {
            let m = security_notice_at(&c, &a, "dominique@example.org".into(), &ch, when());
            all.push((format!("security_notice {ch:?}"), m));
            let m = security_notice_to(&c, &a, "backup@example.org", &ch);
            all.push((format!("security_notice_to {ch:?}"), m));
        }
        all
    }

    #[test]
    fn every_mail_is_complete_in_every_language() {
        for language in ["en", "fr", "it"] {
            for (name, m) in every_mail(language) {
                let ctx = format!("{language} {name}");
                for (part, s) in [
                    ("subject", &m.subject),
                    ("text", &m.text),
                    ("html", &m.html),
                ] {
                    assert!(!s.trim().is_empty(), "{ctx}: empty {part}");
                    assert!(s.contains("dm42817-gu"), "{ctx}: no handle in {part}");
                    assert!(
                        i18n::placeholders(s).is_empty(),
                        "{ctx}: unfilled placeholder in {part}: {s}"
                    );
                }
                assert!(!m.subject.contains('\n'), "{ctx}: subject on two lines");
                assert!(!m.to.is_empty(), "{ctx}: no recipient");
                assert!(
                    m.html.contains(&format!("<html lang=\"{language}\">")),
                    "{ctx}"
                );
            }
        }
    }

    #[test]
    fn html_escapes_what_customers_and_browsers_typed() {
        for language in ["en", "fr", "it"] {
            for (name, m) in every_mail(language) {
                assert!(!m.html.contains("<script>"), "{language} {name}");
                assert!(
                    m.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                    "{language} {name}: greeting missing"
                );
                assert!(!m.html.contains("<b>128"), "{language} {name}");
                assert!(!m.html.contains("Blue <key>"), "{language} {name}");
                // The plain text carries the name as typed: it is not markup.
                assert!(m.text.contains(HOSTILE), "{language} {name}");
            }
        }
    }

    #[test]
    fn french_and_italian_are_translations() {
        let en = every_mail("en");
        for language in ["fr", "it"] {
            for ((name, e), (_, m)) in en.iter().zip(every_mail(language)) {
                assert_ne!(e.subject, m.subject, "{language} {name} subject");
                assert_ne!(e.text, m.text, "{language} {name} text");
                assert_ne!(e.html, m.html, "{language} {name} html");
            }
        }
    }

    #[test]
    fn unknown_language_gets_english() {
        let names = |l: &str| every_mail(l).into_iter().map(|(_, m)| m.subject);
        assert!(names("de").eq(names("en")));
        assert!(names("").eq(names("en")));
    }

    #[test]
    fn welcome_keeps_the_lines_the_e2e_tests_read() {
        let c = cfg();
        let outcome = SignupOutcome {
            account: account("en"),
            warnings: Vec::new(),
            verification_token: Secret::new("tok-123"),
        };
        let m = welcome(&c, &outcome);
        assert_eq!(m.to, "dominique@example.org");
        assert_eq!(m.subject, "Your account dm42817-gu is ready");
        assert!(m.text.lines().any(|l| l == "Customer handle: dm42817-gu"));
        assert!(m.text.contains("Customer code: 1234-567-89"));
        assert!(
            m.text
                .contains("https://id.example.net/verify-email?token=tok-123")
        );
        let fr = welcome(
            &c,
            &SignupOutcome {
                account: account("fr"),
                ..outcome
            },
        );
        assert!(fr.text.contains("Identifiant client : dm42817-gu"));
        assert!(fr.text.contains("Code client : 1234-567-89"));
    }

    #[test]
    fn a_signup_attempt_tells_the_holder_how_to_get_in() {
        let m = signup_attempt(&cfg(), &account("en")).unwrap();
        assert_eq!(m.to, "dominique@example.org");
        assert!(m.subject.contains("tried to create an account"));
        assert!(m.text.contains("no account was created"));
        for link in ["/login", "/forgot-password", "/forgot-handle"] {
            let url = format!("https://id.example.net{link}");
            assert!(m.text.contains(&url), "{link} in text");
            assert!(
                m.html.contains(&format!("href=\"{url}\"")),
                "{link} in html"
            );
        }
    }

    #[test]
    fn security_notice_says_when_what_and_what_to_do() {
        let c = cfg();
        let ch = SecurityChange::MethodRemoved {
            kind: MethodKind::Sms,
            label: "My phone".into(),
        };
        let m = security_notice_at(&c, &account("en"), "x@example.org".into(), &ch, when());
        assert!(m.subject.starts_with("Security change"));
        assert!(m.text.contains("2026-03-02 at 14:05 UTC"), "{}", m.text);
        assert!(
            m.text
                .contains("A two-factor method was removed: SMS (My phone).")
        );
        assert!(m.text.contains("https://id.example.net/forgot-password"));
        assert!(m.text.contains("https://id.example.net/account/security"));
        assert!(
            m.html
                .contains("href=\"https://id.example.net/forgot-password\"")
        );

        let it = security_notice_at(&c, &account("it"), "x@example.org".into(), &ch, when());
        assert!(it.text.contains("02/03/2026 alle 14:05 UTC"), "{}", it.text);
        assert!(
            it.text
                .contains("È stato rimosso un metodo di doppia autenticazione: SMS (My phone).")
        );

        let added = SecurityChange::MethodAdded {
            kind: MethodKind::WebAuthn,
            label: String::new(),
        };
        let fr = security_notice_at(&c, &account("fr"), "x@example.org".into(), &added, when());
        assert!(
            fr.text.contains("ajoutée : clé de sécurité."),
            "{}",
            fr.text
        );
        assert!(!fr.text.contains("()"));
    }

    #[test]
    fn no_address_no_mail() {
        let c = cfg();
        let mut a = account("en");
        a.primary_email = None;
        assert!(security_notice(&c, &a, &SecurityChange::PasswordChanged).is_none());
        assert!(password_reset(&c, &a, "/reset-password?token=x", 30).is_none());
        assert!(handle_reminder(&c, &a).is_none());
        assert!(login_code(&c, &a, "", "123456", 10).is_none());
        assert!(new_device_login(&c, &a, when(), "203.0.113.9", "Firefox").is_none());
        // Addressed mail still goes where it is told.
        let m = security_notice_to(&c, &a, "b@example.org", &SecurityChange::PasswordChanged);
        assert_eq!(m.to, "b@example.org");
    }

    #[test]
    fn links_are_absolute_under_the_public_url() {
        let c = cfg();
        let a = account("en");
        let m = password_reset(&c, &a, "/reset-password?token=abc", 30).unwrap();
        assert!(
            m.text
                .contains("https://id.example.net/reset-password?token=abc")
        );
        assert!(m.text.contains("within 30 minutes"));
        let m =
            password_reset(&c, &a, "https://id.example.net/reset-password?token=abc", 1).unwrap();
        assert!(
            m.text
                .contains("https://id.example.net/reset-password?token=abc")
        );
        assert!(m.text.contains("within 1 minute:"));
        let m = handle_reminder(&c, &a).unwrap();
        assert!(m.text.contains("https://id.example.net/login"));
        let m = new_device_login(&c, &a, when(), "203.0.113.9", "Firefox").unwrap();
        assert!(
            m.text.contains("https://id.example.net/account\n"),
            "{}",
            m.text
        );
        assert!(m.text.contains("203.0.113.9"));
    }

    #[test]
    fn codes_and_addresses_reach_the_text() {
        let c = cfg();
        let a = account("it");
        let m = login_code(&c, &a, "lea@example.org", "482913", 10).unwrap();
        assert_eq!(m.to, "lea@example.org");
        assert!(m.text.contains("482913") && m.html.contains("482913"));
        assert!(m.text.contains("10 minuti"));
        let m = email_code(
            &c,
            &a,
            "nuovo@example.org",
            EmailCodePurpose::BackupEmail,
            "551204",
            15,
        );
        assert_eq!(m.to, "nuovo@example.org");
        assert!(m.text.contains("nuovo@example.org") && m.text.contains("551204"));
    }

    #[test]
    fn browser_strings_cannot_add_lines() {
        let c = cfg();
        let ua = format!("Evil\r\n\r\nClick https://evil.example/{}", "x".repeat(500));
        let m = new_device_login(&c, &account("en"), when(), "203.0.113.9", &ua).unwrap();
        assert!(!m.text.contains("Evil\r"));
        assert!(!m.text.contains(&"x".repeat(BROWSER_MAX_CHARS)));
    }

    #[test]
    fn every_date_pattern_renders() {
        for lang in Lang::ALL {
            let s = when_text(lang, when());
            assert!(s.contains("14:05") && s.contains("UTC"), "{lang:?}: {s}");
        }
    }
}
