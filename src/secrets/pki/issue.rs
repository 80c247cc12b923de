//! Leaf issuance: `issue/:role` (key generated here), `sign/:role` (CSR),
//! and `sign-verbatim` (CSR contents kept as requested), each also from
//! the issuer a path names (`issuer/:issuer_ref/...`).

use serde_json::{json, Map};

use super::certs::{self, Format, FORMAT_FIELD, PRIVATE_KEY_FORMAT_FIELD};
use super::config;

use super::cert_info::{self, CertInfo};
use super::csr::{self, Csr};
use super::der;
use super::private_key::{self, PrivateKey};
use super::profile::{self, NameInput, NotAfterRule, NAME_FIELDS, VALIDITY_FIELDS};
use super::roles::Role;
use super::store::LoadedIssuer;
use super::x509::{self, Sans};
use super::PkiBackend;
use crate::handler;
use crate::logical::framework::{Capture, Field, Path};
use crate::logical::{Error, Lease, Operation, Request, Response, Result};

/// What `issue` and `sign` take beyond the certificate's names.
const ISSUE_FIELDS: &[Field] = &[
    Field::bool("remove_roots_from_chain"),
    Field::list("user_ids"),
    Field::string("csr"),
    Field::string("role"),
    Field::string("issuer_ref"),
    Field::string("cert_metadata"),
];

const ISSUE: &[&[Field]] = &[
    NAME_FIELDS,
    VALIDITY_FIELDS,
    FORMAT_FIELD,
    PRIVATE_KEY_FORMAT_FIELD,
    ISSUE_FIELDS,
];

/// `sign-verbatim` takes the names from the CSR.
const VERBATIM_FIELDS: &[Field] = &[
    Field::string("csr"),
    Field::list("key_usage"),
    Field::list("ext_key_usage"),
    Field::list("ext_key_usage_oids"),
    Field::int("signature_bits"),
    Field::bool("use_pss"),
    Field::bool("remove_roots_from_chain"),
    Field::list("user_ids"),
    Field::bool("basic_constraints_valid_for_non_ca"),
    Field::bool("enforce_leaf_not_after_behavior"),
    Field::string("role"),
    Field::string("issuer_ref"),
    Field::duration("not_before_duration"),
];

const VERBATIM: &[&[Field]] = &[VALIDITY_FIELDS, FORMAT_FIELD, VERBATIM_FIELDS];

/// Role names are Vault's generic names: a path naming any other role is
/// no path at all.
const ROLE: &[(&str, Capture)] = &[("role", Capture::Name)];

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("issue/:role")
        .captures(ROLE)
        .fields(ISSUE)
        .on_standby(&[Operation::Update])
        .update(handler!(b, r => issue(b, r, Key::Generated))),
    Path::new("issuer/:issuer_ref/issue/:role")
        .captures(ROLE)
        .fields(ISSUE)
        .on_standby(&[Operation::Update])
        .update(handler!(b, r => issue(b, r, Key::Generated))),
    Path::new("sign/:role")
        .captures(ROLE)
        .fields(ISSUE)
        .on_standby(&[Operation::Update])
        .update(handler!(b, r => issue(b, r, Key::FromCsr))),
    Path::new("issuer/:issuer_ref/sign/:role")
        .captures(ROLE)
        .fields(ISSUE)
        .on_standby(&[Operation::Update])
        .update(handler!(b, r => issue(b, r, Key::FromCsr))),
    Path::new("sign-verbatim")
        .fields(VERBATIM)
        .update(handler!(sign_verbatim)),
    Path::new("sign-verbatim/:role")
        .captures(ROLE)
        .fields(VERBATIM)
        .update(handler!(sign_verbatim)),
    Path::new("issuer/:issuer_ref/sign-verbatim")
        .fields(VERBATIM)
        .update(handler!(sign_verbatim)),
    Path::new("issuer/:issuer_ref/sign-verbatim/:role")
        .captures(ROLE)
        .fields(VERBATIM)
        .update(handler!(sign_verbatim)),
];

/// Where an issued certificate's key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// `issue`: generated here, returned with the certificate.
    Generated,
    /// `sign`: the CSR's.
    FromCsr,
}

async fn load_role(backend: &PkiBackend, req: &Request) -> Result<std::sync::Arc<Role>> {
    let name = req.param("role")?;
    backend
        .role(&req.storage, name)
        .await?
        .ok_or_else(|| Error::bad_request(format!("unknown role: {name}")))
}

