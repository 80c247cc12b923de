//! The multi-issuer storage model: issuers (CA certificates) and keys,
//! stored separately under UUIDs, with the mount's defaults in
//! `config/issuers` and `config/keys`. [`IssuerSet`] is the parsed, cached
//! view the signing paths use.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::cert_info::CertInfo;
use super::private_key::PrivateKey;
use crate::logical::{Error, Result};
use crate::storage::StorageView;

pub const ISSUER_PREFIX: &str = "issuer/";
pub const KEY_PREFIX: &str = "key/";
pub const CONFIG_ISSUERS: &str = "config/issuers";
pub const CONFIG_KEYS: &str = "config/keys";

pub const ALL_USAGES: &str = "crl-signing,issuing-certificates,ocsp-signing,read-only";

/// Per-issuer AIA settings (empty = use the global `config/urls`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IssuerUrls {
    #[serde(default)]
    pub issuing_certificates: Vec<String>,
    #[serde(default)]
    pub crl_distribution_points: Vec<String>,
    #[serde(default)]
    pub delta_crl_distribution_points: Vec<String>,
    #[serde(default)]
    pub ocsp_servers: Vec<String>,
    #[serde(default)]
    pub enable_templating: bool,
}

impl IssuerUrls {
    pub fn is_empty(&self) -> bool {
        self.issuing_certificates.is_empty()
            && self.crl_distribution_points.is_empty()
            && self.delta_crl_distribution_points.is_empty()
            && self.ocsp_servers.is_empty()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuerEntry {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// Empty when the mount does not hold this issuer's key.
    #[serde(default)]
    pub key_id: String,
    /// PEM, as stored by Vault (with a trailing newline).
    pub certificate: String,
    #[serde(default)]
    pub manual_chain: Option<Vec<String>>,
    pub leaf_not_after_behavior: String,
    pub usage: String,
    #[serde(default)]
    pub revocation_signature_algorithm: String,
    #[serde(default)]
    pub urls: IssuerUrls,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub revocation_time: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyEntry {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub key_type: String,
    pub private_key: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IssuersConfig {
    #[serde(default)]
    pub default: String,
    #[serde(default)]
    pub default_follows_latest_issuer: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeysConfig {
    #[serde(default)]
    pub default: String,
}

/// One issuer, parsed, with its key loaded (if the mount has it).
pub struct LoadedIssuer {
    pub entry: IssuerEntry,
    pub cert: CertInfo,
    pub key: Option<Arc<PrivateKey>>,
    /// PEM certificates from this issuer up to its root (self first).
    pub chain: Vec<String>,
    /// This issuer's certificate as PEM, encoded once.
    pub pem: String,
}

impl LoadedIssuer {
    pub fn pem(&self) -> String {
        self.pem.clone()
    }

    pub fn has_usage(&self, usage: &str) -> bool {
        self.entry.usage.split(',').any(|u| u.trim() == usage)
    }
}

/// The mount's issuers and defaults as the signing paths see them.
#[derive(Default)]
pub struct IssuerSet {
    pub issuers: BTreeMap<String, Arc<LoadedIssuer>>,
    pub config: IssuersConfig,
}

impl IssuerSet {
    pub async fn load(storage: &StorageView) -> Result<IssuerSet> {
        let config: IssuersConfig = storage.get_json(CONFIG_ISSUERS).await?.unwrap_or_default();
        let mut entries = Vec::new();
        for id in storage.list(ISSUER_PREFIX).await? {
            if let Some(entry) = storage
                .get_json::<IssuerEntry>(&format!("{ISSUER_PREFIX}{id}"))
                .await?
            {
                entries.push(entry);
            }
        }
        let mut parsed = Vec::new();
        for entry in entries {
            let der = super::cert_info::pem_certificates(&entry.certificate)
                .ok()
                .and_then(|mut c| {
                    if c.is_empty() {
                        None
                    } else {
                        Some(c.remove(0))
                    }
                })
                .ok_or_else(|| {
                    Error::internal(format!("stored issuer {} has no certificate", entry.id))
                })?;
            let cert = CertInfo::parse(&der).map_err(Error::internal)?;
            let key = if entry.key_id.is_empty() {
                None
            } else {
                match storage
                    .get_json::<KeyEntry>(&format!("{KEY_PREFIX}{}", entry.key_id))
                    .await?
                {
                    Some(k) => Some(Arc::new(
                        PrivateKey::from_pem(&k.private_key).map_err(Error::internal)?,
                    )),
                    None => None,
                }
            };
            parsed.push((entry, cert, key));
        }
        let chains: Vec<Vec<String>> = parsed
            .iter()
            .enumerate()
            .map(|(i, (entry, _, _))| build_chain(i, entry, &parsed))
            .collect();
        let issuers = parsed
            .into_iter()
            .zip(chains)
            .map(|((entry, cert, key), chain)| {
                (
                    entry.id.clone(),
                    Arc::new(LoadedIssuer {
                        entry,
                        pem: cert.pem(),
                        cert,
                        key,
                        chain,
                    }),
                )
            })
            .collect();
        Ok(IssuerSet { issuers, config })
    }

    /// Resolves `default`, an issuer id or an issuer name.
    pub fn resolve(&self, reference: &str) -> Option<Arc<LoadedIssuer>> {
        let id = if reference == "default" {
            self.config.default.as_str()
        } else {
            reference
        };
        if let Some(issuer) = self.issuers.get(id) {
            return Some(issuer.clone());
        }
        if reference == "default" {
            return None;
        }
        self.issuers
            .values()
            .find(|i| i.entry.name == reference)
            .cloned()
    }

    pub fn default_issuer(&self) -> Option<Arc<LoadedIssuer>> {
        self.resolve("default")
    }

    /// The issuer for `reference`, or Vault's 400 when there is none.
    pub fn require(&self, reference: &str) -> Result<Arc<LoadedIssuer>> {
        self.resolve(reference).ok_or_else(|| {
            if reference == "default" {
                Error::bad_request("no default issuer currently configured")
            } else {
                Error::bad_request(format!(
                    "unable to find PKI issuer for reference: {reference}"
                ))
            }
        })
    }

    /// An issuer that can sign: it must hold a key.
    pub fn signer(&self, reference: &str) -> Result<Arc<LoadedIssuer>> {
        let issuer = self.require(reference)?;
        if issuer.key.is_none() {
            return Err(Error::bad_request(format!(
                "unable to fetch corresponding key for issuer {}; unable to use this issuer for signing",
                issuer.entry.id
            )));
        }
        if !issuer.has_usage("issuing-certificates") {
            return Err(Error::bad_request(format!(
                "error using issuer {} for signing: requested usage issuing-certificates for issuer [id:{}/name:{}/{}] but only had usage {}",
                issuer.entry.id, issuer.entry.id, issuer.entry.name, issuer.cert.serial_string(), issuer.entry.usage
            )));
        }
        Ok(issuer)
    }

    pub fn find_by_cert(&self, der: &[u8]) -> Option<Arc<LoadedIssuer>> {
        self.issuers.values().find(|i| i.cert.der == der).cloned()
    }
}

/// The chain of issuer `index`: itself, then parents found by subject and
/// signature among the mount's issuers (or its manual chain).
fn build_chain(
    index: usize,
    entry: &IssuerEntry,
    all: &[(IssuerEntry, CertInfo, Option<Arc<PrivateKey>>)],
) -> Vec<String> {
    if let Some(manual) = &entry.manual_chain {
        let pems: Vec<String> = manual
            .iter()
            .filter_map(|id| {
                all.iter()
                    .find(|(e, _, _)| &e.id == id)
                    .map(|(_, c, _)| c.pem())
            })
            .collect();
        if !pems.is_empty() {
            return pems;
        }
    }
    let mut chain = vec![all[index].1.pem()];
    let mut used = vec![index];
    let mut current = index;
    while chain.len() < 16 {
        let cert = &all[current].1;
        if cert.self_issued() && cert.signed_by(cert) {
            break;
        }
        let parent = all
            .iter()
            .enumerate()
            .find(|(j, (_, candidate, _))| !used.contains(j) && cert.signed_by(candidate));
        match parent {
            Some((j, (_, candidate, _))) => {
                chain.push(candidate.pem());
                used.push(j);
                current = j;
            }
            None => break,
        }
    }
    chain
}

pub async fn put_issuer(storage: &StorageView, entry: &IssuerEntry) -> Result<()> {
    Ok(storage
        .put_json(&format!("{ISSUER_PREFIX}{}", entry.id), entry)
        .await?)
}

pub async fn get_issuer(storage: &StorageView, id: &str) -> Result<Option<IssuerEntry>> {
    Ok(storage.get_json(&format!("{ISSUER_PREFIX}{id}")).await?)
}

pub async fn put_key(storage: &StorageView, entry: &KeyEntry) -> Result<()> {
    Ok(storage
        .put_json(&format!("{KEY_PREFIX}{}", entry.id), entry)
        .await?)
}

pub async fn list_keys(storage: &StorageView) -> Result<Vec<KeyEntry>> {
    let mut out = Vec::new();
    for id in storage.list(KEY_PREFIX).await? {
        if let Some(k) = storage
            .get_json::<KeyEntry>(&format!("{KEY_PREFIX}{id}"))
            .await?
        {
            out.push(k);
        }
    }
    Ok(out)
}

pub async fn list_issuer_entries(storage: &StorageView) -> Result<Vec<IssuerEntry>> {
    let mut out = Vec::new();
    for id in storage.list(ISSUER_PREFIX).await? {
        if let Some(e) = get_issuer(storage, &id).await? {
            out.push(e);
        }
    }
    Ok(out)
}

pub async fn issuers_config(storage: &StorageView) -> Result<IssuersConfig> {
    Ok(storage.get_json(CONFIG_ISSUERS).await?.unwrap_or_default())
}

pub async fn keys_config(storage: &StorageView) -> Result<KeysConfig> {
    Ok(storage.get_json(CONFIG_KEYS).await?.unwrap_or_default())
}

/// Resolves a key reference (`default`, id or name) among stored keys.
pub async fn resolve_key(storage: &StorageView, reference: &str) -> Result<Option<KeyEntry>> {
    let id = if reference == "default" {
        keys_config(storage).await?.default
    } else {
        reference.to_string()
    };
    let keys = list_keys(storage).await?;
    if let Some(k) = keys.iter().find(|k| k.id == id) {
        return Ok(Some(k.clone()));
    }
    if reference == "default" {
        return Ok(None);
    }
    Ok(keys.into_iter().find(|k| k.name == reference))
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
