//! Certificate signing requests: decoding, signature verification and the
//! names, key and extensions they ask for.

use std::net::IpAddr;

use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use super::der;
use super::public_key::{self, KeyType};
use crate::logical::{Error, Result};

/// An otherName SAN: type OID (dotted and encoded) and its value.
#[derive(Debug, Clone)]
pub struct OtherName {
    pub oid: String,
    pub oid_der: Vec<u8>,
    /// The `[0] EXPLICIT` value as it appeared in the request.
    pub value_der: Vec<u8>,
    /// The UTF8String content, when it is one.
    pub utf8: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Csr {
    pub info: Vec<u8>,
    pub sig_alg: Vec<u8>,
    pub signature: Vec<u8>,
    pub subject: Vec<u8>,
    pub common_name: String,
    pub subject_serial_number: String,
    pub spki: Vec<u8>,
    pub key_type: Option<KeyType>,
    pub key_bits: u32,
    pub dns: Vec<String>,
    pub email: Vec<String>,
    pub ip: Vec<IpAddr>,
    pub uri: Vec<String>,
    pub other: Vec<OtherName>,
    /// Requested extensions, encoded (`Extension` SEQUENCEs).
    pub extensions: Vec<Vec<u8>>,
    pub requests_ca: bool,
    pub has_basic_constraints: bool,
    pub key_usage: Option<u16>,
    pub ext_key_usage: Vec<Vec<u8>>,
}

/// Decodes the `csr` parameter with Vault's error texts.
pub fn parse_pem(text: &str) -> Result<Csr> {
    if text.trim().is_empty() {
        return Err(Error::bad_request("\"csr\" is empty"));
    }
    let block = pem::parse_many(text.as_bytes())
        .ok()
        .and_then(|blocks| blocks.into_iter().next())
        .ok_or_else(|| Error::bad_request("csr contains no data"))?;
    parse_der(block.contents())
        .map_err(|e| Error::bad_request(format!("certificate request could not be parsed: {e}")))
}

pub fn parse_der(bytes: &[u8]) -> std::result::Result<Csr, String> {
    let (trailing, req) =
        x509_parser::certification_request::X509CertificationRequest::from_der(bytes)
            .map_err(|e| format!("asn1: syntax error: {e}"))?;
    if !trailing.is_empty() {
        return Err("asn1: syntax error: trailing data".into());
    }
    let (_, body, _, _) = der::read(bytes).ok_or("asn1: syntax error: truncated tag or length")?;
    let (_, _, info, rest) =
        der::read(body).ok_or("asn1: syntax error: truncated tag or length")?;
    let (_, _, sig_alg, rest) =
        der::read(rest).ok_or("asn1: syntax error: truncated tag or length")?;
    let (_, sig, _, _) = der::read(rest).ok_or("asn1: syntax error: truncated tag or length")?;
    let cri = &req.certification_request_info;
    let spki = cri.subject_pki.raw.to_vec();
    let key = public_key::info(&spki);
    let subject = &cri.subject;
    let first = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue>| {
        it.next()
            .and_then(|a| a.as_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut csr = Csr {
        info: info.to_vec(),
        sig_alg: sig_alg.to_vec(),
        signature: sig.get(1..).unwrap_or_default().to_vec(),
        subject: raw_subject(info).ok_or("asn1: syntax error: truncated tag or length")?,
        common_name: first(&mut subject.iter_common_name()),
        subject_serial_number: first(
            &mut subject.iter_by_oid(&x509_parser::oid_registry::OID_X509_SERIALNUMBER),
        ),
        key_type: key.as_ref().and_then(|k| k.key_type),
        key_bits: key.as_ref().map_or(0, |k| k.bits),
        spki,
        dns: vec![],
        email: vec![],
        ip: vec![],
        uri: vec![],
        other: vec![],
        extensions: vec![],
        requests_ca: false,
        has_basic_constraints: false,
        key_usage: None,
        ext_key_usage: vec![],
    };
    let raw_extensions = raw_requested_extensions(info);
    check_requested_extensions(&raw_extensions)?;
    if let Some(exts) = req.requested_extensions() {
        for ext in exts {
            match ext {
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        match name {
                            GeneralName::DNSName(d) => {
                                csr.dns.push(ia5(d, "x509: SAN dNSName is malformed")?)
                            }
                            GeneralName::RFC822Name(e) => {
                                csr.email.push(ia5(e, "x509: SAN rfc822Name is malformed")?)
                            }
                            GeneralName::URI(u) => csr
                                .uri
                                .push(ia5(u, "x509: SAN uniformResourceIdentifier is malformed")?),
                            GeneralName::Invalid(tag, _) => {
                                return Err(match tag.0 {
                                    1 => "x509: SAN rfc822Name is malformed",
                                    2 => "x509: SAN dNSName is malformed",
                                    6 => "x509: SAN uniformResourceIdentifier is malformed",
                                    _ => "x509: invalid subject alternative names",
                                }
                                .into())
                            }
                            GeneralName::IPAddress(b) => {
                                if let Ok(v4) = <[u8; 4]>::try_from(*b) {
                                    csr.ip.push(IpAddr::from(v4));
                                } else if let Ok(v6) = <[u8; 16]>::try_from(*b) {
                                    csr.ip.push(IpAddr::from(v6));
                                } else {
                                    return Err(format!(
                                        "x509: cannot parse IP address of length {}",
                                        b.len()
                                    ));
                                }
                            }
                            GeneralName::OtherName(oid, value) => {
                                let oid_str = oid.to_id_string();
                                let utf8 = der::read(value)
                                    .and_then(|(_, inner, _, _)| der::read(inner))
                                    .filter(|(tag, _, _, _)| *tag == der::TAG_UTF8_STRING)
                                    .and_then(|(_, s, _, _)| {
                                        std::str::from_utf8(s).ok().map(str::to_string)
                                    });
                                csr.other.push(OtherName {
                                    oid_der: der::oid_from_str(&oid_str).unwrap_or_default(),
                                    oid: oid_str,
                                    value_der: value.to_vec(),
                                    utf8,
                                });
                            }
                            _ => {}
                        }
                    }
                }
                ParsedExtension::BasicConstraints(bc) => {
                    csr.has_basic_constraints = true;
                    csr.requests_ca = bc.ca;
                }
                ParsedExtension::KeyUsage(ku) => csr.key_usage = Some(ku.flags),
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    let mut oids = Vec::new();
                    let std = [
                        (eku.any, "2.5.29.37.0"),
                        (eku.server_auth, "1.3.6.1.5.5.7.3.1"),
                        (eku.client_auth, "1.3.6.1.5.5.7.3.2"),
                        (eku.code_signing, "1.3.6.1.5.5.7.3.3"),
                        (eku.email_protection, "1.3.6.1.5.5.7.3.4"),
                        (eku.time_stamping, "1.3.6.1.5.5.7.3.8"),
                        (eku.ocsp_signing, "1.3.6.1.5.5.7.3.9"),
                    ];
                    for (set, oid) in std {
                        if set {
                            oids.extend(der::oid_from_str(oid));
                        }
                    }
                    for other in &eku.other {
                        oids.extend(der::oid_from_str(&other.to_id_string()));
                    }
                    csr.ext_key_usage = oids;
                }
                _ => {}
            }
        }
    }
    csr.extensions = raw_extensions;
    Ok(csr)
}

