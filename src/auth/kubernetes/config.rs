//! `auth/kubernetes/config`: where the API server is and how tokens are
//! checked (`pem_keys`, issuer).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::KubernetesBackend;
use crate::auth::jose;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};

pub(super) const PATHS: &[Path<KubernetesBackend>] = &[Path::new("config")
    .fields(&[&[
        Field::string("kubernetes_host"),
        Field::string("kubernetes_ca_cert"),
        Field::string("token_reviewer_jwt"),
        Field::list("pem_keys"),
        Field::string("issuer"),
        Field::bool("disable_iss_validation"),
        Field::bool("disable_local_ca_jwt"),
        Field::bool("use_annotations_as_alias_metadata"),
    ]])
    .read(handler!(read))
    .update(handler!(write))];

/// `auth/kubernetes/config`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KubeConfig {
    pub kubernetes_host: String,
    pub kubernetes_ca_cert: String,
    pub token_reviewer_jwt: String,
    pub pem_keys: Vec<String>,
    pub issuer: String,
    pub disable_iss_validation: bool,
    pub disable_local_ca_jwt: bool,
}

/// The stored configuration, if any.
pub(super) async fn load(req: &Request) -> Result<Option<KubeConfig>> {
    Ok(req.storage.get_json("config").await?)
}

async fn read(_: &KubernetesBackend, req: &mut Request) -> Result<Option<Response>> {
    let config = load(req).await?;
    Ok(config.map(|c| {
        let mut d = Map::new();
        d.insert("kubernetes_host".into(), json!(c.kubernetes_host));
        d.insert("kubernetes_ca_cert".into(), json!(c.kubernetes_ca_cert));
        d.insert("pem_keys".into(), json!(c.pem_keys));
        d.insert("issuer".into(), json!(c.issuer));
        d.insert(
            "disable_iss_validation".into(),
            json!(c.disable_iss_validation),
        );
        d.insert("disable_local_ca_jwt".into(), json!(c.disable_local_ca_jwt));
        d.insert(
            "token_reviewer_jwt_set".into(),
            json!(!c.token_reviewer_jwt.is_empty()),
        );
        d.insert("use_annotations_as_alias_metadata".into(), json!(false));
        Response::data(d)
    }))
}

async fn write(_: &KubernetesBackend, req: &mut Request) -> Result<Option<Response>> {
    let d = &req.data;
    let config = KubeConfig {
        kubernetes_host: d.str_or("kubernetes_host", "")?.trim().to_string(),
        kubernetes_ca_cert: d.str_or("kubernetes_ca_cert", "")?,
        token_reviewer_jwt: d.str_or("token_reviewer_jwt", "")?,
        pem_keys: d.comma_list_or_empty("pem_keys")?,
        issuer: d.str_or("issuer", "")?,
        disable_iss_validation: d.bool_or("disable_iss_validation", true)?,
        disable_local_ca_jwt: d.bool_or("disable_local_ca_jwt", false)?,
    };
    if d.bool_or("use_annotations_as_alias_metadata", false)? {
        return Err(Error::bad_request(
            "use_annotations_as_alias_metadata is not supported by vaultlet",
        ));
    }
    // vaultlet extension: pem_keys without a host = local verification only.
    if config.kubernetes_host.is_empty() && config.pem_keys.is_empty() {
        return Err(Error::bad_request("no host provided"));
    }
    if config.disable_local_ca_jwt && config.kubernetes_ca_cert.is_empty() {
        return Err(Error::bad_request(
            "kubernetes_ca_cert must be given when disable_local_ca_jwt is true",
        ));
    }
    for pem in &config.pem_keys {
        jose::parse_public_key_pem(pem).map_err(Error::BadRequest)?;
    }
    req.storage.put_json("config", &config).await?;
    Ok(None)
}
