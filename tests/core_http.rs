//! The core's HTTP protocol, as Vault clients see it: envelope, status
//! codes, errors, weak typing, mounts, tokens, policies and sys endpoints.

mod common;

use common::{Server, ROOT};
use serde_json::{json, Value};

#[test]
fn health_answers_get_and_head_with_vault_codes() {
    let s = Server::dev();
    let get = s.send("GET", "sys/health", None, None);
    assert_eq!(get.status, 200);
    assert_eq!(get.content_type, "application/json");
    assert_eq!(get.json["initialized"], true);
    assert_eq!(get.json["sealed"], false);
    assert_eq!(get.json["standby"], false);
    assert!(get.json["server_time_utc"].is_i64());
    assert!(get.json["cluster_id"].is_string());

    let head = s.send("HEAD", "sys/health", None, None);
    assert_eq!(head.status, 200);
    assert!(head.raw.is_empty());

    let custom = s.send(
        "GET",
        "sys/health?activecode=299&standbycode=299&sealedcode=299&uninitcode=299",
        None,
        None,
    );
    assert_eq!(custom.status, 299);
    let bad = s.send("GET", "sys/health?activecode=abc", None, None);
    assert_eq!(bad.status, 400);
    assert_eq!(s.send("POST", "sys/health", None, None).status, 405);
}

#[test]
fn seal_status_init_and_leader_have_no_envelope() {
    let s = Server::dev();
    let seal = s.send("GET", "sys/seal-status", None, None);
    assert_eq!(seal.status, 200);
    assert_eq!(seal.json["sealed"], false);
    assert_eq!(seal.json["t"], 1);
    assert_eq!(seal.json["n"], 1);
    assert_eq!(seal.json["storage_type"], "inmem");
    assert!(seal.json.get("request_id").is_none());
    assert_eq!(
        s.send("GET", "sys/init", None, None).json,
        json!({"initialized": true})
    );
    assert_eq!(
        s.send("PUT", "sys/init", None, Some(b"{}".to_vec())).status,
        400
    );
    assert_eq!(
        s.send("GET", "sys/leader", None, None).json["ha_enabled"],
        false
    );
}

#[test]
fn every_api_response_is_json_and_uncached() {
    let s = Server::dev();
    let ok = s.read("sys/mounts");
    assert_eq!(ok.content_type, "application/json");
    let missing = s.send("GET", "sys/policy/nope", Some(ROOT), None);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json, json!({"errors": []}));
    assert_eq!(missing.content_type, "application/json");
    let resp = reqwest::blocking::get(s.url("sys/health")).expect("get");
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
}

#[test]
fn envelope_has_vaults_fields_and_types() {
    let s = Server::dev();
    let r = s.read("auth/token/lookup-self");
    assert_eq!(r.status, 200);
    let obj = r.json.as_object().expect("object");
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "request_id",
            "lease_id",
            "renewable",
            "lease_duration",
            "data",
            "wrap_info",
            "warnings",
            "auth",
            "mount_type"
        ]
    );
    assert!(r.json["request_id"].is_string());
    assert_eq!(r.json["lease_id"], "");
    assert_eq!(r.json["lease_duration"], 0);
    assert_eq!(r.json["warnings"], Value::Null);
    assert_eq!(r.json["mount_type"], "token");
    assert_eq!(r.data("policies"), &json!(["root"]));
    assert_eq!(r.data("expire_time"), &Value::Null);
    assert_eq!(r.data("id"), "root");
}

