//! Kubernetes auth (`auth/kubernetes/`, HashiCorp's
//! `vault-plugin-auth-kubernetes`): a service-account JWT logs in against a
//! role binding service-account names and namespaces. The token's claims
//! are checked here (legacy secret tokens and projected tokens alike), its
//! signature locally when `pem_keys` is configured, and then the API
//! server's TokenReview decides, exactly as Vault does.
//!
//! **vaultlet extension:** when `pem_keys` is set and `kubernetes_host` is
//! empty, local verification alone decides: the signature must verify with
//! one of `pem_keys`, the claims must pass the same checks, and no
//! TokenReview is made (for labs and tests without access to the API
//! server). Vault refuses a config without `kubernetes_host`; vaultlet
//! refuses it only when `pem_keys` is empty too. Revoked or deleted
//! service-account tokens cannot be detected in that mode.
//!
//! Outside a pod the service-account files are simply absent: the config is
//! accepted without them (Vault fails the write), and TokenReview then uses
//! the login JWT as its bearer and trusts only `kubernetes_ca_cert`.

mod review;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::auth::jose::{self, Alg, Expected, Jws, PublicKey};
use crate::auth::legacy_token_fields::{LegacyTokenFields, LEGACY_FIELD_NAMES};
use crate::auth::roles::RoleStore;
use crate::auth::token_fields::{peer_in_bound_cidrs, TokenFields, TOKEN_FIELD_NAMES};
use crate::logical::{glob_match, Backend, Error, Operation, PathSpec, Request, Response, Result};

use Operation::{Delete, List, Read, Update};

const LOCAL_CA_CERT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
const LOCAL_JWT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

const ROLE_FIELDS: &[&str] = &[
    "name",
    "bound_service_account_names",
    "bound_service_account_namespaces",
    "bound_service_account_namespace_selector",
    "audience",
    "alias_name_source",
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
    PathSpec::new("config", &[Read, Update]).fields(&[
        "kubernetes_host",
        "kubernetes_ca_cert",
        "token_reviewer_jwt",
        "pem_keys",
        "issuer",
        "disable_iss_validation",
        "disable_local_ca_jwt",
        "use_annotations_as_alias_metadata",
    ]),
    PathSpec::new("role", &[List]),
    PathSpec::new("role/:name", &[Read, Update, Delete])
        .fields(ROLE_FIELDS)
        .existence_check(),
];

const ALIAS_SA_UID: &str = "serviceaccount_uid";
const ALIAS_SA_NAME: &str = "serviceaccount_name";

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

/// `auth/kubernetes/role/:name`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KubeRole {
    pub bound_service_account_names: Vec<String>,
    pub bound_service_account_namespaces: Vec<String>,
    pub bound_service_account_namespace_selector: String,
    pub audience: String,
    pub alias_name_source: String,
    pub token: TokenFields,
    pub legacy: LegacyTokenFields,
}

#[derive(Default)]
pub struct KubernetesBackend;

impl KubernetesBackend {
    pub fn new() -> Self {
        KubernetesBackend
    }
}

const ROLES: RoleStore = RoleStore::new("role/");

async fn load_role(req: &Request, name: &str) -> Result<Option<KubeRole>> {
    let role: Option<KubeRole> = ROLES.get(req, name).await?;
    Ok(role.map(|mut role| {
        role.legacy.apply_on_load(&mut role.token);
        role
    }))
}

#[async_trait::async_trait]
impl Backend for KubernetesBackend {
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    async fn exists(&self, req: &mut Request) -> Result<bool> {
        ROLES.exists(req).await
    }

