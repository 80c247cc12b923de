//! The `acme` scenario: RFC 8555 orders from new-order to certificate over
//! http-01, validated by the server against a loopback responder that this
//! process runs on port 80. Unlike the other scenarios nothing can be
//! prepared: every request needs a fresh nonce and its own JWS signature,
//! and the order must be polled while the server validates.
//!
//! Besides orders/s and the order's wall time, each order records how much
//! of that time was spent inside requests (the server's work, as seen by
//! the client over loopback) and how much waiting between polls for the
//! server's background validation, whose retry schedule dominates on
//! servers that do not validate at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The name every order asks for: it resolves to loopback everywhere, so
/// the server's http-01 fetch reaches the responder.
const IDENTIFIER: &str = "localhost";
/// Pause between polls of a pending authorization or order.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// An order still unfinished after this long counts as an error.
const ORDER_TIMEOUT: Duration = Duration::from_secs(60);

/// One account key, shared by every worker (accounts are set up before the
/// clock starts; the responder answers for its thumbprint).
pub struct Account {
    key: EcdsaKeyPair,
    kid: String,
    pub thumbprint: String,
    /// `new-order` and `new-nonce` of the directory.
    new_order: String,
    new_nonce: String,
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn jwk(key: &EcdsaKeyPair) -> Value {
    let point = key.public_key().as_ref();
    json!({"crv": "P-256", "kty": "EC", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
}

/// RFC 7638 thumbprint of a P-256 key.
fn thumbprint(key: &EcdsaKeyPair) -> String {
    let j = jwk(key);
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        j["x"].as_str().unwrap_or_default(),
        j["y"].as_str().unwrap_or_default()
    );
    b64(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

/// A flattened JWS (ES256) over `payload` (None = POST-as-GET).
fn jws(
    key: &EcdsaKeyPair,
    signer: Value,
    url: &str,
    nonce: &str,
    payload: Option<&Value>,
) -> Result<Vec<u8>, String> {
    let mut header = json!({"alg": "ES256", "nonce": nonce, "url": url});
    match signer {
        Value::String(kid) => header["kid"] = json!(kid),
        jwk => header["jwk"] = jwk,
    }
    let protected = b64(header.to_string());
    let payload = payload.map(|p| b64(p.to_string())).unwrap_or_default();
    let signature = key
        .sign(
            &SystemRandom::new(),
            format!("{protected}.{payload}").as_bytes(),
        )
        .map_err(|_| "ES256 signing failed".to_string())?;
    Ok(
        json!({"protected": protected, "payload": payload, "signature": b64(signature)})
            .to_string()
            .into_bytes(),
    )
}

/// One ACME answer.
struct Reply {
    status: u16,
    nonce: Option<String>,
    location: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A client's connection state: the HTTP client, the next nonce, and the
/// time spent inside requests so far.
struct Session<'a> {
    http: reqwest::Client,
    account: &'a Account,
    nonce: Option<String>,
    in_requests: Duration,
    requests: u32,
}

impl Session<'_> {
    async fn send(
        &mut self,
        method: reqwest::Method,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, String> {
        let t0 = Instant::now();
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.header("Content-Type", "application/jose+json").body(b);
        }
        let resp = req.send().await.map_err(|e| format!("{url}: {e}"))?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (nonce, location) = (header("replay-nonce"), header("location"));
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| e.to_string())?.to_vec();
        self.in_requests += t0.elapsed();
        self.requests += 1;
        Ok(Reply {
            status,
            nonce,
            location,
            body,
        })
    }

    /// A signed POST to `url` (by `kid`); takes the reply's nonce for the
    /// next one and fails on anything but 2xx.
    async fn post(&mut self, url: &str, payload: Option<&Value>) -> Result<Reply, String> {
        let nonce = match self.nonce.take() {
            Some(n) => n,
            None => {
                let r = self
                    .send(reqwest::Method::HEAD, &self.account.new_nonce.clone(), None)
                    .await?;
                r.nonce.ok_or("new-nonce gave no Replay-Nonce")?
            }
        };
        let account = self.account;
        let body = jws(&account.key, json!(account.kid), url, &nonce, payload)?;
        let reply = self.send(reqwest::Method::POST, url, Some(body)).await?;
        self.nonce = reply.nonce.clone();
        if reply.status >= 300 {
            return Err(format!(
                "POST {url}: {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body[..reply.body.len().min(300)]).trim()
            ));
        }
        Ok(reply)
    }

    /// POST-as-GET `url` until `done` holds for its status, sleeping
    /// between polls (the sleep is not request time).
    async fn poll(&mut self, url: &str, done: &[&str]) -> Result<Value, String> {
        let deadline = Instant::now() + ORDER_TIMEOUT;
        loop {
            let v = self.post(url, None).await?.json();
            let status = v["status"].as_str().unwrap_or_default();
            if done.contains(&status) {
                return Ok(v);
            }
            if status == "invalid" {
                return Err(format!("{url} became invalid: {v}"));
            }
            if Instant::now() > deadline {
                return Err(format!("{url} still {status} after {ORDER_TIMEOUT:?}"));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

/// What one order cost.
pub struct OrderCost {
    pub wall: Duration,
    pub in_requests: Duration,
    pub requests: u32,
}

impl Account {
    /// Registers a new P-256 account at the directory `directory_url`.
    pub async fn register(http: &reqwest::Client, directory_url: &str) -> Result<Account, String> {
        let bytes = http
            .get(directory_url)
            .send()
            .await
            .map_err(|e| format!("{directory_url}: {e}"))?
            .bytes()
            .await
            .map_err(|e| format!("{directory_url}: {e}"))?;
        let directory: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{directory_url}: {e}: {}", String::from_utf8_lossy(&bytes)))?;
        let url = |name: &str| {
            directory[name]
                .as_str()
                .map(str::to_string)
                .ok_or(format!("directory has no {name}: {directory}"))
        };
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| "key generation failed")?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .map_err(|_| "key parsing failed")?;
        let mut account = Account {
            thumbprint: thumbprint(&key),
            key,
            kid: String::new(),
            new_order: url("newOrder")?,
            new_nonce: url("newNonce")?,
        };
        let mut session = Session {
            http: http.clone(),
            account: &account,
            nonce: None,
            in_requests: Duration::ZERO,
            requests: 0,
        };
        let nonce = session
            .send(reqwest::Method::HEAD, &account.new_nonce, None)
            .await?
            .nonce
            .ok_or("new-nonce gave no Replay-Nonce (is the mount tuned?)")?;
        let new_account = url("newAccount")?;
        let body = jws(
            &account.key,
            jwk(&account.key),
            &new_account,
            &nonce,
            Some(&json!({"termsOfServiceAgreed": true})),
        )?;
        let reply = session
            .send(reqwest::Method::POST, &new_account, Some(body))
            .await?;
        if reply.status != 201 {
            return Err(format!(
                "new-account: {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            ));
        }
        account.kid = reply.location.ok_or("new-account gave no Location")?;
        Ok(account)
    }

    /// One order: new-order, authorization, challenge, poll, finalize with
    /// a fresh CSR, download. `csr` is base64url DER, made before the clock.
    pub async fn order(&self, http: &reqwest::Client, csr: &str) -> Result<OrderCost, String> {
        let start = Instant::now();
        let mut s = Session {
            http: http.clone(),
            account: self,
            nonce: None,
            in_requests: Duration::ZERO,
            requests: 0,
        };
        let payload = json!({"identifiers": [{"type": "dns", "value": IDENTIFIER}]});
        let created = s.post(&self.new_order, Some(&payload)).await?;
        let order_url = created
            .location
            .clone()
            .ok_or("new-order gave no Location")?;
        let order = created.json();
        let authz_url = order["authorizations"][0]
            .as_str()
            .ok_or(format!("order without authorizations: {order}"))?
            .to_string();
        let finalize = order["finalize"]
            .as_str()
            .ok_or("order without finalize")?
            .to_string();
        let authz = s.post(&authz_url, None).await?.json();
        if authz["status"] != "valid" {
            let challenge = authz["challenges"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "http-01"))
                .and_then(|c| c["url"].as_str())
                .ok_or(format!("no http-01 challenge: {authz}"))?
                .to_string();
            s.post(&challenge, Some(&json!({}))).await?;
            s.poll(&authz_url, &["valid"]).await?;
        }
        let finalized = s
            .post(&finalize, Some(&json!({ "csr": csr })))
            .await?
            .json();
        let done = match finalized["status"].as_str() {
            Some("valid") => finalized,
            _ => s.poll(&order_url, &["valid"]).await?,
        };
        let cert_url = done["certificate"]
            .as_str()
            .ok_or(format!("valid order without certificate: {done}"))?
            .to_string();
        let cert = s.post(&cert_url, None).await?;
        if !cert.body.starts_with(b"-----BEGIN CERTIFICATE-----") {
            return Err(format!("{cert_url}: not a PEM chain"));
        }
        Ok(OrderCost {
            wall: start.elapsed(),
            in_requests: s.in_requests,
            requests: s.requests,
        })
    }
}

/// A CSR for the scenario's identifier (base64url DER, as finalize takes it).
pub fn csr() -> Result<String, String> {
    let key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
    let mut params =
        rcgen::CertificateParams::new(vec![IDENTIFIER.to_string()]).map_err(|e| e.to_string())?;
    // Not rcgen's default subject: every name in the CSR must be ordered.
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, IDENTIFIER);
    let request = params.serialize_request(&key).map_err(|e| e.to_string())?;
    Ok(b64(request.der()))
}

/// Serves `GET /.well-known/acme-challenge/<token>` on `port` (loopback)
/// with `<token>.<thumbprint>` for any token: the challenges are
/// provisioned for every order in advance. Stops when dropped.
pub struct Responder(tokio::task::JoinHandle<()>);

impl Responder {
    pub async fn start(port: u16, thumbprint: String) -> Result<Responder, String> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("http-01 responder on 127.0.0.1:{port}: {e} (port 80 needs root or CAP_NET_BIND_SERVICE)"))?;
        let thumbprint = Arc::new(thumbprint);
        Ok(Responder(tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, thumbprint.clone()));
            }
        })))
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Answers one request on `stream` and closes it.
async fn answer(mut stream: tokio::net::TcpStream, thumbprint: Arc<String>) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let path = head.split_whitespace().nth(1).unwrap_or_default();
    let response = match path.strip_prefix("/.well-known/acme-challenge/") {
        Some(token) if !token.is_empty() => {
            let body = format!("{token}.{thumbprint}");
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
    };
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The ACME columns of a scenario result: per order, mean time inside
/// requests (the server's share), mean time waiting between polls, and
/// requests sent.
#[derive(Debug, Clone, Serialize)]
pub struct AcmeCosts {
    pub server_ms_mean: f64,
    pub server_ms_p50: f64,
    pub server_ms_p99: f64,
    pub wait_ms_mean: f64,
    pub requests_per_order: f64,
    /// The server process's CPU time (user + system) during the measured
    /// window ÷ the orders counted in it, when its pid is known: the
    /// server's work without the queueing that round trips include under
    /// concurrency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_ms_per_order: Option<f64>,
}

/// CPU time (user + system) of `pid` so far, from `/proc/<pid>/stat`
/// (fields 14 and 15, in USER_HZ = 100 ticks per second on Linux).
pub fn cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 10.0)
}