#[test]
fn mounts_enable_list_tune_and_disable_like_vault() {
    let s = Server::dev();
    // Exactly what `vault secrets enable pki` sends.
    let enable = s.write(
        "sys/mounts/pki",
        json!({"type":"pki","description":"","config":{"options":null,"default_lease_ttl":"0s","max_lease_ttl":"0s","force_no_cache":false},"local":false,"seal_wrap":false,"external_entropy_access":false,"options":null}),
    );
    assert_eq!(enable.status, 204, "{:?}", enable.json);
    assert!(enable.raw.is_empty());

    let again = s.write("sys/mounts/pki", json!({"type": "pki"}));
    assert_eq!(again.status, 400);
    assert_eq!(again.errors(), ["path is already in use at pki/"]);
    let nested = s.write("sys/mounts/pki/inner", json!({"type": "pki"}));
    assert_eq!(nested.status, 400);
    let unknown = s.write("sys/mounts/foo", json!({"type": "foo"}));
    assert_eq!(unknown.errors(), ["plugin not found in the catalog: foo"]);

    // `vault secrets tune -max-lease-ttl=87600h pki`
    let tune = s.write(
        "sys/mounts/pki/tune",
        json!({"options":null,"default_lease_ttl":"","max_lease_ttl":"87600h0m0s","force_no_cache":false}),
    );
    assert_eq!(tune.status, 204, "{:?}", tune.json);
    let tuned = s.read("sys/mounts/pki/tune");
    assert_eq!(tuned.data("max_lease_ttl"), 315_360_000);
    assert_eq!(tuned.data("default_lease_ttl"), 2_764_800);

    let list = s.read("sys/mounts");
    let pki = &list.json["data"]["pki/"];
    assert_eq!(pki["type"], "pki");
    assert_eq!(pki["config"]["max_lease_ttl"], 315_360_000);
    assert!(pki["accessor"]
        .as_str()
        .is_some_and(|a| a.starts_with("pki_")));
    // Legacy top-level copy of data.
    assert_eq!(list.json["pki/"]["type"], "pki");

    let one = s.read("sys/mounts/pki");
    assert_eq!(one.data("type"), "pki");

    let bad_order = s.write(
        "sys/mounts/pki/tune",
        json!({"default_lease_ttl": "10h", "max_lease_ttl": "1h"}),
    );
    assert_eq!(bad_order.status, 400);
    let bad_ttl = s.write("sys/mounts/pki/tune", json!({"max_lease_ttl": "abc"}));
    assert_eq!(bad_ttl.status, 400);

    assert_eq!(s.delete("sys/mounts/pki").status, 204);
    assert!(s.read("sys/mounts").json["data"].get("pki/").is_none());
    assert_eq!(s.delete("sys/mounts/pki").status, 204);
}

#[test]
fn protected_paths_cannot_be_mounted() {
    let s = Server::dev();
    assert_eq!(
        s.write("sys/mounts/sys", json!({"type": "pki"})).status,
        400
    );
    assert_eq!(
        s.write("sys/mounts/auth/x", json!({"type": "pki"})).status,
        400
    );
    assert_eq!(s.delete("sys/mounts/sys").status, 400);
}

/// Vault refuses to tune its built-in mounts, even with nothing to change
/// (OpenBao instead refuses only some parameters).
#[test]
fn built_in_mounts_cannot_be_tuned() {
    let s = Server::dev();
    for (path, body, shown) in [
        ("sys/mounts/sys/tune", json!({}), "sys/"),
        (
            "sys/mounts/sys/tune",
            json!({"default_lease_ttl": "1h"}),
            "sys/",
        ),
        (
            "sys/mounts/sys/tune",
            json!({"audit_non_hmac_request_keys": "a"}),
            "sys/",
        ),
        (
            "sys/mounts/cubbyhole/tune",
            json!({"description": "x"}),
            "cubbyhole/",
        ),
        (
            "sys/mounts/identity/tune",
            json!({"description": "x"}),
            "identity/",
        ),
        (
            "sys/mounts/sys/x/tune",
            json!({"description": "x"}),
            "sys/x/",
        ),
    ] {
        let refused = s.write(path, body);
        assert_eq!(refused.status, 400, "{path}");
        assert_eq!(refused.errors(), [format!("cannot tune {shown:?}")]);
    }
    let sys = s.read("sys/mounts/sys/tune");
    assert_eq!(sys.status, 200, "reading is allowed");
    assert!(sys.data("audit_non_hmac_request_keys").is_null());
    assert_eq!(
        s.write(
            "sys/mounts/auth/token/tune",
            json!({"description": "tokens"})
        )
        .status,
        204,
        "the token store is tunable"
    );
}

