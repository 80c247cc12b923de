//! `sign`/`verify` with signing keys, and `hmac`/`verify` with any key's
//! HMAC key, single or batched.

use aws_lc_rs::hmac;
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::asymmetric::{self, HashAlgorithm, SignOptions};
use super::batch::{self, Item};
use super::ciphertext::{b64decode, b64encode, format, parse};
use super::policy::{KeyType, Policy};
use super::rsa_pss::PssSalt;
use super::{TransitBackend, NAME};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::util::keyed_hash::constant_time_eq;

const SIGN_FIELDS: &[Field] = &[
    Field::string("input"),
    Field::string("context"),
    Field::int("key_version"),
    Field::string("hash_algorithm"),
    Field::string("algorithm"),
    Field::bool("prehashed"),
    Field::string("signature_algorithm"),
    Field::string("marshaling_algorithm"),
    Field::string("salt_length"),
    Field::raw("batch_input"),
];
const VERIFY_FIELDS: &[Field] = &[Field::string("signature"), Field::string("hmac")];

pub(super) const PATHS: &[Path<TransitBackend>] = &[
    Path::new("sign/:name")
        .captures(NAME)
        .fields(&[SIGN_FIELDS])
        .update(handler!(sign)),
    Path::new("sign/:name/:urlalgorithm")
        .captures(NAME)
        .fields(&[SIGN_FIELDS])
        .update(handler!(sign)),
    Path::new("verify/:name")
        .captures(NAME)
        .fields(&[SIGN_FIELDS, VERIFY_FIELDS])
        .update(handler!(verify)),
    Path::new("verify/:name/:urlalgorithm")
        .captures(NAME)
        .fields(&[SIGN_FIELDS, VERIFY_FIELDS])
        .update(handler!(verify)),
    Path::new("hmac/:name")
        .captures(NAME)
        .fields(&[SIGN_FIELDS])
        .update(handler!(hmac_handler)),
    Path::new("hmac/:name/:urlalgorithm")
        .captures(NAME)
        .fields(&[SIGN_FIELDS])
        .update(handler!(hmac_handler)),
];

/// The hash of the path (`sign/k/sha2-512`), else `hash_algorithm`, else
/// `algorithm`; sha2-256 by default.
fn hash_name(req: &Request) -> Result<String> {
    if let Ok(name) = req.param("urlalgorithm") {
        return Ok(name.to_string());
    }
    let name = req.data.str("hash_algorithm")?.filter(|s| !s.is_empty());
    let name = match name {
        Some(n) => Some(n),
        None => req.data.str("algorithm")?.filter(|s| !s.is_empty()),
    };
    Ok(name.unwrap_or_else(|| "sha2-256".to_string()))
}

fn items(req: &Request) -> Result<(Vec<&Item>, bool)> {
    match batch::input(req)? {
        Some(items) => Ok((items, true)),
        None => Ok((vec![req.data.raw()], false)),
    }
}

fn answer(
    items: &[&Item],
    batched: bool,
    mut results: Vec<Result<Map<String, Value>>>,
) -> Result<Option<Response>> {
    if batched {
        return Ok(batch::respond(items, results, 0, &[]));
    }
    results
        .pop()
        .unwrap_or_else(|| Err(Error::internal("no result")))
        .map(|data| Some(Response::data(data)))
}

struct Signing {
    options: SignOptions,
    jws: bool,
}

