//! The cluster's own certificates: a CA and one certificate signed by it,
//! made by the first active node and kept behind the barrier, so every
//! node reads them after it unseals and nothing outside the cluster has
//! them. Nodes present the certificate to each other (mutual TLS on the
//! cluster port) and trust only the CA, as Vault's cluster port does; the
//! name in the certificate is the cluster's, not a host's, since nodes come
//! and go at addresses nobody can know in advance.

use crate::logical::{Error, Result};
use crate::storage::Storage;

/// Where the cluster certificates are stored.
const CLUSTER_CERT_KEY: &str = "core/cluster/tls";

/// The name the cluster certificate carries and that nodes check.
pub const CLUSTER_SERVER_NAME: &str = "cluster.vaultlet.internal";

/// The CA (DER), the certificate it signed (DER) and that certificate's
/// private key (PKCS#8 DER).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct ClusterCert {
    #[serde(with = "crate::util::base64_serde")]
    pub ca: Vec<u8>,
    #[serde(with = "crate::util::base64_serde")]
    pub cert: Vec<u8>,
    #[serde(with = "crate::util::base64_serde")]
    pub key: Vec<u8>,
}

impl std::fmt::Debug for ClusterCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterCert { .. }")
    }
}

impl ClusterCert {
    /// The stored certificates, if the cluster has them yet.
    pub async fn load(storage: &dyn Storage) -> Result<Option<ClusterCert>> {
        match storage.get(CLUSTER_CERT_KEY).await? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    /// The stored certificates, made and stored first when missing (only
    /// the active node may write).
    pub async fn load_or_create(storage: &dyn Storage) -> Result<ClusterCert> {
        if let Some(cert) = ClusterCert::load(storage).await? {
            return Ok(cert);
        }
        let cert = ClusterCert::generate()?;
        storage
            .put(CLUSTER_CERT_KEY, serde_json::to_vec(&cert)?)
            .await?;
        Ok(cert)
    }

    fn generate() -> Result<ClusterCert> {
        let err =
            |e: rcgen::Error| Error::Internal(format!("generating cluster certificates: {e}"));
        let ca_key = rcgen::KeyPair::generate().map_err(err)?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "vaultlet cluster CA");
        ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(err)?;

        let key = rcgen::KeyPair::generate().map_err(err)?;
        let mut params =
            rcgen::CertificateParams::new(vec![CLUSTER_SERVER_NAME.to_string()]).map_err(err)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, CLUSTER_SERVER_NAME);
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &ca).map_err(err)?;
        Ok(ClusterCert {
            ca: ca.der().to_vec(),
            cert: cert.der().to_vec(),
            key: key.serialize_der(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[tokio::test]
    async fn made_once_then_read_back_unchanged() {
        let storage = MemoryStorage::default();
        assert!(ClusterCert::load(&storage).await.unwrap().is_none());
        let made = ClusterCert::load_or_create(&storage).await.unwrap();
        let again = ClusterCert::load_or_create(&storage).await.unwrap();
        assert_eq!(made.cert, again.cert);
        assert_eq!(made.key, again.key);
        assert_ne!(made.ca, made.cert);
    }
}
