//! JWT auth (`auth/jwt/`, HashiCorp's `vault-plugin-auth-jwt`, JWT login
//! only): `config` with exactly one key source — static PEM keys
//! (`jwt_validation_pubkeys`), a JWKS URL (keys cached, refetched when a
//! token names an unknown `kid`) or an OIDC discovery URL — roles binding
//! audiences, subject and claims, and `login {role, jwt}` with the plugin's
//! validations and messages. The interactive OIDC flow (`oidc/auth_url`,
//! `oidc/callback`) is not served; `role_type` `oidc` roles can be stored but
//! never log in, as in Vault.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::auth::jose::{self, Alg, Expected, Jws, PublicKey};
use crate::auth::legacy_token_fields::{LegacyTokenFields, LEGACY_FIELD_NAMES};
use crate::auth::outbound;
use crate::auth::roles::RoleStore;
use crate::auth::token_fields::{peer_in_bound_cidrs, TokenFields, TOKEN_FIELD_NAMES};
use crate::logical::{
    checked_seconds, glob_match, parse_duration_seconds, Backend, Error, FieldData, Operation,
    PathSpec, Request, Response, Result,
};

use Operation::{Delete, List, Read, Update};

const CONFIG_FIELDS: &[&str] = &[
    "oidc_discovery_url",
    "oidc_discovery_ca_pem",
    "oidc_client_id",
    "oidc_client_secret",
    "oidc_response_mode",
    "oidc_response_types",
    "jwks_url",
    "jwks_ca_pem",
    "jwks_pairs",
    "default_role",
    "jwt_validation_pubkeys",
    "jwt_supported_algs",
    "bound_issuer",
    "provider_config",
    "namespace_in_state",
    "unsupported_critical_cert_extensions",
];

const ROLE_FIELDS: &[&str] = &[
    "name",
    "role_type",
    "expiration_leeway",
    "not_before_leeway",
    "clock_skew_leeway",
    "bound_subject",
    "bound_audiences",
    "bound_claims_type",
    "bound_claims",
    "claim_mappings",
    "user_claim",
    "user_claim_json_pointer",
    "groups_claim",
    "oidc_scopes",
    "allowed_redirect_uris",
    "callback_mode",
    "poll_interval",
    "verbose_oidc_logging",
    "max_age",
    LEGACY_FIELD_NAMES[0],
    LEGACY_FIELD_NAMES[1],
    LEGACY_FIELD_NAMES[2],
    LEGACY_FIELD_NAMES[3],
    LEGACY_FIELD_NAMES[4],
    LEGACY_FIELD_NAMES[5],
    TOKEN_FIELD_NAMES[0],
    TOKEN_FIELD_NAMES[1],
    TOKEN_FIELD_NAMES[2],
    TOKEN_FIELD_NAMES[3],
    TOKEN_FIELD_NAMES[4],
    TOKEN_FIELD_NAMES[5],
    TOKEN_FIELD_NAMES[6],
    TOKEN_FIELD_NAMES[7],
    TOKEN_FIELD_NAMES[8],
];

static PATHS: &[PathSpec] = &[
    PathSpec::new("login", &[Update])
        .fields(&["role", "jwt"])
        .unauthenticated(),
    PathSpec::new("config", &[Read, Update]).fields(CONFIG_FIELDS),
    PathSpec::new("role", &[List]),
    PathSpec::new("role/:name", &[Read, Update, Delete])
        .fields(ROLE_FIELDS)
        .existence_check(),
];

/// A remote key source's JWKS URL is fetched again at most this often when
/// a token fails to verify without naming an unknown key.
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);

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

/// `auth/jwt/role/:name`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct JwtRole {
    pub role_type: String,
    pub expiration_leeway: i64,
    pub not_before_leeway: i64,
    pub clock_skew_leeway: i64,
    pub bound_audiences: Vec<String>,
    pub bound_subject: String,
    pub bound_claims_type: String,
    pub bound_claims: Option<Map<String, Value>>,
    pub claim_mappings: Option<Map<String, Value>>,
    pub user_claim: String,
    pub user_claim_json_pointer: bool,
    pub groups_claim: String,
    pub oidc_scopes: Vec<String>,
    pub allowed_redirect_uris: Vec<String>,
    pub callback_mode: String,
    pub poll_interval: i64,
    pub verbose_oidc_logging: bool,
    pub max_age: i64,
    pub token: TokenFields,
    pub legacy: LegacyTokenFields,
}

