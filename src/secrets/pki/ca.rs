//! CA lifecycle: root generation, signing intermediates, intermediate CSR
//! generation, importing issuers and keys, cross-signing self-issued CAs.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::certs::{self, Format};
use super::config;
use super::csr;
use super::der;
use super::private_key::{self, PrivateKey};
use super::profile::{self, NameInput, NotAfterRule};
use super::public_key;
use super::store::{self, IssuerEntry, IssuerSet, IssuerUrls, KeyEntry, ALL_USAGES};
use super::x509::{self, CertInfo};
use super::PkiBackend;
use crate::logical::framework::is_generic_name;
use crate::logical::{Error, FieldData, Request, Response, Result};

pub const AIA_WARNING: &str = "This mount hasn't configured any authority information access (AIA) fields; this may make it harder for systems to find missing certificates in the chain or to validate revocation status of certificates. Consider updating /config/urls or the newly generated issuer with this information.";

fn export_type(req: &Request) -> Result<&'static str> {
    // `intermediate/cross-sign` is Vault's name for a CSR on a new internal key.
    if req.route == "intermediate/cross-sign" {
        return Ok("internal");
    }
    match req.param("exported")? {
        "internal" => Ok("internal"),
        "exported" => Ok("exported"),
        "existing" => Ok("existing"),
        "kms" => Err(Error::bad_request("managed keys (kms) are not supported by this server")),
        other => Err(Error::bad_request(format!(
            "the \"{other}\" path parameter must be \"internal\", \"existing\", \"exported\" or \"kms\""
        ))),
    }
}

/// A name field as Vault reads it: absent → `None`; present, even as
/// `null`, → its text (`null` reads as `""`, which no name may be).
fn requested_name(d: &FieldData, field: &str) -> Result<Option<String>> {
    match d.raw().get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(String::new())),
        Some(_) => d.str(field),
    }
}

/// The `issuer_name` a request asks for: trimmed, non-empty, a valid
/// name, and not another issuer's name. When absent, `default` (`next` for
/// `root/rotate`) if no issuer has that name yet, else none.
pub fn requested_issuer_name(
    d: &FieldData,
    set: &IssuerSet,
    default: &str,
    except_id: Option<&str>,
) -> Result<String> {
    let name = match requested_name(d, "issuer_name")? {
        Some(name) if name.trim().is_empty() => {
            return Err(Error::bad_request("expected non-empty issuer name"))
        }
        Some(name) => name.trim().to_string(),
        None if default.is_empty() || set.issuers.values().any(|i| i.entry.name == default) => {
            return Ok(String::new())
        }
        None => default.to_string(),
    };
    if name == "default" {
        return Err(Error::bad_request(
            "reserved keyword 'default' can not be used as issuer name",
        ));
    }
    if !is_generic_name(&name) {
        return Err(Error::bad_request(
            "issuer name contained invalid characters",
        ));
    }
    if set
        .issuers
        .values()
        .any(|i| i.entry.name == name && Some(i.entry.id.as_str()) != except_id)
    {
        return Err(Error::bad_request("issuer name already in use"));
    }
    Ok(name)
}

/// The `key_name` a request gives a new key (`""` when absent): a valid
/// name not used by another key.
pub async fn requested_key_name(req: &Request) -> Result<String> {
    let Some(name) = requested_name(&req.data, "key_name")? else {
        return Ok(String::new());
    };
    check_key_name(req, &name).await?;
    Ok(name)
}

/// Checks a key name a request sets: not `default`, valid, unused.
pub async fn check_key_name(req: &Request, name: &str) -> Result<()> {
    if name == "default" {
        return Err(Error::bad_request(
            "reserved keyword 'default' can not be used as key name",
        ));
    }
    if !is_generic_name(name) {
        return Err(Error::bad_request("key name contained invalid characters"));
    }
    if store::list_keys(&req.storage)
        .await?
        .iter()
        .any(|k| k.name == name)
    {
        return Err(Error::bad_request("key name already in use"));
    }
    Ok(())
}

/// Generates a new key or loads `key_ref` for `existing`; returns the key,
/// its id and whether it is new.
async fn obtain_key(req: &Request, kind: &str) -> Result<(Arc<PrivateKey>, KeyEntry, bool)> {
    if kind == "existing" {
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
    let key_name = requested_key_name(req).await?;
    let (kt, bits) = private_key::generation_params(
        &req.data.str_or("key_type", "rsa")?,
        req.data.int_or("key_bits", 0)?,
    )
    .map_err(Error::bad_request)?;
    let key = tokio::task::spawn_blocking(move || PrivateKey::generate(kt, bits))
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)?;
    let entry = KeyEntry {
        id: store::new_id(),
        name: key_name,
        key_type: kt.as_str().to_string(),
        private_key: key.to_pem().map_err(Error::internal)?,
    };
    Ok((Arc::new(key), entry, true))
}

