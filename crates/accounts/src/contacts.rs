//! Service contacts: an account hands the administrative, technical or
//! billing contact of one of its services to another customer, who accepts
//! or refuses. Billing and service systems read the result through the
//! operator API.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::contact_delegation::DelegationStatus;
use crate::entity::{account, contact_delegation};
use crate::error::{AccountError, FieldError, FieldProblem};
use crate::handle::CustomerHandle;
use crate::service::Accounts;

/// The longest service name, in characters.
pub const MAX_SERVICE_CHARS: usize = 100;

/// Which contact of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactRole {
    /// Contracts and legal matters.
    Administrative,
    /// Operations.
    Technical,
    /// Invoices.
    Billing,
}

impl ContactRole {
    /// Every role, in display order.
    pub const ALL: [ContactRole; 3] = [Self::Administrative, Self::Technical, Self::Billing];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Administrative => "administrative",
            Self::Technical => "technical",
            Self::Billing => "billing",
        }
    }

    /// Reads [`ContactRole::as_str`]'s names.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }
}

/// A delegation as both accounts and operators see it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Delegation {
    /// Its id, for accept, refuse and cancel.
    pub id: i32,
    /// The service.
    pub service: String,
    /// `administrative`, `technical` or `billing`.
    pub role: String,
    /// Pending or accepted (refused and cancelled ones are not listed).
    pub status: DelegationStatus,
    /// The handle of the account handing the contact over.
    pub from_handle: String,
    /// The handle of the account asked to be the contact.
    pub to_handle: String,
    /// When asked.
    pub created_at: DateTime<Utc>,
    /// When answered.
    pub answered_at: Option<DateTime<Utc>>,
}

/// Checks a service name: required, at most [`MAX_SERVICE_CHARS`], printable.
pub fn parse_service(input: &str) -> Result<String, FieldProblem> {
    let s = input.trim();
    if s.is_empty() {
        return Err(FieldProblem::Required);
    }
    if s.chars().count() > MAX_SERVICE_CHARS {
        return Err(FieldProblem::TooLong {
            max: MAX_SERVICE_CHARS,
        });
    }
    if s.chars().any(char::is_control) {
        return Err(FieldProblem::BadCharacters);
    }
    Ok(s.to_owned())
}

const LISTED: [DelegationStatus; 2] = [DelegationStatus::Pending, DelegationStatus::Accepted];

/// A contact request as the requester may know it: what was asked of which
/// handle, and the delegation when an account holds that handle (never to be
/// shown to the requester, whose answer must not depend on it).
#[derive(Clone, Debug)]
pub struct Asked {
    /// The service, as checked.
    pub service: String,
    /// The contact asked for.
    pub role: ContactRole,
    /// The handle asked, as checked.
    pub to_handle: CustomerHandle,
    /// The stored request, when an active account holds the handle.
    pub delegation: Option<Delegation>,
}

impl Accounts {
    /// Asks the account named `to_handle` to be the `role` contact of
    /// `service`. Every refused field is reported; nothing is stored then.
    /// A well-formed handle that no other active account holds is not an
    /// error: the request is [`Asked`] all the same, with no delegation and
    /// nothing stored, so that the requester cannot tell whether a handle
    /// exists.
    pub async fn request_delegation(
        &self,
        from_account_id: i32,
        service: &str,
        role: &str,
        to_handle: &str,
    ) -> Result<Asked, AccountError> {
        let mut errors = Vec::new();
        let service = parse_service(service)
            .map_err(|p| {
                errors.push(FieldError {
                    field: "service",
                    problem: p,
                })
            })
            .ok();
        let role_in = role;
        let role = ContactRole::parse(role_in);
        if role.is_none() {
            errors.push(FieldError {
                field: "role",
                problem: if role_in.trim().is_empty() {
                    FieldProblem::Required
                } else {
                    FieldProblem::UnknownKind
                },
            });
        }
        let Some(from) = self.find_by_id(from_account_id).await? else {
            return Err(AccountError::NotFound);
        };
        let to = if to_handle.trim().is_empty() {
            errors.push(FieldError {
                field: "handle",
                problem: FieldProblem::Required,
            });
            None
        } else {
            match CustomerHandle::parse(to_handle) {
                // Naming oneself tells nothing about anyone else.
                Some(h) if h.as_str() == from.handle => {
                    errors.push(FieldError {
                        field: "handle",
                        problem: FieldProblem::HandleMismatch,
                    });
                    None
                }
                Some(h) => Some(h),
                // Not a handle at all: no account could hold it.
                None => {
                    errors.push(FieldError {
                        field: "handle",
                        problem: FieldProblem::UnknownHandle,
                    });
                    None
                }
            }
        };
        let (Some(service), Some(role), Some(to), true) = (service, role, to, errors.is_empty())
        else {
            return Err(AccountError::Invalid(errors));
        };
        let holder = account::Entity::find()
            .filter(account::Column::Handle.eq(to.as_str()))
            .filter(account::Column::Status.eq("active"))
            .one(&self.db)
            .await?;
        let delegation = match holder {
            Some(holder) => {
                let row = contact_delegation::ActiveModel {
                    from_account_id: Set(from_account_id),
                    to_account_id: Set(holder.id),
                    service: Set(service.clone()),
                    role: Set(role.as_str().to_owned()),
                    status: Set(DelegationStatus::Pending),
                    created_at: Set(self.now()),
                    answered_at: Set(None),
                    ..Default::default()
                }
                .insert(&self.db)
                .await?;
                Some(view(row, from.handle, holder.handle))
            }
            None => None,
        };
        Ok(Asked {
            service,
            role,
            to_handle: to,
            delegation,
        })
    }

