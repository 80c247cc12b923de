//! `POST auth/approle/login`: role ID (+ secret ID) → token grant.

use super::role::{RoleEntry, RoleIdEntry};
use super::{verify_cidr_subset, AppRolePath, Inner};
use crate::auth::token_fields::{ip_in_blocks, peer_ip};
use crate::handler;
use crate::logical::framework::Field;
use crate::logical::{Error, Request, Response, Result};
use crate::util::gotime::now_nanos;
use crate::util::keyed_hash::constant_time_eq;

pub(super) const PATHS: &[AppRolePath] = &[AppRolePath::new("login")
    .unauthenticated()
    .fields(&[&[Field::string("role_id"), Field::string("secret_id")]])
    .update(handler!(b, r => b.inner.login(r)))];

/// Vault answers every unknown role ID, unknown or used-up secret ID alike.
const INVALID: &str = "invalid role or secret ID";

fn invalid() -> Error {
    Error::bad_request(INVALID)
}

impl Inner {
    /// Finds the role a role ID belongs to, comparing the ID in constant time.
    async fn role_by_role_id(&self, req: &Request, role_id: &str) -> Result<Option<RoleEntry>> {
        let Some(index) = req
            .storage
            .get_json::<RoleIdEntry>(&self.role_id_key(role_id))
            .await?
        else {
            return Ok(None);
        };
        let expected = self.role_id_hmac(role_id);
        if !constant_time_eq(index.role_id_hmac.as_bytes(), expected.as_bytes()) {
            return Ok(None);
        }
        let Some(role) = self.role(req, &index.name).await? else {
            return Ok(None);
        };
        if !constant_time_eq(role.role_id.as_bytes(), role_id.as_bytes()) {
            return Ok(None);
        }
        Ok(Some(role))
    }

    pub(super) async fn login(&self, req: &mut Request) -> Result<Option<Response>> {
        let role_id = req.data.str_or("role_id", "")?.trim().to_string();
        if role_id.is_empty() {
            return Err(Error::bad_request("missing role_id"));
        }
        let Some(role) = self.role_by_role_id(req, &role_id).await? else {
            return Err(invalid());
        };

        let mut metadata = std::collections::BTreeMap::new();
        let mut token_bound_cidrs = role.token.token_bound_cidrs.clone();
        if role.bind_secret_id {
            let secret_id = req.data.str_or("secret_id", "")?.trim().to_string();
            if secret_id.is_empty() {
                return Err(Error::bad_request("missing secret_id"));
            }
            let secret_hmac = self.secret_hmac(&role, &secret_id);
            // Held until the use is consumed: concurrent logins cannot
            // spend the same use twice.
            let _guard = self.secret_lock(&secret_hmac).lock().await;
            let Some(mut entry) = self.secret_entry(&req.storage, &role, &secret_hmac).await?
            else {
                return Err(invalid());
            };
            if entry.expired(now_nanos()) {
                self.remove_secret_entry(&req.storage, &role, &entry)
                    .await?;
                return Err(invalid());
            }
            verify_cidr_subset(&entry.cidr_list, &role.secret_id_bound_cidrs)?;
            if !entry.cidr_list.is_empty() {
                let ip = peer_ip(req)
                    .ok_or_else(|| Error::internal("failed to get connection information"))?;
                if !ip_in_blocks(ip, &entry.cidr_list) {
                    return Err(Error::BadRequest(format!(
                        "source address \"{ip}\" unauthorized through CIDR restrictions on the secret ID"
                    )));
                }
            }
            check_role_cidrs(req, &role)?;
            // Every check passed: only now is a use consumed.
            match entry.secret_id_num_uses {
                0 => {}
                1 => {
                    self.remove_secret_entry(&req.storage, &role, &entry)
                        .await?
                }
                _ => {
                    entry.secret_id_num_uses -= 1;
                    entry.last_updated_time = now_nanos();
                    self.put_secret_entry(&req.storage, &role, &entry).await?;
                }
            }
            if !entry.token_bound_cidrs.is_empty() {
                token_bound_cidrs = entry.token_bound_cidrs.clone();
            }
            metadata = entry.metadata;
        } else {
            check_role_cidrs(req, &role)?;
        }
        metadata.insert("role_name".to_string(), role.name.clone());

        let mut auth = role.token.to_auth();
        // Vault gives the alias the token's metadata.
        auth.alias_metadata = metadata.clone();
        auth.metadata = metadata;
        auth.bound_cidrs = token_bound_cidrs;
        auth.display_name = String::new();
        auth.alias_name = Some(role.role_id.clone());
        Ok(Some(Response::auth(auth)))
    }
}

/// The role's `secret_id_bound_cidrs` against the TCP peer.
fn check_role_cidrs(req: &Request, role: &RoleEntry) -> Result<()> {
    if role.secret_id_bound_cidrs.is_empty() {
        return Ok(());
    }
    let ip = peer_ip(req).ok_or_else(|| Error::internal("failed to get connection information"))?;
    if ip_in_blocks(ip, &role.secret_id_bound_cidrs) {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "source address \"{ip}\" unauthorized by CIDR restrictions on the role"
        )))
    }
}
