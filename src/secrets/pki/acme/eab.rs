//! External account binding (RFC 8555 §7.3.4) as Vault serves it: an
//! operator mints a single-use HMAC key for one directory (`new-eab`,
//! token-authenticated), lists (`LIST eab`) or deletes (`eab/:key_id`)
//! the unused ones, and `new-account` checks the binding a client signs
//! over its account key with it; see
//! https://developer.hashicorp.com/vault/api-docs/secret/pki/issuance#acme-external-account-bindings.

use std::collections::BTreeMap;

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::super::PkiBackend;
use super::problem::{AcmeResult, Kind, Problem};
use super::state::{self, Account};
use super::Directory;
use crate::handler;
use crate::logical::framework::{Capture, Field, Path};
use crate::logical::{Request, Response, Result};
use crate::storage::StorageView;

pub(in crate::secrets::pki) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("eab")
        .fields(&[super::super::certs::PAGE])
        .list(handler!(list)),
    Path::new("eab/:key_id")
        .captures(&[("key_id", Capture::Uuid)])
        .fields(&[&[Field::string("key_id")]])
        .delete(handler!(delete)),
];

/// Every key starts with these characters once encoded (their 9 bytes
/// decoded lead the key), so no key string starts with `-`.
const KEY_PREFIX: &str = "vault-eab-0-";

/// An unused binding key, stored under `acme/eab/<id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EabKey {
    id: String,
    /// The HMAC key, base64url as handed out.
    key: String,
    /// The directory prefix it binds accounts of (`acme/`,
    /// `roles/web/acme/`, ...).
    directory: String,
    created: i64,
}

/// What an account keeps of the key that bound it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub id: String,
    pub directory: String,
    pub created: i64,
}

fn storage_key(id: &str) -> String {
    format!("acme/eab/{id}")
}

async fn load(storage: &StorageView, id: &str) -> Result<Option<EabKey>> {
    if !state::valid_id(id) {
        return Ok(None);
    }
    Ok(storage.get_json(&storage_key(id)).await?)
}

/// Deletes a key; whether it was there (a binding is used at most once).
async fn remove(storage: &StorageView, id: &str) -> Result<bool> {
    if load(storage, id).await?.is_none() {
        return Ok(false);
    }
    storage.delete(&storage_key(id)).await?;
    Ok(true)
}

/// Deletes the unused keys minted before `cutoff` (tidy).
pub(super) async fn delete_unused_before(storage: &StorageView, cutoff: i64) -> Result<()> {
    for id in storage.list_leaves("acme/eab/").await? {
        if load(storage, &id)
            .await?
            .is_some_and(|k| k.created < cutoff)
        {
            storage.delete(&storage_key(&id)).await?;
        }
    }
    Ok(())
}

/// `new-eab` under a directory: a fresh key bound to that directory (the
/// directory need not serve ACME yet, as in Vault).
pub async fn new_eab(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let mut secret = vec![0u8; 32];
    aws_lc_rs::rand::fill(&mut secret)
        .map_err(|_| crate::logical::Error::internal("failed generating eab key"))?;
    let prefix = URL_SAFE_NO_PAD
        .decode(KEY_PREFIX)
        .map_err(|_| crate::logical::Error::internal("bad eab key prefix"))?;
    let eab = EabKey {
        id: state::new_id(),
        key: URL_SAFE_NO_PAD.encode([prefix, secret].concat()),
        directory: super::directory_prefix(req),
        created: state::now(),
    };
    req.storage.put_json(&storage_key(&eab.id), &eab).await?;
    // Vault's keys come out sorted.
    let data: BTreeMap<String, Value> = info(&eab)
        .into_iter()
        .chain([("id".into(), json!(eab.id)), ("key".into(), json!(eab.key))])
        .collect();
    Ok(Some(Response::data(data.into_iter().collect())))
}

/// What `LIST eab` shows of a key.
fn info(eab: &EabKey) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "acme_directory".into(),
        json!(format!("{}directory", eab.directory)),
    );
    m.insert("created_on".into(), json!(state::rfc3339(eab.created)));
    m.insert("key_type".into(), json!("hs"));
    m
}

/// LIST `eab`: the unused keys, paged with `after` and `limit` as OpenBao
/// pages them.
async fn list(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let mut keys = Vec::new();
    let mut key_info = Map::new();
    let after = req.data.str_or("after", "")?;
    let limit = req.data.int_or("limit", 0)?.max(0) as usize;
    for id in req.storage.list_page("acme/eab/", &after, limit).await? {
        if let Some(eab) = load(&req.storage, &id).await? {
            key_info.insert(eab.id.clone(), Value::Object(info(&eab)));
            keys.push(eab.id);
        }
    }
    Ok(Some(super::super::list_with_info(keys, key_info)))
}

/// Deleting an unknown or used key succeeds with a warning, as in Vault.
async fn delete(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let id = req.param("key_id")?.to_string();
    let response = Response::default();
    if remove(&req.storage, &id).await? {
        return Ok(Some(response));
    }
    Ok(Some(
        response.with_warning(format!("No key id found with id: {id}")),
    ))
}