fn signing(req: &Request, policy: &Policy) -> Result<Signing> {
    let name = hash_name(req)?;
    let hash = HashAlgorithm::parse(&name)
        .ok_or_else(|| Error::BadRequest(format!("invalid hash algorithm {name:?}")))?;
    let pss = match req
        .data
        .str("signature_algorithm")?
        .unwrap_or_default()
        .as_str()
    {
        "" | "pss" => Some(PssSalt::parse(
            &req.data.str("salt_length")?.unwrap_or_default(),
        )?),
        "pkcs1v15" => None,
        other => {
            return Err(Error::BadRequest(format!(
                "unsupported rsa signature algorithm {other}"
            )))
        }
    };
    let jws = match req
        .data
        .str("marshaling_algorithm")?
        .unwrap_or_default()
        .as_str()
    {
        "" | "asn1" => false,
        "jws" => true,
        other => {
            return Err(Error::BadRequest(format!(
                "invalid marshaling type {other:?}"
            )))
        }
    };
    if jws && policy.key_type.curve().is_none() && !policy.key_type.is_rsa() {
        return Err(Error::bad_request(
            "marshaling algorithm jws is only supported for ECDSA and RSA keys",
        ));
    }
    Ok(Signing {
        options: SignOptions {
            hash,
            prehashed: req.data.bool("prehashed")?.unwrap_or(false),
            pss,
        },
        jws,
    })
}

fn require_signing(policy: &Policy) -> Result<()> {
    if !policy.key_type.supports_signing() {
        return Err(Error::BadRequest(format!(
            "key type {} does not support signing",
            policy.key_type.as_str()
        )));
    }
    Ok(())
}

fn encode_signature(jws: bool, bytes: &[u8]) -> String {
    if jws {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    } else {
        b64encode(bytes)
    }
}

fn sign_one(policy: &Policy, how: &Signing, item: &Item) -> Result<Map<String, Value>> {
    let input = b64decode(&batch::text(item, "input"))?;
    let version = policy.encryption_version(batch::int(item, "key_version")?)?;
    let entry = policy.version(version)?;
    let mut out = Map::new();
    let mut sig = if policy.derived {
        let pair =
            asymmetric::derived_ed25519(&entry.key, &b64decode(&batch::text(item, "context"))?)?;
        // Vault's batch items name it `publickey`; [`sign`] renames it for
        // a single answer.
        out.insert(
            "publickey".into(),
            json!(b64encode(pair.public_key().as_ref())),
        );
        pair.sign(&input).as_ref().to_vec()
    } else {
        asymmetric::sign(entry, policy.key_type, &input, how.options)?
    };
    if how.jws && policy.key_type.curve().is_some() {
        sig = asymmetric::ecdsa_to_jws(policy.key_type, &sig)?;
    }
    out.insert("key_version".into(), json!(version));
    out.insert(
        "signature".into(),
        Value::String(format(version, &encode_signature(how.jws, &sig))),
    );
    Ok(out)
}

async fn sign(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let policy = b.load_existing(req, "signing key not found").await?;
    require_signing(&policy)?;
    let how = signing(req, &policy)?;
    let (items, batched) = items(req)?;
    let mut results: Vec<_> = items.iter().map(|i| sign_one(&policy, &how, i)).collect();
    if !batched {
        for out in results.iter_mut().flatten() {
            if let Some(key) = out.remove("publickey") {
                out.insert("public_key".into(), key);
            }
        }
    }
    answer(&items, batched, results)
}

fn verify_signature(policy: &Policy, how: &Signing, item: &Item) -> Result<bool> {
    let input = b64decode(&batch::text(item, "input"))?;
    let signature = batch::text(item, "signature");
    let (version, payload) = parse(&signature, "signature")?;
    let entry = policy.decryption_key(version)?;
    let decoded = if how.jws {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)
    } else {
        base64::engine::general_purpose::STANDARD.decode(payload)
    };
    let Ok(mut sig) = decoded else {
        return Err(Error::bad_request("supplied signature is invalid"));
    };
    if !how.jws && policy.key_type.curve().is_some() && !asymmetric::is_ecdsa_der(&sig) {
        return Err(Error::bad_request("supplied signature is invalid"));
    }
    if how.jws && policy.key_type.curve().is_some() {
        sig = asymmetric::ecdsa_from_jws(policy.key_type, &sig)
            .ok_or_else(|| Error::bad_request("supplied signature is invalid"))?;
    }
    if policy.derived {
        let pair =
            asymmetric::derived_ed25519(&entry.key, &b64decode(&batch::text(item, "context"))?)?;
        return Ok(asymmetric::verify_ed25519(
            pair.public_key().as_ref(),
            &input,
            &sig,
        ));
    }
    asymmetric::verify(entry, policy.key_type, &input, &sig, how.options)
}

