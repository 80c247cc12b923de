//! The token auth method (`auth/token/`): create, look up, renew and revoke
//! tokens. Creation goes through the core like any login, so TTL caps and
//! the `auth` object are the same for every token.

mod roles;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};

use crate::core::token::{check_root_grant, sanitize_policies, Creator};
use crate::core::Core;
use crate::handler;
use crate::logical::framework::{Backend, Capture, Field, Path};
use crate::logical::TokenEntry;
use crate::logical::{
    parse_signed_duration_seconds, Auth, Error, FieldData, Request, Response, Result,
};
use crate::storage::StorageView;
use crate::util::gotime::now_unix;
use crate::util::multierror::multierror;
use roles::RoleEntry;

/// `auth/token/create` and `create-orphan` take Vault's token fields. The
/// durations are strings in Vault's token store, parsed by the handler
/// (sign kept, checked with its own words).
const CREATE_FIELDS: &[Field] = &[
    Field::string("id"),
    Field::list("policies"),
    Field::map("meta"),
    Field::bool("no_parent"),
    Field::bool("no_default_policy"),
    Field::bool("renewable"),
    Field::string("ttl"),
    Field::string("type"),
    Field::string("explicit_max_ttl"),
    Field::string("display_name"),
    Field::int("num_uses"),
    Field::string("period"),
    Field::string("entity_alias"),
    Field::string("lease"),
];
const TOKEN: &[Field] = &[Field::string("token")];
const ACCESSOR: &[Field] = &[Field::string("accessor")];
const INCREMENT: &[Field] = &[Field::duration("increment")];

#[async_trait::async_trait]
impl Backend for TokenBackend {
    const PATHS: &'static [&'static [Path<Self>]] = &[
        roles::PATHS,
        &[
            Path::new("create")
                .fields(&[CREATE_FIELDS])
                .update(handler!(b, r => create(b, r, Orphan::IfAsked, None))),
            Path::new("create-orphan")
                .fields(&[CREATE_FIELDS])
                .update(handler!(b, r => create(b, r, Orphan::Always, None))),
            Path::new("create/:role_name")
                .captures(&[("role_name", Capture::Name)])
                .fields(&[CREATE_FIELDS])
                .update(handler!(create_against_role)),
            Path::new("lookup")
                .fields(&[TOKEN])
                .read(handler!(b, r => lookup(b, r, Target::NamedOrCaller)))
                .update(handler!(b, r => lookup(b, r, Target::NamedOrCaller))),
            Path::new("lookup-self")
                .fields(&[TOKEN])
                .read(handler!(b, r => lookup(b, r, Target::Caller)))
                .update(handler!(b, r => lookup(b, r, Target::Caller))),
            Path::new("lookup-accessor")
                .fields(&[ACCESSOR])
                .update(handler!(b, r => lookup(b, r, Target::Accessor))),
            Path::new("renew")
                .fields(&[TOKEN, INCREMENT])
                .update(handler!(b, r => renew(b, r, Target::Named))),
            Path::new("renew-self")
                .fields(&[TOKEN, INCREMENT])
                .update(handler!(b, r => renew(b, r, Target::Caller))),
            Path::new("renew-accessor")
                .fields(&[ACCESSOR, INCREMENT])
                .update(handler!(b, r => renew(b, r, Target::Accessor))),
            Path::new("revoke")
                .fields(&[TOKEN])
                .update(handler!(b, r => revoke(b, r, Target::Named))),
            Path::new("revoke-self").update(handler!(b, r => revoke(b, r, Target::Caller))),
            Path::new("revoke-accessor")
                .fields(&[ACCESSOR])
                .update(handler!(b, r => revoke(b, r, Target::Accessor))),
            // Sudo is checked by the handler, as Vault's token store does.
            Path::new("revoke-orphan")
                .fields(&[TOKEN])
                .update(handler!(revoke_orphan)),
            Path::new("accessors").list(handler!(accessors)),
            Path::new("tidy").update(handler!(tidy)),
        ],
    ];

    /// As Vault's token store: listing accessors and orphaning children.
    const ROOT_PATHS: &'static [&'static str] = &["revoke-orphan/*", "accessors*"];

    /// Expired tokens are removed when next presented; this sweeps, every
    /// ten minutes, the ones never presented again (cert-manager logs in
    /// for every request).
    async fn periodic(&self, _storage: &StorageView) -> Result<()> {
        let now = now_unix();
        let last = self.last_tidy.load(Ordering::Relaxed);
        if now - last < TIDY_EVERY_SECONDS {
            return Ok(());
        }
        self.last_tidy.store(now, Ordering::Relaxed);
        let removed = self.core()?.tokens.tidy().await?;
        tracing::debug!(removed, "token tidy finished");
        Ok(())
    }
}