struct KeyCache {
    /// What the keys came from (JWKS URL or discovery URL, and the CA).
    source: String,
    keys: Vec<PublicKey>,
    fetched: Instant,
}

/// The JWT auth backend. One instance serves one mount, so the key cache is
/// the mount's.
#[derive(Default)]
pub struct JwtBackend {
    cache: tokio::sync::Mutex<Option<KeyCache>>,
}

impl JwtBackend {
    pub fn new() -> Self {
        JwtBackend::default()
    }
}

const ROLES: RoleStore = RoleStore::new("role/");

async fn load_role(req: &Request, name: &str) -> Result<Option<JwtRole>> {
    let role: Option<JwtRole> = ROLES.get(req, name).await?;
    Ok(role.map(|mut role| {
        if role.role_type.is_empty() {
            role.role_type = "jwt".into();
        }
        if role.bound_claims_type.is_empty() {
            role.bound_claims_type = "string".into();
        }
        role.legacy.apply_on_load(&mut role.token);
        role
    }))
}

async fn load_config(req: &Request) -> Result<Option<JwtConfig>> {
    Ok(req.storage.get_json("config").await?)
}

#[async_trait::async_trait]
impl Backend for JwtBackend {
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    async fn exists(&self, req: &mut Request) -> Result<bool> {
        ROLES.exists(req).await
    }

    async fn handle(&self, req: &mut Request) -> Result<Option<Response>> {
        match (req.route, req.operation) {
            ("login", _) => self.login(req).await,
            ("config", Read) => Ok(load_config(req)
                .await?
                .map(|config| Response::data(config_data(&config)))),
            ("config", _) => self.write_config(req).await,
            ("role", _) => ROLES.list(req).await,
            ("role/:name", Read) => {
                let name = req.param("name")?.to_string();
                Ok(load_role(req, &name)
                    .await?
                    .map(|role| Response::data(role_data(&role))))
            }
            ("role/:name", Delete) => ROLES.delete(req).await,
            ("role/:name", _) => write_role(req).await,
            _ => Err(Error::UnsupportedOperation),
        }
    }
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

/// Fetches the JWKS at `url`.
async fn fetch_jwks(url: &str, ca_pem: &str) -> Result<Vec<PublicKey>, String> {
    let client = outbound::http_client(ca_pem, true)?;
    let body = outbound::http_get(&client, url).await?;
    jose::parse_jwks(&body)
}

/// Reads the discovery document of `issuer`; its `jwks_uri` when the
/// document's `issuer` is exactly `issuer`.
async fn discover_jwks_uri(issuer: &str, ca_pem: &str) -> Result<String, String> {
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

/// `TypeSignedDurationSecond`: like a duration, but `-1` is allowed.
fn signed_duration(data: &FieldData, name: &str) -> Result<Option<i64>> {
    let bad = |v: &Value, why: &str| {
        Error::BadRequest(format!(
            "Field validation failed: error converting input {} for field {name:?}: {why}",
            match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }
        ))
    };
    match data.raw().get(name) {
        None | Some(Value::Null) => Ok(None),
        // Within Go's duration range either way (a leeway of 2^63 seconds
        // would make every token valid).
        Some(v @ Value::Number(n)) => match n.as_i64() {
            Some(secs) => checked_seconds(secs.saturating_abs())
                .map(|_| Some(secs))
                .map_err(|e| bad(v, &e.to_string())),
            None => Err(bad(v, "invalid duration")),
        },
        Some(v @ Value::String(s)) => {
            let (neg, rest) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s.as_str()),
            };
            let secs = parse_duration_seconds(rest).map_err(|e| bad(v, &e.to_string()))?;
            Ok(Some(if neg { -secs } else { secs }))
        }
        Some(other) => Err(bad(other, "invalid duration")),
    }
}

/// `TypeMap`: a JSON object, or a string holding one.
fn json_map(data: &FieldData, name: &str) -> Result<Option<Map<String, Value>>> {
    match data.raw().get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(Map::new())),
        Some(Value::String(s)) => serde_json::from_str::<Map<String, Value>>(s)
            .map(Some)
            .map_err(|e| {
                Error::BadRequest(format!(
                    "Field validation failed: error converting input {s} for field {name:?}: {e}"
                ))
            }),
        Some(other) => Err(Error::BadRequest(format!(
            "Field validation failed: error converting input {other} for field {name:?}: expected a map"
        ))),
    }
}

