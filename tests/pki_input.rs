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

    let r = s.write(
        "pki/roles/o",
        json!({"allowed_ip_sans_cidr": ["10.0.0.0/8", "1.2.3.4"]}),
    );
    assert_refused(
        &r,
        400,
        "error parsing allowed_ip_sans_cidr: invalid CIDR address: 1.2.3.4",
    );
    let r = s.write("pki/roles/o", json!({"ext_key_usage_oids": ["1.2.x"]}));
    assert_refused(
        &r,
        400,
        "\"1.2.x\" could not be parsed as a valid oid for an extended key usage",
    );
}

#[test]
fn a_path_length_below_minus_one_is_refused() {
    let s = pki_server();
    let r = s.write(
        "pki/root/generate/internal",
        json!({"common_name": "r2", "key_type": "ec", "max_path_length": -5}),
    );
    assert_refused(
        &r,
        400,
        "invalid MaxPathLen, must be greater or equal to -1",
    );
    let r = s.write(
        "pki/root/generate/internal",
        json!({"common_name": "r3", "key_type": "ec", "max_path_length": -1, "issuer_name": "r3"}),
    );
    assert_eq!(r.status, 200, "-1 means no limit: {:?}", r.json);
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

/// One DER TLV (short or long form length).
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A CSR built by hand (for encodings no tool writes) and signed with
/// openssl: `subject` and `extensions` as DER, then `trailing` bytes.
fn hand_made_csr(
    dir: &std::path::Path,
    subject: Vec<u8>,
    extensions: &[Vec<u8>],
    trailing: &[u8],
) -> String {
    let run = |args: &[&str]| {
        let (ok, out) = common::openssl(dir, args);
        assert!(ok, "openssl {args:?}: {out}");
    };
    run(&[
        "ecparam",
        "-genkey",
        "-name",
        "prime256v1",
        "-noout",
        "-out",
        "k.pem",
    ]);
    run(&[
        "pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "spki.der",
    ]);
    let spki = std::fs::read(dir.join("spki.der")).expect("spki");
    let attributes = if extensions.is_empty() {
        Vec::new()
    } else {
        let extension_request = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e];
        tlv(
            0x30,
            &[
                tlv(0x06, &extension_request),
                tlv(0x31, &tlv(0x30, &extensions.concat())),
            ]
            .concat(),
        )
    };
    let info = tlv(
        0x30,
        &[tlv(0x02, &[0]), subject, spki, tlv(0xa0, &attributes)].concat(),
    );
    std::fs::write(dir.join("info.der"), &info).expect("write");
    run(&[
        "dgst", "-sha256", "-sign", "k.pem", "-out", "sig.der", "info.der",
    ]);
    let sig = std::fs::read(dir.join("sig.der")).expect("sig");
    let ecdsa_with_sha256 = tlv(
        0x30,
        &tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
    );
    let csr = tlv(
        0x30,
        &[
            info,
            ecdsa_with_sha256,
            tlv(0x03, &[&[0][..], &sig].concat()),
        ]
        .concat(),
    );
    let csr = [&csr[..], trailing].concat();
    ::pem::encode(&::pem::Pem::new("CERTIFICATE REQUEST", csr))
}

/// Found by fuzzing: the empty RDN was dropped when the subject was copied,
/// which made a certificate with a wrong length that nothing could parse
/// (and that could then not be revoked).
#[test]
fn a_csr_subject_is_copied_byte_for_byte_even_an_empty_rdn() {
    let s = pki_server();
    let dir = common::temp_dir("pki-input-empty-rdn");
    let empty_rdn = tlv(0x30, &tlv(0x31, &[]));
    let csr = hand_made_csr(&dir, empty_rdn, &[], &[]);
    for (path, body) in [
        ("pki/sign-verbatim", json!({"csr": csr, "ttl": "1h"})),
        (
            "pki/root/sign-intermediate",
            json!({"csr": csr, "use_csr_values": true, "ttl": "1h"}),
        ),
    ] {
        let r = s.write(path, body);
        assert_eq!(r.status, 200, "{path}: {:?}", r.json);
        let pem_text = text(r.data("certificate"));
        std::fs::write(dir.join("issued.pem"), &pem_text).expect("write");
        let (ok, out) = common::openssl(
            &dir,
            &[
                "x509",
                "-in",
                "issued.pem",
                "-outform",
                "DER",
                "-out",
                "issued.der",
            ],
        );
        assert!(ok, "{path}: openssl cannot read the certificate: {out}");
        let (_, block) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).expect("pem");
        let reencoded = std::fs::read(dir.join("issued.der")).expect("issued.der");
        assert_eq!(
            reencoded, block.contents,
            "{path}: openssl reads it as issued"
        );
        let empty_rdn_subject = [0x30, 0x02, 0x31, 0x00];
        assert!(
            block.contents.windows(4).any(|w| w == empty_rdn_subject),
            "{path}: the empty RDN is kept"
        );
        let serial = text(r.data("serial_number"));
        let r = s.write("pki/revoke", json!({"serial_number": serial}));
        assert_eq!(r.status, 200, "{path}: {:?}", r.json);
    }
}

