//! Management endpoints: roles, issuers, keys and the mount configuration
//! (`config/urls`, `config/issuers`, `config/keys`, `root/replace`,
//! `DELETE root`).

use serde_json::{json, Map, Value};

use super::ca;
use super::config;
use super::fetch::chain_with_newlines;
use super::private_key::{self, PrivateKey};
use super::public_key;
use super::roles::{self, Role};
use super::store::{self, IssuerEntry, KeyEntry};
use super::PkiBackend;
use crate::logical::framework::is_generic_name;
use crate::logical::{Error, Operation, Request, Response, Result};

fn keys_response(keys: Vec<String>, key_info: Option<Map<String, Value>>) -> Response {
    let mut data = Map::new();
    data.insert("keys".into(), json!(keys));
    if let Some(info) = key_info {
        data.insert("key_info".into(), Value::Object(info));
    }
    Response::data(data)
}

pub async fn list_roles(req: &mut Request) -> Result<Option<Response>> {
    let names = req.storage.list(roles::ROLE_PREFIX).await?;
    Ok(Some(keys_response(names, None)))
}

pub async fn role(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("name")?.to_string();
    if !roles::valid_role_name(&name) {
        return Err(Error::UnsupportedPath);
    }
    match req.operation {
        Operation::Read => Ok(roles::get_role(&req.storage, &name)
            .await?
            .map(|r| Response::data(r.data()))),
        Operation::Delete => {
            let result = req
                .storage
                .delete(&format!("{}{name}", roles::ROLE_PREFIX))
                .await;
            backend.invalidate_config();
            result?;
            Ok(None)
        }
        op => {
            let base = if op == Operation::Patch {
                roles::get_role(&req.storage, &name)
                    .await?
                    .ok_or(Error::NotFound)?
            } else {
                Role::default()
            };
            let role = base.apply(&req.data)?;
            let set = backend.issuers(&req.storage).await?;
            let mut warnings = Vec::new();
            if role.issuer_ref == "default" {
                if set.default_issuer().is_none() {
                    warnings.push("Issuing Certificate was set to default, but no default issuing certificate (configurable at /config/issuers) is currently set".to_string());
                }
            } else if set.resolve(&role.issuer_ref).is_none() {
                return Err(Error::bad_request(format!(
                    "unable to resolve issuer reference: unable to find PKI issuer for reference: {}",
                    role.issuer_ref
                )));
            }
            let result = roles::put_role(&req.storage, &name, &role).await;
            backend.invalidate_config();
            result?;
            let mut resp = Response::data(role.data());
            resp.warnings = warnings;
            Ok(Some(resp))
        }
    }
}

pub async fn list_issuers(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let set = backend.issuers(&req.storage).await?;
    let mut info = Map::new();
    for (id, issuer) in &set.issuers {
        info.insert(
            id.clone(),
            json!({
                "issuer_name": issuer.entry.name,
                "is_default": set.config.default == *id,
                "serial_number": issuer.cert.serial_string(),
                "key_id": issuer.entry.key_id,
            }),
        );
    }
    Ok(Some(keys_response(
        set.issuers.keys().cloned().collect(),
        Some(info),
    )))
}

pub fn issuer_data(issuer: &store::LoadedIssuer) -> Map<String, Value> {
    let e = &issuer.entry;
    let mut data = Map::new();
    data.insert("issuer_id".into(), json!(e.id));
    data.insert("issuer_name".into(), json!(e.name));
    data.insert("key_id".into(), json!(e.key_id));
    data.insert("certificate".into(), json!(e.certificate));
    data.insert("ca_chain".into(), json!(chain_with_newlines(&issuer.chain)));
    data.insert("manual_chain".into(), json!(e.manual_chain));
    data.insert(
        "leaf_not_after_behavior".into(),
        json!(e.leaf_not_after_behavior),
    );
    data.insert("usage".into(), json!(e.usage));
    data.insert(
        "revocation_signature_algorithm".into(),
        json!(e.revocation_signature_algorithm),
    );
    data.insert("revoked".into(), json!(e.revoked));
    if e.revoked {
        data.insert("revocation_time".into(), json!(e.revocation_time));
        let rfc = super::profile::unix(e.revocation_time)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        data.insert("revocation_time_rfc3339".into(), json!(rfc));
    }
    data.insert(
        "issuing_certificates".into(),
        json!(e.urls.issuing_certificates),
    );
    data.insert(
        "crl_distribution_points".into(),
        json!(e.urls.crl_distribution_points),
    );
    data.insert(
        "delta_crl_distribution_points".into(),
        json!(e.urls.delta_crl_distribution_points),
    );
    data.insert("ocsp_servers".into(), json!(e.urls.ocsp_servers));
    data.insert(
        "enable_aia_url_templating".into(),
        json!(e.urls.enable_templating),
    );
    data
}

