//! The certificate store (`certs/<serial>`, DER), its listings (`certs`,
//! `certs/revoked`) and the encodings of certificates in responses.

use base64::Engine;
use serde_json::{json, Value};

use super::der;
use super::PkiBackend;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::storage::StorageView;

/// Pagination (Vault 1.18+ and OpenBao).
pub(super) const PAGE: &[Field] = &[Field::string("after"), Field::int("limit")];

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("certs")
        .fields(&[PAGE])
        .list(handler!(b, r => list(b, r, CERT_PREFIX))),
    Path::new("certs/revoked")
        .fields(&[PAGE])
        .list(handler!(b, r => list(b, r, REVOKED_PREFIX))),
];

/// `format`, read by [`Format::from_request`].
pub const FORMAT_FIELD: &[Field] = &[Field::string("format")];

/// `private_key_format`, read by [`private_key_output`].
pub const PRIVATE_KEY_FORMAT_FIELD: &[Field] = &[Field::string("private_key_format")];

pub const CERT_PREFIX: &str = "certs/";
pub const REVOKED_PREFIX: &str = "revoked/";

/// Storage form of a serial: lowercase, `-`-separated.
pub fn storage_serial(serial: &str) -> String {
    serial.trim().to_ascii_lowercase().replace(':', "-")
}

/// Display form of a serial: lowercase, `:`-separated.
pub fn display_serial(serial: &str) -> String {
    serial.trim().to_ascii_lowercase().replace('-', ":")
}

pub async fn store(storage: &StorageView, serial: &str, der: &[u8]) -> Result<()> {
    Ok(storage
        .put(
            &format!("{CERT_PREFIX}{}", storage_serial(serial)),
            der.to_vec(),
        )
        .await?)
}

pub async fn load(storage: &StorageView, serial: &str) -> Result<Option<Vec<u8>>> {
    let key = storage_serial(serial);
    if key.is_empty() || key.contains('/') {
        return Ok(None);
    }
    Ok(storage.get(&format!("{CERT_PREFIX}{key}")).await?)
}

/// LIST `certs` / `certs/revoked`: serials in colon form. With `after`
/// and/or `limit` (Vault 1.18+/OpenBao pagination) the store seeks to the
/// page instead of listing every certificate.
async fn list(_: &PkiBackend, req: &mut Request, prefix: &str) -> Result<Option<Response>> {
    let after = storage_serial(&req.data.str_or("after", "")?);
    let limit = req.data.int_or("limit", 0)?.max(0) as usize;
    let keys = if after.is_empty() && limit == 0 {
        req.storage.list(prefix).await?
    } else {
        req.storage.list_page(prefix, &after, limit).await?
    };
    let keys: Vec<String> = keys.iter().map(|k| display_serial(k)).collect();
    let mut data = serde_json::Map::new();
    data.insert("keys".into(), json!(keys));
    Ok(Some(Response::data(data)))
}

/// The `format` request parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pem,
    Der,
    PemBundle,
}

impl Format {
    pub fn from_request(req: &Request) -> Result<Format> {
        match req.data.str_or("format", "pem")?.as_str() {
            "" | "pem" => Ok(Format::Pem),
            "der" => Ok(Format::Der),
            "pem_bundle" => Ok(Format::PemBundle),
            _ => Err(Error::bad_request(
                "the \"format\" path parameter must be \"pem\", \"der\", or \"pem_bundle\"",
            )),
        }
    }

    /// A certificate as this format puts it in a JSON field.
    pub fn cert(self, der: &[u8]) -> String {
        match self {
            Format::Der => base64::engine::general_purpose::STANDARD.encode(der),
            _ => der::pem_encode("CERTIFICATE", der),
        }
    }

    /// A PEM certificate (possibly with trailing newline) in this format.
    pub fn cert_from_pem(self, pem_text: &str) -> String {
        match self {
            Format::Der => super::cert_info::pem_certificates(pem_text)
                .ok()
                .and_then(|c| c.into_iter().next())
                .map(|d| base64::engine::general_purpose::STANDARD.encode(d))
                .unwrap_or_default(),
            _ => pem_text.trim().to_string(),
        }
    }

    pub fn chain<S: AsRef<str>>(self, pems: &[S]) -> Value {
        json!(pems
            .iter()
            .map(|p| self.cert_from_pem(p.as_ref()))
            .collect::<Vec<_>>())
    }
}

/// `private_key_format`: `der`/`pem` (native) or `pkcs8`.
/// A generated private key as a response carries it.
pub struct KeyOutput {
    /// `private_key`: in the requested format (`pkcs8` converts only this).
    pub text: String,
    /// `private_key_type`.
    pub key_type: String,
    /// The key's native PEM form, which a `pem_bundle` certificate carries.
    pub bundle_pem: String,
}

pub fn private_key_output(
    req: &Request,
    key: &super::private_key::PrivateKey,
    format: Format,
) -> Result<KeyOutput> {
    let pkcs8 = match req.data.str_or("private_key_format", "der")?.as_str() {
        "" | "der" | "pem" => false,
        "pkcs8" => true,
        _ => {
            return Err(Error::bad_request(
                "The \"private_key_format\" field must be \"der\", \"pem\", or \"pkcs8\"",
            ))
        }
    };
    let pem_text = if pkcs8 {
        key.to_pkcs8_pem()
    } else {
        key.to_pem()
    }
    .map_err(Error::internal)?;
    let bundle_pem = if pkcs8 {
        key.to_pem().map_err(Error::internal)?
    } else {
        pem_text.clone()
    };
    let text = match format {
        Format::Der => pem::parse(pem_text.as_bytes())
            .map(|p| base64::engine::general_purpose::STANDARD.encode(p.contents()))
            .map_err(Error::internal)?,
        _ => pem_text,
    };
    Ok(KeyOutput {
        text,
        key_type: key.key_type().as_str().to_string(),
        bundle_pem,
    })
}
