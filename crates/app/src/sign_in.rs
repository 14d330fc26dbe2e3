//! The last step of every sign-in (password alone, or after a second factor
//! or a mailed code): the same for each path, so that no path forgets a part.

use accounts::{Account, EventKind};

use crate::error::AppError;
use crate::seclog::{self, Origin};
use crate::services::App;
use crate::session::{SessionData, random_token};

/// Length of a device cookie's value (32 random bytes, base64url): anything
/// else is not ours and is replaced.
const DEVICE_COOKIE_LEN: usize = 43;

/// A sign-in completed: what the adapter hands back to the browser.
#[derive(Debug)]
pub struct SignedIn {
    /// The new session's id (a fresh one: never the id before login, so a
    /// planted id cannot be fixed on the victim).
    pub session_id: String,
    /// The device cookie's value: the one the browser sent when it was ours,
    /// else a new one.
    pub device: String,
    /// Support promoted the backup address to primary: the holder must name a
    /// new backup address before going on.
    pub must_set_backup: bool,
}

/// Opens the session for `data`, records the login in the security log,
/// remembers the device, and mails a login notification when the device is
/// new to the holder and they asked for it. `device` is the device cookie as
/// the browser sent it.
pub async fn complete(
    app: &App,
    account: &Account,
    data: &SessionData,
    device: Option<&str>,
) -> Result<SignedIn, AppError> {
    let session_id = app.sessions.create(data).await?;
    seclog::record(
        app,
        account.id,
        data.user_id,
        EventKind::Login,
        &data.amr.join(" "),
        &Origin::new(&data.ip, &data.user_agent),
    )
    .await;
    let device = device
        .filter(|d| d.len() == DEVICE_COOKIE_LEN)
        .map(str::to_owned)
        .unwrap_or_else(random_token);
    let is_new = app
        .accounts
        .remember_device(
            account.id,
            &device_key(&device, data.user_id),
            &data.user_agent,
        )
        .await?;
    let is_holder = data.user_id.is_none();
    if is_new && account.login_notifications && is_holder {
        let when = app.clock.now();
        if let Some(mail) =
            crate::notify::new_device_login(&app.config, account, when, &data.ip, &data.user_agent)
        {
            crate::notify::send_later(app, mail);
        }
    }
    Ok(SignedIn {
        session_id,
        device,
        must_set_backup: account.must_set_backup && is_holder,
    })
}

/// What a device is remembered under: the cookie for the holder; for a
/// local user, the cookie tied to that user, so that a local user's login
/// never makes the device known for the holder (nor for another user).
pub fn device_key(device: &str, user_id: Option<i32>) -> String {
    match user_id {
        None => device.to_owned(),
        Some(uid) => format!("{device}/user:{uid}"),
    }
}
