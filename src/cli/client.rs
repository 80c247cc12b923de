//! The HTTP client, configured as Vault's `api.DefaultConfig()` +
//! `ReadEnvironment()` + the CLI's HTTP flags, and sending requests as the Go
//! client does: `X-Vault-Request: true`, `X-Vault-Token`, JSON bodies without
//! a Content-Type, no retries on the CLI.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::flags::{parse_go_bool, FlagSet};
use super::format::go_json;
use super::kv::go_open_error;

pub const DEFAULT_ADDRESS: &str = "https://127.0.0.1:8200";

pub struct Client {
    http: reqwest::blocking::Client,
    pub address: String,
    pub token: String,
    namespace: Option<String>,
    headers: Vec<(String, String)>,
    /// `X-Vault-Wrap-TTL` for every request (a Go duration).
    wrap_ttl: Option<String>,
}

/// One answer from the server.
pub struct Response {
    pub method: String,
    pub url: String,
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a request did not produce a usable answer.
#[derive(Debug)]
pub enum Error {
    /// The server answered with a status ≥ 400: Vault's `ResponseError`.
    Api {
        method: String,
        url: String,
        status: u16,
        errors: Vec<String>,
        raw: Option<String>,
    },
    /// The request never got an answer (Go's `*url.Error`).
    Transport(String),
    /// The answer was not what the API promises.
    Decode(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Api {
                method,
                url,
                status,
                errors,
                raw,
            } => {
                write!(
                    f,
                    "Error making API request.\n\nURL: {method} {url}\nCode: {status}. "
                )?;
                match raw {
                    Some(raw) => write!(f, "Raw Message:\n\n{raw}"),
                    None => {
                        write!(f, "Errors:\n\n")?;
                        for e in errors {
                            write!(f, "* {e}")?;
                        }
                        Ok(())
                    }
                }
            }
            Error::Transport(s) | Error::Decode(s) => f.write_str(s),
        }
    }
}

impl Error {
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A server and token that override `VAULT_ADDR`/`VAULT_TOKEN` for the
/// commands run on this thread (the server's bootstrap file, which must
/// not depend on the process environment).
#[derive(Debug, Clone)]
pub struct Target {
    pub address: String,
    pub token: String,
    /// The server's own loopback listener: its certificate is not checked.
    pub skip_verify: bool,
}

thread_local! {
    static TARGET: std::cell::RefCell<Option<Target>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with every client built on this thread aimed at `target`.
pub fn with_target<T>(target: Target, f: impl FnOnce() -> T) -> T {
    TARGET.with(|t| *t.borrow_mut() = Some(target));
    let result = f();
    TARGET.with(|t| *t.borrow_mut() = None);
    result
}

fn target() -> Option<Target> {
    TARGET.with(|t| t.borrow().clone())
}

/// `~/.vault-token` (the default token helper's file).
pub fn token_file() -> Option<std::path::PathBuf> {
    let home = env("HOME")?;
    Some(Path::new(&home).join(".vault-token"))
}

impl Client {
    /// Builds the client from the parsed flags (whose defaults already
    /// carry the VAULT_* environment).
    pub fn from_flags(flags: &FlagSet) -> Result<Client, String> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let target = target();
        let mut address = flags.str("address");
        if address.is_empty() {
            address = DEFAULT_ADDRESS.to_string();
        }
        if let Some(target) = &target {
            address.clone_from(&target.address);
        }
        if !flags.str("agent-address").is_empty() {
            address = flags.str("agent-address");
        }
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .use_rustls_tls();
        let skip_verify = target.as_ref().is_some_and(|t| t.skip_verify)
            || flags.bool("tls-skip-verify")
            || env("VAULT_SKIP_VERIFY")
                .and_then(|v| parse_go_bool(&v))
                .unwrap_or(false);
        if skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let ca_cert = flags.str("ca-cert");
        let ca_path = flags.str("ca-path");
        if !ca_cert.is_empty() {
            for cert in load_pem_certs(Path::new(&ca_cert))? {
                builder = builder.add_root_certificate(cert);
            }
        } else if !ca_path.is_empty() {
            let entries = std::fs::read_dir(&ca_path).map_err(|e| {
                format!(
                    "failed to setup TLS config: {}",
                    go_open_error(&ca_path, &e)
                )
            })?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_file() {
                    for cert in load_pem_certs(&path)? {
                        builder = builder.add_root_certificate(cert);
                    }
                }
            }
        }
        let client_cert = flags.str("client-cert");
        let client_key = flags.str("client-key");
        if !client_cert.is_empty() || !client_key.is_empty() {
            if client_cert.is_empty() || client_key.is_empty() {
                return Err(
                    "failed to setup TLS config: both client cert and client key must be provided"
                        .to_string(),
                );
            }
            let mut pem = std::fs::read(&client_cert).map_err(|e| {
                format!(
                    "failed to setup TLS config: {}",
                    go_open_error(&client_cert, &e)
                )
            })?;
            pem.push(b'\n');
            pem.extend(std::fs::read(&client_key).map_err(|e| {
                format!(
                    "failed to setup TLS config: {}",
                    go_open_error(&client_key, &e)
                )
            })?);
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|e| format!("failed to setup TLS config: {e}"))?;
            builder = builder.identity(identity);
        }
        if flags.bool("disable-redirects") {
            builder = builder.redirect(reqwest::redirect::Policy::none());
        }
        let http = builder
            .build()
            .map_err(|e| format!("failed to create client: {e}"))?;

