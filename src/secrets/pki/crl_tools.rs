//! CRLs signed on request (Vault 1.13+): `issuer/:ref/resign-crls` merges
//! CRLs the issuer signed (for instance on other clusters) into one, and
//! `issuer/:ref/sign-revocation-list` signs a CRL from a given list. Neither
//! touches the mount's own CRLs.

use std::collections::{BTreeMap, HashSet};

use base64::Engine;
use serde_json::{json, Map, Value};

use super::certs::FORMAT_FIELD;
use super::crl::{self, CrlEntry};
use super::der;
use super::public_key;
use super::store::LoadedIssuer;
use super::PkiBackend;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};

/// What both endpoints take ([`CrlRequest::from`]).
const CRL_FIELDS: &[Field] = &[
    Field::int("crl_number"),
    Field::int("delta_crl_base_number"),
    Field::string("next_update"),
];

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("issuer/:issuer_ref/resign-crls")
        .fields(&[CRL_FIELDS, FORMAT_FIELD, &[Field::strings("crls")]])
        .update(handler!(resign)),
    Path::new("issuer/:issuer_ref/sign-revocation-list")
        .fields(&[
            CRL_FIELDS,
            FORMAT_FIELD,
            // Lists of objects, read as they come.
            &[Field::raw("revoked_certs"), Field::raw("extensions")],
        ])
        .update(handler!(sign_list)),
];

/// The parameters both endpoints share.
struct CrlRequest {
    number: i64,
    delta_base: i64,
    next_update: i64,
    der: bool,
}

impl CrlRequest {
    fn from(req: &Request) -> Result<CrlRequest> {
        let raw_next = req.data.str_or("next_update", "72h")?;
        let next_update = crate::logical::parse_duration_seconds(&raw_next)
            .map_err(|e| Error::bad_request(format!("invalid value for next_update: {e}")))?;
        if next_update <= 0 {
            return Err(Error::bad_request(
                "next_update parameter must be greater than 0",
            ));
        }
        let number = req.data.int_or("crl_number", 0)?;
        if number < 0 {
            return Err(Error::bad_request(
                "crl_number parameter must be 0 or greater",
            ));
        }
        let delta_base = req.data.int_or("delta_crl_base_number", -1)?;
        if delta_base < -1 {
            return Err(Error::bad_request(
                "delta_crl_base_number parameter must be -1 or greater",
            ));
        }
        let format = req.data.str_or("format", "pem")?;
        let der = match format.to_ascii_lowercase().as_str() {
            "pem" => false,
            "der" => true,
            _ => {
                return Err(Error::bad_request(format!(
                    "unknown format value of {format}"
                )))
            }
        };
        Ok(CrlRequest {
            number,
            delta_base,
            next_update,
            der,
        })
    }

    /// Signs the CRL and answers `data {crl}` (PEM with its trailing
    /// newline, or base64 DER).
    fn sign(
        &self,
        issuer: &LoadedIssuer,
        entries: &[CrlEntry],
        mut extra: Vec<Vec<u8>>,
        warnings: Vec<String>,
    ) -> Result<Option<Response>> {
        let key = issuer.key.as_ref().ok_or_else(|| {
            Error::bad_request(format!(
                "unable to sign CRLs with issuer {}: it has no key",
                issuer.entry.id
            ))
        })?;
        if self.delta_base > -1 {
            extra.push(crl::delta_indicator(self.delta_base));
        }
        let now = time::OffsetDateTime::now_utc();
        let next = now + time::Duration::seconds(self.next_update);
        let crl = crl::sign_crl(issuer, key, entries, self.number, &extra, now, next)?;
        let body = if self.der {
            base64::engine::general_purpose::STANDARD.encode(&crl)
        } else {
            format!("{}\n", der::pem_encode("X509 CRL", &crl))
        };
        let mut data = Map::new();
        data.insert("crl".into(), json!(body));
        let mut resp = Response::data(data);
        resp.warnings = warnings;
        Ok(Some(resp))
    }
}

/// The issuer named in the path, which must hold the `crl-signing` usage.
async fn crl_signer(backend: &PkiBackend, req: &Request) -> Result<std::sync::Arc<LoadedIssuer>> {
    let set = backend.issuers(&req.storage).await?;
    let reference = req.param("issuer_ref")?;
    let issuer = set.require(reference)?;
    if !issuer.entry.usage.split(',').any(|u| u == "crl-signing") {
        return Err(Error::bad_request(format!(
            "requested usage crl-signing for issuer {} but only had usage {}",
            issuer.entry.id, issuer.entry.usage
        )));
    }
    Ok(issuer)
}

