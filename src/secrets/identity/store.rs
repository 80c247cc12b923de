//! The identity store: entities, aliases and groups kept in the identity
//! mount's storage, with indexes by name and by alias so that a login
//! finds its entity in one read. Every change runs under one lock, so two
//! logins of a new alias at once make one entity, not two.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{RwLock, Weak};

use serde::de::DeserializeOwned;

use super::model::{Alias, AuthMount, Entity, Group, GroupType, Memberships};
use crate::logical::{Error, Result};
use crate::storage::{BatchOp, StorageView};
use crate::util::gotime::now_nanos;
use crate::util::ids;

const ENTITY: &str = "entity/";
const GROUP: &str = "group/";
const ENTITY_NAME: &str = "index/entity-name/";
const GROUP_NAME: &str = "index/group-name/";
const ALIAS: &str = "index/alias/";
const ALIAS_ID: &str = "index/alias-id/";
const GROUP_ALIAS: &str = "index/group-alias/";
const GROUP_ALIAS_ID: &str = "index/group-alias-id/";

/// The auth mounts, as the identity store needs to see them.
pub trait AuthMounts: Send + Sync {
    fn auth_mount(&self, accessor: &str) -> Option<AuthMount>;
}

pub struct IdentityStore {
    /// The identity mount's storage view (set once the mount exists).
    storage: RwLock<Option<StorageView>>,
    mounts: Weak<dyn AuthMounts>,
    write: tokio::sync::Mutex<()>,
    /// The server's advertised API address (the default issuer of
    /// identity tokens).
    api_addr: RwLock<String>,
}

/// Names are matched without regard to case, as Vault's identity store
/// does by default; the key is the lower-cased name, hex-encoded (names
/// may hold any character).
fn name_key(prefix: &str, name: &str) -> String {
    format!("{prefix}{}", hex::encode(name.to_lowercase()))
}

fn alias_key(accessor: &str, name: &str) -> String {
    name_key(&format!("{ALIAS}{}/", hex::encode(accessor)), name)
}

fn group_alias_key(accessor: &str, name: &str) -> String {
    name_key(&format!("{GROUP_ALIAS}{}/", hex::encode(accessor)), name)
}

/// Deletes of the index entries of a group's alias.
fn group_alias_deletes(group: &Group) -> Vec<BatchOp> {
    group
        .alias
        .iter()
        .flat_map(|a| {
            [
                BatchOp::Delete(group_alias_key(&a.mount_accessor, &a.name)),
                BatchOp::Delete(format!("{GROUP_ALIAS_ID}{}", a.id)),
            ]
        })
        .collect()
}

fn json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(value)?)
}

/// Vault's generated names: `entity_` or `group_` and 8 hex digits.
pub fn generated_name(kind: &str) -> String {
    format!("{kind}_{}", hex::encode(ids::random_bytes(4)))
}

impl IdentityStore {
    pub fn new(mounts: Weak<dyn AuthMounts>) -> Self {
        IdentityStore {
            storage: RwLock::new(None),
            mounts,
            write: tokio::sync::Mutex::new(()),
            api_addr: RwLock::new(String::new()),
        }
    }

    /// Told by the core once the identity mount is in place.
    pub fn set_storage(&self, storage: StorageView) {
        match self.storage.write() {
            Ok(mut slot) => *slot = Some(storage),
            Err(poisoned) => *poisoned.into_inner() = Some(storage),
        }
    }

    /// Told by the server once its listener is bound.
    pub fn set_api_addr(&self, addr: String) {
        match self.api_addr.write() {
            Ok(mut slot) => *slot = addr,
            Err(poisoned) => *poisoned.into_inner() = addr,
        }
    }

    pub fn api_addr(&self) -> String {
        match self.api_addr.read() {
            Ok(addr) => addr.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn storage(&self) -> Result<StorageView> {
        self.storage
            .read()
            .ok()
            .and_then(|s| s.clone())
            .ok_or_else(|| Error::internal("the identity store is not mounted"))
    }

    /// Held while reading and then changing the store.
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.write.lock().await
    }

    pub fn auth_mount(&self, accessor: &str) -> Option<AuthMount> {
        self.mounts.upgrade()?.auth_mount(accessor)
    }

    async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        Ok(self.storage()?.get_json(key).await?)
    }

