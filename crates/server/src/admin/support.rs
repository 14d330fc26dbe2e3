//! `/admin/v1/accounts/{account}/…`: the operator API over the support desk
//! (`app::support`), which the `guichet support` commands share.

use accounts::{AccountError, FieldProblem, Identifier, SupportCase};
use axum::Json;
use axum::extract::{Extension, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oauth::OAuthError;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

pub use app::support::{SupportDesk, SupportOutcome, account_summary, action_json};

use super::error::{AdminError, JsonBody};
use super::{AdminState, AuditNote, OperatorName};

impl From<app::AppError> for AdminError {
    fn from(e: app::AppError) -> Self {
        match e {
            app::AppError::Account(AccountError::NotFound) => Self::NotFound,
            app::AppError::Account(AccountError::Invalid(errs)) => Self::Invalid(
                errs.into_iter()
                    .map(|f| (f.field, f.problem.to_string()))
                    .collect(),
            ),
            app::AppError::NoBackupEmail
            | app::AppError::BackupEmailTaken
            | app::AppError::CannotReset => Self::BadRequest(StatusCode::CONFLICT, e.to_string()),
            app::AppError::OAuth(e) => Self::Internal(e),
            app::AppError::Mail(e) => Self::MailInternal(e),
            // The operator API has one generic internal error; the cause goes
            // with it into the log line it writes.
            other => Self::Internal(OAuthError::Internal(error_chain(&other))),
        }
    }
}

/// An error and its sources on one line, for logs.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// The body of every support flow: the support case it answers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CaseBody {
    /// The support ticket; required.
    #[serde(default)]
    case_ref: String,
}

/// The body of a primary-address replacement.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplaceBody {
    /// The support ticket; required.
    #[serde(default)]
    case_ref: String,
    /// The new primary address; required.
    #[serde(default)]
    email: String,
}

/// A body of a support flow: it names the support case it answers.
pub(super) trait SupportBody: DeserializeOwned + Send {
    /// The support case, or every problem with the body.
    fn case(&self, operator: &OperatorName) -> Result<SupportCase, AdminError>;
}

impl SupportBody for CaseBody {
    fn case(&self, operator: &OperatorName) -> Result<SupportCase, AdminError> {
        support_case(operator, &self.case_ref, Vec::new())
    }
}

impl SupportBody for ReplaceBody {
    /// The address is checked by the flow, but its absence is named here
    /// with the case's problems.
    fn case(&self, operator: &OperatorName) -> Result<SupportCase, AdminError> {
        let missing = if self.email.trim().is_empty() {
            vec![("email", FieldProblem::Required.to_string())]
        } else {
            Vec::new()
        };
        support_case(operator, &self.case_ref, missing)
    }
}

/// A support flow's request: the case its body answers (opened by the
/// operator making the request), the account its path names, and the body.
/// Refused in the order the flows have always checked them: an unreadable
/// body, then the case, then an account the path cannot name.
pub(super) struct SupportCall<B> {
    case: SupportCase,
    account: Identifier,
    body: B,
}

impl<B: SupportBody> FromRequest<AdminState> for SupportCall<B> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AdminState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Extension(operator) = Extension::<OperatorName>::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Path(account) = Path::<String>::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let req = Request::from_parts(parts, body);
        let JsonBody(body) = JsonBody::<B>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let case = body.case(&operator).map_err(IntoResponse::into_response)?;
        let account = target(&account).map_err(IntoResponse::into_response)?;
        Ok(Self {
            case,
            account,
            body,
        })
    }
}

/// The account a path names. One that cannot name any account is unknown
/// like one that names none.
fn target(account: &str) -> Result<Identifier, AdminError> {
    Identifier::parse(account).ok_or(AdminError::NotFound)
}

