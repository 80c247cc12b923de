//! Roles: create/update with every field and Vault's defaults, read,
//! delete, list, and the role ID.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{parse_cidr_blocks, role_name, AppRolePath, Inner, ROLE_NAME};
use crate::auth::token_fields::{self, TokenFields, TOKEN_FIELDS};
use crate::handler;
use crate::logical::framework::Field;
use crate::logical::{Error, GoDuration, Operation, Request, Response, Result};
use crate::storage::BatchOp;

/// The AppRole fields of `role/:role_name` (besides the token fields).
const ROLE_FIELDS: &[Field] = &[
    Field::bool("bind_secret_id"),
    Field::list("bound_cidr_list"),
    Field::list("secret_id_bound_cidrs"),
    Field::list("policies"),
    Field::int("secret_id_num_uses"),
    Field::duration("secret_id_ttl"),
    Field::duration("period"),
    Field::string("role_id"),
    Field::bool("local_secret_ids"),
];

pub(super) const PATHS: &[AppRolePath] = &[
    AppRolePath::new("role").list(handler!(b, r => b.inner.list_roles(r))),
    AppRolePath::new("role/:role_name")
        .captures(ROLE_NAME)
        .fields(&[ROLE_FIELDS, TOKEN_FIELDS])
        .existence_check(|b, r| Box::pin(b.inner.role_exists(r)))
        .read(handler!(b, r => b.inner.read_role(r)))
        .update(handler!(b, r => b.inner.write_role(r)))
        .delete(handler!(b, r => b.inner.delete_role(r))),
    AppRolePath::new("role/:role_name/local-secret-ids")
        .captures(ROLE_NAME)
        .read(handler!(b, r => b.inner.read_local_secret_ids(r))),
    AppRolePath::new("role/:role_name/role-id")
        .captures(ROLE_NAME)
        .fields(&[&[Field::string("role_id")]])
        .read(handler!(b, r => b.inner.read_role_id(r)))
        .update(handler!(b, r => b.inner.write_role_id(r))),
];

/// A stored role.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct RoleEntry {
    /// The lower-cased role name.
    pub name: String,
    pub role_id: String,
    /// Per-role salt of the secret ID hashes: a re-created role starts afresh.
    pub salt: String,
    pub bind_secret_id: bool,
    pub secret_id_bound_cidrs: Vec<String>,
    pub secret_id_num_uses: i64,
    /// Seconds; 0 = secret IDs never expire.
    pub secret_id_ttl: i64,
    pub local_secret_ids: bool,
    #[serde(flatten)]
    pub token: TokenFields,
    /// Deprecated `policies`, shown on read only while set.
    pub policies: Vec<String>,
    /// Deprecated `period`, shown on read only while set.
    pub period: i64,
}

/// Index entry from a role ID to its role.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct RoleIdEntry {
    pub name: String,
    /// The keyed hash of the role ID, compared in constant time on login.
    pub role_id_hmac: String,
}

pub(super) const BOUND_CIDR_LIST_DEPRECATED: &str =
    "The \"bound_cidr_list\" field is deprecated and will be removed. Please use \"secret_id_bound_cidrs\" instead.";

pub(super) fn role_key(name: &str) -> String {
    format!("role/{name}")
}

pub(super) fn data_response(pairs: Value) -> Option<Response> {
    match pairs {
        Value::Object(map) => Some(Response::data(map)),
        _ => None,
    }
}

/// Validates CIDR blocks of `secret_id_bound_cidrs` / `cidr_list`.
pub(super) fn validate_cidr_blocks(blocks: &[String], what: &str) -> Result<Vec<String>> {
    let blocks: Vec<String> = blocks.iter().map(|b| b.trim().to_string()).collect();
    parse_cidr_blocks(&blocks)
        .map_err(|e| Error::BadRequest(format!("failed to validate {what}: {e}")))?;
    Ok(blocks)
}

/// Vault's `validateRoleConstraints`.
fn validate_constraints(role: &RoleEntry) -> Result<()> {
    if role.bind_secret_id
        || !role.secret_id_bound_cidrs.is_empty()
        || !role.token.token_bound_cidrs.is_empty()
    {
        Ok(())
    } else {
        Err(Error::bad_request(
            "at least one constraint should be enabled on the role",
        ))
    }
}

