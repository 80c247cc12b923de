//! Entities: `identity/entity`, by id and by name, listing, deletion one
//! at a time or in batches, and merging.

use serde_json::{json, Map, Value};

use super::model::{Entity, Memberships};
use super::store::{generated_name, memberships};
use super::{policy_list, string_pairs, IdentityBackend, Target};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::util::gotime::now_nanos;
use crate::util::ids;

const ENTITY_FIELDS: &[Field] = &[
    Field::string("id"),
    Field::string("name"),
    Field::map("metadata"),
    Field::list("policies"),
    Field::bool("disabled"),
];

pub(super) const PATHS: &[Path<IdentityBackend>] = &[
    Path::new("entity")
        .fields(&[ENTITY_FIELDS])
        .update(handler!(b, r => write(b, r, Target::Body))),
    Path::new("entity/name").list(handler!(list_names)),
    Path::new("entity/name/:name")
        .fields(&[ENTITY_FIELDS])
        .read(handler!(b, r => read(b, r, Target::Name)))
        .update(handler!(b, r => write(b, r, Target::Name)))
        .delete(handler!(b, r => delete(b, r, Target::Name))),
    Path::new("entity/id").list(handler!(list_ids)),
    Path::new("entity/id/:id")
        .fields(&[ENTITY_FIELDS])
        .read(handler!(b, r => read(b, r, Target::Id)))
        .update(handler!(b, r => write(b, r, Target::Id)))
        .delete(handler!(b, r => delete(b, r, Target::Id))),
    Path::new("entity/batch-delete")
        .fields(&[&[Field::list("entity_ids")]])
        .update(handler!(batch_delete)),
    Path::new("entity/merge")
        .fields(&[&[
            Field::list("from_entity_ids"),
            Field::string("to_entity_id"),
            Field::bool("force"),
            Field::list("conflicting_alias_ids_to_keep"),
        ]])
        .update(handler!(merge)),
];

async fn find(b: &IdentityBackend, req: &Request, target: Target) -> Result<Option<Entity>> {
    match target {
        Target::Id => b.store.entity(req.param("id")?).await,
        Target::Name => b.store.entity_by_name(req.param("name")?).await,
        Target::Body => {
            if let Some(id) = req.data.str("id")?.filter(|id| !id.is_empty()) {
                return match b.store.entity(&id).await? {
                    Some(entity) => Ok(Some(entity)),
                    None => Err(entity_not_found()),
                };
            }
            match req.data.str("name")?.filter(|n| !n.is_empty()) {
                Some(name) => b.store.entity_by_name(&name).await,
                None => Ok(None),
            }
        }
    }
}

fn entity_not_found() -> Error {
    Error::bad_request("entity not found from id")
}

/// An entity's read, with its aliases' mounts and its groups.
pub(super) async fn render(b: &IdentityBackend, entity: &Entity) -> Result<Map<String, Value>> {
    let groups = b.store.groups().await?;
    let memberships: Memberships = memberships(&entity.id, &groups);
    Ok(entity.render(&|accessor| b.store.auth_mount(accessor), &memberships))
}

async fn read(b: &IdentityBackend, req: &mut Request, target: Target) -> Result<Option<Response>> {
    match find(b, req, target).await? {
        Some(entity) => Ok(Some(Response::data(render(b, &entity).await?))),
        None => Ok(None),
    }
}

/// Creates an entity or updates the one the path names: a new one is
/// answered with its id and name, an update with 204.
async fn write(b: &IdentityBackend, req: &mut Request, target: Target) -> Result<Option<Response>> {
    let _guard = b.store.lock().await;
    let existing = find(b, req, target).await?;
    if existing.is_none() && matches!(target, Target::Id) {
        return Err(entity_not_found());
    }
    let mut entity = existing.clone().unwrap_or_default();
    let name = match target {
        Target::Name => Some(req.param("name")?.to_string()),
        _ => req.data.str("name")?.filter(|n| !n.is_empty()),
    };
    if let Some(name) = name {
        if let Some(other) = b.store.entity_by_name(&name).await? {
            if other.id != entity.id {
                return Err(Error::bad_request("entity name is already in use"));
            }
        }
        entity.name = name;
    }
    if let Some(metadata) = req.data.string_map("metadata")? {
        entity.metadata = string_pairs(&metadata);
    }
    if let Some(policies) = req.data.comma_list("policies")? {
        entity.policies = policy_list(&policies);
    }
    if let Some(disabled) = req.data.bool("disabled")? {
        entity.disabled = disabled;
    }
    let now = now_nanos();
    entity.last_update_time = now;
    if existing.is_none() {
        entity.id = ids::uuid();
        entity.creation_time = now;
        if entity.name.is_empty() {
            entity.name = generated_name("entity");
        }
    }
    b.store.save_entity(existing.as_ref(), &entity).await?;
    if existing.is_some() {
        return Ok(None);
    }
    let mut data = Map::new();
    data.insert("aliases".into(), Value::Null);
    data.insert("id".into(), json!(entity.id));
    data.insert("name".into(), json!(entity.name));
    Ok(Some(Response::data(data)))
}

