//! `config/acme`: whether the mount serves ACME and under which policy
//! (Vault's fields and checks; see
//! https://developer.hashicorp.com/vault/api-docs/secret/pki/issuance#set-acme-configuration).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::super::{config as pki_config, PkiBackend};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::storage::StorageView;

pub(in crate::secrets::pki) const PATHS: &[Path<PkiBackend>] = &[Path::new("config/acme")
    .fields(&[&[
        Field::bool("enabled"),
        Field::list("allowed_issuers"),
        Field::list("allowed_roles"),
        Field::bool("allow_role_ext_key_usage"),
        Field::string("default_directory_policy"),
        Field::string("dns_resolver"),
        Field::string("eab_policy"),
        Field::duration("max_ttl"),
    ]])
    .read(handler!(read))
    .update(handler!(write))];

const KEY: &str = "config/acme";

/// The leaf lifetime cap when `max_ttl` is unset: 90 days.
pub const DEFAULT_MAX_TTL: i64 = 90 * 24 * 3600;

/// Which role a directory without one in its path issues under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultPolicy {
    SignVerbatim,
    Role(String),
    Forbid,
}

impl DefaultPolicy {
    fn parse(text: &str) -> Result<DefaultPolicy> {
        let lower = text.trim().to_ascii_lowercase();
        match lower.as_str() {
            "" | "sign-verbatim" => Ok(DefaultPolicy::SignVerbatim),
            "forbid" => Ok(DefaultPolicy::Forbid),
            _ => match text.trim().strip_prefix("role:") {
                Some("") => Err(Error::bad_request(
                    "invalid default_directory_policy: no role specified by policy role:",
                )),
                Some(name) => Ok(DefaultPolicy::Role(name.to_string())),
                None => Err(Error::bad_request(format!(
                    "invalid default_directory_policy: string {text} not a valid Default Directory Policy"
                ))),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcmeConfig {
    pub enabled: bool,
    pub allowed_issuers: Vec<String>,
    pub allowed_roles: Vec<String>,
    pub allow_role_ext_key_usage: bool,
    pub default_directory_policy: String,
    pub dns_resolver: String,
    pub eab_policy: String,
    /// Seconds; 0 is [`DEFAULT_MAX_TTL`].
    #[serde(default)]
    pub max_ttl: i64,
}

impl Default for AcmeConfig {
    fn default() -> Self {
        AcmeConfig {
            enabled: false,
            allowed_issuers: vec!["*".into()],
            allowed_roles: vec!["*".into()],
            allow_role_ext_key_usage: false,
            default_directory_policy: "sign-verbatim".into(),
            dns_resolver: String::new(),
            eab_policy: "not-required".into(),
            max_ttl: 0,
        }
    }
}

impl AcmeConfig {
    pub fn default_policy(&self) -> DefaultPolicy {
        DefaultPolicy::parse(&self.default_directory_policy).unwrap_or(DefaultPolicy::Forbid)
    }

    pub fn max_ttl(&self) -> i64 {
        if self.max_ttl > 0 {
            self.max_ttl
        } else {
            DEFAULT_MAX_TTL
        }
    }

    /// The DNS server dns-01 validation asks, if one is configured.
    pub fn resolver(&self) -> Option<SocketAddr> {
        self.dns_resolver.parse().ok()
    }

    pub fn eab_required(&self) -> bool {
        self.eab_policy != "not-required"
    }

    fn data(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            "allow_role_ext_key_usage".into(),
            json!(self.allow_role_ext_key_usage),
        );
        m.insert("allowed_issuers".into(), json!(self.allowed_issuers));
        m.insert("allowed_roles".into(), json!(self.allowed_roles));
        m.insert(
            "default_directory_policy".into(),
            json!(self.default_directory_policy),
        );
        m.insert("dns_resolver".into(), json!(self.dns_resolver));
        m.insert("eab_policy".into(), json!(self.eab_policy));
        m.insert("enabled".into(), json!(self.enabled));
        m.insert("max_ttl".into(), json!(self.max_ttl));
        m
    }
}

pub async fn load(storage: &StorageView) -> Result<AcmeConfig> {
    Ok(storage.get_json(KEY).await?.unwrap_or_default())
}

async fn read(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    Ok(Some(Response::data(load(&req.storage).await?.data())))
}

/// Go's `net.SplitHostPort` plus Vault's "the host must be an IP" rule,
/// with their texts; answered 400 (OpenBao answers 500).
fn check_resolver(text: &str) -> Result<()> {
    let fail =
        |why: String| Error::bad_request(format!("failed to parse DNS resolver address: {why}"));
    if text.parse::<SocketAddr>().is_ok() {
        return Ok(());
    }
    let has_port = match text.strip_prefix('[') {
        Some(rest) => rest.contains("]:"),
        None => text.matches(':').count() == 1,
    };
    if !has_port {
        return Err(fail(format!("address {text}: missing port in address")));
    }
    Err(fail(
        "expected IPv4/IPv6 address, likely got hostname".into(),
    ))
}

async fn write(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let mut cfg = load(&req.storage).await?;
    let d = &req.data;
    if let Some(v) = d.bool("enabled")? {
        cfg.enabled = v;
    }
    if let Some(v) = d.comma_list("allowed_issuers")? {
        cfg.allowed_issuers = v;
    }
    if let Some(v) = d.comma_list("allowed_roles")? {
        cfg.allowed_roles = v;
    }
    if let Some(v) = d.bool("allow_role_ext_key_usage")? {
        cfg.allow_role_ext_key_usage = v;
    }
    if let Some(v) = d.str("default_directory_policy")? {
        cfg.default_directory_policy = v;
    }
    if let Some(v) = d.str("dns_resolver")? {
        cfg.dns_resolver = v;
    }
    if let Some(v) = d.str("eab_policy")? {
        cfg.eab_policy = v.to_ascii_lowercase();
    }
    if let Some(v) = d.duration("max_ttl")? {
        cfg.max_ttl = v;
    }
    let policy = DefaultPolicy::parse(&cfg.default_directory_policy)?;
    if !["not-required", "new-account-required", "always-required"]
        .contains(&cfg.eab_policy.as_str())
    {
        return Err(Error::bad_request("invalid eab policy name provided, valid values are 'not-required', 'new-account-required', 'always-required'"));
    }
    if !cfg.dns_resolver.is_empty() {
        check_resolver(&cfg.dns_resolver)?;
    }
    let any_role = cfg.allowed_roles.iter().any(|r| r == "*");
    if !any_role {
        for role in &cfg.allowed_roles {
            if backend.role(&req.storage, role).await?.is_none() {
                return Err(Error::bad_request(format!(
                    "allowed_role {role} is not a valid acme role: the request message was malformed: role does not exist"
                )));
            }
        }
    }
    if let DefaultPolicy::Role(name) = &policy {
        if backend.role(&req.storage, name).await?.is_none() {
            return Err(Error::bad_request(format!(
                "default directory policy role {name} is not a valid ACME role: the request message was malformed: role does not exist"
            )));
        }
        if !any_role && !cfg.allowed_roles.contains(name) {
            return Err(Error::bad_request(format!(
                "default directory policy role:{name} was not specified in allowed_roles: {:?}",
                cfg.allowed_roles
            )));
        }
    }
    if !cfg.allowed_issuers.iter().any(|i| i == "*") {
        let set = backend.issuers(&req.storage).await?;
        for issuer in &cfg.allowed_issuers {
            if set.resolve(issuer).is_none() {
                return Err(Error::bad_request(format!(
                    "failed validating allowed_issuers: unable to fetch issuer: {issuer}: unable to find PKI issuer for reference: {issuer}"
                )));
            }
        }
    }
    if cfg.enabled
        && pki_config::read_cluster(&req.storage)
            .await?
            .path
            .is_empty()
    {
        return Err(Error::bad_request(
            "ACME feature requires local cluster 'path' field configuration to be set",
        ));
    }
    req.storage.put_json(KEY, &cfg).await?;
    Ok(Some(Response::data(cfg.data())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolver_must_be_an_ip_with_a_port() {
        assert!(check_resolver("127.0.0.1:53").is_ok());
        assert!(check_resolver("[::1]:53").is_ok());
        let msg = |t: &str| {
            check_resolver(t)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(msg("x").contains("address x: missing port in address"));
        assert!(msg("1.2.3.4").contains("missing port in address"));
        assert!(msg("localhost:53").contains("likely got hostname"));
    }

    #[test]
    fn default_policies() {
        assert_eq!(
            DefaultPolicy::parse("forbid").ok(),
            Some(DefaultPolicy::Forbid)
        );
        assert_eq!(
            DefaultPolicy::parse("role:web").ok(),
            Some(DefaultPolicy::Role("web".into()))
        );
        assert!(DefaultPolicy::parse("role:").is_err());
        assert!(DefaultPolicy::parse("bogus").is_err());
    }
}
