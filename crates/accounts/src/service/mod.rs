//! Sign-up, credential checks and operator actions on accounts.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::code::CustomerCode;
use crate::email::EmailAddress;
use crate::entity::account;
use crate::entity::account::AccountStatus;
use crate::error::{AccountError, FieldError, FieldProblem};
use crate::handle::{CustomerHandle, HandleSuffix};
use crate::names::{MAX_COMPANY_CHARS, MAX_NAME_CHARS, parse_country, parse_text};
use crate::password::{PasswordHasher, PasswordPolicy};
use crate::secret::Secret;
use crate::verification;

use crate::identifier::Identifier;

/// An account as stored.
pub type Account = account::Model;

/// How many handle and customer-code draws a sign-up tries before giving up. With
/// 990,000 numbers per pair of initials a collision is rare; twenty in a row would
/// mean the space is nearly full, which an operator must hear about.
const MAX_DRAWS: usize = 20;

/// The languages Guichet speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// English.
    En,
    /// French.
    Fr,
    /// Italian.
    It,
}

impl Language {
    /// Parses `en`, `fr` or `it`, in any case.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Self::En),
            "fr" => Some(Self::Fr),
            "it" => Some(Self::It),
            _ => None,
        }
    }

    /// The code stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
            Self::It => "it",
        }
    }
}

/// What a sign-up form or API call carries, as typed.
#[derive(Clone, Debug, Default)]
pub struct SignupRequest {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Primary email.
    pub primary_email: String,
    /// Backup email; empty for none.
    pub backup_email: String,
    /// The password.
    pub password: Secret,
    /// The password again.
    pub password_confirm: Secret,
    /// ISO country code.
    pub country: String,
    /// `en`, `fr` or `it`.
    pub language: String,
    /// `individual` or `company`.
    pub kind: String,
    /// Company name, required for companies.
    pub company_name: String,
}

impl Default for Secret {
    fn default() -> Self {
        Secret::new("")
    }
}

/// Something worth telling the new customer that did not stop the sign-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignupWarning {
    /// Primary and backup share a domain: losing that mailbox provider loses both.
    BackupSameDomain,
}

impl SignupWarning {
    /// A stable identifier.
    pub fn code(self) -> &'static str {
        match self {
            Self::BackupSameDomain => "backup_same_domain",
        }
    }
}

/// A created account, with what the welcome mail needs.
#[derive(Debug)]
pub struct SignupOutcome {
    /// The new account.
    pub account: Account,
    /// Warnings to show.
    pub warnings: Vec<SignupWarning>,
    /// The token of the link that verifies the primary email.
    pub verification_token: Secret,
}

/// What a sign-up whose fields were all valid came to.
#[derive(Debug)]
pub enum Signup {
    /// A new account.
    Created(SignupOutcome),
    /// The primary email belongs to an account already; nothing was created.
    AddressTaken(AddressTaken),
}

/// A sign-up naming the primary email of an existing account.
#[derive(Debug)]
pub struct AddressTaken {
    /// The account that holds the address, to be told of the attempt.
    pub owner: Account,
    /// The address as the sign-up gave it.
    pub primary_email: String,
    /// The warnings a created account would have had.
    pub warnings: Vec<SignupWarning>,
}

impl Signup {
    /// The warnings to show, the same whether or not an account was created.
    pub fn warnings(&self) -> &[SignupWarning] {
        match self {
            Self::Created(o) => &o.warnings,
            Self::AddressTaken(t) => &t.warnings,
        }
    }

    /// The primary email as the sign-up gave it (checked), the same whether
    /// or not an account was created.
    pub fn primary_email(&self) -> &str {
        match self {
            Self::Created(o) => o.account.primary_email.as_deref().unwrap_or_default(),
            Self::AddressTaken(t) => &t.primary_email,
        }
    }
}

struct ValidSignup {
    first_name: String,
    last_name: String,
    primary: EmailAddress,
    backup: Option<EmailAddress>,
    country: String,
    language: Language,
    kind: &'static str,
    company_name: Option<String>,
}

