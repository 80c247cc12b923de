//! `encrypt`, `decrypt`, `rewrap` and `datakey`, single or batched.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::batch::{self, Item};
use super::ciphertext::{
    b64decode, b64encode, convergent_keys, encryption_key, format, open, parse, seal,
};
use super::policy::{KeyType, NewKey, Policy};
use super::{key_name, TransitBackend, NAME};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Operation, Request, Response, Result};

const COMMON: &[Field] = &[
    Field::string("context"),
    Field::string("nonce"),
    Field::raw("batch_input"),
    Field::int("partial_failure_response_code"),
];

pub(super) const PATHS: &[Path<TransitBackend>] = &[
    Path::new("encrypt/:name")
        .captures(NAME)
        .fields(&[
            COMMON,
            &[
                Field::string("plaintext"),
                Field::int("key_version"),
                Field::string("type"),
                Field::bool("convergent_encryption"),
                Field::string("associated_data"),
            ],
        ])
        .existence_check(|b, r| Box::pin(key_exists(b, r)))
        .update(handler!(encrypt)),
    Path::new("decrypt/:name")
        .captures(NAME)
        .fields(&[
            COMMON,
            &[
                Field::string("ciphertext"),
                Field::string("associated_data"),
            ],
        ])
        .update(handler!(decrypt)),
    Path::new("rewrap/:name")
        .captures(NAME)
        .fields(&[
            COMMON,
            &[Field::string("ciphertext"), Field::int("key_version")],
        ])
        .update(handler!(rewrap)),
    Path::new("datakey/:plaintext/:name")
        .captures(NAME)
        .fields(&[&[
            Field::string("context"),
            Field::string("nonce"),
            Field::int("bits"),
            Field::int("key_version"),
        ]])
        .update(handler!(datakey)),
];

async fn key_exists(b: &TransitBackend, req: &Request) -> Result<bool> {
    Ok(b.load(&req.storage, &key_name(req)?).await?.is_some())
}

/// The request's items: its `batch_input`, or the request's own fields.
fn items(req: &Request) -> Result<(Vec<&Item>, bool)> {
    match batch::input(req)? {
        Some(items) => Ok((items, true)),
        None => Ok((vec![req.data.raw()], false)),
    }
}

/// A single answer, or the batch's.
fn answer(
    req: &Request,
    items: &[&Item],
    batched: bool,
    mut results: Vec<Result<Map<String, Value>>>,
    empty_fields: &[&str],
) -> Result<Option<Response>> {
    if batched {
        let code = req.data.int("partial_failure_response_code")?.unwrap_or(0);
        return Ok(batch::respond(items, results, code, empty_fields));
    }
    results
        .pop()
        .unwrap_or_else(|| Err(Error::internal("no result")))
        .map(|data| Some(Response::data(data)))
}

fn decoded(item: &Item, key: &str) -> Result<Vec<u8>> {
    b64decode(&batch::text(item, key))
}

fn encrypt_one(policy: &Policy, item: &Item) -> Result<Map<String, Value>> {
    let plaintext = batch::text(item, "plaintext");
    let plaintext = b64decode(&plaintext)?;
    let context = decoded(item, "context")?;
    let aad = decoded(item, "associated_data")?;
    let version = policy.encryption_version(batch::int(item, "key_version")?)?;
    let entry = policy.version(version)?;
    let sealed = if policy.convergent_encryption {
        let (key, nonce_key) = convergent_keys(entry, &context)?;
        seal(policy.key_type, &key, &plaintext, &aad, Some(&nonce_key))?
    } else {
        let key = encryption_key(policy, entry, &context)?;
        seal(policy.key_type, &key, &plaintext, &aad, None)?
    };
    let mut out = Map::new();
    out.insert("ciphertext".into(), Value::String(format(version, &sealed)));
    out.insert("key_version".into(), json!(version));
    Ok(out)
}

fn decrypt_value(policy: &Policy, item: &Item) -> Result<Vec<u8>> {
    let ciphertext = batch::text(item, "ciphertext");
    if ciphertext.is_empty() {
        return Err(Error::bad_request("missing ciphertext to decrypt"));
    }
    let (version, payload) = parse(&ciphertext, "ciphertext")?;
    let entry = policy.decryption_key(version)?;
    let context = decoded(item, "context")?;
    let aad = decoded(item, "associated_data")?;
    let key = encryption_key(policy, entry, &context)?;
    open(policy.key_type, &key, payload, &aad)
}

fn require_encryption(policy: &Policy) -> Result<()> {
    if policy.key_type.supports_encryption() {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "message encryption not supported for key type {}",
            policy.key_type.as_str()
        )))
    }
}

