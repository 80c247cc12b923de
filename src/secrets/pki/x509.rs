//! The X.509 certificate profile: a description of one certificate
//! ([`Profile`]) and its DER encoding, signed by an issuer's key. Extensions
//! are written in the order Go's `x509.CreateCertificate` uses.

use std::net::IpAddr;

use time::OffsetDateTime;

use super::der;
use super::private_key::{PrivateKey, Signing};
use crate::logical::Error;

pub const KU_KEY_CERT_SIGN: u16 = 1 << 5;
pub const KU_CRL_SIGN: u16 = 1 << 6;

/// Go's `x509.KeyUsage` names, as Vault's `key_usage` accepts them.
const KEY_USAGE_NAMES: &[(&str, u16)] = &[
    ("digitalsignature", 1),
    ("contentcommitment", 1 << 1),
    ("keyencipherment", 1 << 2),
    ("dataencipherment", 1 << 3),
    ("keyagreement", 1 << 4),
    ("certsign", 1 << 5),
    ("crlsign", 1 << 6),
    ("encipheronly", 1 << 7),
    ("decipheronly", 1 << 8),
];

/// Parses key usage names case-insensitively; unknown names are ignored, as
/// Vault's `parseKeyUsages` does.
pub fn parse_key_usages(names: &[String]) -> u16 {
    names.iter().fold(0, |acc, name| {
        let lower = name.trim().to_ascii_lowercase();
        acc | KEY_USAGE_NAMES
            .iter()
            .find(|(n, _)| *n == lower)
            .map_or(0, |(_, b)| *b)
    })
}

const EKU_BASE: [u64; 8] = [1, 3, 6, 1, 5, 5, 7, 3];

/// The OID of a Go `x509.ExtKeyUsage` name (case-insensitive).
pub fn ext_key_usage_oid(name: &str) -> Option<Vec<u8>> {
    let eku = |last: u64| {
        let mut arcs = EKU_BASE.to_vec();
        arcs.push(last);
        der::oid(&arcs)
    };
    Some(match name.to_ascii_lowercase().as_str() {
        "any" => der::oid(&[2, 5, 29, 37, 0]),
        "serverauth" => eku(1),
        "clientauth" => eku(2),
        "codesigning" => eku(3),
        "emailprotection" => eku(4),
        "ipsecendsystem" => eku(5),
        "ipsectunnel" => eku(6),
        "ipsecuser" => eku(7),
        "timestamping" => eku(8),
        "ocspsigning" => eku(9),
        "microsoftservergatedcrypto" => der::oid(&[1, 3, 6, 1, 4, 1, 311, 10, 3, 3]),
        "netscapeservergatedcrypto" => der::oid(&[2, 16, 840, 1, 113730, 4, 1]),
        "microsoftcommercialcodesigning" => der::oid(&[1, 3, 6, 1, 4, 1, 311, 2, 1, 22]),
        "microsoftkernelcodesigning" => der::oid(&[1, 3, 6, 1, 4, 1, 311, 61, 1, 1]),
        _ => return None,
    })
}

pub fn eku_server_auth() -> Vec<u8> {
    der::oid(&[1, 3, 6, 1, 5, 5, 7, 3, 1])
}

pub fn eku_client_auth() -> Vec<u8> {
    der::oid(&[1, 3, 6, 1, 5, 5, 7, 3, 2])
}

/// A role's `policy_identifiers` entry in its JSON form, as Vault stores
/// it: `{"oid":"1.2.3","cps":"https://…","notice":"…"}` (fields in this
/// order, empty ones left out).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PolicyEntry {
    pub oid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cps: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notice: String,
}

/// The `PolicyInformation` of a stored policy identifier: a JSON entry
/// (with a CPS URI and/or a user notice as qualifiers) or a bare OID.
pub fn policy_information(stored: &str) -> Option<Vec<u8>> {
    let entry = serde_json::from_str::<PolicyEntry>(stored).unwrap_or_else(|_| PolicyEntry {
        oid: stored.to_string(),
        cps: String::new(),
        notice: String::new(),
    });
    let mut info = vec![der::oid_from_str(&entry.oid)?];
    let mut qualifiers = Vec::new();
    if !entry.cps.is_empty() {
        qualifiers.push(der::seq(&[
            der::oid(&[1, 3, 6, 1, 5, 5, 7, 2, 1]),
            der::tlv(der::TAG_IA5_STRING, entry.cps.as_bytes()),
        ]));
    }
    if !entry.notice.is_empty() {
        qualifiers.push(der::seq(&[
            der::oid(&[1, 3, 6, 1, 5, 5, 7, 2, 2]),
            der::seq(&[der::utf8(&entry.notice)]),
        ]));
    }
    if !qualifiers.is_empty() {
        info.push(der::seq(&qualifiers));
    }
    Some(der::seq(&info))
}

