//! The account page.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};

use super::error::AppError;
use super::extract::CurrentSession;
use super::panel::Need;
use crate::panel_or_return;
use crate::state::AppState;
use views::routes;

pub async fn page(
    State(state): State<AppState>,
    session: CurrentSession,
) -> Result<Response, AppError> {
    let p = panel_or_return!(state, session, routes::ACCOUNT);
    p.require(Need::Read)?;
    Ok(
        Html(views::pages::account::account_page(p.lang, &p.account, &p.data.csrf).into_string())
            .into_response(),
    )
}
