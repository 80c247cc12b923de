//! Mount-wide configuration: `config/urls` (AIA and CRL distribution URLs)
//! and `config/cluster` (the addresses AIA templates expand to) with their
//! paths; what `config/crl` (served by `crl`) stores.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::store::IssuerUrls;
use super::x509::AiaUrls;
use super::PkiBackend;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, FieldData, GoDuration, Request, Response, Result};
use crate::storage::StorageView;

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("config/urls")
        .fields(&[AIA_FIELDS, &[Field::bool("enable_templating")]])
        .read(handler!(read_urls_config))
        .update(handler!(write_urls_config)),
    Path::new("config/cluster")
        .fields(&[&[Field::string("path"), Field::string("aia_path")]])
        .read(handler!(read_cluster_config))
        .update(handler!(write_cluster_config)),
];

pub const CONFIG_URLS: &str = "config/urls";
pub const CONFIG_CRL: &str = "config/crl";
pub const CONFIG_CLUSTER: &str = "config/cluster";

/// The AIA and CRL distribution URLs of `config/urls` and of an issuer
/// ([`merge_urls`]).
pub const AIA_FIELDS: &[Field] = &[
    Field::list("issuing_certificates"),
    Field::list("crl_distribution_points"),
    Field::list("delta_crl_distribution_points"),
    Field::list("ocsp_servers"),
];

/// What `config/crl` takes ([`CrlConfig::merge`]); what it does not keep
/// (cross-cluster and unified CRLs, `max_crl_entries`) is accepted and
/// ignored.
pub const CRL_CONFIG_FIELDS: &[Field] = &[
    Field::string("expiry"),
    Field::bool("disable"),
    Field::bool("ocsp_disable"),
    Field::string("ocsp_expiry"),
    Field::bool("auto_rebuild"),
    Field::string("auto_rebuild_grace_period"),
    Field::bool("enable_delta"),
    Field::string("delta_rebuild_interval"),
    Field::bool("cross_cluster_revocation"),
    Field::bool("unified_crl"),
    Field::bool("unified_crl_on_existing_paths"),
    Field::int("max_crl_entries"),
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
/// kept), then validates every URL as Vault does. Templated URLs are only
/// checked once expanded, at issuance.
pub fn merge_urls(urls: &mut IssuerUrls, data: &FieldData, templating_field: &str) -> Result<()> {
    for field in AIA_FIELDS {
        if let Some(list) = data.comma_list(field.name)? {
            *url_list(urls, field.name) = list;
        }
    }
    if let Some(t) = data.bool(templating_field)? {
        urls.enable_templating = t;
    }
    if urls.enable_templating {
        return Ok(());
    }
    for (field, list) in url_lists(urls) {
        if let Some(bad) = list.iter().find(|u| !valid_url(u)) {
            return Err(Error::bad_request(format!(
                "invalid URL found in Authority Information Access (AIA) parameter {field}: {bad}"
            )));
        }
    }
    Ok(())
}

fn url_lists(urls: &IssuerUrls) -> [(&'static str, &Vec<String>); 4] {
    [
        ("issuing_certificates", &urls.issuing_certificates),
        ("crl_distribution_points", &urls.crl_distribution_points),
        (
            "delta_crl_distribution_points",
            &urls.delta_crl_distribution_points,
        ),
        ("ocsp_servers", &urls.ocsp_servers),
    ]
}

fn url_list<'a>(urls: &'a mut IssuerUrls, field: &str) -> &'a mut Vec<String> {
    match field {
        "issuing_certificates" => &mut urls.issuing_certificates,
        "crl_distribution_points" => &mut urls.crl_distribution_points,
        "delta_crl_distribution_points" => &mut urls.delta_crl_distribution_points,
        _ => &mut urls.ocsp_servers,
    }
}

/// `config/cluster`: this mount's external address (`path`) and the one
/// for AIA fetches (`aia_path`), what `{{cluster_path}}` and
/// `{{cluster_aia_path}}` expand to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClusterConfig {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub aia_path: String,
}

impl ClusterConfig {
    pub fn data(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("path".into(), json!(self.path));
        m.insert("aia_path".into(), json!(self.aia_path));
        m
    }

    /// Applies `path` and `aia_path` when given; each must be a URL.
    pub fn merge(&mut self, data: &FieldData) -> Result<()> {
        for (name, target) in [("path", &mut self.path), ("aia_path", &mut self.aia_path)] {
            if let Some(value) = data.str(name)? {
                if !valid_url(&value) {
                    return Err(Error::bad_request(format!(
                        "invalid, non-URL {name} given to cluster: {value}"
                    )));
                }
                *target = value;
            }
        }
        Ok(())
    }
}

pub async fn read_cluster(storage: &StorageView) -> Result<ClusterConfig> {
    Ok(storage.get_json(CONFIG_CLUSTER).await?.unwrap_or_default())
}

/// The URLs an issuer bakes into what it signs: its own AIA if any is set,
/// else the mount's `config/urls`, expanded when templating is on.
pub async fn aia_urls(
    storage: &StorageView,
    issuer_urls: &IssuerUrls,
    global: &IssuerUrls,
    issuer_id: &str,
) -> Result<AiaUrls> {
    let source = if issuer_urls.is_empty() {
        global
    } else {
        issuer_urls
    };
    if !source.enable_templating {
        return Ok(AiaUrls {
            issuing_certificates: source.issuing_certificates.clone(),
            crl_distribution_points: source.crl_distribution_points.clone(),
            ocsp_servers: source.ocsp_servers.clone(),
            delta_crl_distribution_points: source.delta_crl_distribution_points.clone(),
        });
    }
    let cluster = read_cluster(storage).await?;
    expand_templates(source, &cluster, issuer_id).map_err(|e| {
        Error::bad_request(format!(
            "error fetching CA certificate: unable to fetch AIA URL information: {e}"
        ))
    })
}

