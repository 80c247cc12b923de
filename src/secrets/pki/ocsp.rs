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

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use bytes::Bytes;

use super::der;
use super::private_key;
use super::profile::unix;
use super::public_key;
use super::revoke::{self, RevokedEntry};
use super::store::{IssuerSet, LoadedIssuer};
use super::{config, x509, PkiBackend};
use crate::handler;
use crate::logical::framework::{Answer, Path};
use crate::logical::{Error, Request, Response, Result};

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("ocsp")
        .unauthenticated()
        .raw_body(REQUEST_TYPE)
        .answers(Answer::Raw(CONTENT_TYPE))
        .update(handler!(b, r => respond(b, r, Responder::Mount, Source::Body))),
    Path::new("ocsp/*req")
        .unauthenticated()
        .answers(Answer::Raw(CONTENT_TYPE))
        .read(handler!(b, r => respond(b, r, Responder::Mount, Source::Path))),
    Path::new("unified-ocsp")
        .unauthenticated()
        .raw_body(REQUEST_TYPE)
        .answers(Answer::Raw(CONTENT_TYPE))
        .update(handler!(b, r => respond(b, r, Responder::Unified, Source::Body))),
    Path::new("unified-ocsp/*req")
        .unauthenticated()
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
/// Vault's bound on a request: base64 characters (GET) or DER bytes (POST);
/// a request about one certificate is under 100 bytes.
const MAX_REQUEST: usize = 2048;
const OCSP_SIGNING: &str = "ocsp-signing";
/// `id-pkix-ocsp-basic`, the only response type there is.
const OID_BASIC_RESPONSE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 1];

/// Go's `base64.StdEncoding`, which Vault decodes GET requests with:
/// padding required, stray bits in the last character tolerated.
const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Always a raw `application/ocsp-response`, whatever happens.
async fn respond(
    backend: &PkiBackend,
    req: &mut Request,
    responder: Responder,
    from: Source,
) -> Result<Option<Response>> {
    let response = match answer(backend, req, responder, from).await {
        Ok(body) => Response::raw(200, CONTENT_TYPE, body),
        Err(refusal) => refusal.response(),
    };
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
) -> Result<Vec<u8>, Refusal> {
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
    sign_response(&signer, &single, now).map_err(Refusal::from)
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

/// A GET request's base64 (already URL-unescaped by the HTTP layer), to a
/// DER request that parses.
fn decode_get(text: &str) -> Option<Vec<u8>> {
    if text.len() >= MAX_REQUEST {
        return None;
    }
    // Go's decoder skips line breaks.
    let text: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    let parses = |candidate: &str| {
        GO_STD_BASE64
            .decode(candidate)
            .ok()
            .filter(|der| parse_request(der).is_some())
    };
    parses(&text).or_else(|| restore_slashes(&text, parses))
}

/// More `/` than this in a request and no repair is tried (a request about
/// one certificate has a handful).
const MAX_SLASHES: usize = 16;

/// The router collapses `//` in a path and drops a trailing `/` (also when
/// they came URL-escaped as `%2F`), where Vault keeps them: a base64 request
/// that had them arrives shortened, no longer a multiple of four characters.
/// This puts the missing `/` back after existing ones or at the end, and
/// answers only when exactly one placement gives a request.
fn restore_slashes(text: &str, parses: impl Fn(&str) -> Option<Vec<u8>>) -> Option<Vec<u8>> {
    let missing = (4 - text.len() % 4) % 4;
    let spots: Vec<usize> = text
        .match_indices('/')
        .map(|(i, _)| i + 1)
        .chain([text.len()])
        .collect();
    if missing == 0 || spots.len() > MAX_SLASHES + 1 {
        return None;
    }
    let mut found = None;
    for placement in placements(spots.len(), missing) {
        let mut candidate = String::with_capacity(text.len() + missing);
        let mut from = 0;
        for spot in placement.iter().map(|&i| spots[i]) {
            candidate.push_str(&text[from..spot]);
            candidate.push('/');
            from = spot;
        }
        candidate.push_str(&text[from..]);
        if let Some(der) = parses(&candidate) {
            if found.is_some() {
                return None;
            }
            found = Some(der);
        }
    }
    found
}

/// Every way to choose `count` of `spots` places, repeats allowed, in
/// ascending order.
fn placements(spots: usize, count: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for _ in 0..count {
        out = out
            .into_iter()
            .flat_map(|prefix: Vec<usize>| {
                let start = prefix.last().copied().unwrap_or(0);
                (start..spots).map(move |i| {
                    let mut next = prefix.clone();
                    next.push(i);
                    next
                })
            })
            .collect();
    }
    out
}

/// The hash algorithms a CertID may use: those of Go's `x/crypto/ocsp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdHash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl IdHash {
    const ALL: [IdHash; 4] = [IdHash::Sha1, IdHash::Sha256, IdHash::Sha384, IdHash::Sha512];

    fn oid(self) -> Vec<u8> {
        match self {
            IdHash::Sha1 => der::oid(&[1, 3, 14, 3, 2, 26]),
            IdHash::Sha256 => der::oid(&[2, 16, 840, 1, 101, 3, 4, 2, 1]),
            IdHash::Sha384 => der::oid(&[2, 16, 840, 1, 101, 3, 4, 2, 2]),
            IdHash::Sha512 => der::oid(&[2, 16, 840, 1, 101, 3, 4, 2, 3]),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        use aws_lc_rs::digest;
        let algorithm = match self {
            IdHash::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            IdHash::Sha256 => &digest::SHA256,
            IdHash::Sha384 => &digest::SHA384,
            IdHash::Sha512 => &digest::SHA512,
        };
        digest::digest(algorithm, data).as_ref().to_vec()
    }
}

/// A CertID as a request gives it, borrowed from the request's DER.
#[derive(Debug)]
struct CertId<'a> {
    /// The hash algorithm's OID (TLV).
    hash_oid: &'a [u8],
    name_hash: &'a [u8],
    key_hash: &'a [u8],
    /// The serialNumber INTEGER's contents, minimally encoded.
    serial: &'a [u8],
}

