//! Roles (`role/:name`): the service-account names and namespaces that may
//! log in, the audience and alias source, and the token fields of the grant.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::KubernetesBackend;
use crate::auth::legacy_token_fields::{LegacyTokenFields, LEGACY_TOKEN_FIELDS};
use crate::auth::roles::RoleStore;
use crate::auth::token_fields::{TokenFields, TOKEN_FIELDS};
use crate::handler;
use crate::logical::framework::{Capture, Field, Path};
use crate::logical::{Error, Operation, Request, Response, Result};

const ROLE_FIELDS: &[Field] = &[
    Field::string("name"),
    Field::list("bound_service_account_names"),
    Field::list("bound_service_account_namespaces"),
    Field::string("bound_service_account_namespace_selector"),
    Field::string("audience"),
    Field::string("alias_name_source"),
];

pub(super) const PATHS: &[Path<KubernetesBackend>] = &[
    Path::new("role").list(handler!(_b, r => ROLES.list(r))),
    Path::new("role/:name")
        .captures(&[("name", Capture::Name)])
        .fields(&[ROLE_FIELDS, LEGACY_TOKEN_FIELDS, TOKEN_FIELDS])
        .existence_check(|_, r| Box::pin(ROLES.exists(r)))
        .read(handler!(read))
        .update(handler!(write))
        .delete(handler!(_b, r => ROLES.delete(r))),
];

/// Where a role's alias name comes from.
pub(super) const ALIAS_SA_UID: &str = "serviceaccount_uid";
pub(super) const ALIAS_SA_NAME: &str = "serviceaccount_name";

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

const ROLES: RoleStore = RoleStore::new("role/");

pub(super) async fn load_role(req: &Request, name: &str) -> Result<Option<KubeRole>> {
    let role: Option<KubeRole> = ROLES.get(req, name).await?;
    Ok(role.map(|mut role| {
        role.legacy.apply_on_load(&mut role.token);
        role
    }))
}

async fn read(_: &KubernetesBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("name")?.to_string();
    Ok(load_role(req, &name)
        .await?
        .map(|role| Response::data(role_data(&role))))
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

async fn write(_: &KubernetesBackend, req: &mut Request) -> Result<Option<Response>> {
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
    Ok(Response::warnings(warnings))
}