async fn set_defaults_if_missing(
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

/// Why reading an issuer with a PSS revocation algorithm warns: its OCSP
/// answers are signed with PKCS#1 v1.5.
pub const PSS_OCSP_WARNING: &str = "Issuer uses a PSS Revocation Signature Algorithm. This algorithm will be downgraded to PKCS#1v1.5 signature scheme on OCSP responses, due to limitations in the OCSP library.";

/// A new issuer's entry. A generated root records the algorithm it was
/// signed with as its revocation signature algorithm; an imported one
/// records none (`""`: its key's default), as Vault does.
fn new_issuer_entry(
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

/// `root/generate/:type` and aliases.
pub async fn generate_root(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let kind = export_type(req)?;
    let format = Format::from_request(req)?;
    let _guard = backend.write_lock.lock().await;
    let set = backend.issuers(&req.storage).await?;
    let default_name = if req.route == "root/rotate/:exported" {
        "next"
    } else {
        ""
    };
    let issuer_name = requested_issuer_name(&req.data, &set, default_name, None)?;
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
    if kind == "exported" {
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
pub async fn sign_intermediate(
    backend: &PkiBackend,
    req: &mut Request,
) -> Result<Option<Response>> {
    let format = Format::from_request(req)?;
    let csr = csr::parse_pem(&req.data.str_or("csr", "")?)?;
    let set = backend.issuers(&req.storage).await?;
    let reference = req
        .params
        .get("issuer_ref")
        .cloned()
        .unwrap_or_else(|| "default".into());
    let issuer = set.signer(&reference)?;
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

/// `intermediate/generate/:type`: a new (or existing) key and a CSR for it.
pub async fn generate_intermediate(
    backend: &PkiBackend,
    req: &mut Request,
) -> Result<Option<Response>> {
    let kind = export_type(req)?;
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
    if kind == "exported" {
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
async fn mount_has_no_aia(req: &Request) -> Result<bool> {
    Ok(config::read_urls(&req.storage).await?.is_empty())
}

/// Imports certificates (and keys when `allow_keys`) from a PEM bundle:
/// `intermediate/set-signed`, `config/ca`, `issuers/import/*`.
pub async fn import(
    backend: &PkiBackend,
    req: &mut Request,
    field: &str,
    allow_keys: bool,
) -> Result<Option<Response>> {
    let text = req.data.str_or(field, "")?;
    if text.trim().is_empty() {
        return Err(Error::bad_request(format!("'{field}' must be provided")));
    }
    // No PEM certificate fits in fewer bytes: most likely a file path.
    if text.len() < 75 {
        return Err(Error::bad_request(
            "provided data for import was too short; perhaps a path was passed to the API rather than the contents of a PEM file",
        ));
    }
    let blocks = pem::parse_many(text.as_bytes())
        .map_err(|e| Error::bad_request(format!("error parsing PEM bundle: {e}")))?;
    if blocks.is_empty() {
        return Err(Error::bad_request("no data found in PEM bundle"));
    }
    let mut new_keys = Vec::new();
    let mut new_certs = Vec::new();
    for block in &blocks {
        match block.tag() {
            "CERTIFICATE" => {
                let info = CertInfo::parse(block.contents()).map_err(Error::bad_request)?;
                // Go reads no public key of another algorithm (Ed448, X25519).
                if public_key::info(&info.spki)
                    .and_then(|k| k.key_type)
                    .is_none()
                {
                    return Err(Error::bad_request(
                        "Refusing to import CA certificate with empty PublicKey",
                    ));
                }
                new_certs.push(info);
            }
            "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "PRIVATE KEY" => {
                if !allow_keys {
                    return Err(Error::bad_request("private keys found in the PEM bundle but not allowed by the path; use /issuers/import/bundle"));
                }
                let key = PrivateKey::from_der(block.tag(), block.contents())
                    .map_err(Error::bad_request)?;
                new_keys.push(key);
            }
            other => {
                return Err(Error::bad_request(format!(
                    "unknown PEM block type in bundle: {other}"
                )))
            }
        }
    }
    for cert in &new_certs {
        if !cert.is_ca {
            return Err(Error::bad_request(format!(
                "refusing to import non-CA certificate (serial {}) as an issuer",
                cert.serial_string()
            )));
        }
    }
    let _guard = backend.write_lock.lock().await;
    let mut stored_keys = store::list_keys(&req.storage).await?;
    let key_bytes_of = |pem_text: &str| -> Option<Vec<u8>> {
        let k = PrivateKey::from_pem(pem_text).ok()?;
        public_key::info(&k.spki().ok()?).map(|i| i.key_bytes)
    };
    let mut known: Vec<(String, Vec<u8>)> = stored_keys
        .iter()
        .filter_map(|k| key_bytes_of(&k.private_key).map(|b| (k.id.clone(), b)))
        .collect();
    let (mut imported_keys, mut existing_keys) = (Vec::new(), Vec::new());
    for key in new_keys {
        let spki = key.spki().map_err(Error::internal)?;
        let bytes = public_key::info(&spki)
            .map(|i| i.key_bytes)
            .unwrap_or_default();
        if let Some((id, _)) = known.iter().find(|(_, b)| *b == bytes) {
            existing_keys.push(id.clone());
            continue;
        }
        let entry = KeyEntry {
            id: store::new_id(),
            name: String::new(),
            key_type: key.key_type().as_str().into(),
            private_key: key.to_pem().map_err(Error::internal)?,
        };
        store::put_key(&req.storage, &entry).await?;
        known.push((entry.id.clone(), bytes));
        imported_keys.push(entry.id.clone());
        stored_keys.push(entry);
    }
    let existing = store::list_issuer_entries(&req.storage).await?;
    let (mut imported_issuers, mut existing_issuers) = (Vec::new(), Vec::new());
    let mut mapping = Map::new();
    let mut first_with_key: Option<String> = None;
    for cert in &new_certs {
        let key_bytes = public_key::info(&cert.spki)
            .map(|i| i.key_bytes)
            .unwrap_or_default();
        let key_id = known
            .iter()
            .find(|(_, b)| *b == key_bytes)
            .map(|(id, _)| id.clone())
            .unwrap_or_default();
        let pem_text = cert.pem();
        if let Some(found) = existing.iter().find(|e| e.certificate.trim() == pem_text) {
            existing_issuers.push(found.id.clone());
            let mut found = found.clone();
            if found.key_id.is_empty() && !key_id.is_empty() {
                found.key_id = key_id.clone();
                store::put_issuer(&req.storage, &found).await?;
            }
            mapping.insert(found.id.clone(), json!(found.key_id));
            continue;
        }
        let entry = new_issuer_entry(
            store::new_id(),
            String::new(),
            key_id.clone(),
            pem_text,
            String::new(),
        );
        store::put_issuer(&req.storage, &entry).await?;
        certs::store(&req.storage, &cert.serial_string(), &cert.der).await?;
        if !key_id.is_empty() && first_with_key.is_none() {
            first_with_key = Some(entry.id.clone());
        }
        mapping.insert(entry.id.clone(), json!(key_id));
        imported_issuers.push(entry.id.clone());
    }
    if let Some(id) = &first_with_key {
        set_defaults_if_missing(req, Some(id), "").await?;
    }
    if let Some(k) = imported_keys.first() {
        set_defaults_if_missing(req, None, k).await?;
    }
    backend.invalidate();
    let list_or_null = |v: Vec<String>| if v.is_empty() { Value::Null } else { json!(v) };
    let mut data = Map::new();
    data.insert("imported_issuers".into(), list_or_null(imported_issuers));
    data.insert("imported_keys".into(), list_or_null(imported_keys));
    data.insert("existing_issuers".into(), list_or_null(existing_issuers));
    data.insert("existing_keys".into(), list_or_null(existing_keys));
    data.insert("mapping".into(), Value::Object(mapping));
    let mut resp = Response::data(data);
    if mount_has_no_aia(req).await? {
        resp.warnings.push(AIA_WARNING.into());
    }
    Ok(Some(resp))
}

/// `root/sign-self-issued`: re-signs a self-issued CA certificate with this
/// mount's issuer, keeping its subject, key, serial and extensions.
pub async fn sign_self_issued(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let text = req.data.str_or("certificate", "")?;
    let der_bytes = x509::pem_certificates(&text)
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
    let reference = req
        .params
        .get("issuer_ref")
        .cloned()
        .unwrap_or_else(|| "default".into());
    let issuer = set.signer(&reference)?;
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
