//! The account page.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::error::AppError;
use super::extract::CurrentSession;
use super::pages;
use crate::state::AppState;

pub async fn page(
    State(state): State<AppState>,
    session: CurrentSession,
) -> Result<Response, AppError> {
    let Some((id, data)) = session.0 else {
        return Ok(Redirect::to("/login?next=/account").into_response());
    };
    let account = state.accounts.find_by_id(data.account_id).await?;
    match account {
        Some(a) if a.status == "active" && a.must_set_backup => {
            // Support promoted the backup address: a new one comes first.
            Ok(Redirect::to("/account/backup-email?next=/account").into_response())
        }
        Some(a) if a.status == "active" => {
            Ok(Html(pages::account_page(&a, &data.csrf).into_string()).into_response())
        }
        _ => {
            // Disabled or erased since login: the session ends here.
            state.sessions.destroy(&id).await?;
            Ok(Redirect::to("/login").into_response())
        }
    }
}