        let mut token = match &target {
            Some(target) => target.token.clone(),
            None => env("VAULT_TOKEN").unwrap_or_default(),
        };
        if token.is_empty() && target.is_none() {
            if let Some(file) = token_file() {
                if let Ok(text) = std::fs::read_to_string(file) {
                    token = text.trim().to_string();
                }
            }
        }
        let mut namespace = None;
        for name in ["ns", "namespace"] {
            if flags.is_set(name) || (name == "namespace" && !flags.str(name).is_empty()) {
                let ns = flags.str(name);
                let ns = ns.trim_matches('/');
                namespace = Some(if ns.is_empty() {
                    String::new()
                } else {
                    format!("{ns}/")
                });
                break;
            }
        }
        let mut headers = Vec::new();
        for h in flags.list("header") {
            if let Some((k, v)) = h.split_once('=') {
                headers.push((k.to_string(), v.to_string()));
            }
        }
        let wrap_ttl = flags.duration("wrap-ttl");
        Ok(Client {
            http,
            address: address.trim_end_matches('/').to_string(),
            token,
            namespace,
            headers,
            wrap_ttl: (wrap_ttl > 0).then(|| super::duration::go_string(wrap_ttl)),
        })
    }

    pub fn url(&self, path: &str, query: &[(String, String)]) -> String {
        let mut url = format!("{}/v1/{}", self.address, path.trim_start_matches('/'));
        if !query.is_empty() {
            let mut ser = form_urlencoded::Serializer::new(String::new());
            let mut sorted = query.to_vec();
            sorted.sort();
            for (k, v) in &sorted {
                ser.append_pair(k, v);
            }
            url.push('?');
            url.push_str(&ser.finish());
        }
        url
    }

    /// Sends one request; any HTTP status comes back as a `Response`.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<Vec<u8>>,
        content_type: Option<&str>,
    ) -> Result<Response, Error> {
        let url = self.url(path, query);
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| Error::Transport(e.to_string()))?;
        let mut req = self.http.request(m, &url).header("X-Vault-Request", "true");
        if !self.token.is_empty() {
            req = req.header("X-Vault-Token", &self.token);
        }
        if let Some(ns) = &self.namespace {
            if !ns.is_empty() {
                req = req.header("X-Vault-Namespace", ns);
            }
        }
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(ttl) = self.wrap_ttl_for(method, path) {
            req = req.header("X-Vault-Wrap-TTL", ttl);
        }
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        let resp = req
            .send()
            .map_err(|e| Error::Transport(transport_error(method, &url, &e)))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .map_err(|e| Error::Transport(transport_error(method, &url, &e)))?
            .to_vec();
        Ok(Response {
            method: method.to_string(),
            url,
            status,
            body,
        })
    }

    /// A GET whose body (on success) is copied into `out` as it arrives,
    /// not held in memory (a snapshot); a status ≥ 400 is an `Error::Api`.
    pub fn download(&self, path: &str, out: &mut impl std::io::Write) -> Result<(), Error> {
        let url = self.url(path, &[]);
        let mut req = self.http.get(&url).header("X-Vault-Request", "true");
        if !self.token.is_empty() {
            req = req.header("X-Vault-Token", &self.token);
        }
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let transport = |e: &reqwest::Error| Error::Transport(transport_error("GET", &url, e));
        let mut resp = req.send().map_err(|e| transport(&e))?;
        let status = resp.status().as_u16();
        if status < 400 {
            resp.copy_to(out).map_err(|e| transport(&e))?;
            return Ok(());
        }
        let body = resp.bytes().map_err(|e| transport(&e))?.to_vec();
        check(Response {
            method: "GET".into(),
            url: url.clone(),
            status,
            body,
        })
        .map(|_| ())
    }

    /// The wrap TTL a request asks for: `-wrap-ttl` (or `VAULT_WRAP_TTL`)
    /// on every request, else Vault's default of five minutes for writes
    /// to `sys/wrapping/wrap` (the API client's `DefaultWrappingLookupFunc`).
    fn wrap_ttl_for(&self, method: &str, path: &str) -> Option<&str> {
        if let Some(ttl) = &self.wrap_ttl {
            return Some(ttl);
        }
        (matches!(method, "PUT" | "POST") && path.trim_start_matches('/') == "sys/wrapping/wrap")
            .then_some("5m")
    }

    /// A request whose status ≥ 400 is an `Error::Api` (`Response.Error()`).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Response, Error> {
        let body = body.map(|b| go_json(b, false).into_bytes());
        let resp = self.raw(method, path, query, body, None)?;
        check(resp)
    }

    /// `Logical().ReadWithData`: 404 → `None` unless it carries data or
    /// warnings.
    pub fn read(&self, path: &str, query: &[(String, String)]) -> Result<Option<Value>, Error> {
        let resp = self.raw("GET", path, query, None, None)?;
        if resp.status == 404 {
            return Ok(secret_with_content(&resp.body));
        }
        parse_secret(check(resp)?)
    }

    /// `Logical().List`: `GET ?list=true`.
    pub fn list(&self, path: &str) -> Result<Option<Value>, Error> {
        self.read(path, &[("list".to_string(), "true".to_string())])
    }

    /// `Logical().Write` (PUT), `Delete` (DELETE), `JSONMergePatch` (PATCH):
    /// a 404 with data or warnings is a secret, any other error an error.
    pub fn write(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Option<Value>, Error> {
        let bytes = body.map(|b| go_json(b, false).into_bytes());
        let content_type = (method == "PATCH").then_some("application/merge-patch+json");
        let resp = self.raw(method, path, query, bytes, content_type)?;
        if resp.status == 404 {
            if let Some(secret) = secret_with_content(&resp.body) {
                return Ok(Some(secret));
            }
        }
        parse_secret(check(resp)?)
    }
}

