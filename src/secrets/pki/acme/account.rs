//! `new-account` and `account/:kid` (RFC 8555 §7.3).

use serde_json::{json, Value};

use super::jws::Signer;
use super::problem::{AcmeResult, Kind, Problem};
use super::state::{self, Account, AccountStatus};
use super::{status_name, Call, Directory, Reply};

fn contacts(payload: &serde_json::Map<String, Value>) -> AcmeResult<Option<Vec<String>>> {
    match payload.get("contact") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Problem::malformed("contact must be a list of strings"))
            })
            .collect::<AcmeResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(Problem::malformed("contact must be a list of strings")),
    }
}

fn body(dir: &Directory, account: &Account) -> Value {
    let mut body = json!({
        "status": status_name(account.status),
        "orders": dir.link(&format!("account/{}/orders", account.id)),
    });
    if !account.contact.is_empty() {
        body["contact"] = json!(account.contact);
    }
    body
}

/// `new-account`: 201 for a new key, 200 with the same account for a key
/// already registered (or `onlyReturnExisting`).
pub async fn new_account(dir: &Directory, call: Call) -> AcmeResult<Reply> {
    let Signer::Jwk(jwk) = &call.signer else {
        return Err(Problem::malformed("cannot submit to newAccount with 'kid'"));
    };
    let payload = super::object(&call.payload)?;
    let thumbprint = jwk.thumbprint()?;
    if let Some(existing) = state::account_by_thumbprint(&dir.storage, &thumbprint).await? {
        if existing.directory != dir.prefix {
            return Err(Problem::malformed(
                "account part of different ACME directory path",
            ));
        }
        super::refuse_unbound_account(dir)?;
        return Ok(Reply::json(200, body(dir, &existing)).at(dir.account_url(&existing.id)));
    }
    if payload.get("onlyReturnExisting").and_then(Value::as_bool) == Some(true) {
        return Err(Problem::new(
            Kind::AccountDoesNotExist,
            "an account with this key does not exist",
        ));
    }
    // No EAB key can be minted here yet (no `new-eab`), so a binding
    // names an unknown key: Vault's answer for that is "failed to verify".
    if payload.contains_key("externalAccountBinding") {
        return Err(Problem::new(Kind::Unauthorized, "failed to verify eab"));
    }
    if dir.config.eab_required() {
        return Err(Problem::exact(
            Kind::ExternalAccountRequired,
            Kind::ExternalAccountRequired.sentence(),
        ));
    }
    let account = Account {
        id: state::new_id(),
        status: AccountStatus::Valid,
        contact: contacts(&payload)?.unwrap_or_default(),
        jwk: jwk.clone(),
        thumbprint,
        directory: dir.prefix.clone(),
        created: state::now(),
    };
    state::put_account(&dir.storage, &account).await?;
    Ok(Reply::json(201, body(dir, &account)).at(dir.account_url(&account.id)))
}

/// `account/:kid`: read (POST-as-GET), replace contacts, or deactivate.
pub async fn update(dir: &Directory, kid: &str, call: Call) -> AcmeResult<Reply> {
    let mut account = call.account()?.clone();
    if account.id != kid {
        return Err(Problem::new(
            Kind::Unauthorized,
            "the kid does not match the account in the URL",
        ));
    }
    let payload = super::object(&call.payload)?;
    if payload.contains_key("externalAccountBinding") {
        return Err(Problem::malformed(
            "not allowed to update EAB data in accounts",
        ));
    }
    if let Some(contact) = contacts(&payload)? {
        account.contact = contact;
    }
    match payload.get("status").and_then(Value::as_str) {
        None => {}
        Some("deactivated") => account.status = AccountStatus::Deactivated,
        Some(other) => {
            return Err(Problem::malformed(format!(
                "invalid status in update: {other}"
            )))
        }
    }
    state::put_account(&dir.storage, &account).await?;
    Ok(Reply::json(200, body(dir, &account)).at(dir.account_url(&account.id)))
}