impl Inner {
    /// Reads a role by its (already lower-cased) name.
    pub(super) async fn role(&self, req: &Request, name: &str) -> Result<Option<RoleEntry>> {
        Ok(req.storage.get_json::<RoleEntry>(&role_key(name)).await?)
    }

    pub(super) fn role_id_key(&self, role_id: &str) -> String {
        format!("role_id/{}", self.role_id_hmac(role_id))
    }

    pub(super) fn role_id_hmac(&self, role_id: &str) -> String {
        self.hasher.hash("approle/role-id", role_id)
    }

    /// Persists `role` (Vault's `setRoleEntry`): constraints checked, the
    /// role ID unique across roles, its index moved along with it.
    /// Callers hold `role_lock`.
    pub(super) async fn save_role(
        &self,
        req: &Request,
        role: &RoleEntry,
        previous_role_id: &str,
    ) -> Result<()> {
        validate_constraints(role)?;
        if role.role_id.is_empty() {
            return Err(Error::bad_request(
                "invalid role_id supplied, or failed to generate a role_id",
            ));
        }
        let index_key = self.role_id_key(&role.role_id);
        if let Some(existing) = req.storage.get_json::<RoleIdEntry>(&index_key).await? {
            if existing.name != role.name {
                return Err(Error::bad_request("role_id already in use"));
            }
        }
        let mut ops = vec![BatchOp::Put(
            role_key(&role.name),
            serde_json::to_vec(role)?,
        )];
        if !previous_role_id.is_empty() && previous_role_id != role.role_id {
            ops.push(BatchOp::Delete(self.role_id_key(previous_role_id)));
        }
        let index = RoleIdEntry {
            name: role.name.clone(),
            role_id_hmac: self.role_id_hmac(&role.role_id),
        };
        ops.push(BatchOp::Put(index_key, serde_json::to_vec(&index)?));
        req.storage.batch(ops).await?;
        Ok(())
    }

    /// The existence check of `role/:role_name`.
    async fn role_exists(&self, req: &Request) -> Result<bool> {
        let name = role_name(req)?;
        Ok(self.role(req, &name).await?.is_some())
    }

    pub(super) async fn list_roles(&self, req: &mut Request) -> Result<Option<Response>> {
        Ok(Some(Response::list(
            req.storage.list_leaves("role/").await?,
        )))
    }

    /// `POST role/:role_name`, create or update (Vault's `pathRoleCreateUpdate`).
    pub(super) async fn write_role(&self, req: &mut Request) -> Result<Option<Response>> {
        let name = role_name(req)?;
        let _guard = self.role_lock.lock().await;
        let existing = self.role(req, &name).await?;
        let creating = existing.is_none();
        if creating && req.operation != Operation::Create {
            // The existence check said it existed, then it went away.
            return Err(Error::UnsupportedPath);
        }
        let mut role = existing.unwrap_or_else(|| RoleEntry {
            name: name.clone(),
            salt: crate::util::ids::uuid(),
            bind_secret_id: true,
            ..Default::default()
        });
        let data = &req.data;
        let mut warnings = role.token.parse(data)?;

        if let Some(local) = data.bool("local_secret_ids")? {
            if !creating {
                return Err(Error::bad_request(
                    "local_secret_ids can only be modified during role creation",
                ));
            }
            role.local_secret_ids = local;
        }

        let previous_role_id = role.role_id.clone();
        if let Some(role_id) = data.str("role_id")? {
            role.role_id = role_id;
        } else if creating {
            role.role_id = crate::util::ids::uuid();
        }
        if role.role_id.is_empty() {
            return Err(Error::bad_request(
                "invalid role_id supplied, or failed to generate a role_id",
            ));
        }

        if let Some(bind) = data.bool("bind_secret_id")? {
            role.bind_secret_id = bind;
        }

        let cidrs = match data.comma_list("secret_id_bound_cidrs")? {
            Some(cidrs) => Some(cidrs),
            None => {
                let legacy = data.comma_list("bound_cidr_list")?;
                if legacy.is_some() {
                    warnings.push(BOUND_CIDR_LIST_DEPRECATED.to_string());
                }
                legacy
            }
        };
        if let Some(cidrs) = cidrs {
            role.secret_id_bound_cidrs = validate_cidr_blocks(&cidrs, "CIDR blocks")?;
        }

        if let Some(uses) = data.int("secret_id_num_uses")? {
            role.secret_id_num_uses = uses;
        }
        if role.secret_id_num_uses < 0 {
            return Err(Error::bad_request("secret_id_num_uses cannot be negative"));
        }
        if let Some(ttl) = data.duration("secret_id_ttl")? {
            role.secret_id_ttl = ttl;
        }

        token_fields::upgrade_list(
            data,
            "policies",
            "token_policies",
            &mut role.policies,
            &mut role.token.token_policies,
            |p| Ok(token_fields::parse_policies(p)),
        )?;
        token_fields::upgrade_duration(
            data,
            "period",
            "token_period",
            &mut role.period,
            &mut role.token.token_period,
        )?;

        let mount_max = req.ttls.max_ttl;
        if role.period > mount_max {
            return Err(Error::BadRequest(format!(
                "period of {:?} is greater than the backend's maximum lease TTL of {:?}",
                GoDuration(role.period).to_string(),
                GoDuration(mount_max).to_string()
            )));
        }
        if role.token.token_max_ttl > mount_max {
            warnings.push(
                "token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' max TTL value will be truncated"
                    .to_string(),
            );
        }

        self.save_role(req, &role, &previous_role_id).await?;
        Ok(Response::warnings(warnings))
    }