/// Subject attributes, encoded in `pkix.Name.ToRDNSequence` order.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub country: Vec<String>,
    pub province: Vec<String>,
    pub locality: Vec<String>,
    pub street_address: Vec<String>,
    pub postal_code: Vec<String>,
    pub organization: Vec<String>,
    pub ou: Vec<String>,
    pub common_name: String,
    pub serial_number: String,
}

impl Subject {
    pub fn to_der(&self) -> Vec<u8> {
        let mut rdns = Vec::new();
        let mut push = |arc: u64, values: &[String]| {
            let values: Vec<&String> = values.iter().filter(|v| !v.is_empty()).collect();
            if values.is_empty() {
                return;
            }
            let atvs: Vec<Vec<u8>> = values
                .iter()
                .map(|v| der::seq(&[der::oid(&[2, 5, 4, arc]), der::directory_string(v)]))
                .collect();
            rdns.push(der::set(&atvs));
        };
        push(6, &self.country);
        push(8, &self.province);
        push(7, &self.locality);
        push(9, &self.street_address);
        push(17, &self.postal_code);
        push(10, &self.organization);
        push(11, &self.ou);
        push(3, std::slice::from_ref(&self.common_name));
        push(5, std::slice::from_ref(&self.serial_number));
        der::seq(&rdns)
    }
}

/// Subject alternative names.
#[derive(Debug, Clone, Default)]
pub struct Sans {
    pub dns: Vec<String>,
    pub email: Vec<String>,
    pub ip: Vec<IpAddr>,
    pub uri: Vec<String>,
    /// `(encoded type OID, encoded [0] EXPLICIT value)` otherNames.
    pub other: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Sans {
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty()
            && self.email.is_empty()
            && self.ip.is_empty()
            && self.uri.is_empty()
            && self.other.is_empty()
    }

    fn to_der(&self) -> Vec<u8> {
        let mut names = Vec::new();
        for (oid, value) in &self.other {
            names.push(der::implicit_constructed(
                0,
                &[oid.clone(), value.clone()].concat(),
            ));
        }
        for d in &self.dns {
            names.push(der::implicit_primitive(2, d.as_bytes()));
        }
        for e in &self.email {
            names.push(der::implicit_primitive(1, e.as_bytes()));
        }
        for ip in &self.ip {
            let bytes = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            names.push(der::implicit_primitive(7, &bytes));
        }
        for u in &self.uri {
            names.push(der::implicit_primitive(6, u.as_bytes()));
        }
        der::seq(&names)
    }
}

/// AIA and CRL distribution URLs baked into a certificate.
#[derive(Debug, Clone, Default)]
pub struct AiaUrls {
    pub issuing_certificates: Vec<String>,
    pub crl_distribution_points: Vec<String>,
    pub ocsp_servers: Vec<String>,
    pub delta_crl_distribution_points: Vec<String>,
}

impl AiaUrls {
    pub fn is_empty(&self) -> bool {
        self.issuing_certificates.is_empty()
            && self.crl_distribution_points.is_empty()
            && self.ocsp_servers.is_empty()
    }
}

/// BasicConstraints: `path_len` None = unlimited.
#[derive(Debug, Clone, Copy)]
pub struct BasicConstraints {
    pub ca: bool,
    pub path_len: Option<u32>,
}

/// Everything that goes into one certificate except the issuer.
#[derive(Debug, Clone)]
pub struct Profile {
    pub serial: Vec<u8>,
    pub subject: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub spki: Vec<u8>,
    pub basic_constraints: Option<BasicConstraints>,
    pub key_usage: u16,
    pub ext_key_usage: Vec<Vec<u8>>,
    pub subject_key_id: Vec<u8>,
    pub authority_key_id: Option<Vec<u8>>,
    pub urls: AiaUrls,
    pub sans: Sans,
    /// Encoded `PolicyInformation`s (see [`policy_information`]).
    pub policy_identifiers: Vec<Vec<u8>>,
    pub permitted_dns_domains: Vec<String>,
    /// Pre-encoded extensions appended last (sign-verbatim copies).
    pub extra_extensions: Vec<Vec<u8>>,
}

fn extension(arcs: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![der::oid(arcs)];
    if critical {
        parts.push(der::boolean(true));
    }
    parts.push(der::octet_string(value));
    der::seq(&parts)
}

