//! `random` and `hash`: randomness and digests that need no key; and
//! `cache-config`, the key cache size Vault reports. The backend's own key
//! cache has a fixed bound (it starts over when full, see `TransitBackend`),
//! so the size is kept and shown only.

use aws_lc_rs::digest;
use serde_json::json;

use super::ciphertext::{b64decode, b64encode};
use super::TransitBackend;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};

const RANDOM_FIELDS: &[Field] = &[
    Field::int("bytes"),
    Field::string("format"),
    Field::string("source"),
];
const HASH_FIELDS: &[Field] = &[
    Field::string("input"),
    Field::string("algorithm"),
    Field::string("format"),
];

pub(super) const PATHS: &[Path<TransitBackend>] = &[
    Path::new("random")
        .fields(&[RANDOM_FIELDS])
        .update(handler!(random)),
    Path::new("random/:urlbytes")
        .fields(&[RANDOM_FIELDS])
        .update(handler!(random)),
    Path::new("random/:source/:urlbytes")
        .fields(&[RANDOM_FIELDS])
        .update(handler!(random)),
    Path::new("hash")
        .fields(&[HASH_FIELDS])
        .update(handler!(hash)),
    Path::new("cache-config")
        .fields(&[&[Field::int("size")]])
        .read(handler!(read_cache_config))
        .update(handler!(write_cache_config)),
    Path::new("hash/:urlalgorithm")
        .fields(&[HASH_FIELDS])
        .update(handler!(hash)),
];

/// Vault's `hex` or `base64` output.
fn encode(format: &str, bytes: &[u8]) -> Result<String> {
    match format {
        "" | "base64" => Ok(b64encode(bytes)),
        "hex" => Ok(hex::encode(bytes)),
        other => Err(Error::BadRequest(format!(
            "unsupported encoding format {other}; must be \"hex\" or \"base64\""
        ))),
    }
}

async fn random(_: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let bytes = match req.param("urlbytes") {
        Ok(text) => text
            .parse::<i64>()
            .map_err(|e| Error::BadRequest(format!("error parsing url-set byte count: {e}")))?,
        Err(_) => req.data.int("bytes")?.unwrap_or(32),
    };
    let source = req
        .param("source")
        .map(str::to_string)
        .or_else(|_| req.data.str("source").map(Option::unwrap_or_default))?;
    if !matches!(source.as_str(), "" | "platform" | "all") {
        return Err(Error::BadRequest(format!(
            "unsupported entropy source {source:?}; must be \"platform\" or \"seal\", or \"all\""
        )));
    }
    if bytes < 1 {
        return Err(Error::bad_request("'bytes' cannot be less than 1"));
    }
    if bytes > 1024 * 1024 {
        return Err(Error::bad_request("'bytes' cannot be more than 1048576"));
    }
    let mut out = vec![0u8; bytes as usize];
    aws_lc_rs::rand::fill(&mut out).map_err(|_| Error::internal("no randomness"))?;
    let format = req.data.str("format")?.unwrap_or_default();
    let text = encode(&format, &out)?;
    Ok(Some(Response::data(
        json!({ "random_bytes": text })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )))
}

async fn hash(_: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = match req.param("urlalgorithm") {
        Ok(name) => name.to_string(),
        Err(_) => req.data.str("algorithm")?.unwrap_or_default(),
    };
    let alg: &'static digest::Algorithm = match name.as_str() {
        "" | "sha2-256" => &digest::SHA256,
        "sha2-224" => &digest::SHA224,
        "sha2-384" => &digest::SHA384,
        "sha2-512" => &digest::SHA512,
        "sha3-256" => &digest::SHA3_256,
        "sha3-384" => &digest::SHA3_384,
        "sha3-512" => &digest::SHA3_512,
        other => return Err(Error::BadRequest(format!("unsupported algorithm {other}"))),
    };
    let format = req.data.str("format")?.unwrap_or_else(|| "hex".to_string());
    let input = b64decode(&req.data.str("input")?.unwrap_or_default())?;
    let sum = digest::digest(alg, &input);
    let text = encode(&format, sum.as_ref())?;
    Ok(Some(Response::data(
        json!({ "sum": text })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )))
}

const CACHE_CONFIG: &str = "config/cache";

fn cache_size_response(size: i64) -> Option<Response> {
    Some(Response::data(
        json!({ "size": size })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    ))
}

async fn read_cache_config(_: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let size = req
        .storage
        .get_json::<i64>(CACHE_CONFIG)
        .await?
        .unwrap_or(0);
    Ok(cache_size_response(size))
}

async fn write_cache_config(_: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let size = req.data.int("size")?.unwrap_or(0);
    if size != 0 && size < 10 {
        return Err(Error::bad_request(
            "size must be 0 or a value greater or equal to 10",
        ));
    }
    req.storage.put_json(CACHE_CONFIG, &size).await?;
    Ok(cache_size_response(size))
}