fn parse_secret(resp: Response) -> Result<Option<Value>, Error> {
    if resp.body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    serde_json::from_slice(&resp.body)
        .map(Some)
        .map_err(|e| Error::Decode(e.to_string()))
}

fn secret_with_content(body: &[u8]) -> Option<Value> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let has_data = v
        .get("data")
        .and_then(Value::as_object)
        .is_some_and(|d| !d.is_empty());
    let has_warnings = v
        .get("warnings")
        .and_then(Value::as_array)
        .is_some_and(|w| !w.is_empty());
    (has_data || has_warnings).then_some(v)
}

/// `api.Response.Error()`.
pub fn check(resp: Response) -> Result<Response, Error> {
    if resp.status < 400 {
        return Ok(resp);
    }
    let parsed: Option<Value> = serde_json::from_slice(&resp.body).ok();
    let (errors, raw) = match parsed.as_ref().and_then(|v| v.as_object()) {
        Some(obj) => (
            obj.get("errors")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|e| match e {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            None,
        ),
        None => (
            Vec::new(),
            Some(String::from_utf8_lossy(&resp.body).into_owned()),
        ),
    };
    Err(Error::Api {
        method: resp.method,
        url: resp.url,
        status: resp.status,
        errors,
        raw,
    })
}

fn load_pem_certs(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let display = path.display().to_string();
    let pem = std::fs::read(path).map_err(|e| {
        format!(
            "failed to setup TLS config: {}",
            go_open_error(&display, &e)
        )
    })?;
    reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("failed to setup TLS config: {e}"))
}

/// Go's `*url.Error` text: `Get "URL": dial tcp HOST:PORT: connect:
/// connection refused`.
fn transport_error(method: &str, url: &str, err: &reqwest::Error) -> String {
    let op = {
        let lower = method.to_lowercase();
        let mut chars = lower.chars();
        match chars.next() {
            Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
            None => String::new(),
        }
    };
    let host_port = url::Url::parse(url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_string();
            let port = u.port_or_known_default()?;
            Some(if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            })
        })
        .unwrap_or_default();
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(err);
    let mut io_kind = None;
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
        }
        chain.push(e.to_string());
        source = e.source();
    }
    let detail = chain.join(": ");
    let reason = if err.is_timeout() {
        "context deadline exceeded (Client.Timeout exceeded while awaiting headers)".to_string()
    } else {
        match io_kind {
            Some(std::io::ErrorKind::ConnectionRefused) => {
                format!("dial tcp {host_port}: connect: connection refused")
            }
            Some(std::io::ErrorKind::ConnectionReset) => {
                format!("read tcp {host_port}: read: connection reset by peer")
            }
            _ if detail.contains("dns error") || detail.contains("failed to lookup") => {
                let host = host_port.rsplit_once(':').map(|(h, _)| h).unwrap_or("");
                format!("dial tcp: lookup {host}: no such host")
            }
            _ if detail.contains("InvalidContentType") || detail.contains("corrupt message") => {
                "http: server gave HTTP response to HTTPS client".to_string()
            }
            _ if detail.contains("UnknownIssuer")
                || detail.contains("invalid peer certificate") =>
            {
                "tls: failed to verify certificate: x509: certificate signed by unknown authority"
                    .to_string()
            }
            _ => chain.last().cloned().unwrap_or(detail),
        }
    };
    format!("{op} \"{url}\": {reason}")
}
