//! A mount's settings: `sys/mounts/<path>/tune` and `sys/auth/<path>/tune`
//! read and change them one by one, and enabling a mount takes them in its
//! `config` map.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::mounts::find;
use crate::core::mounts::{normalize_mount_path, MountClass, MountEntry};
use crate::core::Core;
use crate::logical::framework::Field;
use crate::logical::{parse_duration_seconds, Error, FieldData, Response, Result};

/// What `tune` takes. The lease TTLs are read here: `""` keeps the value,
/// `"system"` returns to the system's, anything else is a duration.
pub(super) const FIELDS: &[Field] = &[
    Field::raw("default_lease_ttl"),
    Field::raw("max_lease_ttl"),
    Field::string("description"),
    Field::list("audit_non_hmac_request_keys"),
    Field::list("audit_non_hmac_response_keys"),
    Field::map("options"),
    Field::string("listing_visibility"),
    Field::list("passthrough_request_headers"),
    Field::list("allowed_response_headers"),
    Field::string("token_type"),
    Field::raw("user_lockout_config"),
];

/// Mount paths whose configuration cannot be tuned (Vault's
/// `untunableMounts`).
const UNTUNABLE: &[&str] = &["cubbyhole/", "sys/", "audit/", "identity/"];

/// Where settings come from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Settings {
    /// An enable's `config` map (which may also set `force_no_cache`).
    Enable,
    /// A tune's own fields.
    Tune,
}

/// The `options` map, as strings.
pub(super) fn options(data: &FieldData) -> Result<Option<BTreeMap<String, String>>> {
    Ok(data.string_map("options")?.map(|map| {
        map.into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
            .collect()
    }))
}

/// A lease TTL setting: `""` → keep, `"system"` → 0, else a duration (a
/// number is seconds, converted as any duration field is).
fn ttl_setting(data: &FieldData, name: &str) -> Result<Option<i64>> {
    match data.raw().get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s == "system" => Ok(Some(0)),
        Some(Value::String(s)) => parse_duration_seconds(s)
            .map(Some)
            .map_err(|e| Error::BadRequest(format!("unable to parse {name}: {e}"))),
        Some(other) => {
            FieldData::new(Map::from_iter([(name.to_string(), other.clone())])).duration(name)
        }
    }
}

/// Applies mount settings to `entry` (enable and tune).
pub(super) fn apply_config(
    entry: &mut MountEntry,
    config: &FieldData,
    from: Settings,
) -> Result<()> {
    apply_user_lockout(entry, config)?;
    if let Some(ttl) = ttl_setting(config, "default_lease_ttl")? {
        entry.config.default_lease_ttl = ttl;
    }
    if let Some(ttl) = ttl_setting(config, "max_lease_ttl")? {
        entry.config.max_lease_ttl = ttl;
    }
    if from == Settings::Enable {
        if let Some(v) = config.bool("force_no_cache")? {
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

pub(super) fn check_ttl_order(entry: &MountEntry) -> Result<()> {
    let (default, max) = (entry.config.default_lease_ttl, entry.config.max_lease_ttl);
    if default > 0 && max > 0 && max < default {
        return Err(Error::BadRequest(format!(
            "backend max lease TTL of {max} would be less than backend default lease TTL of {default}"
        )));
    }
    Ok(())
}

/// `GET …/tune`: the effective TTLs and the settings that are set.
pub(super) fn read(core: &Core, class: MountClass, path: &str) -> Result<Option<Response>> {
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

/// `POST …/tune`. A mount whose options change is rebuilt from them, as
/// Vault reloads it (a KV mount tuned from version 1 to 2 so upgrades its
/// data, as the version 2 backend starts).
pub(super) async fn write(
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
    apply_config(&mut entry, data, Settings::Tune)?;
    if let Some(description) = data.str("description")? {
        entry.description = description;
    }
    let mut kv_upgrade = None;
    let previous_options = entry.options.clone();
    if let Some(options) = options(data)? {
        if class == MountClass::Secret && entry.backend_type == "kv" {
            kv_upgrade = crate::secrets::kv::check_version_tune(
                entry.options.as_ref(),
                options.get("version").map(String::as_str),
            )?;
        }
        entry
            .options
            .get_or_insert_with(BTreeMap::new)
            .extend(options);
    }
    let options_changed = entry.options != previous_options;
    check_ttl_order(&entry)?;
    core.mounts
        .update_entry(class, path, |stored| *stored = entry)
        .await?;
    if options_changed {
        core.rebuild_mount(class, path).await?;
    }
    Ok(kv_upgrade.map(|warning| Response::default().with_warning(warning)))
}
