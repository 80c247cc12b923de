//! Challenge validation, in the background on tokio tasks (never on a
//! request's worker): http-01 (RFC 8555 §8.3) and dns-01 (RFC 8555 §8.4), retried
//! as Vault retries (after 5, 10, 15, 20, 25 and 30 seconds; the seventh
//! failure makes the challenge and its authorization invalid).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::problem::{Kind, Problem};
use super::state::{self, Status};
use super::AcmeState;
use crate::storage::StorageView;

/// Failed attempts before a challenge is given up.
const MAX_ATTEMPTS: u32 = 7;
/// A valid authorization lasts this long.
const AUTHZ_LIFETIME: i64 = 15 * 24 * 3600;
const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest http-01 body read.
const MAX_BODY: usize = 512;

/// What one validation needs to know.
pub struct Job {
    pub storage: StorageView,
    pub account: String,
    pub authz: String,
    pub kind: String,
    /// `token.thumbprint`.
    pub key_authorization: String,
    pub token: String,
    /// The name or IP, without a wildcard's `*.`.
    pub identifier: String,
    pub resolver: Option<SocketAddr>,
}

/// Starts validating in the background.
pub fn spawn(acme: Arc<AcmeState>, job: Job) {
    tokio::spawn(async move {
        let mut attempt = 0;
        loop {
            let outcome = attempt_once(&job).await;
            let done = record(&acme, &job, outcome, &mut attempt).await;
            match done {
                Ok(true) | Err(_) => break,
                Ok(false) => tokio::time::sleep(Duration::from_secs(5 * u64::from(attempt))).await,
            }
        }
    });
}

async fn attempt_once(job: &Job) -> Result<(), Problem> {
    match job.kind.as_str() {
        "http-01" => http_01(job).await,
        "dns-01" => dns_01(job).await,
        other => Err(Problem::internal(format!("no validator for {other}"))),
    }
}

/// Stores the outcome; `Ok(true)` once the challenge is final.
async fn record(
    acme: &AcmeState,
    job: &Job,
    outcome: Result<(), Problem>,
    attempt: &mut u32,
) -> Result<bool, Problem> {
    let _guard = acme.lock.lock().await;
    let mut authz = state::authorization(&job.storage, &job.account, &job.authz).await?;
    if authz.status != Status::Pending {
        return Ok(true);
    }
    let Some(challenge) = authz.challenges.iter_mut().find(|c| c.kind == job.kind) else {
        return Ok(true);
    };
    let done = match outcome {
        Ok(()) => {
            let now = state::now();
            challenge.status = Status::Valid;
            challenge.validated = Some(now);
            challenge.error = None;
            authz.status = Status::Valid;
            authz.expires = Some(now + AUTHZ_LIFETIME);
            true
        }
        Err(problem) => {
            *attempt += 1;
            challenge.attempts = *attempt;
            challenge.error = Some(problem.to_json());
            if *attempt >= MAX_ATTEMPTS {
                challenge.status = Status::Invalid;
                authz.status = Status::Invalid;
                true
            } else {
                false
            }
        }
    };
    state::put_authorization(&job.storage, &job.account, &authz).await?;
    Ok(done)
}

fn incorrect(detail: impl std::fmt::Display) -> Problem {
    Problem::new(Kind::IncorrectResponse, detail)
}

/// `GET http://<identifier>/.well-known/acme-challenge/<token>` on port
/// 80; the body, trimmed, must be the key authorization. Redirects are
/// followed up to 10 times; the status code is not looked at (as Vault).
async fn http_01(job: &Job) -> Result<(), Problem> {
    let host = match job.identifier.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
        _ => job.identifier.clone(),
    };
    let url = format!("http://{host}/.well-known/acme-challenge/{}", job.token);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Problem::internal)?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_proxy()
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
        .map_err(Problem::internal)?;
    let mut resp = client
        .get(&url)
        .send()
        .await
        .map_err(|e| incorrect(format!("http-01 challenge failed to connect to {url}: {e}")))?;
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| incorrect(format!("http-01 challenge failed reading {url}: {e}")))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return Err(incorrect("http-01 challenge response too large"));
        }
    }
    let text = String::from_utf8_lossy(&body);
    if text.trim() == job.key_authorization {
        Ok(())
    } else {
        Err(incorrect(format!(
            "http-01 challenge response from {url} does not match the key authorization"
        )))
    }
}

/// A TXT record at `_acme-challenge.<identifier>` holding the base64url
/// SHA-256 of the key authorization, asked of `dns_resolver` when it is
/// set, else of the system's resolver.
async fn dns_01(job: &Job) -> Result<(), Problem> {
    use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;
    use hickory_resolver::proto::rr::RData;
    use hickory_resolver::Resolver;

    let expected = URL_SAFE_NO_PAD.encode(digest::digest(
        &digest::SHA256,
        job.key_authorization.as_bytes(),
    ));
    let builder = match job.resolver {
        Some(addr) => {
            let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
                .into_iter()
                .map(|mut c| {
                    c.port = addr.port();
                    c
                })
                .collect();
            let server = NameServerConfig::new(addr.ip(), true, connections);
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![server]),
                TokioRuntimeProvider::default(),
            )
        }
        None => Resolver::builder_tokio().map_err(Problem::internal)?,
    };
    let mut builder = builder;
    builder.options_mut().timeout = TIMEOUT;
    builder.options_mut().cache_size = 0;
    let resolver = builder.build().map_err(Problem::internal)?;
    let name = format!("_acme-challenge.{}.", job.identifier.trim_end_matches('.'));
    let lookup = tokio::time::timeout(Duration::from_secs(30), resolver.txt_lookup(name.as_str()))
        .await
        .map_err(|_| incorrect(format!("dns-01 lookup of {name} timed out")))?
        .map_err(|e| incorrect(format!("dns-01 lookup of {name} failed: {e}")))?;
    let found = lookup.answers().iter().any(|record| match &record.data {
        RData::TXT(txt) => {
            let joined: Vec<u8> = txt
                .txt_data
                .iter()
                .flat_map(|s| s.iter().copied())
                .collect();
            joined == expected.as_bytes()
        }
        _ => false,
    });
    if found {
        Ok(())
    } else {
        Err(incorrect(format!(
            "dns-01 challenge: no TXT record at {name} matches the key authorization"
        )))
    }
}
