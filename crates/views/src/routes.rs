//! Every path the server answers, in one table. The router registers its
//! routes from these constants, handlers redirect to them and pages link to
//! them, so a path is spelled once. Patterns use axum's `{name}` segments;
//! the functions below fill them, percent-encoding what they insert.

use crate::text::urlencode;

// Entry, sign-up and sign-in.
pub const HOME: &str = "/";
pub const SIGNUP: &str = "/signup";
pub const SIGNUP_DONE: &str = "/signup/done";
pub const LOGIN: &str = "/login";
pub const LOGOUT: &str = "/logout";
pub const LOGIN_2FA: &str = "/login/2fa";
pub const LOGIN_2FA_SMS: &str = "/login/2fa/sms";
pub const LOGIN_2FA_WEBAUTHN_BEGIN: &str = "/login/2fa/webauthn/begin";
pub const LOGIN_2FA_WEBAUTHN_FINISH: &str = "/login/2fa/webauthn/finish";
pub const LOGIN_EMAIL_CODE: &str = "/login/email-code";
pub const LOGIN_EMAIL_CODE_RESEND: &str = "/login/email-code/resend";
pub const VERIFY_EMAIL: &str = "/verify-email";
pub const FORGOT_HANDLE: &str = "/forgot-handle";
pub const FORGOT_PASSWORD: &str = "/forgot-password";
pub const RESET_PASSWORD: &str = "/reset-password";
pub const RESET_PASSWORD_DONE: &str = "/reset-password/done";
pub const LANG: &str = "/lang/{code}";
pub const PROBLEM: &str = "/problems/{slug}";

// The account's own pages.
pub const ACCOUNT: &str = "/account";
pub const PROFILE: &str = "/account/profile";
pub const EMAIL: &str = "/account/email";
pub const EMAIL_CONFIRM: &str = "/account/email/confirm";
pub const EMAIL_CANCEL: &str = "/account/email/cancel";
pub const PASSWORD: &str = "/account/password";
pub const BACKUP_EMAIL: &str = "/account/backup-email";
pub const BACKUP_EMAIL_CONFIRM: &str = "/account/backup-email/confirm";
pub const NOTIFICATIONS: &str = "/account/notifications";
pub const REAUTH: &str = "/account/reauth";

// Local users and groups.
pub const USERS: &str = "/account/users";
pub const MY_PASSWORD: &str = "/account/users/me/password";
pub const USER: &str = "/account/users/{id}";
pub const USER_STATUS: &str = "/account/users/{id}/status";
pub const USER_DELETE: &str = "/account/users/{id}/delete";
pub const GROUPS: &str = "/account/groups";
pub const GROUP_DELETE: &str = "/account/groups/{name}/delete";

// Security: second factors, sessions, applications, log.
pub const SECURITY: &str = "/account/security";
pub const SECURITY_CODES: &str = "/account/security/codes";
pub const SECURITY_TOTP: &str = "/account/security/totp";
pub const SECURITY_TOTP_CONFIRM: &str = "/account/security/totp/confirm";
pub const SECURITY_SMS: &str = "/account/security/sms";
pub const SECURITY_SMS_CONFIRM: &str = "/account/security/sms/confirm";
pub const SECURITY_WEBAUTHN: &str = "/account/security/webauthn";
pub const SECURITY_WEBAUTHN_BEGIN: &str = "/account/security/webauthn/begin";
pub const SECURITY_WEBAUTHN_FINISH: &str = "/account/security/webauthn/finish";
pub const SECURITY_RENAME: &str = "/account/security/methods/rename";
pub const SECURITY_REMOVE: &str = "/account/security/methods/remove";
pub const SECURITY_CODES_REGENERATE: &str = "/account/security/recovery/regenerate";
pub const SECURITY_CODES_DELETE: &str = "/account/security/recovery/delete";
pub const SECURITY_DISABLE: &str = "/account/security/disable";
pub const SESSIONS: &str = "/account/security/sessions";
pub const SESSIONS_END: &str = "/account/security/sessions/end";
pub const SESSIONS_END_ALL: &str = "/account/security/sessions/end-all";
pub const APPS: &str = "/account/security/apps";
pub const APPS_WITHDRAW: &str = "/account/security/apps/withdraw";
pub const SECURITY_LOG: &str = "/account/security/log";

// Personal data and service contacts.
pub const DATA: &str = "/account/data";
pub const DATA_EXPORT: &str = "/account/data-export";
pub const ERASE: &str = "/account/erase";
pub const CONTACTS: &str = "/account/contacts";
pub const CONTACT_ANSWER: &str = "/account/contacts/{id}/answer";
pub const CONTACT_CANCEL: &str = "/account/contacts/{id}/cancel";

// The account's JSON API.
pub const API_SIGNUP: &str = "/api/v1/signup";
pub const API_PROFILE: &str = "/api/v1/account/profile";
pub const API_EMAIL: &str = "/api/v1/account/email";
pub const API_EMAIL_CONFIRM: &str = "/api/v1/account/email/confirm";
pub const API_PASSWORD: &str = "/api/v1/account/password";
pub const API_USERS: &str = "/api/v1/account/users";
pub const API_USERS_ME: &str = "/api/v1/account/users/me";
pub const API_MY_PASSWORD: &str = "/api/v1/account/users/me/password";
pub const API_USER: &str = "/api/v1/account/users/{id}";
pub const API_GROUPS: &str = "/api/v1/account/groups";
pub const API_GROUP: &str = "/api/v1/account/groups/{name}";
pub const API_SESSIONS: &str = "/api/v1/account/sessions";
pub const API_SESSIONS_END: &str = "/api/v1/account/sessions/end";
pub const API_SESSIONS_END_ALL: &str = "/api/v1/account/sessions/end-all";
pub const API_APPS: &str = "/api/v1/account/apps";
pub const API_APPS_WITHDRAW: &str = "/api/v1/account/apps/withdraw";
pub const API_SECURITY_LOG: &str = "/api/v1/account/security-log";
pub const API_EXPORT: &str = "/api/v1/account/export";
pub const API_ERASE: &str = "/api/v1/account/erase";
pub const API_CONTACTS: &str = "/api/v1/account/contacts";
pub const API_CONTACT_ANSWER: &str = "/api/v1/account/contacts/{id}/answer";
pub const API_CONTACT_CANCEL: &str = "/api/v1/account/contacts/{id}/cancel";

