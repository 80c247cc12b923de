//! The server's log: no secret ever reaches it, even at trace level, over
//! a PKI, AppRole and userpass flow, in either format; each request gets a
//! debug line with mount, operation, status and latency; `-log-format=json`,
//! `VAULT_LOG_FORMAT=json` and the config file's `log_format = "json"` write
//! Vault's JSON lines; and the log carries colour escapes on a terminal
//! only.

mod common;

use std::time::{Duration, Instant};

use common::{temp_dir, Server, LISTEN};
use serde_json::{json, Value};

/// A dev server logging at `level` in `format` into a fresh file, with a
/// root token that appears nowhere else.
fn logging_server(name: &str, level: &str, format: &str) -> (Server, std::path::PathBuf) {
    logging_dev_server(
        name,
        &[
            &format!("-log-level={level}"),
            &format!("-log-format={format}"),
        ],
        &[],
    )
}

/// A dev server with these extra arguments and environment, logging into
/// a fresh file, with a root token that appears nowhere else.
fn logging_dev_server(
    name: &str,
    extra_args: &[&str],
    env: &[(&str, &str)],
) -> (Server, std::path::PathBuf) {
    let dir = temp_dir(name);
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let root = format!("hvs.{}", "Q7rootSecret9x".repeat(2));
    let mut args = vec![
        "server".to_string(),
        "-dev".into(),
        format!("-dev-root-token-id={root}"),
        "-dev-no-store-token".into(),
        format!("-dev-listen-address={LISTEN}"),
    ];
    args.extend(extra_args.iter().map(|a| a.to_string()));
    (
        Server::with_env_args_logging_to(env, &args, &root, log),
        log_path,
    )
}

/// Every line of `log` parsed as one of Vault's JSON log lines.
fn json_lines(log: &str) -> Vec<Value> {
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!lines.is_empty());
    for line in &lines {
        for key in ["@level", "@message", "@timestamp"] {
            assert!(line[key].is_string(), "{key} in {line}");
        }
    }
    lines
}

/// The log once it holds `needle` (the server writes it asynchronously),
/// or as it is after 10 s.
fn log_containing(path: &std::path::Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn no_secret_is_logged_at_trace_level() {
    no_secret_is_logged("standard");
}

#[test]
fn no_secret_is_logged_in_json_lines() {
    no_secret_is_logged("json");
}

fn no_secret_is_logged(format: &str) {
    let (server, log_path) = logging_server(&format!("log-secrets-{format}"), "trace", format);
    let mut secrets = vec![server.root_token.clone()];

    // PKI: a root, a role, a certificate with its private key.
    server.write("sys/mounts/pki", json!({"type": "pki"}));
    let root = server.write(
        "pki/root/generate/exported",
        json!({"common_name": "Log Root", "ttl": "24h"}),
    );
    assert_eq!(root.status, 200, "{:?}", root.json);
    server.write(
        "pki/roles/web",
        json!({"allow_any_name": true, "max_ttl": "1h"}),
    );
    let issued = server.write("pki/issue/web", json!({"common_name": "a.example"}));
    assert_eq!(issued.status, 200, "{:?}", issued.json);
    for key in [root.data("private_key"), issued.data("private_key")] {
        let pem = key.as_str().expect("private key");
        // Any base64 line of the key body would betray it.
        secrets.extend(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_string),
        );
    }

    // AppRole: role id, secret id, login.
    server.write("sys/auth/approle", json!({"type": "approle"}));
    server.write(
        "auth/approle/role/app",
        json!({"token_policies": ["default"]}),
    );
    let role_id = server
        .read("auth/approle/role/app/role-id")
        .data("role_id")
        .clone();
    let secret = server.write("auth/approle/role/app/secret-id", json!({}));
    let secret_id = secret
        .data("secret_id")
        .as_str()
        .expect("secret_id")
        .to_string();
    secrets.push(secret_id.clone());
    let login = server.call(
        "PUT",
        "auth/approle/login",
        "",
        Some(json!({"role_id": role_id, "secret_id": secret_id})),
    );
    assert_eq!(login.status, 200, "{:?}", login.json);
    secrets.push(login.client_token());

    // Userpass: a user, a good and a bad login.
    let password = "Tr0ub4dor-and-3-horses";
    server.write("sys/auth/userpass", json!({"type": "userpass"}));
    server.write(
        "auth/userpass/users/alice",
        json!({"password": password, "policies": "default"}),
    );
    let login = server.call(
        "PUT",
        "auth/userpass/login/alice",
        "",
        Some(json!({ "password": password })),
    );
    assert_eq!(login.status, 200, "{:?}", login.json);
    secrets.push(password.to_string());
    secrets.push(login.client_token());
    let wrong = "Wr0ng-password-for-alice";
    let refused = server.call(
        "PUT",
        "auth/userpass/login/alice",
        "",
        Some(json!({ "password": wrong })),
    );
    assert_eq!(refused.status, 400);
    secrets.push(wrong.to_string());

    // A token in a URL path (the deprecated lookup form) stays out too.
    let child = server.write("auth/token/create", json!({})).client_token();
    server.call(
        "GET",
        &format!("auth/token/lookup/{child}"),
        &server.root_token,
        None,
    );
    secrets.push(child);

    let needle = if format == "json" {
        "\"mount\":\"auth/token/\""
    } else {
        "mount=auth/token/"
    };
    let log = log_containing(&log_path, needle);
    assert!(log.contains(needle), "{log}");
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "the log holds a secret: {secret}"
        );
    }
    if format == "json" {
        let lines = json_lines(&log);
        let request = lines
            .iter()
            .find(|l| l["@message"] == "request" && l["mount"] == "pki/" && l["status"] == 200)
            .unwrap_or_else(|| panic!("no request line for pki/:\n{log}"));
        assert_eq!(request["operation"], "update");
        assert!(request["latency_ms"].is_f64());
        return;
    }
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "{log}");
    // One debug line per request, with what it reached and how it went.
    let line = log
        .lines()
        .find(|l| l.contains("mount=pki/") && l.contains("status=200"))
        .unwrap_or_else(|| panic!("no request line for pki/:\n{log}"));
    assert!(line.contains("operation=update"), "{line}");
    assert!(line.contains("latency_ms="), "{line}");
    // stderr is a file here: no colour escapes.
    assert!(!log.contains('\u{1b}'), "colour escapes in a file");
}