/// `issuer/:ref/resign-crls`: the union of the given CRLs' entries (each
/// CRL must carry the issuer's signature; a serial revoked at different
/// times keeps the oldest, with a warning), entry extensions dropped.
async fn resign(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let params = CrlRequest::from(req)?;
    let texts = req.data.string_list("crls")?.unwrap_or_default();
    let issuer = crl_signer(backend, req).await?;
    let mut merged: BTreeMap<Vec<u8>, time::OffsetDateTime> = BTreeMap::new();
    let mut warnings = Vec::new();
    for (index, text) in texts.iter().enumerate() {
        let der_bytes = single_crl_pem(text)
            .map_err(|e| Error::bad_request(format!("failed decoding crl {index}: {e}")))?;
        if !signed_by(&der_bytes, &issuer) {
            return Err(Error::bad_request(format!(
                "CRL index: {index} was not signed by requested issuer"
            )));
        }
        for (serial, revoked_at) in revoked_entries(&der_bytes)
            .map_err(|e| Error::bad_request(format!("failed decoding crl {index}: {e}")))?
        {
            match merged.get(&serial) {
                Some(seen) if *seen == revoked_at => {}
                Some(seen) => {
                    warnings.push(format!("Duplicate serial {} with different revocation times detected, using oldest revocation time", super::x509::format_serial(&serial)));
                    if revoked_at < *seen {
                        merged.insert(serial, revoked_at);
                    }
                }
                None => {
                    merged.insert(serial, revoked_at);
                }
            }
        }
    }
    let entries: Vec<CrlEntry> = merged
        .into_iter()
        .map(|(serial, revoked_at)| CrlEntry {
            serial,
            revoked_at,
            extensions: Vec::new(),
        })
        .collect();
    params.sign(&issuer, &entries, Vec::new(), warnings)
}

/// `issuer/:ref/sign-revocation-list`: a CRL of `revoked_certs` (each
/// `{serial_number, revocation_time, extensions}`) with extra CRL
/// `extensions` (`{id, critical, value}`, value base64 DER).
async fn sign_list(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let params = CrlRequest::from(req)?;
    let entries = revoked_certs_param(req.data.raw().get("revoked_certs"))?;
    let extensions = match req.data.raw().get("extensions") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => extensions_param(value)?,
    };
    let issuer = crl_signer(backend, req).await?;
    params.sign(&issuer, &entries, extensions, Vec::new())
}

fn single_crl_pem(text: &str) -> std::result::Result<Vec<u8>, String> {
    let blocks = pem::parse_many(text.as_bytes()).map_err(|e| e.to_string())?;
    match blocks.as_slice() {
        [block] if block.tag() == "X509 CRL" => Ok(block.contents().to_vec()),
        [_] => Err("not an X509 CRL PEM block".into()),
        _ => Err("invalid crl; should be one PEM block only".into()),
    }
}

/// Whether the CRL's signature verifies with the issuer's public key.
fn signed_by(crl_der: &[u8], issuer: &LoadedIssuer) -> bool {
    let Some((_, content, _, _)) = der::read(crl_der) else {
        return false;
    };
    let Some((_, _, tbs, rest)) = der::read(content) else {
        return false;
    };
    let Some((_, _, alg, rest)) = der::read(rest) else {
        return false;
    };
    let Some((der::TAG_BIT_STRING, bits, _, _)) = der::read(rest) else {
        return false;
    };
    match bits.split_first() {
        Some((0, signature)) => public_key::verify(&issuer.cert.spki, alg, tbs, signature),
        _ => false,
    }
}

/// The (serial magnitude, revocation time) pairs of a CRL.
fn revoked_entries(
    crl_der: &[u8],
) -> std::result::Result<Vec<(Vec<u8>, time::OffsetDateTime)>, String> {
    let (_, crl) = x509_parser::parse_x509_crl(crl_der).map_err(|e| e.to_string())?;
    Ok(crl
        .iter_revoked_certificates()
        .map(|r| {
            let serial = r.raw_serial();
            let skip = serial.iter().take_while(|b| **b == 0).count();
            (serial[skip..].to_vec(), r.revocation_date.to_datetime())
        })
        .collect())
}

