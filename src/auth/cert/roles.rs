//! Trusted certificate roles (`certs/:name`): a CA (or a pinned leaf)
//! with the name constraints a login's chain must meet, and the token
//! fields of the grant.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{chain, verify, CertBackend, NAME};
use crate::auth::roles::RoleStore;
use crate::auth::token_fields::{self, TokenFields, TOKEN_FIELDS};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, FieldData, Operation, Request, Response, Result};

const ROLE_FIELDS: &[Field] = &[
    Field::string("name"),
    Field::string("certificate"),
    Field::list("allowed_names"),
    Field::list("allowed_common_names"),
    Field::list("allowed_dns_sans"),
    Field::list("allowed_email_sans"),
    Field::list("allowed_uri_sans"),
    Field::list("allowed_organizational_units"),
    Field::list("required_extensions"),
    Field::list("allowed_metadata_extensions"),
    Field::string("display_name"),
    Field::bool("ocsp_enabled"),
    Field::string("ocsp_ca_certificates"),
    Field::list("ocsp_servers_override"),
    Field::bool("ocsp_fail_open"),
    Field::bool("ocsp_query_all_servers"),
];

/// The pre-`token_*` names cert roles still accept.
const LEGACY_FIELDS: &[Field] = &[
    Field::list("policies"),
    Field::duration("ttl"),
    Field::duration("max_ttl"),
    Field::duration("period"),
    Field::list("bound_cidrs"),
];

pub(super) const PATHS: &[Path<CertBackend>] = &[
    Path::new("certs").list(handler!(_b, r => ROLES.list(r))),
    Path::new("certs/:name")
        .captures(NAME)
        .fields(&[ROLE_FIELDS, LEGACY_FIELDS, TOKEN_FIELDS])
        .existence_check(|_, r| Box::pin(ROLES.exists(r)))
        .read(handler!(read))
        .update(handler!(write))
        .delete(handler!(_b, r => ROLES.delete(r))),
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

const ROLES: RoleStore = RoleStore::new("cert/");

/// A stored role; one stored without a display name shows its own name,
/// as Vault defaults it.
pub(super) async fn load_role(req: &Request, name: &str) -> Result<Option<CertRole>> {
    let role: Option<CertRole> = ROLES.get(req, name).await?;
    Ok(role.map(|mut role| {
        if role.display_name.is_empty() {
            role.display_name = name.to_lowercase();
        }
        role
    }))
}

/// The names of the stored roles.
pub(super) async fn names(req: &Request) -> Result<Vec<String>> {
    ROLES.names(req).await
}

async fn read(_: &CertBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("name")?.to_string();
    Ok(load_role(req, &name)
        .await?
        .map(|role| Response::data(role_data(&role))))
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

async fn write(_: &CertBackend, req: &mut Request) -> Result<Option<Response>> {
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
    Ok(Response::warnings(warnings))
}

/// The pre-`token_*` names cert roles still accept.
fn legacy_token_aliases(data: &FieldData, token: &mut TokenFields) -> Result<()> {
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
    if !data.contains("token_bound_cidrs") {
        if let Some(cidrs) = data.comma_list("bound_cidrs")? {
            token.token_bound_cidrs = token_fields::parse_addrs(&cidrs)?;
        }
    }
    Ok(())
}
