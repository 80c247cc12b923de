//! Crash safety: SIGKILL the durable server while clients sign and revoke
//! certificates concurrently, restart it, and check that
//! every certificate whose 200 reached a client is listed and readable,
//! every confirmed revocation is in the CRL, and no stored record is torn.
//!
//! The guarantee under test: the redb store commits each write (grouped with
//! whatever else is waiting) in a transaction that is fsync'd before the
//! writer answers, and the PKI handlers answer only after their writes have
//! returned, so a response on the wire implies the data is on disk.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, LISTEN};
use serde_json::{json, Value};

/// How long clients load the server before it is killed.
const LOAD_BEFORE_KILL: Duration = Duration::from_millis(2000);
const SIGNERS: usize = 3;

fn config(dir: &std::path::Path) -> String {
    format!(
        "listener \"tcp\" {{\n  address = \"{LISTEN}\"\n  tls_disable = true\n}}\n\
         storage \"raft\" {{\n  path = \"{}\"\n}}\n\
         seal \"static\" {{\n  current_key = \"{}\"\n}}\n",
        dir.join("data").display(),
        "5a".repeat(32)
    )
}

/// A serial in one canonical form: lowercase hex, no separators, no
/// leading zero bytes (DER may add one; Vault's display form drops them).
fn canonical_serial(s: &str) -> String {
    let hex: String = s
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect::<String>()
        .to_ascii_lowercase();
    let trimmed = hex.trim_start_matches('0');
    let trimmed = if trimmed.len() % 2 == 1 {
        format!("0{trimmed}")
    } else {
        trimmed.to_string()
    };
    if trimmed.is_empty() {
        "00".into()
    } else {
        trimmed
    }
}

