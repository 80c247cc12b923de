//! Users (`users/:username`): create with a password, update, read,
//! delete, list, and `users/:username/policies`.

use serde::{Deserialize, Serialize};
use serde_json::Map;

use super::password::{missing_password, NewPassword, PASSWORD_FIELDS};
use super::{UserpassBackend, USERNAME};
use crate::auth::legacy_token_fields::LegacyTokenFields;
use crate::auth::roles::RoleStore;
use crate::auth::token_fields::{
    parse_addrs, parse_policies, upgrade_duration, upgrade_list, TokenFields, TOKEN_FIELDS,
};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Operation, Request, Response, Result};

/// The pre-`token_*` names a user still accepts.
const LEGACY_FIELDS: &[Field] = &[
    Field::list("policies"),
    Field::duration("ttl"),
    Field::duration("max_ttl"),
    Field::list("bound_cidrs"),
];

const USERNAME_FIELD: &[Field] = &[Field::string("username")];

const USERS: RoleStore = RoleStore::new("user/");

pub(super) const PATHS: &[Path<UserpassBackend>] = &[
    Path::new("users").list(handler!(_b, r => USERS.list(r))),
    Path::new("users/:username")
        .captures(USERNAME)
        .fields(&[USERNAME_FIELD, PASSWORD_FIELDS, LEGACY_FIELDS, TOKEN_FIELDS])
        .existence_check(|_, r| Box::pin(user_exists(r)))
        .read(handler!(read))
        .update(handler!(write))
        .delete(handler!(_b, r => delete(r))),
    Path::new("users/:username/policies")
        .captures(USERNAME)
        .fields(&[
            USERNAME_FIELD,
            &[Field::list("policies"), Field::list("token_policies")],
        ])
        .update(handler!(write_policies)),
];

/// A stored user.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct UserEntry {
    /// bcrypt, in its modular crypt format (`$2b$10$…`).
    pub password_hash: String,
    #[serde(flatten)]
    pub token: TokenFields,
    /// The deprecated `policies`, `ttl`, `max_ttl` and `bound_cidrs`
    /// (userpass has no `period` or `num_uses`), shown while set.
    #[serde(flatten)]
    pub legacy: LegacyTokenFields,
}

/// The route's user name, lower-cased (the route has checked that it is a
/// generic name).
pub(super) fn username(req: &Request) -> Result<String> {
    Ok(req.param("username")?.to_lowercase())
}

/// A stored user; unset token fields fall back to the legacy values.
pub(super) async fn load_user(req: &Request, name: &str) -> Result<Option<UserEntry>> {
    let Some(mut user): Option<UserEntry> = USERS.get(req, name).await? else {
        return Ok(None);
    };
    user.legacy.apply_on_load(&mut user.token);
    Ok(Some(user))
}

pub(super) async fn save_user(req: &Request, name: &str, user: &UserEntry) -> Result<()> {
    req.storage
        .put(&USERS.key(name), serde_json::to_vec(user)?)
        .await?;
    Ok(())
}

async fn user_exists(req: &Request) -> Result<bool> {
    Ok(load_user(req, &username(req)?).await?.is_some())
}

async fn read(_: &UserpassBackend, req: &mut Request) -> Result<Option<Response>> {
    let Some(user) = load_user(req, &username(req)?).await? else {
        return Ok(None);
    };
    let mut data = Map::new();
    user.token.populate_data(&mut data);
    user.legacy.populate_data(&mut data);
    Ok(Some(Response::data(data)))
}

/// `POST users/:username`: a new user needs a password; an update changes
/// what it is given.
async fn write(_: &UserpassBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = username(req)?;
    let new_password = NewPassword::from_data(&req.data)?;
    let existing = load_user(req, &name).await?;
    if existing.is_none() && new_password.is_none() {
        return Err(missing_password());
    }
    if existing.is_none() && req.operation != Operation::Create {
        // The existence check said it existed, then it went away.
        return Err(Error::UnsupportedPath);
    }
    let mut user = existing.unwrap_or_default();
    let data = &req.data;
    let warnings = user.token.parse(data)?;
    if let Some(new) = new_password {
        user.password_hash = new.into_hash().await?;
    }
    let data = &req.data;
    upgrade_list(
        data,
        "policies",
        "token_policies",
        &mut user.legacy.policies,
        &mut user.token.token_policies,
        |p| Ok(parse_policies(p)),
    )?;
    upgrade_duration(
        data,
        "ttl",
        "token_ttl",
        &mut user.legacy.ttl,
        &mut user.token.token_ttl,
    )?;
    upgrade_duration(
        data,
        "max_ttl",
        "token_max_ttl",
        &mut user.legacy.max_ttl,
        &mut user.token.token_max_ttl,
    )?;
    upgrade_list(
        data,
        "bound_cidrs",
        "token_bound_cidrs",
        &mut user.legacy.bound_cidrs,
        &mut user.token.token_bound_cidrs,
        parse_addrs,
    )?;
    save_user(req, &name, &user).await?;
    Ok(Response::warnings(warnings))
}

/// `DELETE users/:username` (absent users too: 204, as Vault).
async fn delete(req: &Request) -> Result<Option<Response>> {
    req.storage.delete(&USERS.key(&username(req)?)).await?;
    Ok(None)
}

/// `POST users/:username/policies`: `token_policies` wins over the
/// deprecated `policies`, which is kept only when given.
async fn write_policies(_: &UserpassBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = username(req)?;
    let Some(mut user) = load_user(req, &name).await? else {
        return Err(Error::bad_request("username does not exist"));
    };
    let data = &req.data;
    if let Some(policies) = data.comma_list("token_policies")? {
        user.token.token_policies = parse_policies(&policies);
        user.legacy.policies = if data.contains("policies") {
            user.token.token_policies.clone()
        } else {
            Vec::new()
        };
    } else if let Some(policies) = data.comma_list("policies")? {
        user.legacy.policies = parse_policies(&policies);
        user.token.token_policies = user.legacy.policies.clone();
    }
    save_user(req, &name, &user).await?;
    Ok(None)
}