/// How often the periodic sweep of expired tokens runs.
const TIDY_EVERY_SECONDS: i64 = 600;

pub struct TokenBackend {
    core: Weak<Core>,
    /// When the periodic sweep last ran (unix seconds; the first waits a
    /// full period after start).
    last_tidy: AtomicI64,
}

impl TokenBackend {
    pub fn new(core: Weak<Core>) -> Self {
        TokenBackend {
            core,
            last_tidy: AtomicI64::new(now_unix()),
        }
    }

    fn core(&self) -> Result<Arc<Core>> {
        self.core
            .upgrade()
            .ok_or_else(|| Error::internal("core is shutting down"))
    }
}

/// Every path here needs a token; the core has looked it up.
fn caller(req: &Request) -> Result<TokenEntry> {
    req.token.clone().ok_or(Error::AclDenied {
        invalid_token: true,
    })
}

/// Which token an operation is about.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The caller's own (`*-self`).
    Caller,
    /// One named by `token`.
    Named,
    /// One named by `token`, else the caller (`lookup`, as Vault's).
    NamedOrCaller,
    /// One found by `accessor`.
    Accessor,
}

async fn target(core: &Core, req: &Request, which: Target) -> Result<TokenEntry> {
    let caller = caller(req)?;
    match which {
        Target::Caller => Ok(caller),
        Target::Accessor => {
            let accessor = req.data.str("accessor")?.unwrap_or_default();
            if accessor.is_empty() {
                return Err(Error::bad_request("missing accessor"));
            }
            core.tokens
                .lookup_accessor(&accessor)
                .await?
                .ok_or_else(|| Error::BadRequest(multierror(&["invalid accessor"])))
        }
        Target::Named | Target::NamedOrCaller => {
            let token = req.data.str("token")?.unwrap_or_default();
            if token.is_empty() {
                if which == Target::NamedOrCaller {
                    return Ok(caller);
                }
                return Err(Error::bad_request("missing token"));
            }
            core.tokens
                .lookup(&token)
                .await?
                .ok_or_else(|| Error::Forbidden("bad token".into()))
        }
    }
}

async fn lookup(b: &TokenBackend, req: &mut Request, which: Target) -> Result<Option<Response>> {
    let core = b.core()?;
    let target = target(&core, req, which).await?;
    let mut data = target.lookup_data(now_unix());
    // The entity's policies, as they stand now, beside the token's own.
    let identity_policies = core.identity_policies(&target).await?;
    if !identity_policies.is_empty() {
        data.insert(
            "identity_policies".into(),
            serde_json::json!(identity_policies),
        );
        data.insert("external_namespace_policies".into(), serde_json::json!({}));
    }
    Ok(Some(Response::data(data)))
}

async fn renew(b: &TokenBackend, req: &mut Request, which: Target) -> Result<Option<Response>> {
    let core = b.core()?;
    let target = target(&core, req, which).await?;
    let increment = req.data.duration_or("increment", 0)?;
    let (mut renewed, ttl, warnings) = core.tokens.renew(&target, increment, req.ttls).await?;
    // Renewing by accessor does not reveal the token.
    renewed.id = if which == Target::Accessor {
        String::new()
    } else {
        target.id.clone()
    };
    Ok(Some(Response {
        renewed_auth: Some(renewed.auth_json(ttl)),
        warnings,
        ..Default::default()
    }))
}