    pub(super) async fn read_role(&self, req: &mut Request) -> Result<Option<Response>> {
        let name = role_name(req)?;
        let Some(role) = self.role(req, &name).await? else {
            return Ok(None);
        };
        let mut data = Map::new();
        data.insert("bind_secret_id".into(), json!(role.bind_secret_id));
        data.insert("local_secret_ids".into(), json!(role.local_secret_ids));
        data.insert(
            "secret_id_bound_cidrs".into(),
            json!(role.secret_id_bound_cidrs),
        );
        data.insert("secret_id_num_uses".into(), json!(role.secret_id_num_uses));
        data.insert("secret_id_ttl".into(), json!(role.secret_id_ttl));
        role.token.populate_data(&mut data);
        if role.period != 0 {
            data.insert("period".into(), json!(role.period));
        }
        if !role.policies.is_empty() {
            data.insert("policies".into(), json!(role.policies));
        }
        Ok(Some(Response::data(data)))
    }

    /// Deletes the role, its secret IDs and its role ID index. Absent → 204.
    pub(super) async fn delete_role(&self, req: &mut Request) -> Result<Option<Response>> {
        let name = role_name(req)?;
        let _guard = self.role_lock.lock().await;
        let Some(role) = self.role(req, &name).await? else {
            return Ok(None);
        };
        self.flush_secret_ids(req, &role).await?;
        req.storage
            .batch(vec![
                BatchOp::Delete(self.role_id_key(&role.role_id)),
                BatchOp::Delete(role_key(&role.name)),
            ])
            .await?;
        Ok(None)
    }

    pub(super) async fn read_role_id(&self, req: &mut Request) -> Result<Option<Response>> {
        let name = role_name(req)?;
        let Some(role) = self.role(req, &name).await? else {
            return Ok(None);
        };
        Ok(data_response(json!({ "role_id": role.role_id })))
    }

    /// `POST role/:role_name/role-id`: a custom role ID, unique across roles.
    pub(super) async fn write_role_id(&self, req: &mut Request) -> Result<Option<Response>> {
        let name = role_name(req)?;
        let _guard = self.role_lock.lock().await;
        let Some(mut role) = self.role(req, &name).await? else {
            return Err(Error::UnsupportedPath);
        };
        let role_id = req.data.str_or("role_id", "")?;
        if role_id.is_empty() {
            return Err(Error::bad_request("missing role_id"));
        }
        let previous = std::mem::replace(&mut role.role_id, role_id);
        self.save_role(req, &role, &previous).await?;
        Ok(None)
    }

    pub(super) async fn read_local_secret_ids(
        &self,
        req: &mut Request,
    ) -> Result<Option<Response>> {
        let name = role_name(req)?;
        let Some(role) = self.role(req, &name).await? else {
            return Ok(None);
        };
        Ok(data_response(
            json!({ "local_secret_ids": role.local_secret_ids }),
        ))
    }
}
