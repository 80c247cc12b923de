//! The PKI secrets engine through the real server: the Istio/cert-manager
//! guide, cert-manager's e2e setup, issuance policy, fetch endpoints and
//! revocation. Certificates are checked with x509-parser and chains with
//! the `openssl verify` command, independently of the server's own code.

mod common;

use std::path::{Path, PathBuf};

use common::Server;
use serde_json::{json, Value};
use x509_parser::prelude::*;

fn dev_server() -> Server {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    Server::dev()
}

/// `vault secrets enable [-path] pki` + `vault secrets tune -max-lease-ttl`.
fn enable_pki(s: &Server, path: &str, max_ttl: &str) {
    let r = s.write(
        &format!("sys/mounts/{path}"),
        json!({"type":"pki","description":"","config":{"options":null,"default_lease_ttl":"0s","max_lease_ttl":"0s","force_no_cache":false},"local":false,"seal_wrap":false,"external_entropy_access":false,"options":null}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    if !max_ttl.is_empty() {
        let r = s.write(
            &format!("sys/mounts/{path}/tune"),
            json!({"options":null,"default_lease_ttl":"","max_lease_ttl":max_ttl,"force_no_cache":false}),
        );
        assert_eq!(r.status, 204, "{:?}", r.json);
    }
}

fn tmp(name: &str) -> PathBuf {
    common::temp_dir(&format!("pki-{name}"))
}

/// A CSR and its key made by openssl. `key` is e.g. `ec:P-256` or `rsa:2048`.
fn openssl_csr(dir: &Path, name: &str, key: &str, subject: &str, sans: Option<&str>) -> String {
    let mut args = vec!["req", "-new", "-nodes", "-subj", subject, "-keyout"];
    let key_file = format!("{name}.key");
    let csr_file = format!("{name}.csr");
    args.push(&key_file);
    args.extend(["-out", &csr_file]);
    let (alg, param) = key.split_once(':').unwrap_or((key, ""));
    let curve;
    let bits;
    match alg {
        "ec" => {
            curve = format!("ec_paramgen_curve:{param}");
            args.extend(["-newkey", "ec", "-pkeyopt", &curve]);
        }
        _ => {
            bits = format!("rsa:{param}");
            args.extend(["-newkey", &bits]);
        }
    }
    let ext;
    if let Some(s) = sans {
        ext = format!("subjectAltName={s}");
        args.extend(["-addext", &ext]);
    }
    let (ok, out) = common::openssl(dir, &args);
    assert!(ok, "openssl req failed: {out}");
    std::fs::read_to_string(dir.join(csr_file)).expect("csr written")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", text.trim_end())).expect("write pem");
    name.to_string()
}

fn der_of(pem_text: &str) -> Vec<u8> {
    ::pem::parse(pem_text.as_bytes())
        .map(|p| p.contents().to_vec())
        .expect("a PEM block")
}

fn with_cert<T>(pem_text: &str, f: impl FnOnce(&X509Certificate) -> T) -> T {
    let der = der_of(pem_text);
    let (_, cert) = X509Certificate::from_der(&der).expect("a parseable certificate");
    f(&cert)
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

const GUIDE_ROOT: &str = "root/generate/internal";

/// Steps 2 of the guide: root with issuer_name and config/urls.
fn guide_root(s: &Server) -> common::Reply {
    enable_pki(s, "pki", "87600h0m0s");
    let root = s.write(
        &format!("pki/{GUIDE_ROOT}"),
        json!({"common_name":"my-org-rootca","issuer_name":"my-org-rootca-demo","ttl":"8760h"}),
    );
    assert_eq!(root.status, 200, "{:?}", root.json);
    let r = s.write(
        "pki/config/urls",
        json!({"issuing_certificates":"http://vault.vault-demo:8200/v1/pki/ca","crl_distribution_points":"http://vault.vault-demo:8200/v1/pki/crl"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    root
}

#[test]
fn the_guide_root_matches_vaults_response_and_refuses_a_duplicate_name() {
    let s = dev_server();
    let root = guide_root(&s);
    let serial = text(root.data("serial_number"));
    assert!(serial.split(':').count() >= 19, "{serial}");
    assert!(serial.split(':').all(|b| b.len() == 2
        && b.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())));
    assert!(root.data("expiration").is_i64());
    assert_eq!(root.data("issuer_name"), "my-org-rootca-demo");
    assert_eq!(root.data("key_name"), "");
    assert_eq!(text(root.data("issuer_id")).len(), 36);
    assert_eq!(text(root.data("key_id")).len(), 36);
    let cert = text(root.data("certificate"));
    assert!(!cert.ends_with('\n'));
    assert_eq!(root.data("issuing_ca"), root.data("certificate"));
    assert!(root.data("private_key").is_null());
    assert_eq!(root.warnings().len(), 1);
    assert!(root.warnings()[0]
        .starts_with("This mount hasn't configured any authority information access (AIA) fields"));
    with_cert(&cert, |c| {
        assert!(c.is_ca());
        let ku = c
            .key_usage()
            .ok()
            .flatten()
            .map(|k| (k.critical, k.value.key_cert_sign(), k.value.crl_sign()));
        assert_eq!(ku, Some((true, true, true)));
        assert!(c.extended_key_usage().ok().flatten().is_none());
        let life = c.validity().not_after.timestamp() - c.validity().not_before.timestamp();
        assert_eq!(life, 8760 * 3600 + 30);
        assert_eq!(c.subject().to_string(), "CN=my-org-rootca");
        let ski = c
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                _ => None,
            });
        let aki = c
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    a.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => None,
            });
        assert!(ski.is_some());
        assert_eq!(ski, aki);
    });

    let again = s.write(
        &format!("pki/{GUIDE_ROOT}"),
        json!({"common_name":"x","issuer_name":"my-org-rootca-demo"}),
    );
    assert_eq!(again.status, 400);
    assert_eq!(again.errors(), vec!["issuer name already in use"]);

    let urls = s.read("pki/config/urls");
    assert_eq!(
        urls.data("issuing_certificates"),
        &json!(["http://vault.vault-demo:8200/v1/pki/ca"])
    );
    assert_eq!(urls.data("ocsp_servers"), &json!([]));
    assert_eq!(urls.data("enable_templating"), &json!(false));
}

#[test]
fn a_root_ttl_beyond_the_mount_max_is_capped_with_a_warning() {
    let s = dev_server();
    enable_pki(&s, "pki", "");
    let r = s.write(
        "pki/root/generate/internal",
        json!({"common_name":"r","ttl":"8760h","key_type":"ec"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert!(r.warnings().contains(&"TTL \"8760h0m0s\" is longer than permitted maxTTL \"768h0m0s\", so maxTTL is being used".to_string()), "{:?}", r.warnings());
    with_cert(&text(r.data("certificate")), |c| {
        assert_eq!(
            c.validity().not_after.timestamp() - c.validity().not_before.timestamp(),
            768 * 3600 + 30
        );
    });
}

#[test]
fn the_guide_role_is_returned_with_vaults_defaults() {
    let s = dev_server();
    enable_pki(&s, "pki", "87600h0m0s");
    let r = s.write(
        "pki/roles/cert-manager",
        json!({"allowed_domains":"svc","require_cn":"false","allow_subdomains":"true","max_ttl":"720h"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.warnings(), vec!["Issuing Certificate was set to default, but no default issuing certificate (configurable at /config/issuers) is currently set"]);
    assert_eq!(r.data("max_ttl"), &json!(2_592_000));
    assert_eq!(r.data("ttl"), &json!(0));
    assert_eq!(r.data("allow_localhost"), &json!(true));
    assert_eq!(r.data("server_flag"), &json!(true));
    assert_eq!(r.data("key_type"), "rsa");
    assert_eq!(r.data("key_bits"), &json!(2048));
    assert_eq!(r.data("not_before_duration"), &json!(30));
    assert_eq!(r.data("issuer_ref"), "default");
    let read = s.read("pki/roles/cert-manager");
    assert_eq!(read.json["data"], r.json["data"]);
    let list = s.list("pki/roles");
    assert_eq!(list.data("keys"), &json!(["cert-manager"]));
    let patch = s.send(
        "PATCH",
        "pki/roles/cert-manager",
        Some("root"),
        Some(br#"{"ttl":"1h"}"#.to_vec()),
    );
    let _ = patch;
    let bad = s.write("pki/roles/x", json!({"ttl":"2h","max_ttl":"1h"}));
    assert_eq!(
        bad.errors(),
        vec!["\"ttl\" value must be less than \"max_ttl\" value"]
    );
    assert_eq!(s.delete("pki/roles/cert-manager").status, 204);
    assert_eq!(s.read("pki/roles/cert-manager").status, 404);
}

/// Signs `csr` at `root/sign-intermediate` as cert-manager does.
fn sign_intermediate(s: &Server, csr: &str, ttl: &str) -> common::Reply {
    let r = s.write(
        "pki/root/sign-intermediate",
        json!({"csr": csr, "common_name":"istiod-ca", "ttl": ttl, "exclude_cn_from_sans":"true", "alt_names":"", "ip_sans":"", "uri_sans":""}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    r
}

#[test]
fn the_guide_intermediates_chain_to_the_root_and_can_sign_workloads() {
    let s = dev_server();
    let root = guide_root(&s);
    let root_pem = text(root.data("certificate"));
    let dir = tmp("guide");
    write(&dir, "root.pem", &root_pem);
    for (name, key) in [("ec", "ec:P-256"), ("rsa", "rsa:2048")] {
        let csr = openssl_csr(&dir, name, key, "/CN=istiod-ca/O=cluster.local", None);
        let r = sign_intermediate(&s, &csr, "720h");
        assert!(r.warnings().is_empty(), "{:?}", r.warnings());
        let cert = text(r.data("certificate"));
        assert_eq!(r.data("issuing_ca"), &json!(root_pem));
        assert_eq!(r.data("ca_chain"), &json!([cert.clone(), root_pem.clone()]));
        assert!(r.data("expiration").is_i64());
        with_cert(&cert, |c| {
            assert!(c.is_ca());
            let bc = c
                .basic_constraints()
                .ok()
                .flatten()
                .map(|b| (b.critical, b.value.path_len_constraint));
            assert_eq!(bc, Some((true, None)));
            let ku = c
                .key_usage()
                .ok()
                .flatten()
                .map(|k| (k.value.key_cert_sign(), k.value.crl_sign()));
            assert_eq!(ku, Some((true, true)));
            assert!(c.extended_key_usage().ok().flatten().is_none());
            assert_eq!(c.subject().to_string(), "CN=istiod-ca");
            assert!(c.subject_alternative_name().ok().flatten().is_none());
            let has_aia = c.extensions().iter().any(|e| {
                matches!(
                    e.parsed_extension(),
                    ParsedExtension::AuthorityInfoAccess(_)
                )
            });
            let has_crl = c.extensions().iter().any(|e| {
                matches!(
                    e.parsed_extension(),
                    ParsedExtension::CRLDistributionPoints(_)
                )
            });
            assert!(has_aia && has_crl);
            assert_eq!(
                c.validity().not_after.timestamp() - c.validity().not_before.timestamp(),
                720 * 3600 + 30
            );
        });
        let int_file = write(&dir, &format!("{name}-int.pem"), &cert);
        let (ok, out) = common::openssl(&dir, &["verify", "-CAfile", "root.pem", &int_file]);
        assert!(ok, "{out}");
        // istiod signs a workload with the intermediate; the chain must verify.
        let _ = openssl_csr(&dir, &format!("{name}-wl"), "ec:P-256", "/O=workload", None);
        std::fs::write(dir.join("wl.ext"), "basicConstraints=CA:FALSE\nsubjectAltName=URI:spiffe://cluster.local/ns/default/sa/bookinfo\nextendedKeyUsage=serverAuth,clientAuth\n").ok();
        let (ok, out) = common::openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}-wl.csr"),
                "-CA",
                &int_file,
                "-CAkey",
                &format!("{name}.key"),
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                "wl.ext",
                "-out",
                &format!("{name}-wl.pem"),
            ],
        );
        assert!(ok, "{out}");
        let (ok, out) = common::openssl(
            &dir,
            &[
                "verify",
                "-CAfile",
                "root.pem",
                "-untrusted",
                &int_file,
                &format!("{name}-wl.pem"),
            ],
        );
        assert!(ok, "{out}");
    }
    let certs = s.list("pki/certs");
    assert_eq!(certs.data("keys").as_array().map(Vec::len), Some(3));
}

#[test]
fn sign_intermediate_truncates_to_the_root_and_decrements_path_length() {
    let s = dev_server();
    enable_pki(&s, "pki", "87600h");
    let r = s.write(
        "pki/root/generate/internal",
        json!({"common_name":"r","ttl":"48h","max_path_length":2}),
    );
    assert_eq!(r.status, 200);
    let root_after = with_cert(&text(r.data("certificate")), |c| {
        c.validity().not_after.timestamp()
    });
    let dir = tmp("pathlen");
    let csr = openssl_csr(&dir, "i", "ec:P-384", "/CN=int", None);
    let r = sign_intermediate(&s, &csr, "720h");
    with_cert(&text(r.data("certificate")), |c| {
        assert_eq!(c.validity().not_after.timestamp(), root_after);
        assert_eq!(
            c.basic_constraints()
                .ok()
                .flatten()
                .map(|b| b.value.path_len_constraint),
            Some(Some(1))
        );
    });
    let zero = s.write(
        "pki/root/generate/internal",
        json!({"common_name":"z","max_path_length":0,"issuer_name":"zero"}),
    );
    assert!(zero
        .warnings()
        .iter()
        .any(|w| w.starts_with("Max path length of the generated certificate is zero")));
    let r = s.write("pki/issuer/zero/sign-intermediate", json!({"csr": csr}));
    assert_eq!(r.status, 400);
    assert_eq!(r.errors(), vec!["signing certificate has a max path length of zero, and cannot issue further CA certificates"]);
}

#[test]
fn bad_csrs_are_refused_with_vaults_texts() {
    let s = dev_server();
    guide_root(&s);
    let dir = tmp("badcsr");
    let weak = openssl_csr(&dir, "weak", "rsa:1024", "/CN=x", None);
    let good = openssl_csr(&dir, "good", "ec:P-256", "/CN=x", None);
    let lines: Vec<&str> = good.lines().collect();
    let mut tampered: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let i = tampered.len() / 2;
    let replacement: String = tampered[i]
        .chars()
        .enumerate()
        .map(|(n, c)| {
            if n == 5 {
                if c == 'A' {
                    'B'
                } else {
                    'A'
                }
            } else {
                c
            }
        })
        .collect();
    tampered[i] = replacement;
    let cases = [
        (json!({"csr": ""}), "\"csr\" is empty"),
        (json!({"csr": "garbage"}), "csr contains no data"),
        (
            json!({"csr": weak}),
            "RSA keys < 2048 bits are unsafe and not supported",
        ),
        (
            json!({"csr": tampered.join("\n")}),
            "request signature invalid",
        ),
    ];
    for (body, text) in cases {
        let r = s.write("pki/root/sign-intermediate", body);
        assert_eq!(r.status, 400, "{:?}", r.json);
        assert!(
            r.errors()[0].starts_with(text),
            "{:?} vs {text}",
            r.errors()
        );
    }
    let r = s.write("pki/root/sign-intermediate", json!({"csr": "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----"}));
    assert_eq!(r.status, 400);
    assert!(
        r.errors()[0].starts_with("certificate request could not be parsed"),
        "{:?}",
        r.errors()
    );
}

#[test]
fn the_guide_role_issues_only_names_under_svc() {
    let s = dev_server();
    guide_root(&s);
    let r = s.write("pki/roles/cert-manager", json!({"allowed_domains":"svc","require_cn":"false","allow_subdomains":"true","max_ttl":"720h"}));
    assert_eq!(r.status, 200);
    assert!(r.warnings().is_empty());
    let ok = s.write(
        "pki/issue/cert-manager",
        json!({"common_name":"foo.bar.svc","alt_names":"*.bar.svc,localhost","ip_sans":"10.0.0.1"}),
    );
    assert_eq!(ok.status, 200, "{:?}", ok.json);
    assert!(ok.warnings().contains(&"TTL \"768h0m0s\" is longer than permitted maxTTL \"720h0m0s\", so maxTTL is being used".to_string()), "{:?}", ok.warnings());
    assert_eq!(ok.data("private_key_type"), "rsa");
    assert!(text(ok.data("private_key")).starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert_eq!(ok.data("ca_chain").as_array().map(Vec::len), Some(1));
    with_cert(&text(ok.data("certificate")), |c| {
        assert!(!c.is_ca());
        assert!(c.basic_constraints().ok().flatten().is_none());
        let eku = c
            .extended_key_usage()
            .ok()
            .flatten()
            .map(|e| (e.value.server_auth, e.value.client_auth));
        assert_eq!(eku, Some((true, true)));
        let ku = c.key_usage().ok().flatten().map(|k| {
            (
                k.value.digital_signature(),
                k.value.key_encipherment(),
                k.value.key_agreement(),
                k.value.key_cert_sign(),
            )
        });
        assert_eq!(ku, Some((true, true, true, false)));
        let names: Vec<String> = c
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| {
                san.value
                    .general_names
                    .iter()
                    .map(|g| g.to_string())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            names.contains(&"DNSName(foo.bar.svc)".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"DNSName(*.bar.svc)".to_string()),
            "{names:?}"
        );
        assert_eq!(
            c.validity().not_after.timestamp() - c.validity().not_before.timestamp(),
            720 * 3600 + 30
        );
    });
    for (cn, text) in [
        ("svc", "common name svc not allowed by this role"),
        (
            "x.svc.cluster.local",
            "common name x.svc.cluster.local not allowed by this role",
        ),
    ] {
        let r = s.write("pki/issue/cert-manager", json!({"common_name": cn}));
        assert_eq!((r.status, r.errors()), (400, vec![text.to_string()]));
    }
    let r = s.write(
        "pki/issue/cert-manager",
        json!({"common_name":"a.svc","alt_names":"evil.com"}),
    );
    assert_eq!(
        r.errors(),
        vec!["subject alternate name evil.com not allowed by this role"]
    );
    let r = s.write(
        "pki/issue/cert-manager",
        json!({"common_name":"a.svc","uri_sans":"spiffe://x"}),
    );
    assert_eq!(r.errors(), vec!["URI Subject Alternative Names are not allowed in this role, but were provided via the API"]);
    let r = s.write("pki/issue/nope", json!({"common_name":"a.svc"}));
    assert_eq!(r.errors(), vec!["unknown role: nope"]);
    let r = s.write(
        "pki/issue/cert-manager",
        json!({"common_name":"a.svc","format":"x"}),
    );
    assert_eq!(
        r.errors(),
        vec!["the \"format\" path parameter must be \"pem\", \"der\", or \"pem_bundle\""]
    );
    let dir = tmp("rolekey");
    let ec = openssl_csr(&dir, "ec", "ec:P-256", "/CN=a.svc", None);
    let r = s.write("pki/sign/cert-manager", json!({"csr": ec}));
    assert_eq!(r.errors(), vec!["role requires keys of type rsa"]);
}

#[test]
fn leaves_past_the_issuer_follow_leaf_not_after_behavior() {
    let s = dev_server();
    enable_pki(&s, "pki", "87600h");
    assert_eq!(
        s.write(
            "pki/root/generate/internal",
            json!({"common_name":"r","ttl":"2h","issuer_name":"short"})
        )
        .status,
        200
    );
    assert_eq!(
        s.write(
            "pki/roles/web",
            json!({"allow_any_name":true,"ttl":"10h","max_ttl":"100h"})
        )
        .status,
        200
    );
    let r = s.write("pki/issue/web", json!({"common_name":"a.example"}));
    assert_eq!(r.status, 400);
    assert!(
        r.errors()[0].starts_with("cannot satisfy request, as TTL would result in notAfter of"),
        "{:?}",
        r.errors()
    );
    let r = s.send(
        "PATCH",
        "pki/issuer/short",
        Some("root"),
        Some(br#"{"leaf_not_after_behavior":"truncate"}"#.to_vec()),
    );
    let patched = r.status == 200;
    if !patched {
        let r = s.write(
            "pki/issuer/short",
            json!({"issuer_name":"short","leaf_not_after_behavior":"truncate"}),
        );
        assert_eq!(r.status, 200, "{:?}", r.json);
    }
    assert_eq!(
        s.read("pki/issuer/short").data("leaf_not_after_behavior"),
        "truncate"
    );
    let root_after = with_cert(&text(s.read("pki/issuer/short").data("certificate")), |c| {
        c.validity().not_after.timestamp()
    });
    let r = s.write("pki/issue/web", json!({"common_name":"a.example"}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    with_cert(&text(r.data("certificate")), |c| {
        assert_eq!(c.validity().not_after.timestamp(), root_after)
    });
    let bad = s.write(
        "pki/issuer/short",
        json!({"leaf_not_after_behavior":"sometimes"}),
    );
    assert_eq!(bad.errors(), vec!["Unknown value for field `leaf_not_after_behavior`. Possible values are `err`, `truncate`, and `permit`."]);
}

/// cert-manager's e2e setup (its test/e2e/framework/addon/vault) end to end.
#[test]
fn cert_managers_e2e_setup_signs_workload_certificates_that_verify() {
    let s = dev_server();
    enable_pki(&s, "e2e-root-ca", "87600h");
    enable_pki(&s, "e2e-intermediate-ca", "43800h");
    let root = s.write("e2e-root-ca/root/generate/internal", json!({"common_name":"Root CA","exclude_cn_from_sans":true,"key_bits":256,"key_type":"ec","ttl":"87600h"}));
    assert_eq!(root.status, 200, "{:?}", root.json);
    let root_pem = text(root.data("certificate"));
    for mount in ["e2e-root-ca", "e2e-intermediate-ca"] {
        let r = s.write(&format!("{mount}/config/urls"), json!({"crl_distribution_points":[format!("https://vault.vault:8200/v1/{mount}/crl")],"issuing_certificates":[format!("https://vault.vault:8200/v1/{mount}/ca")]}));
        assert_eq!(r.status, 200);
    }
    let csr = s.write("e2e-intermediate-ca/intermediate/generate/internal", json!({"common_name":"Intermediate CA","exclude_cn_from_sans":true,"key_bits":256,"key_type":"ec","ttl":"43800h"}));
    assert_eq!(csr.status, 200, "{:?}", csr.json);
    assert!(text(csr.data("csr")).starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    let int = s.write("e2e-root-ca/root/sign-intermediate", json!({"csr": csr.data("csr"),"exclude_cn_from_sans":true,"ttl":"43800h","use_csr_values":true}));
    assert_eq!(int.status, 200, "{:?}", int.json);
    let int_pem = text(int.data("certificate"));
    let imported = s.write(
        "e2e-intermediate-ca/intermediate/set-signed",
        json!({"certificate": format!("{int_pem}\n{root_pem}")}),
    );
    assert_eq!(imported.status, 200, "{:?}", imported.json);
    assert_eq!(
        imported.data("imported_issuers").as_array().map(Vec::len),
        Some(2)
    );
    let again = s.write(
        "e2e-intermediate-ca/intermediate/set-signed",
        json!({"certificate": format!("{int_pem}\n{root_pem}")}),
    );
    assert_eq!(again.data("imported_issuers"), &Value::Null);
    assert_eq!(
        again.data("existing_issuers").as_array().map(Vec::len),
        Some(2)
    );
    // Imported issuers are not stored certificates of the mount, as in
    // Vault: not listed, not fetched by serial, not revocable there.
    let token = s.root_token.clone();
    assert_eq!(
        s.call("LIST", "e2e-intermediate-ca/certs", &token, None)
            .status,
        404
    );
    let int_serial = text(int.data("serial_number"));
    assert_eq!(
        s.read(&format!("e2e-intermediate-ca/cert/{int_serial}"))
            .status,
        404
    );
    let revoke = s.write(
        "e2e-intermediate-ca/revoke",
        json!({ "serial_number": int_serial }),
    );
    assert_eq!(
        revoke.errors(),
        [format!("certificate with serial {int_serial} not found.")]
    );
    // The root mount stores the root it generated and what it signed.
    let listed = s.call("LIST", "e2e-root-ca/certs", &token, None);
    assert_eq!(
        listed.data("keys").as_array().map(Vec::len),
        Some(2),
        "{:?}",
        listed.json
    );
    let role = s.write("e2e-intermediate-ca/roles/e2e-role", json!({"allow_any_name":"true","allow_bare_domains":"true","allowed_other_sans":"*","allowed_uri_sans":"spiffe://cluster.local/*","enforce_hostnames":"false","key_type":"any","max_ttl":"2160h","require_cn":"false","use_csr_sans":"true"}));
    assert_eq!(role.status, 200, "{:?}", role.json);

    let dir = tmp("e2e");
    let leaf_csr = openssl_csr(&dir, "leaf", "ec:P-256", "/CN=leaf.example.com", Some("DNS:leaf.example.com,URI:spiffe://cluster.local/ns/sandbox/sa/foo,email:a@example.com,IP:127.0.0.1"));
    let r = s.write("e2e-intermediate-ca/sign/e2e-role", json!({"common_name":"leaf.example.com","alt_names":"","ip_sans":"","uri_sans":"","ttl":"8760h0m0s","csr":leaf_csr,"exclude_cn_from_sans":"true"}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert!(r.warnings().iter().any(|w| w == "TTL \"8760h0m0s\" is longer than permitted maxTTL \"2160h0m0s\", so maxTTL is being used"), "{:?}", r.warnings());
    let leaf = text(r.data("certificate"));
    assert_eq!(
        r.data("ca_chain"),
        &json!([int_pem.clone(), root_pem.clone()])
    );
    assert_eq!(r.data("issuing_ca"), &json!(int_pem));
    with_cert(&leaf, |c| {
        assert!(!c.is_ca());
        assert_eq!(
            c.validity().not_after.timestamp() - c.validity().not_before.timestamp(),
            2160 * 3600 + 30
        );
        let names: Vec<String> = c
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| {
                san.value
                    .general_names
                    .iter()
                    .map(|g| g.to_string())
                    .collect()
            })
            .unwrap_or_default();
        for expected in [
            "DNSName(leaf.example.com)",
            "URI(spiffe://cluster.local/ns/sandbox/sa/foo)",
            "RFC822Name(a@example.com)",
            "IPAddress(7f:00:00:01)",
        ] {
            assert!(
                names.contains(&expected.to_string()),
                "{expected} missing from {names:?}"
            );
        }
    });
    write(&dir, "root.pem", &root_pem);
    write(&dir, "int.pem", &int_pem);
    write(&dir, "leaf.pem", &leaf);
    let (ok, out) = common::openssl(
        &dir,
        &[
            "verify",
            "-purpose",
            "sslserver",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "int.pem",
            "leaf.pem",
        ],
    );
    assert!(ok, "{out}");
}

#[test]
fn unauthenticated_fetches_use_vaults_content_types() {
    let s = dev_server();
    enable_pki(&s, "pki", "87600h");
    let empty = s.send("GET", "pki/ca/pem", None, None);
    assert_eq!(empty.status, 204);
    let root = guide_root_second(&s);
    let root_pem = text(root.data("certificate"));
    let pem = s.send("GET", "pki/ca/pem", None, None);
    assert_eq!(
        (pem.status, pem.content_type.as_str()),
        (200, "application/pem-certificate-chain")
    );
    assert_eq!(String::from_utf8_lossy(&pem.raw), root_pem);
    let der = s.send("GET", "pki/ca", None, None);
    assert_eq!(
        (der.status, der.content_type.as_str()),
        (200, "application/pkix-cert")
    );
    assert_eq!(der.raw, der_of(&root_pem));
    let chain = s.send("GET", "pki/ca_chain", None, None);
    assert_eq!(chain.content_type, "application/pkix-cert");
    let serial = text(root.data("serial_number"));
    let cert = s.send("GET", &format!("pki/cert/{serial}"), None, None);
    assert_eq!(cert.data("certificate"), &json!(root_pem));
    assert_eq!(cert.data("revocation_time"), &json!(0));
    let raw = s.send(
        "GET",
        &format!("pki/cert/{}/raw", serial.replace(':', "-")),
        None,
        None,
    );
    assert_eq!(raw.raw, der_of(&root_pem));
    let raw_pem = s.send("GET", &format!("pki/cert/{serial}/raw/pem"), None, None);
    assert_eq!(raw_pem.content_type, "application/pem-certificate-chain");
    assert_eq!(s.send("GET", "pki/cert/00:11", None, None).status, 404);
    let ca = s.send("GET", "pki/cert/ca", None, None);
    assert_eq!(ca.data("certificate"), &json!(root_pem));
    let list = s.send("LIST", "pki/issuers", None, None);
    let id = text(root.data("issuer_id"));
    assert_eq!(list.data("keys"), &json!([id.clone()]));
    assert_eq!(list.data("key_info")[&id]["is_default"], json!(true));
    assert_eq!(list.data("key_info")[&id]["issuer_name"], json!("r1"));
    for (path, ct) in [
        ("issuer/r1/pem", "application/pem-certificate-chain"),
        ("issuer/default/der", "application/pkix-cert"),
        ("crl", "application/pkix-crl"),
        ("crl/pem", "application/x-pem-file"),
        ("issuer/r1/crl/pem", "application/x-pem-file"),
    ] {
        let r = s.send("GET", &format!("pki/{path}"), None, None);
        assert_eq!((r.status, r.content_type.as_str()), (200, ct), "{path}");
    }
    let json_issuer = s.send("GET", "pki/issuer/r1/json", None, None);
    assert_eq!(json_issuer.data("issuer_id"), &json!(id));
    let full = s.read("pki/issuer/r1");
    assert_eq!(
        full.data("usage"),
        "crl-signing,issuing-certificates,ocsp-signing,read-only"
    );
    assert_eq!(full.data("manual_chain"), &Value::Null);
}

fn guide_root_second(s: &Server) -> common::Reply {
    let r = s.write(
        "pki/root/generate/internal",
        json!({"common_name":"root-1","issuer_name":"r1","key_type":"ec","key_bits":384}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    r
}

#[test]
fn revoked_certificates_appear_on_the_issuers_crl() {
    let s = dev_server();
    guide_root(&s);
    assert_eq!(
        s.write(
            "pki/roles/web",
            json!({"allowed_domains":"svc","allow_subdomains":true})
        )
        .status,
        200
    );
    let leaf = s.write("pki/issue/web", json!({"common_name":"a.svc","ttl":"1h"}));
    assert_eq!(leaf.status, 200);
    let serial = text(leaf.data("serial_number"));
    let r = s.write("pki/revoke", json!({"serial_number": serial}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.data("state"), "revoked");
    assert!(r.data("revocation_time").is_i64());
    let listed = s.list("pki/certs/revoked");
    assert_eq!(listed.data("keys"), &json!([serial.clone()]));
    let fetched = s.read(&format!("pki/cert/{serial}"));
    assert!(fetched.data("revocation_time").as_i64().unwrap_or(0) > 0);
    let crl = s.send("GET", "pki/crl/pem", None, None);
    let dir = tmp("crl");
    write(&dir, "crl.pem", &String::from_utf8_lossy(&crl.raw));
    let root_pem = text(s.read("pki/cert/ca").data("certificate"));
    write(&dir, "root.pem", &root_pem);
    let (ok, dump) = common::openssl(
        &dir,
        &[
            "crl", "-in", "crl.pem", "-noout", "-text", "-CAfile", "root.pem",
        ],
    );
    assert!(ok, "{dump}");
    assert!(dump.contains("verify OK"), "{dump}");
    assert!(
        dump.to_uppercase()
            .contains(&serial.replace(':', "").to_uppercase()),
        "{dump}"
    );
    let rotate = s.read("pki/crl/rotate");
    assert_eq!(rotate.data("success"), &json!(true));
    let root_serial = text(
        s.list("pki/issuers").json["data"]["key_info"]
            .as_object()
            .and_then(|m| m.values().next())
            .map(|v| v["serial_number"].clone())
            .as_ref()
            .unwrap_or(&Value::Null),
    );
    let own = s.write("pki/revoke", json!({"serial_number": root_serial}));
    assert_eq!(own.status, 400);
    let tidy = s.write(
        "pki/tidy",
        json!({"tidy_cert_store":true,"safety_buffer":"1s"}),
    );
    assert_eq!(tidy.status, 202, "{:?}", tidy.json);
    assert_eq!(tidy.warnings(), vec!["Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs."]);
    assert!(s.read("pki/tidy-status").data("state").is_string());
}

#[test]
fn exported_keys_and_issuer_management() {
    let s = dev_server();
    enable_pki(&s, "pki", "87600h");
    let r = s.write(
        "pki/root/generate/exported",
        json!({"common_name":"ed","key_type":"ed25519","key_name":"edkey","issuer_name":"ed-root"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.data("private_key_type"), "ed25519");
    assert!(text(r.data("private_key")).starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(r.data("key_name"), "edkey");
    let p521 = s.write(
        "pki/root/generate/internal",
        json!({"common_name":"p521","key_type":"ec","key_bits":521}),
    );
    assert_eq!(p521.status, 200, "{:?}", p521.json);
    let weak = s.write(
        "pki/root/generate/internal",
        json!({"key_type":"rsa","key_bits":1024}),
    );
    assert_eq!(
        weak.errors(),
        vec!["RSA keys < 2048 bits are unsafe and not supported: got 1024"]
    );
    let keys = s.list("pki/keys");
    assert_eq!(keys.data("keys").as_array().map(Vec::len), Some(2));
    let cfg = s.read("pki/config/issuers");
    assert_eq!(cfg.data("default"), r.data("issuer_id"));
    let key = s.read("pki/key/edkey");
    assert_eq!(key.data("key_type"), "ed25519");
    assert_eq!(s.delete("pki/root").status, 204);
    assert_eq!(s.list("pki/issuers").status, 404);
}

#[test]
fn a_bundle_with_key_imports_as_a_signing_issuer_and_sign_verbatim_keeps_the_csr() {
    let s = dev_server();
    enable_pki(&s, "root", "87600h");
    enable_pki(&s, "int", "87600h");
    let root = s.write(
        "root/root/generate/internal",
        json!({"common_name":"Root","key_type":"ec"}),
    );
    assert_eq!(root.status, 200);
    let gen = s.write(
        "int/intermediate/generate/exported",
        json!({"common_name":"Int","key_type":"rsa","key_bits":3072}),
    );
    assert_eq!(gen.status, 200, "{:?}", gen.json);
    assert_eq!(gen.data("private_key_type"), "rsa");
    let key = text(gen.data("private_key"));
    let signed = s.write(
        "root/root/sign-intermediate",
        json!({"csr": gen.data("csr"), "ttl":"100h"}),
    );
    assert_eq!(signed.status, 200, "{:?}", signed.json);
    let int_pem = text(signed.data("certificate"));
    enable_pki(&s, "third", "87600h");
    let r = s.write(
        "third/config/ca",
        json!({"pem_bundle": format!("{key}\n{int_pem}")}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.data("imported_keys").as_array().map(Vec::len), Some(1));
    let issuer_id = text(&r.data("imported_issuers")[0]);
    assert_eq!(r.data("mapping")[&issuer_id], r.data("imported_keys")[0]);
    assert_eq!(
        s.read("third/config/issuers").data("default"),
        &json!(issuer_id)
    );

    let dir = tmp("verbatim");
    let csr = openssl_csr(
        &dir,
        "v",
        "ec:P-256",
        "/CN=verbatim.example/O=Acme/OU=Ops",
        Some("DNS:anything.example"),
    );
    let r = s.write("third/sign-verbatim", json!({"csr": csr, "ttl":"1h"}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    with_cert(&text(r.data("certificate")), |c| {
        assert_eq!(
            c.subject().to_string(),
            "CN=verbatim.example, O=Acme, OU=Ops"
        );
        assert!(!c.is_ca());
    });
    write(&dir, "int.pem", &int_pem);
    write(&dir, "root.pem", &text(root.data("certificate")));
    write(&dir, "leaf.pem", &text(r.data("certificate")));
    let (ok, out) = common::openssl(
        &dir,
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "int.pem",
            "leaf.pem",
        ],
    );
    assert!(ok, "{out}");
    // The imported intermediate has no root here: the chain is just itself.
    assert_eq!(r.data("ca_chain"), &json!([int_pem]));
}

#[test]
fn aia_templates_expand_from_config_cluster_when_certificates_are_issued() {
    let s = dev_server();
    enable_pki(&s, "pki", "87600h");
    let root = s.write(
        "pki/root/generate/internal",
        json!({"common_name": "templated root", "ttl": "8760h"}),
    );
    assert_eq!(root.status, 200, "{:?}", root.json);
    let issuer_id = text(root.data("issuer_id"));
    let r = s.write(
        "pki/roles/web",
        json!({"allowed_domains": "example.com", "allow_subdomains": true}),
    );
    assert_eq!(r.status, 200);

    // Without templating a template is not a URL.
    let r = s.write(
        "pki/config/urls",
        json!({"issuing_certificates": "{{cluster_aia_path}}/issuer/{{issuer_id}}/der"}),
    );
    assert_eq!(
        r.errors(),
        vec!["invalid URL found in Authority Information Access (AIA) parameter issuing_certificates: {{cluster_aia_path}}/issuer/{{issuer_id}}/der"]
    );
    // With templating it is kept; the missing cluster address only warns...
    let r = s.write(
        "pki/config/urls",
        json!({
            "enable_templating": true,
            "issuing_certificates": "{{cluster_aia_path}}/issuer/{{issuer_id}}/der",
            "crl_distribution_points": "{{cluster_path}}/issuer/{{issuer_id}}/crl/der"
        }),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert!(
        r.warnings()[0].starts_with("issuance may fail: unable to template AIA URLs as we lack local cluster address information"),
        "{:?}",
        r.warnings()
    );
    // ...until issuance, which refuses.
    let r = s.write(
        "pki/issue/web",
        json!({"common_name": "a.example.com", "ttl": "1h"}),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.errors()[0].contains("unable to template AIA URLs"),
        "{:?}",
        r.errors()
    );

    let r = s.write("pki/config/cluster", json!({"path": "notaurl"}));
    assert_eq!(
        r.errors(),
        vec!["invalid, non-URL path given to cluster: notaurl"]
    );
    let r = s.write(
        "pki/config/cluster",
        json!({"path": "https://a.example/v1/pki", "aia_path": "http://b.example/v1/pki"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(
        s.read("pki/config/cluster").data("aia_path"),
        &json!("http://b.example/v1/pki")
    );

    let r = s.write(
        "pki/issue/web",
        json!({"common_name": "a.example.com", "ttl": "1h"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let dir = tmp("aia-templates");
    write(&dir, "leaf.pem", &text(r.data("certificate")));
    let (ok, out) = common::openssl(
        &dir,
        &[
            "x509",
            "-in",
            "leaf.pem",
            "-noout",
            "-ext",
            "authorityInfoAccess,crlDistributionPoints",
        ],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "CA Issuers - URI:http://b.example/v1/pki/issuer/{issuer_id}/der"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "URI:https://a.example/v1/pki/issuer/{issuer_id}/crl/der"
        )),
        "{out}"
    );

    // A new root cannot know its own id in advance: its AIA is left out.
    let r = s.write(
        "pki/root/rotate/internal",
        json!({"common_name": "next root"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert!(r.warnings()[0].starts_with("When generating root CA, found global AIA configuration with issuer_id template unsuitable for root generation."));
    with_cert(&text(r.data("certificate")), |c| {
        assert!(c
            .extensions()
            .iter()
            .all(|e| e.oid.to_id_string() != "1.3.6.1.5.5.7.1.1"));
    });
}

#[test]
fn use_pss_signs_certificates_and_crls_with_rsassa_pss() {
    let s = dev_server();
    enable_pki(&s, "pki", "87600h");
    let root = s.write(
        "pki/root/generate/internal",
        json!({"common_name": "pss root", "ttl": "8760h", "use_pss": true, "signature_bits": 384}),
    );
    assert_eq!(root.status, 200, "{:?}", root.json);
    let issuer = s.read("pki/issuer/default");
    assert!(issuer.warnings()[0].starts_with("Issuer uses a PSS Revocation Signature Algorithm."));
    assert_eq!(
        issuer.data("revocation_signature_algorithm"),
        &json!("SHA384WithRSAPSS")
    );
    let r = s.write(
        "pki/roles/pss",
        json!({"allow_any_name": true, "use_pss": true}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let leaf = s.write(
        "pki/issue/pss",
        json!({"common_name": "pss.example.com", "ttl": "1h"}),
    );
    assert_eq!(leaf.status, 200, "{:?}", leaf.json);
    let serial = text(leaf.data("serial_number"));
    assert_eq!(
        s.write("pki/revoke", json!({"serial_number": serial}))
            .status,
        200
    );

    let dir = tmp("pss");
    write(&dir, "root.pem", &text(root.data("certificate")));
    write(&dir, "leaf.pem", &text(leaf.data("certificate")));
    write(
        &dir,
        "crl.pem",
        &String::from_utf8_lossy(&s.send("GET", "pki/crl/pem", None, None).raw),
    );
    for (file, hash, salt) in [
        ("root.pem", "sha384", "0x30"),
        ("leaf.pem", "sha256", "0x20"),
    ] {
        let (ok, out) = common::openssl(&dir, &["x509", "-in", file, "-noout", "-text"]);
        assert!(ok, "{out}");
        assert!(
            out.contains("Signature Algorithm: rsassaPss"),
            "{file}: {out}"
        );
        assert!(
            out.contains(&format!("Hash Algorithm: {hash}")),
            "{file}: {out}"
        );
        assert!(
            out.contains(&format!("Salt Length: {salt}")),
            "{file}: {out}"
        );
    }
    let (ok, out) = common::openssl(&dir, &["verify", "-CAfile", "root.pem", "leaf.pem"]);
    assert!(ok, "{out}");
    let (ok, out) = common::openssl(
        &dir,
        &[
            "crl", "-in", "crl.pem", "-noout", "-text", "-CAfile", "root.pem",
        ],
    );
    assert!(
        ok && out.contains("verify OK") && out.contains("rsassaPss"),
        "{out}"
    );

    let patch = |alg: &str| {
        s.send_with_headers(
            "PATCH",
            "pki/issuer/default",
            Some("root"),
            &[("Content-Type", "application/merge-patch+json")],
            Some(
                serde_json::to_vec(&json!({"revocation_signature_algorithm": alg}))
                    .unwrap_or_default(),
            ),
        )
    };
    let r = patch("ecdsawithsha256");
    assert_eq!(
        r.errors(),
        vec!["unable to use issuer of type RSA to sign with ECDSA-SHA256 key type"]
    );
    let r = patch("bogus");
    assert!(
        r.errors()[0].starts_with("Unknown signature algorithm value: bogus - valid values are ")
    );
    let r = patch("sha256withrsa");
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(
        r.data("revocation_signature_algorithm"),
        &json!("SHA256WithRSA")
    );
}
