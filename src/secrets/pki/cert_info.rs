//! Existing certificates, as PEM and as the facts issuance, chain building
//! and revocation read from them ([`CertInfo`]).

use super::der;
use super::public_key;
use super::x509::format_serial;

/// The facts about an existing certificate that issuance and chain
/// building need, extracted once.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub der: Vec<u8>,
    pub tbs: Vec<u8>,
    pub sig_alg: Vec<u8>,
    pub signature: Vec<u8>,
    pub serial: Vec<u8>,
    pub subject: Vec<u8>,
    pub issuer: Vec<u8>,
    pub spki: Vec<u8>,
    pub subject_key_id: Option<Vec<u8>>,
    pub authority_key_id: Option<Vec<u8>>,
    pub not_before: i64,
    pub not_after: i64,
    pub is_ca: bool,
    /// Present only when the certificate limits its path length.
    pub path_len: Option<u32>,
}

/// The issuer and subject Names exactly as a TBSCertificate encodes them
/// (x509-parser's raw slice of a Name loses an empty RDN; chains link by
/// these bytes).
fn tbs_names(tbs: &[u8]) -> Option<(&[u8], &[u8])> {
    let (_, mut rest, _, _) = der::read(tbs)?;
    if rest.first() == Some(&0xa0) {
        rest = der::read(rest)?.3;
    }
    let (_, _, _, rest) = der::read(rest)?; // serialNumber
    let (_, _, _, rest) = der::read(rest)?; // signature
    let (_, _, issuer, rest) = der::read(rest)?;
    let (_, _, _, rest) = der::read(rest)?; // validity
    let (_, _, subject, _) = der::read(rest)?;
    Some((issuer, subject))
}

impl CertInfo {
    pub fn parse(der_bytes: &[u8]) -> Result<CertInfo, String> {
        use x509_parser::extensions::ParsedExtension;
        let (rest, cert) = x509_parser::parse_x509_certificate(der_bytes)
            .map_err(|e| format!("unable to parse certificate: {e}"))?;
        let used = der_bytes.len() - rest.len();
        let der_bytes = &der_bytes[..used];
        let (_, body, _, _) = der::read(der_bytes).ok_or("unable to parse certificate")?;
        let (_, _, tbs, rest) = der::read(body).ok_or("unable to parse certificate")?;
        let (_, _, sig_alg, rest) = der::read(rest).ok_or("unable to parse certificate")?;
        let (_, sig, _, _) = der::read(rest).ok_or("unable to parse certificate")?;
        let (issuer, subject) = tbs_names(tbs).ok_or("unable to parse certificate")?;
        let mut info = CertInfo {
            der: der_bytes.to_vec(),
            tbs: tbs.to_vec(),
            sig_alg: sig_alg.to_vec(),
            signature: sig.get(1..).unwrap_or_default().to_vec(),
            serial: cert.raw_serial().to_vec(),
            subject: subject.to_vec(),
            issuer: issuer.to_vec(),
            spki: cert.public_key().raw.to_vec(),
            subject_key_id: None,
            authority_key_id: None,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            is_ca: false,
            path_len: None,
        };
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => {
                    info.subject_key_id = Some(id.0.to_vec())
                }
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    info.authority_key_id = aki.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                ParsedExtension::BasicConstraints(bc) => {
                    info.is_ca = bc.ca;
                    info.path_len = bc.path_len_constraint;
                }
                _ => {}
            }
        }
        Ok(info)
    }

    /// Just the notAfter of a DER certificate (tidy's question).
    pub fn not_after_of(der_bytes: &[u8]) -> Option<i64> {
        x509_parser::parse_x509_certificate(der_bytes)
            .ok()
            .map(|(_, c)| c.validity().not_after.timestamp())
    }

    pub fn self_issued(&self) -> bool {
        self.subject == self.issuer
    }

    /// Whether `parent` signed this certificate.
    pub fn signed_by(&self, parent: &CertInfo) -> bool {
        self.issuer == parent.subject
            && public_key::verify(&parent.spki, &self.sig_alg, &self.tbs, &self.signature)
    }

    pub fn serial_string(&self) -> String {
        format_serial(&self.serial)
    }

    pub fn pem(&self) -> String {
        der::pem_encode("CERTIFICATE", &self.der)
    }
}

/// All `CERTIFICATE` blocks of a PEM text, in order.
pub fn pem_certificates(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let blocks = pem::parse_many(text.as_bytes()).map_err(|e| format!("error parsing PEM: {e}"))?;
    Ok(blocks
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| b.into_contents())
        .collect())
}