    async fn handle(&self, req: &mut Request) -> Result<Option<Response>> {
        match (req.route, req.operation) {
            ("login", _) => login(req).await,
            ("config", Read) => {
                let config: Option<KubeConfig> = req.storage.get_json("config").await?;
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
            ("config", _) => write_config(req).await,
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

async fn write_config(req: &mut Request) -> Result<Option<Response>> {
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

fn role_data(role: &KubeRole) -> Map<String, Value> {
    let mut d = Map::new();
    d.insert(
        "bound_service_account_names".into(),
        json!(role.bound_service_account_names),
    );
    d.insert(
        "bound_service_account_namespaces".into(),
        json!(role.bound_service_account_namespaces),
    );
    d.insert(
        "bound_service_account_namespace_selector".into(),
        json!(role.bound_service_account_namespace_selector),
    );
    if !role.audience.is_empty() {
        d.insert("audience".into(), json!(role.audience));
    }
    role.token.populate_data(&mut d);
    role.legacy.populate_data(&mut d);
    d.insert("alias_name_source".into(), json!(role.alias_name_source));
    d
}

async fn write_role(req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("name")?.to_lowercase();
    let create = req.operation == Operation::Create;
    let mut role = if create {
        KubeRole::default()
    } else {
        req.storage
            .get_json::<KubeRole>(&ROLES.key(&name))
            .await?
            .unwrap_or_default()
    };
    let d = &req.data;
    let mut warnings = role.token.parse(d)?;
    role.legacy.upgrade(d, &mut role.token)?;
    if role.token.token_max_ttl > 0 && role.token.token_ttl > role.token.token_max_ttl {
        return Err(Error::bad_request(
            "token ttl should not be greater than token max ttl",
        ));
    }
    if req.ttls.max_ttl > 0 && role.token.token_max_ttl > req.ttls.max_ttl {
        warnings.push("max_ttl is greater than the system or backend mount's maximum TTL value; issued tokens' max TTL value will be truncated".to_string());
    }
    if let Some(names) = d.comma_list("bound_service_account_names")? {
        role.bound_service_account_names = names;
    }
    if role.bound_service_account_names.is_empty() {
        return Err(Error::bad_request(
            "\"bound_service_account_names\" can not be empty",
        ));
    }
    if role.bound_service_account_names.len() > 1
        && role.bound_service_account_names.iter().any(|n| n == "*")
    {
        return Err(Error::bad_request("can not mix \"*\" with values"));
    }
    if let Some(namespaces) = d.comma_list("bound_service_account_namespaces")? {
        role.bound_service_account_namespaces = namespaces;
    }
    role.bound_service_account_namespace_selector =
        d.str_or("bound_service_account_namespace_selector", "")?;
    if role.bound_service_account_namespaces.is_empty()
        && role.bound_service_account_namespace_selector.is_empty()
    {
        return Err(Error::bad_request(
            "\"bound_service_account_namespaces\" can not be empty if \"bound_service_account_namespace_selector\" is not set",
        ));
    }
    if !role.bound_service_account_namespace_selector.is_empty()
        && serde_json::from_str::<Map<String, Value>>(
            &role.bound_service_account_namespace_selector,
        )
        .is_err()
    {
        return Err(Error::bad_request(
            "invalid \"bound_service_account_namespace_selector\" configured",
        ));
    }
    if role.bound_service_account_namespaces.len() > 1
        && role
            .bound_service_account_namespaces
            .iter()
            .any(|n| n == "*")
    {
        return Err(Error::bad_request("can not mix \"*\" with values"));
    }
    if let Some(audience) = d.str("audience")? {
        role.audience = audience;
    }
    match d.str("alias_name_source")? {
        Some(source) if source.is_empty() && role.alias_name_source.is_empty() => {
            role.alias_name_source = ALIAS_SA_UID.into();
        }
        Some(source) => role.alias_name_source = source,
        None if role.alias_name_source.is_empty() => {
            role.alias_name_source = ALIAS_SA_UID.into();
        }
        None => {}
    }
    if role.alias_name_source != ALIAS_SA_UID && role.alias_name_source != ALIAS_SA_NAME {
        return Err(Error::bad_request(
            "invalid alias_name_source, must be one of: serviceaccount_uid, serviceaccount_name",
        ));
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

/// The service account a token speaks for, from the legacy secret-token
/// claims or the projected token's `kubernetes.io` claim (preferred).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub name: String,
    pub uid: String,
    pub namespace: String,
    pub secret_name: String,
    pub audiences: Vec<String>,
}

impl ServiceAccount {
    pub fn from_claims(claims: &Map<String, Value>) -> ServiceAccount {
        let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
        let mut sa = ServiceAccount {
            name: s(claims.get("kubernetes.io/serviceaccount/service-account.name")),
            uid: s(claims.get("kubernetes.io/serviceaccount/service-account.uid")),
            namespace: s(claims.get("kubernetes.io/serviceaccount/namespace")),
            secret_name: s(claims.get("kubernetes.io/serviceaccount/secret.name")),
            audiences: jose::audiences(claims).unwrap_or_default(),
        };
        if let Some(projected) = claims.get("kubernetes.io").filter(|v| v.is_object()) {
            sa.namespace = s(projected.get("namespace"));
            if let Some(account) = projected.get("serviceaccount").filter(|v| v.is_object()) {
                sa.name = s(account.get("name"));
                sa.uid = s(account.get("uid"));
            }
        }
        sa
    }
}

fn read_local(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

async fn login(req: &mut Request) -> Result<Option<Response>> {
    let role_name = req.data.str_or("role", "")?;
    if role_name.is_empty() {
        return Err(Error::bad_request("missing role"));
    }
    let jwt = req.data.str_or("jwt", "")?;
    if jwt.is_empty() {
        return Err(Error::bad_request("missing jwt"));
    }
    let Some(role) = load_role(req, &role_name).await? else {
        return Err(Error::BadRequest(format!(
            "invalid role name {role_name:?}"
        )));
    };
    if !peer_in_bound_cidrs(req, &role.token.token_bound_cidrs) {
        return Err(Error::PermissionDenied);
    }
    let Some(mut config) = req.storage.get_json::<KubeConfig>("config").await? else {
        return Err(Error::bad_request("could not load backend configuration"));
    };
    if !config.disable_local_ca_jwt {
        if config.token_reviewer_jwt.is_empty() {
            config.token_reviewer_jwt = read_local(LOCAL_JWT_PATH).unwrap_or_default();
        }
        if config.kubernetes_ca_cert.is_empty() {
            config.kubernetes_ca_cert = read_local(LOCAL_CA_CERT_PATH).unwrap_or_default();
        }
    }

    let sa = parse_and_validate(&jwt, &role, &config)?;
    // The alias name (Vault's getAliasName) needs these before the review.
    if role.alias_name_source == ALIAS_SA_NAME {
        if sa.namespace.is_empty() || sa.name.is_empty() {
            return Err(Error::Forbidden(
                "service account namespace and name must be set".into(),
            ));
        }
    } else if sa.uid.is_empty() {
        return Err(Error::Forbidden("could not parse UID from claims".into()));
    }

    // vaultlet extension: pem_keys and no host means local verification only.
    let local_only = config.kubernetes_host.is_empty() && !config.pem_keys.is_empty();
    if !local_only {
        if let Err(e) = review::lookup(&config, &jwt, &role.audience, &sa).await {
            tracing::debug!(error = %e, "kubernetes login unauthorized");
            return Err(Error::PermissionDenied);
        }
    }
    if sa.uid.is_empty() {
        return Err(Error::Forbidden("could not parse UID from claims".into()));
    }
    let uid = sa.uid.clone();

    let mut auth = role.token.to_auth();
    auth.alias_name = Some(if role.alias_name_source == ALIAS_SA_NAME {
        format!("{}/{}", sa.namespace, sa.name)
    } else {
        uid.clone()
    });
    auth.display_name = format!("{}-{}", sa.namespace, sa.name);
    auth.metadata.insert("service_account_uid".into(), uid);
    auth.metadata
        .insert("service_account_name".into(), sa.name.clone());
    auth.metadata
        .insert("service_account_namespace".into(), sa.namespace.clone());
    auth.metadata
        .insert("service_account_secret_name".into(), sa.secret_name.clone());
    auth.metadata.insert("role".into(), role_name);
    Ok(Some(Response::auth(auth)))
}

/// The plugin's `parseAndValidateJWT`: signature (only with `pem_keys`),
/// algorithm, issuer (when enabled and configured), audience, time claims,
/// then the name and namespace bindings. Failures are 403s.
fn parse_and_validate(jwt: &str, role: &KubeRole, config: &KubeConfig) -> Result<ServiceAccount> {
    let jws = Jws::parse(jwt).map_err(|e| {
        tracing::debug!(error = %e, "kubernetes login: malformed JWT");
        Error::PermissionDenied
    })?;
    if !jws.alg.is_some_and(|a| Alg::KUBERNETES.contains(&a)) || jws.signature.is_empty() {
        return Err(Error::PermissionDenied);
    }
    if !config.pem_keys.is_empty() {
        let keys: Vec<PublicKey> = config
            .pem_keys
            .iter()
            .filter_map(|pem| jose::parse_public_key_pem(pem).ok())
            .map(|material| PublicKey {
                kid: None,
                material,
            })
            .collect();
        if !jws.verify_with(&keys) {
            return Err(Error::PermissionDenied);
        }
    }
    let issuer = if config.disable_iss_validation {
        ""
    } else {
        config.issuer.as_str()
    };
    let audiences: Vec<String> = if role.audience.trim().is_empty() {
        Vec::new()
    } else {
        vec![role.audience.clone()]
    };
    let expected = Expected {
        issuer,
        audiences: &audiences,
        algorithms: &Alg::KUBERNETES,
        allow_missing_times: true,
        ..Default::default()
    };
    jose::validate_claims(&jws, &expected).map_err(Error::Forbidden)?;
    let sa = ServiceAccount::from_claims(&jws.claims);

    let names = &role.bound_service_account_names;
    if (names.len() > 1 || names.first().map(String::as_str) != Some("*"))
        && !names.iter().any(|n| glob_match(n, &sa.name))
    {
        return Err(Error::Forbidden(
            "service account name not authorized".into(),
        ));
    }
    let namespaces = &role.bound_service_account_namespaces;
    let allowed = namespaces.first().map(String::as_str) == Some("*")
        || namespaces.iter().any(|n| glob_match(n, &sa.namespace));
    if !allowed {
        if !role.bound_service_account_namespace_selector.is_empty() {
            return Err(Error::Forbidden(
                "namespace not authorized err=namespace selectors are not supported by vaultlet"
                    .into(),
            ));
        }
        return Err(Error::Forbidden("namespace not authorized".into()));
    }
    Ok(sa)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projected_claims_win_over_legacy_ones() {
        let legacy = json!({
            "kubernetes.io/serviceaccount/service-account.name": "vault-auth",
            "kubernetes.io/serviceaccount/service-account.uid": "u-1",
            "kubernetes.io/serviceaccount/namespace": "default",
            "kubernetes.io/serviceaccount/secret.name": "vault-auth-token-x",
        });
        let sa = ServiceAccount::from_claims(legacy.as_object().unwrap_or(&Map::new()));
        assert_eq!(
            (
                sa.name.as_str(),
                sa.uid.as_str(),
                sa.namespace.as_str(),
                sa.secret_name.as_str()
            ),
            ("vault-auth", "u-1", "default", "vault-auth-token-x")
        );
        let projected = json!({
            "aud": ["vault://ns/issuer"],
            "kubernetes.io": {"namespace": "ns", "serviceaccount": {"name": "cm", "uid": "u-2"}},
        });
        let sa = ServiceAccount::from_claims(projected.as_object().unwrap_or(&Map::new()));
        assert_eq!(
            (sa.name.as_str(), sa.uid.as_str(), sa.namespace.as_str()),
            ("cm", "u-2", "ns")
        );
        assert_eq!(sa.audiences, vec!["vault://ns/issuer"]);
    }
}
