//! The authorization decision: given what is true now about the browser's
//! session, the account, the client and the request, what must happen
//! before a code may leave. Pure: the caller reads the live state, this
//! module only judges it, so every path to a code (the authorize endpoint,
//! the resume after a login or a second factor, the consent form,
//! `prompt=none`) judges the same way.

use crate::authorize::{ACR_MFA, PendingAuthorization, acr_of};

/// The signed-in session, as read at the moment of the decision.
#[derive(Clone, Copy, Debug)]
pub struct SessionFacts<'a> {
    /// Its public identifier (`sid`); a new login gives a new one.
    pub sid: &'a str,
    /// Unix time of its last authentication.
    pub auth_time: i64,
    /// The methods that authentication used.
    pub amr: &'a [String],
    /// Whether the account's holder (not a local user) is signed in.
    pub holder: bool,
}

/// Everything the decision looks at, read fresh by the caller.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// Unix time now.
    pub now: i64,
    /// The live session, `None` when there is none or it has ended (signed
    /// out everywhere, password changed, account or local user disabled or
    /// removed).
    pub session: Option<SessionFacts<'a>>,
    /// Support promoted the backup address: a new one comes first.
    pub must_set_backup: bool,
    /// The client demands a second factor for every login.
    pub client_requires_2fa: bool,
    /// The client skips the consent page.
    pub first_party: bool,
    /// The signed-in person already granted every requested scope.
    pub consent_on_record: bool,
    /// The consent form of this very session answered "allow" just now.
    pub consent_given: bool,
    /// The signed-in person has a second factor to use.
    pub second_factor_enrolled: bool,
}

/// What must happen next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Sign in; `again` when a live session exists but does not satisfy
    /// `prompt=login`, `max_age` or `max_age=0`.
    SignIn {
        /// Re-authentication of a live session.
        again: bool,
    },
    /// Name a new backup address first.
    NewBackupAddress,
    /// Pass a second factor (`enrolled`), or enrol one first.
    SecondFactor {
        /// Whether the person has one to use.
        enrolled: bool,
    },
    /// Ask for consent.
    Consent,
    /// Everything holds: a code may be issued.
    Issue,
}

impl Step {
    /// The error a `prompt=none` request gets instead of a page
    /// (OIDC Core §3.1.2.6); `None` for [`Step::Issue`].
    pub fn prompt_none_error(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::SignIn { .. } => Some(("login_required", "the user must log in")),
            Self::NewBackupAddress => Some((
                "interaction_required",
                "the account must name a new backup email first",
            )),
            Self::SecondFactor { .. } => {
                Some(("interaction_required", "a second factor is required"))
            }
            Self::Consent => Some(("consent_required", "the user must consent")),
            Self::Issue => None,
        }
    }
}

/// Whether the request forces a new authentication whatever the session's
/// age: `prompt=login`, `prompt=select_account`, or `max_age=0`.
pub fn forces_sign_in(p: &PendingAuthorization) -> bool {
    p.prompts("login") || p.prompts("select_account") || p.max_age == Some(0)
}

/// Whether a second factor is wanted, by the client or by the request.
pub fn wants_second_factor(p: &PendingAuthorization, client_requires_2fa: bool) -> bool {
    client_requires_2fa || p.asks_for_mfa()
}

/// The one decision, in the order the steps must happen.
pub fn decide(p: &PendingAuthorization, f: &Facts<'_>) -> Step {
    let Some(s) = f.session else {
        return Step::SignIn { again: false };
    };
    // A session that did not exist when the request arrived (its sid is not
    // among the spent ones) and that authenticated after the request is a
    // sign-in made for this request: it meets a forced sign-in, and
    // `max_age` too, however long the person took to type or the redirect
    // back took (with `max_age=0`, a second boundary between the login and
    // the resume would otherwise send them round again).
    let made_for_this_request =
        !p.spent_sids.iter().any(|x| x == s.sid) && s.auth_time >= p.created_at;
    let forced_unmet = forces_sign_in(p) && !made_for_this_request;
    let too_old = !made_for_this_request && p.max_age.is_some_and(|m| f.now - s.auth_time > m);
    if forced_unmet || too_old {
        return Step::SignIn { again: true };
    }
    if f.must_set_backup && s.holder {
        return Step::NewBackupAddress;
    }
    if wants_second_factor(p, f.client_requires_2fa) && acr_of(s.amr) != ACR_MFA {
        return Step::SecondFactor {
            enrolled: f.second_factor_enrolled,
        };
    }
    let consented =
        f.first_party || f.consent_given || (!p.prompts("consent") && f.consent_on_record);
    if !consented {
        return Step::Consent;
    }
    Step::Issue
}

