//! Entity aliases (`identity/entity-alias`): an entity's identity on one
//! auth mount; an entity has at most one alias per mount.

use serde_json::{json, Map, Value};

use super::entities::keyed_list;
use super::model::{Alias, Entity, ROOT_NAMESPACE};
use super::store::generated_name;
use super::{string_pairs, IdentityBackend};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::util::gotime::now_nanos;
use crate::util::ids;

const ALIAS_FIELDS: &[Field] = &[
    Field::string("id"),
    Field::string("name"),
    Field::string("mount_accessor"),
    Field::string("canonical_id"),
    Field::map("custom_metadata"),
];

pub(super) const PATHS: &[Path<IdentityBackend>] = &[
    Path::new("entity-alias")
        .fields(&[ALIAS_FIELDS])
        .update(handler!(b, r => write(b, r, Target::Body))),
    Path::new("entity-alias/id").list(handler!(list)),
    Path::new("entity-alias/id/:id")
        .fields(&[ALIAS_FIELDS])
        .read(handler!(read))
        .update(handler!(b, r => write(b, r, Target::Path)))
        .delete(handler!(delete)),
];

/// Where a write names the alias it updates: `:id`, or its body.
#[derive(Clone, Copy)]
enum Target {
    Body,
    Path,
}

const ALREADY_EXISTS: &str = "Alias already exists for requested entity and mount accessor";

/// The alias with id `id` and the entity holding it.
async fn find(b: &IdentityBackend, id: &str) -> Result<Option<(Entity, Alias)>> {
    let Some(entity) = b.store.entity_by_alias_id(id).await? else {
        return Ok(None);
    };
    let alias = entity.aliases.iter().find(|a| a.id == id).cloned();
    Ok(alias.map(|a| (entity, a)))
}

async fn read(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let Some((_, alias)) = find(b, req.param("id")?).await? else {
        return Ok(None);
    };
    let mount = b.store.auth_mount(&alias.mount_accessor);
    let mut data = alias.render(mount.as_ref());
    data.insert("namespace_id".into(), json!(ROOT_NAMESPACE));
    Ok(Some(Response::data(data)))
}

async fn list(b: &IdentityBackend, _req: &mut Request) -> Result<Option<Response>> {
    let mut keys = Vec::new();
    let mut info = Map::new();
    for entity in b.store.entities().await? {
        for alias in entity.aliases {
            let mount = b.store.auth_mount(&alias.mount_accessor);
            let mut entry = alias.render(mount.as_ref());
            for field in ["id", "creation_time", "last_update_time"] {
                entry.remove(field);
            }
            entry.remove("merged_from_canonical_ids");
            info.insert(alias.id.clone(), Value::Object(entry));
            keys.push(alias.id);
        }
    }
    Ok(Some(keyed_list(keys, info)))
}

async fn delete(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.store.lock().await;
    if let Some((entity, alias)) = find(b, req.param("id")?).await? {
        let mut updated = entity.clone();
        updated.aliases.retain(|a| a.id != alias.id);
        updated.last_update_time = now_nanos();
        b.store.save_entity(Some(&entity), &updated).await?;
    }
    Ok(None)
}

/// What a write asks for, read and checked.
struct Wanted {
    name: Option<String>,
    accessor: Option<String>,
    canonical_id: Option<String>,
    custom_metadata: std::collections::BTreeMap<String, String>,
}

fn nonempty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

impl Wanted {
    fn read(req: &Request) -> Result<Wanted> {
        Ok(Wanted {
            name: nonempty(req.data.str("name")?),
            accessor: nonempty(req.data.str("mount_accessor")?),
            canonical_id: nonempty(req.data.str("canonical_id")?),
            custom_metadata: string_pairs(
                &req.data.string_map("custom_metadata")?.unwrap_or_default(),
            ),
        })
    }
}

