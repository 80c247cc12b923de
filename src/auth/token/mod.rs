//! The token auth method (`auth/token/`): create, look up, renew and revoke
//! tokens. Creation goes through the core like any login, so TTL caps and
//! the `auth` object are the same for every token.

use std::sync::{Arc, Weak};

use serde_json::Map;

use crate::core::policy::Capability;
use crate::core::token::{now_unix, TokenEntry};
use crate::core::Core;
use crate::logical::{Auth, Backend, Error, Operation, PathSpec, Request, Response, Result};

use Operation::{List, Read, Update};

const CREATE_FIELDS: &[&str] = &[
    "id",
    "policies",
    "meta",
    "no_parent",
    "no_default_policy",
    "renewable",
    "ttl",
    "type",
    "explicit_max_ttl",
    "display_name",
    "num_uses",
    "period",
    "entity_alias",
    "lease",
];

static PATHS: &[PathSpec] = &[
    PathSpec::new("create", &[Update]).fields(CREATE_FIELDS),
    PathSpec::new("create-orphan", &[Update]).fields(CREATE_FIELDS),
    PathSpec::new("lookup", &[Read, Update]).fields(&["token"]),
    PathSpec::new("lookup-self", &[Read, Update]).fields(&["token"]),
    PathSpec::new("lookup-accessor", &[Update]).fields(&["accessor"]),
    PathSpec::new("renew", &[Update]).fields(&["token", "increment"]),
    PathSpec::new("renew-self", &[Update]).fields(&["token", "increment"]),
    PathSpec::new("renew-accessor", &[Update]).fields(&["accessor", "increment"]),
    PathSpec::new("revoke", &[Update]).fields(&["token"]),
    PathSpec::new("revoke-self", &[Update]),
    PathSpec::new("revoke-accessor", &[Update]).fields(&["accessor"]),
    // Sudo is checked by the handler, as Vault's token store does.
    PathSpec::new("revoke-orphan", &[Update]).fields(&["token"]),
    PathSpec::new("accessors", &[List]).sudo(),
    PathSpec::new("tidy", &[Update]),
];

pub struct TokenBackend {
    core: Weak<Core>,
}

impl TokenBackend {
    pub fn new(core: Weak<Core>) -> Self {
        TokenBackend { core }
    }
}

#[async_trait::async_trait]
impl Backend for TokenBackend {
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    async fn handle(&self, req: &mut Request) -> Result<Option<Response>> {
        let core = self
            .core
            .upgrade()
            .ok_or_else(|| Error::internal("core is shutting down"))?;
        let caller = req.token.clone().ok_or(Error::AclDenied {
            invalid_token: true,
        })?;
        match req.route {
            "create" | "create-orphan" => create(&core, req, &caller).await,
            "lookup" | "lookup-self" | "lookup-accessor" => {
                let target = target(&core, req, &caller).await?;
                Ok(Some(Response::data(target.lookup_data(now_unix()))))
            }
            "renew" | "renew-self" | "renew-accessor" => {
                let target = target(&core, req, &caller).await?;
                let increment = req.data.duration_or("increment", 0)?;
                let (renewed, ttl, warnings) =
                    core.tokens.renew(&target, increment, req.ttls).await?;
                let mut renewed = renewed;
                renewed.id = if req.route == "renew-accessor" {
                    String::new()
                } else {
                    target.id.clone()
                };
                let mut response = Response {
                    renewed_auth: Some(renewed.auth_json(ttl)),
                    ..Default::default()
                };
                response.warnings = warnings;
                Ok(Some(response))
            }
            "revoke" | "revoke-self" | "revoke-accessor" => {
                let target = target(&core, req, &caller).await?;
                core.tokens.revoke_tree(&target).await?;
                Ok(None)
            }
            "revoke-orphan" => revoke_orphan(&core, req, &caller).await,
            "accessors" => {
                let mut data = Map::new();
                data.insert(
                    "keys".into(),
                    serde_json::json!(core.tokens.accessors().await?),
                );
                Ok(Some(Response::data(data)))
            }
            "tidy" => {
                let removed = core.tokens.tidy().await?;
                tracing::info!(removed, "token tidy finished");
                Ok(Some(Response {
                    status: Some(202),
                    ..Response::default().with_warning(
                        "Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs.",
                    )
                }))
            }
            _ => Err(Error::UnsupportedPath),
        }
    }
}

/// The token an operation is about: the caller's own (`*-self`), one named
/// by `token`, or one found by `accessor`.
async fn target(core: &Arc<Core>, req: &Request, caller: &TokenEntry) -> Result<TokenEntry> {
    if req.route.ends_with("-self") {
        return Ok(caller.clone());
    }
    if req.route.ends_with("-accessor") {
        let accessor = req.data.str("accessor")?.unwrap_or_default();
        if accessor.is_empty() {
            return Err(Error::bad_request("missing accessor"));
        }
        return core
            .tokens
            .lookup_accessor(&accessor)
            .await?
            .ok_or_else(|| Error::bad_request("1 error occurred:\n\t* invalid accessor\n\n"));
    }
    let token = req.data.str("token")?.unwrap_or_default();
    if token.is_empty() {
        // `lookup` with no token looks up the caller, as Vault does.
        if req.route == "lookup" {
            return Ok(caller.clone());
        }
        return Err(Error::bad_request("missing token"));
    }
    core.tokens
        .lookup(&token)
        .await?
        .ok_or_else(|| Error::Forbidden("bad token".into()))
}

