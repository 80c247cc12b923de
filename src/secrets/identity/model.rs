//! What the identity store keeps: entities (with their aliases embedded, as
//! Vault stores them) and groups, and how a read renders each.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::util::gotime::rfc3339_nano;

/// Vault's namespace id of the root namespace (the only one vaultlet has).
pub const ROOT_NAMESPACE: &str = "root";

/// An auth mount as an alias names it (`mount_path`, `mount_type`).
#[derive(Debug, Clone, Default)]
pub struct AuthMount {
    pub accessor: String,
    /// The routing path (`auth/userpass/`).
    pub path: String,
    pub mount_type: String,
}

/// One identity of an entity on one auth mount.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Alias {
    pub id: String,
    pub canonical_id: String,
    pub mount_accessor: String,
    pub name: String,
    /// Set by the auth method at login (Vault's alias metadata).
    pub metadata: BTreeMap<String, String>,
    /// Set by operators through `identity/entity-alias` (`None`, read as
    /// `null`, on aliases made by logins, as Vault shows them).
    pub custom_metadata: Option<BTreeMap<String, String>>,
    pub merged_from_canonical_ids: Vec<String>,
    pub creation_time: i64,
    pub last_update_time: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Entity {
    pub id: String,
    pub name: String,
    pub metadata: BTreeMap<String, String>,
    pub policies: Vec<String>,
    pub disabled: bool,
    pub aliases: Vec<Alias>,
    pub merged_entity_ids: Vec<String>,
    pub creation_time: i64,
    pub last_update_time: i64,
}

/// `internal` groups list their members; `external` ones take them from
/// an auth method's group alias.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupType {
    #[default]
    Internal,
    External,
}

impl GroupType {
    pub fn parse(text: &str) -> Option<GroupType> {
        match text {
            "" | "internal" => Some(GroupType::Internal),
            "external" => Some(GroupType::External),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GroupType::Internal => "internal",
            GroupType::External => "external",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Group {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub group_type: GroupType,
    pub metadata: BTreeMap<String, String>,
    pub policies: Vec<String>,
    pub member_entity_ids: Vec<String>,
    pub member_group_ids: Vec<String>,
    pub creation_time: i64,
    pub last_update_time: i64,
    pub modify_index: i64,
    /// External groups only: the auth method's group name that makes a
    /// logging-in entity a member.
    pub alias: Option<GroupAlias>,
}

/// A group's name on one auth mount (an external group has at most one).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupAlias {
    pub id: String,
    pub canonical_id: String,
    pub mount_accessor: String,
    pub name: String,
    pub creation_time: i64,
    pub last_update_time: i64,
}

impl GroupAlias {
    /// The alias as its group's read shows it.
    pub fn render(&self, mount: Option<&AuthMount>) -> Map<String, Value> {
        let (path, mount_type) = mount
            .map(|m| (m.path.as_str(), m.mount_type.as_str()))
            .unwrap_or_default();
        let value = json!({
            "canonical_id": self.canonical_id,
            "creation_time": time(self.creation_time),
            "id": self.id,
            "last_update_time": time(self.last_update_time),
            "merged_from_canonical_ids": Value::Null,
            "metadata": Value::Null,
            "mount_accessor": self.mount_accessor,
            "mount_path": path,
            "mount_type": mount_type,
            "name": self.name,
        });
        without_gone_mount(value, mount)
    }
}

/// An alias of a mount that is gone (disabled) shows no `mount_path` or
/// `mount_type`, as Vault omits them.
fn without_gone_mount(value: Value, mount: Option<&AuthMount>) -> Map<String, Value> {
    let mut map = value.as_object().cloned().unwrap_or_default();
    if mount.is_none() {
        map.remove("mount_path");
        map.remove("mount_type");
    }
    map
}

/// Go's nil-or-map: an empty map reads `null`, as Vault's protobufs do.
pub fn map_or_null(map: &BTreeMap<String, String>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        json!(map)
    }
}

/// Go's nil-or-slice: an empty list reads `null`.
pub fn list_or_null(list: &[String]) -> Value {
    if list.is_empty() {
        Value::Null
    } else {
        json!(list)
    }
}

pub fn time(nanos: i64) -> Value {
    json!(rfc3339_nano(nanos).unwrap_or_default())
}

impl Alias {
    /// The alias as an entity's read lists it (and a LIST's `key_info`
    /// takes a part of).
    pub fn render(&self, mount: Option<&AuthMount>) -> Map<String, Value> {
        let (path, mount_type) = mount
            .map(|m| (m.path.as_str(), m.mount_type.as_str()))
            .unwrap_or_default();
        let value = json!({
            "canonical_id": self.canonical_id,
            "creation_time": time(self.creation_time),
            "custom_metadata": self.custom_metadata,
            "id": self.id,
            "last_update_time": time(self.last_update_time),
            "local": false,
            "merged_from_canonical_ids": list_or_null(&self.merged_from_canonical_ids),
            "metadata": map_or_null(&self.metadata),
            "mount_accessor": self.mount_accessor,
            "mount_path": path,
            "mount_type": mount_type,
            "name": self.name,
        });
        without_gone_mount(value, mount)
    }
}

/// The groups an entity belongs to: directly, and through groups that
/// have those groups as members.
#[derive(Debug, Clone, Default)]
pub struct Memberships {
    pub direct: Vec<String>,
    pub inherited: Vec<String>,
}

impl Memberships {
    pub fn all(&self) -> Vec<String> {
        self.direct
            .iter()
            .chain(self.inherited.iter())
            .cloned()
            .collect()
    }
}

impl Entity {
    pub fn alias_on(&self, accessor: &str) -> Option<&Alias> {
        self.aliases.iter().find(|a| a.mount_accessor == accessor)
    }

