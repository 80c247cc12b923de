//! `auth/jwt/config`: exactly one key source (static PEM keys, a JWKS URL
//! or an OIDC discovery URL), checked when written, and the issuer and
//! algorithms a token must have.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::keys::{discover_jwks_uri, fetch_jwks, key_source, KeyCache};
use super::JwtBackend;
use crate::auth::jose::{self, Alg};
use crate::auth::outbound;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};

pub(super) const PATHS: &[Path<JwtBackend>] = &[Path::new("config")
    .fields(&[&[
        Field::string("oidc_discovery_url"),
        Field::string("oidc_discovery_ca_pem"),
        Field::string("oidc_client_id"),
        Field::string("oidc_client_secret"),
        Field::string("oidc_response_mode"),
        Field::list("oidc_response_types"),
        Field::string("jwks_url"),
        Field::string("jwks_ca_pem"),
        // Read raw: vaultlet refuses any non-empty value.
        Field::raw("jwks_pairs"),
        Field::string("default_role"),
        Field::list("jwt_validation_pubkeys"),
        Field::list("jwt_supported_algs"),
        Field::string("bound_issuer"),
        // Read raw: vaultlet refuses any non-empty value.
        Field::raw("provider_config"),
        Field::bool("namespace_in_state"),
        Field::list("unsupported_critical_cert_extensions"),
    ]])
    .read(handler!(read))
    .update(handler!(write))];

/// `auth/jwt/config`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct JwtConfig {
    pub oidc_discovery_url: String,
    pub oidc_discovery_ca_pem: String,
    pub oidc_client_id: String,
    pub oidc_client_secret: String,
    pub oidc_response_mode: String,
    pub oidc_response_types: Vec<String>,
    pub jwks_url: String,
    pub jwks_ca_pem: String,
    pub jwt_validation_pubkeys: Vec<String>,
    pub jwt_supported_algs: Vec<String>,
    pub bound_issuer: String,
    pub default_role: String,
    pub namespace_in_state: bool,
    pub unsupported_critical_cert_extensions: Vec<String>,
}

/// The stored configuration, if any.
pub(super) async fn load(req: &Request) -> Result<Option<JwtConfig>> {
    Ok(req.storage.get_json("config").await?)
}

async fn read(_: &JwtBackend, req: &mut Request) -> Result<Option<Response>> {
    Ok(load(req)
        .await?
        .map(|config| Response::data(config_data(&config))))
}

fn config_data(config: &JwtConfig) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert(
        "oidc_discovery_url".into(),
        json!(config.oidc_discovery_url),
    );
    data.insert(
        "oidc_discovery_ca_pem".into(),
        json!(config.oidc_discovery_ca_pem),
    );
    data.insert("oidc_client_id".into(), json!(config.oidc_client_id));
    data.insert(
        "oidc_response_mode".into(),
        json!(config.oidc_response_mode),
    );
    data.insert(
        "oidc_response_types".into(),
        json!(config.oidc_response_types),
    );
    data.insert("default_role".into(), json!(config.default_role));
    data.insert(
        "jwt_validation_pubkeys".into(),
        json!(config.jwt_validation_pubkeys),
    );
    data.insert(
        "jwt_supported_algs".into(),
        json!(config.jwt_supported_algs),
    );
    data.insert("jwks_url".into(), json!(config.jwks_url));
    data.insert("jwks_pairs".into(), json!([]));
    data.insert("jwks_ca_pem".into(), json!(config.jwks_ca_pem));
    data.insert("bound_issuer".into(), json!(config.bound_issuer));
    data.insert("provider_config".into(), json!({}));
    data.insert(
        "namespace_in_state".into(),
        json!(config.namespace_in_state),
    );
    data.insert(
        "unsupported_critical_cert_extensions".into(),
        json!(config.unsupported_critical_cert_extensions),
    );
    data
}

/// Go's `%v` of a string slice: `[a b]`.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

