//! The `token_*` role fields every auth method shares (Vault's
//! `sdk/helper/tokenutil`): how they are parsed from a write, shown on a
//! read, turned into an [`Auth`] grant at login, and how the deprecated
//! pre-1.2 aliases (`policies`, `period`, `bound_cidrs`, …) map onto them.
//!
//! A backend embeds [`TokenFields`] in its role record, declares
//! [`TOKEN_FIELDS`] among its role path's fields, calls [`TokenFields::parse`]
//! on create/update, [`TokenFields::populate_data`] on read and
//! [`TokenFields::to_auth`] on login.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::logical::framework::Field;
use crate::logical::{Auth, Error, FieldData, Request, Result};

/// The token fields every auth method's role paths take, as Vault's
/// `tokenutil.AddTokenFields` declares them; [`TokenFields::parse`] reads
/// each as its declared kind.
pub const TOKEN_FIELDS: &[Field] = &[
    Field::list("token_bound_cidrs"),
    Field::duration("token_explicit_max_ttl"),
    Field::duration("token_max_ttl"),
    Field::bool("token_no_default_policy"),
    Field::int("token_num_uses"),
    Field::duration("token_period"),
    Field::list("token_policies"),
    Field::string("token_type"),
    Field::duration("token_ttl"),
];

/// `token_type` of a role. `Default` defers to the mount (a service token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenType {
    #[default]
    Default,
    Service,
    Batch,
    DefaultService,
    DefaultBatch,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Default => "default",
            TokenType::Service => "service",
            TokenType::Batch => "batch",
            TokenType::DefaultService => "default-service",
            TokenType::DefaultBatch => "default-batch",
        }
    }

    fn is_batch(self) -> bool {
        matches!(self, TokenType::Batch | TokenType::DefaultBatch)
    }

    /// What the core is asked to mint (`None` = its default, a service token).
    fn for_auth(self) -> Option<String> {
        match self {
            TokenType::Default => None,
            TokenType::Service | TokenType::DefaultService => Some("service".into()),
            TokenType::Batch | TokenType::DefaultBatch => Some("batch".into()),
        }
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The token parameters of a role. Durations are whole seconds, 0 = unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenFields {
    /// Normalized addresses/CIDRs (`127.0.0.1`, `10.0.0.0/8`).
    pub token_bound_cidrs: Vec<String>,
    pub token_explicit_max_ttl: i64,
    pub token_max_ttl: i64,
    pub token_no_default_policy: bool,
    pub token_num_uses: i64,
    pub token_period: i64,
    pub token_policies: Vec<String>,
    pub token_type: TokenType,
    pub token_ttl: i64,
}

impl TokenFields {
    /// Applies the token fields present in `data` (absent fields keep their
    /// value) and validates the result as Vault's `ParseTokenFields` does.
    /// Returns warnings (the legacy `default-service`/`default-batch` types).
    pub fn parse(&mut self, data: &FieldData) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        if let Some(cidrs) = data.comma_list("token_bound_cidrs")? {
            self.token_bound_cidrs = parse_addrs(&cidrs)?;
        }
        if let Some(ttl) = data.duration("token_explicit_max_ttl")? {
            self.token_explicit_max_ttl = ttl;
        }
        if let Some(ttl) = data.duration("token_max_ttl")? {
            self.token_max_ttl = ttl;
        }
        if let Some(flag) = data.bool("token_no_default_policy")? {
            self.token_no_default_policy = flag;
        }
        if let Some(period) = data.duration("token_period")? {
            self.token_period = period;
        }
        if let Some(policies) = data.comma_list("token_policies")? {
            self.token_policies = policies;
        }
        if let Some(raw) = data.str("token_type")? {
            self.token_type = match raw.as_str() {
                "" | "default" => TokenType::Default,
                "service" => TokenType::Service,
                "batch" => TokenType::Batch,
                "default-service" => {
                    warnings.push(
                        "default-service has no useful meaning; adjusting to service".to_string(),
                    );
                    TokenType::Service
                }
                "default-batch" => {
                    warnings.push(
                        "default-batch has no useful meaning; adjusting to batch".to_string(),
                    );
                    TokenType::Batch
                }
                other => {
                    return Err(Error::BadRequest(format!(
                        "invalid 'token_type' value {other:?}"
                    )))
                }
            };
        }
        if let Some(uses) = data.int("token_num_uses")? {
            self.token_num_uses = uses;
        }
        if self.token_num_uses < 0 {
            return Err(Error::bad_request("'token_num_uses' cannot be negative"));
        }
        if self.token_type.is_batch() {
            if self.token_period != 0 {
                return Err(Error::bad_request(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens",
                ));
            }
            if self.token_num_uses != 0 {
                return Err(Error::bad_request(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count",
                ));
            }
        }
        if let Some(ttl) = data.duration("token_ttl")? {
            self.token_ttl = ttl;
        }
        if self.token_ttl > 0 && self.token_max_ttl > 0 && self.token_ttl > self.token_max_ttl {
            return Err(Error::bad_request(
                "'token_ttl' cannot be greater than 'token_max_ttl'",
            ));
        }
        Ok(warnings)
    }

    /// Adds the fields to a role read's `data`, as Vault shows them.
    pub fn populate_data(&self, data: &mut Map<String, Value>) {
        data.insert("token_bound_cidrs".into(), json!(self.token_bound_cidrs));
        data.insert(
            "token_explicit_max_ttl".into(),
            json!(self.token_explicit_max_ttl),
        );
        data.insert("token_max_ttl".into(), json!(self.token_max_ttl));
        data.insert(
            "token_no_default_policy".into(),
            json!(self.token_no_default_policy),
        );
        data.insert("token_num_uses".into(), json!(self.token_num_uses));
        data.insert("token_period".into(), json!(self.token_period));
        data.insert("token_policies".into(), json!(self.token_policies));
        data.insert("token_type".into(), json!(self.token_type.as_str()));
        data.insert("token_ttl".into(), json!(self.token_ttl));
    }

    /// The grant a login with these parameters asks for. The caller adds
    /// metadata and may override `bound_cidrs`; the core applies the mount's
    /// TTLs and keeps `max_ttl` on the token for renewals.
    pub fn to_auth(&self) -> Auth {
        Auth {
            policies: self.token_policies.clone(),
            ttl: self.token_ttl,
            max_ttl: self.token_max_ttl,
            explicit_max_ttl: self.token_explicit_max_ttl,
            period: self.token_period,
            num_uses: self.token_num_uses,
            renewable: true,
            no_default_policy: self.token_no_default_policy,
            bound_cidrs: self.token_bound_cidrs.clone(),
            orphan: true,
            token_type: self.token_type.for_auth(),
            ..Default::default()
        }
    }
}

