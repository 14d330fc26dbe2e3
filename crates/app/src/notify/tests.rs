//! Tests of the parent module.

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
    let m = password_reset(&c, &a, "https://id.example.net/reset-password?token=abc", 1).unwrap();
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