    /// The delegations an account was asked, and those it asked for once
    /// accepted, newest first. A request still waiting is listed to the
    /// account asked only: listing it to the requester would tell them that
    /// the handle they typed exists.
    pub async fn contacts_of(&self, account_id: i32) -> Result<Vec<Delegation>, AccountError> {
        let rows = contact_delegation::Entity::find()
            .filter(
                Condition::any()
                    .add(
                        Condition::all()
                            .add(contact_delegation::Column::ToAccountId.eq(account_id))
                            .add(contact_delegation::Column::Status.is_in(LISTED)),
                    )
                    .add(
                        Condition::all()
                            .add(contact_delegation::Column::FromAccountId.eq(account_id))
                            .add(contact_delegation::Column::Status.eq(DelegationStatus::Accepted)),
                    ),
            )
            .order_by_desc(contact_delegation::Column::Id)
            .all(&self.db)
            .await?;
        self.with_handles(rows).await
    }

    /// The account asked answers a pending delegation. `Conflict` when it is
    /// not pending any more, `NotFound` when it is not addressed to them.
    pub async fn answer_delegation(
        &self,
        account_id: i32,
        id: i32,
        accept: bool,
    ) -> Result<(), AccountError> {
        let status = if accept {
            DelegationStatus::Accepted
        } else {
            DelegationStatus::Refused
        };
        self.move_delegation(
            id,
            contact_delegation::Column::ToAccountId.eq(account_id),
            &[DelegationStatus::Pending],
            status,
        )
        .await
    }

    /// The requester takes back a pending or accepted delegation.
    pub async fn cancel_delegation(&self, account_id: i32, id: i32) -> Result<(), AccountError> {
        self.move_delegation(
            id,
            contact_delegation::Column::FromAccountId.eq(account_id),
            &LISTED,
            DelegationStatus::Cancelled,
        )
        .await
    }

    async fn move_delegation(
        &self,
        id: i32,
        owner: sea_orm::sea_query::SimpleExpr,
        from: &[DelegationStatus],
        to: DelegationStatus,
    ) -> Result<(), AccountError> {
        // One conditional UPDATE: of an accept and a cancel racing, one wins.
        let res = contact_delegation::Entity::update_many()
            .col_expr(contact_delegation::Column::Status, Expr::value(to))
            .col_expr(
                contact_delegation::Column::AnsweredAt,
                Expr::value(Some(self.now())),
            )
            .filter(contact_delegation::Column::Id.eq(id))
            .filter(owner.clone())
            .filter(contact_delegation::Column::Status.is_in(from.iter().copied()))
            .exec(&self.db)
            .await?;
        if res.rows_affected == 1 {
            return Ok(());
        }
        let exists = contact_delegation::Entity::find_by_id(id)
            .filter(owner)
            .one(&self.db)
            .await?
            .is_some();
        Err(if exists {
            AccountError::Conflict("This request was already answered or cancelled.")
        } else {
            AccountError::NotFound
        })
    }

    /// Pending and accepted delegations, for billing and service systems,
    /// filtered by service name (exact, case-insensitive) and by a handle on
    /// either side.
    pub async fn list_delegations(
        &self,
        service: Option<&str>,
        handle: Option<&CustomerHandle>,
    ) -> Result<Vec<Delegation>, AccountError> {
        let mut q = contact_delegation::Entity::find()
            .filter(contact_delegation::Column::Status.is_in(LISTED))
            .order_by_desc(contact_delegation::Column::Id);
        if let Some(h) = handle {
            let Some(a) = account::Entity::find()
                .filter(account::Column::Handle.eq(h.as_str()))
                .one(&self.db)
                .await?
            else {
                return Ok(Vec::new());
            };
            q = q.filter(
                Condition::any()
                    .add(contact_delegation::Column::FromAccountId.eq(a.id))
                    .add(contact_delegation::Column::ToAccountId.eq(a.id)),
            );
        }
        let rows = q.all(&self.db).await?;
        let rows = match service {
            Some(s) => {
                let s = s.trim().to_lowercase();
                rows.into_iter()
                    .filter(|r| r.service.to_lowercase() == s)
                    .collect()
            }
            None => rows,
        };
        self.with_handles(rows).await
    }

    async fn with_handles(
        &self,
        rows: Vec<contact_delegation::Model>,
    ) -> Result<Vec<Delegation>, AccountError> {
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let from = self.handle_of(r.from_account_id).await?;
            let to = self.handle_of(r.to_account_id).await?;
            out.push(view(r, from, to));
        }
        Ok(out)
    }

    async fn handle_of(&self, id: i32) -> Result<String, AccountError> {
        Ok(self
            .find_by_id(id)
            .await?
            .map(|a| a.handle)
            .unwrap_or_default())
    }
}

fn view(r: contact_delegation::Model, from_handle: String, to_handle: String) -> Delegation {
    Delegation {
        id: r.id,
        service: r.service,
        role: r.role,
        status: r.status,
        from_handle,
        to_handle,
        created_at: r.created_at,
        answered_at: r.answered_at,
    }
}
