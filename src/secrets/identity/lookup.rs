//! `identity/lookup/entity` and `identity/lookup/group`: find one by
//! exactly one of its id, its name, an alias id, or an alias's mount and
//! name. Nothing found is an empty answer (204), as Vault gives.

use super::{entities, groups, IdentityBackend};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};

const LOOKUP_FIELDS: &[Field] = &[
    Field::string("id"),
    Field::string("name"),
    Field::string("alias_id"),
    Field::string("alias_name"),
    Field::string("alias_mount_accessor"),
];

pub(super) const PATHS: &[Path<IdentityBackend>] = &[
    Path::new("lookup/entity")
        .fields(&[LOOKUP_FIELDS])
        .update(handler!(lookup_entity)),
    Path::new("lookup/group")
        .fields(&[LOOKUP_FIELDS])
        .update(handler!(lookup_group)),
];

/// The one criterion a lookup gives.
enum Query {
    Id(String),
    Name(String),
    AliasId(String),
    Alias { accessor: String, name: String },
}

impl Query {
    fn read(req: &Request) -> Result<Query> {
        let get = |field: &str| -> Result<Option<String>> {
            Ok(req.data.str(field)?.filter(|v| !v.is_empty()))
        };
        let alias_name = get("alias_name")?;
        let accessor = get("alias_mount_accessor")?;
        let alias = if alias_name.is_some() || accessor.is_some() {
            Some(Query::Alias {
                accessor: accessor.unwrap_or_default(),
                name: alias_name.unwrap_or_default(),
            })
        } else {
            None
        };
        let mut given: Vec<Query> = [
            get("id")?.map(Query::Id),
            get("name")?.map(Query::Name),
            get("alias_id")?.map(Query::AliasId),
            alias,
        ]
        .into_iter()
        .flatten()
        .collect();
        match given.len() {
            0 => Err(Error::bad_request("query parameter not supplied")),
            1 => match given.remove(0) {
                Query::Alias { accessor, name } if accessor.is_empty() || name.is_empty() => {
                    Err(Error::bad_request(
                        "both 'alias_name' and 'alias_mount_accessor' needs to be set",
                    ))
                }
                query => Ok(query),
            },
            _ => Err(Error::bad_request(
                "query parameter conflict; please supply distinct set of query parameters",
            )),
        }
    }
}

async fn lookup_entity(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let entity = match Query::read(req)? {
        Query::Id(id) => b.store.entity(&id).await?,
        Query::Name(name) => b.store.entity_by_name(&name).await?,
        Query::AliasId(id) => b.store.entity_by_alias_id(&id).await?,
        Query::Alias { accessor, name } => b.store.entity_by_alias(&accessor, &name).await?,
    };
    match entity {
        Some(entity) => Ok(Some(Response::data(entities::render(b, &entity).await?))),
        None => Ok(None),
    }
}

async fn lookup_group(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let group = match Query::read(req)? {
        Query::Id(id) => b.store.group(&id).await?,
        Query::Name(name) => b.store.group_by_name(&name).await?,
        Query::AliasId(id) => b.store.group_by_alias_id(&id).await?,
        Query::Alias { accessor, name } => b.store.group_by_alias(&accessor, &name).await?,
    };
    match group {
        Some(group) => Ok(Some(Response::data(groups::render(b, &group).await?))),
        None => Ok(None),
    }
}
