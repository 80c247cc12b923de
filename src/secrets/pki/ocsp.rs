//! The OCSP responder (Vault 1.12+, RFC 6960): `GET ocsp/<base64 DER
//! request>`, `POST ocsp` with the DER as an `application/ocsp-request`
//! body, and HashiCorp's `unified-ocsp` forms, which Vault OSS always
//! refuses (a unified CRL cannot be enabled there, nor here).
//!
//! Answers are the bytes Vault's `path_ocsp.go` produces with Go's
//! `x/crypto/ocsp` `CreateResponse`: no certificates, the issuer's subject as
//! responder ID, `producedAt` truncated to the minute, one SingleResponse
//! about the first request's certificate. Refusals are OCSP responses too,
//! each with the HTTP status Vault sends it with.
//!
//! Unlike Vault, an Ed25519 issuer answers (signed with Ed25519, RFC 8410):
//! `x/crypto/ocsp` signs only with RSA and ECDSA keys, so Vault fails with
//! an internal error there.

use std::sync::Arc;

use bytes::Bytes;

use super::der;
use super::ocsp_request::{decode_get, parse_request, CertId, IdHash, MAX_REQUEST};
use super::private_key;
use super::profile::unix;
use super::public_key;
use super::revoke::{self, RevokedEntry};
use super::store::{IssuerSet, LoadedIssuer};
use super::{config, x509, PkiBackend};
use crate::handler;
use crate::logical::framework::{Answer, Path};
use crate::logical::{Error, Operation, Request, Response, Result};

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("ocsp")
        .unauthenticated()
        .on_standby(&[Operation::Update])
        .raw_body(REQUEST_TYPE)
        .answers(Answer::Raw(CONTENT_TYPE))
        .update(handler!(b, r => respond(b, r, Responder::Mount, Source::Body))),
    Path::new("ocsp/*req")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(CONTENT_TYPE))
        .read(handler!(b, r => respond(b, r, Responder::Mount, Source::Path))),
    Path::new("unified-ocsp")
        .unauthenticated()
        .on_standby(&[Operation::Update])
        .raw_body(REQUEST_TYPE)
        .answers(Answer::Raw(CONTENT_TYPE))
        .update(handler!(b, r => respond(b, r, Responder::Unified, Source::Body))),
    Path::new("unified-ocsp/*req")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(CONTENT_TYPE))
        .read(handler!(b, r => respond(b, r, Responder::Unified, Source::Path))),
];

/// Which responder a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Responder {
    /// This mount's.
    Mount,
    /// Unified OCSP across clusters (Vault Enterprise): always refused.
    Unified,
}

/// Where the DER request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A POST body of type `application/ocsp-request`.
    Body,
    /// A GET path's base64 (`*req`).
    Path,
}

const REQUEST_TYPE: &str = "application/ocsp-request";

const CONTENT_TYPE: &str = "application/ocsp-response";
const OCSP_SIGNING: &str = "ocsp-signing";
/// `id-pkix-ocsp-basic`, the only response type there is.
const OID_BASIC_RESPONSE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 1];

/// Always a raw `application/ocsp-response`, whatever happens.
async fn respond(
    backend: &PkiBackend,
    req: &mut Request,
    responder: Responder,
    from: Source,
) -> Result<Option<Response>> {
    let (response, status) = match answer(backend, req, responder, from).await {
        Ok((body, status)) => (Response::raw(200, CONTENT_TYPE, body), status.name()),
        Err(refusal) => {
            let name = refusal.name();
            (refusal.response(), name)
        }
    };
    backend
        .metrics
        .ocsp_responses
        .with(&[&req.mount_point, status])
        .inc();
    Ok(Some(response))
}

/// An answer without a signed response: an OCSPResponse that is only a
/// status (RFC 6960 §4.2.1).
#[derive(Debug)]
enum Refusal {
    /// The request cannot be read: `malformedRequest`, 400.
    Malformed,
    /// This responder may not answer: OCSP disabled, unified OCSP, or no
    /// issuer allowed to sign: `unauthorized`, 401.
    Unauthorized,
    /// A failure of our own: `internalError`, 500.
    Internal(Error),
}

impl From<Error> for Refusal {
    fn from(err: Error) -> Self {
        Refusal::Internal(err)
    }
}

impl Refusal {
    /// The `status` label of `vaultlet.pki.ocsp_responses_total`.
    fn name(&self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed_request",
            Refusal::Unauthorized => "unauthorized",
            Refusal::Internal(_) => "internal_error",
        }
    }

    /// The one mapping from refusals to OCSP and HTTP statuses.
    fn response(self) -> Response {
        let (http_status, ocsp_status) = match self {
            Refusal::Malformed => (400, 1),
            Refusal::Unauthorized => (401, 6),
            Refusal::Internal(err) => {
                tracing::error!(error = %err, "OCSP internal error");
                (500, 2)
            }
        };
        let body = der::seq(&[der::tlv(der::TAG_ENUMERATED, &[ocsp_status])]);
        Response::raw(http_status, CONTENT_TYPE, body)
    }
}

