//! The keys of a remote key source (a JWKS URL, or the one an OIDC
//! discovery document names), cached per mount and fetched again when a
//! token names an unknown key, and the signature check of a login's token.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::config::JwtConfig;
use super::JwtBackend;
use crate::auth::jose::{self, Jws, PublicKey};
use crate::auth::outbound;

/// A remote key source's JWKS URL is fetched again at most this often when
/// a token fails to verify without naming an unknown key.
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// The keys last fetched from a remote key source.
pub(super) struct KeyCache {
    /// What the keys came from (JWKS URL or discovery URL, and the CA).
    pub source: String,
    pub keys: Vec<PublicKey>,
    pub fetched: Instant,
}

/// Fetches the JWKS at `url`.
pub(super) async fn fetch_jwks(url: &str, ca_pem: &str) -> Result<Vec<PublicKey>, String> {
    let client = outbound::http_client(ca_pem, true)?;
    let body = outbound::http_get(&client, url).await?;
    jose::parse_jwks(&body)
}

/// Reads the discovery document of `issuer`; its `jwks_uri` when the
/// document's `issuer` is exactly `issuer`.
pub(super) async fn discover_jwks_uri(issuer: &str, ca_pem: &str) -> Result<String, String> {
    let client = outbound::http_client(ca_pem, true)?;
    let well_known = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let body = outbound::http_get(&client, &well_known).await?;
    let doc: Value = serde_json::from_slice(&body)
        .map_err(|e| format!("failed to decode OIDC discovery document: {e}"))?;
    let returned = doc
        .get("issuer")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if returned != issuer {
        return Err(format!(
            "issuer did not match the returned issuer, expected {issuer:?} got {returned:?}"
        ));
    }
    doc.get("jwks_uri")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "OIDC discovery document has no jwks_uri".to_string())
}

pub(super) fn key_source(config: &JwtConfig) -> String {
    if !config.jwks_url.is_empty() {
        format!("jwks\n{}\n{}", config.jwks_url, config.jwks_ca_pem)
    } else {
        format!(
            "oidc\n{}\n{}",
            config.oidc_discovery_url, config.oidc_discovery_ca_pem
        )
    }
}

impl JwtBackend {
    /// Verifies the signature of `jws` with the configured key source. The
    /// error is the text after `error verifying token signature: `.
    pub(super) async fn verify_signature(
        &self,
        config: &JwtConfig,
        jws: &Jws,
    ) -> Result<(), String> {
        if !config.jwt_validation_pubkeys.is_empty() {
            let keys = jose::keys_from_pems(&config.jwt_validation_pubkeys);
            return if jws.verify_with(&keys) {
                Ok(())
            } else {
                Err("no known key successfully validated the token signature".into())
            };
        }
        const FAILED: &str = "failed to verify id token signature";
        if jws.alg.is_none() || jws.signature.is_empty() {
            return Err(FAILED.into());
        }
        let matching = |keys: &[PublicKey]| -> Vec<PublicKey> {
            keys.iter()
                .filter(|k| jws.kid.is_none() || k.kid == jws.kid)
                .cloned()
                .collect()
        };
        let source = key_source(config);
        let mut cache = self.keys.lock().await;
        if let Some(cached) = cache.as_ref().filter(|c| c.source == source) {
            let candidates = matching(&cached.keys);
            if jws.verify_with(&candidates) {
                return Ok(());
            }
            let unknown_kid = jws.kid.is_some() && candidates.is_empty();
            if !unknown_kid && cached.fetched.elapsed() < REFETCH_INTERVAL {
                return Err(FAILED.into());
            }
        }
        let fetched = if !config.jwks_url.is_empty() {
            fetch_jwks(&config.jwks_url, &config.jwks_ca_pem).await
        } else {
            match discover_jwks_uri(&config.oidc_discovery_url, &config.oidc_discovery_ca_pem).await
            {
                Ok(uri) => fetch_jwks(&uri, &config.oidc_discovery_ca_pem).await,
                Err(e) => Err(e),
            }
        };
        let keys = fetched.map_err(|e| format!("fetching keys oidc: get keys failed: {e}"))?;
        let ok = jws.verify_with(&matching(&keys));
        *cache = Some(KeyCache {
            source,
            keys,
            fetched: Instant::now(),
        });
        if ok {
            Ok(())
        } else {
            Err(FAILED.into())
        }
    }
}
