//! TLS certificate auth (`auth/cert/`): roles trust a CA (or pin a leaf),
//! and a login over the TLS listener presents a client certificate that
//! must chain to a role's certificate for client authentication and meet
//! the role's name constraints, with no certificate of the chain listed by
//! an uploaded CRL.

mod chain;
mod crl;
mod name_constraints;
mod verify;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::auth::roles::RoleStore;
use crate::auth::token_fields::TokenFields;
use crate::logical::{Backend, Error, Operation, PathSpec, Request, Response, Result};

use Operation::{Delete, List, Read, Update};

const ROLE_FIELDS: &[&str] = &[
    "name",
    "certificate",
    "allowed_names",
    "allowed_common_names",
    "allowed_dns_sans",
    "allowed_email_sans",
    "allowed_uri_sans",
    "allowed_organizational_units",
    "required_extensions",
    "allowed_metadata_extensions",
    "display_name",
    "ocsp_enabled",
    "ocsp_ca_certificates",
    "ocsp_servers_override",
    "ocsp_fail_open",
    "ocsp_query_all_servers",
    "policies",
    "ttl",
    "max_ttl",
    "period",
    "bound_cidrs",
    "token_bound_cidrs",
    "token_explicit_max_ttl",
    "token_max_ttl",
    "token_no_default_policy",
    "token_num_uses",
    "token_period",
    "token_policies",
    "token_type",
    "token_ttl",
];

static PATHS: &[PathSpec] = &[
    PathSpec::new("login", &[Update])
        .fields(&["name"])
        .unauthenticated(),
    PathSpec::new("certs", &[List]),
    PathSpec::new("certs/:name", &[Read, Update, Delete])
        .fields(ROLE_FIELDS)
        .existence_check(),
    PathSpec::new("crls", &[List]),
    PathSpec::new("crls/:name", &[Read, Update, Delete]).fields(&["name", "crl", "url"]),
    PathSpec::new("config", &[Read, Update]).fields(&[
        "disable_binding",
        "enable_identity_alias_metadata",
        "ocsp_cache_size",
        "role_cache_size",
    ]),
];

/// A trusted certificate role (`certs/:name`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CertRole {
    pub certificate: String,
    pub allowed_names: Vec<String>,
    pub allowed_common_names: Vec<String>,
    pub allowed_dns_sans: Vec<String>,
    pub allowed_email_sans: Vec<String>,
    pub allowed_uri_sans: Vec<String>,
    pub allowed_organizational_units: Vec<String>,
    pub required_extensions: Vec<String>,
    pub allowed_metadata_extensions: Vec<String>,
    pub display_name: String,
    pub ocsp_enabled: bool,
    pub ocsp_ca_certificates: String,
    pub ocsp_servers_override: Vec<String>,
    pub ocsp_fail_open: bool,
    pub ocsp_query_all_servers: bool,
    pub token: TokenFields,
}

#[derive(Default)]
pub struct CertBackend;

impl CertBackend {
    pub fn new() -> Self {
        CertBackend
    }
}

const ROLES: RoleStore = RoleStore::new("cert/");

/// A stored role; one stored without a display name shows its own name,
/// as Vault defaults it.
async fn load_role(req: &Request, name: &str) -> Result<Option<CertRole>> {
    let role: Option<CertRole> = ROLES.get(req, name).await?;
    Ok(role.map(|mut role| {
        if role.display_name.is_empty() {
            role.display_name = name.to_lowercase();
        }
        role
    }))
}