    async fn index(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .storage()?
            .get(key)
            .await?
            .map(|id| String::from_utf8_lossy(&id).into_owned()))
    }

    pub async fn entity(&self, id: &str) -> Result<Option<Entity>> {
        if id.is_empty() || id.contains('/') {
            return Ok(None);
        }
        self.get(&format!("{ENTITY}{id}")).await
    }

    pub async fn entity_by_name(&self, name: &str) -> Result<Option<Entity>> {
        match self.index(&name_key(ENTITY_NAME, name)).await? {
            Some(id) => self.entity(&id).await,
            None => Ok(None),
        }
    }

    pub async fn entity_by_alias(&self, accessor: &str, name: &str) -> Result<Option<Entity>> {
        match self.index(&alias_key(accessor, name)).await? {
            Some(id) => self.entity(&id).await,
            None => Ok(None),
        }
    }

    pub async fn entity_by_alias_id(&self, alias_id: &str) -> Result<Option<Entity>> {
        if alias_id.is_empty() || alias_id.contains('/') {
            return Ok(None);
        }
        match self.index(&format!("{ALIAS_ID}{alias_id}")).await? {
            Some(id) => self.entity(&id).await,
            None => Ok(None),
        }
    }

    /// Every record stored under `prefix` (entities or groups).
    async fn all<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for id in self.storage()?.list_leaves(prefix).await? {
            out.extend(self.get(&format!("{prefix}{id}")).await?);
        }
        Ok(out)
    }

    pub async fn entities(&self) -> Result<Vec<Entity>> {
        self.all(ENTITY).await
    }

    /// Writes an entity and its indexes, dropping those of what it was.
    pub async fn save_entity(&self, old: Option<&Entity>, new: &Entity) -> Result<()> {
        let mut ops = old.map(entity_index_deletes).unwrap_or_default();
        ops.push(BatchOp::Put(format!("{ENTITY}{}", new.id), json(new)?));
        ops.push(BatchOp::Put(
            name_key(ENTITY_NAME, &new.name),
            new.id.clone().into_bytes(),
        ));
        for alias in &new.aliases {
            ops.push(BatchOp::Put(
                alias_key(&alias.mount_accessor, &alias.name),
                new.id.clone().into_bytes(),
            ));
            ops.push(BatchOp::Put(
                format!("{ALIAS_ID}{}", alias.id),
                new.id.clone().into_bytes(),
            ));
        }
        self.storage()?.batch(dedup_puts(ops)).await?;
        Ok(())
    }

    /// Deletes an entity and its aliases; its group memberships go too, or
    /// pass to `successor` (the entity it was merged into).
    pub async fn delete_entity(&self, entity: &Entity, successor: Option<&str>) -> Result<()> {
        let mut ops = entity_index_deletes(entity);
        ops.push(BatchOp::Delete(format!("{ENTITY}{}", entity.id)));
        for mut group in self.groups().await? {
            if group.member_entity_ids.contains(&entity.id) {
                group.member_entity_ids.retain(|id| id != &entity.id);
                if let Some(successor) = successor {
                    if !group.member_entity_ids.iter().any(|id| id == successor) {
                        group.member_entity_ids.push(successor.to_string());
                    }
                }
                group.last_update_time = now_nanos();
                group.modify_index += 1;
                ops.push(BatchOp::Put(format!("{GROUP}{}", group.id), json(&group)?));
            }
        }
        self.storage()?.batch(ops).await?;
        Ok(())
    }

    pub async fn group(&self, id: &str) -> Result<Option<Group>> {
        if id.is_empty() || id.contains('/') {
            return Ok(None);
        }
        self.get(&format!("{GROUP}{id}")).await
    }

    pub async fn group_by_name(&self, name: &str) -> Result<Option<Group>> {
        match self.index(&name_key(GROUP_NAME, name)).await? {
            Some(id) => self.group(&id).await,
            None => Ok(None),
        }
    }

    /// The group whose alias has this id.
    pub async fn group_by_alias_id(&self, alias_id: &str) -> Result<Option<Group>> {
        if alias_id.is_empty() || alias_id.contains('/') {
            return Ok(None);
        }
        match self.index(&format!("{GROUP_ALIAS_ID}{alias_id}")).await? {
            Some(id) => self.group(&id).await,
            None => Ok(None),
        }
    }

    /// The group whose alias is `name` on the mount `accessor`.
    pub async fn group_by_alias(&self, accessor: &str, name: &str) -> Result<Option<Group>> {
        match self.index(&group_alias_key(accessor, name)).await? {
            Some(id) => self.group(&id).await,
            None => Ok(None),
        }
    }

    /// An entity's memberships in the external groups of `mount` after a
    /// login that named the groups `names`: it joins those whose alias is
    /// one of them and leaves the others (Vault's external group refresh).
    pub async fn refresh_external_groups(
        &self,
        mount: &AuthMount,
        entity_id: &str,
        names: &[String],
    ) -> Result<()> {
        let _guard = self.lock().await;
        let wanted: BTreeSet<String> = names.iter().map(|n| n.to_lowercase()).collect();
        for group in self.groups().await? {
            let Some(alias) = &group.alias else {
                continue;
            };
            if group.group_type != GroupType::External || alias.mount_accessor != mount.accessor {
                continue;
            }
            let member = group.member_entity_ids.iter().any(|id| id == entity_id);
            let should = wanted.contains(&alias.name.to_lowercase());
            if member == should {
                continue;
            }
            let mut updated = group.clone();
            if should {
                updated.member_entity_ids.push(entity_id.to_string());
            } else {
                updated.member_entity_ids.retain(|id| id != entity_id);
            }
            updated.last_update_time = now_nanos();
            updated.modify_index += 1;
            self.save_group(Some(&group), &updated).await?;
        }
        Ok(())
    }

    pub async fn groups(&self) -> Result<Vec<Group>> {
        self.all(GROUP).await
    }

    pub async fn save_group(&self, old: Option<&Group>, new: &Group) -> Result<()> {
        let mut ops = Vec::new();
        if let Some(old) = old {
            ops.push(BatchOp::Delete(name_key(GROUP_NAME, &old.name)));
            ops.extend(group_alias_deletes(old));
        }
        ops.push(BatchOp::Put(format!("{GROUP}{}", new.id), json(new)?));
        ops.push(BatchOp::Put(
            name_key(GROUP_NAME, &new.name),
            new.id.clone().into_bytes(),
        ));
        if let Some(alias) = &new.alias {
            ops.push(BatchOp::Put(
                group_alias_key(&alias.mount_accessor, &alias.name),
                new.id.clone().into_bytes(),
            ));
            ops.push(BatchOp::Put(
                format!("{GROUP_ALIAS_ID}{}", alias.id),
                new.id.clone().into_bytes(),
            ));
        }
        self.storage()?.batch(dedup_puts(ops)).await?;
        Ok(())
    }

    /// Deletes a group and its place in other groups.
    pub async fn delete_group(&self, group: &Group) -> Result<()> {
        let mut ops = vec![
            BatchOp::Delete(name_key(GROUP_NAME, &group.name)),
            BatchOp::Delete(format!("{GROUP}{}", group.id)),
        ];
        ops.extend(group_alias_deletes(group));
        for mut parent in self.groups().await? {
            if parent.member_group_ids.contains(&group.id) {
                parent.member_group_ids.retain(|id| id != &group.id);
                ops.push(BatchOp::Put(
                    format!("{GROUP}{}", parent.id),
                    json(&parent)?,
                ));
            }
        }
        self.storage()?.batch(ops).await?;
        Ok(())
    }

    /// The entity of an alias logging in on `mount`: found by the alias,
    /// or made with it on first login (Vault's `CreateOrFetchEntity`).
    pub async fn login(
        &self,
        mount: &AuthMount,
        alias_name: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Entity> {
        if let Some(entity) = self.entity_by_alias(&mount.accessor, alias_name).await? {
            if alias_metadata_is(&entity, &mount.accessor, metadata) {
                return Ok(entity);
            }
        }
        let _guard = self.lock().await;
        let now = now_nanos();
        if let Some(old) = self.entity_by_alias(&mount.accessor, alias_name).await? {
            if alias_metadata_is(&old, &mount.accessor, metadata) {
                return Ok(old);
            }
            // Vault updates the alias when a login reports other metadata.
            let mut entity = old.clone();
            for alias in entity.aliases.iter_mut() {
                if alias.mount_accessor == mount.accessor {
                    alias.metadata = metadata.clone();
                    alias.last_update_time = now;
                }
            }
            self.save_entity(Some(&old), &entity).await?;
            return Ok(entity);
        }
        let id = ids::uuid();
        let entity = Entity {
            id: id.clone(),
            name: generated_name("entity"),
            aliases: vec![Alias {
                id: ids::uuid(),
                canonical_id: id.clone(),
                mount_accessor: mount.accessor.clone(),
                name: alias_name.to_string(),
                metadata: metadata.clone(),
                creation_time: now,
                last_update_time: now,
                ..Default::default()
            }],
            creation_time: now,
            last_update_time: now,
            ..Default::default()
        };
        self.save_entity(None, &entity).await?;
        Ok(entity)
    }

    /// What an entity gives its tokens: itself and every group it is in,
    /// directly or inherited (`None` once it is gone). A disabled entity's
    /// tokens may do nothing at all.
    pub async fn grant(&self, entity_id: &str) -> Result<Option<Grant>> {
        let Some(entity) = self.entity(entity_id).await? else {
            return Ok(None);
        };
        if entity.disabled {
            return Err(Error::PermissionDenied);
        }
        let mut groups = self.groups().await?;
        let member_of: BTreeSet<String> =
            memberships(&entity.id, &groups).all().into_iter().collect();
        groups.retain(|g| member_of.contains(&g.id));
        Ok(Some(Grant { entity, groups }))
    }
}

