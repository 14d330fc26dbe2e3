//! Hostile input: every parser that reads what a person typed (handles,
//! customer codes, email addresses, login identifiers, local user IDs, group
//! names and roles, the password policy) is fed generated text, and never
//! panics. A plain `cargo test` runs proptest's default number of cases;
//! `scripts/bench-fuzz.sh` sets `PROPTEST_CASES` to a million.

use accounts::Identifier;
use accounts::service::Language;
use accounts::users::{parse_group_name, parse_group_role};
use accounts::{CustomerCode, CustomerHandle, EmailAddress, LoginId, PasswordPolicy, Secret};
use proptest::prelude::*;

/// Text a hostile client might send: anything at all, or something close to
/// what the parsers expect (handles, codes, addresses, `handle/user`), with
/// odd Unicode mixed in.
fn typed() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z]{0,4}[0-9]{0,7}-?[a-zA-Z]{0,4}(/[a-zA-Z0-9._-]{0,40})?",
        "[0-9]{0,5}-?[0-9]{0,4}-?[0-9]{0,3}(/.{0,8})?",
        "[^@]{0,30}@{0,3}[a-z0-9.\\-\u{80}-\u{10ffff}]{0,40}",
        "[ \t\u{a0}\u{200b}\u{feff}\u{301}\u{130}\u{131}ß]{0,6}[a-z]{0,8}[ \u{2028}]{0,3}",
        proptest::collection::vec(any::<char>(), 0..300).prop_map(|v| v.into_iter().collect()),
    ]
}

proptest! {
    #[test]
    fn handles_parse_or_refuse_and_a_parsed_one_reads_back(s in typed()) {
        if let Some(h) = CustomerHandle::parse(&s) {
            prop_assert_eq!(CustomerHandle::parse(h.as_str()).map(|x| x.as_str().to_owned()), Some(h.as_str().to_owned()));
        }
    }

    #[test]
    fn customer_codes_parse_or_refuse(s in typed()) {
        if let Some(c) = CustomerCode::parse(&s) {
            prop_assert!(CustomerCode::parse(c.as_str()).is_some());
        }
    }

    #[test]
    fn email_addresses_parse_or_refuse(s in typed()) {
        if let Some(e) = EmailAddress::parse(&s) {
            let _ = (e.normalized(), e.local_part(), e.domain());
        }
    }

    #[test]
    fn login_identifiers_parse_or_refuse(s in typed()) {
        let _ = Identifier::parse(&s);
        let _ = LoginId::parse(&s);
        let _ = Language::parse(&s);
    }

    #[test]
    fn groups_and_roles_parse_or_refuse(s in typed()) {
        let _ = parse_group_name(&s);
        let _ = parse_group_role(&s);
    }

    #[test]
    fn the_password_policy_judges_any_text(password in typed(), name in typed()) {
        let policy = PasswordPolicy { min_chars: 12 };
        let _ = policy.check(&Secret::new(password), &[name.as_str(), "dm42817-gu"]);
    }
}