/// The accounts service: everything the rest of Guichet asks of accounts.
#[derive(Clone)]
pub struct Accounts {
    pub(crate) db: DatabaseConnection,
    pub(crate) hasher: PasswordHasher,
    pub(crate) policy: PasswordPolicy,
    suffix: HandleSuffix,
    clock: clock::Clock,
}

impl Accounts {
    /// Builds the service over a database.
    pub fn new(
        db: DatabaseConnection,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        suffix: HandleSuffix,
    ) -> Self {
        Self {
            db,
            hasher,
            policy,
            suffix,
            clock: clock::Clock::system(),
        }
    }

    /// Replaces the clock, so tests can move time without sleeping.
    pub fn with_clock(mut self, clock: clock::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The database this service writes to.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The password policy in force.
    pub fn policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The clock this service reads, for the services built beside it.
    pub fn clock(&self) -> &clock::Clock {
        &self.clock
    }

    /// Signs up: checks every field, then creates the account, unless its
    /// primary email already belongs to one. Either everything is stored
    /// (account and its email verification link) or nothing is, and every
    /// refused field is reported. Once the fields are valid, a taken address
    /// is not an error but [`Signup::AddressTaken`]: nothing is created, and
    /// the caller must answer exactly as for [`Signup::Created`] (the holder
    /// hears of it by mail), so that sign-up never tells whether an address
    /// has an account. Both cases hash the password, so they take as long.
    #[tracing::instrument(skip_all)]
    pub async fn signup(&self, req: SignupRequest) -> Result<Signup, AccountError> {
        let (valid, mut errors) = validate_signup(&req);
        if let Some(v) = &valid {
            let mut personal = vec![
                v.first_name.as_str(),
                v.last_name.as_str(),
                v.primary.local_part(),
            ];
            if let Some(b) = &v.backup {
                personal.push(b.local_part());
            }
            if let Err(p) = self.policy.check(&req.password, &personal) {
                errors.push(FieldError {
                    field: "password",
                    problem: p,
                });
            }
        } else if let Err(p) = self.policy.check(&req.password, &[]) {
            errors.push(FieldError {
                field: "password",
                problem: p,
            });
        }
        if req.password.expose() != req.password_confirm.expose() {
            errors.push(FieldError {
                field: "password_confirm",
                problem: FieldProblem::PasswordMismatch,
            });
        }
        let Some(v) = valid.filter(|_| errors.is_empty()) else {
            errors.sort_by_key(|e| field_order(e.field));
            return Err(AccountError::Invalid(errors));
        };

        // Hashed before the address is looked up, whatever the lookup finds:
        // the taken path costs what the accepted one does.
        let password_hash = self.hasher.hash(&req.password).await?;
        let mut warnings = Vec::new();
        if v.backup
            .as_ref()
            .is_some_and(|b| b.domain() == v.primary.domain())
        {
            warnings.push(SignupWarning::BackupSameDomain);
        }
        let taken = |owner: Account, warnings: Vec<SignupWarning>| {
            tracing::info!("sign-up for an address that has an account; nothing created");
            Signup::AddressTaken(AddressTaken {
                owner,
                primary_email: v.primary.as_str().to_owned(),
                warnings,
            })
        };
        if let Some(owner) = self.find_by_email(&v.primary).await? {
            return Ok(taken(owner, warnings));
        }

        for _ in 0..MAX_DRAWS {
            let (handle, code, subject) = {
                let mut rng = rand::thread_rng();
                (
                    CustomerHandle::generate(&v.first_name, &v.last_name, &self.suffix, &mut rng),
                    CustomerCode::generate(&mut rng),
                    uuid::Uuid::new_v4().simple().to_string(),
                )
            };
            if req
                .password
                .expose()
                .to_lowercase()
                .contains(handle.as_str())
            {
                // The policy forbids the handle inside the password; drawing another
                // handle is kinder than refusing the password.
                continue;
            }
            let now = self.now();
            let row = account::ActiveModel {
                subject: Set(subject),
                handle: Set(handle.as_str().to_owned()),
                customer_code: Set(code.as_str().to_owned()),
                first_name: Set(v.first_name.clone()),
                last_name: Set(v.last_name.clone()),
                primary_email: Set(Some(v.primary.as_str().to_owned())),
                primary_email_lower: Set(Some(v.primary.normalized())),
                primary_email_verified: Set(false),
                backup_email: Set(v.backup.as_ref().map(|b| b.as_str().to_owned())),
                password_hash: Set(Some(password_hash.clone())),
                country: Set(v.country.clone()),
                language: Set(v.language.as_str().to_owned()),
                kind: Set(v.kind.to_owned()),
                company_name: Set(v.company_name.clone()),
                status: Set(AccountStatus::Active),
                login_notifications: Set(true),
                must_set_backup: Set(false),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            };
            let txn = dbtx::write(&self.db).await?;
            match row.insert(&txn).await {
                Ok(account) => {
                    let token =
                        verification::create(&txn, account.id, &v.primary.normalized(), now)
                            .await?;
                    txn.commit().await?;
                    tracing::info!(handle = %account.handle, "account created");
                    return Ok(Signup::Created(SignupOutcome {
                        account,
                        warnings,
                        verification_token: token,
                    }));
                }
                Err(e) if crate::error::is_unique_violation(&e) => {
                    txn.rollback().await?;
                    // A concurrent sign-up may have taken the email between the
                    // check above and this insert; otherwise the draw collided.
                    if let Some(owner) = self.find_by_email(&v.primary).await? {
                        return Ok(taken(owner, warnings));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AccountError::Internal(format!(
            "no free customer handle after {MAX_DRAWS} draws"
        )))
    }

    /// Finds the account an identifier names, whatever its status.
    /// For a local user, that is the user's account.
    pub async fn find(&self, id: &Identifier) -> Result<Option<Account>, AccountError> {
        let id = match id {
            Identifier::User { account, .. } => account.as_ref(),
            other => other,
        };
        let q = account::Entity::find();
        let q = match id {
            Identifier::Handle(h) => q.filter(account::Column::Handle.eq(h.as_str())),
            Identifier::Email(e) => q.filter(account::Column::PrimaryEmailLower.eq(e.normalized())),
            Identifier::Code(c) => q.filter(account::Column::CustomerCode.eq(c.as_str())),
            Identifier::User { .. } => return Ok(None),
        };
        Ok(q.one(&self.db).await?)
    }

    /// Finds an account by the subject relying parties know it by.
    pub async fn find_by_subject(&self, subject: &str) -> Result<Option<Account>, AccountError> {
        Ok(account::Entity::find()
            .filter(account::Column::Subject.eq(subject))
            .one(&self.db)
            .await?)
    }

    /// Finds an account by its internal id.
    pub async fn find_by_id(&self, id: i32) -> Result<Option<Account>, AccountError> {
        Ok(account::Entity::find_by_id(id).one(&self.db).await?)
    }

    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<Account>, AccountError> {
        self.find(&Identifier::Email(email.clone())).await
    }

    /// Checks a password for an account found by [`Accounts::find`] (or `None` when
    /// nothing was found). Unknown account, wrong password and disabled account all
    /// give `InvalidCredentials` after one full hash, so neither the answer nor its
    /// timing tells them apart.
    pub async fn authenticate(
        &self,
        account: Option<Account>,
        password: &Secret,
    ) -> Result<Account, AccountError> {
        let stored = account.as_ref().and_then(|a| a.password_hash.as_deref());
        let ok = self.hasher.verify(password, stored).await?;
        match account {
            Some(a) if ok && a.status == AccountStatus::Active => Ok(a),
            _ => Err(AccountError::InvalidCredentials),
        }
    }

    /// Sets an account's status (operators).
    pub async fn set_status(
        &self,
        id: &Identifier,
        status: AccountStatus,
    ) -> Result<Account, AccountError> {
        let Some(a) = self.find(id).await? else {
            return Err(AccountError::NotFound);
        };
        if a.status == AccountStatus::Erased {
            return Err(AccountError::NotFound);
        }
        let mut row: account::ActiveModel = a.into();
        row.status = Set(status);
        row.updated_at = Set(self.now());
        Ok(row.update(&self.db).await?)
    }

    /// Uses a primary-email verification link. Single use: of two concurrent
    /// uses, one succeeds.
    pub async fn verify_email(&self, token: &Secret) -> Result<Account, AccountError> {
        let now = self.now();
        let Some(link) = verification::consume(&self.db, token, now).await? else {
            return Err(AccountError::InvalidLink);
        };
        let res = account::Entity::update_many()
            .col_expr(account::Column::PrimaryEmailVerified, Expr::value(true))
            .col_expr(account::Column::UpdatedAt, Expr::value(now))
            .filter(account::Column::Id.eq(link.account_id))
            .filter(account::Column::PrimaryEmailLower.eq(link.email.clone()))
            .exec(&self.db)
            .await?;
        if res.rows_affected == 0 {
            // The primary address changed since the link was sent.
            return Err(AccountError::InvalidLink);
        }
        self.find_by_id(link.account_id)
            .await?
            .ok_or(AccountError::InvalidLink)
    }
}

fn field_order(field: &str) -> usize {
    const ORDER: [&str; 10] = [
        "first_name",
        "last_name",
        "primary_email",
        "backup_email",
        "password",
        "password_confirm",
        "country",
        "language",
        "kind",
        "company_name",
    ];
    ORDER
        .iter()
        .position(|f| *f == field)
        .unwrap_or(ORDER.len())
}

/// Parses every field, collecting all problems so the form can show them at once.
fn validate_signup(req: &SignupRequest) -> (Option<ValidSignup>, Vec<FieldError>) {
    let mut errors = Vec::new();
    let mut note = |field: &'static str, problem: FieldProblem| {
        errors.push(FieldError { field, problem });
    };
    let first_name = parse_text(&req.first_name, MAX_NAME_CHARS)
        .map_err(|p| note("first_name", p))
        .ok();
    let last_name = parse_text(&req.last_name, MAX_NAME_CHARS)
        .map_err(|p| note("last_name", p))
        .ok();
    let primary = if req.primary_email.trim().is_empty() {
        note("primary_email", FieldProblem::Required);
        None
    } else {
        let p = EmailAddress::parse(&req.primary_email);
        if p.is_none() {
            note("primary_email", FieldProblem::InvalidEmail);
        }
        p
    };
    let backup = if req.backup_email.trim().is_empty() {
        Some(None)
    } else {
        match EmailAddress::parse(&req.backup_email) {
            None => {
                note("backup_email", FieldProblem::InvalidEmail);
                None
            }
            Some(b)
                if primary
                    .as_ref()
                    .is_some_and(|p| p.normalized() == b.normalized()) =>
            {
                note("backup_email", FieldProblem::BackupSameAsPrimary);
                None
            }
            Some(b) => Some(Some(b)),
        }
    };
    let country = parse_country(&req.country)
        .map_err(|p| note("country", p))
        .ok();
    let language = match Language::parse(&req.language) {
        Some(l) => Some(l),
        None => {
            note("language", FieldProblem::UnknownLanguage);
            None
        }
    };
    let (kind, company_name) = match req.kind.trim() {
        "individual" => (Some("individual"), Some(None)),
        "company" => match parse_text(&req.company_name, MAX_COMPANY_CHARS) {
            Ok(c) => (Some("company"), Some(Some(c))),
            Err(p) => {
                note("company_name", p);
                (Some("company"), None)
            }
        },
        _ => {
            note("kind", FieldProblem::UnknownKind);
            (None, None)
        }
    };
    let valid = match (
        first_name,
        last_name,
        primary,
        backup,
        country,
        language,
        kind,
        company_name,
    ) {
        (Some(f), Some(l), Some(p), Some(b), Some(c), Some(lang), Some(k), Some(co)) => {
            Some(ValidSignup {
                first_name: f,
                last_name: l,
                primary: p,
                backup: b,
                country: c,
                language: lang,
                kind: k,
                company_name: co,
            })
        }
        _ => None,
    };
    (valid, errors)
}

#[cfg(test)]
mod tests;
