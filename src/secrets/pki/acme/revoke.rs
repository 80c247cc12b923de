//! `revoke-cert` (RFC 8555 §7.6): by the account that ordered the
//! certificate (`kid`) or by the certificate's own key (`jwk`); the CRL is
//! rebuilt as for `pki/revoke`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use super::super::cert_info::CertInfo;
use super::super::{certs, public_key, revoke as pki_revoke, PkiBackend};
use super::jws::Signer;
use super::problem::{AcmeResult, Kind, Problem};
use super::state;
use super::{Call, Directory, Reply};

pub async fn revoke(backend: &PkiBackend, dir: &Directory, call: Call) -> AcmeResult<Reply> {
    let payload = super::object(&call.payload)?;
    match payload.get("reason") {
        None | Some(Value::Null) => {}
        Some(v) if v.as_i64() == Some(0) => {}
        Some(v) => {
            return Err(Problem::exact(
                Kind::BadRevocationReason,
                format!("Vault does not support revocation reasons (got {v}; expected omitted or 0/unspecified)"),
            ))
        }
    }
    let der = payload
        .get("certificate")
        .and_then(Value::as_str)
        .and_then(|v| URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')).ok())
        .ok_or_else(|| Problem::malformed("missing or undecodable 'certificate'"))?;
    let cert = CertInfo::parse(&der)
        .map_err(|e| Problem::malformed(format!("failed to parse certificate: {e}")))?;
    let serial = cert.serial_string();
    let stored = certs::load(&dir.storage, &serial).await?;
    if stored.as_deref() != Some(der.as_slice()) {
        return Err(Problem::malformed(
            "certificate was not issued by this mount",
        ));
    }
    match &call.signer {
        Signer::Kid(_) => {
            let account = call.account()?;
            if !state::account_has_cert(&dir.storage, &account.id, &serial).await? {
                return Err(Problem::new(
                    Kind::Unauthorized,
                    "no certificate with this serial was issued for this account",
                ));
            }
        }
        Signer::Jwk(jwk) => {
            let cert_key = public_key::info(&cert.spki).map(|i| i.key_bytes);
            if cert_key.is_none() || cert_key != jwk.key_bytes().ok() {
                return Err(Problem::new(
                    Kind::Unauthorized,
                    "the JWS was not signed by the certificate's key",
                ));
            }
        }
    }
    let now = state::now();
    if cert.not_after < now {
        return Err(Problem::malformed("refusing to revoke expired certificate"));
    }
    let _guard = backend.write_lock.lock().await;
    if pki_revoke::revoked_entry(&dir.storage, &serial)
        .await?
        .is_some()
    {
        return Err(Problem::new(
            Kind::AlreadyRevoked,
            "unable to revoke certificate",
        ));
    }
    let set = backend.issuers(&dir.storage).await?;
    let entry = pki_revoke::record_revocation(&dir.storage, &set, &cert, now).await?;
    backend.metrics.pki_revoked.with(&[&dir.mount_point]).inc();
    let data = pki_revoke::revocation_response(&entry)
        .data
        .unwrap_or_default();
    Ok(Reply::json(200, Value::Object(data)))
}