/// The subject Name exactly as the request encodes it (x509-parser's raw
/// slice of a Name loses an empty RDN, which Go keeps).
fn raw_subject(info: &[u8]) -> Option<Vec<u8>> {
    let (_, body, _, _) = der::read(info)?;
    let (_, _, _, after_version) = der::read(body)?;
    let (_, _, subject, _) = der::read(after_version)?;
    Some(subject.to_vec())
}

/// A SAN string as Go takes it: IA5 (ASCII) only.
fn ia5(value: &str, malformed: &str) -> std::result::Result<String, String> {
    if value.is_ascii() {
        Ok(value.to_string())
    } else {
        Err(malformed.to_string())
    }
}

/// What Go refuses in a request's extensions before reading them: the same
/// extension twice, or a SubjectAltName that is not a GeneralNames.
fn check_requested_extensions(raw: &[Vec<u8>]) -> std::result::Result<(), String> {
    let san_oid = der::oid(&[2, 5, 29, 17]);
    let mut seen: Vec<&[u8]> = Vec::new();
    for ext in raw {
        let Some((_, body, _, _)) = der::read(ext) else {
            return Err("asn1: syntax error: malformed extension".into());
        };
        let Some((_, _, oid, rest)) = der::read(body) else {
            return Err("asn1: syntax error: malformed extension".into());
        };
        if seen.contains(&oid) {
            return Err("x509: certificate request contains duplicate requested extensions".into());
        }
        seen.push(oid);
        if oid == san_oid.as_slice() {
            // The value is the last element (after an optional critical flag).
            let mut value = rest;
            while let Some((_, _, _, next)) = der::read(value).filter(|(t, ..)| *t == 0x01) {
                value = next;
            }
            let parses = der::read(value)
                .filter(|(tag, ..)| *tag == 0x04)
                .is_some_and(|(_, octets, _, _)| {
                    x509_parser::extensions::SubjectAlternativeName::from_der(octets)
                        .is_ok_and(|(rest, _)| rest.is_empty())
                });
            if !parses {
                return Err("x509: invalid subject alternative names".into());
            }
        }
    }
    Ok(())
}

