//! Unauthenticated certificate fetches: the default issuer (`ca`,
//! `ca/pem`, `ca_chain`, `cert/ca`, `cert/ca_chain`), stored certificates
//! (`cert/:serial[/raw[/pem]]`) and issuers (`issuer/:ref/{json,pem,der}`).

use serde_json::{json, Map};

use super::certs;
use super::crl::{self, Crl};
use super::der;
use super::revoke;
use super::PkiBackend;
use crate::handler;
use crate::logical::framework::{Answer, Path};
use crate::logical::{Error, Operation, Request, Response, Result};

const PEM_CHAIN: &str = "application/pem-certificate-chain";
const PKIX_CERT: &str = "application/pkix-cert";

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("cert/ca_chain")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .read(handler!(b, r => default_ca(b, r, Ca::ChainJson))),
    Path::new("cert/ca")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .read(handler!(b, r => default_ca(b, r, Ca::Json))),
    Path::new("cert/:serial/raw/pem")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(PEM_CHAIN))
        .read(handler!(b, r => stored_cert(b, r, Cert::Pem))),
    Path::new("cert/:serial/raw")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(PKIX_CERT))
        .read(handler!(b, r => stored_cert(b, r, Cert::Der))),
    Path::new("cert/:serial")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .read(handler!(b, r => stored_cert(b, r, Cert::Json))),
    Path::new("ca/pem")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(PEM_CHAIN))
        .read(handler!(b, r => default_ca(b, r, Ca::Pem))),
    Path::new("ca")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(PKIX_CERT))
        .read(handler!(b, r => default_ca(b, r, Ca::Der))),
    // PEM text, labelled as Vault labels it.
    Path::new("ca_chain")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(PKIX_CERT))
        .read(handler!(b, r => default_ca(b, r, Ca::ChainPem))),
    Path::new("issuer/:issuer_ref/json")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .read(handler!(b, r => issuer_cert(b, r, Cert::Json))),
    Path::new("issuer/:issuer_ref/pem")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(PEM_CHAIN))
        .read(handler!(b, r => issuer_cert(b, r, Cert::Pem))),
    Path::new("issuer/:issuer_ref/der")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(PKIX_CERT))
        .read(handler!(b, r => issuer_cert(b, r, Cert::Der))),
];

/// How the default issuer's certificate is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ca {
    /// Raw DER (`ca`).
    Der,
    /// Raw PEM (`ca/pem`).
    Pem,
    /// The chain, raw PEM (`ca_chain`).
    ChainPem,
    /// `data.certificate` (`cert/ca`).
    Json,
    /// The chain as `data.certificate` and `data.ca_chain` (`cert/ca_chain`).
    ChainJson,
}

/// How a stored certificate or an issuer's is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cert {
    Der,
    Pem,
    Json,
}

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

/// The default issuer's certificate or chain; without a default issuer the
/// raw forms are empty (204), `cert/ca` refuses and `cert/ca_chain` is 404.
async fn default_ca(backend: &PkiBackend, req: &mut Request, form: Ca) -> Result<Option<Response>> {
    let set = backend.issuers(&req.storage).await?;
    let Some(issuer) = set.default_issuer() else {
        return match form {
            Ca::Json => Err(Error::bad_request("no default issuer currently configured")),
            Ca::ChainJson => Ok(None),
            Ca::Der | Ca::Pem | Ca::ChainPem => Ok(Some(Response::raw(204, PKIX_CERT, Vec::new()))),
        };
    };
    let chain = || {
        let chain: Vec<&str> = issuer.chain.iter().map(|p| p.trim()).collect();
        chain.join("\n")
    };
    let response = match form {
        Ca::Der => Response::raw(200, PKIX_CERT, issuer.cert.der.clone()),
        Ca::Pem => Response::raw(200, PEM_CHAIN, issuer.pem().into_bytes()),
        Ca::ChainPem => Response::raw(200, PKIX_CERT, chain().into_bytes()),
        Ca::Json => cert_json(issuer.pem(), 0, None),
        Ca::ChainJson => {
            let chain = chain();
            let mut resp = cert_json(chain.clone(), 0, None);
            if let Some(d) = resp.data.as_mut() {
                d.insert("ca_chain".into(), json!(chain));
            }
            resp
        }
    };
    Ok(Some(response))
}

/// `cert/:serial[/raw[/pem]]`. `crl` (any case) and `delta-crl` name the
/// default issuer's CRLs, answered as `cert/crl` answers them.
async fn stored_cert(
    backend: &PkiBackend,
    req: &mut Request,
    form: Cert,
) -> Result<Option<Response>> {
    let serial = req.param("serial")?.to_string();
    if serial.eq_ignore_ascii_case("crl") {
        return crl::fetch(backend, req, Crl::Complete, crl::Form::CertJson).await;
    }
    if serial == "delta-crl" {
        return crl::fetch(backend, req, Crl::Delta, crl::Form::CertJson).await;
    }
    // An unknown serial: the JSON form has no data (404), the raw forms an
    // empty body (204), as Vault answers.
    let Some(der) = certs::load(&req.storage, &serial).await? else {
        return Ok(match form {
            Cert::Json => None,
            Cert::Der => Some(Response::raw(204, PKIX_CERT, Vec::new())),
            Cert::Pem => Some(Response::raw(204, PEM_CHAIN, Vec::new())),
        });
    };
    let pem_text = der::pem_encode("CERTIFICATE", &der);
    let response = match form {
        Cert::Der => Response::raw(200, PKIX_CERT, der),
        Cert::Pem => Response::raw(200, PEM_CHAIN, pem_text.into_bytes()),
        Cert::Json => {
            let (time, issuer) = match revoke::revoked_entry(&req.storage, &serial).await? {
                Some(r) => (r.revocation_time, Some(r.issuer_id)),
                None => (0, None),
            };
            cert_json(pem_text, time, issuer)
        }
    };
    Ok(Some(response))
}

/// `issuer/:ref/json`, `/pem`, `/der`.
async fn issuer_cert(
    backend: &PkiBackend,
    req: &mut Request,
    form: Cert,
) -> Result<Option<Response>> {
    let set = backend.issuers(&req.storage).await?;
    let reference = req.param("issuer_ref")?.to_string();
    let Some(issuer) = set.resolve(&reference) else {
        return Err(Error::bad_request(format!(
            "unable to find PKI issuer for reference: {reference}"
        )));
    };
    let response = match form {
        Cert::Pem => Response::raw(
            200,
            PEM_CHAIN,
            issuer.entry.certificate.clone().into_bytes(),
        ),
        Cert::Der => Response::raw(200, PKIX_CERT, issuer.cert.der.clone()),
        Cert::Json => {
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
            Response::data(data)
        }
    };
    Ok(Some(response))
}

/// Issuer chains as Vault's issuer endpoints return them (PEM + newline).
pub fn chain_with_newlines(chain: &[String]) -> Vec<String> {
    chain.iter().map(|p| format!("{}\n", p.trim())).collect()
}
