//! Mount-wide configuration: `config/urls` (AIA and CRL distribution URLs)
//! and `config/crl`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::issuers::IssuerUrls;
use crate::logical::{Error, FieldData, GoDuration, Result};
use crate::storage::StorageView;

pub const CONFIG_URLS: &str = "config/urls";
pub const CONFIG_CRL: &str = "config/crl";

pub const URL_FIELDS: [&str; 4] = [
    "issuing_certificates",
    "crl_distribution_points",
    "delta_crl_distribution_points",
    "ocsp_servers",
];

pub async fn read_urls(storage: &StorageView) -> Result<IssuerUrls> {
    Ok(storage.get_json(CONFIG_URLS).await?.unwrap_or_default())
}

pub fn urls_data(urls: &IssuerUrls) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "issuing_certificates".into(),
        json!(urls.issuing_certificates),
    );
    m.insert(
        "crl_distribution_points".into(),
        json!(urls.crl_distribution_points),
    );
    m.insert(
        "delta_crl_distribution_points".into(),
        json!(urls.delta_crl_distribution_points),
    );
    m.insert("ocsp_servers".into(), json!(urls.ocsp_servers));
    m.insert("enable_templating".into(), json!(urls.enable_templating));
    m
}

/// Applies the URL fields present in `data` to `urls` (absent ones are
/// kept), validating each URL as Vault does.
pub fn merge_urls(urls: &mut IssuerUrls, data: &FieldData, templating_field: &str) -> Result<()> {
    for field in URL_FIELDS {
        if let Some(list) = data.comma_list(field)? {
            for u in &list {
                if !valid_url(u) {
                    return Err(Error::bad_request(format!(
                        "invalid URL found in Authority Information Access (AIA) parameter {field}: {u}"
                    )));
                }
            }
            match field {
                "issuing_certificates" => urls.issuing_certificates = list,
                "crl_distribution_points" => urls.crl_distribution_points = list,
                "delta_crl_distribution_points" => urls.delta_crl_distribution_points = list,
                _ => urls.ocsp_servers = list,
            }
        }
    }
    if let Some(t) = data.bool(templating_field)? {
        urls.enable_templating = t;
    }
    Ok(())
}

fn valid_url(u: &str) -> bool {
    if u.contains("{{") {
        // Templated URLs are validated after substitution.
        return true;
    }
    url::Url::parse(u)
        .map(|p| p.has_host() || p.scheme() == "file")
        .unwrap_or(false)
}

/// `config/crl`, durations kept as the strings Vault returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrlConfig {
    pub expiry: String,
    pub disable: bool,
    pub ocsp_disable: bool,
    pub ocsp_expiry: String,
    pub auto_rebuild: bool,
    pub auto_rebuild_grace_period: String,
    pub enable_delta: bool,
    pub delta_rebuild_interval: String,
}

impl Default for CrlConfig {
    fn default() -> Self {
        CrlConfig {
            expiry: "72h".into(),
            disable: false,
            ocsp_disable: false,
            ocsp_expiry: "12h".into(),
            auto_rebuild: false,
            auto_rebuild_grace_period: "12h".into(),
            enable_delta: false,
            delta_rebuild_interval: "15m".into(),
        }
    }
}

impl CrlConfig {
    pub fn expiry_seconds(&self) -> i64 {
        crate::logical::parse_duration_seconds(&self.expiry).unwrap_or(72 * 3600)
    }

    pub fn data(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("expiry".into(), json!(self.expiry));
        m.insert("disable".into(), json!(self.disable));
        m.insert("ocsp_disable".into(), json!(self.ocsp_disable));
        m.insert("ocsp_expiry".into(), json!(self.ocsp_expiry));
        m.insert("auto_rebuild".into(), json!(self.auto_rebuild));
        m.insert(
            "auto_rebuild_grace_period".into(),
            json!(self.auto_rebuild_grace_period),
        );
        m.insert("enable_delta".into(), json!(self.enable_delta));
        m.insert(
            "delta_rebuild_interval".into(),
            json!(self.delta_rebuild_interval),
        );
        m.insert("cross_cluster_revocation".into(), json!(false));
        m.insert("unified_crl".into(), json!(false));
        m.insert("unified_crl_on_existing_paths".into(), json!(false));
        m
    }

    /// Applies the fields present in `data`.
    pub fn merge(&mut self, data: &FieldData) -> Result<()> {
        let dur = |name: &str, target: &mut String| -> Result<()> {
            if let Some(raw) = data.str(name)? {
                let secs = crate::logical::parse_duration_seconds(&raw).map_err(|_| {
                    Error::bad_request(format!(
                        "given {name} could not be decoded: time: invalid duration {raw:?}"
                    ))
                })?;
                *target = if raw.trim().parse::<i64>().is_ok() {
                    GoDuration(secs).to_string()
                } else {
                    raw
                };
            }
            Ok(())
        };
        dur("expiry", &mut self.expiry)?;
        dur("ocsp_expiry", &mut self.ocsp_expiry)?;
        dur(
            "auto_rebuild_grace_period",
            &mut self.auto_rebuild_grace_period,
        )?;
        dur("delta_rebuild_interval", &mut self.delta_rebuild_interval)?;
        if let Some(v) = data.bool("disable")? {
            self.disable = v;
        }
        if let Some(v) = data.bool("ocsp_disable")? {
            self.ocsp_disable = v;
        }
        if let Some(v) = data.bool("auto_rebuild")? {
            self.auto_rebuild = v;
        }
        if let Some(v) = data.bool("enable_delta")? {
            self.enable_delta = v;
        }
        if self.enable_delta && !self.auto_rebuild {
            return Err(Error::bad_request("Delta CRLs cannot be enabled when auto rebuilding is disabled as the complete CRL is always regenerated!"));
        }
        Ok(())
    }
}

pub async fn read_crl_config(storage: &StorageView) -> Result<CrlConfig> {
    Ok(storage.get_json(CONFIG_CRL).await?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_validated_and_merged() {
        let mut urls = IssuerUrls::default();
        let data = FieldData::new(
            json!({"issuing_certificates": "http://v:8200/v1/pki/ca", "crl_distribution_points": ["http://v/crl"]})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        assert!(merge_urls(&mut urls, &data, "enable_templating").is_ok());
        assert_eq!(urls.issuing_certificates, vec!["http://v:8200/v1/pki/ca"]);
        let bad = FieldData::new(
            json!({"ocsp_servers": "not a url"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let err = merge_urls(&mut urls, &bad, "enable_templating")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("invalid URL found in Authority Information Access (AIA) parameter ocsp_servers: not a url")
        );
    }
}
