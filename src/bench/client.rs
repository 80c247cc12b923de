//! HTTP plumbing: a reqwest client for setup calls, and per-worker
//! connections for the measured loop (a raw hyper HTTP/1.1 connection for
//! `http://` targets — the cheapest client on a machine the server shares —
//! or reqwest for `https://`).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// A Vault-API target.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    client: reqwest::Client,
}

impl Api {
    pub fn new(addr: &str, token: &str, insecure: bool) -> Result<Api, String> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(insecure)
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Api {
            base: addr.trim_end_matches('/').to_string(),
            token: token.to_string(),
            client,
        })
    }

    /// One call; `Ok(json)` on 2xx (Null for an empty body), else the error text.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}/v1/{}", self.base, path.trim_start_matches('/'));
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut req = self
            .client
            .request(method.clone(), &url)
            .header("X-Vault-Token", &self.token);
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(&b).map_err(|e| e.to_string())?);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!(
                "{method} {url}: {status}: {}",
                String::from_utf8_lossy(&bytes).trim()
            ));
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("{url}: bad JSON: {e}"))
    }

    /// The underlying HTTP client (for calls outside `/v1/` conventions).
    pub fn http(&self) -> reqwest::Client {
        self.client.clone()
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        self.call("POST", path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> Result<Value, String> {
        self.call("GET", path, None).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, String> {
        self.call("DELETE", path, None).await
    }

    /// A connection for the measured loop.
    pub async fn connect(&self) -> Result<Conn, String> {
        if let Some(rest) = self.base.strip_prefix("http://") {
            let authority = rest.split('/').next().unwrap_or(rest).to_string();
            let stream = tokio::net::TcpStream::connect(&authority)
                .await
                .map_err(|e| format!("connect {authority}: {e}"))?;
            let _ = stream.set_nodelay(true);
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(Conn::Raw {
                sender,
                authority,
                token: self.token.clone(),
            })
        } else {
            Ok(Conn::Reqwest(self.clone()))
        }
    }
}

/// One measured request: method, path below `/v1/`, body.
#[derive(Clone)]
pub struct Call {
    pub method: hyper::Method,
    pub path: String,
    pub body: Option<Bytes>,
    /// Send the token (health does not need one).
    pub auth: bool,
}

pub enum Conn {
    Raw {
        sender: SendRequest<Full<Bytes>>,
        authority: String,
        token: String,
    },
    Reqwest(Api),
}

impl Conn {
    /// Sends `call`; `Ok(())` on 2xx, else a short error.
    pub async fn send(&mut self, call: &Call) -> Result<(), String> {
        match self {
            Conn::Raw {
                sender,
                authority,
                token,
            } => {
                sender.ready().await.map_err(|e| e.to_string())?;
                let mut builder = hyper::Request::builder()
                    .method(call.method.clone())
                    .uri(format!("/v1/{}", call.path))
                    .header("host", authority.as_str());
                if call.auth {
                    builder = builder.header("x-vault-token", token.as_str());
                }
                let body = match &call.body {
                    Some(b) => {
                        builder = builder.header("content-type", "application/json");
                        Full::new(b.clone())
                    }
                    None => Full::new(Bytes::new()),
                };
                let req = builder.body(body).map_err(|e| e.to_string())?;
                let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
                let status = resp.status();
                let bytes = resp
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_bytes();
                if status.is_success() {
                    Ok(())
                } else {
                    Err(format!(
                        "{status}: {}",
                        String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).trim()
                    ))
                }
            }
            Conn::Reqwest(api) => {
                let url = format!("{}/v1/{}", api.base, call.path);
                let method = reqwest::Method::from_bytes(call.method.as_str().as_bytes())
                    .map_err(|e| e.to_string())?;
                let mut req = api.client.request(method, url);
                if call.auth {
                    req = req.header("X-Vault-Token", &api.token);
                }
                if let Some(b) = &call.body {
                    req = req
                        .header("Content-Type", "application/json")
                        .body(b.clone());
                }
                let resp = req.send().await.map_err(|e| e.to_string())?;
                let status = resp.status();
                let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
                if status.is_success() {
                    Ok(())
                } else {
                    Err(format!(
                        "{status}: {}",
                        String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).trim()
                    ))
                }
            }
        }
    }
}
