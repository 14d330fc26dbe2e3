//! The account's profile: name, company, postal address, phone, country,
//! language.

use accounts::{Account, AccountError, EventKind, Profile, ProfileInput};

use crate::error::AppError;
use crate::seclog::{self, Origin};
use crate::services::App;

/// Checks every field and saves them all, or none (the refused fields as
/// `AccountError::Invalid`); the security log gets its line.
pub async fn save(
    app: &App,
    account_id: i32,
    user_id: Option<i32>,
    input: &ProfileInput,
    origin: &Origin,
) -> Result<Account, AppError> {
    let profile = Profile::parse(input).map_err(AccountError::Invalid)?;
    let account = app.accounts.update_profile(account_id, &profile).await?;
    seclog::record(
        app,
        account_id,
        user_id,
        EventKind::ProfileChanged,
        "",
        origin,
    )
    .await;
    Ok(account)
}