#[test]
fn json_lines_are_vaults() {
    let (server, log_path) = logging_server("log-json", "debug", "json");
    server.write("sys/mounts/pki", json!({"type": "pki"}));
    let log = log_containing(&log_path, "\"mount\":\"sys/\"");
    let lines = json_lines(&log);
    let request = lines
        .iter()
        .find(|l| l["@message"] == "request" && l["mount"] == "sys/")
        .unwrap_or_else(|| panic!("no request line:\n{log}"));
    assert_eq!(request["@level"], "debug");
    assert_eq!(request["operation"], "update");
    assert_eq!(request["status"], 204);
    assert!(request["latency_ms"].is_f64());
}

#[test]
fn an_unknown_log_format_is_refused_as_vault_refuses_it() {
    let out = std::process::Command::new(common::binary())
        .args(["server", "-dev", "-log-format=xml"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "unknown log format: xml"
    );
}

#[test]
fn vault_log_format_in_the_environment_gives_json_lines() {
    let (server, log_path) = logging_dev_server(
        "log-json-env",
        &["-log-level=debug"],
        &[("VAULT_LOG_FORMAT", "json")],
    );
    server.write("sys/mounts/pki", json!({"type": "pki"}));
    let log = log_containing(&log_path, "\"mount\":\"sys/\"");
    let lines = json_lines(&log);
    assert!(
        lines
            .iter()
            .any(|l| l["@message"] == "request" && l["mount"] == "sys/"),
        "{log}"
    );
}

#[test]
fn log_format_in_the_config_file_gives_json_lines() {
    let dir = temp_dir("log-json-config");
    let config = dir.join("server.hcl");
    std::fs::write(
        &config,
        format!(
            "{}log_level = \"debug\"\nlog_format = \"json\"\n",
            common::listener_config("")
        ),
    )
    .expect("config");
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let server = Server::with_args_logging_to(
        &[
            "server".to_string(),
            format!("-config={}", config.display()),
        ],
        "",
        log,
    );
    let status = server.send("GET", "sys/seal-status", None, None);
    assert_eq!(status.status, 200);
    let log = log_containing(&log_path, "\"@message\":\"request\"");
    let lines = json_lines(&log);
    assert!(
        lines
            .iter()
            .any(|l| l["@message"] == "request" && l["status"] == 200),
        "{log}"
    );
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), the log
/// is coloured as Vault's is; in a file it is not (see above).
#[test]
fn the_log_is_coloured_on_a_terminal() {
    let command = format!(
        "timeout 3 {} server -dev -dev-listen-address={LISTEN}",
        common::binary().display()
    );
    let Ok(out) = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
    else {
        panic!("util-linux's `script` is needed for this test");
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("shutdown complete"))
        .unwrap_or_else(|| panic!("no shutdown line:\n{text}"));
    assert!(line.contains("\u{1b}[32m INFO\u{1b}[0m"), "{line:?}");
}
