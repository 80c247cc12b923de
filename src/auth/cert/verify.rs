//! Checking a presented client chain against one cert role: the chain must
//! verify to the role's certificate for client authentication (or the leaf
//! must be the role's pinned certificate), then meet the name constraints.

use std::collections::BTreeMap;

use rustls_pki_types::{CertificateDer, UnixTime};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::CertRole;
use crate::logical::glob_match;

pub enum Outcome {
    /// The chain does not verify to this role's certificate.
    Untrusted,
    /// It verifies, but a name or extension constraint fails.
    ConstraintsFailed,
    /// Accepted, with the auth metadata Vault records.
    Matched(BTreeMap<String, String>),
}

/// DER certificates from a PEM bundle (unparseable blocks are skipped).
pub fn parse_pem_certificates(pem_text: &str) -> Vec<Vec<u8>> {
    pem::parse_many(pem_text)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.tag() == "CERTIFICATE")
        .map(|p| p.into_contents())
        .filter(|der| X509Certificate::from_der(der).is_ok())
        .collect()
}

pub fn check(role: &CertRole, chain: &[Vec<u8>]) -> Outcome {
    let Some(leaf_der) = chain.first() else {
        return Outcome::Untrusted;
    };
    let Ok((_, leaf)) = X509Certificate::from_der(leaf_der) else {
        return Outcome::Untrusted;
    };
    let trusted = parse_pem_certificates(&role.certificate);
    if !chain_verifies(leaf_der, &chain[1..], &trusted) {
        return Outcome::Untrusted;
    }
    if !meets_constraints(role, &leaf) {
        return Outcome::ConstraintsFailed;
    }
    Outcome::Matched(metadata(&leaf))
}

/// A pinned leaf matches itself; otherwise build a path to one of the
/// role's CA certificates with the clientAuth usage (no EKU also passes).
fn chain_verifies(leaf_der: &[u8], intermediates: &[Vec<u8>], trusted: &[Vec<u8>]) -> bool {
    if trusted.iter().any(|t| t.as_slice() == leaf_der) {
        return true;
    }
    let anchors: Vec<_> = trusted
        .iter()
        .filter_map(|der| {
            webpki::anchor_from_trusted_cert(&CertificateDer::from(der.as_slice()))
                .ok()
                .map(|a| a.to_owned())
        })
        .collect();
    if anchors.is_empty() {
        return false;
    }
    let leaf = CertificateDer::from(leaf_der);
    let Ok(end_entity) = webpki::EndEntityCert::try_from(&leaf) else {
        return false;
    };
    let intermediates: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|der| CertificateDer::from(der.as_slice()))
        .collect();
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            UnixTime::now(),
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .is_ok()
}

struct Names {
    common_names: Vec<String>,
    dns: Vec<String>,
    emails: Vec<String>,
    uris: Vec<String>,
    ous: Vec<String>,
}

fn names(cert: &X509Certificate<'_>) -> Names {
    let subject = cert.subject();
    let strings =
        |iter: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
            iter.filter_map(|a| a.as_str().ok().map(str::to_string))
                .collect::<Vec<_>>()
        };
    let mut names = Names {
        common_names: strings(&mut subject.iter_common_name()),
        dns: Vec::new(),
        emails: strings(&mut subject.iter_email()),
        uris: Vec::new(),
        ous: strings(&mut subject.iter_organizational_unit()),
    };
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => names.dns.push(d.to_string()),
                GeneralName::RFC822Name(e) => names.emails.push(e.to_string()),
                GeneralName::URI(u) => names.uris.push(u.to_string()),
                _ => {}
            }
        }
    }
    names
}

/// Every non-empty constraint list must match at least one value.
fn meets_constraints(role: &CertRole, cert: &X509Certificate<'_>) -> bool {
    let n = names(cert);
    let any = |patterns: &[String], values: &[String]| {
        patterns.is_empty()
            || values
                .iter()
                .any(|v| patterns.iter().any(|p| glob_match(p, v)))
    };
    let mut legacy_values = n.common_names.clone();
    legacy_values.extend(n.dns.iter().cloned());
    legacy_values.extend(n.emails.iter().cloned());
    any(&role.allowed_names, &legacy_values)
        && any(&role.allowed_common_names, &n.common_names)
        && any(&role.allowed_dns_sans, &n.dns)
        && any(&role.allowed_email_sans, &n.emails)
        && any(&role.allowed_uri_sans, &n.uris)
        && any(&role.allowed_organizational_units, &n.ous)
        && required_extensions_present(&role.required_extensions, cert)
}

/// `oid:glob` entries: the extension must exist and its value, read as a
/// string, match the glob (`oid:*` only asks for presence).
fn required_extensions_present(required: &[String], cert: &X509Certificate<'_>) -> bool {
    required.iter().all(|entry| {
        let Some((oid, pattern)) = entry.split_once(':') else {
            return false;
        };
        cert.extensions().iter().any(|ext| {
            if ext.oid.to_id_string() != oid {
                return false;
            }
            let value = x509_parser::der_parser::parse_der(ext.value)
                .ok()
                .and_then(|(_, obj)| obj.as_str().ok().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(ext.value).into_owned());
            glob_match(pattern, &value)
        })
    })
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Vault's login metadata: decimal serial, colon-hex key ids.
fn metadata(cert: &X509Certificate<'_>) -> BTreeMap<String, String> {
    let mut meta = BTreeMap::new();
    let common_name = names(cert)
        .common_names
        .into_iter()
        .next()
        .unwrap_or_default();
    meta.insert("common_name".into(), common_name);
    meta.insert("serial_number".into(), cert.serial.to_string());
    let mut ski = String::new();
    let mut aki = String::new();
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => ski = colon_hex(id.0),
            ParsedExtension::AuthorityKeyIdentifier(id) => {
                aki = id
                    .key_identifier
                    .as_ref()
                    .map(|k| colon_hex(k.0))
                    .unwrap_or_default()
            }
            _ => {}
        }
    }
    meta.insert("subject_key_id".into(), ski);
    meta.insert("authority_key_id".into(), aki);
    meta
}