/// Vault's `policyutil.ParsePolicies` for the deprecated `policies` field:
/// trimmed, lower-cased, de-duplicated and sorted; `root` swallows the rest.
pub fn parse_policies(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = items
        .iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    if out.iter().any(|p| p == "root") {
        return vec!["root".into()];
    }
    out.sort();
    out.dedup();
    out
}

/// Vault's `tokenutil.UpgradeValue` for a deprecated alias of a list field:
/// the new key wins; the old key alone sets both; the new key alone clears
/// the old value (so a read stops showing the legacy field).
pub fn upgrade_list(
    data: &FieldData,
    old_key: &str,
    new_key: &str,
    old_value: &mut Vec<String>,
    new_value: &mut Vec<String>,
    normalize: impl Fn(&[String]) -> Result<Vec<String>>,
) -> Result<()> {
    if data.contains(new_key) {
        if data.contains(old_key) {
            *old_value = new_value.clone();
        } else {
            old_value.clear();
        }
    } else if let Some(items) = data.comma_list(old_key)? {
        *old_value = normalize(&items)?;
        *new_value = old_value.clone();
    }
    Ok(())
}

/// [`upgrade_list`] for a duration field (`period` → `token_period`).
pub fn upgrade_duration(
    data: &FieldData,
    old_key: &str,
    new_key: &str,
    old_value: &mut i64,
    new_value: &mut i64,
) -> Result<()> {
    if data.contains(new_key) {
        *old_value = if data.contains(old_key) {
            *new_value
        } else {
            0
        };
    } else if let Some(secs) = data.duration(old_key)? {
        *old_value = secs;
        *new_value = secs;
    }
    Ok(())
}

