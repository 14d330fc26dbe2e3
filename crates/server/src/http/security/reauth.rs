//! `GET`/`POST /account/reauth`: the password again before a security
//! change, then the second factor when the person has one.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use app::security::Reauth;

use super::{NextQuery, actor, redirect_with_session};
use crate::http::csrf::csrf_form;
use crate::http::error::AppError;
use crate::http::extract::ClientIp;
use crate::http::panel::Panel;
use crate::http::principal::PanelForm;
use crate::http::sign_in::safe_next;
use crate::state::AppState;
use app::seclog::Origin;
use app::session::throttle::retry_after_secs;
use views::components::Who;
use views::pages::mfa as mfa_pages;
use views::routes;
use views::text::tr;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReauthForm {
    csrf: String,
    password: String,
    next: String,
}

csrf_form!(ReauthForm => routes::SECURITY);

/// `GET /account/reauth`
pub async fn reauth_page(p: Panel, Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(&q.next);
    let page = mfa_pages::reauth(p.lang, Who::of(&p.account), &p.data.csrf, next, None);
    Html(page.into_string()).into_response()
}

/// The form again, with what went wrong.
fn refused(p: &Panel, next: &str, status: StatusCode, msg: &str) -> Response {
    let page = mfa_pages::reauth(p.lang, Who::of(&p.account), &p.data.csrf, next, Some(msg));
    (status, Html(page.into_string())).into_response()
}

/// `POST /account/reauth`. The throttle reservation is taken in
/// [`app::security::reauth`], before the password is looked at.
pub async fn reauth(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    PanelForm { panel: p, form: f }: PanelForm<ReauthForm>,
) -> Result<Response, AppError> {
    let next = safe_next(&f.next).to_owned();
    let who = actor(&p, Origin::default());
    match app::security::reauth(&state, &who, ip, f.password).await? {
        Reauth::Done {
            session_id,
            second_factor_due,
        } => {
            let target = if second_factor_due {
                routes::then(routes::LOGIN_2FA, &next)
            } else {
                next
            };
            Ok(redirect_with_session(&state, &target, &session_id))
        }
        Reauth::WrongPassword => {
            let msg = tr(p.lang, "page.field.wrong_password");
            Ok(refused(&p, &next, StatusCode::UNAUTHORIZED, msg))
        }
        Reauth::Throttled(wait) => {
            let secs = retry_after_secs(wait);
            let n = secs.to_string();
            let msg = app::i18n::format(tr(p.lang, "page.error.throttled"), &[("n", &n)]);
            let mut resp = refused(&p, &next, StatusCode::TOO_MANY_REQUESTS, &msg);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            Ok(resp)
        }
    }
}