/// Reads an OCSPRequest as Go's `ocsp.ParseRequest` does: every Request must
/// hold a well-formed CertID, the first is the one answered and its hash
/// algorithm must be known; the signature, version, requestor name and all
/// extensions (the nonce among them) are skipped, as are trailing elements
/// of a SEQUENCE (Go allows those); nothing may follow the OCSPRequest.
fn parse_request(input: &[u8]) -> Option<(IdHash, CertId<'_>)> {
    let (request, rest) = expect(input, der::TAG_SEQUENCE)?;
    if !rest.is_empty() {
        return None;
    }
    let (tbs, _signature) = expect(request, der::TAG_SEQUENCE)?;
    let tbs = skip(tbs, 0xa0); // version
    let tbs = skip(tbs, 0xa1); // requestorName
    let (mut list, _extensions) = expect(tbs, der::TAG_SEQUENCE)?;
    let mut first = None;
    while !list.is_empty() {
        let (single, next) = expect(list, der::TAG_SEQUENCE)?;
        let (cert_id, _extensions) = expect(single, der::TAG_SEQUENCE)?;
        let id = parse_cert_id(cert_id)?;
        first.get_or_insert(id);
        list = next;
    }
    let first = first?;
    let hash = IdHash::ALL
        .into_iter()
        .find(|h| h.oid() == first.hash_oid)?;
    Some((hash, first))
}

fn parse_cert_id(input: &[u8]) -> Option<CertId<'_>> {
    let (algorithm, rest) = expect(input, der::TAG_SEQUENCE)?;
    let (_, _, hash_oid, _parameters) = der::read(algorithm).filter(|t| t.0 == der::TAG_OID)?;
    let (name_hash, rest) = expect(rest, der::TAG_OCTET_STRING)?;
    let (key_hash, rest) = expect(rest, der::TAG_OCTET_STRING)?;
    let (serial, _) = expect(rest, der::TAG_INTEGER)?;
    let minimal = match serial {
        [] => false,
        [0x00, next, ..] => next & 0x80 != 0,
        [0xff, next, ..] => next & 0x80 == 0,
        _ => true,
    };
    minimal.then_some(CertId {
        hash_oid,
        name_hash,
        key_hash,
        serial,
    })
}

/// One TLV with tag `tag`: its contents and what follows it.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (found, content, _, rest) = der::read(input)?;
    (found == tag).then_some((content, rest))
}