/// `auth/token/revoke-orphan`: revokes a token and leaves its children as
/// orphans. Vault checks sudo in the handler, so a caller without it gets
/// a 400, not the ACL's 403.
async fn revoke_orphan(
    core: &Core,
    req: &Request,
    caller: &TokenEntry,
) -> Result<Option<Response>> {
    let token = req.data.str("token")?.unwrap_or_default();
    if token.is_empty() {
        return Err(Error::bad_request("missing token ID"));
    }
    let path = format!("{}{}", req.mount_point, req.path);
    let acl = core.policies.acl(&caller.policies).await?;
    if !acl.allow(&path, Capability::Update, req.data.raw()).sudo {
        return Err(Error::bad_request(
            "root or sudo privileges required to revoke and orphan",
        ));
    }
    let target = core
        .tokens
        .lookup(&token)
        .await?
        .ok_or_else(|| Error::bad_request("token to revoke not found"))?;
    core.tokens.revoke_orphan(&target).await?;
    Ok(None)
}

/// `auth/token/create[-orphan]`: validated here, minted by the core.
async fn create(core: &Core, req: &Request, parent: &TokenEntry) -> Result<Option<Response>> {
    let data = &req.data;
    let parent_is_root = parent.is_root();
    let id = data.str("id")?.filter(|id| !id.is_empty());
    if id.is_some() && !parent_is_root {
        return Err(Error::bad_request(
            "root or sudo privileges required to specify token id",
        ));
    }
    if id.as_deref().is_some_and(|id| id.contains('.')) {
        return Err(Error::bad_request("token IDs can not contain a '.'"));
    }
    let no_parent = data.bool_or("no_parent", false)?;
    if no_parent && !parent_is_root {
        return Err(Error::bad_request(
            "root or sudo privileges required to create orphan token",
        ));
    }
    let token_type = data.str_or("type", "service")?;
    match token_type.as_str() {
        "" | "service" => {}
        "batch" => {
            return Err(Error::bad_request(
                "batch tokens are not supported by vaultlet",
            ))
        }
        other => {
            return Err(Error::BadRequest(format!(
                "unsupported token type {other:?}"
            )))
        }
    }
    let no_default_policy = data.bool_or("no_default_policy", false)?;
    let policies = match data.comma_list("policies")? {
        Some(policies) => {
            let policies: Vec<String> = policies.iter().map(|p| p.to_lowercase()).collect();
            if !parent_is_root {
                let allowed = |p: &String| {
                    parent.policies.contains(p) || (p == "default" && !no_default_policy)
                };
                if !policies.iter().all(allowed) {
                    return Err(Error::bad_request(
                        "child policies must be subset of parent",
                    ));
                }
            }
            policies
        }
        None => parent
            .policies
            .iter()
            .filter(|p| !(no_default_policy && *p == "default"))
            .cloned()
            .collect(),
    };
    if policies.iter().any(|p| p == "root") && !parent_is_root {
        return Err(Error::bad_request(
            "root tokens may not be created without parent token being root",
        ));
    }
    let metadata = data
        .string_map("meta")?
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
        .collect();
    let num_uses = data.int_or("num_uses", 0)?;
    if num_uses < 0 {
        return Err(Error::bad_request("number of uses cannot be negative"));
    }
    let display_name = data.str_or("display_name", "")?;
    let auth = Auth {
        policies,
        metadata,
        display_name: sanitize_display_name(&display_name),
        ttl: data.duration_or("ttl", 0)?,
        explicit_max_ttl: data.duration_or("explicit_max_ttl", 0)?,
        period: data.duration_or("period", 0)?,
        num_uses,
        renewable: data.bool_or("renewable", true)?,
        no_default_policy,
        token_id: id,
        orphan: no_parent || req.route == "create-orphan",
        token_type: Some("service".into()),
        ..Default::default()
    };
    let mut response = Response::auth(auth.clone());
    if auth.token_id.is_some() {
        response.warnings.push(
            "Supplying a custom ID for the token uses the weaker SHA1 hashing instead of the more secure SHA2-256 HMAC for token obfuscation. SHA1 hashed tokens on the wire leads to less secure lookups."
                .into(),
        );
    }
    for policy in auth
        .policies
        .iter()
        .filter(|p| *p != "default" && *p != "root")
    {
        if !core.policies.exists(policy).await? {
            response
                .warnings
                .push(format!("Policy {policy:?} does not exist"));
        }
    }
    Ok(Some(response))
}

/// Vault keeps `[a-zA-Z0-9-]` of a display name and replaces the rest.
fn sanitize_display_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}