/// Whether the entity's alias on the mount already has these metadata.
fn alias_metadata_is(entity: &Entity, accessor: &str, metadata: &BTreeMap<String, String>) -> bool {
    entity
        .aliases
        .iter()
        .filter(|a| a.mount_accessor == accessor)
        .all(|a| &a.metadata == metadata)
}

/// An entity and the groups it is in, as its tokens see them.
pub struct Grant {
    pub entity: Entity,
    pub groups: Vec<Group>,
}

impl Grant {
    /// The entity's policies and its groups', each once, sorted.
    pub fn policies(&self) -> Vec<String> {
        let mut policies: BTreeSet<String> = self.entity.policies.iter().cloned().collect();
        for group in &self.groups {
            policies.extend(group.policies.iter().cloned());
        }
        policies.into_iter().collect()
    }
}

/// Deletes of every index entry an entity holds.
fn entity_index_deletes(entity: &Entity) -> Vec<BatchOp> {
    let mut ops = vec![BatchOp::Delete(name_key(ENTITY_NAME, &entity.name))];
    for alias in &entity.aliases {
        ops.push(BatchOp::Delete(alias_key(
            &alias.mount_accessor,
            &alias.name,
        )));
        ops.push(BatchOp::Delete(format!("{ALIAS_ID}{}", alias.id)));
    }
    ops
}