/// Go's `%v` of a string slice: `[a b]`.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

impl JwtBackend {
    async fn write_config(&self, req: &mut Request) -> Result<Option<Response>> {
        let existing = load_config(req).await?;
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
        let jwks_pairs =
            matches!(d.raw().get("jwks_pairs"), Some(Value::Array(a)) if !a.is_empty());
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
        *self.cache.lock().await = primed;
        Ok(None)
    }

    /// Verifies the signature of `jws` with the configured key source. The
    /// error is the text after `error verifying token signature: `.
    async fn verify_signature(&self, config: &JwtConfig, jws: &Jws) -> Result<(), String> {
        if !config.jwt_validation_pubkeys.is_empty() {
            let keys: Vec<PublicKey> = config
                .jwt_validation_pubkeys
                .iter()
                .filter_map(|pem| jose::parse_public_key_pem(pem).ok())
                .map(|material| PublicKey {
                    kid: None,
                    material,
                })
                .collect();
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
        let mut cache = self.cache.lock().await;
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

    async fn login(&self, req: &mut Request) -> Result<Option<Response>> {
        let Some(config) = load_config(req).await? else {
            return Err(Error::bad_request("could not load configuration"));
        };
        let mut role_name = req.data.str_or("role", "")?.to_lowercase();
        if role_name.is_empty() {
            role_name = config.default_role.clone();
        }
        if role_name.is_empty() {
            return Err(Error::bad_request("missing role"));
        }
        let Some(role) = load_role(req, &role_name).await? else {
            return Err(Error::BadRequest(format!(
                "role {role_name:?} could not be found"
            )));
        };
        if role.role_type == "oidc" {
            return Err(Error::bad_request(
                "role with oidc role_type is not allowed",
            ));
        }
        let token = req.data.str_or("jwt", "")?;
        if token.is_empty() {
            return Err(Error::bad_request("missing token"));
        }
        if !peer_in_bound_cidrs(req, &role.token.token_bound_cidrs) {
            return Err(Error::PermissionDenied);
        }

        let invalid = |e: String| Error::BadRequest(format!("error validating token: {e}"));
        let jws = Jws::parse(&token)
            .map_err(|e| invalid(format!("error verifying token signature: {e}")))?;
        self.verify_signature(&config, &jws)
            .await
            .map_err(|e| invalid(format!("error verifying token signature: {e}")))?;
        let algs: Vec<Alg> = if config.jwt_supported_algs.is_empty() {
            Alg::ALL.to_vec()
        } else {
            config
                .jwt_supported_algs
                .iter()
                .filter_map(|a| Alg::from_name(a))
                .collect()
        };
        let expected = Expected {
            issuer: &config.bound_issuer,
            subject: &role.bound_subject,
            audiences: &role.bound_audiences,
            algorithms: &algs,
            not_before_leeway: role.not_before_leeway,
            expiration_leeway: role.expiration_leeway,
            clock_skew_leeway: role.clock_skew_leeway,
            allow_missing_times: false,
        };
        jose::validate_claims(&jws, &expected).map_err(invalid)?;
        let claims = Value::Object(jws.claims.clone());
        if !jose::audiences(&jws.claims).unwrap_or_default().is_empty()
            && role.bound_audiences.is_empty()
        {
            return Err(Error::bad_request(
                "audience claim found in JWT but no audiences bound to the role",
            ));
        }

        // The identity: user claim, claim mappings, groups.
        let user = if role.user_claim_json_pointer {
            get_claim(&claims, &role.user_claim)
        } else {
            claims
                .get(&role.user_claim)
                .filter(|v| !v.is_null())
                .cloned()
        };
        let Some(user) = user else {
            return Err(Error::BadRequest(format!(
                "claim {:?} not found in token",
                role.user_claim
            )));
        };
        let Value::String(user) = user else {
            return Err(Error::BadRequest(format!(
                "claim {:?} could not be converted to string",
                role.user_claim
            )));
        };
        let mut metadata = std::collections::BTreeMap::new();
        for (source, target) in role.claim_mappings.iter().flatten() {
            let target = target.as_str().unwrap_or_default().to_string();
            match get_claim(&claims, source) {
                None => {}
                Some(Value::String(s)) => {
                    metadata.insert(target, s);
                }
                Some(_) => {
                    return Err(Error::BadRequest(format!(
                        "error converting claim '{source}' to string"
                    )))
                }
            }
        }
        metadata.insert("role".to_string(), role_name.clone());
        if !role.groups_claim.is_empty() {
            let Some(groups) = get_claim(&claims, &role.groups_claim) else {
                return Err(Error::BadRequest(format!(
                    "failed to fetch groups: {:?} claim not found in token",
                    role.groups_claim
                )));
            };
            let list = match groups {
                Value::Array(items) => items,
                v @ (Value::String(_) | Value::Bool(_) | Value::Number(_)) => vec![v],
                _ => {
                    return Err(Error::BadRequest(format!(
                        "{:?} claim could not be converted to string list",
                        role.groups_claim
                    )))
                }
            };
            if let Some(bad) = list.iter().find(|g| !g.is_string()) {
                return Err(Error::BadRequest(format!(
                    "value {bad} in groups claim could not be parsed as string"
                )));
            }
        }
        if let Some(bound) = &role.bound_claims {
            validate_bound_claims(&role.bound_claims_type, bound, &claims)
                .map_err(|e| Error::BadRequest(format!("error validating claims: {e}")))?;
        }

        let mut auth = role.token.to_auth();
        auth.alias_name = Some(user.clone());
        auth.display_name = user;
        auth.metadata = metadata;
        Ok(Some(Response::auth(auth)))
    }
}

fn key_source(config: &JwtConfig) -> String {
    if !config.jwks_url.is_empty() {
        format!("jwks\n{}\n{}", config.jwks_url, config.jwks_ca_pem)
    } else {
        format!(
            "oidc\n{}\n{}",
            config.oidc_discovery_url, config.oidc_discovery_ca_pem
        )
    }
}

/// The plugin's `getClaim`: a JSON pointer when the name starts with `/`,
/// else a top-level claim; a single-string `aud` becomes a list.
fn get_claim(claims: &Value, name: &str) -> Option<Value> {
    let value = if name.starts_with('/') {
        claims.pointer(name)
    } else {
        claims.get(name)
    }
    .filter(|v| !v.is_null())
    .cloned()?;
    if name == "aud" {
        if let Value::String(s) = &value {
            return Some(json!([s]));
        }
    }
    Some(value)
}

/// A claim or bound value as the plugin compares them: numbers as their
/// integer text (Go's float64 → `json.Number` conversion).
#[derive(Debug, PartialEq)]
enum Scalar {
    Str(String),
    Bool(bool),
    Num(String),
}

fn normalize_list(value: &Value, from_claim: bool) -> Option<Vec<Option<Scalar>>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(Scalar::Str(s.clone())),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        Value::Number(n) if from_claim => Some(Scalar::Num(
            n.as_i64()
                .unwrap_or_else(|| n.as_f64().unwrap_or(0.0) as i64)
                .to_string(),
        )),
        Value::Number(n) => Some(Scalar::Num(n.to_string())),
        _ => None,
    };
    match value {
        Value::Array(items) => Some(items.iter().map(one).collect()),
        Value::String(_) | Value::Bool(_) | Value::Number(_) => Some(vec![one(value)]),
        _ => None,
    }
}

