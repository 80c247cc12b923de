//! Importing CAs: a signed intermediate (`intermediate/set-signed`), and
//! bundles of CA certificates with or without their keys (`config/ca`,
//! `issuers/import/bundle`, `issuers/import/cert`).

use serde_json::{json, Map, Value};

use super::ca::{mount_has_no_aia, new_issuer_entry, set_defaults_if_missing, AIA_WARNING};
use super::cert_info::CertInfo;
use super::private_key::PrivateKey;
use super::public_key;
use super::store::{self, KeyEntry};
use super::PkiBackend;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("intermediate/set-signed")
        .fields(&[&[Field::string("certificate")]])
        .update(handler!(b, r => import(b, r, SIGNED_INTERMEDIATE))),
    Path::new("config/ca")
        .fields(&[PEM_BUNDLE])
        .update(handler!(b, r => import(b, r, BUNDLE))),
    Path::new("issuers/import/bundle")
        .fields(&[PEM_BUNDLE])
        .update(handler!(b, r => import(b, r, BUNDLE))),
    Path::new("issuers/import/cert")
        .fields(&[PEM_BUNDLE])
        .update(handler!(b, r => import(b, r, CERTIFICATES))),
];

const PEM_BUNDLE: &[Field] = &[Field::string("pem_bundle")];

/// What an import path reads: the field its PEM comes in, and whether
/// private keys may come with the certificates.
#[derive(Debug, Clone, Copy)]
struct Source {
    field: &'static str,
    keys: bool,
}

const SIGNED_INTERMEDIATE: Source = Source {
    field: "certificate",
    keys: false,
};
const BUNDLE: Source = Source {
    field: "pem_bundle",
    keys: true,
};
const CERTIFICATES: Source = Source {
    field: "pem_bundle",
    keys: false,
};

