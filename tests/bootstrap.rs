//! The bootstrap file: the guide's Step 2 runs once at startup, so the
//! cert-manager credentials exist before anyone types a command.

mod common;

use std::process::Command;

use common::{Server, LISTEN};
use serde_json::json;

const ROLE_ID: &str = "6b0f3c6e-4d3a-4c55-9a5e-1f2d7c8b9a01";
const SECRET_ID: &str = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f60";

fn demo_file() -> String {
    format!("{}/config/istio-demo.vault", env!("CARGO_MANIFEST_DIR"))
}

fn approle_login(s: &Server) -> u16 {
    let body = json!({"role_id": ROLE_ID, "secret_id": SECRET_ID})
        .to_string()
        .into_bytes();
    s.send("POST", "auth/approle/login", None, Some(body))
        .status
}

#[test]
fn a_durable_store_is_bootstrapped_once_with_the_preset_credentials() {
    let dir = common::temp_dir("bootstrap");
    let hcl = format!(
        "listener \"tcp\" {{\n  address = \"{LISTEN}\"\n  tls_disable = true\n}}\nstorage \"raft\" {{\n  path = \"{}\"\n}}\nseal \"static\" {{\n  current_key = \"{}\"\n}}\nbootstrap = \"{}\"\n",
        dir.join("data").display(),
        "ab".repeat(32),
        demo_file()
    );
    let first = Server::with_config(&dir, &hcl);
    // The bootstrap runs after the listener is up; wait for its last line.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while approle_login(&first) != 200 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        approle_login(&first),
        200,
        "cert-manager's preset AppRole works"
    );
    let role = first.send("GET", "sys/health", None, None);
    assert_eq!(role.status, 200);
    first.stop();

    // A restart finds the run recorded: the root is not generated again
    // (which would fail with "issuer name already in use").
    let second = Server::with_config(&dir, &hcl);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        second.send("GET", "sys/health", None, None).status,
        200,
        "still running"
    );
    assert_eq!(approle_login(&second), 200);
    second.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_failing_line_stops_the_server_with_its_line_number_and_error() {
    let dir = common::temp_dir("bootstrap-fail");
    let file = dir.join("bad.vault");
    std::fs::write(
        &file,
        "# setup\nvault secrets enable pki\nvault write pki/roles/x ttl=notaduration\n",
    )
    .expect("write");
    let output = Command::new(common::binary())
        .args(common::dev_args())
        .arg(format!("-bootstrap={}", file.display()))
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bootstrap line 3"), "{stderr}");
    assert!(
        stderr.contains("vault write pki/roles/x ttl=notaduration"),
        "{stderr}"
    );
    assert!(stderr.contains("Code: 400"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_malformed_file_is_refused_before_the_server_starts() {
    let dir = common::temp_dir("bootstrap-parse");
    let file = dir.join("bad.vault");
    std::fs::write(&file, "vault policy write p - <<EOF\npath \"a\" {}\n").expect("write");
    let output = Command::new(common::binary())
        .args(common::dev_args())
        .arg(format!("-bootstrap={}", file.display()))
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("bootstrap line 1"));
    let _ = std::fs::remove_dir_all(dir);
}