async fn answer(
    backend: &PkiBackend,
    req: &Request,
    responder: Responder,
    from: Source,
) -> Result<(Vec<u8>, CertStatus), Refusal> {
    // As Vault: a configuration that cannot be read refuses as well.
    let cfg = config::read_crl_config(&req.storage)
        .await
        .map_err(|_| Refusal::Unauthorized)?;
    if cfg.ocsp_disable || responder == Responder::Unified {
        return Err(Refusal::Unauthorized);
    }
    let request = request_der(req, from)?;
    let (hash, id) = parse_request(&request).ok_or(Refusal::Malformed)?;
    let revoked = revoke::revoked_entry(&req.storage, &x509::format_serial(id.serial)).await?;
    let set = backend.issuers(&req.storage).await?;
    let (signer, status) = signer_and_status(&set, revoked, hash, &id)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let single = single_response(
        &signer,
        hash,
        id.serial,
        status,
        now,
        cfg.ocsp_expiry_seconds(),
    )?;
    let body = sign_response(&signer, &single, now).map_err(Refusal::from)?;
    Ok((body, status))
}

/// The DER request: the base64 path segment of a GET, the body of a POST.
fn request_der(req: &Request, from: Source) -> Result<Bytes, Refusal> {
    match (from, &req.raw_body) {
        (Source::Path, _) => {
            let der = decode_get(req.param("req")?).ok_or(Refusal::Malformed)?;
            Ok(Bytes::from(der))
        }
        (Source::Body, Some(body)) if body.len() < MAX_REQUEST => Ok(body.clone()),
        (Source::Body, _) => Err(Refusal::Malformed),
    }
}

/// Who answers, saying what: good or revoked from the issuer the CertID
/// names (the one recorded with the revocation, else any of the mount), so
/// that a serial of some other CA is never called good; unknown from the
/// default issuer when none matches.
fn signer_and_status(
    set: &IssuerSet,
    revoked: Option<RevokedEntry>,
    hash: IdHash,
    id: &CertId<'_>,
) -> Result<(Arc<LoadedIssuer>, CertStatus), Refusal> {
    let candidates: Vec<&Arc<LoadedIssuer>> = match &revoked {
        Some(entry) if !entry.issuer_id.is_empty() => {
            set.issuers.get(&entry.issuer_id).into_iter().collect()
        }
        _ => set.issuers.values().collect(),
    };
    let Some(issuer) = matching_issuer(&candidates, hash, id)? else {
        return Ok((default_signer(set)?, CertStatus::Unknown));
    };
    let status = revoked.map_or(CertStatus::Good, |entry| CertStatus::Revoked {
        at: entry.revocation_time,
    });
    Ok((issuer, status))
}

/// The issuer the CertID names (by the hashes of its subject and public
/// key) among `candidates` with a key. One lacking the `ocsp-signing` usage
/// is passed over for another (a reissued CA with the same name and key);
/// when only such ones match, Vault answers unauthorized (RFC 5019 §2.2.3).
fn matching_issuer(
    candidates: &[&Arc<LoadedIssuer>],
    hash: IdHash,
    id: &CertId<'_>,
) -> Result<Option<Arc<LoadedIssuer>>, Refusal> {
    let mut unusable = false;
    for issuer in candidates.iter().filter(|i| i.key.is_some()) {
        let Some((name_hash, key_hash)) = issuer_hashes(issuer, hash) else {
            continue;
        };
        if name_hash != id.name_hash || key_hash != id.key_hash {
            continue;
        }
        if issuer.has_usage(OCSP_SIGNING) {
            return Ok(Some(Arc::clone(issuer)));
        }
        unusable = true;
    }
    if unusable {
        return Err(Refusal::Unauthorized);
    }
    Ok(None)
}

/// An issuer's CertID hashes: of its raw subject and of its subjectPublicKey
/// BIT STRING's contents.
fn issuer_hashes(issuer: &LoadedIssuer, hash: IdHash) -> Option<(Vec<u8>, Vec<u8>)> {
    let key = public_key::info(&issuer.cert.spki)?.key_bytes;
    Some((hash.digest(&issuer.cert.subject), hash.digest(&key)))
}

/// Who says "unknown" about a certificate of no issuer of the mount: the
/// default issuer, if it may sign OCSP responses; else Vault refuses.
fn default_signer(set: &IssuerSet) -> Result<Arc<LoadedIssuer>, Refusal> {
    set.default_issuer()
        .filter(|issuer| issuer.key.is_some() && issuer.has_usage(OCSP_SIGNING))
        .ok_or(Refusal::Unauthorized)
}

