//! `sys/policy/*` (legacy, injected responses) and `sys/policies/acl/*`.

use serde_json::{json, Map};

use crate::core::policy_store::policy_name;
use crate::core::Core;
use crate::logical::{Error, Operation, Request, Response, Result};

pub async fn handle(core: &Core, req: &mut Request) -> Result<Option<Response>> {
    let legacy = req.route.starts_with("policy");
    let Some(name) = req.params.get("name").map(|n| policy_name(n)) else {
        return list(core, legacy).await;
    };
    match req.operation {
        Operation::Read => {
            let Some(text) = core.policies.get_raw(&name).await? else {
                return Ok(None);
            };
            let mut data = Map::new();
            data.insert("name".into(), json!(name));
            data.insert(if legacy { "rules" } else { "policy" }.into(), json!(text));
            Ok(Some(Response::data(data)))
        }
        Operation::Create | Operation::Update => {
            let mut warnings = Vec::new();
            let text = match req.data.str("policy")? {
                Some(text) => text,
                None if legacy && req.data.contains("rules") => {
                    warnings.push("'rules' is deprecated, please use 'policy' instead".to_string());
                    req.data.str("rules")?.unwrap_or_default()
                }
                None => String::new(),
            };
            if text.trim().is_empty() {
                return Err(Error::bad_request(
                    "'policy' parameter not supplied or empty",
                ));
            }
            core.policies.set(&name, &text).await?;
            if warnings.is_empty() {
                Ok(None)
            } else {
                Ok(Some(Response {
                    warnings,
                    ..Default::default()
                }))
            }
        }
        Operation::Delete => {
            core.policies.delete(&name).await?;
            Ok(None)
        }
        _ => Err(Error::UnsupportedOperation),
    }
}

/// Both list forms include `root`, which exists without being stored;
/// Vault appends it after the sorted stored names.
async fn list(core: &Core, legacy: bool) -> Result<Option<Response>> {
    let mut names = core.policies.list().await?;
    names.push("root".into());
    let mut data = Map::new();
    data.insert("keys".into(), json!(names));
    if legacy {
        data.insert("policies".into(), json!(names));
    }
    Ok(Some(Response::data(data)))
}
