//! The token a request presents, as the token store keeps it: what every
//! layer reads (the core's ACL and use counts, backends' lookups and
//! responses) without depending on the store that creates it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::util::gotime::{rfc3339, rfc3339_nano};

/// A stored token. `id` is filled in only from the request that presented
/// the token (never persisted).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct TokenEntry {
    #[serde(skip)]
    pub id: String,
    pub hashed_id: String,
    pub accessor: String,
    /// Hashed id of the parent token; empty for orphans.
    pub parent: String,
    pub policies: Vec<String>,
    pub path: String,
    pub meta: BTreeMap<String, String>,
    pub display_name: String,
    pub num_uses: i64,
    pub creation_time: i64,
    pub creation_ttl: i64,
    /// The max from the login or creation (role `token_max_ttl`), for renewals.
    pub max_ttl: i64,
    pub explicit_max_ttl: i64,
    pub period: i64,
    /// Unix seconds; 0 = never expires.
    pub expire_time: i64,
    pub renewable: bool,
    pub token_type: String,
    pub bound_cidrs: Vec<String>,
    pub last_renewal_time: i64,
    /// The identity entity of a login's alias (`""` for plain tokens).
    #[serde(default)]
    pub entity_id: String,
    /// The token role it was created through (`""` for none).
    #[serde(default)]
    pub role: String,
    /// `creation_time`, `expire_time` and `last_renewal_time` in Unix
    /// nanoseconds: Vault prints the lease's times (`issue_time`,
    /// `expire_time`, `last_renewal`) with their fraction. 0 in entries
    /// stored before they were kept (the seconds are printed then).
    #[serde(default)]
    pub precise: PreciseTimes,
}

/// A token's times to the nanosecond (see [`TokenEntry::precise`]).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default)]
pub struct PreciseTimes {
    pub issued: i64,
    pub expires: i64,
    pub renewed: i64,
}

/// `nanos` as Go prints a `time.Time`, or `seconds` when no finer time
/// was kept.
fn go_time(nanos: i64, seconds: i64) -> String {
    let nanos = if nanos != 0 {
        nanos
    } else {
        seconds.saturating_mul(1_000_000_000)
    };
    rfc3339_nano(nanos).unwrap_or_else(|| rfc3339(seconds))
}

impl TokenEntry {
    pub fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }

    /// Whether a request from `addr` may use this token (`bound_cidrs`).
    pub fn allows_address(&self, addr: Option<std::net::IpAddr>) -> bool {
        if self.bound_cidrs.is_empty() {
            return true;
        }
        let Some(addr) = addr.map(|a| a.to_canonical()) else {
            return false;
        };
        self.bound_cidrs.iter().any(|cidr| {
            cidr.parse::<ipnet::IpNet>()
                .map(|net| net.contains(&addr))
                .or_else(|_| cidr.parse::<std::net::IpAddr>().map(|ip| ip == addr))
                .unwrap_or(false)
        })
    }

    /// Expiry is kept in whole seconds, so a token expires only once the
    /// second after `expire_time` begins: it never lives less than its TTL
    /// (a 1s token made at 10.999 still works at 11.5).
    pub fn is_expired(&self, now: i64) -> bool {
        self.expire_time != 0 && self.expire_time < now
    }

    pub fn ttl_remaining(&self, now: i64) -> i64 {
        if self.expire_time == 0 {
            0
        } else {
            (self.expire_time - now).max(0)
        }
    }

    /// The `data` of `auth/token/lookup*`.
    pub fn lookup_data(&self, now: i64) -> Map<String, Value> {
        let expire_time = if self.expire_time == 0 {
            Value::Null
        } else {
            Value::String(go_time(self.precise.expires, self.expire_time))
        };
        let meta = if self.meta.is_empty() {
            Value::Null
        } else {
            json!(self.meta)
        };
        let mut data = json!({
            "accessor": self.accessor,
            "creation_time": self.creation_time,
            "creation_ttl": self.creation_ttl,
            "display_name": self.display_name,
            "entity_id": self.entity_id,
            "expire_time": expire_time,
            "explicit_max_ttl": self.explicit_max_ttl,
            "id": self.id,
            "issue_time": go_time(self.precise.issued, self.creation_time),
            "meta": meta,
            "num_uses": self.num_uses,
            "orphan": self.parent.is_empty(),
            "path": self.path,
            "policies": self.policies,
            "renewable": self.renewable,
            "ttl": self.ttl_remaining(now),
            "type": self.token_type,
        });
        if let Some(map) = data.as_object_mut() {
            if self.period > 0 {
                map.insert("period".into(), json!(self.period));
            }
            if self.last_renewal_time > 0 {
                map.insert("last_renewal_time".into(), json!(self.last_renewal_time));
                map.insert(
                    "last_renewal".into(),
                    json!(go_time(self.precise.renewed, self.last_renewal_time)),
                );
            }
            if !self.bound_cidrs.is_empty() {
                map.insert("bound_cidrs".into(), json!(self.bound_cidrs));
            }
            if !self.role.is_empty() {
                map.insert("role".into(), json!(self.role));
            }
        }
        data.as_object().cloned().unwrap_or_default()
    }

    /// Vault's `auth` object for a response that issued or renewed this token.
    pub fn auth_json(&self, lease_duration: i64) -> Value {
        let token_policies: Vec<&String> = self.policies.iter().collect();
        json!({
            "client_token": self.id,
            "accessor": self.accessor,
            "policies": self.policies,
            "token_policies": token_policies,
            "metadata": if self.meta.is_empty() { Value::Null } else { json!(self.meta) },
            "lease_duration": lease_duration,
            "renewable": self.renewable,
            "entity_id": self.entity_id,
            "token_type": self.token_type,
            "orphan": self.parent.is_empty(),
            "mfa_requirement": null,
            "num_uses": self.num_uses,
        })
    }
}
