//! `subkeys/*path`: the shape of a version's data without its values.

use serde_json::{Map, Value};

use super::{load_version_data, not_found_with, path_param, requested_version, KvV2Backend};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::util::gotime::now_nanos;

const FIELDS: &[Field] = &[Field::int("version"), Field::int("depth")];

pub(super) const PATHS: &[Path<KvV2Backend>] = &[Path::new("subkeys/*path")
    .fields(&[FIELDS])
    .read(handler!(read))];

async fn read(b: &KvV2Backend, req: &mut Request) -> Result<Option<Response>> {
    let path = path_param(req)?;
    let depth = req.data.int("depth")?.unwrap_or(0);
    if depth < 0 {
        return Err(Error::bad_request("depth must be a non-negative integer"));
    }
    let _guard = b.lock_for(&path).read().await;
    let Some((meta, version, vm)) = requested_version(req, &path).await? else {
        return Ok(None);
    };
    let mut data = Map::new();
    data.insert(
        "metadata".into(),
        Value::Object(meta.version_json(version, &vm)),
    );
    data.insert("subkeys".into(), Value::Null);
    if vm.is_deleted(now_nanos()) || vm.destroyed {
        return Ok(Some(not_found_with(data)));
    }
    let stored = load_version_data(req, &path, version).await?;
    data.insert("subkeys".into(), Value::Object(subkeys(&stored, depth, 1)));
    Ok(Some(Response::data(data)))
}

/// The key's subkeys: every leaf (and every map beyond `depth`) is null.
fn subkeys(data: &Map<String, Value>, depth: i64, level: i64) -> Map<String, Value> {
    data.iter()
        .map(|(key, value)| {
            let sub = match value {
                Value::Object(map) if depth == 0 || level < depth => {
                    Value::Object(subkeys(map, depth, level + 1))
                }
                _ => Value::Null,
            };
            (key.clone(), sub)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subkeys_null_the_leaves_down_to_depth() {
        let data = json!({"a": 1, "n": {"y": [1], "z": {"q": 1}}});
        let map = data.as_object().cloned().unwrap_or_default();
        assert_eq!(
            Value::Object(subkeys(&map, 0, 1)),
            json!({"a": null, "n": {"y": null, "z": {"q": null}}})
        );
        assert_eq!(
            Value::Object(subkeys(&map, 1, 1)),
            json!({"a": null, "n": null})
        );
    }
}
