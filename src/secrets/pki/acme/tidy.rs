//! `tidy_acme`: the ACME part of `pki/tidy`, with Vault's lifetimes
//! (https://developer.hashicorp.com/vault/api-docs/secret/pki#tidy_acme):
//! an order goes `safety_buffer` after its certificate expires, or once it
//! and its authorizations have expired when it produced none; a valid
//! account with no orders left that is `acme_account_safety_buffer` old is
//! revoked, and a revoked or deactivated account is deleted another
//! `acme_account_safety_buffer` after its status changed; unused external
//! account binding keys go `acme_account_safety_buffer` after they were
//! minted.

use super::problem::AcmeResult;
use super::state::{self, AccountStatus, Order};
use super::{eab, AcmeState};
use crate::storage::StorageView;

/// What one pass did, for `tidy-status`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tidied {
    pub orders_deleted: u64,
    pub accounts_revoked: u64,
    pub accounts_deleted: u64,
    /// Accounts looked at (`total_acme_account_count`: "total number of
    /// acme accounts iterated over" in Vault's documentation).
    pub accounts_seen: u64,
}

/// The two buffers, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Buffers {
    pub safety: i64,
    pub account: i64,
}

/// One pass over every account, holding the ACME lock per account so that
/// client requests and background validation see whole states.
pub async fn run(storage: &StorageView, acme: &AcmeState, buffers: Buffers) -> AcmeResult<Tidied> {
    let now = state::now();
    let mut tidied = Tidied::default();
    for kid in state::account_ids(storage).await? {
        let _guard = acme.lock.lock().await;
        let Some(mut account) = state::account(storage, &kid).await? else {
            continue;
        };
        tidied.accounts_seen += 1;
        let mut orders_left = 0;
        for id in state::order_ids(storage, &kid).await? {
            let order = state::order(storage, &kid, &id).await?;
            if order_is_stale(storage, &kid, &order, now, buffers.safety).await? {
                state::delete_order(storage, &kid, &order).await?;
                tidied.orders_deleted += 1;
            } else {
                orders_left += 1;
            }
        }
        match account.status {
            AccountStatus::Valid if orders_left == 0 && account.created + buffers.account < now => {
                account.status = AccountStatus::Revoked;
                account.status_changed = Some(now);
                state::put_account(storage, &account).await?;
                tidied.accounts_revoked += 1;
            }
            AccountStatus::Revoked | AccountStatus::Deactivated
                if account.status_changed.unwrap_or(account.created) + buffers.account < now =>
            {
                state::delete_account(storage, &account).await?;
                tidied.accounts_deleted += 1;
            }
            _ => {}
        }
    }
    eab::delete_unused_before(storage, now - buffers.account).await?;
    Ok(tidied)
}

async fn order_is_stale(
    storage: &StorageView,
    kid: &str,
    order: &Order,
    now: i64,
    safety_buffer: i64,
) -> AcmeResult<bool> {
    if let Some(expiry) = order.cert_expiry {
        return Ok(expiry + safety_buffer < now);
    }
    if order.expires >= now {
        return Ok(false);
    }
    for id in &order.authorizations {
        if let Ok(authz) = state::authorization(storage, kid, id).await {
            if authz.expires.is_some_and(|t| t >= now) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}