async fn delete(
    b: &IdentityBackend,
    req: &mut Request,
    target: Target,
) -> Result<Option<Response>> {
    let _guard = b.store.lock().await;
    if let Some(entity) = find(b, req, target).await? {
        b.store.delete_entity(&entity, None).await?;
    }
    Ok(None)
}

async fn batch_delete(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let ids = req.data.comma_list("entity_ids")?.unwrap_or_default();
    if ids.is_empty() {
        return Err(Error::bad_request("missing entity ids to delete"));
    }
    let _guard = b.store.lock().await;
    for id in ids {
        if let Some(entity) = b.store.entity(&id).await? {
            b.store.delete_entity(&entity, None).await?;
        }
    }
    Ok(None)
}

async fn list_ids(b: &IdentityBackend, _req: &mut Request) -> Result<Option<Response>> {
    let mut keys = Vec::new();
    let mut info = Map::new();
    for entity in b.store.entities().await? {
        let mut entry = Map::new();
        entry.insert("name".into(), json!(entity.name));
        if !entity.aliases.is_empty() {
            let aliases: Vec<Value> = entity
                .aliases
                .iter()
                .map(|a| {
                    let mount = b.store.auth_mount(&a.mount_accessor).unwrap_or_default();
                    json!({
                        "id": a.id,
                        "mount_accessor": a.mount_accessor,
                        "mount_path": mount.path,
                        "mount_type": mount.mount_type,
                        "name": a.name,
                    })
                })
                .collect();
            entry.insert("aliases".into(), Value::Array(aliases));
        }
        info.insert(entity.id.clone(), Value::Object(entry));
        keys.push(entity.id);
    }
    Ok(Some(keyed_list(keys, info)))
}

async fn list_names(b: &IdentityBackend, _req: &mut Request) -> Result<Option<Response>> {
    let names = b.store.entities().await?.into_iter().map(|e| e.name);
    Ok(Some(Response::list(names.collect())))
}

/// A LIST answer with `key_info` (sorted keys, as Vault's storage lists).
pub(super) fn keyed_list(mut keys: Vec<String>, info: Map<String, Value>) -> Response {
    keys.sort();
    let mut response = Response::list(keys);
    if let Some(data) = response.data.as_mut() {
        data.insert("key_info".into(), Value::Object(info));
    }
    response
}

/// `entity/merge`: the aliases, group memberships and merge history of
/// the `from` entities move to the `to` entity, and the `from` ones go.
/// Two aliases on one mount cannot both be kept: the caller names the one
/// to keep, merging one entity at a time.
async fn merge(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let to_id = req.data.str("to_entity_id")?.unwrap_or_default();
    if to_id.is_empty() {
        return Err(Error::bad_request("missing entity id to merge to"));
    }
    let from_ids = req.data.comma_list("from_entity_ids")?.unwrap_or_default();
    if from_ids.is_empty() {
        return Err(Error::bad_request("missing entity ids to merge from"));
    }
    let keep = req
        .data
        .comma_list("conflicting_alias_ids_to_keep")?
        .unwrap_or_default();
    let _guard = b.store.lock().await;
    let Some(to) = b.store.entity(&to_id).await? else {
        return Err(Error::bad_request("entity id to merge to is invalid"));
    };
    let mut from = Vec::new();
    for id in &from_ids {
        if id == &to_id {
            continue;
        }
        match b.store.entity(id).await? {
            Some(entity) => from.push(entity),
            None => return Err(Error::bad_request("entity id to merge from is invalid")),
        }
    }
    super::merge::check_clashes(b, &to, &from, &keep)?;
    super::merge::apply(b, to, from, &keep).await?;
    Ok(None)
}