    /// The entity as `identity/entity/id/:id` reads it.
    pub fn render(
        &self,
        mounts: &dyn Fn(&str) -> Option<AuthMount>,
        groups: &Memberships,
    ) -> Map<String, Value> {
        let aliases: Vec<Value> = self
            .aliases
            .iter()
            .map(|a| Value::Object(a.render(mounts(&a.mount_accessor).as_ref())))
            .collect();
        let value = json!({
            "aliases": aliases,
            "creation_time": time(self.creation_time),
            "direct_group_ids": groups.direct,
            "disabled": self.disabled,
            "group_ids": groups.all(),
            "id": self.id,
            "inherited_group_ids": groups.inherited,
            "last_update_time": time(self.last_update_time),
            "merged_entity_ids": list_or_null(&self.merged_entity_ids),
            "metadata": map_or_null(&self.metadata),
            "name": self.name,
            "namespace_id": ROOT_NAMESPACE,
            "policies": self.policies,
        });
        value.as_object().cloned().unwrap_or_default()
    }
}

impl Group {
    /// The group as `identity/group/id/:id` reads it.
    pub fn render(
        &self,
        parent_group_ids: &[String],
        alias_mount: Option<&AuthMount>,
    ) -> Map<String, Value> {
        let alias = self
            .alias
            .as_ref()
            .map(|a| Value::Object(a.render(alias_mount)))
            .unwrap_or_else(|| json!({}));
        let value = json!({
            "alias": alias,
            "creation_time": time(self.creation_time),
            "id": self.id,
            "last_update_time": time(self.last_update_time),
            "member_entity_ids": list_or_null(&self.member_entity_ids),
            "member_group_ids": list_or_null(&self.member_group_ids),
            "metadata": map_or_null(&self.metadata),
            "modify_index": self.modify_index,
            "name": self.name,
            "namespace_id": ROOT_NAMESPACE,
            "parent_group_ids": list_or_null(parent_group_ids),
            "policies": list_or_null(&self.policies),
            "type": self.group_type.as_str(),
        });
        value.as_object().cloned().unwrap_or_default()
    }
}
