//! The token auth method (`auth/token/`): create, look up, renew and revoke
//! tokens. Creation goes through the core like any login, so TTL caps and
//! the `auth` object are the same for every token.

use std::sync::{Arc, Weak};

use serde_json::Map;

use crate::core::token::{check_root_grant, now_unix, sanitize_policies, Creator, TokenEntry};
use crate::core::Core;
use crate::logical::{
    parse_signed_duration_seconds, Auth, Backend, Error, Operation, PathSpec, Request, Response,
    Result,
};

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
    PathSpec::new("accessors", &[List]),
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

    /// As Vault's token store: listing accessors and orphaning children.
    fn root_paths(&self) -> &'static [&'static str] {
        &["revoke-orphan/*", "accessors*"]
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
            "revoke-orphan" => revoke_orphan(&core, req).await,
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
async fn revoke_orphan(core: &Core, req: &Request) -> Result<Option<Response>> {
    let token = req.data.str("token")?.unwrap_or_default();
    if token.is_empty() {
        return Err(Error::bad_request("missing token ID"));
    }
    if !req.sudo_granted {
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

/// `auth/token/create[-orphan]`: validated here in the order of Vault's
/// `handleCreateCommon` (the first failing check names the error), minted
/// by the core. "sudo" is the caller's `sudo` on this path; root has it.
async fn create(core: &Core, req: &Request, parent: &TokenEntry) -> Result<Option<Response>> {
    let data = &req.data;
    let sudo = req.sudo_granted;
    if parent.num_uses != 0 {
        return Err(Error::bad_request(
            "restricted use token cannot generate child tokens",
        ));
    }
    match data.str_or("type", "")?.as_str() {
        "" | "service" => {}
        "batch" => {
            return Err(Error::bad_request(
                "batch tokens are not supported by vaultlet",
            ))
        }
        _ => return Err(Error::bad_request("invalid 'token_type' value")),
    }
    let num_uses = data.int_or("num_uses", 0)?;
    if num_uses < 0 {
        return Err(Error::bad_request("number of uses cannot be negative"));
    }
    if data.str("entity_alias")?.is_some_and(|a| !a.is_empty()) {
        return Err(Error::bad_request(
            "'entity_alias' is only allowed in combination with token role",
        ));
    }
    let id = data.str("id")?.filter(|id| !id.is_empty());
    if let Some(id) = &id {
        check_custom_id(id, sudo)?;
    }
    let no_default_policy = data.bool_or("no_default_policy", false)?;
    let policies = child_policies(
        data.comma_list("policies")?,
        parent,
        sudo,
        no_default_policy,
    )?;
    for policy in &policies {
        if NON_ASSIGNABLE_POLICIES.contains(&policy.as_str()) {
            return Err(Error::BadRequest(format!(
                "cannot assign policy {policy:?}"
            )));
        }
    }
    let no_parent = data.bool_or("no_parent", false)?;
    if no_parent && !sudo {
        return Err(Error::bad_request(
            "root or sudo privileges required to create orphan token",
        ));
    }
    let explicit_max_ttl = signed_duration(data, "explicit_max_ttl")?;
    if explicit_max_ttl < 0 {
        return Err(Error::bad_request("explicit_max_ttl must be positive"));
    }
    let period = signed_duration(data, "period")?;
    if period > 0 && !sudo {
        return Err(Error::bad_request(
            "root or sudo privileges required to create periodic token",
        ));
    }
    let ttl = match data.contains("ttl") {
        true => signed_duration(data, "ttl")?,
        // `lease` is the old name of `ttl`.
        false => signed_duration(data, "lease")?,
    };
    if ttl < 0 {
        return Err(Error::bad_request("ttl must be positive"));
    }
    let no_expiry = ttl == 0 && period == 0 && explicit_max_ttl == 0;
    check_root_grant(
        Creator::Parent(parent),
        &policies,
        if no_expiry { 0 } else { 1 },
    )?;
    let metadata = data
        .string_map("meta")?
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
        .collect();
    let display_name = data.str_or("display_name", "")?;
    let auth = Auth {
        policies,
        metadata,
        display_name: sanitize_display_name(&display_name),
        ttl,
        explicit_max_ttl,
        period,
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

/// Policies no token may be given (Vault's `nonAssignablePolicies`).
const NON_ASSIGNABLE_POLICIES: &[&str] = &["response-wrapping", "control-group"];

/// A caller-chosen token id: only with sudo, and never one that could be
/// mistaken for a generated token.
fn check_custom_id(id: &str, sudo: bool) -> Result<()> {
    if !sudo {
        return Err(Error::bad_request(
            "root or sudo privileges required to specify token id",
        ));
    }
    for prefix in ["hvs.", "s."] {
        if id.starts_with(prefix) {
            return Err(Error::BadRequest(format!(
                "custom token ID cannot have the '{prefix}' prefix"
            )));
        }
    }
    if id.contains('.') {
        return Err(Error::bad_request(
            "custom token ID cannot have a '.' in the value",
        ));
    }
    Ok(())
}

/// The new token's policies (Vault's rules without a token role): none asked
/// → the parent's; asked without sudo → a subset of the parent's (`default`
/// aside); with sudo → as asked. `default` is added unless refused.
fn child_policies(
    requested: Option<Vec<String>>,
    parent: &TokenEntry,
    sudo: bool,
    no_default_policy: bool,
) -> Result<Vec<String>> {
    let parent_has_default = parent.policies.iter().any(|p| p == "default");
    let Some(requested) = requested else {
        let inherited: Vec<String> = parent
            .policies
            .iter()
            .filter(|p| !(no_default_policy && *p == "default"))
            .cloned()
            .collect();
        return Ok(sanitize_policies(&inherited, false));
    };
    let requested = sanitize_policies(&requested, false);
    if !sudo {
        let held = |p: &String| p == "default" || parent.policies.contains(p);
        if !requested.iter().all(held) {
            return Err(Error::bad_request(
                "child policies must be subset of parent",
            ));
        }
        return Ok(sanitize_policies(
            &requested,
            parent_has_default && !no_default_policy,
        ));
    }
    Ok(sanitize_policies(&requested, !no_default_policy))
}

/// A token-creation duration: Vault reads it as a string and checks its
/// sign itself (a boolean reads as `1` or `0`, as Go's weak decoding does).
fn signed_duration(data: &crate::logical::FieldData, name: &str) -> Result<i64> {
    let text = match data.raw().get(name) {
        None | Some(serde_json::Value::Null) => return Ok(0),
        Some(serde_json::Value::Bool(b)) => if *b { "1" } else { "0" }.to_string(),
        Some(_) => data.str(name)?.unwrap_or_default(),
    };
    parse_signed_duration_seconds(&text).map_err(|e| Error::BadRequest(e.to_string()))
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