/// What the responder says about the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CertStatus {
    Good,
    /// Revoked at this Unix time; no reason is given (Vault records none).
    Revoked {
        at: i64,
    },
    Unknown,
}

impl CertStatus {
    /// The `status` label of `vaultlet.pki.ocsp_responses_total`.
    fn name(self) -> &'static str {
        match self {
            CertStatus::Good => "good",
            CertStatus::Revoked { .. } => "revoked",
            CertStatus::Unknown => "unknown",
        }
    }

    fn to_der(self) -> Vec<u8> {
        match self {
            CertStatus::Good => der::implicit_primitive(0, &[]),
            CertStatus::Revoked { at } => {
                der::implicit_constructed(1, &der::generalized_time(unix(at)))
            }
            CertStatus::Unknown => der::implicit_primitive(2, &[]),
        }
    }
}

/// The SingleResponse: the CertID recomputed from the signer with the
/// request's hash algorithm and serial, the status, `thisUpdate` now and
/// `nextUpdate` after `ocsp_expiry` (none when that is 0).
fn single_response(
    signer: &LoadedIssuer,
    hash: IdHash,
    serial: &[u8],
    status: CertStatus,
    now: i64,
    expiry: i64,
) -> Result<Vec<u8>> {
    let (name_hash, key_hash) = issuer_hashes(signer, hash)
        .ok_or_else(|| Error::internal("OCSP signer without a readable public key"))?;
    let cert_id = der::seq(&[
        der::seq(&[hash.oid(), der::null()]),
        der::octet_string(&name_hash),
        der::octet_string(&key_hash),
        der::tlv(der::TAG_INTEGER, serial),
    ]);
    let mut fields = vec![cert_id, status.to_der(), der::generalized_time(unix(now))];
    if expiry > 0 {
        fields.push(der::explicit(
            0,
            &der::generalized_time(unix(now.saturating_add(expiry))),
        ));
    }
    // Vault hands Go an empty, non-nil extension list, which Go encodes.
    fields.push(der::explicit(1, &der::seq(&[])));
    Ok(der::seq(&fields))
}

/// The OCSPResponse: `successful`, with a BasicOCSPResponse over
/// ResponseData{responderID byName, producedAt, [single]} signed by the
/// issuer's key, without certificates.
fn sign_response(signer: &LoadedIssuer, single: &[u8], now: i64) -> Result<Vec<u8>> {
    let key = signer
        .key
        .as_deref()
        .ok_or_else(|| Error::internal("OCSP signer without a key"))?;
    let produced_at = now - now.rem_euclid(60);
    let tbs = der::seq(&[
        der::explicit(1, &signer.cert.subject),
        der::generalized_time(unix(produced_at)),
        der::seq(&[single.to_vec()]),
    ]);
    // PSS is signed as PKCS#1 v1.5, as Vault does (x/crypto/ocsp has no
    // PSS); EC keys sign with their curve's hash.
    let hash = private_key::Signing {
        pss: false,
        ..key.revocation_signing(&signer.entry.revocation_signature_algorithm)
    };
    let signature = key.sign(hash, &tbs).map_err(Error::internal)?;
    let basic = der::seq(&[
        tbs,
        key.signature_algorithm(hash),
        der::bit_string(&signature),
    ]);
    let response_bytes = der::seq(&[der::oid(OID_BASIC_RESPONSE), der::octet_string(&basic)]);
    Ok(der::seq(&[
        der::tlv(der::TAG_ENUMERATED, &[0]),
        der::explicit(0, &response_bytes),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_bare_ocsp_statuses() {
        let body = |r: Refusal| {
            let raw = r.response().raw.expect("raw");
            assert_eq!(raw.content_type, CONTENT_TYPE);
            (raw.status, raw.body)
        };
        assert_eq!(body(Refusal::Malformed), (400, vec![0x30, 3, 0x0a, 1, 1]));
        assert_eq!(
            body(Refusal::Unauthorized),
            (401, vec![0x30, 3, 0x0a, 1, 6])
        );
        assert_eq!(
            body(Refusal::Internal(Error::internal("x"))),
            (500, vec![0x30, 3, 0x0a, 1, 2])
        );
    }

    #[test]
    fn statuses_encode_as_go_does() {
        assert_eq!(CertStatus::Good.to_der(), vec![0x80, 0]);
        assert_eq!(CertStatus::Unknown.to_der(), vec![0x82, 0]);
        let revoked = CertStatus::Revoked { at: 1_796_304_799 }.to_der();
        assert_eq!(&revoked[..4], &[0xa1, 17, 0x18, 15]);
        assert_eq!(&revoked[4..], b"20261203133319Z");
    }
}
