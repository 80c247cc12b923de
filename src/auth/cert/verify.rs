//! The login decision over the candidate roles, in Vault's order:
//!
//! 1. the presented chain is verified against the certificates of every CA
//!    role at once (`chain`); a chain found invalid refuses the login with
//!    Go's error, whichever role it was meant for;
//! 2. a role pinning a non-CA certificate matches a leaf that is that very
//!    certificate, if no CRL lists it and the leaf meets the role's
//!    constraints;
//! 3. without a verified chain the certificate is untrusted;
//! 4. otherwise the first CA role whose certificate is on a verified chain
//!    that no CRL touches, and whose constraints the leaf meets, matches.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::chain::{self, Certificate};
use super::crl::Revoked;
use super::roles::CertRole;
use crate::logical::glob_match;

/// Why no role accepts the presented certificate.
pub enum Refusal {
    /// The chain breaks one of Go's rules (expired, path length, usage...).
    Invalid(chain::Invalid),
    /// No role trusts the certificate.
    Untrusted,
    /// A role trusts it, but a constraint or a CRL refuses it.
    NoMatch,
}

/// The accepted role's name and the auth metadata Vault records.
pub struct Match {
    pub role: String,
    pub metadata: BTreeMap<String, String>,
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

/// A candidate role and the certificates it trusts (its `certificate`
/// bundle, then its OCSP CA certificates, as Vault loads them).
struct Trusted<'r> {
    name: &'r str,
    role: &'r CertRole,
    certs: Vec<Vec<u8>>,
}

impl Trusted<'_> {
    /// Vault tells pinned roles from CA roles by the first certificate.
    fn pins_a_leaf(&self) -> bool {
        let first = self.certs.first().and_then(|der| Certificate::parse(der));
        first.is_some_and(|cert| !cert.is_ca())
    }

    fn trusts(&self, cert: &Certificate<'_>) -> bool {
        self.certs.iter().any(|der| der.as_slice() == cert.der)
    }
}

/// The first role (of `roles`, in order) that accepts the presented chain.
pub fn select(
    roles: &[(String, CertRole)],
    presented: &[Vec<u8>],
    revoked: &Revoked,
    now: OffsetDateTime,
) -> Result<Match, Refusal> {
    let presented: Vec<Certificate<'_>> = presented
        .iter()
        .map(|der| Certificate::parse(der).ok_or(Refusal::Untrusted))
        .collect::<Result<_, _>>()?;
    let (leaf, intermediates) = presented.split_first().ok_or(Refusal::Untrusted)?;
    let trusted: Vec<Trusted<'_>> = roles
        .iter()
        .map(|(name, role)| {
            let mut certs = parse_pem_certificates(&role.certificate);
            certs.extend(parse_pem_certificates(&role.ocsp_ca_certificates));
            Trusted { name, role, certs }
        })
        .filter(|t| !t.certs.is_empty())
        .collect();
    let (pinning, ca_roles): (Vec<_>, Vec<_>) = trusted.iter().partition(|t| t.pins_a_leaf());

    let roots = parse_all(ca_roles.iter().flat_map(|t| &t.certs));
    let chains = chain::verify(leaf, intermediates, &roots, now).map_err(Refusal::Invalid)?;

    let accepts = |t: &Trusted<'_>, chain: &[&Certificate<'_>]| {
        !revoked.lists_any(chain) && meets_constraints(t.role, &leaf.x509)
    };
    let accepted = |t: &Trusted<'_>| Match {
        role: t.name.to_string(),
        metadata: metadata(&leaf.x509),
    };

    for t in pinning.iter().filter(|t| t.certs[0] == leaf.der) {
        let pinned = parse_all(&t.certs);
        if accepts(t, &pinned.iter().collect::<Vec<_>>()) {
            return Ok(accepted(t));
        }
    }
    if chains.is_empty() {
        return Err(Refusal::Untrusted);
    }
    for t in &ca_roles {
        let on_chain = chains
            .iter()
            .filter(|chain| chain.iter().any(|cert| t.trusts(cert)));
        for chain in on_chain {
            if accepts(t, chain) {
                return Ok(accepted(t));
            }
        }
    }
    Err(Refusal::NoMatch)
}

fn parse_all<'a>(ders: impl IntoIterator<Item = &'a Vec<u8>>) -> Vec<Certificate<'a>> {
    ders.into_iter()
        .filter_map(|der| Certificate::parse(der))
        .collect()
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
