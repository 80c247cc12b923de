//! Unauthenticated certificate fetches: `ca`, `ca/pem`, `ca_chain`,
//! `cert/:serial[/raw[/pem]]`, `cert/ca`, `cert/ca_chain`,
//! `issuer/:ref/{json,pem,der}`.

use serde_json::{json, Map};

use super::certs;
use super::crl;
use super::der;
use super::PkiBackend;
use crate::logical::{Error, Request, Response, Result};

const PEM_CHAIN: &str = "application/pem-certificate-chain";
const PKIX_CERT: &str = "application/pkix-cert";

fn cert_json(certificate: String, revocation_time: i64, issuer_id: Option<String>) -> Response {
    let mut data = Map::new();
    data.insert("certificate".into(), json!(certificate));
    data.insert("revocation_time".into(), json!(revocation_time));
    let rfc = if revocation_time > 0 {
        super::profile::unix(revocation_time)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    } else {
        String::new()
    };
    data.insert("revocation_time_rfc3339".into(), json!(rfc));
    if let Some(id) = issuer_id {
        data.insert("issuer_id".into(), json!(id));
    }
    Response::data(data)
}

pub async fn fetch(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let set = backend.issuers(&req.storage).await?;
    let default = set.default_issuer();
    let empty = || Ok(Some(Response::raw(204, PKIX_CERT, Vec::new())));
    match req.route {
        "ca" => match default {
            Some(i) => Ok(Some(Response::raw(200, PKIX_CERT, i.cert.der.clone()))),
            None => empty(),
        },
        "ca/pem" => match default {
            Some(i) => Ok(Some(Response::raw(200, PEM_CHAIN, i.pem().into_bytes()))),
            None => empty(),
        },
        "ca_chain" => match default {
            Some(i) => {
                let chain: Vec<&str> = i.chain.iter().map(|p| p.trim()).collect();
                Ok(Some(Response::raw(
                    200,
                    PKIX_CERT,
                    chain.join("\n").into_bytes(),
                )))
            }
            None => empty(),
        },
        "cert/ca" => match default {
            Some(i) => Ok(Some(cert_json(i.pem(), 0, None))),
            None => Err(Error::bad_request("no default issuer currently configured")),
        },
        "cert/ca_chain" => match default {
            Some(i) => {
                let chain: Vec<&str> = i.chain.iter().map(|p| p.trim()).collect();
                let joined = chain.join("\n");
                let mut resp = cert_json(joined.clone(), 0, None);
                if let Some(d) = resp.data.as_mut() {
                    d.insert("ca_chain".into(), json!(joined));
                }
                Ok(Some(resp))
            }
            None => Ok(None),
        },
        // The literal routes for what `cert/:serial` also answers.
        "cert/crl" | "cert/delta-crl" => crl::fetch(backend, req).await,
        _ => {
            let serial = req.param("serial")?.to_string();
            if serial.eq_ignore_ascii_case("crl") || serial == "delta-crl" {
                return crl::fetch(backend, req).await;
            }
            // An unknown serial: the JSON form has no data (404), the raw
            // forms an empty body (204), as Vault answers.
            let Some(der) = certs::load(&req.storage, &serial).await? else {
                return match req.route {
                    "cert/:serial" => Ok(None),
                    "cert/:serial/raw" => Ok(Some(Response::raw(204, PKIX_CERT, Vec::new()))),
                    _ => Ok(Some(Response::raw(204, PEM_CHAIN, Vec::new()))),
                };
            };
            match req.route {
                "cert/:serial/raw" => Ok(Some(Response::raw(200, PKIX_CERT, der))),
                "cert/:serial/raw/pem" => Ok(Some(Response::raw(
                    200,
                    PEM_CHAIN,
                    der::pem_encode("CERTIFICATE", &der).into_bytes(),
                ))),
                _ => {
                    let revoked = crl::revoked_entry(&req.storage, &serial).await?;
                    let (time, issuer) = match revoked {
                        Some(r) => (r.revocation_time, Some(r.issuer_id)),
                        None => (0, None),
                    };
                    Ok(Some(cert_json(
                        der::pem_encode("CERTIFICATE", &der),
                        time,
                        issuer,
                    )))
                }
            }
        }
    }
}

/// `issuer/:ref/json`, `/pem`, `/der`.
pub async fn issuer_cert(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let set = backend.issuers(&req.storage).await?;
    let reference = req.param("issuer_ref")?.to_string();
    let Some(issuer) = set.resolve(&reference) else {
        return Err(Error::bad_request(format!(
            "unable to find PKI issuer for reference: {reference}"
        )));
    };
    match req.route {
        "issuer/:issuer_ref/pem" => Ok(Some(Response::raw(
            200,
            PEM_CHAIN,
            issuer.entry.certificate.clone().into_bytes(),
        ))),
        "issuer/:issuer_ref/der" => {
            Ok(Some(Response::raw(200, PKIX_CERT, issuer.cert.der.clone())))
        }
        _ => {
            let mut data = Map::new();
            data.insert("certificate".into(), json!(issuer.entry.certificate));
            data.insert("ca_chain".into(), json!(chain_with_newlines(&issuer.chain)));
            data.insert("issuer_id".into(), json!(issuer.entry.id));
            data.insert("issuer_name".into(), json!(issuer.entry.name));
            if issuer.entry.revoked {
                data.insert(
                    "revocation_time".into(),
                    json!(issuer.entry.revocation_time),
                );
            }
            Ok(Some(Response::data(data)))
        }
    }
}

/// Issuer chains as Vault's issuer endpoints return them (PEM + newline).
pub fn chain_with_newlines(chain: &[String]) -> Vec<String> {
    chain.iter().map(|p| format!("{}\n", p.trim())).collect()
}
