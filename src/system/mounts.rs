//! `sys/mounts`, `sys/auth` and their `tune` sub-paths, and the UI mount
//! lookups.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::core::mounts::{normalize_mount_path, MountClass, MountEntry};
use crate::core::Core;
use crate::logical::{
    parse_duration_seconds, Error, FieldData, Operation, Request, Response, Result,
};

/// Mount paths that cannot be mounted over.
const PROTECTED: &[&str] = &["audit/", "auth/", "sys/", "cubbyhole/", "identity/"];

/// Mount paths whose configuration cannot be tuned (Vault's
/// `untunableMounts`).
const UNTUNABLE: &[&str] = &["cubbyhole/", "sys/", "audit/", "identity/"];

pub async fn handle(core: &Core, req: &mut Request) -> Result<Option<Response>> {
    let class = if req.route.starts_with("auth") {
        MountClass::Auth
    } else {
        MountClass::Secret
    };
    let Some(path) = req.params.get("path").cloned() else {
        return Ok(Some(list(core, class)));
    };
    if let Some(mount) = path.strip_suffix("/tune") {
        // `vault auth tune` tunes through `sys/mounts/auth/<path>/tune`.
        let (class, mount) = match mount.strip_prefix("auth/") {
            Some(auth_path) if class == MountClass::Secret => (MountClass::Auth, auth_path),
            _ => (class, mount),
        };
        return match req.operation {
            Operation::Read => read_tune(core, class, mount),
            Operation::Create | Operation::Update => tune(core, class, mount, &req.data).await,
            _ => Err(Error::UnsupportedOperation),
        };
    }
    match req.operation {
        Operation::Read => read_one(core, class, &path),
        Operation::Create | Operation::Update => enable(core, class, &path, &req.data).await,
        Operation::Delete => {
            if class == MountClass::Secret && is_builtin_secret(&path) {
                return Err(Error::BadRequest(format!(
                    "cannot unmount {:?}",
                    normalize_mount_path(&path)
                )));
            }
            if class == MountClass::Auth && normalize_mount_path(&path) == "token/" {
                return Err(Error::bad_request(
                    "token credential backend cannot be disabled",
                ));
            }
            core.unmount(class, &path).await?;
            Ok(None)
        }
        _ => Err(Error::UnsupportedOperation),
    }
}

fn is_builtin_secret(path: &str) -> bool {
    matches!(
        normalize_mount_path(path).as_str(),
        "sys/" | "cubbyhole/" | "identity/"
    )
}

fn list(core: &Core, class: MountClass) -> Response {
    let data: Map<String, Value> = core
        .mounts
        .entries(class)
        .iter()
        .map(|e| (e.path.clone(), e.to_json()))
        .collect();
    Response::data(data)
}

fn find(core: &Core, class: MountClass, path: &str) -> Result<MountEntry> {
    core.mounts
        .find(class, path)
        .map(|m| m.entry)
        .ok_or_else(|| {
            Error::BadRequest(format!(
                "No {} at {}",
                kind_name(class),
                normalize_mount_path(path)
            ))
        })
}

fn kind_name(class: MountClass) -> &'static str {
    match class {
        MountClass::Secret => "secret engine mount",
        MountClass::Auth => "auth mount",
    }
}

fn read_one(core: &Core, class: MountClass, path: &str) -> Result<Option<Response>> {
    let entry = find(core, class, path)?;
    Ok(Some(Response::data(
        entry.to_json().as_object().cloned().unwrap_or_default(),
    )))
}

/// `POST sys/mounts/:path` and `POST sys/auth/:path`.
async fn enable(
    core: &Core,
    class: MountClass,
    path: &str,
    data: &FieldData,
) -> Result<Option<Response>> {
    let mount_path = normalize_mount_path(path);
    if mount_path == "/" {
        return Err(Error::bad_request("backend path must be specified"));
    }
    let backend_type = data.str("type")?.unwrap_or_default();
    if backend_type.is_empty() {
        return Err(Error::bad_request(
            "backend type must be specified as a string",
        ));
    }
    if class == MountClass::Secret && PROTECTED.iter().any(|p| mount_path.starts_with(p)) {
        return Err(Error::BadRequest(format!("cannot mount {mount_path:?}")));
    }
    if class == MountClass::Auth && mount_path == "token/" {
        return Err(Error::bad_request(
            "token credential backend cannot be instantiated",
        ));
    }
    let description = data.str("description")?.unwrap_or_default();
    let mut entry = MountEntry::new(class, &mount_path, &backend_type, &description);
    if let Some(config) = config_object(data)? {
        apply_config(&mut entry, &config, false)?;
    }
    entry.options = options(data)?;
    entry.local = data.bool_or("local", false)?;
    entry.seal_wrap = data.bool_or("seal_wrap", false)?;
    entry.external_entropy_access = data.bool_or("external_entropy_access", false)?;
    entry.plugin_version = data.str("plugin_version")?.unwrap_or_default();
    check_ttl_order(&entry)?;
    core.mount(entry).await?;
    Ok(None)
}

