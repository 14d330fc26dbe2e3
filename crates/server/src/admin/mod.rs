//! The operator API: clients, signing keys, the mail queue and support flows
//! on customer accounts as JSON over HTTP, on a listener of its own, for
//! operators holding a bearer token.
//!
//! Architecture invariant: these routes are never merged into the public
//! router; [`admin_router`] is served on the `operator.bind` listener only.
//! That includes `GET /metrics`, which needs an operator token like the rest.
//! Every request, refused or not, writes one line to the `audit` log target,
//! naming the operator and never a token or a client secret.

mod clients;
mod error;
mod holds;
mod keys;
mod mail;
mod metrics;
pub mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, MatchedPath};
use axum::extract::{RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use oauth::clients::{self as client_store, Client};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};
use tower_http::limit::RequestBodyLimitLayer;
use views::routes;

use crate::state::AppState;
pub use error::AdminError;

/// The fewest characters an operator secret may have.
pub const MIN_SECRET_CHARS: usize = 32;

/// The longest operator name.
const MAX_NAME_CHARS: usize = 64;

/// One operator allowed to use the API: a name for the audit log and the
/// SHA-256 of its bearer secret. The secret itself is not kept.
#[derive(Clone)]
pub struct Operator {
    name: String,
    digest: [u8; 32],
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Operator {
    /// Parses a `name:secret` entry. The name is 1 to 64 ASCII letters, digits,
    /// `.`, `_`, `-` or `@`; the secret is everything after the first colon and
    /// has at least [`MIN_SECRET_CHARS`] characters. Messages never repeat the
    /// entry, which holds a secret.
    pub fn parse(entry: &str) -> Result<Self, &'static str> {
        let (name, secret) = entry
            .split_once(':')
            .ok_or("each entry must be \"name:secret\"")?;
        let name_ok = !name.is_empty()
            && name.len() <= MAX_NAME_CHARS
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
        if !name_ok {
            return Err("the name must be 1 to 64 ASCII letters, digits, '.', '_', '-' or '@'");
        }
        if secret.chars().count() < MIN_SECRET_CHARS {
            return Err("the secret must be at least 32 characters");
        }
        if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the secret must not contain spaces or control characters");
        }
        Ok(Self {
            name: name.to_owned(),
            digest: Sha256::digest(secret.as_bytes()).into(),
        })
    }

    /// The name written in audit lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether two operators hold the same secret.
    pub fn same_secret(&self, other: &Self) -> bool {
        bool::from(self.digest.ct_eq(&other.digest))
    }
}

/// Finds the operator whose secret is `presented`. The digest of the presented
/// value is compared with every operator's in constant time, so neither the
/// secrets nor how much of one was guessed leak through timing.
fn find_operator<'a>(operators: &'a [Operator], presented: &str) -> Option<&'a Operator> {
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let mut found = None;
    for op in operators {
        let equal: Choice = op.digest.ct_eq(&digest);
        if bool::from(equal) {
            found = Some(op);
        }
    }
    found
}

/// The bearer credential of a request, if it has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// What the handlers share.
#[derive(Clone)]
struct AdminState {
    app: AppState,
    operators: Arc<[Operator]>,
    /// The support flows, over the same services as `app`.
    support: support::SupportDesk,
}

/// The name of the operator making the request, put in the request's
/// extensions by the authentication layer for handlers that record it
/// (the support trail).
#[derive(Clone, Debug)]
struct OperatorName(String);

/// What a handler adds to the audit line of its request.
#[derive(Clone, Debug, Default)]
struct AuditNote {
    /// The client acted on, when the path does not name it (creation).
    client_id: Option<String>,
    /// Extra facts worth keeping (new kids); never a secret.
    detail: Option<String>,
}