fn hmac_algorithm(name: &str) -> Result<hmac::Algorithm> {
    Ok(match name {
        "sha2-224" => hmac::HMAC_SHA224,
        "sha2-256" => hmac::HMAC_SHA256,
        "sha2-384" => hmac::HMAC_SHA384,
        "sha2-512" => hmac::HMAC_SHA512,
        other => return Err(Error::BadRequest(format!("unsupported algorithm {other}"))),
    })
}

/// The HMAC key of a version: an `hmac` key's own bytes, else its HMAC key.
fn hmac_key(policy: &Policy, version: i64) -> Result<Vec<u8>> {
    let entry = policy.version(version)?;
    Ok(if policy.key_type == KeyType::Hmac {
        entry.key.clone()
    } else {
        entry.hmac_key.clone()
    })
}

fn hmac_one(policy: &Policy, alg: hmac::Algorithm, item: &Item) -> Result<Map<String, Value>> {
    let input = b64decode(&batch::text(item, "input"))?;
    let version = policy.encryption_version(batch::int(item, "key_version")?)?;
    let key = hmac_key(policy, version)?;
    let tag = hmac::sign(&hmac::Key::new(alg, &key), &input);
    let mut out = Map::new();
    out.insert(
        "hmac".into(),
        Value::String(format(version, &b64encode(tag.as_ref()))),
    );
    Ok(out)
}

async fn hmac_handler(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let policy = b.load_existing(req, "HMAC key not found").await?;
    let alg = hmac_algorithm(&hash_name(req)?)?;
    let (items, batched) = items(req)?;
    let results = items.iter().map(|i| hmac_one(&policy, alg, i)).collect();
    answer(&items, batched, results)
}

fn verify_hmac(policy: &Policy, alg: hmac::Algorithm, item: &Item) -> Result<bool> {
    let input = b64decode(&batch::text(item, "input"))?;
    let given = batch::text(item, "hmac");
    let (version, _) = parse(&given, "hmac")?;
    policy.decryption_key(version)?;
    let key = hmac_key(policy, version)?;
    let tag = hmac::sign(&hmac::Key::new(alg, &key), &input);
    let expected = format(version, &b64encode(tag.as_ref()));
    Ok(constant_time_eq(expected.as_bytes(), given.as_bytes()))
}

/// `POST verify/:name`: a `signature` against a signing key, or an `hmac`.
async fn verify(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let (items, batched) = items(req)?;
    let first = items[0];
    let has = |key: &str| !batch::text(first, key).is_empty();
    if !batched && !has("signature") && !has("hmac") {
        return Err(Error::bad_request(
            "neither a 'signature' nor an 'hmac' were given to verify",
        ));
    }
    if !batched && has("signature") && has("hmac") {
        return Err(Error::bad_request(
            "only one of 'signature' or 'hmac' may be given",
        ));
    }
    let policy = b
        .load_existing(req, "signature verification key not found")
        .await?;
    let results: Vec<Result<Map<String, Value>>> = if has("hmac") {
        let alg = hmac_algorithm(&hash_name(req)?)?;
        items
            .iter()
            .map(|i| verify_hmac(&policy, alg, i))
            .map(valid)
            .collect()
    } else {
        require_signing(&policy)?;
        let how = signing(req, &policy)?;
        items
            .iter()
            .map(|i| verify_signature(&policy, &how, i))
            .map(valid)
            .collect()
    };
    answer(&items, batched, results)
}

fn valid(result: Result<bool>) -> Result<Map<String, Value>> {
    result.map(|ok| {
        let mut out = Map::new();
        out.insert("valid".into(), json!(ok));
        out
    })
}