fn config_object(data: &FieldData) -> Result<Option<FieldData>> {
    match data.raw().get("config") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(FieldData::new(map.clone()))),
        Some(_) => Err(Error::bad_request(
            "Field validation failed: error converting input for field \"config\": expected a map",
        )),
    }
}

fn options(data: &FieldData) -> Result<Option<BTreeMap<String, String>>> {
    Ok(data.string_map("options")?.map(|map| {
        map.into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
            .collect()
    }))
}

/// A TTL as tune and mount accept it: `""` → keep, `"system"` → 0.
fn tune_ttl(data: &FieldData, name: &str) -> Result<Option<i64>> {
    match data.raw().get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s == "system" => Ok(Some(0)),
        Some(Value::String(s)) => parse_duration_seconds(s)
            .map(Some)
            .map_err(|e| Error::BadRequest(format!("unable to parse {name}: {e}"))),
        Some(_) => data.duration(name),
    }
}

/// Applies mount config fields (shared by enable and tune).
fn apply_config(entry: &mut MountEntry, config: &FieldData, tuning: bool) -> Result<()> {
    apply_user_lockout(entry, config)?;
    if let Some(ttl) = tune_ttl(config, "default_lease_ttl")? {
        entry.config.default_lease_ttl = ttl;
    }
    if let Some(ttl) = tune_ttl(config, "max_lease_ttl")? {
        entry.config.max_lease_ttl = ttl;
    }
    if let Some(v) = config.bool("force_no_cache")? {
        if !tuning {
            entry.config.force_no_cache = v;
        }
    }
    if let Some(v) = config.str("listing_visibility")? {
        if !matches!(v.as_str(), "" | "hidden" | "unauth") {
            return Err(Error::bad_request("invalid listing_visibility"));
        }
        entry.config.listing_visibility = v;
    }
    for (name, target) in [
        (
            "passthrough_request_headers",
            &mut entry.config.passthrough_request_headers,
        ),
        (
            "allowed_response_headers",
            &mut entry.config.allowed_response_headers,
        ),
        (
            "audit_non_hmac_request_keys",
            &mut entry.config.audit_non_hmac_request_keys,
        ),
        (
            "audit_non_hmac_response_keys",
            &mut entry.config.audit_non_hmac_response_keys,
        ),
    ] {
        if let Some(list) = config.comma_list(name)? {
            *target = list;
        }
    }
    if let Some(token_type) = config.str("token_type")? {
        if entry.class != MountClass::Auth {
            return Err(Error::bad_request(
                "'token_type' can only be modified on auth mounts",
            ));
        }
        if !matches!(
            token_type.as_str(),
            "default-service" | "default-batch" | "service" | "batch"
        ) {
            return Err(Error::BadRequest(format!(
                "invalid value for 'token_type': {token_type:?}"
            )));
        }
        entry.config.token_type = token_type;
    }
    Ok(())
}

/// `user_lockout_config { lockout_threshold, lockout_duration,
/// lockout_counter_reset, lockout_disable }` on auth mounts.
fn apply_user_lockout(entry: &mut MountEntry, config: &FieldData) -> Result<()> {
    let lockout = match config.raw().get("user_lockout_config") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(map)) => FieldData::new(map.clone()),
        Some(_) => return Err(Error::bad_request("user_lockout_config must be an object")),
    };
    if entry.class != MountClass::Auth {
        return Err(Error::bad_request(
            "user lockout config is only supported for auth mounts",
        ));
    }
    let target = &mut entry.config.user_lockout;
    if let Some(threshold) = lockout.int("lockout_threshold")? {
        target.threshold = u32::try_from(threshold)
            .ok()
            .filter(|t| *t > 0)
            .ok_or_else(|| Error::bad_request("lockout_threshold must be a positive integer"))?;
    }
    if let Some(duration) = lockout.duration("lockout_duration")? {
        target.duration = duration;
    }
    if let Some(reset) = lockout.duration("lockout_counter_reset")? {
        target.counter_reset = reset;
    }
    if let Some(disabled) = lockout.bool("lockout_disable")? {
        target.disabled = disabled;
    }
    Ok(())
}

fn check_ttl_order(entry: &MountEntry) -> Result<()> {
    let (default, max) = (entry.config.default_lease_ttl, entry.config.max_lease_ttl);
    if default > 0 && max > 0 && max < default {
        return Err(Error::BadRequest(format!(
            "backend max lease TTL of {max} would be less than backend default lease TTL of {default}"
        )));
    }
    Ok(())
}

