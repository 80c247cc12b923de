//! The PKI OCSP responder (`pki/ocsp`, Vault 1.12+) through the real server,
//! checked with an independent client: `openssl ocsp` builds the requests,
//! POSTs them (`-url`) or reads a response fetched by GET (`-respin`), and
//! verifies signatures and statuses.

mod common;

use std::path::{Path, PathBuf};

use base64::Engine;
use common::Server;
use serde_json::{json, Value};

const OCSP_RESPONSE: &str = "application/ocsp-response";
const MALFORMED: &[u8] = &[0x30, 0x03, 0x0a, 0x01, 0x01];
const UNAUTHORIZED: &[u8] = &[0x30, 0x03, 0x0a, 0x01, 0x06];

/// A dev server with a PKI mount at `mount` holding a root CA of `key`
/// (`rsa`, `ec:384`, …) and a role `r` that issues any name.
fn server_with_ca(mount: &str, key: &str) -> Server {
    let s = Server::dev();
    Ca::new(&s, mount, key, &tmp(mount));
    s
}

fn tmp(name: &str) -> PathBuf {
    common::temp_dir(&format!("ocsp-{name}"))
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// A CA mount, its certificate in `dir/<mount>-ca.pem`.
struct Ca<'a> {
    s: &'a Server,
    mount: String,
    dir: PathBuf,
    ca_file: String,
}