/// A delete followed by a put of the same key keeps the put only (a
/// batch need not apply its operations in order).
fn dedup_puts(ops: Vec<BatchOp>) -> Vec<BatchOp> {
    let put: BTreeSet<String> = ops
        .iter()
        .filter_map(|op| match op {
            BatchOp::Put(k, _) => Some(k.clone()),
            BatchOp::Delete(_) => None,
        })
        .collect();
    ops.into_iter()
        .filter(|op| !matches!(op, BatchOp::Delete(k) if put.contains(k)))
        .collect()
}

/// The groups an entity is in: directly, then those reached upward
/// through `member_group_ids`.
pub fn memberships(entity_id: &str, groups: &[Group]) -> Memberships {
    let direct: Vec<String> = groups
        .iter()
        .filter(|g| g.member_entity_ids.iter().any(|id| id == entity_id))
        .map(|g| g.id.clone())
        .collect();
    let mut seen: BTreeSet<String> = direct.iter().cloned().collect();
    let mut inherited = Vec::new();
    let mut frontier = direct.clone();
    while let Some(id) = frontier.pop() {
        for parent in parents(&id, groups) {
            if seen.insert(parent.clone()) {
                inherited.push(parent.clone());
                frontier.push(parent);
            }
        }
    }
    Memberships { direct, inherited }
}

/// The groups that have `group_id` as a member.
pub fn parents(group_id: &str, groups: &[Group]) -> Vec<String> {
    groups
        .iter()
        .filter(|g| g.member_group_ids.iter().any(|id| id == group_id))
        .map(|g| g.id.clone())
        .collect()
}