pub async fn read_issuer(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let set = backend.issuers(&req.storage).await?;
    let issuer = set.require(req.param("issuer_ref")?)?;
    Ok(Some(issuer_response(&issuer)))
}

/// An issuer as `issuer/:ref` reads and writes answer it, warning (as
/// Vault does) that a PSS revocation algorithm is not used for OCSP.
fn issuer_response(issuer: &store::LoadedIssuer) -> Response {
    let mut resp = Response::data(issuer_data(issuer));
    if issuer.entry.revocation_signature_algorithm.ends_with("PSS") {
        resp.warnings.push(ca::PSS_OCSP_WARNING.to_string());
    }
    resp
}

const USAGES: [&str; 4] = [
    "crl-signing",
    "issuing-certificates",
    "ocsp-signing",
    "read-only",
];

/// POST (defaults for omitted fields) and PATCH (merge) on `issuer/:ref`.
pub async fn update_issuer(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = backend.write_lock.lock().await;
    let set = backend.issuers(&req.storage).await?;
    let issuer = set.require(req.param("issuer_ref")?)?;
    let patch = req.operation == Operation::Patch;
    let mut entry: IssuerEntry = issuer.entry.clone();
    let d = &req.data;
    if !patch {
        entry.name = String::new();
        entry.leaf_not_after_behavior = "err".into();
        entry.manual_chain = None;
        entry.usage = store::ALL_USAGES.into();
        entry.urls = Default::default();
        entry.revocation_signature_algorithm = String::new();
    }
    if d.raw().contains_key("issuer_name") {
        entry.name = ca::requested_issuer_name(d, &set, "", Some(&entry.id))?;
    } else if !patch {
        entry.name = issuer.entry.name.clone();
    }
    if let Some(b) = d.str("leaf_not_after_behavior")? {
        if !["err", "truncate", "permit"].contains(&b.as_str()) {
            return Err(Error::bad_request(
                "Unknown value for field `leaf_not_after_behavior`. Possible values are `err`, `truncate`, and `permit`.",
            ));
        }
        entry.leaf_not_after_behavior = b;
    }
    if let Some(usage) = d.comma_list("usage")? {
        let mut list: Vec<String> = Vec::new();
        for u in usage {
            if !USAGES.contains(&u.as_str()) {
                return Err(Error::bad_request(format!("Unknown issuer usage: {u}")));
            }
            if !list.contains(&u) {
                list.push(u);
            }
        }
        list.sort();
        entry.usage = list.join(",");
    }
    if let Some(chain) = d.comma_list("manual_chain")? {
        if chain.is_empty() {
            entry.manual_chain = None;
        } else {
            let mut ids = Vec::new();
            for r in chain {
                let id = if r == "self" {
                    entry.id.clone()
                } else {
                    set.require(&r)?.entry.id.clone()
                };
                ids.push(id);
            }
            entry.manual_chain = Some(ids);
        }
    }
    if let Some(alg) = d.str("revocation_signature_algorithm")? {
        entry.revocation_signature_algorithm = if alg.is_empty() {
            alg
        } else {
            let key = public_key::info(&issuer.cert.spki)
                .ok_or_else(|| Error::bad_request("the issuer's public key cannot be read"))?;
            private_key::revocation_signing_name(&alg, &key).map_err(Error::bad_request)?
        };
    }

    config::merge_urls(&mut entry.urls, d, "enable_aia_url_templating")?;
    store::put_issuer(&req.storage, &entry).await?;
    backend.invalidate();
    let set = backend.issuers(&req.storage).await?;
    let updated = set.require(&entry.id)?;
    Ok(Some(issuer_response(&updated)))
}

pub async fn delete_issuer(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = backend.write_lock.lock().await;
    let set = backend.issuers(&req.storage).await?;
    let Some(issuer) = set.resolve(req.param("issuer_ref")?) else {
        return Ok(None);
    };
    req.storage
        .delete(&format!("{}{}", store::ISSUER_PREFIX, issuer.entry.id))
        .await?;
    super::crl::forget(&req.storage, &issuer.entry.id).await?;
    let mut warnings = Vec::new();
    if set.config.default == issuer.entry.id {
        let mut cfg = set.config.clone();
        cfg.default = String::new();
        req.storage.put_json(store::CONFIG_ISSUERS, &cfg).await?;
        warnings.push(
            "Deleted issuer was the default; set another default issuer via config/issuers."
                .to_string(),
        );
    }
    backend.invalidate();
    if warnings.is_empty() {
        Ok(None)
    } else {
        Ok(Some(Response {
            warnings,
            ..Default::default()
        }))
    }
}