/// Vault's `parseutil.ParseAddrs` for `token_bound_cidrs`: each item is an
/// IP address or a CIDR; a full-length prefix prints as the bare address,
/// as go-sockaddr does (`127.0.0.1/32` → `127.0.0.1`).
pub fn parse_addrs(items: &[String]) -> Result<Vec<String>> {
    items
        .iter()
        .map(|item| {
            let item = item.trim();
            let bad = || {
                Error::BadRequest(format!(
                    "error parsing address {item:?}: Unable to convert {item:?} to an IPv4 or IPv6 address, or a UNIX Socket"
                ))
            };
            if item.contains('/') {
                let net = IpNet::from_str(item).map_err(|_| bad())?;
                Ok(if net.prefix_len() == net.max_prefix_len() {
                    net.addr().to_string()
                } else {
                    net.to_string()
                })
            } else {
                IpAddr::from_str(item).map(|ip| ip.to_string()).map_err(|_| bad())
            }
        })
        .collect()
}

/// A bound address as [`parse_addrs`] stores it, as a network.
pub fn addr_to_net(addr: &str) -> Option<IpNet> {
    if addr.contains('/') {
        IpNet::from_str(addr).ok()
    } else {
        IpAddr::from_str(addr).ok().map(IpNet::from)
    }
}

/// The TCP peer of a request, IPv4-mapped addresses unmapped.
pub fn peer_ip(req: &Request) -> Option<IpAddr> {
    req.connection
        .remote_addr
        .map(|addr| addr.ip().to_canonical())
}

/// Whether `ip` lies in one of `blocks` (addresses or CIDRs).
pub fn ip_in_blocks(ip: IpAddr, blocks: &[String]) -> bool {
    blocks
        .iter()
        .filter_map(|b| addr_to_net(b.trim()))
        .any(|net| net.contains(&ip))
}