/// The plugin's `validateBoundClaims`.
fn validate_bound_claims(
    claims_type: &str,
    bound: &Map<String, Value>,
    claims: &Value,
) -> Result<(), String> {
    let globs = claims_type == "glob";
    for (name, expected) in bound {
        let Some(actual) = get_claim(claims, name) else {
            return Err(format!("claim {name:?} is missing"));
        };
        let actual_vals = normalize_list(&actual, true).ok_or_else(|| {
            format!("received claim is not a string, bool, int or list: {actual}")
        })?;
        let expected_vals = normalize_list(expected, false)
            .ok_or_else(|| format!("bound claim is not a string, bool, int or list: {expected}"))?;
        let mut found = false;
        'outer: for exp in &expected_vals {
            for act in &actual_vals {
                let matched = if globs {
                    let Some(Scalar::Str(pattern)) = exp else {
                        return Err(format!("received claim is not a glob string: {expected}"));
                    };
                    matches!(act, Some(Scalar::Str(s)) if glob_match(pattern, s))
                } else {
                    exp.is_some() && act == exp
                };
                if matched {
                    found = true;
                    break 'outer;
                }
            }
        }
        if !found {
            return Err(format!(
                "claim {name:?} does not match any associated bound claim values"
            ));
        }
    }
    Ok(())
}

