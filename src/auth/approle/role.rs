//! Roles: create/update with every field and Vault's defaults, read,
//! delete, list, the per-field sub-paths and the role ID.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{parse_cidr_blocks, role_name, Inner};
use crate::auth::token_fields::{self, TokenFields};
use crate::logical::{Error, GoDuration, Operation, Request, Response, Result};
use crate::storage::BatchOp;

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

/// The per-field sub-paths of a role (`role/:role_name/<field>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RoleField {
    Policies,
    BoundCidrList,
    SecretIdBoundCidrs,
    TokenBoundCidrs,
    BindSecretId,
    SecretIdNumUses,
    SecretIdTtl,
    Period,
    TokenNumUses,
    TokenTtl,
    TokenMaxTtl,
}

impl RoleField {
    pub fn for_route(route: &str) -> Option<RoleField> {
        Some(match route.strip_prefix("role/:role_name/")? {
            "policies" => RoleField::Policies,
            "bound-cidr-list" => RoleField::BoundCidrList,
            "secret-id-bound-cidrs" => RoleField::SecretIdBoundCidrs,
            "token-bound-cidrs" => RoleField::TokenBoundCidrs,
            "bind-secret-id" => RoleField::BindSecretId,
            "secret-id-num-uses" => RoleField::SecretIdNumUses,
            "secret-id-ttl" => RoleField::SecretIdTtl,
            "period" => RoleField::Period,
            "token-num-uses" => RoleField::TokenNumUses,
            "token-ttl" => RoleField::TokenTtl,
            "token-max-ttl" => RoleField::TokenMaxTtl,
            _ => return None,
        })
    }
}

const BOUND_CIDR_LIST_DEPRECATED: &str =
    "The \"bound_cidr_list\" field is deprecated and will be removed. Please use \"secret_id_bound_cidrs\" instead.";

pub(super) fn role_key(name: &str) -> String {
    format!("role/{name}")
}