fn revoked_certs_param(value: Option<&Value>) -> Result<Vec<CrlEntry>> {
    let list = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(Error::bad_request(
                "revoked_certs must be a list of objects",
            ))
        }
    };
    let mut seen: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut entries = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let Value::Object(fields) = item else {
            continue;
        };
        let serial = parse_serial(fields.get("serial_number")).map_err(|e| {
            Error::bad_request(format!("failed parsing serial_number from entry {i}: {e}"))
        })?;
        if let Some(original) = seen.get(&serial) {
            let shown = fields
                .get("serial_number")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Err(Error::bad_request(format!(
                "duplicate serial number: {shown}, original entry {original} and {i}"
            )));
        }
        seen.insert(serial.clone(), i);
        let revoked_at = parse_time(fields.get("revocation_time")).map_err(|e| {
            Error::bad_request(format!(
                "failed parsing revocation_time from entry {i}: {e}"
            ))
        })?;
        let extensions = match fields.get("extensions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) if s.is_empty() => Vec::new(),
            Some(value) => extensions_param(value).map_err(|e| {
                Error::bad_request(format!("failed parsing extensions from entry {i}: {e}"))
            })?,
        };
        entries.push(CrlEntry {
            serial,
            revoked_at,
            extensions,
        });
    }
    Ok(entries)
}

/// A serial in hex, with `:`, `.`, `-` or space separators allowed.
fn parse_serial(value: Option<&Value>) -> std::result::Result<Vec<u8>, String> {
    let text = match value {
        None => return Err("missing 'serial_number' field".into()),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err("'serial_number' field value was not a string".into()),
    };
    let cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, ':' | '.' | '-' | ' '))
        .collect();
    let bytes = hex::decode(&cleaned)
        .map_err(|e| format!("'serial_number' failed converting to bytes: {e}"))?;
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    Ok(bytes[skip..].to_vec())
}

/// An absolute time: RFC 3339 text or Unix seconds (as Vault's
/// `ParseAbsoluteTime`).
fn parse_time(value: Option<&Value>) -> std::result::Result<time::OffsetDateTime, String> {
    let seconds = match value {
        None => return Err("missing 'revocation_time' field".into()),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => match s.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return time::OffsetDateTime::parse(
                    s,
                    &time::format_description::well_known::Rfc3339,
                )
                .map_err(|e| format!("failed parsing time {s}: {e}"))
            }
        },
        Some(other) => return Err(format!("failed parsing time {other}")),
    };
    seconds
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| "failed parsing time: out of range".to_string())
}

/// CRL or entry extensions: `[{id, critical, value}]`, ids unique and not
/// one of those the signer writes itself.
fn extensions_param(value: &Value) -> Result<Vec<Vec<u8>>> {
    let Value::Array(list) = value else {
        return Err(Error::bad_request(
            "'extensions' field did not contain a slice",
        ));
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let Value::Object(fields) = item else {
            return Err(Error::bad_request(format!("extension entry {i} not a map")));
        };
        let extension = parse_extension(fields)
            .map_err(|e| Error::bad_request(format!("failed parsing extension entry {i}: {e}")))?;
        if !seen.insert(extension.0.clone()) {
            return Err(Error::bad_request(format!(
                "duplicate extension id: {}",
                extension.0
            )));
        }
        out.push(extension.1);
    }
    Ok(out)
}

/// One `{id, critical, value}` as (dotted id, DER `Extension`).
fn parse_extension(fields: &Map<String, Value>) -> std::result::Result<(String, Vec<u8>), String> {
    let id = match fields.get("id") {
        None => return Err("missing id field".into()),
        Some(Value::String(s)) if s.is_empty() => {
            return Err("zero length object identifier".into())
        }
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err("'id' field value was not a string".into()),
    };
    for (reserved, what) in [
        ("2.5.29.35", "authority key object identifier"),
        ("2.5.29.20", "crl number object identifier"),
        ("2.5.29.27", "delta crl object identifier"),
    ] {
        if id == reserved {
            return Err(format!("{what} ({reserved}) is reserved"));
        }
    }
    let oid = der::oid_from_str(&id)
        .ok_or_else(|| format!("failed parsing asn1 object identifier {id}"))?;
    let critical = match fields.get("critical") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.is_empty() => false,
        Some(Value::String(s)) => crate::logical::parse_bool(s)
            .ok_or_else(|| format!("critical field value failed to be parsed: {s}"))?,
        Some(other) => return Err(format!("critical field value failed to be parsed: {other}")),
    };
    let value = match fields.get("value") {
        None => return Err("missing 'value' field".into()),
        Some(Value::String(s)) => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| format!("failed base64 decoding 'value' field: {e}"))?,
        Some(_) => return Err("'value' field value was not a string".into()),
    };
    let mut parts = vec![oid];
    if critical {
        parts.push(der::boolean(true));
    }
    parts.push(der::octet_string(&value));
    Ok((id, der::seq(&parts)))
}