fn role_data(role: &JwtRole) -> Map<String, Value> {
    let list_or_null = |l: &Vec<String>| {
        if l.is_empty() {
            Value::Null
        } else {
            json!(l)
        }
    };
    let mut d = Map::new();
    d.insert("role_type".into(), json!(role.role_type));
    d.insert("expiration_leeway".into(), json!(role.expiration_leeway));
    d.insert("not_before_leeway".into(), json!(role.not_before_leeway));
    d.insert("clock_skew_leeway".into(), json!(role.clock_skew_leeway));
    d.insert(
        "bound_audiences".into(),
        list_or_null(&role.bound_audiences),
    );
    d.insert("bound_subject".into(), json!(role.bound_subject));
    d.insert("bound_claims_type".into(), json!(role.bound_claims_type));
    d.insert("bound_claims".into(), json!(role.bound_claims));
    d.insert("claim_mappings".into(), json!(role.claim_mappings));
    d.insert("user_claim".into(), json!(role.user_claim));
    d.insert(
        "user_claim_json_pointer".into(),
        json!(role.user_claim_json_pointer),
    );
    d.insert("groups_claim".into(), json!(role.groups_claim));
    d.insert(
        "allowed_redirect_uris".into(),
        list_or_null(&role.allowed_redirect_uris),
    );
    d.insert(
        "callback_mode".into(),
        json!(if role.callback_mode.is_empty() {
            "client"
        } else {
            &role.callback_mode
        }),
    );
    d.insert("oidc_scopes".into(), list_or_null(&role.oidc_scopes));
    d.insert(
        "verbose_oidc_logging".into(),
        json!(role.verbose_oidc_logging),
    );
    d.insert("max_age".into(), json!(role.max_age));
    role.token.populate_data(&mut d);
    if role.poll_interval > 0 {
        d.insert("poll_interval".into(), json!(role.poll_interval));
    }
    role.legacy.populate_data(&mut d);
    d
}

