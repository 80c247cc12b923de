//! `sys/policy/*` (the older API: `rules` accepted, both names in lists)
//! and `sys/policies/acl/*`.

use serde_json::{json, Map};

use super::SystemBackend;
use crate::core::policy_store::policy_name;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};

const POLICY: &[Field] = &[Field::string("policy")];
/// The older API's name for `policy`.
const RULES: &[Field] = &[Field::string("rules")];

pub(super) const PATHS: &[Path<SystemBackend>] = &[
    Path::new("policy")
        .read(handler!(b, r => list(b, r, Api::Policy)))
        .list(handler!(b, r => list(b, r, Api::Policy))),
    Path::new("policy/:name")
        .fields(&[POLICY, RULES])
        .read(handler!(b, r => read(b, r, Api::Policy)))
        .update(handler!(b, r => write(b, r, Api::Policy)))
        .delete(handler!(delete)),
    Path::new("policies/acl").list(handler!(b, r => list(b, r, Api::Acl))),
    Path::new("policies/acl/:name")
        .fields(&[POLICY])
        .read(handler!(b, r => read(b, r, Api::Acl)))
        .update(handler!(b, r => write(b, r, Api::Acl)))
        .delete(handler!(delete)),
];

/// Which of the two policy APIs a request uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    /// `sys/policy`: reads answer `rules`, writes take it (deprecated).
    Policy,
    /// `sys/policies/acl`.
    Acl,
}

fn name(req: &Request) -> Result<String> {
    Ok(policy_name(req.param("name")?))
}

/// Both list forms include `root`, which exists without being stored;
/// Vault appends it after the sorted stored names.
async fn list(b: &SystemBackend, _req: &mut Request, api: Api) -> Result<Option<Response>> {
    let mut names = b.core()?.policies.list().await?;
    names.push("root".into());
    let mut data = Map::new();
    data.insert("keys".into(), json!(names));
    if api == Api::Policy {
        data.insert("policies".into(), json!(names));
    }
    Ok(Some(Response::data(data)))
}

async fn read(b: &SystemBackend, req: &mut Request, api: Api) -> Result<Option<Response>> {
    let name = name(req)?;
    let Some(text) = b.core()?.policies.get_raw(&name).await? else {
        return Ok(None);
    };
    let mut data = Map::new();
    data.insert("name".into(), json!(name));
    let key = match api {
        Api::Policy => "rules",
        Api::Acl => "policy",
    };
    data.insert(key.into(), json!(text));
    Ok(Some(Response::data(data)))
}

async fn write(b: &SystemBackend, req: &mut Request, api: Api) -> Result<Option<Response>> {
    let name = name(req)?;
    let mut warnings = Vec::new();
    let text = match req.data.str("policy")? {
        Some(text) => text,
        None if api == Api::Policy && req.data.contains("rules") => {
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
    b.core()?.policies.set(&name, &text).await?;
    if warnings.is_empty() {
        Ok(None)
    } else {
        Ok(Some(Response {
            warnings,
            ..Default::default()
        }))
    }
}

async fn delete(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = name(req)?;
    b.core()?.policies.delete(&name).await?;
    Ok(None)
}