impl AcmeCosts {
    /// `server_cpu_ms`: the server's CPU time in the measured window.
    pub fn of(costs: &[OrderCost], server_cpu_ms: Option<f64>) -> AcmeCosts {
        let n = costs.len().max(1) as f64;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut server: Vec<u32> = costs
            .iter()
            .map(|c| c.in_requests.as_micros().min(u32::MAX as u128) as u32)
            .collect();
        server.sort_unstable();
        AcmeCosts {
            server_ms_mean: costs
                .iter()
                .map(|c| ms(c.in_requests))
                .fold(0.0, |a, b| a + b)
                / n,
            server_ms_p50: super::stats::percentile_ms(&server, 0.5),
            server_ms_p99: super::stats::percentile_ms(&server, 0.99),
            wait_ms_mean: costs
                .iter()
                .map(|c| ms(c.wall.saturating_sub(c.in_requests)))
                .fold(0.0, |a, b| a + b)
                / n,
            requests_per_order: costs
                .iter()
                .map(|c| f64::from(c.requests))
                .fold(0.0, |a, b| a + b)
                / n,
            server_cpu_ms_per_order: server_cpu_ms.filter(|_| !costs.is_empty()).map(|ms| ms / n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    #[tokio::test]
    async fn the_responder_answers_any_token_with_its_key_authorization() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let _responder = Responder::start(port, "THUMB".into()).await.expect("start");
        let get = |path: &str| {
            let url = format!("http://127.0.0.1:{port}{path}");
            async move {
                let r = reqwest::get(url).await.expect("get");
                (r.status().as_u16(), r.text().await.expect("body"))
            }
        };
        let token_path = "/.well-known/acme-challenge/abc-123";
        assert_eq!(get(token_path).await, (200, "abc-123.THUMB".to_string()));
        assert_eq!(get("/.well-known/acme-challenge/").await.0, 404);
        assert_eq!(get("/other").await.0, 404);
    }

    #[test]
    fn cpu_time_is_read_from_proc_and_grows() {
        let before = cpu_ms(std::process::id()).expect("own /proc stat");
        // Spin until a tick is charged (bounded: a loaded machine may
        // schedule this thread rarely).
        let busy = Instant::now();
        let mut after = before;
        while after <= before && busy.elapsed() < Duration::from_secs(10) {
            std::hint::black_box((0..10_000u64).sum::<u64>());
            after = cpu_ms(std::process::id()).expect("own /proc stat");
        }
        assert!(after > before, "{before} → {after}");
        assert_eq!(cpu_ms(u32::MAX), None);
    }

    #[test]
    fn the_csr_names_only_the_ordered_identifier() {
        let der = URL_SAFE_NO_PAD
            .decode(csr().expect("csr"))
            .expect("base64url");
        let (_, req) = x509_parser::certification_request::X509CertificationRequest::from_der(&der)
            .expect("a CSR");
        let subject = req.certification_request_info.subject.to_string();
        assert_eq!(subject, format!("CN={IDENTIFIER}"));
    }
}