/// Expands `{{issuer_id}}`, `{{cluster_path}}` and `{{cluster_aia_path}}`
/// and checks that what comes out are URLs (Vault's wording on failure).
pub fn expand_templates(
    source: &IssuerUrls,
    cluster: &ClusterConfig,
    issuer_id: &str,
) -> std::result::Result<AiaUrls, String> {
    let expand = |name: &str, list: &[String]| -> std::result::Result<Vec<String>, String> {
        let mut out = Vec::with_capacity(list.len());
        for uri in list {
            if uri.contains("{{cluster_path}}") && cluster.path.is_empty() {
                return Err("unable to template AIA URLs as we lack local cluster address information (path)".into());
            }
            if uri.contains("{{cluster_aia_path}}") && cluster.aia_path.is_empty() {
                return Err("unable to template AIA URLs as we lack local cluster address information (aia_path)".into());
            }
            if uri.contains("{{issuer_id}}") && issuer_id.is_empty() {
                return Err(
                    "unable to template AIA URLs as we lack an issuer_id for this operation".into(),
                );
            }
            out.push(
                uri.replace("{{cluster_path}}", &cluster.path)
                    .replace("{{cluster_aia_path}}", &cluster.aia_path)
                    .replace("{{issuer_id}}", issuer_id),
            );
        }
        if let Some(bad) = out.iter().find(|u| !valid_url(u)) {
            return Err(format!(
                "error validating templated {name}; invalid URI: {bad}"
            ));
        }
        Ok(out)
    };
    Ok(AiaUrls {
        issuing_certificates: expand("issuing_certificates", &source.issuing_certificates)?,
        crl_distribution_points: expand(
            "crl_distribution_points",
            &source.crl_distribution_points,
        )?,
        ocsp_servers: expand("ocsp_servers", &source.ocsp_servers)?,
        delta_crl_distribution_points: expand(
            "delta_crl_distribution_points",
            &source.delta_crl_distribution_points,
        )?,
    })
}

async fn read_urls_config(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let urls = read_urls(&req.storage).await?;
    Ok(Some(Response::data(urls_data(&urls))))
}

/// Templated URLs are tried against the first issuer, and a failure only
/// warns, as in Vault: issuance is where it errors.
async fn write_urls_config(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let mut urls = read_urls(&req.storage).await?;
    merge_urls(&mut urls, &req.data, "enable_templating")?;
    let result = req.storage.put_json(CONFIG_URLS, &urls).await;
    backend.invalidate_config();
    result?;
    let mut resp = Response::data(urls_data(&urls));
    let set = backend.issuers(&req.storage).await?;
    if let (true, Some(first)) = (urls.enable_templating, set.issuers.keys().next()) {
        let cluster = read_cluster(&req.storage).await?;
        if let Err(e) = expand_templates(&urls, &cluster, first) {
            resp.warnings.push(format!("issuance may fail: {e}\n\nConsider setting the cluster-local address if it is not already set."));
        }
    }
    Ok(Some(resp))
}

async fn read_cluster_config(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let cluster = read_cluster(&req.storage).await?;
    Ok(Some(Response::data(cluster.data())))
}

async fn write_cluster_config(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let mut cluster = read_cluster(&req.storage).await?;
    cluster.merge(&req.data)?;
    req.storage.put_json(CONFIG_CLUSTER, &cluster).await?;
    Ok(Some(Response::data(cluster.data())))
}

/// Whether any of the mount-wide URLs is templated on the issuer id, which
/// a new root cannot use (Vault leaves its AIA out, with a warning).
pub fn templated_on_issuer(urls: &IssuerUrls) -> bool {
    urls.enable_templating
        && url_lists(urls)
            .iter()
            .any(|(_, list)| list.iter().any(|u| u.contains("{{issuer_id}}")))
}

fn valid_url(u: &str) -> bool {
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

    pub fn grace_seconds(&self) -> i64 {
        crate::logical::parse_duration_seconds(&self.auto_rebuild_grace_period).unwrap_or(12 * 3600)
    }

    pub fn delta_interval_seconds(&self) -> i64 {
        crate::logical::parse_duration_seconds(&self.delta_rebuild_interval).unwrap_or(15 * 60)
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
                let secs = crate::logical::parse_duration_seconds(&raw).map_err(|e| {
                    Error::bad_request(format!("given {name} could not be decoded: {e}"))
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
        if self.auto_rebuild && self.grace_seconds() >= self.expiry_seconds() {
            return Err(Error::bad_request(format!("CRL auto-rebuilding grace period ({}) must be strictly shorter than CRL expiry ({}) value when auto-rebuilding of CRLs is enabled", self.auto_rebuild_grace_period, self.expiry)));
        }
        if self.enable_delta && self.delta_interval_seconds() >= self.expiry_seconds() {
            return Err(Error::bad_request(format!("CRL delta rebuild window ({}) must be strictly shorter than CRL expiry ({}) value when delta CRLs are enabled", self.delta_rebuild_interval, self.expiry)));
        }
        if self.enable_delta && !self.auto_rebuild {
            return Err(Error::bad_request("Delta CRLs cannot be enabled when auto rebuilding is disabled as the complete CRL is always regenerated!"));
        }
        Ok(())
    }

    /// How long an OCSP response stays valid (its `nextUpdate`); 0 means
    /// responses carry no `nextUpdate`.
    pub fn ocsp_expiry_seconds(&self) -> i64 {
        crate::logical::parse_duration_seconds(&self.ocsp_expiry).unwrap_or(12 * 3600)
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