/// Imports the certificates (and keys, where the source allows them) of a
/// PEM bundle.
async fn import(
    backend: &PkiBackend,
    req: &mut Request,
    source: Source,
) -> Result<Option<Response>> {
    let field = source.field;
    let text = req.data.str_or(field, "")?;
    if text.trim().is_empty() {
        return Err(Error::bad_request(format!("'{field}' must be provided")));
    }
    // No PEM certificate fits in fewer bytes: most likely a file path.
    if text.len() < 75 {
        return Err(Error::bad_request(
            "provided data for import was too short; perhaps a path was passed to the API rather than the contents of a PEM file",
        ));
    }
    let blocks = pem::parse_many(text.as_bytes())
        .map_err(|e| Error::bad_request(format!("error parsing PEM bundle: {e}")))?;
    if blocks.is_empty() {
        return Err(Error::bad_request("no data found in PEM bundle"));
    }
    let mut new_keys = Vec::new();
    let mut new_certs = Vec::new();
    for block in &blocks {
        match block.tag() {
            "CERTIFICATE" => {
                let info = CertInfo::parse(block.contents()).map_err(Error::bad_request)?;
                // Go reads no public key of another algorithm (Ed448, X25519).
                if public_key::info(&info.spki)
                    .and_then(|k| k.key_type)
                    .is_none()
                {
                    return Err(Error::bad_request(
                        "Refusing to import CA certificate with empty PublicKey",
                    ));
                }
                new_certs.push(info);
            }
            "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "PRIVATE KEY" => {
                if !source.keys {
                    return Err(Error::bad_request("private keys found in the PEM bundle but not allowed by the path; use /issuers/import/bundle"));
                }
                let key = PrivateKey::from_der(block.tag(), block.contents())
                    .map_err(Error::bad_request)?;
                new_keys.push(key);
            }
            other => {
                return Err(Error::bad_request(format!(
                    "unknown PEM block type in bundle: {other}"
                )))
            }
        }
    }
    for cert in &new_certs {
        if !cert.is_ca {
            return Err(Error::bad_request(format!(
                "refusing to import non-CA certificate (serial {}) as an issuer",
                cert.serial_string()
            )));
        }
    }
    let _guard = backend.write_lock.lock().await;
    let mut stored_keys = store::list_keys(&req.storage).await?;
    let key_bytes_of = |pem_text: &str| -> Option<Vec<u8>> {
        let k = PrivateKey::from_pem(pem_text).ok()?;
        public_key::info(&k.spki().ok()?).map(|i| i.key_bytes)
    };
    let mut known: Vec<(String, Vec<u8>)> = stored_keys
        .iter()
        .filter_map(|k| key_bytes_of(&k.private_key).map(|b| (k.id.clone(), b)))
        .collect();
    let (mut imported_keys, mut existing_keys) = (Vec::new(), Vec::new());
    for key in new_keys {
        let spki = key.spki().map_err(Error::internal)?;
        let bytes = public_key::info(&spki)
            .map(|i| i.key_bytes)
            .unwrap_or_default();
        if let Some((id, _)) = known.iter().find(|(_, b)| *b == bytes) {
            existing_keys.push(id.clone());
            continue;
        }
        let entry = KeyEntry {
            id: store::new_id(),
            name: String::new(),
            key_type: key.key_type().as_str().into(),
            private_key: key.to_pem().map_err(Error::internal)?,
        };
        store::put_key(&req.storage, &entry).await?;
        known.push((entry.id.clone(), bytes));
        imported_keys.push(entry.id.clone());
        stored_keys.push(entry);
    }
    let existing = store::list_issuer_entries(&req.storage).await?;
    let (mut imported_issuers, mut existing_issuers) = (Vec::new(), Vec::new());
    let mut mapping = Map::new();
    let mut first_with_key: Option<String> = None;
    for cert in &new_certs {
        let key_bytes = public_key::info(&cert.spki)
            .map(|i| i.key_bytes)
            .unwrap_or_default();
        let key_id = known
            .iter()
            .find(|(_, b)| *b == key_bytes)
            .map(|(id, _)| id.clone())
            .unwrap_or_default();
        let pem_text = cert.pem();
        if let Some(found) = existing.iter().find(|e| e.certificate.trim() == pem_text) {
            existing_issuers.push(found.id.clone());
            let mut found = found.clone();
            if found.key_id.is_empty() && !key_id.is_empty() {
                found.key_id = key_id.clone();
                store::put_issuer(&req.storage, &found).await?;
            }
            mapping.insert(found.id.clone(), json!(found.key_id));
            continue;
        }
        let entry = new_issuer_entry(
            store::new_id(),
            String::new(),
            key_id.clone(),
            pem_text,
            String::new(),
        );
        store::put_issuer(&req.storage, &entry).await?;
        if !key_id.is_empty() && first_with_key.is_none() {
            first_with_key = Some(entry.id.clone());
        }
        mapping.insert(entry.id.clone(), json!(key_id));
        imported_issuers.push(entry.id.clone());
    }
    if let Some(id) = &first_with_key {
        set_defaults_if_missing(req, Some(id), "").await?;
    }
    if let Some(k) = imported_keys.first() {
        set_defaults_if_missing(req, None, k).await?;
    }
    backend.invalidate();
    let list_or_null = |v: Vec<String>| if v.is_empty() { Value::Null } else { json!(v) };
    let mut data = Map::new();
    data.insert("imported_issuers".into(), list_or_null(imported_issuers));
    data.insert("imported_keys".into(), list_or_null(imported_keys));
    data.insert("existing_issuers".into(), list_or_null(existing_issuers));
    data.insert("existing_keys".into(), list_or_null(existing_keys));
    data.insert("mapping".into(), Value::Object(mapping));
    let mut resp = Response::data(data);
    if mount_has_no_aia(req).await? {
        resp.warnings.push(AIA_WARNING.into());
    }
    Ok(Some(resp))
}