/// Builds the operator router. With no operators, every request is refused.
pub fn admin_router(state: AppState, operators: Vec<Operator>) -> Router {
    let limit = state.config.max_body_bytes;
    let request_timeout = state.config.limits.request_timeout;
    let admin = AdminState {
        support: support::SupportDesk::for_server(&state),
        app: state,
        operators: operators.into(),
    };
    Router::new()
        .route(
            routes::ADMIN_CLIENTS,
            get(clients::list).post(clients::create),
        )
        .route(
            routes::ADMIN_CLIENT,
            get(clients::show)
                .put(clients::update)
                .delete(clients::delete),
        )
        .route(routes::ADMIN_CLIENT_ROTATE, post(clients::rotate_secret))
        .route(routes::ADMIN_KEYS_ROTATE, post(keys::rotate))
        .route(routes::ADMIN_MAIL, get(mail::list))
        .route(routes::ADMIN_MAIL_RETRY, post(mail::retry))
        .route(
            routes::ADMIN_PROMOTE_BACKUP,
            post(support::promote_backup_email),
        )
        .route(
            routes::ADMIN_REPLACE_PRIMARY,
            post(support::replace_primary_email),
        )
        .route(routes::ADMIN_DISABLE_2FA, post(support::disable_two_factor))
        .route(routes::ADMIN_SEND_RESET, post(support::send_password_reset))
        .route(routes::ADMIN_END_SESSIONS, post(support::end_sessions))
        .route(routes::ADMIN_SUPPORT_ACTIONS, get(support::support_actions))
        .route(routes::ADMIN_HOLDS, get(holds::list))
        .route(
            routes::ADMIN_HOLD,
            axum::routing::put(holds::put).delete(holds::delete),
        )
        .route(routes::ADMIN_CONTACTS, get(holds::contacts))
        .route(routes::METRICS, get(metrics::scrape))
        .fallback(not_found)
        .layer(crate::http::middleware::catch_panics())
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(axum::middleware::from_fn_with_state(
            admin.clone(),
            database_gate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            admin.clone(),
            authenticate_and_audit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            request_timeout,
            crate::http::middleware::time_limit,
        ))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn_with_state(
            crate::http::middleware::Observe {
                metrics: admin.app.metrics.clone(),
                listener: "operator",
            },
            crate::http::middleware::observe,
        ))
        .with_state(admin)
}

async fn not_found() -> AdminError {
    AdminError::NotFound
}

/// While the database is down, operator requests (but the metrics scrape,
/// which reads what it can) are answered 503 at once, after the operator was
/// authenticated and audited; see [`crate::http::outage`].
async fn database_gate(State(admin): State<AdminState>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/metrics" {
        return next.run(req).await;
    }
    crate::http::outage::gate_with(
        &admin.app.database,
        req,
        |r| next.run(r),
        || AdminError::Unavailable.into_response(),
    )
    .await
}

/// Refuses requests without a known operator token, then writes the audit line
/// of every request, whatever its outcome.
async fn authenticate_and_audit(
    State(admin): State<AdminState>,
    req: Request,
    next: Next,
) -> Response {
    let operator = bearer(req.headers())
        .and_then(|t| find_operator(&admin.operators, t))
        .map(|op| op.name.clone());
    let action = action_of(
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let remote = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string());
    let (mut parts, body) = req.into_parts();
    let path_client_id = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|p| {
            p.iter()
                .find(|(k, _)| *k == "client_id")
                .map(|(_, v)| v.to_owned())
        });
    let path_account = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|p| {
            p.iter()
                .find(|(k, _)| *k == "account")
                .map(|(_, v)| loggable_account(v))
        });
    if let Some(name) = &operator {
        parts.extensions.insert(OperatorName(name.clone()));
    }
    let req = Request::from_parts(parts, body);

    let resp = match &operator {
        Some(_) => next.run(req).await,
        None => AdminError::Unauthorized.into_response(),
    };

    let note = resp
        .extensions()
        .get::<AuditNote>()
        .cloned()
        .unwrap_or_default();
    let client_id = note
        .client_id
        .or(path_client_id)
        .map(|id| loggable_client_id(&id));
    let status = resp.status();
    tracing::info!(
        target: "audit",
        operator = operator.as_deref().unwrap_or("-"),
        action,
        client_id,
        account = path_account,
        outcome = outcome_of(status),
        status = status.as_u16(),
        remote_addr = remote,
        detail = note.detail,
        "operator request"
    );
    resp
}

