//! Group aliases (`identity/group-alias`): an external group's name on one
//! auth mount. A login whose auth method reports group names (JWT's
//! `groups_claim`) makes its entity a member of the external groups whose
//! alias is among them, and no longer a member of the others on that mount.

use serde_json::{json, Map, Value};

use super::entities::keyed_list;
use super::model::{Group, GroupAlias, GroupType, ROOT_NAMESPACE};
use super::store::generated_name;
use super::IdentityBackend;
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
];

pub(super) const PATHS: &[Path<IdentityBackend>] = &[
    Path::new("group-alias")
        .fields(&[ALIAS_FIELDS])
        .update(handler!(b, r => write(b, r, false))),
    Path::new("group-alias/id").list(handler!(list)),
    Path::new("group-alias/id/:id")
        .fields(&[ALIAS_FIELDS])
        .read(handler!(read))
        .update(handler!(b, r => write(b, r, true)))
        .delete(handler!(delete)),
];

fn invalid_alias_id() -> Error {
    Error::bad_request("invalid group alias ID")
}

/// The alias as `group-alias/id/:id` reads it.
fn render(b: &IdentityBackend, alias: &GroupAlias) -> Map<String, Value> {
    let mut data = alias.render(b.store.auth_mount(&alias.mount_accessor).as_ref());
    data.insert("custom_metadata".into(), Value::Null);
    data.insert("local".into(), json!(false));
    data.insert("namespace_id".into(), json!(ROOT_NAMESPACE));
    data
}

async fn read(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let group = b.store.group_by_alias_id(req.param("id")?).await?;
    Ok(group
        .and_then(|g| g.alias)
        .map(|alias| Response::data(render(b, &alias))))
}

async fn list(b: &IdentityBackend, _req: &mut Request) -> Result<Option<Response>> {
    let mut keys = Vec::new();
    let mut info = Map::new();
    for alias in b.store.groups().await?.into_iter().filter_map(|g| g.alias) {
        let mut entry = render(b, &alias);
        for field in ["creation_time", "last_update_time", "id", "namespace_id"] {
            entry.remove(field);
        }
        entry.remove("merged_from_canonical_ids");
        keys.push(alias.id.clone());
        info.insert(alias.id, Value::Object(entry));
    }
    Ok(Some(keyed_list(keys, info)))
}

/// Creates an alias (on the group `canonical_id` names, or on a new
/// external group), or updates the one the path or the body's `id` names.
async fn write(b: &IdentityBackend, req: &mut Request, by_path: bool) -> Result<Option<Response>> {
    let _guard = b.store.lock().await;
    let alias_id = if by_path {
        Some(req.param("id")?.to_string())
    } else {
        req.data.str("id")?.filter(|id| !id.is_empty())
    };
    let current = match &alias_id {
        Some(id) => match b.store.group_by_alias_id(id).await? {
            Some(group) => Some(group),
            None => return Err(invalid_alias_id()),
        },
        None => None,
    };
    let name = req.data.str("name")?.unwrap_or_default();
    if name.is_empty() {
        return Err(Error::bad_request("missing alias name"));
    }
    let accessor = req.data.str("mount_accessor")?.unwrap_or_default();
    if accessor.is_empty() {
        return Err(Error::bad_request("missing mount_accessor"));
    }
    if b.store.auth_mount(&accessor).is_none() {
        return Err(Error::BadRequest(format!(
            "invalid mount accessor {accessor:?}"
        )));
    }
    let own_id = current
        .as_ref()
        .and_then(|g| g.alias.as_ref())
        .map(|a| a.id.clone());
    if let Some(holder) = b.store.group_by_alias(&accessor, &name).await? {
        if holder.alias.as_ref().map(|a| &a.id) != own_id.as_ref() {
            return Err(Error::bad_request(
                "combination of mount and group alias name is already in use",
            ));
        }
    }
    let now = now_nanos();
    let target = match req.data.str("canonical_id")?.filter(|c| !c.is_empty()) {
        Some(id) => match b.store.group(&id).await? {
            Some(group) => Some(group),
            None => {
                return Err(Error::bad_request(
                    "invalid group ID given in 'canonical_id'",
                ))
            }
        },
        None => current.clone(),
    };
    let (old, mut group) = match target {
        Some(group) => (Some(group.clone()), group),
        None => {
            let group = Group {
                id: ids::uuid(),
                name: generated_name("group"),
                group_type: GroupType::External,
                creation_time: now,
                last_update_time: now,
                ..Default::default()
            };
            (None, group)
        }
    };
    if group.group_type != GroupType::External {
        return Err(Error::bad_request(
            "alias can't be set on an internal group",
        ));
    }
    // Moving an alias to another group takes it off the one it was on.
    if let Some(previous) = current.filter(|g| g.id != group.id) {
        let mut bare = previous.clone();
        bare.alias = None;
        b.store.save_group(Some(&previous), &bare).await?;
    }
    let kept = group
        .alias
        .take()
        .filter(|a| Some(&a.id) == own_id.as_ref());
    let alias = GroupAlias {
        id: own_id.unwrap_or_else(ids::uuid),
        canonical_id: group.id.clone(),
        mount_accessor: accessor,
        name,
        creation_time: kept.as_ref().map(|a| a.creation_time).unwrap_or(now),
        last_update_time: now,
    };
    group.alias = Some(alias.clone());
    group.last_update_time = now;
    group.modify_index += 1;
    b.store.save_group(old.as_ref(), &group).await?;
    let data = json!({"canonical_id": group.id, "id": alias.id});
    Ok(Some(Response::data(
        data.as_object().cloned().unwrap_or_default(),
    )))
}

async fn delete(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.store.lock().await;
    if let Some(group) = b.store.group_by_alias_id(req.param("id")?).await? {
        let mut bare = group.clone();
        bare.alias = None;
        b.store.save_group(Some(&group), &bare).await?;
    }
    Ok(None)
}