fn read_tune(core: &Core, class: MountClass, path: &str) -> Result<Option<Response>> {
    let entry = find(core, class, path)?;
    let ttls = entry.ttls(core.system_ttls);
    let mut data = Map::new();
    data.insert("description".into(), json!(entry.description));
    data.insert("default_lease_ttl".into(), json!(ttls.default_ttl));
    data.insert("max_lease_ttl".into(), json!(ttls.max_ttl));
    data.insert("force_no_cache".into(), json!(entry.config.force_no_cache));
    if let Some(options) = &entry.options {
        data.insert("options".into(), json!(options));
    }
    if !entry.config.listing_visibility.is_empty() {
        data.insert(
            "listing_visibility".into(),
            json!(entry.config.listing_visibility),
        );
    }
    for (key, list) in [
        (
            "passthrough_request_headers",
            &entry.config.passthrough_request_headers,
        ),
        (
            "allowed_response_headers",
            &entry.config.allowed_response_headers,
        ),
        (
            "audit_non_hmac_request_keys",
            &entry.config.audit_non_hmac_request_keys,
        ),
        (
            "audit_non_hmac_response_keys",
            &entry.config.audit_non_hmac_response_keys,
        ),
    ] {
        if !list.is_empty() {
            data.insert(key.into(), json!(list));
        }
    }
    if class == MountClass::Auth {
        let token_type = if entry.config.token_type.is_empty() {
            "default-service"
        } else {
            entry.config.token_type.as_str()
        };
        data.insert("token_type".into(), json!(token_type));
        let lockout = entry.config.user_lockout;
        data.insert("user_lockout_threshold".into(), json!(lockout.threshold));
        data.insert("user_lockout_duration".into(), json!(lockout.duration));
        data.insert(
            "user_lockout_counter_reset_duration".into(),
            json!(lockout.counter_reset),
        );
        data.insert("user_lockout_disable".into(), json!(lockout.disabled));
    }
    Ok(Some(Response::data(data)))
}

async fn tune(
    core: &Core,
    class: MountClass,
    path: &str,
    data: &FieldData,
) -> Result<Option<Response>> {
    let route = match class {
        MountClass::Secret => normalize_mount_path(path),
        MountClass::Auth => format!("auth/{}", normalize_mount_path(path)),
    };
    if UNTUNABLE.iter().any(|p| route.starts_with(p)) {
        return Err(Error::BadRequest(format!("cannot tune {route:?}")));
    }
    let mut entry = find(core, class, path)?;
    // Validate on a copy first, so a bad value changes nothing.
    apply_config(&mut entry, data, true)?;
    if let Some(description) = data.str("description")? {
        entry.description = description;
    }
    let mut kv_upgrade = None;
    if let Some(options) = options(data)? {
        if class == MountClass::Secret && entry.backend_type == "kv" {
            kv_upgrade = crate::secrets::kv::check_version_tune(
                entry.options.as_ref(),
                options.get("version").map(String::as_str),
            )?;
        }
        let merged = entry.options.get_or_insert_with(BTreeMap::new);
        merged.extend(options);
    }
    check_ttl_order(&entry)?;
    core.mounts
        .update_entry(class, path, |stored| *stored = entry)
        .await?;
    // KV version 1 → 2: rewrite the data and serve it versioned, as Vault.
    if let Some(warning) = kv_upgrade {
        core.upgrade_kv_mount(path).await?;
        return Ok(Some(Response::default().with_warning(warning)));
    }
    Ok(None)
}

/// `sys/internal/ui/mounts[/path]`: the mounts a client may see, and the
/// one mount serving a path (used by `vault kv` to detect the KV version).
pub async fn ui_mounts(core: &Core, req: &mut Request) -> Result<Option<Response>> {
    let token = req.token.clone();
    let acl = match &token {
        Some(token) => Some(core.policies.acl(&token.policies).await?),
        None => None,
    };
    let Some(path) = req.params.get("path").cloned() else {
        let mut secret = Map::new();
        let mut auth = Map::new();
        for mounted in core.mounts.snapshot().iter() {
            let visible = mounted.entry.config.listing_visibility == "unauth"
                || acl
                    .as_ref()
                    .is_some_and(|acl| acl.has_any_under(&mounted.prefix));
            if !visible {
                continue;
            }
            let target = if mounted.entry.class == MountClass::Auth {
                &mut auth
            } else {
                &mut secret
            };
            target.insert(mounted.entry.path.clone(), mounted.entry.to_json());
        }
        let mut data = Map::new();
        data.insert("auth".into(), Value::Object(auth));
        data.insert("secret".into(), Value::Object(secret));
        return Ok(Some(Response::data(data)));
    };
    let denied = || {
        Error::Forbidden(format!(
            "preflight capability check returned 403, please ensure client's policies grant access to path \"{path}/\""
        ))
    };
    let acl = acl.ok_or_else(denied)?;
    let (mounted, _) = core
        .mounts
        .route(path.trim_start_matches('/'))
        .ok_or_else(denied)?;
    if !acl.has_any_under(&mounted.prefix) {
        return Err(denied());
    }
    let mut data = mounted
        .entry
        .to_json()
        .as_object()
        .cloned()
        .unwrap_or_default();
    data.insert("path".into(), json!(mounted.prefix));
    Ok(Some(Response::data(data)))
}