/// `root/rotate` names the new root `next` unless it is taken (then the
/// root has no name); only an explicit `issuer_name` that is taken fails.
#[test]
fn repeated_root_rotations_fall_back_to_no_name_once_next_is_taken() {
    let s = pki_server();
    let rotate = |body: Value| s.write("pki/root/rotate/internal", body);
    let r = rotate(json!({"common_name": "second", "key_type": "ec"}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.data("issuer_name"), &json!("next"));
    let r = rotate(json!({"common_name": "third", "key_type": "ec"}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.data("issuer_name"), &json!(""));
    let r = rotate(json!({"common_name": "fourth", "key_type": "ec", "issuer_name": "next"}));
    assert_refused(&r, 400, "issuer name already in use");
}

/// A SubjectAltName extension of the given GeneralNames.
fn san_extension(names: &[Vec<u8>]) -> Vec<u8> {
    tlv(
        0x30,
        &[
            tlv(0x06, &[0x55, 0x1d, 0x11]),
            tlv(0x04, &tlv(0x30, &names.concat())),
        ]
        .concat(),
    )
}

/// What Go's CSR parser refuses is refused, not copied into a certificate.
#[test]
fn csrs_that_gos_parser_refuses_are_refused_with_its_words() {
    let s = pki_server();
    let dir = common::temp_dir("pki-input-bad-csrs");
    let cn = tlv(
        0x30,
        &tlv(
            0x31,
            &tlv(
                0x30,
                &[tlv(0x06, &[0x55, 0x04, 0x03]), tlv(0x0c, b"a.example.com")].concat(),
            ),
        ),
    );
    // (Go's message, the requested extensions, bytes after the request)
    type Case = (&'static str, Vec<Vec<u8>>, &'static [u8]);
    let cases: Vec<Case> = vec![
        (
            "x509: cannot parse IP address of length 5",
            vec![san_extension(&[tlv(0x87, &[1, 2, 3, 4, 5])])],
            &[],
        ),
        (
            "x509: SAN dNSName is malformed",
            vec![san_extension(&[tlv(0x82, "é.example.com".as_bytes())])],
            &[],
        ),
        (
            "x509: SAN dNSName is malformed",
            vec![san_extension(&[tlv(0x82, b"\xff.example.com")])],
            &[],
        ),
        (
            "x509: SAN rfc822Name is malformed",
            vec![san_extension(&[tlv(0x81, "é@example.com".as_bytes())])],
            &[],
        ),
        (
            "x509: invalid subject alternative names",
            vec![tlv(
                0x30,
                &[tlv(0x06, &[0x55, 0x1d, 0x11]), tlv(0x04, &tlv(0x04, b"ab"))].concat(),
            )],
            &[],
        ),
        (
            "x509: certificate request contains duplicate requested extensions",
            vec![
                san_extension(&[tlv(0x82, b"a.example.com")]),
                san_extension(&[tlv(0x82, b"b.example.com")]),
            ],
            &[],
        ),
        ("asn1: syntax error: trailing data", vec![], &[0, 0]),
    ];
    for (message, extensions, trailing) in cases {
        let csr = hand_made_csr(&dir, cn.clone(), &extensions, trailing);
        for path in ["pki/sign-verbatim", "pki/sign/any"] {
            let r = s.write(path, json!({"csr": csr, "ttl": "1h"}));
            assert_refused(
                &r,
                400,
                &format!("certificate request could not be parsed: {message}"),
            );
        }
    }
    let csr = hand_made_csr(
        &dir,
        cn,
        &[san_extension(&[
            tlv(0x82, b"b.example.com"),
            tlv(0x87, &[10, 0, 0, 1]),
        ])],
        &[],
    );
    let r = s.write("pki/sign-verbatim", json!({"csr": csr, "ttl": "1h"}));
    assert_eq!(r.status, 200, "the same CSR, well formed: {:?}", r.json);
}