/// The audit name of a route.
fn action_of(method: &Method, route: Option<&str>) -> &'static str {
    match (method.as_str(), route.unwrap_or("")) {
        ("GET", "/admin/v1/clients") => "client.list",
        ("POST", "/admin/v1/clients") => "client.create",
        ("GET", "/admin/v1/clients/{client_id}") => "client.show",
        ("PUT", "/admin/v1/clients/{client_id}") => "client.update",
        ("DELETE", "/admin/v1/clients/{client_id}") => "client.delete",
        ("POST", "/admin/v1/clients/{client_id}/rotate-secret") => "client.rotate_secret",
        ("POST", "/admin/v1/keys/rotate") => "keys.rotate",
        ("GET", "/metrics") => "metrics.read",
        ("GET", "/admin/v1/mail") => "mail.list",
        ("POST", "/admin/v1/mail/{message_id}/retry") => "mail.retry",
        ("POST", "/admin/v1/accounts/{account}/promote-backup-email") => {
            "account.promote_backup_email"
        }
        ("POST", "/admin/v1/accounts/{account}/replace-primary-email") => {
            "account.replace_primary_email"
        }
        ("POST", "/admin/v1/accounts/{account}/disable-2fa") => "account.disable_2fa",
        ("POST", "/admin/v1/accounts/{account}/send-password-reset") => {
            "account.send_password_reset"
        }
        ("POST", "/admin/v1/accounts/{account}/end-sessions") => "account.end_sessions",
        ("GET", "/admin/v1/accounts/{account}/support-actions") => "account.support_actions",
        ("GET", "/admin/v1/accounts/{account}/holds") => "account.holds",
        ("PUT", "/admin/v1/accounts/{account}/holds/{kind}") => "account.hold_set",
        ("DELETE", "/admin/v1/accounts/{account}/holds/{kind}") => "account.hold_lift",
        ("GET", "/admin/v1/contacts") => "contacts.list",
        _ => "unknown",
    }
}

/// The audit outcome of a status.
fn outcome_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "success",
        401 => "unauthorized",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "too_large",
        400..=499 => "invalid_request",
        _ => "error",
    }
}

/// A client id from the path as it may appear in logs: ids are base64url, so
/// anything else (line breaks, very long values) is replaced.
fn loggable_client_id(id: &str) -> String {
    let plain = id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        id.to_owned()
    } else {
        "(malformed)".to_owned()
    }
}

/// An account from the path (handle, customer code or primary email) as it
/// may appear in logs: anything with characters those never hold is replaced.
fn loggable_account(account: &str) -> String {
    let plain = account.len() <= 254
        && account
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@+".contains(&b));
    if plain {
        account.to_owned()
    } else {
        "(malformed)".to_owned()
    }
}

