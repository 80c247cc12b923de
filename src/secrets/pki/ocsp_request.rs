//! OCSP requests as Vault reads them: the DER of a POST body, or the
//! base64 of a GET path (with the slashes the router collapsed put back),
//! parsed as Go's `ocsp.ParseRequest` parses it.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

use super::der;

/// Vault's bound on a request: base64 characters (GET) or DER bytes (POST);
/// a request about one certificate is under 100 bytes.
pub(super) const MAX_REQUEST: usize = 2048;

/// Go's `base64.StdEncoding`, which Vault decodes GET requests with:
/// padding required, stray bits in the last character tolerated.
const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// A GET request's base64 (already URL-unescaped by the HTTP layer), to a
/// DER request that parses.
pub(super) fn decode_get(text: &str) -> Option<Vec<u8>> {
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
pub(super) enum IdHash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl IdHash {
    const ALL: [IdHash; 4] = [IdHash::Sha1, IdHash::Sha256, IdHash::Sha384, IdHash::Sha512];

    pub(super) fn oid(self) -> Vec<u8> {
        match self {
            IdHash::Sha1 => der::oid(&[1, 3, 14, 3, 2, 26]),
            IdHash::Sha256 => der::oid(&[2, 16, 840, 1, 101, 3, 4, 2, 1]),
            IdHash::Sha384 => der::oid(&[2, 16, 840, 1, 101, 3, 4, 2, 2]),
            IdHash::Sha512 => der::oid(&[2, 16, 840, 1, 101, 3, 4, 2, 3]),
        }
    }

    pub(super) fn digest(self, data: &[u8]) -> Vec<u8> {
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
pub(super) struct CertId<'a> {
    /// The hash algorithm's OID (TLV).
    pub(super) hash_oid: &'a [u8],
    pub(super) name_hash: &'a [u8],
    pub(super) key_hash: &'a [u8],
    /// The serialNumber INTEGER's contents, minimally encoded.
    pub(super) serial: &'a [u8],
}

/// Reads an OCSPRequest as Go's `ocsp.ParseRequest` does: every Request must
/// hold a well-formed CertID, the first is the one answered and its hash
/// algorithm must be known; the signature, version, requestor name and all
/// extensions (the nonce among them) are skipped, as are trailing elements
/// of a SEQUENCE (Go allows those); nothing may follow the OCSPRequest.
pub(super) fn parse_request(input: &[u8]) -> Option<(IdHash, CertId<'_>)> {
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