/// The support case, or every problem with the body (`extra` holds the
/// problems the caller found in its own fields).
fn support_case(
    operator: &OperatorName,
    case_ref: &str,
    mut extra: Vec<(&'static str, String)>,
) -> Result<SupportCase, AdminError> {
    let case = SupportCase::new(&operator.0, case_ref);
    match case {
        Ok(case) if extra.is_empty() => Ok(case),
        Ok(_) => Err(AdminError::Invalid(extra)),
        Err(AccountError::Invalid(errs)) => {
            let mut fields: Vec<_> = errs
                .into_iter()
                .map(|f| (f.field, f.problem.to_string()))
                .collect();
            fields.append(&mut extra);
            Err(AdminError::Invalid(fields))
        }
        Err(e) => Err(app::AppError::Account(e).into()),
    }
}

/// The answer of a flow, with the case and account for the audit line.
fn render(status: StatusCode, case: &SupportCase, out: &SupportOutcome) -> Response {
    let mut detail = format!("account={} case={}", out.account.handle, case.case_ref);
    if !out.incomplete.is_empty() {
        detail.push_str(&format!(" incomplete={}", out.incomplete.join(",")));
    }
    let note = AuditNote {
        client_id: None,
        detail: Some(detail),
    };
    (status, Extension(note), Json(out.to_json())).into_response()
}

/// `POST /admin/v1/accounts/{account}/promote-backup-email` `{"case_ref"}`.
pub(super) async fn promote_backup_email(
    State(s): State<AdminState>,
    SupportCall { case, account, .. }: SupportCall<CaseBody>,
) -> Result<Response, AdminError> {
    let out = s.support.promote_backup_email(&account, &case).await?;
    Ok(render(StatusCode::OK, &case, &out))
}

/// `POST /admin/v1/accounts/{account}/replace-primary-email`
/// `{"case_ref", "email"}`.
pub(super) async fn replace_primary_email(
    State(s): State<AdminState>,
    SupportCall {
        case,
        account,
        body,
    }: SupportCall<ReplaceBody>,
) -> Result<Response, AdminError> {
    let out = s
        .support
        .replace_primary_email(&account, &body.email, &case)
        .await?;
    Ok(render(StatusCode::OK, &case, &out))
}

/// `POST /admin/v1/accounts/{account}/disable-2fa` `{"case_ref"}`.
pub(super) async fn disable_two_factor(
    State(s): State<AdminState>,
    SupportCall { case, account, .. }: SupportCall<CaseBody>,
) -> Result<Response, AdminError> {
    let out = s.support.disable_two_factor(&account, &case).await?;
    Ok(render(StatusCode::OK, &case, &out))
}

/// `POST /admin/v1/accounts/{account}/send-password-reset` `{"case_ref"}`:
/// 202, the link on its way to the primary address.
pub(super) async fn send_password_reset(
    State(s): State<AdminState>,
    SupportCall { case, account, .. }: SupportCall<CaseBody>,
) -> Result<Response, AdminError> {
    let out = s.support.send_password_reset(&account, &case).await?;
    Ok(render(StatusCode::ACCEPTED, &case, &out))
}

/// `POST /admin/v1/accounts/{account}/end-sessions` `{"case_ref"}`.
pub(super) async fn end_sessions(
    State(s): State<AdminState>,
    SupportCall { case, account, .. }: SupportCall<CaseBody>,
) -> Result<Response, AdminError> {
    let out = s.support.end_sessions(&account, &case).await?;
    Ok(render(StatusCode::OK, &case, &out))
}

/// `GET /admin/v1/accounts/{account}/support-actions`: the account and its
/// support trail, newest first.
pub(super) async fn support_actions(
    State(s): State<AdminState>,
    Path(account): Path<String>,
) -> Result<Response, AdminError> {
    let id = target(&account)?;
    let (account, trail) = s.support.actions(&id).await?;
    let note = AuditNote {
        client_id: None,
        detail: Some(format!("account={}", account.handle)),
    };
    let body = json!({
        "account": account_summary(&account),
        "actions": trail.iter().map(action_json).collect::<Vec<_>>(),
    });
    Ok((Extension(note), Json(body)).into_response())
}