impl<'a> Ca<'a> {
    /// Mounts `mount` with a new root of `key` (`rsa`, `ec:384`, `ed25519`).
    fn new(s: &'a Server, mount: &str, key: &str, dir: &Path) -> Ca<'a> {
        let r = s.write(&format!("sys/mounts/{mount}"), json!({"type": "pki"}));
        assert_eq!(r.status, 204, "{:?}", r.json);
        let (key_type, bits) = key.split_once(':').unwrap_or((key, "0"));
        let r = s.write(
            &format!("{mount}/root/generate/internal"),
            json!({"common_name": format!("{mount} root"), "ttl": "8760h",
                   "key_type": key_type, "key_bits": bits}),
        );
        assert_eq!(r.status, 200, "{:?}", r.json);
        let ca = Ca::at(s, mount, dir, &text(r.data("certificate")));
        ca.allow_any_name();
        ca
    }

    /// A mount that already holds `certificate` as its default issuer.
    fn at(s: &'a Server, mount: &str, dir: &Path, certificate: &str) -> Ca<'a> {
        let ca_file = format!("{mount}-ca.pem");
        std::fs::write(dir.join(&ca_file), certificate).expect("write CA");
        Ca {
            s,
            mount: mount.to_string(),
            dir: dir.to_path_buf(),
            ca_file,
        }
    }

    fn allow_any_name(&self) {
        let r = self.s.write(
            &format!("{}/roles/r", self.mount),
            json!({"allow_any_name": true, "max_ttl": "24h"}),
        );
        assert_eq!(r.status, 200, "{:?}", r.json);
    }

    /// Issues a leaf; returns (file name, serial).
    fn issue(&self, name: &str) -> (String, String) {
        let r = self.s.write(
            &format!("{}/issue/r", self.mount),
            json!({"common_name": format!("{name}.example.com"), "ttl": "1h"}),
        );
        assert_eq!(r.status, 200, "{:?}", r.json);
        let file = format!("{}-{name}.pem", self.mount);
        std::fs::write(self.dir.join(&file), text(r.data("certificate"))).expect("write leaf");
        (file, text(r.data("serial_number")))
    }

    fn url(&self, path: &str) -> String {
        self.s.url(&format!("{}/{path}", self.mount))
    }

    /// `openssl ocsp` POSTing a request about `leaf` (issued by the CA in
    /// `issuer`) and verifying the answer against `trusted`; `extra` args
    /// come first (a digest must precede `-cert`). Returns openssl's report.
    fn post(&self, issuer: &str, leaf: &str, trusted: &str, extra: &[&str]) -> (bool, String) {
        let url = self.url("ocsp");
        let mut args = vec!["ocsp"];
        args.extend(extra);
        args.extend([
            "-issuer",
            issuer,
            "-cert",
            leaf,
            "-url",
            &url,
            "-CAfile",
            trusted,
            "-resp_text",
        ]);
        common::openssl(&self.dir, &args)
    }

    /// The same, about a leaf of this CA, trusting this CA.
    fn ask(&self, leaf: &str) -> (bool, String) {
        self.post(&self.ca_file, leaf, &self.ca_file, &[])
    }

    /// A DER request about `leaf` without a nonce, as `openssl ocsp -reqout` writes it.
    fn request_der(&self, leaf: &str) -> Vec<u8> {
        let (ok, out) = common::openssl(
            &self.dir,
            &[
                "ocsp",
                "-issuer",
                &self.ca_file,
                "-cert",
                leaf,
                "-no_nonce",
                "-reqout",
                "req.der",
            ],
        );
        assert!(ok, "{out}");
        std::fs::read(self.dir.join("req.der")).expect("request")
    }

    /// Verifies a DER response about `leaf` with openssl; returns its report.
    fn check_response(&self, der: &[u8], leaf: &str) -> (bool, String) {
        std::fs::write(self.dir.join("resp.der"), der).expect("write response");
        common::openssl(
            &self.dir,
            &[
                "ocsp",
                "-respin",
                "resp.der",
                "-issuer",
                &self.ca_file,
                "-cert",
                leaf,
                "-CAfile",
                &self.ca_file,
                "-resp_text",
            ],
        )
    }
}

/// `field: value` from openssl's report (first occurrence).
fn field(report: &str, name: &str) -> String {
    report
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
        .unwrap_or_default()
        .to_string()
}

/// openssl's time format (`Dec  3 13:33:19 2026 GMT`) as Unix time.
fn openssl_time(value: &str) -> i64 {
    let format = time::macros::format_description!(
        "[month repr:short] [day padding:space] [hour]:[minute]:[second] [year] GMT"
    );
    time::PrimitiveDateTime::parse(value, format)
        .unwrap_or_else(|e| panic!("{value:?}: {e}"))
        .assume_utc()
        .unix_timestamp()
}

fn assert_verified_status(report: &str, leaf: &str, status: &str) {
    assert!(report.contains("Response verify OK"), "{report}");
    assert!(report.contains(&format!("{leaf}: {status}")), "{report}");
}

/// A raw OCSP POST (body and content type as given), no token.
fn post_raw(s: &Server, path: &str, body: Vec<u8>) -> common::Reply {
    s.send_with_headers(
        "POST",
        path,
        None,
        &[("Content-Type", "application/ocsp-request")],
        Some(body),
    )
}

fn assert_refusal(r: &common::Reply, status: u16, body: &[u8]) {
    assert_eq!(r.status, status, "{:?} {:?}", r.raw, r.json);
    assert_eq!(r.content_type, OCSP_RESPONSE);
    assert_eq!(r.raw, body);
}

fn standard_base64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// Base64 URL-escaped as RFC 5019 asks of GET clients.
fn url_escaped(b64: &str) -> String {
    b64.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

#[test]
fn post_answers_good_signed_by_the_issuer_without_a_token() {
    let s = Server::dev();
    let dir = tmp("good");
    let ca = Ca::new(&s, "pki", "rsa", &dir);
    let (leaf, _) = ca.issue("good");
    let (ok, report) = ca.ask(&leaf);
    assert!(ok, "{report}");
    assert_verified_status(&report, &leaf, "good");
    assert_eq!(field(&report, "Responder Id"), "CN = pki root");
    assert_eq!(
        field(&report, "Signature Algorithm"),
        "sha256WithRSAEncryption"
    );
    assert_eq!(field(&report, "Hash Algorithm"), "sha1");
    // producedAt is truncated to the minute; nextUpdate = thisUpdate + 12h
    // (the default ocsp_expiry).
    assert_eq!(openssl_time(&field(&report, "Produced At")) % 60, 0);
    let this_update = openssl_time(&field(&report, "This Update"));
    let next_update = openssl_time(&field(&report, "Next Update"));
    assert_eq!(next_update - this_update, 12 * 3600);
    // The request's nonce is not echoed (Vault ignores it).
    assert!(report.contains("WARNING: no nonce in response"), "{report}");
    // The CertID follows the request's hash algorithm.
    let (ok, report) = ca.post(&ca.ca_file, &leaf, &ca.ca_file, &["-sha256"]);
    assert!(ok, "{report}");
    assert_verified_status(&report, &leaf, "good");
    assert_eq!(field(&report, "Hash Algorithm"), "sha256");
    s.stop();
}

#[test]
fn revoked_certificates_answer_revoked_at_their_revocation_time() {
    let s = Server::dev();
    let dir = tmp("revoked");
    let ca = Ca::new(&s, "pki", "rsa", &dir);
    let (leaf, serial) = ca.issue("revoked");
    let r = s.write("pki/revoke", json!({"serial_number": serial}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    let revoked_at = r.data("revocation_time").as_i64().unwrap_or(-1);
    let (ok, report) = ca.ask(&leaf);
    assert!(ok, "{report}");
    assert_verified_status(&report, &leaf, "revoked");
    assert_eq!(openssl_time(&field(&report, "Revocation Time")), revoked_at);
    // No reason is given.
    assert!(!report.contains("Revocation Reason"), "{report}");
    // sys/metrics counts the answer by status.
    let metrics = s.send("GET", "sys/metrics?format=prometheus", None, None);
    let exposition = String::from_utf8_lossy(&metrics.raw);
    assert!(
        exposition
            .lines()
            .any(|l| l
                == "vaultlet_pki_ocsp_responses_total{mount_point=\"pki/\",status=\"revoked\"} 1"),
        "{exposition}"
    );
    s.stop();
}

#[test]
fn certificates_of_another_ca_are_unknown_signed_by_the_default_issuer() {
    let s = Server::dev();
    let dir = tmp("unknown");
    let ca = Ca::new(&s, "pki", "rsa", &dir);
    let other = Ca::new(&s, "other", "ec:256", &dir);
    let (foreign, foreign_serial) = other.issue("foreign");
    let (own, _) = ca.issue("own");
    let (_, own_report) = ca.ask(&own);

    // Asked about `other`'s leaf, `pki` answers "unknown" under its own
    // name and key: the CertID carries pki's hashes and the asked serial,
    // so openssl finds no status for the certificate it asked about.
    let (_, report) = ca.post(
        &other.ca_file,
        &foreign,
        &ca.ca_file,
        &["-verify_other", &ca.ca_file],
    );
    assert!(report.contains("Response verify OK"), "{report}");
    assert_eq!(field(&report, "Cert Status"), "unknown");
    assert_eq!(field(&report, "Responder Id"), "CN = pki root");
    for name in ["Issuer Name Hash", "Issuer Key Hash"] {
        assert_eq!(field(&report, name), field(&own_report, name), "{name}");
    }
    assert_eq!(
        field(&report, "Serial Number"),
        foreign_serial.replace(':', "").to_uppercase()
    );
    assert!(
        report.contains(&format!("{foreign}: ERROR: No Status found")),
        "{report}"
    );
    s.stop();
}

#[test]
fn get_with_the_base64_request_in_the_path_answers_as_post_does() {
    let s = Server::dev();
    let dir = tmp("get");
    let ca = Ca::new(&s, "pki", "rsa", &dir);
    // A request whose base64 neither ends in `/` nor holds `//`: those are
    // the subject of the test below (here they would make the outcome
    // depend on the serial drawn).
    let (leaf, b64) = (0..64)
        .map(|i| {
            let (leaf, _) = ca.issue(&format!("get{i}"));
            let b64 = standard_base64(&ca.request_der(&leaf));
            (leaf, b64)
        })
        .find(|(_, b64)| !b64.ends_with('/') && !b64.contains("//"))
        .expect("a request without a trailing or doubled '/' in 64 tries");
    for path in [
        format!("pki/ocsp/{b64}"),
        format!("pki/ocsp/{}", url_escaped(&b64)),
    ] {
        let r = s.send("GET", &path, None, None);
        assert_eq!(r.status, 200, "{path}: {:?}", r.json);
        assert_eq!(r.content_type, OCSP_RESPONSE);
        let (ok, report) = ca.check_response(&r.raw, &leaf);
        assert!(ok, "{report}");
        assert_verified_status(&report, &leaf, "good");
    }
    s.stop();
}

/// A request (base64, serial) about a serial of `ca` whose base64 holds
/// one `//` and no other `/`, if some serial gives one.
fn double_slash_request(ca: &Ca, dir: &Path) -> Option<(String, String)> {
    (0..=255u8).find_map(|b| {
        let serial = format!("0x01{b:02x}fff0");
        let (ok, out) = common::openssl(
            dir,
            &[
                "ocsp",
                "-issuer",
                &ca.ca_file,
                "-serial",
                &serial,
                "-no_nonce",
                "-reqout",
                "req.der",
            ],
        );
        assert!(ok, "{out}");
        let der = std::fs::read(dir.join("req.der")).expect("request");
        let b64 = standard_base64(&der);
        (b64.matches('/').count() == 2 && b64.contains("//") && !b64.ends_with('/'))
            .then_some((b64, format!("01{b:02X}FFF0")))
    })
}

/// Vault keeps the `//` of an escaped request (`%2F%2F`), where our router
/// collapses it: the responder puts it back.
#[test]
fn get_requests_whose_base64_has_a_double_slash_are_answered() {
    let s = Server::dev();
    let dir = tmp("slashes");
    // A request whose only slashes are the `//`: the repair then has one
    // right answer. The issuer's hashes are fixed per CA and the serial
    // varies, so look for a CA whose hashes have no `/`, then a serial.
    let found = (0..16).find_map(|attempt| {
        let ca = Ca::new(&s, &format!("pki{attempt}"), "rsa", &dir);
        let found = double_slash_request(&ca, &dir)?;
        Some((ca, found))
    });
    let (ca, (b64, serial)) = found.expect("a request whose only slashes are one '//'");
    let r = s.send(
        "GET",
        &format!("{}/ocsp/{}", ca.mount, url_escaped(&b64)),
        None,
        None,
    );
    assert_eq!(r.status, 200, "{:?}", r.raw);
    std::fs::write(dir.join("resp.der"), &r.raw).expect("write response");
    let (ok, report) = common::openssl(
        &dir,
        &[
            "ocsp",
            "-respin",
            "resp.der",
            "-CAfile",
            &ca.ca_file,
            "-resp_text",
            "-noverify",
        ],
    );
    assert!(ok, "{report}");
    // Any serial of a known issuer that is not revoked is "good" in Vault.
    assert_eq!(field(&report, "Cert Status"), "good");
    assert_eq!(field(&report, "Serial Number"), serial);
    s.stop();
}

#[test]
fn ocsp_disable_answers_unauthorized_with_401() {
    let s = server_with_ca("pki", "rsa");
    let r = s.write("pki/config/crl", json!({"ocsp_disable": true}));
    assert!(r.status == 200 || r.status == 204, "{:?}", r.json);
    let r = post_raw(&s, "pki/ocsp", b"anything".to_vec());
    assert_refusal(&r, 401, UNAUTHORIZED);
    let r = s.send("GET", "pki/ocsp/MAA=", None, None);
    assert_refusal(&r, 401, UNAUTHORIZED);
    s.stop();
}

#[test]
fn unreadable_requests_answer_malformed_with_400() {
    let s = server_with_ca("pki", "rsa");
    let too_long = "A".repeat(2048);
    for path in [
        "pki/ocsp/not-base64!",
        "pki/ocsp/MAA=",
        &format!("pki/ocsp/{too_long}"),
    ] {
        let r = s.send("GET", path, None, None);
        assert_refusal(&r, 400, MALFORMED);
    }
    // Raw bodies: garbage, an OCSPRequest without requests, too large.
    let no_requests = vec![0x30, 0x04, 0x30, 0x02, 0x30, 0x00];
    let mut too_large = vec![0x30, 0x82, 0x07, 0xfc];
    too_large.resize(2048, 0);
    for body in [b"garbage".to_vec(), no_requests, too_large] {
        let r = post_raw(&s, "pki/ocsp", body);
        assert_refusal(&r, 400, MALFORMED);
    }
    // A POST without a DER body (JSON, or nothing) has no request either.
    let r = s.send(
        "POST",
        "pki/ocsp",
        None,
        Some(br#"{"req":"MAA="}"#.to_vec()),
    );
    assert_refusal(&r, 400, MALFORMED);
    let r = s.send("POST", "pki/ocsp", None, None);
    assert_refusal(&r, 400, MALFORMED);
    s.stop();
}

#[test]
fn unified_ocsp_is_unauthorized_as_in_vault_oss() {
    let s = Server::dev();
    let dir = tmp("unified");
    let ca = Ca::new(&s, "pki", "rsa", &dir);
    let (leaf, _) = ca.issue("unified");
    let der = ca.request_der(&leaf);
    let r = post_raw(&s, "pki/unified-ocsp", der.clone());
    assert_refusal(&r, 401, UNAUTHORIZED);
    let r = s.send(
        "GET",
        &format!("pki/unified-ocsp/{}", url_escaped(&standard_base64(&der))),
        None,
        None,
    );
    assert_refusal(&r, 401, UNAUTHORIZED);
    s.stop();
}

#[test]
fn a_p384_issuer_signs_with_ecdsa_with_sha384() {
    let s = Server::dev();
    let dir = tmp("p384");
    let ca = Ca::new(&s, "pki", "ec:384", &dir);
    let (leaf, _) = ca.issue("p384");
    let (ok, report) = ca.ask(&leaf);
    assert!(ok, "{report}");
    assert_verified_status(&report, &leaf, "good");
    assert_eq!(field(&report, "Signature Algorithm"), "ecdsa-with-SHA384");
    s.stop();
}

/// Vault fails here (x/crypto/ocsp signs only with RSA and ECDSA); we sign.
#[test]
fn an_ed25519_issuer_signs_with_ed25519() {
    let s = Server::dev();
    let dir = tmp("ed25519");
    let ca = Ca::new(&s, "pki", "ed25519", &dir);
    let (leaf, _) = ca.issue("ed");
    let (ok, report) = ca.ask(&leaf);
    assert!(ok, "{report}");
    assert_verified_status(&report, &leaf, "good");
    assert_eq!(field(&report, "Signature Algorithm"), "ED25519");
    s.stop();
}

#[test]
fn a_pss_revocation_signature_algorithm_is_downgraded_to_pkcs1() {
    let s = Server::dev();
    let dir = tmp("pss");
    let ca = Ca::new(&s, "pki", "rsa", &dir);
    let r = s.write(
        "pki/issuer/default",
        json!({"revocation_signature_algorithm": "SHA512WithRSAPSS"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let (leaf, _) = ca.issue("pss");
    let (ok, report) = ca.ask(&leaf);
    assert!(ok, "{report}");
    assert_verified_status(&report, &leaf, "good");
    assert_eq!(
        field(&report, "Signature Algorithm"),
        "sha512WithRSAEncryption"
    );
    s.stop();
}

#[test]
fn next_update_is_this_update_plus_ocsp_expiry_and_absent_when_zero() {
    let s = Server::dev();
    let dir = tmp("expiry");
    let ca = Ca::new(&s, "pki", "ec:256", &dir);
    let (leaf, _) = ca.issue("expiry");
    let r = s.write("pki/config/crl", json!({"ocsp_expiry": "1h"}));
    assert!(r.status == 200 || r.status == 204, "{:?}", r.json);
    let (ok, report) = ca.ask(&leaf);
    assert!(ok, "{report}");
    let this_update = openssl_time(&field(&report, "This Update"));
    assert_eq!(
        openssl_time(&field(&report, "Next Update")) - this_update,
        3600
    );
    let r = s.write("pki/config/crl", json!({"ocsp_expiry": "0"}));
    assert!(r.status == 200 || r.status == 204, "{:?}", r.json);
    let (ok, report) = ca.ask(&leaf);
    assert!(ok, "{report}");
    assert_verified_status(&report, &leaf, "good");
    assert!(!report.contains("Next Update"), "{report}");
    s.stop();
}

#[test]
fn an_intermediate_issuer_answers_for_its_leaves() {
    let s = Server::dev();
    let dir = tmp("intermediate");
    let root = Ca::new(&s, "pki", "rsa", &dir);
    let r = s.write("sys/mounts/pki_int", json!({"type": "pki"}));
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = s.write(
        "pki_int/intermediate/generate/internal",
        json!({"common_name": "pki_int intermediate", "key_type": "ec"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let r = s.write(
        "pki/root/sign-intermediate",
        json!({"csr": r.data("csr"), "ttl": "4380h"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let cert = text(r.data("certificate"));
    let r = s.write(
        "pki_int/intermediate/set-signed",
        json!({"certificate": cert}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let r = s.read("pki_int/cert/ca");
    let int = Ca::at(&s, "pki_int", &dir, &text(r.data("certificate")));
    int.allow_any_name();
    let (leaf, serial) = int.issue("leaf");

    // The intermediate signs; openssl chains it to the root.
    let verify = ["-verify_other", int.ca_file.as_str()];
    let (ok, report) = int.post(&int.ca_file, &leaf, &root.ca_file, &verify);
    assert!(ok, "{report}");
    assert_verified_status(&report, &leaf, "good");
    assert_eq!(field(&report, "Responder Id"), "CN = pki_int intermediate");
    assert_eq!(field(&report, "Signature Algorithm"), "ecdsa-with-SHA256");

    let r = s.write("pki_int/revoke", json!({"serial_number": serial}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    let (ok, report) = int.post(&int.ca_file, &leaf, &root.ca_file, &verify);
    assert!(ok, "{report}");
    assert_verified_status(&report, &leaf, "revoked");

    // The root's mount knows nothing of the intermediate's leaves.
    let (_, report) = root.post(&int.ca_file, &leaf, &root.ca_file, &[]);
    assert_eq!(field(&report, "Cert Status"), "unknown");
    s.stop();
}

#[test]
fn an_issuer_without_the_ocsp_signing_usage_answers_unauthorized_with_401() {
    let s = Server::dev();
    let dir = tmp("usage");
    let ca = Ca::new(&s, "pki", "rsa", &dir);
    let (leaf, _) = ca.issue("usage");
    let r = s.write(
        "pki/issuer/default",
        json!({"usage": "read-only,issuing-certificates,crl-signing"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let r = post_raw(&s, "pki/ocsp", ca.request_der(&leaf));
    assert_refusal(&r, 401, UNAUTHORIZED);
    // Nor may it sign "unknown" answers as the default issuer.
    let other = Ca::new(&s, "other", "rsa", &dir);
    let (foreign, _) = other.issue("foreign");
    let r = post_raw(&s, "pki/ocsp", other.request_der(&foreign));
    assert_refusal(&r, 401, UNAUTHORIZED);
    s.stop();
}