/// The headers every operator response carries: JSON that is never sniffed,
/// framed or cached (it may hold a client secret).
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// A client as operators see it, in the CLI's `--json` output and in the
/// operator API. The secret appears only when given, right after it was made.
pub fn client_json(c: &Client, secret: Option<&str>) -> serde_json::Value {
    let mut v = json!({
        "client_id": c.client_id,
        "name": c.name,
        "kind": c.kind,
        "auth_method": c.auth_method,
        "redirect_uris": client_store::list(&c.redirect_uris),
        "post_logout_redirect_uris": client_store::list(&c.post_logout_redirect_uris),
        "backchannel_logout_uri": c.backchannel_logout_uri,
        "grant_types": client_store::list(&c.grant_types),
        "scopes": client_store::list(&c.scopes),
        "first_party": c.first_party,
        "requires_2fa": c.requires_2fa,
        "introspects_others": c.introspects_others,
        "access_token_ttl_secs": c.access_token_ttl_secs,
        "refresh_token_ttl_secs": c.refresh_token_ttl_secs,
        "refresh_idle_ttl_secs": c.refresh_idle_ttl_secs,
        "id_token_alg": c.id_token_alg,
        "created_at": c.created_at.to_rfc3339(),
    });
    if let Some(s) = secret {
        v["client_secret"] = json!(s);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdefghijklmnopqrstuvwxyz";

    #[test]
    fn entries_are_parsed_without_repeating_the_secret() {
        let op = Operator::parse(&format!("alice:{SECRET}")).unwrap();
        assert_eq!(op.name(), "alice");
        assert!(!format!("{op:?}").contains(SECRET));
        // A colon inside the secret belongs to the secret.
        assert!(Operator::parse(&format!("bob:{SECRET}:more")).is_ok());
        for bad in [
            SECRET.to_owned(),
            format!(":{SECRET}"),
            format!("al ice:{SECRET}"),
            format!("{}:{SECRET}", "a".repeat(65)),
            "alice:short".to_owned(),
            format!("alice:{SECRET} x"),
        ] {
            let e = Operator::parse(&bad).unwrap_err();
            assert!(!e.contains(SECRET) && !e.contains("short"), "{e}");
        }
    }

    #[test]
    fn the_operator_is_found_by_its_secret_only() {
        let ops = vec![
            Operator::parse(&format!("alice:{SECRET}")).unwrap(),
            Operator::parse(&format!("bob:{SECRET}X")).unwrap(),
        ];
        assert_eq!(find_operator(&ops, SECRET).unwrap().name(), "alice");
        assert_eq!(
            find_operator(&ops, &format!("{SECRET}X")).unwrap().name(),
            "bob"
        );
        assert!(find_operator(&ops, "").is_none());
        assert!(find_operator(&ops, &SECRET[1..]).is_none());
        assert!(find_operator(&[], SECRET).is_none());
    }

    #[test]
    fn only_bearer_credentials_count() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        for (value, expected) in [
            ("Bearer abc", Some("abc")),
            ("bearer abc", Some("abc")),
            ("Basic abc", None),
            ("Bearer ", None),
            ("Bearerabc", None),
        ] {
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer(&h), expected, "{value}");
        }
    }

    #[test]
    fn strange_client_ids_stay_out_of_logs() {
        assert_eq!(loggable_client_id("aZ09-_"), "aZ09-_");
        assert_eq!(loggable_client_id("a\nb"), "(malformed)");
        assert_eq!(loggable_client_id(&"a".repeat(200)), "(malformed)");
    }

    #[test]
    fn every_support_route_has_an_audit_name() {
        for (method, flow) in [
            (Method::POST, "promote-backup-email"),
            (Method::POST, "replace-primary-email"),
            (Method::POST, "disable-2fa"),
            (Method::POST, "send-password-reset"),
            (Method::POST, "end-sessions"),
            (Method::GET, "support-actions"),
        ] {
            let route = format!("/admin/v1/accounts/{{account}}/{flow}");
            let name = action_of(&method, Some(&route));
            assert_eq!(
                name,
                format!("account.{}", flow.replace('-', "_")),
                "{route}"
            );
        }
    }

    #[test]
    fn strange_accounts_stay_out_of_logs() {
        assert_eq!(loggable_account("dm42817-gu"), "dm42817-gu");
        assert_eq!(loggable_account("a.b+c@example.org"), "a.b+c@example.org");
        assert_eq!(loggable_account("a\nb"), "(malformed)");
        assert_eq!(loggable_account(&"a".repeat(300)), "(malformed)");
    }
}
