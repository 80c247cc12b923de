//! PKI revocation upkeep through the real server: complete and delta CRLs,
//! Vault's CRL auto-rebuild schedule, tidy in the background, auto-tidy,
//! and cross-signing an issuer's key by another root. CRLs and chains are
//! checked with the `openssl` command, not with the server's own code.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::{json, Value};

/// Background upkeep every second instead of every minute.
fn fast_server() -> Server {
    Server::dev_with_env(&[("VAULTLET_PERIODIC_INTERVAL", "1s")])
}

/// A `pki` mount with a root CA (RSA, so openssl checks RSA signatures)
/// and a role that allows any name; returns the root PEM.
fn pki_with_root(s: &Server, mount: &str) -> String {
    let r = s.write(&format!("sys/mounts/{mount}"), json!({"type": "pki"}));
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = s.write(
        &format!("sys/mounts/{mount}/tune"),
        json!({"max_lease_ttl": "87600h"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let root = s.write(
        &format!("{mount}/root/generate/internal"),
        json!({"common_name": format!("{mount} root"), "ttl": "8760h"}),
    );
    assert_eq!(root.status, 200, "{:?}", root.json);
    let r = s.write(
        &format!("{mount}/roles/any"),
        json!({"allow_any_name": true, "enforce_hostnames": false}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    root.data("certificate")
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn issue(s: &Server, mount: &str, cn: &str, ttl: &str) -> Value {
    let r = s.write(
        &format!("{mount}/issue/any"),
        json!({"common_name": cn, "ttl": ttl}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    r.json.get("data").cloned().unwrap_or_default()
}

fn serial_of(cert: &Value) -> String {
    cert["serial_number"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn revoke(s: &Server, mount: &str, serial: &str) {
    let r = s.write(&format!("{mount}/revoke"), json!({"serial_number": serial}));
    assert_eq!(r.status, 200, "{:?}", r.json);
}

fn tmp(name: &str) -> PathBuf {
    common::temp_dir(&format!("pki-revocation-{name}"))
}

/// What openssl reads in a CRL, after checking its signature with `ca`.
#[derive(Debug)]
struct Crl {
    number: u64,
    delta_base: Option<u64>,
    serials: Vec<String>,
}

impl Crl {
    fn lists(&self, serial: &str) -> bool {
        let wanted = serial.replace(':', "").to_uppercase();
        self.serials.contains(&wanted)
    }
}

fn read_crl(dir: &Path, crl_pem: &str, ca_pem: &str) -> Crl {
    std::fs::write(dir.join("crl.pem"), crl_pem).expect("write crl");
    std::fs::write(dir.join("ca.pem"), ca_pem).expect("write ca");
    let (ok, text) = common::openssl(
        dir,
        &[
            "crl", "-in", "crl.pem", "-noout", "-text", "-CAfile", "ca.pem",
        ],
    );
    assert!(ok && text.contains("verify OK"), "{text}");
    let value_after = |label: &str| -> Option<u64> {
        let mut lines = text.lines();
        lines.find(|l| l.contains(label))?;
        lines.next()?.trim().parse().ok()
    };
    Crl {
        number: value_after("X509v3 CRL Number").expect("CRL number"),
        delta_base: value_after("X509v3 Delta CRL Indicator"),
        serials: text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Serial Number: "))
            .map(str::to_string)
            .collect(),
    }
}

fn fetch(s: &Server, path: &str) -> String {
    let r = s.send("GET", path, None, None);
    assert_eq!(r.status, 200, "{path}: {}", String::from_utf8_lossy(&r.raw));
    String::from_utf8_lossy(&r.raw).into_owned()
}

/// Polls `check` until it holds (background work has a 1 s tick).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn every_complete_crl_comes_with_a_delta_crl_numbered_next_that_names_it_as_base() {
    let s = Server::dev();
    let root = pki_with_root(&s, "pki");
    let dir = tmp("delta-shape");
    let complete = read_crl(&dir, &fetch(&s, "pki/crl/pem"), &root);
    let delta = read_crl(&dir, &fetch(&s, "pki/crl/delta/pem"), &root);
    assert_eq!(complete.delta_base, None);
    assert_eq!(delta.number, complete.number + 1);
    assert_eq!(delta.delta_base, Some(complete.number));
    assert!(delta.serials.is_empty());

    // The delta CRL answers on every path Vault serves it on.
    let der = s.send("GET", "pki/crl/delta", None, None);
    assert_eq!(der.status, 200);
    assert_eq!(der.content_type, "application/pkix-crl");
    let json = s.read("pki/cert/delta-crl");
    assert!(json
        .data("certificate")
        .as_str()
        .unwrap_or_default()
        .starts_with("-----BEGIN X509 CRL-----"));
    let issuer = s.read("pki/issuer/default/crl/delta");
    assert_eq!(
        read_crl(&dir, issuer.data("crl").as_str().unwrap_or_default(), &root).number,
        delta.number
    );
    let issuer_der = s.send("GET", "pki/issuer/default/crl/delta/der", None, None);
    assert_eq!(issuer_der.raw, der.raw);
}

#[test]
fn with_delta_crls_a_revocation_waits_for_the_delta_rebuild_and_rotate_moves_it_to_the_complete_crl(
) {
    let s = Server::dev();
    let root = pki_with_root(&s, "pki");
    let dir = tmp("delta-flow");
    let r = s.write(
        "pki/config/crl",
        json!({"auto_rebuild": true, "enable_delta": true}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.data("enable_delta"), &json!(true));
    assert_eq!(r.data("delta_rebuild_interval"), &json!("15m"));
    let base = read_crl(&dir, &fetch(&s, "pki/crl/pem"), &root);

    let serial = serial_of(&issue(&s, "pki", "leaf.example.com", "1h"));
    revoke(&s, "pki", &serial);
    // auto_rebuild: revoking rebuilds neither CRL.
    assert!(!read_crl(&dir, &fetch(&s, "pki/crl/pem"), &root).lists(&serial));
    assert!(!read_crl(&dir, &fetch(&s, "pki/crl/delta/pem"), &root).lists(&serial));

    let r = s.read("pki/crl/rotate-delta");
    assert_eq!(r.data("success"), &json!(true));
    let delta = read_crl(&dir, &fetch(&s, "pki/crl/delta/pem"), &root);
    assert!(delta.lists(&serial), "{delta:?}");
    assert_eq!(delta.delta_base, Some(base.number));
    assert!(!read_crl(&dir, &fetch(&s, "pki/crl/pem"), &root).lists(&serial));

    let r = s.read("pki/crl/rotate");
    assert_eq!(r.data("success"), &json!(true));
    let complete = read_crl(&dir, &fetch(&s, "pki/crl/pem"), &root);
    let delta = read_crl(&dir, &fetch(&s, "pki/crl/delta/pem"), &root);
    assert!(complete.lists(&serial));
    assert!(!delta.lists(&serial));
    assert_eq!(delta.delta_base, Some(complete.number));
}

#[test]
fn rotate_delta_without_delta_crls_is_a_no_op_with_vaults_warning() {
    let s = Server::dev();
    pki_with_root(&s, "pki");
    let r = s.read("pki/crl/rotate-delta");
    assert_eq!(r.status, 200);
    assert_eq!(r.data("success"), &json!(true));
    assert_eq!(
        r.warnings(),
        vec!["requested rebuild of delta CRL when delta CRL is not enabled; this is a no-op"]
    );
}

#[test]
fn config_crl_refuses_delta_without_auto_rebuild_and_windows_not_shorter_than_the_expiry() {
    let s = Server::dev();
    pki_with_root(&s, "pki");
    let cases = [
        (
            json!({"enable_delta": true}),
            "Delta CRLs cannot be enabled when auto rebuilding is disabled as the complete CRL is always regenerated!",
        ),
        (
            json!({"auto_rebuild": true, "expiry": "1h"}),
            "CRL auto-rebuilding grace period (12h) must be strictly shorter than CRL expiry (1h) value when auto-rebuilding of CRLs is enabled",
        ),
        (
            json!({"auto_rebuild": true, "enable_delta": true, "delta_rebuild_interval": "80h"}),
            "CRL delta rebuild window (80h) must be strictly shorter than CRL expiry (72h) value when delta CRLs are enabled",
        ),
    ];
    for (body, message) in cases {
        let r = s.write("pki/config/crl", body.clone());
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.errors(), vec![message.to_string()], "{body}");
    }
    // Nothing of the refused writes was kept.
    assert_eq!(s.read("pki/config/crl").data("auto_rebuild"), &json!(false));
}

#[test]
fn the_delta_crl_is_rebuilt_on_its_interval_after_a_revocation() {
    let s = fast_server();
    let root = pki_with_root(&s, "pki");
    let dir = tmp("delta-interval");
    let r = s.write(
        "pki/config/crl",
        json!({"auto_rebuild": true, "enable_delta": true, "delta_rebuild_interval": "1s"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let serial = serial_of(&issue(&s, "pki", "leaf.example.com", "1h"));
    revoke(&s, "pki", &serial);
    eventually("the revocation on the delta CRL", || {
        read_crl(&dir, &fetch(&s, "pki/crl/delta/pem"), &root).lists(&serial)
    });
    // The complete CRL is far from expiry, so it still waits.
    assert!(!read_crl(&dir, &fetch(&s, "pki/crl/pem"), &root).lists(&serial));
}

#[test]
fn auto_rebuild_rebuilds_the_complete_crl_within_the_grace_period_of_its_expiry() {
    let s = fast_server();
    let root = pki_with_root(&s, "pki");
    let dir = tmp("auto-rebuild");
    let r = s.write(
        "pki/config/crl",
        json!({"auto_rebuild": true, "expiry": "10s", "auto_rebuild_grace_period": "9s"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let first = read_crl(&dir, &fetch(&s, "pki/crl/pem"), &root).number;
    let serial = serial_of(&issue(&s, "pki", "leaf.example.com", "1h"));
    revoke(&s, "pki", &serial);
    eventually("a rebuilt complete CRL listing the revocation", || {
        let crl = read_crl(&dir, &fetch(&s, "pki/crl/pem"), &root);
        crl.number > first && crl.lists(&serial)
    });
}

fn wait_for_tidy(s: &Server, mount: &str) -> Value {
    let mut last = Value::Null;
    eventually("tidy to finish", || {
        last = s
            .read(&format!("{mount}/tidy-status"))
            .json
            .get("data")
            .cloned()
            .unwrap_or_default();
        last["state"] == json!("Finished")
    });
    last
}

#[test]
fn tidy_removes_expired_certificates_and_revocations_in_the_background() {
    let s = Server::dev();
    let root = pki_with_root(&s, "pki");
    let dir = tmp("tidy");
    let kept = serial_of(&issue(&s, "pki", "kept.example.com", "1h"));
    let expiring = serial_of(&issue(&s, "pki", "short.example.com", "2s"));
    let revoked = serial_of(&issue(&s, "pki", "revoked.example.com", "2s"));
    revoke(&s, "pki", &revoked);
    assert!(read_crl(&dir, &fetch(&s, "pki/crl/pem"), &root).lists(&revoked));
    std::thread::sleep(Duration::from_secs(4));

    let r = s.write(
        "pki/tidy",
        json!({"tidy_cert_store": true, "tidy_revoked_certs": true, "safety_buffer": "1s"}),
    );
    assert_eq!(r.status, 202, "{:?}", r.json);
    let status = wait_for_tidy(&s, "pki");
    assert_eq!(status["cert_store_deleted_count"], json!(2), "{status}");
    assert_eq!(status["revoked_cert_deleted_count"], json!(1), "{status}");
    assert_eq!(status["safety_buffer"], json!(1));
    assert_eq!(status["tidy_cert_store"], json!(true));
    assert!(status["time_finished"].is_string());

    let listed = s.list("pki/certs");
    let keys = listed.data("keys").as_array().cloned().unwrap_or_default();
    assert!(keys.contains(&json!(kept)));
    assert!(!keys.contains(&json!(expiring)) && !keys.contains(&json!(revoked)));
    assert_eq!(s.list("pki/certs/revoked").status, 404);
    // The tidied revocation leaves the CRL too.
    assert!(!read_crl(&dir, &fetch(&s, "pki/crl/pem"), &root).lists(&revoked));
}

#[test]
fn tidy_needs_an_operation_and_cancel_without_one_only_warns() {
    let s = Server::dev();
    pki_with_root(&s, "pki");
    let r = s.write("pki/tidy", json!({"safety_buffer": "1h"}));
    assert_eq!(r.status, 400);
    assert!(r.errors()[0].starts_with("Manual tidy requested but no tidy operations were set."));
    let r = s.write(
        "pki/tidy",
        json!({"tidy_cert_store": true, "safety_buffer": "0s"}),
    );
    assert_eq!(
        r.errors(),
        vec!["given safety_buffer must be at least one second; got: 0"]
    );
    let r = s.write("pki/tidy-cancel", json!({}));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.warnings(),
        vec!["Tidy operation cannot be cancelled as none is currently running."]
    );
    assert_eq!(r.json["data"], Value::Null);
    let status = s.read("pki/tidy-status");
    assert_eq!(status.data("state"), &json!("Inactive"));
    assert_eq!(status.data("cert_store_deleted_count"), &Value::Null);
}

#[test]
fn config_auto_tidy_reads_back_with_vaults_types_and_validates() {
    let s = Server::dev();
    pki_with_root(&s, "pki");
    let r = s.read("pki/config/auto-tidy");
    assert_eq!(r.status, 200);
    assert_eq!(r.data("enabled"), &json!(false));
    assert_eq!(r.data("interval_duration"), &json!(43200));
    assert_eq!(r.data("safety_buffer"), &json!(259200));
    assert_eq!(r.data("issuer_safety_buffer"), &json!(31536000));
    assert_eq!(r.data("pause_duration"), &json!("0s"));
    assert_eq!(r.data("min_startup_backoff_duration"), &json!(300));

    let r = s.write("pki/config/auto-tidy", json!({"enabled": true}));
    assert_eq!(r.status, 400);
    assert!(r.errors()[0].starts_with("Auto-tidy enabled but no tidy operations were requested."));
    let r = s.write(
        "pki/config/auto-tidy",
        json!({"min_startup_backoff_duration": "20m", "max_startup_backoff_duration": "10m"}),
    );
    assert_eq!(
        r.errors(),
        vec!["max_startup_backoff_duration 10m0s must be greater or equal to min_startup_backoff_duration 20m0s"]
    );
    let r = s.write(
        "pki/config/auto-tidy",
        json!({"enabled": "true", "tidy_cert_store": true, "interval_duration": "1h", "safety_buffer": "24h"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.data("interval_duration"), &json!(3600));
    assert_eq!(r.data("safety_buffer"), &json!(86400));
    assert_eq!(s.read("pki/config/auto-tidy").data("enabled"), &json!(true));
}

#[test]
fn auto_tidy_runs_the_stored_configuration_once_its_interval_has_passed() {
    let s = fast_server();
    pki_with_root(&s, "pki");
    let expiring = serial_of(&issue(&s, "pki", "short.example.com", "1s"));
    let r = s.write(
        "pki/config/auto-tidy",
        json!({
            "enabled": true, "tidy_cert_store": true, "safety_buffer": "1s",
            "interval_duration": "3s",
            "min_startup_backoff_duration": "1s", "max_startup_backoff_duration": "1s"
        }),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let status = wait_for_tidy(&s, "pki");
    assert_eq!(status["cert_store_deleted_count"], json!(1), "{status}");
    assert!(status["last_auto_tidy_finished"].is_string(), "{status}");
    let keys = s.list("pki/certs").data("keys").clone();
    assert!(!keys
        .as_array()
        .is_some_and(|k| k.contains(&json!(expiring))));
}

#[test]
fn a_root_cross_signed_by_another_root_keeps_its_key_and_its_leaves_chain_to_either_root() {
    let s = Server::dev();
    let root_a = pki_with_root(&s, "pki-a");
    let root_b = pki_with_root(&s, "pki-b");
    let a = s.read("pki-a/issuer/default");
    let key_a = a.data("key_id").as_str().unwrap_or_default().to_string();

    // A CSR on root A's own key, signed by root B with root A's subject.
    let csr = s.write(
        "pki-a/intermediate/generate/existing",
        json!({"key_ref": key_a, "common_name": "pki-a root"}),
    );
    assert_eq!(csr.status, 200, "{:?}", csr.json);
    assert_eq!(csr.data("key_id"), &json!(key_a));
    let cross = s.write(
        "pki-b/root/sign-intermediate",
        json!({"csr": csr.data("csr"), "use_csr_values": true, "ttl": "4000h"}),
    );
    assert_eq!(cross.status, 200, "{:?}", cross.json);
    let cross_pem = cross
        .data("certificate")
        .as_str()
        .unwrap_or_default()
        .to_string();

    // Imported into mount A, it becomes a second issuer on the same key.
    let import = s.write(
        "pki-a/issuers/import/cert",
        json!({"pem_bundle": cross_pem}),
    );
    assert_eq!(import.status, 200, "{:?}", import.json);
    let new_issuer = import.data("imported_issuers")[0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let imported = s.read(&format!("pki-a/issuer/{new_issuer}"));
    assert_eq!(imported.data("key_id"), &json!(key_a));

    let leaf = issue(&s, "pki-a", "leaf.example.com", "1h");
    let dir = tmp("cross-sign");
    for (name, text) in [
        ("root-a.pem", root_a.as_str()),
        ("root-b.pem", root_b.as_str()),
        ("cross.pem", cross_pem.as_str()),
        ("leaf.pem", leaf["certificate"].as_str().unwrap_or_default()),
    ] {
        std::fs::write(dir.join(name), text).expect("write pem");
    }
    let (ok, out) = common::openssl(&dir, &["verify", "-CAfile", "root-a.pem", "leaf.pem"]);
    assert!(ok, "via root A: {out}");
    let (ok, out) = common::openssl(
        &dir,
        &[
            "verify",
            "-CAfile",
            "root-b.pem",
            "-untrusted",
            "cross.pem",
            "leaf.pem",
        ],
    );
    assert!(ok, "via root B: {out}");

    // `intermediate/cross-sign` is Vault's CSR-on-a-new-key endpoint.
    let r = s.write(
        "pki-a/intermediate/cross-sign",
        json!({"common_name": "other"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert!(r
        .data("csr")
        .as_str()
        .unwrap_or_default()
        .contains("CERTIFICATE REQUEST"));
    assert_ne!(r.data("key_id"), &json!(key_a));
    assert!(r.json["data"].get("private_key").is_none());
}

#[test]
fn resign_crls_merges_crls_the_issuer_signed_and_refuses_any_other() {
    let s = Server::dev();
    let root = pki_with_root(&s, "pki");
    pki_with_root(&s, "other");
    let dir = tmp("resign");
    let first = serial_of(&issue(&s, "pki", "one.example.com", "1h"));
    let second = serial_of(&issue(&s, "pki", "two.example.com", "1h"));
    revoke(&s, "pki", &first);
    let crl_a = fetch(&s, "pki/crl/pem");
    revoke(&s, "pki", &second);
    let crl_b = fetch(&s, "pki/crl/pem");

    let r = s.write(
        "pki/issuer/default/resign-crls",
        json!({"crls": [crl_a, crl_b], "crl_number": 100, "next_update": "1h"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let merged = read_crl(&dir, r.data("crl").as_str().unwrap_or_default(), &root);
    assert_eq!(merged.number, 100);
    assert_eq!(merged.delta_base, None);
    assert!(merged.lists(&first) && merged.lists(&second), "{merged:?}");
    assert_eq!(merged.serials.len(), 2);

    let foreign = fetch(&s, "other/crl/pem");
    let r = s.write(
        "pki/issuer/default/resign-crls",
        json!({"crls": [crl_a, foreign], "crl_number": 1}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        vec!["CRL index: 1 was not signed by requested issuer"]
    );
    let r = s.write(
        "pki/issuer/default/resign-crls",
        json!({"crls": [crl_a], "crl_number": -1}),
    );
    assert_eq!(
        r.errors(),
        vec!["crl_number parameter must be 0 or greater"]
    );
}

#[test]
fn sign_revocation_list_signs_the_given_entries_and_extensions() {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let s = Server::dev();
    let root = pki_with_root(&s, "pki");
    let dir = tmp("sign-revocation-list");
    let r = s.write(
        "pki/issuer/default/sign-revocation-list",
        json!({
            "crl_number": 5,
            "delta_crl_base_number": 4,
            "format": "der",
            "revoked_certs": [
                {"serial_number": "11:22", "revocation_time": 1700000000},
                {"serial_number": "33-44", "revocation_time": "2024-01-01T00:00:00Z",
                 "extensions": [{"id": "2.5.29.21", "value": b64(&[0x0a, 0x01, 0x01])}]}
            ],
            "extensions": [{"id": "1.2.3.4", "critical": false, "value": b64(&[0x05, 0x00])}]
        }),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let der = base64::engine::general_purpose::STANDARD
        .decode(r.data("crl").as_str().unwrap_or_default())
        .expect("base64 DER");
    let pem = format!(
        "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
        b64(&der)
    );
    let crl = read_crl(&dir, &pem, &root);
    assert_eq!(crl.number, 5);
    assert_eq!(crl.delta_base, Some(4));
    assert_eq!(crl.serials, vec!["1122", "3344"]);
    let (_, text) = common::openssl(&dir, &["crl", "-in", "crl.pem", "-noout", "-text"]);
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(text.contains("1.2.3.4"), "{text}");
    assert!(text.contains("Nov 14 22:13:20 2023 GMT"), "{text}");

    let refused = [
        (
            json!({"revoked_certs": [{"serial_number": "01", "revocation_time": 1}, {"serial_number": "0x01", "revocation_time": 1}]}),
            "failed parsing serial_number from entry 1: 'serial_number' failed converting to bytes: Invalid character 'x' at position 1",
        ),
        (
            json!({"revoked_certs": [{"serial_number": "01", "revocation_time": 1}, {"serial_number": "00:01", "revocation_time": 2}]}),
            "duplicate serial number: 00:01, original entry 0 and 1",
        ),
        (
            json!({"extensions": [{"id": "2.5.29.20", "value": ""}]}),
            "failed parsing extension entry 0: crl number object identifier (2.5.29.20) is reserved",
        ),
        (json!({"format": "p12"}), "unknown format value of p12"),
    ];
    for (body, message) in refused {
        let r = s.write("pki/issuer/default/sign-revocation-list", body.clone());
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.errors(), vec![message.to_string()], "{body}");
    }
}

#[test]
fn a_running_tidy_refuses_a_second_one_and_stops_when_cancelled() {
    let s = Server::dev();
    pki_with_root(&s, "pki");
    for n in 0..3 {
        issue(&s, "pki", &format!("c{n}.example.com"), "1h");
    }
    let r = s.write(
        "pki/tidy",
        json!({"tidy_cert_store": true, "pause_duration": "2s"}),
    );
    assert_eq!(r.status, 202, "{:?}", r.json);
    let again = s.write("pki/tidy", json!({"tidy_cert_store": true}));
    assert_eq!(again.status, 200);
    assert_eq!(
        again.warnings(),
        vec!["Tidy operation already in progress."]
    );

    let r = s.write("pki/tidy-cancel", json!({}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.data("state"), &json!("Cancelling"));
    eventually("the tidy to stop", || {
        s.read("pki/tidy-status").data("state") == &json!("Cancelled")
    });
    let status = s.read("pki/tidy-status");
    assert!(status.data("time_finished").is_string());
    assert_eq!(status.data("pause_duration"), &json!("2s"));
}

#[test]
fn tidy_removes_issuers_expired_past_their_buffer_but_keeps_the_default_and_the_keys() {
    let s = Server::dev();
    pki_with_root(&s, "pki");
    let short = s.write(
        "pki/issuers/generate/root/internal",
        json!({"common_name": "short-lived root", "ttl": "2s", "issuer_name": "short"}),
    );
    assert_eq!(short.status, 200, "{:?}", short.json);
    let short_id = short.data("issuer_id").clone();
    let short_key = short.data("key_id").clone();
    std::thread::sleep(Duration::from_secs(4));

    let r = s.write(
        "pki/tidy",
        json!({"tidy_expired_issuers": true, "issuer_safety_buffer": "1s"}),
    );
    assert_eq!(r.status, 202, "{:?}", r.json);
    let status = wait_for_tidy(&s, "pki");
    assert_eq!(status["issuer_safety_buffer"], json!(1));
    let issuers = s.list("pki/issuers");
    let ids = issuers.data("keys").as_array().cloned().unwrap_or_default();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(!ids.contains(&short_id));
    assert_eq!(s.read("pki/issuer/short").status, 400);
    let keys = s.list("pki/keys").data("keys").clone();
    assert!(
        keys.as_array().is_some_and(|k| k.contains(&short_key)),
        "{keys}"
    );
}
