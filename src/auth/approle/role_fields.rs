//! The per-field sub-paths of a role (`role/:role_name/<field>`): each
//! reads, sets (the role must exist) and resets one field.

use serde_json::json;

use super::role::{data_response, validate_cidr_blocks, BOUND_CIDR_LIST_DEPRECATED};
use super::{role_name, AppRolePath, Inner, ROLE_NAME};
use crate::auth::token_fields;
use crate::handler;
use crate::logical::framework::Field;
use crate::logical::{Error, GoDuration, Request, Response, Result};

/// The path of one field: `role/:role_name/<sub>`, with its fields, served
/// by the field handlers for `field`.
macro_rules! field_path {
    ($sub:literal, $field:ident, $fields:expr) => {
        AppRolePath::new(concat!("role/:role_name/", $sub))
            .captures(ROLE_NAME)
            .fields(&[$fields])
            .read(handler!(b, r => b.inner.read_role_field(r, RoleField::$field)))
            .update(handler!(b, r => b.inner.update_role_field(r, RoleField::$field)))
            .delete(handler!(b, r => b.inner.delete_role_field(r, RoleField::$field)))
    };
}

pub(super) const PATHS: &[AppRolePath] = &[
    field_path!(
        "policies",
        Policies,
        &[Field::list("policies"), Field::list("token_policies")]
    ),
    field_path!(
        "bound-cidr-list",
        BoundCidrList,
        &[Field::list("bound_cidr_list")]
    ),
    field_path!(
        "secret-id-bound-cidrs",
        SecretIdBoundCidrs,
        &[Field::list("secret_id_bound_cidrs")]
    ),
    field_path!(
        "token-bound-cidrs",
        TokenBoundCidrs,
        &[Field::list("token_bound_cidrs")]
    ),
    field_path!(
        "bind-secret-id",
        BindSecretId,
        &[Field::bool("bind_secret_id")]
    ),
    field_path!(
        "secret-id-num-uses",
        SecretIdNumUses,
        &[Field::int("secret_id_num_uses")]
    ),
    field_path!(
        "secret-id-ttl",
        SecretIdTtl,
        &[Field::duration("secret_id_ttl")]
    ),
    field_path!(
        "period",
        Period,
        &[Field::duration("period"), Field::duration("token_period")]
    ),
    field_path!(
        "token-num-uses",
        TokenNumUses,
        &[Field::int("token_num_uses")]
    ),
    field_path!("token-ttl", TokenTtl, &[Field::duration("token_ttl")]),
    field_path!(
        "token-max-ttl",
        TokenMaxTtl,
        &[Field::duration("token_max_ttl")]
    ),
];

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

impl Inner {
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