// OAuth 2 and OpenID Connect.
pub const AUTHORIZE: &str = "/oauth2/authorize";
pub const AUTHORIZE_RESUME: &str = "/oauth2/authorize/resume";
pub const CONSENT: &str = "/oauth2/consent";
pub const OAUTH_LOGOUT: &str = "/oauth2/logout";
pub const INTROSPECT: &str = "/oauth2/introspect";
pub const REVOKE: &str = "/oauth2/revoke";
pub const TOKEN: &str = "/oauth2/token";
pub const USERINFO: &str = "/oauth2/userinfo";
pub const JWKS: &str = "/oauth2/jwks";
pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
pub const AUTHORIZATION_SERVER_METADATA: &str = "/.well-known/oauth-authorization-server";

// Operations and static files.
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const STYLESHEET: &str = "/static/guichet.css";
pub const WEBAUTHN_JS: &str = "/static/webauthn.js";

// The operator API (admin listener).
pub const METRICS: &str = "/metrics";
pub const ADMIN_CLIENTS: &str = "/admin/v1/clients";
pub const ADMIN_CLIENT: &str = "/admin/v1/clients/{client_id}";
pub const ADMIN_CLIENT_ROTATE: &str = "/admin/v1/clients/{client_id}/rotate-secret";
pub const ADMIN_CONTACTS: &str = "/admin/v1/contacts";
pub const ADMIN_KEYS_ROTATE: &str = "/admin/v1/keys/rotate";
pub const ADMIN_MAIL: &str = "/admin/v1/mail";
pub const ADMIN_MAIL_RETRY: &str = "/admin/v1/mail/{message_id}/retry";
pub const ADMIN_HOLDS: &str = "/admin/v1/accounts/{account}/holds";
pub const ADMIN_HOLD: &str = "/admin/v1/accounts/{account}/holds/{kind}";
pub const ADMIN_DISABLE_2FA: &str = "/admin/v1/accounts/{account}/disable-2fa";
pub const ADMIN_END_SESSIONS: &str = "/admin/v1/accounts/{account}/end-sessions";
pub const ADMIN_PROMOTE_BACKUP: &str = "/admin/v1/accounts/{account}/promote-backup-email";
pub const ADMIN_REPLACE_PRIMARY: &str = "/admin/v1/accounts/{account}/replace-primary-email";
pub const ADMIN_SEND_RESET: &str = "/admin/v1/accounts/{account}/send-password-reset";
pub const ADMIN_SUPPORT_ACTIONS: &str = "/admin/v1/accounts/{account}/support-actions";

// Prefixes the middleware sorts requests by.
pub const STATIC_PREFIX: &str = "/static/";
pub const LANG_PREFIX: &str = "/lang/";
pub const PROBLEMS_PREFIX: &str = "/problems/";
pub const API_PREFIX: &str = "/api/";

/// `pattern` with each `{name}` segment replaced by its value from `params`,
/// percent-encoded as one path segment.
///
/// # Panics
/// When a segment of the pattern has no value: a programming error that the
/// route tests catch.
pub fn fill(pattern: &str, params: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("unclosed segment");
        let name = &rest[open + 1..close];
        let value = params
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no value for {{{name}}} in {pattern}"))
            .1;
        out.extend(
            url::form_urlencoded::byte_serialize(value.as_bytes()).map(|s| s.replace('+', "%20")),
        );
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// `path` with a query string built from `params`, each value encoded.
pub fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    let mut out = path.to_owned();
    for (i, (k, v)) in params.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        out.push_str(&urlencode(v));
    }
    out
}

/// The language switch link, coming back to `back`.
pub fn lang(code: &str, back: &str) -> String {
    with_query(&fill(LANG, &[("code", code)]), &[("back", back)])
}

/// The URI of an API problem type (RFC 9457), which is also the page that
/// explains it.
pub fn problem(slug: &str) -> String {
    fill(PROBLEM, &[("slug", slug)])
}

/// A local user's page.
pub fn user(id: &str) -> String {
    fill(USER, &[("id", id)])
}

/// `path?next=<next>`: a page that comes back to `next` when it is done.
pub fn then(path: &str, next: &str) -> String {
    with_query(path, &[("next", next)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_encodes_segments_and_queries() {
        assert_eq!(user("42"), "/account/users/42");
        assert_eq!(
            fill(GROUP_DELETE, &[("name", "a b/c")]),
            "/account/groups/a%20b%2Fc/delete"
        );
        assert_eq!(
            lang("fr", "/account?x=1&y"),
            "/lang/fr?back=%2Faccount%3Fx%3D1%26y"
        );
        assert_eq!(
            then(SECURITY, "/account"),
            "/account/security?next=%2Faccount"
        );
    }

    #[test]
    #[should_panic(expected = "no value for {id}")]
    fn fill_refuses_a_missing_segment() {
        let _ = fill(USER, &[]);
    }
}