pub(super) fn signing_issuer(
    set: &super::store::IssuerSet,
    reference: &str,
) -> Result<std::sync::Arc<LoadedIssuer>> {
    set.signer(reference).map_err(|e| match e {
        Error::BadRequest(msg) => Error::bad_request(format!(
            "could not fetch the CA certificate (was one set?): {msg}"
        )),
        other => other,
    })
}

/// A certificate just signed: its DER plus the facts the response and the
/// store need, taken from the profile rather than re-parsed from the DER.
pub(super) struct Issued {
    pub der: Vec<u8>,
    pub serial: String,
    pub not_after: i64,
}

impl Issued {
    fn new(der: Vec<u8>, prof: &x509::Profile) -> Issued {
        Issued {
            der,
            serial: x509::format_serial(&prof.serial),
            not_after: prof.not_after.unix_timestamp(),
        }
    }
}

/// Builds the response shared by issue, sign and sign-verbatim.
#[allow(clippy::too_many_arguments)]
fn issued_response(
    req: &Request,
    format: Format,
    cert: &Issued,
    issuer: &LoadedIssuer,
    private_key: Option<certs::KeyOutput>,
    warnings: Vec<String>,
    generate_lease: bool,
) -> Result<Response> {
    let remove_roots = req.data.bool_or("remove_roots_from_chain", false)?;
    let chain: Vec<&String> = issuer
        .chain
        .iter()
        .filter(|pem_text| {
            !remove_roots
                || cert_info::pem_certificates(pem_text)
                    .ok()
                    .and_then(|c| c.into_iter().next())
                    .and_then(|d| CertInfo::parse(&d).ok())
                    .is_none_or(|c| !c.self_issued())
        })
        .collect();
    let mut data = Map::new();
    let mut certificate = format.cert(&cert.der);
    if format == Format::PemBundle {
        let mut parts = Vec::new();
        if let Some(key) = &private_key {
            parts.push(key.bundle_pem.clone());
        }
        parts.push(certificate.clone());
        parts.extend(chain.iter().map(|p| p.trim().to_string()));
        certificate = parts.join("\n");
    }
    data.insert("certificate".into(), json!(certificate));
    data.insert(
        "issuing_ca".into(),
        json!(format.cert_from_pem(&issuer.pem)),
    );
    if !chain.is_empty() {
        data.insert("ca_chain".into(), format.chain(&chain));
    }
    data.insert("serial_number".into(), json!(cert.serial));
    data.insert("expiration".into(), json!(cert.not_after));
    if let Some(key) = private_key {
        data.insert("private_key".into(), json!(key.text));
        data.insert("private_key_type".into(), json!(key.key_type));
    }
    let mut resp = Response::data(data);
    resp.warnings = warnings;
    if generate_lease {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        resp.lease = Some(Lease {
            id: format!(
                "{}{}/{}",
                req.mount_point,
                req.path.trim_end_matches('/'),
                uuid::Uuid::new_v4()
            ),
            ttl: (cert.not_after - now).max(0),
            renewable: false,
        });
    }
    Ok(resp)
}

/// `issue/:role` and `sign/:role`.
async fn issue(backend: &PkiBackend, req: &mut Request, key: Key) -> Result<Option<Response>> {
    let issued = issue_certificate(backend, req, key).await;
    counted(backend, req, issued).await
}

/// `sign-verbatim[/:role]`.
async fn sign_verbatim(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let issued = sign_verbatim_certificate(backend, req).await;
    counted(backend, req, issued).await
}

/// Counts an issuance in `vaultlet.pki.certificates_issued_total` by outcome,
/// role and signing issuer (empty when none signed). A role is named only
/// if it exists, so that request input cannot create series.
async fn counted(
    backend: &PkiBackend,
    req: &Request,
    issued: Result<(Response, String)>,
) -> Result<Option<Response>> {
    // A standby hands the request to the active, which counts it.
    if matches!(issued, Err(Error::ReadOnly)) {
        return Err(Error::ReadOnly);
    }
    let role = match req.params.get("role") {
        Some(name) => match backend.role(&req.storage, name).await {
            Ok(Some(_)) => name.as_str(),
            _ => "",
        },
        None => "",
    };
    let (issuer, outcome) = match &issued {
        Ok((_, issuer)) => (issuer.as_str(), "success"),
        Err(_) => ("", "failure"),
    };
    backend
        .metrics
        .pki_issued
        .with(&[&req.mount_point, role, issuer, outcome])
        .inc();
    issued.map(|(response, _)| Some(response))
}

