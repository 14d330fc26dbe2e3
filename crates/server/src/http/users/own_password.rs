//! A local user's own password: the page and its JSON twin. The holder has
//! the account's password page instead.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use accounts::AccountError;
use app::password::{Caller, PasswordChange};

use super::api::{ApiError, UsersCaller};
use super::pages::{back_to, refused_plainly};
use super::{by, frame, page_refusal};
use crate::http::csrf::CsrfForm;
use crate::http::error::AppError;
use crate::http::panel::{Actor, Panel};
use crate::http::panel_json::with_session;
use crate::http::password::PasswordForm;
use crate::http::principal::{OwnWrite, PanelForm};
use crate::http::problem::{ApiJson, ProblemType};
use crate::state::AppState;
use app::i18n::t;
use app::seclog::Origin;
use views::pages::users as vu;
use views::routes;

/// The local user acting, or `None` for the holder.
fn local_user(p: &Panel) -> Option<(i32, &str)> {
    match &p.actor {
        Actor::User { id, login, .. } => Some((*id, login)),
        Actor::Holder => None,
    }
}

fn local_only(p: &Panel) -> Response {
    page_refusal(p, StatusCode::NOT_FOUND, "page.users.refused.local_only")
}

/// The change, with the calling session carried over to a new id.
async fn change(
    state: &AppState,
    p: &Panel,
    origin: &Origin,
    user_id: i32,
    change: PasswordChange,
) -> Result<String, app::AppError> {
    let caller = Caller {
        session_id: &p.session_id,
        data: &p.data,
    };
    app::users::change_own_password(&state.app, by(p), origin, user_id, caller, change).await
}

/// `GET /account/users/me/password`
pub async fn my_password_page(p: Panel) -> Result<Response, AppError> {
    let Some((_, login)) = local_user(&p) else {
        return Ok(local_only(&p));
    };
    Ok(Html(vu::my_password(&frame(&p), login, &[]).into_string()).into_response())
}

/// The holder's password form ([`crate::http::password::PasswordForm`]),
/// posted from a local user's own page, where a browser whose session ended
/// comes back to.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct MyPasswordForm(PasswordForm);

/// `POST /account/users/me/password`
pub async fn my_password(
    State(state): State<AppState>,
    origin: Origin,
    PanelForm {
        panel: p,
        form: MyPasswordForm(f),
    }: PanelForm<MyPasswordForm>,
) -> Result<Response, AppError> {
    let Some((id, login)) = local_user(&p) else {
        return Ok(local_only(&p));
    };
    let fields = f.into_change();
    match change(&state, &p, &origin, id, fields).await {
        Ok(new_id) => Ok(with_session(
            &state,
            back_to("password", login, ""),
            &new_id,
        )),
        Err(app::AppError::Account(AccountError::Invalid(errors))) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(vu::my_password(&frame(&p), login, &errors).into_string()),
        )
            .into_response()),
        Err(e) => refused_plainly(&p, e),
    }
}

/// The body of `POST /api/v1/account/users/me/password`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordBody {
    current_password: String,
    password: String,
    password_confirm: String,
}

/// `POST /api/v1/account/users/me/password`: a local user's own password.
/// 204; the calling session stays, every other one of the user ends.
pub async fn api_my_password(
    State(state): State<AppState>,
    origin: Origin,
    p: UsersCaller<OwnWrite>,
    ApiJson(b): ApiJson<PasswordBody>,
) -> Result<Response, ApiError> {
    let Some((id, _)) = local_user(&p) else {
        let refusal = t(p.lang, "page.users.refused.local_only");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemType::Forbidden,
            refusal,
        ));
    };
    let fields = PasswordChange::new(b.current_password, b.password, b.password_confirm);
    let new_id = change(&state, &p, &origin, id, fields)
        .await
        .map_err(|e| ApiError::from_app(p.lang, e))?;
    Ok(with_session(
        &state,
        StatusCode::NO_CONTENT.into_response(),
        &new_id,
    ))
}

impl CsrfForm for MyPasswordForm {
    const PAGE: &'static str = routes::MY_PASSWORD;
    fn csrf(&self) -> &str {
        self.0.csrf()
    }
}
