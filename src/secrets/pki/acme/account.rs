//! `new-account` and `account/:kid` (RFC 8555 §7.3).

use serde_json::{json, Value};

use super::super::PkiBackend;
use super::eab;
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
/// already registered (or `onlyReturnExisting`). A binding, when sent, is
/// verified and spent before the account is created (Vault's order: a
/// failed creation still burns the key).
pub async fn new_account(backend: &PkiBackend, dir: &Directory, call: Call) -> AcmeResult<Reply> {
    let Signer::Jwk(jwk) = &call.signer else {
        return Err(Problem::malformed("cannot submit to newAccount with 'kid'"));
    };
    let payload = super::object(&call.payload)?;
    let contact = contacts(&payload)?.unwrap_or_default();
    let thumbprint = jwk.thumbprint()?;
    if let Some(existing) = state::account_by_thumbprint(&dir.storage, &thumbprint).await? {
        if existing.directory != dir.prefix {
            return Err(Problem::malformed(
                "account part of different ACME directory path",
            ));
        }
        eab::enforce_for_existing(dir, &existing)?;
        return Ok(Reply::json(200, body(dir, &existing)).at(dir.account_url(&existing.id)));
    }
    if payload.get("onlyReturnExisting").and_then(Value::as_bool) == Some(true) {
        return Err(Problem::new(
            Kind::AccountDoesNotExist,
            "an account with this key does not exist",
        ));
    }
    let sent = payload
        .get("externalAccountBinding")
        .filter(|b| !b.is_null() && b.as_object().is_none_or(|m| !m.is_empty()));
    let binding = match sent {
        Some(sent) => {
            let jwk_text = call.jwk_text.as_deref().unwrap_or_default();
            Some(eab::verify(dir, sent, jwk_text).await?)
        }
        None => None,
    };
    eab::enforce_for_new(dir, binding.as_ref())?;
    let _guard = backend.acme.lock.lock().await;
    if let Some(binding) = &binding {
        eab::consume(dir, binding).await?;
    }
    let account = Account {
        id: state::new_id(),
        status: AccountStatus::Valid,
        contact,
        jwk: jwk.clone(),
        thumbprint,
        directory: dir.prefix.clone(),
        created: state::now(),
        eab: binding,
        status_changed: None,
    };
    state::put_account(&dir.storage, &account).await?;
    let mut reply = body(dir, &account);
    if let (Some(sent), Some(_)) = (sent, &account.eab) {
        reply["externalAccountBinding"] = sent.clone();
    }
    Ok(Reply::json(201, reply).at(dir.account_url(&account.id)))
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
        Some("deactivated") => {
            account.status = AccountStatus::Deactivated;
            account.status_changed = Some(state::now());
        }
        Some(other) => {
            return Err(Problem::malformed(format!(
                "invalid status in update: {other}"
            )))
        }
    }
    state::put_account(&dir.storage, &account).await?;
    Ok(Reply::json(200, body(dir, &account)).at(dir.account_url(&account.id)))
}
