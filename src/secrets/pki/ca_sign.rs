//! Signing with one of the mount's CAs: another CA's CSR
//! (`sign-intermediate`) and a self-issued CA certificate
//! (`sign-self-issued`), from the default issuer or the one in the path.

use serde_json::{json, Map};

use super::ca::AIA_WARNING;
use super::cert_info::{self, CertInfo};
use super::certs::{self, Format, FORMAT_FIELD};
use super::config;
use super::csr;
use super::der;
use super::profile::{
    self, NameInput, NotAfterRule, CA_FIELDS, NAME_FIELDS, SUBJECT_FIELDS, VALIDITY_FIELDS,
};
use super::public_key;
use super::x509;
use super::PkiBackend;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};

/// What `sign-intermediate` takes beyond the certificate's names and
/// subject.
const CSR_FIELDS: &[Field] = &[
    Field::string("csr"),
    Field::bool("use_csr_values"),
    Field::string("skid"),
    Field::bool("enforce_leaf_not_after_behavior"),
    Field::string("issuer_ref"),
];

const SIGN_INTERMEDIATE: &[&[Field]] = &[
    NAME_FIELDS,
    VALIDITY_FIELDS,
    SUBJECT_FIELDS,
    CA_FIELDS,
    FORMAT_FIELD,
    CSR_FIELDS,
];

const SIGN_SELF_ISSUED: &[Field] = &[
    Field::string("certificate"),
    Field::bool("require_matching_certificate_algorithms"),
    Field::string("issuer_ref"),
];

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("root/sign-intermediate")
        .fields(SIGN_INTERMEDIATE)
        .update(handler!(sign_intermediate)),
    Path::new("issuer/:issuer_ref/sign-intermediate")
        .fields(SIGN_INTERMEDIATE)
        .update(handler!(sign_intermediate)),
    Path::new("root/sign-self-issued")
        .fields(&[SIGN_SELF_ISSUED])
        .update(handler!(sign_self_issued)),
    Path::new("issuer/:issuer_ref/sign-self-issued")
        .fields(&[SIGN_SELF_ISSUED])
        .update(handler!(sign_self_issued)),
];

/// The issuer a path names, else the default one.
fn issuer_reference(req: &Request) -> String {
    req.params
        .get("issuer_ref")
        .cloned()
        .unwrap_or_else(|| "default".into())
}

/// What `use_csr_values` never copies from a CSR, because the CA profile
/// writes it: basic constraints, SANs, key identifiers, key usage, CRL
/// distribution points, AIA and name constraints.
const CA_PROFILE_EXTENSIONS: &[&[u64]] = &[
    &[2, 5, 29, 19],
    &[2, 5, 29, 17],
    &[2, 5, 29, 14],
    &[2, 5, 29, 35],
    &[2, 5, 29, 15],
    &[2, 5, 29, 31],
    &[1, 3, 6, 1, 5, 5, 7, 1, 1],
    &[2, 5, 29, 30],
];

/// `root/sign-intermediate` and `issuer/:ref/sign-intermediate`.
async fn sign_intermediate(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let format = Format::from_request(req)?;
    let csr = csr::parse_pem(&req.data.str_or("csr", "")?)?;
    let set = backend.issuers(&req.storage).await?;
    let issuer = set.signer(&issuer_reference(req))?;
    let use_csr_values = req.data.bool_or("use_csr_values", false)?;
    let mut role = profile::ca_role(&req.data)?;
    role.not_after = req.data.str_or("not_after", "")?;
    let input = NameInput {
        not_after: None,
        skid: req.data.str("skid")?.filter(|s| !s.is_empty()),
        ..NameInput::from_data(&req.data)?
    };
    role.use_csr_common_name = input.common_name.is_empty();
    role.use_csr_sans = use_csr_values;
    csr.check_key("any", 0)?;
    if issuer.cert.path_len == Some(0) {
        return Err(Error::bad_request(
            "signing certificate has a max path length of zero, and cannot issue further CA certificates",
        ));
    }
    let path_len = match profile::requested_path_len(&req.data)? {
        Some(requested) => requested,
        None => issuer.cert.path_len.map(|n| n.saturating_sub(1)),
    };
    let rule = if req.data.bool_or("enforce_leaf_not_after_behavior", false)? {
        NotAfterRule::of(&issuer)
    } else {
        NotAfterRule::Truncate
    };
    let creation = profile::creation(&role, &input, Some(&csr), Some((&issuer, rule)), req.ttls)?;
    if !csr.signature_valid() {
        return Err(Error::bad_request("request signature invalid"));
    }
    let global = config::read_urls(&req.storage).await?;
    let urls =
        config::aia_urls(&req.storage, &issuer.entry.urls, &global, &issuer.entry.id).await?;
    let mut extra_ku = x509::parse_key_usages(&req.data.comma_list_or_empty("key_usage")?);
    if use_csr_values {
        extra_ku |= csr.key_usage.unwrap_or(0);
    }
    let mut prof = profile::ca_profile(
        &creation,
        csr.spki.clone(),
        path_len,
        extra_ku,
        None,
        urls.clone(),
        req.data.comma_list_or_empty("permitted_dns_domains")?,
    )?;
    prof.authority_key_id = issuer.cert.subject_key_id.clone();
    if use_csr_values {
        prof.subject = csr.subject.clone();
        prof.extra_extensions = csr.extensions_except(CA_PROFILE_EXTENSIONS);
    }
    let key = issuer
        .key
        .clone()
        .ok_or_else(|| Error::bad_request("issuer has no key"))?;
    let signing = key.signing(
        req.data.int_or("signature_bits", 0)?,
        req.data.bool_or("use_pss", false)?,
    );
    let cert_der = prof.sign(&issuer.cert.subject, &key, signing)?;
    let info = CertInfo::parse(&cert_der).map_err(Error::internal)?;
    certs::store(&req.storage, &info.serial_string(), &cert_der).await?;

    let mut chain = vec![info.pem()];
    chain.extend(issuer.chain.iter().cloned());
    let mut data = Map::new();
    data.insert("certificate".into(), json!(format.cert(&cert_der)));
    data.insert(
        "issuing_ca".into(),
        json!(format.cert_from_pem(&issuer.pem())),
    );
    data.insert("ca_chain".into(), format.chain(&chain));
    data.insert("serial_number".into(), json!(info.serial_string()));
    data.insert("expiration".into(), json!(info.not_after));
    if format == Format::PemBundle {
        let bundle: Vec<String> = chain.iter().map(|p| p.trim().to_string()).collect();
        data.insert("certificate".into(), json!(bundle.join("\n")));
    }
    let mut resp = Response::data(data);
    resp.warnings = creation.warnings;
    if urls.is_empty() {
        resp.warnings.push(AIA_WARNING.into());
    }
    if path_len == Some(0) {
        resp.warnings.push("Max path length of the signed certificate is zero. This certificate cannot be used to issue intermediate CA certificates.".into());
    }
    Ok(Some(resp))
}

