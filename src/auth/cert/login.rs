//! `auth/cert/login`: the client certificate of the TLS connection logs in
//! through the first role (or the named one) that accepts its chain.

use super::{config, crl, roles, verify, CertBackend};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};

pub(super) const PATHS: &[Path<CertBackend>] = &[Path::new("login")
    .unauthenticated()
    .fields(&[&[Field::string("name")]])
    .update(handler!(login))];

/// `auth/cert/login`: the first role (or the named one) that accepts the
/// presented chain (see `verify`).
async fn login(_: &CertBackend, req: &mut Request) -> Result<Option<Response>> {
    if !req.connection.tls {
        return Err(Error::bad_request("tls connection required"));
    }
    let chain = req.connection.peer_certificates.clone();
    if chain.is_empty() {
        return Err(Error::bad_request("client certificate must be supplied"));
    }
    let names = match req.data.str("name")?.filter(|n| !n.is_empty()) {
        Some(name) => vec![name.to_lowercase()],
        None => roles::names(req).await?,
    };
    let mut roles = Vec::new();
    for name in names {
        if let Some(role) = roles::load_role(req, &name).await? {
            roles.push((name, role));
        }
    }
    let revoked = crl::Revoked::load(req).await?;
    let now = time::OffsetDateTime::now_utc();
    let matched = verify::select(&roles, &chain, &revoked, now).map_err(|refusal| {
        Error::bad_request(match refusal {
            // Vault answers 500 here; a client's certificate is not a server fault.
            verify::Refusal::Invalid(e) => format!("failed to verify client's certificate: {e}"),
            verify::Refusal::Untrusted => {
                "invalid certificate or no client certificate supplied".to_string()
            }
            verify::Refusal::NoMatch => {
                "no chain matching all constraints could be found for this login certificate"
                    .to_string()
            }
        })
    })?;
    let (name, role) = roles
        .into_iter()
        .find(|(name, _)| *name == matched.role)
        .expect("the matched role is a candidate");
    let mut auth = role.token.to_auth();
    auth.display_name = role.display_name;
    auth.alias_name = matched.metadata.get("common_name").cloned();
    auth.metadata = matched.metadata;
    auth.metadata.insert("cert_name".into(), name);
    if config::alias_metadata_enabled(req).await? {
        auth.alias_metadata = auth.metadata.clone();
    }
    auth.renewable = true;
    auth.orphan = true;
    Ok(Some(Response::auth(auth)))
}