#[test]
fn policies_are_managed_on_both_paths() {
    let s = Server::dev();
    let policy = "path \"pki/root/sign-intermediate\" {capabilities=[\"create\",\"update\"]}\n";
    // `vault policy write cert-manager -`
    let put = s.write("sys/policies/acl/Cert-Manager", json!({"policy": policy}));
    assert_eq!(put.status, 204, "{:?}", put.json);
    let read = s.read("sys/policies/acl/cert-manager");
    assert_eq!(read.data("name"), "cert-manager");
    assert_eq!(read.data("policy"), policy);
    assert!(
        read.json.get("policy").is_none(),
        "sys/policies/acl is not injected"
    );

    let legacy = s.read("sys/policy/cert-manager");
    assert_eq!(legacy.data("rules"), policy);
    assert_eq!(legacy.json["rules"], policy, "sys/policy is injected");

    let list = s.list("sys/policies/acl");
    assert_eq!(
        list.data("keys"),
        &json!(["cert-manager", "default", "root"])
    );
    let legacy_list = s.read("sys/policy");
    assert_eq!(
        legacy_list.data("policies"),
        &json!(["cert-manager", "default", "root"])
    );
    assert_eq!(
        legacy_list.json["keys"],
        json!(["cert-manager", "default", "root"])
    );

    let bad = s.write(
        "sys/policies/acl/bad",
        json!({"policy": "path \"x\" { capabilities = [\"fly\"] }"}),
    );
    assert_eq!(bad.status, 400);
    assert!(
        bad.errors()[0].starts_with("failed to parse policy"),
        "{:?}",
        bad.errors()
    );
    assert_eq!(
        s.write("sys/policy/root", json!({"policy": policy})).status,
        400
    );
    assert_eq!(s.delete("sys/policies/acl/default").status, 400);
    assert_eq!(s.delete("sys/policies/acl/cert-manager").status, 204);
    assert_eq!(s.read("sys/policies/acl/cert-manager").status, 404);
    assert!(s
        .read("sys/policy/default")
        .data("rules")
        .as_str()
        .is_some_and(|r| r.contains("auth/token/lookup-self")));
}

#[test]
fn a_token_can_do_what_its_policy_allows_and_nothing_else() {
    let s = Server::dev();
    s.write(
        "sys/policies/acl/reader",
        json!({"policy": "path \"sys/mounts\" { capabilities = [\"read\"] }\npath \"sys/policies/acl/*\" { capabilities = [\"read\", \"list\"] }"}),
    );
    let created = s.write(
        "auth/token/create",
        json!({"policies": ["reader"], "ttl": "1h", "meta": {"who": "test"}}),
    );
    assert_eq!(created.status, 200, "{:?}", created.json);
    assert_eq!(created.json["data"], Value::Null);
    let auth = &created.json["auth"];
    let token = auth["client_token"].as_str().expect("token").to_string();
    assert!(token.starts_with("hvs."));
    assert_eq!(auth["policies"], json!(["default", "reader"]));
    assert_eq!(auth["token_policies"], json!(["default", "reader"]));
    assert_eq!(auth["metadata"], json!({"who": "test"}));
    assert_eq!(auth["lease_duration"], 3600);
    assert_eq!(auth["renewable"], true);
    assert_eq!(auth["orphan"], false);
    assert_eq!(auth["token_type"], "service");

    assert_eq!(s.call("GET", "sys/mounts", &token, None).status, 200);
    let denied = s.call("GET", "sys/auth", &token, None);
    assert_eq!(denied.status, 403);
    assert_eq!(
        denied.errors(),
        ["1 error occurred:\n\t* permission denied\n\n"]
    );
    // 403 comes before 404 for an unprivileged token.
    assert_eq!(s.call("GET", "nothing/here", &token, None).status, 403);
    assert_eq!(s.call("GET", "nothing/here", ROOT, None).status, 404);

    let lookup = s.call("GET", "auth/token/lookup-self", &token, None);
    assert_eq!(lookup.data("policies"), &json!(["default", "reader"]));
    assert_eq!(lookup.data("display_name"), "token");
    assert_eq!(lookup.data("path"), "auth/token/create");
    assert!(lookup
        .data("ttl")
        .as_i64()
        .is_some_and(|t| t > 3500 && t <= 3600));
    assert!(lookup.data("expire_time").is_string());

    let caps = s.call(
        "POST",
        "sys/capabilities-self",
        &token,
        Some(json!({"paths": ["sys/mounts"]})),
    );
    assert_eq!(caps.data("capabilities"), &json!(["read"]));
    assert_eq!(caps.data("sys/mounts"), &json!(["read"]));
    assert_eq!(caps.json["capabilities"], json!(["read"]));
    let none = s.call(
        "POST",
        "sys/capabilities-self",
        &token,
        Some(json!({"path": "pki/issue/x"})),
    );
    assert_eq!(none.data("capabilities"), &json!(["deny"]));
    let root_caps = s.call(
        "POST",
        "sys/capabilities-self",
        ROOT,
        Some(json!({"paths": "x"})),
    );
    assert_eq!(root_caps.data("capabilities"), &json!(["root"]));

    // A child cannot get policies its parent does not have.
    let escalate = s.call(
        "POST",
        "auth/token/create",
        &token,
        Some(json!({"policies": ["root"]})),
    );
    assert_eq!(
        escalate.status, 403,
        "token/create is not in the reader policy"
    );

    assert_eq!(
        s.call("POST", "auth/token/revoke-self", &token, None)
            .status,
        204
    );
    let revoked = s.call("GET", "sys/mounts", &token, None);
    assert_eq!(revoked.status, 403);
    assert_eq!(
        revoked.errors(),
        ["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"]
    );
}

