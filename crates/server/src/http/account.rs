//! The account page.

use axum::response::Html;

use super::error::AppError;
use super::panel::{Need, Panel};

pub async fn page(p: Panel) -> Result<Html<String>, AppError> {
    p.require(Need::Read)?;
    Ok(Html(
        views::pages::account::account_page(p.lang, &p.account, &p.data.csrf).into_string(),
    ))
}