/// `DELETE root`: every issuer and key goes.
pub async fn delete_root(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = backend.write_lock.lock().await;
    for id in req.storage.list(store::ISSUER_PREFIX).await? {
        req.storage
            .delete(&format!("{}{id}", store::ISSUER_PREFIX))
            .await?;
        super::crl::forget(&req.storage, &id).await?;
    }
    for id in req.storage.list(store::KEY_PREFIX).await? {
        req.storage
            .delete(&format!("{}{id}", store::KEY_PREFIX))
            .await?;
    }
    req.storage.delete(store::CONFIG_ISSUERS).await?;
    req.storage.delete(store::CONFIG_KEYS).await?;
    backend.invalidate();
    Ok(None)
}

pub async fn config_issuers(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let data_of = |cfg: &store::IssuersConfig| {
        let mut d = Map::new();
        d.insert("default".into(), json!(cfg.default));
        d.insert(
            "default_follows_latest_issuer".into(),
            json!(cfg.default_follows_latest_issuer),
        );
        d
    };
    if req.operation == Operation::Read {
        let cfg = store::issuers_config(&req.storage).await?;
        return Ok(Some(Response::data(data_of(&cfg))));
    }
    let _guard = backend.write_lock.lock().await;
    let set = backend.issuers(&req.storage).await?;
    let mut cfg = store::issuers_config(&req.storage).await?;
    if let Some(r) = req.data.str("default")? {
        if !r.is_empty() {
            cfg.default = set.require(&r)?.entry.id.clone();
        }
    }
    if let Some(f) = req.data.bool("default_follows_latest_issuer")? {
        cfg.default_follows_latest_issuer = f;
    }
    req.storage.put_json(store::CONFIG_ISSUERS, &cfg).await?;
    backend.invalidate();
    Ok(Some(Response::data(data_of(&cfg))))
}

/// `root/replace`: makes `default` (default `next`) the default issuer.
pub async fn replace_root(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let reference = req.data.str_or("default", "next")?;
    let _guard = backend.write_lock.lock().await;
    let set = backend.issuers(&req.storage).await?;
    let mut cfg = store::issuers_config(&req.storage).await?;
    cfg.default = set.require(&reference)?.entry.id.clone();
    req.storage.put_json(store::CONFIG_ISSUERS, &cfg).await?;
    backend.invalidate();
    let mut d = Map::new();
    d.insert("default".into(), json!(cfg.default));
    d.insert(
        "default_follows_latest_issuer".into(),
        json!(cfg.default_follows_latest_issuer),
    );
    Ok(Some(Response::data(d)))
}

pub async fn config_keys(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    if req.operation == Operation::Update {
        let _guard = backend.write_lock.lock().await;
        if let Some(r) = req.data.str("default")? {
            let key = store::resolve_key(&req.storage, &r).await?.ok_or_else(|| {
                Error::bad_request(format!("unable to find PKI key for reference: {r}"))
            })?;
            req.storage
                .put_json(store::CONFIG_KEYS, &store::KeysConfig { default: key.id })
                .await?;
        }
    }
    let cfg = store::keys_config(&req.storage).await?;
    let mut d = Map::new();
    d.insert("default".into(), json!(cfg.default));
    Ok(Some(Response::data(d)))
}

/// `config/urls`. Templated URLs are tried against the first issuer, and
/// a failure only warns, as in Vault: issuance is where it errors.
pub async fn config_urls(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let mut urls = config::read_urls(&req.storage).await?;
    let mut warnings = Vec::new();
    if req.operation == Operation::Update {
        config::merge_urls(&mut urls, &req.data, "enable_templating")?;
        let result = req.storage.put_json(config::CONFIG_URLS, &urls).await;
        backend.invalidate_config();
        result?;
        let set = backend.issuers(&req.storage).await?;
        if let (true, Some(first)) = (urls.enable_templating, set.issuers.keys().next()) {
            let cluster = config::read_cluster(&req.storage).await?;
            if let Err(e) = config::expand_templates(&urls, &cluster, first) {
                warnings.push(format!("issuance may fail: {e}\n\nConsider setting the cluster-local address if it is not already set."));
            }
        }
    }
    let mut resp = Response::data(config::urls_data(&urls));
    resp.warnings = warnings;
    Ok(Some(resp))
}

/// `config/cluster`: the addresses AIA templates expand to.
pub async fn config_cluster(req: &mut Request) -> Result<Option<Response>> {
    let mut cluster = config::read_cluster(&req.storage).await?;
    if req.operation == Operation::Update {
        cluster.merge(&req.data)?;
        req.storage
            .put_json(config::CONFIG_CLUSTER, &cluster)
            .await?;
    }
    Ok(Some(Response::data(cluster.data())))
}

