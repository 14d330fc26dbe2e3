//! Tests of the parent module.

use super::*;

fn good() -> SignupRequest {
    SignupRequest {
        first_name: "Dominique".into(),
        last_name: "Martin".into(),
        primary_email: "dom@example.com".into(),
        backup_email: "dom.backup@example.org".into(),
        password: Secret::new("violet staircase under rain"),
        password_confirm: Secret::new("violet staircase under rain"),
        country: "FR".into(),
        language: "fr".into(),
        kind: "individual".into(),
        company_name: String::new(),
    }
}

#[test]
fn a_good_request_validates() {
    let (v, errors) = validate_signup(&good());
    assert!(errors.is_empty(), "{errors:?}");
    assert!(v.is_some());
}

#[test]
fn every_bad_field_is_reported() {
    let req = SignupRequest {
        first_name: " ".into(),
        primary_email: "not-an-email".into(),
        backup_email: "also bad".into(),
        country: "XX".into(),
        language: "de".into(),
        kind: "robot".into(),
        ..good()
    };
    let (v, errors) = validate_signup(&req);
    assert!(v.is_none());
    let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
    assert_eq!(
        fields,
        [
            "first_name",
            "primary_email",
            "backup_email",
            "country",
            "language",
            "kind"
        ]
    );
}

#[test]
fn backup_must_differ_from_primary_in_any_case() {
    let req = SignupRequest {
        backup_email: "DOM@example.com".into(),
        ..good()
    };
    let (_, errors) = validate_signup(&req);
    assert_eq!(errors[0].problem, FieldProblem::BackupSameAsPrimary);
}

#[test]
fn companies_need_a_name() {
    let req = SignupRequest {
        kind: "company".into(),
        ..good()
    };
    let (_, errors) = validate_signup(&req);
    assert_eq!(errors[0].field, "company_name");
}

#[test]
fn identifiers_are_told_apart() {
    assert!(matches!(
        Identifier::parse("DM429850-OVH"),
        Some(Identifier::Handle(_))
    ));
    assert!(matches!(
        Identifier::parse("Jo@Example.com"),
        Some(Identifier::Email(_))
    ));
    assert!(matches!(
        Identifier::parse("1234-567-89"),
        Some(Identifier::Code(_))
    ));
    assert!(matches!(
        Identifier::parse("dm429850-ovh/John"),
        Some(Identifier::User { account, login })
            if matches!(*account, Identifier::Handle(_)) && login.as_str() == "john"
    ));
    assert!(matches!(
        Identifier::parse("1234-567-89/john"),
        Some(Identifier::User { account, .. }) if matches!(*account, Identifier::Code(_))
    ));
    assert_eq!(Identifier::parse("jo@example.com/john"), None);
    assert_eq!(Identifier::parse("dm429850-ovh/jo hn"), None);
    assert_eq!(Identifier::parse("dm429850-ovh/a/b"), None);
    assert_eq!(Identifier::parse("nonsense"), None);
}
