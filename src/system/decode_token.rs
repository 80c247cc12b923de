//! `sys/decode-token`: the root token a completed `sys/generate-root`
//! handed out encoded, recovered with the attempt's one-time pad.

use serde_json::{json, Map};

use super::SystemBackend;
use crate::core::root_generation::decode_token;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Request, Response, Result};

pub(super) const PATHS: &[Path<SystemBackend>] = &[Path::new("decode-token")
    .fields(&[&[Field::string("encoded_token"), Field::string("otp")]])
    .update(handler!(decode))];

async fn decode(_b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let encoded = req.data.str_or("encoded_token", "")?;
    let otp = req.data.str_or("otp", "")?;
    let mut data = Map::new();
    data.insert("token".into(), json!(decode_token(&encoded, &otp)?));
    Ok(Some(Response::data(data)))
}
