//! Sign-up: the form, its JSON twin, and the page that follows.
//!
//! Neither tells whether an address already has an account: once every field
//! is valid, a sign-up naming a taken primary email gets the very answer a
//! new one gets, and the difference reaches only the address's mailbox (the
//! welcome mail with the new handle, or a notice to the holder). That is why
//! the answer never shows the handle or the customer code. Both call
//! [`app::signup::sign_up`], which counts them against the limits first.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use accounts::{AccountError, Secret, Signup, SignupRequest, SignupWarning};

use super::csrf::csrf_form;
use super::csrf::{FormToken, GuestForm};
use super::error::AppError;
use super::extract::ClientIp;
use super::locale::current_lang;
use super::problem::{ApiJson, Problem, ProblemType};
use crate::state::AppState;
use views::pages::signup::SignupValues;
use views::routes;

/// The sign-up fields, as the form and the JSON API send them. Missing fields are
/// empty, so that they are reported as required like any other problem.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SignupInput {
    first_name: String,
    last_name: String,
    primary_email: String,
    backup_email: String,
    password: String,
    password_confirm: String,
    country: String,
    language: String,
    kind: String,
    company_name: String,
    csrf: String,
}

csrf_form!(SignupInput => routes::SIGNUP);

impl SignupInput {
    fn into_parts(self) -> (SignupRequest, SignupValues) {
        let values = SignupValues {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            primary_email: self.primary_email.clone(),
            backup_email: self.backup_email.clone(),
            country: self.country.clone(),
            language: self.language.clone(),
            kind: self.kind.clone(),
            company_name: self.company_name.clone(),
        };
        let req = SignupRequest {
            first_name: self.first_name,
            last_name: self.last_name,
            primary_email: self.primary_email,
            backup_email: self.backup_email,
            password: Secret::new(self.password),
            password_confirm: Secret::new(self.password_confirm),
            country: self.country,
            language: self.language,
            kind: self.kind,
            company_name: self.company_name,
        };
        (req, values)
    }
}

pub async fn page(State(state): State<AppState>, form: FormToken) -> Response {
    let body = views::pages::signup::signup_form(
        current_lang(),
        &SignupValues::default(),
        &[],
        &form.token,
        state.accounts.policy().min_chars,
    );
    (form.cookie, Html(body.into_string())).into_response()
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    GuestForm { form: input, token }: GuestForm<SignupInput>,
) -> Result<Response, AppError> {
    let (req, values) = input.into_parts();
    match app::signup::sign_up(&state, ip, req).await {
        Ok(outcome) => {
            let warn = outcome
                .warnings()
                .contains(&SignupWarning::BackupSameDomain);
            let to = if warn {
                routes::with_query(routes::SIGNUP_DONE, &[("warning", "backup_same_domain")])
            } else {
                routes::SIGNUP_DONE.to_owned()
            };
            Ok(Redirect::to(&to).into_response())
        }
        Err(app::AppError::Account(AccountError::Invalid(errors))) => {
            let body = views::pages::signup::signup_form(
                current_lang(),
                &values,
                &errors,
                &token.token,
                state.accounts.policy().min_chars,
            );
            let page = (StatusCode::UNPROCESSABLE_ENTITY, Html(body.into_string()));
            Ok((token.cookie, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    warning: String,
}

/// `GET /signup/done`: the handle and the link that confirms the address are
/// in the mailbox.
pub async fn done(Query(q): Query<DoneQuery>) -> Html<String> {
    Html(
        views::pages::signup::signup_done(current_lang(), q.warning == "backup_same_domain")
            .into_string(),
    )
}

/// `POST /api/v1/signup`: the JSON twin of the form. No CSRF token: a browser
/// cannot send `application/json` cross-site without a CORS preflight, which
/// Guichet never grants here.
pub async fn api(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(input): ApiJson<SignupInput>,
) -> Response {
    let (req, _) = input.into_parts();
    match app::signup::sign_up(&state, ip, req).await {
        Ok(outcome) => accepted(&outcome),
        Err(app::AppError::Account(AccountError::Invalid(errors))) => {
            super::panel_json::invalid(current_lang(), &errors)
        }
        Err(app::AppError::Account(e)) => {
            tracing::error!(error = %e, "sign-up failed");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ProblemType::Internal,
                views::text::tr(current_lang(), "page.signup.nothing_created"),
            )
            .into_response()
        }
        Err(e) => super::panel_json::from_app(current_lang(), e.into()),
    }
}

/// 202: what happens next reaches the mailbox, and this answer is the same
/// whether or not the address already had an account.
fn accepted(outcome: &Signup) -> Response {
    let warnings: Vec<_> = outcome
        .warnings()
        .iter()
        .map(|w| json!({"code": w.code(), "message": warning_text(*w)}))
        .collect();
    let body = json!({
        "status": "accepted",
        "message": views::text::tr(current_lang(), "page.signup_done.check_mail"),
        "primary_email": outcome.primary_email(),
        "warnings": warnings,
    });
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

fn warning_text(w: SignupWarning) -> &'static str {
    match w {
        SignupWarning::BackupSameDomain => {
            views::text::tr(current_lang(), "page.signup.same_domain")
        }
    }
}
