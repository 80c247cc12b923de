//! Bad input to the PKI engine through the real server: each answer is the
//! 4xx Vault gives, in Vault's words (checked against OpenBao 2.7.2), and
//! never a 5xx, a dropped connection or a half-done write. These cases were
//! found by throwing malformed requests at vaultlet and OpenBao side by side.

mod common;

use common::Server;
use serde_json::{json, Value};
use x509_parser::prelude::*;

fn pki_server() -> Server {
    let s = Server::dev();
    let r = s.write("sys/mounts/pki", json!({"type": "pki"}));
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = s.write("sys/mounts/pki/tune", json!({"max_lease_ttl": "87600h"}));
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = s.write(
        "pki/root/generate/internal",
        json!({"common_name": "root", "key_type": "ec", "ttl": "8760h", "issuer_name": "root"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let r = s.write(
        "pki/roles/any",
        json!({"allow_any_name": true, "key_type": "ec", "ttl": "1h"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    s
}

fn assert_refused(r: &common::Reply, status: u16, text: &str) {
    assert_eq!(r.status, status, "{:?}", r.json);
    assert!(
        r.errors().iter().any(|e| e.contains(text)),
        "expected an error containing {text:?}, got {:?}",
        r.errors()
    );
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn dns_sans(pem_text: &str) -> Vec<String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).expect("pem");
    let (_, cert) = X509Certificate::from_der(&block.contents).expect("certificate");
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let GeneralName::DNSName(dns) = name {
                names.push(dns.to_string());
            }
        }
    }
    names
}

#[test]
fn durations_longer_than_a_go_duration_are_refused_so_revocation_keeps_working() {
    let s = pki_server();
    let r = s.write("pki/config/crl", json!({"expiry": "87600000h"}));
    assert_refused(
        &r,
        400,
        "given expiry could not be decoded: time: invalid duration \"87600000h\"",
    );
    let leaf = s.write("pki/issue/any", json!({"common_name": "a.example.com"}));
    let serial = text(leaf.data("serial_number"));
    let r = s.write("pki/revoke", json!({"serial_number": serial}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    let r = s.read(&format!("pki/cert/{serial}"));
    assert!(
        r.data("revocation_time").as_i64().unwrap_or(0) > 0,
        "{:?}",
        r.json
    );

    let r = s.write(
        "pki/issuer/root/resign-crls",
        json!({"crl_number": 1, "next_update": "87600000h", "crls": []}),
    );
    assert_refused(
        &r,
        400,
        "invalid value for next_update: time: invalid duration",
    );
    let r = s.write(
        "pki/root/generate/internal",
        json!({"common_name": "nb", "key_type": "ec", "not_before_duration": "87600000h"}),
    );
    assert_refused(&r, 400, "time: invalid duration \"87600000h\"");
}

#[test]
fn durations_are_read_as_go_and_vault_read_them() {
    let s = pki_server();
    for (ttl, message) in [
        (json!(1.5), "time: missing unit in duration \"1.5\""),
        (json!(" "), "time: invalid duration \" \""),
        (
            json!("1.5d"),
            "strconv.ParseInt: parsing \"1.5\": invalid syntax",
        ),
        (json!("-1h"), "cannot provide negative value '-3600'"),
        (
            json!(9_223_372_037_i64),
            "multiplication of durations resulted in overflow",
        ),
    ] {
        let r = s.write("pki/roles/d", json!({"ttl": ttl}));
        assert_refused(&r, 400, message);
    }
    let r = s.write("pki/roles/d", json!({"ttl": "2562047h47m16.854775807s"}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.data("ttl"), &json!(9_223_372_036_i64));
}

#[test]
fn booleans_are_what_gos_parse_bool_reads_from_the_value_text() {
    let s = pki_server();
    let r = s.write("pki/roles/b", json!({"allow_any_name": 1}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.data("allow_any_name"), &json!(true));
    for bad in [json!(2), json!(-1), json!("yes")] {
        let r = s.write("pki/roles/b", json!({"allow_any_name": bad}));
        assert_refused(&r, 400, "strconv.ParseBool: invalid syntax");
    }
}

#[test]
fn relative_path_segments_are_refused_before_routing() {
    let s = pki_server();
    // `%2F` keeps the client from resolving the dot segment itself.
    let r = s.read("pki/cert/x%2F%2e%2e");
    assert_refused(&r, 400, "relative paths not supported");
    let r = s.write("pki/issue/x%2F%2e", json!({"common_name": "a.example.com"}));
    assert_refused(&r, 400, "relative paths not supported");
    let r = s.read("pki/cert/a..b");
    assert_eq!(r.status, 404, "a name with dots is an ordinary name");
}

#[test]
fn an_unknown_serials_raw_forms_are_empty_and_its_json_form_is_not_found() {
    let s = pki_server();
    for path in ["pki/cert/00:11/raw", "pki/cert/00:11/raw/pem"] {
        let r = s.send("GET", path, None, None);
        assert_eq!(r.status, 204, "{path}");
        assert!(r.raw.is_empty(), "{path}");
    }
    assert_eq!(s.send("GET", "pki/cert/00:11", None, None).status, 404);
}

#[test]
fn import_paths_take_only_what_vault_lets_them_take() {
    let s = pki_server();
    let dir = common::temp_dir("pki-input-import");
    let ok = |args: &[&str]| {
        let (ok, out) = common::openssl(&dir, args);
        assert!(ok, "openssl {args:?}: {out}");
    };
    ok(&["genrsa", "-out", "k1.pem", "2048"]);
    ok(&["genrsa", "-out", "k2.pem", "2048"]);
    ok(&[
        "req", "-x509", "-new", "-key", "k1.pem", "-subj", "/CN=ca1", "-days", "30", "-out",
        "c1.pem",
    ]);
    ok(&["genpkey", "-algorithm", "ED448", "-out", "ed448.pem"]);
    ok(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "ed448.pem",
        "-subj",
        "/CN=ed448",
        "-days",
        "30",
        "-out",
        "ed448-ca.pem",
    ]);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect(name);
    let (k1, k2, c1) = (read("k1.pem"), read("k2.pem"), read("c1.pem"));

    let r = s.write(
        "pki/intermediate/set-signed",
        json!({"certificate": format!("{c1}\n{k1}")}),
    );
    assert_refused(
        &r,
        400,
        "private keys found in the PEM bundle but not allowed by the path; use /issuers/import/bundle",
    );
    let r = s.write(
        "pki/keys/import",
        json!({"pem_bundle": format!("{k1}\n{k2}")}),
    );
    assert_refused(
        &r,
        400,
        "only a single key can be present within the pem_bundle for importing",
    );
    let r = s.write(
        "pki/keys/import",
        json!({"pem_bundle": k2, "key_name": "a b"}),
    );
    assert_refused(&r, 400, "key name contained invalid characters");
    let r = s.write(
        "pki/issuers/import/bundle",
        json!({"pem_bundle": read("ed448-ca.pem")}),
    );
    assert_refused(
        &r,
        400,
        "Refusing to import CA certificate with empty PublicKey",
    );
    let r = s.list("pki/issuers");
    assert_eq!(
        r.data("keys").as_array().map(Vec::len),
        Some(1),
        "nothing imported"
    );
}

#[test]
fn issuer_and_key_names_follow_vaults_rules() {
    let s = pki_server();
    let r = s.write("pki/issuer/root", json!({"issuer_name": ""}));
    assert_refused(&r, 400, "expected non-empty issuer name");
    let r = s.write("pki/issuer/root", json!({"issuer_name": null}));
    assert_refused(&r, 400, "expected non-empty issuer name");
    let r = s.write("pki/issuer/root", json!({"issuer_name": "üñí"}));
    assert_refused(&r, 400, "issuer name contained invalid characters");
    let r = s.write("pki/issuer/root", json!({"issuer_name": " renamed "}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(
        r.data("issuer_name"),
        &json!("renamed"),
        "trimmed as Vault trims"
    );

    let r = s.write("pki/key/default", json!({"key_name": "üñí"}));
    assert_refused(&r, 400, "new key name outside of valid character limits");
    let r = s.write(
        "pki/keys/generate/internal",
        json!({"key_type": "ec", "key_name": ""}),
    );
    assert_refused(&r, 400, "key name contained invalid characters");
}

#[test]
fn role_names_and_other_san_rules_follow_vaults_patterns() {
    let s = pki_server();
    let r = s.write("pki/roles/ü", json!({}));
    assert_eq!(r.status, 404, "{:?}", r.json);
    assert!(r.errors().iter().any(|e| e.contains("unsupported path")));
    let r = s.write("pki/issue/ü", json!({"common_name": "a.example.com"}));
    assert_eq!(r.status, 404, "{:?}", r.json);

    let r = s.write("pki/roles/o", json!({"allowed_other_sans": ["a"]}));
    assert_refused(
        &r,
        400,
        "error parsing allowed_other_sans: expected a semicolon in other SAN \"a\"",
    );
    let r = s.write(
        "pki/roles/o",
        json!({"allowed_other_sans": ["1.2.3;FOO:b"]}),
    );
    assert_refused(&r, 400, "only utf8 other SANs are supported");
    let r = s.write(
        "pki/roles/o",
        json!({"allowed_other_sans": ["1.2.3;UTF8:*"]}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
}

#[test]
fn requested_names_pass_gos_idna_length_checks_and_non_hostnames_are_left_out() {
    let s = pki_server();
    let long_label = "a".repeat(64);
    let r = s.write(
        "pki/issue/any",
        json!({"common_name": format!("{long_label}.com")}),
    );
    assert_refused(&r, 400, &format!("idna: invalid label \"{long_label}\""));
    for name in ["a..b.com", "x.com."] {
        let r = s.write(
            "pki/issue/any",
            json!({"common_name": "ok.example.com", "alt_names": name}),
        );
        assert_refused(&r, 400, &format!("idna: invalid label \"{name}\""));
    }
    let r = s.write(
        "pki/issue/any",
        json!({"common_name": "ok.example.com", "alt_names": "a b.com,_x.y.com,x.example.com"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let mut sans = dns_sans(&text(r.data("certificate")));
    sans.sort();
    assert_eq!(sans, ["ok.example.com", "x.example.com"]);
}

#[test]
fn sign_self_issued_can_require_the_signers_key_algorithm() {
    let s = pki_server();
    let dir = common::temp_dir("pki-input-self-issued");
    let (ok, out) = common::openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "k.pem",
            "-subj",
            "/CN=rsa-ca",
            "-days",
            "30",
            "-out",
            "ca.pem",
        ],
    );
    assert!(ok, "{out}");
    let ca = std::fs::read_to_string(dir.join("ca.pem")).expect("ca.pem");
    let r = s.write(
        "pki/root/sign-self-issued",
        json!({"certificate": ca, "require_matching_certificate_algorithms": true}),
    );
    assert_refused(
        &r,
        400,
        "signing certificate's public key algorithm (ECDSA) does not match submitted certificate's (RSA), and require_matching_certificate_algorithms is true",
    );
    let r = s.write("pki/root/sign-self-issued", json!({"certificate": ca}));
    assert_eq!(r.status, 200, "{:?}", r.json);
}

/// With default TTLs a fresh root and its first leaf ask for the same
/// lifetime; Vault compares with sub-second precision, so the leaf would
/// end just after its CA and `leaf_not_after_behavior=err` refuses it.
#[test]
fn a_leaf_asked_to_end_with_its_ca_is_refused_as_ending_after_it() {
    let s = Server::dev();
    assert_eq!(
        s.write("sys/mounts/pki", json!({"type": "pki"})).status,
        204
    );
    let r = s.write(
        "pki/root/generate/internal",
        json!({"common_name": "root", "key_type": "ec"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let r = s.write(
        "pki/roles/any",
        json!({"allow_any_name": true, "key_type": "ec"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let r = s.write("pki/issue/any", json!({"common_name": "a.example.com"}));
    assert_refused(
        &r,
        400,
        "that is beyond the expiration of the CA certificate",
    );
}