#[async_trait::async_trait]
impl Backend for CertBackend {
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    /// Failed logins count against the presented certificate.
    fn lockout_alias(&self, req: &Request) -> Option<String> {
        let leaf = req.connection.peer_certificates.first()?;
        (req.route == "login")
            .then(|| hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, leaf)))
    }

    async fn exists(&self, req: &mut Request) -> Result<bool> {
        ROLES.exists(req).await
    }

    async fn handle(&self, req: &mut Request) -> Result<Option<Response>> {
        match (req.route, req.operation) {
            ("login", _) => login(req).await,
            ("certs", _) => ROLES.list(req).await,
            ("certs/:name", Read) => {
                let name = req.param("name")?.to_string();
                Ok(load_role(req, &name)
                    .await?
                    .map(|role| Response::data(role_data(&role))))
            }
            ("certs/:name", Delete) => ROLES.delete(req).await,
            ("certs/:name", _) => write_role(req).await,
            ("crls", _) => crl::list(req).await,
            ("crls/:name", Read) => crl::read(req).await,
            ("crls/:name", Delete) => crl::delete(req).await,
            ("crls/:name", _) => crl::write(req).await,
            ("config", Read) => {
                let config: Map<String, Value> =
                    req.storage.get_json("config").await?.unwrap_or_default();
                let mut data = Map::new();
                data.insert(
                    "disable_binding".into(),
                    config
                        .get("disable_binding")
                        .cloned()
                        .unwrap_or(json!(false)),
                );
                data.insert(
                    "enable_identity_alias_metadata".into(),
                    config
                        .get("enable_identity_alias_metadata")
                        .cloned()
                        .unwrap_or(json!(false)),
                );
                data.insert(
                    "ocsp_cache_size".into(),
                    config.get("ocsp_cache_size").cloned().unwrap_or(json!(100)),
                );
                data.insert(
                    "role_cache_size".into(),
                    config.get("role_cache_size").cloned().unwrap_or(json!(200)),
                );
                Ok(Some(Response::data(data)))
            }
            ("config", _) => {
                let mut config: Map<String, Value> =
                    req.storage.get_json("config").await?.unwrap_or_default();
                for flag in ["disable_binding", "enable_identity_alias_metadata"] {
                    if let Some(v) = req.data.bool(flag)? {
                        config.insert(flag.into(), json!(v));
                    }
                }
                for size in ["ocsp_cache_size", "role_cache_size"] {
                    if let Some(v) = req.data.int(size)? {
                        config.insert(size.into(), json!(v));
                    }
                }
                req.storage.put_json("config", &config).await?;
                Ok(None)
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }
}

fn role_data(role: &CertRole) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("certificate".into(), json!(role.certificate));
    data.insert("display_name".into(), json!(role.display_name));
    for (key, list) in [
        ("allowed_names", &role.allowed_names),
        ("allowed_common_names", &role.allowed_common_names),
        ("allowed_dns_sans", &role.allowed_dns_sans),
        ("allowed_email_sans", &role.allowed_email_sans),
        ("allowed_uri_sans", &role.allowed_uri_sans),
        (
            "allowed_organizational_units",
            &role.allowed_organizational_units,
        ),
        ("required_extensions", &role.required_extensions),
        (
            "allowed_metadata_extensions",
            &role.allowed_metadata_extensions,
        ),
        ("ocsp_servers_override", &role.ocsp_servers_override),
    ] {
        // Unset lists read back as null, as Vault's cert roles do.
        let value = if list.is_empty() {
            Value::Null
        } else {
            json!(list)
        };
        data.insert(key.into(), value);
    }
    data.insert("ocsp_enabled".into(), json!(role.ocsp_enabled));
    data.insert(
        "ocsp_ca_certificates".into(),
        json!(role.ocsp_ca_certificates),
    );
    data.insert("ocsp_fail_open".into(), json!(role.ocsp_fail_open));
    data.insert(
        "ocsp_query_all_servers".into(),
        json!(role.ocsp_query_all_servers),
    );
    role.token.populate_data(&mut data);
    data
}

