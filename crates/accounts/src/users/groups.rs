//! The account's groups: the four default ones and its own, with the role
//! each gives.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::{local_user, user_group};
use crate::error::{AccountError, FieldError, FieldProblem, Refusal, is_unique_violation};
use crate::roles::Role;
use crate::service::Accounts;

use super::{Acting, DEFAULT_GROUPS, Group, default_role, parse_group_name, parse_group_role};

impl Accounts {
    /// The account's groups: the four default ones, then its own by name,
    /// each with its number of members.
    pub async fn list_groups(&self, account_id: i32) -> Result<Vec<Group>, AccountError> {
        let users = self.list_users(account_id).await?;
        let count = |name: &str| users.iter().filter(|u| u.group_name == name).count() as u64;
        let mut out: Vec<Group> = DEFAULT_GROUPS
            .iter()
            .map(|(n, r)| Group {
                name: (*n).to_owned(),
                role: *r,
                is_default: true,
                members: count(n),
            })
            .collect();
        let own = user_group::Entity::find()
            .filter(user_group::Column::AccountId.eq(account_id))
            .order_by_asc(user_group::Column::Name)
            .all(&self.db)
            .await?;
        for g in own {
            let members = count(&g.name);
            out.push(Group {
                role: Role::parse(&g.role).unwrap_or(Role::None),
                name: g.name,
                is_default: false,
                members,
            });
        }
        Ok(out)
    }

    /// The role a group of the account grants; `None` when it has no such
    /// group.
    pub async fn group_role(
        &self,
        account_id: i32,
        name: &str,
    ) -> Result<Option<Role>, AccountError> {
        if let Some(r) = default_role(name) {
            return Ok(Some(r));
        }
        Ok(user_group::Entity::find()
            .filter(user_group::Column::AccountId.eq(account_id))
            .filter(user_group::Column::Name.eq(name))
            .one(&self.db)
            .await?
            // A stored role that no longer parses grants nothing.
            .map(|g| Role::parse(&g.role).unwrap_or(Role::None)))
    }

    /// Declares a group. Refused unless the actor manages users and the role
    /// is not above their own.
    pub async fn create_group(
        &self,
        by: Acting,
        account_id: i32,
        name: &str,
        role: &str,
    ) -> Result<Group, AccountError> {
        by.must_manage()?;
        let mut errors = Vec::new();
        let name = parse_group_name(name)
            .map_err(|p| {
                errors.push(FieldError {
                    field: "name",
                    problem: p,
                })
            })
            .ok();
        let role = parse_group_role(role)
            .map_err(|p| {
                errors.push(FieldError {
                    field: "role",
                    problem: p,
                })
            })
            .ok();
        let (Some(name), Some(role)) = (name, role) else {
            return Err(AccountError::Invalid(errors));
        };
        by.may_grant(role)?;
        if default_role(&name).is_some() {
            return Err(AccountError::field("name", FieldProblem::GroupTaken));
        }
        let row = user_group::ActiveModel {
            account_id: Set(account_id),
            name: Set(name.clone()),
            role: Set(role.as_str().to_owned()),
            created_at: Set(self.now()),
            ..Default::default()
        };
        match row.insert(&self.db).await {
            Ok(_) => Ok(Group {
                name,
                role,
                is_default: false,
                members: 0,
            }),
            Err(e) if is_unique_violation(&e) => {
                Err(AccountError::field("name", FieldProblem::GroupTaken))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a group the account declared. The default groups stay; a group
    /// with members stays too (its users would lose their role silently); so
    /// does a group above the actor's role.
    pub async fn delete_group(
        &self,
        by: Acting,
        account_id: i32,
        name: &str,
    ) -> Result<(), AccountError> {
        by.must_manage()?;
        let name = parse_group_name(name).map_err(|_| AccountError::NotFound)?;
        if default_role(&name).is_some() {
            return Err(AccountError::NotPermitted(Refusal::DefaultGroup));
        }
        let Some(g) = user_group::Entity::find()
            .filter(user_group::Column::AccountId.eq(account_id))
            .filter(user_group::Column::Name.eq(name.as_str()))
            .one(&self.db)
            .await?
        else {
            return Err(AccountError::NotFound);
        };
        by.may_grant(Role::parse(&g.role).unwrap_or(Role::None))?;
        let members = local_user::Entity::find()
            .filter(local_user::Column::AccountId.eq(account_id))
            .filter(local_user::Column::GroupName.eq(name.as_str()))
            .count(&self.db)
            .await?;
        if members > 0 {
            return Err(AccountError::field("name", FieldProblem::GroupInUse));
        }
        user_group::Entity::delete_by_id(g.id)
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
