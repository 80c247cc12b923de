//! CA generation: a new root (`root/generate`, `root/rotate`,
//! `issuers/generate/root`) and a new intermediate's key and CSR
//! (`intermediate/generate`, `intermediate/cross-sign`,
//! `issuers/generate/intermediate`). Signing with a CA is in `ca_sign`,
//! importing CAs in `import`.

use std::sync::Arc;

use serde_json::{json, Map};

use super::cert_info::CertInfo;
use super::certs::{self, Format, FORMAT_FIELD, PRIVATE_KEY_FORMAT_FIELD};
use super::config;
use super::der;
use super::issuers;
use super::keys;
use super::private_key::{self, PrivateKey};
use super::profile::{self, NameInput, CA_FIELDS, NAME_FIELDS, SUBJECT_FIELDS, VALIDITY_FIELDS};
use super::store::{self, IssuerEntry, IssuerUrls, KeyEntry, ALL_USAGES};
use super::x509;
use super::PkiBackend;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};

/// What generating a CA takes beyond the certificate's names and subject:
/// the key (new, or `existing` by `key_ref`) and the new issuer's name.
const KEY_FIELDS: &[Field] = &[
    Field::string("key_type"),
    Field::int("key_bits"),
    Field::string("key_name"),
    Field::string("key_ref"),
    Field::string("managed_key_name"),
    Field::string("managed_key_id"),
    Field::string("issuer_name"),
    Field::bool("add_basic_constraints"),
    Field::string("exported"),
];

const GENERATE: &[&[Field]] = &[
    NAME_FIELDS,
    VALIDITY_FIELDS,
    SUBJECT_FIELDS,
    CA_FIELDS,
    FORMAT_FIELD,
    PRIVATE_KEY_FORMAT_FIELD,
    KEY_FIELDS,
];

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("root/generate/:exported")
        .fields(GENERATE)
        .update(handler!(b, r => generate_root(b, r, ""))),
    Path::new("issuers/generate/root/:exported")
        .fields(GENERATE)
        .update(handler!(b, r => generate_root(b, r, ""))),
    // A rotation's new root is named `next` unless told otherwise.
    Path::new("root/rotate/:exported")
        .fields(GENERATE)
        .update(handler!(b, r => generate_root(b, r, "next"))),
    Path::new("intermediate/generate/:exported")
        .fields(GENERATE)
        .update(handler!(generate_intermediate)),
    // Vault's name for a CSR on a new internal key.
    Path::new("intermediate/cross-sign")
        .fields(GENERATE)
        .update(handler!(b, r => intermediate_csr(b, r, KeyExport::Internal))),
    Path::new("issuers/generate/intermediate/:exported")
        .fields(GENERATE)
        .update(handler!(generate_intermediate)),
];

pub const AIA_WARNING: &str = "This mount hasn't configured any authority information access (AIA) fields; this may make it harder for systems to find missing certificates in the chain or to validate revocation status of certificates. Consider updating /config/urls or the newly generated issuer with this information.";

/// The `:exported` segment of a generation path: where the key comes from
/// and whether the answer carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyExport {
    Internal,
    Exported,
    /// The stored key `key_ref` names.
    Existing,
}

impl KeyExport {
    fn from_path(req: &Request) -> Result<KeyExport> {
        match req.param("exported")? {
            "internal" => Ok(KeyExport::Internal),
            "exported" => Ok(KeyExport::Exported),
            "existing" => Ok(KeyExport::Existing),
            "kms" => Err(Error::bad_request(
                "managed keys (kms) are not supported by this server",
            )),
            other => Err(Error::bad_request(format!(
                "the \"{other}\" path parameter must be \"internal\", \"existing\", \"exported\" or \"kms\""
            ))),
        }
    }
}

/// Generates a new key or loads `key_ref` for `existing`; returns the key,
/// its id and whether it is new.
async fn obtain_key(req: &Request, kind: KeyExport) -> Result<(Arc<PrivateKey>, KeyEntry, bool)> {
    if kind == KeyExport::Existing {
        let reference = req.data.str_or("key_ref", "default")?;
        let reference = if reference.is_empty() {
            "default".to_string()
        } else {
            reference
        };
        let entry = store::resolve_key(&req.storage, &reference)
            .await?
            .ok_or_else(|| {
                Error::bad_request(format!("unable to find PKI key for reference: {reference}"))
            })?;
        let key = PrivateKey::from_pem(&entry.private_key).map_err(Error::internal)?;
        return Ok((Arc::new(key), entry, false));
    }
    let name = keys::requested_key_name(req).await?;
    let (key, entry) = keys::generate(req, name).await?;
    Ok((Arc::new(key), entry, true))
}