async fn revoke(b: &TokenBackend, req: &mut Request, which: Target) -> Result<Option<Response>> {
    let core = b.core()?;
    let target = target(&core, req, which).await?;
    core.tokens.revoke_tree(&target).await?;
    Ok(None)
}

async fn accessors(b: &TokenBackend, _req: &mut Request) -> Result<Option<Response>> {
    let keys = b.core()?.tokens.accessors().await?;
    Ok(Some(Response::list(keys)))
}

async fn tidy(b: &TokenBackend, _req: &mut Request) -> Result<Option<Response>> {
    let removed = b.core()?.tokens.tidy().await?;
    tracing::info!(removed, "token tidy finished");
    Ok(Some(Response {
        status: Some(202),
        ..Response::default().with_warning(
            "Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs.",
        )
    }))
}

/// `auth/token/revoke-orphan`: revokes a token and leaves its children as
/// orphans. Vault checks sudo in the handler, so a caller without it gets
/// a 400, not the ACL's 403.
async fn revoke_orphan(b: &TokenBackend, req: &mut Request) -> Result<Option<Response>> {
    let core = b.core()?;
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

/// `auth/token/create/:role_name`: creation under a token role.
async fn create_against_role(b: &TokenBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("role_name")?.to_string();
    let Some(role) = roles::load_role(req, &name).await? else {
        return Err(Error::BadRequest(format!("unknown role {name}")));
    };
    create(b, req, Orphan::IfAsked, Some(role)).await
}

/// `auth/token/create[-orphan|/:role_name]`: validated here in the order of
/// Vault's `handleCreateCommon` (the first failing check names the error),
/// minted by the core. "sudo" is the caller's `sudo` on this path; root has
/// it. A role may grant policies the caller lacks (its allowed set bounds
/// them instead), but never `root` to a non-root caller: the token store's
/// root rule holds whatever the role says.
async fn create(
    b: &TokenBackend,
    req: &mut Request,
    orphan: Orphan,
    role: Option<RoleEntry>,
) -> Result<Option<Response>> {
    let core = b.core()?;
    let parent = &caller(req)?;
    let data = &req.data;
    let sudo = req.sudo_granted;
    if parent.num_uses != 0 {
        return Err(Error::bad_request(
            "restricted use token cannot generate child tokens",
        ));
    }
    let asked_type = data.str_or("type", "")?;
    let token_type = match &role {
        Some(role) => role.token_type.resolve(&asked_type),
        None => asked_type,
    };
    match token_type.as_str() {
        "" | "service" => {}
        "batch" => {
            return Err(Error::bad_request(
                "batch tokens are not supported by vaultlet",
            ))
        }
        _ => return Err(Error::bad_request("invalid 'token_type' value")),
    }
    let mut num_uses = data.int_or("num_uses", 0)?;
    if num_uses < 0 {
        return Err(Error::bad_request("number of uses cannot be negative"));
    }
    let entity_alias = data.str("entity_alias")?.filter(|a| !a.is_empty());
    if let Some(alias) = &entity_alias {
        match &role {
            None => {
                return Err(Error::bad_request(
                    "'entity_alias' is only allowed in combination with token role",
                ))
            }
            Some(role) if !role.allows_entity_alias(alias) => {
                return Err(Error::bad_request("invalid 'entity_alias' value"))
            }
            Some(_) => {}
        }
    }
    let mut renewable = data.bool_or("renewable", true)?;
    let mut creation_path = None;
    if let Some(role) = &role {
        renewable &= role.renewable;
        // 0 is unlimited, so any limit of the role's is lower.
        if role.token_num_uses > 0 && (num_uses == 0 || role.token_num_uses < num_uses) {
            num_uses = role.token_num_uses;
        }
        let mut path = format!("{}{}", req.mount_point, req.path);
        if !role.path_suffix.is_empty() {
            path = format!("{path}/{}", role.path_suffix);
        }
        creation_path = Some(path);
    }
    let id = data.str("id")?.filter(|id| !id.is_empty());
    if let Some(id) = &id {
        check_custom_id(id, sudo)?;
    }
    let no_default_policy = data.bool_or("no_default_policy", false)?;
    let requested = data.comma_list("policies")?;
    let mut policies = match &role {
        Some(role) if role.restricts_policies() => {
            role.policies(requested, &parent.policies, no_default_policy)?
        }
        _ => child_policies(requested, parent, sudo, no_default_policy)?,
    };
    if no_default_policy {
        policies.retain(|p| p != "default");
    }
    for policy in &policies {
        if NON_ASSIGNABLE_POLICIES.contains(&policy.as_str()) {
            return Err(Error::BadRequest(format!(
                "cannot assign policy {policy:?}"
            )));
        }
    }
    let no_parent = data.bool_or("no_parent", false)?;
    let orphan = match &role {
        Some(role) => role.orphan,
        None if no_parent && !sudo => {
            return Err(Error::bad_request(
                "root or sudo privileges required to create orphan token",
            ))
        }
        None => no_parent || orphan == Orphan::Always,
    };
    let mut warnings = Vec::new();
    let mut explicit_max_ttl = token_duration(data, "explicit_max_ttl")?.unwrap_or(0);
    if explicit_max_ttl < 0 {
        return Err(Error::bad_request("explicit_max_ttl must be positive"));
    }
    let mut period = token_duration(data, "period")?.unwrap_or(0);
    if period < 0 {
        return Err(Error::bad_request("period must be positive"));
    }
    if period > 0 && !sudo {
        return Err(Error::bad_request(
            "root or sudo privileges required to create periodic token",
        ));
    }
    // `lease` is the old name of `ttl`.
    let ttl = match token_duration(data, "ttl")? {
        Some(ttl) => ttl,
        None => token_duration(data, "lease")?.unwrap_or(0),
    };
    if ttl < 0 {
        return Err(Error::bad_request("ttl must be positive"));
    }
    if let Some(role) = &role {
        explicit_max_ttl = lesser_of(
            explicit_max_ttl,
            role.token_explicit_max_ttl,
            "Explicit max TTL",
            &mut warnings,
        );
        period = lesser_of(period, role.token_period, "Period", &mut warnings);
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
        renewable,
        // The token's policies are settled here, `default` included or not.
        no_default_policy: true,
        token_id: id,
        orphan,
        token_type: Some("service".into()),
        bound_cidrs: role
            .as_ref()
            .map(|r| r.token_bound_cidrs.clone())
            .unwrap_or_default(),
        // Identity matches alias names case-insensitively.
        alias_name: entity_alias.map(|a| a.to_lowercase()),
        token_role: role.as_ref().map(|r| r.name.clone()),
        creation_path,
        ..Default::default()
    };
    let mut response = Response::auth(auth.clone());
    response.warnings = warnings;
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

/// A duration given both in the request and by the role: the lesser wins,
/// with Vault's warning; one given alone is used.
fn lesser_of(asked: i64, role: i64, what: &str, warnings: &mut Vec<String>) -> i64 {
    if role == 0 {
        return asked;
    }
    if asked == 0 {
        return role;
    }
    let lesser = asked.min(role);
    warnings.push(format!(
        "{what} specified both during creation call and in role; using the lesser value of {lesser} seconds"
    ));
    lesser
}

/// A duration of token creation: Vault decodes it into a string (a boolean
/// reads as `1` or `0`) and parses it with `parseutil.ParseDurationSecond`,
/// whose error is the answer.
fn token_duration(data: &FieldData, name: &str) -> Result<Option<i64>> {
    let text = match data.raw().get(name) {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::Bool(b)) => if *b { "1" } else { "0" }.to_string(),
        Some(_) => data.str(name)?.unwrap_or_default(),
    };
    parse_signed_duration_seconds(&text)
        .map(Some)
        .map_err(|e| Error::BadRequest(e.to_string()))
}

/// Whether `create` makes an orphan.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Orphan {
    /// `create-orphan`: always (no sudo needed).
    Always,
    /// `create`: only with `no_parent`, which needs sudo.
    IfAsked,
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
