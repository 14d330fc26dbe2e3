//! `/account/profile` and its JSON twin `/api/v1/account/profile`: name,
//! company, postal address, phone, country, language.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::Markup;
use serde::Deserialize;
use serde_json::json;

use accounts::{Account, AccountError, FieldError, ProfileInput};

use super::csrf::csrf_form;
use super::error::AppError;
use super::extract::{ClientIp, UserAgent};
use super::panel::{Need, Panel};
use super::panel_json;
use super::principal::{ApiPanel, PanelForm, Read, Write};
use super::problem::ApiJson;
use crate::state::AppState;
use app::seclog::Origin;
use views::components::Who;
use views::pages::panel as panel_pages;
use views::routes;

/// The form's values for what the account holds now.
fn values_of(a: &Account) -> ProfileInput {
    ProfileInput {
        first_name: a.first_name.clone(),
        last_name: a.last_name.clone(),
        kind: a.kind.clone(),
        company_name: a.company_name.clone().unwrap_or_default(),
        address_line1: a.address_line1.clone().unwrap_or_default(),
        address_line2: a.address_line2.clone().unwrap_or_default(),
        postcode: a.postcode.clone().unwrap_or_default(),
        city: a.city.clone().unwrap_or_default(),
        region: a.region.clone().unwrap_or_default(),
        phone: a.phone.clone().unwrap_or_default(),
        country: a.country.clone(),
        language: a.language.clone(),
    }
}

/// The profile as the JSON API gives it.
fn profile_json(a: &Account) -> serde_json::Value {
    let address = a.address_line1.as_ref().map(|line1| {
        json!({
            "line1": line1,
            "line2": a.address_line2,
            "postcode": a.postcode,
            "city": a.city,
            "region": a.region,
        })
    });
    json!({
        "handle": a.handle,
        "customer_code": a.customer_code,
        "first_name": a.first_name,
        "last_name": a.last_name,
        "kind": a.kind,
        "company_name": a.company_name,
        "address": address,
        "phone": a.phone,
        "country": a.country,
        "language": a.language,
    })
}

fn page(p: &Panel, v: &ProfileInput, errors: &[FieldError], saved: bool) -> Markup {
    panel_pages::profile(
        p.lang,
        Who::of(&p.account),
        &p.data.csrf,
        v,
        errors,
        saved,
        p.require(Need::Write).is_ok(),
    )
}

/// `?saved=1` after a save.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SavedQuery {
    saved: String,
}

/// `GET /account/profile`
pub async fn show(p: Panel, Query(q): Query<SavedQuery>) -> Result<Response, AppError> {
    p.require(Need::Read)?;
    let v = values_of(&p.account);
    Ok(Html(page(&p, &v, &[], q.saved == "1").into_string()).into_response())
}

/// The form: the profile fields and the token.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProfileForm {
    csrf: String,
    #[serde(flatten)]
    fields: ProfileInput,
}

/// `POST /account/profile`: every field checked; nothing saved unless all
/// are right.
pub async fn save(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    PanelForm { panel: p, form: f }: PanelForm<ProfileForm>,
) -> Result<Response, AppError> {
    p.require(Need::Write)?;
    let origin = Origin::new(ip, &ua);
    match app::profile::save(&state.app, p.account.id, p.user_id(), &f.fields, &origin).await {
        Ok(_) => Ok(
            Redirect::to(&routes::with_query(routes::PROFILE, &[("saved", "1")])).into_response(),
        ),
        Err(app::AppError::Account(AccountError::Invalid(errors))) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(page(&p, &bounded(&f.fields), &errors, false).into_string()),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// What is shown back after an error, each field cut to a sane length so an
/// oversized value is not echoed whole.
fn bounded(v: &ProfileInput) -> ProfileInput {
    let cut = |s: &str| s.chars().take(256).collect::<String>();
    ProfileInput {
        first_name: cut(&v.first_name),
        last_name: cut(&v.last_name),
        kind: cut(&v.kind),
        company_name: cut(&v.company_name),
        address_line1: cut(&v.address_line1),
        address_line2: cut(&v.address_line2),
        postcode: cut(&v.postcode),
        city: cut(&v.city),
        region: cut(&v.region),
        phone: cut(&v.phone),
        country: cut(&v.country),
        language: cut(&v.language),
    }
}

/// `GET /api/v1/account/profile`
pub async fn api_show(p: ApiPanel<Read>) -> Response {
    Json(profile_json(&p.account)).into_response()
}

/// `PUT /api/v1/account/profile`: the same fields as the form, as JSON, with
/// the session's token in `X-CSRF-Token`.
pub async fn api_save(
    State(state): State<AppState>,
    p: ApiPanel<Write>,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    ApiJson(input): ApiJson<ProfileInput>,
) -> Response {
    let lang = p.lang;
    let run = async {
        let origin = Origin::new(ip, &ua);
        let a = app::profile::save(&state.app, p.account.id, p.user_id(), &input, &origin).await?;
        Ok::<_, AppError>(Json(profile_json(&a)).into_response())
    };
    panel_json::answer(lang, run.await)
}

csrf_form!(ProfileForm => routes::PROFILE);