fn csr_pem(dir: &std::path::Path) -> String {
    let out = dir.join("load.csr");
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-subj", "/CN=load.example.com", "-keyout"])
        .arg(dir.join("load.key"))
        .arg("-out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl req failed");
    std::fs::read_to_string(out).expect("csr")
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

/// One JSON request that may fail (the server dies under it): the parsed
/// body of a 200, or `None`.
fn try_write(
    http: &reqwest::blocking::Client,
    addr: &str,
    token: &str,
    path: &str,
    body: &Value,
) -> Option<Value> {
    let resp = http
        .put(format!("http://{addr}/v1/{path}"))
        .header("X-Vault-Token", token)
        .json(body)
        .send()
        .ok()?;
    if resp.status().as_u16() != 200 {
        return None;
    }
    // The whole body must arrive: a reply cut by the kill was never "sent".
    let bytes = resp.bytes().ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn pem_to_der(pem_text: &str) -> Vec<u8> {
    pem::parse(pem_text.trim()).expect("PEM").into_contents()
}

#[test]
fn certificates_and_revocations_survive_kill_9_under_load() {
    let started = Instant::now();
    let dir = common::temp_dir("crash");
    let hcl = config(&dir);

    let mut server = Server::with_config(&dir, &hcl);
    let init = server.send("PUT", "sys/init", None, Some(b"{}".to_vec()));
    assert_eq!(init.status, 200, "{:?}", init.json);
    server.root_token = init.json["root_token"]
        .as_str()
        .expect("root token")
        .to_string();
    let ok = |r: common::Reply| assert!(r.status < 300, "{} {:?}", r.status, r.json);
    ok(server.write(
        "sys/mounts/pki",
        json!({"type":"pki","config":{"max_lease_ttl":"87600h"}}),
    ));
    ok(server.write(
        "pki/root/generate/internal",
        json!({"common_name":"Crash Root","key_type":"ec","ttl":"8760h"}),
    ));
    ok(server.write(
        "pki/roles/load",
        json!({"allow_any_name":true,"key_type":"any","ttl":"1h","no_store":false}),
    ));
    let csr = csr_pem(&dir);

    let issued: Arc<Mutex<Vec<String>>> = Arc::default();
    let revoked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for n in 0..SIGNERS {
        let (issued, stop) = (issued.clone(), stop.clone());
        let (addr, token, csr) = (server.addr.clone(), server.root_token.clone(), csr.clone());
        threads.push(std::thread::spawn(move || {
            let http = client();
            let mut failures = 0;
            let body = json!({"csr": csr, "common_name": format!("load{n}.example.com")});
            while !stop.load(Ordering::Relaxed) && failures < 20 {
                match try_write(&http, &addr, &token, "pki/sign/load", &body) {
                    Some(reply) => {
                        let serial = reply["data"]["serial_number"]
                            .as_str()
                            .expect("serial_number")
                            .to_string();
                        issued.lock().expect("lock").push(serial);
                    }
                    None => {
                        failures += 1;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
        }));
    }
    {
        let (issued, revoked, stop) = (issued.clone(), revoked.clone(), stop.clone());
        let (addr, token) = (server.addr.clone(), server.root_token.clone());
        threads.push(std::thread::spawn(move || {
            let http = client();
            let mut failures = 0;
            let mut next = 0;
            while !stop.load(Ordering::Relaxed) && failures < 20 {
                let candidate = {
                    let issued = issued.lock().expect("lock");
                    // Every third certificate, oldest first.
                    let pick = issued.get(next).cloned();
                    if pick.is_some() {
                        next += 3;
                    }
                    pick
                };
                let Some(serial) = candidate else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                match try_write(
                    &http,
                    &addr,
                    &token,
                    "pki/revoke",
                    &json!({"serial_number": serial}),
                ) {
                    Some(reply) if reply["data"]["revocation_time"].as_i64().unwrap_or(0) > 0 => {
                        revoked.lock().expect("lock").push(serial)
                    }
                    _ => {
                        failures += 1;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
        }));
    }

    std::thread::sleep(LOAD_BEFORE_KILL);
    let root = server.root_token.clone();
    // Mid-load: the clients are still sending when the process dies.
    server.kill();
    let in_flight_at_kill = issued.lock().expect("lock").len();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("client thread");
    }
    let issued = issued.lock().expect("lock").clone();
    let revoked = revoked.lock().expect("lock").clone();
    assert!(
        in_flight_at_kill >= 10,
        "too little load before the kill: {in_flight_at_kill} certificates"
    );
    assert!(
        !revoked.is_empty(),
        "no revocation was confirmed under load"
    );

    // Restart on the same data: the static seal unseals by itself.
    let mut again = Server::with_config(&dir, &hcl);
    again.root_token = root;
    let listed = again.list("pki/certs");
    assert_eq!(listed.status, 200, "{:?}", listed.json);
    let listed: BTreeSet<String> = listed
        .data("keys")
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(Value::as_str)
        .map(canonical_serial)
        .collect();

    // Nothing confirmed is lost.
    for serial in &issued {
        assert!(
            listed.contains(&canonical_serial(serial)),
            "certificate {serial} was answered with 200 but is not in LIST pki/certs after the crash"
        );
        let fetched = again.read(&format!("pki/cert/{serial}"));
        assert_eq!(fetched.status, 200, "cert/{serial}: {:?}", fetched.json);
    }

    // Nothing stored is torn: every listed certificate parses and carries
    // the serial it is stored under.
    for serial in &listed {
        let colon = serial
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).expect("hex"))
            .collect::<Vec<_>>()
            .join(":");
        let fetched = again.read(&format!("pki/cert/{colon}"));
        assert_eq!(fetched.status, 200, "cert/{colon}: {:?}", fetched.json);
        let pem_text = fetched.data("certificate").as_str().expect("certificate");
        let der = pem_to_der(pem_text);
        let (rest, cert) = x509_parser::parse_x509_certificate(&der)
            .unwrap_or_else(|e| panic!("stored certificate {colon} is torn: {e}"));
        assert!(rest.is_empty(), "trailing bytes after certificate {colon}");
        assert_eq!(
            canonical_serial(&cert.raw_serial_as_string()),
            *serial,
            "certificate stored under the wrong serial"
        );
    }

    // Every confirmed revocation is in the CRL, and the CRL is well formed.
    let crl = again.send("GET", "pki/crl/pem", None, None);
    assert_eq!(crl.status, 200);
    let crl_der = pem_to_der(&String::from_utf8_lossy(&crl.raw));
    let (_, crl) = x509_parser::parse_x509_crl(&crl_der).expect("CRL parses");
    let in_crl: BTreeSet<String> = crl
        .iter_revoked_certificates()
        .map(|r| canonical_serial(&r.raw_serial_as_string()))
        .collect();
    for serial in &revoked {
        assert!(
            in_crl.contains(&canonical_serial(serial)),
            "revocation of {serial} was confirmed but is not in the CRL after the crash"
        );
        let fetched = again.read(&format!("pki/cert/{serial}"));
        assert!(
            fetched.data("revocation_time").as_i64().unwrap_or(0) > 0,
            "cert/{serial} lost its revocation: {:?}",
            fetched.json
        );
    }

    // The server is fully usable after the crash.
    let r = again.write(
        "pki/sign/load",
        json!({"csr": csr, "common_name": "after.example.com"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    eprintln!(
        "crash safety: {} certificates and {} revocations confirmed before kill -9, {} stored, {:?} total",
        issued.len(),
        revoked.len(),
        listed.len(),
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(30), "test too slow");
    again.kill();
    let _ = std::fs::remove_dir_all(dir);
}