/// Makes a new issuer the default when there is no (existing) default or
/// the default follows the latest issuer, and a new key the default key
/// when there is none.
pub(super) async fn set_defaults_if_missing(
    req: &Request,
    issuer_id: Option<&str>,
    key_id: &str,
) -> Result<()> {
    if let Some(issuer_id) = issuer_id {
        let mut cfg = store::issuers_config(&req.storage).await?;
        let current_exists = !cfg.default.is_empty()
            && store::get_issuer(&req.storage, &cfg.default)
                .await?
                .is_some();
        if !current_exists || cfg.default_follows_latest_issuer {
            cfg.default = issuer_id.to_string();
            req.storage.put_json(store::CONFIG_ISSUERS, &cfg).await?;
        }
    }
    if !key_id.is_empty() {
        let mut kcfg = store::keys_config(&req.storage).await?;
        let exists = !kcfg.default.is_empty()
            && req
                .storage
                .get(&format!("{}{}", store::KEY_PREFIX, kcfg.default))
                .await?
                .is_some();
        if !exists {
            kcfg.default = key_id.to_string();
            req.storage.put_json(store::CONFIG_KEYS, &kcfg).await?;
        }
    }
    Ok(())
}

/// A new issuer's entry. A generated root records the algorithm it was
/// signed with as its revocation signature algorithm; an imported one
/// records none (`""`: its key's default), as Vault does.
pub(super) fn new_issuer_entry(
    id: String,
    name: String,
    key_id: String,
    cert_pem: String,
    revocation_signature_algorithm: String,
) -> IssuerEntry {
    IssuerEntry {
        id,
        name,
        key_id,
        certificate: format!("{cert_pem}\n"),
        manual_chain: None,
        leaf_not_after_behavior: "err".into(),
        usage: ALL_USAGES.into(),
        revocation_signature_algorithm,
        urls: IssuerUrls::default(),
        revoked: false,
        revocation_time: 0,
    }
}

/// A new root CA; `default_name` names its issuer when the request does not
/// (and no issuer has that name yet).
async fn generate_root(
    backend: &PkiBackend,
    req: &mut Request,
    default_name: &str,
) -> Result<Option<Response>> {
    let kind = KeyExport::from_path(req)?;
    let format = Format::from_request(req)?;
    let _guard = backend.write_lock.lock().await;
    let set = backend.issuers(&req.storage).await?;
    let issuer_name = issuers::requested_issuer_name(&req.data, &set, default_name, None)?;
    let role = profile::ca_role(&req.data)?;
    let input = NameInput::from_data(&req.data)?;
    let path_len = profile::requested_path_len(&req.data)?.flatten();
    let (key, key_entry, new_key) = obtain_key(req, kind).await?;
    let creation = profile::creation(&role, &input, None, None, req.ttls)?;
    let issuer_id = store::new_id();
    let global = config::read_urls(&req.storage).await?;
    let mut warnings = Vec::new();
    let urls = if config::templated_on_issuer(&global) {
        warnings.push(ROOT_TEMPLATE_WARNING.to_string());
        x509::AiaUrls::default()
    } else {
        config::aia_urls(&req.storage, &IssuerUrls::default(), &global, &issuer_id).await?
    };
    let extra_ku = x509::parse_key_usages(&req.data.comma_list_or_empty("key_usage")?);
    let spki = key.spki().map_err(Error::internal)?;
    let mut prof = profile::ca_profile(
        &creation,
        spki,
        path_len,
        extra_ku,
        None,
        urls.clone(),
        req.data.comma_list_or_empty("permitted_dns_domains")?,
    )?;
    prof.authority_key_id = Some(prof.subject_key_id.clone());
    let signing = key.signing(
        req.data.int_or("signature_bits", 0)?,
        req.data.bool_or("use_pss", false)?,
    );
    let subject = prof.subject.clone();
    let cert_der = prof.sign(&subject, &key, signing)?;
    let info = CertInfo::parse(&cert_der).map_err(Error::internal)?;
    let entry = new_issuer_entry(
        issuer_id.clone(),
        issuer_name.clone(),
        key_entry.id.clone(),
        info.pem(),
        key.signing_name(signing),
    );
    if new_key {
        store::put_key(&req.storage, &key_entry).await?;
    }
    store::put_issuer(&req.storage, &entry).await?;
    certs::store(&req.storage, &info.serial_string(), &cert_der).await?;
    set_defaults_if_missing(req, Some(&issuer_id), &key_entry.id).await?;
    backend.invalidate();

    let mut data = Map::new();
    let cert_out = format.cert(&cert_der);
    data.insert("expiration".into(), json!(info.not_after));
    data.insert("serial_number".into(), json!(info.serial_string()));
    data.insert("issuer_id".into(), json!(issuer_id));
    data.insert("issuer_name".into(), json!(issuer_name));
    data.insert("key_id".into(), json!(key_entry.id));
    data.insert("key_name".into(), json!(key_entry.name));
    data.insert("issuing_ca".into(), json!(cert_out));
    let mut certificate = cert_out;
    if kind == KeyExport::Exported {
        let output = certs::private_key_output(req, &key, format)?;
        if format == Format::PemBundle {
            certificate = format!("{}\n{certificate}", output.bundle_pem);
        }
        data.insert("private_key".into(), json!(output.text));
        data.insert("private_key_type".into(), json!(output.key_type));
    }
    data.insert("certificate".into(), json!(certificate));
    let mut resp = Response::data(data);
    resp.warnings = creation.warnings;
    resp.warnings.extend(warnings);
    if urls.is_empty() {
        resp.warnings.push(AIA_WARNING.into());
    }

    if path_len == Some(0) {
        resp.warnings.push("Max path length of the generated certificate is zero. This certificate cannot be used to issue intermediate CA certificates.".into());
    }
    Ok(Some(resp))
}