/// `root/sign-self-issued`: re-signs a self-issued CA certificate with this
/// mount's issuer, keeping its subject, key, serial and extensions.
async fn sign_self_issued(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let text = req.data.str_or("certificate", "")?;
    let der_bytes = cert_info::pem_certificates(&text)
        .ok()
        .and_then(|c| c.into_iter().next())
        .ok_or_else(|| Error::bad_request("no certificate found in input"))?;
    let cert = CertInfo::parse(&der_bytes).map_err(Error::bad_request)?;
    if !cert.self_issued() {
        return Err(Error::bad_request("given certificate is not self-issued"));
    }
    if !cert.is_ca {
        return Err(Error::bad_request(
            "given certificate is not a CA certificate",
        ));
    }
    let set = backend.issuers(&req.storage).await?;
    let issuer = set.signer(&issuer_reference(req))?;
    let key = issuer
        .key
        .clone()
        .ok_or_else(|| Error::bad_request("issuer has no key"))?;
    if req
        .data
        .bool_or("require_matching_certificate_algorithms", false)?
    {
        let submitted = public_key::info(&cert.spki).and_then(|k| k.key_type);
        if submitted != Some(key.key_type()) {
            return Err(Error::bad_request(format!(
                "signing certificate's public key algorithm ({}) does not match submitted certificate's ({}), and require_matching_certificate_algorithms is true",
                key.key_type().go_name(),
                submitted.map_or("0", |t| t.go_name()),
            )));
        }
    }
    let hash = key.signing(0, false);
    let sig_alg = key.signature_algorithm(hash);
    // Rebuild the TBS with the new issuer, signature algorithm and AKI.
    let (_, tbs_body, _, _) =
        der::read(&cert.tbs).ok_or_else(|| Error::bad_request("malformed certificate"))?;
    let mut parts = Vec::new();
    let mut rest = tbs_body;
    let mut index = 0;
    while let Some((tag, content, whole, next)) = der::read(rest) {
        rest = next;
        let field = if index == 0 && tag != 0xa0 {
            index + 1
        } else {
            index
        };
        match field {
            2 => parts.push(sig_alg.clone()),
            3 => parts.push(issuer.cert.subject.clone()),
            _ if tag == 0xa3 => {
                let mut exts = Vec::new();
                if let Some((_, mut list, _, _)) = der::read(content) {
                    while let Some((_, ext, ext_whole, next_ext)) = der::read(list) {
                        list = next_ext;
                        let is_aki = der::read(ext)
                            .map(|(_, _, oid, _)| oid == der::oid(&[2, 5, 29, 35]))
                            .unwrap_or(false);
                        if !is_aki {
                            exts.push(ext_whole.to_vec());
                        }
                    }
                }
                if let Some(ski) = &issuer.cert.subject_key_id {
                    exts.push(der::seq(&[
                        der::oid(&[2, 5, 29, 35]),
                        der::octet_string(&der::seq(&[der::implicit_primitive(0, ski)])),
                    ]));
                }
                parts.push(der::explicit(3, &der::seq(&exts)));
            }
            _ => parts.push(whole.to_vec()),
        }
        index = field + 1;
    }
    let tbs = der::seq(&parts);
    let sig = key.sign(hash, &tbs).map_err(Error::internal)?;
    let new_der = der::seq(&[tbs, sig_alg, der::bit_string(&sig)]);
    let info = CertInfo::parse(&new_der).map_err(Error::internal)?;
    let mut data = Map::new();
    data.insert("certificate".into(), json!(info.pem()));
    data.insert("issuing_ca".into(), json!(issuer.pem()));
    Ok(Some(Response::data(data)))
}