async fn write(b: &JwtBackend, req: &mut Request) -> Result<Option<Response>> {
    let existing = load(req).await?;
    let d = &req.data;
    let mut config = JwtConfig {
        oidc_discovery_url: d.str_or("oidc_discovery_url", "")?,
        oidc_discovery_ca_pem: d.str_or("oidc_discovery_ca_pem", "")?,
        oidc_client_id: d.str_or("oidc_client_id", "")?,
        oidc_client_secret: d.str_or("oidc_client_secret", "")?,
        oidc_response_mode: d.str_or("oidc_response_mode", "")?,
        oidc_response_types: d.comma_list_or_empty("oidc_response_types")?,
        jwks_url: d.str_or("jwks_url", "")?,
        jwks_ca_pem: d.str_or("jwks_ca_pem", "")?,
        jwt_validation_pubkeys: d.comma_list_or_empty("jwt_validation_pubkeys")?,
        jwt_supported_algs: d.comma_list_or_empty("jwt_supported_algs")?,
        bound_issuer: d.str_or("bound_issuer", "")?,
        default_role: d.str_or("default_role", "")?.to_lowercase(),
        namespace_in_state: true,
        unsupported_critical_cert_extensions: d
            .comma_list_or_empty("unsupported_critical_cert_extensions")?,
    };
    config.namespace_in_state = match d.bool("namespace_in_state")? {
        Some(v) => v,
        None => existing.map(|c| c.namespace_in_state).unwrap_or(true),
    };
    let jwks_pairs = matches!(d.raw().get("jwks_pairs"), Some(Value::Array(a)) if !a.is_empty());
    let provider_config =
        matches!(d.raw().get("provider_config"), Some(Value::Object(m)) if !m.is_empty());
    if jwks_pairs {
        return Err(Error::bad_request(
            "'jwks_pairs' is not supported by vaultlet",
        ));
    }
    if provider_config {
        return Err(Error::bad_request(
            "invalid provider_config: provider-specific configuration is not supported by vaultlet",
        ));
    }
    let method_count = [
        !config.oidc_discovery_url.is_empty(),
        !config.jwt_validation_pubkeys.is_empty(),
        !config.jwks_url.is_empty(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let mut primed: Option<KeyCache> = None;
    if method_count != 1 {
        return Err(Error::bad_request(
            "exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs' or 'oidc_discovery_url' must be set",
        ));
    } else if config.oidc_client_id.is_empty() != config.oidc_client_secret.is_empty() {
        return Err(Error::bad_request(
            "both 'oidc_client_id' and 'oidc_client_secret' must be set for OIDC",
        ));
    } else if !config.oidc_discovery_url.is_empty() {
        let uri =
            discover_jwks_uri(&config.oidc_discovery_url, &config.oidc_discovery_ca_pem).await;
        if let Err(e) = uri {
            tracing::warn!(error = %e, "error checking oidc discovery URL");
            return Err(Error::bad_request("error checking oidc discovery URL"));
        }
    } else if !config.oidc_client_id.is_empty() {
        return Err(Error::bad_request(
            "'oidc_discovery_url' must be set for OIDC",
        ));
    } else if !config.jwks_url.is_empty() {
        if outbound::http_client(&config.jwks_ca_pem, true).is_err() {
            return Err(Error::bad_request("error checking jwks_ca_pem"));
        }
        match fetch_jwks(&config.jwks_url, &config.jwks_ca_pem).await {
            Ok(keys) => {
                primed = Some(KeyCache {
                    source: key_source(&config),
                    keys,
                    fetched: Instant::now(),
                })
            }
            Err(e) => {
                tracing::warn!(url = %config.jwks_url, error = %e, "error checking jwks URL");
                return Err(Error::BadRequest(format!(
                    "error checking jwks URL {}",
                    config.jwks_url
                )));
            }
        }
    } else {
        for pem in &config.jwt_validation_pubkeys {
            if let Err(e) = jose::parse_public_key_pem(pem) {
                return Err(Error::BadRequest(format!("error parsing public key: {e}")));
            }
        }
    }
    for alg in &config.jwt_supported_algs {
        if Alg::from_name(alg).is_none() {
            return Err(Error::BadRequest(format!(
                "invalid jwt_supported_algs: unsupported signing algorithm {alg:?}"
            )));
        }
    }
    if !config
        .oidc_response_types
        .iter()
        .all(|t| t == "code" || t == "id_token")
    {
        return Err(Error::BadRequest(format!(
            "invalid response_types {}. 'code' and 'id_token' are allowed",
            go_list(&config.oidc_response_types)
        )));
    }
    match config.oidc_response_mode.as_str() {
        "" | "query" => {
            if config.oidc_response_types.iter().any(|t| t == "id_token") {
                return Err(Error::bad_request(
                    "query response_mode may not be used with an id_token response_type",
                ));
            }
        }
        "form_post" => {}
        other => {
            return Err(Error::BadRequest(format!(
                "invalid response_mode: {other:?}"
            )))
        }
    }
    req.storage.put_json("config", &config).await?;
    *b.keys.lock().await = primed;
    Ok(None)
}