/// Encodes and signs a PKCS#10 request.
fn build_csr(
    subject: &[u8],
    key: &PrivateKey,
    signing: private_key::Signing,
    extensions: Vec<Vec<u8>>,
) -> Result<Vec<u8>> {
    let spki = key.spki().map_err(Error::internal)?;
    let mut attrs = Vec::new();
    if !extensions.is_empty() {
        attrs.push(der::seq(&[
            der::oid(&[1, 2, 840, 113549, 1, 9, 14]),
            der::set(&[der::seq(&extensions)]),
        ]));
    }
    let info = der::seq(&[
        der::int(0),
        subject.to_vec(),
        spki,
        der::implicit_constructed(0, &attrs.concat()),
    ]);
    let sig = key.sign(signing, &info).map_err(Error::internal)?;
    Ok(der::seq(&[
        info,
        key.signature_algorithm(signing),
        der::bit_string(&sig),
    ]))
}

async fn generate_intermediate(
    backend: &PkiBackend,
    req: &mut Request,
) -> Result<Option<Response>> {
    let kind = KeyExport::from_path(req)?;
    intermediate_csr(backend, req, kind).await
}

/// A new (or existing) key and a CSR for it, to be signed elsewhere.
async fn intermediate_csr(
    backend: &PkiBackend,
    req: &mut Request,
    kind: KeyExport,
) -> Result<Option<Response>> {
    let format = Format::from_request(req)?;
    let _guard = backend.write_lock.lock().await;
    let role = profile::ca_role(&req.data)?;
    let input = NameInput::from_data(&req.data)?;
    let (key, key_entry, new_key) = obtain_key(req, kind).await?;
    let creation = profile::creation(&role, &input, None, None, req.ttls)?;
    let mut exts = Vec::new();
    if !creation.sans.is_empty() {
        let subject_empty = creation.subject.to_der() == der::seq(&[]);
        exts.push(x509::san_extension_der(&creation.sans, subject_empty));
    }
    if req.data.bool_or("add_basic_constraints", false)? {
        exts.push(der::seq(&[
            der::oid(&[2, 5, 29, 19]),
            der::boolean(true),
            der::octet_string(&der::seq(&[der::boolean(true)])),
        ]));
    }
    let signing = key.signing(
        req.data.int_or("signature_bits", 0)?,
        req.data.bool_or("use_pss", false)?,
    );
    let csr_der = build_csr(&creation.subject.to_der(), &key, signing, exts)?;
    if new_key {
        store::put_key(&req.storage, &key_entry).await?;
    }
    set_defaults_if_missing(req, None, &key_entry.id).await?;
    backend.invalidate();
    let mut data = Map::new();
    let csr_text = match format {
        Format::Der => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(&csr_der)
        }
        _ => der::pem_encode("CERTIFICATE REQUEST", &csr_der),
    };
    data.insert("csr".into(), json!(csr_text));
    data.insert("key_id".into(), json!(key_entry.id));
    if kind == KeyExport::Exported {
        let output = certs::private_key_output(req, &key, format)?;
        data.insert("private_key".into(), json!(output.text));
        data.insert("private_key_type".into(), json!(output.key_type));
    }
    let mut resp = Response::data(data);
    resp.warnings = creation.warnings;
    if mount_has_no_aia(req).await? {
        resp.warnings
            .push(format!("{AIA_WARNING} {INTERMEDIATE_AIA_HINT}"));
    }
    Ok(Some(resp))
}

/// Why a new root has no AIA although `config/urls` sets some.
const ROOT_TEMPLATE_WARNING: &str = "When generating root CA, found global AIA configuration with issuer_id template unsuitable for root generation. This AIA configuration has been ignored. To include AIA on this root CA, set the global AIA configuration to not include issuer_id and instead to refer to a static issuer name.";

/// What Vault adds to the AIA warning for a new intermediate's CSR.
const INTERMEDIATE_AIA_HINT: &str = "Since this certificate is an intermediate, it might be useful to regenerate this certificate after fixing this problem for the root mount.";

/// Whether `config/urls` sets no AIA field at all (Vault then warns on
/// every new issuer).
pub(super) async fn mount_has_no_aia(req: &Request) -> Result<bool> {
    Ok(config::read_urls(&req.storage).await?.is_empty())
}
