//! `sys/wrapping/*`: wrapping arbitrary data, and looking up, unwrapping
//! and rewrapping wrapping tokens. The core has checked, before anything
//! else, that the token named (in the body, else the request's own) is a
//! live wrapping token; a token from the body is spent here, one presented
//! as the request's token by the core's use count.

use serde_json::Value;

use super::SystemBackend;
use crate::core::Core;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::TokenEntry;
use crate::logical::{envelope, Error, ForcedWrap, Request, Response, Result};

const TOKEN: &[Field] = &[Field::string("token")];

pub(super) const PATHS: &[Path<SystemBackend>] = &[
    Path::new("wrapping/wrap")
        .arbitrary_fields()
        .update(handler!(wrap)),
    Path::new("wrapping/lookup")
        .unauthenticated()
        .fields(&[TOKEN])
        .read(handler!(lookup))
        .update(handler!(lookup)),
    Path::new("wrapping/unwrap")
        .fields(&[TOKEN])
        .update(handler!(unwrap)),
    Path::new("wrapping/rewrap")
        .fields(&[TOKEN])
        .update(handler!(rewrap)),
];

/// The data, to be wrapped by the core: the endpoint is useless otherwise.
async fn wrap(_b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    if req.wrap.is_none() {
        return Err(Error::bad_request(
            "endpoint requires response wrapping to be used",
        ));
    }
    Ok(Some(Response::data(req.data.raw().clone())))
}

/// The wrapping token a request names, and whether it came from the body
/// (a third party's token, which the handler must spend itself).
async fn named_token(core: &Core, req: &Request) -> Result<(TokenEntry, bool)> {
    match req.data.str("token")?.filter(|t| !t.is_empty()) {
        Some(token) => Ok((core.wrapping_token(&token).await?, true)),
        None => match req.token.clone() {
            Some(entry) if crate::core::wrapping::is_wrapping_token(&entry) => Ok((entry, false)),
            _ => Err(crate::core::wrapping::invalid_wrapping_token()),
        },
    }
}

/// The token's creation TTL, time and path; the token keeps its use.
async fn lookup(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let core = b.core()?;
    let (entry, _) = named_token(&core, req).await?;
    Ok(Some(Response::data(core.wrapping_info(&entry).await?)))
}

/// Takes the wrapped response out of a token, spending it.
async fn take_response(core: &Core, entry: &TokenEntry, from_body: bool) -> Result<String> {
    if from_body {
        core.spend_wrapping_token(entry).await?;
        let taken = core.wrapped_response(entry).await;
        core.discard_wrapping_token(entry).await?;
        return taken;
    }
    // The core spent the request's own token and revokes it afterwards.
    core.wrapped_response(entry).await
}

/// The wrapped response, exactly as the client would have had it.
async fn unwrap(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let core = b.core()?;
    let (entry, from_body) = named_token(&core, req).await?;
    let body = take_response(&core, &entry, from_body).await?;
    if body.is_empty() {
        return Ok(Some(Response::raw(204, "application/json", Vec::new())));
    }
    let parsed: Value = serde_json::from_str(&body)
        .map_err(|e| Error::internal(format!("error decoding wrapped response: {e}")))?;
    if let Some((status, content_type, raw)) = envelope::raw_of(&parsed) {
        return Ok(Some(Response::raw(status, &content_type, raw)));
    }
    Ok(Some(Response::raw(
        200,
        "application/json",
        body.into_bytes(),
    )))
}

/// The same response in a new wrapping token with the old one's TTL and
/// creation path; the old token is spent.
async fn rewrap(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let core = b.core()?;
    let (entry, from_body) = named_token(&core, req).await?;
    let info = core.wrapping_info(&entry).await?;
    let body = take_response(&core, &entry, from_body).await?;
    Ok(Some(Response {
        forced_wrap: Some(ForcedWrap {
            ttl: info
                .get("creation_ttl")
                .and_then(Value::as_i64)
                .unwrap_or_default(),
            creation_path: info
                .get("creation_path")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            body,
        }),
        ..Default::default()
    }))
}