/// `POST encrypt/:name`: creates the key on first use (upsert), as Vault.
async fn encrypt(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let (items, batched) = items(req)?;
    for (i, item) in items.iter().enumerate() {
        if !item.contains_key("plaintext") {
            return Err(if batched {
                Error::BadRequest(format!(
                    "failed to parse batch input: '[{i}].plaintext' missing plaintext to encrypt"
                ))
            } else {
                Error::bad_request("missing plaintext to encrypt")
            });
        }
    }
    let name = key_name(req)?;
    let policy = match b.load(&req.storage, &name).await? {
        Some(policy) => policy,
        None if req.operation == Operation::Create => {
            let _guard = b.write_lock.lock().await;
            match b.load(&req.storage, &name).await? {
                Some(policy) => policy,
                None => {
                    let key_type = match req.data.str("type")?.filter(|t| !t.is_empty()) {
                        Some(t) => KeyType::parse(&t)?,
                        None => KeyType::Aes256Gcm96,
                    };
                    if !key_type.supports_encryption() {
                        return Err(Error::BadRequest(format!(
                            "unknown key type: {}",
                            key_type.as_str()
                        )));
                    }
                    let derived = items.iter().any(|i| !batch::text(i, "context").is_empty());
                    let policy = Policy::create(
                        &name,
                        NewKey {
                            key_type,
                            derived,
                            convergent_encryption: req
                                .data
                                .bool("convergent_encryption")?
                                .unwrap_or(false),
                            exportable: false,
                            allow_plaintext_backup: false,
                            auto_rotate_period: 0,
                            key_size: 0,
                        },
                    )?;
                    b.save(&req.storage, policy).await?
                }
            }
        }
        None => return Err(Error::bad_request("encryption key not found")),
    };
    require_encryption(&policy)?;
    let results = items.iter().map(|i| encrypt_one(&policy, i)).collect();
    answer(req, &items, batched, results, &[])
}

/// The ciphertexts of a decrypt or rewrap and the key they are under.
async fn ciphertexts<'r>(
    b: &TransitBackend,
    req: &'r Request,
) -> Result<(Vec<&'r Item>, bool, Arc<Policy>)> {
    let (items, batched) = items(req)?;
    if !batched && batch::text(items[0], "ciphertext").is_empty() {
        return Err(Error::bad_request("missing ciphertext to decrypt"));
    }
    let policy = b.load_existing(req, "encryption key not found").await?;
    require_encryption(&policy)?;
    Ok((items, batched, policy))
}

async fn decrypt(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let (items, batched, policy) = ciphertexts(b, req).await?;
    let results = items
        .iter()
        .map(|item| {
            decrypt_value(&policy, item).map(|plain| {
                let mut out = Map::new();
                out.insert("plaintext".into(), json!(b64encode(&plain)));
                out
            })
        })
        .collect();
    answer(req, &items, batched, results, &["plaintext"])
}

/// `POST rewrap/:name`: decrypts and encrypts again under the latest (or
/// the requested) version, without showing the plaintext.
async fn rewrap(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let (items, batched, policy) = ciphertexts(b, req).await?;
    let results = items
        .iter()
        .map(|item| {
            let plain = decrypt_value(&policy, item)?;
            let mut again = Item::clone(item);
            again.insert("plaintext".into(), json!(b64encode(&plain)));
            again.remove("associated_data");
            encrypt_one(&policy, &again)
        })
        .collect();
    answer(req, &items, batched, results, &[])
}

/// `POST datakey/(plaintext|wrapped)/:name`: a new random key, encrypted
/// under the named key, and shown in clear for `plaintext`.
async fn datakey(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let show = match req.param("plaintext")? {
        "plaintext" => true,
        "wrapped" => false,
        _ => {
            return Err(Error::bad_request(
                "Invalid path, must be 'plaintext' or 'wrapped'",
            ))
        }
    };
    let policy = b.load_existing(req, "encryption key not found").await?;
    require_encryption(&policy)?;
    let bits = req.data.int("bits")?.unwrap_or(256);
    if !matches!(bits, 128 | 256 | 512) {
        return Err(Error::bad_request("invalid bit length"));
    }
    let mut new_key = vec![0u8; (bits / 8) as usize];
    aws_lc_rs::rand::fill(&mut new_key).map_err(|_| Error::internal("no randomness"))?;
    let mut item = req.data.raw().clone();
    item.insert("plaintext".into(), json!(b64encode(&new_key)));
    let mut data = encrypt_one(&policy, &item)?;
    if show {
        data.insert("plaintext".into(), json!(b64encode(&new_key)));
    }
    Ok(Some(Response::data(data)))
}