fn data_response(pairs: Value) -> Option<Response> {
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
    async fn save_role(
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
            salt: crate::core::keys::uuid(),
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
            role.role_id = crate::core::keys::uuid();
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

    pub(super) async fn read_role_field(
        &self,
        req: &mut Request,
        field: RoleField,
    ) -> Result<Option<Response>> {
        let name = role_name(req)?;
        let Some(role) = self.role(req, &name).await? else {
            return Ok(None);
        };
        let t = &role.token;
        let mut warnings = Vec::new();
        let data = match field {
            RoleField::Policies => {
                let mut d = json!({ "token_policies": t.token_policies });
                if !role.policies.is_empty() {
                    d["policies"] = json!(role.policies);
                }
                d
            }
            RoleField::BoundCidrList => {
                warnings.push(BOUND_CIDR_LIST_DEPRECATED.to_string());
                json!({ "bound_cidr_list": role.secret_id_bound_cidrs })
            }
            RoleField::SecretIdBoundCidrs => {
                json!({ "secret_id_bound_cidrs": role.secret_id_bound_cidrs })
            }
            RoleField::TokenBoundCidrs => json!({ "token_bound_cidrs": t.token_bound_cidrs }),
            RoleField::BindSecretId => json!({ "bind_secret_id": role.bind_secret_id }),
            RoleField::SecretIdNumUses => json!({ "secret_id_num_uses": role.secret_id_num_uses }),
            RoleField::SecretIdTtl => json!({ "secret_id_ttl": role.secret_id_ttl }),
            RoleField::Period => {
                let mut d = json!({ "token_period": t.token_period });
                if role.period > 0 {
                    d["period"] = json!(role.period);
                }
                d
            }
            RoleField::TokenNumUses => json!({ "token_num_uses": t.token_num_uses }),
            RoleField::TokenTtl => json!({ "token_ttl": t.token_ttl }),
            RoleField::TokenMaxTtl => json!({ "token_max_ttl": t.token_max_ttl }),
        };
        Ok(data_response(data).map(|r| Response { warnings, ..r }))
    }

    /// `POST role/:role_name/<field>`: sets one field (the role must exist).
    pub(super) async fn update_role_field(
        &self,
        req: &mut Request,
        field: RoleField,
    ) -> Result<Option<Response>> {
        let name = role_name(req)?;
        let _guard = self.role_lock.lock().await;
        let Some(mut role) = self.role(req, &name).await? else {
            return Err(Error::UnsupportedPath);
        };
        let data = &req.data;
        let missing = |name: &str| Error::BadRequest(format!("missing {name}"));
        match field {
            RoleField::Policies => {
                if let Some(policies) = data.comma_list("token_policies")? {
                    role.token.token_policies = token_fields::parse_policies(&policies);
                    role.policies = if data.contains("policies") {
                        role.token.token_policies.clone()
                    } else {
                        Vec::new()
                    };
                } else if let Some(policies) = data.comma_list("policies")? {
                    role.policies = token_fields::parse_policies(&policies);
                    role.token.token_policies = role.policies.clone();
                } else {
                    return Err(missing("token_policies"));
                }
            }
            RoleField::BoundCidrList | RoleField::SecretIdBoundCidrs => {
                let key = if field == RoleField::BoundCidrList {
                    "bound_cidr_list"
                } else {
                    "secret_id_bound_cidrs"
                };
                let cidrs = data.comma_list_or_empty(key)?;
                if cidrs.is_empty() {
                    return Err(missing("bound_cidr_list"));
                }
                role.secret_id_bound_cidrs = validate_cidr_blocks(&cidrs, "CIDR blocks")?;
            }
            RoleField::TokenBoundCidrs => {
                let cidrs = data
                    .comma_list("token_bound_cidrs")?
                    .ok_or_else(|| missing("token_bound_cidrs"))?;
                role.token.token_bound_cidrs = token_fields::parse_addrs(&cidrs).map_err(|e| {
                    Error::BadRequest(format!("failed to parse token_bound_cidrs: {e}"))
                })?;
            }
            RoleField::BindSecretId => {
                role.bind_secret_id = data
                    .bool("bind_secret_id")?
                    .ok_or_else(|| missing("bind_secret_id"))?;
            }
            RoleField::SecretIdNumUses => {
                let uses = data
                    .int("secret_id_num_uses")?
                    .ok_or_else(|| missing("secret_id_num_uses"))?;
                if uses < 0 {
                    return Err(Error::bad_request("secret_id_num_uses cannot be negative"));
                }
                role.secret_id_num_uses = uses;
            }
            RoleField::SecretIdTtl => {
                role.secret_id_ttl = data
                    .duration("secret_id_ttl")?
                    .ok_or_else(|| missing("secret_id_ttl"))?;
            }
            RoleField::Period => {
                if let Some(period) = data.duration("token_period")? {
                    role.token.token_period = period;
                    role.period = if data.contains("period") { period } else { 0 };
                } else if let Some(period) = data.duration("period")? {
                    role.period = period;
                    role.token.token_period = period;
                } else {
                    return Err(missing("period"));
                }
                let mount_max = req.ttls.max_ttl;
                if role.token.token_period > mount_max {
                    return Err(Error::BadRequest(format!(
                        "period of {:?} is greater than the backend's maximum lease TTL of {:?}",
                        GoDuration(role.token.token_period).to_string(),
                        GoDuration(mount_max).to_string()
                    )));
                }
            }
            RoleField::TokenNumUses => {
                let uses = data
                    .int("token_num_uses")?
                    .ok_or_else(|| missing("token_num_uses"))?;
                if uses < 0 {
                    return Err(Error::bad_request("'token_num_uses' cannot be negative"));
                }
                role.token.token_num_uses = uses;
            }
            RoleField::TokenTtl => {
                let ttl = data
                    .duration("token_ttl")?
                    .ok_or_else(|| missing("token_ttl"))?;
                if role.token.token_max_ttl > 0 && ttl > role.token.token_max_ttl {
                    return Err(Error::bad_request(
                        "token_ttl should not be greater than token_max_ttl",
                    ));
                }
                role.token.token_ttl = ttl;
            }
            RoleField::TokenMaxTtl => {
                let max = data
                    .duration("token_max_ttl")?
                    .ok_or_else(|| missing("token_max_ttl"))?;
                if max > 0 && role.token.token_ttl > max {
                    return Err(Error::bad_request(
                        "token_max_ttl should be greater than or equal to token_ttl",
                    ));
                }
                role.token.token_max_ttl = max;
            }
        }
        let role_id = role.role_id.clone();
        self.save_role(req, &role, &role_id).await?;
        Ok(None)
    }

    /// `DELETE role/:role_name/<field>`: resets one field to its default.
    pub(super) async fn delete_role_field(
        &self,
        req: &mut Request,
        field: RoleField,
    ) -> Result<Option<Response>> {
        let name = role_name(req)?;
        let _guard = self.role_lock.lock().await;
        let Some(mut role) = self.role(req, &name).await? else {
            return Ok(None);
        };
        match field {
            RoleField::Policies => {
                role.token.token_policies.clear();
                role.policies.clear();
            }
            RoleField::BoundCidrList | RoleField::SecretIdBoundCidrs => {
                role.secret_id_bound_cidrs.clear()
            }
            RoleField::TokenBoundCidrs => role.token.token_bound_cidrs.clear(),
            RoleField::BindSecretId => role.bind_secret_id = true,
            RoleField::SecretIdNumUses => role.secret_id_num_uses = 0,
            RoleField::SecretIdTtl => role.secret_id_ttl = 0,
            RoleField::Period => {
                role.token.token_period = 0;
                role.period = 0;
            }
            RoleField::TokenNumUses => role.token.token_num_uses = 0,
            RoleField::TokenTtl => role.token.token_ttl = 0,
            RoleField::TokenMaxTtl => role.token.token_max_ttl = 0,
        }
        let role_id = role.role_id.clone();
        self.save_role(req, &role, &role_id).await?;
        Ok(None)
    }
}