/// `input` past an optional element tagged `tag`.
fn skip(input: &[u8], tag: u8) -> &[u8] {
    match der::read(input) {
        Some((found, _, _, rest)) if found == tag => rest,
        _ => input,
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

    /// An OCSPRequest about `serial` (INTEGER contents) with fake hashes;
    /// `extras` adds a version, a second Request and a nonce extension,
    /// else the DER ends with the serial.
    fn request(hash: IdHash, serial: &[u8], extras: bool) -> Vec<u8> {
        let cert_id = der::seq(&[
            der::seq(&[hash.oid(), der::null()]),
            der::octet_string(&[0x11; 20]),
            der::octet_string(&[0x22; 20]),
            der::tlv(der::TAG_INTEGER, serial),
        ]);
        if !extras {
            return der::seq(&[der::seq(&[der::seq(&[der::seq(&[cert_id])])])]);
        }
        let nonce = der::seq(&[der::seq(&[
            der::oid(&[1, 3, 6, 1, 5, 5, 7, 48, 1, 2]),
            der::octet_string(&der::octet_string(&[7; 16])),
        ])]);
        let single = der::seq(&[cert_id]);
        let list = der::seq(&[single.clone(), single]);
        der::seq(&[der::seq(&[
            der::explicit(0, &der::int(0)),
            list,
            der::explicit(2, &nonce),
        ])])
    }

    #[test]
    fn the_first_certificate_asked_about_is_read() {
        let der_bytes = request(IdHash::Sha256, &[0x00, 0x8f, 0x01], true);
        let (hash, id) = parse_request(&der_bytes).expect("parses");
        assert_eq!(hash, IdHash::Sha256);
        assert_eq!(id.name_hash, &[0x11; 20]);
        assert_eq!(id.key_hash, &[0x22; 20]);
        assert_eq!(id.serial, &[0x00, 0x8f, 0x01]);
    }

    #[test]
    fn what_go_refuses_is_malformed() {
        // Unknown hash (MD5), no requests, trailing data, a serial that is
        // not minimally encoded, an empty serial.
        let md5 = der::seq(&[der::seq(&[der::seq(&[der::seq(&[
            der::seq(&[der::oid(&[1, 2, 840, 113549, 2, 5]), der::null()]),
            der::octet_string(&[1]),
            der::octet_string(&[2]),
            der::int(3),
        ])])])]);
        assert!(parse_request(&md5).is_none());
        let empty = der::seq(&[der::seq(&[der::seq(&[])])]);
        assert!(parse_request(&empty).is_none());
        let mut trailing = request(IdHash::Sha1, &[5], true);
        trailing.push(0);
        assert!(parse_request(&trailing).is_none());
        assert!(parse_request(&request(IdHash::Sha1, &[0x00, 0x05], true)).is_none());
        assert!(parse_request(&request(IdHash::Sha1, &[], true)).is_none());
        assert!(parse_request(b"garbage").is_none());
    }

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

    /// What the HTTP layer makes of a path segment: no `//`, no trailing `/`.
    fn collapse(text: &str) -> String {
        text.split('/')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("/")
    }

    #[test]
    fn slashes_the_router_collapsed_are_restored() {
        // Some serial with 0xff bytes encodes as "//" (a longer run of '/'
        // loses more than three characters and stays malformed).
        let doubled = (0..=255)
            .map(|b| request(IdHash::Sha1, &[0x01, b, 0xff, 0xf0], false))
            .map(|d| (base64::engine::general_purpose::STANDARD.encode(&d), d))
            .find(|(t, _)| t.contains("//") && !t.contains("///"));
        let (text, der_bytes) = doubled.expect("some request has a '//'");
        assert_eq!(decode_get(&text), Some(der_bytes.clone()));
        assert_eq!(decode_get(&collapse(&text)), Some(der_bytes));
        // A request whose length is a multiple of three and whose last
        // byte is 0xff ends in '/' (no padding) and loses it.
        let ends = (0..3)
            .map(|n| [&[0x01][..], &vec![0x55; n], &[0xff]].concat())
            .map(|serial| request(IdHash::Sha1, &serial, false))
            .map(|d| (base64::engine::general_purpose::STANDARD.encode(&d), d))
            .find(|(t, _)| t.ends_with('/'));
        let (text, der_bytes) = ends.expect("some request ends in '/'");
        assert_eq!(decode_get(&collapse(&text)), Some(der_bytes));
    }

    #[test]
    fn base64_is_gos_standard_encoding() {
        let der_bytes = request(IdHash::Sha1, &[5], true);
        let text = base64::engine::general_purpose::STANDARD.encode(&der_bytes);
        let url_safe = base64::engine::general_purpose::URL_SAFE.encode(&der_bytes);
        assert_eq!(decode_get(&text), Some(der_bytes.clone()));
        let wrapped = format!("{}\n{}", &text[..10], &text[10..]);
        assert_eq!(decode_get(&wrapped), Some(der_bytes));
        if url_safe != text {
            assert_eq!(decode_get(&url_safe), None);
        }
        assert_eq!(decode_get(&"A".repeat(MAX_REQUEST)), None);
    }

    #[test]
    fn placements_repeat_and_ascend() {
        assert_eq!(placements(2, 2), vec![vec![0, 0], vec![0, 1], vec![1, 1]]);
        assert_eq!(placements(17, 3).len(), 969);
    }
}