/// Issues or signs a leaf from a role; the response and the signing
/// issuer's id.
async fn issue_certificate(
    backend: &PkiBackend,
    req: &mut Request,
    key: Key,
) -> Result<(Response, String)> {
    let sign = key == Key::FromCsr;
    let role = load_role(backend, req).await?;
    // A standby issues only what is not stored: the active stores the rest,
    // so it gets the request before anything is signed twice.
    if !role.no_store && req.storage.is_read_only() {
        return Err(Error::ReadOnly);
    }
    let format = Format::from_request(req)?;
    let reference = req
        .params
        .get("issuer_ref")
        .cloned()
        .unwrap_or_else(|| role.issuer_ref.clone());
    if !sign && role.key_type == "any" {
        return Err(Error::bad_request(
            "role key type \"any\" not allowed for issuing certificates, only signing",
        ));
    }
    let input = NameInput::from_data(&req.data)?;
    let mut warnings = Vec::new();
    let csr: Option<Csr> = if sign {
        let csr = csr::parse_pem(&req.data.str_or("csr", "")?)?;
        csr.check_key(&role.key_type, role.key_bits)?;
        if role.use_csr_common_name && !input.common_name.is_empty() {
            warnings.push("the common_name field was provided but the role is set with \"use_csr_common_name\" set to true".to_string());
        }
        if role.use_csr_sans
            && input
                .alt_names
                .as_ref()
                .is_some_and(|names| !names.is_empty())
        {
            warnings.push("the alt_names field was provided but the role is set with \"use_csr_sans\" set to true".to_string());
        }
        Some(csr)
    } else {
        None
    };
    let set = backend.issuers(&req.storage).await?;
    let issuer = signing_issuer(&set, &reference)?;
    let creation = profile::creation(
        &role,
        &input,
        csr.as_ref(),
        Some((&issuer, NotAfterRule::of(&issuer))),
        req.ttls,
    )?;
    warnings.extend(creation.warnings.iter().cloned());
    let (spki, new_key) = match &csr {
        Some(csr) => {
            if !csr.signature_valid() {
                return Err(Error::bad_request("request signature invalid"));
            }
            if csr.has_basic_constraints {
                warnings.push("specified CSR contained a Basic Constraints extension that was ignored during issuance".into());
            }
            (csr.spki.clone(), None)
        }
        None => {
            let (kt, bits) = private_key::generation_params(&role.key_type, role.key_bits)
                .map_err(Error::bad_request)?;
            let key = tokio::task::spawn_blocking(move || PrivateKey::generate(kt, bits))
                .await
                .map_err(Error::internal)?
                .map_err(Error::internal)?;
            (key.spki().map_err(Error::internal)?, Some(key))
        }
    };
    let cert = sign_and_store(backend, &req.storage, &role, &creation, spki, &issuer).await?;
    let private_key = match &new_key {
        Some(k) => Some(certs::private_key_output(req, k, format)?),
        None => None,
    };
    let resp = issued_response(
        req,
        format,
        &cert,
        &issuer,
        private_key,
        warnings,
        role.generate_lease && !role.no_store,
    )?;
    Ok((resp, issuer.entry.id.clone()))
}

/// Signs a leaf for `role` with the names and validity `creation`
/// resolved, and stores it unless the role says `no_store`: the tail of
/// `issue`/`sign`, shared with ACME's finalize.
pub(super) async fn sign_and_store(
    backend: &PkiBackend,
    storage: &crate::storage::StorageView,
    role: &Role,
    creation: &profile::Creation,
    spki: Vec<u8>,
    issuer: &LoadedIssuer,
) -> Result<Issued> {
    let global = backend.global_urls(storage).await?;
    let urls = config::aia_urls(storage, &issuer.entry.urls, &global, &issuer.entry.id).await?;
    let prof = profile::leaf_profile(role, creation, spki, issuer, urls)?;
    let key = issuer
        .key
        .clone()
        .ok_or_else(|| Error::bad_request("issuer has no key"))?;
    let cert_der = prof.sign(
        &issuer.cert.subject,
        &key,
        key.signing(role.signature_bits, role.use_pss),
    )?;
    let cert = Issued::new(cert_der, &prof);
    if !role.no_store {
        certs::store(storage, &cert.serial, &cert.der).await?;
    }
    Ok(cert)
}

/// What sign-verbatim writes itself rather than copying from the CSR:
/// basic constraints, SANs, key identifiers, key usage and extended key
/// usage.
const VERBATIM_PROFILE_EXTENSIONS: &[&[u64]] = &[
    &[2, 5, 29, 19],
    &[2, 5, 29, 17],
    &[2, 5, 29, 14],
    &[2, 5, 29, 35],
    &[2, 5, 29, 15],
    &[2, 5, 29, 37],
];

