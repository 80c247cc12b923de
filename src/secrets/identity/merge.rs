//! Merging entities (`entity/merge`): what moves and what clashes.

use serde_json::{json, Value};

use super::model::{Alias, Entity};
use super::IdentityBackend;
use crate::logical::{Error, Result};
use crate::util::gotime::now_nanos;
use crate::util::multierror::multierror;

/// An alias of `to` and one of a `from` entity on the same mount.
struct Clash<'a> {
    to: &'a Alias,
    from: &'a Alias,
    from_entity: &'a Entity,
}

fn clashes<'a>(to: &'a Entity, from: &'a [Entity]) -> Vec<Clash<'a>> {
    from.iter()
        .flat_map(|entity| {
            entity.aliases.iter().filter_map(move |alias| {
                to.alias_on(&alias.mount_accessor).map(|kept| Clash {
                    to: kept,
                    from: alias,
                    from_entity: entity,
                })
            })
        })
        .collect()
}

/// Refuses a merge that would give `to` two aliases on one mount, unless
/// the caller said which alias of each pair to keep (Vault's text, with
/// the aliases at stake as the error's data).
pub(super) fn check_clashes(
    b: &IdentityBackend,
    to: &Entity,
    from: &[Entity],
    keep: &[String],
) -> Result<()> {
    let unresolved: Vec<Clash> = clashes(to, from)
        .into_iter()
        .filter(|c| !keep.contains(&c.to.id) && !keep.contains(&c.from.id))
        .collect();
    if unresolved.is_empty() {
        return Ok(());
    }
    let mut messages = vec!["toEntity and at least one fromEntity have aliases with the same mount accessor, repeat the merge request specifying exactly one fromEntity, clashes: ".to_string()];
    let mut data = Vec::new();
    for clash in &unresolved {
        messages.push(format!(
            "mountAccessor: {}, toEntity ID: {}, fromEntity ID: {}, conflicting toEntity alias ID: {}, conflicting fromEntity alias ID: {}",
            clash.to.mount_accessor, to.id, clash.from_entity.id, clash.to.id, clash.from.id
        ));
        for (alias, entity) in [(clash.to, to), (clash.from, clash.from_entity)] {
            let mount = b
                .store
                .auth_mount(&alias.mount_accessor)
                .unwrap_or_default();
            data.push(json!({
                "alias": alias.name,
                "entity": entity.name,
                "entity_id": entity.id,
                "mount": mount.mount_type,
                "mount_path": mount.path,
            }));
        }
    }
    Err(Error::BadRequestWithData {
        message: multierror(&messages),
        data: Value::Array(data),
    })
}

/// Moves the aliases (the kept one of each clashing pair), group
/// memberships and merge history of `from` into `to`, and deletes `from`.
pub(super) async fn apply(
    b: &IdentityBackend,
    mut to: Entity,
    from: Vec<Entity>,
    keep: &[String],
) -> Result<()> {
    let old_to = to.clone();
    let now = now_nanos();
    for entity in &from {
        for alias in &entity.aliases {
            if let Some(index) = to
                .aliases
                .iter()
                .position(|a| a.mount_accessor == alias.mount_accessor)
            {
                if !keep.contains(&alias.id) {
                    continue;
                }
                to.aliases.remove(index);
            }
            let mut moved = alias.clone();
            moved.canonical_id = to.id.clone();
            moved.merged_from_canonical_ids.push(entity.id.clone());
            to.aliases.push(moved);
        }
        to.merged_entity_ids.push(entity.id.clone());
        to.merged_entity_ids
            .extend(entity.merged_entity_ids.iter().cloned());
    }
    to.last_update_time = now;
    for entity in &from {
        b.store.delete_entity(entity, Some(&to.id)).await?;
    }
    b.store.save_entity(Some(&old_to), &to).await
}