/// The raw `Extension` encodings of the extensionRequest attribute.
fn raw_requested_extensions(info: &[u8]) -> Vec<Vec<u8>> {
    let ext_req = der::oid(&[1, 2, 840, 113549, 1, 9, 14]);
    let mut out = Vec::new();
    let Some((_, body, _, _)) = der::read(info) else {
        return out;
    };
    // version, subject, spki, [0] attributes
    let mut rest = body;
    for _ in 0..3 {
        match der::read(rest) {
            Some((_, _, _, r)) => rest = r,
            None => return out,
        }
    }
    let Some((0xa0, mut attrs, _, _)) = der::read(rest) else {
        return out;
    };
    while let Some((_, attr, _, next)) = der::read(attrs) {
        attrs = next;
        let Some((_, _, oid, values)) = der::read(attr) else {
            continue;
        };
        if oid != ext_req.as_slice() {
            continue;
        }
        let Some((_, set_body, _, _)) = der::read(values) else {
            continue;
        };
        let Some((_, mut exts, _, _)) = der::read(set_body) else {
            continue;
        };
        while let Some((_, _, whole, next)) = der::read(exts) {
            out.push(whole.to_vec());
            exts = next;
        }
    }
    out
}

impl Csr {
    /// The requested extensions except those whose OID is in `issuer_set`
    /// (the ones the certificate profile writes itself); one whose OID
    /// cannot be read is dropped too.
    pub fn extensions_except(&self, issuer_set: &[&[u64]]) -> Vec<Vec<u8>> {
        let oid_of = |ext: &[u8]| {
            let (_, body, _, _) = der::read(ext)?;
            let (_, _, oid, _) = der::read(body)?;
            Some(oid.to_vec())
        };
        self.extensions
            .iter()
            .filter(|ext| {
                oid_of(ext).is_some_and(|oid| !issuer_set.iter().any(|arcs| der::oid(arcs) == oid))
            })
            .cloned()
            .collect()
    }

    pub fn signature_valid(&self) -> bool {
        public_key::verify(&self.spki, &self.sig_alg, &self.info, &self.signature)
    }

    /// Checks the CSR key against a role's `key_type`/`key_bits`, with
    /// Vault's texts. `any` only enforces the safety minimums.
    pub fn check_key(&self, role_key_type: &str, role_key_bits: i64) -> Result<()> {
        let actual = self.key_type.ok_or_else(|| {
            Error::bad_request("Refusing to sign CSR with empty PublicKey. This usually means the SubjectPublicKeyInfo field has an OID not recognized by Go, such as 1.2.840.113549.1.1.10 for rsaPSS.")
        })?;
        let bits = self.key_bits as i64;
        let min_bits = match role_key_type {
            "any" => {
                if actual == KeyType::Rsa && bits < 2048 {
                    return Err(Error::bad_request(
                        "RSA keys < 2048 bits are unsafe and not supported",
                    ));
                }
                match actual {
                    KeyType::Rsa => 2048,
                    KeyType::Ec => 224,
                    KeyType::Ed25519 => 0,
                }
            }
            wanted => {
                if KeyType::parse(wanted) != Some(actual) {
                    return Err(Error::bad_request(format!(
                        "role requires keys of type {wanted}"
                    )));
                }
                role_key_bits
            }
        };
        if actual != KeyType::Ed25519 && bits < min_bits {
            return Err(Error::bad_request(format!(
                "role requires a minimum of a {min_bits}-bit key, but CSR's key is {bits} bits"
            )));
        }
        if actual == KeyType::Rsa && bits < 2048 {
            return Err(Error::bad_request(format!(
                "Vault requires a minimum of a 2048-bit key, but CSR's key is {bits} bits"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_der(&bytes);
            let _ = crate::secrets::pki::cert_info::CertInfo::parse(&bytes);
            let _ = public_key::info(&bytes);
            let _ = der::read(&bytes);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = parse_pem(&text);
            let _ = crate::secrets::pki::private_key::PrivateKey::from_pem(&text);
        }
    }
}