fn text<'a>(binding: &'a Map<String, Value>, name: &str, missing: &str) -> AcmeResult<&'a str> {
    match binding.get(name) {
        None => Err(Problem::malformed(missing)),
        Some(v) => v
            .as_str()
            .ok_or_else(|| Problem::malformed(format!("failed to parse '{name}' field"))),
    }
}

fn refused() -> Problem {
    Problem::after(Kind::Unauthorized, "failed to verify eab")
}

/// Checks the `externalAccountBinding` of a `new-account` request signed
/// by the key whose `jwk` member reads `jwk_text`, in Vault's order:
/// the inner header (`kid`, an HMAC `alg`, this URL, no `nonce`), the
/// key (known, this directory's), the MAC, and the payload (the outer
/// `jwk`, byte for byte). A wrong MAC is refused as an unknown key is.
pub async fn verify(dir: &Directory, binding: &Value, jwk_text: &str) -> AcmeResult<Binding> {
    let Value::Object(binding) = binding else {
        return Err(Problem::after(
            Kind::Malformed,
            "externalAccountBinding field was unparseable",
        ));
    };
    let protected = text(binding, "protected", "missing required field 'protected'")?;
    let header_bytes = URL_SAFE_NO_PAD
        .decode(protected)
        .map_err(|e| Problem::malformed(format!("failed to base64 parse eab 'protected': {e}")))?;
    let header: Map<String, Value> = serde_json::from_slice(&header_bytes).map_err(|e| {
        Problem::malformed(format!("failed to json unmarshal eab 'protected': {e}"))
    })?;
    let member = |name: &str| header.get(name).and_then(Value::as_str).unwrap_or("");
    let kid = member("kid");
    if kid.is_empty() {
        return Err(Problem::malformed(
            "failed to json unmarshal eab 'protected': invalid header: got missing required field 'kid'",
        ));
    }
    let algorithm = match member("alg") {
        "HS256" => hmac::HMAC_SHA256,
        "HS384" => hmac::HMAC_SHA384,
        "HS512" => hmac::HMAC_SHA512,
        _ => return Err(Problem::malformed(
            "failed to json unmarshal eab 'protected': invalid header: unexpected value for 'algo'",
        )),
    };
    let url = member("url");
    if url.is_empty() {
        return Err(Problem::malformed(
            "missing required parameter 'url' in eab 'protected'",
        ));
    }
    if url != dir.url {
        return Err(Problem::new(
            Kind::Unauthorized,
            format!(
                "invalid value for 'url' in eab 'protected': got '{url}' expected '{}'",
                dir.url
            ),
        ));
    }
    if !member("nonce").is_empty() {
        return Err(Problem::malformed(
            "nonce should not be provided in eab 'protected'",
        ));
    }
    let payload = text(binding, "payload", "missing required field eab 'payload'")?;
    let signature = text(binding, "signature", "missing required field 'signature'")?;
    let eab = load(&dir.storage, kid).await?.ok_or_else(refused)?;
    let secret = URL_SAFE_NO_PAD.decode(&eab.key).map_err(|_| refused())?;
    let mac = URL_SAFE_NO_PAD.decode(signature).map_err(|_| refused())?;
    let key = hmac::Key::new(algorithm, &secret);
    hmac::verify(&key, format!("{protected}.{payload}").as_bytes(), &mac).map_err(|_| refused())?;
    let signed = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| Problem::malformed(format!("failed to base64 parse eab 'payload': {e}")))?;
    if signed != jwk_text.as_bytes() {
        return Err(Problem::malformed(
            "eab payload does not match outer JWK key",
        ));
    }
    if eab.directory != dir.prefix {
        return Err(refused());
    }
    Ok(Binding {
        id: eab.id,
        directory: eab.directory,
        created: eab.created,
    })
}

/// Spends the key of a verified binding before its account is created: a
/// key that is gone by now was used by a concurrent request.
pub async fn consume(dir: &Directory, binding: &Binding) -> AcmeResult<()> {
    if remove(&dir.storage, &binding.id).await? {
        Ok(())
    } else {
        Err(Problem::new(Kind::Unauthorized, "eab was already used"))
    }
}

/// Under `eab_policy=always-required`, accounts created without a binding
/// are refused (Vault's rule for existing accounts).
pub fn enforce_for_existing(dir: &Directory, account: &Account) -> AcmeResult<()> {
    if dir.config.eab_policy == "always-required" && account.eab.is_none() {
        return Err(required());
    }
    Ok(())
}

/// Under any policy but `not-required`, a new account needs a binding.
pub fn enforce_for_new(dir: &Directory, binding: Option<&Binding>) -> AcmeResult<()> {
    if dir.config.eab_required() && binding.is_none() {
        return Err(required());
    }
    Ok(())
}

fn required() -> Problem {
    Problem::exact(
        Kind::ExternalAccountRequired,
        Kind::ExternalAccountRequired.sentence(),
    )
}