impl Profile {
    fn extensions(&self) -> Vec<Vec<u8>> {
        let mut exts = Vec::new();
        if self.key_usage != 0 {
            exts.push(extension(
                &[2, 5, 29, 15],
                true,
                &der::named_bits(self.key_usage),
            ));
        }
        if !self.ext_key_usage.is_empty() {
            exts.push(extension(
                &[2, 5, 29, 37],
                false,
                &der::seq(&self.ext_key_usage),
            ));
        }
        if let Some(bc) = self.basic_constraints {
            let mut parts = Vec::new();
            if bc.ca {
                parts.push(der::boolean(true));
                if let Some(n) = bc.path_len {
                    parts.push(der::int(n as i64));
                }
            }
            exts.push(extension(&[2, 5, 29, 19], true, &der::seq(&parts)));
        }
        if !self.subject_key_id.is_empty() {
            exts.push(extension(
                &[2, 5, 29, 14],
                false,
                &der::octet_string(&self.subject_key_id),
            ));
        }
        if let Some(aki) = &self.authority_key_id {
            exts.push(extension(
                &[2, 5, 29, 35],
                false,
                &der::seq(&[der::implicit_primitive(0, aki)]),
            ));
        }
        if !self.urls.ocsp_servers.is_empty() || !self.urls.issuing_certificates.is_empty() {
            let mut ads = Vec::new();
            for url in &self.urls.ocsp_servers {
                ads.push(der::seq(&[
                    der::oid(&[1, 3, 6, 1, 5, 5, 7, 48, 1]),
                    der::implicit_primitive(6, url.as_bytes()),
                ]));
            }
            for url in &self.urls.issuing_certificates {
                ads.push(der::seq(&[
                    der::oid(&[1, 3, 6, 1, 5, 5, 7, 48, 2]),
                    der::implicit_primitive(6, url.as_bytes()),
                ]));
            }
            exts.push(extension(
                &[1, 3, 6, 1, 5, 5, 7, 1, 1],
                false,
                &der::seq(&ads),
            ));
        }
        if !self.sans.is_empty() {
            let subject_empty = self.subject == der::seq(&[]);
            exts.push(extension(
                &[2, 5, 29, 17],
                subject_empty,
                &self.sans.to_der(),
            ));
        }
        if !self.policy_identifiers.is_empty() {
            exts.push(extension(
                &[2, 5, 29, 32],
                false,
                &der::seq(&self.policy_identifiers),
            ));
        }
        if !self.permitted_dns_domains.is_empty() {
            let subtrees: Vec<Vec<u8>> = self
                .permitted_dns_domains
                .iter()
                .map(|d| der::seq(&[der::implicit_primitive(2, d.as_bytes())]))
                .collect();
            let value = der::seq(&[der::implicit_constructed(0, &subtrees.concat())]);
            exts.push(extension(&[2, 5, 29, 30], true, &value));
        }
        if !self.urls.crl_distribution_points.is_empty() {
            exts.push(extension(
                &[2, 5, 29, 31],
                false,
                &distribution_points(&self.urls.crl_distribution_points),
            ));
        }
        if !self.urls.delta_crl_distribution_points.is_empty() {
            exts.push(extension(
                &[2, 5, 29, 46],
                false,
                &distribution_points(&self.urls.delta_crl_distribution_points),
            ));
        }
        exts.extend(self.extra_extensions.iter().cloned());
        exts
    }

    /// Encodes and signs the certificate; `issuer` is the issuer's subject
    /// DER (copied byte-for-byte from its certificate). A certificate that
    /// does not parse back (request values copied verbatim that X.509
    /// cannot carry) is refused, never issued.
    pub fn sign(&self, issuer: &[u8], key: &PrivateKey, hash: Signing) -> Result<Vec<u8>, Error> {
        let sig_alg = key.signature_algorithm(hash);
        let mut tbs_parts = vec![
            der::explicit(0, &der::int(2)),
            der::uint(&self.serial),
            sig_alg.clone(),
            issuer.to_vec(),
            der::seq(&[der::time(self.not_before), der::time(self.not_after)]),
            self.subject.clone(),
            self.spki.clone(),
        ];
        let exts = self.extensions();
        if !exts.is_empty() {
            tbs_parts.push(der::explicit(3, &der::seq(&exts)));
        }
        let tbs = der::seq(&tbs_parts);
        let sig = key.sign(hash, &tbs).map_err(Error::internal)?;
        let cert = der::seq(&[tbs, sig_alg, der::bit_string(&sig)]);
        if let Err(e) = x509_parser::parse_x509_certificate(&cert) {
            return Err(Error::bad_request(format!(
                "the requested certificate cannot be encoded: {e}"
            )));
        }
        Ok(cert)
    }
}

