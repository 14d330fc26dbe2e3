//! `/admin/v1/clients`: register, list, show, replace, delete clients and
//! rotate their secrets. The secret appears once, in the answer that made it.

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use oauth::clients::{self, ClientSpec};

use super::error::{AdminError, JsonBody};
use super::{AdminState, AuditNote, client_json};

/// Longer ids were never issued; they are answered without a query.
const MAX_CLIENT_ID_LEN: usize = 128;

fn known_length(client_id: &str) -> Result<(), AdminError> {
    if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID_LEN {
        return Err(AdminError::ClientNotFound);
    }
    Ok(())
}

/// `GET /admin/v1/clients`: every client, oldest first, without secrets.
pub(super) async fn list(State(s): State<AdminState>) -> Result<Response, AdminError> {
    let all = clients::list_all(s.app.accounts.db()).await?;
    let body: Vec<_> = all.iter().map(|c| client_json(c, None)).collect();
    Ok(Json(body).into_response())
}

/// `POST /admin/v1/clients`: registers a client; 201 with its secret, once.
pub(super) async fn create(
    State(s): State<AdminState>,
    JsonBody(spec): JsonBody<ClientSpec>,
) -> Result<Response, AdminError> {
    let (c, secret) = clients::create(s.app.accounts.db(), &spec, s.app.clock.now()).await?;
    let note = AuditNote {
        client_id: Some(c.client_id.clone()),
        detail: None,
    };
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/admin/v1/clients/{}", c.client_id),
        )],
        Extension(note),
        Json(client_json(&c, secret.as_deref())),
    )
        .into_response())
}

/// `GET /admin/v1/clients/{client_id}`.
pub(super) async fn show(
    State(s): State<AdminState>,
    Path(client_id): Path<String>,
) -> Result<Response, AdminError> {
    known_length(&client_id)?;
    let c = clients::find(s.app.accounts.db(), &client_id)
        .await?
        .ok_or(AdminError::ClientNotFound)?;
    Ok(Json(client_json(&c, None)).into_response())
}

/// `PUT /admin/v1/clients/{client_id}`: replaces every setting with the body, a
/// full client spec. The kind and authentication method cannot change.
pub(super) async fn update(
    State(s): State<AdminState>,
    Path(client_id): Path<String>,
    JsonBody(spec): JsonBody<ClientSpec>,
) -> Result<Response, AdminError> {
    known_length(&client_id)?;
    let c = clients::update(s.app.accounts.db(), &client_id, &spec, s.app.clock.now()).await?;
    // This replica stops using the old settings at once; others within the
    // client cache's lifetime.
    s.app.oauth.clients.forget(&client_id);
    Ok(Json(client_json(&c, None)).into_response())
}

/// `DELETE /admin/v1/clients/{client_id}`: 204.
pub(super) async fn delete(
    State(s): State<AdminState>,
    Path(client_id): Path<String>,
) -> Result<Response, AdminError> {
    known_length(&client_id)?;
    clients::delete(s.app.accounts.db(), &client_id).await?;
    s.app.oauth.clients.forget(&client_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /admin/v1/clients/{client_id}/rotate-secret`: the new secret, once;
/// the old one stops working at once on this replica.
pub(super) async fn rotate_secret(
    State(s): State<AdminState>,
    Path(client_id): Path<String>,
) -> Result<Response, AdminError> {
    known_length(&client_id)?;
    let db = s.app.accounts.db();
    let secret = clients::rotate_secret(db, &client_id, s.app.clock.now()).await?;
    s.app.oauth.clients.forget(&client_id);
    let c = clients::find(db, &client_id)
        .await?
        .ok_or(AdminError::ClientNotFound)?;
    Ok(Json(client_json(&c, Some(&secret))).into_response())
}