/// Creates an alias, or updates the one named by id (in the path or the
/// body) or by mount and name; answers with the alias's id and entity.
async fn write(b: &IdentityBackend, req: &mut Request, target: Target) -> Result<Option<Response>> {
    let wanted = Wanted::read(req)?;
    let id = match target {
        Target::Path => Some(req.param("id")?.to_string()),
        Target::Body => nonempty(req.data.str("id")?),
    };
    let _guard = b.store.lock().await;
    if let Some(accessor) = &wanted.accessor {
        if b.store.auth_mount(accessor).is_none() {
            return Err(Error::BadRequest(format!(
                "invalid mount accessor {accessor:?}"
            )));
        }
    }
    let target = match &wanted.canonical_id {
        Some(id) => match b.store.entity(id).await? {
            Some(entity) => Some(entity),
            None => return Err(Error::bad_request("invalid canonical ID")),
        },
        None => None,
    };
    let current = match (&id, &wanted.accessor, &wanted.name) {
        (Some(id), _, _) => match find(b, id).await? {
            Some(found) => Some(found),
            None => return Err(Error::bad_request("invalid alias ID provided")),
        },
        (None, Some(accessor), Some(name)) => b
            .store
            .entity_by_alias(accessor, name)
            .await?
            .and_then(|e| {
                let alias = e
                    .alias_on(accessor)
                    .filter(|a| a.name.eq_ignore_ascii_case(name));
                alias.cloned().map(|a| (e, a))
            }),
        _ => {
            return Err(Error::bad_request(
                "'id' or 'mount_accessor' and 'name' must be provided",
            ))
        }
    };
    let now = now_nanos();
    let mut alias = match &current {
        Some((_, alias)) => alias.clone(),
        None => Alias {
            id: ids::uuid(),
            creation_time: now,
            ..Default::default()
        },
    };
    if let Some(name) = &wanted.name {
        alias.name = name.clone();
    }
    if let Some(accessor) = &wanted.accessor {
        alias.mount_accessor = accessor.clone();
    }
    alias.custom_metadata = Some(wanted.custom_metadata);
    alias.last_update_time = now;
    if let Some(other) = b
        .store
        .entity_by_alias(&alias.mount_accessor, &alias.name)
        .await?
    {
        if other
            .alias_on(&alias.mount_accessor)
            .is_some_and(|a| a.id != alias.id)
        {
            return Err(Error::bad_request(
                "alias with combination of mount accessor and name already exists",
            ));
        }
    }
    // The entity the alias will belong to, as it is now.
    let owner = match (target, &current) {
        (Some(target), _) => target,
        (None, Some((entity, _))) => entity.clone(),
        (None, None) => Entity {
            id: ids::uuid(),
            name: generated_name("entity"),
            creation_time: now,
            last_update_time: now,
            ..Default::default()
        },
    };
    let moving = current.as_ref().is_some_and(|(e, _)| e.id != owner.id);
    let joins = current.is_none() || moving;
    if joins
        && owner
            .aliases
            .iter()
            .any(|a| a.mount_accessor == alias.mount_accessor)
    {
        return Err(Error::bad_request(ALREADY_EXISTS));
    }
    if let Some((from, _)) = current.as_ref().filter(|_| moving) {
        let mut left = from.clone();
        left.aliases.retain(|a| a.id != alias.id);
        left.last_update_time = now;
        b.store.save_entity(Some(from), &left).await?;
    }
    let stored = b.store.entity(&owner.id).await?;
    let mut updated = owner.clone();
    alias.canonical_id = updated.id.clone();
    updated.aliases.retain(|a| a.id != alias.id);
    updated.aliases.push(alias.clone());
    b.store.save_entity(stored.as_ref(), &updated).await?;
    let mut data = Map::new();
    data.insert("canonical_id".into(), json!(alias.canonical_id));
    data.insert("id".into(), json!(alias.id));
    Ok(Some(Response::data(data)))
}