/// Signs a CSR's subject, names and extensions as-is; the response and
/// the signing issuer's id.
async fn sign_verbatim_certificate(
    backend: &PkiBackend,
    req: &mut Request,
) -> Result<(Response, String)> {
    let format = Format::from_request(req)?;
    let mut role = Role::permissive();
    if req.params.contains_key("role") {
        let named = load_role(backend, req).await?;
        role.ttl = named.ttl;
        role.max_ttl = named.max_ttl;
        role.generate_lease = named.generate_lease;
        role.no_store = named.no_store;
        role.not_before_duration = named.not_before_duration;
        role.basic_constraints_valid_for_non_ca = named.basic_constraints_valid_for_non_ca;
        role.issuer_ref = named.issuer_ref.clone();
    }
    if let Some(d) = req.data.duration("not_before_duration")? {
        role.not_before_duration = d;
    }
    if let Some(b) = req.data.bool("basic_constraints_valid_for_non_ca")? {
        role.basic_constraints_valid_for_non_ca = b;
    }
    let csr = csr::parse_pem(&req.data.str_or("csr", "")?)?;
    if csr.requests_ca {
        return Err(Error::bad_request("refusing to sign a CSR requesting a CA certificate via sign-verbatim; use sign-intermediate"));
    }
    csr.check_key("any", 0)?;
    if !csr.signature_valid() {
        return Err(Error::bad_request("request signature invalid"));
    }
    let reference = req
        .params
        .get("issuer_ref")
        .cloned()
        .unwrap_or_else(|| role.issuer_ref.clone());
    let set = backend.issuers(&req.storage).await?;
    let issuer = signing_issuer(&set, &reference)?;
    let rule = NotAfterRule::of(&issuer);
    let input = NameInput::validity(&req.data)?;
    let (not_before, not_after, warnings) =
        profile::validity(&role, &input, Some((&issuer, rule)), req.ttls)?;
    let key_usage = csr.key_usage.unwrap_or_else(|| {
        let names = req
            .data
            .comma_list("key_usage")
            .ok()
            .flatten()
            .unwrap_or_else(|| Role::default().key_usage);
        x509::parse_key_usages(&names)
    });
    let mut ekus = csr.ext_key_usage.clone();
    if ekus.is_empty() {
        for name in req.data.comma_list_or_empty("ext_key_usage")? {
            ekus.extend(x509::ext_key_usage_oid(name.trim()));
        }
        for oid in req.data.comma_list_or_empty("ext_key_usage_oids")? {
            ekus.push(
                der::oid_from_str(&oid)
                    .ok_or_else(|| Error::bad_request(format!("{oid} is not a valid OID")))?,
            );
        }
    }
    let creation = profile::Creation {
        subject: Default::default(),
        sans: Sans {
            dns: csr.dns.clone(),
            email: csr.email.clone(),
            ip: csr.ip.clone(),
            uri: csr.uri.clone(),
            other: csr
                .other
                .iter()
                .map(|o| (o.oid_der.clone(), o.value_der.clone()))
                .collect(),
        },
        not_before,
        not_after,
        skid: None,
        warnings: vec![],
    };
    let global = backend.global_urls(&req.storage).await?;
    let urls =
        config::aia_urls(&req.storage, &issuer.entry.urls, &global, &issuer.entry.id).await?;
    let mut prof = profile::leaf_profile(
        &Role {
            key_usage: vec![],
            server_flag: false,
            client_flag: false,
            ..role.clone()
        },
        &creation,
        csr.spki.clone(),
        &issuer,
        urls,
    )?;
    prof.subject = csr.subject.clone();
    prof.key_usage = key_usage;
    prof.ext_key_usage = ekus;
    prof.extra_extensions = csr.extensions_except(VERBATIM_PROFILE_EXTENSIONS);
    let key = issuer
        .key
        .clone()
        .ok_or_else(|| Error::bad_request("issuer has no key"))?;
    let cert_der = prof.sign(
        &issuer.cert.subject,
        &key,
        key.signing(
            req.data.int_or("signature_bits", 0)?,
            req.data.bool_or("use_pss", false)?,
        ),
    )?;
    let cert = Issued::new(cert_der, &prof);
    if !role.no_store {
        certs::store(&req.storage, &cert.serial, &cert.der).await?;
    }
    let resp = issued_response(
        req,
        format,
        &cert,
        &issuer,
        None,
        warnings,
        role.generate_lease && !role.no_store,
    )?;
    Ok((resp, issuer.entry.id.clone()))
}
