//! The mount's issuers: listing (`issuers`), reading and configuring one
//! (`issuer/:issuer_ref`), the default (`config/issuers`, `root/replace`)
//! and deleting them all (`DELETE root`).

use serde_json::{json, Map, Value};

use super::config::{self, AIA_FIELDS};
use super::crl;
use super::fetch::chain_with_newlines;
use super::private_key;
use super::public_key;
use super::store::{self, IssuerEntry, IssuerSet};
use super::PkiBackend;
use super::{list_with_info, requested_name};
use crate::handler;
use crate::logical::framework::{is_generic_name, Field, Path};
use crate::logical::{Error, FieldData, Request, Response, Result};

/// What configures an issuer, beyond its AIA URLs.
const ISSUER_FIELDS: &[Field] = &[
    Field::string("issuer_name"),
    Field::string("leaf_not_after_behavior"),
    Field::list("manual_chain"),
    Field::list("usage"),
    Field::string("revocation_signature_algorithm"),
    Field::bool("enable_aia_url_templating"),
    Field::string("issuer_ref"),
];

const CONFIG_FIELDS: &[Field] = &[
    Field::string("default"),
    Field::bool("default_follows_latest_issuer"),
];

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("root/replace")
        .fields(&[&[Field::string("default")]])
        .update(handler!(replace_root)),
    Path::new("root").delete(handler!(delete_root)),
    Path::new("issuers")
        .unauthenticated()
        .list(handler!(list_issuers)),
    Path::new("issuer/:issuer_ref")
        .fields(&[ISSUER_FIELDS, AIA_FIELDS])
        .read(handler!(read_issuer))
        .update(handler!(b, r => write_issuer(b, r, Write::Replace)))
        .patch(handler!(b, r => write_issuer(b, r, Write::Merge)))
        .delete(handler!(delete_issuer)),
    Path::new("config/issuers")
        .fields(&[CONFIG_FIELDS])
        .read(handler!(read_config))
        .update(handler!(write_config)),
];

/// The `issuer_name` a request asks for: trimmed, non-empty, a valid
/// name, and not another issuer's name. When absent, `default` (`next` for
/// `root/rotate`) if no issuer has that name yet, else none.
pub(super) fn requested_issuer_name(
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

/// Why reading an issuer with a PSS revocation algorithm warns: its OCSP
/// answers are signed with PKCS#1 v1.5.
pub const PSS_OCSP_WARNING: &str = "Issuer uses a PSS Revocation Signature Algorithm. This algorithm will be downgraded to PKCS#1v1.5 signature scheme on OCSP responses, due to limitations in the OCSP library.";

async fn list_issuers(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
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
    Ok(Some(list_with_info(
        set.issuers.keys().cloned().collect(),
        info,
    )))
}

fn issuer_data(issuer: &store::LoadedIssuer) -> Map<String, Value> {
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

pub(super) async fn read_issuer(
    backend: &PkiBackend,
    req: &mut Request,
) -> Result<Option<Response>> {
    let set = backend.issuers(&req.storage).await?;
    let issuer = set.require(req.param("issuer_ref")?)?;
    Ok(Some(issuer_response(&issuer)))
}

/// An issuer as `issuer/:ref` reads and writes answer it, warning (as
/// Vault does) that a PSS revocation algorithm is not used for OCSP.
fn issuer_response(issuer: &store::LoadedIssuer) -> Response {
    let mut resp = Response::data(issuer_data(issuer));
    if issuer.entry.revocation_signature_algorithm.ends_with("PSS") {
        resp.warnings.push(PSS_OCSP_WARNING.to_string());
    }
    resp
}

const USAGES: [&str; 4] = [
    "crl-signing",
    "issuing-certificates",
    "ocsp-signing",
    "read-only",
];

/// What an issuer write starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// POST: the defaults for every omitted field.
    Replace,
    /// PATCH: the issuer as it is.
    Merge,
}

async fn write_issuer(
    backend: &PkiBackend,
    req: &mut Request,
    write: Write,
) -> Result<Option<Response>> {
    let _guard = backend.write_lock.lock().await;
    let set = backend.issuers(&req.storage).await?;
    let issuer = set.require(req.param("issuer_ref")?)?;
    let patch = write == Write::Merge;
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
        entry.name = requested_issuer_name(d, &set, "", Some(&entry.id))?;
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

async fn delete_issuer(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = backend.write_lock.lock().await;
    let set = backend.issuers(&req.storage).await?;
    let Some(issuer) = set.resolve(req.param("issuer_ref")?) else {
        return Ok(None);
    };
    req.storage
        .delete(&format!("{}{}", store::ISSUER_PREFIX, issuer.entry.id))
        .await?;
    crl::forget(&req.storage, &issuer.entry.id).await?;
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
async fn delete_root(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = backend.write_lock.lock().await;
    for id in req.storage.list(store::ISSUER_PREFIX).await? {
        req.storage
            .delete(&format!("{}{id}", store::ISSUER_PREFIX))
            .await?;
        crl::forget(&req.storage, &id).await?;
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

/// `config/issuers` as Vault returns it (and `root/replace`).
fn issuers_config_data(cfg: &store::IssuersConfig) -> Map<String, Value> {
    let mut d = Map::new();
    d.insert("default".into(), json!(cfg.default));
    d.insert(
        "default_follows_latest_issuer".into(),
        json!(cfg.default_follows_latest_issuer),
    );
    d
}

async fn read_config(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let cfg = store::issuers_config(&req.storage).await?;
    Ok(Some(Response::data(issuers_config_data(&cfg))))
}

async fn write_config(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
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
    Ok(Some(Response::data(issuers_config_data(&cfg))))
}

/// `root/replace`: makes `default` (default `next`) the default issuer.
async fn replace_root(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let reference = req.data.str_or("default", "next")?;
    let _guard = backend.write_lock.lock().await;
    let set = backend.issuers(&req.storage).await?;
    let mut cfg = store::issuers_config(&req.storage).await?;
    cfg.default = set.require(&reference)?.entry.id.clone();
    req.storage.put_json(store::CONFIG_ISSUERS, &cfg).await?;
    backend.invalidate();
    Ok(Some(Response::data(issuers_config_data(&cfg))))
}