pub async fn list_keys(req: &mut Request) -> Result<Option<Response>> {
    let all = store::list_keys(&req.storage).await?;
    let default = store::keys_config(&req.storage).await?.default;
    let mut info = Map::new();
    for k in &all {
        info.insert(
            k.id.clone(),
            json!({"key_name": k.name, "is_default": k.id == default}),
        );
    }
    Ok(Some(keys_response(
        all.iter().map(|k| k.id.clone()).collect(),
        Some(info),
    )))
}

fn key_data(entry: &KeyEntry) -> Map<String, Value> {
    let mut d = Map::new();
    d.insert("key_id".into(), json!(entry.id));
    d.insert("key_name".into(), json!(entry.name));
    d.insert("key_type".into(), json!(entry.key_type));
    let ski = PrivateKey::from_pem(&entry.private_key)
        .ok()
        .and_then(|k| k.spki().ok())
        .and_then(|s| public_key::info(&s))
        .map(|i| super::x509::format_serial(&public_key::key_identifier(&i.key_bytes)))
        .unwrap_or_default();
    d.insert("subject_key_id".into(), json!(ski));
    d
}

pub async fn key(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let reference = req.param("key_ref")?.to_string();
    let _guard = backend.write_lock.lock().await;
    let Some(mut entry) = store::resolve_key(&req.storage, &reference).await? else {
        return match req.operation {
            Operation::Delete => Ok(None),
            _ => Err(Error::bad_request(format!(
                "unable to find PKI key for reference: {reference}"
            ))),
        };
    };
    match req.operation {
        Operation::Read => Ok(Some(Response::data(key_data(&entry)))),
        Operation::Delete => {
            let in_use = store::list_issuer_entries(&req.storage)
                .await?
                .iter()
                .any(|i| i.key_id == entry.id);
            if in_use {
                return Err(Error::bad_request(format!(
                    "Failed to Delete Key.  This key is in use by an issuer: {}",
                    entry.id
                )));
            }
            req.storage
                .delete(&format!("{}{}", store::KEY_PREFIX, entry.id))
                .await?;
            backend.invalidate();
            Ok(None)
        }
        _ => {
            let name = req.data.str_or("key_name", "")?;
            if !name.is_empty() && !is_generic_name(&name) {
                return Err(Error::bad_request(
                    "new key name outside of valid character limits",
                ));
            }
            if name != entry.name {
                if !name.is_empty() {
                    ca::check_key_name(req, &name).await?;
                }
                entry.name = name;
                store::put_key(&req.storage, &entry).await?;
            }
            Ok(Some(Response::data(key_data(&entry))))
        }
    }
}

pub async fn generate_key(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let kind = req.param("exported")?.to_string();
    if kind != "internal" && kind != "exported" {
        return Err(Error::bad_request(format!(
            "the \"{kind}\" path parameter must be \"internal\", \"exported\" or \"kms\""
        )));
    }
    let _guard = backend.write_lock.lock().await;
    let name = ca::requested_key_name(req).await?;
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
        name,
        key_type: kt.as_str().into(),
        private_key: key.to_pem().map_err(Error::internal)?,
    };
    store::put_key(&req.storage, &entry).await?;
    backend.invalidate();
    let mut d = Map::new();
    d.insert("key_id".into(), json!(entry.id));
    d.insert("key_name".into(), json!(entry.name));
    d.insert("key_type".into(), json!(entry.key_type));
    if kind == "exported" {
        d.insert("private_key".into(), json!(entry.private_key));
    }
    Ok(Some(Response::data(d)))
}

pub async fn import_key(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = backend.write_lock.lock().await;
    let name = ca::requested_key_name(req).await?;
    let text = req.data.str_or("pem_bundle", "")?;
    if text.matches("-----BEGIN ").count() > 1 {
        return Err(Error::bad_request(
            "only a single key can be present within the pem_bundle for importing",
        ));
    }
    let key = PrivateKey::from_pem(&text)
        .map_err(|e| Error::bad_request(format!("error parsing key: {e}")))?;
    let spki = key.spki().map_err(Error::internal)?;
    let bytes = public_key::info(&spki).map(|i| i.key_bytes);
    for existing in store::list_keys(&req.storage).await? {
        let other = PrivateKey::from_pem(&existing.private_key)
            .ok()
            .and_then(|k| k.spki().ok())
            .and_then(|s| public_key::info(&s))
            .map(|i| i.key_bytes);
        if other.is_some() && other == bytes {
            return Ok(Some(Response::data(key_data(&existing))));
        }
    }
    let entry = KeyEntry {
        id: store::new_id(),
        name,
        key_type: key.key_type().as_str().into(),
        private_key: key.to_pem().map_err(Error::internal)?,
    };
    store::put_key(&req.storage, &entry).await?;
    backend.invalidate();
    Ok(Some(Response::data(key_data(&entry))))
}
