//! The cluster port, as Vault's: a standby forwards every request it
//! cannot serve to the active node's `cluster_addr`, so a client sees one
//! API whichever node it reaches. Both ends use the cluster certificate
//! kept behind the barrier (mutual TLS, trusting only the cluster's CA), so
//! only a node that unsealed this cluster can connect; and only requests
//! that came over that port may say on whose behalf they are made (the
//! original client's address, for CIDR checks and audit, and its TLS
//! client certificates, for cert auth).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{self, HeaderMap, HeaderName};
use axum::http::request::Parts;
use axum::response::Response as HttpResponse;
use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

use super::AppState;
use crate::core::cluster_cert::{ClusterCert, CLUSTER_SERVER_NAME};
use crate::core::ha::{NodeInfo, ECHO_INTERVAL};
use crate::core::Core;
use crate::logical::{Connection, Error};

/// The original client's address (`ip:port`), set by the forwarding node.
const FORWARDED_FOR: &str = "x-vaultlet-forwarded-for";
/// The original client's TLS certificates (base64 DER, comma-separated,
/// leaf first; empty when it sent none); absent when it did not use TLS.
const FORWARDED_CLIENT_CERTS: &str = "x-vaultlet-forwarded-client-certs";

/// Where a standby's echo goes on the active's cluster port (outside
/// `/v1/`: no client can send it through a standby).
pub const ECHO_PATH: &str = "/cluster/echo";

/// How long a standby waits to connect to the active.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The cluster's TLS configurations, built from the certificate the core
/// read from the barrier (and built again when that changes).
#[derive(Default)]
pub struct ClusterTls {
    built: Mutex<Option<Built>>,
}

#[derive(Clone)]
struct Built {
    cert: Arc<ClusterCert>,
    server: Arc<ServerConfig>,
    client: reqwest::Client,
}

impl ClusterTls {
    /// The cluster port's TLS, while this node has the cluster certificate.
    pub fn acceptor(&self, core: &Core) -> Option<tokio_rustls::TlsAcceptor> {
        self.current(core.ha()?.cluster_cert()?)
            .map(|built| tokio_rustls::TlsAcceptor::from(built.server))
    }

    async fn client(&self, core: &Core) -> Option<reqwest::Client> {
        self.current(core.cluster_cert().await?)
            .map(|built| built.client)
    }

    fn current(&self, cert: Arc<ClusterCert>) -> Option<Built> {
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(current) = built.as_ref().filter(|b| Arc::ptr_eq(&b.cert, &cert)) {
            return Some(current.clone());
        }
        match build(cert) {
            Ok(fresh) => {
                *built = Some(fresh.clone());
                Some(fresh)
            }
            Err(err) => {
                tracing::error!(%err, "the cluster certificate is unusable");
                None
            }
        }
    }
}

fn build(cert: Arc<ClusterCert>) -> Result<Built, String> {
    let provider: Arc<CryptoProvider> = Arc::new(aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(cert.ca.clone()))
        .map_err(|e| e.to_string())?;
    let roots = Arc::new(roots);
    let chain = vec![CertificateDer::from(cert.cert.clone())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key.clone()));
    let tls13 = &[&rustls::version::TLS13];

    let peers = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(tls13)
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(peers)
        .with_single_cert(chain.clone(), key.clone_key())
        .map_err(|e| e.to_string())?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];

    let active = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let mut client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(tls13)
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ClusterNameVerifier(active)))
        .with_client_auth_cert(chain, key)
        .map_err(|e| e.to_string())?;
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(client)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Built {
        cert,
        server: Arc::new(server),
        client,
    })
}

/// Checks the active's certificate against the cluster CA under the
/// cluster's name, whatever address `cluster_addr` names.
#[derive(Debug)]
struct ClusterNameVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ClusterNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cluster = ServerName::try_from(CLUSTER_SERVER_NAME)
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        self.0
            .verify_server_cert(end_entity, intermediates, &cluster, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Sends a request this standby cannot serve to the active node and
/// relays its answer; 503 (retryable) while no active node is reachable.
pub async fn forward(
    state: &AppState,
    parts: &Parts,
    body: Body,
    connection: &Connection,
) -> Result<HttpResponse, Error> {
    let leader = match state.core.ha() {
        Some(ha) => ha.leader().await,
        None => None,
    };
    let Some(leader) = leader.filter(|l| !l.is_self && !l.leader_cluster_address.is_empty()) else {
        return Err(Error::NoActiveNode);
    };
    let Some(client) = state.cluster.client(&state.core).await else {
        return Err(Error::NoActiveNode);
    };
    let body = super::read_body(body, &state.limits).await?;
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!(
        "{}{target}",
        leader.leader_cluster_address.trim_end_matches('/')
    );
    let mut request = client.request(parts.method.clone(), url).body(body);
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) && !is_forwarding(name) && name != header::HOST {
            request = request.header(name, value);
        }
    }
    if let Some(addr) = connection.remote_addr {
        request = request.header(FORWARDED_FOR, addr.to_string());
    }
    if connection.tls {
        let encoded: Vec<String> = connection
            .peer_certificates
            .iter()
            .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
            .collect();
        request = request.header(FORWARDED_CLIENT_CERTS, encoded.join(","));
    }
    let answer = request.send().await.map_err(|err| {
        tracing::warn!(%err, active = %leader.leader_cluster_address, "could not forward to the active node");
        Error::NoActiveNode
    })?;
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.map_err(|err| {
        tracing::warn!(%err, "the active node's answer broke off");
        Error::NoActiveNode
    })?;
    let mut response = HttpResponse::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if !is_hop_by_hop(name) && name != header::CONTENT_LENGTH {
            response.headers_mut().append(name, value.clone());
        }
    }
    Ok(response)
}

