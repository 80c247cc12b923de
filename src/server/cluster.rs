//! The cluster port of an HA node: the same API as the listener, served
//! only to other nodes of the cluster (mutual TLS with the cluster
//! certificate, see `crate::http::cluster`), for the requests standbys
//! forward to the active.

use std::sync::Arc;

use tokio::net::TcpListener;

use super::listener::{self, Limits, Tls};
use crate::core::Core;
use crate::http::cluster::ClusterTls;
use crate::http::{router, AppState, BodyLimits};

/// Where the cluster port listens when the listener does not say
/// (`cluster_address`): the listener's host, one port above its own, as
/// in Vault (a listener on port 0 gets a cluster port on port 0 too).
pub fn default_address(api_address: &str) -> String {
    match api_address.rsplit_once(':') {
        Some((host, port)) => match port.parse::<u16>() {
            Ok(0) => format!("{host}:0"),
            Ok(port) => format!("{host}:{}", port.saturating_add(1)),
            Err(_) => format!("{host}:8201"),
        },
        None => format!("{api_address}:8201"),
    }
}

/// Serves the cluster port until the task is aborted; a connection is
/// accepted only once this node has read the cluster certificate.
pub async fn serve(
    port: TcpListener,
    core: Arc<Core>,
    cluster: Arc<ClusterTls>,
    limits: Limits,
    body: BodyLimits,
) {
    let tls = {
        let (core, cluster) = (core.clone(), cluster.clone());
        Tls::PerConnection(Arc::new(move || cluster.acceptor(&core)))
    };
    let app = router(AppState {
        core,
        limits: body,
        unauthenticated_metrics: false,
        // Other nodes forward API requests here; the UI is for browsers.
        ui: false,
        cluster,
        cluster_port: true,
    });
    listener::serve(port, tls, app, limits, std::future::pending()).await;
}

#[cfg(test)]
mod tests {
    use super::default_address;

    #[test]
    fn the_default_cluster_port_is_one_above_the_listeners() {
        assert_eq!(default_address("0.0.0.0:8200"), "0.0.0.0:8201");
        assert_eq!(default_address("[::1]:8300"), "[::1]:8301");
        assert_eq!(default_address("127.0.0.1:0"), "127.0.0.1:0");
    }
}