async fn write_role(req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("name")?.to_string();
    let mut role = if req.operation == Operation::Create {
        CertRole::default()
    } else {
        load_role(req, &name).await?.unwrap_or_default()
    };
    let data = &req.data;
    if let Some(certificate) = data.str("certificate")? {
        role.certificate = certificate;
    }
    if role.certificate.trim().is_empty() {
        return Err(Error::bad_request("must specify a certificate"));
    }
    let certificates = verify::parse_pem_certificates(&role.certificate);
    let Some(first) = certificates
        .first()
        .and_then(|der| chain::Certificate::parse(der))
    else {
        return Err(Error::bad_request("failed to parse certificate"));
    };
    if !first.is_ca() && !first.allows_client_auth() {
        return Err(Error::bad_request(
            "nonCA certificates should have TLS client authentication set as an extended key usage",
        ));
    }
    for (key, target) in [
        ("allowed_names", &mut role.allowed_names),
        ("allowed_common_names", &mut role.allowed_common_names),
        ("allowed_dns_sans", &mut role.allowed_dns_sans),
        ("allowed_email_sans", &mut role.allowed_email_sans),
        ("allowed_uri_sans", &mut role.allowed_uri_sans),
        (
            "allowed_organizational_units",
            &mut role.allowed_organizational_units,
        ),
        ("required_extensions", &mut role.required_extensions),
        (
            "allowed_metadata_extensions",
            &mut role.allowed_metadata_extensions,
        ),
        ("ocsp_servers_override", &mut role.ocsp_servers_override),
    ] {
        if let Some(list) = data.comma_list(key)? {
            *target = list;
        }
    }
    if let Some(display_name) = data.str("display_name")? {
        role.display_name = display_name;
    }
    if role.display_name.is_empty() {
        role.display_name = name.to_lowercase();
    }
    for (key, target) in [
        ("ocsp_enabled", &mut role.ocsp_enabled),
        ("ocsp_fail_open", &mut role.ocsp_fail_open),
        ("ocsp_query_all_servers", &mut role.ocsp_query_all_servers),
    ] {
        if let Some(v) = data.bool(key)? {
            *target = v;
        }
    }
    if role.ocsp_enabled {
        return Err(Error::bad_request(
            "OCSP checking is not supported by vaultlet",
        ));
    }
    legacy_token_aliases(data, &mut role.token)?;
    let warnings = role.token.parse(data)?;
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

/// The pre-`token_*` names cert roles still accept.
fn legacy_token_aliases(data: &crate::logical::FieldData, token: &mut TokenFields) -> Result<()> {
    if !data.contains("token_policies") {
        if let Some(policies) = data.comma_list("policies")? {
            token.token_policies = policies;
        }
    }
    if !data.contains("token_ttl") {
        if let Some(ttl) = data.duration("ttl")? {
            token.token_ttl = ttl;
        }
    }
    if !data.contains("token_max_ttl") {
        if let Some(ttl) = data.duration("max_ttl")? {
            token.token_max_ttl = ttl;
        }
    }
    if !data.contains("token_period") {
        if let Some(period) = data.duration("period")? {
            token.token_period = period;
        }
    }
    Ok(())
}

/// `auth/cert/login`: the first role (or the named one) that accepts the
/// presented chain (see `verify`).
async fn login(req: &mut Request) -> Result<Option<Response>> {
    if !req.connection.tls {
        return Err(Error::bad_request("tls connection required"));
    }
    let chain = req.connection.peer_certificates.clone();
    if chain.is_empty() {
        return Err(Error::bad_request("client certificate must be supplied"));
    }
    let names = match req.data.str("name")?.filter(|n| !n.is_empty()) {
        Some(name) => vec![name.to_lowercase()],
        None => ROLES.names(req).await?,
    };
    let mut roles = Vec::new();
    for name in names {
        if let Some(role) = load_role(req, &name).await? {
            roles.push((name, role));
        }
    }
    let revoked = crl::Revoked::load(req).await?;
    let now = time::OffsetDateTime::now_utc();
    let matched = verify::select(&roles, &chain, &revoked, now).map_err(|refusal| {
        Error::bad_request(match refusal {
            // Vault answers 500 here; a client's certificate is not a server fault.
            verify::Refusal::Invalid(e) => format!("failed to verify client's certificate: {e}"),
            verify::Refusal::Untrusted => {
                "invalid certificate or no client certificate supplied".to_string()
            }
            verify::Refusal::NoMatch => {
                "no chain matching all constraints could be found for this login certificate"
                    .to_string()
            }
        })
    })?;
    let (name, role) = roles
        .into_iter()
        .find(|(name, _)| *name == matched.role)
        .expect("the matched role is a candidate");
    let mut auth = role.token.to_auth();
    auth.display_name = role.display_name;
    auth.alias_name = matched.metadata.get("common_name").cloned();
    auth.metadata = matched.metadata;
    auth.metadata.insert("cert_name".into(), name);
    auth.renewable = true;
    auth.orphan = true;
    Ok(Some(Response::auth(auth)))
}
