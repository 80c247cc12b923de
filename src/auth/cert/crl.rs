//! Certificate revocation lists (`crls/:name`): an operator uploads a CRL,
//! and a login whose chain holds a serial number it lists is refused. As in
//! Vault, only the serial numbers are kept and matched, whoever issued
//! them; the CRL's signature and dates are not checked, so a CRL that no
//! longer applies is deleted by name
//! (https://developer.hashicorp.com/vault/api-docs/auth/cert#create-crl).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::chain::Certificate;
use super::{CertBackend, NAME};
use crate::auth::roles::RoleStore;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};

pub(super) const PATHS: &[Path<CertBackend>] = &[
    Path::new("crls").list(handler!(_b, r => CRLS.list(r))),
    Path::new("crls/:name")
        .captures(NAME)
        .fields(&[&[
            Field::string("name"),
            Field::string("crl"),
            Field::string("url"),
        ]])
        .read(handler!(read))
        .update(handler!(write))
        .delete(handler!(delete)),
];

const CRLS: RoleStore = RoleStore::new("crls/");

/// One stored CRL: its revoked serials in decimal, as Vault keeps them.
#[derive(Default, Serialize, Deserialize)]
struct StoredCrl {
    serials: BTreeMap<String, RevokedSerial>,
}

/// Vault's per-serial record, empty.
#[derive(Default, Serialize, Deserialize)]
struct RevokedSerial {}

/// The serials revoked by any stored CRL.
pub struct Revoked(HashSet<String>);

impl Revoked {
    pub async fn load(req: &Request) -> Result<Self> {
        let mut serials = HashSet::new();
        for name in CRLS.names(req).await? {
            if let Some(crl) = CRLS.get::<StoredCrl>(req, &name).await? {
                serials.extend(crl.serials.into_keys());
            }
        }
        Ok(Revoked(serials))
    }

    /// Whether any certificate of the chain is listed.
    pub fn lists_any(&self, chain: &[&Certificate<'_>]) -> bool {
        !self.0.is_empty()
            && chain
                .iter()
                .any(|cert| self.0.contains(&cert.x509.serial.to_string()))
    }
}

async fn read(_: &CertBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("name")?.to_lowercase();
    let crl: StoredCrl = CRLS.get(req, &name).await?.ok_or_else(|| no_such(&name))?;
    let mut data = Map::new();
    data.insert("serials".into(), json!(crl.serials));
    Ok(Some(Response::data(data)))
}

async fn delete(_: &CertBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("name")?.to_lowercase();
    if CRLS.get::<StoredCrl>(req, &name).await?.is_none() {
        return Err(no_such(&name));
    }
    req.storage.delete(&CRLS.key(&name)).await?;
    Ok(None)
}

async fn write(_: &CertBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("name")?.to_lowercase();
    let crl = match (req.data.str("crl")?, req.data.str("url")?) {
        (Some(crl), _) => {
            parse(&crl).map_err(|e| Error::bad_request(format!("failed to parse CRL: {e}")))?
        }
        (None, Some(url)) if url.is_empty() => return Err(Error::bad_request("empty CRL url")),
        (None, Some(_)) => {
            return Err(Error::bad_request(
                "fetching CRLs from a URL is not supported by vaultlet; upload the CRL with 'crl'",
            ))
        }
        (None, None) => return Err(Error::bad_request("one of 'crl' or 'url' must be provided")),
    };
    req.storage.put_json(&CRLS.key(&name), &crl).await?;
    Ok(None)
}

/// A PEM `X509 CRL` block, or the DER itself, as Go's `x509.ParseCRL`.
fn parse(text: &str) -> std::result::Result<StoredCrl, String> {
    let der = if text.starts_with("-----BEGIN X509 CRL") {
        pem::parse(text).map_err(|e| e.to_string())?.into_contents()
    } else {
        text.as_bytes().to_vec()
    };
    let (_, crl) = x509_parser::parse_x509_crl(&der).map_err(|e| e.to_string())?;
    let serials = crl
        .iter_revoked_certificates()
        .map(|revoked| (revoked.user_certificate.to_string(), RevokedSerial {}))
        .collect();
    Ok(StoredCrl { serials })
}

fn no_such(name: &str) -> Error {
    Error::bad_request(format!("no such CRL {name}"))
}
