//! Groups (`identity/group`): internal groups list their member entities
//! and groups; members inherit the policies of every group above them.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::entities::keyed_list;
use super::model::{Group, GroupType};
use super::store::{generated_name, parents};
use super::{policy_list, string_pairs, IdentityBackend, Target};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::util::gotime::now_nanos;
use crate::util::ids;
use crate::util::multierror::multierror;

const GROUP_FIELDS: &[Field] = &[
    Field::string("id"),
    Field::string("name"),
    Field::string("type"),
    Field::map("metadata"),
    Field::list("policies"),
    Field::list("member_group_ids"),
    Field::list("member_entity_ids"),
];

pub(super) const PATHS: &[Path<IdentityBackend>] = &[
    Path::new("group")
        .fields(&[GROUP_FIELDS])
        .update(handler!(b, r => write(b, r, Target::Body))),
    Path::new("group/id").list(handler!(list_ids)),
    Path::new("group/id/:id")
        .fields(&[GROUP_FIELDS])
        .read(handler!(b, r => read(b, r, Target::Id)))
        .update(handler!(b, r => write(b, r, Target::Id)))
        .delete(handler!(b, r => delete(b, r, Target::Id))),
    Path::new("group/name").list(handler!(list_names)),
    Path::new("group/name/:name")
        .fields(&[GROUP_FIELDS])
        .read(handler!(b, r => read(b, r, Target::Name)))
        .update(handler!(b, r => write(b, r, Target::Name)))
        .delete(handler!(b, r => delete(b, r, Target::Name))),
];

fn invalid_group_id() -> Error {
    Error::bad_request("invalid group ID")
}

async fn find(b: &IdentityBackend, req: &Request, target: Target) -> Result<Option<Group>> {
    match target {
        Target::Id => b.store.group(req.param("id")?).await,
        Target::Name => b.store.group_by_name(req.param("name")?).await,
        Target::Body => {
            if let Some(id) = req.data.str("id")?.filter(|id| !id.is_empty()) {
                return match b.store.group(&id).await? {
                    Some(group) => Ok(Some(group)),
                    None => Err(invalid_group_id()),
                };
            }
            match req.data.str("name")?.filter(|n| !n.is_empty()) {
                Some(name) => b.store.group_by_name(&name).await,
                None => Ok(None),
            }
        }
    }
}

async fn read(b: &IdentityBackend, req: &mut Request, target: Target) -> Result<Option<Response>> {
    let Some(group) = find(b, req, target).await? else {
        return Ok(None);
    };
    Ok(Some(Response::data(render(b, &group).await?)))
}

pub(super) async fn render(b: &IdentityBackend, group: &Group) -> Result<Map<String, Value>> {
    let groups = b.store.groups().await?;
    let mount = group
        .alias
        .as_ref()
        .and_then(|a| b.store.auth_mount(&a.mount_accessor));
    Ok(group.render(&parents(&group.id, &groups), mount.as_ref()))
}

/// The groups below `id` through `member_group_ids`, `id` included.
fn descendants(id: &str, groups: &[Group]) -> BTreeSet<String> {
    let mut seen = BTreeSet::from([id.to_string()]);
    let mut frontier = vec![id.to_string()];
    while let Some(current) = frontier.pop() {
        if let Some(group) = groups.iter().find(|g| g.id == current) {
            for member in &group.member_group_ids {
                if seen.insert(member.clone()) {
                    frontier.push(member.clone());
                }
            }
        }
    }
    seen
}