/// What a later grant (refresh) checks again before it issues anything: the
/// client's demand for a second factor against how the grant was
/// authenticated, and the consent, which withdrawal takes away.
pub fn later_grant_allowed(
    client_requires_2fa: bool,
    grant_acr: &str,
    first_party: bool,
    consent_on_record: bool,
) -> Result<(), &'static str> {
    if client_requires_2fa && grant_acr != ACR_MFA {
        return Err("the client requires a second factor this grant did not use");
    }
    if !first_party && !consent_on_record {
        return Err("the consent behind this grant was withdrawn");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> PendingAuthorization {
        PendingAuthorization {
            client_id: "c".into(),
            redirect_uri: "https://rp.example/cb".into(),
            scopes: vec!["openid".into()],
            state: None,
            nonce: None,
            code_challenge: "x".into(),
            prompt: vec![],
            max_age: None,
            login_hint: None,
            ui_locales: None,
            acr_values: vec![],
            created_at: 1000,
            spent_sids: vec![],
            bound_sid: None,
        }
    }

    fn pwd() -> Vec<String> {
        vec!["pwd".into()]
    }

    fn facts<'a>(amr: &'a [String], sid: &'a str, auth_time: i64) -> Facts<'a> {
        Facts {
            now: 1000,
            session: Some(SessionFacts {
                sid,
                auth_time,
                amr,
                holder: true,
            }),
            must_set_backup: false,
            client_requires_2fa: false,
            first_party: false,
            consent_on_record: true,
            consent_given: false,
            second_factor_enrolled: true,
        }
    }

    #[test]
    fn no_session_signs_in() {
        let amr = pwd();
        let mut f = facts(&amr, "s", 900);
        f.session = None;
        assert_eq!(decide(&pending(), &f), Step::SignIn { again: false });
    }

    #[test]
    fn a_forced_login_is_met_only_by_a_session_born_after_the_request() {
        let amr = pwd();
        let mut p = pending();
        p.prompt = vec!["login".into()];
        p.spent_sids = vec!["old".into()];
        // Same second as the request, but the session was already there.
        assert_eq!(
            decide(&p, &facts(&amr, "old", 1000)),
            Step::SignIn { again: true }
        );
        assert_eq!(decide(&p, &facts(&amr, "new", 1000)), Step::Issue);
        p.prompt.clear();
        p.max_age = Some(0);
        assert_eq!(
            decide(&p, &facts(&amr, "old", 1000)),
            Step::SignIn { again: true }
        );
    }

    #[test]
    fn a_sign_in_made_for_the_request_meets_max_age_after_the_clock_ticks() {
        let amr = pwd();
        let mut p = pending();
        p.max_age = Some(0);
        p.spent_sids = vec!["old".into()];
        // Signed in at the request's second; resumed one second later.
        let mut f = facts(&amr, "new", 1000);
        f.now = 1001;
        assert_eq!(decide(&p, &f), Step::Issue);
        // A minute later still, against `max_age=30`: the same.
        p.max_age = Some(30);
        f.now = 1060;
        assert_eq!(decide(&p, &f), Step::Issue);
        // The session that was already there is judged by its age.
        let mut f = facts(&amr, "old", 1000);
        f.now = 1060;
        assert_eq!(decide(&p, &f), Step::SignIn { again: true });
    }

    #[test]
    fn max_age_compares_the_session_age() {
        let amr = pwd();
        let mut p = pending();
        p.max_age = Some(60);
        assert_eq!(decide(&p, &facts(&amr, "s", 940)), Step::Issue);
        assert_eq!(
            decide(&p, &facts(&amr, "s", 939)),
            Step::SignIn { again: true }
        );
    }

    #[test]
    fn a_second_factor_comes_before_consent_even_when_consent_was_just_given() {
        let amr = pwd();
        let mut f = facts(&amr, "s", 1000);
        f.client_requires_2fa = true;
        f.consent_given = true;
        assert_eq!(
            decide(&pending(), &f),
            Step::SecondFactor { enrolled: true }
        );
        let mfa = vec!["pwd".into(), "otp".into(), "mfa".into()];
        let mut f = facts(&mfa, "s", 1000);
        f.client_requires_2fa = true;
        assert_eq!(decide(&pending(), &f), Step::Issue);
    }

    #[test]
    fn consent_is_asked_unless_on_record_first_party_or_just_given() {
        let amr = pwd();
        let mut f = facts(&amr, "s", 1000);
        f.consent_on_record = false;
        assert_eq!(decide(&pending(), &f), Step::Consent);
        f.consent_given = true;
        assert_eq!(decide(&pending(), &f), Step::Issue);
        let mut p = pending();
        p.prompt = vec!["consent".into()];
        let f = facts(&amr, "s", 1000);
        assert_eq!(decide(&p, &f), Step::Consent);
    }

    #[test]
    fn a_backup_address_is_named_before_anything_else_by_the_holder_only() {
        let amr = pwd();
        let mut f = facts(&amr, "s", 1000);
        f.must_set_backup = true;
        f.client_requires_2fa = true;
        assert_eq!(decide(&pending(), &f), Step::NewBackupAddress);
        f.session = Some(SessionFacts {
            holder: false,
            ..f.session.unwrap()
        });
        assert_eq!(
            decide(&pending(), &f),
            Step::SecondFactor { enrolled: true }
        );
    }

    #[test]
    fn later_grants_check_the_second_factor_and_the_consent_again() {
        assert!(later_grant_allowed(true, "pwd", true, true).is_err());
        assert!(later_grant_allowed(true, "mfa", true, true).is_ok());
        assert!(later_grant_allowed(false, "pwd", false, false).is_err());
        assert!(later_grant_allowed(false, "pwd", false, true).is_ok());
    }
}
