//! Identity tokens: `oidc/token/:name` signs one for the caller's entity,
//! `oidc/introspect` checks one, and the issuer's discovery document and
//! JWKS are served without a token; `oidc/config` sets the issuer.

use serde_json::{json, Map, Value};

use super::{keys, roles, template};
use crate::auth::jose::{material_from_jwk, Jws, PublicKey};
use crate::handler;
use crate::logical::framework::{Answer, Capture, Field, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::secrets::identity::model::ROOT_NAMESPACE;
use crate::secrets::identity::IdentityBackend;
use crate::storage::StorageView;
use crate::util::gotime::now_unix;

const CONFIG: &str = "oidc/config";
const ISSUER_WARNING: &str = "If \"issuer\" is set explicitly, all tokens must be validated \
    against that address, including those issued by secondary clusters. Setting issuer to \"\" \
    will restore the default behavior of using the cluster's api_addr as the issuer.";
const INVALID_ISSUER: &str = "invalid issuer, which must include only a scheme, host, and \
    optional port (e.g. https://example.com:8200)";

pub(super) const PATHS: &[Path<IdentityBackend>] = &[
    Path::new("oidc/config")
        .fields(&[&[Field::string("issuer")]])
        .read(handler!(read_config))
        .update(handler!(write_config)),
    Path::new("oidc/token/:name")
        .captures(&[("name", Capture::Name)])
        .fields(&[&[Field::string("name")]])
        .read(handler!(issue)),
    Path::new("oidc/introspect")
        .fields(&[&[Field::string("token"), Field::string("client_id")]])
        .answers(Answer::Raw("application/json"))
        .update(handler!(introspect)),
    Path::new("oidc/.well-known/openid-configuration")
        .unauthenticated()
        .answers(Answer::Raw("application/json"))
        .read(handler!(discovery)),
    Path::new("oidc/.well-known/keys")
        .unauthenticated()
        .answers(Answer::Raw("application/json"))
        .read(handler!(jwks)),
];

fn json_body(value: &Value) -> Response {
    Response::raw(200, "application/json", value.to_string().into_bytes())
}

async fn configured_issuer(storage: &StorageView) -> Result<String> {
    let config: Option<Map<String, Value>> = storage.get_json(CONFIG).await?;
    Ok(config
        .and_then(|c| c.get("issuer").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default())
}

/// The `iss` of every token: the configured issuer, else the server's
/// API address, followed by the identity mount's OIDC path.
async fn issuer(b: &IdentityBackend, storage: &StorageView) -> Result<String> {
    let mut base = configured_issuer(storage).await?;
    if base.is_empty() {
        base = b.store.api_addr();
    }
    Ok(format!("{}/v1/identity/oidc", base.trim_end_matches('/')))
}

async fn read_config(_b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let issuer = configured_issuer(&req.storage).await?;
    let mut data = Map::new();
    data.insert("issuer".into(), json!(issuer));
    Ok(Some(Response::data(data)))
}

/// Only `scheme://host[:port]`: no path, query, fragment or user.
fn valid_issuer(text: &str) -> bool {
    let Ok(url) = url::Url::parse(text) else {
        return false;
    };
    url.host_str().is_some()
        && matches!(url.scheme(), "http" | "https")
        && (url.path() == "/" || url.path().is_empty())
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
        && !text.trim_end_matches('/').ends_with(['?', '#'])
}

async fn write_config(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.oidc_lock.lock().await;
    let Some(issuer) = req.data.str("issuer")? else {
        return Ok(None);
    };
    if !issuer.is_empty() && !valid_issuer(&issuer) {
        return Err(Error::bad_request(INVALID_ISSUER));
    }
    req.storage
        .put_json(CONFIG, &json!({ "issuer": issuer }))
        .await?;
    if issuer.is_empty() {
        return Ok(None);
    }
    Ok(Response::warnings(vec![ISSUER_WARNING.to_string()]))
}

async fn issue(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("name")?.to_string();
    let entity_id = req
        .token
        .as_ref()
        .map(|t| t.entity_id.clone())
        .unwrap_or_default();
    let _guard = b.oidc_lock.lock().await;
    let Some(role) = roles::load(&req.storage, &name).await? else {
        return Err(Error::BadRequest(format!("role {name:?} not found")));
    };
    let Some(key) = keys::load(&req.storage, &role.key).await? else {
        return Err(Error::BadRequest(format!(
            "unable to find key {:?} referenced by role {name:?}",
            role.key
        )));
    };
    if !key.allows_client(&role.client_id) {
        return Err(Error::BadRequest(format!(
            "the key {:?} does not list the client ID of the role {name:?} as an allowed client ID",
            role.key
        )));
    }
    if entity_id.is_empty() {
        return Err(Error::bad_request(
            "no entity associated with the request's token",
        ));
    }
    let Some(grant) = b.store.grant(&entity_id).await? else {
        return Err(Error::bad_request(
            "no entity associated with the request's token",
        ));
    };
    let now = now_unix();
    let mut claims = template::render(&role.template, Some(&grant), now)?;
    for (name, value) in [
        ("iss", json!(issuer(b, &req.storage).await?)),
        ("sub", json!(entity_id)),
        ("aud", json!(role.client_id)),
        ("iat", json!(now)),
        ("exp", json!(now + role.ttl)),
        ("namespace", json!(ROOT_NAMESPACE)),
    ] {
        claims.insert(name.to_string(), value);
    }
    let token = key.signing.sign(&claims)?;
    let data = json!({"client_id": role.client_id, "token": token, "ttl": role.ttl});
    Ok(Some(Response::data(
        data.as_object().cloned().unwrap_or_default(),
    )))
}

/// Why a token is not active, in Vault's words.
async fn inactive_reason(
    b: &IdentityBackend,
    req: &Request,
    token: &str,
    client_id: &str,
) -> Result<Option<String>> {
    let jws = match Jws::parse(token) {
        Ok(jws) => jws,
        Err(e) => return Ok(Some(format!("error parsing token: {e}"))),
    };
    let keys: Vec<PublicKey> = keys::all_public(&req.storage)
        .await?
        .iter()
        .filter(|jwk| {
            jws.kid.is_none() || jwk.get("kid").and_then(Value::as_str) == jws.kid.as_deref()
        })
        .filter_map(|jwk| {
            Some(PublicKey {
                kid: jwk.get("kid").and_then(Value::as_str).map(str::to_string),
                material: material_from_jwk(jwk)?,
            })
        })
        .collect();
    if !jws.verify_with(&keys) {
        return Ok(Some("unable to validate the token signature".into()));
    }
    let claim = |name: &str| jws.claims.get(name);
    let invalid = |what: &str| {
        Some(format!(
            "error validating claims: go-jose/go-jose/jwt: validation failed, {what}"
        ))
    };
    if claim("iss").and_then(Value::as_str) != Some(issuer(b, &req.storage).await?.as_str()) {
        return Ok(invalid("invalid issuer claim (iss)"));
    }
    if !client_id.is_empty() {
        let audiences = crate::auth::jose::audiences(&jws.claims).unwrap_or_default();
        if !audiences.iter().any(|a| a == client_id) {
            return Ok(invalid("invalid audience claim (aud)"));
        }
    }
    let now = now_unix();
    if claim("exp")
        .and_then(Value::as_i64)
        .is_some_and(|exp| now > exp)
    {
        return Ok(invalid("token is expired (exp)"));
    }
    if claim("iat")
        .and_then(Value::as_i64)
        .is_some_and(|iat| iat > now + 60)
    {
        return Ok(invalid("token issued in the future (iat)"));
    }
    let entity_id = claim("sub").and_then(Value::as_str).unwrap_or_default();
    match b.store.entity(entity_id).await? {
        None => Ok(Some("entity was not found".into())),
        Some(entity) if entity.disabled => Ok(Some("entity is disabled".into())),
        Some(_) => Ok(None),
    }
}

async fn introspect(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let token = req.data.str("token")?.unwrap_or_default();
    let client_id = req.data.str("client_id")?.unwrap_or_default();
    let body = match inactive_reason(b, req, &token, &client_id).await? {
        None => json!({"active": true}),
        Some(error) => json!({"active": false, "error": error}),
    };
    Ok(Some(json_body(&body)))
}

async fn discovery(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let issuer = issuer(b, &req.storage).await?;
    let doc = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/keys"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": super::signing::ALGORITHMS,
    });
    let mut response = json_body(&doc);
    if let Some(raw) = response.raw.as_mut() {
        // Vault lets relying parties cache the discovery document an hour.
        raw.cache_control = Some("max-age=3600".into());
    }
    Ok(Some(response))
}

async fn jwks(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.oidc_lock.lock().await;
    let published = keys::published(&req.storage).await?;
    // Only a JWKS with keys may be cached, until the next rotation.
    let max_age = match published.is_empty() {
        true => None,
        false => keys::seconds_to_next_rotation(&req.storage).await?,
    };
    let mut response = json_body(&Value::Object(keys::jwks_document(published)));
    if let (Some(raw), Some(age)) = (response.raw.as_mut(), max_age) {
        raw.cache_control = Some(format!("max-age={age}"));
    }
    Ok(Some(response))
}
