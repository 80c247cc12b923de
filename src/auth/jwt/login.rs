//! `auth/jwt/login`: a JWT, verified with the configured key source and
//! checked against a role, logs in as the role's user claim.

use serde_json::Value;

use super::claims::{get_claim, validate_bound_claims};
use super::roles::load_role;
use super::{config, JwtBackend};
use crate::auth::jose::{self, Alg, Expected, Jws};
use crate::auth::token_fields::peer_in_bound_cidrs;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};

pub(super) const PATHS: &[Path<JwtBackend>] = &[Path::new("login")
    .unauthenticated()
    .fields(&[&[Field::string("role"), Field::string("jwt")]])
    .update(handler!(login))];

async fn login(b: &JwtBackend, req: &mut Request) -> Result<Option<Response>> {
    let Some(config) = config::load(req).await? else {
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
    let jws =
        Jws::parse(&token).map_err(|e| invalid(format!("error verifying token signature: {e}")))?;
    b.verify_signature(&config, &jws)
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
    let mut group_aliases = None;
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
        group_aliases = Some(
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        );
    }
    if let Some(bound) = &role.bound_claims {
        validate_bound_claims(&role.bound_claims_type, bound, &claims)
            .map_err(|e| Error::BadRequest(format!("error validating claims: {e}")))?;
    }

    let mut auth = role.token.to_auth();
    auth.alias_name = Some(user.clone());
    auth.group_aliases = group_aliases;
    auth.display_name = user;
    // The alias has the token's metadata: the claim mappings and the role.
    auth.alias_metadata = metadata.clone();
    auth.metadata = metadata;
    Ok(Some(Response::auth(auth)))
}
