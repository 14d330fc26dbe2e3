//! The data export and the erasure of an account, across every store that
//! holds something of it: the accounts tables, second factors, consents and
//! tokens, and the session store.

use std::sync::Arc;

use accounts::{Account, EventKind, Events};
use serde_json::{Value, json};

use crate::access;
use crate::error::AppError;
use crate::seclog::{self, Origin};
use crate::services::App;
use crate::twofactor;

/// Everything held about the account, as one JSON document. No secret: no
/// password hash, no second-factor secret, no session id, no token.
pub async fn export(
    state: &App,
    account: &Account,
    current_sid: &str,
    origin: &Origin,
) -> Result<Value, AppError> {
    let db = state.accounts.db();
    let id = account.id;
    let methods = state
        .mfa
        .methods(&twofactor::identity(id))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let sessions = access::sessions(state, access::Whom::holder(id), current_sid).await?;
    let apps = access::connected_apps(state, access::Whom::holder(id)).await?;
    let contacts = state.accounts.contacts_of(id).await?;
    let holds = state.accounts.holds(id).await?;
    let support = state.accounts.support_actions(id).await?;
    let users = state.accounts.list_users(id).await?;
    let groups = state.accounts.list_groups(id).await?;
    // Recorded before reading the log, so the export shows itself.
    seclog::record(state, id, None, EventKind::DataExported, "", origin).await;
    let log = Events::all(db, id).await?;
    Ok(json!({
        "format": "guichet-account-export/1",
        "exported_at": state.clock.now(),
        "profile": {
            "handle": account.handle,
            "customer_code": account.customer_code,
            "subject": account.subject,
            "first_name": account.first_name,
            "last_name": account.last_name,
            "kind": account.kind,
            "company_name": account.company_name,
            "address": {
                "line1": account.address_line1,
                "line2": account.address_line2,
                "postcode": account.postcode,
                "city": account.city,
                "region": account.region,
            },
            "phone": account.phone,
            "country": account.country,
            "language": account.language,
            "status": account.status,
            "login_notifications": account.login_notifications,
            "created_at": account.created_at,
            "updated_at": account.updated_at,
        },
        "emails": {
            "primary": account.primary_email,
            "primary_verified": account.primary_email_verified,
            "backup": account.backup_email,
        },
        "two_factor_methods": methods,
        "sessions": sessions,
        "connected_applications": apps,
        "contacts": contacts.iter().map(|c| json!({
            "service": c.service,
            "role": c.role,
            "status": c.status,
            "from": c.from_handle,
            "to": c.to_handle,
            "created_at": c.created_at,
            "answered_at": c.answered_at,
        })).collect::<Vec<_>>(),
        "local_users": users.iter().map(|u| json!({
            "id": u.id,
            "login": u.login,
            "email": u.email,
            "group": u.group_name,
            "description": u.description,
            "status": u.status,
            "created_at": u.created_at,
            "updated_at": u.updated_at,
        })).collect::<Vec<_>>(),
        "groups": groups.iter().map(|g| json!({
            "name": g.name,
            "role": g.role.as_str(),
        })).collect::<Vec<_>>(),
        "holds": holds.iter().map(|h| json!({
            "kind": h.kind,
            "reference": h.reference,
            "note": h.note,
            "set_at": h.set_at,
        })).collect::<Vec<_>>(),
        "support_actions": support.iter().map(|a| json!({
            "action": a.action,
            "case_ref": a.case_ref,
            "detail": a.detail,
            "at": a.at,
        })).collect::<Vec<_>>(),
        "security_log": log.iter().map(seclog::event_json).collect::<Vec<_>>(),
    }))
}

/// Erases the account: refused with [`AccountError::Held`] while holds
/// exist; otherwise personal data go, the row stays as a tombstone, every
/// second factor, consent, session, refresh and access token goes, and every relying
/// party of a live session gets a back-channel logout.
pub async fn erase(state: &Arc<App>, account_id: i32) -> Result<(), AppError> {
    let db = state.accounts.db();
    let sessions = state
        .sessions
        .list(account_id, state.clock.now_secs())
        .await?;
    // Listed before the erasure deletes them: each has second factors of its own.
    let users = state.accounts.list_users(account_id).await?;
    let subjects = crate::revocation::subjects_with(&state.accounts, account_id, &users).await?;
    state.accounts.erase(account_id).await?;
    // From here the account is a tombstone: what follows only removes
    // leftovers, and each step is safe to repeat.
    state.sessions.end_all(account_id).await?;
    if let Err(e) = state.mfa.disable(&twofactor::identity(account_id)).await {
        tracing::error!(error = %e, account_id, "second factors of an erased account not deleted");
    }
    for u in &users {
        if let Err(e) = state
            .mfa
            .disable(&twofactor::identity_of(account_id, Some(u.id)))
            .await
        {
            tracing::error!(error = %e, account_id, user = u.id, "second factors of an erased account's user not deleted");
        }
    }
    oauth::refresh::revoke_account(db, account_id, state.clock.now()).await?;
    for sub in &subjects {
        crate::revocation::cut_off(&*state.store, sub, None).await?;
    }
    oauth::consents::delete_all(db, account_id).await?;
    for s in &sessions {
        state.sessions.destroy_listed(s).await?;
        crate::backchannel::tell_participants(state, &s.data).await?;
    }
    Ok(())
}

/// Erases the account when `confirm` is its handle typed again (in any case,
/// spaces around it ignored): erasure cannot be undone, so a slip of the
/// finger must not reach it.
pub async fn erase_confirmed(
    state: &Arc<App>,
    account: &Account,
    confirm: &str,
) -> Result<(), AppError> {
    if !confirm.trim().eq_ignore_ascii_case(&account.handle) {
        return Err(AppError::NotConfirmed);
    }
    erase(state, account.id).await
}