/// Tells the active, every [`ECHO_INTERVAL`], that this standby is there
/// and how it is reached (`sys/ha-status`); runs for the life of the
/// server and does nothing on the active.
pub async fn echo_to_active(core: Arc<Core>, cluster: Arc<ClusterTls>) {
    let Some(ha) = core.ha() else {
        return;
    };
    let mut interval = tokio::time::interval(ECHO_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if !core.is_standby() {
            continue;
        }
        let Some(leader) = ha.leader().await.filter(|l| !l.is_self) else {
            continue;
        };
        let Some(client) = cluster.client(&core).await else {
            continue;
        };
        let url = format!(
            "{}{ECHO_PATH}",
            leader.leader_cluster_address.trim_end_matches('/')
        );
        let sent = client
            .post(url)
            .timeout(ECHO_INTERVAL)
            .body(serde_json::to_vec(&ha.node_info()).unwrap_or_default())
            .send()
            .await;
        if let Err(err) = sent {
            tracing::debug!(%err, "echo to the active node failed");
        }
    }
}

/// The active hears a standby's echo (cluster port only).
pub async fn hear_echo(state: &AppState, body: Body) -> Result<HttpResponse, Error> {
    let Some(ha) = state.core.ha().filter(|ha| ha.is_active()) else {
        return Err(Error::NoActiveNode);
    };
    let bytes = super::read_body(body, &state.limits).await?;
    let node: NodeInfo = serde_json::from_slice(&bytes)
        .map_err(|e| Error::bad_request(format!("malformed echo: {e}")))?;
    ha.record_echo(node);
    let mut response = HttpResponse::new(Body::empty());
    *response.status_mut() = axum::http::StatusCode::NO_CONTENT;
    Ok(response)
}

/// The connection a request speaks for: on the cluster port, the original
/// client's as the forwarding node described it; elsewhere the request's
/// own, and a request that claims to be forwarded is refused.
pub fn requester(
    cluster_port: bool,
    headers: &HeaderMap,
    connection: Connection,
) -> Result<Connection, Error> {
    if !cluster_port {
        if headers.keys().any(is_forwarding) {
            return Err(Error::Forbidden(
                "forwarded requests are only accepted from cluster nodes on the cluster port"
                    .into(),
            ));
        }
        return Ok(connection);
    }
    let text = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().map_err(|_| malformed(name)))
            .transpose()
    };
    let remote_addr = match text(FORWARDED_FOR)? {
        Some(addr) => Some(
            addr.parse::<SocketAddr>()
                .map_err(|_| malformed(FORWARDED_FOR))?,
        ),
        None => None,
    };
    let peer_certificates = match text(FORWARDED_CLIENT_CERTS)? {
        Some(list) => Some(
            list.split(',')
                .filter(|item| !item.is_empty())
                .map(|item| base64::engine::general_purpose::STANDARD.decode(item))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| malformed(FORWARDED_CLIENT_CERTS))?,
        ),
        None => None,
    };
    Ok(Connection {
        remote_addr,
        tls: peer_certificates.is_some(),
        peer_certificates: Arc::new(peer_certificates.unwrap_or_default()),
    })
}

fn malformed(name: &str) -> Error {
    Error::bad_request(format!("malformed {name} header"))
}

fn is_forwarding(name: &HeaderName) -> bool {
    name == FORWARDED_FOR || name == FORWARDED_CLIENT_CERTS
}

/// Headers that describe one connection, not the request (RFC 9110 §7.6.1).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn peer() -> Connection {
        Connection {
            remote_addr: Some("10.1.2.3:4000".parse().unwrap()),
            tls: true,
            peer_certificates: Arc::new(vec![b"cluster".to_vec()]),
        }
    }

    #[test]
    fn outside_the_cluster_port_a_claimed_client_address_is_refused() {
        let forged = headers(&[(FORWARDED_FOR, "192.0.2.1:1")]);
        assert!(matches!(
            requester(false, &forged, peer()),
            Err(Error::Forbidden(_))
        ));
        let plain = requester(false, &headers(&[]), peer()).unwrap();
        assert_eq!(plain.remote_addr, peer().remote_addr);
    }

    #[test]
    fn on_the_cluster_port_the_original_client_is_the_requester() {
        let forwarded = headers(&[(FORWARDED_FOR, "192.0.2.1:1234")]);
        let connection = requester(true, &forwarded, peer()).unwrap();
        assert_eq!(
            connection.remote_addr,
            Some("192.0.2.1:1234".parse().unwrap())
        );
        assert!(!connection.tls);
        assert!(connection.peer_certificates.is_empty());

        let with_certs = headers(&[
            (FORWARDED_FOR, "[2001:db8::1]:443"),
            (FORWARDED_CLIENT_CERTS, "AQI=,AwQ="),
        ]);
        let connection = requester(true, &with_certs, peer()).unwrap();
        assert!(connection.tls);
        assert_eq!(*connection.peer_certificates, vec![vec![1, 2], vec![3, 4]]);
    }

    #[test]
    fn malformed_forwarding_headers_are_a_400() {
        for bad in [
            headers(&[(FORWARDED_FOR, "not an address")]),
            headers(&[
                (FORWARDED_FOR, "192.0.2.1:1"),
                (FORWARDED_CLIENT_CERTS, "%%"),
            ]),
        ] {
            assert!(matches!(
                requester(true, &bad, peer()),
                Err(Error::BadRequest(_))
            ));
        }
    }
}