/// Is the TCP peer of a login inside the role's `token_bound_cidrs`? No
/// bound → always; bound but no peer known → never.
pub fn peer_in_bound_cidrs(req: &Request, bound: &[String]) -> bool {
    if bound.is_empty() {
        return true;
    }
    peer_ip(req).is_some_and(|ip| ip_in_blocks(ip, bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(v: Value) -> FieldData {
        FieldData::new(v.as_object().cloned().unwrap_or_default())
    }

    /// The declaration and the code agree: a write validated against
    /// [`TOKEN_FIELDS`] parses (a getter of another kind would fail), and a
    /// read shows exactly the declared fields.
    #[test]
    fn the_declared_fields_are_the_ones_parsed_and_shown() {
        let mut d = data(json!({
            "token_bound_cidrs": "10.0.0.0/8",
            "token_explicit_max_ttl": "1h",
            "token_max_ttl": "1h",
            "token_no_default_policy": true,
            "token_num_uses": 2,
            "token_period": "1m",
            "token_policies": "a",
            "token_type": "service",
            "token_ttl": "1m",
        }));
        assert!(d
            .validate(crate::logical::framework::Fields::Declared(&[TOKEN_FIELDS]))
            .is_ok());
        let mut t = TokenFields::default();
        assert_eq!(t.parse(&d).map_err(|e| e.to_string()), Ok(Vec::new()));
        let mut shown = Map::new();
        t.populate_data(&mut shown);
        let mut shown: Vec<&str> = shown.keys().map(String::as_str).collect();
        let mut declared: Vec<&str> = TOKEN_FIELDS.iter().map(|f| f.name).collect();
        shown.sort_unstable();
        declared.sort_unstable();
        assert_eq!(shown, declared);
    }

    #[test]
    fn cli_strings_parse_into_typed_fields() {
        let mut t = TokenFields::default();
        let warnings = t
            .parse(&data(json!({
                "token_policies": "cert-manager, other",
                "token_ttl": "1h",
                "token_max_ttl": "2h",
                "token_num_uses": "3",
                "token_no_default_policy": "true",
                "token_bound_cidrs": "127.0.0.1,10.0.0.5/24,::1/128",
            })))
            .unwrap_or_default();
        assert!(warnings.is_empty());
        assert_eq!(t.token_policies, vec!["cert-manager", "other"]);
        assert_eq!(
            (t.token_ttl, t.token_max_ttl, t.token_num_uses),
            (3600, 7200, 3)
        );
        assert!(t.token_no_default_policy);
        assert_eq!(t.token_bound_cidrs, vec!["127.0.0.1", "10.0.0.5/24", "::1"]);
    }

    #[test]
    fn absent_fields_keep_their_values() {
        let mut t = TokenFields {
            token_ttl: 60,
            token_policies: vec!["a".into()],
            ..Default::default()
        };
        assert!(t.parse(&data(json!({"token_max_ttl": 120}))).is_ok());
        assert_eq!(t.token_ttl, 60);
        assert_eq!(t.token_policies, vec!["a"]);
    }

    #[test]
    fn ttl_above_max_is_refused_with_vaults_text() {
        let mut t = TokenFields::default();
        let err = t
            .parse(&data(json!({"token_ttl": "3h", "token_max_ttl": "2h"})))
            .err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("'token_ttl' cannot be greater than 'token_max_ttl'")
        );
    }

    #[test]
    fn batch_tokens_cannot_be_periodic_or_use_limited() {
        let mut t = TokenFields::default();
        assert!(t
            .parse(&data(json!({"token_type": "batch", "token_num_uses": 3})))
            .is_err());
        let mut t = TokenFields::default();
        assert!(t
            .parse(&data(json!({"token_type": "batch", "token_period": "1h"})))
            .is_err());
        let mut t = TokenFields::default();
        let err = t
            .parse(&data(json!({"token_type": "weird"})))
            .err()
            .map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("invalid 'token_type' value \"weird\""));
    }

    #[test]
    fn legacy_default_service_is_adjusted_with_a_warning() {
        let mut t = TokenFields::default();
        let warnings = t
            .parse(&data(json!({"token_type": "default-service"})))
            .unwrap_or_default();
        assert_eq!(t.token_type, TokenType::Service);
        assert_eq!(
            warnings,
            vec!["default-service has no useful meaning; adjusting to service"]
        );
    }

    #[test]
    fn bad_addresses_are_refused() {
        let err = parse_addrs(&["notacidr".into()])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("error parsing address \"notacidr\""));
    }

    #[test]
    fn deprecated_policies_alias_sets_both_and_new_key_clears_old() {
        let (mut old, mut new) = (Vec::new(), Vec::new());
        let d = data(json!({"policies": "B,a,a"}));
        assert!(upgrade_list(
            &d,
            "policies",
            "token_policies",
            &mut old,
            &mut new,
            |p| Ok(parse_policies(p))
        )
        .is_ok());
        assert_eq!(
            (old.clone(), new.clone()),
            (
                vec!["a".to_string(), "b".into()],
                vec!["a".to_string(), "b".into()]
            )
        );
        new = vec!["z".into()];
        let d = data(json!({"token_policies": "z"}));
        assert!(upgrade_list(
            &d,
            "policies",
            "token_policies",
            &mut old,
            &mut new,
            |p| Ok(parse_policies(p))
        )
        .is_ok());
        assert!(old.is_empty());
        assert_eq!(new, vec!["z"]);
    }

    #[test]
    fn deprecated_period_alias() {
        let (mut old, mut new) = (0, 0);
        assert!(upgrade_duration(
            &data(json!({"period": "1h"})),
            "period",
            "token_period",
            &mut old,
            &mut new
        )
        .is_ok());
        assert_eq!((old, new), (3600, 3600));
    }

    #[test]
    fn login_grant_carries_the_role_max_for_renewals() {
        let t = TokenFields {
            token_ttl: 3600,
            token_max_ttl: 7200,
            ..Default::default()
        };
        let auth = t.to_auth();
        assert_eq!((auth.ttl, auth.max_ttl), (3600, 7200));
        assert!(auth.renewable && auth.orphan);
        assert_eq!(auth.token_type, None);
    }
}
