//! The outbound HTTPS client of the auth methods (JWKS and OIDC discovery
//! fetches, the Kubernetes TokenReview API): rustls on aws-lc-rs, bounded
//! timeouts and body sizes, errors printed as Go prints wrapped errors.

use std::sync::Arc;
use std::time::Duration;

/// Timeout for every outbound request (connect and whole exchange).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// An async HTTPS client trusting `ca_pem` (when given) or else, when
/// `system_roots`, the system's roots; otherwise no roots at all (Vault's
/// Kubernetes client with no CA). rustls on aws-lc-rs, bounded timeouts.
pub fn http_client(ca_pem: &str, system_roots: bool) -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    if !ca_pem.trim().is_empty() {
        let blocks = pem::parse_many(ca_pem.trim().as_bytes()).unwrap_or_default();
        for block in blocks.iter().filter(|b| b.tag() == "CERTIFICATE") {
            let _ = roots.add(rustls::pki_types::CertificateDer::from(
                block.contents().to_vec(),
            ));
        }
        if roots.is_empty() {
            return Err("could not parse CA PEM value successfully".into());
        }
    } else if system_roots {
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(HTTP_TIMEOUT)
        .timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .map_err(|e| e.to_string())
}

/// GET `url`, requiring 200; the body (at most 1 MiB is read).
pub async fn http_get(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let resp = client
        .get(url)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("Get {url:?}: {}", error_chain(&e)))?;
    let status = resp.status();
    let body = read_limited(resp).await?;
    if status.as_u16() != 200 {
        return Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body).trim()
        ));
    }
    Ok(body)
}

/// Reads a response body, refusing more than 1 MiB.
pub async fn read_limited(mut resp: reqwest::Response) -> Result<Vec<u8>, String> {
    const LIMIT: usize = 1 << 20;
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| error_chain(&e))? {
        body.extend_from_slice(&chunk);
        if body.len() > LIMIT {
            return Err("response body too large".into());
        }
    }
    Ok(body)
}

/// An error with its sources, as Go prints wrapped errors.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let s = inner.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = inner.source();
    }
    text
}