#[test]
fn tokens_expire_and_limited_uses_run_out() {
    let s = Server::dev();
    let short = s.write("auth/token/create", json!({"ttl": "1s"}));
    let token = short.json["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(
        s.call("GET", "auth/token/lookup-self", &token, None).status,
        200
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(
        s.call("GET", "auth/token/lookup-self", &token, None).status,
        403
    );

    let limited = s.write("auth/token/create", json!({"num_uses": "2"}));
    let token = limited.json["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(
        s.call("GET", "auth/token/lookup-self", &token, None).status,
        200
    );
    assert_eq!(
        s.call("GET", "auth/token/lookup-self", &token, None).status,
        200
    );
    assert_eq!(
        s.call("GET", "auth/token/lookup-self", &token, None).status,
        403
    );
}

#[test]
fn tokens_renew_within_their_max_and_revoke_their_children() {
    let s = Server::dev();
    // Without policies it would inherit root, and an expiring root token
    // may not create the non-expiring root child below.
    s.write(
        "sys/policies/acl/creator",
        json!({"policy": r#"path "auth/token/create" { capabilities = ["update"] }"#}),
    );
    let parent = s.write(
        "auth/token/create",
        json!({"policies": ["creator"], "ttl": "1h", "explicit_max_ttl": "2h"}),
    );
    let parent_token = parent.json["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    let renewed = s.call(
        "POST",
        "auth/token/renew-self",
        &parent_token,
        Some(json!({"increment": "3h"})),
    );
    assert_eq!(renewed.status, 200, "{:?}", renewed.json);
    let ttl = renewed.json["auth"]["lease_duration"].as_i64().unwrap_or(0);
    assert!(
        ttl <= 7200 && ttl > 7000,
        "capped at the explicit max: {ttl}"
    );
    assert!(!renewed.warnings().is_empty());

    let child = s.call("POST", "auth/token/create", &parent_token, Some(json!({})));
    let child_token = child.json["auth"]["client_token"]
        .as_str()
        .expect("child")
        .to_string();
    let accessor = parent.json["auth"]["accessor"]
        .as_str()
        .expect("accessor")
        .to_string();
    let by_accessor = s.write("auth/token/lookup-accessor", json!({"accessor": accessor}));
    assert_eq!(by_accessor.data("id"), "");
    assert_eq!(
        s.write("auth/token/revoke-accessor", json!({"accessor": accessor}))
            .status,
        204
    );
    assert_eq!(
        s.call("GET", "auth/token/lookup-self", &child_token, None)
            .status,
        403
    );
    assert_eq!(
        s.write("auth/token/lookup", json!({"token": "nope"}))
            .status,
        403,
        "Vault answers 403 bad token"
    );
}

#[test]
fn list_works_with_the_verb_and_the_query_flag() {
    let s = Server::dev();
    let verb = s.send("LIST", "sys/policies/acl", Some(ROOT), None);
    let query = s.send("GET", "sys/policies/acl?list=true", Some(ROOT), None);
    assert_eq!(verb.status, 200);
    assert_eq!(verb.data("keys"), query.data("keys"));
    assert_eq!(
        s.send("GET", "sys/policies/acl?list=maybe", Some(ROOT), None)
            .status,
        400
    );
    let trailing = s.send("LIST", "sys/policies/acl/", Some(ROOT), None);
    assert_eq!(trailing.status, 200);
}

#[test]
fn bad_input_gets_a_clear_4xx() {
    let s = Server::dev();
    let malformed = s.send(
        "PUT",
        "sys/mounts/x",
        Some(ROOT),
        Some(b"{not json".to_vec()),
    );
    assert_eq!(malformed.status, 400);
    assert!(malformed.errors()[0].starts_with("failed to parse JSON input"));
    let not_utf8 = s.send(
        "PUT",
        "sys/mounts/x",
        Some(ROOT),
        Some(vec![b'{', 0xff, 0xfe, b'}']),
    );
    assert_eq!(not_utf8.status, 400);
    let array = s.send("PUT", "sys/mounts/x", Some(ROOT), Some(b"[1,2]".to_vec()));
    assert_eq!(array.status, 400);
    let wrong_type = s.write("auth/token/create", json!({"ttl": "abc"}));
    assert_eq!(wrong_type.status, 400);
    assert_eq!(wrong_type.errors(), ["time: invalid duration \"abc\""]);
    let wrong_type = s.write(
        "sys/mounts/x",
        json!({"type": "kv", "config": {"default_lease_ttl": []}}),
    );
    assert_eq!(wrong_type.status, 400);
    let unknown_route = s.read("sys/nonexistent");
    assert_eq!(unknown_route.status, 404);
    assert_eq!(
        unknown_route.errors(),
        ["1 error occurred:\n\t* unsupported path\n\n"]
    );
    let wrong_op = s.send("DELETE", "auth/token/create", Some(ROOT), None);
    assert_eq!(wrong_op.status, 405);
    assert_eq!(
        s.send("FROB", "sys/mounts", Some(ROOT), None).json,
        json!({"errors": []})
    );
    let no_token = s.send("GET", "sys/mounts", None, None);
    assert_eq!(no_token.status, 403);
    let big = vec![b' '; 33 * 1024 * 1024];
    assert_eq!(
        s.send("PUT", "sys/policies/acl/big", Some(ROOT), Some(big))
            .status,
        413
    );
    let patch = s.send(
        "PATCH",
        "sys/policies/acl/x",
        Some(ROOT),
        Some(b"{}".to_vec()),
    );
    assert_eq!(patch.status, 415);
}

#[test]
fn a_path_with_a_non_printable_character_is_refused_outright() {
    let s = Server::dev();
    let body = br#"{"data":{"x":"y"}}"#.to_vec();
    // Controls, DEL, a line separator, a no-break space, a zero-width
    // space, private use: Vault's 400 with no body, token or not.
    for escaped in [
        "%00",
        "%0A",
        "%09",
        "%7F",
        "%E2%80%A8",
        "%C2%A0",
        "%E2%80%8B",
        "%EE%80%80",
    ] {
        for token in [Some(ROOT), None] {
            let path = format!("secret/data/a{escaped}b");
            let r = s.send("PUT", &path, token, Some(body.clone()));
            assert_eq!((r.status, r.raw.len()), (400, 0), "{path}");
        }
    }
    let r = s.write("sys/mounts/n%00ul", json!({"type": "kv"}));
    assert_eq!((r.status, r.raw.len()), (400, 0));
    let mounts = s.read("sys/mounts");
    assert!(mounts.json["data"].get("n\u{0}ul/").is_none());
    assert!(mounts.json["data"].get("n/").is_none());
    // Printable characters beyond ASCII are paths like any other.
    for escaped in ["%C3%A9", "%F0%9F%98%80", "%20"] {
        let path = format!("secret/data/a{escaped}b");
        assert_eq!(
            s.send("PUT", &path, Some(ROOT), Some(body.clone())).status,
            200,
            "{path}"
        );
    }
}

#[test]
fn the_builtin_response_wrapping_policy_is_reserved() {
    let s = Server::dev();
    let policy = json!({"policy": "path \"secret/*\" { capabilities = [\"read\"] }"});
    let r = s.write("sys/policy/response-wrapping", policy.clone());
    assert_eq!(r.errors(), ["cannot update \"response-wrapping\" policy"]);
    let r = s.write("sys/policies/acl/response-wrapping", policy);
    assert_eq!(r.status, 400);
    let r = s.delete("sys/policies/acl/response-wrapping");
    assert_eq!(r.errors(), ["cannot delete \"response-wrapping\" policy"]);
}

#[test]
fn namespaces_are_refused_clearly() {
    let s = Server::dev();
    let client = reqwest::blocking::Client::new();
    let resp = client
        .get(s.url("sys/mounts"))
        .header("X-Vault-Token", ROOT)
        .header("X-Vault-Namespace", "team-a")
        .send()
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    let root_ns = client
        .get(s.url("sys/mounts"))
        .header("X-Vault-Token", ROOT)
        .header("X-Vault-Namespace", "root")
        .send()
        .expect("send");
    assert_eq!(root_ns.status().as_u16(), 200);
}

#[test]
fn bearer_tokens_and_null_bodies_are_accepted() {
    let s = Server::dev();
    let resp = reqwest::blocking::Client::new()
        .get(s.url("auth/token/lookup-self"))
        .header("Authorization", "Bearer root")
        .send()
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    // An empty X-Vault-Token is no token: the bearer one counts.
    for empty in ["", "  "] {
        let resp = reqwest::blocking::Client::new()
            .get(s.url("auth/token/lookup-self"))
            .header("X-Vault-Token", empty)
            .header("Authorization", "Bearer root")
            .send()
            .expect("send");
        assert_eq!(resp.status().as_u16(), 200, "X-Vault-Token: {empty:?}");
    }
    // Only the scheme exactly as Vault reads it.
    let resp = reqwest::blocking::Client::new()
        .get(s.url("auth/token/lookup-self"))
        .header("Authorization", "bearer root")
        .send()
        .expect("send");
    assert_eq!(resp.status().as_u16(), 403);
    let null_body = s.send(
        "PUT",
        "auth/token/create",
        Some(ROOT),
        Some(b"null".to_vec()),
    );
    assert_eq!(null_body.status, 200);
    let form = reqwest::blocking::Client::new()
        .put(s.url("sys/policies/acl/form"))
        .header("X-Vault-Token", ROOT)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("policy=path+%22a%22+%7B+capabilities+%3D+%5B%22read%22%5D+%7D")
        .send()
        .expect("send");
    assert_eq!(form.status().as_u16(), 204);
}

#[test]
fn unknown_parameters_draw_vaults_warning() {
    let s = Server::dev();
    let r = s.write(
        "auth/token/create",
        json!({"ttl": "1h", "bogus": 1, "another": "x"}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.warnings(),
        ["Endpoint ignored these unrecognized parameters: [another bogus]"]
    );
}

#[test]
fn a_durable_server_keeps_mounts_policies_and_tokens_across_restarts() {
    let dir = common::temp_dir("durable");
    let first = Server::durable(&dir);
    assert_eq!(
        first.send("GET", "sys/init", None, None).json["initialized"],
        false
    );
    assert_eq!(first.send("GET", "sys/health", None, None).status, 501);
    let init = first.send(
        "PUT",
        "sys/init",
        None,
        Some(br#"{"secret_shares":1,"secret_threshold":1}"#.to_vec()),
    );
    assert_eq!(init.status, 200, "{:?}", init.json);
    let root = init.json["root_token"]
        .as_str()
        .expect("root token")
        .to_string();
    let key = init.json["keys"][0]
        .as_str()
        .expect("unseal key")
        .to_string();
    assert_eq!(
        first.send("GET", "sys/seal-status", None, None).json["sealed"],
        true
    );
    first.send(
        "PUT",
        "sys/unseal",
        None,
        Some(json!({"key": key}).to_string().into_bytes()),
    );
    assert_eq!(
        first
            .call(
                "PUT",
                "sys/policies/acl/keep",
                &root,
                Some(json!({"policy": "path \"a\" { capabilities = [\"read\"] }"}))
            )
            .status,
        204
    );
    assert_eq!(
        first
            .call(
                "PUT",
                "sys/mounts/keep-pki",
                &root,
                Some(json!({"type": "pki"}))
            )
            .status,
        204
    );
    let child = first.call(
        "POST",
        "auth/token/create",
        &root,
        Some(json!({"policies": ["keep"]})),
    );
    let child_token = child.json["auth"]["client_token"]
        .as_str()
        .expect("child")
        .to_string();
    first.stop();

    let second = Server::durable(&dir);
    assert_eq!(
        second.send("GET", "sys/init", None, None).json["initialized"],
        true
    );
    assert_eq!(
        second.call("GET", "sys/mounts", &root, None).status,
        503,
        "restarts sealed"
    );
    second.send(
        "PUT",
        "sys/unseal",
        None,
        Some(json!({"key": key}).to_string().into_bytes()),
    );
    assert_eq!(
        second
            .call("GET", "sys/mounts/keep-pki", &root, None)
            .data("type"),
        "pki"
    );
    assert_eq!(
        second
            .call("GET", "sys/policies/acl/keep", &root, None)
            .status,
        200
    );
    assert_eq!(
        second
            .call("GET", "auth/token/lookup-self", &child_token, None)
            .data("policies"),
        &json!(["default", "keep"])
    );

    // Only keyed hashes of tokens are stored.
    let db = std::fs::read(dir.join("data").join("vaultlet.redb")).expect("db file");
    let contains = |needle: &str| db.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!contains(&root), "root token stored in clear");
    assert!(!contains(&child_token), "token stored in clear");
    second.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn hcl1_policies_with_several_attributes_on_one_line_are_enforced() {
    let s = Server::dev();
    let r = s.write(
        "sys/policies/acl/oneline",
        json!({"policy": r#"path "sys/mounts" { capabilities = ["read"] } path "sys/policies/acl/*" { capabilities = ["create", "update"] allowed_parameters = { "policy" = [] } }"#}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let created = s.write("auth/token/create", json!({"policies": ["oneline"]}));
    let token = created.json["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(s.call("GET", "sys/mounts", &token, None).status, 200);
    let allowed = s.call(
        "PUT",
        "sys/policies/acl/other",
        &token,
        Some(json!({"policy": "path \"x\" { capabilities = [\"read\"] }"})),
    );
    assert_eq!(allowed.status, 204, "{:?}", allowed.json);
    // allowed_parameters on the same line as capabilities still binds.
    let refused = s.call(
        "PUT",
        "sys/policies/acl/other",
        &token,
        Some(json!({"policy": "path \"x\" { capabilities = [\"read\"] }", "name": "x"})),
    );
    assert_eq!(refused.status, 403, "{:?}", refused.json);
    // A policy that is wrong in any layout is still refused with the
    // parser's message for the text as written.
    let bad = s.write(
        "sys/policies/acl/bad",
        json!({"policy": r#"path "x" { capabilities = ["read"] "#}),
    );
    assert_eq!(bad.status, 400);
    assert!(
        bad.errors()[0].starts_with("failed to parse policy"),
        "{:?}",
        bad.errors()
    );
}

/// Vault's documented one-line listener block (several attributes on one
/// line, HCL1's form) starts the server, as it starts OpenBao.
#[test]
fn a_server_config_with_one_line_hcl1_blocks_starts() {
    let config = format!(
        "listener \"tcp\" {{ address = \"{}\" tls_disable = 1 }}\nstorage \"inmem\" {{}}\n",
        common::LISTEN
    );
    let dir = common::temp_dir("hcl1-one-line");
    let s = Server::with_config(&dir, &config);
    let status = s.send("GET", "sys/seal-status", None, None);
    assert_eq!(status.status, 200, "{:?}", status.json);
    assert_eq!(status.json["initialized"], false);
    let bao_dir = common::temp_dir("hcl1-one-line-bao");
    if let Some(bao) = Server::openbao_with_config(&bao_dir, &config) {
        let reference = bao.send("GET", "sys/seal-status", None, None);
        assert_eq!(reference.status, 200);
        assert_eq!(reference.json["initialized"], false);
    }
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(bao_dir);
}