/// A SubjectAltName extension on its own (for CSRs).
pub fn san_extension_der(sans: &Sans, critical: bool) -> Vec<u8> {
    extension(&[2, 5, 29, 17], critical, &sans.to_der())
}

fn distribution_points(urls: &[String]) -> Vec<u8> {
    let dps: Vec<Vec<u8>> = urls
        .iter()
        .map(|u| {
            let full_name = der::implicit_constructed(0, &der::implicit_primitive(6, u.as_bytes()));
            der::seq(&[der::explicit(0, &full_name)])
        })
        .collect();
    der::seq(&dps)
}

/// 20 random bytes with the top bit cleared: a positive integer below 2^159,
/// as `certutil.GenerateSerialNumber` draws.
pub fn random_serial() -> Result<Vec<u8>, String> {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = [0u8; 20];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "no randomness available")?;
    bytes[0] &= 0x7f;
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    Ok(bytes[skip..].to_vec())
}

/// Vault's serial formatting: lowercase hex bytes joined by `:`.
pub fn format_serial(bytes: &[u8]) -> String {
    let skip = bytes
        .iter()
        .take_while(|b| **b == 0)
        .count()
        .min(bytes.len().saturating_sub(1));
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes[skip..].iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::pki::public_key::KeyType;

    #[test]
    fn subject_is_encoded_in_go_order() {
        let s = Subject {
            common_name: "example.com".into(),
            organization: vec!["Org".into()],
            ..Default::default()
        };
        let der_bytes = s.to_der();
        use x509_parser::prelude::FromDer;
        let name = x509_parser::x509::X509Name::from_der(&der_bytes)
            .map(|(_, n)| n.to_string())
            .unwrap_or_default();
        assert_eq!(name, "O=Org, CN=example.com");
    }

    #[test]
    fn a_signed_certificate_parses_and_verifies() {
        let key = PrivateKey::generate(KeyType::Ec, 256).expect("key");
        let spki = key.spki().expect("spki");
        let subject = Subject {
            common_name: "root".into(),
            ..Default::default()
        }
        .to_der();
        let now = OffsetDateTime::now_utc();
        let profile = Profile {
            serial: random_serial().expect("serial"),
            subject: subject.clone(),
            not_before: now,
            not_after: now + time::Duration::hours(1),
            spki,
            basic_constraints: Some(BasicConstraints {
                ca: true,
                path_len: Some(1),
            }),
            key_usage: KU_KEY_CERT_SIGN | KU_CRL_SIGN,
            ext_key_usage: vec![],
            subject_key_id: vec![1; 20],
            authority_key_id: Some(vec![1; 20]),
            urls: AiaUrls {
                issuing_certificates: vec!["http://x/ca".into()],
                crl_distribution_points: vec!["http://x/crl".into()],
                ..Default::default()
            },
            sans: Sans {
                dns: vec!["root".into()],
                ..Default::default()
            },
            policy_identifiers: vec![],
            permitted_dns_domains: vec!["svc".into()],
            extra_extensions: vec![],
        };
        let cert = profile
            .sign(&subject, &key, key.signing(0, false))
            .expect("sign");
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert).expect("parse");
        assert!(parsed.is_ca());
        assert_eq!(
            parsed
                .basic_constraints()
                .ok()
                .flatten()
                .map(|b| b.value.path_len_constraint),
            Some(Some(1))
        );
        let ku = parsed.key_usage().ok().flatten().map(|k| {
            (
                k.value.key_cert_sign(),
                k.value.crl_sign(),
                k.value.digital_signature(),
            )
        });
        assert_eq!(ku, Some((true, true, false)));
        let (_, body, _, _) = der::read(&cert).unwrap_or_default();
        let (_, _, tbs, rest) = der::read(body).unwrap_or_default();
        let (_, _, alg, rest) = der::read(rest).unwrap_or_default();
        let (_, sig, _, _) = der::read(rest).unwrap_or_default();
        assert!(crate::secrets::pki::public_key::verify(
            &profile.spki,
            alg,
            tbs,
            &sig[1..]
        ));
    }

    #[test]
    fn serials_are_colon_hex() {
        assert_eq!(format_serial(&[0x39, 0xdd, 0x0e]), "39:dd:0e");
        let s = random_serial().unwrap_or_default();
        assert!(!s.is_empty() && s.len() <= 20 && s[0] & 0x80 == 0);
    }
}