/// Creates a group or updates the one the path names: a new one is
/// answered with its id and name, an update with 204.
async fn write(b: &IdentityBackend, req: &mut Request, target: Target) -> Result<Option<Response>> {
    let _guard = b.store.lock().await;
    let existing = find(b, req, target).await?;
    if existing.is_none() && matches!(target, Target::Id) {
        return Err(invalid_group_id());
    }
    let mut group = existing.clone().unwrap_or_default();
    let now = now_nanos();
    if existing.is_none() {
        group.id = ids::uuid();
        group.creation_time = now;
    }
    if let Some(kind) = req.data.str("type")?.filter(|t| !t.is_empty()) {
        let Some(kind) = GroupType::parse(&kind) else {
            return Err(Error::BadRequest(format!("invalid group type {kind:?}")));
        };
        if existing.is_some() && kind != group.group_type {
            return Err(Error::bad_request("group type cannot be changed"));
        }
        group.group_type = kind;
    }
    let name = match target {
        Target::Name => Some(req.param("name")?.to_string()),
        _ => req.data.str("name")?.filter(|n| !n.is_empty()),
    };
    if let Some(name) = name {
        if let Some(other) = b.store.group_by_name(&name).await? {
            if other.id != group.id {
                return Err(Error::bad_request("group name is already in use"));
            }
        }
        group.name = name;
    }
    if group.name.is_empty() {
        group.name = generated_name("group");
    }
    if let Some(metadata) = req.data.string_map("metadata")? {
        group.metadata = string_pairs(&metadata);
    }
    if let Some(policies) = req.data.comma_list("policies")? {
        group.policies = policy_list(&policies);
    }
    if let Some(members) = req.data.comma_list("member_entity_ids")? {
        if group.group_type == GroupType::External {
            return Err(Error::bad_request(
                "member entities can't be set manually for external groups",
            ));
        }
        for id in &members {
            if b.store.entity(id).await?.is_none() {
                return Err(Error::BadRequest(multierror(&[format!(
                    "invalid entity ID {id:?}"
                )])));
            }
        }
        group.member_entity_ids = dedup(members);
    }
    let groups = b.store.groups().await?;
    let mut touched = Vec::new();
    if let Some(members) = req.data.comma_list("member_group_ids")? {
        let members = dedup(members);
        for id in &members {
            if id == &group.id {
                return Err(Error::BadRequest(multierror(&[format!(
                    "member group ID {id:?} is same as the ID of the group"
                )])));
            }
            if !groups.iter().any(|g| &g.id == id) {
                return Err(Error::BadRequest(multierror(&[format!(
                    "invalid member group ID {id:?}"
                )])));
            }
            if descendants(id, &groups).contains(&group.id) {
                return Err(Error::BadRequest(format!(
                    "cyclic relationship detected for member group ID {id:?}"
                )));
            }
        }
        // A member's `parent_group_ids` change with this list.
        let before: BTreeSet<&String> = group.member_group_ids.iter().collect();
        let after: BTreeSet<&String> = members.iter().collect();
        touched = before
            .symmetric_difference(&after)
            .map(|id| (*id).clone())
            .collect();
        group.member_group_ids = members;
    }
    group.last_update_time = now;
    group.modify_index += 1;
    b.store.save_group(existing.as_ref(), &group).await?;
    for id in touched {
        if let Some(member) = groups.iter().find(|g| g.id == id) {
            let mut bumped = member.clone();
            bumped.modify_index += 1;
            b.store.save_group(Some(member), &bumped).await?;
        }
    }
    if existing.is_some() {
        return Ok(None);
    }
    let mut data = Map::new();
    data.insert("id".into(), json!(group.id));
    data.insert("name".into(), json!(group.name));
    Ok(Some(Response::data(data)))
}

/// Ids in the order given, each once.
fn dedup(ids: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    ids.into_iter()
        .filter(|id| !id.is_empty() && seen.insert(id.clone()))
        .collect()
}

async fn delete(
    b: &IdentityBackend,
    req: &mut Request,
    target: Target,
) -> Result<Option<Response>> {
    let _guard = b.store.lock().await;
    if let Some(group) = find(b, req, target).await? {
        b.store.delete_group(&group).await?;
    }
    Ok(None)
}

async fn list_ids(b: &IdentityBackend, _req: &mut Request) -> Result<Option<Response>> {
    let groups = b.store.groups().await?;
    let mut keys = Vec::new();
    let mut info = Map::new();
    for group in &groups {
        info.insert(
            group.id.clone(),
            json!({
                "name": group.name,
                "num_member_entities": group.member_entity_ids.len(),
                "num_parent_groups": parents(&group.id, &groups).len(),
            }),
        );
        keys.push(group.id.clone());
    }
    Ok(Some(keyed_list(keys, info)))
}

async fn list_names(b: &IdentityBackend, _req: &mut Request) -> Result<Option<Response>> {
    let names = b.store.groups().await?.into_iter().map(|g| g.name);
    Ok(Some(Response::list(names.collect())))
}
