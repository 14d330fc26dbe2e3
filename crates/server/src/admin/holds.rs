//! Holds other systems set on an account (open services, unpaid invoices),
//! which stop its erasure, and the service contacts billing and service
//! systems read.

use accounts::{AccountError, CustomerHandle, Identifier};
use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oauth::OAuthError;
use serde::Deserialize;
use serde_json::json;

use super::error::{AdminError, JsonBody};
use super::{AdminState, OperatorName};

fn account_error(e: AccountError) -> AdminError {
    match e {
        AccountError::NotFound => AdminError::NotFound,
        AccountError::Invalid(errs) => AdminError::Invalid(
            errs.into_iter()
                .map(|f| (f.field, f.problem.to_string()))
                .collect(),
        ),
        other => AdminError::Internal(OAuthError::Internal(other.to_string())),
    }
}

async fn account_id(s: &AdminState, account: &str) -> Result<(i32, String), AdminError> {
    let id = Identifier::parse(account).ok_or(AdminError::NotFound)?;
    match s.app.accounts.find(&id).await.map_err(account_error)? {
        Some(a) if a.status != accounts::AccountStatus::Erased => Ok((a.id, a.handle)),
        _ => Err(AdminError::NotFound),
    }
}

fn hold_json(h: &accounts::gdpr::Hold) -> serde_json::Value {
    json!({
        "kind": h.kind,
        "reference": h.reference,
        "note": h.note,
        "set_by": h.set_by,
        "set_at": h.set_at.to_rfc3339(),
    })
}

/// `GET /admin/v1/accounts/{account}/holds`
pub(super) async fn list(
    State(s): State<AdminState>,
    Path(account): Path<String>,
) -> Result<Response, AdminError> {
    let (id, handle) = account_id(&s, &account).await?;
    let holds = s.app.accounts.holds(id).await.map_err(account_error)?;
    Ok(Json(json!({
        "account": handle,
        "holds": holds.iter().map(hold_json).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// The body of a hold.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct HoldBody {
    reference: String,
    note: String,
}

/// `PUT /admin/v1/accounts/{account}/holds/{kind}` `{"reference", "note"}`
pub(super) async fn put(
    State(s): State<AdminState>,
    Extension(operator): Extension<OperatorName>,
    Path((account, kind)): Path<(String, String)>,
    JsonBody(body): JsonBody<HoldBody>,
) -> Result<Response, AdminError> {
    let (id, _) = account_id(&s, &account).await?;
    let req = accounts::gdpr::HoldRequest {
        reference: body.reference,
        note: body.note,
    };
    let hold = s
        .app
        .accounts
        .set_hold(id, &kind, &req, &operator.0)
        .await
        .map_err(account_error)?;
    Ok(Json(json!({ "hold": hold_json(&hold) })).into_response())
}

/// `DELETE /admin/v1/accounts/{account}/holds/{kind}`: 204, or 404 when the
/// account has no such hold.
pub(super) async fn delete(
    State(s): State<AdminState>,
    Path((account, kind)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (id, _) = account_id(&s, &account).await?;
    if s.app
        .accounts
        .lift_hold(id, &kind)
        .await
        .map_err(account_error)?
    {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(AdminError::NotFound)
    }
}

/// The filters of the contact list.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ContactQuery {
    service: Option<String>,
    handle: Option<String>,
}

/// `GET /admin/v1/contacts?service=…&handle=…`: pending and accepted
/// delegations.
pub(super) async fn contacts(
    State(s): State<AdminState>,
    Query(q): Query<ContactQuery>,
) -> Result<Response, AdminError> {
    let handle = match q.handle.as_deref().filter(|h| !h.trim().is_empty()) {
        Some(h) => Some(CustomerHandle::parse(h).ok_or_else(|| {
            AdminError::Invalid(vec![("handle", "not a customer handle".to_owned())])
        })?),
        None => None,
    };
    if q.service
        .as_deref()
        .is_some_and(|v| v.chars().count() > 100)
    {
        return Err(AdminError::Invalid(vec![(
            "service",
            "at most 100 characters".to_owned(),
        )]));
    }
    let list = s
        .app
        .accounts
        .list_delegations(
            q.service.as_deref().filter(|v| !v.trim().is_empty()),
            handle.as_ref(),
        )
        .await
        .map_err(account_error)?;
    Ok(Json(json!({ "delegations": list })).into_response())
}
