//! What ACME keeps in the mount's storage, in Vault's layout: accounts
//! under `acme/accounts/<kid>`, their orders and authorizations below
//! them, and an index from key thumbprint to account.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::jws::Jwk;
use super::problem::{AcmeResult, Problem};
use crate::storage::StorageView;

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A random id in Vault's UUID shape.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `n` random bytes, base64url (challenge tokens).
pub fn random_token(n: usize) -> String {
    use base64::Engine;
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    Valid,
    Deactivated,
    Revoked,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub status: AccountStatus,
    pub contact: Vec<String>,
    pub jwk: Jwk,
    pub thumbprint: String,
    /// The directory prefix the account belongs to (`acme/`,
    /// `roles/web/acme/`, ...).
    pub directory: String,
    pub created: i64,
    /// The external account binding it was created with.
    #[serde(default)]
    pub eab: Option<super::eab::Binding>,
    /// When it was deactivated or revoked (tidy deletes it a buffer later).
    #[serde(default)]
    pub status_changed: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl Identifier {
    pub fn json(&self) -> Value {
        json!({"type": self.kind, "value": self.value})
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Processing,
    Ready,
    Valid,
    Invalid,
    Deactivated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Processing => "processing",
            Status::Ready => "ready",
            Status::Valid => "valid",
            Status::Invalid => "invalid",
            Status::Deactivated => "deactivated",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub status: Status,
    pub identifiers: Vec<Identifier>,
    pub authorizations: Vec<String>,
    pub expires: i64,
    #[serde(default)]
    pub cert_serial: Option<String>,
    #[serde(default)]
    pub cert_expiry: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Challenge {
    #[serde(rename = "type")]
    pub kind: String,
    pub token: String,
    pub status: Status,
    #[serde(default)]
    pub validated: Option<i64>,
    /// The last failed attempt's problem object.
    #[serde(default)]
    pub error: Option<Value>,
    /// Failed attempts so far.
    #[serde(default)]
    pub attempts: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Authorization {
    pub id: String,
    pub order: String,
    /// The identifier without a wildcard's `*.`.
    pub identifier: Identifier,
    pub wildcard: bool,
    pub status: Status,
    #[serde(default)]
    pub expires: Option<i64>,
    pub challenges: Vec<Challenge>,
}

fn account_key(kid: &str) -> String {
    format!("acme/accounts/{kid}")
}
fn thumbprint_key(thumbprint: &str) -> String {
    format!("acme/account-thumbprints/{thumbprint}")
}
fn order_key(kid: &str, id: &str) -> String {
    format!("acme/accounts/{kid}/orders/{id}")
}
fn authz_key(kid: &str, id: &str) -> String {
    format!("acme/accounts/{kid}/authorizations/{id}")
}

/// Ids come from URLs: only Vault's id shape may name a storage key.
pub(super) fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[derive(Serialize, Deserialize)]
struct ThumbprintEntry {
    kid: String,
}

pub async fn account(storage: &StorageView, kid: &str) -> AcmeResult<Option<Account>> {
    if !valid_id(kid) {
        return Ok(None);
    }
    Ok(storage.get_json(&account_key(kid)).await?)
}

pub async fn account_by_thumbprint(
    storage: &StorageView,
    thumbprint: &str,
) -> AcmeResult<Option<Account>> {
    match storage
        .get_json::<ThumbprintEntry>(&thumbprint_key(thumbprint))
        .await?
    {
        Some(entry) => account(storage, &entry.kid).await,
        None => Ok(None),
    }
}

pub async fn put_account(storage: &StorageView, account: &Account) -> AcmeResult<()> {
    storage.put_json(&account_key(&account.id), account).await?;
    let entry = ThumbprintEntry {
        kid: account.id.clone(),
    };
    storage
        .put_json(&thumbprint_key(&account.thumbprint), &entry)
        .await?;
    Ok(())
}

/// Every account's id.
pub async fn account_ids(storage: &StorageView) -> AcmeResult<Vec<String>> {
    let mut ids: Vec<String> = storage
        .list("acme/accounts/")
        .await?
        .into_iter()
        .map(|k| k.trim_end_matches('/').to_string())
        .collect();
    ids.dedup();
    Ok(ids)
}

/// Deletes an account and everything under it: orders, authorizations,
/// the certificates it may revoke, and its thumbprint entry (if it is
/// still this account's).
pub async fn delete_account(storage: &StorageView, account: &Account) -> AcmeResult<()> {
    let kid = &account.id;
    for folder in ["orders", "authorizations", "certs"] {
        let prefix = format!("{}/{folder}/", account_key(kid));
        for key in storage.list_leaves(&prefix).await? {
            storage.delete(&format!("{prefix}{key}")).await?;
        }
    }
    let thumbprint = thumbprint_key(&account.thumbprint);
    if storage
        .get_json::<ThumbprintEntry>(&thumbprint)
        .await?
        .is_some_and(|e| &e.kid == kid)
    {
        storage.delete(&thumbprint).await?;
    }
    Ok(storage.delete(&account_key(kid)).await?)
}

/// Deletes an order and its authorizations.
pub async fn delete_order(storage: &StorageView, kid: &str, order: &Order) -> AcmeResult<()> {
    for id in &order.authorizations {
        if valid_id(id) {
            storage.delete(&authz_key(kid, id)).await?;
        }
    }
    Ok(storage.delete(&order_key(kid, &order.id)).await?)
}

pub async fn order(storage: &StorageView, kid: &str, id: &str) -> AcmeResult<Order> {
    let found = if valid_id(id) {
        storage.get_json(&order_key(kid, id)).await?
    } else {
        None
    };
    found.ok_or_else(|| Problem::malformed(format!("order does not exist: {id}")))
}

pub async fn put_order(storage: &StorageView, kid: &str, order: &Order) -> AcmeResult<()> {
    Ok(storage.put_json(&order_key(kid, &order.id), order).await?)
}

pub async fn order_ids(storage: &StorageView, kid: &str) -> AcmeResult<Vec<String>> {
    Ok(storage
        .list(&format!("acme/accounts/{kid}/orders/"))
        .await?)
}

pub async fn authorization(
    storage: &StorageView,
    kid: &str,
    id: &str,
) -> AcmeResult<Authorization> {
    let found = if valid_id(id) {
        storage.get_json(&authz_key(kid, id)).await?
    } else {
        None
    };
    found.ok_or_else(|| Problem::malformed(format!("authorization does not exist: {id}")))
}

pub async fn put_authorization(
    storage: &StorageView,
    kid: &str,
    authz: &Authorization,
) -> AcmeResult<()> {
    Ok(storage.put_json(&authz_key(kid, &authz.id), authz).await?)
}

/// Which account a certificate was issued to (revocation by account key).
pub async fn put_account_cert(storage: &StorageView, kid: &str, serial: &str) -> AcmeResult<()> {
    let key = format!("acme/accounts/{kid}/certs/{}", serial.replace(':', "-"));
    Ok(storage.put(&key, b"{}".to_vec()).await?)
}

pub async fn account_has_cert(storage: &StorageView, kid: &str, serial: &str) -> AcmeResult<bool> {
    let key = format!("acme/accounts/{kid}/certs/{}", serial.replace(':', "-"));
    Ok(storage.get(&key).await?.is_some())
}