async fn write_role(req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("name")?.to_lowercase();
    let mut role = if req.operation == Operation::Create {
        JwtRole::default()
    } else {
        req.storage
            .get_json::<JwtRole>(&ROLES.key(&name))
            .await?
            .unwrap_or_default()
    };
    let d = &req.data;
    let role_type = match d.str_or("role_type", "")?.as_str() {
        "" => "oidc".to_string(),
        t @ ("jwt" | "oidc") => t.to_string(),
        other => {
            return Err(Error::BadRequest(format!("invalid 'role_type': {other}")));
        }
    };
    role.role_type = role_type.clone();
    let mut warnings = role.token.parse(d)?;
    role.legacy.upgrade(d, &mut role.token)?;

    if let Some(v) = signed_duration(d, "expiration_leeway")? {
        role.expiration_leeway = v;
    }
    if let Some(v) = signed_duration(d, "not_before_leeway")? {
        role.not_before_leeway = v;
    }
    if let Some(v) = signed_duration(d, "clock_skew_leeway")? {
        role.clock_skew_leeway = v;
    }
    if let Some(v) = d.comma_list("bound_audiences")? {
        role.bound_audiences = v;
    }
    if let Some(v) = d.str("bound_subject")? {
        role.bound_subject = v;
    }
    if let Some(v) = d.bool("verbose_oidc_logging")? {
        role.verbose_oidc_logging = v;
    }
    if let Some(v) = d.duration("max_age")? {
        role.max_age = v;
    }
    let claims_type = d.str_or("bound_claims_type", "string")?;
    if claims_type != "string" && claims_type != "glob" {
        return Err(Error::BadRequest(format!(
            "invalid 'bound_claims_type': {claims_type}"
        )));
    }
    role.bound_claims_type = claims_type.clone();
    if let Some(bound) = json_map(d, "bound_claims")? {
        if claims_type == "glob" {
            for value in bound.values() {
                let Some(items) = normalize_list(value, false) else {
                    return Err(Error::BadRequest(format!(
                        "claim is not a string or list: {value}"
                    )));
                };
                if items.iter().any(|i| !matches!(i, Some(Scalar::Str(_)))) {
                    return Err(Error::BadRequest(format!("claim is not a string: {value}")));
                }
            }
        }
        role.bound_claims = Some(bound);
    }
    if let Some(mappings) = d.string_map("claim_mappings")? {
        let mut seen = std::collections::HashSet::new();
        for target in mappings.values() {
            let target = target.as_str().unwrap_or_default();
            if target == "role" {
                return Err(Error::BadRequest(format!(
                    "metadata key {target:?} is reserved and may not be a mapping destination"
                )));
            }
            if !seen.insert(target.to_string()) {
                return Err(Error::BadRequest(format!(
                    "multiple keys are mapped to metadata key {target:?}"
                )));
            }
        }
        role.claim_mappings = Some(mappings);
    }
    if let Some(v) = d.str("user_claim")? {
        role.user_claim = v;
    }
    if role.user_claim.is_empty() {
        return Err(Error::bad_request(
            "a user claim must be defined on the role",
        ));
    }
    if let Some(v) = d.bool("user_claim_json_pointer")? {
        role.user_claim_json_pointer = v;
    }
    if let Some(v) = d.str("groups_claim")? {
        role.groups_claim = v;
    }
    if let Some(v) = d.comma_list("oidc_scopes")? {
        role.oidc_scopes = v;
    }
    if let Some(v) = d.comma_list("allowed_redirect_uris")? {
        role.allowed_redirect_uris = v;
    }
    if let Some(v) = d.int("poll_interval")? {
        role.poll_interval = v;
    }
    let callback_mode = d.str_or("callback_mode", "client")?;
    if !matches!(callback_mode.as_str(), "device" | "direct" | "client") {
        return Err(Error::BadRequest(format!(
            "invalid 'callback_mode': {callback_mode}"
        )));
    }
    role.callback_mode = callback_mode;
    if role.role_type == "oidc" && role.allowed_redirect_uris.is_empty() {
        return Err(Error::bad_request(
            "'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified.",
        ));
    }
    if role_type != "oidc"
        && role.bound_audiences.is_empty()
        && role.token.token_bound_cidrs.is_empty()
        && role.bound_subject.is_empty()
        && role.bound_claims.as_ref().is_none_or(Map::is_empty)
    {
        return Err(Error::bad_request(
            "must have at least one bound constraint when creating/updating a role",
        ));
    }
    if role.token.token_max_ttl > 0 && role.token.token_ttl > role.token.token_max_ttl {
        return Err(Error::bad_request("ttl should not be greater than max ttl"));
    }
    if req.ttls.max_ttl > 0 && role.token.token_max_ttl > req.ttls.max_ttl {
        warnings.push("token max ttl is greater than the system or backend mount's maximum TTL value; issued tokens' max TTL value will be truncated".to_string());
    }
    if role.verbose_oidc_logging {
        warnings.push("verbose_oidc_logging has been enabled for this role. This is not recommended in production since sensitive information may be present in OIDC responses.".to_string());
    }
    req.storage.put_json(&ROLES.key(&name), &role).await?;
    if warnings.is_empty() {
        Ok(None)
    } else {
        Ok(Some(Response {
            warnings,
            ..Default::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_claims_match_strings_lists_numbers_and_globs() {
        let claims =
            json!({"groups": ["a", "b"], "n": 5, "email": "x@example.com", "nested": {"k": "v"}});
        let bound = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert!(validate_bound_claims("string", &bound(json!({"groups": "b"})), &claims).is_ok());
        assert!(
            validate_bound_claims("string", &bound(json!({"groups": ["z", "a"]})), &claims).is_ok()
        );
        assert!(validate_bound_claims("string", &bound(json!({"n": 5})), &claims).is_ok());
        assert!(
            validate_bound_claims("string", &bound(json!({"/nested/k": "v"})), &claims).is_ok()
        );
        assert_eq!(
            validate_bound_claims("string", &bound(json!({"groups": "c"})), &claims).err(),
            Some("claim \"groups\" does not match any associated bound claim values".into())
        );
        assert_eq!(
            validate_bound_claims("string", &bound(json!({"missing": "c"})), &claims).err(),
            Some("claim \"missing\" is missing".into())
        );
        assert!(
            validate_bound_claims("glob", &bound(json!({"email": "*@example.com"})), &claims)
                .is_ok()
        );
        assert!(validate_bound_claims(
            "string",
            &bound(json!({"email": "*@example.com"})),
            &claims
        )
        .is_err());
    }

    #[test]
    fn signed_leeways_accept_minus_one() {
        let d = FieldData::new(
            json!({"a": -1, "b": "-1", "c": "2m"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        assert_eq!(signed_duration(&d, "a").ok().flatten(), Some(-1));
        assert_eq!(signed_duration(&d, "b").ok().flatten(), Some(-1));
        assert_eq!(signed_duration(&d, "c").ok().flatten(), Some(120));
    }
}
