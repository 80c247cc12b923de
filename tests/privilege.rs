//! Privilege is never granted by accident: no login yields a root token,
//! root-protected paths need `sudo`, and the token store mints privileged
//! tokens (orphans, periodic, chosen ids, other policies) only for callers
//! with `sudo`, each refused with Vault's words (checked against OpenBao).

mod common;

use common::{Reply, Server};
use serde_json::{json, Value};

fn token_with_policy(server: &Server, name: &str, hcl: &str, extra: Value) -> String {
    let r = server.write(
        &format!("sys/policies/acl/{name}"),
        json!({ "policy": hcl }),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let mut body = json!({ "policies": [name] });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let r = server.write("auth/token/create", body);
    assert_eq!(r.status, 200, "{:?}", r.json);
    r.json["auth"]["client_token"]
        .as_str()
        .expect("client_token")
        .to_string()
}

fn approle_login(server: &Server, role: &str) -> Reply {
    let role_id = server.read(&format!("auth/approle/role/{role}/role-id"));
    let secret_id = server.write(&format!("auth/approle/role/{role}/secret-id"), json!({}));
    let body = json!({
        "role_id": role_id.data("role_id"),
        "secret_id": secret_id.data("secret_id"),
    });
    server.send(
        "PUT",
        "auth/approle/login",
        None,
        Some(serde_json::to_vec(&body).expect("json")),
    )
}

#[test]
fn no_login_yields_a_root_token_whatever_the_role_says() {
    let server = Server::dev();
    assert_eq!(
        server
            .write("sys/auth/approle", json!({"type": "approle"}))
            .status,
        204
    );
    for policies in [
        json!(["root"]),
        json!(["ROOT"]),
        json!([" root "]),
        json!(["default", "Root"]),
        json!("web,root"),
    ] {
        let r = server.write("auth/approle/role/r", json!({ "token_policies": policies }));
        assert_eq!(r.status, 204, "{:?}", r.json);
        let login = approle_login(&server, "r");
        assert_eq!(login.status, 400, "{policies}: {:?}", login.json);
        assert_eq!(
            login.errors(),
            ["auth methods cannot create root tokens"],
            "{policies}"
        );
    }
    // A policy merely starting with "root" is an ordinary policy.
    server.write("auth/approle/role/r", json!({"token_policies": ["rootx"]}));
    let login = approle_login(&server, "r");
    assert_eq!(login.status, 200, "{:?}", login.json);
    assert_eq!(login.json["auth"]["policies"], json!(["default", "rootx"]));
}

#[test]
fn enabling_tuning_and_disabling_auth_methods_needs_sudo() {
    let server = Server::dev();
    let all_but_sudo =
        r#"path "sys/*" { capabilities = ["create", "read", "update", "delete", "list"] }"#;
    let with_sudo =
        r#"path "sys/*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }"#;
    let plain = token_with_policy(&server, "plain", all_but_sudo, json!({}));
    let sudo = token_with_policy(&server, "sudoer", with_sudo, json!({}));
    let cases = [
        ("PUT", "sys/auth/approle", Some(json!({"type": "approle"}))),
        ("GET", "sys/auth/approle", None),
        (
            "PUT",
            "sys/auth/approle/tune",
            Some(json!({"default_lease_ttl": "1h"})),
        ),
        ("GET", "sys/auth/token/tune", None),
        ("DELETE", "sys/auth/approle", None),
        ("GET", "sys/audit", None),
        ("PUT", "sys/rotate", None),
        ("PUT", "sys/seal", None),
        ("GET", "sys/raw/core", None),
        ("PUT", "sys/remount", Some(json!({"from": "a", "to": "b"}))),
    ];
    for (method, path, body) in &cases {
        let r = server.call(method, path, &plain, body.clone());
        assert_eq!(r.status, 403, "{method} {path} without sudo: {:?}", r.json);
        assert_eq!(r.errors(), ["1 error occurred:\n\t* permission denied\n\n"]);
    }
    // With sudo the ACL lets them through (the first three succeed).
    for (method, path, body) in &cases[..3] {
        let r = server.call(method, path, &sudo, body.clone());
        assert!(
            r.status < 300,
            "{method} {path} with sudo: {} {:?}",
            r.status,
            r.json
        );
    }
    // Listing auth methods and tuning secrets engines need no sudo.
    assert_eq!(server.call("GET", "sys/auth", &plain, None).status, 200);
    assert_eq!(
        server
            .call("GET", "sys/mounts/secret/tune", &plain, None)
            .status,
        200
    );
}

#[test]
fn pki_root_protected_paths_need_sudo_as_in_vault() {
    let server = Server::dev();
    server.write("sys/mounts/pki", json!({"type": "pki"}));
    server.write("pki/root/generate/internal", json!({"common_name": "ca"}));
    let plain = token_with_policy(
        &server,
        "pki-all",
        r#"path "pki/*" { capabilities = ["create", "read", "update", "delete", "list"] }"#,
        json!({}),
    );
    let body = json!({"certificate": "x"});
    let r = server.call(
        "PUT",
        "pki/root/sign-self-issued",
        &plain,
        Some(body.clone()),
    );
    assert_eq!(r.status, 403, "{:?}", r.json);
    let r = server.call("DELETE", "pki/root", &plain, None);
    assert_eq!(r.status, 403, "{:?}", r.json);
    // The issuer-specific form is not root-protected in Vault: the request
    // reaches the handler, which refuses the certificate.
    let r = server.call(
        "PUT",
        "pki/issuer/default/sign-self-issued",
        &plain,
        Some(body),
    );
    assert_eq!(r.status, 400, "{:?}", r.json);
}

/// One `auth/token/create*` request and the refusal Vault gives a caller
/// without `sudo` (`None`: allowed).
struct CreateCase {
    path: &'static str,
    body: Value,
    without_sudo: Option<&'static str>,
    with_sudo: Option<&'static str>,
}

#[test]
fn the_token_store_mints_privileged_tokens_only_for_sudo_callers() {
    let server = Server::dev();
    server.write(
        "sys/policies/acl/other",
        json!({"policy": r#"path "secret/*" { capabilities = ["read"] }"#}),
    );
    let caps = r#"["create", "read", "update", "list"]"#;
    let plain = token_with_policy(
        &server,
        "creator",
        &format!(r#"path "auth/token/*" {{ capabilities = {caps} }}"#),
        json!({"ttl": "60s"}),
    );
    let sudo = token_with_policy(
        &server,
        "creator-sudo",
        r#"path "auth/token/*" { capabilities = ["create", "read", "update", "list", "sudo"] }"#,
        json!({"ttl": "60s"}),
    );
    let periodic = "root or sudo privileges required to create periodic token";
    let orphan = "root or sudo privileges required to create orphan token";
    let custom_id = "root or sudo privileges required to specify token id";
    let subset = "child policies must be subset of parent";
    let root_parent = "root tokens may not be created without parent token being root";
    let cases = [
        CreateCase {
            path: "auth/token/create-orphan",
            body: json!({"period": "24h"}),
            without_sudo: Some(periodic),
            with_sudo: None,
        },
        CreateCase {
            path: "auth/token/create",
            body: json!({"period": "24h"}),
            without_sudo: Some(periodic),
            with_sudo: None,
        },
        CreateCase {
            path: "auth/token/create",
            body: json!({"no_parent": true}),
            without_sudo: Some(orphan),
            with_sudo: None,
        },
        CreateCase {
            path: "auth/token/create-orphan",
            body: json!({}),
            without_sudo: None,
            with_sudo: None,
        },
        CreateCase {
            path: "auth/token/create",
            body: json!({"id": "chosen-id"}),
            without_sudo: Some(custom_id),
            with_sudo: None,
        },
        CreateCase {
            path: "auth/token/create",
            body: json!({"id": "hvs.chosen"}),
            without_sudo: Some(custom_id),
            with_sudo: Some("custom token ID cannot have the 'hvs.' prefix"),
        },
        CreateCase {
            path: "auth/token/create",
            body: json!({"id": "s.chosen"}),
            without_sudo: Some(custom_id),
            with_sudo: Some("custom token ID cannot have the 's.' prefix"),
        },
        CreateCase {
            path: "auth/token/create",
            body: json!({"id": "a.b"}),
            without_sudo: Some(custom_id),
            with_sudo: Some("custom token ID cannot have a '.' in the value"),
        },
        CreateCase {
            path: "auth/token/create",
            body: json!({"policies": ["other"]}),
            without_sudo: Some(subset),
            with_sudo: None,
        },
        CreateCase {
            path: "auth/token/create",
            body: json!({"policies": ["ROOT"]}),
            without_sudo: Some(subset),
            with_sudo: Some(root_parent),
        },
        CreateCase {
            path: "auth/token/create",
            body: json!({"policies": ["response-wrapping"]}),
            without_sudo: Some(subset),
            with_sudo: Some("cannot assign policy \"response-wrapping\""),
        },
        CreateCase {
            path: "auth/token/create",
            body: json!({"explicit_max_ttl": "24h"}),
            without_sudo: None,
            with_sudo: None,
        },
        CreateCase {
            path: "auth/token/create",
            body: json!({"explicit_max_ttl": -5}),
            without_sudo: Some("explicit_max_ttl must be positive"),
            with_sudo: Some("explicit_max_ttl must be positive"),
        },
        CreateCase {
            path: "auth/token/create",
            body: json!({"ttl": "-1h"}),
            without_sudo: Some("ttl must be positive"),
            with_sudo: Some("ttl must be positive"),
        },
        CreateCase {
            path: "auth/token/create",
            body: json!({"entity_alias": "someone"}),
            without_sudo: Some("'entity_alias' is only allowed in combination with token role"),
            with_sudo: Some("'entity_alias' is only allowed in combination with token role"),
        },
        CreateCase {
            path: "auth/token/create",
            body: json!({"type": "nonsense"}),
            without_sudo: Some("invalid 'token_type' value"),
            with_sudo: Some("invalid 'token_type' value"),
        },
    ];
    for case in &cases {
        for (caller, expected) in [(&plain, case.without_sudo), (&sudo, case.with_sudo)] {
            let r = server.call("PUT", case.path, caller, Some(case.body.clone()));
            let who = if caller == &plain { "no sudo" } else { "sudo" };
            match expected {
                Some(error) => {
                    assert_eq!(
                        r.status, 400,
                        "{} {} ({who}): {:?}",
                        case.path, case.body, r.json
                    );
                    assert_eq!(r.errors(), [error], "{} {} ({who})", case.path, case.body);
                }
                None => assert_eq!(
                    r.status, 200,
                    "{} {} ({who}): {:?}",
                    case.path, case.body, r.json
                ),
            }
        }
    }
}

#[test]
fn limited_use_and_expiring_root_tokens_cannot_escalate() {
    let server = Server::dev();
    let limited = server.write("auth/token/create", json!({"num_uses": 5}));
    let limited = limited.json["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    for path in ["auth/token/create", "auth/token/create-orphan"] {
        let r = server.call("PUT", path, &limited, Some(json!({})));
        assert_eq!(r.status, 400, "{:?}", r.json);
        assert_eq!(
            r.errors(),
            ["restricted use token cannot generate child tokens"]
        );
    }
    let expiring = server.write(
        "auth/token/create",
        json!({"policies": ["root"], "ttl": "1h"}),
    );
    let expiring = expiring.json["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    for (path, body) in [
        ("auth/token/create", json!({"policies": ["root"]})),
        ("auth/token/create-orphan", json!({"policies": ["root"]})),
        (
            "auth/token/create",
            json!({"policies": ["root"], "no_parent": true}),
        ),
    ] {
        let r = server.call("PUT", path, &expiring, Some(body));
        assert_eq!(r.status, 400, "{:?}", r.json);
        assert_eq!(
            r.errors(),
            ["expiring root tokens cannot create non-expiring root tokens"]
        );
    }
    // A root parent's root child holds `root` alone, as in Vault.
    let r = server.write("auth/token/create", json!({"policies": ["root", "other"]}));
    assert_eq!(r.json["auth"]["policies"], json!(["root"]));
    assert_eq!(r.json["auth"]["lease_duration"], 0);
}

#[test]
fn a_child_token_dies_with_its_parent() {
    let server = Server::dev();
    let parent = server.write("auth/token/create", json!({"ttl": "2s"}));
    let parent = parent.json["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    let child = server.call(
        "PUT",
        "auth/token/create",
        &parent,
        Some(json!({"ttl": "1h"})),
    );
    assert_eq!(child.status, 200, "{:?}", child.json);
    // Vault does not shorten the child; it revokes it with its parent.
    assert_eq!(child.json["auth"]["lease_duration"], 3600);
    let child = child.json["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(
        server
            .call("GET", "auth/token/lookup-self", &child, None)
            .status,
        200
    );
    // Expiry counts whole seconds: past the second after it.
    std::thread::sleep(std::time::Duration::from_millis(3100));
    let r = server.call("GET", "auth/token/lookup-self", &child, None);
    assert_eq!(r.status, 403, "{:?}", r.json);
    let r = server.call("PUT", "auth/token/renew-self", &child, Some(json!({})));
    assert_eq!(r.status, 403, "{:?}", r.json);
}

#[test]
fn policy_names_are_trimmed_so_root_stays_unwritable() {
    let server = Server::dev();
    let hcl = json!({"policy": r#"path "x" { capabilities = ["read"] }"#});
    for name in ["root%20", "%20root", "Root"] {
        let r = server.write(&format!("sys/policies/acl/{name}"), hcl.clone());
        assert_eq!(r.status, 400, "{name}: {:?}", r.json);
        assert_eq!(r.errors(), ["cannot update \"root\" policy"]);
    }
    assert_eq!(server.write("sys/policies/acl/%20web%20", hcl).status, 204);
    let names = server.list("sys/policies/acl");
    assert_eq!(names.data("keys"), &json!(["default", "web", "root"]));
}
