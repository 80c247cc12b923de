//! Roles (`role/:name`): the audiences, subject and claims a token must
//! have, how its claims become the identity and metadata, and the token
//! fields of the grant.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::claims::{normalize_list, Scalar};
use super::JwtBackend;
use crate::auth::legacy_token_fields::{LegacyTokenFields, LEGACY_TOKEN_FIELDS};
use crate::auth::roles::RoleStore;
use crate::auth::token_fields::{TokenFields, TOKEN_FIELDS};
use crate::handler;
use crate::logical::framework::{Capture, Field, Path};
use crate::logical::{Error, FieldData, Operation, Request, Response, Result};

const ROLE_FIELDS: &[Field] = &[
    Field::string("name"),
    Field::string("role_type"),
    Field::signed_duration("expiration_leeway"),
    Field::signed_duration("not_before_leeway"),
    Field::signed_duration("clock_skew_leeway"),
    Field::string("bound_subject"),
    Field::list("bound_audiences"),
    Field::string("bound_claims_type"),
    // Read raw: claim values keep their JSON types (a JSON string holding
    // the object is accepted too).
    Field::raw("bound_claims"),
    Field::map("claim_mappings"),
    Field::string("user_claim"),
    Field::bool("user_claim_json_pointer"),
    Field::string("groups_claim"),
    Field::list("oidc_scopes"),
    Field::list("allowed_redirect_uris"),
    Field::string("callback_mode"),
    Field::int("poll_interval"),
    Field::bool("verbose_oidc_logging"),
    Field::duration("max_age"),
];

pub(super) const PATHS: &[Path<JwtBackend>] = &[
    Path::new("role").list(handler!(_b, r => ROLES.list(r))),
    Path::new("role/:name")
        .captures(&[("name", Capture::Name)])
        .fields(&[ROLE_FIELDS, LEGACY_TOKEN_FIELDS, TOKEN_FIELDS])
        .existence_check(|_, r| Box::pin(ROLES.exists(r)))
        .read(handler!(read))
        .update(handler!(write))
        .delete(handler!(_b, r => ROLES.delete(r))),
];

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
const ROLES: RoleStore = RoleStore::new("role/");

pub(super) async fn load_role(req: &Request, name: &str) -> Result<Option<JwtRole>> {
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

async fn read(_: &JwtBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("name")?.to_string();
    Ok(load_role(req, &name)
        .await?
        .map(|role| Response::data(role_data(&role))))
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

async fn write(_: &JwtBackend, req: &mut Request) -> Result<Option<Response>> {
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

    if let Some(v) = d.signed_duration("expiration_leeway")? {
        role.expiration_leeway = v;
    }
    if let Some(v) = d.signed_duration("not_before_leeway")? {
        role.not_before_leeway = v;
    }
    if let Some(v) = d.signed_duration("clock_skew_leeway")? {
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
    Ok(Response::warnings(warnings))
}
